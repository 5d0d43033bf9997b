/**
 * Virtual time for simulating many real nodes in one process (the federation scale simulator,
 * federation/sim/federation-sim.ts). Never imported by product code.
 *
 * Why: the simulator runs the real `Node`, `Distribution`, `Group` and `Federation` of every
 * simulated node. Their timers (heartbeat ticks, Raft ticks, maintenance, timeouts) must run on
 * one simulated timeline, so that a thousand nodes behave as they would, however long the
 * process takes to compute them, and so that time can stand still while one request's messages
 * are counted. `Group` and `Federation` take this object as their `Clock`; the runtime's
 * distribution layer reads the process's timers directly, so `install()` also replaces
 * `setTimeout`/`setInterval`/`clearTimeout`/`clearInterval`, `Date.now` and
 * `performance.now` with this timeline until the returned function restores them.
 * `setImmediate`, microtasks and I/O stay real: they carry work within one instant.
 *
 * Contract: time moves only in `advance`. Timers due at the same instant fire in the order they
 * were set; between instants `advance` lets the process settle (`settle()`): every message sent
 * is delivered and handled before time moves on, so an instant has no fixed length of work but
 * a chain of messages costs no simulated time (the network has zero latency).
 */
import { assert, type Clock, type TimerHandle } from '../../runtime/index.js';

/** Idle `setImmediate` rounds after which the process counts as settled. */
const QUIET_ROUNDS = 4;
/** Rounds of one settle before it is declared a livelock. */
const SETTLE_ROUNDS_MAX = 1_000_000;
/** Timers fired in one step of `advance` are those due within this window (ms). */
const STEP_MS = 1;

interface Timer {
  readonly id: number;
  atMs: number;
  seq: number;
  readonly callback: () => void;
  readonly intervalMs: number | undefined;
  cancelled: boolean;
}

/** What the process's timer functions return while installed (enough of `NodeJS.Timeout`). */
class VirtualTimeout {
  constructor(readonly id: number, readonly time: VirtualTime) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    this.time.refresh(this.id);
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

export interface Activity {
  /** Grows whenever anything observable happens (a message sent); settle waits for it to stop. */
  readonly activity: number;
}

export class VirtualTime implements Clock {
  #nowMs = 0;
  #seq = 0;
  #nextId = 1;
  readonly #heap: Timer[] = [];
  readonly #timers = new Map<number, Timer>();
  readonly #wallStartMs: number;
  #probe: Activity | undefined;

  constructor(wallStartMs = 1_700_000_000_000) {
    this.#wallStartMs = wallStartMs;
  }

  /** What settle watches for quiet (the virtual network). */
  watch(probe: Activity): void {
    this.#probe = probe;
  }

  now(): number {
    return this.#nowMs;
  }

  wallNow(): number {
    return this.#wallStartMs + this.#nowMs;
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return { id: this.#add(callback, delayMs, undefined).id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.#cancel(handle.id);
  }

  refresh(id: number): void {
    const timer = this.#timers.get(id);
    if (timer === undefined) return;
    this.#cancel(id);
    const delayMs = timer.intervalMs ?? 0;
    const fresh: Timer = { ...timer, atMs: this.#nowMs + delayMs, seq: this.#seq++, cancelled: false };
    this.#timers.set(id, fresh);
    this.#push(fresh);
  }

  /**
   * Replace the process's timers and clocks with this timeline. Returns the function that puts
   * the real ones back. One installation at a time.
   */
  install(): () => void {
    const saved = {
      setTimeout: globalThis.setTimeout,
      clearTimeout: globalThis.clearTimeout,
      setInterval: globalThis.setInterval,
      clearInterval: globalThis.clearInterval,
      dateNow: Date.now,
      performanceNow: performance.now,
    };
    const toId = (handle: unknown): number | undefined =>
      handle instanceof VirtualTimeout ? handle.id : typeof handle === 'number' ? handle : undefined;
    const patched = globalThis as unknown as Record<string, unknown>;
    patched.setTimeout = (callback: (...args: unknown[]) => void, delayMs?: number, ...args: unknown[]) =>
      new VirtualTimeout(this.#add(() => callback(...args), delayMs ?? 0, undefined).id, this);
    patched.setInterval = (callback: (...args: unknown[]) => void, delayMs?: number, ...args: unknown[]) =>
      new VirtualTimeout(this.#add(() => callback(...args), delayMs ?? 0, Math.max(1, delayMs ?? 1)).id, this);
    patched.clearTimeout = patched.clearInterval = (handle: unknown) => {
      const id = toId(handle);
      if (id !== undefined) this.#cancel(id);
    };
    Date.now = () => Math.floor(this.wallNow());
    performance.now = () => this.#nowMs;
    return () => {
      patched.setTimeout = saved.setTimeout;
      patched.clearTimeout = saved.clearTimeout;
      patched.setInterval = saved.setInterval;
      patched.clearInterval = saved.clearInterval;
      Date.now = saved.dateNow;
      performance.now = saved.performanceNow;
    };
  }

  /** Let every message in flight be delivered and handled, without moving time. */
  async settle(): Promise<void> {
    let quiet = 0;
    let last = this.#probe?.activity ?? 0;
    for (let round = 0; quiet < QUIET_ROUNDS; round++) {
      assert(round < SETTLE_ROUNDS_MAX, `the simulation did not settle within ${SETTLE_ROUNDS_MAX} rounds`);
      await new Promise<void>((resolve) => setImmediate(resolve));
      const activity = this.#probe?.activity ?? 0;
      quiet = activity === last ? quiet + 1 : 0;
      last = activity;
    }
  }

  /** Move time forward by `deltaMs`: fire what is due step by step, settling after each step. */
  async advance(deltaMs: number): Promise<void> {
    const targetMs = this.#nowMs + deltaMs;
    await this.settle();
    for (;;) {
      const next = this.#peek();
      if (next === undefined || next.atMs > targetMs) break;
      this.#nowMs = Math.max(this.#nowMs, next.atMs);
      const stepEndMs = Math.min(targetMs, this.#nowMs + STEP_MS - 1);
      // Timers set while the step runs wait for the next step (after a settle), even if due now.
      const seqLimit = this.#seq;
      for (let due = this.#peek(); due !== undefined && due.atMs <= stepEndMs && due.seq < seqLimit; due = this.#peek()) {
        this.#pop();
        this.#nowMs = Math.max(this.#nowMs, due.atMs);
        if (due.intervalMs !== undefined) {
          due.atMs += due.intervalMs;
          due.seq = this.#seq++;
          this.#push(due);
        } else this.#timers.delete(due.id);
        due.callback();
      }
      await this.settle();
    }
    this.#nowMs = targetMs;
  }

  /** Advance in steps of `stepMs` until `done()` holds; false if `timeoutMs` passed first. */
  async until(done: () => boolean, timeoutMs: number, stepMs = 10): Promise<boolean> {
    const deadlineMs = this.#nowMs + timeoutMs;
    while (!done()) {
      if (this.#nowMs >= deadlineMs) return false;
      await this.advance(stepMs);
    }
    return true;
  }

  // ---- the timer heap (by due time, then by order set) ----------------------------------------

  #add(callback: () => void, delayMs: number, intervalMs: number | undefined): Timer {
    const timer: Timer = { id: this.#nextId++, atMs: this.#nowMs + Math.max(0, Number(delayMs) || 0), seq: this.#seq++, callback, intervalMs, cancelled: false };
    this.#timers.set(timer.id, timer);
    this.#push(timer);
    return timer;
  }

  #cancel(id: number): void {
    const timer = this.#timers.get(id);
    if (timer === undefined) return;
    timer.cancelled = true;
    this.#timers.delete(id);
  }

  #before(a: Timer, b: Timer): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  #push(timer: Timer): void {
    const heap = this.#heap;
    heap.push(timer);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#before(heap[index] as Timer, heap[parent] as Timer)) break;
      [heap[index], heap[parent]] = [heap[parent] as Timer, heap[index] as Timer];
      index = parent;
    }
  }

  #peek(): Timer | undefined {
    while (this.#heap.length > 0 && (this.#heap[0] as Timer).cancelled) this.#pop();
    return this.#heap[0];
  }

  #pop(): Timer | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        const right = left + 1;
        let best = index;
        if (left < heap.length && this.#before(heap[left] as Timer, heap[best] as Timer)) best = left;
        if (right < heap.length && this.#before(heap[right] as Timer, heap[best] as Timer)) best = right;
        if (best === index) break;
        [heap[index], heap[best]] = [heap[best] as Timer, heap[index] as Timer];
        index = best;
      }
    }
    return top;
  }
}
