// The runner's pure parts: the fault schedule is a function of the seed (same seed, same
// schedule; another seed, another), partition shapes cut what they claim (symmetric block
// lists; halves, isolated leader, majority ring where every node sees a different majority,
// bridge), the nodes whose names a partition lets the group remove, the choice of kill/pause
// victims, option validation (federation-only shapes refused with "needs federation"), and how
// client errors map to history outcomes (results, definite fails, unknown infos). No processes.
import { describe, expect, it } from 'vitest';
import { chooseTargets, makeSchedule, partitionBlocks, removableNodes, type Partition } from '../../jepsen-lite/schedule.js';
import { expandNemeses, parseNemesisList, RUN_DEFAULTS, validateRunOptions, type RunOptions } from '../../jepsen-lite/options.js';
import { classify, NameRotation } from '../../jepsen-lite/workload.js';
import { fedError, isFedError } from '../../runtime/index.js';

const NODES = ['n1@h', 'n2@h', 'n3@h', 'n4@h', 'n5@h'];

function sees(partition: Partition, a: string, b: string): boolean {
  return a === b || !(partition.blocked.get(a) ?? []).includes(b);
}

function expectSymmetric(partition: Partition, nodes: readonly string[]): void {
  for (const a of nodes) for (const b of nodes) expect(sees(partition, a, b)).toBe(sees(partition, b, a));
}

const baseOptions: RunOptions = { ...RUN_DEFAULTS, seed: 1, outDir: '/tmp/x', nemesis: ['partition'] };

describe('runner schedule — reproducible from the seed', () => {
  it('schedule — the same seed gives the same schedule, another seed another', () => {
    const { kinds, shapes } = expandNemeses(['all']);
    const first = makeSchedule(42, kinds, shapes, 60_000, 5_000);
    expect(makeSchedule(42, kinds, shapes, 60_000, 5_000)).toEqual(first);
    expect(makeSchedule(43, kinds, shapes, 60_000, 5_000)).not.toEqual(first);
    expect(first.length).toBeGreaterThan(5);
  });

  it('schedule — faults do not overlap and start before the end of the workload', () => {
    const { kinds, shapes } = expandNemeses(['partition', 'kill', 'pause']);
    const steps = makeSchedule(7, kinds, shapes, 30_000, 4_000);
    for (const [index, step] of steps.entries()) {
      expect(step.startMs).toBeLessThan(30_000);
      expect(step.durationMs).toBeGreaterThan(0);
      const next = steps[index + 1];
      if (next !== undefined) expect(next.startMs).toBeGreaterThanOrEqual(step.startMs + step.durationMs);
    }
  });

  it('schedule — membership alternates join and leave, starting with join', () => {
    const steps = makeSchedule(3, ['membership'], [], 60_000, 3_000);
    expect(steps.map((step) => step.action).slice(0, 4)).toEqual(['join', 'leave', 'join', 'leave']);
  });

  it('schedule — no nemesis, no faults', () => {
    expect(makeSchedule(1, expandNemeses(['none']).kinds, [], 60_000, 5_000)).toEqual([]);
  });
});

describe('runner schedule — partition shapes', () => {
  it('partition — halves splits into two sides that cannot talk', () => {
    const partition = partitionBlocks('halves', NODES, null, 9);
    expectSymmetric(partition, NODES);
    const sideOfFirst = NODES.filter((node) => sees(partition, NODES[0] as string, node));
    expect([2, 3]).toContain(sideOfFirst.length);
    for (const node of NODES) expect(sees(partition, NODES[0] as string, node)).toBe(sideOfFirst.includes(node));
  });

  it('partition — isolated leader cuts the leader from everyone else only', () => {
    const partition = partitionBlocks('leader', NODES, 'n3@h', 1);
    expectSymmetric(partition, NODES);
    expect(partition.blocked.get('n3@h')).toEqual(['n1@h', 'n2@h', 'n4@h', 'n5@h']);
    expect(partition.blocked.get('n1@h')).toEqual(['n3@h']);
  });

  it('partition — majority ring: every node sees a majority, and no two see the same one', () => {
    const partition = partitionBlocks('ring', NODES, null, 5);
    expectSymmetric(partition, NODES);
    const views = NODES.map((node) => NODES.filter((other) => sees(partition, node, other)).join(','));
    for (const view of views) expect(view.split(',').length).toBe(3);
    expect(new Set(views).size).toBe(NODES.length);
  });

  it('partition — bridge: one node sees everyone, the two sides do not see each other', () => {
    const partition = partitionBlocks('bridge', NODES, null, 11);
    expectSymmetric(partition, NODES);
    const bridges = NODES.filter((node) => (partition.blocked.get(node) ?? []).length === 0);
    expect(bridges).toHaveLength(1);
    const others = NODES.filter((node) => node !== bridges[0]);
    const cut = others.filter((node) => (partition.blocked.get(node) ?? []).length > 0);
    expect(cut).toHaveLength(4);
  });

  it('partition — the same pick gives the same shape', () => {
    expect(partitionBlocks('halves', NODES, null, 77)).toEqual(partitionBlocks('halves', NODES, null, 77));
  });

  it('removable nodes — an isolated node loses its names, the majority side keeps them', () => {
    const partition = partitionBlocks('leader', NODES, 'n2@h', 1);
    expect(removableNodes(partition, NODES)).toEqual(['n2@h']);
  });

  it('removable nodes — halves of four with three voters: either side may lead (quorum 2)', () => {
    const four = NODES.slice(0, 4);
    const partition = partitionBlocks('halves', four, null, 3);
    expect(removableNodes(partition, four)).toEqual(four);
  });

  it('removable nodes — the bridge is never removable', () => {
    const partition = partitionBlocks('bridge', NODES, null, 11);
    const bridge = NODES.find((node) => (partition.blocked.get(node) ?? []).length === 0);
    expect(removableNodes(partition, NODES)).not.toContain(bridge);
  });
});

describe('runner schedule — victims', () => {
  it('targets — leader picks the leader; majority never takes everyone; minority is less than half', () => {
    expect(chooseTargets('leader', NODES, 'n4@h', 1)).toEqual(['n4@h']);
    for (let pick = 0; pick < 50; pick++) {
      expect(chooseTargets('majority', NODES, null, pick)).toHaveLength(3);
      const minority = chooseTargets('minority', NODES, null, pick);
      expect(minority.length).toBeGreaterThanOrEqual(1);
      expect(minority.length).toBeLessThanOrEqual(2);
    }
    expect(chooseTargets('majority', ['a', 'b'], null, 1)).toHaveLength(1);
  });
});

describe('runner options', () => {
  it('options — nemesis names parse; unknown names are refused naming the option', () => {
    expect(parseNemesisList('partition, kill')).toEqual(['partition', 'kill']);
    expect(() => parseNemesisList('partition,flood')).toThrow(/--nemesis: unknown nemesis "flood"/);
  });

  it('options — partition-group and several groups need federation', () => {
    const group = (): RunOptions => validateRunOptions({ ...baseOptions, nemesis: ['partition-group'] });
    expect(group).toThrow(/needs federation/);
    expect(() => validateRunOptions({ ...baseOptions, groups: 2 })).toThrow(/needs federation/);
    try {
      group();
    } catch (error) {
      expect(isFedError(error, 'config')).toBe(true);
    }
  });

  it('options — out-of-range numbers are refused with the option name', () => {
    expect(() => validateRunOptions({ ...baseOptions, nodes: 0 })).toThrow(/--nodes/);
    expect(() => validateRunOptions({ ...baseOptions, ratePerSecond: NaN })).toThrow(/--rate/);
    expect(() => validateRunOptions({ ...baseOptions, ratePerSecond: -1 })).toThrow(/--rate/);
    expect(() => validateRunOptions({ ...baseOptions, clientsPerName: 11 })).toThrow(/--clients-per-name/);
    expect(() => validateRunOptions({ ...baseOptions, seed: 2 ** 33 })).toThrow(/--seed/);
  });

  it('options — all expands to every fault kind and every single-group shape', () => {
    const { kinds, shapes } = expandNemeses(['all']);
    expect(kinds.sort()).toEqual(['kill', 'membership', 'partition', 'pause']);
    expect(shapes).toEqual(['halves', 'leader', 'ring', 'bridge']);
    expect(expandNemeses(['partition-ring']).shapes).toEqual(['ring']);
  });
});

describe('runner workload — outcomes and names', () => {
  it('outcome — name_taken and not_owner are results, not failures', () => {
    expect(classify('register', fedError('name_taken', 'x', { holder: '<a@h#1.1>', definite: true }))).toEqual({ type: 'ok', value: { taken: '<a@h#1.1>' } });
    expect(classify('unregister', fedError('not_owner', 'x', { holder: null, definite: true }))).toEqual({ type: 'ok', value: { not_owner: null } });
    expect(classify('whereis', fedError('not_found', 'x'))).toEqual({ type: 'ok', value: null });
  });

  it('outcome — a definite refusal is a fail; a timeout or lost connection is info', () => {
    expect(classify('register', fedError('not_leader', 'x', { definite: true })).type).toBe('fail');
    expect(classify('register', fedError('unavailable', 'x', { definite: true })).type).toBe('fail');
    expect(classify('register', fedError('timeout', 'x'))).toMatchObject({ type: 'info', connectionLost: false });
    expect(classify('whereis', fedError('nodedown', 'x'))).toMatchObject({ type: 'info', connectionLost: true });
    expect(classify('unregister', new Error('boom')).type).toBe('info');
  });

  it('names — a team moves to a fresh name after its operations per name', () => {
    const rotation = new NameRotation(3);
    const names = Array.from({ length: 7 }, () => rotation.next(0));
    expect(names).toEqual(['jl-t0-g0', 'jl-t0-g0', 'jl-t0-g0', 'jl-t0-g1', 'jl-t0-g1', 'jl-t0-g1', 'jl-t0-g2']);
    expect(rotation.next(1)).toBe('jl-t1-g0');
    expect([...rotation.used].sort()).toEqual(['jl-t0-g0', 'jl-t0-g1', 'jl-t0-g2', 'jl-t1-g0']);
  });
});
