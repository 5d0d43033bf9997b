/**
 * `RaftStorage`: what the core reads at construction (restart), and `MemoryStorage`, the
 * in-memory implementation used by tests, the simulator and the benchmark.
 *
 * Contract (read side, used by `RaftNode`):
 * - All methods are synchronous. A disk-backed implementation loads (or mirrors) its state in
 *   memory when it opens; the core reads storage only in its constructor.
 * - `initialState()` is the last persisted hard state (`{term: 0, vote: null, commit: 0}` for a
 *   new member).
 * - `snapshot()` is the last persisted snapshot (index 0 and an empty configuration if none).
 * - The log holds the entries `firstIndex() .. lastIndex()`; `firstIndex() = snapshot index + 1`
 *   and `lastIndex() = firstIndex() - 1` when the log is empty. `term(i)` is defined for
 *   `snapshot index <= i <= lastIndex()`.
 *
 * Write side (used by the driver, in the order `Ready` documents):
 * - `installSnapshot(s)`: replace the log with nothing after `s`, keep `s`.
 * - `append(entries)`: entries are consecutive; the first may overwrite an existing index, which
 *   drops that entry and every later one first.
 * - `setHardState(hs)`.
 * - `compact(s)`: keep `s` as the snapshot and drop entries up to `s.meta.index`.
 * A durable implementation makes all of one `Ready`'s writes atomic and synced before the driver
 * sends that `Ready`'s messages.
 */
import { assert } from '../../runtime/kernel/assert.js';
import type { ConfState, Entry, HardState, Ready, Snapshot } from './types.js';

export interface RaftStorage {
  initialState(): HardState;
  snapshot(): Snapshot;
  firstIndex(): number;
  lastIndex(): number;
  /** Entries in `[low, high)`, stopping early once `bytesMax` is exceeded (at least one entry). */
  entries(low: number, high: number, bytesMax?: number): Entry[];
  term(index: number): number;
}

export const EMPTY_CONF: ConfState = Object.freeze({ voters: [], learners: [] });
export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });
export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  meta: Object.freeze({ index: 0, term: 0, conf: EMPTY_CONF }),
  data: new Uint8Array(0),
});

export class MemoryStorage implements RaftStorage {
  #hardState: HardState = EMPTY_HARD_STATE;
  #snapshot: Snapshot = EMPTY_SNAPSHOT;
  /** Entries after the snapshot: `#log[k]` has index `snapshot index + 1 + k`. */
  #log: Entry[] = [];

  initialState(): HardState {
    return this.#hardState;
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  firstIndex(): number {
    return this.#snapshot.meta.index + 1;
  }

  lastIndex(): number {
    return this.#snapshot.meta.index + this.#log.length;
  }

  entries(low: number, high: number, bytesMax = Number.POSITIVE_INFINITY): Entry[] {
    assert(low >= this.firstIndex() && high <= this.lastIndex() + 1 && low <= high, `entries [${low}, ${high}) out of range`);
    const offset = this.firstIndex();
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = low; index < high; index++) {
      const entry = this.#log[index - offset] as Entry;
      bytes += entryBytesEstimate(entry);
      if (result.length > 0 && bytes > bytesMax) break;
      result.push(entry);
    }
    return result;
  }

  term(index: number): number {
    const snapshotIndex = this.#snapshot.meta.index;
    if (index === snapshotIndex) return this.#snapshot.meta.term;
    assert(index > snapshotIndex && index <= this.lastIndex(), `term(${index}) out of range`);
    return (this.#log[index - snapshotIndex - 1] as Entry).term;
  }

  setHardState(hardState: HardState): void {
    assert(hardState.term >= this.#hardState.term, 'a persisted term never decreases');
    this.#hardState = hardState;
  }

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    assert(first > this.#snapshot.meta.index, 'append below the snapshot');
    assert(first <= this.lastIndex() + 1, `append leaves a gap: ${first} after ${this.lastIndex()}`);
    this.#log.length = first - this.firstIndex();
    for (const entry of entries) this.#log.push(entry);
  }

  installSnapshot(snapshot: Snapshot): void {
    this.#snapshot = snapshot;
    this.#log = [];
  }

  compact(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    if (index <= this.#snapshot.meta.index) return;
    assert(index <= this.lastIndex(), 'compaction beyond the log');
    this.#log = this.#log.slice(index - this.#snapshot.meta.index);
    this.#snapshot = snapshot;
  }

  /** Step 1 of the `Ready` contract, all at once. */
  persist(ready: Ready): void {
    if (ready.snapshot !== null) this.installSnapshot(ready.snapshot);
    this.append(ready.entries);
    if (ready.hardState !== null) this.setHardState(ready.hardState);
    if (ready.compaction !== null) this.compact(ready.compaction);
  }
}

/** Bytes an entry is assumed to take, for flow control and batching limits. */
export function entryBytesEstimate(entry: Entry): number {
  return ENTRY_OVERHEAD_BYTES + dataBytesEstimate(entry.data);
}

const ENTRY_OVERHEAD_BYTES = 16;
/** A value nested deeper than this counts as this many bytes (the walk stops there). */
const DEPTH_MAX = 16;
const OPAQUE_DATA_BYTES = 64;
/** A number as msgpack writes it at most (a float64 with its type byte). */
const NUMBER_BYTES = 9;
/** The header of a string, an array or a map as msgpack writes it at most. */
const HEADER_BYTES = 5;

/**
 * About the bytes `data` takes encoded (as msgpack would write it: strings by their length in
 * UTF-16 units, numbers at 9, each array, object and string with its header): what the
 * batching limits (`messageBytesMax`, `inflightBytesMax`) count. An object is walked, not
 * guessed: an append of many entries that each carry large metadata must stay near the
 * message limit, far below the transport's frame limit (an append over that cannot be sent at
 * all). Cheap for the small commands of a registry (a few fields); bounded in depth.
 */
export function dataBytesEstimate(data: unknown): number {
  return valueBytes(data, 0);
}

function valueBytes(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return HEADER_BYTES + value.length;
    case 'number':
    case 'bigint':
      return NUMBER_BYTES;
    case 'boolean':
      return 1;
    case 'object': {
      if (value === null) return 1;
      if (value instanceof Uint8Array) return HEADER_BYTES + value.byteLength;
      if (depth >= DEPTH_MAX) return OPAQUE_DATA_BYTES;
      let bytes = HEADER_BYTES;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) bytes += valueBytes(value[index], depth + 1);
        return bytes;
      }
      if (value instanceof Map) {
        for (const [key, item] of value) bytes += valueBytes(key, depth + 1) + valueBytes(item, depth + 1);
        return bytes;
      }
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        bytes += HEADER_BYTES + key.length + valueBytes((value as Record<string, unknown>)[key], depth + 1);
      }
      return bytes;
    }
    default:
      // undefined (a missing field), functions and symbols are not written.
      return 0;
  }
}
