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
 * Layout: an array plus a head index, so taking the oldest message is O(1) with no allocation;
 * the array is reset when it empties and compacted when the consumed prefix dominates it. No
 * per-message closures or wrapper objects.
 */

/** Returned by `take` when no queued message matches. */
export const NO_MESSAGE: unique symbol = Symbol('fedctl.noMessage');

/** Consumed slots before the array is compacted (only when they are also half the array). */
const COMPACT_HEAD_MIN = 1_024;

export type MessageMatch = (msg: unknown) => boolean;

export class Mailbox {
  #items: unknown[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(msg: unknown): void {
    this.#items.push(msg);
  }

  take(match: MessageMatch | undefined): unknown {
    const items = this.#items;
    const length = items.length;
    if (this.#head === length) return NO_MESSAGE;
    if (match === undefined) return this.#takeAt(this.#head);
    for (let index = this.#head; index < length; index++) {
      if (match(items[index])) return this.#takeAt(index);
    }
    return NO_MESSAGE;
  }

  /** Every queued message, oldest first, without removing them. */
  peekAll(): unknown[] {
    return this.#items.slice(this.#head);
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  #takeAt(index: number): unknown {
    const items = this.#items;
    const msg = items[index];
    if (index !== this.#head) {
      items.splice(index, 1);
      return msg;
    }
    items[index] = undefined;
    this.#head = index + 1;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head >= COMPACT_HEAD_MIN && this.#head * 2 >= items.length) {
      items.splice(0, this.#head);
      this.#head = 0;
    }
    return msg;
  }
}
