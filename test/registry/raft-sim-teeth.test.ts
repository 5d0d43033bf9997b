// The simulator has teeth: for each deliberate bug (test-only `bugs` flags of the core, and the
// driver's send-before-persist), scanning seeds from 1 finds a seed whose run breaks a safety
// property (not merely liveness) within SEEDS_MAX seeds. A simulator that could not catch these
// would prove nothing about the correct core.
import { describe, expect, it } from 'vitest';
import type { RaftBugs } from '../../registry/raft/index.js';
import { runSeed, type SeedResult } from '../../registry/raft/sim/run.js';

const SEEDS_MAX = 2_000;

function firstSafetyFailure(bugs: RaftBugs): SeedResult | null {
  for (let seed = 1; seed <= SEEDS_MAX; seed++) {
    const result = runSeed(seed, { bugs });
    if (!result.ok && !(result.reason ?? '').startsWith('liveness')) return result;
  }
  return null;
}

const BUGS: (keyof RaftBugs)[] = [
  'commitOldTermByCounting',
  'forgetVote',
  'sendBeforePersist',
  'skipLogCheckInVote',
  'applyBeyondCommit',
  'skipOwnTermBeforeConfChange',
];

describe('raft sim teeth — each deliberate bug is caught', () => {
  for (const bug of BUGS) {
    it(`finds a failing seed for ${bug} within ${SEEDS_MAX} seeds`, () => {
      const failure = firstSafetyFailure({ [bug]: true });
      expect(failure, `${bug} was not caught`).not.toBeNull();
      expect(failure?.trace.length).toBeGreaterThan(0);
      // The same seed without the bug is clean: the bug, not the seed, broke it.
      expect(runSeed(failure?.seed ?? 0).ok).toBe(true);
    });
  }
});
