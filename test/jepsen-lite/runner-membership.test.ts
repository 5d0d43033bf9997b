// A real run with membership changes during the workload: seed 1 has a fresh node join, a
// member leave (acknowledged, then its process stopped), and another join. The group keeps its
// voters and the names stay linearizable; a correct cluster passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSED, REAL_RUN_TIMEOUT_MS, type SmallRun, passedChecks, smallRun } from './runner-helpers.js';

let run: SmallRun;

beforeAll(async () => {
  run = await smallRun({ nemesis: ['membership'], timeSeconds: 10, nemesisIntervalSeconds: 3.5, seed: 1 });
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => run?.cleanup());

describe('runner — join and leave during the workload', () => {
  it('membership — nodes joined and one left, each without a problem', () => {
    const { faults, nodes } = run.outcome.results;
    expect(faults.map((fault) => fault.description)).toEqual(['a fresh node joins', expect.stringMatching(/^n\d leaves$/), 'a fresh node joins']);
    expect(faults.every((fault) => fault.problems.length === 0)).toBe(true);
    expect(Object.keys(nodes)).toEqual(['n1@127.0.0.1', 'n2@127.0.0.1', 'n3@127.0.0.1', 'n4@127.0.0.1', 'n5@127.0.0.1']);
    expect(faults[0]?.nodes).toEqual(['n4@127.0.0.1']);
  });

  it('membership — the run passes every checker and exits 0', () => {
    expect(passedChecks(run.outcome)).toEqual(PASSED);
  });
});
