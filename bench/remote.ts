/**
 * `npm run bench -- remote [--plaintext] [--seconds N] [--only small|kib|rtt|call]
 * [--busy-wait-us N] [--callers 1,16]`: distribution throughput and latency between two nodes
 * in separate OS processes on 127.0.0.1, over sealed links (ChaCha20-Poly1305) unless
 * `--plaintext`.
 *
 * Figures: one-way small messages/s and 1 KiB messages/s (counted by the receiving process,
 * with the CPU time each process spent per message, which a busy machine disturbs less; the
 * sender sends batches with `send` and ends each with an awaited `sendAsync`, which waits while
 * the outbound buffer is over its bound; drops, if any, are reported), request/reply round
 * trips/s with 1 and 16 concurrent callers, and round-trip latency p50/p99 (hdr-histogram-js,
 * microseconds): raw send/receive pairs, and GenServer `call`s (what users write: a monitor, the
 * request, the reply, the demonitor). Round trips also report each process's CPU time per round
 * trip (with busy-waiting, that includes the spinning) and the records (socket writes) each
 * side sent per round trip: 1.00 with one caller; with 16, how many requests (or answers)
 * shared a write. The peer writes more records than the caller: the first answer of a turn
 * leaves at once and the rest after it (connection.ts, the early flush).
 *
 * Without `--busy-wait-us`, everything runs with the default (no busy-wait), then the round
 * trips again with both ends busy-waiting `BUSY_WAIT_US_COMPARED` µs; with it, everything runs
 * once with that window.
 *
 * Before the round trips: the floor today, bare TCP round trips between two processes without
 * fedctl, plain and with both ends spinning (_baseline.ts).
 *
 * The same file is the peer: run with FEDCTL_BENCH_PEER set, it starts the receiving node.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import { Distribution } from '../runtime/dist/index.js';
import { LIMITS } from '../runtime/kernel/limits.js';
import { Node } from '../runtime/node.js';
import type { Pid, Ref } from '../runtime/pid.js';
import type { ProcessContext } from '../runtime/process.js';
import { call, startServer } from '../runtime/server.js';
import { tcpRoundTrips } from './_baseline.js';

const COOKIE = 'bench-cookie';
const SEND_BATCH = 4_096;
/** The sender lets at most this much queue toward the peer before it waits (well under the bound). */
const BACKLOG_BYTES_MAX = 16 * 1024 * 1024;
const SMALL_MESSAGES = 2_000_000;
const KIB_MESSAGES = 400_000;

interface PeerConfig {
  readonly sealed: boolean;
  /** Both nodes' busy-wait window (undefined: the default). */
  readonly busyWaitUs: number | undefined;
}

async function runPeer(config: PeerConfig): Promise<void> {
  const node = new Node({ name: 'bench-b@127.0.0.1', stopTimeoutMs: 100 });
  await node.start();
  const dist = await Distribution.start({ node, cookie: COOKIE, sealed: config.sealed, busyWaitUs: config.busyWaitUs, logger: () => undefined });
  node.spawn(
    async (ctx) => {
      let count = 0;
      let cpuSince = process.cpuUsage();
      for (;;) {
        const msg = await ctx.receive();
        if (typeof msg === 'object' && msg !== null && !Array.isArray(msg) && (msg as { report?: Pid }).report !== undefined) {
          const cpu = process.cpuUsage(cpuSince);
          const recordsSent = Object.values(dist.stats().peers).reduce((sum, peer) => sum + peer.recordsSent, 0);
          ctx.send((msg as { report: Pid }).report, { received: count, cpuMicros: cpu.user + cpu.system, recordsSent });
          count = 0;
          cpuSince = process.cpuUsage();
        } else {
          count++;
        }
      }
    },
    { name: 'sink' },
  );
  node.spawn(
    async (ctx) => {
      for (;;) {
        const msg = (await ctx.receive()) as { from: Pid; ref: Ref; body: unknown };
        ctx.send(msg.from, { ref: msg.ref, body: msg.body });
      }
    },
    { name: 'echo' },
  );
  await startServer(node, { init: () => 0, handleCall: (request: unknown, _from: unknown, state: number) => ({ reply: request, state }) }, undefined, { name: 'server' });
  process.stdout.write(`${JSON.stringify({ address: dist.address })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void dist.close().then(() => node.stop()).then(() => process.exit(0));
  });
}

if (process.env.FEDCTL_BENCH_PEER !== undefined) {
  await runPeer(JSON.parse(process.env.FEDCTL_BENCH_PEER) as PeerConfig);
}

function cpuText(micros: number): string {
  return `${micros.toFixed(2)} µs`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface OneWay {
  readonly perSecond: number;
  readonly received: number;
  readonly dropped: number;
  /** CPU time (user + system) per message of the sending and the receiving process: steadier than rates on a busy machine. */
  readonly senderCpuMicros: number;
  readonly receiverCpuMicros: number;
}

async function oneWay(node: Node, dist: Distribution, peer: string, count: number, make: (index: number) => unknown): Promise<OneWay> {
  const droppedBefore = dist.stats().peers[peer]?.dataDropped ?? 0;
  return node.run(async (ctx: ProcessContext) => {
    const sink = { name: 'sink', node: peer };
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let sent = 0; sent < count; ) {
      const end = Math.min(count, sent + SEND_BATCH) - 1;
      for (; sent < end; sent++) ctx.send(sink, make(sent));
      // The batch's last message waits for room in the outbound buffer: flow control, no drops.
      await dist.sendAsync(sink, make(sent), { from: ctx.self, timeoutMs: 60_000 });
      sent++;
      await yieldToLoop();
      // (Checked each millisecond, not each turn: stats() is not free and would be counted as the sender's work.)
      while ((dist.stats().peers[peer]?.outboundBytes ?? 0) > BACKLOG_BYTES_MAX) await sleep(1);
    }
    ctx.send(sink, { report: ctx.self });
    const reply = (await ctx.receive((msg) => (msg as { received?: number }).received !== undefined, 60_000)) as { received: number; cpuMicros: number };
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const dropped = (dist.stats().peers[peer]?.dataDropped ?? 0) - droppedBefore;
    return {
      perSecond: reply.received / seconds,
      received: reply.received,
      dropped,
      senderCpuMicros: (cpu.user + cpu.system) / count,
      receiverCpuMicros: reply.cpuMicros / Math.max(1, reply.received),
    };
  });
}

interface RoundTrips {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU time (user + system) per round trip of the calling and the answering process. */
  readonly callerCpuMicros: number;
  readonly peerCpuMicros: number;
  /** Records (socket writes) the caller sent per round trip: below 1 when requests share them. */
  readonly recordsPerRoundTrip: number;
  /** The same for the peer's answers (with the reports' own few). */
  readonly peerRecordsPerRoundTrip: number;
}

/** The peer's CPU time since its last report (the sink answers for its whole process), and the records it has sent so far. */
async function peerReport(node: Node, peer: string): Promise<{ cpuMicros: number; recordsSent: number }> {
  return node.run(async (ctx: ProcessContext) => {
    ctx.send({ name: 'sink', node: peer }, { report: ctx.self });
    return (await ctx.receive((msg) => (msg as { cpuMicros?: number }).cpuMicros !== undefined, 60_000)) as { cpuMicros: number; recordsSent: number };
  });
}

/** `callers` processes each run `once` in a loop for `seconds`; latency per call in a histogram. */
async function measure(node: Node, dist: Distribution, peer: string, callers: number, seconds: number, once: (ctx: ProcessContext) => Promise<void>): Promise<RoundTrips> {
  const recordsSent = (): number => dist.stats().peers[peer]?.recordsSent ?? 0;
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3 });
  const peerBefore = await peerReport(node, peer); // starts the peer's CPU count
  const recordsBefore = recordsSent();
  const cpuBefore = process.cpuUsage();
  const deadline = performance.now() + seconds * 1000;
  let total = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, () =>
      node.run(async (ctx: ProcessContext) => {
        while (performance.now() < deadline) {
          const sentAt = performance.now();
          await once(ctx);
          histogram.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
          total++;
        }
      }),
    ),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const records = recordsSent() - recordsBefore;
  const peerAfter = await peerReport(node, peer);
  return {
    perSecond: total / elapsed,
    p50: histogram.getValueAtPercentile(50),
    p99: histogram.getValueAtPercentile(99),
    callerCpuMicros: (cpu.user + cpu.system) / Math.max(1, total),
    peerCpuMicros: peerAfter.cpuMicros / Math.max(1, total),
    peerRecordsPerRoundTrip: (peerAfter.recordsSent - peerBefore.recordsSent) / Math.max(1, total),
    recordsPerRoundTrip: records / Math.max(1, total),
  };
}

function roundTrips(node: Node, dist: Distribution, peer: string, callers: number, seconds: number): Promise<RoundTrips> {
  const echo = { name: 'echo', node: peer };
  return measure(node, dist, peer, callers, seconds, async (ctx) => {
    const ref = ctx.makeRef();
    ctx.send(echo, { from: ctx.self, ref, body: 1 });
    await ctx.receive((msg) => (msg as { ref?: Ref }).ref === ref || (msg as { ref?: Ref }).ref?.equals(ref) === true);
  });
}

function calls(node: Node, dist: Distribution, peer: string, callers: number, seconds: number): Promise<RoundTrips> {
  const server = { name: 'server', node: peer };
  return measure(node, dist, peer, callers, seconds, async (ctx) => {
    await call(ctx, server, 1, 10_000);
  });
}

function roundTripText(result: RoundTrips): string {
  return `${Math.round(result.perSecond).toLocaleString('en')} /s  p50 ${result.p50} µs  p99 ${result.p99} µs  (CPU/round trip caller ${cpuText(result.callerCpuMicros)}, peer ${cpuText(result.peerCpuMicros)}; records/round trip caller ${result.recordsPerRoundTrip.toFixed(2)}, peer ${result.peerRecordsPerRoundTrip.toFixed(2)})`;
}

/** Both ends' busy-wait window for the round-trip figures run a second time (runtime/dist/busy-wait.ts). */
const BUSY_WAIT_US_COMPARED = 1_000;
const TCP_FLOOR_SECONDS = 1;

interface Session {
  readonly sealed: boolean;
  readonly busyWaitUs: number;
  readonly seconds: number;
  readonly callerCounts: readonly number[];
  readonly parts: ReadonlySet<string>;
}

/** One peer process and one local node, linked with `session`'s settings; runs its parts and prints them. */
async function runSession(session: Session): Promise<void> {
  const { sealed, busyWaitUs, seconds, callerCounts, parts } = session;
  // FEDCTL_BENCH_PROFILE_DIR=dir writes a CPU profile of the peer there (to see where time goes).
  const profileDir = process.env.FEDCTL_BENCH_PROFILE_DIR;
  const profile = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, FEDCTL_BENCH_PEER: JSON.stringify({ sealed, busyWaitUs } satisfies PeerConfig) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`peer exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { address: string }).address));
  });
  const node = new Node({ name: 'bench-a@127.0.0.1', stopTimeoutMs: 100 });
  await node.start();
  const dist = await Distribution.start({ node, cookie: COOKIE, sealed, busyWaitUs, logger: () => undefined });
  try {
    const peer = await dist.connect(address);
    const waiting = busyWaitUs === 0 ? 'no busy-wait (the default)' : `busy-wait ${busyWaitUs} µs on both ends (--busy-wait-us)`;
    console.log(`remote: two processes on 127.0.0.1, ${sealed ? 'sealed (ChaCha20-Poly1305)' : 'PLAINTEXT'} links, ${waiting}, node ${process.version}`);
    await oneWay(node, dist, peer, 100_000, (index) => index); // warm-up
    if (parts.has('small')) {
      const small = await oneWay(node, dist, peer, SMALL_MESSAGES, (index) => ['ping', index]);
      console.log(`one-way small msgs:  ${Math.round(small.perSecond).toLocaleString('en')} msgs/s (${small.received.toLocaleString('en')} received, ${small.dropped} dropped; CPU/msg sender ${cpuText(small.senderCpuMicros)}, receiver ${cpuText(small.receiverCpuMicros)})`);
    }
    if (parts.has('kib')) {
      const kib = Buffer.alloc(1024, 120).toString();
      const large = await oneWay(node, dist, peer, KIB_MESSAGES, () => kib);
      console.log(`one-way 1 KiB msgs:  ${Math.round(large.perSecond).toLocaleString('en')} msgs/s (${large.received.toLocaleString('en')} received, ${large.dropped} dropped; CPU/msg sender ${cpuText(large.senderCpuMicros)}, receiver ${cpuText(large.receiverCpuMicros)})`);
    }
    if (parts.has('rtt')) await roundTrips(node, dist, peer, 1, 0.3); // warm-up
    for (const callers of parts.has('rtt') ? callerCounts : []) {
      const result = await roundTrips(node, dist, peer, callers, seconds);
      console.log(`round trips, ${String(callers).padStart(2)} caller${callers === 1 ? ' ' : 's'}: ${roundTripText(result)}`);
    }
    if (parts.has('call')) await calls(node, dist, peer, 1, 0.3); // warm-up
    for (const callers of parts.has('call') ? callerCounts : []) {
      const result = await calls(node, dist, peer, callers, seconds);
      console.log(`GenServer calls, ${String(callers).padStart(2)} caller${callers === 1 ? ' ' : 's'}: ${roundTripText(result)}`);
    }
    // Pauses mean the machine had no core to spare for spinning (other load): figures then are the machine's, not ours.
    if (busyWaitUs > 0) {
      const { busyWaitTurns, busyWaitPauses } = dist.stats();
      console.log(`busy-wait on this end: ${busyWaitTurns.toLocaleString('en')} loop turns, ${busyWaitPauses} pauses for contention`);
    }
  } finally {
    await dist.close();
    await node.stop();
    child.stdin?.end();
    await new Promise((resolve) => child.once('close', resolve));
  }
}

/** Bare TCP round trips between two processes today, the floor under the round trips below (see _baseline.ts). */
async function printTcpFloor(): Promise<void> {
  const plain = await tcpRoundTrips(TCP_FLOOR_SECONDS, false);
  const spinning = await tcpRoundTrips(TCP_FLOOR_SECONDS, true);
  console.log(
    `floor today: bare TCP round trips of one byte between two processes (no fedctl): p50 ${plain.p50Us.toFixed(0)} µs (CPU ${plain.cpuUsPerRoundTrip.toFixed(0)} µs/round trip); ` +
      `both ends spinning: p50 ${spinning.p50Us.toFixed(0)} µs`,
  );
}

export default async function main(args: string[]): Promise<void> {
  const sealed = !args.includes('--plaintext');
  const secondsIndex = args.indexOf('--seconds');
  const seconds = secondsIndex >= 0 ? Number(args[secondsIndex + 1]) : 2;
  const onlyIndex = args.indexOf('--only');
  const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined;
  const parts = new Set(['small', 'kib', 'rtt', 'call'].filter((part) => only === undefined || only === part));
  const busyIndex = args.indexOf('--busy-wait-us');
  const busyWaitUs = busyIndex >= 0 ? Number(args[busyIndex + 1]) : undefined;
  if (busyWaitUs !== undefined && !(Number.isInteger(busyWaitUs) && busyWaitUs >= 0)) throw new Error('--busy-wait-us needs a non-negative integer');
  const callersIndex = args.indexOf('--callers');
  const callerCounts = callersIndex >= 0 ? String(args[callersIndex + 1]).split(',').map(Number) : [1, 16];
  if (parts.has('rtt') || parts.has('call')) await printTcpFloor();
  if (busyWaitUs !== undefined) {
    await runSession({ sealed, busyWaitUs, seconds, callerCounts, parts });
    return;
  }
  // Everything with the default (no busy-wait); then the round trips again with both ends
  // busy-waiting, as BEAM's schedulers do by default (its figures the issue compares with).
  await runSession({ sealed, busyWaitUs: LIMITS.busyWaitUs, seconds, callerCounts, parts });
  const again = new Set([...parts].filter((part) => part === 'rtt' || part === 'call'));
  if (again.size > 0) await runSession({ sealed, busyWaitUs: BUSY_WAIT_US_COMPARED, seconds, callerCounts, parts: again });
}
