// A short real jepsen-lite run against a correct cluster must pass: 3 real `fedctl start`
// processes, a few seconds of workload with partitions and kill -9 (restart from the data
// directory), then heal, final reads, checkers. It also proves the run's records: history.jsonl
// reads back in the format and pairs into operations, results.json and report.html are
// written (verdict first, no network resources), the schedule and seed are recorded, and every
// process the run started is gone when it returns.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairOperations, readHistory } from '../../jepsen-lite/history.js';
import { REAL_RUN_TIMEOUT_MS, type SmallRun, allPids, alive, smallRun } from './runner-helpers.js';

let run: SmallRun;

beforeAll(async () => {
  run = await smallRun({ nemesis: ['partition', 'kill'], timeSeconds: 12, nemesisIntervalSeconds: 4, seed: 31 });
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => run?.cleanup());

describe('runner — a correct cluster under partitions and kills', () => {
  it('runner — the run passes every checker and exits 0', () => {
    const { results } = run.outcome;
    expect(results.notes).toEqual([]);
    expect(results.checkers.linearizability.verdict).toBe('pass');
    expect(results.checkers.lostRegistrations.verdict).toBe('pass');
    expect(results.checkers.recovery.healthyAfterHeal).toBe(true);
    expect(run.outcome.verdict).toBe('pass');
    expect(run.outcome.exitCode).toBe(0);
  });

  it('runner — faults happened, and clients did real work', () => {
    const { results } = run.outcome;
    expect(results.faults.length).toBeGreaterThanOrEqual(2);
    expect(results.faults.every((fault) => fault.endMs !== null && fault.endMs > fault.startMs)).toBe(true);
    // Seed 31's schedule: halves, then kill -9 of a majority (restarted from their data directories).
    expect(results.faults.map((fault) => fault.kind)).toEqual(['partition', 'kill']);
    expect(results.faults[1]?.nodes).toHaveLength(2);
    expect(allPids(run.outcome).length).toBe(5);
    const counts = results.operations.counts;
    expect(counts.register?.ok ?? 0).toBeGreaterThan(5);
    expect(counts.whereis?.ok ?? 0).toBeGreaterThan(5);
    expect(results.names.finalReads).toBe(results.names.used);
  });

  it('runner — history.jsonl is in the issue format and pairs into operations', async () => {
    const events = await readHistory(join(run.outcome.outDir, 'history.jsonl'));
    const operations = pairOperations(events);
    expect(operations.length).toBe(results().operations.client + results().operations.finalReads);
    const first = JSON.parse(readFileSync(join(run.outcome.outDir, 'history.jsonl'), 'utf8').split('\n')[0] as string) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(['process', 'type', 'f', 'name', 'value', 'time']);
  });

  it('runner — results.json and report.html say the verdict, seed and re-run command', () => {
    const saved = JSON.parse(readFileSync(join(run.outcome.outDir, 'results.json'), 'utf8')) as { verdict: string; seed: number; rerun: string };
    expect(saved.verdict).toBe('pass');
    expect(saved.seed).toBe(31);
    expect(saved.rerun).toContain('--seed 31');
    const html = readFileSync(join(run.outcome.outDir, 'report.html'), 'utf8');
    expect(html.indexOf('PASS')).toBeLessThan(html.indexOf('<svg'));
    expect(html).toContain('--seed 31');
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(existsSync(join(run.outcome.outDir, 'schedule.json'))).toBe(true);
    expect(existsSync(join(run.outcome.outDir, 'singletons.jsonl'))).toBe(true);
  });

  it('runner — every process it started is stopped', () => {
    const pids = allPids(run.outcome);
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(pids.filter(alive)).toEqual([]);
  });
});

function results() {
  return run.outcome.results;
}
