// A real run under a SIGSTOP/SIGCONT pause of the leader, with the singleton workload (3 keys).
// Seed 11 pauses the leader for about 5 s — longer than an election and than a singleton lease
// plus its drift budget. The group must move on while the leader is frozen, and the paused
// leader must not keep acting as leader after it resumes: once it runs again, the running
// nodes agree on a leader other than it, and every linearizable read — including those served
// through the resumed node — checks out. The paused leader owns singletons: a paused instance
// is alive and keeps its token, and once its node resumes it must stop before it acts, its
// lease having expired; results.json and report.html show each such instance stopping right
// after the SIGCONT, and the singleton checker (which fails an instance that runs on) passes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESUME_STOP_GRACE_NS } from '../../jepsen-lite/checker/singletons.js';
import { PASSED, REAL_RUN_TIMEOUT_MS, type SmallRun, passedChecks, smallRun } from './runner-helpers.js';

let run: SmallRun;

beforeAll(async () => {
  run = await smallRun({ nemesis: ['pause'], timeSeconds: 10, nemesisIntervalSeconds: 9, singletonKeys: 3, seed: 11 });
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

  it('pause — the paused leader\'s singletons, past their lease, stopped right after the SIGCONT; the report shows it', () => {
    const { singletons } = run.outcome.results.checkers;
    if (singletons.verdict === 'not-run') throw new Error(`the singleton checker did not run: ${singletons.reason}`);
    expect(singletons.verdict).toBe('pass');
    const mustStop = singletons.paused.filter((paused) => paused.mustStop);
    expect(mustStop.length).toBeGreaterThan(0);
    for (const paused of mustStop) {
      expect(paused.outlivedLease).toBe(true);
      expect(paused.ended).toBe('stop (lease_expired)');
      expect(paused.endedAfterResumeMs).not.toBeNull();
      expect(paused.endedAfterResumeMs as number).toBeLessThanOrEqual(RESUME_STOP_GRACE_NS / 1e6);
    }
    const html = readFileSync(join(run.outcome.outDir, 'report.html'), 'utf8');
    expect(html).toContain('Singletons paused while they ran');
    expect(html).toContain('stop (lease_expired)');
  });
});
