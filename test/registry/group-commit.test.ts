// Group commit (in-process members on real TCP, every member on a real classic-level store):
// many proposals made at once share one synced store write and one AppendEntries round — on the
// leader, and on every follower; the commit that follows costs no write of its own — whether they are made on the leader or on a follower (whose
// proposals travel to the leader together). Measured by counting the store's writes and by
// recording the append messages the leader hands to its distribution: the first append that
// carries any of the burst to a follower carries all of it (a resend after a stall, which a
// loaded machine can cause, comes after and is not a second round).
import { afterEach, describe, expect, it } from 'vitest';
import type { DriverStats } from '../../registry/group.js';
import { Encoded, decode } from '../../runtime/index.js';
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

interface Burst {
  readonly stats: Map<Member, Record<string, number>>;
  readonly revisions: number[];
  /** Per follower: the entry indexes of each append the leader sent it during the burst, in order. */
  readonly appends: Map<string, number[][]>;
}

async function burst(on: Member, leader: Member, all: readonly Member[]): Promise<Burst> {
  const before = new Map(all.map((member) => [member, member.group.driverStats()]));
  const appends = new Map<string, number[][]>();
  const distribution = leader.distribution;
  const send = distribution.sendControl.bind(distribution);
  distribution.sendControl = (node, channel, payload) => {
    const message = payload as { type?: string; entries?: Encoded };
    // An append's entries travel encoded once (for every follower and the disk alike).
    const entries = message.entries instanceof Encoded ? (decode(message.entries.bytes) as Array<{ index: number }>) : [];
    if (channel === 'raft:g1' && message.type === 'append' && entries.length > 0) {
      appends.set(node, [...(appends.get(node) ?? []), entries.map((entry) => entry.index)]);
    }
    return send(node, channel, payload);
  };
  try {
    const pid = idleProcess(on.node);
    const results = await Promise.all(Array.from({ length: BURST }, (_, index) => on.group.register(`burst-${index}`, pid)));
    const last = Math.max(...results.map((result) => result.revision));
    await eventually('applied everywhere', () => all.every((member) => member.group.status().applied >= last));
    const stats = new Map(all.map((member) => [member, delta(member.group.driverStats(), before.get(member)!)]));
    return { stats, revisions: results.map((result) => result.revision), appends };
  } finally {
    distribution.sendControl = send;
  }
}

/** The first append to each follower that carries any burst entry carries every one of them. */
function expectOneAppendRound(result: Burst, followers: readonly Member[]): void {
  const first = Math.min(...result.revisions);
  const last = Math.max(...result.revisions);
  for (const follower of followers) {
    const carrying = (result.appends.get(follower.name) ?? []).filter((indexes) => indexes.some((index) => index >= first && index <= last));
    expect(carrying.length, follower.name).toBeGreaterThan(0);
    const round = carrying[0]!.filter((index) => index >= first && index <= last);
    expect(round, follower.name).toHaveLength(BURST);
  }
}

describe('group commit — many proposals, one sync and one append round', () => {
  it('a burst on the leader: one synced write with every entry on each member, one append per follower', async () => {
    const { leader, followers } = await quietGroup();
    const result = await burst(leader, leader, [leader, ...followers]);
    // Consecutive revisions: the burst is one contiguous run of the log.
    expect(Math.max(...result.revisions) - Math.min(...result.revisions)).toBe(BURST - 1);
    for (const member of [leader, ...followers]) {
      const counted = result.stats.get(member)!;
      expect(counted.entriesWritten, member.name).toBe(BURST);
      expect(counted.batchesWithEntries, member.name).toBe(1);
      // And no write at all when only the commit index moved afterwards: one batch in all.
      expect(counted.batches, member.name).toBe(1);
      expect(counted.syncedBatches, member.name).toBe(1);
    }
    expectOneAppendRound(result, followers);
    expect(result.stats.get(leader)!.appendsWithEntriesSent).toBe([...result.appends.values()].flat().length);
  });

  it('a burst on a follower travels to the leader together: still one write per member, one append per follower', async () => {
    const { leader, followers } = await quietGroup();
    const result = await burst(followers[0]!, leader, [leader, ...followers]);
    for (const member of [leader, ...followers]) {
      const counted = result.stats.get(member)!;
      expect(counted.entriesWritten, member.name).toBe(BURST);
      expect(counted.batchesWithEntries, member.name).toBe(1);
    }
    expectOneAppendRound(result, followers);
  });

  it('a steady load: each commit rides on the next round\'s append, and the last one still goes out', async () => {
    // Proves the driver holds back the leader's appends without entries (a commit update) for
    // the append that the answered proposals bring next: under a closed-loop load hardly any is
    // sent (without holding, about one per two rounds); and that none is lost when no append
    // follows — once the load stops, every follower receives the final commit in an append
    // (recorded from what the leader hands its distribution), not only in a heartbeat.
    const { leader, followers } = await quietGroup();
    const before = leader.group.driverStats();
    const commitByAppend = new Map<string, number>();
    const distribution = leader.distribution;
    const send = distribution.sendControl.bind(distribution);
    distribution.sendControl = (node, channel, payload) => {
      const message = payload as { type?: string; commit?: number };
      if (channel === 'raft:g1' && message.type === 'append') commitByAppend.set(node, Math.max(commitByAppend.get(node) ?? 0, message.commit ?? 0));
      return send(node, channel, payload);
    };
    try {
      const pid = idleProcess(leader.node);
      const clients = 16;
      const rounds = 25;
      const revisions = await Promise.all(
        Array.from({ length: clients }, async (_, client) => {
          let last = 0;
          for (let round = 0; round < rounds; round++) last = (await leader.group.register(`steady/${client}/${round}`, pid)).revision;
          return last;
        }),
      );
      const last = Math.max(...revisions);
      await eventually('the final commit reached every follower in an append', () => followers.every((follower) => (commitByAppend.get(follower.name) ?? 0) >= last));
      await eventually('applied everywhere', () => followers.every((follower) => follower.group.status().applied >= last));
      const counted = delta(leader.group.driverStats(), before);
      expect(counted.appendsWithEntriesSent).toBeGreaterThanOrEqual(2 * rounds);
      expect(counted.emptyAppendsSent).toBeLessThanOrEqual(Math.ceil(counted.appendsWithEntriesSent! / 10));
    } finally {
      distribution.sendControl = send;
    }
  });
});
