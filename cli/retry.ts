/**
 * Client-side retry of `overloaded` answers: capped exponential backoff with full jitter (the
 * AWS "exponential backoff and jitter" scheme), honouring the server's `retryAfterMs` hint.
 *
 * Contract:
 * - Only `FedError`s with code `overloaded` are retried (the request was refused before it was
 *   proposed, so a retry cannot duplicate it); every other outcome is returned or thrown as is.
 * - Attempt `n` (0-based) waits `min(maxDelayMs, max(retryAfterMs, U(0, baseDelayMs·2ⁿ)))`.
 * - At most `attemptsMax` attempts; then the last `overloaded` error is thrown. A `signal`
 *   abort stops the waiting at once (rejecting with the abort reason).
 * - With `deadlineMs` (a `performance.now()` instant), no wait reaches past it: when the next
 *   attempt could not start before the deadline, the last `overloaded` error is thrown, so a
 *   command's `--timeout` bounds its retries too.
 */
import { Rng, isFedError, randomSeed } from '../runtime/index.js';

export interface RetryOptions {
  /** Total attempts, the first included (default 8). */
  readonly attemptsMax?: number;
  /** First backoff ceiling (default 20 ms). */
  readonly baseDelayMs?: number;
  /** Largest wait between attempts (default 2 000 ms). */
  readonly maxDelayMs?: number;
  readonly rng?: Rng;
  readonly signal?: AbortSignal;
  /** No retry starts after this `performance.now()` instant. */
  readonly deadlineMs?: number;
  /** Called before each wait, with the attempt that failed and the delay chosen. */
  readonly onRetry?: (attempt: number, delayMs: number) => void;
}

export const RETRY_DEFAULTS = { attemptsMax: 8, baseDelayMs: 20, maxDelayMs: 2_000 } as const;

const sharedRng = new Rng(randomSeed());

/** The wait before retry number `attempt + 1`. */
export function backoffDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  options: { baseDelayMs?: number; maxDelayMs?: number } = {},
  rng: Rng = sharedRng,
): number {
  const base = options.baseDelayMs ?? RETRY_DEFAULTS.baseDelayMs;
  const cap = options.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs;
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  const jittered = rng.next() * ceiling;
  return Math.min(cap, Math.max(retryAfterMs ?? 0, jittered));
}

/** Run `operation`, retrying it while it fails with `overloaded`. */
export async function withOverloadRetry<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attemptsMax = options.attemptsMax ?? RETRY_DEFAULTS.attemptsMax;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isFedError(error, 'overloaded') || attempt + 1 >= attemptsMax) throw error;
      const hint = typeof error.details?.retryAfterMs === 'number' ? error.details.retryAfterMs : undefined;
      const delayMs = backoffDelayMs(attempt, hint, options, options.rng);
      if (options.deadlineMs !== undefined && performance.now() + delayMs >= options.deadlineMs) throw error;
      options.onRetry?.(attempt, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}

function sleep(delayMs: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
