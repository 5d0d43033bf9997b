// The directory's `batch` command (a mover's pipelined steps at one Raft index): each command
// in it answers on its own, a refused one changes nothing while the others apply, all changes
// share the batch's revision in one event, batches do not nest, and a batch of moves equals
// the same moves applied one by one.
import { describe, expect, it } from 'vitest';
import { BATCH_COMMANDS_MAX, Directory, type DirectoryCommand } from '../../federation/index.js';

function rooted(): { directory: Directory; run: (command: DirectoryCommand) => ReturnType<Directory['apply']>; index: () => number } {
  const directory = new Directory();
  let index = 0;
  const run = (command: DirectoryCommand) => directory.apply(++index, command);
  run({ op: 'create_root', group: 'root', gateways: [] });
  run({ op: 'add_group', group: 'g1', gateways: [] });
  return { directory, run, index: () => index };
}

describe('directory — batch', () => {
  it('answers each command, applies the valid ones at one revision, and emits one event', () => {
    const { directory, run } = rooted();
    const events: number[] = [];
    directory.onChange((event) => events.push(event.revision));
    const result = run({
      op: 'batch',
      commands: [
        { op: 'begin_move', slot: 1, to: 'g1' },
        { op: 'begin_move', slot: 2, to: 'nope' },
        { op: 'begin_move', slot: 3, to: 'g1' },
        { op: 'batch', commands: [] } as unknown as DirectoryCommand,
      ],
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.results?.map((entry) => (entry.ok ? 'ok' : entry.code))).toEqual(['ok', 'unknown_group', 'ok', 'badarg']);
    expect(directory.moveOf(1)?.revision).toBe(result.revision);
    expect(directory.moveOf(2)).toBeUndefined();
    expect(directory.moveOf(3)?.revision).toBe(result.revision);
    expect(events).toEqual([result.revision]);
    expect(run({ op: 'batch', commands: new Array(BATCH_COMMANDS_MAX + 1).fill({ op: 'noop' }) })).toMatchObject({ ok: false, code: 'badarg' });
  });

  it('a batch of full moves gives the same slot map as the moves one by one', () => {
    const batched = rooted();
    const single = rooted();
    const slots = [5, 6, 7];
    const begin = batched.run({ op: 'batch', commands: slots.map((slot) => ({ op: 'begin_move' as const, slot, to: 'g1' })) });
    const revision = begin.ok ? begin.revision : -1;
    batched.run({ op: 'batch', commands: slots.map((slot) => ({ op: 'mark_copied' as const, slot, moveRevision: revision })) });
    batched.run({ op: 'batch', commands: slots.map((slot) => ({ op: 'complete_move' as const, slot, moveRevision: revision })) });
    for (const slot of slots) {
      const began = single.run({ op: 'begin_move', slot, to: 'g1' });
      const moveRevision = began.ok ? began.revision : -1;
      single.run({ op: 'mark_copied', slot, moveRevision });
      single.run({ op: 'complete_move', slot, moveRevision });
    }
    expect(batched.directory.snapshot().owners).toEqual(single.directory.snapshot().owners);
    expect(batched.directory.slotCount('g1')).toBe(3);
    expect(batched.directory.moves()).toEqual([]);
  });
});
