// The process table (runtime/process-table.ts): proves lookups by id, age order and size stay
// right across the compaction that moves long-lived entries out of the dense array, that its
// room stays proportional to the live entries (never to every id handed out), that a deleted
// or never-added id is not found, and that ids must be added in order. Seeded random deaths,
// so every run checks the same history against a plain Map as the model.
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../runtime/kernel/assert.js';
import { Rng } from '../../runtime/kernel/rng.js';
import { ProcessTable, SLOTS_COMPACT_MIN } from '../../runtime/process-table.js';

interface Entry {
  readonly id: number;
}

describe('process table', () => {
  it('matches a Map model through spawns, random deaths and compactions', () => {
    const rng = new Rng(42);
    const table = new ProcessTable<Entry>(1);
    const model = new Map<number, Entry>();
    const live: Entry[] = [];
    for (let step = 0; step < 20_000; step++) {
      const entry = { id: table.nextId };
      table.add(entry);
      model.set(entry.id, entry);
      live.push(entry);
      // Kill nine live entries in ten spawns, picked uniformly: some very old ones stay alive
      // through several compactions and must be found among the survivors.
      if (rng.chance(0.9)) {
        const index = rng.int(live.length);
        const victim = live[index] as Entry;
        live[index] = live[live.length - 1] as Entry;
        live.pop();
        const sizeBefore = table.size;
        table.delete(victim);
        model.delete(victim.id);
        expect(table.size).toBe(sizeBefore - 1);
      }
      expect(table.capacity).toBeLessThanOrEqual(2 * table.size + SLOTS_COMPACT_MIN);
      if (step % 1_000 === 999) {
        // Spot-check lookups as we go (the oldest live entries are survivors), not only at the end.
        for (const probe of [...live].sort((a, b) => a.id - b.id).slice(0, 50)) expect(table.get(probe.id)).toBe(probe);
      }
    }
    // 20,000 ids were handed out; the table holds room for about the 2,000 still live.
    expect(table.nextId).toBe(20_001);
    expect(table.capacity).toBeLessThan(5_000);
    expect(table.size).toBe(model.size);
    expect(table.values()).toEqual([...model.values()].sort((a, b) => a.id - b.id));
    for (let id = 0; id <= table.nextId; id++) expect(table.get(id)).toBe(model.get(id));
  });

  it('a deleted entry, a foreign entry and ids never handed out are not found', () => {
    const table = new ProcessTable<Entry>(1);
    const first = { id: table.nextId };
    table.add(first);
    expect(table.get(1)).toBe(first);
    table.delete({ id: 1 }); // an equal id but not this entry: nothing happens
    expect(table.size).toBe(1);
    table.delete(first);
    table.delete(first); // idempotent
    expect(table.size).toBe(0);
    for (const id of [0, 1, 2, -1, 1.5, Number.NaN]) expect(table.get(id)).toBeUndefined();
  });

  it('ids must be added in order (an invariant, not an operating error)', () => {
    const table = new ProcessTable<Entry>(1);
    expect(() => table.add({ id: 2 })).toThrow(AssertionError);
  });
});
