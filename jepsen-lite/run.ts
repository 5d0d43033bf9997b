/**
 * `runTest`: one jepsen-lite run, start to finish. In order: create the run directory and its
 * cookie; see whether fedctl runs singletons; start the cluster (cluster.ts) and wait until it
 * is healthy; start the registry watch (registry-events.ts); run the workload (workload.ts) and
 * the nemesis (nemesis.ts) side by side for `timeSeconds`; heal everything; wait for the group
 * to be healthy and settle; read every name used with a linearizable whereis (recorded in the
 * history too); let the watch catch up with the leader; stop every process; run the checkers;
 * write results.json and report.html.
 *
 * Contract: whatever happens, every process the run started is stopped before `runTest`
 * settles (an error after the cluster started still stops it, and the nemesis and the clients
 * are both stopped and awaited before the cluster is). The verdict is 'pass' only if every
 * checker that ran passed; `exitCode` is 0 for a pass, 1 otherwise.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connectAdmin } from '../cli/admin-client.js';
import { fedError } from '../runtime/index.js';
import {
  type LinearizabilityReport,
  type LostRegistrationReport,
  type SingletonReport,
  type Verdict,
  checkLinearizable,
  checkLostRegistrations,
  checkSingletons,
  formatLinearizabilityFailure,
  formatSingletonViolations,
  removalOperations,
} from './checker/index.js';
import { Cluster, defaultFedctlCommand, sleep } from './cluster.js';
import { JsonLinesWriter, type Operation, type SingletonEvent, pairOperations } from './history.js';
import { Nemesis } from './nemesis.js';
import { type RunOptions, expandNemeses, rerunCommand, validateRunOptions } from './options.js';
import { RegistryWatcher } from './registry-events.js';
import { writeReport } from './report.js';
import { type RunResults, resultsOf } from './results.js';
import { makeSchedule } from './schedule.js';
import { SINGLETON_LOG_FILE, detectSingletonSupport, mergeSingletonLogs, readSingletonLogs, singletonKeys, singletonStartArgs } from './singletons.js';
import { Client, NAME_PREFIX, NameRotation, RateLimiter, Recorder, RunClock, perform } from './workload.js';

export const CLUSTER_HEALTHY_TIMEOUT_MS = 60_000;
export const FINAL_HEALTHY_TIMEOUT_MS = 30_000;
/** How long the registry watch may take to catch up with the leader after the final reads. */
export const WATCH_DRAIN_TIMEOUT_MS = 15_000;
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

/** The singleton checker's outcome: run, or not run and why. */
export type SingletonOutcome = { readonly ran: true; readonly keys: readonly string[]; readonly report: SingletonReport } | { readonly ran: false; readonly reason: string };

export async function runTest(input: RunOptions, io: RunIo = {}): Promise<RunOutcome> {
  const options = validateRunOptions({ ...input, outDir: resolve(input.outDir) });
  const log = io.log ?? ((line: string) => process.stderr.write(`jepsen-lite: ${line}\n`));
  prepareOutDir(options.outDir);
  const cookie = randomBytes(24).toString('base64url');
  const cookieFile = join(options.outDir, 'cookie');
  writeFileSync(cookieFile, `${cookie}\n`, { mode: 0o600 });
  const fedctl = defaultFedctlCommand();
  const fedctlCommand = options.fedctlCommand ?? fedctl.command;
  const clock = new RunClock();
  log(`run directory ${options.outDir}, seed ${options.seed}`);
  const keys = options.singletonKeys > 0 && (await detectSingletonSupport(fedctlCommand, fedctl.cwd)) ? singletonKeys(options.singletonKeys) : [];
  const singletonsOff =
    options.singletonKeys === 0 ? 'no singleton keys (--singletons 0)' : 'fedctl start has no --singleton/--singleton-log flags (looked for in fedctl start --help)';
  log(`starting ${options.nodes} nodes${keys.length > 0 ? ` with ${keys.length} singletons` : ''}`);
  const cluster = await Cluster.start(
    {
      outDir: options.outDir,
      nodes: options.nodes,
      cookie,
      cookieFile,
      group: GROUP_ID,
      fedctlCommand,
      tickMs: options.tickMs,
      unsafe: options.unsafe,
      nowNs: () => clock.nowNs(),
      ...(keys.length > 0 ? { extraArgs: ({ dir }: { dir: string }) => singletonStartArgs(keys, join(dir, SINGLETON_LOG_FILE)) } : {}),
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
    const singletons = keys.length > 0 ? await checkSingletonRun(options, cluster, clock, keys, executed) : ({ ran: false, reason: singletonsOff } as const);
    if (!singletons.ran) await JsonLinesWriter.singletons(join(options.outDir, 'singletons.jsonl')).close();
    const results = resultsOf(options, { ...executed, singletons }, cluster, rerunCommand(options));
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
  /** Holders the clients spawned (owner pids), in order. */
  readonly owners: readonly string[];
  /** The registry's own removals, placed among the history's lines (checker/removals.ts). */
  readonly removals: readonly Operation[];
  /** Whether the registry watch saw every change (no gap) up to the leader's commit after the final reads. */
  readonly registryComplete: boolean;
  readonly namesUsed: readonly string[];
  readonly finalReads: ReadonlyMap<string, string | null>;
  readonly healthyAfterHeal: boolean;
  readonly workloadNs: { start: number; end: number };
  readonly finalHealNs: number;
  /** When the settle time after the final heal ended. */
  readonly settledNs: number;
  /** When the run was done with the cluster (final reads read, watch drained): every singleton key must run then. */
  readonly doneNs: number;
  readonly linearizability: LinearizabilityReport;
  readonly lostRegistrations: LostRegistrationReport;
  readonly checkNotes: string[];
}

/**
 * Runs the nemesis and the clients side by side; the nemesis is told to stop after `timeMs`
 * (the clients stop by their own deadline). It settles only when both have settled: if either
 * throws, the other is told to stop at once and awaited, and then the first error is thrown —
 * so nothing of the workload phase still runs when the caller stops the cluster.
 */
export async function runSideBySide(nemesis: (signal: AbortSignal) => Promise<void>, clients: (signal: AbortSignal) => Promise<void>, timeMs: number): Promise<void> {
  const stopNemesis = new AbortController();
  const stopClients = new AbortController();
  const stopBoth = (): void => {
    stopNemesis.abort();
    stopClients.abort();
  };
  const deadlineTimer = setTimeout(() => stopNemesis.abort(), timeMs);
  const stopOthersOnError = (promise: Promise<void>): Promise<void> =>
    promise.catch((error: unknown) => {
      stopBoth();
      throw error;
    });
  try {
    const settled = await Promise.allSettled([stopOthersOnError(nemesis(stopNemesis.signal)), stopOthersOnError(clients(stopClients.signal))]);
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  } finally {
    clearTimeout(deadlineTimer);
    stopBoth();
  }
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
  const running = (): { name: string; address: string }[] => cluster.running().map((name) => ({ name, address: cluster.addressOf(name) }));
  const names = new NameRotation(options.opsPerName);
  const watcher = new RegistryWatcher({ path: join(options.outDir, 'registry-events.jsonl'), cookie, prefix: NAME_PREFIX, names: () => names.used, running, nowNs: () => clock.nowNs(), log });
  watcher.start();
  const counts = { invoke: 0, ok: 0, fail: 0, info: 0 };
  const context = {
    recorder,
    limiter: new RateLimiter(options.ratePerSecond),
    names,
    cookie,
    operationTimeoutMs: options.operationTimeoutMs,
    running,
    counts,
  };
  const nemesis = new Nemesis(cluster, { nowNs: () => clock.nowNs(), log });
  const { kinds, shapes } = expandNemeses(options.nemesis, options.nodes);
  const timeMs = options.timeSeconds * 1000;
  const schedule = makeSchedule(options.seed, kinds, shapes, timeMs, options.nemesisIntervalSeconds * 1000);
  writeFileSync(join(options.outDir, 'schedule.json'), `${JSON.stringify(schedule, null, 2)}\n`);
  const clients = Array.from({ length: options.concurrency }, (_, index) => new Client(index, Math.floor(index / options.clientsPerName), options.seed, context));
  let finalReads: Map<string, string | null>;
  let workloadStart = 0;
  let workloadEnd = 0;
  let finalHealNs = 0;
  let settledNs = 0;
  let doneNs = 0;
  let healthyAfterHeal = false;
  let unhealthyViews = '';
  let registryComplete = false;
  try {
    const startMs = performance.now();
    workloadStart = clock.nowNs();
    const progressTimer = setInterval(
      () => progress(progressLine(performance.now() - startMs, counts, nemesis.current()), false),
      process.stderr.isTTY ? PROGRESS_TTY_MS : PROGRESS_LINE_MS,
    );
    try {
      await runSideBySide(
        (signal) => nemesis.run(schedule, startMs, signal),
        async (signal) => {
          await Promise.all(clients.map((client) => client.run(startMs + timeMs, signal)));
          workloadEnd = clock.nowNs();
        },
        timeMs,
      );
    } finally {
      clearInterval(progressTimer);
    }
    progress(progressLine(performance.now() - startMs, counts, 'healing'), true);
    await nemesis.healAll();
    finalHealNs = clock.nowNs();
    log('healed; waiting for the group to be healthy');
    healthyAfterHeal = await cluster.waitHealthy(FINAL_HEALTHY_TIMEOUT_MS);
    if (!healthyAfterHeal) unhealthyViews = await cluster.describeViews();
    if (!healthyAfterHeal) log(`the group was not healthy ${FINAL_HEALTHY_TIMEOUT_MS} ms after the final heal: ${unhealthyViews}`);
    await sleep(options.settleSeconds * 1000);
    settledNs = clock.nowNs();
    const namesUsed = [...names.used].sort();
    log(`final linearizable reads of ${namesUsed.length} names`);
    finalReads = await finalRead(cluster, cookie, recorder, namesUsed, options.operationTimeoutMs);
    const target = await committedRevision(cluster);
    registryComplete = target !== null && (await watcher.drain(target, WATCH_DRAIN_TIMEOUT_MS)) && watcher.complete;
    if (!registryComplete) log(`the registry watch did not see every change (up to revision ${target ?? 'unknown'}; it has ${watcher.coveredRevision})`);
    doneNs = clock.nowNs();
  } finally {
    await watcher.stop();
    await recorder.close();
  }
  log('checking');
  const events = recorder.events;
  const removals = removalOperations(events, pairOperations(events), watcher.events);
  const checkNotes: string[] = [];
  let linearizability = checkLinearizable(events, { removals });
  let lostRegistrations = checkLostRegistrations(events, { finalReads, removals });
  for (const failure of linearizability.failures) checkNotes.push(formatLinearizabilityFailure(failure));
  for (const lost of lostRegistrations.lost) checkNotes.push(lost.message);
  if (!registryComplete) {
    // Changes the watch missed can only be removals it does not know of: a failure may be one
    // of those, so it cannot be told from a real anomaly. Not a pass either way.
    if (linearizability.verdict === 'fail') linearizability = { ...linearizability, verdict: 'unknown' };
    if (lostRegistrations.verdict === 'fail') lostRegistrations = { ...lostRegistrations, verdict: 'unknown' };
    checkNotes.push('the registry watch missed changes: failures above may be removals it did not see (verdict unknown)');
  }
  if (!healthyAfterHeal) checkNotes.push(`the group was not healthy within ${FINAL_HEALTHY_TIMEOUT_MS} ms of the final heal (${unhealthyViews})`);
  return {
    recorder,
    nemesis,
    owners: clients.flatMap((client) => client.owners),
    removals,
    registryComplete,
    namesUsed: [...names.used].sort(),
    finalReads,
    healthyAfterHeal,
    workloadNs: { start: workloadStart, end: workloadEnd || clock.nowNs() },
    finalHealNs,
    settledNs,
    doneNs,
    linearizability,
    lostRegistrations,
    checkNotes,
  };
}

/** The leader's commit index (every change the final reads could see is at or below it), or null if no node answers. */
async function committedRevision(cluster: Cluster): Promise<number | null> {
  const leader = await cluster.leader();
  for (const node of leader === null ? cluster.running() : [leader, ...cluster.running()]) {
    try {
      const status = (await cluster.request(node, { op: 'status' })) as { commit: number };
      return status.commit;
    } catch {
      // Try the next one.
    }
  }
  return null;
}

/**
 * Merges the nodes' singleton logs into singletons.jsonl and checks them, with the kills the
 * cluster made (instances on a SIGKILLed node end there: it writes no stop line). Runs after
 * the cluster stopped, when the logs are complete. A bad log line makes the verdict unknown.
 */
export async function checkSingletonRun(
  options: Pick<RunOptions, 'outDir'>,
  cluster: Pick<Cluster, 'nodes' | 'dirOf' | 'kills'>,
  clock: { readonly startedAt: Date },
  keys: readonly string[],
  executed: Pick<Executed, 'finalHealNs' | 'doneNs' | 'checkNotes'>,
): Promise<SingletonOutcome> {
  const logs = readSingletonLogs(cluster.nodes().map((node) => join(cluster.dirOf(node), SINGLETON_LOG_FILE)));
  let events: SingletonEvent[];
  try {
    events = mergeSingletonLogs(logs, clock.startedAt.getTime());
  } catch (error) {
    executed.checkNotes.push(`singleton logs: ${(error as Error).message}`);
    return { ran: true, keys, report: { verdict: 'unknown', keysSeen: 0, instances: [], violations: [], recoveryNs: {}, fencedOverlaps: 0, fencedOverlapNsMax: 0 } };
  }
  const writer = JsonLinesWriter.singletons(join(options.outDir, 'singletons.jsonl'));
  for (const event of events) writer.append(event);
  await writer.close();
  const report = checkSingletons(events, {
    expectedKeys: keys,
    finalHealTime: executed.finalHealNs,
    checkTime: Math.max(executed.doneNs, executed.finalHealNs),
    nodeKills: cluster.kills().map((kill) => ({ node: kill.node, time: kill.timeNs })),
  });
  if (report.verdict !== 'pass') executed.checkNotes.push(formatSingletonViolations(report));
  return { ran: true, keys, report };
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

export function progressLine(elapsedMs: number, counts: Record<'invoke' | 'ok' | 'fail' | 'info', number>, fault: string): string {
  const seconds = (elapsedMs / 1000).toFixed(1).padStart(6);
  return `[${seconds}s] ops ${counts.invoke} (ok ${counts.ok}, fail ${counts.fail}, info ${counts.info}) | fault: ${fault}`;
}

function defaultProgress(): (line: string, final: boolean) => void {
  if (process.stderr.isTTY) {
    return (line, final) => process.stderr.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
  }
  return (line) => process.stderr.write(`${line}\n`);
}
