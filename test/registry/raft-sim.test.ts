// The Raft simulator against the correct core: a few hundred seeds (3 and 5 members, every fault
// profile) run clean through the safety checker and reach liveness after healing; a run is a pure
// function of its seed (same seed, same trace); and a failure report names the seed and carries
// a minimized trace. Teeth (the simulator catching deliberate bugs) are in raft-sim-teeth.test.ts.
import { describe, expect, it } from 'vitest';
import {
  MINIMIZE_TRIALS_MAX,
  TRACE_WHOLE_EVENTS_MAX,
  formatEvent,
  formatFailure,
  formatSuppression,
  involvedEvents,
  minimizeFailure,
  parseSuppression,
} from '../../registry/raft/sim/minimize.js';
import { type SeedResult, runSeed, runSeeds } from '../../registry/raft/sim/run.js';
import { appliedData, elect, testCluster, watchMessages } from '../../registry/raft/sim/harness.js';
import type { Message } from '../../registry/raft/index.js';

const CLEAN_SEEDS = 300;
const SEEDS_SCANNED_MAX = 500;

describe('raft sim — safety and liveness over many seeds', () => {
  it(`runs ${CLEAN_SEEDS} seeds clean`, () => {
    const { clean, failures } = runSeeds(1, CLEAN_SEEDS);
    expect(failures.map((failure) => formatFailure(failure))).toEqual([]);
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
      expect(failures.map((failure) => formatFailure(failure))).toEqual([]);
    }
  });
});

describe('raft sim — healed links deliver in order', () => {
  /** 40 entries through one-entry appends, 16 in flight, over a network that delays 0–3 ticks. */
  function replicate(ordered: boolean): { rejects: number; applied: unknown[][] } {
    const cluster = testCluster({ raft: { messageEntriesMax: 1, inflightMessagesMax: 16 }, seed: 7 });
    elect(cluster, 'n1');
    const seen: Message[] = watchMessages(cluster);
    cluster.faults = { lossProbability: 0, duplicateProbability: 0, delayTicksMin: 0, delayTicksMax: 3, ordered };
    for (let k = 0; k < 40; k++) cluster.propose('n1', `e${k}`);
    for (let tick = 0; tick < 200; tick++) {
      cluster.completeWrites();
      cluster.deliverDue();
      cluster.tickAll();
      cluster.now++;
    }
    const rejects = seen.filter((message) => message.type === 'append_response' && message.reject).length;
    return { rejects, applied: ['n1', 'n2', 'n3'].map((id) => appliedData(cluster, id)) };
  }

  it('an ordered link never shows a follower a gap; an unordered one does (the fault healing removes)', () => {
    const expected = Array.from({ length: 40 }, (_, k) => `e${k}`);
    const ordered = replicate(true);
    expect(ordered.rejects).toBe(0);
    for (const applied of ordered.applied) expect(applied.filter((data) => typeof data === 'string' && data.startsWith('e'))).toEqual(expected);
    const unordered = replicate(false);
    expect(unordered.rejects).toBeGreaterThan(0);
    for (const applied of unordered.applied) expect(applied.filter((data) => typeof data === 'string' && data.startsWith('e'))).toEqual(expected);
  });

  it('seeds whose liveness phase a long backlog in one-entry appends used to outlast (healed links still reordering) run clean', () => {
    // (Healed links are ordered only where appends carry one entry; see livenessPhase.)
    // Found scanning 20,000 3-member seeds from 700,001 and 10,000 5-member ones from 900,001:
    // ~250 entries behind, 16 one-entry appends in flight, each window's appends shuffled, so a
    // follower accepted one or two per round trip, and the leader's no-op of its term (behind
    // the backlog) committed after the 400-tick bound.
    expect(runSeed(706194).ok).toBe(true);
    expect(runSeed(901829, { size: 5 }).ok).toBe(true);
  });
});

describe('raft sim — reproducible failures', () => {
  const options = { bugs: { forgetVote: true } };
  function firstFailure(): SeedResult {
    for (let seed = 1; seed <= SEEDS_SCANNED_MAX; seed++) {
      const result = runSeed(seed, options);
      if (result.failure === 'safety') return result;
    }
    throw new Error(`no failing seed within ${SEEDS_SCANNED_MAX}`);
  }

  it('the same seed gives the same run: the whole trace, event by event', () => {
    // Proves a failing seed replays exactly: every event of the run (not only its tail), the
    // action numbers, the reason and the counters are equal on a second run.
    const first = firstFailure();
    const second = runSeed(first.seed, options);
    expect(first.trace.length).toBeGreaterThan(20);
    expect(first.traceDropped).toBe(0);
    expect(second.trace).toEqual(first.trace);
    expect(second).toEqual(first);
    expect(runSeed(first.seed + 7)).toEqual(runSeed(first.seed + 7));
  });

  it('a failure is minimized to a shorter run that fails the same way and replays exactly', () => {
    // Proves the minimization is real: the minimized run breaks the same invariant with fewer
    // events and actions, re-running its options reproduces it event for event, and the report
    // names the seed, the invariant and a replay command whose --suppress parses back.
    const failure = firstFailure();
    const minimized = minimizeFailure(failure, options);
    expect(minimized.trials).toBeLessThanOrEqual(MINIMIZE_TRIALS_MAX);
    expect(minimized.result.invariant).toBe(failure.invariant);
    expect(minimized.result.trace.length).toBeLessThan(failure.trace.length);
    expect(minimized.result.actions.length).toBeLessThan(failure.actions.length);
    expect(runSeed(failure.seed, minimized.options)).toEqual(minimized.result);
    const suppress = minimized.options.suppress;
    expect(suppress).toBeDefined();
    if (suppress === undefined) return;
    expect(parseSuppression(formatSuppression(suppress))).toEqual({ ...suppress, keep: suppress.keep === null ? null : [...suppress.keep].sort((a, b) => a - b) });
    const report = formatFailure(failure, options, minimized);
    expect(report).toContain(`seed ${failure.seed} FAILED (safety, ${failure.invariant})`);
    expect(report).toContain(`--seed ${failure.seed} --suppress '${formatSuppression(suppress)}'`);
    for (const event of minimized.result.trace.slice(-5)) expect(report).toContain(formatEvent(event));
  });

  it('a long trace is cut to the events of the members involved, and says so', () => {
    // Proves the report filters honestly: for a run longer than TRACE_WHOLE_EVENTS_MAX it
    // prints only events tagged with the violating members or with none, and counts the rest.
    const failure = firstFailure();
    const events = involvedEvents(failure.trace, failure.nodes);
    for (const event of events) {
      expect(event.nodes.length === 0 || event.nodes.some((node) => failure.nodes.includes(node))).toBe(true);
    }
    const long = { ...failure, trace: Array.from({ length: 3 }, () => failure.trace).flat() };
    expect(long.trace.length).toBeGreaterThan(TRACE_WHOLE_EVENTS_MAX);
    const report = formatFailure(long, options);
    expect(report).toContain(`involving ${[...new Set(failure.nodes)].join(', ')}`);
    expect(report).toContain(`${involvedEvents(long.trace, long.nodes).length} of ${long.trace.length}`);
  });

  it('refuses a malformed --suppress argument with a one-line error', () => {
    expect(() => parseSuppression('kinds=floods')).toThrow(/unknown kind floods/);
    expect(() => parseSuppression('keep=9-3')).toThrow(/bad action range/);
    expect(() => parseSuppression('drop=1')).toThrow(/expected kinds=/);
  });
});
