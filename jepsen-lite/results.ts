/**
 * results.json: the facts of a run for machines — the verdict and each checker's, counts per
 * function and outcome, latency and local-read staleness, the fault windows, the nodes and
 * their pids, the seed and the command to re-run. report.html shows the same facts.
 *
 * Checkers: linearizability, lost registrations, acknowledged commits (every acknowledged write
 * is in its group's committed history at its revision), recovery (the groups — and a
 * federation's directory — were healthy again after the final heal), singletons (when fedctl
 * runs them; otherwise "not-run" with the reason — said so, never counted as a pass). The run's
 * verdict combines those that ran. The registry's own removals (from its watch) are counted by
 * reason; a removal on a node no fault touched around that time is counted apart (allowed — a
 * loaded node can miss heartbeats — but worth a look; a federation's `released` deletes, whose
 * cause the node does not say, are not counted there).
 */
import { type OutcomeCounts, type LatencySummary, countOutcomes, summarizeLatency } from './analysis.js';
import { type StalenessReport, type Verdict, combineVerdicts, measureLocalReadStalenessOfOperations } from './checker/index.js';
import type { Cluster } from './cluster.js';
import { type Operation, pairOperations } from './history.js';
import type { FaultWindow } from './nemesis.js';
import type { RunOptions } from './options.js';
import type { Executed, SingletonOutcome } from './run.js';
import { Pid } from '../runtime/index.js';

export interface FaultSummary {
  readonly index: number;
  readonly kind: string;
  readonly description: string;
  /** In a federation: the group hurt. */
  readonly group?: string;
  readonly nodes: readonly string[];
  readonly startMs: number;
  readonly endMs: number | null;
  readonly leaderBefore: string | null;
  /** Pauses of the leader: the leader agreed on after the resume (null: none in time). */
  readonly leaderAfter?: string | null;
  readonly problems: readonly string[];
}

export type SingletonResults =
  | {
      readonly verdict: Verdict;
      readonly keys: readonly string[];
      readonly instances: number;
      readonly violations: readonly string[];
      readonly fencedOverlaps: number;
      readonly fencedOverlapMsMax: number;
      /** Per key: ms from the final heal to the start of the instance running at the check (0: it ran through). */
      readonly recoveryMs: Readonly<Record<string, number | null>>;
      /** Instances whose node was SIGSTOPped while they ran: what they did after the SIGCONT. */
      readonly paused: readonly {
        readonly key: string;
        readonly node: string;
        readonly token: number;
        readonly pausedMs: number;
        readonly resumedMs: number | null;
        readonly superseded: boolean;
        readonly outlivedLease: boolean;
        readonly mustStop: boolean;
        /** How it ended: stop (with the node's reason), kill, or still running. */
        readonly ended: string;
        readonly endedAfterResumeMs: number | null;
      }[];
    }
  | { readonly verdict: 'not-run'; readonly reason: string };

export interface RunResults {
  readonly verdict: Verdict;
  readonly seed: number;
  readonly rerun: string;
  readonly startedAt: string;
  readonly options: Omit<RunOptions, 'fedctlCommand'>;
  readonly checkers: {
    readonly linearizability: {
      readonly verdict: Verdict;
      readonly namesChecked: number;
      readonly operationsChecked: number;
      readonly failures: readonly { readonly name: string; readonly explanation: readonly string[] }[];
      readonly unknownNames: readonly string[];
    };
    readonly lostRegistrations: {
      readonly verdict: Verdict;
      readonly namesChecked: number;
      readonly lost: readonly string[];
      readonly excused: { readonly removed: number; readonly ambiguous: number };
    };
    readonly acknowledgedCommits: {
      readonly verdict: Verdict;
      readonly checked: number;
      readonly confirmed: number;
      readonly unanswered: number;
      readonly undetermined: readonly string[];
      readonly uncommitted: readonly string[];
    };
    readonly recovery: { readonly verdict: Verdict; readonly healthyAfterHeal: boolean };
    readonly singletons: SingletonResults;
  };
  readonly operations: {
    readonly client: number;
    readonly finalReads: number;
    readonly counts: OutcomeCounts;
    readonly latency: LatencySummary;
    readonly localReadStaleness: StalenessReport;
  };
  readonly names: { readonly used: number; readonly finalReads: number; readonly owners: number };
  /** What the registry removed by itself, as its watch reported. */
  readonly registry: {
    /** Whether the watch saw every change up to the leader's commit after the final reads. */
    readonly complete: boolean;
    readonly removals: number;
    readonly removalsByReason: Readonly<Record<string, number>>;
    /** Removals of names held on a node that no fault window touched within the down-grace of the removal being seen (a node that left: any time after its leave). */
    readonly removalsWithoutFault: number;
  };
  /** A federation's groups: id, nodes, slots before the workload and after the final heal (null: one group). */
  readonly federation: {
    readonly groups: readonly { readonly id: string; readonly root: boolean; readonly nodes: readonly string[] }[];
    readonly slotsBefore: Readonly<Record<string, number>> | null;
    readonly slotsAfter: Readonly<Record<string, number>> | null;
  } | null;
  readonly faults: readonly FaultSummary[];
  readonly timing: { readonly workloadStartMs: number; readonly workloadEndMs: number; readonly finalHealMs: number };
  readonly nodes: Readonly<Record<string, { readonly pids: readonly number[]; readonly log: string }>>;
  readonly notes: readonly string[];
}

const ms = (ns: number): number => Math.round(ns / 1e5) / 10;

/**
 * A fault "touched" a node for this long after its window closed, for `removalsWithoutFault`:
 * a removal is proposed once the leader has missed the node for the down-grace, and seen by the
 * watch some time after it commits.
 */
const FAULT_REACH_AFTER_MS = 10_000;

function singletonResults(outcome: SingletonOutcome): SingletonResults {
  if (!outcome.ran) return { verdict: 'not-run', reason: outcome.reason };
  const { report } = outcome;
  return {
    verdict: report.verdict,
    keys: outcome.keys,
    instances: report.instances.length,
    violations: report.violations.map((violation) => `${violation.kind}: ${violation.message}`),
    fencedOverlaps: report.fencedOverlaps,
    fencedOverlapMsMax: ms(report.fencedOverlapNsMax),
    recoveryMs: Object.fromEntries(Object.entries(report.recoveryNs).map(([key, ns]) => [key, ns === null ? null : ms(ns)])),
    paused: report.pausedInstances.map((paused) => ({
      key: paused.instance.key,
      node: paused.instance.node,
      token: paused.instance.token,
      pausedMs: ms(paused.pausedAt),
      resumedMs: Number.isFinite(paused.resumedAt) ? ms(paused.resumedAt) : null,
      superseded: paused.superseded,
      outlivedLease: paused.outlivedLease,
      mustStop: paused.mustStop,
      ended: paused.instance.endedBy === 'stop' ? `stop (${paused.instance.stopReason ?? 'no reason given'})` : paused.instance.endedBy,
      endedAfterResumeMs: paused.endedAfterResumeNs === null ? null : ms(paused.endedAfterResumeNs),
    })),
  };
}

function nodeOf(pid: string): string | undefined {
  try {
    return Pid.parse(pid).node;
  } catch {
    return undefined;
  }
}

/** Whether a fault window reached `node` at `timeNs`: from its start to its end and a while after; a leave's, for the rest of the run. */
function touched(windows: readonly FaultWindow[], node: string, timeNs: number): boolean {
  return windows.some((window) => {
    if (!window.nodes.includes(node) || timeNs < window.startNs) return false;
    const reachEndNs = window.leaves === true || window.endNs === null ? Infinity : window.endNs + FAULT_REACH_AFTER_MS * 1e6;
    return timeNs <= reachEndNs;
  });
}

/**
 * The removals (`released` ones aside: a federated node does not say why) of names held on a
 * node no fault window reached when the watch saw them (`touched`). A node the harness made
 * leave loses its names as expected, whenever the group gets to them: not counted.
 */
export function countRemovalsWithoutFault(removals: readonly Operation[], windows: readonly FaultWindow[]): number {
  let count = 0;
  for (const removal of removals) {
    const reason = removal.removal?.reason ?? 'unknown';
    const node = nodeOf(removal.input ?? '');
    if (reason !== 'released' && (node === undefined || !touched(windows, node, removal.completeTime ?? 0))) count++;
  }
  return count;
}

export function resultsOf(options: RunOptions, executed: Executed & { readonly singletons: SingletonOutcome }, cluster: Cluster, rerun: string): RunResults {
  const { recorder, linearizability, lostRegistrations } = executed;
  const operations = pairOperations(recorder.events);
  const clientOperations = operations.filter((operation) => (recorder.processClient.get(operation.process) ?? -1) >= 0);
  const recovery: Verdict = executed.healthyAfterHeal ? 'pass' : 'fail';
  const singletons = singletonResults(executed.singletons);
  const { acknowledged } = executed;
  const verdict = combineVerdicts([linearizability.verdict, lostRegistrations.verdict, acknowledged.verdict, recovery, ...(singletons.verdict === 'not-run' ? [] : [singletons.verdict])]);
  const removalsByReason: Record<string, number> = {};
  for (const removal of executed.removals) {
    const reason = removal.removal?.reason ?? 'unknown';
    removalsByReason[reason] = (removalsByReason[reason] ?? 0) + 1;
  }
  const removalsWithoutFault = countRemovalsWithoutFault(executed.removals, executed.nemesis.windows);
  const { fedctlCommand: _command, ...shownOptions } = options;
  const pids = cluster.pids();
  const logs = cluster.logPaths();
  return {
    verdict,
    seed: options.seed,
    rerun,
    startedAt: recorder.clock.startedAt.toISOString(),
    options: shownOptions,
    checkers: {
      linearizability: {
        verdict: linearizability.verdict,
        namesChecked: linearizability.namesChecked,
        operationsChecked: linearizability.operationsChecked,
        failures: linearizability.failures.map((failure) => ({ name: failure.name, explanation: failure.explanation })),
        unknownNames: linearizability.unknownNames,
      },
      lostRegistrations: {
        verdict: lostRegistrations.verdict,
        namesChecked: lostRegistrations.namesChecked,
        lost: lostRegistrations.lost.map((lost) => lost.message),
        excused: lostRegistrations.excused,
      },
      acknowledgedCommits: {
        verdict: acknowledged.verdict,
        checked: acknowledged.checked,
        confirmed: acknowledged.confirmed,
        unanswered: acknowledged.unanswered,
        undetermined: acknowledged.undetermined,
        uncommitted: acknowledged.uncommitted.map((write) => write.message),
      },
      recovery: { verdict: recovery, healthyAfterHeal: executed.healthyAfterHeal },
      singletons,
    },
    operations: {
      client: clientOperations.length,
      finalReads: operations.length - clientOperations.length,
      counts: countOutcomes(clientOperations),
      latency: summarizeLatency(clientOperations),
      localReadStaleness: measureLocalReadStalenessOfOperations(clientOperations, executed.removals),
    },
    names: { used: executed.namesUsed.length, finalReads: executed.finalReads.size, owners: executed.owners.length },
    registry: { complete: executed.registryComplete, removals: executed.removals.length, removalsByReason, removalsWithoutFault },
    federation:
      executed.groups.length > 1
        ? {
            groups: executed.groups.map((id, index) => ({ id, root: index === 0, nodes: cluster.nodes().filter((node) => cluster.groupOf(node) === id) })),
            slotsBefore: executed.slots?.before ?? null,
            slotsAfter: executed.slots?.after ?? null,
          }
        : null,
    faults: executed.nemesis.windows.map((window) => ({
      index: window.index,
      kind: window.kind,
      description: window.description,
      ...(window.group !== undefined ? { group: window.group } : {}),
      nodes: window.nodes,
      startMs: ms(window.startNs),
      endMs: window.endNs === null ? null : ms(window.endNs),
      leaderBefore: window.leaderBefore,
      ...(window.leaderAfter !== undefined ? { leaderAfter: window.leaderAfter } : {}),
      problems: window.problems,
    })),
    timing: { workloadStartMs: ms(executed.workloadNs.start), workloadEndMs: ms(executed.workloadNs.end), finalHealMs: ms(executed.finalHealNs) },
    nodes: Object.fromEntries(Object.entries(pids).map(([name, list]) => [name, { pids: list, log: logs[name] ?? '' }])),
    notes: executed.checkNotes,
  };
}
