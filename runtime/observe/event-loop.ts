/**
 * Event-loop delay (the closest thing Node has to a run queue) and utilization, read from
 * `perf_hooks.monitorEventLoopDelay` and `performance.eventLoopUtilization`.
 *
 * Contract: figures cover a sliding window of at most `windowMs` (the histogram is reset when a
 * read finds it older than that), so a past stall fades out instead of dominating forever.
 * `close()` disables the histogram. Holds no timer or handle that keeps the process alive.
 */
import { type IntervalHistogram, type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks';

/** Histogram sampling resolution. */
const RESOLUTION_MS = 10;
/** Default window the figures cover. */
export const EVENT_LOOP_WINDOW_MS_DEFAULT = 10_000;

export interface EventLoopFigures {
  readonly delayP50Ms: number;
  readonly delayP99Ms: number;
  readonly delayMaxMs: number;
  /** Share of time the loop was busy since the previous read (0…1). */
  readonly utilization: number;
}

export class EventLoopMonitor {
  readonly #histogram: IntervalHistogram;
  readonly #windowMs: number;
  #windowStartMs = performance.now();
  #lastUtilization: EventLoopUtilization = performance.eventLoopUtilization();

  constructor(options: { windowMs?: number } = {}) {
    this.#windowMs = options.windowMs ?? EVENT_LOOP_WINDOW_MS_DEFAULT;
    this.#histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.#histogram.enable();
  }

  read(): EventLoopFigures {
    const histogram = this.#histogram;
    // The histogram measures timer lateness beyond its resolution; an empty one reads as 0.
    const hasSamples = histogram.count > 0;
    const toMs = (nanoseconds: number): number => (hasSamples ? Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS) : 0);
    const figures = {
      delayP50Ms: toMs(histogram.percentile(50)),
      delayP99Ms: toMs(histogram.percentile(99)),
      delayMaxMs: toMs(histogram.max),
      utilization: this.#utilization(),
    };
    if (performance.now() - this.#windowStartMs > this.#windowMs) {
      histogram.reset();
      this.#windowStartMs = performance.now();
    }
    return figures;
  }

  #utilization(): number {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, this.#lastUtilization);
    this.#lastUtilization = now;
    return Number.isFinite(delta.utilization) ? delta.utilization : 0;
  }

  close(): void {
    this.#histogram.disable();
  }
}
