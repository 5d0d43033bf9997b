/**
 * The federation scale simulator: a federation of N in-process nodes running the REAL code of
 * every node — `Node`, `Distribution` (handshake, sealed records, heartbeats), `Group` (Raft,
 * memory store) and `Federation` (directory, gateways, routing, moves, holder checks) — with
 * production settings, over a virtual network (virtual-network.ts) on virtual time
 * (virtual-time.ts). Nothing is modelled: connections are what the distributions open, and
 * messages are what they send. Never imported by product code.
 *
 * What it counts:
 * - connections per node: stream ends open at each node's addresses (its group member and,
 *   if it is a gateway, its hidden gateway node), as the virtual transport sees them;
 * - messages: every control-lane message a distribution sends (`sendControl`: Raft, group
 *   protocol, federation RPCs and notices), classified by kind; link heartbeats separately, from
 *   the connections' own counters (`heartbeatsSent`);
 * - per operation, the messages it causes: time stands still while the operation runs and the
 *   network settles, so nothing periodic (heartbeats, ticks, polls) mixes in. `elapsedMs` says
 *   whether the operation needed simulated time (it should not).
 *
 * Usage (virtual time is installed from `build` to `close`: nothing else in the process may
 * rely on real timers meanwhile):
 *
 *   const sim = await FederationSim.build({ nodes: 1_000, groupSizeMax: 50, seed: 1 });
 *   try { sim.connections(); await sim.registration(); await sim.idle(10_000); } finally { await sim.close(); }
 */
import { Distribution, type DistributionOptions, Encoded, Node, type Pid, Rng, assert } from '../../runtime/index.js';
import { Group } from '../../registry/index.js';
import type { GroupId } from '../directory.js';
import { Federation, FEDERATION_DEFAULTS, type FederationSettings } from '../federation.js';
import { type FederationMachines, federationMachines } from '../machines.js';
import type { Directory } from '../directory.js';
import { slotOf } from '../slots.js';
import { VirtualNetwork } from './virtual-network.js';
import { VirtualTime } from './virtual-time.js';

const COOKIE = 'federation-sim-cookie-0123456789';
const silent = (): void => undefined;
/** Simulated time allowed for one build phase (joins, gateway choice, directory, rebalance). */
const PHASE_TIMEOUT_MS = 300_000;
/** Simulated quiet time after the build, before anything is measured. */
const SETTLE_AFTER_BUILD_MS = 2_000;
/** Simulated time allowed for one measured operation. */
const OPERATION_TIMEOUT_MS = 30_000;
/** Draws tried to find a name homed outside the client's group. */
const REMOTE_NAME_ATTEMPTS_MAX = 10_000;

export interface SimOptions {
  readonly nodes: number;
  readonly groupSizeMax: number;
  readonly seed: number;
  /** Federation settings (default: `FEDERATION_DEFAULTS`). */
  readonly federation?: Partial<FederationSettings>;
  /** Told when each build phase ends, with the simulated time then (progress for long runs). */
  readonly onPhase?: (phase: string, simulatedMs: number) => void;
}

export interface SimMember {
  readonly index: number;
  readonly groupId: GroupId;
  readonly node: Node;
  readonly distribution: CountingDistribution;
  readonly group: Group;
  readonly federation: Federation;
  readonly machines: FederationMachines;
  readonly address: string;
  readonly gatewayAddress: string;
}

export interface TracedMessage {
  readonly kind: string;
  readonly from: string;
  readonly to: string;
}

/** Messages by kind (e.g. `raft append`, `gateway rpc serve`, `gateway rpc reply`). */
export class Tally {
  readonly counts = new Map<string, number>();
  total = 0;
  /** While set, every message is also listed here (who sent what to whom). */
  trace: TracedMessage[] | undefined;

  count(kind: string, from: string, to: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.total++;
    this.trace?.push({ kind, from, to });
  }

  snapshot(): Map<string, number> {
    return new Map(this.counts);
  }

  /** What was counted since `before`. */
  since(before: Map<string, number>): Map<string, number> {
    const out = new Map<string, number>();
    for (const [kind, count] of this.counts) {
      const delta = count - (before.get(kind) ?? 0);
      if (delta > 0) out.set(kind, delta);
    }
    return out;
  }
}

/** What kind of message a control payload is (for the breakdown; the payloads are the runtime's). */
export function messageKind(channel: string, payload: unknown): string {
  const message = (payload ?? {}) as { type?: unknown; method?: unknown; entries?: unknown };
  if (channel.startsWith('raft:')) {
    // Entries travel pre-encoded (`Encoded`, only ever for a non-empty batch) or as an array.
    if (message.type === 'append') return message.entries instanceof Encoded || (Array.isArray(message.entries) && message.entries.length > 0) ? 'raft append (entries)' : 'raft append (commit only)';
    return `raft ${String(message.type)}`;
  }
  if (channel.startsWith('group:')) return `group ${String(message.type)}`;
  if (channel === 'fed:member' || channel === 'fed:gw') {
    const scope = channel === 'fed:member' ? 'member rpc' : 'gateway rpc';
    return message.type === 'req' ? `${scope} ${String(message.method)}` : `${scope} reply`;
  }
  return channel;
}

/** A real `Distribution` that also tallies every control message it sends. */
export class CountingDistribution extends Distribution {
  readonly #tally: Tally;

  constructor(options: DistributionOptions, tally: Tally) {
    super(options);
    this.#tally = tally;
  }

  override sendControl(nodeName: string, channel: string, payload: unknown): boolean {
    const sent = super.sendControl(nodeName, channel, payload);
    if (sent) this.#tally.count(messageKind(channel, payload), this.node.name, nodeName);
    return sent;
  }

  /** Link heartbeats sent over this distribution's open connections. */
  heartbeatsSent(): number {
    let total = 0;
    for (const peer of Object.values(this.stats().peers)) total += peer.heartbeatsSent;
    return total;
  }
}

export interface OperationCount {
  readonly messages: number;
  readonly byKind: Map<string, number>;
  /** Every message, in the order sent. */
  readonly trace: readonly TracedMessage[];
  /** Simulated time the operation needed (0: it ran on messages alone). */
  readonly elapsedMs: number;
}

export interface ConnectionFigures {
  /** Connections per node (its member address plus its gateway address, if any). */
  readonly perNode: readonly number[];
  readonly max: number;
  readonly mean: number;
  /** Most held by a node that is not a gateway. */
  readonly memberMax: number;
  /** Most held by a gateway node, and of those how many are hidden (gateway) links. */
  readonly gatewayMax: number;
  readonly hiddenMax: number;
  readonly gateways: number;
}

export interface IdleFigures {
  readonly windowMs: number;
  /** Per second of simulated time, cluster-wide. */
  readonly linkHeartbeatsPerSecond: number;
  readonly gatewayLinkHeartbeatsPerSecond: number;
  readonly messagesPerSecond: number;
  readonly byKindPerSecond: Map<string, number>;
}

function nodeAddress(index: number, port: number): string {
  return `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}:${port}`;
}

function groupIdOf(index: number): GroupId {
  return `g${String(index).padStart(4, '0')}`;
}

/** Group sizes for `nodes` in groups of at most `groupSizeMax`, as equal as possible. */
export function groupSizes(nodes: number, groupSizeMax: number): number[] {
  const groups = Math.ceil(nodes / groupSizeMax);
  return Array.from({ length: groups }, (_, group) => Math.floor(nodes / groups) + (group < nodes % groups ? 1 : 0));
}

export class FederationSim {
  readonly time = new VirtualTime();
  readonly network = new VirtualNetwork();
  readonly tally = new Tally();
  readonly members: SimMember[] = [];
  readonly groups = new Map<GroupId, SimMember[]>();
  readonly options: SimOptions;
  readonly settings: FederationSettings;
  readonly #rng: Rng;
  #restore: (() => void) | undefined;
  #closed = false;

  private constructor(options: SimOptions) {
    this.options = options;
    this.settings = { ...FEDERATION_DEFAULTS, ...options.federation };
    this.#rng = new Rng(options.seed);
    this.time.watch(this.network);
  }

  /** Build the federation: groups formed and joined, gateways linked, slots spread evenly. */
  static async build(options: SimOptions): Promise<FederationSim> {
    assert(options.nodes >= 1 && options.groupSizeMax >= 1, 'a simulation needs nodes and groups');
    const sim = new FederationSim(options);
    sim.#restore = sim.time.install();
    try {
      await sim.#build();
    } catch (error) {
      await sim.close();
      throw error;
    }
    return sim;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      for (const member of [...this.members].reverse()) {
        await this.#drive(member.federation.close(), 'close federation');
        await this.#drive(member.group.close(), 'close group');
        await this.#drive(member.distribution.close(), 'close distribution');
        await this.#drive(member.node.stop(), 'stop node');
      }
    } finally {
      this.#restore?.();
      this.#restore = undefined;
    }
  }

  get groupIds(): GroupId[] {
    return [...this.groups.keys()];
  }

  get root(): SimMember {
    return this.members[0] as SimMember;
  }

  isGateway(member: SimMember): boolean {
    return member.federation.status().gateway !== null;
  }

  isLeader(member: SimMember): boolean {
    return member.group.status().role === 'leader';
  }

  /** The member a node name (its own, or its hidden gateway node's) belongs to. */
  memberOf(nodeName: string): SimMember | undefined {
    return this.members.find((member) => member.node.name === nodeName || member.federation.status().gateway?.node === nodeName);
  }

  /** Gateways of all other groups than `groupId`. */
  gatewaysOutside(groupId: GroupId): number {
    return this.members.filter((member) => member.groupId !== groupId && this.isGateway(member)).length;
  }

  /** (home group, holder group) pairs, home ≠ holder, where the home group holds names of the holder's pids. */
  holderPairs(): number {
    let pairs = 0;
    for (const [groupId, members] of this.groups) {
      const holders = (members[0] as SimMember).machines.global.holdersByGroup();
      for (const holder of holders.keys()) if (holder !== null && holder !== groupId) pairs++;
    }
    return pairs;
  }

  // ---- building ------------------------------------------------------------------------------

  async #build(): Promise<void> {
    const sizes = groupSizes(this.options.nodes, this.options.groupSizeMax);
    let next = 0;
    const planned = sizes.map((size, group) => ({ id: groupIdOf(group), indexes: Array.from({ length: size }, () => next++) }));
    const [rootPlan, ...others] = planned;
    assert(rootPlan !== undefined, 'at least one group');
    await this.#formGroups([rootPlan], []);
    await this.#phase(this.#until(() => this.#groupReady(rootPlan.id) && this.root.federation.status().ownedSlots > 0), 'root group ready');
    const seeds = this.#members(rootPlan.id).flatMap((member) => {
      const gateway = member.federation.status().gateway;
      return gateway === null ? [] : [gateway.address];
    });
    await this.#formGroups(others, seeds);
    await this.#phase(this.#until(() => this.#federationLinked()), 'federation linked');
    if (this.groups.size > 1) await this.#phase(this.root.federation.rebalance(), 'rebalance');
    await this.#phase(this.#until(() => this.#settled()), 'slots and caches settled');
    // Let one-off traffic (promotions, publishes, first polls) die down before anything is measured.
    await this.time.advance(SETTLE_AFTER_BUILD_MS);
  }

  async #formGroups(plans: ReadonlyArray<{ id: GroupId; indexes: number[] }>, seeds: readonly string[]): Promise<void> {
    const root = seeds.length === 0;
    const firsts = await Promise.all(plans.map((plan) => this.#startMember(plan.indexes[0] as number, plan.id, { bootstrap: true, root, seeds })));
    await this.#phase(this.#until(() => firsts.every((member) => member.group.status().role === 'leader')), 'first members lead');
    // One join at a time per group (all groups at once): a group adds one learner per
    // configuration change, and a join that finds one pending waits a full retry interval.
    const longest = Math.max(...plans.map((plan) => plan.indexes.length));
    for (let position = 1; position < longest; position++) {
      const joins: Promise<void>[] = [];
      for (const [which, plan] of plans.entries()) {
        const index = plan.indexes[position];
        if (index === undefined) continue;
        const member = await this.#startMember(index, plan.id, { bootstrap: false, root, seeds });
        joins.push(member.group.join((firsts[which] as SimMember).address, { timeoutMs: PHASE_TIMEOUT_MS }));
      }
      await this.#drive(Promise.all(joins), 'joins');
    }
    await this.#phase(this.#until(() => plans.every((plan) => this.#groupReady(plan.id))), 'groups ready');
  }

  async #startMember(index: number, groupId: GroupId, options: { bootstrap: boolean; root: boolean; seeds: readonly string[] }): Promise<SimMember> {
    const address = nodeAddress(index, 4370);
    const gatewayAddress = nodeAddress(index, 4371);
    const node = new Node({ name: `n${index}@sim` });
    await node.start();
    const distribution = new CountingDistribution(
      { node, cookie: COOKIE, transport: this.network.transport(address), rng: this.#rng.fork(), logger: silent, reconnect: true },
      this.tally,
    );
    await distribution.start();
    const machines = federationMachines();
    const group = await Group.open({
      node,
      distribution,
      group: groupId,
      memory: true,
      address,
      bootstrap: options.bootstrap,
      clock: this.time,
      rng: this.#rng.fork(),
      extensions: machines.extensions,
      log: silent,
    });
    const federation = await Federation.attach({
      node,
      distribution,
      group,
      machines,
      cookie: COOKIE,
      createRoot: options.root,
      seeds: options.seeds,
      clock: this.time,
      gatewayLogger: silent,
      ...this.options.federation,
      startGatewayDistribution: async (gatewayOptions) => {
        const hidden = new CountingDistribution({ ...gatewayOptions, transport: this.network.transport(gatewayAddress), rng: this.#rng.fork() }, this.tally);
        await hidden.start();
        return hidden;
      },
    });
    const member: SimMember = { index, groupId, node, distribution, group, federation, machines, address, gatewayAddress };
    this.members.push(member);
    const list = this.groups.get(groupId) ?? [];
    list.push(member);
    this.groups.set(groupId, list);
    return member;
  }

  #members(groupId: GroupId): SimMember[] {
    return this.groups.get(groupId) ?? [];
  }

  /** Every member joined, the gateways chosen and up, and the root directory lists them. */
  #groupReady(groupId: GroupId): boolean {
    const members = this.#members(groupId);
    const wanted = Math.min(this.settings.gatewaysWanted, members.length);
    const status = members[0]?.group.status();
    if (status === undefined || status.voters.length + status.learners.length !== members.length) return false;
    if (!members.every((member) => member.federation.status().gateways.length === wanted)) return false;
    const record = this.#rootDirectoryRecord(groupId);
    return record !== undefined && record.gateways.length === wanted;
  }

  #rootDirectoryRecord(groupId: GroupId) {
    return this.#rootDirectory().group(groupId);
  }

  /** The root member's replica of the directory. */
  #rootDirectory(): Directory {
    return this.root.machines.directory;
  }

  /** Every gateway holds a hidden link to every gateway of every other group. */
  #federationLinked(): boolean {
    if (!this.groupIds.every((id) => this.#groupReady(id))) return false;
    const gateways = this.members.filter((member) => this.isGateway(member));
    return gateways.every((gateway) => {
      const hidden = gateway.federation.gatewayDistribution();
      return hidden !== undefined && gateways.every((other) => other.groupId === gateway.groupId || hidden.isConnected(other.federation.status().gateway!.node));
    });
  }

  /** No move in progress, every group's log owns what the directory gives it, every gateway's cache current. */
  #settled(): boolean {
    const directory = this.#rootDirectory();
    if (directory.moves().length > 0) return false;
    for (const [groupId, members] of this.groups) {
      if (!members.every((member) => member.federation.status().ownedSlots === directory.slotCount(groupId))) return false;
    }
    return this.members.every((member) => !this.isGateway(member) || member.federation.status().directoryRevision === directory.revision);
  }

  /** A promise that resolves once `condition()` holds (checked as time moves). */
  #until(condition: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (condition() ? resolve() : this.time.setTimeout(check, 10));
      check();
    });
  }

  async #phase<T>(promise: Promise<T>, what: string): Promise<T> {
    const value = await this.#drive(promise, what);
    this.options.onPhase?.(what, this.time.now());
    return value;
  }

  /** Advance simulated time until `promise` settles. */
  async #drive<T>(promise: Promise<T>, what: string, timeoutMs = PHASE_TIMEOUT_MS): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    promise.then(
      (value) => (outcome = { ok: true, value }),
      (error: unknown) => (outcome = { ok: false, error }),
    );
    await this.time.settle();
    if (outcome === undefined && !(await this.time.until(() => outcome !== undefined, timeoutMs))) {
      throw new Error(`simulation: ${what} did not finish within ${timeoutMs} simulated ms`);
    }
    const done = outcome as { ok: true; value: T } | { ok: false; error: unknown };
    if (!done.ok) throw done.error;
    return done.value;
  }

  // ---- measuring -----------------------------------------------------------------------------

  connections(): ConnectionFigures {
    const perNode: number[] = [];
    let memberMax = 0;
    let gatewayMax = 0;
    let hiddenMax = 0;
    let gateways = 0;
    for (const member of this.members) {
      const hidden = this.network.openAt(member.gatewayAddress);
      const count = this.network.openAt(member.address) + hidden;
      perNode.push(count);
      if (this.isGateway(member)) {
        gateways++;
        gatewayMax = Math.max(gatewayMax, count);
        hiddenMax = Math.max(hiddenMax, hidden);
      } else memberMax = Math.max(memberMax, count);
    }
    return {
      perNode,
      max: Math.max(...perNode),
      mean: perNode.reduce((sum, count) => sum + count, 0) / perNode.length,
      memberMax,
      gatewayMax,
      hiddenMax,
      gateways,
    };
  }

  /** Run `operation` with time standing still (advancing only if it cannot finish without), and count what it sent. */
  async count(operation: () => Promise<unknown>): Promise<OperationCount> {
    await this.time.settle();
    const before = this.tally.snapshot();
    const total = this.tally.total;
    const startedMs = this.time.now();
    const trace: TracedMessage[] = [];
    this.tally.trace = trace;
    try {
      await this.#drive(operation(), 'measured operation', OPERATION_TIMEOUT_MS);
      await this.time.settle();
    } finally {
      this.tally.trace = undefined;
    }
    return { messages: this.tally.total - total, byKind: this.tally.since(before), trace, elapsedMs: this.time.now() - startedMs };
  }

  /** A random member and a process on it. */
  client(): { member: SimMember; pid: Pid } {
    const member = this.#rng.pick(this.members);
    const pid = member.node.spawn(async (ctx) => {
      await ctx.receive((message) => message === 'stop');
    });
    return { member, pid };
  }

  /** A fresh name (never registered, never looked up), optionally homed outside `groupId`. */
  name(outside?: GroupId): string {
    const directory = this.#rootDirectory();
    for (let attempt = 0; attempt < REMOTE_NAME_ATTEMPTS_MAX; attempt++) {
      const name = `svc-${this.#rng.nextUint32().toString(36)}-${attempt}`;
      if (outside === undefined || directory.ownerOf(slotOf(name)) !== outside) return name;
    }
    throw new Error(`no name homed outside ${outside} within ${REMOTE_NAME_ATTEMPTS_MAX} draws`);
  }

  homeOf(name: string): GroupId {
    return this.#rootDirectory().ownerOf(slotOf(name)) as GroupId;
  }

  /** One global registration by a random client of a fresh name. */
  async registration(): Promise<OperationCount & { client: SimMember; name: string; home: GroupId }> {
    const { member, pid } = this.client();
    const name = this.name();
    const counted = await this.count(() => member.federation.register(name, pid));
    return { ...counted, client: member, name, home: this.homeOf(name) };
  }

  /** One `whereis` by a random client of a name homed in another group (uncached unless `again`). */
  async remoteWhereis(name: string, client: SimMember, consistency: 'local' | 'linearizable' = 'local'): Promise<OperationCount> {
    return this.count(() => client.federation.whereis(name, { consistency }));
  }

  /** Count everything the idle federation sends over `windowMs` of simulated time. */
  async idle(windowMs: number): Promise<IdleFigures> {
    await this.time.settle();
    const heartbeats = () => {
      let visible = 0;
      let hidden = 0;
      for (const member of this.members) {
        visible += member.distribution.heartbeatsSent();
        const gateway = member.federation.gatewayDistribution();
        if (gateway instanceof CountingDistribution) hidden += gateway.heartbeatsSent();
      }
      return { visible, hidden };
    };
    const before = this.tally.snapshot();
    const total = this.tally.total;
    const beats = heartbeats();
    await this.time.advance(windowMs);
    const after = heartbeats();
    const perSecond = 1_000 / windowMs;
    const byKind = new Map<string, number>();
    for (const [kind, count] of this.tally.since(before)) byKind.set(kind, count * perSecond);
    return {
      windowMs,
      linkHeartbeatsPerSecond: (after.visible - beats.visible + after.hidden - beats.hidden) * perSecond,
      gatewayLinkHeartbeatsPerSecond: (after.hidden - beats.hidden) * perSecond,
      messagesPerSecond: (this.tally.total - total) * perSecond,
      byKindPerSecond: byKind,
    };
  }
}
