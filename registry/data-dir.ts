/**
 * A node's data directory: `node.json` (identity: format, node name, group, creation) beside
 * the Raft store (`raft/`, classic-level). Opening it:
 * - creates it if absent: first the `raft/` store, then `node.json`, so a directory with a
 *   `node.json` always has its Raft store;
 * - otherwise bumps `creation` (Erlang's creation: pids of the earlier incarnation are dead),
 *   written atomically (temp file, fsync, rename, fsync of the directory);
 * - a creation is the previous one plus 1, or the seconds since 2020 if that is more
 *   (`nextCreation`): a node whose directory was wiped, back under its old name, still comes
 *   back with a creation above its last one (the others hold that one: pids of a lower one are
 *   of an older incarnation, refused as dead), as long as the clock moved on by more than it
 *   restarted;
 * - refuses, having written NOTHING (every check runs before the first write), a directory that
 *   is corrupt (`corrupt_data`), from a newer format, or that belongs to another node or group
 *   (`wrong_data_dir`) — and an initialized directory (one with a `node.json`) whose `raft/` is
 *   missing (`corrupt_data`): recreating it empty would bring a voter back with no term, no vote
 *   and no log, free to vote twice in one term and to forget entries it acknowledged.
 *
 * An empty `raft/` directory is a store that was never written (the process stopped between
 * creating the directory and the first write): it is opened as a new store.
 *
 * `openDataDirVerified` (async) also opens the Raft store and checks its contents — that every
 * value decodes, that the log is whole, the store's format, group and node — before bumping the
 * creation, and hands the open store on (`Group.open({store})`), so nothing can change between
 * the check and its use. `openDataDir` (sync) checks `node.json` and the presence of `raft/`
 * only; the store's contents are then checked by `Group.open`, after the creation was bumped.
 * Note: LevelDB rewrites its own bookkeeping files (LOG, MANIFEST, CURRENT) inside `raft/` on
 * every open, refusal or not; the data it holds is what stays unchanged.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fedError } from '../runtime/index.js';
import { type GroupRaftStore, LEVEL_CURRENT_FILE, RAFT_STORE_FORMAT, RaftStore, verifyStoreMeta } from './raft-store.js';

export const DATA_FORMAT_VERSION = 1;
const CREATION_EPOCH_MS = Date.UTC(2020, 0, 1);
const CREATION_MAX = 0xffff_ffff;

/** The creation of a new incarnation after `previous` (none: a new directory); see the header. */
export function nextCreation(previous: number | undefined, nowMs: number = Date.now()): number {
  const clock = Math.floor((nowMs - CREATION_EPOCH_MS) / 1000);
  return Math.min(CREATION_MAX, Math.max((previous ?? 0) + 1, clock));
}
const IDENTITY_FILE = 'node.json';
const RAFT_DIRECTORY = 'raft';

export interface DataDirIdentity {
  readonly format: number;
  readonly name: string;
  readonly group: string;
  readonly creation: number;
}

export interface OpenedDataDir {
  readonly path: string;
  readonly identity: DataDirIdentity;
  /** True when the directory was created by this call (first start). */
  readonly fresh: boolean;
  readonly raftPath: string;
}

export interface VerifiedDataDir extends OpenedDataDir {
  /** The Raft store, open and checked: pass it to `Group.open({store})` (which closes it), or close it. */
  readonly store: GroupRaftStore;
}

/** What is on disk, checked; nothing written. */
type Inspected =
  | { readonly kind: 'new' }
  | { readonly kind: 'existing'; readonly previous: DataDirIdentity };

/** Open synchronously: checks `node.json` and that `raft/` exists, then writes. See the header. */
export function openDataDir(path: string, expected: { name: string; group: string }): OpenedDataDir {
  const inspected = inspect(path, expected, false);
  const raftPath = join(path, RAFT_DIRECTORY);
  if (inspected.kind === 'new') {
    mkdirSync(raftPath, { recursive: true, mode: 0o700 });
    const identity = writeIdentity(path, { format: DATA_FORMAT_VERSION, name: expected.name, group: expected.group, creation: nextCreation(undefined) });
    return { path, identity, fresh: true, raftPath };
  }
  const identity = writeIdentity(path, { ...inspected.previous, creation: nextCreation(inspected.previous.creation) });
  return { path, identity, fresh: false, raftPath };
}

/**
 * Open, checking the Raft store's contents too before anything is written (see the header).
 * The returned store is open; the caller owns it.
 */
export async function openDataDirVerified(path: string, expected: { name: string; group: string }): Promise<VerifiedDataDir> {
  const inspected = inspect(path, expected, true);
  const raftPath = join(path, RAFT_DIRECTORY);
  const storeExists = existsSync(join(raftPath, LEVEL_CURRENT_FILE));
  if (inspected.kind === 'new' && !storeExists) mkdirSync(raftPath, { recursive: true, mode: 0o700 });
  // An existing store must open as it is; only a new (or never written, empty) one is created.
  const store: GroupRaftStore = await RaftStore.openDisk(raftPath, { createIfMissing: !storeExists });
  try {
    const loaded = await store.load();
    verifyStoreMeta(raftPath, loaded, { group: expected.group, node: expected.name });
    if (inspected.kind === 'new') {
      const hasState = loaded.hardState !== undefined || loaded.snapshot !== undefined || loaded.entries.length > 0;
      if (hasState) throw fedError('corrupt_data', `data directory ${path} has a Raft store with state but no ${IDENTITY_FILE}; refusing to use it`);
      if (loaded.meta === undefined) await store.writeMeta({ format: RAFT_STORE_FORMAT, group: expected.group, node: expected.name });
      const identity = writeIdentity(path, { format: DATA_FORMAT_VERSION, name: expected.name, group: expected.group, creation: nextCreation(undefined) });
      return { path, identity, fresh: true, raftPath, store };
    }
    const identity = writeIdentity(path, { ...inspected.previous, creation: nextCreation(inspected.previous.creation) });
    return { path, identity, fresh: false, raftPath, store };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/**
 * Every refusal that can be decided without opening the Raft store. `storeInspectable`: the
 * caller will open and check the store, so a new directory may already hold `raft/` (a first
 * start that stopped before writing `node.json`).
 */
function inspect(path: string, expected: { name: string; group: string }, storeInspectable: boolean): Inspected {
  const identityPath = join(path, IDENTITY_FILE);
  const raftPath = join(path, RAFT_DIRECTORY);
  if (!existsSync(identityPath)) {
    const present = existsSync(path) ? readdirSync(path).filter((file) => file !== `.${IDENTITY_FILE}.tmp`) : [];
    const onlyRaft = present.length === 1 && present[0] === RAFT_DIRECTORY;
    const raftUsable = onlyRaft && (storeInspectable || readdirSync(raftPath).length === 0);
    if (present.length > 0 && !raftUsable) {
      throw fedError('corrupt_data', `data directory ${path} is not empty but has no ${IDENTITY_FILE}; refusing to use it`);
    }
    return { kind: 'new' };
  }
  const previous = readIdentity(identityPath);
  if (previous.format > DATA_FORMAT_VERSION) {
    throw fedError('wrong_data_dir', `data directory ${path} has format ${previous.format}, newer than this fedctl (${DATA_FORMAT_VERSION}); upgrade fedctl`);
  }
  if (previous.name !== expected.name) {
    throw fedError('wrong_data_dir', `data directory ${path} belongs to node ${previous.name}, not ${expected.name}`);
  }
  if (previous.group !== expected.group) {
    throw fedError('wrong_data_dir', `data directory ${path} belongs to group ${previous.group}, not ${expected.group}`);
  }
  if (!existsSync(raftPath)) {
    throw fedError('corrupt_data', `data directory ${path} was initialized (creation ${previous.creation}) but its Raft store ${raftPath} is missing; refusing to start without its term, vote and log`, { missing: true });
  }
  const raftFiles = readdirSync(raftPath);
  if (raftFiles.length > 0 && !raftFiles.includes(LEVEL_CURRENT_FILE)) {
    throw fedError('corrupt_data', `the Raft store ${raftPath} is not a LevelDB database (no ${LEVEL_CURRENT_FILE})`);
  }
  return { kind: 'existing', previous };
}

function readIdentity(identityPath: string): DataDirIdentity {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(identityPath, 'utf8'));
  } catch (error) {
    throw fedError('corrupt_data', `${identityPath} is not valid JSON: ${(error as Error).message}`, undefined, error);
  }
  const value = parsed as Partial<DataDirIdentity> | null;
  if (
    value === null ||
    typeof value !== 'object' ||
    !Number.isInteger(value.format) ||
    typeof value.name !== 'string' ||
    typeof value.group !== 'string' ||
    !Number.isInteger(value.creation) ||
    (value.creation as number) < 1
  ) {
    throw fedError('corrupt_data', `${identityPath} lacks format, name, group or creation`);
  }
  return value as DataDirIdentity;
}

function writeIdentity(directory: string, identity: DataDirIdentity): DataDirIdentity {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  writeAtomically(directory, IDENTITY_FILE, `${JSON.stringify(identity)}\n`);
  return identity;
}

function writeAtomically(directory: string, file: string, text: string): void {
  const temporary = join(directory, `.${file}.tmp`);
  const handle = openSync(temporary, 'w', 0o600);
  try {
    writeSync(handle, text);
    fsyncSync(handle);
  } finally {
    closeSync(handle);
  }
  renameSync(temporary, join(directory, file));
  const directoryHandle = openSync(directory, 'r');
  try {
    fsyncSync(directoryHandle);
  } finally {
    closeSync(directoryHandle);
  }
}
