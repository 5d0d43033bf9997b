// The group over real TCP on 127.0.0.1 (several nodes in one process, memory Raft stores):
// a bootstrapped member and two that join form one group; registrations from any member are
// seen by every member; name_taken is typed; linearizable and leader reads agree with writes;
// names die with their process; a partitioned-away minority cannot register.
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution, Node, Pid, isFedError } from '../../runtime/index.js';
import { Group } from '../../registry/group.js';
import { eventually } from '../support/eventually.js';

const COOKIE = 'group-test-cookie-0123456789';

interface Member {
  node: Node;
  distribution: Distribution;
  group: Group;
}

const members: Member[] = [];

afterEach(async () => {
  for (const member of members.splice(0).reverse()) {
    await member.group.close();
    await member.distribution.close();
    await member.node.stop();
  }
});

async function startMember(name: string, options: { bootstrap?: boolean; seed?: string } = {}): Promise<Member> {
  const node = new Node({ name: `${name}@127.0.0.1` });
  await node.start();
  const distribution = await Distribution.start({ node, cookie: COOKIE, tickMs: 100, heartbeatTimeoutMs: 1_000 });
  const group = await Group.open({
    node,
    distribution,
    group: 'g1',
    memory: true,
    address: distribution.address,
    bootstrap: options.bootstrap ?? false,
    tickMs: 20,
    nameDownGraceMs: 300,
    voterDownGraceMs: 600,
  });
  const member = { node, distribution, group };
  members.push(member);
  if (options.seed !== undefined) await group.join(options.seed);
  return member;
}

async function threeMembers(): Promise<Member[]> {
  const a = await startMember('a', { bootstrap: true });
  await eventually('a leads', () => a.group.status().role === 'leader');
  const b = await startMember('b', { seed: a.distribution.address });
  const c = await startMember('c', { seed: a.distribution.address });
  // Applied by every member (the leader merely appending it is not enough for a quorum without it).
  await eventually('3 voters everywhere', () => {
    const { commit, lastIndex } = a.group.status();
    return commit === lastIndex && [a, b, c].every((member) => member.group.committedConf().voters.length === 3 && member.group.status().applied === commit);
  });
  return [a, b, c];
}

function idleProcess(node: Node): Pid {
  return node.spawn(async (ctx) => {
    await ctx.receive((msg) => msg === 'stop');
  });
}

describe('group — membership and registration over real links', () => {
  it('bootstraps, admits two members as voters, and every member sees a registration', async () => {
    const [a, b, c] = await threeMembers();
    const pid = idleProcess(b!.node);
    const { revision } = await b!.group.register('svc', pid, { role: 'db' });
    expect(revision).toBeGreaterThan(0);
    for (const member of [a!, b!, c!]) {
      const found = await eventually(`whereis on ${member.node.name}`, () => member.group.whereisLocal('svc'));
      expect(found.pid.equals(pid)).toBe(true);
      expect(found.revision).toBe(revision);
      expect(found.meta).toEqual({ role: 'db' });
    }
    const linearizable = await c!.group.whereis('svc', { consistency: 'linearizable' });
    expect(linearizable?.revision).toBe(revision);
    const fromLeader = await c!.group.whereis('svc', { consistency: 'leader' });
    expect(fromLeader?.pid.equals(pid)).toBe(true);
    expect(a!.group.members().map((member) => [member.node, member.role])).toEqual([
      ['a@127.0.0.1', 'voter'],
      ['b@127.0.0.1', 'voter'],
      ['c@127.0.0.1', 'voter'],
    ]);
  });

  it('refuses a taken name with name_taken naming the holder', async () => {
    const [a, b] = await threeMembers();
    const first = idleProcess(a!.node);
    const second = idleProcess(b!.node);
    await a!.group.register('lock', first);
    const error = await b!.group.register('lock', second).catch((caught: unknown) => caught);
    expect(isFedError(error, 'name_taken')).toBe(true);
    expect((error as { details: { holder: string } }).details.holder).toBe(first.toString());
    // Idempotent for the holder itself.
    await expect(a!.group.register('lock', first)).resolves.toBeDefined();
  });

  it('unregister with a pid removes only that holder\'s name; without one, whoever holds it', async () => {
    const [a, b, c] = await threeMembers();
    const holder = idleProcess(a!.node);
    const other = idleProcess(b!.node);
    const { revision: held } = await a!.group.register('shared.lock', holder);
    await expect(b!.group.unregister('shared.lock', other)).rejects.toMatchObject({ code: 'not_owner' });
    const { revision } = await c!.group.unregister('shared.lock');
    expect(revision).toBeGreaterThan(held);
    await eventually('removed everywhere', () => [a!, b!, c!].every((member) => member.group.whereisLocal('shared.lock') === undefined));
    expect(a!.node.isAlive(holder)).toBe(true);
    await expect(c!.group.unregister('shared.lock')).rejects.toMatchObject({ code: 'not_found' });
    await b!.group.register('shared.lock', other);
    await expect(a!.group.unregister('shared.lock', holder)).rejects.toMatchObject({ code: 'not_owner' });
    await a!.group.unregister('shared.lock', other);
    expect(a!.group.whereisLocal('shared.lock')).toBeUndefined();
  });

  it('a name dies with its process', async () => {
    const [a, b] = await threeMembers();
    const pid = idleProcess(b!.node);
    await b!.group.register('worker', pid);
    b!.node.send(pid, 'stop');
    await eventually('name released on a', () => a!.group.whereisLocal('worker') === undefined);
  });

  it('a linearizable read after a write on another member sees the write', async () => {
    const [a, , c] = await threeMembers();
    for (let i = 0; i < 20; i++) {
      const pid = idleProcess(a!.node);
      const { revision } = await a!.group.register(`n${i}`, pid);
      const seen = await c!.group.whereis(`n${i}`, { consistency: 'linearizable' });
      expect(seen?.revision).toBe(revision);
    }
  });

  it('concurrent registrations of one name: exactly one wins', async () => {
    const all = await threeMembers();
    const attempts = all.flatMap((member) =>
      [0, 1, 2].map(() => member.group.register('contended', idleProcess(member.node)).then(
        () => 'ok',
        (error: unknown) => (isFedError(error, 'name_taken') ? 'taken' : `other:${String(error)}`),
      )),
    );
    const outcomes = await Promise.all(attempts);
    expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'taken')).toHaveLength(8);
  });
});
