// Which members are gateways and which hidden links they hold, on real nodes over 127.0.0.1
// (one process). It proves: a member started with `gatewayEligible: false` is never chosen by
// the group's leader — not even when it is the leader itself, the first member by name — and
// the group still gets its two gateways from the others; and once a group is removed from the
// directory, the other groups' gateways stop holding (and redialling) links to its gateways,
// and its own gateways stop dialling out, while every node stays up.
import { afterEach, describe, expect, it } from 'vitest';
import type { GlobalNames } from '../../federation/index.js';
import { createCluster, eventually, type Cluster, type Member } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

function gatewayNode(member: Member): string | undefined {
  return member.federation.status().gateway?.node;
}

describe('federation — gateway choice', () => {
  it('a member that is not gateway-eligible is never chosen, even as the leader', async () => {
    cluster = createCluster();
    await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], {
      seeds: cluster.rootGatewayAddresses(),
      member: (name) => (name === 'b1' ? { gatewayEligible: false } : {}),
    });
    expect(b[0]!.group.status().role).toBe('leader');
    for (const member of b) expect(member.federation.status().gateways).toEqual(['b2@127.0.0.1', 'b3@127.0.0.1']);
    expect(b[0]!.federation.status().gateway).toBeNull();
    expect((b[0]!.group.state.extension('global') as unknown as GlobalNames).gatewayEligible('b1@127.0.0.1')).toBe(false);
    const record = (await b[1]!.federation.directory()).groups.find((group) => group.id === 'gb');
    expect(record?.gateways.map((gateway) => gateway.node)).toEqual(['b2-gw@127.0.0.1', 'b3-gw@127.0.0.1']);
  });
});

describe('federation — hidden links follow the directory', () => {
  it('after a group is removed, nobody holds or redials links to its gateways', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const aGateways = a.filter((member) => gatewayNode(member) !== undefined);
    const bNodes = b.map((member) => gatewayNode(member)!);
    await eventually('linked', () => aGateways.every((member) => bNodes.every((node) => member.federation.gatewayDistribution()!.isConnected(node))));
    await a[0]!.federation.removeGroup('gb');
    const unlinked = () =>
      aGateways.every((member) => bNodes.every((node) => !member.federation.gatewayDistribution()!.isConnected(node))) &&
      b.every((member) => (member.federation.gatewayDistribution()?.peers({ hidden: true }) ?? []).length === 0);
    await eventually('unlinked', unlinked);
    // Both sides are alive and listening: a redial from either side would link them again.
    const opened = () => [...a, ...b].reduce((sum, member) => sum + (member.federation.gatewayDistribution()?.stats().connectionsOpened ?? 0), 0);
    const before = opened();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(unlinked()).toBe(true);
    expect(opened()).toBe(before);
    expect(b.every((member) => !member.closed && gatewayNode(member) !== undefined)).toBe(true);
  });
});
