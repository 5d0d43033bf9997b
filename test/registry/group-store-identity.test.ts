/**
 * A member's Raft store identity (registry/group.ts header): a node whose data directory was
 * wiped comes back under its old name with a new, unadmitted store. Its name may still be a
 * voter whose vote and acknowledged entries went with the old store, so until the group removed
 * that voter and admitted the new store, the member takes part in no Raft exchange. Real TCP on
 * 127.0.0.1, classic-level stores on disk.
 */
import { cpSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfChange } from '../../registry/raft/index.js';
import { GroupState } from '../../registry/group-state.js';
import { RaftStore } from '../../registry/raft-store.js';
import { isFedError } from '../../runtime/index.js';
import { GroupCluster, type Member, eventually, idleProcess, settled } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

interface Logged {
  readonly node: string;
  readonly event: string;
  readonly msg: string;
}

/** Three voters, each with its store on disk, logging into `logs`. */
async function threeOnDisk(logs: Logged[]): Promise<Member[]> {
  const perMember = Object.fromEntries(
    ['a', 'b', 'c'].map((short) => [short, { raftPath: cluster.dir(`${short}-raft`), log: (_level: string, event: string, msg: string) => logs.push({ node: short, event, msg }) }]),
  );
  return cluster.three({}, perMember);
}

describe('group — a member whose data directory was wiped', () => {
  it('takes part in nothing until the group removed its old voter and admitted its new store; then it is a voter again with every name', async () => {
    const logs: Logged[] = [];
    const [a, b, c] = await threeOnDisk(logs);
    const leader = await cluster.leader();
    const holder = idleProcess(leader.node);
    await leader.group.register('kept', holder);
    const oldStore = c!.group.status().storeId;
    expect(leader.group.state.storeIdOf(c!.name)).toBe(oldStore);
    expect([a, b, c].map((member) => member!.group.status().admitted)).toEqual([true, true, true]);
    const changes: ConfChange[] = [];
    a!.group.onApply((event) => {
      if (event.type === 'conf_change') changes.push(event.change);
    });

    await cluster.stop(c!);
    rmSync(cluster.dir('c-raft'), { recursive: true, force: true });
    const again = await cluster.start('c', {
      raftPath: cluster.dir('c-raft'),
      creation: 2,
      seed: leader.distribution.address,
      log: (_level, event, msg) => logs.push({ node: 'c', event, msg }),
    });

    // The new store: another id, admitted by the group (after its old voter was removed).
    const status = again.group.status();
    expect(status.storeId).not.toBe(oldStore);
    await settled([a!, b!, again], 3);
    expect(again.group.status().admitted).toBe(true);
    expect(leader.group.state.storeIdOf(again.name)).toBe(status.storeId);
    expect(again.group.whereisLocal('kept')?.pid.equals(holder)).toBe(true);
    expect(logs.some((line) => line.event === 'member_store_lost' && line.msg.includes(`${again.name} came back with a new Raft store`) && /removing it from the voters/.test(line.msg))).toBe(true);
    expect(logs.some((line) => line.node === 'c' && line.event === 'store_admitted')).toBe(true);
    // The old voter went out before the new store came in: removed, added back as a learner, promoted.
    const forC = changes.filter((change) => 'node' in change && change.node === again.name).map((change) => change.type);
    expect(forC.slice(0, 3)).toEqual(['remove', 'add_learner', 'promote']);
    // Registrations go on, from the restarted member too.
    await again.group.register('after', idleProcess(again.node));
    await eventually('every member sees it', () => [a!, b!, again].every((member) => member.group.whereisLocal('after') !== undefined));

    // Its admission is on disk: restarted from the same directory, it takes part at once.
    const storeId = again.group.status().storeId;
    await cluster.stop(again);
    const restarted = await cluster.start('c', { raftPath: cluster.dir('c-raft'), creation: 3 });
    expect([restarted.group.status().storeId, restarted.group.status().admitted]).toEqual([storeId, true]);
    await eventually('c is a voter again', () => restarted.group.isMember() && restarted.group.committedConf().voters.includes(restarted.name));
  });

  it('stays out while the other voters cannot form a quorum without it: the survivor neither commits nor leads with it', async () => {
    const logs: Logged[] = [];
    const [a, b, c] = await threeOnDisk(logs);
    await cluster.leader();
    // b goes away; c is wiped: only a holds the group's data, and a alone is no quorum.
    await cluster.stop(b!);
    await cluster.stop(c!);
    rmSync(cluster.dir('c-raft'), { recursive: true, force: true });
    const wiped = await cluster.start('c', { raftPath: cluster.dir('c-raft'), creation: 2, log: (_level, event, msg) => logs.push({ node: 'c', event, msg }) });
    await wiped.distribution.connect(a!.distribution.address);
    // Not `join` (it would wait for admission): what a joiner sends, every few ticks.
    const asking = setInterval(() => wiped.group.requestJoin(a!.name), 100);
    try {
      await eventually('a logged that c lost its store and cannot be removed yet', () =>
        logs.some((line) => line.node === 'a' && line.event === 'member_store_lost' && /stays out of every Raft exchange/.test(line.msg)),
      );
      // a cannot use c's acknowledgements or vote: no leader, no commit.
      await eventually('a stepped down', () => a!.group.status().role !== 'leader', 5_000);
      const error = await a!.group.register('lost?', idleProcess(a!.node)).catch((caught: unknown) => caught);
      expect((['not_leader', 'unavailable', 'timeout'] as const).some((code) => isFedError(error, code)), String(error)).toBe(true);
      expect(wiped.group.status()).toMatchObject({ admitted: false, term: 0, leader: null, voters: [], learners: [] });
      expect(wiped.group.status().role).not.toBe('leader');
      expect(a!.group.committedConf().voters).toContain(wiped.name);

      // b is back from its directory: a and b are a quorum, remove c's old voter, admit the new store.
      const back = await cluster.start('b', { raftPath: cluster.dir('b-raft'), creation: 2 });
      await back.distribution.connect(a!.distribution.address);
      await eventually('c admitted and a voter again', () => wiped.group.status().admitted && wiped.group.committedConf().voters.includes(wiped.name), 15_000);
      await settled([a!, back, wiped], 3);
    } finally {
      clearInterval(asking);
    }
  });

  it('a member restarted between its admission and writing it down is let in when the leader reaches it, with no join', async () => {
    const logs: Logged[] = [];
    const [a, b] = await threeOnDisk(logs);
    const leader = await cluster.leader();
    // d asks to join once; the group admits it (record and learner entry), but the word that it
    // is admitted never reaches d (lost on the wire), and d stops.
    for (const member of [a!, b!, cluster.member('c')]) {
      const send = member.distribution.sendControl.bind(member.distribution);
      member.distribution.sendControl = (to, channel, payload) => ((payload as { type?: string }).type === 'admitted' ? true : send(to, channel, payload));
    }
    const d = await cluster.start('d', { raftPath: cluster.dir('d-raft') });
    await d.distribution.connect(leader.distribution.address);
    d.group.requestJoin(leader.name);
    await eventually('d is a learner with its store recorded', () => leader.group.committedConf().learners.includes(d.name) && leader.group.state.storeIdOf(d.name) === d.group.status().storeId);
    expect(d.group.status().admitted).toBe(false);
    await cluster.stop(d);
    for (const member of [a!, b!, cluster.member('c')]) delete (member.distribution as { sendControl?: unknown }).sendControl;
    // Started again from its directory, without join: the leader's heartbeats reach it, it asks, it is admitted.
    const again = await cluster.start('d', { raftPath: cluster.dir('d-raft'), creation: 2 });
    // (The leader redials a member at its recorded address; here d listens on a new port, so it
    // is d that connects. It sends nothing: its store knows no member.)
    await again.distribution.connect(leader.distribution.address);
    await eventually('d admitted and a member', () => again.group.status().admitted && again.group.isMember());
  });

  it('an earlier store back after a new one was admitted under the name counts for nothing until the group removed the new one and admitted it again', async () => {
    const logs: Logged[] = [];
    const [a, b, c] = await threeOnDisk(logs);
    const leader = await cluster.leader();
    await leader.group.register('first', idleProcess(leader.node));
    // c's volume is set aside (S1); c starts on an empty directory (S2), which the group admits.
    await cluster.stop(c!);
    const s1 = c!.group.status().storeId;
    cpSync(cluster.dir('c-raft'), cluster.dir('c-raft-s1'), { recursive: true });
    rmSync(cluster.dir('c-raft'), { recursive: true, force: true });
    const s2Member = await cluster.start('c', { raftPath: cluster.dir('c-raft'), creation: 2, seed: leader.distribution.address });
    await settled([a!, b!, s2Member], 3);
    const s2 = s2Member.group.status().storeId;
    expect(leader.group.state.storeIdOf(s2Member.name)).toBe(s2);
    await leader.group.register('second', idleProcess(leader.node));
    // The old volume is back (S2's is gone): admitted on its disk, it starts without a join.
    await cluster.stop(s2Member);
    rmSync(cluster.dir('c-raft'), { recursive: true, force: true });
    const s1Member = await cluster.start('c', { raftPath: cluster.dir('c-raft-s1'), creation: 3, log: (_level, event, msg) => logs.push({ node: 'c', event, msg }) });
    expect([s1Member.group.status().storeId, s1Member.group.status().admitted]).toEqual([s1, true]);
    await eventually('the leader said its answers count for nothing', () => logs.some((line) => line.node !== 'c' && line.event === 'store_superseded' && line.msg.includes(s1)));
    await eventually('the group holds S1 again, c a voter with it', () => {
      const current = cluster.members.find((member) => !member.closed && member.group.status().role === 'leader');
      return current !== undefined && current.group.state.storeIdOf(s1Member.name) === s1 && current.group.committedConf().voters.includes(s1Member.name) && s1Member.group.status().admitted;
    }, 15_000);
    expect(logs.some((line) => line.event === 'member_store_lost' && /came back with (a new|an earlier) Raft store/.test(line.msg) && line.msg.includes(s1))).toBe(true);
    await eventually('c has every name', () => s1Member.group.whereisLocal('second') !== undefined && s1Member.group.whereisLocal('first') !== undefined);
  });

  it('a new store is unadmitted unless it bootstraps; a store from before store ids that holds Raft state is admitted', async () => {
    const joiner = await cluster.start('j', { raftPath: cluster.dir('j-raft') });
    expect(joiner.group.status()).toMatchObject({ admitted: false });
    expect(joiner.group.status().storeId).toMatch(/^[0-9a-f]{16}$/);
    await cluster.stop(joiner);
    const founder = await cluster.start('f', { raftPath: cluster.dir('f-raft'), bootstrap: true });
    expect(founder.group.status().admitted).toBe(true);
    await eventually('f leads', () => founder.group.status().role === 'leader');
    await founder.group.register('x', idleProcess(founder.node));
    await cluster.stop(founder);
    // Rewrite f's meta as a release before store ids wrote it.
    const store = await RaftStore.openDisk(cluster.dir('f-raft'));
    await store.writeMeta({ format: 1, group: 'g1', node: 'f@127.0.0.1' });
    await store.close();
    const legacy = await cluster.start('f', { raftPath: cluster.dir('f-raft'), creation: 2 });
    expect(legacy.group.status().admitted).toBe(true);
    await eventually('f leads again', () => legacy.group.status().role === 'leader');
  });
});

describe('group state — the record of a member store', () => {
  it('only an admission replaces a recorded store; a member publishing its own records one only where none is', () => {
    const state = new GroupState();
    const member = { op: 'member', node: 'c@127.0.0.1', address: '127.0.0.1:1' } as const;
    state.apply(1, { ...member, storeId: 's1' }); // published by a member admitted before store ids
    expect(state.storeIdOf('c@127.0.0.1')).toBe('s1');
    state.apply(2, { ...member, storeId: 's2', admit: true }); // the leader admits a new store
    expect(state.storeIdOf('c@127.0.0.1')).toBe('s2');
    state.apply(3, { ...member, address: '127.0.0.1:2', storeId: 's1' }); // the old store, from a stale replica
    expect([state.storeIdOf('c@127.0.0.1'), state.addressOf('c@127.0.0.1')]).toEqual(['s2', '127.0.0.1:2']);
    state.apply(4, member); // an address update keeps the record
    expect(state.storeIdOf('c@127.0.0.1')).toBe('s2');
    expect(state.apply(5, { ...member, storeId: '' })).toMatchObject({ ok: false, code: 'badarg' });
    const restored = new GroupState();
    restored.restore(state.snapshot());
    expect(restored.storeIdOf('c@127.0.0.1')).toBe('s2');
    state.apply(6, { op: 'forget_member', node: 'c@127.0.0.1' });
    expect(state.storeIdOf('c@127.0.0.1')).toBeUndefined();
  });
});
