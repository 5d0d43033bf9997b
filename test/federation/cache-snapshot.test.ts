// DirectoryCache.snapshot: what a gateway hands to another gateway when the root is out of
// reach. It proves that a cache seeded from another cache's snapshot routes every slot the
// way the source cache does, keeps moves and group records, and that an older snapshot never
// takes a cache backwards.
import { describe, expect, it } from 'vitest';
import { Directory, DirectoryCache, SLOT_COUNT } from '../../federation/index.js';

describe('directory cache — snapshots between caches', () => {
  it('a cache seeded from another cache agrees with it on every slot, move and group', () => {
    const directory = new Directory();
    const source = new DirectoryCache();
    let index = 0;
    const apply = (command: Parameters<Directory['apply']>[1]) => {
      directory.apply(++index, command);
      const events = directory.eventsSince(source.revision) ?? [];
      for (const event of events) source.applyEvent(event);
    };
    apply({ op: 'create_root', group: 'root', gateways: [{ node: 'r-gw@127.0.0.1', address: '127.0.0.1:1' }] });
    apply({ op: 'add_group', group: 'g1', gateways: [{ node: 'g-gw@127.0.0.1', address: '127.0.0.1:2' }] });
    apply({ op: 'begin_move', slot: 7, to: 'g1' });
    apply({ op: 'mark_copied', slot: 7, moveRevision: 3 });
    apply({ op: 'complete_move', slot: 7, moveRevision: 3 });
    apply({ op: 'begin_move', slot: 9, to: 'g1' });
    const seeded = new DirectoryCache();
    expect(seeded.applySnapshot(source.snapshot())).toBe('applied');
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      expect(seeded.ownerOf(slot)).toBe(source.ownerOf(slot));
      expect(seeded.slotRevision(slot)).toBe(source.slotRevision(slot));
    }
    expect(seeded.ownerOf(7)).toBe('g1');
    expect(seeded.moveOf(9)).toEqual(directory.moveOf(9));
    expect(seeded.groups()).toEqual(directory.groups());
    expect(seeded.revision).toBe(directory.revision);
    // Newer news still applies on top; an older snapshot is ignored.
    const older = seeded.snapshot();
    apply({ op: 'abort_move', slot: 9, moveRevision: 6 });
    for (const event of directory.eventsSince(seeded.revision) ?? []) expect(seeded.applyEvent(event)).toBe('applied');
    expect(seeded.moveOf(9)).toBeUndefined();
    expect(seeded.applySnapshot(older)).toBe('stale');
    expect(seeded.moveOf(9)).toBeUndefined();
  });
});
