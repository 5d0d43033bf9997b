// A short real jepsen-lite run against a correct cluster must pass: 3 real `fedctl start`
// processes, a few seconds of workload with partitions and kill -9 (restart from the data
// directory) — the two kinds overlapping (seed 9 cuts the group in halves while a node is killed) —
// then heal, final reads, checkers. It also proves the run's records: history.jsonl reads back
// in the format and pairs into operations, registry-events.jsonl reads back in revision
// order, results.json and report.html are written (verdict first, no network resources), the
// schedule and seed are recorded, and every process the run started is gone when it returns.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairOperations, readHistory } from '../../jepsen-lite/history.js';
import { parseRegistryEvents } from '../../jepsen-lite/registry-events.js';
import { PASSED, REAL_RUN_TIMEOUT_MS, type SmallRun, allPids, passedChecks, smallRun } from './runner-helpers.js';

let run: SmallRun;

beforeAll(async () => {
  run = await smallRun({ nemesis: ['partition', 'kill'], timeSeconds: 12, nemesisIntervalSeconds: 3, seed: 9 });
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => run?.cleanup());

function results() {
  return run.outcome.results;
}

describe('runner — a correct cluster under overlapping partitions and kills', () => {
  it('runner — the run passes every checker and exits 0', () => {
    expect(passedChecks(run.outcome)).toEqual(PASSED);
  });

  it('runner — faults of both kinds happened, overlapping, and clients did real work', () => {
    const { faults } = results();
    expect(faults.every((fault) => fault.endMs !== null && fault.endMs > fault.startMs)).toBe(true);
    // Seed 9's schedule opens with a kill -9 of one node and, while it is down, a halves partition.
    expect(faults.slice(0, 2).map((fault) => fault.kind)).toEqual(['kill', 'partition']);
    const [kill, partition] = faults as [(typeof faults)[number], (typeof faults)[number]];
    expect(kill.nodes).toHaveLength(1);
    expect(partition.description).toMatch(/^halves: /);
    expect(partition.startMs).toBeLessThan(kill.endMs as number);
    // Killed nodes were restarted from their data directories: new pids.
    expect(allPids(run.outcome).length).toBeGreaterThan(3);
    const counts = results().operations.counts;
    expect(counts.register?.ok ?? 0).toBeGreaterThan(5);
    expect(counts.whereis?.ok ?? 0).toBeGreaterThan(5);
    expect(results().names.finalReads).toBe(results().names.used);
  });

  it('runner — history.jsonl is in the issue format and pairs into operations', async () => {
    const events = await readHistory(join(run.outcome.outDir, 'history.jsonl'));
    const operations = pairOperations(events);
    expect(operations.length).toBe(results().operations.client + results().operations.finalReads);
    const first = JSON.parse(readFileSync(join(run.outcome.outDir, 'history.jsonl'), 'utf8').split('\n')[0] as string) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(['process', 'type', 'f', 'name', 'value', 'time']);
  });

  it('runner — registry-events.jsonl holds the registry\'s changes in revision order, and its removals are counted', () => {
    const events = parseRegistryEvents(readFileSync(join(run.outcome.outDir, 'registry-events.jsonl'), 'utf8'));
    expect(events.filter((event) => event.type === 'put').length).toBeGreaterThan(5);
    const removals = events.filter((event) => event.type === 'delete' && event.reason !== 'unregister');
    expect(results().registry.removals).toBe(removals.length);
    expect(events.some((event) => event.type === 'gap')).toBe(false);
  });

  it('runner — results.json and report.html say the verdict, seed and re-run command', () => {
    const saved = JSON.parse(readFileSync(join(run.outcome.outDir, 'results.json'), 'utf8')) as { verdict: string; seed: number; rerun: string };
    expect(saved.verdict).toBe('pass');
    expect(saved.seed).toBe(9);
    expect(saved.rerun).toContain('--seed 9');
    const html = readFileSync(join(run.outcome.outDir, 'report.html'), 'utf8');
    expect(html.indexOf('PASS')).toBeLessThan(html.indexOf('<svg'));
    expect(html).toContain('--seed 9');
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(existsSync(join(run.outcome.outDir, 'schedule.json'))).toBe(true);
    expect(existsSync(join(run.outcome.outDir, 'singletons.jsonl'))).toBe(true);
  });
});
