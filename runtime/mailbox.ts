/**
 * A process mailbox: a FIFO of messages with selective take.
 *
 * Contract:
 * - `push` appends; messages keep their arrival order.
 * - `take(match)` removes and returns the oldest message `match` accepts (or the oldest message
 *   when `match` is undefined); a message it skips stays where it was. Returns `NO_MESSAGE` when
 *   nothing matches (messages may be `undefined`, so `undefined` cannot mean "none").
 * - A throwing `match` propagates; the mailbox is unchanged by the failed scan.
 *
 * Layout: an array with a head and a tail index, so taking the oldest message is O(1) with no
 * allocation. When the queue empties, both indexes go back to 0 and the array keeps its
 * capacity (a process that keeps up with its senders reuses the same slots, batch after
 * batch), unless that capacity is over CAPACITY_KEPT_MAX, which is given back. The consumed
 * prefix is compacted away when it dominates the array. No per-message closures or wrapper
 * objects.
 */

/** Returned by `take` when no queued message matches. */
export const NO_MESSAGE: unique symbol = Symbol('fedctl.noMessage');

/** Consumed slots before the array is compacted (only when they are also half the queue's slots). */
const COMPACT_HEAD_MIN = 1_024;
/** Slots an emptied mailbox keeps for reuse; a larger array (after a burst) is released. */
const CAPACITY_KEPT_MAX = 4_096;

export type MessageMatch = (msg: unknown) => boolean;

export class Mailbox {
  /** Messages at `head … tail - 1`; every other slot holds undefined. */
  #items: unknown[] = [];
  #head = 0;
  #tail = 0;

  get size(): number {
    return this.#tail - this.#head;
  }

  push(msg: unknown): void {
    this.#items[this.#tail++] = msg;
  }

  take(match: MessageMatch | undefined): unknown {
    const head = this.#head;
    const tail = this.#tail;
    if (head === tail) return NO_MESSAGE;
    if (match === undefined) return this.#takeHead();
    const items = this.#items;
    for (let index = head; index < tail; index++) {
      if (match(items[index])) return index === head ? this.#takeHead() : this.#takeAt(index);
    }
    return NO_MESSAGE;
  }

  /** Every queued message, oldest first, without removing them. */
  peekAll(): unknown[] {
    return this.#items.slice(this.#head, this.#tail);
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#tail = 0;
  }

  #takeHead(): unknown {
    const items = this.#items;
    const head = this.#head;
    const msg = items[head];
    items[head] = undefined;
    if (head + 1 === this.#tail) {
      this.#head = 0;
      this.#tail = 0;
      if (items.length > CAPACITY_KEPT_MAX) this.#items = [];
    } else {
      this.#head = head + 1;
      if (head + 1 >= COMPACT_HEAD_MIN && (head + 1) * 2 >= this.#tail) this.#compact();
    }
    return msg;
  }

  /** Remove the message at `index` (past the head): the later ones move up one slot. */
  #takeAt(index: number): unknown {
    const items = this.#items;
    const msg = items[index];
    const last = this.#tail - 1;
    for (let slot = index; slot < last; slot++) items[slot] = items[slot + 1];
    items[last] = undefined;
    this.#tail = last;
    return msg;
  }

  /** Drop the consumed prefix (V8 trims the front of the array in place, without copying). */
  #compact(): void {
    this.#items.splice(0, this.#head);
    this.#tail -= this.#head;
    this.#head = 0;
  }
}
