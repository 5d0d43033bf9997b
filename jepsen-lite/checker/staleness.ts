/**
 * How stale the local (`whereis_local`) reads were. They are allowed to be stale, so this never
 * fails a run: it measures, for the report.
 *
 * Reference timeline per name: the acknowledged writes that changed the holder ("ok" register →
 * the owner, "ok" unregister → free) and the registry's own removals (removals.ts: the name is
 * free once the watch saw it go, and may be from the bound before it), ordered by completion.
 * Without the removals, a read of a name its holder's node lost was counted stale by the time
 * since the holder's register (seconds: the down-grace and more). A local read that returned v,
 * invoked at time i, is
 * - fresh if v is the holder after the last such write completed before i, or v is written by a
 *   write overlapping the read (it may have been the holder during the read);
 * - stale otherwise, if v was the holder earlier: its staleness is i minus the completion of the
 *   write that replaced v (a lower bound: v was gone by then at the latest);
 * - unexplained if no acknowledged write ever made v the holder (nor v = free at the start) —
 *   possible with info writes, counted apart.
 * Times are the history's nanoseconds.
 */
import { pairOperations, type HistoryEvent, type Operation } from '../history.js';

export interface StalenessReport {
  readonly localReads: number;
  readonly stale: number;
  readonly unexplained: number;
  /** Largest staleness seen, in ns (0 if none was stale). */
  readonly staleNsMax: number;
  /** Median and 99th percentile of the staleness of stale reads, in ns (0 if none). */
  readonly staleNsP50: number;
  readonly staleNsP99: number;
}

interface Write {
  readonly holder: string | null;
  readonly invokeTime: number;
  readonly completeTime: number;
}

export function measureLocalReadStaleness(events: readonly HistoryEvent[]): StalenessReport {
  return measureLocalReadStalenessOfOperations(pairOperations(events));
}

/** `removals`: the registry's own removals (removals.ts `removalOperations`), as many as are known. */
export function measureLocalReadStalenessOfOperations(operations: readonly Operation[], removals: readonly Operation[] = []): StalenessReport {
  const writesByName = acknowledgedWrites([...operations, ...removals]);
  const staleness: number[] = [];
  let localReads = 0;
  let unexplained = 0;
  for (const read of operations) {
    if (read.f !== 'whereis_local' || read.type !== 'ok') continue;
    localReads++;
    const result = stalenessOf(read, writesByName.get(read.name) ?? []);
    if (result === undefined) unexplained++;
    else if (result > 0) staleness.push(result);
  }
  staleness.sort((a, b) => a - b);
  return {
    localReads,
    stale: staleness.length,
    unexplained,
    staleNsMax: staleness.at(-1) ?? 0,
    staleNsP50: percentile(staleness, 0.5),
    staleNsP99: percentile(staleness, 0.99),
  };
}

function acknowledgedWrites(operations: readonly Operation[]): Map<string, Write[]> {
  const byName = new Map<string, Write[]>();
  for (const operation of operations) {
    if (operation.type !== 'ok' || operation.output !== 'ok') continue;
    if (operation.f !== 'register' && operation.f !== 'unregister') continue;
    const list = byName.get(operation.name) ?? [];
    list.push({
      holder: operation.f === 'register' ? operation.input : null,
      invokeTime: operation.invokeTime,
      completeTime: operation.completeTime as number,
    });
    byName.set(operation.name, list);
  }
  for (const list of byName.values()) list.sort((a, b) => a.completeTime - b.completeTime);
  return byName;
}

/** 0 if fresh, the staleness in ns if stale, undefined if unexplained. */
function stalenessOf(read: Operation, writes: readonly Write[]): number | undefined {
  const value = read.output as string | null;
  const readEnd = read.completeTime as number;
  if (writes.some((write) => write.holder === value && write.invokeTime <= readEnd && write.completeTime >= read.invokeTime)) return 0;
  const before = writes.filter((write) => write.completeTime < read.invokeTime);
  const current = before.length === 0 ? null : (before[before.length - 1] as Write).holder;
  if (current === value) return 0;
  // The newest write before the read that made `value` the holder, and the write that replaced it.
  for (let index = before.length - 1; index >= -1; index--) {
    const holder = index === -1 ? null : (before[index] as Write).holder;
    if (holder !== value) continue;
    const replacedBy = before.slice(index + 1).find((write) => write.holder !== value) as Write;
    return Math.max(0, read.invokeTime - replacedBy.completeTime);
  }
  return undefined;
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] as number;
}
