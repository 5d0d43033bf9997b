/**
 * `npm run bench -- overload [seconds=60] [calibrationSeconds=10] [proposalsInFlightMax=256]`:
 * the registry under twice the load it can carry.
 *
 * Setup: three real `fedctl start` child processes on 127.0.0.1 (dist/cli/main.js when built,
 * else cli/main.ts through tsx) forming one group, each with `--metrics 127.0.0.1:0` and JSON
 * logs. Clients are admin connections (hidden nodes, as `fedctl` itself), four per node,
 * sending `register` of a bounded key space (10 000 names per node, re-registered by that node's
 * one holder process: every operation is a Raft proposal, while the registry's size stays bounded so
 * memory can stay flat). Requests are sent once (`requestOnce`: no client retry), so refusals
 * are counted, not hidden.
 *
 * 1. Calibration: closed loop, 256 concurrent clients (fewer if admission would refuse some:
 *    at most 3 × proposalsInFlightMax), for `calibrationSeconds`: the measured
 *    capacity in accepted operations per second.
 * 2. Overload: open loop at 2 × capacity for `seconds` (requests are issued on schedule whatever
 *    happens to earlier ones). Reported: accepted ops/s (and as a share of capacity), rejected
 *    ops/s (`overloaded`), other failures, p50/p99/max latency of accepted operations, the
 *    memory high-water mark of each node (RSS and heap, sampled every second from /metrics)
 *    with the heap at the start and end of the run, and whether heartbeats lapsed: the largest
 *    gap between two heartbeats any member received from another during the run (each node's
 *    observer samples its peers' heartbeat counters; the bench reads them as its own reader at
 *    the start and the end of the phase), any member logging `nodedown` for another member, and
 *    any Raft term change (an election).
 * 3. Verdict against the issue's targets, each PASS or FAIL, and overall:
 *    - accepted throughput within 10% of capacity (accepted ≥ 90% of the calibrated capacity);
 *    - p99 bounded: the p99 of accepted operations in the last quarter of the run is at most
 *      `P99_GROWTH_MAX` × the first quarter's (plus `P99_SLACK_MS`), and below the request timeout —
 *      an unbounded queue would make latency grow with time;
 *    - memory flat: each node's heap high-water mark in the last fifth of the run is at most
 *      `HEAP_GROWTH_MAX` × the second fifth's (plus `HEAP_SLACK_BYTES`; the first fifth is warm-up);
 *    - heartbeats never lapsed: largest gap below the heartbeat timeout, no nodedown, no election;
 *    - every node up at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import hdr from 'hdr-histogram-js';
import { type AdminClient, connectAdmin } from '../cli/admin-client.js';
import type { AdminRequest } from '../cli/admin-protocol.js';
import { isFedError } from '../runtime/index.js';
import type { NodeSnapshot } from '../runtime/observe/index.js';

const HOST = '127.0.0.1';
const COOKIE = 'overload-bench-cookie-0123456789';
const NODES = ['o1', 'o2', 'o3'] as const;
const CONNECTIONS_PER_NODE = 4;
const CALIBRATION_CLIENTS = 256;
const KEY_SPACE = 10_000;
const ADMIN_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 30_000;
const SCHEDULE_TICK_MS = 5;
/**
 * The bench never keeps more than this many requests outstanding: the load generator shares the
 * 2 cores with the nodes, and tens of thousands of pending requests (each a process, a monitor
 * and a timer) stalled its event loop past the nodes' 3 s failure detector, so the nodes rightly
 * dropped its connections and the run measured the bench, not the registry.
 */
const OUTSTANDING_MAX = 8_192;
/** Requests the schedule may owe at one tick before the bench skips them (counted as not sent): no catch-up bursts. */
const CATCH_UP_TICKS_MAX = 4;
const SAMPLE_INTERVAL_MS = 1_000;
/** `fedctl start`'s failure detector: a peer silent this long is declared down (node-stack.ts). */
const HEARTBEAT_TIMEOUT_MS = 3_000;
/** The observer reader name of this bench (its own baseline for heartbeat gaps). */
const BENCH_READER = 'bench-overload';
/** Verdict bounds (see the header). */
const ACCEPTED_SHARE_MIN = 0.9;
const P99_GROWTH_MAX = 2;
const P99_SLACK_MS = 20;
const HEAP_GROWTH_MAX = 1.25;
const HEAP_SLACK_BYTES = 16 * 1024 * 1024;
const LATENCY_QUARTERS = 4;

const DIST_CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const SOURCE_CLI = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  address: string;
  metrics: string;
  log: string;
  holder: string;
  readonly admins: AdminClient[];
  /**
   * The connection the bench's own probes (status, introspect) use, apart from the load's: a load
   * connection the node closes under overload (or whose heartbeats the busy bench misses) must
   * not take the measurement with it. Reconnected once when lost; `probeReconnects` counts it.
   */
  probe: AdminClient | undefined;
  probeReconnects: number;
  rssBytesMax: number;
  heapBytesMax: number;
  heapBytesFirst: number | undefined;
  heapBytesLast: number;
  /** Heap used at each sample of the overload phase, oldest first. */
  readonly heapSamples: number[];
}

function cliCommand(): { args: string[]; label: string } {
  if (existsSync(DIST_CLI)) return { args: [DIST_CLI], label: 'dist/cli/main.js' };
  return { args: ['--import', 'tsx', SOURCE_CLI], label: 'cli/main.ts via tsx' };
}

async function startMember(root: string, short: string, extra: string[], proposalsInFlightMax: number): Promise<Member> {
  const name = `${short}@${HOST}`;
  const cookieFile = join(root, 'cookie');
  const { args } = cliCommand();
  const child = spawn(
    process.execPath,
    [...args, 'start', '--name', name, '--listen', `${HOST}:0`, '--data', join(root, short), '--group', 'overload', '--metrics', `${HOST}:0`,
      '--log-format', 'json', '--proposals-in-flight-max', String(proposalsInFlightMax), ...extra],
    { env: { PATH: process.env.PATH, HOME: root, FEDCTL_COOKIE_FILE: cookieFile }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const member: Member = {
    name, child, exited: new Promise((resolve) => child.once('close', () => resolve())), address: '', metrics: '', log: '', holder: '',
    admins: [], probe: undefined, probeReconnects: 0, rssBytesMax: 0, heapBytesMax: 0, heapBytesFirst: undefined, heapBytesLast: 0, heapSamples: [],
  };
  child.stderr?.on('data', (chunk: Buffer) => (member.log += chunk.toString()));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const ready = /ready: listening on (\S+),/.exec(member.log);
    const metrics = /metrics: listening on http:\/\/(\S+)\/metrics/.exec(member.log);
    if (ready !== null && metrics !== null) {
      member.address = ready[1] as string;
      member.metrics = metrics[1] as string;
      break;
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start: ${member.log}`);
    await sleep(50);
  }
  return member;
}

/** A request on the member's probe connection, made again on a fresh connection once if that one was lost. */
async function probeRequest(member: Member, request: AdminRequest): Promise<unknown> {
  member.probe ??= await connectAdmin(member.address, COOKIE, ADMIN_TIMEOUT_MS);
  try {
    return await member.probe.request(request, ADMIN_TIMEOUT_MS);
  } catch (error) {
    if (!isFedError(error, 'nodedown') && !isFedError(error, 'noconnection')) throw error;
    await member.probe.close().catch(() => undefined);
    member.probeReconnects++;
    member.probe = await connectAdmin(member.address, COOKIE, ADMIN_TIMEOUT_MS);
    return member.probe.request(request, ADMIN_TIMEOUT_MS);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function scrape(member: Member): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${member.metrics}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match !== null) values.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return values;
}

async function sampleMemory(members: readonly Member[]): Promise<void> {
  await Promise.all(
    members.map(async (member) => {
      const values = await scrape(member).catch(() => undefined);
      if (values === undefined) return;
      const rss = values.get('fedctl_process_resident_memory_bytes') ?? 0;
      const heap = values.get('fedctl_heap_used_bytes') ?? 0;
      member.rssBytesMax = Math.max(member.rssBytesMax, rss);
      member.heapBytesMax = Math.max(member.heapBytesMax, heap);
      member.heapBytesFirst ??= heap;
      member.heapBytesLast = heap;
      member.heapSamples.push(heap);
    }),
  );
}

/** CPU seconds used so far by each node (from its metrics) and by this bench process. */
async function cpuSeconds(members: readonly Member[]): Promise<{ nodes: number[]; bench: number }> {
  const nodes = await Promise.all(members.map(async (member) => (await scrape(member)).get('fedctl_process_cpu_seconds_total') ?? 0));
  const usage = process.cpuUsage();
  return { nodes, bench: (usage.user + usage.system) / 1e6 };
}

function cpuShares(before: { nodes: number[]; bench: number }, after: { nodes: number[]; bench: number }, elapsedMs: number): string {
  const share = (seconds: number): string => `${((seconds / (elapsedMs / 1_000)) * 100).toFixed(0)}%`;
  return `nodes ${after.nodes.map((value, index) => share(value - (before.nodes[index] ?? 0))).join('/')}, bench client ${share(after.bench - before.bench)} (of one core each)`;
}

async function termsOf(members: readonly Member[]): Promise<number[]> {
  return Promise.all(members.map(async (member) => (await scrape(member)).get('fedctl_raft_term') ?? -1));
}

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

interface Tally {
  accepted: number;
  rejected: number;
  failed: number;
  shed: number;
  /** Requests the bench fell too far behind its schedule to send. */
  behind: number;
  /** Requests actually sent. */
  sent: number;
  readonly latency: hdr.Histogram;
  /** Latency of accepted operations by quarter of the phase (by completion time). */
  readonly quarters: hdr.Histogram[];
  readonly failures: Map<string, number>;
  /** When the phase started and how long it lasts (to place completions in quarters). */
  startedMs: number;
  durationMs: number;
}

function newTally(durationMs = 1): Tally {
  return {
    accepted: 0, rejected: 0, failed: 0, shed: 0, behind: 0, sent: 0, latency: histogram(), quarters: Array.from({ length: LATENCY_QUARTERS }, () => histogram()), failures: new Map(),
    startedMs: performance.now(), durationMs,
  };
}

let sequence = 0;

/** One register through one admin connection, tallied. */
async function registerOnce(member: Member, admin: AdminClient, tally: Tally): Promise<void> {
  const name = `load/${member.name}/${sequence++ % KEY_SPACE}`;
  const sent = performance.now();
  try {
    await admin.requestOnce({ op: 'register', name, pid: member.holder, meta: {} }, ADMIN_TIMEOUT_MS);
    tally.accepted++;
    const done = performance.now();
    const microseconds = Math.max(1, Math.round((done - sent) * 1_000));
    tally.latency.recordValue(microseconds);
    const quarter = Math.min(LATENCY_QUARTERS - 1, Math.max(0, Math.floor(((done - tally.startedMs) / tally.durationMs) * LATENCY_QUARTERS)));
    tally.quarters[quarter]?.recordValue(microseconds);
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'error';
    if (code === 'overloaded') tally.rejected++;
    else {
      tally.failed++;
      tally.failures.set(code, (tally.failures.get(code) ?? 0) + 1);
    }
  }
}

function connections(members: readonly Member[]): Array<{ member: Member; admin: AdminClient }> {
  return members.flatMap((member) => member.admins.map((admin) => ({ member, admin })));
}

async function calibrate(members: readonly Member[], durationMs: number, clients: number): Promise<{ perSecond: number; tally: Tally }> {
  const pairs = connections(members);
  const tally = newTally();
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      const { member, admin } = pairs[client % pairs.length] as { member: Member; admin: AdminClient };
      while (performance.now() < deadline) await registerOnce(member, admin, tally);
    }),
  );
  return { perSecond: (tally.accepted / (performance.now() - started)) * 1_000, tally };
}

async function overload(members: readonly Member[], ratePerSecond: number, durationMs: number): Promise<{ tally: Tally; elapsedMs: number }> {
  const pairs = connections(members);
  const tally = newTally(durationMs);
  const inflight = new Set<Promise<void>>();
  const started = tally.startedMs;
  let issued = 0;
  const owedMax = Math.ceil((ratePerSecond * SCHEDULE_TICK_MS * CATCH_UP_TICKS_MAX) / 1_000);
  let nextSample = started + SAMPLE_INTERVAL_MS;
  for (;;) {
    const now = performance.now();
    if (now - started >= durationMs) break;
    const due = Math.floor(((now - started) / 1_000) * ratePerSecond);
    if (due - issued > owedMax) {
      tally.behind += due - issued - owedMax;
      issued = due - owedMax;
    }
    for (; issued < due; issued++) {
      if (inflight.size >= OUTSTANDING_MAX) {
        tally.shed++;
        continue;
      }
      const { member, admin } = pairs[issued % pairs.length] as { member: Member; admin: AdminClient };
      const request = registerOnce(member, admin, tally).finally(() => inflight.delete(request));
      inflight.add(request);
      tally.sent++;
    }
    if (now >= nextSample) {
      nextSample += SAMPLE_INTERVAL_MS;
      void sampleMemory(members);
    }
    await sleep(SCHEDULE_TICK_MS);
  }
  const elapsedMs = performance.now() - started;
  await Promise.all(inflight);
  return { tally, elapsedMs };
}

/**
 * `nodedown` log events a member wrote about another member (heartbeat lapses). Only complete
 * lines are read (the last one may still be being written), and a line that is not JSON is skipped.
 */
function lapses(members: readonly Member[], fromOffsets: readonly number[]): string[] {
  const names = new Set(members.map((member) => member.name));
  const found: string[] = [];
  members.forEach((member, index) => {
    const text = member.log.slice(fromOffsets[index]);
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    for (const line of complete.split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry: { event?: string; peer?: string; msg?: string };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if (entry.event === 'nodedown' && entry.peer !== undefined && names.has(entry.peer)) found.push(`${member.name}: ${entry.msg}`);
    }
  });
  return found;
}

/**
 * The largest heartbeat gap each member saw from each other member since the bench's previous
 * read (`introspect` as reader BENCH_READER), in ms; null where a peer was down at the read.
 */
async function heartbeatGaps(members: readonly Member[]): Promise<Array<{ from: string; peer: string; gapMs: number | null }>> {
  const names = new Set(members.map((member) => member.name));
  const rows = await Promise.all(
    members.map(async (member) => {
      const snapshot = (await probeRequest(member, { op: 'introspect', top: 0, reader: BENCH_READER })) as NodeSnapshot;
      return snapshot.peers.filter((peer) => names.has(peer.node)).map((peer) => ({ from: member.name, peer: peer.node, gapMs: peer.heartbeatGapMsMax }));
    }),
  );
  return rows.flat();
}

/** Max of the samples in [from, to) fractions of the series. */
function maxOfSpan(samples: readonly number[], from: number, to: number): number {
  const start = Math.floor(samples.length * from);
  const end = Math.max(start + 1, Math.floor(samples.length * to));
  return Math.max(...samples.slice(start, end));
}

/** The largest (or, with `pick` Math.min, the smallest) sample in each tenth of the series (fewer buckets for short series). */
function tenths(samples: readonly number[], pick: (...values: number[]) => number = Math.max): number[] {
  const buckets = Math.min(10, samples.length);
  return Array.from({ length: buckets }, (_, bucket) => {
    const from = Math.floor((bucket * samples.length) / buckets);
    const to = Math.floor(((bucket + 1) * samples.length) / buckets);
    return pick(...samples.slice(from, Math.max(to, from + 1)));
  });
}

const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
const ms = (microseconds: number): string => `${(microseconds / 1_000).toFixed(1)} ms`;
const perSecond = (count: number, elapsedMs: number): string => ((count / elapsedMs) * 1_000).toFixed(0);

export default async function (args: string[]): Promise<void> {
  const seconds = Number(args[0] ?? 60);
  const calibrationSeconds = Number(args[1] ?? 10);
  const proposalsInFlightMax = Number(args[2] ?? 256);
  if (!(seconds > 0 && calibrationSeconds > 0 && Number.isInteger(proposalsInFlightMax) && proposalsInFlightMax > 0)) {
    throw new Error('usage: npm run bench -- overload [seconds>0] [calibrationSeconds>0] [proposalsInFlightMax>0]');
  }
  const root = mkdtempSync(join(tmpdir(), 'fedctl-overload-bench-'));
  writeFileSync(join(root, 'cookie'), COOKIE, { mode: 0o600 });
  const members: Member[] = [];
  try {
    console.log(`overload bench: 3 × fedctl start (${cliCommand().label}), --proposals-in-flight-max ${proposalsInFlightMax}, ${CONNECTIONS_PER_NODE} admin connections per node`);
    const first = await startMember(root, NODES[0], [], proposalsInFlightMax);
    members.push(first);
    members.push(...(await Promise.all(NODES.slice(1).map((short) => startMember(root, short, ['--seed', first.address], proposalsInFlightMax)))));
    for (const member of members) {
      for (let index = 0; index < CONNECTIONS_PER_NODE; index++) member.admins.push(await connectAdmin(member.address, COOKIE, ADMIN_TIMEOUT_MS));
      member.holder = ((await probeRequest(member, { op: 'spawn_holder' })) as { pid: string }).pid;
    }
    for (;;) {
      const status = (await probeRequest(first, { op: 'status' })) as { voters: string[]; leader: string | null };
      if (status.voters.length === 3 && status.leader !== null) break;
      await sleep(100);
    }

    const cpuCalibrationStart = await cpuSeconds(members);
    const calibrationClients = Math.min(CALIBRATION_CLIENTS, members.length * proposalsInFlightMax);
    const calibration = await calibrate(members, calibrationSeconds * 1_000, calibrationClients);
    const cpuCalibration = cpuShares(cpuCalibrationStart, await cpuSeconds(members), calibrationSeconds * 1_000);
    const capacity = calibration.perSecond;
    console.log(`calibration (${calibrationSeconds} s, closed loop, ${calibrationClients} clients): capacity ${capacity.toFixed(0)} ops/s, ` +
      `p99 ${ms(calibration.tally.latency.getValueAtPercentile(99))}, refused ${calibration.tally.rejected}, failed ${calibration.tally.failed}; cpu ${cpuCalibration}`);

    const logOffsets = members.map((member) => member.log.length);
    const termsBefore = await termsOf(members);
    await sampleMemory(members);
    for (const member of members) {
      member.heapBytesFirst = member.heapBytesLast;
      member.heapSamples.length = 0;
    }
    const offered = capacity * 2;
    await heartbeatGaps(members); // the bench's baseline: gaps are measured from here
    const cpuOverloadStart = await cpuSeconds(members);
    const { tally, elapsedMs } = await overload(members, offered, seconds * 1_000);
    const cpuOverload = cpuShares(cpuOverloadStart, await cpuSeconds(members), elapsedMs);
    await sampleMemory(members);
    const termsAfter = await termsOf(members);
    const lapsed = lapses(members, logOffsets);
    const gaps = await heartbeatGaps(members);
    const acceptedRate = (tally.accepted / elapsedMs) * 1_000;

    console.log(`overload (${seconds} s, open loop at 2 × capacity = ${offered.toFixed(0)} ops/s offered):`);
    console.log(`  accepted  ${perSecond(tally.accepted, elapsedMs)} ops/s  (${((acceptedRate / capacity) * 100).toFixed(0)}% of capacity)`);
    console.log(`  rejected  ${perSecond(tally.rejected, elapsedMs)} ops/s  (overloaded, with retryAfterMs)`);
    console.log(`  failed    ${perSecond(tally.failed, elapsedMs)} ops/s  ${[...tally.failures].map(([code, count]) => `${code}=${count}`).join(' ') || ''}`);
    console.log(`  sent      ${perSecond(tally.sent, elapsedMs)} ops/s  (${((tally.sent / elapsedMs) * 1_000 / capacity).toFixed(2)} × capacity actually offered)`);
    if (tally.shed > 0) console.log(`  shed by the bench (over ${OUTSTANDING_MAX} outstanding): ${tally.shed}`);
    if (tally.behind > 0) console.log(`  not sent: the bench fell behind its schedule by ${tally.behind} requests (the load generator shares the cores)`);
    console.log(`  latency of accepted: p50 ${ms(tally.latency.getValueAtPercentile(50))}  p99 ${ms(tally.latency.getValueAtPercentile(99))}  max ${ms(tally.latency.maxValue)}`);
    for (const member of members) {
      console.log(`  ${member.name}: rss high-water ${mib(member.rssBytesMax)}, heap high-water ${mib(member.heapBytesMax)}, heap start ${mib(member.heapBytesFirst ?? 0)} → end ${mib(member.heapBytesLast)}`);
      console.log(`    heap max per tenth of the run (MiB): ${tenths(member.heapSamples).map((bytes) => (bytes / (1024 * 1024)).toFixed(0)).join(' ')}`);
      console.log(`    heap min per tenth of the run (MiB): ${tenths(member.heapSamples, Math.min).map((bytes) => (bytes / (1024 * 1024)).toFixed(0)).join(' ')}`);
    }
    const elections = termsAfter.some((term, index) => term !== termsBefore[index]);
    const measuredGaps = gaps.filter((gap): gap is { from: string; peer: string; gapMs: number } => gap.gapMs !== null);
    const widest = measuredGaps.reduce<{ from: string; peer: string; gapMs: number } | undefined>((best, gap) => (best === undefined || gap.gapMs > best.gapMs ? gap : best), undefined);
    const downAtEnd = gaps.filter((gap) => gap.gapMs === null);
    console.log(`  heartbeat gap, largest during the run: ${widest === undefined ? 'not measured' : `${widest.gapMs.toFixed(0)} ms (${widest.from} from ${widest.peer}), timeout ${HEARTBEAT_TIMEOUT_MS} ms`}` +
      `${downAtEnd.length > 0 ? `; peers down at the end: ${downAtEnd.map((gap) => `${gap.from}→${gap.peer}`).join(', ')}` : ''}`);
    console.log(`  nodedown between members: ${lapsed.length > 0 ? `YES (${lapsed.length}: ${lapsed.slice(0, 3).join('; ')})` : 'none'}`);
    console.log(`  raft terms ${termsBefore.join('/')} → ${termsAfter.join('/')}: ${elections ? 'an election happened' : 'no election'}`);
    console.log(`  cpu ${cpuOverload}; machine load average ${loadavg().map((value) => value.toFixed(1)).join(' ')} on ${cpus().length} cores`);
    const alive = members.every((member) => member.child.exitCode === null);
    console.log(`  nodes up at the end: ${alive ? 'all 3' : 'NO'}`);
    const reconnects = members.filter((member) => member.probeReconnects > 0);
    if (reconnects.length > 0) console.log(`  the bench's probe connection was lost and made again: ${reconnects.map((member) => `${member.name} ×${member.probeReconnects}`).join(', ')}`);

    const firstQuarterP99Ms = (tally.quarters[0]?.getValueAtPercentile(99) ?? 0) / 1_000;
    const lastQuarterP99Ms = (tally.quarters[LATENCY_QUARTERS - 1]?.getValueAtPercentile(99) ?? 0) / 1_000;
    const p99Ms = tally.latency.getValueAtPercentile(99) / 1_000;
    const heapVerdicts = members.map((member) => {
      const early = maxOfSpan(member.heapSamples, 0.2, 0.4);
      const late = maxOfSpan(member.heapSamples, 0.8, 1);
      return { member, early, late, flat: member.heapSamples.length >= 5 && late <= early * HEAP_GROWTH_MAX + HEAP_SLACK_BYTES };
    });
    const verdicts: Array<[string, boolean, string]> = [
      ['accepted within 10% of capacity', acceptedRate >= capacity * ACCEPTED_SHARE_MIN, `${acceptedRate.toFixed(0)} ops/s accepted = ${((acceptedRate / capacity) * 100).toFixed(0)}% of ${capacity.toFixed(0)} (needs ≥ ${ACCEPTED_SHARE_MIN * 100}%)`],
      [
        'p99 bounded',
        lastQuarterP99Ms <= firstQuarterP99Ms * P99_GROWTH_MAX + P99_SLACK_MS && p99Ms < ADMIN_TIMEOUT_MS,
        `p99 first quarter ${firstQuarterP99Ms.toFixed(1)} ms, last quarter ${lastQuarterP99Ms.toFixed(1)} ms (needs ≤ ${P99_GROWTH_MAX} × first + ${P99_SLACK_MS} ms), overall ${p99Ms.toFixed(1)} ms (< ${ADMIN_TIMEOUT_MS} ms)`,
      ],
      [
        'memory flat',
        heapVerdicts.every((verdict) => verdict.flat),
        heapVerdicts.map((verdict) => `${verdict.member.name} heap ${mib(verdict.early)} → ${mib(verdict.late)}`).join(', ') + ` (last fifth ≤ ${HEAP_GROWTH_MAX} × second fifth + ${mib(HEAP_SLACK_BYTES)})`,
      ],
      [
        'heartbeats never lapsed',
        widest !== undefined && widest.gapMs < HEARTBEAT_TIMEOUT_MS && downAtEnd.length === 0 && lapsed.length === 0 && !elections,
        `largest gap ${widest === undefined ? '?' : `${widest.gapMs.toFixed(0)} ms`} < ${HEARTBEAT_TIMEOUT_MS} ms, ${lapsed.length} nodedown, ${elections ? 'an election' : 'no election'}`,
      ],
      ['the nodes stayed up', alive, alive ? 'all 3 running' : 'a node exited'],
    ];
    console.log('verdict:');
    for (const [target, pass, detail] of verdicts) console.log(`  ${pass ? 'PASS' : 'FAIL'}  ${target}: ${detail}`);
    const overall = verdicts.every(([, pass]) => pass);
    console.log(`  overall: ${overall ? 'PASS' : 'FAIL'}`);
    if (!overall) process.exitCode = 1;
  } finally {
    for (const member of members) for (const admin of [...member.admins, ...(member.probe === undefined ? [] : [member.probe])]) await admin.close().catch(() => undefined);
    for (const member of members) {
      if (member.child.exitCode === null) member.child.kill('SIGTERM');
      const timer = setTimeout(() => member.child.kill('SIGKILL'), 5_000);
      await member.exited;
      clearTimeout(timer);
    }
    rmSync(root, { recursive: true, force: true });
  }
}
