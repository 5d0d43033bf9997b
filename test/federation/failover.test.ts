// Gateways failing and groups cut off, over real TCP on 127.0.0.1 (groups of real nodes in one
// process). It proves: (1) killing one gateway of a group keeps cross-group traffic flowing
// through the other, and the group elects a replacement that the directory lists; (2) a
// partition that isolates a group makes the names homed there unreachable from the other
// groups with a typed `unavailable` error (never a stale or wrong answer, even for names the
// asking gateway had cached: its cache hits are counted before the cut), while names homed
// elsewhere keep working; after healing every name answers
// again and each lives in exactly one group; (3) a group cut off from the root still learns
// directory changes (a slot moved elsewhere) from the gateways of the groups it can reach.
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import { slotOf } from '../../federation/index.js';
import { createCluster, eventually, idleProcess, type Cluster, type Member } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

function gatewayMembers(group: readonly Member[]): Member[] {
  return group.filter((member) => !member.closed && member.federation.status().gateway !== null);
}

function setPartition(inside: readonly Member[], outside: readonly Member[], on: boolean): void {
  const gatewayNames = (members: readonly Member[]) => members.map((member) => member.federation.status().gateway?.node).filter((name): name is string => name !== undefined);
  const insideNames = gatewayNames(inside);
  const outsideNames = gatewayNames(outside);
  for (const member of inside) member.federation.gatewayDistribution()?.setBlocked(on ? outsideNames : []);
  for (const member of outside) member.federation.gatewayDistribution()?.setBlocked(on ? insideNames : []);
}

describe('federation — gateway failover', () => {
  it('killing one gateway of the home group keeps traffic flowing through the other, and a replacement is chosen', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
    const pids = b.map((member) => idleProcess(member.node));
    for (let index = 0; index < 6; index++) await b[index % 3]!.federation.register(`before:${index}`, pids[index % 3]!);
    const gateways = gatewayMembers(a);
    expect(gateways).toHaveLength(2);
    const victim = gateways[0]!;
    await victim.close();
    // Traffic right after the kill: every request succeeds through the surviving gateway. A write
    // that races the requester side's notice of the kill (sent to the victim as its link went)
    // may have reached it, so it fails with an indefinite error and is not sent again
    // (write-once.test.ts); the caller's retry then goes through the survivor. Registering the
    // same name for the same pid again is what such a caller does.
    for (let index = 0; index < 6; index++) {
      const member = b[index % 3]!;
      await member.federation.register(`after:${index}`, pids[index % 3]!).catch((error: unknown) => {
        const indefinite = (isFedError(error, 'nodedown') || isFedError(error, 'timeout') || isFedError(error, 'unavailable')) && (error as { details?: { definite?: boolean } }).details?.definite !== true;
        if (!indefinite) throw error;
        return member.federation.register(`after:${index}`, pids[index % 3]!);
      });
      expect((await member.federation.whereis(`before:${index}`))?.pid.equals(pids[index % 3]!)).toBe(true);
      expect((await member.federation.whereis(`after:${index}`, { consistency: 'linearizable' }))?.pid.equals(pids[index % 3]!)).toBe(true);
    }
    const survivors = a.filter((member) => member !== victim);
    await eventually('a replacement gateway in the directory', async () => {
      const summary = await b[0]!.federation.directory();
      const listed = summary.groups.find((record) => record.id === 'ga')?.gateways.map((gateway) => gateway.node) ?? [];
      return listed.length === 2 && !listed.includes(`${victim.node.name.split('@')[0]}-gw@127.0.0.1`) && gatewayMembers(survivors).length === 2;
    });
    // The requester side loses a gateway too: its members reach the other one.
    const requesterVictim = gatewayMembers(b)[0]!;
    await requesterVictim.close();
    const remaining = b.filter((member) => member !== requesterVictim);
    for (const member of remaining) {
      expect((await member.federation.whereis('after:1', { consistency: 'linearizable' }))?.pid.equals(pids[1]!)).toBe(true);
    }
  });
});

describe('federation — partitions', () => {
  it('an isolated group\'s names are unreachable with a typed error; after healing all answer, no duplicates', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const c = await cluster.startGroup('gc', ['c1', 'c2'], { seeds: cluster.rootGatewayAddresses() });
    const moved = await a[0]!.federation.rebalance();
    expect(moved).toBeGreaterThan(2_000);
    await eventually('slots settled', () => [...a, ...b, ...c].every((member) => member.federation.status().ownedSlots > 1_300));
    // Names homed in each group (found by asking where they landed), held by pids in group C.
    const holder = idleProcess(c[0]!.node);
    const homes = new Map<string, string>();
    for (let index = 0; index < 30; index++) {
      const name = `n:${(index * 2_654_435_761) >>> 0}`;
      const { group } = await c[0]!.federation.register(name, holder);
      homes.set(name, group);
    }
    const homedInA = [...homes].filter(([, home]) => home === 'ga').map(([name]) => name);
    const homedInC = [...homes].filter(([, home]) => home === 'gc').map(([name]) => name);
    expect(homedInA.length).toBeGreaterThan(0);
    expect(homedInC.length).toBeGreaterThan(0);
    // Every gateway's directory cache has caught up with the root before the cut (caches are
    // refreshed from the root group, which the partition isolates).
    const rootRevision = a[0]!.federation.status().directoryRevision;
    await eventually('caches current', () => [...b, ...c].every((member) => member.federation.status().directoryRevision >= rootRevision));
    // Warm B's gateway caches with A's names: read twice, the second read is a cache hit.
    const warmed = b[0]!;
    for (const name of homedInA) expect((await warmed.federation.whereis(name))?.pid.equals(holder)).toBe(true);
    const hitsBefore = warmed.federation.status().cacheHits;
    for (const name of homedInA) expect((await warmed.federation.whereis(name))?.pid.equals(holder)).toBe(true);
    expect(warmed.federation.status().cacheHits - hitsBefore).toBe(homedInA.length);
    expect(warmed.federation.status().cachedNames).toBeGreaterThanOrEqual(homedInA.length);

    setPartition(a, [...b, ...c], true);
    // The warmed gateway notices its links to A are gone, and with them what it cached from A.
    const aGateways = gatewayMembers(a).map((member) => member.federation.status().gateway!.node);
    await eventually('B sees A unreachable', () => aGateways.every((node) => warmed.federation.gatewayDistribution()?.isConnected(node) === false));
    // (Each refusal takes one hop timeout: the gateway first waits for a link to come back.)
    for (const name of homedInA.slice(0, 3)) {
      const error = await warmed.federation.whereis(name).then(
        (value) => value,
        (caught: unknown) => caught,
      );
      expect(isFedError(error, 'unavailable')).toBe(true);
      // `{name}:x` hashes like `name` (hash tag): homed in A too, so it cannot be registered now.
      const registerError = await c[1]!.federation.register(`{${name}}:x`, holder).then(
        () => 'registered',
        (caught: unknown) => caught,
      );
      expect(isFedError(registerError, 'unavailable')).toBe(true);
    }
    // Names homed in C still answer from B.
    for (const name of homedInC) expect((await b[0]!.federation.whereis(name))?.pid.equals(holder)).toBe(true);

    setPartition(a, [...b, ...c], false);
    await eventually('A answers again', async () => (await b[1]!.federation.whereis(homedInA[0]!))?.pid.equals(holder) === true, 15_000);
    for (const [name] of homes) expect((await b[1]!.federation.whereis(name, { consistency: 'linearizable' }))?.pid.equals(holder)).toBe(true);
    // Each name lives in exactly one group's share.
    const counts = new Map<string, number>();
    for (const group of [a, b, c]) {
      for (const [name] of group[0]!.federation.registeredHere()) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    for (const [name, count] of counts) expect({ name, count }).toEqual({ name, count: 1 });
  });

  it('a group cut off from the root learns directory changes from other gateways', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const c = await cluster.startGroup('gc', ['c1', 'c2'], { seeds: cluster.rootGatewayAddresses() });
    await eventually('B and C connected', () => b.every((member) => c.every((other) => member.federation.gatewayDistribution()?.isConnected(other.federation.status().gateway!.node) === true)));
    setPartition(a, b, true);
    const slot = slotOf('hot');
    expect(await a[0]!.federation.moveSlots([slot], 'gc')).toEqual([slot]);
    const holder = idleProcess(c[1]!.node);
    await eventually('C takes writes for the slot', async () => (await c[1]!.federation.register('{hot}k', holder)).group === 'gc');
    // B cannot reach the root (nor the old owner) but hears of the move from C's gateways.
    const found = await eventually('B finds the name', async () => b[0]!.federation.whereis('{hot}k'));
    expect(found.pid.equals(holder)).toBe(true);
    expect(found.group).toBe('gc');
    setPartition(a, b, false);
  });
});
