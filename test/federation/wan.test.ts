// Gateway links have their own failure detector, WAN-like (slower ticks, longer timeout than the
// group's links), on real nodes over 127.0.0.1 (one process). Group B's gateway links are made
// silent without closing — every byte both ways held back below the distribution layer — while
// the groups' own links carry on. It proves: neither group's membership flaps while the
// inter-group link is silent (every intra-group link stays up, each group keeps its leader and
// term and its members), and the gateway links are eventually declared down by their own
// detector (the silence timeout, not a closed socket); the defaults keep gateway links slower
// and more patient than intra-group links.
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution, LIMITS, type LogEntry } from '../../runtime/index.js';
import { FEDERATION_DEFAULTS } from '../../federation/index.js';
import { createCluster, eventually, type Cluster, type Member } from './fixtures/cluster.js';
import { StallTransport } from './fixtures/stall-transport.js';

let cluster: Cluster;
const transports: StallTransport[] = [];

afterEach(async () => {
  for (const transport of transports.splice(0)) transport.resume();
  await cluster.closeAll();
});

// The fixture's group links tick every 100 ms and give up after 1 s; the gateway links here
// tick every 300 ms and give up after 3 s (the defaults' proportions, scaled down).
const GATEWAY = { gatewayTickMs: 300, gatewayHeartbeatTimeoutMs: 3_000 };

function groupShape(members: readonly Member[]): string {
  const status = members[0]!.group.status();
  return JSON.stringify({ leader: status.leader, term: status.term, voters: status.voters, learners: status.learners });
}

function meshIntact(members: readonly Member[]): boolean {
  return members.every((member) => members.every((other) => other === member || member.distribution.isConnected(other.node.name)));
}

describe('federation — the gateway links\' own failure detector', () => {
  it('a silent inter-group link is declared down by the gateway detector and never flaps the groups', async () => {
    expect(FEDERATION_DEFAULTS.gatewayTickMs).toBeGreaterThan(LIMITS.heartbeatTickMs);
    expect(FEDERATION_DEFAULTS.gatewayHeartbeatTimeoutMs).toBeGreaterThan(LIMITS.heartbeatTimeoutMs);
    cluster = createCluster({ federation: GATEWAY });
    const stallable = new Map<string, StallTransport>();
    const logs: LogEntry[] = [];
    const member = (name: string) => ({
      startGatewayDistribution: (options: Parameters<typeof Distribution.start>[0]) => {
        const transport = new StallTransport();
        transports.push(transport);
        stallable.set(name, transport);
        return Distribution.start({ ...options, transport, logger: (entry) => logs.push(entry) });
      },
    });
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true, member });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses(), member });
    const aGateways = a.filter((m) => m.federation.status().gateway !== null).map((m) => m.federation.status().gateway!.node);
    const bGateways = b.filter((m) => m.federation.status().gateway !== null);
    await eventually('gateway links up', () => bGateways.every((gateway) => aGateways.every((node) => gateway.federation.gatewayDistribution()!.isConnected(node))));
    // Settled first: both groups promoted all three members to voters (a promotion is no flap).
    await eventually('groups settled', () => [a, b].every((group) => group[0]!.group.status().voters.length === 3 && group.every((m) => m.group.status().leader === group[0]!.group.status().leader)));
    const shapes = [groupShape(a), groupShape(b)];
    expect(meshIntact(a) && meshIntact(b)).toBe(true);

    // Silence every gateway link of B (the sockets stay open).
    for (const gateway of bGateways) stallable.get(gateway.node.name.split('@')[0]!)!.stall();
    const violations: string[] = [];
    const sampler = setInterval(() => {
      if (!meshIntact(a) || !meshIntact(b)) violations.push('an intra-group link dropped');
      if (groupShape(a) !== shapes[0] || groupShape(b) !== shapes[1]) violations.push(`membership changed: ${groupShape(a)} ${groupShape(b)}`);
    }, 50);
    try {
      await eventually(
        'gateway links declared down',
        () => bGateways.every((gateway) => aGateways.every((node) => !gateway.federation.gatewayDistribution()!.isConnected(node))),
        15_000,
      );
    } finally {
      clearInterval(sampler);
    }
    expect(violations.slice(0, 3)).toEqual([]);
    // It was the silence timeout that ended each link (a closed socket reads differently). Both
    // ends hear nothing, so whichever end's detector fires first closes the link and the other end
    // then reads the close: each link has the silence timeout on at least one of its two ends.
    const bNodes = bGateways.map((gateway) => gateway.federation.status().gateway!.node);
    const downs = logs.filter((entry) => entry.event === 'nodedown' && ((bNodes.includes(entry.node) && aGateways.includes(entry.peer ?? '')) || (aGateways.includes(entry.node) && bNodes.includes(entry.peer ?? ''))));
    expect(downs.length).toBeGreaterThan(0);
    expect(downs.every((entry) => entry.code === 'nodedown')).toBe(true);
    const silent = (from: string, to: string) => downs.some((entry) => entry.node === from && entry.peer === to && /silent for more than 3000 ms/.test(entry.msg));
    const links = bNodes.flatMap((bNode) => aGateways.map((aNode) => ({ link: `${bNode}—${aNode}`, silenceTimeout: silent(bNode, aNode) || silent(aNode, bNode) })));
    expect(links).toEqual(links.map(({ link }) => ({ link, silenceTimeout: true })));
    expect([groupShape(a), groupShape(b)]).toEqual(shapes);
  });
});
