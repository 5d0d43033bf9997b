// The federation scale model: for 100 and 1,000 nodes it meets the two targets of the issue —
// connections per node within (group size − 1) + gateway links, with ordinary members never
// connected outside their group, and messages per global registration not growing with the
// number of groups (while the full mesh's grow with n). Also checks the message walk on hand-
// picked cases against the stated accounting, that the grown directory is balanced, and that
// the model is deterministic from its seed.
import { describe, expect, it } from 'vitest';
import {
  buildFederation,
  fullMeshRegistrationMessages,
  measureFederation,
  measureFullMesh,
  registrationMessages,
  remoteWhereisMessages,
  type FederationModel,
} from '../../federation/scale-model.js';
import { homeGroup } from '../../federation/routing.js';
import { SLOT_COUNT } from '../../federation/slots.js';

const GROUP_SIZE = 50;
const REGISTRATION_MAX = 6 + 2 * (GROUP_SIZE - 1);
const models = new Map<number, FederationModel>([100, 1_000].map((nodes) => [nodes, buildFederation({ nodes, seed: 7 })]));
const model = (nodes: number) => models.get(nodes) as FederationModel;

function nameHomedIn(federation: FederationModel, wantHome: (home: string) => boolean): string {
  for (let index = 0; ; index++) {
    const name = `probe-${index}`;
    if (wantHome(homeGroup(federation.directory, name) as string)) return name;
  }
}

describe('scale model — topology', () => {
  it('connections per node stay within (group size − 1) + gateway links; members stay in their group', () => {
    for (const nodes of [100, 1_000]) {
      const federation = model(nodes);
      const figures = measureFederation(federation, { registrationSamples: 10, whereisSamples: 10 });
      expect(figures.groups).toBe(nodes / GROUP_SIZE);
      expect(figures.connectionsMax).toBeLessThanOrEqual(figures.connectionsBound);
      expect(figures.memberConnectionsMax).toBe(GROUP_SIZE - 1);
      const gatewayNodes = new Set([...federation.gateways.values()].flat().map((gateway) => gateway.node));
      for (const [node, peers] of federation.connections) {
        if (gatewayNodes.has(node)) continue;
        for (const peer of peers) expect(federation.groupOf.get(peer)).toBe(federation.groupOf.get(node));
      }
      expect(measureFullMesh(nodes, { samples: 1 }).connectionsMax).toBe(nodes - 1);
    }
  });

  it('the directory grown group by group is balanced and every group has its gateways in it', () => {
    const federation = model(1_000);
    const counts = federation.groupIds.map((id) => federation.directory.slotCount(id));
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(SLOT_COUNT);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    for (const id of federation.groupIds) expect(federation.directory.group(id)?.gateways).toHaveLength(2);
  });
});

describe('scale model — message accounting', () => {
  it('a registration walks client → gateways → leader, replicates to every member, and walks back', () => {
    const federation = model(1_000);
    const gatewayNodes = new Set([...federation.gateways.values()].flat().map((gateway) => gateway.node));
    const client = [...federation.groupOf.keys()].find((node) => !gatewayNodes.has(node) && ![...federation.leaders.values()].includes(node)) as string;
    const own = federation.groupOf.get(client) as string;
    const local = nameHomedIn(federation, (home) => home === own);
    expect(registrationMessages(federation, client, local)).toBe(1 + 2 * (GROUP_SIZE - 1) + 1);
    const remote = nameHomedIn(federation, (home) => home !== own && !gatewayNodes.has(federation.leaders.get(home) as string));
    expect(registrationMessages(federation, client, remote)).toBe(REGISTRATION_MAX);
    expect(remoteWhereisMessages(federation, client, remote)).toBe(4);
    expect(remoteWhereisMessages(federation, client, remote, true)).toBe(4 + 2 + 2 * 4);
    const gatewayClient = (federation.gateways.get(own) ?? [])[0]?.node as string;
    expect(remoteWhereisMessages(federation, gatewayClient, remote)).toBe(2);
  });

  it('messages per registration do not grow with the number of groups; the full mesh grows with n', () => {
    const small = measureFederation(model(100));
    const large = measureFederation(model(1_000));
    expect(large.groups).toBe(10 * small.groups);
    expect(small.registrationMessagesMax).toBeLessThanOrEqual(REGISTRATION_MAX);
    expect(large.registrationMessagesMax).toBeLessThanOrEqual(REGISTRATION_MAX);
    expect(large.registrationMessagesMean).toBeLessThan(small.registrationMessagesMean * 1.05);
    expect(large.remoteWhereisMessagesMean).toBeLessThanOrEqual(4);
    expect(fullMeshRegistrationMessages(100, 0)).toBe(5 * 99);
    expect(measureFullMesh(1_000, { samples: 2 }).registrationMessagesMean).toBe(5 * 999);
    expect(large.heartbeatsPerSecond).toBeLessThan(measureFullMesh(1_000, { samples: 1 }).heartbeatsPerSecond / 10);
  });

  it('is deterministic from its seed', () => {
    const again = measureFederation(buildFederation({ nodes: 100, seed: 7 }), { registrationSamples: 200, whereisSamples: 200 });
    expect(again).toEqual(measureFederation(model(100), { registrationSamples: 200, whereisSamples: 200 }));
  });
});
