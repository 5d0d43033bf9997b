// The gateway's cache of remote whereis answers, on real nodes over 127.0.0.1 (one process). The
// home gateway that served a name is cut off from its own group (its Raft log stops) while the
// name changes and the group's log is compacted past it; its hidden link to the caching gateway
// stays up, so the invalidation simply cannot be sent yet. It proves: a linearizable read from
// the caching group returns the new holder (the home group answers through its other gateway)
// while a local read still returns the cached, stale one — the counters say it was a cache hit;
// and once the home gateway is back it catches up by installing a Raft snapshot (not by
// replaying entries), and that snapshot invalidates the cached entry, so local reads return
// the new holder again. And that an entry cached from a group the caching gateway's directory
// no longer routes the name to (its slot moved while the old home's serving gateway, the only
// one that knew of the cache, was cut off from its group) is not served again.
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError, type Pid } from '../../runtime/index.js';
import { orderGateways, slotOf } from '../../federation/index.js';
import { createCluster, eventually, idleProcess, type Cluster, type Member } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

function isolate(member: Member, group: readonly Member[], on: boolean): void {
  const others = group.filter((other) => other !== member);
  member.distribution.setBlocked(on ? others.map((other) => other.node.name) : []);
  for (const other of others) other.distribution.setBlocked(on ? [member.node.name] : []);
}

/** `name` registered to a new pid of `registrar`'s node, read twice at gateway `caching`: a miss, then a hit. Returns that pid and a second one for later. */
async function cachedAt(caching: Member, registrar: Member, name: string): Promise<{ first: Pid; second: Pid }> {
  const first = idleProcess(registrar.node);
  const second = idleProcess(registrar.node);
  await registrar.federation.register(name, first);
  const hitsBefore = caching.federation.status().cacheHits;
  expect((await caching.federation.whereis(name))?.pid.equals(first)).toBe(true);
  expect((await caching.federation.whereis(name))?.pid.equals(first)).toBe(true);
  expect(caching.federation.status().cacheHits).toBe(hitsBefore + 1);
  return { first, second };
}

/** The gateway of `home` that answered `caching`'s reads (its first choice): the only one that knows of the cache. */
async function servingGateway(home: readonly Member[], caching: Member): Promise<Member> {
  const record = (await home[0]!.federation.directory()).groups.find((group) => group.id === home[0]!.group.id)!;
  const servingNode = orderGateways(record.gateways, caching.federation.status().gateway!.node, () => 'connected')[0]!.node;
  return home.find((member) => member.federation.status().gateway?.node === servingNode)!;
}

describe('federation — the whereis cache', () => {
  it('a linearizable read sees the change the cache has not; a snapshot at the home gateway invalidates it', async () => {
    // Small snapshots so the home group's log is compacted while its gateway is away; a long
    // gateway grace so the away gateway stays a gateway (its hidden links stay up).
    cluster = createCluster({ snapshotEveryEntries: 20, federation: { gatewayDownGraceMs: 60_000 } });
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const caching = b[0]!;
    const { first, second } = await cachedAt(caching, b[1]!, 'cached');
    expect(caching.federation.status()).toMatchObject({ cachedNames: 1, cacheMisses: 1, cacheHits: 1 });

    // The home gateway that answered (the caching gateway's first choice) must not lead its group.
    const home = await servingGateway(a, caching);
    const third = a.find((member) => member.federation.status().gateway === null)!;
    if (home.group.status().role === 'leader') {
      await home.group.transferLeadership(third.node.name, { timeoutMs: 10_000 });
      await eventually('the home gateway handed over leadership', () => a.every((member) => member.group.status().leader !== null && member.group.status().leader !== home.node.name));
    }
    let restored = false;
    const off = home.group.onApply((event) => {
      if (event.type === 'restore') restored = true;
    });
    try {
      isolate(home, a, true);
      // The name changes, and enough else is written that the group's log is compacted past `home`.
      // The first write goes to `home`, the caching gateway's first choice, which cannot answer
      // now: it times out, and as it may yet apply it is not sent again (write-once.test.ts).
      // `home` is tried last from then on, so the same write again goes to the other gateway.
      const timedOut = await b[1]!.federation.unregister('cached', first).catch((caught: unknown) => caught);
      expect(isFedError(timedOut, 'timeout')).toBe(true);
      await b[1]!.federation.unregister('cached', first);
      await b[1]!.federation.register('cached', second);
      const writer = a.find((member) => member !== home && member.group.status().role === 'leader')!;
      for (let index = 0; index < 30; index++) await writer.federation.register(`filler:${index}`, idleProcess(writer.node));

      const strong = await caching.federation.whereis('cached', { consistency: 'linearizable' });
      expect(strong?.pid.equals(second)).toBe(true);
      const stale = await caching.federation.whereis('cached');
      expect(stale?.pid.equals(first)).toBe(true);
      expect(caching.federation.status()).toMatchObject({ cachedNames: 1, cacheHits: 2 });

      isolate(home, a, false);
      await eventually('home gateway caught up', () => home.federation.registeredHere('cached').some(([, entry]) => entry.pid.equals(second)));
      expect(restored).toBe(true);
      await eventually('cache invalidated', async () => (await caching.federation.whereis('cached'))?.pid.equals(second) === true);
    } finally {
      off();
    }
  });

  it('an entry cached from a group the directory no longer routes the name to is not served: its slot moved, and the old home never invalidated it', async () => {
    cluster = createCluster({ federation: { gatewayDownGraceMs: 60_000 } });
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const c = await cluster.startGroup('gc', ['c1', 'c2'], { seeds: cluster.rootGatewayAddresses() });
    const caching = b[0]!;
    const { first, second } = await cachedAt(caching, c[1]!, 'drifted');
    // The home gateway that answered (and alone knows who caches the name) is cut off from its
    // group, not leading it: the other two move the name's slot to gc without it.
    const home = await servingGateway(a, caching);
    const rest = a.filter((member) => member !== home);
    if (home.group.status().role === 'leader') await home.group.transferLeadership(rest[0]!.node.name, { timeoutMs: 10_000 });
    isolate(home, a, true);
    try {
      const mover = await eventually('a leader among the rest of ga', () => rest.find((member) => member.group.status().role === 'leader'));
      expect(await mover.federation.moveSlots([slotOf('drifted')], 'gc')).toEqual([slotOf('drifted')]);
      await c[1]!.federation.unregister('drifted', first);
      await c[1]!.federation.register('drifted', second);
      // The caching gateway learns the move (a linearizable read follows the redirect).
      await eventually('the caching gateway routes the name to gc', async () => (await caching.federation.whereis('drifted', { consistency: 'linearizable' }))?.pid.equals(second) === true);
      // Before: the entry cached from ga was served on, stale, for as long as ga's gateway stayed away.
      const local = await caching.federation.whereis('drifted');
      expect(local?.pid.equals(second)).toBe(true);
      expect(local?.group).toBe('gc');
    } finally {
      isolate(home, a, false);
    }
  });
});
