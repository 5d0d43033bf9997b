/**
 * Polling for a condition on the real clock, for code outside the deterministic core (the CLI's
 * demo, tests): `probe` until it returns something other than `undefined` or `false`, and
 * resolve with it; a probe that throws counts as "not yet". Past `timeoutMs` the promise rejects
 * with `timedOut(lastError)`, so the caller names what never happened in its own error type.
 */
export async function pollUntil<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs: number,
  timedOut: (lastError: unknown) => Error,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw timedOut(lastError);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
