/**
 * Bounded busy-waiting after network activity, as BEAM's schedulers spin (`+sbwt`) before they
 * sleep. An event loop that blocks in the kernel's poll must be woken when a record arrives,
 * and on a virtual machine waking an idle thread costs more than the round trip itself
 * (measured on this project's 2-core VM, bare Node TCP ping-pong between two processes on
 * 127.0.0.1: p50 163 µs when each side blocks, 26–31 µs when each side keeps its loop turning).
 * After a link sent or received something other than a heartbeat, an answer is likely within a
 * round trip, so the loop is kept turning (`setImmediate`, which makes libuv poll without
 * blocking; timers and I/O run as usual) until `windowUs` has passed since the last activity.
 *
 * The cost is CPU: at most `windowUs` of one core after the last activity, nothing on an idle
 * link (heartbeats do not start it). `windowUs: 0` turns it off (a machine shared by more busy
 * processes than cores, where a spinning loop would take CPU from them).
 */
import { performance } from 'node:perf_hooks';

export class BusyWait {
  readonly #windowMs: number;
  #untilMs = 0;
  #immediate: NodeJS.Immediate | undefined;
  #closed = false;
  /** Loop turns spent busy-waiting so far (what the CPU went to). */
  turns = 0;
  readonly #spinBound = (): void => this.#spin();

  constructor(windowUs: number) {
    if (!Number.isFinite(windowUs) || windowUs < 0) throw new RangeError(`busy-wait window must be a non-negative number of microseconds, not ${windowUs}`);
    this.#windowMs = windowUs / 1000;
  }

  /** Whether the loop is being kept turning now. */
  get spinning(): boolean {
    return this.#immediate !== undefined;
  }

  /** Activity: keep the loop turning until the window has passed from now. */
  touch(): void {
    if (this.#windowMs === 0 || this.#closed) return;
    this.#untilMs = performance.now() + this.#windowMs;
    if (this.#immediate === undefined) this.#immediate = setImmediate(this.#spinBound);
  }

  #spin(): void {
    this.turns++;
    this.#immediate = !this.#closed && performance.now() < this.#untilMs ? setImmediate(this.#spinBound) : undefined;
  }

  /** Stop at once and for good. */
  close(): void {
    this.#closed = true;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }
}
