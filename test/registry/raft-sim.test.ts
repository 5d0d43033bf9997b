// The Raft simulator against the correct core: a few hundred seeds (3 and 5 members, every fault
// profile) run clean through the safety checker and reach liveness after healing; a run is a pure
// function of its seed (same seed, same trace); and a failure report names the seed and carries
// the last events. Teeth (the simulator catching deliberate bugs) are in raft-sim-teeth.test.ts.
import { describe, expect, it } from 'vitest';
import { TRACE_EVENTS_MAX } from '../../registry/raft/sim/cluster.js';
import { formatFailure, runSeed, runSeeds } from '../../registry/raft/sim/run.js';

const CLEAN_SEEDS = 300;

describe('raft sim — safety and liveness over many seeds', () => {
  it(`runs ${CLEAN_SEEDS} seeds clean`, () => {
    const { clean, failures } = runSeeds(1, CLEAN_SEEDS);
    expect(failures.map(formatFailure)).toEqual([]);
    expect(clean).toBe(CLEAN_SEEDS);
  });

  it('exercises the system: entries applied, reads checked, messages delivered', () => {
    let applied = 0;
    let reads = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const result = runSeed(seed);
      expect(result.ok).toBe(true);
      applied += result.applied;
      reads += result.reads;
    }
    expect(applied).toBeGreaterThan(500);
    expect(reads).toBeGreaterThan(50);
  });

  it('runs clean with 3 and with 5 members forced', () => {
    for (const size of [3, 5] as const) {
      const { failures } = runSeeds(10_000, 40, { size });
      expect(failures.map(formatFailure)).toEqual([]);
    }
  });
});

describe('raft sim — reproducible failures', () => {
  it('the same seed gives the same run, and a failure carries seed and trace', () => {
    const options = { bugs: { skipLogCheckInVote: true } };
    let seed = 1;
    while (runSeed(seed, options).ok) seed++;
    const first = runSeed(seed, options);
    const second = runSeed(seed, options);
    expect(first.ok).toBe(false);
    expect(second).toEqual(first);
    expect(first.trace.length).toBeGreaterThan(0);
    expect(first.trace.length).toBeLessThanOrEqual(TRACE_EVENTS_MAX);
    expect(formatFailure(first)).toContain(`seed ${seed} FAILED`);
    expect(runSeed(seed + 7)).toEqual(runSeed(seed + 7));
  });
});
