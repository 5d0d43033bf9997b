// The harness has teeth: nodes started with the TEST-ONLY unsafe mode `early-ack` (a registration acknowledged before it commits: two owners both told "ok" for one name, or an ok lost in a partition).
// A short real run with the matching nemesis must report the anomaly: the linearizability
// checker fails with a named non-linearizable window, and the run's verdict is fail (exit 1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_RUN_TIMEOUT_MS, type SmallRun, allPids, alive, smallRun } from './runner-helpers.js';

let run: SmallRun;

beforeAll(async () => {
  run = await smallRun({ unsafe: 'early-ack', nemesis: ['partition'], timeSeconds: 12, seed: 2 });
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => run?.cleanup());

describe('runner teeth — unsafe early-ack', () => {
  it('runner teeth — early-ack is reported as not linearizable', () => {
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
