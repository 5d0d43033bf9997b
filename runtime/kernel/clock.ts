/**
 * An injectable clock. Code in `registry/` and `federation/` never calls `setTimeout`,
 * `Date.now` or `performance.now` directly: it takes a `Clock`, so the same code runs for real
 * and under the simulator.
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Monotonic milliseconds (fractional allowed); only differences are meaningful. */
  now(): number;
  /** Wall-clock milliseconds since the epoch, for logs and reports only. */
  wallNow(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock. Timers are `unref`ed only if asked, so tests see leaks. */
export class SystemClock implements Clock {
  #nextId = 1;
  readonly #timers = new Map<number, NodeJS.Timeout>();

  now(): number {
    return performance.now();
  }

  wallNow(): number {
    return Date.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      callback();
    }, Math.max(0, delayMs));
    this.#timers.set(id, timer);
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.#timers.get(handle.id);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#timers.delete(handle.id);
    }
  }

  /** Number of timers still pending: a test can assert it is zero after `close()`. */
  get pendingTimers(): number {
    return this.#timers.size;
  }
}

/** A simulated clock: time moves only when `advance` is called; timers fire in order. */
export class SimulatedClock implements Clock {
  #nowMs: number;
  #nextId = 1;
  readonly #wallStartMs: number;
  readonly #timers = new Map<number, { atMs: number; seq: number; callback: () => void }>();

  constructor(startMs = 0, wallStartMs = 1_700_000_000_000) {
    this.#nowMs = startMs;
    this.#wallStartMs = wallStartMs;
  }

  now(): number {
    return this.#nowMs;
  }

  wallNow(): number {
    return this.#wallStartMs + this.#nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { atMs: this.#nowMs + Math.max(0, delayMs), seq: id, callback });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle.id);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Move time forward by `deltaMs`, firing every timer due on the way, earliest first. */
  advance(deltaMs: number): void {
    const targetMs = this.#nowMs + deltaMs;
    for (;;) {
      let nextId = -1;
      let next: { atMs: number; seq: number; callback: () => void } | undefined;
      for (const [id, timer] of this.#timers) {
        if (timer.atMs > targetMs) continue;
        if (next === undefined || timer.atMs < next.atMs || (timer.atMs === next.atMs && timer.seq < next.seq)) {
          next = timer;
          nextId = id;
        }
      }
      if (next === undefined) break;
      this.#timers.delete(nextId);
      this.#nowMs = Math.max(this.#nowMs, next.atMs);
      next.callback();
    }
    this.#nowMs = targetMs;
  }
}
