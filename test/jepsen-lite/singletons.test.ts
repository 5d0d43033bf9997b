// The singleton checker on hand-made singletons.jsonl events that must pass and must fail:
// clean handovers (including an old instance fenced by a newer token while it still runs),
// two overlapping instances with valid tokens, tokens that go backwards, unmatched stops,
// kills that end instances, and liveness after the final heal (with and without a bound).
import { describe, expect, it } from 'vitest';
import { checkSingletons, formatSingletonViolations } from '../../jepsen-lite/checker/index.js';
import { LOG_CLOCK_SLACK_NS } from '../../jepsen-lite/checker/singletons.js';
import type { SingletonEvent } from '../../jepsen-lite/history.js';
import { isFedError } from '../../runtime/index.js';

function start(key: string, node: string, token: number, time: number): SingletonEvent {
  return { type: 'start', key, node, token, time };
}
function stop(key: string, node: string, token: number, time: number): SingletonEvent {
  return { type: 'stop', key, node, token, time };
}

const HEALED = { expectedKeys: ['k'], finalHealTime: 100 } as const;

describe('singletons — safety', () => {
  it('singletons — a handover that stops the old instance first passes', () => {
    const report = checkSingletons([start('k', 'a', 5, 10), stop('k', 'a', 5, 40), start('k', 'b', 9, 40)], HEALED);
    expect(report.verdict).toBe('pass');
    expect(report.recoveryNs).toEqual({ k: 0 });
    expect(report.fencedOverlaps).toBe(0);
  });

  it('singletons — an old instance fenced by a higher token may run on, and is reported', () => {
    const report = checkSingletons([start('k', 'a', 5, 10), start('k', 'b', 9, 30), stop('k', 'a', 5, 50)], HEALED);
    expect(report.verdict).toBe('pass');
    expect(report.fencedOverlaps).toBe(1);
    expect(report.fencedOverlapNsMax).toBe(20);
  });

  it('singletons — two overlapping instances with valid tokens fail', () => {
    const report = checkSingletons([start('k', 'a', 7, 10), start('k', 'b', 7, 20), stop('k', 'b', 7, 30)], HEALED);
    expect(report.verdict).toBe('fail');
    const overlap = report.violations.find((violation) => violation.kind === 'overlap');
    expect(overlap?.instances.map((instance) => instance.node)).toEqual(['a', 'b']);
    expect(formatSingletonViolations(report)).toContain('both held a valid token from 20');
  });

  it('singletons — a token lower than one already started fails', () => {
    const report = checkSingletons([start('k', 'a', 9, 10), stop('k', 'a', 9, 20), start('k', 'b', 5, 30)], {
      expectedKeys: [],
      finalHealTime: 0,
    });
    expect(report.verdict).toBe('fail');
    expect(report.violations.map((violation) => violation.kind)).toEqual(['token_order']);
  });

  it('singletons — a stop that matches no running instance fails', () => {
    const report = checkSingletons([start('k', 'a', 3, 10), stop('k', 'b', 3, 20)], HEALED);
    expect(report.violations.map((violation) => violation.kind)).toContain('unmatched_stop');
  });

  it('singletons — events are ordered by time, stops before starts at the same instant', () => {
    const events = [start('k', 'b', 9, 40), stop('k', 'a', 5, 40), start('k', 'a', 5, 10)];
    const report = checkSingletons(events, HEALED);
    expect(report.verdict).toBe('pass');
  });

  it('singletons — keys are independent', () => {
    const report = checkSingletons([start('x', 'a', 4, 10), start('y', 'b', 4, 10)], { expectedKeys: ['x', 'y'], finalHealTime: 5 });
    expect(report.verdict).toBe('pass');
    expect(report.keysSeen).toBe(2);
  });
});

describe('singletons — liveness after the final heal', () => {
  it('singletons — a key with no running instance at the check fails', () => {
    const report = checkSingletons([start('k', 'a', 5, 10), stop('k', 'a', 5, 60)], { expectedKeys: ['k', 'never'], finalHealTime: 50 });
    expect(report.violations.map((violation) => `${violation.kind}:${violation.key}`)).toEqual(['not_running:k', 'not_running:never']);
    expect(report.recoveryNs).toEqual({ k: null, never: null });
  });

  it('singletons — an instance on a killed node no longer counts as running', () => {
    const events = [start('k', 'a', 5, 10)];
    expect(checkSingletons(events, HEALED).verdict).toBe('pass');
    const killed = checkSingletons(events, { ...HEALED, nodeKills: [{ node: 'a', time: 70 }] });
    expect(killed.violations.map((violation) => violation.kind)).toEqual(['not_running']);
    expect(killed.instances[0]?.endedBy).toBe('kill');
  });

  it('singletons — recovery time is measured from the heal and held to the bound', () => {
    const events = [start('k', 'a', 5, 10), stop('k', 'a', 5, 20), start('k', 'b', 8, 400)];
    const unbounded = checkSingletons(events, { expectedKeys: ['k'], finalHealTime: 100 });
    expect(unbounded.verdict).toBe('pass');
    expect(unbounded.recoveryNs).toEqual({ k: 300 });
    const bounded = checkSingletons(events, { expectedKeys: ['k'], finalHealTime: 100, recoveryBoundNs: 200 });
    expect(bounded.violations.map((violation) => violation.kind)).toEqual(['late_recovery']);
  });

  it('singletons — a check time before the heal is refused', () => {
    let error: unknown;
    try {
      checkSingletons([], { expectedKeys: [], finalHealTime: 100, checkTime: 50 });
    } catch (caught) {
      error = caught;
    }
    expect(isFedError(error, 'badarg')).toBe(true);
  });
});

describe('singletons — paused owners', () => {
  // n1 runs token 5 from 10; its node is SIGSTOPped from 20 to 80. LEASE is the lease plus the
  // drift budget, GRACE how soon after the SIGCONT an instance that must stop has to be stopped.
  const LEASE = 40;
  const GRACE = 5;
  const paused = { ...HEALED, finalHealTime: 80, nodePauses: [{ node: 'a', from: 20, to: 80 }], leaseNs: LEASE, resumeStopGraceNs: GRACE };

  it('singletons — an owner paused past its lease that stops right after the resume passes, and the pause is reported', () => {
    const report = checkSingletons([start('k', 'a', 5, 10), stop('k', 'a', 5, 83), start('k', 'b', 9, 90)], paused);
    expect(report.verdict).toBe('pass');
    expect(report.pausedInstances.map((entry) => ({ superseded: entry.superseded, outlivedLease: entry.outlivedLease, mustStop: entry.mustStop, after: entry.endedAfterResumeNs }))).toEqual([
      { superseded: false, outlivedLease: true, mustStop: true, after: 3 },
    ]);
  });

  it('singletons — a stop logged just before the recorded resume came after it (whole-millisecond logs), and counts as at the resume', () => {
    // A stopped node does nothing: an end within LOG_CLOCK_SLACK_NS before the resume is the resume's.
    const times = { ...paused, nodePauses: [{ node: 'a', from: 20_000_000, to: 80_000_000 }], finalHealTime: 80_000_000, leaseNs: 40_000_000 };
    const report = checkSingletons([start('k', 'a', 5, 10_000_000), stop('k', 'a', 5, 80_000_000 - 400_000), start('k', 'b', 9, 90_000_000)], times);
    expect(report.verdict).toBe('pass');
    expect(report.pausedInstances.map((entry) => ({ mustStop: entry.mustStop, after: entry.endedAfterResumeNs }))).toEqual([{ mustStop: true, after: 0 }]);
    expect(LOG_CLOCK_SLACK_NS).toBeGreaterThan(400_000);
  });

  it('singletons — an owner superseded while paused that keeps running after the resume fails', () => {
    const report = checkSingletons([start('k', 'a', 5, 10), start('k', 'b', 9, 70), stop('k', 'a', 5, 120)], { ...paused, leaseNs: undefined });
    expect(report.violations.map((violation) => violation.kind)).toEqual(['ran_after_resume']);
    expect(formatSingletonViolations(report)).toContain('a higher token of its key started while it was paused, yet it ran 40 ns after the resume');
    // The overlap check alone lets it through: the higher token fenced it.
    expect(checkSingletons([start('k', 'a', 5, 10), start('k', 'b', 9, 70), stop('k', 'a', 5, 120)], HEALED).verdict).toBe('pass');
  });

  it('singletons — an owner paused past its lease that never stops fails even if nobody took over', () => {
    const report = checkSingletons([start('k', 'a', 5, 10)], paused);
    expect(report.violations.map((violation) => violation.kind)).toEqual(['ran_after_resume']);
    expect(formatSingletonViolations(report)).toContain('past its lease of 40 ns, yet it still ran at the end');
  });

  it('singletons — a node paused past the lease while it was its group\'s only member (its own quorum) may run on; superseded, it may not', () => {
    const alone = { ...paused, nodePauses: [{ node: 'a', from: 20, to: 80, alone: true }] };
    const report = checkSingletons([start('k', 'a', 5, 10)], alone);
    expect(report.verdict).toBe('pass');
    expect(report.pausedInstances.map((entry) => ({ outlivedLease: entry.outlivedLease, mustStop: entry.mustStop }))).toEqual([{ outlivedLease: false, mustStop: false }]);
    // Found by a federated run (seed 1303): g1's other member had left, and its one member, paused
    // 5.7 s against a 3.5 s lease, kept its singletons, rightly, after the SIGCONT.
    const superseded = checkSingletons([start('k', 'a', 5, 10), start('k', 'b', 9, 70), stop('k', 'a', 5, 120)], alone);
    expect(superseded.violations.map((violation) => violation.kind)).toEqual(['ran_after_resume']);
  });

  it('singletons — a pause shorter than the lease with nobody taking over lets the instance run on', () => {
    const report = checkSingletons([start('k', 'a', 5, 10)], { ...paused, nodePauses: [{ node: 'a', from: 20, to: 50 }] });
    expect(report.verdict).toBe('pass');
    expect(report.pausedInstances[0]?.mustStop).toBe(false);
  });

  it('singletons — an instance that ended during the pause (its node killed) and one on another node are not held to it', () => {
    const report = checkSingletons([start('k', 'a', 5, 10), start('j', 'b', 3, 10)], { ...paused, expectedKeys: ['j'], nodeKills: [{ node: 'a', time: 50 }] });
    expect(report.verdict).toBe('pass');
    expect(report.pausedInstances.map((entry) => [entry.instance.key, entry.endedAfterResumeNs])).toEqual([['k', null]]);
  });
});
