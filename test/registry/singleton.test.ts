// Singletons over a real group (in-process members on real TCP, memory Raft stores): the ring
// owner of a key runs the one instance after its claim commits; planned moves (join, leave)
// carry the instance's state to the new owner; an unplanned move (owner killed) starts the new
// instance with `owner_lost`; a partitioned owner stops at its lease and the majority side takes
// over. Every instance's start and stop is recorded from outside the manager (a monitor
// process) with its fencing token, and every test checks that no two instances with different
// tokens ever overlapped and that tokens only grow.
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import { HashRing } from '../../registry/ring.js';
import { SingletonManager } from '../../registry/singleton.js';
import { Cluster, type InstanceRecord, eventually, keyOwnedBy, overlaps, sendTicks } from './singleton-helpers.js';

let cluster = new Cluster();

afterEach(async () => {
  await cluster.close();
  cluster = new Cluster();
});

function stateOf(record: InstanceRecord): number | undefined {
  return (record.handoff as { count?: number } | undefined)?.count;
}

describe('singleton — placement', () => {
  it('runs exactly one instance, on the ring owner, with its claim revision as token', async () => {
    const members = await cluster.three(['alpha', 'beta', 'gamma']);
    for (const key of ['alpha', 'beta', 'gamma']) {
      const record = await cluster.settled(key, `${key} running`);
      const owner = members[0]!.group.ring().owner(key);
      expect(record.node).toBe(owner);
      // The first instance started while the group had one member; joins moved it with handoffs.
      const history = cluster.records.filter((candidate) => candidate.key === key);
      expect(history.map((candidate) => candidate.reason)).toEqual(['first', ...history.slice(1).map(() => 'handoff')]);
      for (const member of members) {
        const claim = await eventually(`claim of ${key} on ${member.name}`, () => member.group.state.names.claim(key));
        expect(claim).toEqual({ key, node: owner, revision: record.token });
        expect(member.singletons.ownerOf(key)).toBe(owner);
      }
      expect(cluster.member(owner).singletons.running(key)?.token).toBe(record.token);
    }
    expect(overlaps(cluster.records)).toEqual([]);
  });

  it('an instance that exits on its own is started again under a new token', async () => {
    await cluster.three(['crashy']);
    const first = await cluster.settled('crashy', 'first instance');
    cluster.member(first.node).node.exit(first.pid, 'boom');
    const second = await cluster.settled('crashy', 'restarted instance', (record) => record.token > first.token);
    expect(second.node).toBe(first.node);
    expect(second.reason).toBe('restarted');
    expect(overlaps(cluster.records)).toEqual([]);
  });

  it('refuses bad declarations and settings with typed errors', async () => {
    const [a] = await cluster.three(['dup']);
    expect(() => a!.singletons.declare('dup', cluster.counterSpec('dup'))).toThrow(expect.objectContaining({ code: 'badarg' }));
    expect(() => a!.singletons.declare('', cluster.counterSpec(''))).toThrow(expect.objectContaining({ code: 'badarg' }));
    const error = (() => {
      try {
        return new SingletonManager(a!.group, { leaseMs: 100, clockDriftMs: 200 });
      } catch (caught) {
        return caught;
      }
    })();
    expect(isFedError(error, 'config')).toBe(true);
  });
});

describe('singleton — planned moves carry state', () => {
  it('moves to a joining member that becomes the owner, with the old instance stopped first', async () => {
    const key = keyOwnedBy('d', ['a', 'b', 'c', 'd']);
    const [a] = await cluster.three([key]);
    const before = await cluster.settled(key, 'instance among three');
    sendTicks(cluster.member(before.node), before.pid, 5);
    await cluster.start('d', { seed: a!.distribution.address, keys: [key] });
    const after = await cluster.settled(key, 'instance on d', (record) => record.node === 'd@127.0.0.1');
    expect(after.reason).toBe('handoff');
    expect(stateOf(after)).toBe(5);
    expect(after.token).toBeGreaterThan(before.token);
    expect(before.stoppedAt).toBeLessThanOrEqual(after.startedAt);
    // The old instance stopped before the new claim was even proposed, so before it committed.
    expect(before.stoppedAt).toBeLessThanOrEqual(cluster.claimProposedAt(after.token));
    expect(overlaps(cluster.records)).toEqual([]);
  });

  it('waits for a new member\'s manager before moving to it, so the state is not lost', async () => {
    // d joins (its node and group run) but its singleton manager starts only later, as on a
    // restarted node that links before its manager is up. Nobody may pick d as owner before
    // its manager says it is up: the state must reach d's instance.
    const key = keyOwnedBy('d', ['a', 'b', 'c', 'd']);
    const [a] = await cluster.three([key]);
    const before = await cluster.settled(key, 'instance among three');
    sendTicks(cluster.member(before.node), before.pid, 4);
    const d = await cluster.start('d', { seed: a!.distribution.address, managerLater: true });
    await eventually('d on every ring', () => cluster.members.every((member) => member.group.ring().members.some((ringMember) => ringMember.name === d.name)));
    for (const member of cluster.members.filter((candidate) => candidate !== d)) expect(member.singletons.ownerOf(key)).not.toBe(d.name);
    expect(cluster.running(key).map((record) => record.token)).toEqual([before.token]);
    cluster.attach(d, [key]);
    const after = await cluster.settled(key, 'instance on d', (record) => record.node === d.name);
    expect(after.reason).toBe('handoff');
    expect(stateOf(after)).toBe(4);
    expect(overlaps(cluster.records)).toEqual([]);
  });

  it('moves off a member that leaves, with its state', async () => {
    const key = keyOwnedBy('c', ['a', 'b', 'c']);
    const [a, , c] = await cluster.three([key]);
    const before = await cluster.settled(key, 'instance on c', (record) => record.node === c!.name);
    sendTicks(c!, before.pid, 7);
    await c!.singletons.leave();
    const after = await cluster.settled(key, 'instance moved off c', (record) => record.node !== c!.name);
    expect(after.reason).toBe('handoff');
    expect(stateOf(after)).toBe(7);
    expect(before.stoppedAt).toBeLessThanOrEqual(cluster.claimProposedAt(after.token));
    expect(after.node).toBe(a!.group.ring().owner(key));
    expect(c!.group.isMember()).toBe(false);
    expect(overlaps(cluster.records)).toEqual([]);
  });
});

describe('singleton — unplanned moves', () => {
  it('moves when its owner dies, told owner_lost, never two at once', async () => {
    const key = keyOwnedBy('b', ['a', 'b', 'c']);
    await cluster.three([key]);
    const before = await cluster.settled(key, 'instance on b', (record) => record.node === 'b@127.0.0.1');
    sendTicks(cluster.member('b'), before.pid, 3);
    await cluster.kill(cluster.member('b'));
    const after = await cluster.settled(key, 'instance after b died', (record) => record.node !== 'b@127.0.0.1');
    expect(after.reason).toBe('owner_lost');
    expect(after.handoff).toBeUndefined();
    expect(after.token).toBeGreaterThan(before.token);
    expect(overlaps(cluster.records)).toEqual([]);
  });

  it('a stale instance\'s handed-off state is never accepted', async () => {
    const key = keyOwnedBy('b', ['a', 'b', 'c']);
    const [a] = await cluster.three([key]);
    const before = await cluster.settled(key, 'instance on b', (record) => record.node === 'b@127.0.0.1');
    const next = a!.group.ring().owners(key, 3).find((name) => name !== 'b@127.0.0.1')!;
    // State claiming to come from an older instance (token below the current claim's).
    const forger = cluster.members.find((member) => member.name !== next && member.name !== 'b@127.0.0.1')!;
    forger.distribution.sendControl(next, 'singleton:g1', { type: 'handoff', key, revision: before.token - 1, planned: true, state: { count: 999 } });
    await cluster.kill(cluster.member('b'));
    const after = await cluster.settled(key, 'instance after b died', (record) => record.node === next);
    expect(after.reason).toBe('owner_lost');
    expect(after.handoff).toBeUndefined();
    expect(overlaps(cluster.records)).toEqual([]);
  });

  it('a handoff sent by a member that did not hold the claim is ignored', async () => {
    // A third member sends the next owner a handoff with the CURRENT token (b's), claiming b's
    // instance stopped and carrying made-up state. Only b may say that: once b dies, the next
    // owner starts without that state, as owner_lost (and after the wait that implies).
    const key = keyOwnedBy('b', ['a', 'b', 'c']);
    const [a] = await cluster.three([key]);
    const before = await cluster.settled(key, 'instance on b', (record) => record.node === 'b@127.0.0.1');
    const next = a!.group.ring().owners(key, 3).find((name) => name !== 'b@127.0.0.1')!;
    const forger = cluster.members.find((member) => member.name !== next && member.name !== 'b@127.0.0.1')!;
    forger.distribution.sendControl(next, 'singleton:g1', { type: 'handoff', key, revision: before.token, planned: true, state: { count: 999 } });
    await cluster.kill(cluster.member('b'));
    const after = await cluster.settled(key, 'instance after b died', (record) => record.node === next);
    expect(after.reason).toBe('owner_lost');
    expect(after.handoff).toBeUndefined();
    expect(overlaps(cluster.records)).toEqual([]);
  });

  it('moves when the leader that runs it dies', async () => {
    const key = keyOwnedBy('a', ['a', 'b', 'c']);
    const [a] = await cluster.three([key]);
    expect(a!.group.status().role).toBe('leader');
    await cluster.settled(key, 'instance on a', (record) => record.node === a!.name);
    await cluster.kill(a!);
    const after = await cluster.settled(key, 'instance after the leader died', (record) => record.node !== a!.name, 15_000);
    expect(after.reason).toBe('owner_lost');
    expect(overlaps(cluster.records)).toEqual([]);
  });

  it('a claim of ours that never started still owes its predecessor the wait: re-claimed, it starts only after the old lease could have run out', async () => {
    // The ring's preference for the key is c, then b: c runs it; cut off, b becomes the owner.
    const ring = HashRing.from(['a', 'b', 'c'].map((name) => ({ name: `${name}@127.0.0.1` })));
    let key = '';
    for (let index = 0; key === ''; index++) {
      const candidate = `owed-${index}`;
      const [first, second] = ring.owners(candidate, 3);
      if (first === 'c@127.0.0.1' && second === 'b@127.0.0.1') key = candidate;
    }
    const [a, b, c] = await cluster.three([key]);
    const before = await cluster.settled(key, 'instance on c', (record) => record.node === c!.name);
    c!.distribution.setBlocked([a!.name, b!.name]);
    a!.distribution.setBlocked([c!.name]);
    b!.distribution.setBlocked([c!.name]);
    await eventually('the leader released c\'s claim on b', () => b!.group.state.names.claim(key) === undefined);
    // A claim of b's that commits without b's manager having asked for it — as one does when its
    // proposer's call fails (leader lost) yet the entry commits. b's manager re-claims it as its
    // own; before, that counted as a restart ("the previous claim was mine: nothing runs") and
    // started at once, while c's instance still ran out its lease.
    const claimed = await b!.group.propose({ op: 'claim', key, node: b!.name });
    expect(claimed.ok).toBe(true);
    const after = await cluster.settled(key, 'instance on b', (record) => record.node === b!.name);
    expect(after.reason).toBe('restarted');
    expect(before.stoppedAt).toBeDefined();
    expect(overlaps(cluster.records)).toEqual([]);
    for (const member of [a!, b!, c!]) member.distribution.setBlocked([]);
  });

  it('a partitioned owner stops at its lease; the majority takes over; healing moves it back', async () => {
    const key = keyOwnedBy('c', ['a', 'b', 'c']);
    const [a, b, c] = await cluster.three([key]);
    const before = await cluster.settled(key, 'instance on c', (record) => record.node === c!.name);
    const stops: string[] = [];
    c!.singletons.onEvent((event) => {
      if (event.type === 'stopped') stops.push(event.why);
    });
    c!.distribution.setBlocked([a!.name, b!.name]);
    a!.distribution.setBlocked([c!.name]);
    b!.distribution.setBlocked([c!.name]);
    const majority = await cluster.settled(key, 'instance on the majority side', (record) => record.node !== c!.name);
    expect(stops).toEqual(['lease_expired']);
    expect(before.stoppedAt).toBeDefined();
    expect(majority.reason).toBe('owner_lost');
    expect(majority.token).toBeGreaterThan(before.token);
    // c never got a new claim while cut off.
    expect(cluster.records.filter((record) => record.node === c!.name)).toHaveLength(1);
    for (const member of [a!, b!, c!]) member.distribution.setBlocked([]);
    const back = await cluster.settled(key, 'instance back on c', (record) => record.node === c!.name && record.token > majority.token, 15_000);
    expect(back.reason).toBe('handoff');
    expect(overlaps(cluster.records)).toEqual([]);
  });
});
