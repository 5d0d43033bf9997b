// A real run on 5 nodes under the two partition shapes that need 5 to be interesting: a
// majority ring (every node sees a majority, no two the same one) and a bridge (two halves
// that only one node connects). Seed 4 cuts a ring, then a bridge. A correct cluster passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSED, REAL_RUN_TIMEOUT_MS, type SmallRun, passedChecks, smallRun } from './runner-helpers.js';

let run: SmallRun;

beforeAll(async () => {
  run = await smallRun({ nodes: 5, nemesis: ['partition-ring', 'partition-bridge'], timeSeconds: 10, nemesisIntervalSeconds: 4, concurrency: 10, clientsPerName: 5, seed: 4 });
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => run?.cleanup());

describe('runner — majority ring and bridge partitions on 5 nodes', () => {
  it('partitions — both shapes were cut, each cutting every node off from someone (ring) or all but the bridge (bridge)', () => {
    const { faults } = run.outcome.results;
    expect(faults.map((fault) => fault.description.split(':')[0])).toEqual(['majority ring', 'bridge']);
    expect(faults[0]?.nodes).toHaveLength(5);
    expect(faults[1]?.nodes).toHaveLength(4);
    expect(faults.every((fault) => fault.problems.length === 0)).toBe(true);
  });

  it('partitions — the run passes every checker and exits 0', () => {
    expect(passedChecks(run.outcome)).toEqual(PASSED);
    expect(run.outcome.results.operations.counts.register?.ok ?? 0).toBeGreaterThan(5);
  });
});
