// A real federated run: 6 nodes in 2 groups of 3 (g1 the root, g2 joined through g1's
// gateways, the hash slots spread over both), 12 s of workload whose clients connect to nodes
// of both groups so that names live in both home groups, under partition-group (a whole group
// cut off from the other, then only its gateways cut off from everyone) and gateway-loss (a
// group's gateways killed or paused, then back). Seed 1 cuts g2 off, pauses g2's gateways, then
// isolates them. A correct federation passes every checker — linearizability per name across
// groups, no acknowledged registration lost, every acknowledged write in its home group's
// committed history at its revision (one registry watch per group: revisions are per group),
// recovery of both groups and the directory, and a singleton per group — and every process is
// gone. The run never claims a cut it did not make: a partition that needs the links between
// groups cut records a problem unless the nodes said they cut their gateway links.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairOperations, readHistory } from '../../jepsen-lite/history.js';
import { parseRegistryEvents } from '../../jepsen-lite/registry-events.js';
import { PASSED, REAL_RUN_TIMEOUT_MS, type SmallRun, passedChecks, smallRun } from './runner-helpers.js';

let run: SmallRun;

beforeAll(async () => {
  run = await smallRun({ nodes: 6, groups: 2, nemesis: ['partition-group', 'gateway-loss'], timeSeconds: 12, nemesisIntervalSeconds: 4, operationTimeoutMs: 1_500, singletonKeys: 1, seed: 1 });
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => run?.cleanup());

describe('runner — a federation of two groups under partition-group and gateway-loss', () => {
  it('federation — two groups of three, the root first, slots spread over both and unmoved by the run', () => {
    const { federation } = run.outcome.results;
    expect(federation?.groups).toEqual([
      { id: 'g1', root: true, nodes: ['n1@127.0.0.1', 'n2@127.0.0.1', 'n3@127.0.0.1'] },
      { id: 'g2', root: false, nodes: ['n4@127.0.0.1', 'n5@127.0.0.1', 'n6@127.0.0.1'] },
    ]);
    expect(federation?.slotsBefore).toEqual(federation?.slotsAfter);
    expect(Object.values(federation?.slotsBefore ?? {}).every((slots) => slots > 0)).toBe(true);
    const html = readFileSync(join(run.outcome.outDir, 'report.html'), 'utf8');
    expect(html).toContain('6 nodes in 2 groups (a federation)');
    expect(html).toContain('<td class="l">g1 (root)</td>');
  });

  it('federation — a group cut off, its gateways cut off, and its gateways lost all happened', () => {
    const { faults } = run.outcome.results;
    expect(faults.some((fault) => fault.kind === 'partition' && /group g\d cut off/.test(fault.description))).toBe(true);
    expect(faults.some((fault) => fault.kind === 'partition' && /gateways of g\d cut off/.test(fault.description))).toBe(true);
    const losses = faults.filter((fault) => fault.kind === 'gateway-loss');
    expect(losses.length).toBeGreaterThan(0);
    for (const loss of losses) expect({ problems: loss.problems, nodes: loss.nodes.length > 0 }).toEqual({ problems: [], nodes: true });
    // Every partition cut what it said, gateway links included: no window reports a cut it did not make.
    for (const fault of faults.filter((candidate) => candidate.kind === 'partition')) expect({ description: fault.description, problems: fault.problems }).toEqual({ description: fault.description, problems: [] });
  });

  it('federation — names lived in both home groups, written through nodes of both groups, each group watched on its own', async () => {
    const operations = pairOperations(await readHistory(join(run.outcome.outDir, 'history.jsonl')));
    const acknowledgedGroups = new Set(operations.filter((operation) => operation.f === 'register' && operation.type === 'ok' && operation.output === 'ok').map((operation) => operation.group));
    expect(acknowledgedGroups).toEqual(new Set(['g1', 'g2']));
    const ownerNodes = new Set(operations.filter((operation) => operation.f === 'register').map((operation) => /<(n\d)@/.exec(operation.input ?? '')?.[1]));
    expect([...ownerNodes].some((node) => ['n1', 'n2', 'n3'].includes(node ?? ''))).toBe(true);
    expect([...ownerNodes].some((node) => ['n4', 'n5', 'n6'].includes(node ?? ''))).toBe(true);
    for (const group of ['g1', 'g2']) {
      const events = parseRegistryEvents(readFileSync(join(run.outcome.outDir, `registry-events-${group}.jsonl`), 'utf8'));
      expect(events.filter((event) => event.type === 'put').length).toBeGreaterThan(0);
    }
    expect(run.outcome.results.checkers.acknowledgedCommits.checked).toBeGreaterThan(10);
  });

  it('federation — every checker passes (a singleton per group included) and every process is gone', () => {
    expect(passedChecks(run.outcome)).toEqual(PASSED);
    expect(run.outcome.results.checkers.singletons).toMatchObject({ verdict: 'pass', keys: ['jl-singleton-g1-1', 'jl-singleton-g2-1'] });
  });
});
