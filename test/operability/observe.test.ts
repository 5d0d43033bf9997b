/**
 * runtime/observe in-process, where exact values can be checked: proves the snapshot's top-N by
 * mailbox length and by message rate pick the right processes in the right order; that local
 * and remote message counters and per-peer rows follow real traffic between two nodes over TCP
 * (127.0.0.1); that the RTT probe measures a round trip to a peer that also probes; that
 * mailbox drops, refusals and kills appear in the Prometheus text with their policy labels;
 * and that cli/logging filters by level and writes pino JSON with node, group, pid and
 * component. Also: the event-loop monitor sees a deliberate 60 ms block of the loop; each reader
 * keeps its own rate baseline (a second reader does not reset the first's rates); a visible peer
 * that disconnects keeps its row (state down) while a hidden one is forgotten; and the heartbeat
 * gap per peer grows with a blocked event loop, measured since each reader's previous snapshot.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution, Node, type Pid, type ProcessContext } from '../../runtime/index.js';
import { NodeMetrics, NodeObserver, EventLoopMonitor } from '../../runtime/observe/index.js';
import { createLogger, parseLogLevel } from '../../cli/logging.js';
import { eventually as until } from '../support/eventually.js';

const COOKIE = 'observe-test-cookie-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function newNode(name: string): Promise<Node> {
  const node = new Node({ name: `${name}@127.0.0.1`, stopTimeoutMs: 500 });
  await node.start();
  cleanups.push(() => node.stop());
  return node;
}

async function sink(ctx: ProcessContext): Promise<void> {
  await ctx.receive((msg) => msg === 'stop');
}

describe('NodeObserver — processes', () => {
  it('top by mailbox lists the longest queues first, at most N', async () => {
    const node = await newNode('top');
    const observer = new NodeObserver({ node });
    cleanups.push(() => observer.close());
    const pids: Pid[] = [];
    for (let index = 0; index < 5; index++) pids.push(node.spawn(sink, index === 3 ? { name: 'busy' } : {}));
    await new Promise((resolve) => setImmediate(resolve));
    [2, 9, 0, 30, 5].forEach((count, index) => {
      for (let message = 0; message < count; message++) node.send(pids[index] as Pid, message);
    });
    const snapshot = observer.snapshot({ top: 3, sortBy: 'mailbox' });
    expect(snapshot.processes.count).toBe(5);
    expect(snapshot.processes.top.map((row) => row.messageQueueLength)).toEqual([30, 9, 5]);
    expect(snapshot.processes.top[0]).toMatchObject({ pid: (pids[3] as Pid).toString(), name: 'busy' });
    expect(snapshot.processes.queuedMessages).toBe(46);
    expect(snapshot.processes.longestQueue).toBe(30);
  });

  it('top by rate ranks by messages received since the previous snapshot', async () => {
    const node = await newNode('rate');
    const observer = new NodeObserver({ node });
    cleanups.push(() => observer.close());
    const quiet = node.spawn(sink);
    const loud = node.spawn(sink);
    await new Promise((resolve) => setImmediate(resolve));
    for (let index = 0; index < 50; index++) node.send(quiet, index);
    observer.snapshot();
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let index = 0; index < 10; index++) node.send(loud, index);
    const snapshot = observer.snapshot({ top: 2, sortBy: 'rate' });
    expect(snapshot.processes.top[0]?.pid).toBe(loud.toString());
    expect(snapshot.processes.top[0]?.ratePerSecond).toBeGreaterThan(0);
    expect(snapshot.processes.top[1]).toMatchObject({ pid: quiet.toString(), ratePerSecond: 0, messagesReceived: 50 });
  });
});

describe('NodeObserver — readers', () => {
  it('each reader has its own rate baseline: a second reader does not reset the first', async () => {
    const node = await newNode('readers');
    const observer = new NodeObserver({ node });
    cleanups.push(() => observer.close());
    const target = node.spawn(sink);
    await new Promise((resolve) => setImmediate(resolve));
    observer.snapshot({ reader: 'first', sortBy: 'rate' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let index = 0; index < 10; index++) node.send(target, index);
    const second = observer.snapshot({ reader: 'second', sortBy: 'rate' });
    // The second reader's first snapshot has no baseline: rates are 0.
    expect(second.messages.deliveredPerSecond).toBe(0);
    const first = observer.snapshot({ reader: 'first', sortBy: 'rate' });
    // Nothing was delivered between the two snapshots above: only the first reader's own
    // baseline (before the 10 messages) makes its rate positive.
    expect(first.messages.deliveredPerSecond).toBeGreaterThan(0);
    expect(first.processes.top[0]).toMatchObject({ pid: target.toString() });
    expect(first.processes.top[0]?.ratePerSecond).toBeGreaterThan(0);
    expect(observer.snapshot({ reader: 'second', sortBy: 'rate' }).processes.top[0]?.ratePerSecond).toBe(0);
  });
});

describe('NodeObserver — distribution', () => {
  it('counts remote traffic, lists the peer, and measures a heartbeat RTT both ways', async () => {
    const nodeA = await newNode('oa');
    const nodeB = await newNode('ob');
    const distA = await Distribution.start({ node: nodeA, cookie: COOKIE, logger: () => undefined });
    cleanups.push(() => distA.close());
    const distB = await Distribution.start({ node: nodeB, cookie: COOKIE, logger: () => undefined });
    cleanups.push(() => distB.close());
    const observerA = new NodeObserver({ node: nodeA, distribution: distA, rttProbeIntervalMs: 20 });
    cleanups.push(() => observerA.close());
    const observerB = new NodeObserver({ node: nodeB, distribution: distB, rttProbeIntervalMs: 20 });
    cleanups.push(() => observerB.close());
    await distA.connect(distB.address);
    const target = nodeB.spawn(sink);
    await new Promise((resolve) => setImmediate(resolve));
    const before = nodeA.messageStats();
    for (let index = 0; index < 25; index++) nodeA.send(target, index);
    expect(nodeA.messageStats().sentRemote - before.sentRemote).toBe(25);
    await until('25 messages on b', () => [...nodeB.processInfo()].some((info) => info.pid.equals(target) && info.messageQueueLength === 25));
    await until('RTT on a', () => observerA.snapshot().peers[0]?.heartbeatRttMs !== null);
    const snapshotA = observerA.snapshot();
    expect(snapshotA.peers).toHaveLength(1);
    expect(snapshotA.peers[0]).toMatchObject({ node: 'ob@127.0.0.1', hidden: false, state: 'up', dataSent: 25 });
    expect(snapshotA.peers[0]?.heartbeatRttMs).toBeGreaterThan(0);
    const snapshotB = observerB.snapshot();
    expect(snapshotB.messages.receivedRemote).toBe(25);
    expect(snapshotB.peers[0]).toMatchObject({ node: 'oa@127.0.0.1', dataReceived: 25 });
    expect(snapshotB.distribution?.connectionsOpened).toBe(1);
  });
});

describe('NodeObserver — peers down and heartbeat gaps', () => {
  it('a visible peer that disconnects keeps its row with state down; a hidden peer is forgotten', async () => {
    const nodeA = await newNode('pa');
    const nodeB = await newNode('pb');
    const nodeH = await newNode('ph');
    const distA = await Distribution.start({ node: nodeA, cookie: COOKIE, logger: () => undefined });
    cleanups.push(() => distA.close());
    const distB = await Distribution.start({ node: nodeB, cookie: COOKIE, logger: () => undefined, reconnect: false });
    const distH = await Distribution.start({ node: nodeH, cookie: COOKIE, hidden: true, listen: false, logger: () => undefined, reconnect: false });
    const observer = new NodeObserver({ node: nodeA, distribution: distA, rttProbeIntervalMs: 0 });
    cleanups.push(() => observer.close());
    await distB.connect(distA.address);
    await distH.connect(distA.address);
    await until('both peers on a', () => distA.peers().length === 2);
    expect(observer.snapshot().peers.map((peer) => `${peer.node}:${peer.state}`).sort()).toEqual(['pb@127.0.0.1:up', 'ph@127.0.0.1:up']);
    await distB.close();
    await distH.close();
    await until('both gone', () => distA.peers().length === 0);
    const rows = observer.snapshot().peers;
    expect(rows).toEqual([expect.objectContaining({ node: 'pb@127.0.0.1', state: 'down', hidden: false, heartbeatRttMs: null, heartbeatGapMsMax: null })]);
    const text = await new NodeMetrics(observer, { defaultMetrics: false }).render();
    expect(text).toContain('fedctl_peer_up{peer="pb@127.0.0.1"} 0');
    expect(text).not.toContain('ph@127.0.0.1');
  });

  it('the heartbeat gap per peer covers a blocked event loop, since each reader\'s previous snapshot', async () => {
    const nodeA = await newNode('ga');
    const nodeB = await newNode('gb');
    const distA = await Distribution.start({ node: nodeA, cookie: COOKIE, tickMs: 20, heartbeatTimeoutMs: 5_000, logger: () => undefined });
    cleanups.push(() => distA.close());
    const distB = await Distribution.start({ node: nodeB, cookie: COOKIE, tickMs: 20, heartbeatTimeoutMs: 5_000, logger: () => undefined });
    cleanups.push(() => distB.close());
    const observer = new NodeObserver({ node: nodeA, distribution: distA, rttProbeIntervalMs: 0, heartbeatSampleMs: 5 });
    cleanups.push(() => observer.close());
    await distA.connect(distB.address);
    await until('heartbeats counted', () => (distA.stats().peers['gb@127.0.0.1']?.heartbeatsReceived ?? 0) >= 3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    observer.snapshot({ reader: 'r' });
    const blockMs = 300;
    const until_ = Date.now() + blockMs;
    while (Date.now() < until_);
    await until('heartbeats resume', () => {
      const row = observer.snapshot({ reader: 'probe' }).peers[0];
      return row !== undefined && row.heartbeatGapMsMax !== null && row.heartbeatGapMsMax < blockMs;
    });
    const afterBlock = observer.snapshot({ reader: 'r' }).peers[0];
    expect(afterBlock?.heartbeatGapMsMax).toBeGreaterThanOrEqual(blockMs);
    // The same reader again: the block is behind its new baseline.
    await until('a short gap for r', () => (observer.snapshot({ reader: 'r' }).peers[0]?.heartbeatGapMsMax ?? Infinity) < blockMs);
    const text = await new NodeMetrics(observer, { defaultMetrics: false }).render();
    expect(text).toMatch(/^fedctl_peer_heartbeat_gap_seconds_max\{peer="gb@127\.0\.0\.1"\} [\d.e-]+$/m);
    expect(text).toMatch(/^fedctl_peer_heartbeats_received_total\{peer="gb@127\.0\.0\.1"\} \d+$/m);
  });
});

describe('NodeMetrics — overload counters', () => {
  it('mailbox drops, refusals and kills appear with their policy labels', async () => {
    const node = await newNode('metrics');
    const observer = new NodeObserver({ node });
    cleanups.push(() => observer.close());
    const metrics = new NodeMetrics(observer, { defaultMetrics: false });
    const newest = node.spawn(sink, { mailboxMessagesMax: 1, mailboxOverflow: 'drop_newest' });
    const oldest = node.spawn(sink, { mailboxMessagesMax: 1, mailboxOverflow: 'drop_oldest' });
    const killed = node.spawn(sink, { mailboxMessagesMax: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    for (let index = 0; index < 3; index++) node.send(newest, index);
    for (let index = 0; index < 4; index++) node.send(oldest, index);
    node.send(killed, 1);
    node.send(killed, 2);
    expect(node.trySend(newest, 'x')).toEqual({ ok: false, code: 'mailbox_full' });
    const text = await metrics.render();
    expect(text).toContain('fedctl_mailbox_messages_dropped_total{policy="drop_newest"} 2');
    expect(text).toContain('fedctl_mailbox_messages_dropped_total{policy="drop_oldest"} 3');
    expect(text).toContain('fedctl_mailbox_sends_rejected_total 1');
    expect(text).toContain('fedctl_mailbox_full_kills_total 1');
    expect(text).toContain('fedctl_processes 2');
    expect(text).toContain('fedctl_messages_sent_total{destination="local"} 9');
    // 3 + 4 + 2 plain sends; the refused trySend was not sent. A second scrape does not double count.
    expect(await metrics.render()).toContain('fedctl_mailbox_messages_dropped_total{policy="drop_newest"} 2');
  });
});

describe('EventLoopMonitor', () => {
  it('sees a 60 ms block of the event loop', async () => {
    const monitor = new EventLoopMonitor();
    cleanups.push(() => monitor.close());
    await new Promise((resolve) => setTimeout(resolve, 30));
    const until = Date.now() + 60;
    while (Date.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const figures = monitor.read();
    expect(figures.delayMaxMs).toBeGreaterThanOrEqual(30);
    expect(figures.utilization).toBeGreaterThan(0);
  });
});

describe('cli/logging', () => {
  it('text — filters below the level and names node and component', () => {
    const lines: string[] = [];
    const log = createLogger({ node: 'n@127.0.0.1', group: 'g', format: 'text', level: 'warn', writeLine: (line) => lines.push(line) });
    log('info', 'hidden');
    log('warn', 'shown', { component: 'dist' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\S+ warn  n@127\.0\.0\.1 \[dist\] shown$/);
  });

  it('json — pino lines with level word, pid, node, group, component and fields', () => {
    const lines: string[] = [];
    const log = createLogger({ node: 'n@127.0.0.1', group: 'g', format: 'json', level: 'debug', writeLine: (line) => lines.push(line) });
    log('debug', 'low', { peer: 'x@127.0.0.1', ignored: undefined });
    log('error', 'high', { component: 'group', event: 'persist_failed' });
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: 'debug', pid: process.pid, node: 'n@127.0.0.1', group: 'g', component: 'node', peer: 'x@127.0.0.1', msg: 'low' }),
      expect.objectContaining({ level: 'error', component: 'group', event: 'persist_failed', msg: 'high' }),
    ]);
    expect(lines[0]).not.toContain('ignored');
  });

  it('parseLogLevel — accepts the five levels in any case, refuses others with config', () => {
    expect(parseLogLevel('WARN')).toBe('warn');
    expect(parseLogLevel(undefined)).toBe('info');
    expect(() => parseLogLevel('verbose')).toThrow(/--log-level/);
  });
});
