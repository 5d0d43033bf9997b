// A real run where nodes lose their disks: seed 1 kills the leader, deletes its data directory
// and starts it again under its name, then does the same to another node. Each comes back as a
// new Raft store, which the group must not count as the voter it was (its votes and entries
// are gone): the leader removes the old voter, admits the new store as a learner and promotes
// it. The names stay linearizable, nothing acknowledged is lost, and the group ends healthy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSED, REAL_RUN_TIMEOUT_MS, type SmallRun, passedChecks, smallRun } from './runner-helpers.js';

let run: SmallRun;

beforeAll(async () => {
  run = await smallRun({ nemesis: ['wipe'], timeSeconds: 10, nemesisIntervalSeconds: 4, seed: 1 });
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => run?.cleanup());

function logOf(short: string): string {
  return readFileSync(join(run.outcome.outDir, 'nodes', short, 'node.log'), 'utf8');
}

describe('runner — nodes whose data directory is lost', () => {
  it('wipe — the wiped nodes came back as new stores, admitted after their old voters were removed', () => {
    const { faults, nodes } = run.outcome.results;
    expect(faults.length).toBeGreaterThanOrEqual(2);
    for (const fault of faults) {
      expect(fault.description).toMatch(/^kill -9 and wipe the data of (leader|minority): n\d$/);
      expect(fault.problems).toEqual([]);
    }
    const wiped = [...new Set(faults.flatMap((fault) => fault.nodes))];
    const all = ['n1', 'n2', 'n3'].map(logOf).join('\n');
    for (const node of wiped) {
      const short = node.split('@')[0] as string;
      expect(nodes[node]?.pids.length).toBeGreaterThanOrEqual(2);
      expect(logOf(short)).toMatch(/admitted this member's Raft store [0-9a-f]{16}/);
      expect(all).toMatch(new RegExp(`${short}@127\\.0\\.0\\.1 came back with a new Raft store .*removing it from the voters`));
    }
  });

  it('wipe — the run passes every checker and exits 0', () => {
    expect(passedChecks(run.outcome)).toEqual(PASSED);
  });
});
