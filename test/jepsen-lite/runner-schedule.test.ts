// The runner's pure parts: the fault schedule is a function of the seed (same seed, same
// schedule; another seed, another), faults of one kind never overlap while faults of different
// kinds do, partition shapes cut what they claim (symmetric block lists; halves, isolated
// leader, majority ring where every node sees a different majority, bridge; in a federation a
// whole group cut off, or its gateways, gateway nodes named too) and are refused on too few
// nodes to cut anything, the choice of kill/pause victims and of the group a fault hurts,
// option validation (the federation's nemeses refused with "needs federation" on one group),
// and how client errors map to history outcomes (results, definite fails, unknown infos). No
// processes.
import { describe, expect, it } from 'vitest';
import { chooseTargets, federationPartition, gatewayNodeName, makeSchedule, partitionBlocks, pickGroup, type FaultStep, type Partition, type Topology } from '../../jepsen-lite/schedule.js';
import { expandNemeses, groupSizes, parseNemesisList, RUN_DEFAULTS, validateRunOptions, type RunOptions } from '../../jepsen-lite/options.js';
import { classify, NameRotation, writeAnswer } from '../../jepsen-lite/workload.js';
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

  it('schedule — faults of one kind follow one another, all start before the end of the workload', () => {
    const { kinds, shapes } = expandNemeses(['partition', 'kill', 'pause']);
    const steps = makeSchedule(7, kinds, shapes, 30_000, 4_000);
    expect(steps.map((step) => step.index)).toEqual(steps.map((_, index) => index));
    for (const kind of kinds) {
      const ofKind = steps.filter((step) => step.kind === kind);
      expect(ofKind.length).toBeGreaterThan(0);
      for (const [index, step] of ofKind.entries()) {
        expect(step.startMs).toBeLessThan(30_000);
        expect(step.durationMs).toBeGreaterThan(0);
        const next = ofKind[index + 1];
        if (next !== undefined) expect(next.startMs).toBeGreaterThanOrEqual(step.startMs + step.durationMs);
      }
    }
    for (const [index, step] of steps.entries()) if (index > 0) expect(step.startMs).toBeGreaterThanOrEqual((steps[index - 1] as FaultStep).startMs);
  });

  it('schedule — with several nemeses, faults of different kinds overlap (a kill during a partition)', () => {
    const overlaps = (steps: readonly FaultStep[]): [FaultStep, FaultStep][] =>
      steps.flatMap((a, index) => steps.slice(index + 1).filter((b) => b.kind !== a.kind && b.startMs < a.startMs + a.durationMs).map((b): [FaultStep, FaultStep] => [a, b]));
    const { kinds, shapes } = expandNemeses(['partition', 'kill']);
    const seeds = Array.from({ length: 20 }, (_, seed) => seed);
    const withOverlap = seeds.filter((seed) => overlaps(makeSchedule(seed, kinds, shapes, 30_000, 8_000)).length > 0);
    // Overlap is the common case, not an accident of one seed.
    expect(withOverlap.length).toBeGreaterThan(seeds.length / 2);
    const all = expandNemeses(['all']);
    const pairs = overlaps(makeSchedule(42, all.kinds, all.shapes, 60_000, 5_000));
    expect(new Set(pairs.map(([a, b]) => [a.kind, b.kind].sort().join('+'))).size).toBeGreaterThan(2);
  });

  it('schedule — the mix of kinds does not change the overall fault rate much', () => {
    const one = makeSchedule(5, ['kill'], [], 600_000, 5_000).length;
    const { kinds, shapes } = expandNemeses(['all']);
    const four = makeSchedule(5, kinds, shapes, 600_000, 5_000).length;
    expect(four / one).toBeGreaterThan(0.75);
    expect(four / one).toBeLessThan(1.33);
  });

  it('schedule — membership alternates join and leave, starting with join', () => {
    const steps = makeSchedule(3, ['membership'], [], 60_000, 3_000);
    expect(steps.map((step) => step.action).slice(0, 4)).toEqual(['join', 'leave', 'join', 'leave']);
  });

  it('schedule — wipe hits the leader or a minority, never a majority; all does not draw it', () => {
    const steps = makeSchedule(9, ['wipe'], [], 600_000, 5_000);
    expect(steps.length).toBeGreaterThan(50);
    expect(new Set(steps.map((step) => step.role))).toEqual(new Set(['leader', 'minority']));
    expect(expandNemeses(['wipe']).kinds).toEqual(['wipe']);
    expect(expandNemeses(['all']).kinds).not.toContain('wipe');
    // Adding wipe to a mix leaves the other kinds' timelines as they were (each has its own stream).
    const { kinds, shapes } = expandNemeses(['partition', 'kill']);
    // (the same interval per kind: 2 kinds × 6 s, 3 kinds × 4 s)
    const without = makeSchedule(4, kinds, shapes, 60_000, 6_000);
    const withWipe = makeSchedule(4, [...kinds, 'wipe'], shapes, 60_000, 4_000).filter((step) => step.kind !== 'wipe');
    expect(withWipe.map(({ kind, startMs, pick }) => ({ kind, startMs, pick }))).toEqual(without.map(({ kind, startMs, pick }) => ({ kind, startMs, pick })));
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

  it('partition — a majority ring on 4 nodes is still one: each sees 3 of 4, all views differ', () => {
    const four = NODES.slice(0, 4);
    for (let pick = 0; pick < 10; pick++) {
      const partition = partitionBlocks('ring', four, null, pick);
      expectSymmetric(partition, four);
      const views = four.map((node) => four.filter((other) => sees(partition, node, other)).join(','));
      for (const view of views) expect(view.split(',')).toHaveLength(3);
      expect(new Set(views).size).toBe(4);
    }
  });

  it('partition — a shape on fewer nodes than it needs to cut anything is refused, not recorded', () => {
    expect(() => partitionBlocks('ring', NODES.slice(0, 3), null, 1)).toThrow(/ring partition needs at least 4 nodes/);
    expect(() => partitionBlocks('bridge', NODES.slice(0, 2), null, 1)).toThrow(/bridge partition needs at least 3 nodes/);
    expect(() => partitionBlocks('halves', NODES.slice(0, 1), null, 1)).toThrow(/halves partition needs at least 2 nodes/);
    // Every shape that is accepted cuts something.
    for (const shape of ['halves', 'leader', 'ring', 'bridge'] as const) {
      for (let count = 1; count <= 7; count++) {
        const nodes = Array.from({ length: count }, (_, index) => `n${index}@h`);
        let partition: Partition;
        try {
          partition = partitionBlocks(shape, nodes, nodes[0] as string, 3);
        } catch {
          continue;
        }
        expect([...partition.blocked.values()].some((blocked) => blocked.length > 0)).toBe(true);
      }
    }
  });
});

describe('runner schedule — federation shapes', () => {
  const topology: Topology = {
    groups: [
      { id: 'g1', members: ['n1@h', 'n2@h', 'n3@h'], gateways: ['n1@h', 'n2@h'] },
      { id: 'g2', members: ['n4@h', 'n5@h', 'n6@h'], gateways: ['n4@h', 'n6@h'] },
    ],
  };
  const everyone = topology.groups.flatMap((group) => group.members);

  it('partition — group: every member of the group is cut from every node of the others and their gateway nodes; nothing inside a group', () => {
    const partition = federationPartition('group', topology, 'g2');
    expectSymmetric(partition, everyone);
    expect(partition.blocked.get('n5@h')).toEqual(['n1-gw@h', 'n1@h', 'n2-gw@h', 'n2@h', 'n3-gw@h', 'n3@h']);
    expect(partition.blocked.get('n1@h')).toEqual(['n4-gw@h', 'n4@h', 'n5-gw@h', 'n5@h', 'n6-gw@h', 'n6@h']);
    for (const group of topology.groups) for (const a of group.members) for (const b of group.members) expect(sees(partition, a, b)).toBe(true);
    expect(partition.description).toBe('group g2 cut off: [n4 n5 n6] | [n1 n2 n3]');
  });

  it('partition — gateways: the members hosting the group\'s gateways are each cut from everyone, their own group and each other too', () => {
    const partition = federationPartition('gateways', topology, 'g2');
    expectSymmetric(partition, everyone);
    expect(partition.blocked.get('n4@h')).toEqual(['n1-gw@h', 'n1@h', 'n2-gw@h', 'n2@h', 'n3-gw@h', 'n3@h', 'n5-gw@h', 'n5@h', 'n6-gw@h', 'n6@h']);
    expect(partition.blocked.get('n5@h')).toEqual(['n4-gw@h', 'n4@h', 'n6-gw@h', 'n6@h']);
    expect(sees(partition, 'n5@h', 'n1@h')).toBe(true);
    expect(sees(partition, 'n4@h', 'n6@h')).toBe(false);
  });

  it('partition — a federation shape needs two groups and a group it knows; gateway nodes are named as fedctl names them', () => {
    expect(() => federationPartition('group', { groups: topology.groups.slice(0, 1) }, 'g1')).toThrow(/needs a federation of two or more groups/);
    expect(() => federationPartition('group', topology, 'g9')).toThrow(/with group g9/);
    expect(() => partitionBlocks('group', NODES, null, 1)).toThrow(/cuts across groups/);
    expect(gatewayNodeName('n4@127.0.0.1')).toBe('n4-gw@127.0.0.1');
  });

  it('schedule — a fault hurts a group drawn from its pick: reproducible, and every group is drawn', () => {
    const groups = ['g1', 'g2', 'g3'];
    expect(pickGroup(groups, 12345)).toBe(pickGroup([...groups].reverse(), 12345));
    const drawn = new Set(Array.from({ length: 60 }, (_, pick) => pickGroup(groups, pick * 7919)));
    expect(drawn).toEqual(new Set(groups));
  });

  it('schedule — gateway-loss kills or pauses, drawn from the seed', () => {
    const steps = makeSchedule(9, ['gateway-loss'], [], 120_000, 4_000);
    expect(new Set(steps.map((step) => step.action))).toEqual(new Set(['kill', 'pause']));
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

  it('targets — a minority of an even group is fewer than half, so the rest keep a quorum', () => {
    // 6 nodes (5 and a joined one): a "minority" of 3 took quorum away (seed 3001 killed n1 n3 n6 of 6).
    const six = ['a', 'b', 'c', 'd', 'e', 'f'];
    const sizes = new Set<number>();
    for (let pick = 0; pick < 50; pick++) {
      sizes.add(chooseTargets('minority', six, null, pick).length);
      expect(chooseTargets('minority', ['a', 'b', 'c', 'd'], null, pick)).toHaveLength(1);
    }
    expect(sizes).toEqual(new Set([1, 2]));
  });
});

describe('runner options', () => {
  it('options — nemesis names parse; unknown names are refused naming the option', () => {
    expect(parseNemesisList('partition, kill')).toEqual(['partition', 'kill']);
    expect(() => parseNemesisList('partition,flood')).toThrow(/--nemesis: unknown nemesis "flood"/);
  });

  it('options — partition-group and gateway-loss need federation (two groups or more); several groups are a federation', () => {
    const group = (): RunOptions => validateRunOptions({ ...baseOptions, nemesis: ['partition-group'] });
    expect(group).toThrow(/--nemesis partition-group .* needs federation \(--groups 2 or more\)/);
    expect(() => validateRunOptions({ ...baseOptions, nemesis: ['gateway-loss'] })).toThrow(/needs federation/);
    try {
      group();
    } catch (error) {
      expect(isFedError(error, 'config')).toBe(true);
    }
    expect(validateRunOptions({ ...baseOptions, nodes: 6, groups: 2, nemesis: ['partition-group', 'gateway-loss'] }).groups).toBe(2);
    expect(() => validateRunOptions({ ...baseOptions, nodes: 2, groups: 3 })).toThrow(/--nodes 2 cannot make 3 groups/);
    expect(() => validateRunOptions({ ...baseOptions, groups: 9 })).toThrow(/--groups/);
    // A group shape is judged on the smallest group: 7 nodes in 2 groups are 4 + 3.
    expect(groupSizes(7, 2)).toEqual([4, 3]);
    expect(() => validateRunOptions({ ...baseOptions, nodes: 7, groups: 2, nemesis: ['partition-ring'] })).toThrow(/needs at least 4 nodes in a group .* its smallest group has 3/);
  });

  it('options — with several groups, partition and all also draw the federation shapes, and all the gateway losses', () => {
    expect(expandNemeses(['partition'], 3, 2).shapes).toEqual(['halves', 'leader', 'bridge', 'group', 'gateways']);
    expect(expandNemeses(['all'], 3, 2).kinds.sort()).toEqual(['gateway-loss', 'kill', 'membership', 'partition', 'pause']);
    expect(expandNemeses(['partition-group'], 3, 2)).toEqual({ kinds: ['partition'], shapes: ['group', 'gateways'] });
    expect(expandNemeses(['all'], 3, 1).kinds).not.toContain('gateway-loss');
    expect(expandNemeses(['partition'], 3, 1).shapes).not.toContain('group');
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

  it('options — partition and all on a small group draw only from shapes that cut something there', () => {
    expect(expandNemeses(['partition'], 3).shapes).toEqual(['halves', 'leader', 'bridge']);
    expect(expandNemeses(['all'], 2).shapes).toEqual(['halves', 'leader']);
    expect(expandNemeses(['partition', 'kill'], 1)).toEqual({ kinds: ['kill'], shapes: [] });
  });

  it('options — an explicit shape on too few nodes is refused naming the option (ring below 4, bridge below 3)', () => {
    expect(() => validateRunOptions({ ...baseOptions, nodes: 3, nemesis: ['partition-ring'] })).toThrow(/--nemesis partition-ring needs at least 4 nodes/);
    expect(validateRunOptions({ ...baseOptions, nodes: 4, nemesis: ['partition-ring'] }).nodes).toBe(4);
    expect(() => validateRunOptions({ ...baseOptions, nodes: 2, nemesis: ['partition-bridge'] })).toThrow(/--nemesis partition-bridge needs at least 3/);
    expect(() => validateRunOptions({ ...baseOptions, nodes: 1, nemesis: ['partition'] })).toThrow(/--nemesis partition needs at least 2/);
    expect(validateRunOptions({ ...baseOptions, nodes: 3, nemesis: ['partition'] }).nodes).toBe(3);
  });

  it('options — --unsafe is refused unless the environment unlocks it', () => {
    const unsafe: RunOptions = { ...baseOptions, unsafe: 'early-ack' };
    expect(() => validateRunOptions(unsafe, {})).toThrow(/JEPSEN_LITE_UNSAFE=1/);
    expect(() => validateRunOptions(unsafe, { JEPSEN_LITE_UNSAFE: 'yes' })).toThrow(/JEPSEN_LITE_UNSAFE=1/);
    expect(validateRunOptions(unsafe, { JEPSEN_LITE_UNSAFE: '1' }).unsafe).toBe('early-ack');
  });
});

describe('runner workload — outcomes and names', () => {
  it('outcome — name_taken and not_owner are results, not failures', () => {
    expect(classify('register', fedError('name_taken', 'x', { holder: '<a@h#1.1>', definite: true }))).toEqual({ type: 'ok', value: { taken: '<a@h#1.1>' } });
    expect(classify('unregister', fedError('not_owner', 'x', { holder: null, definite: true }))).toEqual({ type: 'ok', value: { not_owner: null } });
    expect(classify('whereis', fedError('not_found', 'x'))).toEqual({ type: 'ok', value: null });
  });

  it('outcome — an acknowledged write keeps the revision and group the node answered with', () => {
    expect(writeAnswer({ name: 'n', pid: '<a@h#1.1>', revision: 42, group: 'g2' })).toEqual({ revision: 42, group: 'g2' });
    expect(writeAnswer({ name: 'n', revision: 7 })).toEqual({ revision: 7 });
    expect(writeAnswer({ revision: -1, group: '' })).toEqual({});
    expect(writeAnswer(null)).toEqual({});
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
    expect(names).toEqual(['jl-t0-g0.', 'jl-t0-g0.', 'jl-t0-g0.', 'jl-t0-g1.', 'jl-t0-g1.', 'jl-t0-g1.', 'jl-t0-g2.']);
    expect(rotation.next(1)).toBe('jl-t1-g0.');
    expect([...rotation.used].sort()).toEqual(['jl-t0-g0.', 'jl-t0-g1.', 'jl-t0-g2.', 'jl-t1-g0.']);
    // No name is a prefix of another (the registry watch asks about one name by prefix).
    const many = new NameRotation(1);
    for (let index = 0; index < 25; index++) many.next(index % 12);
    const used = [...many.used];
    for (const a of used) for (const b of used) if (a !== b) expect(b.startsWith(a)).toBe(false);
  });
});
