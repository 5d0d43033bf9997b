/**
 * Failure reports of the simulator: shrink a failing seed to a smaller run that fails the same
 * way, and print it.
 *
 * Minimization (`minimizeFailure`). A run is a pure function of its seed and options, so we
 * re-run the seed with parts of its schedule suppressed and keep each suppression after which
 * the run still fails the same way (the same invariant for a safety failure, the same kind of
 * failure otherwise) with no more trace events than the best run so far. Each tick draws its
 * randomness afresh (`beginTick` in the cluster and the workload), so leaving out one action
 * changes the rest of the run only through what that action did. Two passes:
 *   1. whole kinds, one at a time: message loss and duplication, crashes inside driver cycles,
 *      the core's BUGGIFY sites, then transfers, snapshots, reads, membership changes,
 *      partitions, crashes, proposals;
 *   2. then single workload actions, by delta debugging (ddmin: try dropping halves, then
 *      quarters, ... down to one action at a time),
 * within `MINIMIZE_TRIALS_MAX` re-runs. The result is a run in its own right, replayed exactly
 * by `npm run sim -- --seed S --suppress SPEC`; it is 1-minimal (no single remaining action can
 * be dropped) only if ddmin finished within the budget, and the report says which.
 *
 * The report prints a short run whole; of a longer one, the events that involve the members the
 * violation names plus the events of the whole cluster (partitions, phases); it says how many
 * events it left out.
 */
import type { NodeId } from '../index.js';
import type { TraceEvent } from './cluster.js';
import {
  CLUSTER_FAULT_KINDS,
  type SeedOptions,
  type SeedResult,
  type SuppressibleKind,
  type Suppression,
  WORKLOAD_KINDS,
  runSeed,
} from './run.js';

/** Re-runs one minimization may spend (a re-run takes milliseconds). */
export const MINIMIZE_TRIALS_MAX = 400;
/** A run with at most this many events is printed whole; a longer one only where it matters. */
export const TRACE_WHOLE_EVENTS_MAX = 200;
/** Trace lines a report prints at most (the newest of the selected events). */
export const TRACE_PRINT_LINES_MAX = 400;

/** Kinds tried in this order: faults that rarely matter first, the workload's core last. */
const KIND_ORDER: readonly SuppressibleKind[] = [
  ...CLUSTER_FAULT_KINDS,
  'transfer',
  'snapshot',
  'read',
  'conf_change',
  'partition',
  'crash',
  'propose',
];

export interface Minimized {
  /** The smallest failing run found, and the options that replay it exactly. */
  readonly result: SeedResult;
  readonly options: SeedOptions;
  /** Workload actions the original failing run carried out. */
  readonly actionsBefore: number;
  /** Re-runs spent (at most the budget). */
  readonly trials: number;
  /** ddmin finished: no single remaining action can be suppressed. */
  readonly oneMinimal: boolean;
}

/** Do two runs fail the same way? */
export function sameFailure(a: SeedResult, b: SeedResult): boolean {
  if (a.failure === null || a.failure !== b.failure || a.invariant !== b.invariant) return false;
  if (a.failure !== 'error') return true;
  return errorName(a) === errorName(b);
}

function eventCount(result: SeedResult): number {
  return result.trace.length + result.traceDropped;
}

function errorName(result: SeedResult): string {
  return (result.reason ?? '').split(':')[0] ?? '';
}

export function minimizeFailure(original: SeedResult, options: SeedOptions = {}, trialsMax = MINIMIZE_TRIALS_MAX): Minimized {
  if (original.failure === null) throw new Error('minimizeFailure: the run did not fail');
  let suppress: Suppression = options.suppress ?? { kinds: [], keep: null };
  let best = original;
  let trials = 0;
  // A candidate must fail the same way with no more events, by the tick the best run failed.
  const attempt = (candidate: Suppression): SeedResult | null => {
    trials++;
    const result = runSeed(original.seed, { ...options, suppress: candidate, ticksMax: best.ticks + 1 });
    return sameFailure(original, result) && eventCount(result) <= eventCount(best) ? result : null;
  };
  for (const kind of KIND_ORDER) {
    if (trials >= trialsMax) break;
    if (suppress.kinds.includes(kind)) continue;
    const candidate = { kinds: [...suppress.kinds, kind], keep: suppress.keep };
    const result = attempt(candidate);
    if (result !== null) {
      suppress = candidate;
      best = result;
    }
  }
  let granularity = 2;
  let oneMinimal = false;
  while (trials < trialsMax) {
    const kept = best.actions;
    if (kept.length === 0) {
      oneMinimal = true;
      break;
    }
    const chunkSize = Math.ceil(kept.length / Math.min(granularity, kept.length));
    let reduced = false;
    let triedAll = true;
    for (let start = 0; start < kept.length; start += chunkSize) {
      if (trials >= trialsMax) {
        triedAll = false;
        break;
      }
      const candidate = { kinds: suppress.kinds, keep: [...kept.slice(0, start), ...kept.slice(start + chunkSize)] };
      const result = attempt(candidate);
      if (result !== null) {
        suppress = candidate;
        best = result;
        granularity = Math.max(granularity - 1, 2);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    if (chunkSize === 1) {
      oneMinimal = triedAll;
      break;
    }
    granularity *= 2;
  }
  return { result: best, options: { ...options, suppress }, actionsBefore: original.actions.length, trials, oneMinimal };
}

/**
 * `kinds=network,read;keep=101-103,2501` (the `--suppress` argument of `npm run sim`): leave out
 * those kinds, and every action not kept (no `keep`: keep all).
 */
export function formatSuppression(suppress: Suppression): string {
  const kinds = `kinds=${suppress.kinds.join(',')}`;
  if (suppress.keep === null) return kinds;
  const ranges: string[] = [];
  const actions = [...suppress.keep].sort((a, b) => a - b);
  for (let k = 0; k < actions.length; ) {
    let end = k;
    while (end + 1 < actions.length && (actions[end + 1] as number) === (actions[end] as number) + 1) end++;
    ranges.push(end === k ? `${actions[k]}` : `${actions[k]}-${actions[end]}`);
    k = end + 1;
  }
  return `${kinds};keep=${ranges.join(',')}`;
}

const KNOWN_KINDS: ReadonlySet<string> = new Set<string>([...WORKLOAD_KINDS, ...CLUSTER_FAULT_KINDS]);

export function parseSuppression(spec: string): Suppression {
  const kinds: SuppressibleKind[] = [];
  let keep: number[] | null = null;
  for (const part of spec.split(';')) {
    const [key, value = ''] = part.split('=');
    const items = value.split(',').filter((item) => item.length > 0);
    if (key === 'kinds') {
      for (const kind of items) {
        if (!KNOWN_KINDS.has(kind)) throw new Error(`--suppress: unknown kind ${kind}`);
        kinds.push(kind as SuppressibleKind);
      }
    } else if (key === 'keep') {
      keep = [];
      for (const item of items) {
        const [low, high = low] = item.split('-').map(Number);
        if (!Number.isInteger(low) || !Number.isInteger(high) || (low as number) > (high as number)) {
          throw new Error(`--suppress: bad action range ${item}`);
        }
        for (let action = low as number; action <= (high as number); action++) keep.push(action);
      }
    } else if (part.length > 0) {
      throw new Error(`--suppress: expected kinds=… or keep=…, got ${part}`);
    }
  }
  return { kinds, keep };
}

function simCommand(seed: number, options: SeedOptions): string {
  const parts = [`npm run sim -- --seed ${seed}`];
  if (options.size !== undefined) parts.push(`--size ${options.size}`);
  const suppress = options.suppress;
  if (suppress !== undefined && (suppress.kinds.length > 0 || suppress.keep !== null)) {
    parts.push(`--suppress '${formatSuppression(suppress)}'`);
  }
  if (options.bugs !== undefined && Object.keys(options.bugs).length > 0) parts.push(`(with test-only bugs ${JSON.stringify(options.bugs)})`);
  return parts.join(' ');
}

/** The events worth reading: those of the members involved, and those of the whole cluster. */
export function involvedEvents(trace: readonly TraceEvent[], nodes: readonly NodeId[]): TraceEvent[] {
  if (nodes.length === 0) return [...trace];
  const involved = new Set(nodes);
  return trace.filter((event) => event.nodes.length === 0 || event.nodes.some((node) => involved.has(node)));
}

export function formatEvent(event: TraceEvent): string {
  return `t=${event.tick} ${event.text}`;
}

/** A failure report: seed, reason, how to replay it, and the events that matter. */
export function formatFailure(result: SeedResult, options: SeedOptions = {}, minimized: Minimized | null = null): string {
  const kind = result.invariant !== null ? `${result.failure}, ${result.invariant}` : `${result.failure}`;
  const lines = [`seed ${result.seed} FAILED (${kind}): ${result.reason}`, `replay: ${simCommand(result.seed, options)}`];
  let shown = result;
  let label = 'the run';
  if (minimized !== null) {
    shown = minimized.result;
    label = 'the minimized run';
    const kinds = minimized.options.suppress?.kinds ?? [];
    lines.push(
      `minimized in ${minimized.trials} re-runs: ${eventCount(shown)} events (the original run: ${eventCount(result)}), ` +
        `${shown.actions.length} of ${minimized.actionsBefore} workload actions kept` +
        `${kinds.length > 0 ? `, suppressed kinds: ${kinds.join(', ')}` : ''}; ` +
        (minimized.oneMinimal ? 'no single remaining action can be dropped' : 'trial budget spent before reaching a 1-minimal run'),
      `the minimized run fails at t=${shown.ticks}: ${shown.reason}`,
      `replay it: ${simCommand(shown.seed, minimized.options)}`,
    );
  }
  const whole = shown.trace.length <= TRACE_WHOLE_EVENTS_MAX || shown.nodes.length === 0;
  const selected = whole ? [...shown.trace] : involvedEvents(shown.trace, shown.nodes);
  const printed = selected.slice(Math.max(0, selected.length - TRACE_PRINT_LINES_MAX));
  const who = whole ? 'all' : `involving ${[...new Set(shown.nodes)].join(', ')} (and the whole cluster)`;
  const omitted =
    (printed.length < selected.length ? `; only the last ${printed.length} printed` : '') +
    (shown.traceDropped > 0 ? `; the run's first ${shown.traceDropped} events were not kept` : '');
  lines.push(`events of ${label} ${who}: ${selected.length} of ${shown.trace.length + shown.traceDropped}${omitted}`);
  for (const event of printed) lines.push(`  ${formatEvent(event)}`);
  return lines.join('\n');
}
