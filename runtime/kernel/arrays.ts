/**
 * Array helpers for lists of any length. `target.push(...items)` and `Math.max(...items)` pass
 * every item as a call argument: past about a hundred thousand of them V8 throws "Maximum call
 * stack size exceeded" (a registry state machine that did so, releasing the names of one busy
 * pid, stopped every member applying that entry). These loop instead.
 */

/** Append every item of `items` to `target`, in order; returns `target`. */
export function appendAll<T>(target: T[], items: Iterable<T>): T[] {
  for (const item of items) target.push(item);
  return target;
}

/** The largest of `values`, or `empty` when there is none. */
export function maxOf(values: Iterable<number>, empty: number): number {
  let max = -Infinity;
  let any = false;
  for (const value of values) {
    any = true;
    if (value > max) max = value;
  }
  return any ? max : empty;
}

/** The smallest of `values`, or `empty` when there is none. */
export function minOf(values: Iterable<number>, empty: number): number {
  let min = Infinity;
  let any = false;
  for (const value of values) {
    any = true;
    if (value < min) min = value;
  }
  return any ? min : empty;
}

/**
 * The first index in [`low`, `items.length`) whose item `isBefore` rejects, for items that
 * `isBefore` accepts up to some point and rejects after it (a sorted list): binary search.
 */
export function partitionPoint<T>(items: ArrayLike<T>, low: number, isBefore: (item: T) => boolean): number {
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (isBefore(items[middle] as T)) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Forget the oldest keys of `map` (a Map or Set: insertion order is age) until at most `keep`
 * are left: the bound of a cache or a memory of recent keys.
 */
export function keepNewest<K>(map: { readonly size: number; keys(): IterableIterator<K>; delete(key: K): boolean }, keep: number): void {
  while (map.size > keep) map.delete(map.keys().next().value as K);
}
