/**
 * Waiting in tests: tests wait for a condition, never for a fixed time. `eventually` polls
 * `probe` until it returns something other than `undefined` or `false` and resolves with it; a
 * probe that throws counts as "not yet". Past `timeoutMs` it fails naming what it waited for and
 * the probe's last error, so a failing test says what never happened.
 */
import { pollUntil } from '../../runtime/kernel/poll.js';

export const EVENTUALLY_TIMEOUT_MS_DEFAULT = 10_000;
export const EVENTUALLY_INTERVAL_MS_DEFAULT = 50;

export function eventually<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = EVENTUALLY_TIMEOUT_MS_DEFAULT,
  intervalMs = EVENTUALLY_INTERVAL_MS_DEFAULT,
): Promise<T> {
  return pollUntil(probe, timeoutMs, intervalMs, (lastError) => new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`}`));
}
