/**
 * The process table of one node: its live processes by id, oldest first.
 *
 * Contract:
 * - Ids are handed out by the table (`nextId`), in increasing order; `add` takes the entry
 *   with exactly that id. `get` finds a live entry by id (undefined for any other number);
 *   `delete` removes one. `values()` lists the live entries in id order, which is age order.
 *
 * Layout: processes of the recent past sit in a dense array indexed by `id - base`, so spawning
 * is an array push and a lookup an index (a Map costs ten times more per spawn at a million
 * processes, and hashes on every local send). When at least half of the array is dead (and at
 * least SLOTS_COMPACT_MIN slots), the live entries still in it move to a Map of survivors and
 * the array starts afresh: memory stays proportional to the live processes, never to every id
 * ever handed out, and a long-lived process moves at most once.
 */
import { assert } from './kernel/assert.js';

/** Dead slots before the array may be compacted (only when they are also half of it). */
export const SLOTS_COMPACT_MIN = 1_024;

export class ProcessTable<Entry extends { readonly id: number }> {
  /** Entries with ids `base …`, undefined once dead. */
  #slots: Array<Entry | undefined> = [];
  #base: number;
  #deadInSlots = 0;
  /** Entries that outlived a compaction, in id order (all ids below `base`). */
  readonly #survivors = new Map<number, Entry>();
  #size = 0;

  constructor(firstId: number) {
    this.#base = firstId;
  }

  get size(): number {
    return this.#size;
  }

  /** Entries the table has room for (live and dead slots, plus survivors): at most about 2 × size + SLOTS_COMPACT_MIN. */
  get capacity(): number {
    return this.#slots.length + this.#survivors.size;
  }

  /** The id of the next entry `add` takes. */
  get nextId(): number {
    return this.#base + this.#slots.length;
  }

  add(entry: Entry): void {
    assert(entry.id === this.nextId, 'process ids are added in order');
    this.#slots.push(entry);
    this.#size++;
  }

  get(id: number): Entry | undefined {
    const index = id - this.#base;
    if (index >= 0) return index < this.#slots.length ? this.#slots[index] : undefined;
    return this.#survivors.get(id);
  }

  /** Remove the live entry `entry` (a no-op for one not in the table). */
  delete(entry: Entry): void {
    const index = entry.id - this.#base;
    if (index >= 0) {
      if (index >= this.#slots.length || this.#slots[index] !== entry) return;
      this.#slots[index] = undefined;
      this.#deadInSlots++;
      this.#size--;
      if (this.#deadInSlots >= SLOTS_COMPACT_MIN && this.#deadInSlots * 2 >= this.#slots.length) this.#compact();
      return;
    }
    if (this.#survivors.get(entry.id) === entry) {
      this.#survivors.delete(entry.id);
      this.#size--;
    }
  }

  /** Every live entry, oldest first. */
  values(): Entry[] {
    const values = [...this.#survivors.values()];
    for (const entry of this.#slots) if (entry !== undefined) values.push(entry);
    return values;
  }

  #compact(): void {
    for (const entry of this.#slots) if (entry !== undefined) this.#survivors.set(entry.id, entry);
    this.#base += this.#slots.length;
    this.#slots = [];
    this.#deadInSlots = 0;
  }
}
