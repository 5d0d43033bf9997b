// report.html for a long run: 300 000 history events (a long run at a few hundred ops/s) render
// without a RangeError (no argument spreading over every event), the charts draw an even sample
// of at most CHART_MARKS_MAX operations and say so, the verdict still comes first, and every
// text from the run is escaped. Built from a hand-made record of a run (no processes).
import { describe, expect, it } from 'vitest';
import type { LinearizabilityReport, LostRegistrationReport } from '../../jepsen-lite/checker/index.js';
import type { Cluster } from '../../jepsen-lite/cluster.js';
import type { HistoryEvent } from '../../jepsen-lite/history.js';
import type { Nemesis } from '../../jepsen-lite/nemesis.js';
import { RUN_DEFAULTS, type RunOptions } from '../../jepsen-lite/options.js';
import { CHART_MARKS_MAX, evenSample, maxOf, renderReport } from '../../jepsen-lite/report.js';
import { resultsOf } from '../../jepsen-lite/results.js';
import type { Executed } from '../../jepsen-lite/run.js';
import type { Recorder } from '../../jepsen-lite/workload.js';

const OPERATIONS = 150_000;
const CLIENTS = 10;

function longRun(): { executed: Executed; options: RunOptions } {
  const events: HistoryEvent[] = [];
  const processClient = new Map<number, number>();
  for (let client = 0; client < CLIENTS; client++) processClient.set(client, client);
  let time = 0;
  for (let index = 0; index < OPERATIONS; index++) {
    const process = index % CLIENTS;
    const name = `jl-t${process}-g${Math.floor(index / 2_000)}`;
    events.push({ process, type: 'invoke', f: 'whereis', name, value: null, time: (time += 1_000) });
    events.push({ process, type: 'ok', f: 'whereis', name, value: index % 3 === 0 ? '<a@127.0.0.1#1.1>' : null, time: (time += 3_000_000) });
  }
  const recorder = { events, processClient, clock: { startedAt: new Date(0) } } as unknown as Recorder;
  const nemesis = {
    windows: [{ index: 0, kind: 'partition', description: 'halves: [n1 <script>] | [n2]', nodes: ['n1@127.0.0.1'], startNs: 1e9, endNs: 5e9, leaderBefore: null, problems: [] }],
  } as unknown as Nemesis;
  const linearizability: LinearizabilityReport = { verdict: 'pass', namesChecked: 1, operationsChecked: OPERATIONS, steps: 1, failures: [], unknownNames: [] };
  const lostRegistrations: LostRegistrationReport = { verdict: 'pass', namesChecked: 0, lost: [], excused: { removed: 0, ambiguous: 0 } };
  const executed: Executed = {
    recorder,
    nemesis,
    owners: [],
    removals: [],
    registryComplete: true,
    namesUsed: [],
    finalReads: new Map(),
    healthyAfterHeal: true,
    workloadNs: { start: 0, end: time },
    finalHealNs: time,
    settledNs: time,
    doneNs: time,
    linearizability,
    lostRegistrations,
    acknowledged: { verdict: 'pass', checked: 0, confirmed: 0, undetermined: [], unanswered: 0, uncommitted: [] },
    groups: ['jepsen'],
    slots: null,
    checkNotes: [],
  };
  return { executed, options: { ...RUN_DEFAULTS, seed: 3, outDir: '/tmp/long' } };
}

describe('report — long runs', () => {
  it('report — 300 000 events render, charts are sampled and say so, the verdict comes first', () => {
    const { executed, options } = longRun();
    const cluster = { pids: () => ({}), logPaths: () => ({}) } as unknown as Cluster;
    const results = resultsOf(options, { ...executed, singletons: { ran: false, reason: 'none' } }, cluster, 'npx jepsen-lite run --seed 3');
    const html = renderReport(results, executed);
    expect(html.indexOf('PASS')).toBeLessThan(html.indexOf('<svg'));
    expect(html).toContain(`${CHART_MARKS_MAX} of ${OPERATIONS} operations are drawn`);
    const bars = html.match(/<rect [^>]*height="7"/g) ?? [];
    expect(bars.length).toBeLessThanOrEqual(CHART_MARKS_MAX);
    expect(bars.length).toBeGreaterThan(CHART_MARKS_MAX / 2);
    expect(html).toContain('[n1 &lt;script&gt;]');
    expect(html).not.toContain('<script>');
  });

  it('results — the run\'s verdict includes the singleton checker and the acknowledged-commits checker', () => {
    const { executed, options } = longRun();
    const cluster = { pids: () => ({}), logPaths: () => ({}) } as unknown as Cluster;
    const singletonReport = { verdict: 'fail' as const, keysSeen: 1, instances: [], violations: [], recoveryNs: {}, fencedOverlaps: 0, fencedOverlapNsMax: 0, pausedInstances: [] };
    const withSingletons = resultsOf(options, { ...executed, singletons: { ran: true, keys: ['k'], report: singletonReport } }, cluster, 'x');
    expect({ verdict: withSingletons.verdict, singletons: withSingletons.checkers.singletons.verdict }).toEqual({ verdict: 'fail', singletons: 'fail' });
    const unacknowledged = { ...executed.acknowledged, verdict: 'unknown' as const, undetermined: ['register … beyond the watch'] };
    const withUnknown = resultsOf(options, { ...executed, acknowledged: unacknowledged, singletons: { ran: false, reason: 'none' } }, cluster, 'x');
    expect(withUnknown.verdict).toBe('unknown');
    expect(resultsOf(options, { ...executed, singletons: { ran: false, reason: 'none' } }, cluster, 'x').verdict).toBe('pass');
  });

  it('report — maxOf and evenSample handle lists far past the argument limit', () => {
    const many = Array.from({ length: 500_000 }, (_, index) => index % 1_000);
    expect(maxOf(many, 1)).toBe(999);
    expect(maxOf([], 1)).toBe(1);
    const sample = evenSample(many, 10);
    expect(sample).toHaveLength(10);
    expect(evenSample([1, 2, 3], 10)).toEqual([1, 2, 3]);
  });
});
