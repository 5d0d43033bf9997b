// The Raft store: one conformance suite run against memory-level and classic-level on disk.
// It proves that what `persist` wrote is exactly what `load` reads after a reopen, that a
// conflicting suffix is replaced, that a compaction drops only the log it covers while an
// installed snapshot drops the whole log (a divergent suffix must not come back at restart),
// that one `persist` is one batch, that entries handed over already encoded (as runs) are
// stored as they are, one segment per run, and read back like the others, and (on disk) that corrupt values and holes are refused with
// corrupt_data and a missing store is not silently created.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftStore, entryKey } from '../../registry/raft-store.js';
import { Pid, encode, encodeRecords, isFedError } from '../../runtime/index.js';
import fc from 'fast-check';

interface Entry { index: number; term: number; data: unknown }
interface Hard { term: number; vote: string | null; commit: number }
interface Snap { index: number; term: number; data: unknown }

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push({ index, term, data: { n: index } });
  return out;
}

interface Backend {
  name: string;
  /** Open a store; `reopen` closes the latest and gives a store over the same data (disk) or the same instance (memory). */
  open(): Promise<{ store: RaftStore<Entry, Hard, Snap>; reopen(): Promise<RaftStore<Entry, Hard, Snap>> }>;
}

const backends: Backend[] = [
  {
    name: 'memory-level',
    async open() {
      const store = await RaftStore.openMemory<Entry, Hard, Snap>();
      return { store, reopen: async () => store };
    },
  },
  {
    name: 'classic-level',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'fedctl-raftstore-'));
      dirs.push(dir);
      let current = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
      return {
        store: current,
        async reopen() {
          await current.close();
          current = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
          return current;
        },
      };
    },
  },
];

for (const backend of backends) {
  describe(`raft store (${backend.name}) — conformance`, () => {
    it('reads back exactly what was persisted, pids included', async () => {
      const { store, reopen } = await backend.open();
      const pid = new Pid('a@127.0.0.1', 3, 2);
      await store.persist({ hardState: { term: 2, vote: 'a', commit: 1 }, entries: [{ index: 1, term: 1, data: { pid } }, ...entries(2, 3, 2)] });
      const again = await reopen();
      const loaded = await again.load();
      expect(loaded.hardState).toEqual({ term: 2, vote: 'a', commit: 1 });
      expect(loaded.entries.map((entry) => [entry.index, entry.term])).toEqual([[1, 1], [2, 2], [3, 2]]);
      expect((loaded.entries[0]!.data as { pid: Pid }).pid.equals(pid)).toBe(true);
      expect(again.lastIndex).toBe(3);
      await again.close();
    });

    it('replaces a conflicting suffix', async () => {
      const { store, reopen } = await backend.open();
      await store.persist({ entries: entries(1, 5, 1) });
      await store.persist({ entries: entries(3, 4, 2) });
      const again = await reopen();
      const loaded = await again.load();
      expect(loaded.entries.map((entry) => [entry.index, entry.term])).toEqual([[1, 1], [2, 1], [3, 2], [4, 2]]);
      await again.close();
    });

    it('a compaction drops the entries it covers and keeps the rest', async () => {
      const { store, reopen } = await backend.open();
      await store.persist({ entries: entries(1, 10, 1) });
      await store.persist({ compaction: { index: 6, term: 1, data: 'state' } });
      expect(store.firstIndex).toBe(7);
      const again = await reopen();
      const loaded = await again.load();
      expect(loaded.snapshot).toEqual({ index: 6, term: 1, data: 'state' });
      expect(loaded.entries.map((entry) => entry.index)).toEqual([7, 8, 9, 10]);
      expect(again.firstIndex).toBe(7);
      expect(again.lastIndex).toBe(10);
      await again.close();
    });

    it('a snapshot beyond the log (InstallSnapshot) leaves an empty log after it', async () => {
      const { store, reopen } = await backend.open();
      await store.persist({ entries: entries(1, 3, 1) });
      await store.persist({ snapshot: { index: 20, term: 4, data: 's' }, hardState: { term: 4, vote: null, commit: 20 } });
      await store.persist({ entries: entries(21, 22, 4) });
      const again = await reopen();
      const loaded = await again.load();
      expect(loaded.entries.map((entry) => entry.index)).toEqual([21, 22]);
      expect(again.firstIndex).toBe(21);
      await again.close();
    });

    it('an installed snapshot drops the whole log, also the entries after its index', async () => {
      // B2: a follower whose log diverged (entries of term 1 up to 10) installs the leader's
      // snapshot at 6, term 2. In memory the core keeps nothing of its old log; on disk the old
      // entries 7..10 must not survive behind the snapshot and come back at restart.
      const { store, reopen } = await backend.open();
      await store.persist({ entries: entries(1, 10, 1), hardState: { term: 1, vote: null, commit: 3 } });
      await store.persist({ snapshot: { index: 6, term: 2, data: 'leader' }, hardState: { term: 2, vote: null, commit: 6 } });
      expect([store.firstIndex, store.lastIndex]).toEqual([7, 6]);
      let again = await reopen();
      let loaded = await again.load();
      expect(loaded.snapshot).toEqual({ index: 6, term: 2, data: 'leader' });
      expect(loaded.entries).toEqual([]);
      expect(loaded.hardState).toEqual({ term: 2, vote: null, commit: 6 });
      expect([again.firstIndex, again.lastIndex]).toEqual([7, 6]);
      // What the leader sends next continues from the snapshot.
      await again.persist({ entries: entries(7, 8, 2) });
      again = await reopen();
      loaded = await again.load();
      expect(loaded.entries.map((entry) => [entry.index, entry.term])).toEqual([[7, 2], [8, 2]]);
      await again.close();
    });

    it('entries handed over already encoded are stored as one segment per run and read back as entries', async () => {
      const { store, reopen } = await backend.open();
      const pid = new Pid('a@127.0.0.1', 3, 2);
      const all = [...entries(1, 3, 1), { index: 4, term: 1, data: { pid } }, ...entries(5, 9, 1)];
      const runs = [all.slice(0, 4), all.slice(4, 5), all.slice(5)];
      await store.persist({
        entries: all,
        encodedEntries: runs.map((run, at) => ({ count: run.length, bytes: at === 1 ? encode(run) : encodeRecords(run) })),
      });
      expect(store.stats()).toEqual({ batches: 1, syncedBatches: 1, batchesWithEntries: 1, entriesWritten: 9 });
      // An overwrite that starts inside the first run rewrites its head, and a compaction cuts the last.
      await store.persist({ entries: entries(3, 6, 2) });
      await store.persist({ compaction: { index: 2, term: 1, data: 'state' } });
      let again = await reopen();
      let loaded = await again.load();
      expect(loaded.entries.map((entry) => [entry.index, entry.term])).toEqual([[3, 2], [4, 2], [5, 2], [6, 2]]);
      await again.persist({ entries: all.slice(6), encodedEntries: [{ count: 3, bytes: encodeRecords(all.slice(6)) }] });
      again = await reopen();
      loaded = await again.load();
      expect(loaded.entries.map((entry) => [entry.index, entry.term])).toEqual([[3, 2], [4, 2], [5, 2], [6, 2], [7, 1], [8, 1], [9, 1]]);
      await again.close();
    });

    it('encoded runs that do not cover the entries exactly are a programming error, nothing written', async () => {
      const { store } = await backend.open();
      const five = entries(1, 5, 1);
      await expect(store.persist({ entries: five, encodedEntries: [{ count: 4, bytes: encodeRecords(five.slice(0, 4)) }] })).rejects.toThrow(/encoded runs cover 4 of 5/);
      await expect(store.persist({ entries: five, encodedEntries: [{ count: 0, bytes: encodeRecords([]) }] })).rejects.toThrow(/an encoded run of 0 entries/);
      expect(store.stats().batches).toBe(0);
      expect(store.lastIndex).toBe(0);
      await store.close();
    });

    it('one persist is one batch: installed snapshot, entries, hard state and compaction together', async () => {
      const { store, reopen } = await backend.open();
      await store.persist({ entries: entries(1, 4, 1) });
      expect(store.stats()).toEqual({ batches: 1, syncedBatches: 1, batchesWithEntries: 1, entriesWritten: 4 });
      await store.persist({
        snapshot: { index: 10, term: 3, data: 'installed' },
        entries: entries(11, 14, 3),
        hardState: { term: 3, vote: 'b', commit: 12 },
        compaction: { index: 12, term: 3, data: 'taken' },
      });
      expect(store.stats()).toEqual({ batches: 2, syncedBatches: 2, batchesWithEntries: 2, entriesWritten: 8 });
      // A batch that needs no fsync (only the commit moved) is written without one.
      await store.persist({ hardState: { term: 3, vote: 'b', commit: 13 } }, { sync: false });
      expect(store.stats()).toEqual({ batches: 3, syncedBatches: 2, batchesWithEntries: 2, entriesWritten: 8 });
      const again = await reopen();
      const loaded = await again.load();
      expect(loaded.snapshot).toEqual({ index: 12, term: 3, data: 'taken' });
      expect(loaded.entries.map((entry) => entry.index)).toEqual([13, 14]);
      expect(loaded.hardState).toEqual({ term: 3, vote: 'b', commit: 13 });
      await again.close();
    });
  });
}


/** One persist of the model run: what the driver may hand the store in one Ready. */
type Step =
  | { readonly kind: 'append'; readonly back: number; readonly count: number; readonly term: number }
  | { readonly kind: 'compact'; readonly back: number }
  | { readonly kind: 'install'; readonly ahead: number; readonly term: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), back: fc.nat(6), count: fc.integer({ min: 1, max: 6 }), term: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.nat(8) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('install' as const), ahead: fc.nat(5), term: fc.integer({ min: 1, max: 4 }) }) },
);

describe('raft store — model check against the in-memory log', () => {
  it('after any sequence of appends (with overwrites), compactions and installs, a reopen loads exactly the model', async () => {
    // The model is what the core keeps in memory (MemoryStorage): snapshot index, then entries.
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary, { minLength: 1, maxLength: 25 }), async (steps) => {
        const dir = mkdtempSync(join(tmpdir(), 'fedctl-raftstore-model-'));
        try {
          let store = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
          let snapshotIndex = 0;
          let log: Entry[] = [];
          const last = (): number => snapshotIndex + log.length;
          for (const step of steps) {
            if (step.kind === 'append') {
              const first = Math.max(snapshotIndex + 1, last() + 1 - step.back);
              const appended = entries(first, first + step.count - 1, step.term);
              log = [...log.slice(0, first - snapshotIndex - 1), ...appended];
              await store.persist({ entries: appended });
            } else if (step.kind === 'compact') {
              const index = last() - step.back;
              if (index <= snapshotIndex) continue;
              const term = log[index - snapshotIndex - 1]!.term;
              log = log.slice(index - snapshotIndex);
              snapshotIndex = index;
              await store.persist({ compaction: { index, term, data: null } });
            } else {
              const index = last() + step.ahead;
              if (index <= snapshotIndex) continue;
              snapshotIndex = index;
              log = [];
              await store.persist({ snapshot: { index, term: step.term, data: null } });
            }
            if (steps.indexOf(step) % 5 === 4) {
              await store.close();
              store = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
              await store.load();
            }
          }
          await store.close();
          store = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
          const loaded = await store.load();
          await store.close();
          expect(loaded.entries.map((entry) => [entry.index, entry.term])).toEqual(log.map((entry) => [entry.index, entry.term]));
          expect(loaded.snapshot?.index ?? 0).toBe(snapshotIndex);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60, seed: 11 },
    );
  });
});

describe('raft store (classic-level) — refuses corrupt data', () => {
  async function corruptWith(mutate: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>): Promise<unknown> {
    const dir = mkdtempSync(join(tmpdir(), 'fedctl-raftstore-'));
    dirs.push(dir);
    const store = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
    await store.persist({ entries: entries(1, 5, 1), hardState: { term: 1, vote: null, commit: 0 } });
    await store.close();
    const raw = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await mutate(raw);
    await raw.close();
    const reopened = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
    try {
      await reopened.load();
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await reopened.close();
    }
  }

  it('an entry that does not decode', async () => {
    const error = await corruptWith((db) => db.put(entryKey(3), Buffer.from([0x92, 0x01])));
    expect(isFedError(error, 'corrupt_data')).toBe(true);
  });

  it('a hole in the log', async () => {
    // Entries 1..5 were written as one segment (key of entry 1); a later segment after a gap is a hole.
    const error = await corruptWith((db) => db.put(entryKey(7), encode([{ index: 7, term: 1, data: null }])));
    expect(isFedError(error, 'corrupt_data')).toBe(true);
  });

  it('a segment whose entries do not follow its key', async () => {
    const error = await corruptWith((db) => db.put(entryKey(1), encode([{ index: 1, term: 1 }, { index: 3, term: 1 }])));
    expect(isFedError(error, 'corrupt_data')).toBe(true);
  });

  it('reads a store in the one-key-per-entry layout (format 1 before segments) unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedctl-raftstore-'));
    dirs.push(dir);
    const raw = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    for (const entry of entries(4, 8, 2)) await raw.put(entryKey(entry.index), encode(entry));
    await raw.put(Buffer.from('s'), encode({ index: 3, term: 1, data: 'old' }));
    await raw.close();
    const store = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
    const loaded = await store.load();
    expect(loaded.entries.map((entry) => entry.index)).toEqual([4, 5, 6, 7, 8]);
    // And it keeps working on it: overwrite inside, compact.
    await store.persist({ entries: entries(6, 6, 3) });
    await store.persist({ compaction: { index: 5, term: 2, data: 'new' } });
    await store.close();
    const again = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
    expect((await again.load()).entries.map((entry) => [entry.index, entry.term])).toEqual([[6, 3]]);
    await again.close();
  });

  it('reads segments written with plain maps (stores from before records) beside record-encoded ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedctl-raftstore-'));
    dirs.push(dir);
    const raw = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await raw.put(entryKey(1), encode(entries(1, 4, 1)));
    await raw.close();
    const store = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
    expect((await store.load()).entries.map((entry) => entry.index)).toEqual([1, 2, 3, 4]);
    await store.persist({ entries: entries(5, 6, 1) });
    await store.close();
    const again = await RaftStore.openDisk<Entry, Hard, Snap>(dir);
    const loaded = await again.load();
    expect(loaded.entries).toEqual(entries(1, 6, 1));
    await again.close();
  });

  it('a missing store is refused, not created, when it must exist', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedctl-raftstore-'));
    dirs.push(root);
    const path = join(root, 'raft');
    const error = await RaftStore.openDisk<Entry, Hard, Snap>(path, { createIfMissing: false }).catch((caught: unknown) => caught);
    expect(isFedError(error, 'corrupt_data')).toBe(true);
    expect(existsSync(path)).toBe(false);
  });

  it('a hard state that does not decode', async () => {
    const error = await corruptWith((db) => db.put(Buffer.from('h'), Buffer.from([0xd9, 0x05])));
    expect(isFedError(error, 'corrupt_data')).toBe(true);
  });
});
