// Early replication in the group driver (in-process members on real TCP): the leader sends its
// appends before its own store write is done, so its followers write while it does; it steps
// their acknowledgements while its write is still in flight (its commit index moves then); and
// it answers a proposal only once its own write is done. Shown by holding the leader's store
// write open (a real store whose persist waits for the test) and watching the followers.
import { afterEach, describe, expect, it } from 'vitest';
import { type GroupRaftStore, RaftStore, type StoredGroupSnapshot } from '../../registry/raft-store.js';
import type { Entry, HardState } from '../../registry/raft/index.js';
import { GroupCluster, eventually, idleProcess } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

/** A real store whose writes wait, once `hold()` is called, until `release()`. */
async function heldStore(): Promise<{ store: GroupRaftStore; hold(): void; release(): void; held(): number }> {
  const store = await RaftStore.openMemory<Entry, HardState, StoredGroupSnapshot>();
  const persist = store.persist.bind(store);
  let holding = false;
  let waiting: Array<() => void> = [];
  store.persist = async (batch, options) => {
    if (holding) await new Promise<void>((resolve) => waiting.push(resolve));
    return persist(batch, options);
  };
  return {
    store,
    hold: () => (holding = true),
    release: () => {
      holding = false;
      for (const resolve of waiting) resolve();
      waiting = [];
    },
    held: () => waiting.length,
  };
}

describe('group early replication — the leader writes in parallel with its followers', () => {
  it('followers hold and acknowledge an entry whose write on the leader is still in flight', async () => {
    // Long election timeouts: the leader sends no heartbeat while its write is held, and the
    // followers must not campaign meanwhile.
    const slow = { electionTicks: 50, heartbeatTicks: 5 };
    const { store, hold, release, held } = await heldStore();
    const [a, b, c] = await cluster.three(slow, { a: { store } });
    const leader = await cluster.leader();
    expect(leader).toBe(a);
    const pid = idleProcess(a!.node);
    await a!.group.register('warm-up', pid);
    hold();
    let answered = false;
    const registered = a!.group.register('early', pid).then((result) => {
      answered = true;
      return result;
    });
    try {
      await eventually("the leader's write is in flight", () => held() > 0);
      const index = a!.group.status().lastIndex;
      // The followers got the entry and made it durable while the leader's write waits...
      await eventually('both followers hold the entry', () => [b!, c!].every((member) => member.group.status().lastIndex >= index));
      // ...and the leader counted their acknowledgements meanwhile: committed, not yet answered.
      await eventually('the leader committed it', () => a!.group.status().commit >= index);
      expect(held()).toBeGreaterThan(0);
      expect(answered).toBe(false);
    } finally {
      release();
    }
    const { revision } = await registered;
    expect(a!.group.whereisLocal('early')?.revision).toBe(revision);
    await eventually('the followers applied it', () => [b!, c!].every((member) => member.group.whereisLocal('early')?.revision === revision));
  });
});
