/**
 * `RequestDeadlines`: the timeouts of a member's waiting requests (proposals, reads), with one
 * timer for all of them instead of one each (a timer set and cleared per registration was a
 * measurable share of the leader's CPU). Every request waits the same `timeoutMs`, so deadlines
 * come in the order the requests were made: a FIFO whose head expires first. The timer is armed
 * for the head only; a request that settles first is marked and dropped once it reaches the
 * head (requests mostly settle in order, so the queue holds about the requests in flight). A
 * request that never settles holds the settled ones behind it until it expires: they are swept
 * out whenever they outnumber the live ones by far, so the queue stays within a bound of the
 * live requests.
 */
import { type Clock, type TimerHandle, assert } from '../runtime/index.js';

/** Settled entries kept queued beyond twice the live ones before a sweep. */
const SETTLED_SLACK_MAX = 1_024;

export interface Deadline {
  readonly atMs: number;
  settled: boolean;
  readonly expire: () => void;
}

export class RequestDeadlines {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #queue: Deadline[] = [];
  #head = 0;
  #live = 0;
  #timer: TimerHandle | undefined;
  #closed = false;

  constructor(clock: Clock, timeoutMs: number) {
    assert(timeoutMs > 0, `a request timeout of ${timeoutMs} ms`);
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** Requests waiting (not settled, not expired). */
  get live(): number {
    return this.#live;
  }

  /** Entries queued, settled ones included (bounded: see the header). */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Call `expire` `timeoutMs` from now unless `settle` is called first. */
  add(expire: () => void): Deadline {
    assert(!this.#closed, 'RequestDeadlines.add after close');
    const deadline: Deadline = { atMs: this.#clock.now() + this.#timeoutMs, settled: false, expire };
    this.#queue.push(deadline);
    this.#live++;
    if (this.#timer === undefined) this.#arm();
    return deadline;
  }

  /** The request finished (or failed) before its deadline; idempotent. */
  settle(deadline: Deadline): void {
    if (deadline.settled) return;
    deadline.settled = true;
    if (this.#closed) return;
    this.#live--;
    this.#dropSettledHead();
    if (this.queued > 2 * this.#live + SETTLED_SLACK_MAX) {
      this.#queue = this.#queue.slice(this.#head).filter((entry) => !entry.settled);
      this.#head = 0;
    }
  }

  /** Stop the timer and forget every deadline (their requests are failed by the caller). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#head = 0;
    this.#live = 0;
  }

  #dropSettledHead(): void {
    while (this.#head < this.#queue.length && (this.#queue[this.#head] as Deadline).settled) this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > SETTLED_SLACK_MAX && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(): void {
    const head = this.#queue[this.#head];
    if (head === undefined || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.max(0, head.atMs - this.#clock.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (;;) {
      this.#dropSettledHead();
      const head = this.#queue[this.#head];
      if (head === undefined || head.atMs > now) break;
      this.#head++;
      head.settled = true;
      this.#live--;
      head.expire();
      if (this.#closed) return;
    }
    if (this.#timer === undefined) this.#arm();
  }
}
