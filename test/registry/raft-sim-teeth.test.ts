// The simulator has teeth: for each deliberate bug (the test-only `bugs` flags of the core, and
// the driver's send-before-persist), scanning seeds from 1 finds, within SEEDS_MAX seeds, a run
// in which the safety checker itself throws a SafetyViolation naming the invariant it broke.
// A liveness failure, an assertion inside the core or a harness error does not count as a catch:
// only the checker's verdict does. The same seed without the bug runs clean, so the bug, not the
// seed, broke it. A simulator that could not catch these would prove nothing about the core.
import { describe, expect, it } from 'vitest';
import type { RaftBugs } from '../../registry/raft/index.js';
import { SAFETY_INVARIANTS } from '../../registry/raft/sim/checker.js';
import { type SeedResult, runSeed } from '../../registry/raft/sim/run.js';

const SEEDS_MAX = 2_000;

/** The first seed whose run the safety checker rejects (other failures do not count). */
function firstSafetyViolation(bugs: RaftBugs): SeedResult | null {
  for (let seed = 1; seed <= SEEDS_MAX; seed++) {
    const result = runSeed(seed, { bugs });
    if (result.failure === 'safety') return result;
  }
  return null;
}

/** The six deliberate bugs of issue 4, then the ones added since (each a past or possible mistake). */
const BUGS: readonly (keyof RaftBugs)[] = [
  'commitOldTermByCounting',
  'forgetVote',
  'sendBeforePersist',
  'skipLogCheckInVote',
  'applyBeyondCommit',
  'skipOwnTermBeforeConfChange',
  'snapshotMatchAcksLastIndex',
  'leaderCountsUnpersisted',
  'serveReadsUnconfirmed',
  'anyRequesterConfirmsRead',
];

/** A guard against a hung scan, not a speed requirement: scans take seconds to tens of seconds. */
const SCAN_TIMEOUT_MS = 180_000;

describe('raft sim teeth — each deliberate bug is caught by a safety invariant', () => {
  for (const bug of BUGS) {
    it(`${bug}: a SafetyViolation within ${SEEDS_MAX} seeds, and the seed is clean without the bug`, () => {
      const failure = firstSafetyViolation({ [bug]: true });
      expect(failure, `${bug} was not caught by the safety checker`).not.toBeNull();
      if (failure === null) return;
      expect(SAFETY_INVARIANTS).toContain(failure.invariant);
      expect(failure.reason).toMatch(/^[a-z ]+: /);
      expect(failure.nodes.length).toBeGreaterThan(0);
      expect(failure.trace.length).toBeGreaterThan(0);
      const clean = runSeed(failure.seed);
      expect(clean.failure).toBeNull();
    }, SCAN_TIMEOUT_MS);
  }
});
