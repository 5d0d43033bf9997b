/**
 * Proves that control signals never wait behind bulk data, across real OS processes: process F
 * on this node floods a slow consumer in a child process with 64 KiB messages (through
 * `sendAsync`, so the data lane to the child stays full: 64 MiB and more queued here, the
 * child's node reading slowly). During the flood:
 *   (a) a monitor from another process M to a name on the child is answered (DOWN `noproc`)
 *       while data that F queued before it has not even left this node: the signal overtook
 *       the flood instead of waiting for it (the old lanes held it until all that data
 *       arrived), and neither side declared the other down;
 *   then the flood stays backed up for twice the heartbeat timeout and the link stays up;
 *   (b) the child is killed with `kill -9` while the flood is still queued, and a remote
 *       monitor fires with `noconnection` within the heartbeat timeout plus a stated margin.
 * The proof of (a) compares counters (messages written vs. messages queued before the
 * monitor), not timings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution } from '../../runtime/dist/distribution.js';
import { Node } from '../../runtime/node.js';
import type { Pid } from '../../runtime/pid.js';
import { TIMEOUT } from '../../runtime/process.js';
import { type ChildMember, startChildMember, waitFor } from './fixtures/helpers.js';

const TICK_MS = 50;
const TIMEOUT_MS = 1_500;
/** Detection may take the heartbeat timeout plus this (scheduling on a shared 2-core machine). */
const DETECTION_MARGIN_MS = 1_500;
const COOKIE = 'lanes-cookie';
const OUTBOUND_BYTES_MAX = 96 * 1024 * 1024;
/**
 * The flood counts as saturated once this much waits to be sent here: more than the kernel can
 * hold in flight on loopback (send buffer up to 4 MiB, receive buffer up to 32 MiB here), so
 * data queued before the monitor is still on this node when the answer comes back.
 */
const BACKLOG_BYTES_MIN = 64 * 1024 * 1024;
const PAYLOAD_BYTES = 64 * 1024;
/** Bound on the flood (it is stopped long before, by the kill). */
const FLOOD_MESSAGES_MAX = 20_000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const isDown = (msg: unknown) => typeof msg === 'object' && msg !== null && (msg as { type?: string }).type === 'DOWN';

describe('lanes', () => {
  it('lanes — during a flood to a slow consumer a control signal overtakes the queued data, and a kill -9 is seen promptly', async () => {
    const node = new Node({ name: 'a@127.0.0.1', stopTimeoutMs: 100 });
    const dist = await Distribution.start({ node, cookie: COOKIE, tickMs: TICK_MS, heartbeatTimeoutMs: TIMEOUT_MS, outboundBytesMax: OUTBOUND_BYTES_MAX, reconnect: false, logger: () => undefined });
    cleanups.push(async () => {
      await dist.close();
      await node.stop();
    });
    const consumer: ChildMember = await startChildMember({ name: 'b@127.0.0.1', cookie: COOKIE, tickMs: TICK_MS, heartbeatTimeoutMs: TIMEOUT_MS, slowMs: 2 });
    cleanups.push(() => consumer.stop());
    await dist.connect(consumer.address);
    const downs: string[] = [];
    dist.onNodeEvent((event) => {
      if (event.type === 'nodedown') downs.push(event.node);
    });
    const stats = () => dist.stats().peers[consumer.name]!;

    // A pid on the child to monitor later, fetched before the flood.
    const echoPid = await node.run(async (ctx) => {
      const ref = ctx.makeRef();
      ctx.send({ name: 'echo', node: consumer.name }, { from: ctx.self, ref, body: 'who?' });
      const reply = await ctx.receive((msg) => (msg as { ref?: { equals(x: unknown): boolean } }).ref?.equals(ref) === true, 10_000);
      return (reply as { pid: Pid }).pid;
    });

    let floodError: unknown;
    const payload = Buffer.alloc(PAYLOAD_BYTES, 7);
    const flood = node.run(async (ctx) => {
      const slow = { name: 'slow', node: consumer.name };
      try {
        for (let sent = 0; sent < FLOOD_MESSAGES_MAX && dist.isConnected(consumer.name); sent++) {
          await dist.sendAsync(slow, payload, { from: ctx.self, timeoutMs: 30_000 });
        }
      } catch (error) {
        floodError = error;
      }
    });

    await waitFor(() => stats().outboundBytes > BACKLOG_BYTES_MIN, 15_000, 'the data lane to back up');

    // (a) M's monitor of a name the child does not have is answered by the child with DOWN
    // noproc. Data queued before it (acceptedBefore) had not all been written when it came back.
    const overtake = await node.run(async (ctx) => {
      const acceptedBefore = stats().dataAccepted;
      ctx.monitor({ name: 'nobody', node: consumer.name });
      const down = await ctx.receive(isDown, 10_000);
      return { down, acceptedBefore, sentAtDown: stats().dataSent, backlogAtDown: stats().outboundBytes };
    });
    expect(overtake.down).toMatchObject({ type: 'DOWN', reason: 'noproc' });
    expect(overtake.sentAtDown).toBeLessThan(overtake.acceptedBefore);
    expect(overtake.backlogAtDown).toBeGreaterThan(0);
    expect(downs).toEqual([]);
    expect(floodError).toBeUndefined();

    // The data lane stays backed up for twice the heartbeat timeout: neither side declares the
    // other down meanwhile (the child would close the link if it heard nothing from here), and
    // this node keeps hearing the child's ticks.
    const heartbeatsBefore = stats().heartbeatsReceived;
    const saturatedUntil = performance.now() + 2 * TIMEOUT_MS;
    let backlogMin = Number.POSITIVE_INFINITY;
    while (performance.now() < saturatedUntil) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      backlogMin = Math.min(backlogMin, stats().outboundBytes);
    }
    expect(backlogMin).toBeGreaterThan(BACKLOG_BYTES_MIN / 2);
    expect(downs).toEqual([]);
    expect(dist.isConnected(consumer.name)).toBe(true);
    expect(stats().heartbeatsReceived).toBeGreaterThan(heartbeatsBefore);
    expect(floodError).toBeUndefined();

    // (b) A real death during the flood: the monitor fires within the timeout plus the margin.
    const death = await node.run(async (ctx) => {
      ctx.monitor(echoPid);
      const backlogAtKill = stats().outboundBytes;
      const killedAt = performance.now();
      consumer.kill('SIGKILL');
      const down = await ctx.receive(isDown, TIMEOUT_MS + DETECTION_MARGIN_MS);
      return { down, backlogAtKill, detectedMs: performance.now() - killedAt };
    });
    expect(death.backlogAtKill).toBeGreaterThan(0);
    expect(death.down).not.toBe(TIMEOUT);
    expect(death.down).toMatchObject({ type: 'DOWN', reason: 'noconnection' });
    expect(death.detectedMs).toBeLessThan(TIMEOUT_MS + DETECTION_MARGIN_MS);
    expect(downs).toEqual([consumer.name]);
    await flood;
    // The flood ended with the connection: its last awaited send was refused `nodedown`, if one was waiting.
    if (floodError !== undefined) expect(floodError).toMatchObject({ code: 'nodedown' });
  });
});
