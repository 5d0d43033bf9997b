// How a proposal settles (group.register / unregister / propose), over real TCP on 127.0.0.1 with
// memory Raft stores: the caller's promise is settled straight from the apply or the failure (no
// chain of async functions), so these tests pin what that path must still do — one settlement per
// proposal with the right value or typed error, the admission slot given back on every path
// (commit, refusal, timeout), and a rejection (never a synchronous throw) from a closed member.
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import { GroupCluster, idleProcess, isolate } from './group-helpers.js';

const cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
});

describe('group propose — settling', () => {
  it('commits resolve with their revision, refusals reject typed, and every slot is given back', async () => {
    // Proves the direct settlement gives each caller its own answer (revision = log index, in
    // order of the log), name_taken for a held name, and counts admission back to zero.
    const [a] = await cluster.three();
    const holder = idleProcess(a!.node);
    const other = idleProcess(a!.node);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, k) => a!.group.register(`p/${k}`, holder)));
    const revisions = answers.map((answer) => answer.revision);
    expect(new Set(revisions).size).toBe(40);
    for (const [k, revision] of revisions.entries()) expect(a!.group.whereisLocal(`p/${k}`)?.revision).toBe(revision);
    await expect(a!.group.register('p/0', other)).rejects.toMatchObject({ code: 'name_taken' });
    await expect(a!.group.unregister('p/1', other)).rejects.toMatchObject({ code: 'not_owner' });
    const gone = await a!.group.unregister('p/1', holder);
    expect(gone.revision).toBeGreaterThan(Math.max(...revisions));
    const raw = await a!.group.propose({ op: 'register', name: 'p/raw', pid: holder });
    expect(raw).toMatchObject({ ok: true, revision: gone.revision + 1 });
    expect(a!.group.admission().proposalsInFlight).toBe(0);
  });

  it('a registration without metadata reads back with empty metadata everywhere; one with metadata keeps it', async () => {
    // Proves leaving an empty meta out of the command (it is not written, sent or decoded)
    // changes nothing a reader sees, on the leader and on the followers.
    const members = await cluster.three();
    const [a] = members;
    const holder = idleProcess(a!.node);
    const { revision: none } = await a!.group.register('meta/none', holder);
    await a!.group.register('meta/empty', holder, {});
    const { revision: some } = await a!.group.register('meta/some', holder, { zone: 'eu', weight: 3 });
    for (const member of members) {
      await member.group.readBarrier();
      expect(member.group.whereisLocal('meta/none')).toMatchObject({ meta: {}, revision: none });
      expect(member.group.whereisLocal('meta/empty')?.meta).toEqual({});
      expect(member.group.whereisLocal('meta/some')).toMatchObject({ meta: { zone: 'eu', weight: 3 }, revision: some });
    }
  });

  it('proposals that cannot commit time out or fail typed, each once, and give their slots back', async () => {
    // Proves the timeout and failure paths of the direct settlement run the same bookkeeping
    // as a commit: the leader cut off from both followers cannot commit, its waiting proposals
    // reject with a typed error, and the in-flight count returns to zero.
    const [a] = await cluster.three({ requestTimeoutMs: 400 });
    const holder = idleProcess(a!.node);
    isolate(cluster, a!);
    const stuck = Array.from({ length: 6 }, (_, k) => a!.group.register(`stuck/${k}`, holder));
    expect(a!.group.admission().proposalsInFlight).toBe(6);
    const outcomes = await Promise.allSettled(stuck);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason;
      expect(isFedError(reason) && ['timeout', 'unavailable', 'not_leader'].includes(reason.code)).toBe(true);
    }
    expect(a!.group.admission().proposalsInFlight).toBe(0);
  });

  it('a member that is closed answers a proposal with a shutdown rejection, not a throw', async () => {
    // Proves #propose turns its up-front checks into rejections, as the async function did.
    const member = await cluster.start('a', { bootstrap: true });
    const holder = idleProcess(member.node);
    await member.group.close();
    let pending: Promise<unknown> | undefined;
    expect(() => {
      pending = member.group.register('late', holder);
    }).not.toThrow();
    await expect(pending).rejects.toMatchObject({ code: 'shutdown' });
    await expect(member.group.propose({ op: 'unregister', name: 'late', pid: holder })).rejects.toMatchObject({ code: 'shutdown' });
  });
});
