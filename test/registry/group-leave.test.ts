// Leaving a group over real links (in-process members on TCP on 127.0.0.1): a member that left,
// or is leaving, takes no more writes. Its own names are released first; a register or
// unregister through it afterwards is refused at once with a definite `unavailable` — it is no
// member, so it would never see the entry commit (its caller would wait out the timeout) while
// the leader it forwarded the entry to committed it all the same: a name held on a node that is
// no longer in the group (seen in jepsen-lite seed 2120: a put at the revision right after the
// leaving node's own release).
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCluster, type Member, eventually, idleProcess } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

/** a, b, c voters and d a learner, all applied. */
async function four(): Promise<Member[]> {
  const [a, b, c] = await cluster.three();
  const d = await cluster.start('d', { seed: a!.distribution.address });
  await eventually('d is a learner everywhere', () => [a, b, c, d].every((member) => member!.group.committedConf().learners.includes(d.name)));
  return [a!, b!, c!, d];
}

/** A write through the leader, applied on every member still in the group: an entry forwarded before it is in the log by then. */
async function barrier(members: readonly Member[]): Promise<void> {
  const leader = await cluster.leader();
  const { revision } = await leader.group.register('barrier', idleProcess(leader.node));
  await eventually('the barrier applied everywhere', () => members.every((member) => member.group.status().applied >= revision));
}

describe('group leave — a member that left takes no writes and answers no local reads', () => {
  it('a register or unregister through a member that left is refused at once, and nothing of it commits', async () => {
    const [a, b, c, d] = await four();
    const held = idleProcess(d.node);
    await d.group.register('held-before', held);
    await d.group.leave();
    expect(d.group.isMember()).toBe(false);
    await expect(d.group.register('after-leave', idleProcess(d.node))).rejects.toMatchObject({ code: 'unavailable', details: { definite: true } });
    await expect(d.group.unregister('held-before', held)).rejects.toMatchObject({ code: 'unavailable', details: { definite: true } });
    // Nor local reads: nothing updates its replica any more.
    await expect(d.group.whereis('barrier')).rejects.toMatchObject({ code: 'unavailable', details: { definite: true } });
    await barrier([a, b, c]);
    for (const member of [a, b, c]) {
      expect(member.group.whereisLocal('after-leave')).toBeUndefined();
      // Released by the leave itself (before the member went), not by the refused unregister.
      expect(member.group.whereisLocal('held-before')).toBeUndefined();
    }
  });

  it('a register through a member that is leaving (its names already being released) is refused', async () => {
    const [a, b, c, d] = await four();
    const leaving = d.group.leave();
    await expect(d.group.register('while-leaving', idleProcess(d.node))).rejects.toMatchObject({ code: 'unavailable', details: { definite: true } });
    await leaving;
    await barrier([a, b, c]);
    for (const member of [a, b, c]) expect(member.group.whereisLocal('while-leaving')).toBeUndefined();
  });

  it('a member that joins again after leaving takes writes again', async () => {
    const [a, , , d] = await four();
    await d.group.leave();
    await d.group.join(a.distribution.address);
    const { revision } = await d.group.register('after-rejoin', idleProcess(d.node));
    expect(revision).toBeGreaterThan(0);
    await eventually('a applied the registration', () => a.group.whereisLocal('after-rejoin')?.revision === revision);
    await eventually('d reads it locally again', async () => (await d.group.whereis('after-rejoin'))?.revision === revision);
  });
});
