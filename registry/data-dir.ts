/**
 * A node's data directory: `node.json` (identity: format, node name, group, creation) beside
 * the Raft store (`raft/`, classic-level). Opening it:
 * - creates it if absent (creation 1);
 * - otherwise bumps `creation` (Erlang's creation: pids of the earlier incarnation are dead),
 *   written atomically (temp file, fsync, rename, fsync of the directory);
 * - refuses, changing nothing, a directory that is corrupt (`corrupt_data`), from a newer format,
 *   or that belongs to another node or group (`wrong_data_dir`).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fedError } from '../runtime/index.js';

export const DATA_FORMAT_VERSION = 1;
const IDENTITY_FILE = 'node.json';

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

export function openDataDir(path: string, expected: { name: string; group: string }): OpenedDataDir {
  const identityPath = join(path, IDENTITY_FILE);
  if (!existsSync(identityPath)) {
    if (existsSync(path) && readdirSync(path).length > 0) {
      throw fedError('corrupt_data', `data directory ${path} is not empty but has no ${IDENTITY_FILE}; refusing to use it`);
    }
    mkdirSync(path, { recursive: true, mode: 0o700 });
    const identity: DataDirIdentity = { format: DATA_FORMAT_VERSION, name: expected.name, group: expected.group, creation: 1 };
    writeAtomically(path, IDENTITY_FILE, `${JSON.stringify(identity)}\n`);
    return { path, identity, fresh: true, raftPath: join(path, 'raft') };
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
  const identity: DataDirIdentity = { ...previous, creation: previous.creation + 1 };
  writeAtomically(path, IDENTITY_FILE, `${JSON.stringify(identity)}\n`);
  return { path, identity, fresh: false, raftPath: join(path, 'raft') };
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
