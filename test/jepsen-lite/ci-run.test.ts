// CI's jepsen-lite run (issue 8: "about 30 s of workload, 5 nodes, partition + kill nemeses"),
// through the built CLI exactly as a user runs it: `jepsen-lite run --nodes 5 --time 30
// --nemesis partition,kill --seed 4`. Seed 4 kills the leader, isolates the new leader while
// that node is still down (the two kinds overlap), kills a majority, and cuts a majority ring.
// A correct cluster must pass: exit code 0, "PASS" first on stdout, results.json's verdict and
// every checker, faults of both kinds, a progress line every 5 s on stderr (elapsed time, ops,
// current fault), and no process left behind. It also proves the run's records: history.jsonl
// in the format pairing into operations, registry-events.jsonl in revision order,
// report.html (verdict first, no network resources), schedule.json and singletons.jsonl. The
// run directory is kept (and its path printed) if the run fails. fedctl start runs singletons
// (--singleton, --singleton-log): the same run checks them (3 keys, their instances through the
// kills) and its verdict includes that checker; every acknowledged write is found in the
// committed history at the revision it was acknowledged with.
// The settle after the final heal is jepsen-lite's default, 5 s: a singleton whose owner was
// killed and restarted with its claim still current starts again a lease and the clock-drift
// budget (3.5 s) after the restarted manager starts, since that manager cannot know whether the
// claim's instance ever ran (registry/singleton.ts, "Restarted").
// JEPSEN_LITE_CI_SEED=<n> runs another seed.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairOperations, readHistory } from '../../jepsen-lite/history.js';
import { parseRegistryEvents } from '../../jepsen-lite/registry-events.js';
import type { RunResults } from '../../jepsen-lite/results.js';
import { detectSingletonSupport } from '../../jepsen-lite/singletons.js';
import { type CliResult, REAL_RUN_TIMEOUT_MS, alive, fedctlForTests, runCli, withRealRunSlot } from './runner-helpers.js';

const SEED = Number(process.env.JEPSEN_LITE_CI_SEED ?? 4);
const root = mkdtempSync(join(tmpdir(), 'jepsen-lite-ci-'));
const outDir = join(root, 'run');
let cli: CliResult;
let results: RunResults;
let fedctlRunsSingletons = false;
let singletonLines: string[] = [];

beforeAll(async () => {
  fedctlRunsSingletons = await detectSingletonSupport(fedctlForTests() ?? [], process.cwd());
  cli = await withRealRunSlot(() =>
    runCli(['run', '--nodes', '5', '--time', '30', '--nemesis', 'partition,kill', '--seed', String(SEED), '--settle', '5', '--out', outDir], { timeoutMs: 150_000 }),
  );
  results = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as RunResults;
  singletonLines = readFileSync(join(outDir, 'singletons.jsonl'), 'utf8').split('\n').filter((line) => line.length > 0);
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => {
  if (cli?.code === 0) rmSync(root, { recursive: true, force: true });
  else process.stderr.write(`jepsen-lite CI run kept: ${outDir}\n${cli?.stdout ?? ''}\n`);
});

describe('CI run — 30 s, 5 nodes, partition + kill, through the CLI', () => {
  it('ci run — exits 0 and says PASS first, with the report and the re-run command', () => {
    expect({ code: cli.code, first: cli.stdout.split('\n')[0] }).toEqual({ code: 0, first: expect.stringMatching(new RegExp(`^PASS: \\d+ operations, \\d+ faults, seed ${SEED}$`)) });
    expect(cli.stdout).toContain(`report: ${outDir}/report.html`);
    expect(cli.stdout).toMatch(new RegExp(`re-run: npx jepsen-lite run --nodes 5 .*--nemesis partition,kill .*--seed ${SEED}`));
  });

  it('ci run — results.json: every checker passed, faults of both kinds, real work done', () => {
    expect({
      verdict: results.verdict,
      linearizability: results.checkers.linearizability.verdict,
      lostRegistrations: results.checkers.lostRegistrations.verdict,
      acknowledgedCommits: results.checkers.acknowledgedCommits.verdict,
      recovery: results.checkers.recovery.verdict,
      registryComplete: results.registry.complete,
      notes: results.notes,
    }).toEqual({ verdict: 'pass', linearizability: 'pass', lostRegistrations: 'pass', acknowledgedCommits: 'pass', recovery: 'pass', registryComplete: true, notes: [] });
    // Every acknowledged write was answered with its revision and found there.
    const acknowledged = results.checkers.acknowledgedCommits;
    expect(acknowledged.checked).toBeGreaterThan(20);
    expect({ confirmed: acknowledged.confirmed, unanswered: acknowledged.unanswered }).toEqual({ confirmed: acknowledged.checked, unanswered: 0 });
    expect(results.options).toMatchObject({ nodes: 5, timeSeconds: 30, nemesis: ['partition', 'kill'], seed: SEED });
    expect(new Set(results.faults.map((fault) => fault.kind))).toEqual(new Set(['partition', 'kill']));
    expect(results.faults.every((fault) => fault.endMs !== null && fault.endMs > fault.startMs)).toBe(true);
    // Faults of the two kinds overlapped at least once (a partition while a node was down).
    const overlapping = results.faults.some((a) => results.faults.some((b) => a.kind !== b.kind && a.startMs < (b.endMs as number) && b.startMs < (a.endMs as number)));
    expect(overlapping).toBe(true);
    expect(results.names.finalReads).toBe(results.names.used);
    expect(results.operations.client).toBeGreaterThan(200);
    expect(results.checkers.linearizability.namesChecked).toBeGreaterThan(1);
  });

  it('ci run — the singleton workload runs (3 keys): every key ran, the checker passed, and singletons.jsonl holds the instances', () => {
    expect(fedctlRunsSingletons).toBe(true);
    const { singletons } = results.checkers;
    expect(singletons).toMatchObject({ verdict: 'pass', keys: ['jl-singleton-1', 'jl-singleton-2', 'jl-singleton-3'], violations: [] });
    if (singletons.verdict === 'not-run') throw new Error('the singleton checker did not run');
    expect(Object.keys(singletons.recoveryMs).sort()).toEqual(['jl-singleton-1', 'jl-singleton-2', 'jl-singleton-3']);
    expect(Object.values(singletons.recoveryMs).every((recovery) => recovery !== null)).toBe(true);
    expect(singletons.instances).toBeGreaterThanOrEqual(3);
    const starts = singletonLines.map((line) => JSON.parse(line) as { type: string; key: string }).filter((event) => event.type === 'start');
    expect(new Set(starts.map((event) => event.key))).toEqual(new Set(singletons.keys));
  });

  it('ci run — the progress line shows elapsed time, ops done and the current fault, every 5 s', () => {
    const progress = cli.stderr.split('\n').filter((line) => line.startsWith('['));
    const pattern = /^\[\s*(\d+\.\d)s\] ops (\d+) \(ok \d+, fail \d+, info \d+\) \| fault: (.+)$/;
    for (const line of progress) expect(line).toMatch(pattern);
    const parsed = progress.map((line) => pattern.exec(line) as RegExpExecArray);
    expect(parsed.length).toBeGreaterThanOrEqual(6);
    const elapsed = parsed.map((match) => Number(match[1]));
    const ops = parsed.map((match) => Number(match[2]));
    for (let index = 1; index < parsed.length; index++) {
      expect(elapsed[index]).toBeGreaterThan(elapsed[index - 1] as number);
      expect(ops[index]).toBeGreaterThanOrEqual(ops[index - 1] as number);
    }
    expect(parsed.some((match) => /^(partition|kill): /.test(match[3] as string))).toBe(true);
    expect(parsed.at(-1)?.[3]).toBe('healing');
  });

  it('ci run — history.jsonl is in the issue format and pairs into operations', async () => {
    const events = await readHistory(join(outDir, 'history.jsonl'));
    expect(pairOperations(events).length).toBe(results.operations.client + results.operations.finalReads);
    const first = JSON.parse(readFileSync(join(outDir, 'history.jsonl'), 'utf8').split('\n')[0] as string) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(['process', 'type', 'f', 'name', 'value', 'time']);
  });

  it('ci run — registry-events.jsonl holds the registry\'s changes in revision order; its removals are counted', () => {
    const events = parseRegistryEvents(readFileSync(join(outDir, 'registry-events.jsonl'), 'utf8'));
    expect(events.filter((event) => event.type === 'put').length).toBeGreaterThan(5);
    expect(results.registry.removals).toBe(events.filter((event) => event.type === 'delete' && event.reason !== 'unregister').length);
    expect(events.some((event) => event.type === 'gap')).toBe(false);
  });

  it('ci run — report.html puts the verdict first and loads nothing from the network; schedule and singletons are recorded', () => {
    const html = readFileSync(join(outDir, 'report.html'), 'utf8');
    expect(html.indexOf('PASS')).toBeLessThan(html.indexOf('<svg'));
    expect(html).toContain(`--seed ${SEED}`);
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(existsSync(join(outDir, 'schedule.json'))).toBe(true);
    expect(existsSync(join(outDir, 'singletons.jsonl'))).toBe(true);
  });

  it('ci run — every process it started is gone', () => {
    const pids = Object.values(results.nodes).flatMap((node) => node.pids);
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(pids.filter(alive)).toEqual([]);
  });
});
