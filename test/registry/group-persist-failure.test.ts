// A member whose disk fails (a Raft store on real classic-level whose writes start failing, as
// an EIO would) stops entirely and leaves no zombie: the waiting proposal is rejected at once
// with a typed error naming the failure, later calls get `shutdown`, the member closes its store
// itself, and a later close() resolves (and this file's handle check finds nothing left open).
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import { type GroupRaftStore, RaftStore, type StoredGroupSnapshot } from '../../registry/raft-store.js';
import type { Entry, HardState } from '../../registry/raft/index.js';
import { GroupCluster, eventually, idleProcess } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

/** A real store whose writes fail once `failing` is set (the fault is in the disk, not in the group). */
async function failingStore(path: string): Promise<{ store: GroupRaftStore; fail(): void }> {
  const store = await RaftStore.openDisk<Entry, HardState, StoredGroupSnapshot>(path);
  const persist = store.persist.bind(store);
  let failing = false;
  store.persist = async (batch, options) => {
    if (failing) throw new Error('EIO: i/o error (injected)');
    return persist(batch, options);
  };
  return { store, fail: () => (failing = true) };
}

describe('group persist failure — the member stops cleanly', () => {
  it('rejects the waiting proposal, refuses new calls, closes its store itself; close() resolves', async () => {
    const { store, fail } = await failingStore(cluster.dir('failing-raft'));
    const member = await cluster.start('f', { bootstrap: true, store, requestTimeoutMs: 30_000 });
    await eventually('f leads', () => member.group.status().role === 'leader');
    const pid = idleProcess(member.node);
    await member.group.register('before', pid);
    fail();
    const error = await member.group.register('after', pid).catch((caught: unknown) => caught);
    // At once (long before the 30 s request timeout) and typed.
    expect(isFedError(error, 'unavailable')).toBe(true);
    expect((error as { details: { reason: string } }).details.reason).toBe('persist_failed');
    await eventually('the member closed its store', () => store.closed);
    expect(member.group.closed).toBe(true);
    expect(isFedError(await member.group.register('later', pid).catch((caught: unknown) => caught), 'shutdown')).toBe(true);
    await expect(member.group.close()).resolves.toBeUndefined();
    // The data written before the failure is intact on disk.
    const reopened = await RaftStore.openDisk<Entry, HardState, StoredGroupSnapshot>(cluster.dir('failing-raft'), { createIfMissing: false });
    const loaded = await reopened.load();
    await reopened.close();
    expect(loaded.entries.length).toBeGreaterThan(0);
  });
});
