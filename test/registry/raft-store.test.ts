// The Raft store: one conformance suite run against memory-level and classic-level on disk.
// It proves that what `persist` wrote is exactly what `load` reads after a reopen, that a
// conflicting suffix is replaced, that a compaction drops only the log it covers while an
// installed snapshot drops the whole log (a divergent suffix must not come back at restart),
// that one `persist` is one batch, and (on disk) that corrupt values and holes are refused with
// corrupt_data and a missing store is not silently created.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftStore, entryKey } from '../../registry/raft-store.js';
import { Pid, isFedError } from '../../runtime/index.js';

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
    const error = await corruptWith((db) => db.del(entryKey(3)));
    expect(isFedError(error, 'corrupt_data')).toBe(true);
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
