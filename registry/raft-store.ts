/**
 * The durable Raft store of a group member, on `level` (classic-level on disk; memory-level in
 * unit tests). One `persist` call is one atomic batch written with `sync: true`: the hard state,
 * the new entries (replacing any conflicting suffix of the log), and an installed snapshot
 * (which drops every entry it covers). The driver calls it BEFORE sending the messages or
 * acknowledging the proposals that depend on it.
 *
 * Keys: `h` hard state; `s` snapshot; `m` meta; `e` + 8-byte big-endian index → entry.
 * Values: the wire codec (msgpackr), so pids inside entries survive. A value that does not decode,
 * or a log with a hole, is `corrupt_data`: the store refuses to open rather than guess.
 */
import type { AbstractLevel } from 'abstract-level';
import { ClassicLevel } from 'classic-level';
import { MemoryLevel } from 'memory-level';
import { assert, decode, encode, fedError, isFedError } from '../runtime/index.js';

export const RAFT_STORE_FORMAT = 1;

export interface StoredEntry {
  readonly index: number;
  readonly term: number;
}

export interface StoredSnapshot {
  readonly index: number;
  readonly term: number;
}

export interface PersistBatch<E extends StoredEntry, H, S extends StoredSnapshot> {
  readonly hardState?: H | undefined;
  /** Entries to append; any stored entry at or after `entries[0].index` is replaced. */
  readonly entries?: readonly E[] | undefined;
  /** An installed or locally taken snapshot; entries up to its index are dropped. */
  readonly snapshot?: S | undefined;
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
}

type Bytes = Uint8Array;
type Db = AbstractLevel<Bytes | string, Bytes, Bytes>;

const KEY_HARD_STATE = Buffer.from('h');
const KEY_SNAPSHOT = Buffer.from('s');
const KEY_META = Buffer.from('m');
const ENTRY_PREFIX = 0x65; // 'e'
/** classic-level's durability option (not in abstract-level's types). */
const SYNC = { sync: true, keyEncoding: 'view', valueEncoding: 'view' } as const;

export function entryKey(index: number): Buffer {
  assert(Number.isSafeInteger(index) && index >= 0, `bad entry index ${index}`);
  const key = Buffer.alloc(9);
  key[0] = ENTRY_PREFIX;
  key.writeBigUInt64BE(BigInt(index), 1);
  return key;
}

export class RaftStore<E extends StoredEntry, H, S extends StoredSnapshot> {
  readonly #db: Db;
  #lastIndex = 0;
  #firstIndex = 1;
  #closed = false;

  private constructor(db: Db) {
    this.#db = db;
  }

  /** A store on disk under `path` (classic-level). */
  static async openDisk<E extends StoredEntry, H, S extends StoredSnapshot>(path: string): Promise<RaftStore<E, H, S>> {
    const db = new ClassicLevel<Bytes, Bytes>(path, { keyEncoding: 'view', valueEncoding: 'view' });
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
    for await (const [key, value] of this.#db.iterator({ gte: entryKey(0), lte: entryKey(Number.MAX_SAFE_INTEGER) })) {
      const index = Number(Buffer.from(key).readBigUInt64BE(1));
      const entry = this.#decodeValue<E>(value, `entry ${index}`);
      if (entry.index !== index) throw fedError('corrupt_data', `entry stored at ${index} says index ${entry.index}`);
      const expected = entries.length === 0 ? undefined : (entries[entries.length - 1] as E).index + 1;
      if (expected !== undefined && index !== expected) {
        throw fedError('corrupt_data', `the Raft log has a hole: entry ${expected - 1} is followed by ${index}`);
      }
      entries.push(entry);
    }
    if (snapshot !== undefined && entries.length > 0 && (entries[0] as E).index !== snapshot.index + 1) {
      throw fedError('corrupt_data', `the Raft log starts at ${(entries[0] as E).index} but the snapshot ends at ${snapshot.index}`);
    }
    this.#firstIndex = snapshot === undefined ? (entries[0]?.index ?? 1) : snapshot.index + 1;
    this.#lastIndex = entries.length > 0 ? (entries[entries.length - 1] as E).index : this.#firstIndex - 1;
    return { meta, hardState, snapshot, entries };
  }

  async writeMeta(meta: StoreMeta): Promise<void> {
    await this.#db.put(KEY_META, encode(meta), SYNC);
  }

  /** Make a Ready's durable state durable: one atomic batch, synced. */
  async persist(batch: PersistBatch<E, H, S>): Promise<void> {
    assert(!this.#closed, 'persist on a closed RaftStore');
    const operations: Array<{ type: 'put'; key: Bytes; value: Bytes } | { type: 'del'; key: Bytes }> = [];
    let firstIndex = this.#firstIndex;
    let lastIndex = this.#lastIndex;
    if (batch.snapshot !== undefined) {
      operations.push({ type: 'put', key: KEY_SNAPSHOT, value: encode(batch.snapshot) });
      // Compaction of the covered prefix, in the same atomic batch.
      const coveredLast = Math.min(lastIndex, batch.snapshot.index);
      for (let index = firstIndex; index <= coveredLast; index++) operations.push({ type: 'del', key: entryKey(index) });
      firstIndex = batch.snapshot.index + 1;
      lastIndex = Math.max(lastIndex, batch.snapshot.index);
    }
    const entries = batch.entries ?? [];
    if (entries.length > 0) {
      const first = (entries[0] as E).index;
      assert(first <= lastIndex + 1, `entries start at ${first} beyond the log end ${lastIndex}`);
      entries.forEach((entry, offset) => assert(entry.index === first + offset, 'entries must be contiguous'));
      for (let index = Math.max(first, firstIndex); index <= lastIndex; index++) operations.push({ type: 'del', key: entryKey(index) });
      for (const entry of entries) operations.push({ type: 'put', key: entryKey(entry.index), value: encode(entry) });
      lastIndex = (entries[entries.length - 1] as E).index;
    }
    if (batch.hardState !== undefined) operations.push({ type: 'put', key: KEY_HARD_STATE, value: encode(batch.hardState) });
    if (operations.length > 0) await this.#db.batch(operations, SYNC);
    this.#firstIndex = firstIndex;
    this.#lastIndex = lastIndex;
  }

  /** Drop entries up to `index` (inclusive) after the application stored a snapshot covering them. */
  async compact(snapshot: S): Promise<void> {
    await this.persist({ snapshot });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.close();
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
