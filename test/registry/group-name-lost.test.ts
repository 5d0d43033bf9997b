// name_lost on the normal path (in-process members on real TCP): a member is cut off, the leader
// declares it down after the name grace and removes the names its processes held, and when the
// link heals the member applies that removal from the log (no snapshot involved) and tells its
// live holder process {type: 'name_lost', reason: 'node_down'}; the name is then free to take.
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCluster, type Member, eventually, heal, isolate } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

describe('group name_lost — a cut-off member\'s live holder is told', () => {
  it('the leader removes the names of a member it declares down; back, the member tells the holder name_lost', async () => {
    // No voter replacement (three members only, and a long voter grace); snapshots far apart,
    // so the removal reaches the member as a log entry.
    const members = await cluster.three({ nameDownGraceMs: 300, voterDownGraceMs: 60_000, snapshotEveryEntries: 100_000 });
    const leader = await cluster.leader();
    const victim = members.find((member) => member !== leader) as Member;
    const told: unknown[] = [];
    let stopped = false;
    const holder = victim.node.spawn(async (ctx) => {
      for (;;) {
        const msg = await ctx.receive();
        if (msg === 'stop') break;
        told.push(msg);
      }
      stopped = true;
    });
    const { revision: held } = await victim.group.register('lost-by-partition', holder);
    await eventually('every member sees the name', () => members.every((member) => member.group.whereisLocal('lost-by-partition')?.revision === held));
    const snapshotsBefore = victim.group.status().snapshotsInstalled;

    isolate(cluster, victim);
    await eventually('the leader removed the cut-off member\'s name', () => leader.group.whereisLocal('lost-by-partition') === undefined, 15_000);
    // Still cut off, the member itself has not learnt it: the holder has not been told yet.
    expect(victim.group.whereisLocal('lost-by-partition')?.revision).toBe(held);
    expect(told).toEqual([]);

    heal(cluster);
    const lost = await eventually('name_lost delivered', () => told.find((msg) => (msg as { type?: string }).type === 'name_lost'), 15_000);
    expect(lost).toMatchObject({ type: 'name_lost', name: 'lost-by-partition', reason: 'node_down' });
    expect((lost as { revision: number }).revision).toBeGreaterThan(held);
    expect(victim.group.whereisLocal('lost-by-partition')).toBeUndefined();
    expect(victim.group.status().snapshotsInstalled).toBe(snapshotsBefore);
    expect(victim.node.isAlive(holder)).toBe(true);

    // The name is free: another member's process takes it.
    const other = members.find((member) => member !== victim) as Member;
    const taker = other.node.spawn(async (ctx) => {
      await ctx.receive((msg) => msg === 'stop');
    });
    await other.group.register('lost-by-partition', taker);
    await eventually('the victim sees the new holder', () => victim.group.whereisLocal('lost-by-partition')?.pid.equals(taker) === true);
    victim.node.send(holder, 'stop');
    other.node.send(taker, 'stop');
    await eventually('holder stopped', () => stopped);
  }, 40_000);
});
