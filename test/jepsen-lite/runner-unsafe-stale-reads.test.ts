// The harness has teeth: nodes started with the TEST-ONLY unsafe mode `stale-reads` (linearizable whereis answered from the local replica: a minority node reads a name the majority has since changed).
// A short real run with the matching nemesis must report the anomaly: the linearizability
// checker fails with a named non-linearizable window, and the run's verdict is fail (exit 1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_RUN_TIMEOUT_MS, type SmallRun, allPids, alive, smallRun } from './runner-helpers.js';

let run: SmallRun;

beforeAll(async () => {
  run = await smallRun({ unsafe: 'stale-reads', nemesis: ['partition-halves'], timeSeconds: 12, nemesisIntervalSeconds: 6, ratePerSecond: 40, seed: 1 }, 'fail');
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => run?.cleanup());

describe('runner teeth — unsafe stale-reads', () => {
  it('runner teeth — stale-reads is reported as not linearizable', () => {
    const { linearizability } = run.outcome.results.checkers;
    expect(linearizability.verdict).toBe('fail');
    expect(linearizability.failures.length).toBeGreaterThan(0);
    expect(linearizability.failures[0]?.explanation.join('\n')).toMatch(/no valid order/);
  });

  it('runner teeth — the run fails and exits non-zero, and stops its processes', () => {
    expect(run.outcome.verdict).toBe('fail');
    expect(run.outcome.exitCode).toBe(1);
    expect(allPids(run.outcome).filter(alive)).toEqual([]);
  });
});
