// RequestDeadlines (one timer for the timeouts of all waiting requests, on a SimulatedClock):
// it proves that a request that is not settled expires exactly at its deadline and one that is
// settled never does, in any order of settling; that one timer at a time is pending; that the
// queue stays bounded by the live requests when an old request never settles while many newer
// ones do; and that close() stops everything.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestDeadlines } from '../../registry/request-deadlines.js';
import { SimulatedClock } from '../../runtime/index.js';

const TIMEOUT_MS = 100;

describe('request deadlines — one timer for every request', () => {
  it('expires exactly the requests not settled, each at its own deadline', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ gapMs: fc.nat(40), settleAfterMs: fc.option(fc.nat(150), { nil: undefined }) }), { minLength: 1, maxLength: 40 }), (requests) => {
        const clock = new SimulatedClock();
        const deadlines = new RequestDeadlines(clock, TIMEOUT_MS);
        const expiredAt = new Map<number, number>();
        const events: Array<{ atMs: number; run: () => void }> = [];
        let madeAt = 0;
        requests.forEach((request, index) => {
          madeAt += request.gapMs;
          const at = madeAt;
          events.push({
            atMs: at,
            run: () => {
              const deadline = deadlines.add(() => expiredAt.set(index, clock.now()));
              if (request.settleAfterMs !== undefined) events.push({ atMs: at + request.settleAfterMs, run: () => deadlines.settle(deadline) });
            },
          });
        });
        // Run the events in time order, letting the clock's timers fire in between.
        while (events.length > 0) {
          events.sort((x, y) => x.atMs - y.atMs);
          const next = events.shift()!;
          clock.advance(next.atMs - clock.now());
          next.run();
        }
        clock.advance(TIMEOUT_MS * 2);
        madeAt = 0;
        requests.forEach((request, index) => {
          madeAt += request.gapMs;
          const settledInTime = request.settleAfterMs !== undefined && request.settleAfterMs < TIMEOUT_MS;
          if (settledInTime) expect(expiredAt.has(index)).toBe(false);
          else expect(expiredAt.get(index)).toBe(madeAt + TIMEOUT_MS);
        });
        expect(deadlines.live).toBe(0);
        expect(clock.pendingTimers).toBe(0);
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('keeps one timer however many requests wait, and none once all settled', () => {
    const clock = new SimulatedClock();
    const deadlines = new RequestDeadlines(clock, TIMEOUT_MS);
    const all = Array.from({ length: 1_000 }, () => deadlines.add(() => undefined));
    expect(clock.pendingTimers).toBe(1);
    for (const deadline of all) deadlines.settle(deadline);
    expect(deadlines.queued).toBe(0);
    clock.advance(TIMEOUT_MS);
    expect(clock.pendingTimers).toBe(0);
  });

  it('an old request that never settles does not keep the settled ones behind it without bound', () => {
    const clock = new SimulatedClock();
    const deadlines = new RequestDeadlines(clock, 1_000_000);
    let expired = 0;
    deadlines.add(() => expired++);
    for (let index = 0; index < 100_000; index++) deadlines.settle(deadlines.add(() => expired++));
    expect(deadlines.live).toBe(1);
    expect(deadlines.queued).toBeLessThanOrEqual(2 + 1_024 + 1);
    clock.advance(1_000_000);
    expect(expired).toBe(1);
  });

  it('close() stops the timer and nothing expires after it', () => {
    const clock = new SimulatedClock();
    const deadlines = new RequestDeadlines(clock, TIMEOUT_MS);
    let expired = 0;
    const deadline = deadlines.add(() => expired++);
    deadlines.close();
    deadlines.settle(deadline);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(TIMEOUT_MS * 2);
    expect(expired).toBe(0);
    expect(() => deadlines.add(() => undefined)).toThrow(/after close/);
  });
});
