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
 * link (heartbeats do not start it). `windowUs: 0` turns it off.
 *
 * Contention: a spinning loop on a machine with more busy processes than cores takes CPU they
 * need and is itself descheduled, so an answer waits for a time slice (milliseconds) instead of
 * a wake-up (measured: round trips p50 2.2 ms spinning against three busy processes on 2 cores,
 * 0.28 ms without). So the process's CPU time while spinning is compared with the wall time,
 * summed over spinning sessions until `SAMPLE_MS` of spinning is gathered: in
 * `CONTENDED_SAMPLES` samples in a row below `CONTENDED_CPU_RATIO` the process is not getting
 * the core it spins on, and busy-waiting pauses for `PAUSE_MS` (counted in `pauses`). (One
 * sample decides nothing: two processes spinning alone on this 2-core VM see single 10 ms
 * samples as low as 0.7, from kernel and helper threads.) The CPU time is the
 * whole process's (`process.cpuUsage`: GC and libuv threads too), so a process busy on other
 * threads can look less contended than it is.
 *
 * Activity is any record but a lone heartbeat: Raft's heartbeats and acknowledgements count,
 * so an idle group member still spins `windowUs` after each of them (with the 50 ms Raft tick
 * and a 1 ms window, about 1% of a core per peer). `LIMITS.busyWaitUsMax` bounds the window.
 */
import { performance } from 'node:perf_hooks';
import { assert } from '../kernel/assert.js';

/** Spinning (ms, summed over sessions) over which the process's share of the CPU is judged. */
export const SAMPLE_MS = 10;
/** Below this CPU time per wall time while spinning, a sample counts as contended. */
export const CONTENDED_CPU_RATIO = 0.5;
/** Contended samples in a row that pause busy-waiting. */
export const CONTENDED_SAMPLES = 3;
/** How long busy-waiting stays off after contention was seen. */
export const PAUSE_MS = 1_000;

export interface BusyWaitClocks {
  /** Monotonic milliseconds (default `performance.now`). */
  readonly nowMs?: () => number;
  /** CPU time of the process in microseconds, user and system (default `process.cpuUsage`). */
  readonly cpuMicros?: () => number;
}

function processCpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

export class BusyWait {
  readonly #windowMs: number;
  readonly #nowMs: () => number;
  readonly #cpuMicros: () => number;
  #untilMs = 0;
  #pausedUntilMs = -Infinity;
  /** Where the current session's unsampled stretch began (wall ms, process CPU µs). */
  #stretchStartMs = 0;
  #stretchStartCpuMicros = 0;
  /** Spinning gathered toward the next judgement. */
  #sampledMs = 0;
  #sampledCpuMicros = 0;
  /** Contended samples in a row so far. */
  #contended = 0;
  #immediate: NodeJS.Immediate | undefined;
  #closed = false;
  /** Loop turns spent busy-waiting so far (what the CPU went to). */
  turns = 0;
  /** Times busy-waiting paused because the process was not getting the CPU it spun on. */
  pauses = 0;
  readonly #spinBound = (): void => this.#spin();

  constructor(windowUs: number, clocks: BusyWaitClocks = {}) {
    // (Distribution checks the option and answers a bad one with a `config` error.)
    assert(Number.isFinite(windowUs) && windowUs >= 0, `busy-wait window must be a non-negative number of microseconds, not ${windowUs}`);
    this.#windowMs = windowUs / 1000;
    this.#nowMs = clocks.nowMs ?? (() => performance.now());
    this.#cpuMicros = clocks.cpuMicros ?? processCpuMicros;
  }

  /** Whether the loop is being kept turning now. */
  get spinning(): boolean {
    return this.#immediate !== undefined;
  }

  /** Activity: keep the loop turning until the window has passed from now (unless paused). */
  touch(): void {
    if (this.#windowMs === 0 || this.#closed) return;
    const now = this.#nowMs();
    if (now < this.#pausedUntilMs) return;
    this.#untilMs = now + this.#windowMs;
    if (this.#immediate !== undefined) return;
    this.#stretchStartMs = now;
    this.#stretchStartCpuMicros = this.#cpuMicros();
    this.#immediate = setImmediate(this.#spinBound);
  }

  #spin(): void {
    this.turns++;
    this.#immediate = undefined;
    if (this.#closed) return;
    const now = this.#nowMs();
    const ending = now >= this.#untilMs;
    // The CPU clock is read when a session ends and every SAMPLE_MS within one (not every turn).
    if (ending || now - this.#stretchStartMs >= SAMPLE_MS) {
      const cpu = this.#cpuMicros();
      this.#sampledMs += now - this.#stretchStartMs;
      this.#sampledCpuMicros += cpu - this.#stretchStartCpuMicros;
      this.#stretchStartMs = now;
      this.#stretchStartCpuMicros = cpu;
      if (this.#sampledMs >= SAMPLE_MS) {
        const ratio = this.#sampledCpuMicros / 1000 / this.#sampledMs;
        this.#sampledMs = 0;
        this.#sampledCpuMicros = 0;
        this.#contended = ratio < CONTENDED_CPU_RATIO ? this.#contended + 1 : 0;
        if (this.#contended >= CONTENDED_SAMPLES) {
          this.#contended = 0;
          this.pauses++;
          this.#pausedUntilMs = now + PAUSE_MS;
          return;
        }
      }
    }
    if (!ending) this.#immediate = setImmediate(this.#spinBound);
  }

  /** Stop at once and for good. */
  close(): void {
    this.#closed = true;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }
}
