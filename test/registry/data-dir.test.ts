// The data directory: first start creates it (the Raft store before node.json), each start bumps
// the creation, and every refusal — a corrupt, newer-format or foreign node.json, a missing or
// non-LevelDB raft/ in an initialized directory, and (verified open) a Raft store that is
// corrupt, of a newer format or another node's — is a typed error decided before anything is
// written: every file is byte-for-byte what it was. Where the check has to open the LevelDB
// store, LevelDB itself rewrites its own bookkeeping files inside raft/ (LOG, MANIFEST, CURRENT)
// on every open; there the test compares every other file byte for byte and the store's
// key/value contents exactly.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { nextCreation, openDataDir, openDataDirVerified } from '../../registry/data-dir.js';
import { Group } from '../../registry/group.js';
import { RaftStore, entryKey } from '../../registry/raft-store.js';
import { Distribution, Node, encode, isFedError } from '../../runtime/index.js';

const made: string[] = [];
function freshDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'fedctl-data-'));
  made.push(root);
  return join(root, 'node');
}
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const A = { name: 'a@127.0.0.1', group: 'g1' };

function refusal(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

async function asyncRefusal(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    const value = await fn();
    if (typeof value === 'object' && value !== null && 'store' in value) await (value as { store: RaftStore<never, never, never> }).store.close();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Every file under `root` (relative path → sha256), optionally leaving out one subdirectory. */
function tree(root: string, except?: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      const name = relative(root, path);
      if (except !== undefined && (name === except || name.startsWith(`${except}/`))) continue;
      if (statSync(path).isDirectory()) {
        out[`${name}/`] = 'dir';
        walk(path);
      } else out[name] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** The key/value contents of a LevelDB store, hex-encoded. */
async function storeContents(path: string): Promise<Array<[string, string]>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: false });
  await db.open();
  const out: Array<[string, string]> = [];
  for await (const [key, value] of db.iterator()) out.push([Buffer.from(key).toString('hex'), Buffer.from(value).toString('hex')]);
  await db.close();
  return out;
}

/** A directory as a member leaves it: node.json and a Raft store with meta, a hard state and a log. */
async function initialized(identity = A): Promise<string> {
  const dir = freshDir();
  const opened = await openDataDirVerified(dir, identity);
  await opened.store.persist({ hardState: { term: 3, vote: 'b@127.0.0.1', commit: 1 }, entries: [{ index: 1, term: 1, type: 'noop', data: null }] });
  await opened.store.close();
  return dir;
}

describe('data directory — identity and creation', () => {
  it('creates on first start and bumps the creation on every start', () => {
    const dir = freshDir();
    const first = openDataDir(dir, A);
    expect(first.fresh).toBe(true);
    // A new directory starts from the clock (seconds since 2020), not from 1.
    expect(first.identity.creation).toBeGreaterThanOrEqual(nextCreation(undefined, Date.now() - 60_000));
    expect(existsSync(first.raftPath)).toBe(true);
    const second = openDataDir(dir, A).identity.creation;
    expect(second).toBeGreaterThan(first.identity.creation);
    const third = openDataDir(dir, A);
    expect(third.fresh).toBe(false);
    expect(third.identity.creation).toBeGreaterThan(second);
  });

  it('a creation is the previous plus 1, or the clock if that is more: a wiped directory still comes back above its last creation', () => {
    const now = Date.UTC(2026, 11, 2, 3, 0, 0);
    const clock = (now - Date.UTC(2020, 0, 1)) / 1000;
    expect(nextCreation(undefined, now)).toBe(clock);
    expect(nextCreation(5, now)).toBe(clock);
    expect(nextCreation(clock, now)).toBe(clock + 1);
    expect(nextCreation(clock + 10, now)).toBe(clock + 11);
    // Never 0 nor negative, even on a clock set before 2020; never above 32 bits.
    expect(nextCreation(undefined, 0)).toBe(1);
    expect(nextCreation(0xffff_ffff, now)).toBe(0xffff_ffff);
    // The directory wiped and made again under the same name: a higher creation than the last.
    const dir = freshDir();
    const before = openDataDir(dir, A).identity.creation;
    rmSync(dir, { recursive: true, force: true });
    const after = openDataDir(dir, A);
    expect(after.fresh).toBe(true);
    expect(after.identity.creation).toBeGreaterThanOrEqual(before);
  });

  it('verified: creates the Raft store (with its meta) before node.json, bumps the creation, hands the store on', async () => {
    const dir = freshDir();
    const first = await openDataDirVerified(dir, A);
    expect(first.fresh).toBe(true);
    const loaded = await first.store.load();
    expect(loaded.meta).toEqual({ format: 1, group: 'g1', node: 'a@127.0.0.1' });
    await first.store.close();
    const second = await openDataDirVerified(dir, A);
    expect([second.fresh, second.identity.creation > first.identity.creation]).toEqual([false, true]);
    // The group takes the checked store and closes it.
    const node = new Node({ name: A.name, creation: second.identity.creation });
    await node.start();
    const distribution = await Distribution.start({ node, cookie: 'data-dir-test-cookie-0123456789' });
    const group = await Group.open({ node, distribution, group: 'g1', store: second.store, bootstrap: true, address: distribution.address, tickMs: 20 });
    await group.close();
    expect(second.store.closed).toBe(true);
    await distribution.close();
    await node.stop();
    const third = await openDataDirVerified(dir, A);
    expect(third.identity.creation).toBeGreaterThan(second.identity.creation);
    // The group gave the store its id, admitted: it bootstrapped the group.
    const meta = (await third.store.load()).meta;
    await third.store.close();
    expect(meta?.storeId).toMatch(/^[0-9a-f]{16}$/);
    expect([meta?.admitted, group.status().storeId]).toEqual([true, meta?.storeId]);
  });

  it('verified: a store handed to Group.open is closed by it when the group refuses to start', async () => {
    // Proves the ownership rule node-stack relies on: once Group.open has the store, every
    // failure closes it — a bad weight (checked first) and a Raft setting the core refuses
    // (checked after the store was read) alike — and the refusal is a typed config error.
    const node = new Node({ name: A.name });
    await node.start();
    const distribution = await Distribution.start({ node, cookie: 'data-dir-test-cookie-0123456789' });
    try {
      const dir = freshDir();
      for (const bad of [{ weight: 0 }, { electionTicks: 2, heartbeatTicks: 2 }]) {
        const opened = await openDataDirVerified(dir, A);
        const error = await Group.open({ node, distribution, group: 'g1', store: opened.store, bootstrap: true, address: distribution.address, ...bad }).catch((caught: unknown) => caught);
        expect(isFedError(error, 'config')).toBe(true);
        expect(opened.store.closed).toBe(true);
      }
    } finally {
      await distribution.close();
      await node.stop();
    }
  });

  it('verified: a first start that stopped before node.json (raft/ with only its meta) starts fresh', async () => {
    const dir = freshDir();
    const store = await RaftStore.openDisk(join(dir, 'raft'));
    await store.writeMeta({ format: 1, group: 'g1', node: A.name });
    await store.close();
    const opened = await openDataDirVerified(dir, A);
    expect(opened.fresh).toBe(true);
    await opened.store.close();
  });
});

describe('data directory — refusals change nothing', () => {
  it('another node or group: wrong_data_dir', async () => {
    const dir = await initialized();
    const before = tree(dir);
    for (const expected of [{ ...A, name: 'b@127.0.0.1' }, { ...A, group: 'g2' }]) {
      expect(isFedError(refusal(() => openDataDir(dir, expected)), 'wrong_data_dir')).toBe(true);
      expect(isFedError(await asyncRefusal(() => openDataDirVerified(dir, expected)), 'wrong_data_dir')).toBe(true);
    }
    expect(tree(dir)).toEqual(before);
  });

  it('a newer node.json format: wrong_data_dir', async () => {
    const dir = await initialized();
    writeFileSync(join(dir, 'node.json'), JSON.stringify({ format: 99, name: A.name, group: 'g1', creation: 4 }));
    const before = tree(dir);
    expect(isFedError(refusal(() => openDataDir(dir, A)), 'wrong_data_dir')).toBe(true);
    expect(isFedError(await asyncRefusal(() => openDataDirVerified(dir, A)), 'wrong_data_dir')).toBe(true);
    expect(tree(dir)).toEqual(before);
  });

  it('corrupt identity files and unknown non-empty directories: corrupt_data', async () => {
    const dir = await initialized();
    for (const junk of ['{not json', '{"format":1}', 'null', '{"format":1,"name":"a@127.0.0.1","group":"g1","creation":0}']) {
      writeFileSync(join(dir, 'node.json'), junk);
      const before = tree(dir);
      expect(isFedError(refusal(() => openDataDir(dir, A)), 'corrupt_data'), junk).toBe(true);
      expect(isFedError(await asyncRefusal(() => openDataDirVerified(dir, A)), 'corrupt_data'), junk).toBe(true);
      expect(tree(dir)).toEqual(before);
    }
    const stranger = freshDir();
    mkdirSync(stranger, { recursive: true });
    writeFileSync(join(stranger, 'something-else'), 'x');
    const before = tree(stranger);
    expect(isFedError(refusal(() => openDataDir(stranger, A)), 'corrupt_data')).toBe(true);
    expect(isFedError(await asyncRefusal(() => openDataDirVerified(stranger, A)), 'corrupt_data')).toBe(true);
    expect(tree(stranger)).toEqual(before);
  });

  it('an initialized directory whose raft/ is missing: corrupt_data, and raft/ is not recreated', async () => {
    // A member that comes back without its Raft store has no term, vote or log: it could vote
    // twice in one term. It must not start as an empty member.
    const dir = await initialized();
    rmSync(join(dir, 'raft'), { recursive: true });
    const before = tree(dir);
    const syncError = refusal(() => openDataDir(dir, A));
    expect(isFedError(syncError, 'corrupt_data')).toBe(true);
    expect((syncError as { details: { missing: boolean } }).details.missing).toBe(true);
    expect(isFedError(await asyncRefusal(() => openDataDirVerified(dir, A)), 'corrupt_data')).toBe(true);
    expect(tree(dir)).toEqual(before);
    expect(existsSync(join(dir, 'raft'))).toBe(false);
  });

  it('a raft/ that is not a LevelDB store: corrupt_data', async () => {
    const dir = await initialized();
    rmSync(join(dir, 'raft'), { recursive: true });
    mkdirSync(join(dir, 'raft'));
    writeFileSync(join(dir, 'raft', 'junk'), 'not a database');
    const before = tree(dir);
    expect(isFedError(refusal(() => openDataDir(dir, A)), 'corrupt_data')).toBe(true);
    expect(isFedError(await asyncRefusal(() => openDataDirVerified(dir, A)), 'corrupt_data')).toBe(true);
    expect(tree(dir)).toEqual(before);
  });

  /** Refusals decided by reading the store: node.json and all else byte for byte, the store's data exactly. */
  async function expectVerifiedRefusal(dir: string, code: 'corrupt_data' | 'wrong_data_dir'): Promise<void> {
    const raft = join(dir, 'raft');
    const outside = tree(dir, 'raft');
    const contents = await storeContents(raft);
    const error = await asyncRefusal(() => openDataDirVerified(dir, A));
    expect(isFedError(error, code), String(error)).toBe(true);
    expect(tree(dir, 'raft')).toEqual(outside);
    expect(await storeContents(raft)).toEqual(contents);
  }

  it('verified: a Raft store of a newer format: wrong_data_dir before the creation is bumped', async () => {
    const dir = await initialized();
    const store = await RaftStore.openDisk(join(dir, 'raft'));
    await store.writeMeta({ format: 2, group: 'g1', node: A.name });
    await store.close();
    await expectVerifiedRefusal(dir, 'wrong_data_dir');
  });

  it("verified: another node's Raft store under this node's node.json: wrong_data_dir", async () => {
    const dir = await initialized();
    const other = await initialized({ name: 'b@127.0.0.1', group: 'g1' });
    rmSync(join(dir, 'raft'), { recursive: true });
    // Move b's store in (as an operator copying the wrong directory would).
    renameSync(join(other, 'raft'), join(dir, 'raft'));
    await expectVerifiedRefusal(dir, 'wrong_data_dir');
  });

  it('verified: a Raft store whose values do not decode, or with state but no meta: corrupt_data', async () => {
    const dir = await initialized();
    const raw = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'raft'), { keyEncoding: 'view', valueEncoding: 'view' });
    await raw.put(entryKey(1), Buffer.from([0x92, 0x01]));
    await raw.close();
    await expectVerifiedRefusal(dir, 'corrupt_data');
    const metaless = await initialized();
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(metaless, 'raft'), { keyEncoding: 'view', valueEncoding: 'view' });
    await db.del(Buffer.from('m'));
    await db.put(Buffer.from('h'), encode({ term: 5, vote: null, commit: 0 }));
    await db.close();
    await expectVerifiedRefusal(metaless, 'corrupt_data');
  });
});
