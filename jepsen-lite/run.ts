/**
 * `runTest`: one jepsen-lite run, start to finish. In order: create the run directory and its
 * cookie; start the cluster (cluster.ts) and wait until it is healthy; run the workload
 * (workload.ts) and the nemesis (nemesis.ts) side by side for `timeSeconds`; heal everything;
 * wait for the group to be healthy and settle; read every name used with a linearizable
 * whereis (recorded in the history too); run the checkers; stop every process; write
 * results.json and report.html.
 *
 * Contract: whatever happens, every process the run started is stopped before `runTest`
 * settles (an error after the cluster started still stops it). The verdict is 'pass' only if
 * every checker that ran passed; `exitCode` is 0 for a pass, 1 otherwise.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connectAdmin } from '../cli/admin-client.js';
import { fedError } from '../runtime/index.js';
import {
  type LinearizabilityReport,
  type LostRegistrationReport,
  type Verdict,
  checkLinearizable,
  checkLostRegistrations,
  formatLinearizabilityFailure,
} from './checker/index.js';
import { Cluster, defaultFedctlCommand, sleep } from './cluster.js';
import { JsonLinesWriter } from './history.js';
import { Nemesis } from './nemesis.js';
import { type RunOptions, expandNemeses, rerunCommand, validateRunOptions } from './options.js';
import { writeReport } from './report.js';
import { type RunResults, resultsOf } from './results.js';
import { makeSchedule } from './schedule.js';
import { Client, NameRotation, Owners, RateLimiter, Recorder, RunClock, perform } from './workload.js';

export const CLUSTER_HEALTHY_TIMEOUT_MS = 60_000;
export const FINAL_HEALTHY_TIMEOUT_MS = 30_000;
const FINAL_READ_ATTEMPTS_MAX = 10;
const FINAL_READ_RETRY_MS = 500;
const PROGRESS_TTY_MS = 1_000;
const PROGRESS_LINE_MS = 5_000;
const GROUP_ID = 'jepsen';

export interface RunIo {
  /** One line of log (default: stderr). */
  readonly log?: (line: string) => void;
  /** The progress line (default: stderr, redrawn in place on a terminal). */
  readonly progress?: (line: string, final: boolean) => void;
}

export interface RunOutcome {
  readonly verdict: Verdict;
  readonly exitCode: number;
  readonly outDir: string;
  readonly results: RunResults;
}

export async function runTest(input: RunOptions, io: RunIo = {}): Promise<RunOutcome> {
  const options = validateRunOptions({ ...input, outDir: resolve(input.outDir) });
  const log = io.log ?? ((line: string) => process.stderr.write(`jepsen-lite: ${line}\n`));
  prepareOutDir(options.outDir);
  const cookie = randomBytes(24).toString('base64url');
  const cookieFile = join(options.outDir, 'cookie');
  writeFileSync(cookieFile, `${cookie}\n`, { mode: 0o600 });
  const fedctl = defaultFedctlCommand();
  const clock = new RunClock();
  log(`run directory ${options.outDir}, seed ${options.seed}`);
  log(`starting ${options.nodes} nodes`);
  const cluster = await Cluster.start(
    {
      outDir: options.outDir,
      nodes: options.nodes,
      cookie,
      cookieFile,
      group: GROUP_ID,
      fedctlCommand: options.fedctlCommand ?? fedctl.command,
      tickMs: options.tickMs,
      unsafe: options.unsafe,
      log,
    },
    fedctl.cwd,
  );
  try {
    if (!(await cluster.waitHealthy(CLUSTER_HEALTHY_TIMEOUT_MS))) {
      throw fedError('unavailable', `the cluster did not become healthy in ${CLUSTER_HEALTHY_TIMEOUT_MS} ms (see ${join(options.outDir, 'nodes')})`);
    }
    log(`cluster healthy, leader ${await cluster.leader()}`);
    const progress = options.progress ? (io.progress ?? defaultProgress()) : () => undefined;
    const executed = await execute(options, cluster, cookie, clock, log, progress);
    await cluster.stop();
    const results = resultsOf(options, executed, cluster, rerunCommand(options));
    writeFileSync(join(options.outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeReport(join(options.outDir, 'report.html'), results, executed);
    return { verdict: results.verdict, exitCode: results.verdict === 'pass' ? 0 : 1, outDir: options.outDir, results };
  } finally {
    await cluster.stop();
  }
}

function prepareOutDir(outDir: string): void {
  if (existsSync(outDir) && readdirSync(outDir).length > 0) {
    throw fedError('config', `--out ${outDir} is not empty; give a fresh directory for each run`);
  }
  mkdirSync(outDir, { recursive: true });
}

/** Everything a run observed, for results.json and the report. */
export interface Executed {
  readonly recorder: Recorder;
  readonly nemesis: Nemesis;
  readonly owners: Owners;
  readonly namesUsed: readonly string[];
  readonly finalReads: ReadonlyMap<string, string | null>;
  readonly healthyAfterHeal: boolean;
  readonly workloadNs: { start: number; end: number };
  readonly finalHealNs: number;
  readonly linearizability: LinearizabilityReport;
  readonly lostRegistrations: LostRegistrationReport;
  readonly checkNotes: string[];
}

async function execute(
  options: RunOptions,
  cluster: Cluster,
  cookie: string,
  clock: RunClock,
  log: (line: string) => void,
  progress: (line: string, final: boolean) => void,
): Promise<Executed> {
  const recorder = new Recorder(join(options.outDir, 'history.jsonl'), clock);
  // fedctl has no singletons yet: nothing reports to singletons.jsonl, which stays empty.
  await JsonLinesWriter.singletons(join(options.outDir, 'singletons.jsonl')).close();
  const owners = new Owners(recorder);
  const names = new NameRotation(options.opsPerName);
  const counts = { invoke: 0, ok: 0, fail: 0, info: 0 };
  const context = {
    recorder,
    owners,
    limiter: new RateLimiter(options.ratePerSecond),
    names,
    cookie,
    operationTimeoutMs: options.operationTimeoutMs,
    running: () => cluster.running().map((name) => ({ name, address: cluster.addressOf(name) })),
    counts,
  };
  const nemesis = new Nemesis(cluster, {
    faultStart: (nodes, why, ownersDie) => owners.faultStart(nodes, why, ownersDie),
    faultSettled: () => owners.faultSettled(),
    nowNs: () => clock.nowNs(),
    log,
  });
  const { kinds, shapes } = expandNemeses(options.nemesis);
  const timeMs = options.timeSeconds * 1000;
  const schedule = makeSchedule(options.seed, kinds, shapes, timeMs, options.nemesisIntervalSeconds * 1000);
  writeFileSync(join(options.outDir, 'schedule.json'), `${JSON.stringify(schedule, null, 2)}\n`);
  const clients = Array.from({ length: options.concurrency }, (_, index) => new Client(index, Math.floor(index / options.clientsPerName), options.seed, context));
  const startMs = performance.now();
  const workloadStart = clock.nowNs();
  const deadlineMs = startMs + timeMs;
  const stopNemesis = new AbortController();
  const stopClients = new AbortController();
  const progressTimer = setInterval(
    () => progress(progressLine(performance.now() - startMs, counts, nemesis.current()), false),
    process.stderr.isTTY ? PROGRESS_TTY_MS : PROGRESS_LINE_MS,
  );
  const deadlineTimer = setTimeout(() => stopNemesis.abort(), timeMs);
  let workloadEnd = 0;
  try {
    await Promise.all([
      nemesis.run(schedule, startMs, stopNemesis.signal),
      Promise.all(clients.map((client) => client.run(deadlineMs, stopClients.signal))).then(() => {
        workloadEnd = clock.nowNs();
      }),
    ]);
  } finally {
    clearTimeout(deadlineTimer);
    clearInterval(progressTimer);
    stopClients.abort();
  }
  progress(progressLine(performance.now() - startMs, counts, 'healing'), true);
  await nemesis.healAll();
  const finalHealNs = clock.nowNs();
  log('healed; waiting for the group to be healthy');
  const healthyAfterHeal = await cluster.waitHealthy(FINAL_HEALTHY_TIMEOUT_MS);
  if (!healthyAfterHeal) log(`the group was not healthy ${FINAL_HEALTHY_TIMEOUT_MS} ms after the final heal`);
  nemesis.finish();
  await sleep(options.settleSeconds * 1000);
  const namesUsed = [...names.used].sort();
  log(`final linearizable reads of ${namesUsed.length} names`);
  const finalReads = await finalRead(cluster, cookie, recorder, namesUsed, options.operationTimeoutMs);
  await recorder.close();
  log('checking');
  const events = recorder.events;
  const checkNotes: string[] = [];
  const linearizability = checkLinearizable(events);
  const lostRegistrations = checkLostRegistrations(events, { finalReads, deadOwners: owners.deadOwners() });
  for (const failure of linearizability.failures) checkNotes.push(formatLinearizabilityFailure(failure));
  for (const lost of lostRegistrations.lost) checkNotes.push(lost.message);
  if (!healthyAfterHeal) checkNotes.push(`the group was not healthy within ${FINAL_HEALTHY_TIMEOUT_MS} ms of the final heal`);
  return {
    recorder,
    nemesis,
    owners,
    namesUsed,
    finalReads,
    healthyAfterHeal,
    workloadNs: { start: workloadStart, end: workloadEnd || clock.nowNs() },
    finalHealNs,
    linearizability,
    lostRegistrations,
    checkNotes,
  };
}

/** A linearizable whereis of each name, retried on other nodes until it answers. Recorded in the history. */
async function finalRead(cluster: Cluster, cookie: string, recorder: Recorder, names: readonly string[], timeoutMs: number): Promise<Map<string, string | null>> {
  const reads = new Map<string, string | null>();
  let process = recorder.newProcess();
  for (const name of names) {
    for (let attempt = 0; attempt < FINAL_READ_ATTEMPTS_MAX; attempt++) {
      const running = cluster.running();
      const node = running[attempt % Math.max(1, running.length)];
      if (node === undefined) break;
      let connection;
      try {
        connection = await connectAdmin(cluster.addressOf(node), cookie, timeoutMs);
      } catch {
        await sleep(FINAL_READ_RETRY_MS);
        continue;
      }
      try {
        recorder.record(process, 'invoke', 'whereis', name, null);
        const outcome = await perform(connection, 'whereis', name, '', timeoutMs);
        recorder.record(process, outcome.type, 'whereis', name, outcome.value);
        if (outcome.type === 'ok') {
          reads.set(name, outcome.value as string | null);
          break;
        }
        if (outcome.type === 'info') process = recorder.newProcess();
      } finally {
        await connection.close();
      }
      await sleep(FINAL_READ_RETRY_MS);
    }
  }
  return reads;
}

function progressLine(elapsedMs: number, counts: Record<'invoke' | 'ok' | 'fail' | 'info', number>, fault: string): string {
  const seconds = (elapsedMs / 1000).toFixed(1).padStart(6);
  return `[${seconds}s] ops ${counts.invoke} (ok ${counts.ok}, fail ${counts.fail}, info ${counts.info}) | fault: ${fault}`;
}

function defaultProgress(): (line: string, final: boolean) => void {
  if (process.stderr.isTTY) {
    return (line, final) => process.stderr.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
  }
  return (line) => process.stderr.write(`${line}\n`);
}
