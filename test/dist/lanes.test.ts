/**
 * Proves that control traffic never waits behind bulk data: this node floods a slow consumer in
 * a child process with 128 KiB messages (through `sendAsync`, which waits for room in a small
 * outbound buffer, so the data lane stays saturated) for a good multiple of the heartbeat
 * timeout. Heartbeats keep arriving both ways and the peer is never declared down; then the
 * child really dies (kill -9) and a remote monitor fires with `noconnection`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution } from '../../runtime/dist/distribution.js';
import { Node } from '../../runtime/node.js';
import type { Pid } from '../../runtime/pid.js';
import { type ChildMember, startChildMember } from './fixtures/helpers.js';

const TICK_MS = 20;
const TIMEOUT_MS = 400;
const FLOOD_MS = 1_500;
const COOKIE = 'lanes-cookie';
const OUTBOUND_BYTES_MAX = 1024 * 1024;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('lanes', () => {
  it('lanes — heartbeats flow while the data lane is saturated; a real death is still seen promptly', async () => {
    const node = new Node({ name: 'a@127.0.0.1', stopTimeoutMs: 100 });
    const dist = await Distribution.start({ node, cookie: COOKIE, tickMs: TICK_MS, heartbeatTimeoutMs: TIMEOUT_MS, outboundBytesMax: OUTBOUND_BYTES_MAX, reconnect: false, logger: () => undefined });
    cleanups.push(async () => {
      await dist.close();
      await node.stop();
    });
    const consumer: ChildMember = await startChildMember({ name: 'b@127.0.0.1', cookie: COOKIE, tickMs: TICK_MS, heartbeatTimeoutMs: TIMEOUT_MS, slowMs: 1 });
    cleanups.push(() => consumer.stop());
    await dist.connect(consumer.address);
    const downs: string[] = [];
    dist.onNodeEvent((event) => {
      if (event.type === 'nodedown') downs.push(event.node);
    });

    const payload = Buffer.alloc(128 * 1024, 7);
    const target = { name: 'slow', node: consumer.name };
    const before = dist.stats().peers[consumer.name]!;
    const heartbeatsBefore = before.heartbeatsReceived;
    let sent = 0;
    let waits = 0;
    const deadline = performance.now() + FLOOD_MS;
    while (performance.now() < deadline) {
      const started = performance.now();
      await dist.sendAsync(target, payload, { timeoutMs: TIMEOUT_MS * 8 });
      if (performance.now() - started > 1) waits++;
      sent++;
    }
    const during = dist.stats().peers[consumer.name]!;
    // The lane was saturated: senders had to wait for room, and the buffer reached its bound.
    expect(waits).toBeGreaterThan(0);
    expect(during.outboundBytesPeak).toBeGreaterThan(OUTBOUND_BYTES_MAX / 2);
    // Yet the peer stayed up and its heartbeats kept arriving throughout (more than one per timeout window).
    expect(downs).toEqual([]);
    expect(during.heartbeatsReceived - heartbeatsBefore).toBeGreaterThan(FLOOD_MS / TIMEOUT_MS);
    expect(sent).toBeGreaterThan(10);

    const down = await node.run(async (ctx) => {
      const ref = ctx.makeRef();
      ctx.send({ name: 'echo', node: consumer.name }, { from: ctx.self, ref, body: 'who?' });
      const reply = (await ctx.receive((msg) => (msg as { ref?: { equals(x: unknown): boolean } }).ref?.equals(ref) === true, 10_000)) as { pid: Pid };
      ctx.monitor(reply.pid);
      consumer.kill('SIGKILL');
      return ctx.receive((msg) => (msg as { type?: string }).type === 'DOWN', TIMEOUT_MS * 4);
    });
    expect(down).toMatchObject({ type: 'DOWN', reason: 'noconnection' });
    expect(downs).toEqual([consumer.name]);
  });
});
