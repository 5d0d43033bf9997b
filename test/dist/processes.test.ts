/**
 * Proves failure detection across real OS processes on 127.0.0.1: members run in child
 * processes (fixtures/member.ts) and mesh with a node in this process. `kill -9` of a child
 * makes this node and the surviving child see `nodedown`, and remote links and monitors get
 * `noconnection`, within the configured heartbeat timeout plus a stated margin (short ticks
 * here). A child frozen with SIGSTOP keeps its socket open, so only heartbeats can tell: it is
 * declared down for silence, no earlier than the timeout allows and within it plus the margin.
 * Only children started here are signalled, by pid, and all are reaped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution, type LogEntry } from '../../runtime/dist/distribution.js';
import { Node } from '../../runtime/node.js';
import type { Pid } from '../../runtime/pid.js';
import { TIMEOUT, type ProcessContext } from '../../runtime/process.js';
import { type ChildMember, startChildMember, waitFor } from './fixtures/helpers.js';

const TICK_MS = 50;
const TIMEOUT_MS = 500;
/**
 * Detection must come within the heartbeat timeout plus this margin (generous: the machine is
 * shared; the point is to fail if detection is far later than configured, not to time it).
 */
const DETECTION_MARGIN_MS = 1_500;
const COOKIE = 'process-test-cookie';

const children: ChildMember[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGCONT');
    await child.stop();
  }
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function localMember(name: string) {
  const node = new Node({ name, stopTimeoutMs: 100 });
  const logs: LogEntry[] = [];
  const dist = await Distribution.start({ node, cookie: COOKIE, tickMs: TICK_MS, heartbeatTimeoutMs: TIMEOUT_MS, backoffMinMs: 20, backoffMaxMs: 200, logger: (entry) => logs.push(entry) });
  cleanups.push(async () => {
    await dist.close();
    await node.stop();
  });
  return { node, dist, logs };
}

async function child(name: string, connect?: string): Promise<ChildMember> {
  const member = await startChildMember({ name, cookie: COOKIE, tickMs: TICK_MS, heartbeatTimeoutMs: TIMEOUT_MS, connect });
  children.push(member);
  return member;
}

type EchoReply = { reply: unknown; pid: Pid; peers: string[] };

async function ask(ctx: ProcessContext, nodeName: string, body: unknown): Promise<EchoReply> {
  const ref = ctx.makeRef();
  ctx.send({ name: 'echo', node: nodeName }, { from: ctx.self, ref, body });
  const reply = await ctx.receive((msg) => (msg as { ref?: { equals(x: unknown): boolean } }).ref?.equals(ref) === true, 5_000);
  if (typeof reply === 'symbol') throw new Error(`no reply from ${nodeName}`);
  return reply as EchoReply;
}

const isType = (type: string) => (msg: unknown) => typeof msg === 'object' && msg !== null && (msg as { type?: string }).type === type;

describe('members in separate processes', () => {
  it('processes — kill -9 of a child: nodedown and noconnection here and at the other child', async () => {
    const a = await localMember('a@127.0.0.1');
    const b = await child('b@127.0.0.1', a.dist.address);
    const c = await child('c@127.0.0.1', a.dist.address);
    await waitFor(() => a.dist.peers().length === 2, 5_000, 'a sees both children');
    const outcome = await a.node.run(async (ctx) => {
      ctx.trapExit(true);
      // The children meshed with each other through us.
      let fromC = await ask(ctx, c.name, 'peers?');
      for (let attempt = 0; attempt < 100 && !fromC.peers.includes(b.name); attempt++) {
        await ctx.sleep(20);
        fromC = await ask(ctx, c.name, 'peers?');
      }
      const echoB = (await ask(ctx, b.name, 'who?')).pid;
      ctx.link(echoB);
      ctx.monitor(echoB);
      a.dist.monitorNode(ctx.self, b.name);
      await ask(ctx, b.name, 'sync'); // the link and monitor are in place at b
      const killedAt = performance.now();
      b.kill('SIGKILL');
      const got: unknown[] = [];
      const deadline = killedAt + TIMEOUT_MS + DETECTION_MARGIN_MS;
      for (let index = 0; index < 3; index++) got.push(await ctx.receive(undefined, Math.max(0, deadline - performance.now())));
      const detectedMs = performance.now() - killedAt;
      let afterC = await ask(ctx, c.name, 'peers?');
      for (let attempt = 0; attempt < 100 && afterC.peers.includes(b.name); attempt++) {
        await ctx.sleep(20);
        afterC = await ask(ctx, c.name, 'peers?');
      }
      return { meshedBefore: fromC.peers, got, detectedMs, cPeersAfter: afterC.peers };
    });
    expect(outcome.meshedBefore).toEqual(['a@127.0.0.1', 'b@127.0.0.1']);
    // All three notices came before the deadline (a receive that timed out would have put TIMEOUT here).
    expect(outcome.got).not.toContain(TIMEOUT);
    expect(outcome.detectedMs).toBeLessThan(TIMEOUT_MS + DETECTION_MARGIN_MS);
    expect(outcome.got).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'EXIT', reason: 'noconnection' }),
        expect.objectContaining({ type: 'DOWN', reason: 'noconnection' }),
        { type: 'nodedown', node: b.name },
      ]),
    );
    expect(outcome.cPeersAfter).toEqual(['a@127.0.0.1']);
    expect(a.dist.peers()).toEqual([c.name]);
  });

  it('processes — a frozen child (SIGSTOP) is declared down for silence after the heartbeat timeout', async () => {
    const a = await localMember('a@127.0.0.1');
    const b = await child('b@127.0.0.1', a.dist.address);
    await waitFor(() => a.dist.isConnected(b.name), 5_000);
    const { down, detectedMs } = await a.node.run(async (ctx) => {
      const echoB = (await ask(ctx, b.name, 'who?')).pid;
      ctx.monitor(echoB);
      const stoppedAt = performance.now();
      b.kill('SIGSTOP');
      const message = await ctx.receive(isType('DOWN'), TIMEOUT_MS + DETECTION_MARGIN_MS);
      return { down: message, detectedMs: performance.now() - stoppedAt };
    });
    expect(down).toMatchObject({ type: 'DOWN', reason: 'noconnection' });
    // Declared down for silence: not before the timeout (less the tick since its last heartbeat), not far after it.
    expect(detectedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - TICK_MS);
    expect(detectedMs).toBeLessThan(TIMEOUT_MS + DETECTION_MARGIN_MS);
    expect(a.logs.some((entry) => entry.event === 'nodedown' && entry.peer === b.name && /silent/.test(entry.msg))).toBe(true);
    b.kill('SIGKILL');
    b.kill('SIGCONT');
  });
});
