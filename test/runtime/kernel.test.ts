// The shared kernel: a seeded Rng is reproducible, the simulated clock fires timers in order.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../runtime/kernel/rng.js';
import { SimulatedClock, SystemClock } from '../../runtime/kernel/clock.js';

describe('rng — seeded and reproducible', () => {
  it('gives the same sequence for the same seed and a different one for another', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const seqA = Array.from({ length: 20 }, () => a.nextUint32());
    expect(Array.from({ length: 20 }, () => b.nextUint32())).toEqual(seqA);
    expect(Array.from({ length: 20 }, () => c.nextUint32())).not.toEqual(seqA);
  });

  it('int stays in range and covers it', () => {
    const rng = new Rng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = rng.int(10);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(10);
      seen.add(v);
    }
    expect(seen.size).toBe(10);
  });
});

describe('clock — simulated and system', () => {
  it('fires simulated timers in time order, and cleared ones never', () => {
    const clock = new SimulatedClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    const c = clock.setTimeout(() => fired.push('c'), 15);
    clock.clearTimeout(c);
    clock.advance(15);
    expect(fired).toEqual(['a']);
    clock.advance(10);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(25);
    expect(clock.pendingTimers).toBe(0);
  });

  it('system clock tracks and clears its timers', async () => {
    const clock = new SystemClock();
    const handle = clock.setTimeout(() => undefined, 10_000);
    expect(clock.pendingTimers).toBe(1);
    clock.clearTimeout(handle);
    expect(clock.pendingTimers).toBe(0);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 1));
    expect(clock.pendingTimers).toBe(0);
  });
});
