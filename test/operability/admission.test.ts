/**
 * Admission control on the registry: proves that a group member flooded with more client
 * proposals than `proposalsInFlightMax` answers the excess with `overloaded` at once — typed,
 * `definite` (nothing was proposed) and with a positive `retryAfterMs` — instead of queueing
 * them, that every admitted proposal still commits, that nothing refused was registered, that
 * the counters in `Group.admission()` add up, and that the group's own upkeep is never refused.
 * Also proves the client side: `withOverloadRetry` retries `overloaded` with capped, jittered
 * exponential backoff until the flood is absorbed. Three members on real TCP (127.0.0.1),
 * memory Raft stores; the flood is synthetic: hundreds of proposals issued in one tick.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution, FedError, Node, type Pid, Rng, fedError, isFedError } from '../../runtime/index.js';
import { Group } from '../../registry/group.js';
import { backoffDelayMs, withOverloadRetry } from '../../cli/retry.js';
import { eventually } from '../support/eventually.js';

const COOKIE = 'admission-test-cookie-0123456789';
const IN_FLIGHT_MAX = 16;
const FLOOD = 300;

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
  const distribution = await Distribution.start({ node, cookie: COOKIE, tickMs: 100, heartbeatTimeoutMs: 2_000, logger: () => undefined });
  const group = await Group.open({
    node,
    distribution,
    group: 'g1',
    memory: true,
    address: distribution.address,
    bootstrap: options.bootstrap ?? false,
    tickMs: 20,
    proposalsInFlightMax: IN_FLIGHT_MAX,
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
  await eventually('3 voters', () => a.group.status().voters.length === 3);
  return [a, b, c];
}

function holder(node: Node): Pid {
  return node.spawn(async (ctx) => {
    await ctx.receive((msg) => msg === 'stop');
  });
}

describe('registry admission control', () => {
  it('flood — the excess over proposalsInFlightMax is refused with overloaded, the rest commits', async () => {
    const [, b] = await threeMembers();
    const follower = b as Member;
    const pid = holder(follower.node);
    const outcomes = await Promise.allSettled(
      Array.from({ length: FLOOD }, (_, index) => follower.group.register(`flood-${index}`, pid)),
    );
    const accepted = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
    const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as FedError] : []));
    expect(accepted).toBe(IN_FLIGHT_MAX);
    expect(refused).toHaveLength(FLOOD - IN_FLIGHT_MAX);
    for (const error of refused) {
      expect(error).toBeInstanceOf(FedError);
      expect(error.code).toBe('overloaded');
      expect(error.details).toMatchObject({ definite: true });
      expect(error.details?.retryAfterMs as number).toBeGreaterThan(0);
    }
    expect(follower.group.registered('flood-')).toHaveLength(IN_FLIGHT_MAX);
    const admission = follower.group.admission();
    expect(admission).toMatchObject({
      proposalsInFlight: 0,
      proposalsInFlightMax: IN_FLIGHT_MAX,
      admittedTotal: IN_FLIGHT_MAX,
      rejectedOverloadedTotal: FLOOD - IN_FLIGHT_MAX,
    });
    expect(admission.proposalLatencyMsAverage).toBeGreaterThan(0);
  });

  it('upkeep — the group’s own commands are not subject to admission', async () => {
    const [a] = await threeMembers();
    const leader = a as Member;
    const pid = holder(leader.node);
    const flood = Array.from({ length: IN_FLIGHT_MAX }, (_, index) => leader.group.register(`busy-${index}`, pid));
    // With every slot taken, a member-directory update still goes through.
    await expect(leader.group.propose({ op: 'member', node: leader.node.name, address: leader.distribution.address })).resolves.toMatchObject({ ok: true });
    await Promise.all(flood);
  });

  it('client retry — withOverloadRetry absorbs the same flood with capped jittered backoff', async () => {
    const [, , c] = await threeMembers();
    const member = c as Member;
    const pid = holder(member.node);
    const rng = new Rng(7);
    let retries = 0;
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        withOverloadRetry(() => member.group.register(`retry-${index}`, pid), {
          attemptsMax: 50,
          baseDelayMs: 2,
          maxDelayMs: 20,
          rng,
          onRetry: () => retries++,
        }),
      ),
    );
    expect(results).toHaveLength(100);
    expect(member.group.registered('retry-')).toHaveLength(100);
    expect(retries).toBeGreaterThan(0);
    expect(member.group.admission().rejectedOverloadedTotal).toBe(retries);
  });

  it('backoff — grows exponentially, never exceeds the cap, honours retryAfterMs, and is jittered', () => {
    const rng = new Rng(1);
    const options = { baseDelayMs: 10, maxDelayMs: 500 };
    for (let attempt = 0; attempt < 20; attempt++) {
      const delay = backoffDelayMs(attempt, undefined, options, rng);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(Math.min(500, 10 * 2 ** attempt));
    }
    expect(backoffDelayMs(0, 300, options, rng)).toBeGreaterThanOrEqual(300);
    expect(backoffDelayMs(0, 10_000, options, rng)).toBeLessThanOrEqual(500);
    const samples = new Set(Array.from({ length: 20 }, () => backoffDelayMs(5, undefined, options, rng)));
    expect(samples.size).toBeGreaterThan(1);
  });
  it('client retry — no retry starts past the deadline: the last overloaded answer is thrown', async () => {
    // An always-overloaded server with a 200 ms hint: a 500 ms deadline leaves room for a few
    // attempts, never for one that would start after it.
    let attempts = 0;
    const deadlineMs = performance.now() + 500;
    const error = await withOverloadRetry(
      () => {
        attempts++;
        return Promise.reject(fedError('overloaded', 'busy', { retryAfterMs: 200 }));
      },
      { attemptsMax: 100, deadlineMs },
    ).catch((caught: unknown) => caught);
    expect(isFedError(error, 'overloaded')).toBe(true);
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(attempts).toBeLessThanOrEqual(3);
  });
});
