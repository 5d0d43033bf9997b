/**
 * The fault schedule of a run and the partition shapes, as pure functions of the seed.
 *
 * `makeSchedule` draws, from the seed alone, which fault happens when and for how long, and a
 * `pick` number per step (faults of one kind never overlap; faults of different kinds may); the runner resolves "which nodes" at run time from `pick`, the live
 * nodes and the current leader (which node leads is the cluster's doing, not the seed's), with
 * `chooseTargets` / `partitionBlocks` — also pure. So a seed gives the same schedule every time,
 * and the same cluster state gives the same victims.
 *
 * Partition shapes (a block list per node: the nodes it must not talk to; always symmetric):
 * - halves: a random split into floor(n/2) and ceil(n/2);
 * - leader: the leader alone against the rest;
 * - ring: nodes on a random ring, each sees its nearest neighbours — a majority counting
 *   itself — so every node sees a different majority (Jepsen's majorities-ring); it needs 4
 *   nodes (`PARTITION_SHAPE_NODES_MIN`): on 3 the neighbours are everyone;
 * - bridge: two halves that cannot talk, and one node that talks to both.
 * In a federation those four cut one group (chosen by `pick`, `pickGroup`), and two more shapes
 * cut across groups (`federationPartition`):
 * - group: every member of one group is cut from every node of the other groups;
 * - gateways: the members hosting one group's gateways are each cut from every other node, of
 *   their own group and the others (the group's leader must choose other gateways, if it can).
 * Cross-group traffic runs over the gateways' hidden nodes (`<member>-gw@host`), so those block
 * lists also name the gateway nodes; a node's fault hook must apply them to its gateway links.
 */
import { Rng, fedError } from '../runtime/index.js';
import { type FaultKind, type FederationPartitionShape, PARTITION_SHAPE_NODES_MIN, type PartitionShape } from './options.js';

export type TargetRole = 'leader' | 'minority' | 'majority';

export interface FaultStep {
  readonly index: number;
  readonly kind: FaultKind;
  /** Offset from the start of the workload. */
  readonly startMs: number;
  readonly durationMs: number;
  /** For partitions. */
  readonly shape?: PartitionShape;
  /** For kill, pause and wipe: which nodes, by role (wipe: the leader or a minority only). */
  readonly role?: TargetRole;
  /** For membership: join or leave; for gateway-loss: kill or pause. */
  readonly action?: 'join' | 'leave' | 'kill' | 'pause';
  /** A number that seeds the run-time choice of nodes. */
  readonly pick: number;
}

/**
 * Each fault kind has its own timeline, drawn from its own stream of the seed: its faults follow
 * one another (one partition at a time, one kill at a time…), while faults of different kinds
 * overlap freely (a kill during a partition, a pause during a membership change). Each kind
 * fires on average every `intervalMs × kinds`, so all kinds together start a fault every
 * `intervalMs` on average, whatever the mix.
 */
/** The first fault of a kind starts at this share of the kind's interval, at random between the two (kinds start apart). */
const FIRST_FAULT_FRACTION_MIN = 0.2;
const FIRST_FAULT_FRACTION_MAX = 0.8;
/** A fault lasts this share of its kind's interval, at random between the two. */
const FAULT_DURATION_FRACTION_MIN = 0.4;
const FAULT_DURATION_FRACTION_MAX = 0.65;
/** Shortest quiet time between two faults of one kind. */
const FAULT_GAP_MS_MIN = 500;
/** No fault starts closer than this to the end of the workload. */
const LAST_FAULT_MARGIN_MS = 1_000;
export const FAULT_STEPS_MAX = 10_000;
const KIND_ORDER: readonly FaultKind[] = ['partition', 'kill', 'pause', 'membership', 'gateway-loss', 'wipe'];

export function makeSchedule(seed: number, kinds: readonly FaultKind[], shapes: readonly PartitionShape[], timeMs: number, intervalMs: number): FaultStep[] {
  const used = KIND_ORDER.filter((kind) => kinds.includes(kind) && (kind !== 'partition' || shapes.length > 0));
  if (used.length === 0) return [];
  const kindIntervalMs = intervalMs * used.length;
  const drafts = used.flatMap((kind) => kindTimeline(seed, kind, shapes, timeMs, kindIntervalMs));
  drafts.sort((a, b) => a.startMs - b.startMs || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  return drafts.slice(0, FAULT_STEPS_MAX).map((draft, index) => ({ ...draft, index }));
}

/** One kind's faults, one after the other, from the kind's own stream of the seed. */
function kindTimeline(seed: number, kind: FaultKind, shapes: readonly PartitionShape[], timeMs: number, intervalMs: number): Omit<FaultStep, 'index'>[] {
  const rng = new Rng((seed ^ 0x5eed_fa17 ^ Math.imul(KIND_ORDER.indexOf(kind) + 1, 0x9e37_79b1)) >>> 0);
  const steps: Omit<FaultStep, 'index'>[] = [];
  let membershipJoins = 0;
  let membershipLeaves = 0;
  let startMs = Math.round(intervalMs * (FIRST_FAULT_FRACTION_MIN + rng.next() * (FIRST_FAULT_FRACTION_MAX - FIRST_FAULT_FRACTION_MIN)));
  while (startMs < timeMs - LAST_FAULT_MARGIN_MS && steps.length < FAULT_STEPS_MAX) {
    const fraction = FAULT_DURATION_FRACTION_MIN + rng.next() * (FAULT_DURATION_FRACTION_MAX - FAULT_DURATION_FRACTION_MIN);
    const durationMs = Math.min(Math.round(intervalMs * fraction), timeMs - startMs);
    const pick = rng.nextUint32();
    const base = { kind, startMs, durationMs, pick };
    if (kind === 'partition') {
      steps.push({ ...base, shape: rng.pick(shapes) });
    } else if (kind === 'kill' || kind === 'pause') {
      steps.push({ ...base, role: rng.pick(['leader', 'minority', 'majority'] as const) });
    } else if (kind === 'wipe') {
      // Never a majority: a majority's disks lost is data lost, which no protocol can undo.
      steps.push({ ...base, role: rng.pick(['leader', 'minority'] as const) });
    } else if (kind === 'gateway-loss') {
      steps.push({ ...base, action: rng.pick(['kill', 'pause'] as const) });
    } else {
      // Alternate so the group stays between its starting size and one more.
      const action = membershipJoins > membershipLeaves ? 'leave' : 'join';
      if (action === 'join') membershipJoins++;
      else membershipLeaves++;
      steps.push({ ...base, action });
    }
    const gapMs = Math.max(intervalMs - durationMs, FAULT_GAP_MS_MIN) + Math.round(rng.next() * intervalMs * 0.2);
    startMs += durationMs + gapMs;
  }
  return steps;
}

/**
 * The nodes a kill or pause hits: the leader (or a random node if none is known), a random
 * minority (at least one; fewer than half, so an even group keeps a quorum: 2 of 6, not 3), or a
 * random majority (never every node of a group of two or more).
 */
/** The most nodes of `nodes` that are fewer than half (at least one): 2 of 6, not 3. */
export function minorityMax(nodes: number): number {
  return Math.max(1, Math.ceil(nodes / 2) - 1);
}

export function chooseTargets(role: TargetRole, nodes: readonly string[], leader: string | null, pick: number): string[] {
  if (nodes.length === 0) return [];
  const rng = new Rng(pick);
  const shuffled = rng.shuffle([...nodes].sort());
  if (role === 'leader') return [leader !== null && nodes.includes(leader) ? leader : (shuffled[0] as string)];
  const majority = Math.floor(nodes.length / 2) + 1;
  if (role === 'majority') return shuffled.slice(0, Math.min(majority, Math.max(1, nodes.length - 1))).sort();
  return shuffled.slice(0, rng.range(1, minorityMax(nodes.length))).sort();
}

export interface Partition {
  /** Per node, the nodes it must not talk to (sorted). */
  readonly blocked: ReadonlyMap<string, readonly string[]>;
  /** e.g. "halves: [a b] | [c d e]". */
  readonly description: string;
}

/** The group a step of a federated run hurts: one of `groups`, drawn from the step's pick (apart from its choice of nodes). */
export function pickGroup(groups: readonly string[], pick: number): string {
  if (groups.length === 0) throw fedError('badarg', 'no group to pick from');
  return new Rng((pick ^ 0x6a09_e667) >>> 0).pick([...groups].sort());
}

/**
 * The name of a member's gateway node, as fedctl names it (`n4@h` → `n4-gw@h`): the hidden node
 * that carries the member's links to other groups when it is a gateway.
 */
export function gatewayNodeName(member: string): string {
  const at = member.indexOf('@');
  return at < 0 ? `${member}-gw` : `${member.slice(0, at)}-gw${member.slice(at)}`;
}

/** A federation as the nemesis sees it when it cuts across groups. */
export interface Topology {
  readonly groups: ReadonlyArray<{
    readonly id: string;
    /** Its members (running or not). */
    readonly members: readonly string[];
    /** The members hosting its gateways now. */
    readonly gateways: readonly string[];
  }>;
}

/**
 * The block lists of a federation shape: `group` cuts the members of `target` from every node
 * of the other groups; `gateways` cuts each member hosting one of `target`'s gateways (if it
 * has none known, its first member) from every other node. A node blocks the nodes cut from it
 * and their gateway nodes. Refuses a federation of one group, or a target it does not have.
 */
export function federationPartition(shape: FederationPartitionShape, topology: Topology, target: string): Partition {
  const group = topology.groups.find((candidate) => candidate.id === target);
  if (topology.groups.length < 2 || group === undefined) throw fedError('badarg', `a ${shape} partition needs a federation of two or more groups with group ${target}`);
  const everyone = topology.groups.flatMap((candidate) => candidate.members).sort();
  const isolated = shape === 'group' ? [...group.members].sort() : [...(group.gateways.length > 0 ? group.gateways : group.members.slice(0, 1))].sort();
  const rest = everyone.filter((node) => !isolated.includes(node));
  const withGateways = (nodes: readonly string[]): string[] => nodes.flatMap((node) => [node, gatewayNodeName(node)]).sort();
  const blocked = new Map<string, string[]>();
  // A group goes off as one side; gateways each alone (cut from each other too).
  for (const node of isolated) blocked.set(node, withGateways(shape === 'group' ? rest : everyone.filter((other) => other !== node)));
  for (const node of rest) blocked.set(node, withGateways(isolated));
  const description = shape === 'group' ? `group ${target} cut off: ${listOf(isolated)} | ${listOf(rest)}` : `gateways of ${target} cut off: ${listOf(isolated)} | ${listOf(rest)}`;
  return { blocked, description };
}

/**
 * The block lists of a group shape over `nodes` (one group's members). Refuses (`badarg`) fewer
 * nodes than the shape needs to cut anything, so that nothing is recorded as a fault that
 * blocked nothing, and the federation shapes (see `federationPartition`).
 */
export function partitionBlocks(shape: PartitionShape, nodes: readonly string[], leader: string | null, pick: number): Partition {
  if (shape === 'group' || shape === 'gateways') throw fedError('badarg', `a ${shape} partition cuts across groups: see federationPartition`);
  if (nodes.length < PARTITION_SHAPE_NODES_MIN[shape]) {
    throw fedError('badarg', `a ${shape} partition needs at least ${PARTITION_SHAPE_NODES_MIN[shape]} nodes to cut anything, not ${nodes.length}`);
  }
  const rng = new Rng(pick);
  const sorted = [...nodes].sort();
  const shuffled = rng.shuffle([...sorted]);
  switch (shape) {
    case 'halves': {
      const half = Math.floor(shuffled.length / 2);
      const sides = [shuffled.slice(0, half), shuffled.slice(half)];
      return { blocked: betweenSides(sorted, sides), description: `halves: ${sides.map(listOf).join(' | ')}` };
    }
    case 'leader': {
      const isolated = leader !== null && sorted.includes(leader) ? leader : (shuffled[0] as string);
      const sides = [[isolated], sorted.filter((node) => node !== isolated)];
      return { blocked: betweenSides(sorted, sides), description: `isolated leader: ${sides.map(listOf).join(' | ')}` };
    }
    case 'ring':
      return ringPartition(sorted, shuffled);
    case 'bridge': {
      const [bridge, ...rest] = shuffled;
      const half = Math.floor(rest.length / 2);
      const sides = [rest.slice(0, half), rest.slice(half)];
      return {
        blocked: betweenSides(sorted, sides),
        description: `bridge: ${listOf(sides[0] ?? [])} | ${shortName(bridge ?? '')} | ${listOf(sides[1] ?? [])}`,
      };
    }
  }
}

function listOf(nodes: readonly string[]): string {
  return `[${nodes.map(shortName).join(' ')}]`;
}

export function shortName(node: string): string {
  const at = node.indexOf('@');
  return at > 0 ? node.slice(0, at) : node;
}

/** Every node blocks the nodes of the other sides; nodes on no side block nobody. */
function betweenSides(nodes: readonly string[], sides: readonly (readonly string[])[]): Map<string, string[]> {
  const blocked = new Map<string, string[]>(nodes.map((node) => [node, []]));
  sides.forEach((side, index) => {
    const others = sides.filter((_, other) => other !== index).flat();
    for (const node of side) blocked.set(node, [...others].sort());
  });
  return blocked;
}

function ringPartition(sorted: readonly string[], ring: readonly string[]): Partition {
  const count = ring.length;
  const neighboursEachSide = Math.ceil(Math.floor(count / 2) / 2);
  const blocked = new Map<string, string[]>();
  ring.forEach((node, position) => {
    const visible = new Set<string>([node]);
    for (let distance = 1; distance <= neighboursEachSide; distance++) {
      visible.add(ring[(position + distance) % count] as string);
      visible.add(ring[(position - distance + count) % count] as string);
    }
    blocked.set(node, sorted.filter((other) => !visible.has(other)));
  });
  return { blocked, description: `majority ring: ${ring.map(shortName).join(' → ')} → ${shortName(ring[0] ?? '')}` };
}
