// A follower's linearizable read (a read barrier, which singleton lease renewals use too) over
// real TCP on 127.0.0.1: forwarded to a leader it can no longer reach, it fails at once with a
// definite `unavailable` (a read changes nothing: ask again) instead of waiting out the request
// timeout — which, being longer than a singleton lease, let the leases on that follower lapse
// although a new leader came up well within them.
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCluster, eventually, idleProcess } from './group-helpers.js';

const cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
});

describe('group read barrier — a forwarded read that cannot be answered', () => {
  it('a follower cut off from its leader gets a definite unavailable at once, then reads again through the next leader', async () => {
    await cluster.three({ requestTimeoutMs: 5_000 });
    const leader = await cluster.leader();
    const follower = cluster.members.find((member) => member !== leader)!;
    const { revision } = await leader.group.register('barrier-name', idleProcess(leader.node));
    follower.distribution.setBlocked([leader.name]);
    leader.distribution.setBlocked([...leader.distribution.blocked(), follower.name]);
    // Before: the read was dropped unsent and the caller got `timeout` after 5 s.
    await expect(follower.group.whereis('barrier-name', { consistency: 'linearizable' })).rejects.toMatchObject({
      code: 'unavailable',
      details: { definite: true, leaderHint: leader.name },
    });
    follower.distribution.setBlocked([]);
    leader.distribution.setBlocked([]);
    // Refused definite, so asking again is what a caller does: once linked again, it reads.
    const read = await eventually('a linearizable read on the follower', () => follower.group.whereis('barrier-name', { consistency: 'linearizable' }).catch(() => undefined));
    expect(read.revision).toBe(revision);
  });
});
