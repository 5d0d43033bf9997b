/**
 * Figures about a history that are reported, not checked: counts per function and outcome, and
 * latencies of completed operations. (Local-read staleness is the checker's
 * `measureLocalReadStaleness`.) Pure functions.
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

export function operationsOf(events: readonly HistoryEvent[]): Operation[] {
  return pairOperations(events);
}
