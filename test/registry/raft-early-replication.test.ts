// Early replication (Raft thesis §10.2.1): with `earlyReplication`, a leader's appends come in
// `Ready.earlyMessages`, to send while its own write is in flight; the driver may step inputs
// meanwhile; the leader counts itself toward commit only up to its durable index; followers
// still persist before they acknowledge. Each scenario drives the cores by hand, Ready by Ready,
// so the order of sends, writes and steps is explicit.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../runtime/kernel/rng.js';
import {
  type AppendRequest,
  type Message,
  MemoryStorage,
  RaftNode,
  type Ready,
  defaultRaftConfig,
} from '../../registry/raft/index.js';
import { elect, testCluster } from '../../registry/raft/sim/harness.js';

function appendsIn(messages: readonly Message[]): AppendRequest[] {
  return messages.filter((m): m is AppendRequest => m.type === 'append');
}

/** Deliver `message` to a follower and carry out its whole Ready; returns that Ready. */
function followerCycle(node: RaftNode, storage: MemoryStorage, message: Message): Ready {
  node.step({ type: 'message', message });
  const ready = node.ready();
  storage.persist(ready);
  node.advance();
  return ready;
}

describe('raft early replication — the leader writes in parallel with its followers', () => {
  it('the leader sends its new entries before persisting them, and counts only durable copies', () => {
    // Proves the contract on a 3-member group: the leader's append of x is in earlyMessages
    // while x is still in its unwritten Ready; one follower's acknowledgement does not commit x
    // (the leader's own copy is not durable); the second one does — before the leader's write
    // completes, as the thesis allows; followers' acknowledgements are never early.
    const cluster = testCluster({ raft: { earlyReplication: true } });
    elect(cluster, 'n1');
    const leader = cluster.raft('n1');
    leader.step({ type: 'propose', data: 'x' });
    const ready = leader.ready();
    expect(ready.entries.map((e) => e.data)).toEqual(['x']);
    const early = appendsIn(ready.earlyMessages);
    expect(early.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    for (const append of early) expect(append.entries.map((e) => e.data)).toEqual(['x']);
    expect(appendsIn(ready.messages)).toEqual([]);

    const acks: Message[] = [];
    for (const append of early) {
      const followerReady = followerCycle(cluster.raft(append.to), cluster.member(append.to).storage, append);
      expect(followerReady.earlyMessages).toEqual([]);
      expect(followerReady.messages).toMatchObject([{ type: 'append_response', reject: false, index: 3 }]);
      acks.push(...followerReady.messages);
    }
    // The leader's write of x is still in flight: it steps the acknowledgements meanwhile.
    leader.step({ type: 'message', message: acks[0] as Message });
    expect(leader.status()).toMatchObject({ commit: 2, stableIndex: 2, lastIndex: 3 });
    leader.step({ type: 'message', message: acks[1] as Message });
    expect(leader.status()).toMatchObject({ commit: 3, stableIndex: 2 });

    cluster.member('n1').storage.persist(ready);
    leader.advance();
    expect(leader.status().stableIndex).toBe(3);
    const next = leader.ready();
    expect(next.committedEntries.map((e) => e.data)).toEqual(['x']);
    expect(appendsIn(next.earlyMessages).every((m) => m.commit === 3)).toBe(true);
    leader.advance();
  });

  it('with the leaderCountsUnpersisted bug, one follower and the unwritten leader commit', () => {
    // The same steps as above with the deliberate bug: the commit moves on the first
    // acknowledgement, counting a copy that a crash would lose (the sim teeth catch this).
    const cluster = testCluster({ raft: { earlyReplication: true, bugs: { leaderCountsUnpersisted: true } } });
    elect(cluster, 'n1');
    const leader = cluster.raft('n1');
    leader.step({ type: 'propose', data: 'x' });
    const ready = leader.ready();
    const append = appendsIn(ready.earlyMessages).find((m) => m.to === 'n2') as AppendRequest;
    const ack = followerCycle(cluster.raft('n2'), cluster.member('n2').storage, append).messages[0] as Message;
    leader.step({ type: 'message', message: ack });
    expect(leader.status()).toMatchObject({ commit: 3, stableIndex: 2 });
  });

  it('a leader whose term is not yet durable sends nothing early', () => {
    // Proves the durable-term rule: a single voter wins its election inside one step, so its
    // first Ready carries both the new term and the append to its learner. Sent before the term
    // is durable, a crash could let it lead the same term again with a different log; so that
    // append waits for the write, and only the next Ready's appends go early.
    const cluster = testCluster({ voters: 1, learners: ['l1'], raft: { earlyReplication: true } });
    const leader = cluster.raft('n1');
    leader.step({ type: 'campaign' });
    const first = leader.ready();
    expect(first.hardState?.term).toBe(2);
    expect(first.earlyMessages).toEqual([]);
    expect(appendsIn(first.messages).map((m) => m.to)).toEqual(['l1']);
    cluster.member('n1').storage.persist(first);
    leader.advance();
    const toLearner = appendsIn(first.messages)[0] as AppendRequest;
    const ack = followerCycle(cluster.raft('l1'), cluster.member('l1').storage, toLearner).messages[0] as Message;
    leader.step({ type: 'message', message: ack }); // the learner's progress leaves probe
    leader.step({ type: 'propose', data: 'y' });
    const second = leader.ready();
    expect(appendsIn(second.earlyMessages).map((m) => m.to)).toEqual(['l1']);
    expect(appendsIn(second.messages)).toEqual([]);
    leader.advance();
  });

  it('without earlyReplication nothing is early and stepping during a write is refused', () => {
    // Proves the default keeps the classic contract that drivers without early sends rely on.
    const cluster = testCluster();
    elect(cluster, 'n1');
    const leader = cluster.raft('n1');
    leader.step({ type: 'propose', data: 'x' });
    const ready = leader.ready();
    expect(ready.earlyMessages).toEqual([]);
    expect(appendsIn(ready.messages).map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    expect(() => leader.step({ type: 'tick' })).toThrow(/between ready\(\) and advance\(\)/);
    leader.advance();
  });
});

describe('raft early replication — a follower stepping while its own write is in flight', () => {
  const entry = (index: number, term: number) => ({ index, term, type: 'normal' as const, data: `e${index}t${term}` });
  const follower = () => {
    const storage = new MemoryStorage();
    const node = new RaftNode(
      defaultRaftConfig('f', new Rng(1), { earlyReplication: true, bootstrap: { voters: ['a', 'b', 'f'], learners: [] } }),
      storage,
    );
    const first = node.ready(); // the bootstrap configuration entry
    storage.persist(first);
    node.advance();
    return { node, storage };
  };
  const append = (from: string, term: number, prevIndex: number, prevTerm: number, entries: ReturnType<typeof entry>[]): Message => ({
    type: 'append',
    from,
    to: 'f',
    term,
    prevIndex,
    prevTerm,
    entries,
    commit: 1,
  });

  it('acknowledges only after the write that holds the entries, in the next Ready', () => {
    // Proves followers persist before acknowledging even when inputs are stepped during their
    // write: an append stepped meanwhile is answered in the next Ready, after its own write.
    const { node, storage } = follower();
    node.step({ type: 'message', message: append('a', 2, 1, 1, [entry(2, 2)]) });
    const first = node.ready();
    expect(first.entries.map((e) => e.index)).toEqual([2]);
    expect(first.messages).toMatchObject([{ type: 'append_response', index: 2 }]);
    node.step({ type: 'message', message: append('a', 2, 2, 2, [entry(3, 2)]) });
    storage.persist(first);
    node.advance();
    const second = node.ready();
    expect(second.earlyMessages).toEqual([]);
    expect(second.entries.map((e) => e.index)).toEqual([3]);
    expect(second.messages).toMatchObject([{ type: 'append_response', index: 3 }]);
    storage.persist(second);
    node.advance();
    expect(node.status().stableIndex).toBe(3);
  });

  it('entries replaced while their write was in flight are not counted durable', () => {
    // Proves `advance()` checks what it marks durable: entries 2..3 of term 2 are being written
    // when a term-3 leader replaces them; after that write only index 1 is durable (the log has
    // other entries at 2..3 now), and the replacement becomes durable with its own write.
    const { node, storage } = follower();
    node.step({ type: 'message', message: append('a', 2, 1, 1, [entry(2, 2), entry(3, 2)]) });
    const first = node.ready();
    node.step({ type: 'message', message: append('b', 3, 1, 1, [entry(2, 3), entry(3, 3)]) });
    storage.persist(first);
    node.advance();
    expect(node.status()).toMatchObject({ stableIndex: 1, lastIndex: 3, lastTerm: 3 });
    const second = node.ready();
    expect(second.entries.map((e) => `${e.index}/${e.term}`)).toEqual(['2/3', '3/3']);
    storage.persist(second);
    node.advance();
    expect(node.status().stableIndex).toBe(3);
    expect(storage.term(3)).toBe(3);
  });

  it('entries confirmed unchanged while their write was in flight are counted durable', () => {
    const { node, storage } = follower();
    node.step({ type: 'message', message: append('a', 2, 1, 1, [entry(2, 2), entry(3, 2)]) });
    const first = node.ready();
    node.step({ type: 'message', message: append('a', 2, 1, 1, [entry(2, 2)]) }); // a duplicate, shorter
    storage.persist(first);
    node.advance();
    expect(node.status()).toMatchObject({ stableIndex: 3, lastIndex: 3 });
    node.ready();
    node.advance();
  });
});
