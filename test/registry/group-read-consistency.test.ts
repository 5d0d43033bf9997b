// The three read consistencies on a follower that lags (in-process members on real TCP): the
// leader's appends with entries to one follower are lost for a while, so its replica misses a
// registration. A local whereis answers from that replica (stale: no network); {consistency:
// 'leader'} asks the leader in one message and gets the current entry; {consistency:
// 'linearizable'} (ReadIndex) waits until the follower has applied up to the leader's commit,
// so it never answers stale — and answers once the appends flow again.
import { afterEach, describe, expect, it } from 'vitest';
import { Encoded } from '../../runtime/index.js';
import { GroupCluster, type Member, eventually, idleProcess } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

describe('group reads — local, leader and linearizable on a lagging follower', () => {
  it('local is stale, leader is current in one message, linearizable waits for the follower to catch up', async () => {
    const members = await cluster.three({ nameDownGraceMs: 60_000, voterDownGraceMs: 60_000 });
    const leader = await cluster.leader();
    const follower = members.find((member) => member !== leader) as Member;
    const { revision: first } = await leader.group.register('read.first', idleProcess(leader.node));
    await eventually('the follower applied the first name', () => follower.group.whereisLocal('read.first')?.revision === first);

    let dropping = true;
    const send = leader.distribution.sendControl.bind(leader.distribution);
    leader.distribution.sendControl = (node, channel, payload) => {
      const message = payload as { type?: string; entries?: unknown };
      const carries = message.entries instanceof Encoded || (Array.isArray(message.entries) && message.entries.length > 0);
      if (dropping && node === follower.name && channel === 'raft:g1' && message.type === 'append' && carries) return true;
      return send(node, channel, payload);
    };
    const asked: string[] = [];
    const followerSend = follower.distribution.sendControl.bind(follower.distribution);
    follower.distribution.sendControl = (node, channel, payload) => {
      const type = (payload as { type?: string }).type;
      if (channel === 'group:g1' && node === leader.name && type !== undefined) asked.push(type);
      return followerSend(node, channel, payload);
    };

    const { revision: second } = await leader.group.register('read.second', idleProcess(leader.node));
    expect(second).toBeGreaterThan(first);
    expect(follower.group.whereisLocal('read.second')).toBeUndefined();
    expect(await follower.group.whereis('read.second')).toBeUndefined();

    const fromLeader = await follower.group.whereis('read.second', { consistency: 'leader' });
    expect(fromLeader?.revision).toBe(second);
    expect(asked.filter((type) => type === 'read')).toHaveLength(1);
    expect(follower.group.whereisLocal('read.second')).toBeUndefined();

    let linearizable: { revision: number } | undefined | 'pending' = 'pending';
    const reading = follower.group.whereis('read.second', { consistency: 'linearizable' }).then((result) => {
      linearizable = result;
      return result;
    });
    // It cannot answer while the follower lacks the entry: it waits, it does not answer stale.
    expect(follower.group.status().applied).toBeLessThan(leader.group.status().commit);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(linearizable).toBe('pending');
    dropping = false;
    const answer = await reading;
    expect(answer?.revision).toBe(second);
    expect(follower.group.whereisLocal('read.second')?.revision).toBe(second);
  }, 30_000);
});
