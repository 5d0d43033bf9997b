// A real run under a SIGSTOP/SIGCONT pause of the leader (seed 1 pauses the leader for about
// 2 s, longer than an election). The group must move on while the leader is frozen, and the
// paused leader must not keep acting as leader after it resumes: once it runs again, the
// running nodes agree on a leader other than it, and every linearizable read — including
// those served through the resumed node — checks out. A correct cluster passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSED, REAL_RUN_TIMEOUT_MS, type SmallRun, passedChecks, smallRun } from './runner-helpers.js';

let run: SmallRun;

beforeAll(async () => {
  run = await smallRun({ nemesis: ['pause'], timeSeconds: 8, nemesisIntervalSeconds: 4, seed: 1 });
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => run?.cleanup());

describe('runner — SIGSTOP/SIGCONT of the leader', () => {
  it('pause — the leader was paused, and after it resumed the group named another leader', () => {
    const pauses = run.outcome.results.faults.filter((fault) => fault.kind === 'pause' && fault.leaderBefore !== null && fault.nodes.includes(fault.leaderBefore));
    expect(pauses.length).toBeGreaterThanOrEqual(1);
    for (const pause of pauses) {
      expect(pause.leaderAfter).not.toBeNull();
      expect(pause.leaderAfter).not.toBe(pause.leaderBefore);
    }
  });

  it('pause — clients kept working through the pauses and the run passes every checker', () => {
    expect(passedChecks(run.outcome)).toEqual(PASSED);
    expect(run.outcome.results.operations.counts.whereis?.ok ?? 0).toBeGreaterThan(5);
  });
});
