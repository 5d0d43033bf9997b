// The federation directory state machine: every command and every typed refusal, the slot move
// protocol, the event stream (gapless, resumable, compacted), and determinism — a fast-check
// property drives random command logs through two replicas and a snapshot/restore through the
// codec, and checks after every entry that each slot has exactly one live owner and that the
// groups accepting writes for a slot number one, or zero while it is moving.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DIRECTORY_EVENTS_MAX,
  Directory,
  GATEWAYS_MAX,
  MOVES_IN_PROGRESS_MAX,
  refusalError,
  type DirectoryCommand,
  type DirectoryEvent,
  type DirectoryRefusal,
  type DirectoryResult,
  type DirectorySnapshot,
  type Gateway,
} from '../../federation/directory.js';
import { routeSlot } from '../../federation/routing.js';
import { SLOT_COUNT } from '../../federation/slots.js';
import { decode, encode } from '../../runtime/codec.js';
import { FedError } from '../../runtime/kernel/errors.js';

const gw = (name: string, port: number): Gateway => ({ node: `${name}@127.0.0.1`, address: `127.0.0.1:${port}` });
const rootGateways = [gw('r1', 4001), gw('r2', 4002)];

function applyAll(directory: Directory, commands: DirectoryCommand[]): DirectoryResult[] {
  return commands.map((command) => directory.apply(directory.appliedIndex + 1, command));
}

function withRoot(): Directory {
  const directory = new Directory();
  applyAll(directory, [
    { op: 'create_root', group: 'root', gateways: rootGateways },
    { op: 'add_group', group: 'g1', gateways: [gw('a1', 5001), gw('a2', 5002)] },
  ]);
  return directory;
}

describe('directory — groups', () => {
  it('create_root makes the root group own every slot; a second create_root is refused', () => {
    const directory = new Directory();
    const [created, again] = applyAll(directory, [
      { op: 'create_root', group: 'root', gateways: rootGateways },
      { op: 'create_root', group: 'other', gateways: [] },
    ]);
    expect(created).toEqual({ ok: true, revision: 1 });
    expect(again).toMatchObject({ ok: false, code: 'already_initialized' });
    expect(directory.rootGroup).toBe('root');
    expect(directory.slotCount('root')).toBe(SLOT_COUNT);
    expect([directory.ownerOf(0), directory.ownerOf(SLOT_COUNT - 1)]).toEqual(['root', 'root']);
    expect(directory.group('root')).toEqual({ id: 'root', gateways: rootGateways, state: 'active', createRevision: 1, revision: 1 });
  });

  it('everything but create_root is refused with not_initialized before the root exists', () => {
    const directory = new Directory();
    const results = applyAll(directory, [
      { op: 'add_group', group: 'g1', gateways: [] },
      { op: 'set_gateways', group: 'g1', gateways: [] },
      { op: 'remove_group', group: 'g1' },
      { op: 'drain_group', group: 'g1' },
      { op: 'begin_move', slot: 1, to: 'g1' },
      { op: 'complete_move', slot: 1, moveRevision: 1 },
    ]);
    for (const result of results) expect(result).toMatchObject({ ok: false, code: 'not_initialized' });
    expect(directory.revision).toBe(0);
  });

  it('add_group refuses bad ids, bad gateways and existing ids (removed ones too)', () => {
    const directory = withRoot();
    const tooMany = Array.from({ length: GATEWAYS_MAX + 1 }, (_, index) => gw(`n${index}`, 6000 + index));
    const results = applyAll(directory, [
      { op: 'add_group', group: '', gateways: [] },
      { op: 'add_group', group: 'has space', gateways: [] },
      { op: 'add_group', group: 'g2', gateways: [{ node: 'not-a-node', address: 'x:1' }] },
      { op: 'add_group', group: 'g2', gateways: [gw('a', 1), gw('a', 2)] },
      { op: 'add_group', group: 'g2', gateways: [{ node: 'a@h', address: '' }] },
      { op: 'add_group', group: 'g2', gateways: tooMany },
      { op: 'add_group', group: 'g1', gateways: [] },
      { op: 'remove_group', group: 'g1' },
      { op: 'add_group', group: 'g1', gateways: [] },
    ]);
    expect(results.map((result) => (result.ok ? 'ok' : result.code))).toEqual([
      'badarg', 'badarg', 'badarg', 'badarg', 'badarg', 'badarg', 'group_exists', 'ok', 'group_exists',
    ]);
    expect(directory.group('g2')).toBeUndefined();
  });

  it('set_gateways replaces the list and bumps the record revision; unknown and removed groups are refused', () => {
    const directory = withRoot();
    const [set, unknown, , removed] = applyAll(directory, [
      { op: 'set_gateways', group: 'g1', gateways: [gw('a3', 5003)] },
      { op: 'set_gateways', group: 'nope', gateways: [] },
      { op: 'remove_group', group: 'g1' },
      { op: 'set_gateways', group: 'g1', gateways: [] },
    ]);
    expect(set).toEqual({ ok: true, revision: 3 });
    expect(unknown).toMatchObject({ ok: false, code: 'unknown_group' });
    expect(removed).toMatchObject({ ok: false, code: 'group_removed' });
    expect(directory.group('g1')).toMatchObject({ state: 'removed', gateways: [], revision: 5, createRevision: 2 });
  });

  it('the root group can be neither drained nor removed; a group owning slots or in a move cannot be removed', () => {
    const directory = withRoot();
    const [drainRoot, removeRoot, begin, inMove] = applyAll(directory, [
      { op: 'drain_group', group: 'root' },
      { op: 'remove_group', group: 'root' },
      { op: 'begin_move', slot: 7, to: 'g1' },
      { op: 'remove_group', group: 'g1' },
    ]);
    expect(drainRoot).toMatchObject({ ok: false, code: 'root_group' });
    expect(removeRoot).toMatchObject({ ok: false, code: 'root_group' });
    expect(inMove).toMatchObject({ ok: false, code: 'group_in_move' });
    const moveRevision = (begin as { revision: number }).revision;
    const [, , notEmpty] = applyAll(directory, [
      { op: 'mark_copied', slot: 7, moveRevision },
      { op: 'complete_move', slot: 7, moveRevision },
      { op: 'remove_group', group: 'g1' },
    ]);
    expect(notEmpty).toMatchObject({ ok: false, code: 'group_not_empty' });
  });

  it('a draining group takes no new slots; draining twice is idempotent', () => {
    const directory = withRoot();
    const [drained, again, begin] = applyAll(directory, [
      { op: 'drain_group', group: 'g1' },
      { op: 'drain_group', group: 'g1' },
      { op: 'begin_move', slot: 1, to: 'g1' },
    ]);
    expect(drained).toEqual({ ok: true, revision: 3 });
    expect(again).toEqual({ ok: true, revision: 3 });
    expect(begin).toMatchObject({ ok: false, code: 'group_not_active' });
    expect(directory.revision).toBe(3);
  });
});

describe('directory — slot moves', () => {
  it('begin fences, mark_copied, complete switches ownership, each touching the slot revision', () => {
    const directory = withRoot();
    const begin = directory.apply(3, { op: 'begin_move', slot: 100, to: 'g1', expectedFrom: 'root' });
    expect(begin).toEqual({ ok: true, revision: 3 });
    expect(directory.moveOf(100)).toEqual({ slot: 100, from: 'root', to: 'g1', phase: 'fenced', revision: 3 });
    expect(directory.ownerOf(100)).toBe('root');
    expect(directory.apply(4, { op: 'mark_copied', slot: 100, moveRevision: 3 })).toEqual({ ok: true, revision: 4 });
    expect(directory.moveOf(100)?.phase).toBe('copied');
    expect(directory.apply(5, { op: 'complete_move', slot: 100, moveRevision: 3 })).toEqual({ ok: true, revision: 5 });
    expect(directory.ownerOf(100)).toBe('g1');
    expect(directory.moveOf(100)).toBeUndefined();
    expect(directory.slotRevision(100)).toBe(5);
    expect(directory.slotRevision(101)).toBe(1);
    expect([directory.slotCount('root'), directory.slotCount('g1')]).toEqual([SLOT_COUNT - 1, 1]);
    expect(directory.slotsOf('g1')).toEqual([100]);
  });

  it('refuses bad slots, own slots, stale owners, double moves, wrong phases, stale and missing moves', () => {
    const directory = withRoot();
    const results = applyAll(directory, [
      { op: 'begin_move', slot: SLOT_COUNT, to: 'g1' },
      { op: 'begin_move', slot: 1.5, to: 'g1' },
      { op: 'begin_move', slot: 1, to: 'root' },
      { op: 'begin_move', slot: 1, to: 'nope' },
      { op: 'begin_move', slot: 1, to: 'g1', expectedFrom: 'g1' },
      { op: 'begin_move', slot: 1, to: 'g1' }, // ok at index 8
      { op: 'begin_move', slot: 1, to: 'g1' },
      { op: 'complete_move', slot: 1, moveRevision: 8 },
      { op: 'mark_copied', slot: 1, moveRevision: 7 },
      { op: 'mark_copied', slot: 2, moveRevision: 8 },
      { op: 'mark_copied', slot: 1, moveRevision: 8 },
      { op: 'mark_copied', slot: 1, moveRevision: 8 },
      { op: 'abort_move', slot: 1, moveRevision: 8 },
      { op: 'abort_move', slot: 1, moveRevision: 8 },
    ]);
    expect(results.map((result) => (result.ok ? 'ok' : result.code))).toEqual([
      'badarg', 'badarg', 'already_owner', 'unknown_group', 'stale_owner', 'ok', 'move_in_progress',
      'wrong_phase', 'stale_move', 'no_move', 'ok', 'wrong_phase', 'ok', 'no_move',
    ]);
    expect(directory.ownerOf(1)).toBe('root');
    expect(directory.moveOf(1)).toBeUndefined();
  });

  it('a step of an aborted move never applies to a later move of the same slot', () => {
    const directory = withRoot();
    applyAll(directory, [
      { op: 'begin_move', slot: 9, to: 'g1' }, // 3
      { op: 'abort_move', slot: 9, moveRevision: 3 }, // 4
      { op: 'begin_move', slot: 9, to: 'g1' }, // 5
    ]);
    expect(directory.apply(6, { op: 'mark_copied', slot: 9, moveRevision: 3 })).toMatchObject({ ok: false, code: 'stale_move' });
    expect(directory.moveOf(9)).toMatchObject({ phase: 'fenced', revision: 5 });
  });

  it(`at most ${MOVES_IN_PROGRESS_MAX} moves are in progress at once`, () => {
    const directory = withRoot();
    const commands: DirectoryCommand[] = [];
    for (let slot = 0; slot <= MOVES_IN_PROGRESS_MAX; slot++) commands.push({ op: 'begin_move', slot, to: 'g1' });
    const results = applyAll(directory, commands);
    expect(results.slice(0, -1).every((result) => result.ok)).toBe(true);
    expect(results.at(-1)).toMatchObject({ ok: false, code: 'too_many_moves' });
    expect(directory.moves()).toHaveLength(MOVES_IN_PROGRESS_MAX);
  });
});

describe('directory — events', () => {
  it('each accepted command emits one event chained by previousRevision; refusals emit none', () => {
    const directory = new Directory();
    const seen: DirectoryEvent[] = [];
    const stop = directory.onChange((event) => seen.push(event));
    applyAll(directory, [
      { op: 'create_root', group: 'root', gateways: rootGateways },
      { op: 'add_group', group: 'root', gateways: [] },
      { op: 'add_group', group: 'g1', gateways: [] },
      { op: 'noop' },
      { op: 'begin_move', slot: 5, to: 'g1' },
    ]);
    stop();
    expect(seen.map((event) => [event.previousRevision, event.revision])).toEqual([[0, 1], [1, 3], [3, 5]]);
    expect(seen[0]?.changes.map((change) => change.type)).toEqual(['group', 'all_slots']);
    expect(seen[2]?.changes).toEqual([
      { type: 'slot', slot: 5, owner: 'root', move: { slot: 5, from: 'root', to: 'g1', phase: 'fenced', revision: 5 }, slotRevision: 5 },
    ]);
    expect(directory.eventsSince(1)?.map((event) => event.revision)).toEqual([3, 5]);
    expect(directory.eventsSince(5)).toEqual([]);
  });

  it(`keeps the last ${DIRECTORY_EVENTS_MAX} events; resuming before them is compacted (undefined)`, () => {
    const directory = withRoot();
    const revisions: number[] = [];
    for (let count = 0; count < 2 * DIRECTORY_EVENTS_MAX + 5; count++) {
      directory.apply(directory.appliedIndex + 1, { op: 'set_gateways', group: 'g1', gateways: [gw('a', 1 + (count % 2))] });
      revisions.push(directory.revision);
      if (count === DIRECTORY_EVENTS_MAX + 4 || count === 2 * DIRECTORY_EVENTS_MAX + 4) {
        const oldestKept = revisions[revisions.length - DIRECTORY_EVENTS_MAX] as number;
        expect(directory.eventsSince(oldestKept - 2)).toBeUndefined();
        expect(directory.eventsSince(oldestKept - 1)).toHaveLength(DIRECTORY_EVENTS_MAX);
      }
    }
    const tail = directory.eventsSince(directory.revision - 3);
    expect(tail?.map((event) => event.revision)).toEqual([directory.revision - 2, directory.revision - 1, directory.revision]);
  });

  it('a refusal becomes a one-line FedError with a stable code and the precise refusal in details', () => {
    const directory = withRoot();
    const refused = directory.apply(3, { op: 'remove_group', group: 'nope' });
    expect(refused.ok).toBe(false);
    const error = refusalError(refused as DirectoryRefusal);
    expect(error).toBeInstanceOf(FedError);
    expect([error.code, error.details]).toEqual(['not_found', { refusal: 'unknown_group' }]);
    expect(error.message).not.toContain('\n');
  });

  it('unknown and malformed commands are refused with badarg and change nothing', () => {
    const directory = withRoot();
    const before = encode(directory.snapshot());
    const results = applyAll(directory, [{ op: 'explode' } as unknown as DirectoryCommand, null as unknown as DirectoryCommand]);
    for (const result of results) expect(result).toMatchObject({ ok: false, code: 'badarg' });
    expect({ ...directory.snapshot(), appliedIndex: 2 }).toEqual(decode(before));
  });
});

describe('directory — determinism, snapshots and the one-owner invariant', () => {
  const groupIds = ['root', 'g1', 'g2', 'g3'];
  const slots = [0, 1, 2, 4095];
  const group = fc.constantFrom(...groupIds);
  const slot = fc.constantFrom(...slots);
  const moveRevision = fc.integer({ min: 1, max: 40 });
  const commandArbitrary: fc.Arbitrary<DirectoryCommand> = fc.oneof(
    fc.record({ op: fc.constant('create_root' as const), group, gateways: fc.constant(rootGateways) }),
    fc.record({ op: fc.constant('add_group' as const), group, gateways: fc.constant([gw('x', 1), gw('y', 2)]) }),
    fc.record({ op: fc.constant('set_gateways' as const), group, gateways: fc.constant([gw('z', 3)]) }),
    fc.record({ op: fc.constant('drain_group' as const), group }),
    fc.record({ op: fc.constant('remove_group' as const), group }),
    { arbitrary: fc.record({ op: fc.constant('begin_move' as const), slot, to: group }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('mark_copied' as const), slot, moveRevision }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant('complete_move' as const), slot, moveRevision }), weight: 3 },
    fc.record({ op: fc.constant('abort_move' as const), slot, moveRevision }),
  );
  // Most logs start from a created root and three groups, so that moves have somewhere to go.
  const bootstrap: DirectoryCommand[] = [
    { op: 'create_root', group: 'root', gateways: rootGateways },
    ...['g1', 'g2', 'g3'].map((id): DirectoryCommand => ({ op: 'add_group', group: id, gateways: [gw(id, 1)] })),
  ];
  // Steps of a live move are rare at random; half of the generated logs replace a mark/complete/
  // abort's moveRevision by the current move's, so moves actually finish.
  function realistic(directory: Directory, command: DirectoryCommand, useCurrent: boolean): DirectoryCommand {
    if (!useCurrent || !('moveRevision' in command)) return command;
    const move = directory.moveOf(command.slot);
    return move === undefined ? command : { ...command, moveRevision: move.revision };
  }

  function checkOwnership(directory: Directory, slotsToCheck: readonly number[]): void {
    if (directory.rootGroup === undefined) return;
    const groups = directory.groups();
    for (const checked of slotsToCheck) {
      const owner = directory.group(directory.ownerOf(checked) ?? '');
      if (owner === undefined || owner.state === 'removed') expect.fail(`slot ${checked} has no live owner`);
      let accepting = 0;
      const reading: string[] = [];
      for (const record of groups) {
        if (routeSlot(directory, record.id, checked, 'write').action === 'serve') accepting++;
        if (routeSlot(directory, record.id, checked, 'read').action === 'serve') reading.push(record.id);
      }
      if (accepting !== (directory.moveOf(checked) === undefined ? 1 : 0)) expect.fail(`slot ${checked}: ${accepting} groups accept writes`);
      if (reading.length !== 1 || reading[0] !== owner.id) expect.fail(`slot ${checked}: read by ${reading.join(',')}`);
    }
    const total = groups.reduce((sum, record) => sum + directory.slotCount(record.id), 0);
    expect(total).toBe(SLOT_COUNT);
  }

  it('replicas agree, snapshot+restore through the codec equals replay, one owner at every revision', () => {
    const accepted = new Map<string, number>();
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.tuple(commandArbitrary, fc.boolean()), { minLength: 5, maxLength: 40 }), fc.nat(44), (bootstrapped, generated, cut) => {
        const steps = bootstrapped ? [...bootstrap.map((command): [DirectoryCommand, boolean] => [command, false]), ...generated] : generated;
        const left = new Directory();
        const right = new Directory();
        const log: DirectoryCommand[] = [];
        for (const [generated, useCurrent] of steps) {
          const command = realistic(left, generated, useCurrent);
          log.push(command);
          const index = left.appliedIndex + 1;
          const result = left.apply(index, command);
          expect(right.apply(index, command)).toEqual(result);
          if (result.ok) accepted.set(command.op, (accepted.get(command.op) ?? 0) + 1);
          checkOwnership(left, slots);
        }
        expect(Buffer.compare(encode(right.snapshot()), encode(left.snapshot()))).toBe(0);
        const prefix = new Directory();
        const cutAt = Math.min(cut, log.length);
        log.slice(0, cutAt).forEach((command, offset) => prefix.apply(offset + 1, command));
        const restored = new Directory();
        restored.restore(decode(encode(prefix.snapshot())) as DirectorySnapshot);
        log.slice(cutAt).forEach((command, offset) => restored.apply(cutAt + offset + 1, command));
        expect(Buffer.compare(encode(restored.snapshot()), encode(left.snapshot()))).toBe(0);
        checkOwnership(left, Array.from({ length: SLOT_COUNT }, (_, index) => index));
      }),
      // Seeded: the coverage check below must not depend on luck (unseeded, ~1 run in 10 saw no complete_move).
      { numRuns: 150, seed: 1 },
    );
    // The generated logs did reach every step of the protocol, not only refusals.
    for (const op of ['create_root', 'add_group', 'remove_group', 'begin_move', 'mark_copied', 'complete_move', 'abort_move']) {
      expect(accepted.get(op) ?? 0, op).toBeGreaterThan(0);
    }
  });
});
