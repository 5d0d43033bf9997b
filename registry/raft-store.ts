/**
 * The durable Raft store of a group member, on `level` (classic-level on disk; memory-level in
 * unit tests). One `persist` call is one atomic batch (written with `sync: true` unless the
 * caller says the batch needs no fsync): a snapshot installed from the leader, the new entries
 * (replacing any conflicting suffix of the log), the hard state, and a snapshot the application
 * took (a compaction). The driver calls it BEFORE sending the messages or acknowledging the
 * proposals that depend on it, with everything of one `Ready` in that one batch.
 *
 * The two kinds of snapshot differ in what they do to the log, exactly as the core's in-memory
 * log does (`RaftLog.restore` / `MemoryStorage.installSnapshot` versus `compact`):
 * - an INSTALLED snapshot replaces the whole log: every stored entry is dropped, also those
 *   after the snapshot's index. The core installs a snapshot only when its log does NOT hold an
 *   entry at the snapshot's index with the snapshot's term (when it does, Raft keeps the suffix
 *   and the core merely commits; no snapshot reaches the driver), so any suffix on disk may
 *   diverge from the leader's log and must not come back at restart;
 * - a COMPACTION drops only the entries it covers and keeps the rest.
 *
 * Keys: `h` hard state; `s` snapshot; `m` meta; `e` + 8-byte big-endian index of its first entry
 * → a SEGMENT: the entries one `persist` appended, as one array (one LevelDB write per Ready
 * instead of one per entry: LevelDB's per-operation cost, not the bytes, dominated the write
 * path). A value holding a single entry object (the layout of format 1 before segments) reads
 * as a segment of one, so older stores open unchanged. Overwriting a conflicting suffix that
 * starts inside a segment rewrites that segment's head; a compaction drops the segments it
 * covers whole and leaves the one it cuts (its covered head is skipped when loading).
 * A batch may store several segments (the driver hands over the runs it already encoded, see
 * `PersistBatch.encodedEntries`).
 * Values: the wire codec (msgpackr), so pids inside entries survive; segments are written as
 * `encodeRecords` writes them (each entry's keys once per segment, not once per entry; by
 * `encodeEntries`, entry-writer.ts, which gives the same bytes), which the same `decode` reads
 * as it reads the plain segments stores written before hold. A value that does not decode, or a
 * log with a hole, is `corrupt_data`: the store refuses to open rather than guess.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AbstractLevel } from 'abstract-level';
import { ClassicLevel } from 'classic-level';
import { MemoryLevel } from 'memory-level';
import { assert, decode, encode, fedError, isFedError } from '../runtime/index.js';
import { encodeEntries } from './entry-writer.js';
import type { Entry, HardState, Snapshot } from './raft/index.js';

export const RAFT_STORE_FORMAT = 1;

export interface StoredEntry {
  readonly index: number;
  readonly term: number;
}

export interface StoredSnapshot {
  readonly index: number;
  readonly term: number;
}

/** One atomic batch, applied in this order: `snapshot`, `entries`, `hardState`, `compaction`. */
export interface PersistBatch<E extends StoredEntry, H, S extends StoredSnapshot> {
  /** A snapshot installed from the leader: the whole log is dropped (see the header). */
  readonly snapshot?: S | undefined;
  /** Entries to append; any stored entry at or after `entries[0].index` is replaced. */
  readonly entries?: readonly E[] | undefined;
  /**
   * `entries` already encoded: consecutive runs, in order, whose counts add up to
   * `entries.length`, each with the bytes `encodeRecords` (or `encode`) gives for exactly its
   * entries. Each run is
   * stored as one segment with those bytes (the driver encoded them once for the followers too,
   * or received them so). Omitted: `entries` are encoded here, as one segment.
   */
  readonly encodedEntries?: readonly EncodedRun[] | undefined;
  readonly hardState?: H | undefined;
  /** A snapshot the application took: entries up to its index are dropped, later ones kept. */
  readonly compaction?: S | undefined;
}

/** `count` consecutive entries and their encoding (see `PersistBatch.encodedEntries`). */
export interface EncodedRun {
  readonly count: number;
  readonly bytes: Uint8Array;
}

/** Counters of what the store wrote (group commit is measured by them). */
export interface RaftStoreStats {
  /** Atomic batches written. */
  readonly batches: number;
  /** Of those, batches written with fsync. */
  readonly syncedBatches: number;
  /** Of those, batches that carried log entries. */
  readonly batchesWithEntries: number;
  readonly entriesWritten: number;
}

export interface LoadedState<E, H, S> {
  readonly meta: StoreMeta | undefined;
  readonly hardState: H | undefined;
  readonly snapshot: S | undefined;
  readonly entries: E[];
}

export interface StoreMeta {
  readonly format: number;
  readonly group: string;
  readonly node: string;
  /**
   * This store's identity: random, made when the store is first opened by a group member (absent
   * in stores from before it, and in a store the data directory created but no member opened
   * yet). A node whose data directory was wiped comes back under its old name with a new one.
   */
  readonly storeId?: string;
  /**
   * True once the group admitted this store (or it bootstrapped the group, or it predates store
   * ids and holds Raft state): until then the member takes part in no Raft exchange, since its
   * name may be a voter whose votes and acknowledged entries were lost with an earlier store.
   */
  readonly admitted?: boolean;
}

/** What a group member keeps: the core's entries and hard state, and its snapshots with their index and term. */
export interface StoredGroupSnapshot {
  readonly index: number;
  readonly term: number;
  readonly snapshot: Snapshot;
}
export type GroupRaftStore = RaftStore<Entry, HardState, StoredGroupSnapshot>;

/**
 * Refuse a loaded store that is not this member's, changing nothing: from a newer format
 * (`wrong_data_dir`), of another group or node (`wrong_data_dir`), or holding Raft state without
 * the meta record every store gets when it is created (`corrupt_data`). `undefined` meta on an
 * empty store is a store created but never written: the caller writes the meta.
 */
export function verifyStoreMeta(path: string, loaded: LoadedState<unknown, unknown, unknown>, expected: { group: string; node: string }): void {
  const meta = loaded.meta as Partial<StoreMeta> | undefined;
  if (meta === undefined) {
    if (loaded.hardState !== undefined || loaded.snapshot !== undefined || loaded.entries.length > 0) {
      throw fedError('corrupt_data', `the Raft store at ${path} holds Raft state but no meta record`);
    }
    return;
  }
  if (
    typeof meta !== 'object' ||
    meta === null ||
    !Number.isInteger(meta.format) ||
    typeof meta.group !== 'string' ||
    typeof meta.node !== 'string' ||
    (meta.storeId !== undefined && (typeof meta.storeId !== 'string' || meta.storeId.length === 0)) ||
    (meta.admitted !== undefined && typeof meta.admitted !== 'boolean')
  ) {
    throw fedError('corrupt_data', `the Raft store at ${path} has a malformed meta record`);
  }
  if ((meta.format as number) > RAFT_STORE_FORMAT) {
    throw fedError('wrong_data_dir', `the Raft store at ${path} has format ${meta.format}, newer than this fedctl (${RAFT_STORE_FORMAT}); upgrade fedctl`, { format: meta.format });
  }
  if ((meta.format as number) < 1) throw fedError('corrupt_data', `the Raft store at ${path} has format ${meta.format}`);
  if (meta.group !== expected.group || meta.node !== expected.node) {
    throw fedError('wrong_data_dir', `the Raft store at ${path} belongs to ${meta.node} in group ${meta.group}, not ${expected.node} in ${expected.group}`);
  }
}

type Bytes = Uint8Array;
type Db = AbstractLevel<Bytes | string, Bytes, Bytes>;

const KEY_HARD_STATE = Buffer.from('h');
const KEY_SNAPSHOT = Buffer.from('s');
const KEY_META = Buffer.from('m');
const ENTRY_PREFIX = 0x65; // 'e'
/** The file every LevelDB database has (it names the current manifest). */
export const LEVEL_CURRENT_FILE = 'CURRENT';
/** classic-level's durability option (not in abstract-level's types). */
const SYNC = { sync: true, keyEncoding: 'view', valueEncoding: 'view' } as const;
const NO_SYNC = { sync: false, keyEncoding: 'view', valueEncoding: 'view' } as const;

export function entryKey(index: number): Buffer {
  assert(Number.isSafeInteger(index) && index >= 0, `bad entry index ${index}`);
  const key = Buffer.alloc(9);
  key[0] = ENTRY_PREFIX;
  key.writeBigUInt64BE(BigInt(index), 1);
  return key;
}

/** Where one segment of the log is stored: its key is `entryKey(first)`. */
interface Segment {
  readonly first: number;
  readonly last: number;
}

export class RaftStore<E extends StoredEntry, H, S extends StoredSnapshot> {
  readonly #db: Db;
  #lastIndex = 0;
  #firstIndex = 1;
  /** The stored segments in index order; together they hold firstIndex..lastIndex (and perhaps a compacted head). */
  #segments: Segment[] = [];
  #closed = false;
  #batches = 0;
  #syncedBatches = 0;
  #batchesWithEntries = 0;
  #entriesWritten = 0;

  private constructor(db: Db) {
    this.#db = db;
  }

  /**
   * A store on disk under `path` (classic-level). With `createIfMissing: false` a missing store
   * is refused (`corrupt_data`) instead of being created empty: a member that had Raft state
   * must never come back without its term, vote and log.
   */
  static async openDisk<E extends StoredEntry, H, S extends StoredSnapshot>(path: string, options: { createIfMissing?: boolean } = {}): Promise<RaftStore<E, H, S>> {
    const createIfMissing = options.createIfMissing !== false;
    // Checked before opening: classic-level creates the directory even when it then refuses.
    if (!createIfMissing && !existsSync(join(path, LEVEL_CURRENT_FILE))) {
      throw fedError('corrupt_data', `the Raft store at ${path} is missing`, { missing: true });
    }
    const db = new ClassicLevel<Bytes, Bytes>(path, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing });
    try {
      await db.open();
    } catch (error) {
      throw fedError('corrupt_data', `cannot open the Raft store at ${path}: ${(error as Error).message}`, undefined, error);
    }
    return new RaftStore<E, H, S>(db as unknown as Db);
  }

  /** A store in memory, for unit tests. */
  static async openMemory<E extends StoredEntry, H, S extends StoredSnapshot>(): Promise<RaftStore<E, H, S>> {
    const db = new MemoryLevel<Bytes, Bytes>({ keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    return new RaftStore<E, H, S>(db as unknown as Db);
  }

  get lastIndex(): number {
    return this.#lastIndex;
  }

  get firstIndex(): number {
    return this.#firstIndex;
  }

  /** Read everything back; checks that the log is contiguous and follows the snapshot. */
  async load(): Promise<LoadedState<E, H, S>> {
    const meta = await this.#read<StoreMeta>(KEY_META, 'meta');
    const hardState = await this.#read<H>(KEY_HARD_STATE, 'hard state');
    const snapshot = await this.#read<S>(KEY_SNAPSHOT, 'snapshot');
    const entries: E[] = [];
    const segments: Segment[] = [];
    for await (const [key, value] of this.#db.iterator({ gte: entryKey(0), lte: entryKey(Number.MAX_SAFE_INTEGER) })) {
      const index = Number(Buffer.from(key).readBigUInt64BE(1));
      const decoded = this.#decodeValue<E | E[]>(value, `entry ${index}`);
      const segment = Array.isArray(decoded) ? decoded : [decoded];
      if (segment.length === 0) throw fedError('corrupt_data', `the log segment stored at ${index} is empty`);
      segment.forEach((entry, offset) => {
        if (typeof entry !== 'object' || entry === null || entry.index !== index + offset) {
          throw fedError('corrupt_data', `entry ${index + offset} of the segment stored at ${index} says index ${String((entry as E | null)?.index)}`);
        }
      });
      const expected = entries.length === 0 ? undefined : (entries[entries.length - 1] as E).index + 1;
      if (expected !== undefined && index !== expected) {
        throw fedError('corrupt_data', `the Raft log has a hole: entry ${expected - 1} is followed by ${index}`);
      }
      for (const entry of segment) entries.push(entry);
      segments.push({ first: index, last: index + segment.length - 1 });
    }
    // A compaction leaves the segment it cuts: its head (covered by the snapshot) is not log.
    const live = snapshot === undefined ? entries : entries.filter((entry) => entry.index > snapshot.index);
    if (snapshot !== undefined && live.length > 0 && (live[0] as E).index !== snapshot.index + 1) {
      throw fedError('corrupt_data', `the Raft log starts at ${(live[0] as E).index} but the snapshot ends at ${snapshot.index}`);
    }
    this.#firstIndex = snapshot === undefined ? (live[0]?.index ?? 1) : snapshot.index + 1;
    this.#lastIndex = live.length > 0 ? (live[live.length - 1] as E).index : this.#firstIndex - 1;
    // All of them, also any wholly below the snapshot: the next compaction deletes those.
    this.#segments = segments;
    return { meta, hardState, snapshot, entries: live };
  }

  async writeMeta(meta: StoreMeta): Promise<void> {
    await this.#db.put(KEY_META, encode(meta), SYNC);
  }

  /**
   * Make a Ready's durable state durable: one atomic batch, synced unless `options.sync` is
   * false (the core says so with `Ready.mustSync`: a batch that only moves the commit index).
   */
  async persist(batch: PersistBatch<E, H, S>, options: { sync?: boolean } = {}): Promise<void> {
    assert(!this.#closed, 'persist on a closed RaftStore');
    const operations: Array<{ type: 'put'; key: Bytes; value: Bytes } | { type: 'del'; key: Bytes }> = [];
    let firstIndex = this.#firstIndex;
    let lastIndex = this.#lastIndex;
    let segments = this.#segments;
    if (batch.snapshot !== undefined) {
      // Installed: the whole log goes, in the same atomic batch as the snapshot.
      for (const segment of segments) operations.push({ type: 'del', key: entryKey(segment.first) });
      segments = [];
      operations.push({ type: 'put', key: KEY_SNAPSHOT, value: encode(batch.snapshot) });
      firstIndex = batch.snapshot.index + 1;
      lastIndex = batch.snapshot.index;
    }
    const entries = batch.entries ?? [];
    if (entries.length > 0) {
      const first = (entries[0] as E).index;
      assert(first >= firstIndex, `entries start at ${first}, below the log start ${firstIndex}`);
      assert(first <= lastIndex + 1, `entries start at ${first} beyond the log end ${lastIndex}`);
      entries.forEach((entry, offset) => assert(entry.index === first + offset, 'entries must be contiguous'));
      // A conflicting suffix from `first` on goes: whole segments, and the tail of one cut in two.
      segments = [...segments];
      while (segments.length > 0 && (segments[segments.length - 1] as Segment).last >= first) {
        const cut = segments.pop() as Segment;
        if (cut.first < first) {
          const head = (await this.#readSegment(cut)).filter((entry) => entry.index < first);
          operations.push({ type: 'put', key: entryKey(cut.first), value: encodeEntries(head) });
          segments.push({ first: cut.first, last: first - 1 });
        } else operations.push({ type: 'del', key: entryKey(cut.first) });
      }
      const runs = batch.encodedEntries ?? [{ count: entries.length, bytes: encodeEntries(entries) }];
      let runFirst = first;
      for (const run of runs) {
        assert(Number.isSafeInteger(run.count) && run.count > 0, `an encoded run of ${run.count} entries`);
        operations.push({ type: 'put', key: entryKey(runFirst), value: run.bytes });
        segments.push({ first: runFirst, last: runFirst + run.count - 1 });
        runFirst += run.count;
      }
      const last = (entries[entries.length - 1] as E).index;
      assert(runFirst === last + 1, `encoded runs cover ${runFirst - first} of ${entries.length} entries`);
      lastIndex = last;
    }
    if (batch.hardState !== undefined) operations.push({ type: 'put', key: KEY_HARD_STATE, value: encode(batch.hardState) });
    if (batch.compaction !== undefined && batch.compaction.index >= firstIndex) {
      const index = batch.compaction.index;
      assert(index <= lastIndex, `compaction at ${index} beyond the log end ${lastIndex}`);
      operations.push({ type: 'put', key: KEY_SNAPSHOT, value: encode(batch.compaction) });
      // Segments wholly covered go; the one the snapshot cuts stays (its head is skipped at load).
      let covered = 0;
      while (covered < segments.length && (segments[covered] as Segment).last <= index) {
        operations.push({ type: 'del', key: entryKey((segments[covered] as Segment).first) });
        covered++;
      }
      if (covered > 0) segments = segments.slice(covered);
      firstIndex = index + 1;
    }
    if (operations.length === 0) return;
    const sync = options.sync !== false;
    await this.#db.batch(operations, sync ? SYNC : NO_SYNC);
    this.#batches++;
    if (sync) this.#syncedBatches++;
    if (entries.length > 0) this.#batchesWithEntries++;
    this.#entriesWritten += entries.length;
    this.#firstIndex = firstIndex;
    this.#lastIndex = lastIndex;
    this.#segments = segments;
  }

  /** Drop entries up to the snapshot's index (inclusive) after the application took it. */
  async compact(snapshot: S): Promise<void> {
    await this.persist({ compaction: snapshot });
  }

  stats(): RaftStoreStats {
    return { batches: this.#batches, syncedBatches: this.#syncedBatches, batchesWithEntries: this.#batchesWithEntries, entriesWritten: this.#entriesWritten };
  }

  get closed(): boolean {
    return this.#closed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.close();
  }

  async #readSegment(segment: Segment): Promise<E[]> {
    const decoded = await this.#read<E | E[]>(entryKey(segment.first), `entry ${segment.first}`);
    assert(decoded !== undefined, `segment ${segment.first}..${segment.last} missing from the store`);
    return Array.isArray(decoded) ? decoded : [decoded];
  }

  async #read<T>(key: Bytes, what: string): Promise<T | undefined> {
    const value = await this.#db.get(key);
    return value === undefined ? undefined : this.#decodeValue<T>(value, what);
  }

  #decodeValue<T>(value: Bytes, what: string): T {
    try {
      return decode(value) as T;
    } catch (error) {
      if (isFedError(error)) throw fedError('corrupt_data', `the Raft store's ${what} does not decode`, undefined, error);
      throw error;
    }
  }
}
