// Handing a group's leadership over (etcd's move-leader, Raft's TimeoutNow) on real links
// (in-process members on TCP on 127.0.0.1): asked of any member, leadership moves to the named
// voter and writes go on through it; a target that is no voter is refused; a target that cannot
// take over (cut off) is a `timeout`, after which the old leader takes writes again; and a leader
// that leaves hands leadership over as its removal commits (the core's TimeoutNow to the most
// caught-up voter), so the group is not left without a leader until an election timeout; and
// `handOffLeadership`, which a clean stop of `fedctl start` runs first, picks the successor.
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCluster, type Member, eventually, idleProcess } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

async function roles(): Promise<{ leader: Member; followers: Member[] }> {
  await cluster.three();
  const leader = await cluster.leader();
  return { leader, followers: cluster.members.filter((member) => member !== leader) };
}

describe('group leadership transfer — a planned change of leader', () => {
  it('asked of a follower, leadership moves to the named voter; every member agrees and writes go through it', async () => {
    const { leader, followers } = await roles();
    const [asker, target] = followers as [Member, Member];
    const termBefore = leader.group.status().term;
    await asker.group.transferLeadership(target.name);
    expect(asker.group.status().leader).toBe(target.name);
    const agreed = await cluster.leader();
    expect(agreed).toBe(target);
    expect(target.group.status().term).toBeGreaterThan(termBefore);
    const { revision } = await leader.group.register('after-transfer', idleProcess(leader.node));
    await eventually('every member applied the write', () => cluster.members.every((member) => member.group.whereisLocal('after-transfer')?.revision === revision));
  });

  it('a target that is no voter (a learner, an unknown node) is refused with badarg, and the leader stays', async () => {
    const { leader } = await roles();
    const learner = await cluster.start('d', { seed: leader.distribution.address });
    await eventually('d is a learner', () => leader.group.committedConf().learners.includes(learner.name));
    await expect(leader.group.transferLeadership(learner.name)).rejects.toMatchObject({ code: 'badarg' });
    await expect(learner.group.transferLeadership('nobody@127.0.0.1')).rejects.toMatchObject({ code: 'badarg' });
    expect(leader.group.status().role).toBe('leader');
  });

  it('a target cut off from the group does not take over: timeout, and the leader takes writes again', async () => {
    const { leader, followers } = await roles();
    const target = followers[0]!;
    const others = cluster.members.filter((member) => member !== target).map((member) => member.name);
    target.distribution.setBlocked(others);
    for (const member of cluster.members) if (member !== target) member.distribution.setBlocked([target.name]);
    await expect(leader.group.transferLeadership(target.name, { timeoutMs: 1_500 })).rejects.toMatchObject({ code: 'timeout', details: { to: target.name } });
    expect(leader.group.status().role).toBe('leader');
    // The leader gives the transfer up after an election timeout: proposals are taken again
    // (refused, definite, only while the transfer ran).
    const holder = idleProcess(leader.node);
    const written = await eventually('a write through the leader', () =>
      leader.group.register('after-failed-transfer', holder).then(
        (result) => result,
        (error: unknown) => {
          expect(error).toMatchObject({ code: 'unavailable', details: { reason: 'transfer_in_progress', definite: true } });
          return undefined;
        },
      ),
    );
    expect(written.revision).toBeGreaterThan(0);
    expect(leader.group.status().role).toBe('leader');
  });

  it('handOffLeadership: the leader hands over to a connected voter (what a clean stop does first); a follower does nothing', async () => {
    const { leader, followers } = await roles();
    expect(await followers[0]!.group.handOffLeadership()).toBeUndefined();
    const successor = await leader.group.handOffLeadership();
    expect(followers.map((member) => member.name)).toContain(successor);
    expect(leader.group.status().leader).toBe(successor);
    expect((await cluster.leader()).name).toBe(successor);
  });

  it('a leader that leaves hands leadership to a caught-up voter as its removal commits: the group has a leader when leave() returns', async () => {
    const { leader, followers } = await roles();
    await leader.group.leave();
    expect(followers.some((member) => member.group.status().role === 'leader')).toBe(true);
    const successor = await cluster.leader();
    expect(followers).toContain(successor);
    const { revision } = await successor.group.register('after-leader-left', idleProcess(successor.node));
    expect(revision).toBeGreaterThan(0);
  });
});
