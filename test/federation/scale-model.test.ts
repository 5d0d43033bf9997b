// The scale model (federation/scale-model.ts) against the real code. A federation of 18 nodes
// in three groups of 6, and a single group of 8 (the full mesh), run in the simulator
// (federation/sim/): real Node, Distribution, Group and Federation per node, production
// settings, over a virtual network on virtual time. Each measured count is compared with the
// model's formula for the same case, where the case (is the client a gateway, does the
// serving gateway lead its group) is read from the route the messages actually took. It
// proves the model the bench uses for sizes it cannot run says what the code does: connections
// per node (members inside their group only; gateways linked to every gateway of every other
// group, nothing else), messages per registration, per uncached and per linearizable remote
// whereis (and a cached one), idle traffic per second by kind, and the cluster-level figures;
// and that every operation ran without simulated time passing (nothing periodic mixed in).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationSim, type OperationCount, type SimMember } from '../../federation/sim/federation-sim.js';
import {
  connectionsOf,
  defaultScaleParameters,
  modelFigures,
  registrationMessages,
  remoteWhereisMessages,
  replicationMessages,
  readIndexRound,
  singleGroupLinearizableRead,
} from '../../federation/scale-model.js';

const NODES = 18;
const GROUP_SIZE = 6;
let sim: FederationSim;

beforeAll(async () => {
  sim = await FederationSim.build({ nodes: NODES, groupSizeMax: GROUP_SIZE, seed: 3 });
}, 120_000);

afterAll(async () => {
  await sim?.close();
});

/** The member that served a cross-group request: the destination of the `serve` call. */
function server(count: OperationCount): SimMember | undefined {
  const serve = count.trace.find((message) => message.kind === 'gateway rpc serve');
  return serve === undefined ? undefined : sim.memberOf(serve.to);
}

describe('scale model — against the simulated federation (3 groups of 6)', () => {
  it('connections per node are the model\'s: members inside their group, gateways also to every other group\'s gateways', () => {
    const figures = sim.connections();
    expect(sim.groupIds).toHaveLength(3);
    expect(figures.gateways).toBe(6);
    sim.members.forEach((member, index) => {
      const expected = connectionsOf(GROUP_SIZE, sim.isGateway(member), sim.gatewaysOutside(member.groupId));
      expect({ node: member.node.name, connections: figures.perNode[index] }).toEqual({ node: member.node.name, connections: expected });
      // Who they are: the group's other members, and for a gateway exactly the other groups' gateways.
      const peers = member.distribution.peers({ hidden: false }).map((name) => sim.memberOf(name)?.groupId);
      expect(peers.every((group) => group === member.groupId)).toBe(true);
      const hidden = member.federation.gatewayDistribution()?.peers() ?? [];
      const otherGateways = sim.members.filter((other) => other.groupId !== member.groupId && sim.isGateway(other)).map((other) => other.federation.status().gateway!.node);
      expect(hidden.sort()).toEqual(sim.isGateway(member) ? otherGateways.sort() : []);
    });
    const model = modelFigures(defaultScaleParameters(NODES, GROUP_SIZE));
    expect([figures.max, figures.mean, figures.memberMax]).toEqual([model.connectionsMax, model.connectionsMean, model.memberConnectionsMax]);
  });

  it('every registration costs the model\'s count for its case, with time standing still', async () => {
    const seen = new Set<string>();
    for (let sample = 0; sample < 24; sample++) {
      const counted = await sim.registration();
      const sameGroup = counted.client.groupId === counted.home;
      const serving = server(counted);
      expect(serving === undefined).toBe(sameGroup);
      const kase = {
        sameGroup,
        clientIsGateway: sim.isGateway(counted.client),
        clientIsLeader: sim.isLeader(counted.client),
        servingGatewayIsLeader: serving !== undefined && sim.isLeader(serving),
        homeGroupSize: GROUP_SIZE,
      };
      seen.add(JSON.stringify([kase.sameGroup, kase.clientIsGateway, kase.servingGatewayIsLeader]));
      expect({ kase, messages: counted.messages, elapsedMs: counted.elapsedMs }).toEqual({ kase, messages: registrationMessages(kase), elapsedMs: 0 });
      expect(counted.byKind.get('raft append (entries)')).toBe(GROUP_SIZE - 1);
    }
    // The samples covered local and remote registrations, from gateways and from members.
    expect(seen.size).toBeGreaterThanOrEqual(3);
    const model = modelFigures(defaultScaleParameters(NODES, GROUP_SIZE));
    expect(model.registrationMessagesMax).toBe(2 + 2 + 1 + replicationMessages(GROUP_SIZE));
  });

  it('uncached, linearizable and cached remote whereis cost the model\'s counts', async () => {
    for (let sample = 0; sample < 8; sample++) {
      const registered = await sim.registration();
      const candidates = sim.members.filter((member) => member.groupId !== registered.home);
      const client = candidates[sample % candidates.length]!;
      const clientIsGateway = sim.isGateway(client);
      for (const linearizable of [false, true]) {
        const counted = await sim.remoteWhereis(registered.name, client, linearizable ? 'linearizable' : 'local');
        const serving = server(counted);
        expect(serving?.groupId).toBe(registered.home);
        const kase = { clientIsGateway, servingGatewayIsLeader: sim.isLeader(serving!), homeGroupSize: GROUP_SIZE, linearizable };
        expect({ kase, messages: counted.messages, elapsedMs: counted.elapsedMs }).toEqual({ kase, messages: remoteWhereisMessages(kase), elapsedMs: 0 });
      }
      // The first local read was cached at the client's gateway: the next one stays in the group.
      const cached = await sim.remoteWhereis(registered.name, client, 'local');
      expect(cached.messages).toBe(clientIsGateway ? 0 : 2);
    }
  });

  it('idle traffic per second is the model\'s, kind by kind (a minute of simulated time)', async () => {
    const params = defaultScaleParameters(NODES, GROUP_SIZE);
    const model = modelFigures(params, sim.holderPairs());
    const windowMs = 60_000;
    const idle = await sim.idle(windowMs);
    const perSecond = (kind: string) => idle.byKindPerSecond.get(kind) ?? 0;
    expect(idle.linkHeartbeatsPerSecond).toBeCloseTo(model.linkHeartbeatsPerSecond, 6);
    expect(idle.gatewayLinkHeartbeatsPerSecond).toBeCloseTo(model.gatewayLinkHeartbeatsPerSecond, 6);
    expect(perSecond('raft heartbeat') + perSecond('raft heartbeat_response')).toBeCloseTo(model.raftHeartbeatsPerSecond, 6);
    // Polls and resyncs are re-armed at a maintenance tick: one period may slip per window.
    const slack = (2 * (4 + sim.holderPairs()) * 1_000) / windowMs;
    expect(Math.abs(idle.messagesPerSecond - model.raftHeartbeatsPerSecond - model.federationIdleMessagesPerSecond)).toBeLessThanOrEqual(slack);
    const kinds = [...idle.byKindPerSecond.keys()].sort();
    expect(kinds).toEqual(['gateway rpc dir_since', 'gateway rpc nodes_alive', 'gateway rpc reply', 'raft heartbeat', 'raft heartbeat_response']);
  });
});

describe('scale model — against a simulated single group (the full mesh)', () => {
  it('connections, registrations, linearizable reads and idle traffic of one group of 8', async () => {
    const single = await FederationSim.build({ nodes: 8, groupSizeMax: 8, seed: 5 });
    try {
      const params = defaultScaleParameters(8, 8);
      const model = modelFigures(params);
      const figures = single.connections();
      expect(figures.perNode.every((count) => count === 7)).toBe(true);
      expect([figures.max, figures.mean]).toEqual([model.connectionsMax, model.connectionsMean]);
      let reads = 0;
      for (let sample = 0; sample < 8; sample++) {
        const counted = await single.registration();
        expect(counted.messages).toBe(registrationMessages({ sameGroup: true, clientIsGateway: false, clientIsLeader: single.isLeader(counted.client), servingGatewayIsLeader: true, homeGroupSize: 8 }));
        const read = await single.count(() => counted.client.federation.whereis(counted.name, { consistency: 'linearizable' }));
        reads += read.messages;
        expect(read.messages).toBe(readIndexRound(8) + (single.isLeader(counted.client) ? 0 : 2));
        expect(readIndexRound(8)).toBe(2 * 4); // 5 of the 8 are voters
        expect((await single.count(() => counted.client.federation.whereis(counted.name))).messages).toBe(0);
      }
      expect(reads / 8).toBeGreaterThan(singleGroupLinearizableRead(8) - 2);
      const idle = await single.idle(10_000);
      expect(idle.linkHeartbeatsPerSecond).toBeCloseTo(model.linkHeartbeatsPerSecond, 6);
      expect(idle.messagesPerSecond).toBeCloseTo(model.raftHeartbeatsPerSecond, 6);
    } finally {
      await single.close();
    }
  });
});
