// The harness has teeth, through the CLI: nodes started with the TEST-ONLY unsafe mode
// `early-ack` acknowledge a write as soon as it is appended to their log, with the answer of a
// speculative replica of that log — right whenever the entry commits, so the only lie left is a
// cut-off leader acknowledging a write that never commits. `JEPSEN_LITE_UNSAFE=1 jepsen-lite
// run --unsafe early-ack` with the leader isolated (partition-leader; a 100 ms tick widens the
// window before the cut-off leader steps down; one client per name, so the writes it
// acknowledges are new registrations) must report it: the acknowledged-commits checker fails,
// naming writes acknowledged at a revision the group's committed history gives to something
// else (or nothing) — the writes of clients on a leader a partition cut off — exit
// code 1, "FAIL" first on stdout, and every process stopped. (The other checkers need a later
// read to contradict the lie; the owner's own later operations, refused or timed out, can
// explain a vanished name to them. Whether they also fail is not what this proves.)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairOperations, readHistory } from '../../jepsen-lite/history.js';
import type { RunResults } from '../../jepsen-lite/results.js';
import { type CliResult, REAL_RUN_TIMEOUT_MS, alive, runCli, withRealRunSlot } from './runner-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'jepsen-lite-early-ack-'));
const outDir = join(root, 'run');
let cli: CliResult;
let results: RunResults;

beforeAll(async () => {
  const args = ['run', '--unsafe', 'early-ack', '--nodes', '3', '--time', '10', '--rate', '40', '--concurrency', '9', '--clients-per-name', '1', '--ops-per-name', '100'];
  args.push('--nemesis', 'partition-leader', '--nemesis-interval', '3', '--tick-ms', '100', '--op-timeout', '1000', '--settle', '1', '--singletons', '0', '--seed', '1', '--no-progress', '--out', outDir);
  cli = await withRealRunSlot(() => runCli(args, { env: { JEPSEN_LITE_UNSAFE: '1' }, timeoutMs: 120_000 }));
  results = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as RunResults;
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => {
  if (cli?.code === 1) rmSync(root, { recursive: true, force: true });
  else process.stderr.write(`jepsen-lite early-ack run kept: ${outDir}\n${cli?.stdout ?? ''}\n`);
});

describe('runner teeth — unsafe early-ack, through the CLI', () => {
  it('runner teeth — early-ack: registrations the cut-off leader acknowledged are reported as never committed', async () => {
    const { acknowledgedCommits } = results.checkers;
    expect(acknowledgedCommits.verdict).toBe('fail');
    expect(acknowledgedCommits.uncommitted.length).toBeGreaterThan(0);
    for (const message of acknowledgedCommits.uncommitted) expect(message).toMatch(/acknowledged at revision \d+ of group jepsen \(history line \d+\) never committed: at revision \d+ the committed history has /);
    // The lies are the cut-off leader's: each write's owner lives on a node that a partition
    // isolated as leader (in a group of 3 an entry a follower appended is kept by the new
    // leader), and some were told while it was cut off (others just before the cut or just
    // after the heal, before it learned it was deposed).
    const operations = pairOperations(await readHistory(join(outDir, 'history.jsonl')));
    const isolations = results.faults.map((fault) => ({ node: /isolated leader: \[(n\d+)\]/.exec(fault.description)?.[1], from: fault.startMs, to: fault.endMs as number }));
    const lies = acknowledgedCommits.uncommitted.map((message) => {
      const line = Number(/history line (\d+)/.exec(message)?.[1]);
      const operation = operations.find((candidate) => candidate.completeLine === line);
      return { node: /<(n\d+)@/.exec(operation?.input ?? '')?.[1], answeredMs: (operation?.completeTime ?? 0) / 1e6 };
    });
    for (const lie of lies) expect(isolations.map((isolation) => isolation.node)).toContain(lie.node);
    expect(lies.some((lie) => isolations.some((isolation) => isolation.node === lie.node && isolation.from <= lie.answeredMs && lie.answeredMs <= isolation.to))).toBe(true);
  });

  it('runner teeth — the run exits 1, says FAIL first, and stops its processes', () => {
    expect(cli.code).toBe(1);
    expect(cli.stdout.split('\n')[0]).toMatch(/^FAIL: \d+ operations, \d+ faults, seed 1$/);
    expect(cli.stdout).toContain('re-run: JEPSEN_LITE_UNSAFE=1 npx jepsen-lite run');
    expect(Object.values(results.nodes).flatMap((node) => node.pids).filter(alive)).toEqual([]);
  });
});
