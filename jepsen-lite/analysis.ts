/**
 * Figures about a history that are reported, not checked: counts per function and outcome,
 * latencies, and how stale the local (stale-allowed) reads were.
 *
 * Staleness of a `whereis_local` read: it is "fresh" when it returned the state that the latest
 * acknowledged operation of its name completed before the read's invoke showed (a register ok
 * shows its owner, an ok unregister shows free, {taken: h} and {not_owner: h} show h, an ok
 * linearizable read shows its value). Otherwise it is stale by (its invoke) − (the completion
 * of the latest acknowledged operation that showed the value it returned), or "unexplained"
 * when no earlier acknowledged operation showed that value. Pure functions.
 */
import { type HistoryEvent, type Operation, pairOperations } from './history.js';

export interface OutcomeCounts {
  readonly [f: string]: { ok: number; fail: number; info: number; pending: number };
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

export interface StalenessSummary {
  readonly localReads: number;
  readonly fresh: number;
  readonly stale: number;
  readonly unexplained: number;
  readonly staleMsMax: number | null;
  readonly staleMsP50: number | null;
}

export function countOutcomes(operations: readonly Operation[]): OutcomeCounts {
  const counts: Record<string, { ok: number; fail: number; info: number; pending: number }> = {};
  for (const operation of operations) {
    const entry = (counts[operation.f] ??= { ok: 0, fail: 0, info: 0, pending: 0 });
    entry[operation.type]++;
  }
  return counts;
}

function percentile(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] as number;
}

export function summarizeLatency(operations: readonly Operation[]): LatencySummary {
  const latencies = operations
    .filter((operation) => operation.completeTime !== null && operation.type !== 'info')
    .map((operation) => ((operation.completeTime as number) - operation.invokeTime) / 1e6)
    .sort((a, b) => a - b);
  return { count: latencies.length, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), maxMs: latencies[latencies.length - 1] ?? null };
}

/** The state an acknowledged operation shows, or undefined if it shows none. */
function shownState(operation: Operation): string | null | undefined {
  if (operation.type !== 'ok') return undefined;
  const output = operation.output as unknown;
  switch (operation.f) {
    case 'register':
      return output === 'ok' ? operation.input : (output as { taken: string }).taken;
    case 'unregister':
      return output === 'ok' ? null : (output as { not_owner: string | null }).not_owner;
    case 'whereis':
      return output as string | null;
    default:
      return undefined;
  }
}

export function summarizeStaleness(operations: readonly Operation[]): StalenessSummary {
  const byName = new Map<string, Operation[]>();
  for (const operation of operations) {
    const list = byName.get(operation.name) ?? [];
    list.push(operation);
    byName.set(operation.name, list);
  }
  let localReads = 0;
  let fresh = 0;
  let unexplained = 0;
  const staleMs: number[] = [];
  for (const list of byName.values()) {
    const witnesses = list
      .filter((operation) => shownState(operation) !== undefined)
      .sort((a, b) => (a.completeTime as number) - (b.completeTime as number));
    for (const read of list) {
      if (read.f !== 'whereis_local' || read.type !== 'ok') continue;
      localReads++;
      const before = witnesses.filter((witness) => (witness.completeTime as number) < read.invokeTime);
      const latest = before[before.length - 1];
      const current = latest === undefined ? null : shownState(latest);
      if (current === read.output) {
        fresh++;
        continue;
      }
      const source = [...before].reverse().find((witness) => shownState(witness) === read.output);
      if (source === undefined) unexplained++;
      else staleMs.push((read.invokeTime - (source.completeTime as number)) / 1e6);
    }
  }
  staleMs.sort((a, b) => a - b);
  return {
    localReads,
    fresh,
    stale: staleMs.length,
    unexplained,
    staleMsMax: staleMs[staleMs.length - 1] ?? null,
    staleMsP50: percentile(staleMs, 0.5),
  };
}

export function operationsOf(events: readonly HistoryEvent[]): Operation[] {
  return pairOperations(events);
}
