/**
 * `npm run bench -- registry [seconds]`: the name registry of a three-voter group, each voter in
 * its own process on 127.0.0.1 running the `fedctl start` stack (test/registry/fixtures/
 * bench-member.ts: `startNodeStack`, classic-level data directories, synced writes), measured
 * two ways:
 *   - through the admin protocol, as `fedctl` and other outside clients reach a node (one extra
 *     network hop and an admin process per request);
 *   - from inside the leader's process (`group.register`/`whereis` called directly), which is
 *     what a service running on a member sees.
 * Figures: registrations/s and latency p50/p99 with 1 and 64 concurrent clients (and, for the
 * 64-client runs, every member process's CPU time per registration, which the machine's other load
 * hardly skews, and the leader's group commit: entries per synced write and per append sent);
 * local `whereis`
 * ns/op; linearizable `whereis` p50/p99 (on the leader and on a follower); and, three times, the
 * time from kill -9 of the leader to the first successful registration on a survivor (the killed
 * member is restarted from its data directory between rounds), and the same for a clean stop of
 * the leader (it hands its leadership over first). First, the floor today: synced
 * classic-level batches without fedctl, one writer alone and three at once (_baseline.ts).
 *
 * Environment, for whoever works on the hot path:
 *   - `FEDCTL_BENCH_CPU_PROF=DIR`: every member process runs with `--cpu-prof --cpu-prof-dir DIR`
 *     (one `.cpuprofile` per member process, written when it exits; open it in Chrome DevTools);
 *   - `FEDCTL_BENCH_QUICK=1`: only the 64-client run from inside the leader (its warm-up, then
 *     the run with its cost line), then stop: the figure a change to the hot path moves;
 *   - `FEDCTL_BENCH_MEMBER_FLAGS='--trace-deopt …'`: extra node/V8 flags for every member
 *     process (what a member prints on stdout besides its replies is passed on to stderr).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import hdr from 'hdr-histogram-js';
import { type AdminClient, connectAdmin } from '../cli/admin-client.js';
import { freePort } from '../test/registry/fixtures/fedctl-process.js';
import { syncedWrites } from './_baseline.js';

const HOST = '127.0.0.1';
const COOKIE = 'registry-bench-cookie-0123456789';
const MEMBER_SCRIPT = fileURLToPath(new URL('../test/registry/fixtures/bench-member.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const ADMIN_TIMEOUT_MS = 5_000;
const CONCURRENT_CLIENTS = 64;
const ADMIN_CONNECTIONS = 8;
const LINEARIZABLE_READS = 1_000;
const LOCAL_READS = 1_000_000;
const KILL_ROUNDS = 3;
const RETRY_PAUSE_MS = 5;
const CPU_PROFILE_DIR = process.env.FEDCTL_BENCH_CPU_PROF;
const QUICK = process.env.FEDCTL_BENCH_QUICK === '1';
/** Extra node/V8 flags for every member process (`--trace-deopt`, `--max-semi-space-size=…`), space-separated. */
const MEMBER_NODE_FLAGS = (process.env.FEDCTL_BENCH_MEMBER_FLAGS ?? '').split(' ').filter((flag) => flag.length > 0);
/** The unreported 64-client run before the measured one (see the load loop). */
const WARMUP_MS = 3_000;
const DISK_FLOOR_SECONDS = 1;

interface Member {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  admin: AdminClient | undefined;
  pending: Map<number, (reply: { result?: unknown; error?: string }) => void>;
}

let nextCommandId = 1;

async function launch(member: Member, seeds: string[]): Promise<void> {
  const config = { name: member.name, host: HOST, port: member.port, group: 'bench', dataDir: member.dataDir, cookie: COOKIE, seeds };
  const profile = CPU_PROFILE_DIR === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', CPU_PROFILE_DIR];
  profile.push(...MEMBER_NODE_FLAGS);
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', MEMBER_SCRIPT], {
    env: { ...process.env, FEDCTL_BENCH_MEMBER: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  member.child = child;
  member.exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  member.pending = new Map();
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${member.name} not ready`)), READY_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`${member.name} exited early (${code})`)));
    lines.on('line', (line) => {
      // Anything else a member prints on stdout (V8's --trace-* output) is passed on, not parsed.
      if (!line.startsWith('{')) {
        process.stderr.write(`${member.name}: ${line}\n`);
        return;
      }
      const message = JSON.parse(line) as { ready?: boolean; id?: number; result?: unknown; error?: string };
      if (message.ready === true) {
        clearTimeout(timer);
        resolve();
      } else if (message.id !== undefined) {
        member.pending.get(message.id)?.(message);
        member.pending.delete(message.id);
      }
    });
  });
  member.admin = await connectAdmin(`${HOST}:${member.port}`, COOKIE, ADMIN_TIMEOUT_MS);
}

/** A load command run inside the member's process. */
function inside<T>(member: Member, command: Record<string, unknown>): Promise<T> {
  const id = nextCommandId++;
  return new Promise<T>((resolve, reject) => {
    member.pending.set(id, (reply) => (reply.error !== undefined ? reject(new Error(reply.error)) : resolve(reply.result as T)));
    member.child!.stdin!.write(`${JSON.stringify({ id, ...command })}\n`);
  });
}

async function kill9(member: Member): Promise<void> {
  member.child?.kill('SIGKILL');
  await member.exited;
  member.child = undefined;
  await member.admin?.close();
  member.admin = undefined;
}

async function stop(member: Member): Promise<void> {
  if (member.child === undefined) return;
  member.child.stdin?.end();
  const timer = setTimeout(() => member.child?.kill('SIGKILL'), 5_000);
  await member.exited;
  clearTimeout(timer);
  member.child = undefined;
  await member.admin?.close();
  member.admin = undefined;
}

/** Longest the bench waits for a leader, or for writes to resume after one is gone, before it gives up. */
const RECOVERY_WAIT_MS_MAX = 30_000;

async function leaderOf(members: Member[]): Promise<Member> {
  const deadline = performance.now() + RECOVERY_WAIT_MS_MAX;
  for (;;) {
    if (performance.now() > deadline) throw new Error(`no member reported itself leader within ${RECOVERY_WAIT_MS_MAX} ms`);
    for (const member of members) {
      if (member.admin === undefined) continue;
      const status = (await member.admin.request({ op: 'status' }).catch(() => undefined)) as { leader: string | null; role: string } | undefined;
      if (status?.role === 'leader') return member;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/** `clients` concurrent loops of admin `register` spread over `connections` admin clients. */
async function adminRegisterLoad(address: string, clients: number, connections: number, durationMs: number, prefix: string) {
  const admins = await Promise.all(Array.from({ length: connections }, () => connectAdmin(address, COOKIE, ADMIN_TIMEOUT_MS)));
  const h = histogram();
  let count = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      const admin = admins[client % connections] as AdminClient;
      for (let index = 0; performance.now() < deadline; index++) {
        const sent = performance.now();
        try {
          await admin.request({ op: 'register', name: `${prefix}/${client}/${index}`, meta: {} });
          h.recordValue(Math.max(1, Math.round((performance.now() - sent) * 1_000)));
          count++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  for (const admin of admins) await admin.close();
  return { count, errors, perSecond: (count / elapsedMs) * 1_000, p50Us: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99) };
}

async function adminLinearizable(admin: AdminClient, name: string, count: number) {
  const h = histogram();
  for (let index = 0; index < count; index++) {
    const sent = performance.now();
    await admin.request({ op: 'whereis', name, consistency: 'linearizable' });
    h.recordValue(Math.max(1, Math.round((performance.now() - sent) * 1_000)));
  }
  return { p50Us: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99) };
}

/**
 * kill -9 the leader (`how: 'kill'`), or stop it cleanly as SIGTERM stops `fedctl start` (`how:
 * 'stop'`: it hands its leadership over first); time until a survivor accepts a registration.
 */
async function leaderGoneRound(members: Member[], round: number, how: 'kill' | 'stop'): Promise<{ victim: string; resumeMs: number }> {
  const victim = await leaderOf(members);
  const survivor = members.find((member) => member !== victim) as Member;
  const goneAt = performance.now();
  if (how === 'kill') victim.child?.kill('SIGKILL');
  else victim.child?.stdin?.end();
  for (let attempt = 0; ; attempt++) {
    if (performance.now() - goneAt > RECOVERY_WAIT_MS_MAX) throw new Error(`no survivor accepted a registration within ${RECOVERY_WAIT_MS_MAX} ms of the leader's ${how}`);
    try {
      await survivor.admin!.request({ op: 'register', name: `after-${how}/${round}/${attempt}`, meta: {} }, 1_000);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }
  const resumeMs = performance.now() - goneAt;
  if (how === 'kill') await kill9(victim);
  else await stop(victim);
  await launch(
    victim,
    members.filter((member) => member !== victim).map((member) => `${HOST}:${member.port}`),
  );
  // Let the restarted member catch up before the next round.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  return { victim: victim.name, resumeMs };
}

interface Counters {
  readonly cpuUs: number;
  readonly systemCpuUs: number;
  readonly mainThreadCpuUs: number;
  readonly syncedBatches: number;
  readonly batchesWithEntries: number;
  readonly entriesWritten: number;
  readonly appendsWithEntriesSent: number;
  readonly emptyAppendsSent: number;
  readonly readies: number;
  readonly bytesSent: number;
}

async function counters(members: Member[]): Promise<Counters[]> {
  return Promise.all(members.map((member) => inside<Counters>(member, { cmd: 'counters' })));
}

/**
 * What a load run cost: CPU µs per registration of each member (leader first; of it, in the
 * kernel: syscalls, loopback TCP, fsync; and on the JavaScript thread — the rest is V8's GC
 * helpers, the libuv pool's level writes and LevelDB's compaction), and the leader's
 * batching — entries per synced write with entries, and entries per append with entries sent
 * (two followers: about twice as many appends as writes) — and the bytes it sent per
 * registration (to followers and, through the admin protocol, to clients).
 */
function costLine(members: Member[], leader: Member, before: Counters[], after: Counters[], registrations: number): string {
  const delta = (index: number, key: keyof Counters): number => (after[index] as Counters)[key] - (before[index] as Counters)[key];
  const order = [members.indexOf(leader), ...members.map((_, index) => index).filter((index) => members[index] !== leader)];
  const perRegistration = (index: number, key: keyof Counters): string => (delta(index, key) / Math.max(1, registrations)).toFixed(0);
  const cpu = order.map((index) => `${perRegistration(index, 'cpuUs')} (kernel ${perRegistration(index, 'systemCpuUs')}, main thread ${perRegistration(index, 'mainThreadCpuUs')})`);
  const leaderIndex = order[0] as number;
  const entries = delta(leaderIndex, 'entriesWritten');
  const perWrite = entries / Math.max(1, delta(leaderIndex, 'batchesWithEntries'));
  const perAppend = (entries * (members.length - 1)) / Math.max(1, delta(leaderIndex, 'appendsWithEntriesSent'));
  const bytes = delta(leaderIndex, 'bytesSent') / Math.max(1, registrations);
  const emptyPerAppend = delta(leaderIndex, 'emptyAppendsSent') / Math.max(1, delta(leaderIndex, 'appendsWithEntriesSent'));
  const followerBatches = order.slice(1).map((index) => (delta(index, 'entriesWritten') / Math.max(1, delta(index, 'batchesWithEntries'))).toFixed(1));
  const readiesPerWrite = order.map((index) => (delta(index, 'readies') / Math.max(1, delta(index, 'batchesWithEntries'))).toFixed(1));
  return `CPU µs/registration: leader ${cpu[0]}, followers ${cpu.slice(1).join(', ')}; leader: ${perWrite.toFixed(1)} entries per synced write, ${perAppend.toFixed(1)} per append (and ${emptyPerAppend.toFixed(2)} appends without entries per one with), ${bytes.toFixed(0)} bytes sent per registration; followers: ${followerBatches.join(', ')} entries per write; Readies per write with entries: ${readiesPerWrite.join(', ')}`;
}

const us = (value: number): string => `${(value / 1_000).toFixed(2)} ms`;
const rate = (value: number): string => Math.round(value).toLocaleString('en');

/** The disk today, the floor under a Raft round (see _baseline.ts): alone, and three writers at once as the voters are. */
async function printDiskFloor(): Promise<void> {
  const alone = await syncedWrites(1, DISK_FLOOR_SECONDS);
  const three = await syncedWrites(3, DISK_FLOOR_SECONDS);
  const list = (values: number[], digits: number): string => values.map((value) => value.toFixed(digits)).join(', ');
  console.log(
    `floor today: synced classic-level batches of one 5 KB value (no fedctl): one writer ${list(alone.perSecond, 0)}/s (p50 ${list(alone.p50Ms, 2)} ms); ` +
      `three writers at once ${list(three.perSecond, 0)}/s each (p50 ${list(three.p50Ms, 2)} ms)`,
  );
}

export default async function (args: string[]): Promise<void> {
  const seconds = Number(args[0] ?? 3);
  const durationMs = Math.max(1, seconds) * 1_000;
  const root = mkdtempSync(join(tmpdir(), 'fedctl-registry-bench-'));
  const members: Member[] = [];
  try {
    if (!QUICK) await printDiskFloor();
    for (const short of ['r1', 'r2', 'r3']) {
      members.push({ name: `${short}@${HOST}`, port: await freePort(), dataDir: join(root, short), child: undefined, exited: undefined, admin: undefined, pending: new Map() });
    }
    const [first, ...others] = members as [Member, ...Member[]];
    await launch(first, []);
    await Promise.all(others.map((member) => launch(member, [`${HOST}:${first.port}`])));
    for (;;) {
      const status = await inside<{ voters: string[] }>(first, { cmd: 'status' });
      if (status.voters.length === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const leader = await leaderOf(members);
    const follower = members.find((member) => member !== leader) as Member;
    const leaderAddress = `${HOST}:${leader.port}`;
    console.log(`registry: 3 voters in 3 processes on ${HOST}, classic-level with sync; leader ${leader.name}; ${seconds} s per load run; load average ${loadavg().map((load) => load.toFixed(1)).join(' ')} on ${cpus().length} cores`);

    console.log('\nfrom inside the leader process (group.register / group.whereis):');
    for (const clients of QUICK ? [CONCURRENT_CLIENTS] : [1, CONCURRENT_CLIENTS]) {
      if (clients === CONCURRENT_CLIENTS) {
        // The same load first, shown but not the figure: for its first seconds each member's JIT
        // is still compiling the hot path (a follower runs its per-append code a few hundred
        // times a second), and that compiling takes CPU from the three members on two cores. The
        // figure is of warm members, as a group that has been running a while is.
        const warmup = await inside<{ perSecond: number; seconds: number[] }>(leader, { cmd: 'register', clients, durationMs: WARMUP_MS, prefix: 'warmup' });
        console.log(`  warm-up, ${clients} clients, not the figure: ${rate(warmup.perSecond)} regs/s over ${WARMUP_MS / 1_000} s (each second: ${warmup.seconds.map(rate).join(', ')})`);
      }
      const before = await counters(members);
      const result = await inside<{ count: number; perSecond: number; p50Us: number; p99Us: number; errors: number; cpuUsPerRegistration: number; seconds: number[] }>(leader, { cmd: 'register', clients, durationMs, prefix: `in-${clients}` });
      const after = await counters(members);
      console.log(
        `  register, ${String(clients).padStart(2)} client(s): ${rate(result.perSecond).padStart(7)} regs/s  p50 ${us(result.p50Us)}  p99 ${us(result.p99Us)}  errors ${result.errors}  leader CPU ${result.cpuUsPerRegistration.toFixed(0)} µs/registration`,
      );
      if (clients === CONCURRENT_CLIENTS) {
        console.log(`    each second: ${result.seconds.map(rate).join(', ')}`);
        console.log(`    ${costLine(members, leader, before, after, result.count)}`);
      }
    }
    if (QUICK) return;
    const local = await inside<{ nsPerOp: number; names: number }>(follower, { cmd: 'whereis_local', count: LOCAL_READS });
    console.log(`  whereis (local replica, on a follower, ${local.names} names): ${local.nsPerOp.toFixed(0)} ns/op`);
    for (const [where, member] of [['leader', leader], ['follower', follower]] as const) {
      const result = await inside<{ p50Us: number; p99Us: number }>(member, { cmd: 'whereis_linearizable', count: LINEARIZABLE_READS, name: 'in-1/0/0' });
      console.log(`  whereis linearizable on the ${where}: p50 ${us(result.p50Us)}  p99 ${us(result.p99Us)}`);
    }

    console.log('\nthrough the admin protocol (a hidden client node → the admin process → group):');
    const single = await adminRegisterLoad(leaderAddress, 1, 1, durationMs, 'adm-1');
    console.log(`  register,  1 client:  ${rate(single.perSecond).padStart(7)} regs/s  p50 ${us(single.p50Us)}  p99 ${us(single.p99Us)}  errors ${single.errors}`);
    const before = await counters(members);
    const many = await adminRegisterLoad(leaderAddress, CONCURRENT_CLIENTS, ADMIN_CONNECTIONS, durationMs, 'adm-64');
    const after = await counters(members);
    console.log(`  register, ${CONCURRENT_CLIENTS} clients (${ADMIN_CONNECTIONS} connections): ${rate(many.perSecond).padStart(7)} regs/s  p50 ${us(many.p50Us)}  p99 ${us(many.p99Us)}  errors ${many.errors}`);
    console.log(`    ${costLine(members, leader, before, after, many.count)}`);
    const linearizable = await adminLinearizable(follower.admin!, 'adm-1/0/0', LINEARIZABLE_READS);
    console.log(`  whereis linearizable on a follower: p50 ${us(linearizable.p50Us)}  p99 ${us(linearizable.p99Us)}`);

    console.log('\nleader kill -9 → first successful registration on a survivor (default timeouts: tick 50 ms, election 10 ticks):');
    for (let round = 1; round <= KILL_ROUNDS; round++) {
      const { victim, resumeMs } = await leaderGoneRound(members, round, 'kill');
      console.log(`  round ${round}: killed ${victim}; writes resumed after ${resumeMs.toFixed(0)} ms`);
    }
    console.log('leader stopped cleanly (as SIGTERM stops fedctl start: it hands its leadership over first) → first successful registration on a survivor:');
    for (let round = 1; round <= KILL_ROUNDS; round++) {
      const { victim, resumeMs } = await leaderGoneRound(members, round, 'stop');
      console.log(`  round ${round}: stopped ${victim}; writes resumed after ${resumeMs.toFixed(0)} ms`);
    }
  } finally {
    for (const member of members) await stop(member);
    rmSync(root, { recursive: true, force: true });
  }
}
