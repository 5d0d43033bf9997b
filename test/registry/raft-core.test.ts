// The Raft core's behaviours, one scenario each, on small clusters over the simulator's instant
// network (no delay, no loss) with its safety checker watching every step: elections, pre-vote,
// check-quorum, the Figure 8 commit rule, proposals (batching, not_leader, forwarding), fast
// backtracking, flow control, restart from storage, and input validation. Scenarios are driven
// by explicit campaigns, ticks, partitions and message filters, so each is deterministic.
import { describe, expect, it } from 'vitest';
import { FedError } from '../../runtime/kernel/errors.js';
import { Rng } from '../../runtime/kernel/rng.js';
import { MemoryStorage, RaftNode, defaultRaftConfig, entryBytesEstimate, splitAppend, type AppendRequest, type Message } from '../../registry/raft/index.js';
import { SafetyViolation } from '../../registry/raft/sim/checker.js';
import { appliedData, elect, testCluster, ticks, watchMessages } from '../../registry/raft/sim/harness.js';

describe('raft election — leader election', () => {
  it('a campaign elects a leader whose no-op commits and is applied everywhere', () => {
    const cluster = testCluster();
    elect(cluster, 'n1');
    const leader = cluster.raft('n1').status();
    expect(leader.role).toBe('leader');
    expect(leader.term).toBe(2);
    for (const id of ['n2', 'n3']) {
      const status = cluster.raft(id).status();
      expect(status.role).toBe('follower');
      expect(status.leader).toBe('n1');
      expect(status.commit).toBe(2);
      expect(cluster.raft(id).entryAt(2).type).toBe('noop');
      expect(cluster.member(id).machine.applied).toBe(2);
    }
  });

  it('randomized timeouts elect exactly one leader by ticking alone', () => {
    const cluster = testCluster({ voters: 5, seed: 7 });
    ticks(cluster, 60);
    expect(cluster.leaders()).toHaveLength(1);
  });

  it('a candidate without a quorum does not become leader', () => {
    const cluster = testCluster();
    cluster.isolate('n1');
    elect(cluster, 'n1');
    expect(cluster.raft('n1').status().role).toBe('pre_candidate');
    expect(cluster.leaders()).toEqual([]);
  });

  it('votes go only to candidates whose log is at least as up to date', () => {
    const cluster = testCluster();
    elect(cluster, 'n1');
    cluster.isolate('n3');
    cluster.propose('n1', 'a');
    cluster.stabilize();
    cluster.heal();
    // n3 lacks 'a'; n1 and n2 refuse it (pre-vote and vote alike).
    cluster.raft('n1').step({ type: 'transfer_leader', to: 'n2' });
    cluster.stabilize();
    elect(cluster, 'n3');
    expect(cluster.raft('n3').status().role).not.toBe('leader');
  });
});

describe('raft pre-vote — a partitioned member does not disrupt', () => {
  it('an isolated follower with pre-vote keeps its term while it cannot win', () => {
    const cluster = testCluster({ raft: { preVote: true } });
    elect(cluster, 'n1');
    cluster.isolate('n3');
    ticks(cluster, 100);
    expect(cluster.raft('n3').status().term).toBe(2);
    cluster.heal();
    ticks(cluster, 5);
    expect(cluster.raft('n1').status()).toMatchObject({ role: 'leader', term: 2 });
  });

  it('without pre-vote the same follower inflates its term', () => {
    const cluster = testCluster({ raft: { preVote: false } });
    elect(cluster, 'n1');
    cluster.isolate('n3');
    ticks(cluster, 100);
    expect(cluster.raft('n3').status().term).toBeGreaterThan(2);
  });
});

describe('raft check-quorum — leases both ways', () => {
  it('a leader that loses its quorum steps down within two election timeouts', () => {
    const cluster = testCluster();
    elect(cluster, 'n1');
    cluster.isolate('n1');
    ticks(cluster, 20);
    expect(cluster.raft('n1').status().role).not.toBe('leader');
  });

  it('followers that heard from the leader recently ignore a higher-term vote request', () => {
    const cluster = testCluster({ raft: { preVote: false } });
    elect(cluster, 'n1');
    ticks(cluster, 3);
    // n3 campaigns without pre-vote: its vote requests carry term 3, but n2 is in lease.
    elect(cluster, 'n3');
    expect(cluster.raft('n2').status()).toMatchObject({ term: 2, leader: 'n1' });
  });
});

describe('raft commit rule — Figure 8', () => {
  // n1 leads term 2 and appends x@3 alone; n2 leads term 3 and appends its no-op@3 alone, then
  // crashes; n1 leads term 4 and replicates x@3 to n3 but not its own no-op@4. Counting
  // replicas, x@3 is on a majority — but n2 can still be elected (its last term 3 beats n3's 2)
  // and overwrite it. The correct leader waits for an entry of its own term.
  function figure8(commitOldTermByCounting: boolean) {
    const cluster = testCluster({ raft: { messageEntriesMax: 1, bugs: { commitOldTermByCounting } } });
    elect(cluster, 'n1');
    cluster.isolate('n1');
    cluster.propose('n1', 'x');
    cluster.heal();
    cluster.isolate('n1');
    watchMessages(cluster, (m) => m.from === 'n2' && m.type === 'append');
    ticks(cluster, 20); // n1 steps down (check-quorum); n2 or n3 wins term 3 meanwhile
    if (cluster.raft('n2').status().role !== 'leader') elect(cluster, 'n2');
    expect(cluster.raft('n2').status()).toMatchObject({ role: 'leader', term: 3 });
    expect(cluster.raft('n3').status().lastIndex).toBe(2);
    cluster.crash('n2');
    cluster.heal();
    // Once n3 holds x@3, n1's appends carrying its own term's no-op never reach it.
    const n3HasX = () => cluster.raft('n3').status().lastIndex >= 3;
    watchMessages(cluster, (m) => m.type === 'append' && m.from === 'n1' && m.entries.some((e) => e.term === 4) && n3HasX());
    ticks(cluster, 12);
    elect(cluster, 'n1'); // the first pre-vote only teaches n1 the current term
    if (cluster.raft('n1').status().role !== 'leader') elect(cluster, 'n1');
    expect(cluster.raft('n1').status()).toMatchObject({ role: 'leader', term: 4 });
    expect(cluster.raft('n3').termAt(3)).toBe(2);
    return cluster;
  }

  it('a leader does not commit an earlier-term entry by counting replicas', () => {
    const cluster = figure8(false);
    expect(cluster.raft('n1').status().commit).toBe(2);
    // And the scenario's continuation is safe: n2 wins and overwrites the uncommitted x@3.
    cluster.crash('n1');
    cluster.restart('n2');
    watchMessages(cluster);
    ticks(cluster, 12);
    elect(cluster, 'n2'); // the first pre-vote only teaches n2 the current term
    if (cluster.raft('n2').status().role !== 'leader') elect(cluster, 'n2');
    expect(cluster.raft('n2').status().role).toBe('leader');
    expect(cluster.raft('n3').entryAt(3).type).toBe('noop');
  });

  it('with the Figure 8 bug the checker catches the lost committed entry', () => {
    const cluster = figure8(true);
    expect(cluster.raft('n1').status().commit).toBe(3);
    cluster.crash('n1');
    cluster.restart('n2');
    watchMessages(cluster);
    expect(() => {
      ticks(cluster, 12);
      elect(cluster, 'n2');
      elect(cluster, 'n2');
    }).toThrow(SafetyViolation);
  });
});

describe('raft proposals — batching, not_leader, forwarding', () => {
  it('proposals between two ready() calls travel in one append per follower', () => {
    const cluster = testCluster();
    elect(cluster, 'n1');
    const seen = watchMessages(cluster);
    const leader = cluster.raft('n1');
    for (let k = 0; k < 100; k++) leader.step({ type: 'propose', data: `v${k}` });
    cluster.drive(cluster.member('n1'));
    cluster.stabilize();
    const appendsToN2 = seen.filter((m): m is AppendRequest => m.type === 'append' && m.to === 'n2' && m.entries.length > 0);
    expect(appendsToN2).toHaveLength(1);
    expect(appendsToN2[0]?.entries).toHaveLength(100);
    expect(appliedData(cluster, 'n3')).toHaveLength(100);
  });

  it('a follower rejects a proposal with not_leader and the leader hint', () => {
    const cluster = testCluster();
    elect(cluster, 'n1');
    cluster.propose('n2', 'x');
    expect(cluster.member('n2').results.at(-1)).toMatchObject({ kind: 'propose', outcome: 'rejected', reason: 'not_leader', leaderHint: 'n1' });
  });

  it('with forwarding a follower hands the proposal to the leader, which commits it', () => {
    const cluster = testCluster({ raft: { forwardProposals: true } });
    elect(cluster, 'n1');
    cluster.propose('n2', 'x');
    cluster.stabilize();
    expect(cluster.member('n2').results.at(-1)).toMatchObject({ outcome: 'forwarded', to: 'n1' });
    expect(appliedData(cluster, 'n3')).toEqual(['x']);
  });

  it('uncommittedEntries counts the leader\'s appended, uncommitted entries (0 on a follower), as status() does', () => {
    // Proves the allocation-free count admission control reads equals lastIndex - commit of status().
    const cluster = testCluster();
    elect(cluster, 'n1');
    const leader = cluster.raft('n1');
    cluster.isolate('n2');
    cluster.isolate('n3');
    for (let k = 0; k < 5; k++) leader.step({ type: 'propose', data: `u${k}` });
    cluster.drive(cluster.member('n1'));
    const status = leader.status();
    expect(leader.uncommittedEntries()).toBe(5);
    expect(leader.uncommittedEntries()).toBe(status.lastIndex - status.commit);
    expect(cluster.raft('n2').uncommittedEntries()).toBe(0);
    cluster.heal();
    ticks(cluster, 10); // the leader resends after its heartbeat round
    expect(leader.status().role).toBe('leader');
    expect(leader.uncommittedEntries()).toBe(0);
    expect(leader.status().commit).toBe(status.lastIndex);
  });

  it('the leader reports appended proposals with their index and term', () => {
    const cluster = testCluster();
    elect(cluster, 'n1');
    cluster.propose('n1', 'x');
    expect(cluster.member('n1').results.at(-1)).toEqual({ kind: 'propose', id: 'x', outcome: 'appended', index: 3, term: 2 });
  });
});

describe('raft replication — fast backtracking and flow control', () => {
  it('a follower with a long conflicting suffix is repaired in a few round trips', () => {
    const cluster = testCluster();
    elect(cluster, 'n1');
    cluster.isolate('n1');
    for (let k = 0; k < 50; k++) cluster.propose('n1', `stale${k}`);
    cluster.heal();
    cluster.isolate('n1');
    ticks(cluster, 20);
    elect(cluster, 'n2');
    for (let k = 0; k < 50; k++) cluster.propose('n2', `fresh${k}`);
    cluster.stabilize();
    cluster.heal();
    const seen = watchMessages(cluster);
    ticks(cluster, 3);
    const rejections = seen.filter((m) => m.type === 'append_response' && m.from === 'n1' && m.reject);
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(appliedData(cluster, 'n1')).toEqual(appliedData(cluster, 'n2'));
    expect(appliedData(cluster, 'n1')).toHaveLength(50);
  });

  it('no more than inflightMessagesMax appends are outstanding to a slow follower', () => {
    const cluster = testCluster({ raft: { inflightMessagesMax: 2, messageEntriesMax: 1 } });
    elect(cluster, 'n1');
    const seen = watchMessages(cluster, (m) => m.type === 'append_response' && m.from === 'n2');
    for (let k = 0; k < 10; k++) {
      cluster.propose('n1', `v${k}`);
      cluster.stabilize();
    }
    const appendsToN2 = seen.filter((m) => m.type === 'append' && m.to === 'n2' && m.entries.length > 0);
    expect(appendsToN2).toHaveLength(2);
    expect(cluster.raft('n1').progressOf('n2')?.inflight).toBe(2);
    // n3 is not held back by n2: everything commits with n1 + n3.
    expect(cluster.raft('n1').status().commit).toBe(12);
    watchMessages(cluster);
    ticks(cluster, 10);
    expect(appliedData(cluster, 'n2')).toHaveLength(10);
  });

  it('no more than inflightBytesMax bytes of appends are outstanding to a slow follower', () => {
    // Proves the byte limit of the pipeline, apart from the message limit (256 here, never
    // reached): with n2's acknowledgements dropped, appends of 100-byte entries stop once 250
    // bytes are in flight (the message that crosses the limit is the last one sent), while n3
    // keeps getting everything. Once n2 answers again the bytes are freed and n2 catches up.
    const entryBytes = 100;
    const data = (k: number): string => `v${k}`.padEnd(entryBytes - entryBytesEstimate({ term: 0, index: 0, type: 'normal', data: '' }), '.');
    const cluster = testCluster({ raft: { inflightBytesMax: 250, inflightMessagesMax: 256, messageEntriesMax: 1 } });
    elect(cluster, 'n1');
    expect(entryBytesEstimate({ term: 2, index: 3, type: 'normal', data: data(0) })).toBe(entryBytes);
    const seen = watchMessages(cluster, (m) => m.type === 'append_response' && m.from === 'n2');
    for (let k = 0; k < 10; k++) {
      cluster.propose('n1', data(k));
      cluster.stabilize();
    }
    const appendsTo = (id: string) => seen.filter((m): m is AppendRequest => m.type === 'append' && m.to === id && m.entries.length > 0);
    expect(appendsTo('n2')).toHaveLength(3);
    expect(cluster.raft('n1').progressOf('n2')).toMatchObject({ state: 'replicate', inflight: 3, inflightBytes: 3 * entryBytes });
    expect(appendsTo('n3')).toHaveLength(10);
    expect(cluster.raft('n1').status().commit).toBe(12);
    watchMessages(cluster);
    ticks(cluster, 10);
    expect(appliedData(cluster, 'n2')).toHaveLength(10);
    expect(cluster.raft('n1').progressOf('n2')).toMatchObject({ match: 12, inflight: 0, inflightBytes: 0 });
  });

  it('a catch-up append of entries with large object data stays near messageBytesMax', () => {
    // An entry's object data counts by its size (the walk of dataBytesEstimate), not as a fixed
    // guess: 160 entries of 60 KB metadata (9.6 MB) reach a follower that missed them in appends
    // of about 1 MiB each — a guess of 64 bytes an entry packed all of them into one message,
    // over the transport's 8 MiB frame limit, which no link can carry.
    const cluster = testCluster({ raft: { messageBytesMax: 1024 * 1024 } });
    elect(cluster, 'n1');
    const blob = 'm'.repeat(60_000);
    const command = (k: number) => ({ type: 'register', name: `huge.${k}`, meta: { blob, k } });
    expect(entryBytesEstimate({ term: 2, index: 3, type: 'normal', data: command(0) })).toBeGreaterThan(60_000);
    expect(entryBytesEstimate({ term: 2, index: 3, type: 'normal', data: command(0) })).toBeLessThan(61_000);
    cluster.isolate('n3');
    for (let k = 0; k < 160; k++) {
      cluster.raft('n1').step({ type: 'propose', data: command(k), id: `p${k}` });
      cluster.drive(cluster.member('n1'));
    }
    cluster.stabilize();
    const seen = watchMessages(cluster);
    cluster.heal();
    ticks(cluster, 10);
    expect(appliedData(cluster, 'n3').filter((data) => typeof data === 'object' && data !== null)).toHaveLength(160);
    const appends = seen.filter((m): m is AppendRequest => m.type === 'append' && m.to === 'n3' && m.entries.length > 0);
    expect(appends.length).toBeGreaterThanOrEqual(9);
    for (const append of appends) expect(append.entries.length * 60_000).toBeLessThanOrEqual(1024 * 1024 + 60_100);
  });

  it('an append split in two (splitAppend) leaves a follower where the whole append would', () => {
    // The driver's fallback for an append over the frame limit: both halves, in order, give a
    // fresh follower the same log, commit and final answer as the one message.
    const entries = Array.from({ length: 7 }, (_, k) => ({ term: 1 + Math.floor(k / 4), index: k + 1, type: 'normal' as const, data: `e${k + 1}` }));
    const append: AppendRequest = { type: 'append', from: 'n1', to: 'f', term: 2, prevIndex: 0, prevTerm: 0, entries, commit: 5 };
    const [first, second] = splitAppend(append);
    expect(first.entries.map((entry) => entry.index)).toEqual([1, 2, 3, 4]);
    expect(second).toMatchObject({ prevIndex: 4, prevTerm: 1, commit: 5 });
    expect(second.entries.map((entry) => entry.index)).toEqual([5, 6, 7]);
    expect(() => splitAppend({ ...append, entries: entries.slice(0, 1) })).toThrow();
    const follower = (messages: AppendRequest[]) => {
      const storage = new MemoryStorage();
      const node = new RaftNode(defaultRaftConfig('f', new Rng(1)), storage);
      const answers: Message[] = [];
      for (const message of messages) {
        node.step({ type: 'message', message });
        while (node.hasReady()) {
          const ready = node.ready();
          storage.persist(ready);
          answers.push(...ready.messages);
          node.advance();
        }
      }
      const status = node.status();
      return { lastIndex: status.lastIndex, commit: status.commit, log: storage.entries(1, status.lastIndex + 1).map((entry) => entry.data), last: answers.at(-1) };
    };
    const whole = follower([append]);
    expect(whole).toMatchObject({ lastIndex: 7, commit: 5, last: { type: 'append_response', reject: false, index: 7 } });
    expect(follower([first, second])).toEqual(whole);
  });

  it('an entry larger than inflightBytesMax still goes out, alone', () => {
    // Proves the byte limit cannot wedge replication: one message is always allowed in flight,
    // however large, and nothing follows it until it is acknowledged.
    const cluster = testCluster({ raft: { inflightBytesMax: 64, messageEntriesMax: 1 } });
    elect(cluster, 'n1');
    const seen = watchMessages(cluster, (m) => m.type === 'append_response' && m.from === 'n2');
    cluster.propose('n1', 'x'.repeat(1_000));
    cluster.propose('n1', 'small');
    cluster.stabilize();
    const toN2 = seen.filter((m): m is AppendRequest => m.type === 'append' && m.to === 'n2' && m.entries.length > 0);
    expect(toN2.map((m) => m.entries.map((e) => e.index))).toEqual([[3]]);
    watchMessages(cluster);
    ticks(cluster, 10);
    expect(appliedData(cluster, 'n2')).toEqual(['x'.repeat(1_000), 'small']);
  });

  it('an append that overtook an earlier one is waited out and resent, without probing', () => {
    // Proves the reorder handling of replicate state: B (entry 4) reaches n2 before A (entry 3)
    // and is rejected; the leader stays in replicate, sends nothing while A is in flight, and
    // resends from entry 4 as soon as A is acknowledged. A stale copy of the rejection changes
    // nothing.
    const cluster = testCluster({ raft: { messageEntriesMax: 1 } });
    elect(cluster, 'n1');
    const held: AppendRequest[] = [];
    const seen = watchMessages(cluster, (m) => {
      if (m.type === 'append' && m.to === 'n2' && m.prevIndex === 2 && held.length === 0) {
        held.push(m);
        return true;
      }
      return false;
    });
    cluster.propose('n1', 'a');
    cluster.propose('n1', 'b');
    cluster.stabilize();
    const rejection = seen.find((m) => m.type === 'append_response' && m.from === 'n2' && m.reject);
    expect(rejection).toMatchObject({ index: 3, hintIndex: 2 });
    expect(cluster.raft('n1').progressOf('n2')).toMatchObject({ state: 'replicate', match: 2, next: 4, inflight: 1 });
    const sentBefore = seen.filter((m) => m.type === 'append' && m.to === 'n2').length;
    cluster.raft('n1').step({ type: 'message', message: rejection as Message });
    cluster.stabilize();
    expect(seen.filter((m) => m.type === 'append' && m.to === 'n2')).toHaveLength(sentBefore);
    cluster.raft('n2').step({ type: 'message', message: held[0] as AppendRequest });
    cluster.drive(cluster.member('n2'));
    cluster.stabilize();
    const resent = seen.filter((m): m is AppendRequest => m.type === 'append' && m.to === 'n2' && m.prevIndex === 3);
    expect(resent.length).toBeGreaterThanOrEqual(2);
    expect(cluster.raft('n1').progressOf('n2')).toMatchObject({ state: 'replicate', match: 4, inflight: 0 });
    expect(appliedData(cluster, 'n2')).toEqual(['a', 'b']);
  });

  it('appends lost in replicate state are resent after a stall', () => {
    const cluster = testCluster();
    elect(cluster, 'n1');
    watchMessages(cluster, (m) => m.type === 'append' && m.to === 'n2');
    cluster.propose('n1', 'lost');
    cluster.stabilize();
    watchMessages(cluster);
    ticks(cluster, 8);
    expect(appliedData(cluster, 'n2')).toEqual(['lost']);
  });
});

describe('raft restart — state comes back from storage', () => {
  it('a restarted member keeps its term, vote, log and commit', () => {
    const cluster = testCluster();
    elect(cluster, 'n1');
    cluster.propose('n1', 'x');
    cluster.stabilize();
    const before = cluster.raft('n2').status();
    cluster.crash('n2');
    cluster.restart('n2');
    const after = cluster.raft('n2').status();
    expect(after).toMatchObject({ term: before.term, vote: before.vote, lastIndex: before.lastIndex, commit: before.commit, role: 'follower' });
    cluster.stabilize();
    expect(appliedData(cluster, 'n2')).toEqual(['x']);
  });

  it('a member restarted with a higher applied index does not re-apply', () => {
    const storage = new MemoryStorage();
    const config = defaultRaftConfig('solo', new Rng(1), { bootstrap: { voters: ['solo'], learners: [] } });
    const node = new RaftNode(config, storage);
    node.step({ type: 'campaign' });
    while (node.hasReady()) {
      const ready = node.ready();
      storage.persist(ready);
      node.advance();
    }
    expect(node.status()).toMatchObject({ role: 'leader', commit: 2, applied: 2 });
    const again = new RaftNode({ ...config, bootstrap: null, applied: 2 }, storage);
    expect(again.hasReady()).toBe(false);
    expect(again.status().applied).toBe(2);
  });
});

describe('raft inputs — validation', () => {
  it('refuses impossible configuration with a config error', () => {
    const rng = new Rng(1);
    expect(() => new RaftNode(defaultRaftConfig('a', rng, { heartbeatTicks: 10, electionTicks: 10 }), new MemoryStorage())).toThrow(FedError);
    expect(() => new RaftNode(defaultRaftConfig('a', rng, { readMode: 'lease', checkQuorum: false }), new MemoryStorage())).toThrow(
      expect.objectContaining({ code: 'config' }),
    );
    expect(() => new RaftNode(defaultRaftConfig('', rng), new MemoryStorage())).toThrow(expect.objectContaining({ code: 'config' }));
    expect(() =>
      new RaftNode(defaultRaftConfig('a', rng, { buggify: { progressFromFirstIndexProbability: 2 } }), new MemoryStorage()),
    ).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('buggify.progressFromFirstIndexProbability') }));
  });

  it('refuses a snapshot beyond the applied index and a message for another member', () => {
    const node = new RaftNode(defaultRaftConfig('a', new Rng(1), { bootstrap: { voters: ['a'], learners: [] } }), new MemoryStorage());
    expect(() => node.step({ type: 'snapshot_taken', index: 5, data: new Uint8Array(1) })).toThrow(expect.objectContaining({ code: 'badarg' }));
    expect(() =>
      node.step({ type: 'message', message: { type: 'heartbeat_response', from: 'b', to: 'c', term: 1, round: 1 } }),
    ).toThrow(expect.objectContaining({ code: 'badarg' }));
  });

  it('asserts the driver contract: no step between ready() and advance()', () => {
    const node = new RaftNode(defaultRaftConfig('a', new Rng(1), { bootstrap: { voters: ['a'], learners: [] } }), new MemoryStorage());
    node.ready();
    expect(() => node.step({ type: 'tick' })).toThrow(/between ready\(\) and advance\(\)/);
    node.advance();
    expect(() => node.advance()).toThrow(/advance\(\) without ready\(\)/);
  });
});
