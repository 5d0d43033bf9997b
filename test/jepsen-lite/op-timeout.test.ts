// A client operation never outlives --op-timeout: `requestWithin` gives each attempt only what
// is left of the operation's time, retries an `overloaded` refusal (definite: never proposed)
// only while a backoff wait and another attempt still fit, and otherwise gives up with that
// refusal — so the history records a definite `fail`, not an unknown `info`, and no operation's
// bar in the report runs past its timeout. A fake connection and a fake clock (time advances
// only when the code under test waits or an attempt takes time): deterministic, no sockets.
import { describe, expect, it } from 'vitest';
import type { AdminClient } from '../../cli/admin-client.js';
import { withOverloadRetry } from '../../cli/retry.js';
import { fedError, Rng } from '../../runtime/index.js';
import { type DeadlineTiming, perform, requestWithin } from '../../jepsen-lite/workload.js';

interface Attempt {
  readonly at: number;
  readonly timeoutMs: number;
}

class FakeTime implements DeadlineTiming {
  nowMs = 1_000;
  readonly rng = new Rng(5);
  now(): number {
    return this.nowMs;
  }
  async sleep(ms: number): Promise<void> {
    this.nowMs += ms;
  }
}

/** A node that answers `overloaded` (after `latencyMs`) to every request but the `okAfter`-th. */
function overloadedNode(time: FakeTime, attempts: Attempt[], latencyMs: number, okAfter = Infinity): AdminClient {
  const requestOnce = async (_request: unknown, timeoutMs?: number): Promise<unknown> => {
    attempts.push({ at: time.nowMs, timeoutMs: timeoutMs as number });
    time.nowMs += Math.min(latencyMs, timeoutMs as number);
    if (latencyMs >= (timeoutMs as number)) throw fedError('timeout', 'no answer');
    if (attempts.length > okAfter) return { name: 'n', pid: '<a@h#1.1>', revision: 3 };
    throw fedError('overloaded', 'busy', { retryAfterMs: 40, definite: true });
  };
  return {
    peer: 'fake@h',
    requestOnce,
    // As the real client: the CLI's overload retry around requestOnce.
    request: (request, timeoutMs) => withOverloadRetry(() => requestOnce(request, timeoutMs), { rng: time.rng }),
    close: async () => undefined,
  };
}

describe('client op timeout — overload retries stay inside it', () => {
  it('op timeout — no attempt is granted time past the operation deadline; it ends as a definite fail', async () => {
    const time = new FakeTime();
    const attempts: Attempt[] = [];
    const start = time.nowMs;
    const outcome = await perform(overloadedNode(time, attempts, 30), 'register', 'n', '<a@h#1.1>', 300, time);
    expect(outcome).toEqual({ type: 'fail', value: 'overloaded', connectionLost: false });
    expect(attempts.length).toBeGreaterThan(1);
    for (const attempt of attempts) expect(attempt.at + attempt.timeoutMs).toBeLessThanOrEqual(start + 300);
    expect(time.nowMs - start).toBeLessThanOrEqual(300);
  });

  it('op timeout — a retry that succeeds in time is ok', async () => {
    const time = new FakeTime();
    const attempts: Attempt[] = [];
    const outcome = await perform(overloadedNode(time, attempts, 10, 1), 'register', 'n', '<a@h#1.1>', 1_000, time);
    // The answer's revision is kept beside the result.
    expect(outcome).toEqual({ type: 'ok', value: 'ok', answer: { revision: 3 } });
    expect(attempts).toHaveLength(2);
  });

  it('op timeout — an attempt that runs out the remaining time is an unknown outcome (info)', async () => {
    const time = new FakeTime();
    const attempts: Attempt[] = [];
    // The first answer (overloaded) takes 100 ms; the next attempt gets only what is left and times out.
    const node = overloadedNode(time, attempts, 100);
    const slow = { ...node, requestOnce: async (request: unknown, timeoutMs?: number) => {
      if (attempts.length === 0) return node.requestOnce(request as never, timeoutMs);
      attempts.push({ at: time.nowMs, timeoutMs: timeoutMs as number });
      time.nowMs += timeoutMs as number;
      throw fedError('timeout', 'no answer');
    } };
    const start = time.nowMs;
    const outcome = await perform(slow, 'unregister', 'n', '<a@h#1.1>', 400, time);
    expect(outcome.type).toBe('info');
    expect(attempts[1]?.timeoutMs).toBeLessThan(400);
    expect(time.nowMs - start).toBeLessThanOrEqual(400);
  });

  it('op timeout — time already used up is a timeout before any attempt', async () => {
    const time = new FakeTime();
    const attempts: Attempt[] = [];
    await expect(requestWithin(overloadedNode(time, attempts, 1), { op: 'status' }, 0, time)).rejects.toMatchObject({ code: 'timeout' });
    expect(attempts).toEqual([]);
  });
});
