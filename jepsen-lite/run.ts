/**
 * `runTest`: one jepsen-lite run, start to finish. In order: create the run directory and its
 * cookie; see whether fedctl runs singletons; start the cluster (cluster.ts) and wait until it
 * is healthy — in a federation (`groups` above 1) every group, then the directory, then spread
 * the hash slots over the groups; start the registry watch (registry-events.ts; one per group:
 * revisions are per group); run the workload (workload.ts) and the nemesis (nemesis.ts) side by
 * side for `timeSeconds`; heal everything; wait for the groups to be healthy and settle; read
 * every name used with a linearizable whereis (recorded in the history too); let each watch
 * catch up with its group's leader; stop every process; run the checkers; write results.json
 * and report.html.
 *
 * A federation's namespace answers an unregister of a free name "ok" (federation.ts documents
 * it: "a free name is fine"), a group's registry `not_owner`: the checkers take the model of
 * the namespace the run used. A name's home group is its slot's owner; the slots must not move
 * during the run (the runner spreads them before the workload) — if they did, a name's changes
 * would be split over two groups' revisions, and the registry checkers say unknown.
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
import type { GroupRow } from '../cli/admin-protocol.js';
import { SINGLETON_DEFAULTS } from '../registry/index.js';
import { fedError } from '../runtime/index.js';
import {
  type AcknowledgedReport,
  type CommittedHistory,
  type LinearizabilityReport,
  type LostRegistrationReport,
  type SingletonReport,
  type Verdict,
  checkAcknowledgedCommits,
  checkLinearizable,
  checkLostRegistrations,
  checkSingletons,
  formatLinearizabilityFailure,
  formatSingletonViolations,
  labelAcknowledgedUnregisters,
  removalOperations,
  withHomeGroups,
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
/** How long the groups of a federation may take to be healthy again once the slots were spread. */
const REBALANCED_HEALTHY_TIMEOUT_MS = 30_000;

/** The group ids of a run: one group, or a federation of `g1` (the root) … `gN`. */
export function groupIds(groups: number): string[] {
  return groups > 1 ? Array.from({ length: groups }, (_, index) => `g${index + 1}`) : [GROUP_ID];
}

/** Where a group's registry watch writes: registry-events.jsonl, or one file per group in a federation. */
export function registryEventsFile(group: string, federated: boolean): string {
  return federated ? `registry-events-${group}.jsonl` : 'registry-events.jsonl';
}

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
  const groups = groupIds(options.groups);
  const federated = groups.length > 1;
  const runsSingletons = options.singletonKeys > 0 && (await detectSingletonSupport(fedctlCommand, fedctl.cwd));
  const keysOf = (group: string): string[] => (runsSingletons ? singletonKeys(options.singletonKeys, federated ? group : undefined) : []);
  const keys = groups.flatMap(keysOf);
  const singletonsOff =
    options.singletonKeys === 0 ? 'no singleton keys (--singletons 0)' : 'fedctl start has no --singleton/--singleton-log flags (looked for in fedctl start --help)';
  log(`starting ${options.nodes} nodes${federated ? ` in ${groups.length} groups` : ''}${keys.length > 0 ? ` with ${keys.length} singletons` : ''}`);
  const cluster = await Cluster.start(
    {
      outDir: options.outDir,
      nodes: options.nodes,
      cookie,
      cookieFile,
      groups,
      fedctlCommand,
      tickMs: options.tickMs,
      unsafe: options.unsafe,
      nowNs: () => clock.nowNs(),
      ...(keys.length > 0 ? { extraArgs: ({ dir, group }: { dir: string; group: string }) => singletonStartArgs(keysOf(group), join(dir, SINGLETON_LOG_FILE)) } : {}),
      log,
    },
    fedctl.cwd,
  );
  try {
    if (!(await cluster.waitHealthy(CLUSTER_HEALTHY_TIMEOUT_MS, { slots: false }))) {
      throw fedError('unavailable', `the cluster did not become healthy in ${CLUSTER_HEALTHY_TIMEOUT_MS} ms (${await cluster.describeViews()}; see ${join(options.outDir, 'nodes')})`);
    }
    if (federated) {
      const slots = await cluster.rebalance();
      log(`federation of ${groups.length} groups; slots ${Object.entries(slots).map(([group, count]) => `${group} ${count}`).join(', ')}`);
      if (!(await cluster.waitHealthy(REBALANCED_HEALTHY_TIMEOUT_MS))) {
        throw fedError('unavailable', `the federation was not healthy ${REBALANCED_HEALTHY_TIMEOUT_MS} ms after its slots were spread (${await cluster.describeViews()})`);
      }
    }
    log(`cluster healthy, ${federated ? `leaders ${(await Promise.all(groups.map(async (group) => `${group} ${await cluster.leader(group)}`))).join(', ')}` : `leader ${await cluster.leader()}`}`);
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
  readonly acknowledged: AcknowledgedReport;
  /** The group ids (a federation's root first). */
  readonly groups: readonly string[];
  /** In a federation: the slots per group before the workload and after the final heal (null when not read). */
  readonly slots: { readonly before: Readonly<Record<string, number>> | null; readonly after: Readonly<Record<string, number>> | null } | null;
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
  const running = (group?: string): { name: string; address: string }[] => cluster.running(group).map((name) => ({ name, address: cluster.addressOf(name) }));
  const names = new NameRotation(options.opsPerName);
  const groups = cluster.groups();
  const federated = cluster.federated;
  // A federated member's feed starts with its process: the watch checks a restarted one before it reads it.
  const incarnation = (node: string): number => cluster.incarnation(node);
  const watchers = new Map(
    groups.map((group) => [
      group,
      new RegistryWatcher({
        path: join(options.outDir, registryEventsFile(group, federated)),
        cookie,
        prefix: NAME_PREFIX,
        names: () => names.used,
        running: () => running(group),
        nowNs: () => clock.nowNs(),
        log: (line) => log(federated ? `${group}: ${line}` : line),
        ...(federated ? { federated: true, incarnation, members: () => cluster.members(group) } : {}),
      }),
    ]),
  );
  for (const watcher of watchers.values()) watcher.start();
  const slotsBefore = federated ? slotsOf(await cluster.federationRows()) : null;
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
  const { kinds, shapes } = expandNemeses(options.nemesis, Math.min(...groups.map((group) => cluster.members(group).length)), groups.length);
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
  /** Per group, its commit index read after the final reads (they saw no change above it). */
  const finalRevisions = new Map<string, number>();
  let slotsAfter: Record<string, number> | null = null;
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
    log(`healed; waiting for the ${federated ? 'groups and the federation' : 'group'} to be healthy`);
    healthyAfterHeal = await cluster.waitHealthy(FINAL_HEALTHY_TIMEOUT_MS);
    if (!healthyAfterHeal) unhealthyViews = await cluster.describeViews();
    if (!healthyAfterHeal) log(`the cluster was not healthy ${FINAL_HEALTHY_TIMEOUT_MS} ms after the final heal: ${unhealthyViews}`);
    await sleep(options.settleSeconds * 1000);
    settledNs = clock.nowNs();
    if (federated) slotsAfter = slotsOf(await cluster.federationRows());
    const namesUsed = [...names.used].sort();
    log(`final linearizable reads of ${namesUsed.length} names`);
    finalReads = await finalRead(cluster, cookie, recorder, namesUsed, options.operationTimeoutMs);
    const drained = await Promise.all(
      groups.map(async (group) => {
        const watcher = watchers.get(group) as RegistryWatcher;
        const target = await committedRevision(cluster, group);
        if (target !== null) finalRevisions.set(group, target);
        const complete = target !== null && (await watcher.drain(target, WATCH_DRAIN_TIMEOUT_MS)) && watcher.complete;
        if (!complete) {
          const why = watcher.complete ? `it covered only up to revision ${watcher.coveredRevision}` : 'it recorded gaps: changes it could not see';
          log(`${federated ? `${group}: ` : ''}the registry watch did not see every change up to revision ${target ?? 'unknown'} (${why})`);
        }
        return complete;
      }),
    );
    registryComplete = drained.every(Boolean);
    doneNs = clock.nowNs();
  } finally {
    for (const watcher of watchers.values()) await watcher.stop();
    await recorder.close();
  }
  log('checking');
  const events = recorder.events;
  const watched = new Map<string, CommittedHistory>(
    groups.map((group) => {
      const finalRevision = finalRevisions.get(group);
      return [group, { ...(watchers.get(group) as RegistryWatcher).history(), ...(finalRevision !== undefined ? { finalRevision } : {}) }];
    }),
  );
  // Writes whose answer did not name the group are given the name's home group (checker/acknowledged.ts).
  const operations = withHomeGroups(pairOperations(events), watched);
  const histories = new Map<string, CommittedHistory>(
    [...watched].map(([group, history]) => [group, federated ? { ...history, events: labelAcknowledgedUnregisters(history.events, operations, group) } : history]),
  );
  const removals = [...histories.values()].flatMap((history) => removalOperations(events, operations, history.events));
  const unregisterFree = federated ? 'ok' : 'not_owner';
  const checkNotes: string[] = [];
  let linearizability = checkLinearizable(events, { removals, unregisterFree });
  let lostRegistrations = checkLostRegistrations(events, { finalReads, removals });
  const acknowledged = checkAcknowledgedCommits(operations, { groups: histories, unregisterFree, finalReads });
  for (const failure of linearizability.failures) checkNotes.push(formatLinearizabilityFailure(failure));
  for (const lost of lostRegistrations.lost) checkNotes.push(lost.message);
  for (const uncommitted of acknowledged.uncommitted) checkNotes.push(uncommitted.message);
  if (acknowledged.verdict === 'unknown') checkNotes.push(`acknowledged writes the registry watch cannot decide: ${acknowledged.undetermined.slice(0, 5).join('; ')}${acknowledged.undetermined.length > 5 ? ` (and ${acknowledged.undetermined.length - 5} more)` : ''}`);
  const unknownWhy: string[] = [];
  if (!registryComplete) unknownWhy.push('the registry watch missed changes: failures above may be removals it did not see');
  if (federated && JSON.stringify(slotsBefore) !== JSON.stringify(slotsAfter)) {
    unknownWhy.push(`the slots were not the same before the workload and after the final heal (${JSON.stringify(slotsBefore)} → ${JSON.stringify(slotsAfter)}): names may have moved between groups`);
  }
  if (unknownWhy.length > 0) {
    // Changes the watch missed can only be removals it does not know of: a failure may be one
    // of those, so it cannot be told from a real anomaly — unknown. A pass stands: a missed
    // removal only takes an excuse away. The acknowledged-commits checker needs no such rule:
    // it holds each write only to what the watch saw whole (beyond what it covered, in a gap,
    // or decided across one: undetermined).
    const failed = linearizability.verdict === 'fail' || lostRegistrations.verdict === 'fail';
    if (linearizability.verdict === 'fail') linearizability = { ...linearizability, verdict: 'unknown' };
    if (lostRegistrations.verdict === 'fail') lostRegistrations = { ...lostRegistrations, verdict: 'unknown' };
    for (const why of unknownWhy) checkNotes.push(`${why} (${failed ? 'verdict unknown' : 'nothing failed: the verdicts stand'})`);
  }
  if (!healthyAfterHeal) checkNotes.push(`the cluster was not healthy within ${FINAL_HEALTHY_TIMEOUT_MS} ms of the final heal (${unhealthyViews})`);
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
    acknowledged,
    groups,
    slots: federated ? { before: slotsBefore, after: slotsAfter } : null,
    checkNotes,
  };
}

/** Slots per group from the directory's rows (null if none answered). */
function slotsOf(rows: readonly GroupRow[] | null): Record<string, number> | null {
  if (rows === null) return null;
  return Object.fromEntries(rows.map((row) => [row.group, row.slots ?? 0]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
}

/** A group's leader's commit index (every change the final reads could see is at or below it), or null if no node answers. */
async function committedRevision(cluster: Cluster, group: string): Promise<number | null> {
  const leader = await cluster.leader(group);
  for (const node of leader === null ? cluster.running(group) : [leader, ...cluster.running(group)]) {
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
 * A paused owner has outlived any lease it held once it was paused this long: fedctl's singleton
 * lease plus the clock-drift budget its claimants wait on top (registry/singleton.ts; `fedctl
 * start` runs the defaults).
 */
export const SINGLETON_LEASE_NS = (SINGLETON_DEFAULTS.leaseMs + SINGLETON_DEFAULTS.clockDriftMs) * 1e6;

/**
 * Merges the nodes' singleton logs into singletons.jsonl and checks them, with the kills the
 * cluster made (instances on a SIGKILLed node end there: it writes no stop line) and its pauses
 * (a resumed owner must stop an instance it may no longer run). Runs after the cluster stopped,
 * when the logs are complete. A bad log line makes the verdict unknown.
 */
export async function checkSingletonRun(
  options: Pick<RunOptions, 'outDir'>,
  cluster: Pick<Cluster, 'nodes' | 'dirOf' | 'kills' | 'pauses'>,
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
    return { ran: true, keys, report: { verdict: 'unknown', keysSeen: 0, instances: [], violations: [], recoveryNs: {}, fencedOverlaps: 0, fencedOverlapNsMax: 0, pausedInstances: [] } };
  }
  const writer = JsonLinesWriter.singletons(join(options.outDir, 'singletons.jsonl'));
  for (const event of events) writer.append(event);
  await writer.close();
  const report = checkSingletons(events, {
    expectedKeys: keys,
    finalHealTime: executed.finalHealNs,
    checkTime: Math.max(executed.doneNs, executed.finalHealNs),
    nodeKills: cluster.kills().map((kill) => ({ node: kill.node, time: kill.timeNs })),
    nodePauses: cluster.pauses().map((pause) => ({ node: pause.node, from: pause.fromNs, to: pause.toNs ?? Infinity, alone: pause.alone })),
    leaseNs: SINGLETON_LEASE_NS,
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
