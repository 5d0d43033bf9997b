// Federation over real TCP on 127.0.0.1, three groups of real nodes in one process (memory Raft
// stores, short ticks): the root group creates the directory, two more groups join through
// their gateways' hidden links. It proves that a name registered from any group lives in its
// home group and is found from every group, that a message to it arrives across groups, that
// a taken name is refused with a typed error whatever group asks, that a holder's exit
// removes its global name (also when the holder lives on another member than the one that
// registered it; a pid of another group is refused), that the death of a holder's node does too, and that gateways
// cache remote answers until the home group invalidates them.
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import { slotOf } from '../../federation/index.js';
import { collector, createCluster, eventually, idleProcess, type Cluster } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

describe('federation — cross-group names', () => {
  it('a name registered in group A is found from B and C, and a message to it arrives', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const seeds = cluster.rootGatewayAddresses();
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds });
    const c = await cluster.startGroup('gc', ['c1', 'c2'], { seeds });
    const received: unknown[] = [];
    const pid = collector(a[2]!.node, received);
    const { group } = await a[2]!.federation.register('svc:orders', pid, { v: 1 });
    expect(group).toBe('ga');
    for (const member of [...b, ...c]) {
      const found = await member.federation.whereis('svc:orders');
      expect(found?.pid.equals(pid)).toBe(true);
      expect(found?.group).toBe('ga');
      expect(found?.holderGroup).toBe('ga');
      expect(found?.meta).toEqual({ v: 1 });
    }
    await c[1]!.federation.send('svc:orders', { hello: 'from c2' });
    await b[2]!.federation.send('svc:orders', { hello: 'from b3' });
    await eventually('both messages', () => received.length === 2);
    expect(received).toEqual(expect.arrayContaining([{ hello: 'from c2' }, { hello: 'from b3' }]));
    // Taken from another group: typed refusal naming the holder.
    const other = idleProcess(b[0]!.node);
    const error = await b[0]!.federation.register('svc:orders', other).catch((caught: unknown) => caught);
    expect(isFedError(error, 'name_taken')).toBe(true);
  });

  it('a name registered from group B for a pid in B is homed by slot; its exit, or its node\'s death, removes it', async () => {
    cluster = createCluster();
    await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const pid = idleProcess(b[1]!.node);
    const received: unknown[] = [];
    const sinkPid = collector(b[1]!.node, received);
    await b[1]!.federation.register('job:7', pid);
    await b[1]!.federation.register('sink', sinkPid);
    const a1 = cluster.member('a1');
    const found = await a1.federation.whereis('job:7', { consistency: 'linearizable' });
    expect(found?.pid.equals(pid)).toBe(true);
    expect(found?.holderGroup).toBe('gb');
    // a root member sends to a pid living in group B: relayed through the gateways.
    await a1.federation.send('sink', 'relayed');
    await eventually('relayed message', () => received.includes('relayed'));
    expect(a1.federation.registeredHere().map(([name]) => name)).toContain('job:7');
    b[1]!.node.send(pid, 'stop');
    await eventually('name released', async () => (await a1.federation.whereis('job:7', { consistency: 'linearizable' })) === undefined);
    expect(slotOf('job:7')).toBeGreaterThanOrEqual(0);
    // The holder's whole node dies: its group reports it gone, and the home group drops its names.
    const doomed = idleProcess(b[0]!.node);
    await b[0]!.federation.register('doomed', doomed);
    expect((await a1.federation.whereis('doomed', { consistency: 'linearizable' }))?.pid.equals(doomed)).toBe(true);
    await b[0]!.close();
    await eventually('names of a dead node released', async () => (await a1.federation.whereis('doomed', { consistency: 'linearizable' })) === undefined);
  });

  it('a name registered for a pid on another member of the group dies with that pid; a pid of another group is refused', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
    // b1 registers a process that lives on b3.
    const elsewhere = idleProcess(b[2]!.node);
    await b[0]!.federation.register('on-b3', elsewhere);
    expect((await a[1]!.federation.whereis('on-b3', { consistency: 'linearizable' }))?.pid.equals(elsewhere)).toBe(true);
    b[2]!.node.send(elsewhere, 'stop');
    await eventually('released with its process', async () => (await a[1]!.federation.whereis('on-b3', { consistency: 'linearizable' })) === undefined);
    // A pid of group A registered through group B: refused, nothing registered.
    const foreign = idleProcess(a[2]!.node);
    const error = await b[0]!.federation.register('foreign', foreign).catch((caught: unknown) => caught);
    expect(isFedError(error, 'badarg')).toBe(true);
    expect(await a[1]!.federation.whereis('foreign', { consistency: 'linearizable' })).toBeUndefined();
  });

  it('remote whereis is cached at the gateway and invalidated by the home group; linearizable skips the cache', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const first = idleProcess(a[2]!.node);
    const second = idleProcess(a[2]!.node);
    const registered = await a[2]!.federation.register('cached', first);
    const gateway = b[0]!;
    expect((await gateway.federation.whereis('cached'))?.pid.equals(first)).toBe(true);
    expect(gateway.federation.status().cachedNames).toBe(1);
    expect((await gateway.federation.whereis('cached'))?.pid.equals(first)).toBe(true);
    // The unregistration names the home group that took it, as the registration did.
    expect(await a[2]!.federation.unregister('cached', first)).toEqual({ revision: expect.any(Number), group: registered.group });
    await a[2]!.federation.register('cached', second);
    expect((await gateway.federation.whereis('cached', { consistency: 'linearizable' }))?.pid.equals(second)).toBe(true);
    await eventually('invalidated', () => gateway.federation.status().cachedNames === 0);
    expect((await gateway.federation.whereis('cached'))?.pid.equals(second)).toBe(true);
  });
});
