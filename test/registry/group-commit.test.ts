// Group commit (in-process members on real TCP, every member on a real classic-level store):
// many proposals made at once share one synced store write and one AppendEntries round — on the
// leader, and on every follower — whether they are made on the leader or on a follower (whose
// proposals travel to the leader together). Measured by counting the store's writes and the
// append messages the leader sends.
import { afterEach, describe, expect, it } from 'vitest';
import type { DriverStats } from '../../registry/group.js';
import { GroupCluster, type Member, eventually, idleProcess } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

const BURST = 200;

function delta(after: DriverStats, before: DriverStats): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - (before as unknown as Record<string, number>)[key]!]));
}

/** Three members on disk, quiet: everything committed and applied everywhere. */
async function quietGroup(): Promise<{ leader: Member; followers: Member[] }> {
  const members = await cluster.three({}, { a: { raftPath: cluster.dir('a') }, b: { raftPath: cluster.dir('b') }, c: { raftPath: cluster.dir('c') } });
  const leader = await cluster.leader();
  // Let the members publish their addresses and settle before counting.
  await eventually('addresses published', () => members.every((member) => leader.group.state.addressOf(member.name) !== undefined));
  await eventually('quiet', () => {
    const { commit, lastIndex } = leader.group.status();
    return commit === lastIndex && members.every((member) => member.group.status().applied === commit);
  });
  return { leader, followers: members.filter((member) => member !== leader) };
}

async function burst(on: Member, all: readonly Member[]): Promise<{ stats: Map<Member, Record<string, number>>; revisions: number[] }> {
  const before = new Map(all.map((member) => [member, member.group.driverStats()]));
  const pid = idleProcess(on.node);
  const results = await Promise.all(Array.from({ length: BURST }, (_, index) => on.group.register(`burst-${index}`, pid)));
  const last = Math.max(...results.map((result) => result.revision));
  await eventually('applied everywhere', () => all.every((member) => member.group.status().applied >= last));
  return { stats: new Map(all.map((member) => [member, delta(member.group.driverStats(), before.get(member)!)])), revisions: results.map((result) => result.revision) };
}

describe('group commit — many proposals, one sync and one append round', () => {
  it('a burst on the leader: one synced write with every entry on each member, one append per follower', async () => {
    const { leader, followers } = await quietGroup();
    const { stats, revisions } = await burst(leader, [leader, ...followers]);
    // Consecutive revisions: the burst is one contiguous run of the log.
    expect(Math.max(...revisions) - Math.min(...revisions)).toBe(BURST - 1);
    for (const member of [leader, ...followers]) {
      const counted = stats.get(member)!;
      expect(counted.entriesWritten, member.name).toBe(BURST);
      expect(counted.batchesWithEntries, member.name).toBe(1);
    }
    expect(stats.get(leader)!.appendsWithEntriesSent).toBe(followers.length);
  });

  it('a burst on a follower travels to the leader together: still one write per member, one append per follower', async () => {
    const { leader, followers } = await quietGroup();
    const { stats } = await burst(followers[0]!, [leader, ...followers]);
    for (const member of [leader, ...followers]) {
      const counted = stats.get(member)!;
      expect(counted.entriesWritten, member.name).toBe(BURST);
      expect(counted.batchesWithEntries, member.name).toBe(1);
    }
    expect(stats.get(leader)!.appendsWithEntriesSent).toBe(followers.length);
  });
});
