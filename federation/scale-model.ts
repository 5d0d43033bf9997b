/**
 * Scale model: what federation costs as a cluster grows, side by side with an Erlang-style
 * full mesh. A model, not a network: nodes are names, connections are an adjacency graph, and
 * a request is a walk over that graph. Nothing here opens a socket or reads a clock; all
 * choices (leaders, gateways, names, clients) come from one seeded `Rng`.
 *
 * Federation topology built by `buildFederation`:
 * - ⌈n / groupSizeMax⌉ groups of as-equal-as-possible size; each group is a full mesh.
 * - `gatewaysPerGroup` members of each group are gateways; the i-th gateway of every group
 *   holds a hidden link to the i-th gateway of every other group (modulo that group's count),
 *   so each pair of groups has `gatewaysPerGroup` independent links.
 * - The directory is the real `Directory`, grown by the real commands: create the root, then
 *   add each group and run `planRebalance` and the move protocol after each addition.
 *
 * Message accounting (every message is one `send` along an existing connection; the walk
 * fails if a hop has no connection, so the figures come from routing, not from a formula):
 * - Global registration, federation: client → a gateway of its group (picked by
 *   `pickGateway`) → a linked gateway of the home group (from `homeGroup` on the directory) →
 *   that group's leader; the home gateway checks `routeRequest` says `serve`. Raft: the
 *   leader sends AppendEntries to every other member (voters and learners: every member keeps
 *   a replica) and each answers: 2 per follower; the commit index rides on the next append
 *   (0 extra). Reply: the same path back. A client in the home group sends straight to its
 *   leader. A hop from a node to itself costs nothing.
 * - Uncached remote `whereis` (home ≠ client's group): client → own gateway → home gateway,
 *   which answers from its local replica (`routeRequest(…, 'read')` = serve) → back. A
 *   linearizable variant adds gateway → leader, a ReadIndex heartbeat round to the other
 *   voters (2 each) and leader → gateway.
 * - Full mesh (Erlang `global`): registration = `set_lock` multi_call to every other node
 *   (request + reply each), the `register` multi_call (request + reply each), and the
 *   `del_lock` abcast (one each): 5(n − 1). `whereis` reads the local table: 0.
 * - Heartbeats: every connection ticks once per second in each direction, intra-group and
 *   gateway links alike, so heartbeats/s = the sum of all nodes' connection counts.
 *   Raft's own heartbeats are not counted (they can carry the node heartbeat).
 */
import { Rng, assert } from '../runtime/index.js';
import { Directory, type DirectoryCommand, type Gateway, type GroupId } from './directory.js';
import { planRebalance } from './rebalance.js';
import { homeGroup, pickGateway, routeRequest, type GatewayHealth } from './routing.js';

export const MODEL_DEFAULTS = {
  groupSizeMax: 50,
  gatewaysPerGroup: 2,
  registrationSamples: 1_000,
  whereisSamples: 1_000,
  fullMeshRegistrationSamples: 20,
  seed: 1,
} as const;

/** Draws tried to find a (client, name) pair whose name lives in another group. */
const REMOTE_SAMPLE_ATTEMPTS_MAX = 1_000;

/** Voters per group (the rest are learners), as the registry keeps them. */
export function votersFor(groupSize: number): number {
  return groupSize >= 5 ? 5 : groupSize >= 3 ? 3 : 1;
}

export interface FederationModelOptions {
  readonly nodes: number;
  readonly groupSizeMax?: number;
  readonly gatewaysPerGroup?: number;
  readonly seed?: number;
}

export interface FederationModel {
  readonly groupSizeMax: number;
  readonly directory: Directory;
  readonly groupIds: readonly GroupId[];
  readonly members: ReadonlyMap<GroupId, readonly string[]>;
  readonly groupOf: ReadonlyMap<string, GroupId>;
  readonly leaders: ReadonlyMap<GroupId, string>;
  readonly gateways: ReadonlyMap<GroupId, readonly Gateway[]>;
  readonly connections: ReadonlyMap<string, ReadonlySet<string>>;
  /** Slots moved while the federation grew, one group at a time. */
  readonly slotsMoved: number;
}

/** Counts messages along existing connections; a hop without a connection is a model bug. */
class MessageCounter {
  count = 0;
  constructor(private readonly connected: (from: string, to: string) => boolean) {}

  send(from: string, to: string): void {
    if (from === to) return;
    assert(this.connected(from, to), `no connection ${from} → ${to}`);
    this.count++;
  }
}

function nodeName(index: number): string {
  return `n${index}@10.0.${Math.floor(index / 250)}.${index % 250}`;
}

function groupId(index: number): GroupId {
  return `g${String(index).padStart(4, '0')}`;
}

function splitIntoGroups(nodes: number, groupSizeMax: number): string[][] {
  const groupCount = Math.ceil(nodes / groupSizeMax);
  const groups: string[][] = [];
  let next = 0;
  for (let group = 0; group < groupCount; group++) {
    const size = Math.floor(nodes / groupCount) + (group < nodes % groupCount ? 1 : 0);
    groups.push(Array.from({ length: size }, () => nodeName(next++)));
  }
  return groups;
}

function applyOrThrow(directory: Directory, command: DirectoryCommand): number {
  const result = directory.apply(directory.appliedIndex + 1, command);
  assert(result.ok, `${command.op} refused: ${result.ok ? '' : result.code}`);
  return result.revision;
}

/** Adds groups one by one, rebalancing after each through the real move protocol. Returns slots moved. */
function growDirectory(directory: Directory, groupIds: readonly GroupId[], gateways: ReadonlyMap<GroupId, readonly Gateway[]>): number {
  let moved = 0;
  groupIds.forEach((id, index) => {
    const list = gateways.get(id) ?? [];
    applyOrThrow(directory, index === 0 ? { op: 'create_root', group: id, gateways: list } : { op: 'add_group', group: id, gateways: list });
    for (const move of planRebalance(directory)) {
      const moveRevision = applyOrThrow(directory, { op: 'begin_move', slot: move.slot, to: move.to, expectedFrom: move.from });
      applyOrThrow(directory, { op: 'mark_copied', slot: move.slot, moveRevision });
      applyOrThrow(directory, { op: 'complete_move', slot: move.slot, moveRevision });
      moved++;
    }
  });
  return moved;
}

function connect(connections: Map<string, Set<string>>, a: string, b: string): void {
  if (a === b) return;
  (connections.get(a) as Set<string>).add(b);
  (connections.get(b) as Set<string>).add(a);
}

export function buildFederation(options: FederationModelOptions): FederationModel {
  const groupSizeMax = options.groupSizeMax ?? MODEL_DEFAULTS.groupSizeMax;
  const gatewaysPerGroup = options.gatewaysPerGroup ?? MODEL_DEFAULTS.gatewaysPerGroup;
  assert(options.nodes >= 1 && groupSizeMax >= 1 && gatewaysPerGroup >= 1, 'a model needs nodes, groups and gateways');
  const rng = new Rng(options.seed ?? MODEL_DEFAULTS.seed);
  const split = splitIntoGroups(options.nodes, groupSizeMax);
  const groupIds = split.map((_, index) => groupId(index));
  const members = new Map<GroupId, string[]>();
  const groupOf = new Map<string, GroupId>();
  const leaders = new Map<GroupId, string>();
  const gateways = new Map<GroupId, Gateway[]>();
  const connections = new Map<string, Set<string>>();
  split.forEach((nodes, index) => {
    const id = groupIds[index] as GroupId;
    members.set(id, nodes);
    for (const node of nodes) {
      groupOf.set(node, id);
      connections.set(node, new Set());
    }
    for (const a of nodes) for (const b of nodes) if (a < b) connect(connections, a, b);
    leaders.set(id, rng.pick(nodes));
    const chosen = rng.shuffle([...nodes]).slice(0, gatewaysPerGroup);
    gateways.set(id, chosen.map((node) => ({ node, address: `${node.split('@')[1] as string}:4370` })));
  });
  for (const a of groupIds) {
    for (const b of groupIds) {
      if (a >= b) continue;
      const left = gateways.get(a) as Gateway[];
      const right = gateways.get(b) as Gateway[];
      for (let index = 0; index < Math.max(left.length, right.length); index++) {
        connect(connections, (left[index % left.length] as Gateway).node, (right[index % right.length] as Gateway).node);
      }
    }
  }
  const directory = new Directory();
  const slotsMoved = growDirectory(directory, groupIds, gateways);
  return { groupSizeMax, directory, groupIds, members, groupOf, leaders, gateways, connections, slotsMoved };
}

function healthFrom(model: FederationModel, from: string): (node: string) => GatewayHealth {
  const links = model.connections.get(from);
  return (node) => (node === from || links?.has(node) === true ? 'connected' : 'alive');
}

/** Own gateway and the home group's gateway it is linked to. */
function gatewayPath(model: FederationModel, client: string, home: GroupId): [string, string] {
  const own = model.groupOf.get(client) as GroupId;
  const ownGateways = model.gateways.get(own) ?? [];
  // A gateway is its own way out; other members pick one by `pickGateway`.
  const ownGateway = ownGateways.find((gateway) => gateway.node === client) ?? pickGateway(ownGateways, client, healthFrom(model, client));
  assert(ownGateway !== undefined, `group ${own} has no gateway`);
  const homeGateways = model.directory.group(home)?.gateways ?? [];
  const homeGateway = pickGateway(homeGateways, ownGateway.node, healthFrom(model, ownGateway.node));
  assert(homeGateway !== undefined, `group ${home} has no gateway`);
  return [ownGateway.node, homeGateway.node];
}

function counterFor(model: FederationModel): MessageCounter {
  return new MessageCounter((from, to) => model.connections.get(from)?.has(to) === true);
}

function replicate(model: FederationModel, home: GroupId, counter: MessageCounter): void {
  const leader = model.leaders.get(home) as string;
  for (const member of model.members.get(home) ?? []) {
    if (member === leader) continue;
    counter.send(leader, member);
    counter.send(member, leader);
  }
}

/** Messages for one global registration of `name` by a process on `client`. */
export function registrationMessages(model: FederationModel, client: string, name: string): number {
  const counter = counterFor(model);
  const own = model.groupOf.get(client) as GroupId;
  const home = homeGroup(model.directory, name);
  assert(home !== undefined, 'every slot has an owner');
  const leader = model.leaders.get(home) as string;
  if (home === own) {
    assert(routeRequest(model.directory, home, name, 'write').action === 'serve', 'the home group serves its names');
    counter.send(client, leader);
    replicate(model, home, counter);
    counter.send(leader, client);
    return counter.count;
  }
  const [ownGateway, homeGateway] = gatewayPath(model, client, home);
  const path = [client, ownGateway, homeGateway, leader];
  for (let hop = 1; hop < path.length; hop++) counter.send(path[hop - 1] as string, path[hop] as string);
  assert(routeRequest(model.directory, home, name, 'write').action === 'serve', 'the home group serves its names');
  replicate(model, home, counter);
  for (let hop = path.length - 1; hop > 0; hop--) counter.send(path[hop] as string, path[hop - 1] as string);
  return counter.count;
}

/** Messages for an uncached `whereis` of a name homed in another group. */
export function remoteWhereisMessages(model: FederationModel, client: string, name: string, linearizable = false): number {
  const counter = counterFor(model);
  const home = homeGroup(model.directory, name) as GroupId;
  assert(home !== model.groupOf.get(client), 'a remote whereis is for a name of another group');
  const [ownGateway, homeGateway] = gatewayPath(model, client, home);
  counter.send(client, ownGateway);
  counter.send(ownGateway, homeGateway);
  assert(routeRequest(model.directory, home, name, 'read').action === 'serve', 'the home gateway serves reads');
  if (linearizable) {
    const leader = model.leaders.get(home) as string;
    counter.send(homeGateway, leader);
    const voters = (model.members.get(home) ?? []).filter((member) => member !== leader).slice(0, votersFor(model.members.get(home)?.length ?? 1) - 1);
    for (const voter of voters) {
      counter.send(leader, voter);
      counter.send(voter, leader);
    }
    counter.send(leader, homeGateway);
  }
  counter.send(homeGateway, ownGateway);
  counter.send(ownGateway, client);
  return counter.count;
}

/** Messages for one Erlang `global:register_name` in a full mesh of `nodes` nodes. */
export function fullMeshRegistrationMessages(nodes: number, client: number): number {
  const counter = new MessageCounter(() => true);
  const self = nodeName(client);
  // set_lock, then register: a gen_server multi_call each (request and reply per node).
  for (let phase = 0; phase < 2; phase++) {
    for (let other = 0; other < nodes; other++) {
      const peer = nodeName(other);
      counter.send(self, peer);
      counter.send(peer, self);
    }
  }
  for (let other = 0; other < nodes; other++) counter.send(self, nodeName(other)); // del_lock abcast
  return counter.count;
}

export interface Figures {
  readonly nodes: number;
  readonly topology: 'federation' | 'full mesh';
  readonly groups: number;
  readonly connectionsMax: number;
  readonly connectionsMean: number;
  /** Most connections held by a node that is not a gateway. */
  readonly memberConnectionsMax: number;
  readonly registrationMessagesMean: number;
  readonly registrationMessagesMax: number;
  readonly remoteWhereisMessagesMean: number;
  /** NaN where the topology has no such read (Erlang `global` has no linearizable whereis). */
  readonly linearizableWhereisMessagesMean: number;
  readonly heartbeatsPerSecond: number;
  /** The target: (group size max − 1) + (groups − 1) gateway links. */
  readonly connectionsBound: number;
  readonly slotsMoved: number;
}

export interface MeasureOptions {
  readonly registrationSamples?: number;
  readonly whereisSamples?: number;
  readonly seed?: number;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function sampleRemote(model: FederationModel, rng: Rng, nodes: readonly string[]): [string, string] | undefined {
  if (model.groupIds.length < 2) return undefined;
  // With two groups or more, at least half of the draws are remote: the bound is never reached.
  for (let attempt = 0; attempt < REMOTE_SAMPLE_ATTEMPTS_MAX; attempt++) {
    const client = rng.pick(nodes);
    const name = `svc-${rng.nextUint32()}`;
    if (homeGroup(model.directory, name) !== model.groupOf.get(client)) return [client, name];
  }
  assert(false, 'no remote name found within the sampling bound');
}

export function measureFederation(model: FederationModel, options: MeasureOptions = {}): Figures {
  const rng = new Rng(options.seed ?? MODEL_DEFAULTS.seed);
  const nodes = [...model.connections.keys()];
  const isGateway = new Set([...model.gateways.values()].flat().map((gateway) => gateway.node));
  const degrees = nodes.map((node) => model.connections.get(node)?.size ?? 0);
  const memberDegrees = nodes.filter((node) => !isGateway.has(node)).map((node) => model.connections.get(node)?.size ?? 0);
  const registrations: number[] = [];
  for (let sample = 0; sample < (options.registrationSamples ?? MODEL_DEFAULTS.registrationSamples); sample++) {
    registrations.push(registrationMessages(model, rng.pick(nodes), `svc-${rng.nextUint32()}`));
  }
  const whereis: number[] = [];
  const linearizable: number[] = [];
  for (let sample = 0; sample < (options.whereisSamples ?? MODEL_DEFAULTS.whereisSamples); sample++) {
    const picked = sampleRemote(model, rng, nodes);
    if (picked === undefined) break;
    whereis.push(remoteWhereisMessages(model, picked[0], picked[1]));
    linearizable.push(remoteWhereisMessages(model, picked[0], picked[1], true));
  }
  return {
    nodes: nodes.length,
    topology: 'federation',
    groups: model.groupIds.length,
    connectionsMax: Math.max(...degrees),
    connectionsMean: mean(degrees),
    memberConnectionsMax: memberDegrees.length === 0 ? 0 : Math.max(...memberDegrees),
    registrationMessagesMean: mean(registrations),
    registrationMessagesMax: Math.max(...registrations),
    remoteWhereisMessagesMean: mean(whereis),
    linearizableWhereisMessagesMean: mean(linearizable),
    heartbeatsPerSecond: degrees.reduce((sum, degree) => sum + degree, 0),
    connectionsBound: model.groupSizeMax - 1 + (model.groupIds.length - 1),
    slotsMoved: model.slotsMoved,
  };
}

/** The same figures for one Erlang-style full mesh of `nodes` nodes (connections are implicit). */
export function measureFullMesh(nodes: number, options: { samples?: number; seed?: number } = {}): Figures {
  const rng = new Rng(options.seed ?? MODEL_DEFAULTS.seed);
  const registrations: number[] = [];
  for (let sample = 0; sample < (options.samples ?? MODEL_DEFAULTS.fullMeshRegistrationSamples); sample++) {
    registrations.push(fullMeshRegistrationMessages(nodes, rng.int(nodes)));
  }
  return {
    nodes,
    topology: 'full mesh',
    groups: 1,
    connectionsMax: nodes - 1,
    connectionsMean: nodes - 1,
    memberConnectionsMax: nodes - 1,
    registrationMessagesMean: mean(registrations),
    registrationMessagesMax: Math.max(...registrations),
    remoteWhereisMessagesMean: 0,
    linearizableWhereisMessagesMean: Number.NaN,
    heartbeatsPerSecond: nodes * (nodes - 1),
    connectionsBound: nodes - 1,
    slotsMoved: 0,
  };
}
