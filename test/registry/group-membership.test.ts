// Membership of a group over real links (in-process members on TCP on 127.0.0.1): the group
// keeps 3 voters — a 4th member stays a learner that holds a full replica — and 5 once it has 5
// members; a voter unreachable for longer than the grace period is replaced by a learner; a live
// surplus voter is demoted (after a leave from 5 voters the group goes back to 3, and the demoted
// member never drops off the ring); and a replaced voter restarted from its own directory is
// re-admitted as a learner and catches up; a learner unreachable for longer than its grace is
// removed (and told so when it links again, so it rejoins), and a dead learner never makes the
// group promote a 4th voter; and a voter is removed only while a quorum of the voters that would
// remain is live for the leader.
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCluster, type Member, type MemberOptions, eventually, idleProcess } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

/** Bootstrap `a`, the others join through it, one at a time. */
async function group(shorts: readonly string[], options: MemberOptions = {}, perMember: Record<string, MemberOptions> = {}): Promise<Member[]> {
  const [first, ...rest] = shorts;
  const a = await cluster.start(first as string, { ...options, ...perMember[first as string], bootstrap: true });
  await eventually('the first member leads', () => a.group.status().role === 'leader');
  const members = [a];
  for (const short of rest) members.push(await cluster.start(short, { ...options, ...perMember[short], seed: a.distribution.address }));
  return members;
}

/** The leader's configuration once it holds `voters` voters and `learners` learners, all applied by every live member. */
async function configuration(voters: number, learners: number, timeoutMs = 15_000): Promise<{ voters: readonly string[]; learners: readonly string[] }> {
  return eventually(
    `${voters} voters and ${learners} learners`,
    () => {
      const live = cluster.members.filter((member) => !member.closed);
      const leader = live.find((member) => member.group.status().role === 'leader');
      if (leader === undefined) return undefined;
      const status = leader.group.status();
      if (status.voters.length !== voters || status.learners.length !== learners || status.commit !== status.lastIndex) return undefined;
      const committed = leader.group.committedConf();
      if (committed.voters.length !== voters || committed.learners.length !== learners) return undefined;
      return { voters: status.voters, learners: status.learners };
    },
    timeoutMs,
  );
}

/** Let the leader's maintenance run `rounds` more times (it runs every 250 ms by default). */
async function maintenanceRounds(rounds: number): Promise<void> {
  const leader = await cluster.leader();
  const until = leader.group.status().term;
  for (let round = 0; round < rounds; round++) {
    await new Promise((resolve) => setTimeout(resolve, 260));
    expect(leader.group.status().term).toBe(until);
  }
}

describe('group membership — voters and learners', () => {
  it('a 4th member stays a learner, with a full replica of the registry', async () => {
    const [a, , , d] = await group(['a', 'b', 'c', 'd']);
    const conf = await configuration(3, 1);
    expect(conf.learners).toEqual([d!.name]);
    await maintenanceRounds(4);
    expect(await configuration(3, 1)).toEqual(conf);
    // Full replica: names written anywhere, before and after, are in the learner's local replica.
    await a!.group.register('before', idleProcess(a!.node));
    await d!.group.register('from-the-learner', idleProcess(d!.node));
    for (let index = 0; index < 20; index++) await cluster.members[index % 3]!.group.register(`n${index}`, idleProcess(cluster.members[index % 3]!.node));
    for (const name of ['before', 'from-the-learner', ...Array.from({ length: 20 }, (_, index) => `n${index}`)]) {
      await eventually(`${name} on the learner`, () => d!.group.whereisLocal(name));
    }
    expect(d!.group.registered().map(([name]) => name)).toEqual(a!.group.registered().map(([name]) => name));
    expect(d!.group.isMember()).toBe(true);
  });

  it('5 voters once the group has 5 members', async () => {
    await group(['a', 'b', 'c', 'd', 'e']);
    const conf = await configuration(5, 0);
    expect(conf.voters).toHaveLength(5);
    await cluster.start('f', { seed: cluster.member('a').distribution.address });
    expect((await configuration(5, 1)).learners).toEqual(['f@127.0.0.1']);
  });

  it('a voter unreachable for longer than the grace period is replaced by a learner', async () => {
    await group(['a', 'b', 'c', 'd'], { voterDownGraceMs: 600, nameDownGraceMs: 300 });
    const before = await configuration(3, 1);
    const learner = before.learners[0]!;
    const leader = await cluster.leader();
    const victim = cluster.members.find((member) => member !== leader && before.voters.includes(member.name))!;
    await cluster.stop(victim);
    const after = await configuration(3, 0);
    expect(after.voters).toContain(learner);
    expect(after.voters).not.toContain(victim.name);
  });

  it('a voter down for less than the grace period keeps its seat', async () => {
    // The grace is a floor: the replacement comes no sooner than voterDownGraceMs after the
    // voter went away (a slower machine only makes it later), and until then the configuration
    // is the one from before.
    const graceMs = 2_500;
    await group(['a', 'b', 'c', 'd'], { voterDownGraceMs: graceMs, nameDownGraceMs: 300 });
    const before = await configuration(3, 1);
    const leader = await cluster.leader();
    const victim = cluster.members.find((member) => member !== leader && before.voters.includes(member.name))!;
    const stoppedAt = performance.now();
    await cluster.stop(victim);
    const seen: Array<{ at: number; voters: readonly string[] }> = [];
    await eventually(
      'the voter removed',
      () => {
        const status = leader.group.status();
        seen.push({ at: performance.now() - stoppedAt, voters: status.voters });
        return status.voters.includes(victim.name) ? undefined : status;
      },
      20_000,
    );
    const replacedAfterMs = seen[seen.length - 1]!.at;
    expect(replacedAfterMs).toBeGreaterThanOrEqual(graceMs);
    for (const sample of seen.slice(0, -1)) expect([...sample.voters].sort()).toEqual([...before.voters].sort());
    const after = await configuration(3, 0);
    expect(after.voters).toContain(before.learners[0]);
    expect(after.voters).not.toContain(victim.name);
  });
});

describe('group membership — dead learners', () => {
  it('a learner unreachable for longer than learnerDownGraceMs is removed; when it links again it is told, rejoins and catches up', async () => {
    const [a, b, c, d] = await group(['a', 'b', 'c', 'd'], { learnerDownGraceMs: 1_000, nameDownGraceMs: 300 });
    expect((await configuration(3, 1)).learners).toEqual([d!.name]);
    const others = [a!, b!, c!];
    d!.distribution.setBlocked(others.map((member) => member.name));
    for (const member of others) member.distribution.setBlocked([d!.name]);
    expect(await configuration(3, 0)).toMatchObject({ learners: [] });
    // A new leader, which never tracked d (the old one would still send d its removal entry).
    const oldLeader = await cluster.leader();
    const next = others.find((member) => member !== oldLeader)!;
    await oldLeader.group.transferLeadership(next.name);
    d!.distribution.setBlocked([]);
    for (const member of others) member.distribution.setBlocked([]);
    // It is not left on a replica that no leader updates: the new leader tells it it was removed
    // when it links again, and it asks to join again.
    expect((await configuration(3, 1)).learners).toEqual([d!.name]);
    const { revision } = await a!.group.register('after-rejoin', idleProcess(a!.node));
    await eventually('the rejoined learner applied it', () => d!.group.whereisLocal('after-rejoin')?.revision === revision);
    expect(d!.group.isMember()).toBe(true);
  });

  it('3 voters, a caught-up learner and a dead one: no 4th voter (even, no safer than 3); 3 voters and the live learner once the dead one is removed', async () => {
    const [a, , , e] = await group(['a', 'b', 'c', 'e'], { learnerDownGraceMs: 4_000 });
    expect((await configuration(3, 1)).learners).toEqual([e!.name]);
    await cluster.stop(e!);
    const d = await cluster.start('d', { seed: a!.distribution.address, learnerDownGraceMs: 4_000 });
    const leader = await cluster.leader();
    await eventually('d is a caught-up learner', () => leader.group.committedConf().learners.includes(d.name) && d.group.status().applied >= leader.group.status().commit);
    // Five members (the target is then 5 voters), but promoting d alone would make 4.
    for (let round = 0; round < 6; round++) {
      await new Promise((resolve) => setTimeout(resolve, 260));
      expect(leader.group.status().voters).toHaveLength(3);
    }
    const settled = await configuration(3, 1);
    expect(settled.learners).toEqual([d.name]);
    expect(settled.voters).not.toContain(e!.name);
  });
});

describe('group membership — a voter is replaced only with a live quorum', () => {
  it('two voters down at once: the leader removes neither while it cannot reach a quorum of what would remain, and the group recovers when one comes back', async () => {
    // Proves the leader does not shrink the voters to a set whose quorum needs a dead member:
    // jepsen-lite seed 3027 (--nodes 3 --nemesis membership,kill,pause) removed a killed voter
    // while the other one was gone too, leaving voters [n2 n4] with n2 gone for good; the group
    // never had a leader again. Fast maintenance and a short grace let the leader act before
    // check-quorum steps it down, as a leader resumed from a pause does.
    const fast = { voterDownGraceMs: 60, nameDownGraceMs: 300, maintenanceIntervalMs: 20 };
    const paths = Object.fromEntries(['a', 'b', 'c', 'd'].map((short) => [short, { raftPath: cluster.dir(`${short}-raft`) }]));
    await group(['a', 'b', 'c', 'd'], fast, paths);
    await configuration(3, 1);
    const leader = await cluster.leader();
    // The first dead voter in the configuration's order is the one the leader would remove: it comes back, the other does not.
    const [back, gone] = leader.group.committedConf().voters.filter((voter) => voter !== leader.name).map((name) => cluster.members.find((member) => member.name === name)!);
    await Promise.all([cluster.stop(back!), cluster.stop(gone!)]);
    await eventually('the leader steps down (check-quorum)', () => leader.group.status().role !== 'leader');
    expect(leader.group.status().voters).toContain(back!.name);
    const short = back!.name.split('@')[0]!;
    const restarted = await cluster.start(short, { ...fast, raftPath: paths[short]!.raftPath, creation: 2 });
    await restarted.distribution.connect(leader.distribution.address);
    const conf = await configuration(3, 0, 20_000);
    expect(conf.voters).not.toContain(gone!.name);
    expect(conf.voters).toContain(back!.name);
    const holder = await cluster.leader();
    expect(await holder.group.register('after-recovery', idleProcess(holder.node))).toMatchObject({ revision: expect.any(Number) });
  });
});

describe('group membership — the voter count is kept odd', () => {
  it('after a leave from 5 voters the group demotes one and runs with 3; the demoted member stays on the ring', async () => {
    const members = await group(['a', 'b', 'c', 'd', 'e']);
    await configuration(5, 0);
    // Every ring every member computes after an applied entry, from here on.
    const rings: string[][] = [];
    for (const member of members) {
      member.group.onApply(() => rings.push(member.group.ring().members.map((ringMember) => ringMember.name)));
    }
    const leaving = members.find((member) => member.group.status().role !== 'leader')!;
    await leaving.group.leave();
    const conf = await configuration(3, 1);
    const demoted = conf.learners[0]!;
    expect(demoted).not.toBe(leaving.name);
    expect(cluster.member('a').group.status().learners).toEqual([demoted]);
    const remaining = members.filter((member) => member !== leaving).map((member) => member.name).sort();
    // The demoted member went out of the configuration and back in as a learner; no ring lost it.
    for (const ring of rings.filter((candidate) => !candidate.includes(leaving.name))) expect(ring.sort()).toEqual(remaining);
    expect(rings.some((ring) => !ring.includes(leaving.name))).toBe(true);
    for (const member of members.filter((candidate) => candidate !== leaving)) {
      await eventually(`${member.name} sees the demotion done`, () => member.group.state.demoting().length === 0 && member.group.committedConf().learners.includes(demoted));
      expect(member.group.isMember()).toBe(true);
    }
  });
});

describe('group membership — a replaced voter comes back', () => {
  it('restarted from its directory after being replaced, it is re-admitted as a learner and catches up', async () => {
    const raftPath = cluster.dir('b-raft');
    await group(['a', 'b', 'c', 'd'], { voterDownGraceMs: 600, nameDownGraceMs: 300 }, { b: { raftPath } });
    const before = await configuration(3, 1);
    expect(before.voters).toContain('b@127.0.0.1');
    await cluster.stop(cluster.member('b'));
    const replaced = await configuration(3, 0);
    expect(replaced.voters).not.toContain('b@127.0.0.1');
    const leader = await cluster.leader();
    await leader.group.register('while-b-was-away', idleProcess(leader.node));
    // Its own log still says it is a voter; the group says it is not a member.
    const b = await cluster.start('b', { raftPath, creation: 2, voterDownGraceMs: 600, nameDownGraceMs: 300 });
    await b.distribution.connect(leader.distribution.address);
    const back = await configuration(3, 1);
    expect(back.learners).toEqual(['b@127.0.0.1']);
    await eventually('b caught up', () => b.group.whereisLocal('while-b-was-away'));
    await eventually('b knows it is a member', () => b.group.isMember());
  });
});

describe('group membership — joining through any member', () => {
  it("a node joins through a follower's address: the follower forwards its join to the leader", async () => {
    // Proves a seed need not be the leader (as with etcd or Consul, any member's address will
    // do): the newcomer knows no leader, asks the follower, which passes the request on.
    await cluster.three();
    const leader = await cluster.leader();
    const follower = cluster.members.find((member) => member !== leader)!;
    const d = await cluster.start('d', { seed: follower.distribution.address });
    expect(d.group.isMember()).toBe(true);
    await eventually('d is a learner in the leader\'s configuration', () => leader.group.committedConf().learners.includes('d@127.0.0.1'));
  });

  it('a join for another node sent by a non-member is refused with a warning, and nobody is added', async () => {
    // Proves the forwarding rule cannot be abused: only members may ask on another node's behalf.
    const warnings: string[] = [];
    const log = (level: 'info' | 'warn', event: string, msg: string): void => {
      if (level === 'warn' && event === 'group_message_rejected') warnings.push(msg);
    };
    await cluster.three({}, { a: { log } });
    const a = cluster.member('a');
    const outsider = await cluster.start('x');
    await outsider.distribution.connect(a.distribution.address);
    expect(outsider.distribution.sendControl(a.name, 'group:g1', { type: 'join', node: 'y@127.0.0.1', address: '127.0.0.1:1' })).toBe(true);
    await eventually('the refusal is logged', () => warnings.some((msg) => msg.includes('x@127.0.0.1') && msg.includes('y@127.0.0.1')));
    const conf = a.group.status();
    expect([...conf.voters, ...conf.learners]).not.toContain('y@127.0.0.1');
    expect(a.group.state.addressOf('y@127.0.0.1')).toBeUndefined();
  });
});
