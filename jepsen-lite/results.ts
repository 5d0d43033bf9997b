/**
 * results.json: the facts of a run for machines — the verdict and each checker's, counts per
 * function and outcome, latency and local-read staleness, the fault windows, the nodes and
 * their pids, the seed and the command to re-run. report.html shows the same facts.
 *
 * Checkers: linearizability, lost registrations, recovery (the group was healthy again after
 * the final heal), singletons (not run: fedctl has no singletons yet — said so, never counted
 * as a pass). The run's verdict combines those that ran.
 */
import { type OutcomeCounts, type LatencySummary, countOutcomes, summarizeLatency } from './analysis.js';
import { type StalenessReport, type Verdict, combineVerdicts, measureLocalReadStalenessOfOperations } from './checker/index.js';
import type { Cluster } from './cluster.js';
import { pairOperations } from './history.js';
import type { RunOptions } from './options.js';
import type { Executed } from './run.js';

export interface FaultSummary {
  readonly index: number;
  readonly kind: string;
  readonly description: string;
  readonly nodes: readonly string[];
  readonly startMs: number;
  readonly endMs: number | null;
  readonly problems: readonly string[];
}

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
      readonly excused: { readonly deadOwner: number; readonly ambiguous: number };
    };
    readonly recovery: { readonly verdict: Verdict; readonly healthyAfterHeal: boolean };
    readonly singletons: { readonly verdict: 'not-run'; readonly reason: string };
  };
  readonly operations: {
    readonly client: number;
    readonly ownerLoss: number;
    readonly finalReads: number;
    readonly counts: OutcomeCounts;
    readonly latency: LatencySummary;
    readonly localReadStaleness: StalenessReport;
  };
  readonly names: { readonly used: number; readonly finalReads: number; readonly owners: number; readonly deadOwners: number };
  readonly faults: readonly FaultSummary[];
  readonly timing: { readonly workloadStartMs: number; readonly workloadEndMs: number; readonly finalHealMs: number };
  readonly nodes: Readonly<Record<string, { readonly pids: readonly number[]; readonly log: string }>>;
  readonly notes: readonly string[];
}

const ms = (ns: number): number => Math.round(ns / 1e5) / 10;

export function resultsOf(options: RunOptions, executed: Executed, cluster: Cluster, rerun: string): RunResults {
  const { recorder, linearizability, lostRegistrations } = executed;
  const operations = pairOperations(recorder.events);
  const clientOperations = operations.filter((operation) => (recorder.processClient.get(operation.process) ?? -1) >= 0);
  const ownerLoss = operations.filter((operation) => recorder.ownerLossProcesses.has(operation.process)).length;
  const recovery: Verdict = executed.healthyAfterHeal ? 'pass' : 'fail';
  const verdict = combineVerdicts([linearizability.verdict, lostRegistrations.verdict, recovery]);
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
      recovery: { verdict: recovery, healthyAfterHeal: executed.healthyAfterHeal },
      singletons: { verdict: 'not-run', reason: 'fedctl has no singletons yet: nothing reports to singletons.jsonl' },
    },
    operations: {
      client: clientOperations.length,
      ownerLoss,
      finalReads: operations.length - clientOperations.length - ownerLoss,
      counts: countOutcomes(clientOperations),
      latency: summarizeLatency(clientOperations),
      localReadStaleness: measureLocalReadStalenessOfOperations(clientOperations),
    },
    names: { used: executed.namesUsed.length, finalReads: executed.finalReads.size, owners: executed.owners.count(), deadOwners: executed.owners.deadOwners().length },
    faults: executed.nemesis.windows.map((window) => ({
      index: window.index,
      kind: window.kind,
      description: window.description,
      nodes: window.nodes,
      startMs: ms(window.startNs),
      endMs: window.endNs === null ? null : ms(window.endNs),
      problems: window.problems,
    })),
    timing: { workloadStartMs: ms(executed.workloadNs.start), workloadEndMs: ms(executed.workloadNs.end), finalHealMs: ms(executed.finalHealNs) },
    nodes: Object.fromEntries(Object.entries(pids).map(([name, list]) => [name, { pids: list, log: logs[name] ?? '' }])),
    notes: executed.checkNotes,
  };
}
