/**
 * The name-registry state machine of a group. Pure and deterministic: `apply(index, command)`
 * is called with every committed Raft entry in log order, on every member, and must give the
 * same state and result everywhere. No clock, no randomness, no I/O.
 *
 * - A name is held by at most one pid. `register` succeeds if the name is free or already held
 *   by the same pid (idempotent, so a client retry after a timeout is safe).
 * - The revision of a name is the Raft index of the entry that last wrote it: a fencing token.
 * - Names die with processes (`release_pid`) and with nodes (`node_down`), and never point to a
 *   pid of an older incarnation of a node: the registry remembers the newest creation it has
 *   seen per node, refuses pids older than that, and drops names held by older incarnations as
 *   soon as a newer one shows up.
 * - Singleton claims (`claim`/`release_claim`) live beside names; a claim's revision is the
 *   fencing token given to the singleton instance.
 * - Watchers read changes from a bounded event log; a watcher that falls behind its start gets
 *   `compacted` and must re-read.
 * - Restoring a snapshot replaces the state and tells listeners what changed (a `delete` for
 *   every name that went or changed, then a `put` for every name that came or changed, all at
 *   the snapshot's revision, reason `snapshot`): a replica that catches up by InstallSnapshot
 *   must still monitor its local holders, tell processes that lost their names, and keep its
 *   watchers current. The replay buffer restarts at the snapshot (resuming before it is
 *   `compacted`).
 */
import { LIMITS, Pid, appendAll, assert, encode, fedError, minOf, partitionPoint } from '../runtime/index.js';
import { MsgpackWriter } from './msgpack-writer.js';

export interface NameEntry {
  readonly pid: Pid;
  readonly meta: Readonly<Record<string, unknown>>;
  /** Raft index of the write that created or last changed this entry: the fencing token. */
  readonly revision: number;
  readonly createRevision: number;
}

export interface ClaimEntry {
  readonly key: string;
  readonly node: string;
  readonly revision: number;
}

export type RegistryCommand =
  | { readonly op: 'register'; readonly name: string; readonly pid: Pid; readonly meta?: Record<string, unknown> }
  | { readonly op: 'unregister'; readonly name: string; readonly pid: Pid }
  | { readonly op: 'release_pid'; readonly pid: Pid }
  | { readonly op: 'node_down'; readonly node: string; readonly creationBelow?: number }
  | { readonly op: 'claim'; readonly key: string; readonly node: string; readonly previousRevision?: number }
  | { readonly op: 'release_claim'; readonly key: string; readonly revision: number }
  | { readonly op: 'noop' };

export type RegistryResult =
  | { readonly ok: true; readonly revision: number; readonly released?: readonly string[] }
  | { readonly ok: false; readonly code: 'name_taken'; readonly holder: Pid; readonly revision: number }
  | { readonly ok: false; readonly code: 'not_owner'; readonly holder: Pid | null }
  | { readonly ok: false; readonly code: 'noproc'; readonly reason: string }
  | { readonly ok: false; readonly code: 'badarg'; readonly reason: string }
  | { readonly ok: false; readonly code: 'claim_held'; readonly holder: ClaimEntry };

/**
 * Why a name went: its holder unregistered it, its process exited, its node was declared down or
 * restarted (a newer incarnation appeared), or this replica learned it from a snapshot (the
 * entries that removed it were compacted before this replica saw them).
 */
export type DeleteReason = 'unregister' | 'process_exit' | 'node_down' | 'stale_incarnation' | 'snapshot';

export type WatchEvent =
  | { readonly type: 'put'; readonly name: string; readonly entry: NameEntry; readonly revision: number }
  | { readonly type: 'delete'; readonly name: string; readonly previous: NameEntry; readonly revision: number; readonly reason: DeleteReason };

/** How many change events are kept for watchers to resume from (at least; up to WATCH_EVENTS_TRIM more). */
export const WATCH_EVENTS_MAX = 10_000;
/** Events dropped at once when the buffer is full. */
const WATCH_EVENTS_TRIM = 1_000;

/**
 * A registry snapshot. Version 2 (written now) is columnar: every distinct holder pid once in
 * `pids` as `[node, id, creation]`, and `names` one flat array of `NAME_FIELDS` values per name
 * (name, index into `pids`, meta, revision, createRevision) — a holder of many names is stored
 * once, and the encoder meets only strings, numbers and plain objects (about a third of the bytes
 * and of the encoding time of version 1, which had a pid object per name). Version 1 (from older
 * data directories) still restores.
 */
export type RegistrySnapshot = RegistrySnapshotV1 | RegistrySnapshotV2;

interface RegistrySnapshotV1 {
  readonly version: 1;
  readonly appliedIndex: number;
  readonly names: ReadonlyArray<readonly [string, NameEntry]>;
  readonly claims: ReadonlyArray<ClaimEntry>;
  readonly creations: ReadonlyArray<readonly [string, number]>;
}

interface RegistrySnapshotV2 {
  readonly version: 2;
  readonly appliedIndex: number;
  readonly pids: ReadonlyArray<readonly [string, number, number]>;
  readonly names: readonly unknown[];
  readonly claims: ReadonlyArray<ClaimEntry>;
  readonly creations: ReadonlyArray<readonly [string, number]>;
}

/** The metadata of a name registered without any: one shared, frozen object. */
export const EMPTY_META: Readonly<Record<string, unknown>> = Object.freeze({});

/** Values per name in a version 2 snapshot's `names`. */
const NAME_FIELDS = 5;
/** A first guess of a name's bytes in a snapshot (the writer grows past it). */
const NAME_BYTES_ESTIMATE = 32;
/** How `encode` writes an empty plain object (msgpackr: a map16 of 0 entries). */
const EMPTY_MAP_BYTES = Uint8Array.of(0xde, 0x00, 0x00);

/**
 * The names one pid holds, so that its exit releases them without a scan. A registration only
 * appends its name (a Set's insert, into a table as large as the registry, cost a cache miss on
 * every registration); a removal only counts down `live`. So `names` may hold stale entries — a
 * name that went, or passed to another pid, or (unregistered and registered again by this pid)
 * a second copy — and readers keep those whose current holder is `pid` (`#heldBy`). The list is
 * compacted once it is longer than twice `live` plus PID_NAMES_SLACK: bounded, amortized O(1).
 */
interface PidNames {
  /** The pid the names are held by; the registry's entries for them share this object. */
  readonly pid: Pid;
  names: string[];
  /** How many distinct names `pid` holds now (the record goes when it reaches 0). */
  live: number;
}

/** Stale entries a pid's name list may carry beyond its live ones before it is compacted. */
const PID_NAMES_SLACK = 64;

/** A UTF-16 code unit takes at most this many bytes in UTF-8. */
const UTF8_BYTES_PER_CODE_UNIT_MAX = 3;

export function validateName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'a name is a non-empty string';
  // Counting the bytes is needed only for a name that might be over the limit (it runs for every applied registration).
  if (name.length * UTF8_BYTES_PER_CODE_UNIT_MAX > LIMITS.nameBytesMax && Buffer.byteLength(name, 'utf8') > LIMITS.nameBytesMax) {
    return `a name is at most ${LIMITS.nameBytesMax} bytes`;
  }
  return undefined;
}

/**
 * Keys a name's metadata may not have: the codec (msgpackr) gives them meaning of its own
 * (`constructor` decides how an object is written, and a string there made it call `toJSON`
 * and throw inside the leader's Raft loop; `hasOwnProperty` and `__keys__` upset its record
 * writer; `__proto__` arrives as `__proto_`), so replicas would not hold the same value.
 */
const RESERVED_META_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'hasOwnProperty', '__keys__']);
/** What metadata may hold, as the refusals say it. */
const META_KINDS = 'only strings, numbers, booleans, null, arrays and plain objects';

/**
 * A copy of `meta` that every replica will hold exactly, or a `badarg`: plain data only
 * (strings, numbers, booleans, null, arrays and plain objects of those; -0 becomes 0, as the
 * codec writes it), no reserved key (RESERVED_META_KEYS), at most LIMITS.metaDepthMax deep and
 * LIMITS.metaBytesMax encoded. The proposer applies the command it proposed, not a decoded
 * copy, so a class instance, a Map or a caller's later change to its object would otherwise
 * leave the leader's replica unlike the others'; and an oversized one would not fit a frame.
 */
export function copyMeta(meta: unknown): Record<string, unknown> {
  if (!isPlainObject(meta)) throw fedError('badarg', 'meta must be a plain object');
  const copy = copyMetaValue(meta, 0) as Record<string, unknown>;
  const bytes = encode(copy).length;
  if (bytes > LIMITS.metaBytesMax) throw fedError('badarg', `meta is ${bytes} bytes encoded, at most ${LIMITS.metaBytesMax}`);
  return copy;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function copyMetaValue(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Object.is(value, -0) ? 0 : value;
    case 'object': {
      if (value === null) return null;
      if (depth >= LIMITS.metaDepthMax) throw fedError('badarg', `meta is nested deeper than ${LIMITS.metaDepthMax}`);
      if (Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype) {
        const array = new Array<unknown>(value.length);
        for (let index = 0; index < value.length; index++) array[index] = copyMetaValue(value[index], depth + 1);
        return array;
      }
      if (!isPlainObject(value)) throw fedError('badarg', `meta holds a ${(value as object).constructor?.name ?? 'non-plain object'}: ${META_KINDS}`);
      const object: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        if (RESERVED_META_KEYS.has(key)) throw fedError('badarg', `meta key ${JSON.stringify(key)} is reserved`);
        object[key] = copyMetaValue(value[key], depth + 1);
      }
      return object;
    }
    default:
      throw fedError('badarg', `meta holds a ${typeof value}: ${META_KINDS}`);
  }
}

export class NameRegistry {
  readonly #names = new Map<string, NameEntry>();
  /** Names held per pid key (see PidNames), so a process exit releases its names without a scan. */
  readonly #namesByPid = new Map<string, PidNames>();
  readonly #claims = new Map<string, ClaimEntry>();
  /**
   * How many pids of each node hold names, per creation (the leader's cleanup of down and
   * restarted nodes): it changes only when a pid gets its first name or loses its last.
   */
  readonly #pidsPerNode = new Map<string, Map<number, number>>();
  /** The newest creation seen per node. */
  readonly #creations = new Map<string, number>();
  #appliedIndex = 0;
  /** Claims made or removed so far, and whether the state came from a snapshot (see claimHistoryEmpty). */
  #claimChanges = 0;
  #restored = false;
  readonly #events: WatchEvent[] = [];
  /** Revision of the oldest event still kept (events before it were dropped). */
  #eventsFloorRevision = 0;
  readonly #listeners = new Set<(event: WatchEvent) => void>();
  /** The pid last indexed and its key: a holder of many names registers them in a row, and building a key allocates. */
  #lastPid: Pid | undefined;
  #lastPidKey = '';
  /** The names record last used (a holder of many names registers them in a row), while it is in #namesByPid. */
  #lastPidNames: PidNames | undefined;

  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  get size(): number {
    return this.#names.size;
  }

  whereis(name: string): NameEntry | undefined {
    return this.#names.get(name);
  }

  /** Names in order, optionally those starting with `prefix`. */
  registered(prefix = ''): Array<[string, NameEntry]> {
    const out: Array<[string, NameEntry]> = [];
    for (const [name, entry] of this.#names) if (name.startsWith(prefix)) out.push([name, entry]);
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out;
  }

  /** Nodes whose pids hold at least one name. */
  nodesWithNames(): string[] {
    return [...this.#pidsPerNode.keys()].sort();
  }

  /** The oldest creation of `node` among the pids holding names (undefined: none). */
  oldestCreationHolding(node: string): number | undefined {
    const perCreation = this.#pidsPerNode.get(node);
    if (perCreation === undefined) return undefined;
    return minOf(perCreation.keys(), Infinity);
  }

  /** The newest creation of `node` this registry has seen (names of older ones are gone). */
  newestCreation(node: string): number | undefined {
    return this.#creations.get(node);
  }

  namesOf(pid: Pid): string[] {
    const record = this.#namesByPid.get(pid.key);
    return record === undefined ? [] : this.#heldBy(record);
  }

  claim(key: string): ClaimEntry | undefined {
    return this.#claims.get(key);
  }

  /**
   * True when this replica knows that no claim was ever made: it applied the log from its start
   * (never restored a snapshot) and no entry so far made or removed a claim. The singleton
   * manager then knows every key's whole history (none), whenever it attaches.
   */
  get claimHistoryEmpty(): boolean {
    return !this.#restored && this.#claimChanges === 0;
  }

  claims(): ClaimEntry[] {
    return [...this.#claims.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Apply one committed entry. `index` must be exactly the next index (or later, after a snapshot gap). */
  apply(index: number, command: RegistryCommand): RegistryResult {
    assert(index > this.#appliedIndex, `apply out of order: ${index} after ${this.#appliedIndex}`);
    this.#appliedIndex = index;
    switch (command.op) {
      case 'register':
        return this.#register(index, command.name, command.pid, command.meta ?? EMPTY_META);
      case 'unregister':
        return this.#unregister(index, command.name, command.pid);
      case 'release_pid':
        return { ok: true, revision: index, released: this.#releasePid(index, command.pid, 'process_exit') };
      case 'node_down':
        return { ok: true, revision: index, released: this.#nodeDown(index, command.node, command.creationBelow) };
      case 'claim':
        return this.#claim(index, command.key, command.node, command.previousRevision);
      case 'release_claim':
        return this.#releaseClaim(index, command.key, command.revision);
      case 'noop':
        return { ok: true, revision: index };
      default:
        return { ok: false, code: 'badarg', reason: `unknown registry command ${JSON.stringify((command as { op?: unknown }).op)}` };
    }
  }

  /** Advance the applied index for an entry that is not a registry command (config change, no-op). */
  skip(index: number): void {
    assert(index > this.#appliedIndex, `skip out of order: ${index} after ${this.#appliedIndex}`);
    this.#appliedIndex = index;
  }

  #register(index: number, name: string, pid: Pid, meta: Record<string, unknown>): RegistryResult {
    const invalid = validateName(name);
    if (invalid !== undefined) return { ok: false, code: 'badarg', reason: invalid };
    if (!(pid instanceof Pid)) return { ok: false, code: 'badarg', reason: 'register needs a pid' };
    const newest = this.#creations.get(pid.node);
    if (newest !== undefined && pid.creation < newest) {
      return { ok: false, code: 'noproc', reason: `${pid} belongs to an older incarnation of ${pid.node}` };
    }
    if (newest === undefined || pid.creation > newest) this.#newIncarnation(index, pid.node, pid.creation);
    const current = this.#names.get(name);
    if (current !== undefined) {
      if (!current.pid.equals(pid)) return { ok: false, code: 'name_taken', holder: current.pid, revision: current.revision };
      return { ok: true, revision: current.revision };
    }
    const entry = this.#index(name, pid, meta, index, index);
    this.#emit({ type: 'put', name, entry, revision: index });
    return { ok: true, revision: index };
  }

  #unregister(index: number, name: string, pid: Pid): RegistryResult {
    const current = this.#names.get(name);
    if (current === undefined) return { ok: false, code: 'not_owner', holder: null };
    if (!current.pid.equals(pid)) return { ok: false, code: 'not_owner', holder: current.pid };
    this.#delete(index, name, current, 'unregister');
    return { ok: true, revision: index };
  }

  #releasePid(index: number, pid: Pid, reason: DeleteReason): string[] {
    const record = this.#namesByPid.get(pid.key);
    if (record === undefined) return [];
    const released = this.#heldBy(record).sort();
    for (const name of released) {
      const entry = this.#names.get(name);
      assert(entry !== undefined && entry.pid.equals(pid), 'namesByPid and names disagree');
      this.#delete(index, name, entry, reason);
    }
    return released;
  }

  /**
   * Without `creationBelow`: the node is down — every name and claim it held goes. With it: an
   * incarnation `creationBelow` of the node exists, so every older one is dead — their names go
   * (reason `stale_incarnation`) and pids older than it are refused from now on; the node's
   * claims stay (they name the node, not an incarnation; the singleton manager of the new
   * incarnation takes them over).
   */
  #nodeDown(index: number, node: string, creationBelow: number | undefined): string[] {
    const released: string[] = [];
    if (creationBelow !== undefined) {
      if (!Number.isInteger(creationBelow) || creationBelow < 1) return released;
      const newest = this.#creations.get(node);
      if (newest === undefined || newest < creationBelow) this.#creations.set(node, creationBelow);
      for (const pid of this.#pidsOnNode(node)) {
        if (pid.creation < creationBelow) appendAll(released, this.#releasePid(index, pid, 'stale_incarnation'));
      }
      return released.sort();
    }
    for (const pid of this.#pidsOnNode(node)) appendAll(released, this.#releasePid(index, pid, 'node_down'));
    for (const claim of [...this.#claims.values()]) {
      if (claim.node !== node) continue;
      this.#claims.delete(claim.key);
      this.#claimChanges++;
    }
    return released.sort();
  }

  #newIncarnation(index: number, node: string, creation: number): void {
    this.#creations.set(node, creation);
    for (const pid of this.#pidsOnNode(node)) {
      if (pid.creation < creation) this.#releasePid(index, pid, 'stale_incarnation');
    }
  }

  /** The pids of `node` that hold names, in the order they got their first one. */
  #pidsOnNode(node: string): Pid[] {
    const out: Pid[] = [];
    if (!this.#pidsPerNode.has(node)) return out;
    for (const record of this.#namesByPid.values()) if (record.pid.node === node) out.push(record.pid);
    return out;
  }

  #claim(index: number, key: string, node: string, previousRevision: number | undefined): RegistryResult {
    const current = this.#claims.get(key);
    if (current !== undefined && current.node !== node && current.revision !== previousRevision) {
      return { ok: false, code: 'claim_held', holder: current };
    }
    this.#claims.set(key, { key, node, revision: index });
    this.#claimChanges++;
    return { ok: true, revision: index };
  }

  #releaseClaim(index: number, key: string, revision: number): RegistryResult {
    const current = this.#claims.get(key);
    if (current === undefined || current.revision !== revision) {
      return { ok: false, code: 'badarg', reason: `claim ${key} at revision ${revision} is not current` };
    }
    this.#claims.delete(key);
    this.#claimChanges++;
    return { ok: true, revision: index };
  }

  #delete(index: number, name: string, previous: NameEntry, reason: DeleteReason): void {
    this.#names.delete(name);
    const key = this.#keyOf(previous.pid);
    const record = this.#namesByPid.get(key);
    assert(record !== undefined && record.live > 0, 'namesByPid lost a pid that holds names');
    record.live--;
    if (record.live === 0) {
      this.#namesByPid.delete(key);
      if (this.#lastPidNames === record) this.#lastPidNames = undefined;
      this.#countPid(record.pid, -1);
    } else if (record.names.length > 2 * record.live + PID_NAMES_SLACK) {
      record.names = this.#heldBy(record);
    }
    this.#emit({ type: 'delete', name, previous, revision: index, reason });
  }

  /**
   * Hold `name` for `pid` (its checks done): the entry, which shares the pid object of the pid's
   * names record (one pid object per holder, however many names it holds and however many pid
   * objects the entries carried), and the secondary indexes.
   */
  #index(name: string, pid: Pid, meta: Readonly<Record<string, unknown>>, revision: number, createRevision: number): NameEntry {
    let record = this.#lastPidNames;
    if (record === undefined || (pid !== record.pid && !pid.equals(record.pid))) {
      const key = this.#keyOf(pid);
      record = this.#namesByPid.get(key);
      if (record === undefined) {
        record = { pid, names: [], live: 0 };
        this.#namesByPid.set(key, record);
        this.#countPid(pid, 1);
      }
      this.#lastPidNames = record;
    }
    const entry: NameEntry = { pid: record.pid, meta, revision, createRevision };
    this.#names.set(name, entry);
    record.names.push(name);
    record.live++;
    return entry;
  }

  /** The names `record.pid` holds now: its list without the stale entries and second copies. */
  #heldBy(record: PidNames): string[] {
    const held = record.names.filter((name) => {
      const entry = this.#names.get(name);
      return entry !== undefined && (entry.pid === record.pid || entry.pid.equals(record.pid));
    });
    const distinct = held.length === record.live ? held : [...new Set(held)];
    assert(distinct.length === record.live, `a pid's names record counts ${record.live} names, holds ${distinct.length}`);
    return distinct;
  }

  /** A pid of a node got its first name (+1) or lost its last (-1). */
  #countPid(pid: Pid, change: 1 | -1): void {
    let perCreation = this.#pidsPerNode.get(pid.node);
    if (perCreation === undefined) this.#pidsPerNode.set(pid.node, (perCreation = new Map()));
    const count = (perCreation.get(pid.creation) ?? 0) + change;
    assert(count >= 0, 'pidsPerNode counted a pid out twice');
    if (count > 0) perCreation.set(pid.creation, count);
    else perCreation.delete(pid.creation);
    if (perCreation.size === 0) this.#pidsPerNode.delete(pid.node);
  }

  #keyOf(pid: Pid): string {
    if (pid !== this.#lastPid && !pid.equals(this.#lastPid)) {
      this.#lastPid = pid;
      this.#lastPidKey = pid.key;
    }
    return this.#lastPidKey;
  }

  #emit(event: WatchEvent): void {
    this.#events.push(event);
    // Trimmed in chunks (amortized O(1) per event; a splice per event would shift 10,000 every time).
    if (this.#events.length >= WATCH_EVENTS_MAX + WATCH_EVENTS_TRIM) {
      const dropped = this.#events.splice(0, this.#events.length - WATCH_EVENTS_MAX);
      this.#eventsFloorRevision = (dropped[dropped.length - 1] as WatchEvent).revision;
    }
    this.#notify(event);
  }

  #notify(event: WatchEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** The oldest revision a watcher may resume after (`eventsSince` of anything older is `undefined`). */
  get oldestResumableRevision(): number {
    return this.#eventsFloorRevision;
  }

  /**
   * Events with revision > `afterRevision`, or `undefined` if some of them were already
   * dropped (the caller must re-read the whole state: etcd's "compacted").
   */
  eventsSince(afterRevision: number): WatchEvent[] | undefined {
    if (afterRevision < this.#eventsFloorRevision) return undefined;
    return this.#events.slice(partitionPoint(this.#events, 0, (event) => event.revision <= afterRevision));
  }

  /** Listen to every change as it is applied. Returns the function that stops listening. */
  onChange(listener: (event: WatchEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  snapshot(): RegistrySnapshot {
    const pids = new SnapshotPids((pid) => this.#keyOf(pid));
    const names: unknown[] = [];
    for (const [name, entry] of this.#names) names.push(name, pids.indexOf(entry.pid), entry.meta, entry.revision, entry.createRevision);
    return {
      version: 2,
      appliedIndex: this.#appliedIndex,
      pids: pids.list,
      names,
      claims: [...this.#claims.values()],
      creations: [...this.#creations.entries()],
    };
  }

  /**
   * Write `snapshot()` into `writer` exactly as `encode(snapshot())` would — the same bytes —
   * without building its names array or handing it to msgpackr's encoder (see msgpack-writer.ts:
   * most of a snapshot's time, and its encoder's optimized code thrown away at every snapshot).
   */
  writeSnapshot(writer: MsgpackWriter): void {
    const pids = new SnapshotPids((pid) => this.#keyOf(pid));
    const names = new MsgpackWriter(this.#names.size * NAME_BYTES_ESTIMATE);
    for (const [name, entry] of this.#names) {
      names.string(name);
      names.uint(pids.indexOf(entry.pid));
      if (entry.meta === EMPTY_META) names.raw(EMPTY_MAP_BYTES);
      else names.value(entry.meta);
      names.number(entry.revision);
      names.number(entry.createRevision);
    }
    // The keys in the order snapshot() builds them.
    writer.mapHeader(6);
    writer.string('version');
    writer.uint(2);
    writer.string('appliedIndex');
    writer.number(this.#appliedIndex);
    writer.string('pids');
    writer.value(pids.list);
    writer.string('names');
    writer.arrayHeader(this.#names.size * NAME_FIELDS);
    writer.append(names);
    writer.string('claims');
    writer.value([...this.#claims.values()]);
    writer.string('creations');
    writer.value([...this.#creations.entries()]);
  }

  /**
   * Replace the whole state with a snapshot's, then tell listeners what changed (see the header):
   * deletes of names that went or changed, then puts of names that came or changed, all at the
   * snapshot's revision. The replay buffer restarts there.
   */
  restore(snapshot: RegistrySnapshot): void {
    assert(snapshot.version === 1 || snapshot.version === 2, `unknown registry snapshot version ${String((snapshot as { version?: unknown }).version)}`);
    const entries = snapshot.version === 1 ? snapshot.names : snapshotNames(snapshot);
    const before = new Map(this.#names);
    this.#names.clear();
    this.#namesByPid.clear();
    this.#lastPidNames = undefined;
    this.#pidsPerNode.clear();
    this.#claims.clear();
    this.#creations.clear();
    for (const [name, entry] of entries) this.#index(name, entry.pid, entry.meta, entry.revision, entry.createRevision);
    for (const claim of snapshot.claims) this.#claims.set(claim.key, claim);
    for (const [node, creation] of snapshot.creations) this.#creations.set(node, creation);
    this.#appliedIndex = snapshot.appliedIndex;
    this.#restored = true;
    this.#events.length = 0;
    this.#eventsFloorRevision = snapshot.appliedIndex;
    const revision = snapshot.appliedIndex;
    const changed: WatchEvent[] = [];
    for (const [name, previous] of before) {
      const now = this.#names.get(name);
      if (now === undefined || !sameEntry(previous, now)) changed.push({ type: 'delete', name, previous, revision, reason: 'snapshot' });
    }
    for (const [name, entry] of this.#names) {
      const previous = before.get(name);
      if (previous === undefined || !sameEntry(previous, entry)) changed.push({ type: 'put', name, entry, revision });
    }
    for (const event of changed) this.#notify(event);
  }
}

/** The names of a version 2 snapshot as `[name, entry]` pairs (the pids rebuilt once each). */
function snapshotNames(snapshot: RegistrySnapshotV2): Array<readonly [string, NameEntry]> {
  const pids = snapshot.pids.map(([node, id, creation]) => new Pid(node, id, creation));
  const { names } = snapshot;
  assert(names.length % NAME_FIELDS === 0, 'registry snapshot: names is not a whole number of records');
  const out: Array<readonly [string, NameEntry]> = [];
  for (let offset = 0; offset < names.length; offset += NAME_FIELDS) {
    const pid = pids[names[offset + 1] as number];
    assert(pid !== undefined, 'registry snapshot: a name points to no pid');
    const entry: NameEntry = {
      pid,
      meta: names[offset + 2] as Readonly<Record<string, unknown>>,
      revision: names[offset + 3] as number,
      createRevision: names[offset + 4] as number,
    };
    out.push([names[offset] as string, entry]);
  }
  return out;
}

function sameEntry(a: NameEntry, b: NameEntry): boolean {
  return a.revision === b.revision && a.pid.equals(b.pid);
}

/**
 * The pid table of a snapshot: each holder's pid once, as `[node, id, creation]`, and its index.
 * The entries of one holder share its pid object (see `#index`), and a holder's names mostly come
 * in a row: the pid just seen is compared first, without building its key.
 */
class SnapshotPids {
  readonly list: Array<readonly [string, number, number]> = [];
  readonly #indexes = new Map<string, number>();
  #lastPid: Pid | undefined;
  #lastIndex = 0;

  constructor(readonly keyOf: (pid: Pid) => string) {}

  indexOf(pid: Pid): number {
    if (pid === this.#lastPid) return this.#lastIndex;
    const key = this.keyOf(pid);
    let index = this.#indexes.get(key);
    if (index === undefined) {
      index = this.list.length;
      this.#indexes.set(key, index);
      this.list.push([pid.node, pid.id, pid.creation]);
    }
    this.#lastPid = pid;
    this.#lastIndex = index;
    return index;
  }
}
