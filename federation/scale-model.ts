/**
 * Scale model: what a federation costs, computed from the code's own topology and message
 * patterns, for cluster sizes too large to simulate (the simulator, federation/sim/, runs the
 * real code; `test/federation/scale-model.test.ts` checks every formula here against counts the
 * simulator measures, so the model says what the code does, not what it should do).
 * Pure: no I/O, clocks or randomness.
 *
 * Topology (federation.ts):
 * - ⌈n / groupSizeMax⌉ groups of as-equal-as-possible size; each group is a full mesh of
 *   visible links (the distribution makes them transitive).
 * - `gatewaysWanted` members of each group run a hidden gateway node; every gateway dials every
 *   gateway of every other group (`#maintain`), so a gateway holds Σ(other groups' gateways)
 *   hidden links and a pair of groups k_a · k_b of them.
 *
 * Messages per operation (every message one `sendControl` on an existing link; s = the home
 * group's size; the home group's Raft leader is assumed to be one of its gateways, as the
 * group's first member both leads and is chosen first):
 * - registration: a client that is not a gateway hands it to a gateway of its group (`route` +
 *   reply: 2); the gateway asks a gateway of the home group (`serve` + reply: 2); that gateway
 *   proposes in its group — forwarded to the leader if it is not the leader (`propose`: 1) —
 *   and the leader replicates: an append with the entry to every other member (voters and
 *   learners alike: s − 1), their answers (s − 1), then, once committed, an append carrying the
 *   commit index to each (s − 1) and their answers (s − 1): 4(s − 1). A client in the home group
 *   proposes itself (1 unless it leads) and no gateway is involved.
 * - uncached remote `whereis`: `route` + reply (2, unless the client is a gateway) and `serve` +
 *   reply (2); the home gateway answers from its replica. Linearizable: the home gateway first
 *   runs ReadIndex — forwarded to the leader if it is not the leader (`read_index` + response: 2)
 *   — and the leader confirms its leadership with a heartbeat round to every other voter
 *   (heartbeat + response: 2(v − 1), v = the group's voters: 3, or 5 from 5 members on;
 *   learners are not asked, they do not count toward the quorum).
 * - idle, per second: link heartbeats — each visible link carries one each way per
 *   `heartbeatTickMs`, each hidden link one each way per `gatewayTickMs`; Raft heartbeats — each
 *   leader sends one to every other member (and gets an answer) per `tickMs · heartbeatTicks`;
 *   the directory watch — each gateway outside the root group holds a poll open at a root
 *   gateway, answered after `directoryWatchMs` when nothing changes (2 messages); holder
 *   resyncs — each (home group, holder group) pair with names asks once per `holderResyncMs`
 *   (2 messages). Nothing else is sent while nothing changes.
 * - a full mesh of n nodes is one group of n: the same formulas with one group and no gateways.
 */
import { LIMITS } from '../runtime/index.js';
import { GROUP_DEFAULTS, targetVoters } from '../registry/index.js';
import { FEDERATION_DEFAULTS } from './federation.js';

export interface ScaleParameters {
  readonly nodes: number;
  readonly groupSizeMax: number;
  readonly gatewaysPerGroup: number;
  /** Visible (intra-group) link heartbeat tick. */
  readonly linkTickMs: number;
  /** Hidden (gateway) link heartbeat tick. */
  readonly gatewayTickMs: number;
  /** A Raft leader's heartbeat period (`tickMs · heartbeatTicks`). */
  readonly raftHeartbeatMs: number;
  readonly directoryWatchMs: number;
  readonly holderResyncMs: number;
  /** The maintenance period: a poll or resync is re-armed at the next maintenance tick. */
  readonly maintenanceIntervalMs: number;
}

/** The parameters the code runs with by default, for `nodes` in groups of up to `groupSizeMax`. */
export function defaultScaleParameters(nodes: number, groupSizeMax: number, overrides: Partial<ScaleParameters> = {}): ScaleParameters {
  return {
    nodes,
    groupSizeMax,
    gatewaysPerGroup: FEDERATION_DEFAULTS.gatewaysWanted,
    linkTickMs: LIMITS.heartbeatTickMs,
    gatewayTickMs: FEDERATION_DEFAULTS.gatewayTickMs,
    raftHeartbeatMs: GROUP_DEFAULTS.tickMs * GROUP_DEFAULTS.heartbeatTicks,
    directoryWatchMs: FEDERATION_DEFAULTS.directoryWatchMs,
    holderResyncMs: FEDERATION_DEFAULTS.holderResyncMs,
    maintenanceIntervalMs: FEDERATION_DEFAULTS.maintenanceIntervalMs,
    ...overrides,
  };
}

/** Group sizes for `nodes` in groups of at most `groupSizeMax`, as equal as possible (as the simulator builds them). */
export function modelGroupSizes(nodes: number, groupSizeMax: number): number[] {
  const groups = Math.ceil(nodes / groupSizeMax);
  return Array.from({ length: groups }, (_, group) => Math.floor(nodes / groups) + (group < nodes % groups ? 1 : 0));
}

// ---- per case ----------------------------------------------------------------------------------

/** Connections of one node: its group's mesh, plus, for a gateway, a hidden link to every gateway of every other group. */
export function connectionsOf(groupSize: number, gateway: boolean, otherGroupsGateways: number): number {
  return groupSize - 1 + (gateway ? otherGroupsGateways : 0);
}

export interface RegistrationCase {
  /** The client's group is the name's home group. */
  readonly sameGroup: boolean;
  readonly clientIsGateway: boolean;
  readonly clientIsLeader: boolean;
  /** The home group's gateway that serves the request leads its group (remote case). */
  readonly servingGatewayIsLeader: boolean;
  readonly homeGroupSize: number;
}

/** Raft messages for one committed entry in a group of `size`: entry out and back, commit out and back. */
export function replicationMessages(size: number): number {
  return 4 * (size - 1);
}

export function registrationMessages(c: RegistrationCase): number {
  if (c.sameGroup) return (c.clientIsLeader ? 0 : 1) + replicationMessages(c.homeGroupSize);
  return (c.clientIsGateway ? 0 : 2) + 2 + (c.servingGatewayIsLeader ? 0 : 1) + replicationMessages(c.homeGroupSize);
}

export interface WhereisCase {
  readonly clientIsGateway: boolean;
  readonly servingGatewayIsLeader: boolean;
  readonly homeGroupSize: number;
  readonly linearizable: boolean;
}

/** An uncached `whereis` of a name homed in another group. */
export function remoteWhereisMessages(c: WhereisCase): number {
  const hops = (c.clientIsGateway ? 0 : 2) + 2;
  if (!c.linearizable) return hops;
  return hops + (c.servingGatewayIsLeader ? 0 : 2) + readIndexRound(c.homeGroupSize);
}

/** The leader's ReadIndex confirmation in a group of `size`: a heartbeat and its answer to every other voter (learners do not count toward the quorum, so they are not asked). */
export function readIndexRound(size: number): number {
  return 2 * (targetVoters(size) - 1);
}

/** A linearizable `whereis` inside one group of `size`, from a uniformly chosen member. */
export function singleGroupLinearizableRead(size: number): number {
  const round = readIndexRound(size);
  return round + ((size - 1) / size) * 2;
}

// ---- whole clusters ----------------------------------------------------------------------------

export interface ModelFigures {
  readonly nodes: number;
  readonly groups: number;
  readonly connectionsMax: number;
  readonly connectionsMean: number;
  readonly memberConnectionsMax: number;
  /** Expected messages per registration: client uniform over nodes, home uniform over groups (slots are balanced). */
  readonly registrationMessagesMean: number;
  readonly registrationMessagesMax: number;
  /** Expected messages per uncached remote `whereis` (client uniform over nodes; 0 in one group: a local read). */
  readonly remoteWhereisMessagesMean: number;
  readonly linearizableWhereisMessagesMean: number;
  readonly linkHeartbeatsPerSecond: number;
  readonly gatewayLinkHeartbeatsPerSecond: number;
  readonly raftHeartbeatsPerSecond: number;
  /** Directory watch and holder resyncs (with `holderPairs` home/holder group pairs holding names). */
  readonly federationIdleMessagesPerSecond: number;
  /** Every message of an idle cluster per second, link heartbeats included. */
  readonly idleMessagesPerSecond: number;
}

/**
 * The figures of a federation (a single group when `groupSizeMax >= nodes`: the full mesh).
 * `holderPairs`: (home, holder) group pairs with names; default every ordered pair (names
 * registered from everywhere, homed everywhere).
 */
export function modelFigures(params: ScaleParameters, holderPairs?: number): ModelFigures {
  const sizes = modelGroupSizes(params.nodes, params.groupSizeMax);
  const groups = sizes.length;
  const gatewaysOf = sizes.map((size) => (groups === 1 ? 0 : Math.min(params.gatewaysPerGroup, size)));
  const totalGateways = gatewaysOf.reduce((sum, count) => sum + count, 0);
  let connectionsMax = 0;
  let connectionsSum = 0;
  let memberMax = 0;
  sizes.forEach((size, group) => {
    const gateways = gatewaysOf[group] as number;
    const others = totalGateways - gateways;
    const member = connectionsOf(size, false, others);
    const gateway = connectionsOf(size, true, others);
    if (size > gateways) memberMax = Math.max(memberMax, member);
    connectionsMax = Math.max(connectionsMax, gateways > 0 ? gateway : member);
    connectionsSum += gateways * gateway + (size - gateways) * member;
  });

  // Registration: client uniform over nodes; home uniform over groups.
  let registration = 0;
  let registrationMax = 0;
  let whereis = 0;
  let linearizable = 0;
  sizes.forEach((clientSize, clientGroup) => {
    const clientGateways = gatewaysOf[clientGroup] as number;
    const weight = clientSize / params.nodes;
    sizes.forEach((homeSize, homeGroup) => {
      const homeGateways = Math.max(1, gatewaysOf[homeGroup] as number);
      let cost: number;
      if (homeGroup === clientGroup) {
        const leader = registrationMessages({ sameGroup: true, clientIsGateway: false, clientIsLeader: true, servingGatewayIsLeader: true, homeGroupSize: homeSize });
        const follower = registrationMessages({ sameGroup: true, clientIsGateway: false, clientIsLeader: false, servingGatewayIsLeader: true, homeGroupSize: homeSize });
        cost = (leader + (clientSize - 1) * follower) / clientSize;
        registrationMax = Math.max(registrationMax, clientSize > 1 ? follower : leader);
      } else {
        cost = 0;
        for (const clientIsGateway of [true, false]) {
          const clientShare = clientIsGateway ? clientGateways / clientSize : 1 - clientGateways / clientSize;
          for (const servingGatewayIsLeader of [true, false]) {
            const servingShare = servingGatewayIsLeader ? 1 / homeGateways : 1 - 1 / homeGateways;
            const c = { sameGroup: false, clientIsGateway, clientIsLeader: false, servingGatewayIsLeader, homeGroupSize: homeSize };
            cost += clientShare * servingShare * registrationMessages(c);
            if (clientShare > 0 && servingShare > 0) registrationMax = Math.max(registrationMax, registrationMessages(c));
          }
        }
        let read = 0;
        let strong = 0;
        for (const clientIsGateway of [true, false]) {
          const clientShare = clientIsGateway ? clientGateways / clientSize : 1 - clientGateways / clientSize;
          for (const servingGatewayIsLeader of [true, false]) {
            const servingShare = servingGatewayIsLeader ? 1 / homeGateways : 1 - 1 / homeGateways;
            read += clientShare * servingShare * remoteWhereisMessages({ clientIsGateway, servingGatewayIsLeader, homeGroupSize: homeSize, linearizable: false });
            strong += clientShare * servingShare * remoteWhereisMessages({ clientIsGateway, servingGatewayIsLeader, homeGroupSize: homeSize, linearizable: true });
          }
        }
        whereis += (weight * read) / (groups - 1);
        linearizable += (weight * strong) / (groups - 1);
      }
      registration += (weight * cost) / groups;
    });
  });

  const perSecond = (periodMs: number) => 1_000 / periodMs;
  let visibleLinks = 0;
  for (const size of sizes) visibleLinks += (size * (size - 1)) / 2;
  let hiddenLinks = 0;
  for (let a = 0; a < groups; a++) for (let b = a + 1; b < groups; b++) hiddenLinks += (gatewaysOf[a] as number) * (gatewaysOf[b] as number);
  const gatewayLinkHeartbeats = 2 * hiddenLinks * perSecond(params.gatewayTickMs);
  const linkHeartbeats = 2 * visibleLinks * perSecond(params.linkTickMs) + gatewayLinkHeartbeats;
  const raftHeartbeats = sizes.reduce((sum, size) => sum + 2 * (size - 1), 0) * perSecond(params.raftHeartbeatMs);
  const watchers = totalGateways - (gatewaysOf[0] ?? 0);
  const pairs = holderPairs ?? groups * (groups - 1);
  const federationIdle = 2 * watchers * perSecond(params.directoryWatchMs) + 2 * pairs * perSecond(params.holderResyncMs);
  return {
    nodes: params.nodes,
    groups,
    connectionsMax,
    connectionsMean: connectionsSum / params.nodes,
    memberConnectionsMax: memberMax,
    registrationMessagesMean: registration,
    registrationMessagesMax: registrationMax,
    // One group: every name is local; a `whereis` reads the replica (no message) and a
    // linearizable one runs ReadIndex from the client's member (forwarded unless it leads).
    remoteWhereisMessagesMean: groups > 1 ? whereis : 0,
    linearizableWhereisMessagesMean: groups > 1 ? linearizable : singleGroupLinearizableRead(sizes[0] ?? 1),
    linkHeartbeatsPerSecond: linkHeartbeats,
    gatewayLinkHeartbeatsPerSecond: gatewayLinkHeartbeats,
    raftHeartbeatsPerSecond: raftHeartbeats,
    federationIdleMessagesPerSecond: federationIdle,
    idleMessagesPerSecond: linkHeartbeats + raftHeartbeats + federationIdle,
  };
}
