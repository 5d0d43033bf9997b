// Rebalancing plan: applying the plan leaves every active group within one slot of the others
// and draining groups empty, with no group both giving and receiving, and the number of moves
// equals the optimum found by brute force over which groups get the larger share. Checked on
// fixed cases (1→2, 2→3 groups) and by a fast-check property over random grow/drain histories
// whose plans are executed through the real directory commands.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Directory, type DirectoryCommand } from '../../federation/directory.js';
import { planRebalance, rebalanceTargets, type PlannedMove } from '../../federation/rebalance.js';
import { SLOT_COUNT } from '../../federation/slots.js';

function apply(directory: Directory, command: DirectoryCommand): void {
  const result = directory.apply(directory.appliedIndex + 1, command);
  if (!result.ok) throw new Error(`${command.op} refused: ${result.code} ${result.reason}`);
}

/** Runs a plan through the directory's move protocol, one slot at a time. */
function execute(directory: Directory, plan: readonly PlannedMove[]): void {
  for (const move of plan) {
    apply(directory, { op: 'begin_move', slot: move.slot, to: move.to, expectedFrom: move.from });
    const moveRevision = directory.revision;
    apply(directory, { op: 'mark_copied', slot: move.slot, moveRevision });
    apply(directory, { op: 'complete_move', slot: move.slot, moveRevision });
  }
}

function counts(directory: Directory): Map<string, number> {
  return new Map(directory.groups().map((group) => [group.id, directory.slotCount(group.id)]));
}

/** Fewest moves reaching a balanced map, by trying every choice of groups that get ⌈S/k⌉. */
function bruteForceMinimum(before: Map<string, number>, active: string[]): number {
  const base = Math.floor(SLOT_COUNT / active.length);
  const extra = SLOT_COUNT % active.length;
  let drainingTotal = 0;
  for (const [id, count] of before) if (!active.includes(id)) drainingTotal += count;
  let best = Infinity;
  for (let mask = 0; mask < 1 << active.length; mask++) {
    let bits = 0;
    for (let bit = 0; bit < active.length; bit++) bits += (mask >> bit) & 1;
    if (bits !== extra) continue;
    let moves = drainingTotal;
    active.forEach((id, bit) => {
      moves += Math.max(0, (before.get(id) ?? 0) - (base + ((mask >> bit) & 1)));
    });
    best = Math.min(best, moves);
  }
  return best;
}

function checkPlan(directory: Directory, plan: readonly PlannedMove[]): void {
  const before = counts(directory);
  const active = directory.groups().filter((group) => group.state === 'active').map((group) => group.id);
  expect(new Set(plan.map((move) => move.slot)).size).toBe(plan.length);
  const givers = new Set(plan.map((move) => move.from));
  for (const move of plan) expect(givers.has(move.to)).toBe(false);
  expect(plan.length).toBe(bruteForceMinimum(before, active));
  execute(directory, plan);
  const after = active.map((id) => directory.slotCount(id));
  expect(Math.max(...after) - Math.min(...after)).toBeLessThanOrEqual(1);
  for (const group of directory.groups()) if (group.state !== 'active') expect(directory.slotCount(group.id)).toBe(0);
  expect(planRebalance(directory)).toEqual([]);
}

describe('rebalance — fixed cases', () => {
  it('adding a second group moves half the slots to it, and nothing else', () => {
    const directory = new Directory();
    apply(directory, { op: 'create_root', group: 'root', gateways: [] });
    const preview = planRebalance(directory, { addGroup: 'g1' });
    expect(preview).toHaveLength(SLOT_COUNT / 2);
    expect(preview.every((move) => move.from === 'root' && move.to === 'g1')).toBe(true);
    apply(directory, { op: 'add_group', group: 'g1', gateways: [] });
    const plan = planRebalance(directory);
    expect(plan).toEqual(preview);
    checkPlan(directory, plan);
  });

  it('adding a third group to two balanced groups moves ⌊4096/3⌋ slots, from both', () => {
    const directory = new Directory();
    apply(directory, { op: 'create_root', group: 'root', gateways: [] });
    apply(directory, { op: 'add_group', group: 'g1', gateways: [] });
    execute(directory, planRebalance(directory));
    apply(directory, { op: 'add_group', group: 'g2', gateways: [] });
    const plan = planRebalance(directory);
    expect(plan).toHaveLength(1365);
    expect(new Set(plan.map((move) => move.from))).toEqual(new Set(['root', 'g1']));
    checkPlan(directory, plan);
    expect([...counts(directory).values()].sort()).toEqual([1365, 1365, 1366]);
  });

  it('a draining group gives away every slot; moving slots are not planned again', () => {
    const directory = new Directory();
    apply(directory, { op: 'create_root', group: 'root', gateways: [] });
    apply(directory, { op: 'add_group', group: 'g1', gateways: [] });
    execute(directory, planRebalance(directory));
    apply(directory, { op: 'begin_move', slot: directory.slotsOf('g1')[0] as number, to: 'root' });
    apply(directory, { op: 'drain_group', group: 'g1' });
    expect(rebalanceTargets(directory)).toEqual(new Map([['root', SLOT_COUNT]]));
    const plan = planRebalance(directory);
    expect(plan).toHaveLength(SLOT_COUNT / 2 - 1);
    expect(plan.some((move) => directory.moveOf(move.slot) !== undefined)).toBe(false);
  });

  it('the plan is deterministic', () => {
    const build = () => {
      const directory = new Directory();
      apply(directory, { op: 'create_root', group: 'root', gateways: [] });
      for (const id of ['c', 'a', 'b']) apply(directory, { op: 'add_group', group: id, gateways: [] });
      return planRebalance(directory);
    };
    expect(build()).toEqual(build());
  });
});

describe('rebalance — property', () => {
  it('random histories of adds and drains stay balanced with the fewest moves', () => {
    const step = fc.oneof(fc.constant<'add'>('add'), fc.constant<'drain'>('drain'), fc.constant<'remove'>('remove'));
    fc.assert(
      fc.property(fc.array(fc.tuple(step, fc.nat(20)), { minLength: 1, maxLength: 6 }), (history) => {
        const directory = new Directory();
        apply(directory, { op: 'create_root', group: 'root', gateways: [] });
        let nextId = 1;
        for (const [kind, pick] of history) {
          const others = directory.groups().filter((group) => group.id !== 'root' && group.state !== 'removed');
          if (kind === 'add' || others.length === 0) apply(directory, { op: 'add_group', group: `g${nextId++}`, gateways: [] });
          else if (kind === 'drain') apply(directory, { op: 'drain_group', group: (others[pick % others.length] as { id: string }).id });
          else {
            const empty = others.filter((group) => directory.slotCount(group.id) === 0);
            if (empty.length > 0) apply(directory, { op: 'remove_group', group: (empty[pick % empty.length] as { id: string }).id });
          }
          checkPlan(directory, planRebalance(directory));
        }
      }),
      { numRuns: 40 },
    );
  });
});
