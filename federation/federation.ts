/**
 * `Federation`: one group member's part in the federation of groups — the global namespace
 * (`register`/`whereis`/`unregister`/`send` for names homed in any group), the group's
 * gateways, the directory and slot moves.
 *
 * How a request travels (DESIGN.md, federation):
 * - The home group of a name is the owner of `slotOf(name)`. A member serves a request itself
 *   when its own replica says its group holds the slot (writes: `owned`; reads: `owned` or
 *   `fenced`). Otherwise it hands the request to one of its group's gateways (intra-group link).
 * - A gateway routes with its directory view (`routeRequest`): `serve` here, `wait` (slot being
 *   moved: sleep `MOVE_WAIT_RETRY_MS` and retry) or forward to a gateway of the home group over
 *   its hidden link. The home gateway decides from its own LOG's slot state, never from a
 *   cache, and answers the value, `wait`, or `moved` with its view of the owner; the caller
 *   learns the answer and retries (at most `MOVED_REDIRECTS_MAX` redirects), all within one
 *   deadline (`requestTimeoutMs`). A home group with no reachable gateway is `unavailable`.
 * - Gateways run a second, hidden `Node` + `Distribution` in the same process (a node has one
 *   signal router, so the group's visible distribution cannot also carry hidden links). Its
 *   failure detector has its own, slower settings (`gatewayTickMs`, `gatewayHeartbeatTimeoutMs`),
 *   so a slow inter-group link never flaps group membership. Gateways relay in-process between
 *   the two nodes.
 * - Gateway choice: the group's Raft leader keeps `gatewaysWanted` live members in the group's
 *   log (`want_gateways`), never one that declared `gatewayEligible: false` (`gateway_eligible`
 *   in the log), replacing one out of touch for `gatewayDownGraceMs`; each wanted member starts
 *   its hidden gateway node and publishes its address (`gateway_up`); gateways publish the list
 *   to the root directory (`add_group`/`set_gateways`).
 * - Hidden links (`#keepLinks`): a gateway holds one to every gateway of every other live group
 *   in its view (of a pair, the smaller node name dials) and to its seeds until it knows the
 *   root; links of removed groups and replaced gateways are closed and not redialled.
 * - Directory: kept by the root group in its Raft log (extension `directory`). Root members read
 *   it from their replica; other groups' gateways follow it with a watch on a root gateway
 *   (`dir_since` held open until a change, up to `directoryWatchMs`: events, or a snapshot
 *   after a gap), and learn from `moved` answers. A group joins with `seeds`; `createRoot` with
 *   seeds creates the federation only once a seed says none exists there.
 * - Alarms: what keeps a group out of the federation (`two_roots`, `create_root_refused`,
 *   `add_group_refused`, `group_removed`) is recorded in the group's own log, so every member
 *   reports it (`status().alarms`) and `ready()` rejects with it.
 * - Caching: a gateway caches remote `whereis` answers; the home gateway that served one
 *   remembers the subscriber and sends `invalidate` on the name's next change. Entries learned
 *   through a gateway whose hidden link drops are forgotten (no stale answer across a
 *   partition). `{consistency: 'linearizable'}` skips the cache and reads through ReadIndex at home.
 * - Slot moves (`moveSlots`, `rebalance`, on a root member): begin (directory) → fence at the
 *   source (its log; the fence answers the slot's names) → import at the destination → mark
 *   copied → complete → accept at the destination, drop at the source. Every step's per-slot
 *   answer is checked: a slot refused on the way (the root's leader aborted its move as stalled,
 *   a group did not answer) leaves the batch and is undone as the directory decides
 *   (`moveOutcome`, handover.ts), never accepted or dropped as if it had moved. Each group also
 *   reconciles its slot states with the directory (`reconcileSteps`, guarded by move
 *   revisions), so a mover that dies half-way is finished or undone by the groups themselves.
 * - Names follow processes: a member that registered a pid of its group (its own or another
 *   member's) monitors it and unregisters its names when it exits, retrying (a fenced slot
 *   answers `wait`; the retry reaches the new owner after the move) until done. Names die with
 *   their holder's node too: the home group's first gateway asks each holder group about its
 *   nodes, subscribed to its `nodes_changed` notices, with a resync every `holderResyncMs`.
 * - Relayed monitors and links: the caller's gateway asks a gateway of the pid's group to watch
 *   (or link to) it through a proxy; a DOWN comes back the same way; a lost relay is
 *   `noconnection` at both ends of a link.
 *
 * Timers come from the injected `Clock`; randomness is not used.
 */
import {
  type Clock,
  Distribution,
  type DistributionOptions,
  Node,
  Pid,
  Ref,
  SystemClock,
  TcpTransport,
  FedError,
  appendAll,
  assert,
  fedError,
  type ErrorCode,
  type ExitReason,
  isDownMessage,
  isExitMessage,
  isFedError,
  type Logger,
  type ProcessContext,
} from '../runtime/index.js';
import { type Group, copyMeta } from '../registry/index.js';
import type { DirectoryCommand, DirectoryEvent, DirectoryRefusalCode, DirectoryResult, DirectorySnapshot, DirectoryView, Gateway, GroupId, GroupRecord, SlotMove } from './directory.js';
import { type FederationAlarm, type FederationAlarmCode, type GlobalCommand, type GlobalEntry, type GlobalResult, GLOBAL_EXTENSION, type GlobalNames, type SlotStep, IMPORT_NAMES_MAX, SLOT_BATCH_MAX } from './global-names.js';
import { DIRECTORY_EXTENSION, type FederationMachines } from './machines.js';
import { isValidGroupId, refusalError, refusalErrorCode } from './directory.js';
import { moveOutcome, reconcileSteps } from './handover.js';
import { planRebalance } from './rebalance.js';
import { DirectoryCache, type GatewayHealth, MOVED_REDIRECTS_MAX, type MovedAnswer, orderGateways, routeSlot } from './routing.js';
import { Rpc } from './rpc.js';
import { SLOT_COUNT, isSlot, slotOf } from './slots.js';

export const FEDERATION_DEFAULTS = {
  gatewaysWanted: 2,
  /**
   * The gateway links' own failure detector, WAN-like: five times slower ticks and six times
   * the silence of an intra-group link (runtime LIMITS: 1 s, 5 s) before a gateway link is
   * declared down, so a slow inter-group link does not flap; and it never touches the group's
   * own links or membership (they are another distribution).
   */
  gatewayTickMs: 5_000,
  gatewayHeartbeatTimeoutMs: 30_000,
  requestTimeoutMs: 5_000,
  hopTimeoutMs: 2_000,
  maintenanceIntervalMs: 250,
  directoryPollMs: 500,
  cacheEntriesMax: 100_000,
  subscriptionsMax: 100_000,
  releasesPendingMax: 100_000,
  waitRetryMs: 50,
  /** A gateway of another group that let a request time out is tried after the others for this long. */
  slowGatewayMs: 10_000,
  /** How often the holder checker looks at its own group's holder nodes, and at a group with a node in its grace period. */
  holderCheckMs: 1_000,
  /** A holder group is asked again at least this often even without a `nodes_changed` notice from it. */
  holderResyncMs: 30_000,
  /** How long a root gateway holds a directory poll open waiting for a change (a watch). */
  directoryWatchMs: 30_000,
  /** A holder node reported dead for this long loses its names. */
  nameDownGraceMs: 1_000,
  /** A wanted gateway out of touch with the group's leader this long is replaced. */
  gatewayDownGraceMs: 3_000,
  /** A slot move that makes no progress for this long (its mover died) is aborted by the root leader. */
  moveStallMs: 10_000,
} as const;

export type FederationSettings = { -readonly [K in keyof typeof FEDERATION_DEFAULTS]: number };

export type FederationConsistency = 'local' | 'linearizable';

export interface FederationOptions extends Partial<FederationSettings> {
  readonly node: Node;
  readonly distribution: Distribution;
  /** This member's group, opened with `machines.extensions`. */
  readonly group: Group;
  readonly machines: FederationMachines;
  readonly cookie: string;
  readonly cluster?: string;
  /** This group creates the federation (becomes the root group) if no root exists in its log. */
  readonly createRoot?: boolean;
  /** Hidden addresses of root-group gateways, for a group joining the federation. */
  readonly seeds?: readonly string[];
  /** Where a gateway's hidden listener binds (default 127.0.0.1, any port). */
  readonly gatewayHost?: string;
  readonly gatewayPort?: number;
  /** False: this member never serves as a gateway. */
  readonly gatewayEligible?: boolean;
  readonly clock?: Clock;
  readonly log?: (level: 'info' | 'warn', event: string, msg: string) => void;
  /** Logger of the hidden gateway distribution (default: the runtime's stderr JSON lines). */
  readonly gatewayLogger?: Logger;
  /**
   * How the hidden gateway distribution is started (default `Distribution.start`). It gets the
   * options the federation chose (hidden, tcp on `gatewayHost`, the gateway failure detector);
   * a simulator or a fault-injection test passes its own transport here.
   */
  readonly startGatewayDistribution?: (options: DistributionOptions) => Promise<Distribution>;
}

export interface GlobalWhereis {
  readonly name: string;
  readonly pid: Pid;
  readonly meta: Readonly<Record<string, unknown>>;
  /** The registration's revision in its home group's log: a fencing token. */
  readonly revision: number;
  /** The home group that answered. */
  readonly group: GroupId;
  /** The group the pid lives in (where messages are relayed), if known. */
  readonly holderGroup: GroupId | null;
}

export interface DirectorySummary {
  readonly revision: number;
  readonly rootGroup: GroupId | null;
  readonly groups: readonly GroupRecord[];
  readonly slots: Readonly<Record<GroupId, number>>;
  readonly moves: readonly SlotMove[];
}

/** Why a slot was not moved (see `Federation.moveSlotsReport`). */
export type SlotMoveRefusalCode = DirectoryRefusalCode | 'move_aborted' | 'unavailable';

export interface SlotMoveRefusal {
  readonly slot: number;
  readonly code: SlotMoveRefusalCode;
  readonly reason: string;
}

export interface SlotMoveReport {
  /** Slots now owned by the target group. */
  readonly moved: number[];
  readonly refused: SlotMoveRefusal[];
}

export interface FederationStatus {
  readonly group: GroupId;
  readonly root: boolean;
  readonly gateway: { readonly node: string; readonly address: string } | null;
  readonly gateways: readonly string[];
  readonly directoryRevision: number;
  readonly ownedSlots: number;
  readonly names: number;
  readonly cachedNames: number;
  /** Remote `whereis` answered from this gateway's cache / sent to the home group (local consistency). */
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly pendingReleases: number;
  /** Conditions that keep this group out of the federation (recorded in its log; see `ready()`). */
  readonly alarms: readonly FederationAlarm[];
}

type ReadRequest = { readonly kind: 'read'; readonly name: string; readonly consistency: FederationConsistency };
type WriteRequest = { readonly kind: 'write'; readonly name: string; readonly cmd: GlobalCommand };
type Request = ReadRequest | WriteRequest;

interface ReadValue {
  readonly entry: GlobalEntry | null;
  readonly group: GroupId;
  readonly applied: number;
  readonly cacheable: boolean;
}

type Answer =
  | { readonly type: 'ok'; readonly value: GlobalResult | ReadValue }
  | { readonly type: 'moved'; readonly answer: MovedAnswer }
  | { readonly type: 'wait'; readonly retryAfterMs: number };

interface GatewayLink {
  readonly node: Node;
  readonly distribution: Distribution;
  readonly rpc: Rpc;
  readonly dialed: Set<string>;
  readonly unsubscribe: () => void;
}

interface CachedRead {
  readonly value: ReadValue;
  readonly source: string;
}

/** Control channels. */
const MEMBER_CHANNEL = 'fed:member';
const GATEWAY_CHANNEL = 'fed:gw';
const INVALIDATE_CHANNEL = 'fed:inval';
/** A relayed monitor fired (home gateway → caller's gateway → caller). */
const DOWN_CHANNEL = 'fed:down';
/** Tells a served link's proxy that the relay ended (`reason` for the linked pid). */
const UNLINK_MESSAGE = 'fed:unlink';
/** A holder group's gateway tells the holder checkers subscribed to it that its members changed. */
const NODES_CHANNEL = 'fed:nodes';
/** How long `ready()` waits by default. */
const READY_TIMEOUT_MS_DEFAULT = 30_000;
/** Slots per directory batch of a move. */
const MOVE_BATCH_SLOTS = 256;

/** The node name of the hidden gateway node that group member `member` runs (`a@h` → `a-gw@h`). */
export function gatewayNodeName(member: string): string {
  const at = member.indexOf('@');
  return `${member.slice(0, at)}-gw${member.slice(at)}`;
}

/** Whether a failed call surely had no effect: its error says `definite` (nothing was sent, or it was refused unproposed). */
/**
 * Calls to another group whose second delivery would act again, so they are never re-sent
 * after a failure that leaves open whether the first copy arrived (no answer in time, a link
 * lost while waiting): a relayed send is delivered at most once, as Erlang's sends are, and
 * its caller gets the error. (Re-sent: slot steps, guarded by move revisions, whose stale copy
 * the reconcilers undo; a gateway list, published again while the directory's differs; reads.)
 */
const AT_MOST_ONCE_METHODS: ReadonlySet<string> = new Set(['relay_send', 'relay_exit']);

function isDefinite(error: unknown): boolean {
  return isFedError(error) && error.details?.definite === true;
}

/** The typed error `ready()` rejects with for an alarm. */
function alarmError(alarm: FederationAlarm): FedError {
  const refusal = alarm.details.refusal;
  const code: ErrorCode =
    alarm.code === 'two_roots' ? 'config' : alarm.code === 'group_removed' ? 'not_found' : typeof refusal === 'string' ? refusalErrorCode(refusal as DirectoryRefusalCode) : 'config';
  return fedError(code, alarm.message, { ...alarm.details, alarm: alarm.code });
}

/** The typed error for a move with refused slots: the first refusal's code, all of them in details. */
function slotMoveError(report: SlotMoveReport, asked: number): FedError {
  const first = report.refused[0];
  assert(first !== undefined, 'a move error has a refusal');
  const code = first.code === 'move_aborted' || first.code === 'unavailable' ? 'unavailable' : refusalErrorCode(first.code);
  return fedError(code, `${report.refused.length} of ${asked} slots not moved: slot ${first.slot}: ${first.reason}`, {
    refusal: first.code,
    refused: report.refused,
    moved: report.moved,
  });
}

/**
 * Split a move batch's imports into chunks of whole slots, each within `IMPORT_NAMES_MAX` names
 * (a slot with more names than that travels alone: one slot's names are never split).
 */
function importChunks<T>(moves: readonly T[], names: (move: T) => number): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let count = 0;
  for (const move of moves) {
    const size = names(move);
    if (chunk.length > 0 && (count + size > IMPORT_NAMES_MAX || chunk.length >= SLOT_BATCH_MAX)) {
      chunks.push(chunk);
      chunk = [];
      count = 0;
    }
    chunk.push(move);
    count += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const value = key(item);
    let list = out.get(value);
    if (list === undefined) out.set(value, (list = []));
    list.push(item);
  }
  return out;
}

function refKey(ref: Ref): string {
  return `${ref.node}/${ref.creation}/${ref.id}`;
}

function sameGateways(a: readonly Gateway[], b: readonly Gateway[]): boolean {
  return a.length === b.length && a.every((gateway, index) => gateway.node === b[index]?.node && gateway.address === b[index]?.address);
}

export class Federation {
  readonly node: Node;
  readonly distribution: Distribution;
  readonly group: Group;
  readonly groupId: GroupId;
  readonly #global: GlobalNames;
  readonly #directory: FederationMachines['directory'];
  readonly #cache = new DirectoryCache();
  readonly #options: FederationOptions;
  readonly #settings: FederationSettings;
  readonly #clock: Clock;
  readonly #memberRpc: Rpc;
  #gateway: GatewayLink | undefined;
  #gatewayStarting: Promise<void> | undefined;
  #closed = false;
  #maintenanceTimer: ReturnType<Clock['setTimeout']> | undefined;
  #lastPollMs = -Infinity;
  #lastProbeMs = -Infinity;
  #pollInFlight = false;
  #needSnapshot = false;
  readonly #busy = new Set<string>();
  /** Pending `#sleep`s, cancelled by `close()`. */
  readonly #sleeps = new Set<{ timer: ReturnType<Clock['setTimeout']>; reject: (error: unknown) => void }>();
  readonly #unsubscribe: Array<() => void> = [];
  /** Remote whereis answers cached at this gateway, and the gateway they came from. */
  readonly #readCache = new Map<string, CachedRead>();
  #invalidations = 0;
  /**
   * Gateways of other groups that did not answer in time, with the clock time until which they
   * are tried after the others (see #askHome): a write sent to one is not sent again, so the
   * next ones go where they can be answered. At most one per gateway in the directory.
   */
  readonly #slowGateways = new Map<string, number>();
  #cacheHits = 0;
  #cacheMisses = 0;
  readonly #lastInvalidation = new Map<string, number>();
  /** At this (home) gateway: which remote gateways cache each name. */
  readonly #subscribers = new Map<string, Set<string>>();
  #subscriptionCount = 0;
  /** Names registered through this member for its local pids, by pid key. */
  readonly #localHolders = new Map<string, { pid: Pid; names: Set<string> }>();
  /** Holders on other members whose monitor fired `noconnection` (watched again at nodeup). */
  readonly #detached = new Set<string>();
  /** Names whose holder died and whose unregister has not been acknowledged yet. */
  readonly #releases = new Map<string, Pid>();
  #agentPid: Pid | undefined;
  /** Holder checker: per holder group, when to ask it next and which of its gateways answered last. */
  readonly #holderGroups = new Map<GroupId, { nextMs: number; via: string | undefined }>();
  /** At a gateway: other groups' gateways subscribed to this group's member changes. */
  readonly #nodeWatchers = new Set<string>();
  #membersKey: string | undefined;
  /** At a root member: directory polls held open until the directory changes. */
  readonly #directoryWaiters = new Set<() => void>();
  /** Relayed monitors this member asked for: by ref key. `via` is the gateway member relaying it. */
  readonly #monitors = new Map<string, { watcher: Pid; ref: Ref; pid: Pid; via: string }>();
  /** At a gateway: monitors relayed for members of its group, and the home gateway serving each. */
  readonly #relayedMonitors = new Map<string, { member: string; ref: Ref; pid: Pid; home: string }>();
  /** At a home gateway: proxy processes watching local pids for other groups' gateways. */
  readonly #servedMonitors = new Map<string, { proxy: Pid; from: string; link: boolean }>();
  /** Monitors within the group: the proxy process carrying each, by ref key. */
  readonly #localMonitors = new Map<string, Pid>();
  /** Moves this member is running now (never aborted as stalled here). */
  readonly #movesRunning = new Set<number>();
  /** Root leader: each move in progress, the phase last seen and since when. */
  readonly #movesSeen = new Map<number, { revision: number; phase: string; sinceMs: number }>();
  /** Leader: wanted gateways it lost touch with, and since when. */
  readonly #gatewayDownSince = new Map<string, number>();
  /** Holder nodes seen dead, and since when (leader only). */
  readonly #deadSince = new Map<string, number>();

  private constructor(options: FederationOptions) {
    this.node = options.node;
    this.distribution = options.distribution;
    this.group = options.group;
    this.groupId = options.group.id;
    this.#global = options.machines.global;
    this.#directory = options.machines.directory;
    this.#options = options;
    this.#clock = options.clock ?? new SystemClock();
    this.#settings = { ...FEDERATION_DEFAULTS };
    for (const key of Object.keys(FEDERATION_DEFAULTS) as Array<keyof FederationSettings>) {
      const value = options[key];
      if (value !== undefined) this.#settings[key] = value;
    }
    this.#memberRpc = new Rpc(options.distribution, MEMBER_CHANNEL, this.#clock);
  }

  /** Start this member's federation role. The group must have been opened with `machines.extensions`. */
  static async attach(options: FederationOptions): Promise<Federation> {
    if (options.group.state.extension(GLOBAL_EXTENSION) !== options.machines.global) {
      throw fedError('config', 'the group was not opened with these federation machines (Group.open({extensions: machines.extensions}))');
    }
    if (!isValidGroupId(options.group.id)) {
      throw fedError('config', `group id ${JSON.stringify(options.group.id)} cannot join a federation: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    }
    const federation = new Federation(options);
    federation.#start();
    return federation;
  }

  #start(): void {
    const rpc = this.#memberRpc;
    rpc.handle('route', async (_from, body) => {
      const { request } = body as { request: Request };
      return this.#routeAsGateway(request, this.#clock.now() + this.#settings.requestTimeoutMs);
    });
    rpc.handle('relay', async (_from, body) => {
      const { group, method, payload } = body as { group: GroupId; method: string; payload: unknown };
      return this.#callGroupAsGateway(group, method, payload);
    });
    rpc.handle('directory', async () => this.#summary());
    rpc.handle('monitor', async (from, body) => {
      const { ref, pid, group, link } = body as { ref: Ref; pid: Pid; group: GroupId; link?: boolean };
      return this.#relayMonitor(from, ref, pid, group, link === true);
    });
    rpc.handle('demonitor', async (_from, body) => {
      const { ref, reason } = body as { ref: Ref; reason?: ExitReason };
      return this.#relayDemonitor(ref, reason ?? 'normal');
    });
    this.#unsubscribe.push(
      this.#global.onChange((change) => this.#onNameChange(change.name)),
      this.#directory.onChange(() => this.#wakeDirectoryWaiters()),
      this.distribution.onControl(DOWN_CHANNEL, (from, payload) => this.#onMemberDown(from, payload as { ref: Ref; reason: unknown })),
      this.distribution.onNodeEvent((event) => {
        if (event.type === 'nodedown') this.#onGroupNodeDown(event.node);
        else this.#reattachHolders(event.node);
      }),
    );
    this.#agentPid = this.node.spawn((ctx) => this.#agent(ctx), { trapExit: true });
    this.#scheduleMaintenance(0);
  }

  /** Stop the gateway (if any) and every timer; waiting calls fail with `shutdown`. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#maintenanceTimer !== undefined) this.#clock.clearTimeout(this.#maintenanceTimer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#wakeDirectoryWaiters();
    for (const sleep of this.#sleeps) {
      this.#clock.clearTimeout(sleep.timer);
      sleep.reject(fedError('shutdown', 'the federation member is closing'));
    }
    this.#sleeps.clear();
    this.#memberRpc.close();
    if (this.#agentPid !== undefined && this.node.started) this.node.exit(this.#agentPid, 'kill');
    for (const proxy of this.#localMonitors.values()) if (this.node.started) this.node.exit(proxy, 'kill');
    this.#localMonitors.clear();
    await this.#gatewayStarting?.catch(() => undefined);
    await this.#stopGateway();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- public API --------------------------------------------------------------------------

  /**
   * Register `name` globally for `pid` (a pid of this group). Linearizable in the name's home
   * group; resolves with the revision there. `name_taken` (details.holder), `unavailable`
   * (home group unreachable or the slot stayed fenced), `timeout` (may or may not have happened).
   */
  async register(name: string, pid: Pid, meta: Record<string, unknown> = {}): Promise<{ revision: number; group: GroupId }> {
    if (!(pid instanceof Pid)) throw fedError('badarg', 'register needs a pid');
    if (!this.#isGroupNode(pid.node)) throw fedError('badarg', `register takes a pid of group ${this.groupId}: ${pid.node} is not one of its members`, { node: pid.node });
    const cmd: GlobalCommand = { op: 'register', name, pid, meta: copyMeta(meta), group: this.groupId };
    let written: { result: GlobalResult & { ok: true }; group: GroupId };
    try {
      written = await this.#write(name, cmd);
    } catch (error) {
      // The home group may still apply it (no answer in time, a link lost): the name must die
      // with its process all the same (the release on exit is guarded by the pid: a no-op if
      // the register never applied).
      if (!isDefinite(error)) this.#hold(name, pid);
      throw error;
    }
    this.#hold(name, pid);
    return { revision: written.result.revision, group: written.group };
  }

  /** Remove `name` if `pid` holds it (`not_owner` if another pid does; a free name is fine), in its home group (named in the answer). */
  async unregister(name: string, pid: Pid): Promise<{ revision: number; group: GroupId }> {
    const { result, group } = await this.#write(name, { op: 'unregister', name, pid });
    this.#localHolders.get(pid.key)?.names.delete(name);
    return { revision: result.revision, group };
  }

  /** Where `name` is registered, or undefined. Cached at gateways unless `linearizable`. */
  async whereis(name: string, options: { consistency?: FederationConsistency } = {}): Promise<GlobalWhereis | undefined> {
    if (typeof name !== 'string' || name.length === 0) throw fedError('badarg', 'a name is a non-empty string');
    const request: ReadRequest = { kind: 'read', name, consistency: options.consistency ?? 'local' };
    const value = (await this.#request(request)) as ReadValue;
    if (value.entry === null) return undefined;
    const entry = value.entry;
    return { name, pid: entry.pid, meta: entry.meta, revision: entry.revision, group: value.group, holderGroup: entry.group };
  }

  /**
   * Send `msg` to a global name (looked up first: `not_found` if unregistered) or to a pid
   * whose group is known. Within the group it is a plain send; to another group it is relayed
   * gateway to gateway and resolves once the holder's group has handed it to its node. A relay
   * that did not answer in time rejects with `timeout` (`nodedown` if a link was lost while it
   * waited): the message may have arrived, and is not sent again (at most once, as in Erlang).
   */
  async send(target: string | GlobalWhereis | { readonly pid: Pid; readonly group: GroupId }, msg: unknown): Promise<void> {
    let pid: Pid;
    let holderGroup: GroupId | null;
    if (typeof target === 'string') {
      const found = await this.whereis(target);
      if (found === undefined) throw fedError('not_found', `no global name ${JSON.stringify(target)}`);
      pid = found.pid;
      holderGroup = found.holderGroup;
    } else {
      pid = target.pid;
      holderGroup = 'holderGroup' in target ? target.holderGroup : target.group;
    }
    if (holderGroup === null || holderGroup === this.groupId || pid.node === this.node.name) {
      this.node.send(pid, msg);
      return;
    }
    await this.#callGroup(holderGroup, 'relay_send', { pid, msg });
  }

  /**
   * Monitor `target` (a pid of any group) for the local process `watcher`: it gets the usual
   * `{type: 'DOWN', ref, pid, reason}` when the target exits (its reason), or `noconnection`
   * when the relay between the groups is lost (a gateway link or this member's link to its
   * gateway drops) — like any monitor across a lost connection. Within this group it is a plain
   * monitor through a local proxy. Resolves with the monitor's ref (`demonitor` takes it).
   */
  async monitor(watcher: Pid, target: GlobalWhereis | { readonly pid: Pid; readonly group: GroupId }): Promise<Ref> {
    const pid = target.pid;
    const group = 'holderGroup' in target ? (target.holderGroup ?? target.group) : target.group;
    const ref = this.node.makeRef();
    if (group === this.groupId) {
      await this.#localMonitor(watcher, ref, pid);
      return ref;
    }
    await this.#relay(watcher, ref, pid, group, false);
    return ref;
  }

  /**
   * Link the local process `local` with `remote` (a pid of any group), as `link/1` does, both
   * ways: when either exits with a reason other than `normal`, the other gets that exit signal;
   * when the relay between them is lost (a gateway link, a member's link to its gateway, or
   * `local`'s node itself), both get `noconnection`. Within the group a proxy process links both
   * pids. Across groups a proxy here (trapping exits) links `local` and holds a relayed link to
   * `remote`: the home group's gateway runs its twin, linked to `remote`, which exits `remote`
   * with `local`'s reason, or with `noconnection` when it loses the relay.
   */
  async link(local: Pid, remote: GlobalWhereis | { readonly pid: Pid; readonly group: GroupId }): Promise<void> {
    const group = 'holderGroup' in remote ? (remote.holderGroup ?? remote.group) : remote.group;
    const target = remote.pid;
    if (group === this.groupId) {
      this.node.spawn(
        async (ctx) => {
          ctx.link(local);
          ctx.link(target);
          const exit = (await ctx.receive((message) => isExitMessage(message))) as { from: Pid; reason: ExitReason };
          const other = exit.from.equals(local) ? target : local;
          if (exit.reason !== 'normal') ctx.exit(other, exit.reason);
        },
        { trapExit: true },
      );
      return;
    }
    let ready: (outcome: Ref | Error) => void = () => undefined;
    const started = new Promise<Ref | Error>((resolve) => (ready = resolve));
    const proxy = this.node.spawn(
      async (ctx) => {
        ctx.link(local);
        const ref = this.node.makeRef();
        const linked = await this.#relay(ctx.self, ref, target, group, true).then(
          () => ref,
          (error: unknown) => error as Error,
        );
        ready(linked);
        if (!(linked instanceof Ref)) return;
        const message = (await ctx.receive((candidate) => isExitMessage(candidate) || (isDownMessage(candidate) && candidate.ref.equals(ref)))) as
          | { type: 'EXIT'; reason: ExitReason }
          | { type: 'DOWN'; reason: ExitReason };
        if (message.type === 'DOWN') {
          if (message.reason !== 'normal') ctx.exit(local, message.reason);
          return;
        }
        // `local` exited: the twin at the home gateway passes the reason on to `remote`.
        await this.#unrelay(ref, message.reason);
      },
      { trapExit: true },
    );
    const outcome = await started;
    if (outcome instanceof Error) {
      if (this.node.started) this.node.exit(proxy, 'kill');
      throw outcome;
    }
  }

  /**
   * Stop a monitor (best effort across groups: a DOWN already on its way may still arrive).
   * Within the group it drops the proxy that carried it.
   */
  async demonitor(ref: Ref): Promise<void> {
    const local = this.#localMonitors.get(refKey(ref));
    if (local !== undefined) {
      this.#localMonitors.delete(refKey(ref));
      if (this.node.started) this.node.exit(local, 'kill');
      return;
    }
    await this.#unrelay(ref, 'normal');
  }

  /** Ask this group's gateway (maybe this member) to relay a monitor or link of `pid` in `group` for `watcher`. */
  async #relay(watcher: Pid, ref: Ref, pid: Pid, group: GroupId, link: boolean): Promise<void> {
    const via = this.#gateway !== undefined ? this.node.name : this.#pickLocalGateway(new Set());
    if (via === undefined) throw fedError('unavailable', `no gateway of group ${this.groupId} is reachable`);
    this.#monitors.set(refKey(ref), { watcher, ref, pid, via });
    try {
      if (via === this.node.name) await this.#relayMonitor(this.node.name, ref, pid, group, link);
      else await this.#memberRpc.call(via, 'monitor', { ref, pid, group, link }, this.#settings.requestTimeoutMs);
    } catch (error) {
      this.#monitors.delete(refKey(ref));
      throw error;
    }
  }

  /** End a relayed monitor or link; `reason` reaches a linked remote pid (unless `normal`). */
  async #unrelay(ref: Ref, reason: ExitReason): Promise<void> {
    const monitor = this.#monitors.get(refKey(ref));
    this.#monitors.delete(refKey(ref));
    if (monitor === undefined) return;
    if (monitor.via === this.node.name) await this.#relayDemonitor(ref, reason);
    else await this.#memberRpc.call(monitor.via, 'demonitor', { ref, reason }, this.#settings.hopTimeoutMs).catch(() => undefined);
  }

  /**
   * Resolves once this group takes part in the federation: the federation created and its slots
   * claimed (`createRoot`), or this group listed in the directory. Rejects with the typed error
   * of the alarm that keeps it out (`details.alarm`): `config` for `two_roots`, the refusal's
   * code for `create_root_refused` / `add_group_refused` (`details.refusal`), `not_found` for
   * `group_removed`; `timeout` after `timeoutMs` (default 30 s); `shutdown` if closed meanwhile;
   * `closed` if `signal` aborts.
   */
  async ready(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const deadline = this.#clock.now() + (options.timeoutMs ?? READY_TIMEOUT_MS_DEFAULT);
    for (;;) {
      const alarm = this.#global.alarms()[0];
      if (alarm !== undefined) throw alarmError(alarm);
      if (await this.#inFederation()) return;
      if (this.#closed) throw fedError('shutdown', 'the federation member closed before it was ready');
      if (options.signal?.aborted === true) throw fedError('closed', 'ready: aborted');
      if (this.#clock.now() >= deadline) throw fedError('timeout', `group ${this.groupId} is not part of the federation yet`, { group: this.groupId });
      await this.#sleep(this.#settings.maintenanceIntervalMs);
    }
  }

  async #inFederation(): Promise<boolean> {
    if (this.#isRoot()) return this.#global.initialized;
    const view = this.#view();
    if (view !== undefined) return (view.group(this.groupId)?.state ?? 'removed') !== 'removed';
    const gateway = this.#pickLocalGateway(new Set());
    if (gateway === undefined) return false;
    try {
      const summary = (await this.#memberRpc.call(gateway, 'directory', null, this.#settings.hopTimeoutMs)) as DirectorySummary;
      return (summary.groups.find((record) => record.id === this.groupId)?.state ?? 'removed') !== 'removed';
    } catch {
      return false;
    }
  }

  /** The directory as this member sees it (its replica in the root group, else a gateway's cache). */
  async directory(): Promise<DirectorySummary> {
    const view = this.#view();
    if (view !== undefined || this.#gateway !== undefined) return this.#summary();
    const gateway = this.#pickLocalGateway(new Set());
    if (gateway === undefined) throw fedError('unavailable', `group ${this.groupId} has no gateway yet`);
    return (await this.#memberRpc.call(gateway, 'directory', null, this.#settings.hopTimeoutMs)) as DirectorySummary;
  }

  async groups(): Promise<GroupRecord[]> {
    return [...(await this.directory()).groups];
  }

  /**
   * Move `slots` to group `to` (call on a member of the root group). Resolves with the slots
   * moved. If any slot is refused, rejects with a typed error for the first refusal
   * (`details.refusal`: a `SlotMoveRefusalCode`; `details.refused`: every refusal;
   * `details.moved`: the slots that did move) — `moveSlotsReport` gives the same without throwing.
   */
  async moveSlots(slots: readonly number[], to: GroupId): Promise<number[]> {
    const report = await this.moveSlotsReport(slots, to);
    if (report.refused.length > 0) throw slotMoveError(report, slots.length);
    return report.moved;
  }

  /**
   * Move `slots` to group `to` (call on a member of the root group) and say what became of each:
   * `moved`, or `refused` with a typed code — `unknown_group`/`group_removed` (no such target),
   * `group_not_active` (draining target), `already_owner`, `move_in_progress`, `too_many_moves`,
   * `move_aborted` (the root's leader aborted the move, e.g. as stalled; it was undone),
   * `unavailable` (a group could not be reached; the move was aborted and undone). Rejects only
   * when the whole call is refused (`badarg`: not a root member, or not a list of slots).
   */
  async moveSlotsReport(slots: readonly number[], to: GroupId): Promise<SlotMoveReport> {
    this.#assertRoot();
    if (!Array.isArray(slots) || !slots.every(isSlot)) throw fedError('badarg', `moveSlots takes a list of slots in [0, ${SLOT_COUNT})`);
    if (!isValidGroupId(to)) throw fedError('badarg', `invalid group id ${JSON.stringify(to)}`);
    const report: SlotMoveReport = { moved: [], refused: [] };
    const unique = [...new Set(slots)];
    for (let start = 0; start < unique.length; start += MOVE_BATCH_SLOTS) {
      const batch = await this.#moveBatch(unique.slice(start, start + MOVE_BATCH_SLOTS), to);
      appendAll(report.moved, batch.moved);
      appendAll(report.refused, batch.refused);
    }
    return report;
  }

  /**
   * Even out the slots over the active groups (`planRebalance`). Resolves with the number moved;
   * rejects as `moveSlots` does if a slot was refused (after trying every planned move).
   */
  async rebalance(): Promise<number> {
    this.#assertRoot();
    const plan = planRebalance(this.#directory);
    const byTarget = new Map<GroupId, number[]>();
    for (const move of plan) {
      let list = byTarget.get(move.to);
      if (list === undefined) byTarget.set(move.to, (list = []));
      list.push(move.slot);
    }
    const report: SlotMoveReport = { moved: [], refused: [] };
    for (const [to, slots] of byTarget) {
      const part = await this.moveSlotsReport(slots, to);
      appendAll(report.moved, part.moved);
      appendAll(report.refused, part.refused);
    }
    if (report.refused.length > 0) throw slotMoveError(report, plan.length);
    return report.moved.length;
  }

  /**
   * Remove a group that owns no slots (call on a root member; move its slots away first, e.g.
   * drain it and `rebalance()`). Typed refusals: `not_found` (no such group), `badarg`
   * (`details.refusal`: `root_group`, `group_not_empty`, `group_in_move`).
   */
  async removeGroup(id: GroupId): Promise<void> {
    this.#assertRoot();
    // One directory command, checked and applied at one log index: a refusal changes nothing.
    const result = await this.#proposeDirectory({ op: 'remove_group', group: id });
    if (!result.ok) throw refusalError(result);
  }

  /** Stop giving slots to `id` (call on a root member); `rebalance()` then moves its slots away. */
  async drainGroup(id: GroupId): Promise<void> {
    this.#assertRoot();
    const result = await this.#proposeDirectory({ op: 'drain_group', group: id });
    if (!result.ok) throw refusalError(result);
  }

  status(): FederationStatus {
    const view = this.#view();
    return {
      group: this.groupId,
      root: this.#isRoot(),
      gateway: this.#gateway === undefined ? null : { node: this.#gateway.node.name, address: this.#gateway.distribution.address },
      gateways: this.#global.gateways().map((gateway) => gateway.member),
      directoryRevision: view?.revision ?? 0,
      ownedSlots: this.#global.ownedCount(),
      names: this.#global.size,
      cachedNames: this.#readCache.size,
      cacheHits: this.#cacheHits,
      cacheMisses: this.#cacheMisses,
      pendingReleases: this.#releases.size,
      alarms: this.#global.alarms(),
    };
  }

  /** The hidden gateway node of this member, if it is a gateway now (tests: fault injection). */
  gatewayDistribution(): Distribution | undefined {
    return this.#gateway?.distribution;
  }

  /** Names held in this group's share of the namespace (its replica). */
  registeredHere(prefix = ''): Array<[string, GlobalEntry]> {
    return this.#global.registered(prefix);
  }

  // ---- request routing ---------------------------------------------------------------------

  async #write(name: string, cmd: GlobalCommand): Promise<{ result: GlobalResult & { ok: true }; group: GroupId }> {
    if (typeof name !== 'string' || name.length === 0) throw fedError('badarg', 'a name is a non-empty string');
    const result = (await this.#request({ kind: 'write', name, cmd })) as GlobalResult & { group?: GroupId };
    if (result.ok) return { result, group: result.group ?? this.groupId };
    switch (result.code) {
      case 'name_taken':
        throw fedError('name_taken', `${name} is held by ${result.holder.toString()}`, { holder: result.holder.toString(), revision: result.revision, definite: true });
      case 'not_owner':
        throw fedError('not_owner', `${name} is held by ${result.holder?.toString() ?? 'nobody'}`, { holder: result.holder?.toString() ?? null, definite: true });
      case 'badarg':
        throw fedError('badarg', result.reason, { definite: true });
      default:
        throw fedError('unavailable', `slot ${result.slot} of ${name} is not writable`, { definite: true });
    }
  }

  /** Serve here if this group's replica holds the slot; else through a gateway. */
  async #request(request: Request): Promise<GlobalResult | ReadValue> {
    const deadline = this.#clock.now() + this.#settings.requestTimeoutMs;
    if (this.#gateway !== undefined) return this.#routeAsGateway(request, deadline);
    if (this.#servesHere(request)) {
      const answer = await this.#serveHere(request, undefined);
      if (answer.type === 'ok') return answer.value;
    }
    const tried = new Set<string>();
    for (;;) {
      if (this.#gateway !== undefined) return this.#routeAsGateway(request, deadline);
      const gateway = this.#pickLocalGateway(tried);
      if (gateway === undefined) throw fedError('unavailable', `no gateway of group ${this.groupId} is reachable`, { definite: tried.size === 0 });
      try {
        return (await this.#memberRpc.call(gateway, 'route', { request }, this.#remaining(deadline))) as GlobalResult | ReadValue;
      } catch (error) {
        if (!isFedError(error, 'nodedown') || this.#clock.now() >= deadline) throw error;
        // A write whose link dropped after it was sent may have gone on: not sent again (see #askHome).
        if (request.kind === 'write' && !isDefinite(error)) throw error;
        tried.add(gateway);
      }
    }
  }

  /**
   * Whether this group's log lets it serve the request now: writes need the slot `owned`;
   * reads too, except that `local` reads are also served from a fenced slot's frozen copy (a
   * linearizable read waits out the move: once ownership switches, the copy here is stale).
   */
  #servesHere(request: Request): boolean {
    const state = this.#global.slotState(slotOf(request.name));
    return state === 'owned' || (request.kind === 'read' && request.consistency === 'local' && state === 'fenced');
  }

  /** The gateway's loop: serve, wait, or follow the home group (see the file comment). */
  async #routeAsGateway(request: Request, deadline: number): Promise<GlobalResult | ReadValue> {
    let redirects = 0;
    let unreachableSince: number | undefined;
    const slot = slotOf(request.name);
    for (;;) {
      if (this.#clock.now() >= deadline) throw fedError('unavailable', `${request.name}: slot ${slot} did not settle before the deadline`);
      const view = this.#view();
      if (view === undefined) throw fedError('unavailable', `group ${this.groupId} does not know the directory yet`, { definite: true });
      const decision = routeSlot(view, this.groupId, slot, request.kind);
      let answer: Answer;
      if (decision.action === 'serve' || this.#servesHere(request)) answer = await this.#serveHere(request, undefined);
      else if (decision.action === 'wait' || decision.action === 'unavailable') answer = { type: 'wait', retryAfterMs: this.#settings.waitRetryMs };
      else {
        const cached = this.#cachedRead(request, decision.owner);
        if (cached !== undefined) {
          this.#cacheHits++;
          return cached;
        }
        if (request.kind === 'read' && request.consistency === 'local') this.#cacheMisses++;
        try {
          answer = await this.#askHome(decision.owner, request, deadline);
          unreachableSince = undefined;
        } catch (error) {
          // No gateway of the home group connected: give the links one hop timeout to come
          // (back) up — a link being redialled after a heal — before calling the group unreachable.
          if (!isFedError(error, 'unavailable') || !isDefinite(error)) throw error;
          unreachableSince ??= this.#clock.now();
          if (this.#clock.now() - unreachableSince >= this.#settings.hopTimeoutMs || this.#clock.now() + this.#settings.waitRetryMs >= deadline) throw error;
          answer = { type: 'wait', retryAfterMs: this.#settings.waitRetryMs };
        }
      }
      if (answer.type === 'ok') return answer.value;
      if (answer.type === 'wait') {
        await this.#sleep(Math.min(answer.retryAfterMs, this.#remaining(deadline)));
        continue;
      }
      this.#cache.applyMoved(answer.answer);
      if (++redirects > MOVED_REDIRECTS_MAX) {
        this.#needSnapshot = true;
        throw fedError('unavailable', `${request.name}: more than ${MOVED_REDIRECTS_MAX} redirects`, { group: answer.answer.owner });
      }
    }
  }

  /** Ask the home group's gateways in turn; `unavailable` if none answers. */
  async #askHome(home: GroupId, request: Request, deadline: number): Promise<Answer> {
    const link = this.#gateway;
    if (link === undefined) throw fedError('unavailable', 'not a gateway');
    const record = this.#view()?.group(home);
    const now = this.#clock.now();
    for (const [node, until] of this.#slowGateways) if (until <= now) this.#slowGateways.delete(node);
    const health = (node: string): GatewayHealth => {
      if (!link.distribution.isConnected(node)) return 'unknown';
      return this.#slowGateways.has(node) ? 'alive' : 'connected';
    };
    const gateways = orderGateways(record?.gateways ?? [], link.node.name, health);
    const invalidationsBefore = this.#invalidations;
    let lastError: unknown;
    let slow = false;
    for (const gateway of gateways) {
      try {
        const answer = (await link.rpc.call(gateway.node, 'serve', { request }, Math.min(this.#settings.hopTimeoutMs, this.#remaining(deadline)))) as Answer;
        if (answer.type === 'ok' && request.kind === 'read') this.#maybeCache(request, answer.value as ReadValue, gateway.node, invalidationsBefore);
        return answer;
      } catch (error) {
        const unreachable = isFedError(error, 'nodedown') || isFedError(error, 'shutdown');
        if (!unreachable && !isFedError(error, 'timeout') && !isFedError(error, 'unavailable')) throw error;
        // Connected but silent (cut off from its own group, say): tried last for a while.
        if (isFedError(error, 'timeout')) this.#slowGateways.set(gateway.node, this.#clock.now() + this.#settings.slowGatewayMs);
        // A write that may have reached the home group (no answer in time, the link lost while
        // it waited, a proposal that may or may not commit) is never sent again: the home group
        // would propose the copy too, later, over whatever was written in between (jepsen-lite
        // seed 2305: an unregister applied twice removed an acknowledged registration).
        if (request.kind === 'write' && !isDefinite(error)) throw error;
        slow ||= !unreachable;
        lastError = error;
      }
    }
    // A gateway that is connected but slow (its group electing a leader) is retried until the
    // deadline; a group with no connected gateway is unreachable now.
    if (slow && this.#clock.now() + this.#settings.waitRetryMs < deadline) return { type: 'wait', retryAfterMs: this.#settings.waitRetryMs };
    throw fedError('unavailable', `group ${home} is unreachable (${gateways.length} gateways tried)`, { group: home, definite: !slow }, lastError);
  }

  /** Serve a request from this group's log and replica, or say `wait`/`moved`. */
  async #serveHere(request: Request, subscriber: string | undefined): Promise<Answer> {
    const slot = slotOf(request.name);
    if (request.kind === 'read' && this.#servesHere(request)) {
      if (request.consistency === 'linearizable') await this.#retryDefinite(() => this.group.readBarrier());
      if (this.#servesHere(request)) {
        const cacheable = subscriber !== undefined && request.consistency === 'local' && this.#subscribe(request.name, subscriber);
        const entry = this.#global.whereis(request.name) ?? null;
        return { type: 'ok', value: { entry, group: this.groupId, applied: this.group.state.appliedIndex, cacheable } };
      }
    }
    if (request.kind === 'write' && this.#servesHere(request)) {
      const result = await this.#proposeGlobal(request.cmd);
      if (result.ok || result.code !== 'not_home') return { type: 'ok', value: { ...result, group: this.groupId } as unknown as GlobalResult };
    }
    const view = this.#view();
    if (view === undefined) return { type: 'wait', retryAfterMs: this.#settings.waitRetryMs };
    const decision = routeSlot(view, this.groupId, slot, request.kind);
    if (decision.action === 'moved') return { type: 'moved', answer: decision };
    return { type: 'wait', retryAfterMs: this.#settings.waitRetryMs };
  }

  async #proposeGlobal(cmd: GlobalCommand): Promise<GlobalResult> {
    const result = await this.#propose({ op: 'ext', ext: GLOBAL_EXTENSION, cmd });
    return result as GlobalResult;
  }

  async #proposeDirectory(cmd: DirectoryCommand): Promise<DirectoryResult> {
    return (await this.#propose({ op: 'ext', ext: DIRECTORY_EXTENSION, cmd })) as DirectoryResult;
  }

  /** Propose on this member's group, retrying definite refusals (no leader yet) until the deadline. */
  async #propose(command: Parameters<Group['propose']>[0]): Promise<unknown> {
    const result = await this.#retryDefinite(() => this.group.propose(command));
    return 'value' in result ? result.value : undefined;
  }

  /** Run a group operation, retrying refusals that are definite (no leader yet, overloaded) until the deadline. */
  async #retryDefinite<T>(operation: () => Promise<T>): Promise<T> {
    const deadline = this.#clock.now() + this.#settings.requestTimeoutMs;
    for (;;) {
      try {
        return await operation();
      } catch (error) {
        const retriable = isFedError(error) && (error.code === 'not_leader' || error.code === 'overloaded' || error.code === 'unavailable') && isDefinite(error);
        if (!retriable || this.#clock.now() + this.#settings.waitRetryMs >= deadline || this.#closed) throw error;
        await this.#sleep(this.#settings.waitRetryMs);
      }
    }
  }

  // ---- calls to other groups -----------------------------------------------------------------

  /** Call `method` on a gateway of `group` (this group: handled here). */
  async #callGroup(group: GroupId, method: string, payload: unknown): Promise<unknown> {
    if (group === this.groupId) return this.#gatewayHandler(method)(this.node.name, payload);
    if (this.#gateway !== undefined) return this.#callGroupAsGateway(group, method, payload);
    const tried = new Set<string>();
    for (;;) {
      const gateway = this.#pickLocalGateway(tried);
      if (gateway === undefined) throw fedError('unavailable', `no gateway of group ${this.groupId} is reachable`);
      try {
        return await this.#memberRpc.call(gateway, 'relay', { group, method, payload }, this.#settings.requestTimeoutMs);
      } catch (error) {
        // A link lost while the call waited may have carried it: at-most-once methods stop there.
        if (!isFedError(error, 'nodedown') || (AT_MOST_ONCE_METHODS.has(method) && !isDefinite(error))) throw error;
        tried.add(gateway);
      }
    }
  }

  async #callGroupAsGateway(group: GroupId, method: string, payload: unknown): Promise<unknown> {
    if (group === this.groupId) return this.#gatewayHandler(method)(this.node.name, payload);
    return (await this.#callGroupGateways(group, method, payload)).value;
  }

  /**
   * At a gateway: call `method` on the gateways of another group in turn; the answer and who
   * gave it. The next gateway is tried after one that is not connected, did not answer in time
   * or whose link was lost while it waited, except for `AT_MOST_ONCE_METHODS`: those go on only
   * after a failure that says the call never left (a definite `nodedown`), and otherwise fail
   * with that error.
   */
  async #callGroupGateways(group: GroupId, method: string, payload: unknown): Promise<{ value: unknown; gateway: string }> {
    const link = this.#gateway;
    if (link === undefined) throw fedError('unavailable', `${this.node.name} is no longer a gateway`);
    const record = this.#view()?.group(group);
    if (record === undefined) throw fedError('not_found', `no group ${group} in the directory`);
    const gateways = orderGateways(record.gateways, link.node.name, (node) => (link.distribution.isConnected(node) ? 'connected' : 'unknown'));
    let lastError: unknown;
    for (const gateway of gateways) {
      try {
        return { value: await link.rpc.call(gateway.node, method, payload, this.#settings.hopTimeoutMs), gateway: gateway.node };
      } catch (error) {
        if (!isFedError(error, 'nodedown') && !isFedError(error, 'timeout')) throw error;
        if (AT_MOST_ONCE_METHODS.has(method) && !isDefinite(error)) throw error;
        lastError = error;
      }
    }
    throw fedError('unavailable', `group ${group} is unreachable`, { group }, lastError);
  }

  #pickLocalGateway(excluded: ReadonlySet<string>): string | undefined {
    const gateways = this.#global.gateways().map((gateway) => ({ node: gateway.member, address: gateway.address }));
    const health = (node: string) => (node === this.node.name || this.distribution.isConnected(node) ? 'connected' : 'down') as 'connected' | 'down';
    return orderGateways(gateways, this.node.name, health, excluded)[0]?.node;
  }

  /** Handlers a gateway serves to other groups (and this group's own calls, in-process). */
  #gatewayHandler(method: string): (from: string, payload: unknown) => Promise<unknown> {
    switch (method) {
      case 'serve':
        return async (from, payload) => this.#serveHere((payload as { request: Request }).request, from === this.node.name ? undefined : from);
      case 'dir_since':
        return async (from, payload) => {
          const { revision, waitMs, root } = payload as { revision: number; waitMs?: number; root?: string | null };
          const known = this.#knownRoot();
          if (typeof root === 'string' && known !== undefined && root !== known) {
            await this.#raiseAlarm('two_roots', `a gateway of the federation with root group ${root} reached this one (root ${known})`, { otherRoot: root, via: from });
          }
          return this.#directorySinceWatched(revision, typeof waitMs === 'number' ? waitMs : 0);
        };
      case 'dir_propose':
        return async (_from, payload) => {
          const command = (payload as { command: DirectoryCommand }).command;
          if (command?.op !== 'add_group' && command?.op !== 'set_gateways') throw fedError('badarg', 'only add_group and set_gateways come from other groups');
          if (!this.#isRoot()) throw fedError('unavailable', `${this.groupId} is not the root group`);
          return this.#proposeDirectory(command);
        };
      case 'slot_step':
        return async (_from, payload) => {
          const cmd = (payload as { cmd: GlobalCommand }).cmd;
          if (!['fence', 'import', 'import_batch', 'accept', 'unfence', 'drop'].includes(cmd?.op)) throw fedError('badarg', 'slot_step carries a slot command');
          return this.#proposeGlobal(cmd);
        };
      case 'monitor':
        return async (from, payload) => {
          const { ref, pid, link } = payload as { ref: Ref; pid: Pid; link?: boolean };
          if (!(pid instanceof Pid) || !(ref instanceof Ref)) throw fedError('badarg', 'monitor needs a pid and a ref');
          await this.#serveMonitor(from, ref, pid, link === true);
          return null;
        };
      case 'demonitor':
        return async (_from, payload) => {
          const { ref, reason } = payload as { ref: Ref; reason?: ExitReason };
          if (ref instanceof Ref) this.#endServed(refKey(ref), reason ?? 'normal');
          return null;
        };
      case 'relay_exit':
        return async (_from, payload) => {
          const { pid, reason } = payload as { pid: Pid; reason: ExitReason };
          if (!(pid instanceof Pid)) throw fedError('badarg', 'relay_exit needs a pid');
          this.node.exit(pid, reason);
          return null;
        };
      case 'nodes_alive':
        return async (from, payload) => {
          const { nodes, watch } = payload as { nodes: string[]; watch?: boolean };
          if (watch === true && from !== this.node.name && this.#gateway !== undefined && this.#nodeWatchers.size < this.#settings.subscriptionsMax) this.#nodeWatchers.add(from);
          return this.#nodesAlive(nodes);
        };
      case 'relay_send':
        return async (_from, payload) => {
          const { pid, msg } = payload as { pid: Pid; msg: unknown };
          if (!(pid instanceof Pid)) throw fedError('badarg', 'relay_send needs a pid');
          this.node.send(pid, msg);
          return null;
        };
      default:
        return async () => {
          throw fedError('badarg', `unknown federation method ${JSON.stringify(method)}`);
        };
    }
  }

  // ---- the whereis cache (at gateways) -------------------------------------------------------

  /**
   * A cached answer for a local read, if it came from `owner`, the group this gateway's directory
   * now routes the name to. One served by another group is dropped: the name's slot moved, and
   * the old home's invalidation may never come (its gateway cut off from its own group never
   * applies the move), so the entry would stay stale for as long as that lasts, not for as long
   * as replication lags.
   */
  #cachedRead(request: Request, owner: GroupId): ReadValue | undefined {
    if (request.kind !== 'read' || request.consistency !== 'local') return undefined;
    const cached = this.#readCache.get(request.name);
    if (cached === undefined) return undefined;
    if (cached.value.group !== owner) {
      this.#readCache.delete(request.name);
      return undefined;
    }
    return cached.value;
  }

  #maybeCache(request: ReadRequest, value: ReadValue, source: string, invalidationsBefore: number): void {
    if (!value.cacheable || request.consistency !== 'local') return;
    if ((this.#lastInvalidation.get(request.name) ?? 0) > invalidationsBefore) return;
    if (this.#readCache.size >= this.#settings.cacheEntriesMax) this.#readCache.clear();
    this.#readCache.set(request.name, { value, source });
  }

  #onInvalidate(name: string): void {
    this.#readCache.delete(name);
    this.#invalidations++;
    if (this.#lastInvalidation.size >= this.#settings.cacheEntriesMax) {
      this.#lastInvalidation.clear();
      this.#readCache.clear();
    }
    this.#lastInvalidation.set(name, this.#invalidations);
  }

  /** At the home gateway: remember who caches `name`. False when full (the answer is then not cacheable). */
  #subscribe(name: string, subscriber: string): boolean {
    let set = this.#subscribers.get(name);
    if (set?.has(subscriber) === true) return true;
    if (this.#subscriptionCount >= this.#settings.subscriptionsMax) return false;
    if (set === undefined) this.#subscribers.set(name, (set = new Set()));
    set.add(subscriber);
    this.#subscriptionCount++;
    return true;
  }

  #onNameChange(name: string): void {
    const subscribers = this.#subscribers.get(name);
    if (subscribers === undefined) return;
    this.#subscribers.delete(name);
    this.#subscriptionCount -= subscribers.size;
    for (const subscriber of subscribers) this.#gateway?.distribution.sendControl(subscriber, INVALIDATE_CHANNEL, { name });
  }

  #forgetSource(node: string): void {
    for (const [name, cached] of this.#readCache) if (cached.source === node) this.#readCache.delete(name);
    for (const [name, subscribers] of this.#subscribers) {
      if (!subscribers.delete(node)) continue;
      this.#subscriptionCount--;
      if (subscribers.size === 0) this.#subscribers.delete(name);
    }
  }

  // ---- the gateway node ----------------------------------------------------------------------

  async #startGateway(): Promise<void> {
    const node = new Node({ name: gatewayNodeName(this.node.name), creation: this.node.creation });
    await node.start();
    let distribution: Distribution;
    try {
      const start = this.#options.startGatewayDistribution ?? ((options: DistributionOptions) => Distribution.start(options));
      distribution = await start({
        node,
        cookie: this.#options.cookie,
        ...(this.#options.cluster !== undefined ? { cluster: this.#options.cluster } : {}),
        hidden: true,
        transport: new TcpTransport({ host: this.#options.gatewayHost ?? '127.0.0.1', port: this.#options.gatewayPort ?? 0 }),
        tickMs: this.#settings.gatewayTickMs,
        heartbeatTimeoutMs: this.#settings.gatewayHeartbeatTimeoutMs,
        ...(this.#options.gatewayLogger !== undefined ? { logger: this.#options.gatewayLogger } : {}),
      });
    } catch (error) {
      await node.stop();
      throw error;
    }
    const rpc = new Rpc(distribution, GATEWAY_CHANNEL, this.#clock);
    for (const method of ['serve', 'dir_since', 'dir_propose', 'slot_step', 'nodes_alive', 'relay_send', 'relay_exit', 'monitor', 'demonitor']) rpc.handle(method, this.#gatewayHandler(method));
    const offInvalidate = distribution.onControl(INVALIDATE_CHANNEL, (_from, payload) => {
      const name = (payload as { name?: unknown } | null)?.name;
      if (typeof name === 'string') this.#onInvalidate(name);
    });
    const offDown = distribution.onNodeEvent((event) => {
      if (event.type === 'nodedown') {
        this.#forgetSource(event.node);
        this.#onHiddenNodeDown(event.node);
        this.#nodeWatchers.delete(event.node);
        // The subscription through that gateway is gone: ask its group again (through another).
        for (const state of this.#holderGroups.values()) if (state.via === event.node) state.nextMs = 0;
      }
    });
    const offNodes = distribution.onControl(NODES_CHANNEL, (_from, payload) => this.#onNodesChanged(payload));
    const offRelayedDown = distribution.onControl(DOWN_CHANNEL, (from, payload) => this.#onRelayedDown(from, payload as { ref: Ref; reason: unknown }));
    this.#gateway = { node, distribution, rpc, dialed: new Set(), unsubscribe: () => (offInvalidate(), offDown(), offRelayedDown(), offNodes()) };
    if (this.#closed) {
      await this.#stopGateway();
      return;
    }
    this.#keepLinks();
    this.#log('info', 'gateway_started', `gateway ${node.name} listens on ${distribution.address}`);
    await this.#proposeGlobal({ op: 'gateway_up', gateway: { member: this.node.name, node: node.name, address: distribution.address } });
  }

  async #stopGateway(): Promise<void> {
    const link = this.#gateway;
    if (link === undefined) return;
    this.#gateway = undefined;
    link.unsubscribe();
    link.rpc.close();
    for (const home of new Set([...this.#relayedMonitors.values()].map((relayed) => relayed.home))) this.#onHiddenNodeDown(home);
    // This gateway stops relaying: the links it served lose their other end.
    for (const key of [...this.#servedMonitors.keys()]) this.#endServed(key, 'noconnection');
    this.#readCache.clear();
    this.#subscribers.clear();
    this.#subscriptionCount = 0;
    this.#nodeWatchers.clear();
    this.#membersKey = undefined;
    this.#holderGroups.clear();
    await link.distribution.close();
    await link.node.stop();
  }

  #dial(address: string): void {
    const link = this.#gateway;
    if (link === undefined || link.dialed.has(address) || address === link.distribution.address) return;
    link.dialed.add(address);
    link.distribution.connect(address).catch(() => undefined);
  }

  /**
   * At a gateway: the hidden links it should hold (address → gateway node, `undefined` for a
   * seed) — every gateway of every other live group in its view, and the seeds until the view
   * knows the root group (always, for a root candidate, which watches them for a second
   * federation). None once its own group is removed.
   */
  #wantedLinks(): Map<string, string | undefined> {
    const wanted = new Map<string, string | undefined>();
    const view = this.#view();
    if (view?.group(this.groupId)?.state === 'removed') return wanted;
    const rootKnown = view?.rootGroup !== undefined && view.group(view.rootGroup) !== undefined;
    if (!rootKnown || this.#options.createRoot === true) for (const seed of this.#options.seeds ?? []) wanted.set(seed, undefined);
    for (const record of view?.groups() ?? []) {
      if (record.id === this.groupId || record.state === 'removed') continue;
      for (const gateway of record.gateways) wanted.set(gateway.address, gateway.node);
    }
    return wanted;
  }

  /**
   * Hold the wanted links and no others. Of two gateways, the one with the smaller node name
   * dials (seeds are always dialled): that dial wins any simultaneous connect, so the
   * distribution learns the peer's name for it and `disconnect` can later drop the target — a
   * link no longer wanted (a removed group's, a replaced gateway's) is then closed and never
   * redialled. (A target that never connected cannot be dropped by name: the runtime redials it,
   * with backoff, until it can forget addresses.)
   */
  #keepLinks(): void {
    const link = this.#gateway;
    if (link === undefined) return;
    const wanted = this.#wantedLinks();
    const connected = new Map<string, string>();
    for (const peer of link.distribution.peers({ hidden: true })) {
      const address = link.distribution.peerInfo(peer)?.address;
      if (address !== undefined) connected.set(address, peer);
    }
    for (const [address, node] of wanted) {
      if (connected.has(address)) continue;
      if (node === undefined || link.node.name < node) this.#dial(address);
    }
    for (const address of [...link.dialed]) {
      if (wanted.has(address)) continue;
      link.dialed.delete(address);
      const peer = connected.get(address);
      if (peer !== undefined) link.distribution.disconnect(peer);
    }
  }

  // ---- maintenance ---------------------------------------------------------------------------

  #scheduleMaintenance(delayMs: number): void {
    this.#maintenanceTimer = this.#clock.setTimeout(() => {
      if (this.#closed) return;
      try {
        this.#maintain();
      } finally {
        if (!this.#closed) this.#scheduleMaintenance(this.#settings.maintenanceIntervalMs);
      }
    }, delayMs);
  }

  #maintain(): void {
    this.#keepGatewayRole();
    this.#once('eligibility', () => this.#declareEligibility());
    const leader = this.group.status().role === 'leader';
    // Slot states are reconciled where the directory is known: by the root group's leader (its
    // replica) and by every gateway of the other groups (their cache), so a group whose leader
    // is not a gateway heals too. The steps are guarded by move revisions: doing them twice is a no-op.
    if (this.#view() !== undefined && (leader || (this.#gateway !== undefined && !this.#isRoot()))) this.#once('reconcile', () => this.#reconcileSlots());
    const seeded = (this.#options.seeds ?? []).length > 0;
    if (leader) {
      this.#once('choose_gateways', () => this.#chooseGateways());
      this.#once('create_root', () => this.#createRootIfAsked());
      if (this.#isRoot()) this.#once('stalled_moves', () => this.#abortStalledMoves());
    }
    if (this.#isHolderChecker()) this.#once('holders', () => this.#checkHolders());
    this.#noticeMemberChanges();
    if (this.#gateway !== undefined) {
      this.#keepLinks();
      this.#once('publish', () => this.#publishGateways());
      const now = this.#clock.now();
      if (this.#options.createRoot === true) {
        // A root candidate with seeds asks them first (before creating; then now and again).
        const periodMs = this.#directory.rootGroup === undefined ? this.#settings.directoryPollMs : this.#settings.directoryWatchMs;
        if (seeded && now - this.#lastProbeMs >= periodMs) {
          this.#lastProbeMs = now;
          this.#once('probe_seeds', () => this.#probeSeeds());
        }
      } else if (!this.#isRoot() && now - this.#lastPollMs >= this.#settings.directoryPollMs && !this.#pollInFlight) {
        this.#lastPollMs = now;
        this.#once('poll', () => this.#pollDirectory());
      }
    }
    if (this.#releases.size > 0) this.#once('releases', () => this.#retryReleases());
  }

  /** Run `task` unless the previous run of the same task is still going. */
  #once(key: string, task: () => Promise<void>): void {
    if (this.#busy.has(key) || this.#closed) return;
    this.#busy.add(key);
    task()
      .catch((error: unknown) => this.#log('warn', `${key}_failed`, (error as Error)?.message ?? String(error)))
      .finally(() => this.#busy.delete(key));
  }

  #keepGatewayRole(): void {
    const wanted = this.#global.wantedGateways().includes(this.node.name) && this.#options.gatewayEligible !== false;
    if (wanted && this.#gateway === undefined && this.#gatewayStarting === undefined) {
      this.#gatewayStarting = this.#startGateway()
        .catch((error: unknown) => this.#log('warn', 'gateway_start_failed', (error as Error).message))
        .finally(() => (this.#gatewayStarting = undefined));
    } else if (this.#gateway !== undefined && !this.#global.wantedGateways().includes(this.node.name)) {
      void this.#stopGateway();
    } else if (this.#gateway !== undefined) {
      const published = this.#global.gateways().find((gateway) => gateway.member === this.node.name);
      if (published?.address !== this.#gateway.distribution.address) {
        const link = this.#gateway;
        this.#once('gateway_up', async () => {
          await this.#proposeGlobal({ op: 'gateway_up', gateway: { member: this.node.name, node: link.node.name, address: link.distribution.address } });
        });
      }
    }
  }

  /** Leader: keep `gatewaysWanted` live members as gateways, replacing dead ones. */
  /**
   * Leader: keep `gatewaysWanted` live, eligible members as gateways. A wanted gateway out of
   * touch with the leader for less than `gatewayDownGraceMs` is kept (a brief intra-group flap
   * does not tear down its hidden links); past that, or once it declares itself ineligible
   * (`gatewayEligible: false`, recorded in the log), it is replaced.
   */
  async #chooseGateways(): Promise<void> {
    const status = this.group.status();
    const members = [...status.voters, ...status.learners];
    const now = this.#clock.now();
    const connected = (member: string) => member === this.node.name || this.distribution.isConnected(member);
    for (const member of [...this.#gatewayDownSince.keys()]) if (connected(member) || !members.includes(member)) this.#gatewayDownSince.delete(member);
    const usable = (member: string) => members.includes(member) && this.#global.gatewayEligible(member);
    const current = this.#global.wantedGateways();
    const keep = current.filter((member) => {
      if (!usable(member)) return false;
      if (connected(member)) return true;
      const since = this.#gatewayDownSince.get(member) ?? now;
      this.#gatewayDownSince.set(member, since);
      return now - since < this.#settings.gatewayDownGraceMs;
    });
    for (const member of members.sort()) {
      if (keep.length >= this.#settings.gatewaysWanted) break;
      if (!keep.includes(member) && usable(member) && connected(member)) keep.push(member);
    }
    if (keep.length === current.length && keep.every((member, index) => member === current[index])) return;
    await this.#proposeGlobal({ op: 'want_gateways', members: keep });
  }

  /** Record this member's `gatewayEligible` option in the group's log when the log says otherwise. */
  async #declareEligibility(): Promise<void> {
    const eligible = this.#options.gatewayEligible !== false;
    if (this.#global.gatewayEligible(this.node.name) === eligible) return;
    await this.#proposeGlobal({ op: 'gateway_eligible', member: this.node.name, eligible });
  }

  /**
   * Leader of a group started with `createRoot`: create the federation (without seeds; with
   * seeds a gateway does it once they said no federation exists there, `#probeSeeds`), then
   * claim every slot. A refusal is an alarm, not a log line.
   */
  async #createRootIfAsked(): Promise<void> {
    if (this.#options.createRoot !== true) return;
    if (this.#directory.rootGroup === undefined && (this.#options.seeds ?? []).length === 0) await this.#createRoot();
    if (this.#directory.rootGroup === this.groupId && !this.#global.initialized) await this.#proposeGlobal({ op: 'claim_all' });
  }

  async #createRoot(): Promise<void> {
    if (this.#global.alarms().some((alarm) => alarm.code === 'two_roots')) return;
    const result = await this.#proposeDirectory({ op: 'create_root', group: this.groupId, gateways: this.#publishedGateways() });
    if (result.ok || this.#directory.rootGroup === this.groupId) return;
    await this.#raiseAlarm('create_root_refused', `creating the federation was refused: ${result.reason}`, { refusal: result.code });
  }

  /**
   * A gateway of a group started with `createRoot` and seeds: ask each connected seed which
   * root it knows. Another root → the `two_roots` alarm (this group never creates a second
   * federation, nor joins that one as a root). Before the federation exists here, a seed that
   * answers without a root lets this gateway create it.
   */
  async #probeSeeds(): Promise<void> {
    const link = this.#gateway;
    if (link === undefined) return;
    const ownRoot = this.#directory.rootGroup ?? null;
    let answered = false;
    for (const peer of link.distribution.peers({ hidden: true })) {
      let otherRoot: string | null;
      try {
        const reply = (await link.rpc.call(peer, 'dir_since', { revision: 0, waitMs: 0, root: ownRoot }, this.#settings.hopTimeoutMs)) as { snapshot?: DirectorySnapshot };
        otherRoot = reply.snapshot?.rootGroup ?? null;
      } catch (error) {
        if (!isFedError(error, 'moved')) continue;
        const group = error.details?.group;
        otherRoot = typeof group === 'string' ? group : null;
      }
      answered = true;
      if (otherRoot !== null && otherRoot !== this.groupId) {
        await this.#raiseAlarm('two_roots', `a federation with root group ${otherRoot} already exists at the seeds; ${this.groupId} will not create another`, { otherRoot, seed: peer });
        return;
      }
    }
    if (answered && this.#directory.rootGroup === undefined) await this.#createRoot();
  }

  /** Record an alarm in this group's log (once per code) so every member reports it. */
  async #raiseAlarm(code: FederationAlarmCode, message: string, details: Record<string, unknown>): Promise<void> {
    this.#log('warn', code, message);
    if (this.#global.alarms().some((alarm) => alarm.code === code)) return;
    await this.#proposeGlobal({ op: 'alarm', alarm: { code, message, details } });
  }

  /** The root this member knows (its replica in the root group, else its cache). */
  #knownRoot(): GroupId | undefined {
    return this.#directory.rootGroup ?? this.#cache.rootGroup;
  }

  #publishedGateways(): Gateway[] {
    return this.#global.gateways().map((gateway) => ({ node: gateway.node, address: gateway.address }));
  }

  /** A gateway: make the directory list this group's gateways. */
  async #publishGateways(): Promise<void> {
    const view = this.#view();
    if (view === undefined || view.rootGroup === undefined) return;
    const gateways = this.#publishedGateways();
    if (gateways.length === 0) return;
    const record = view.group(this.groupId);
    if (record?.state === 'removed') {
      await this.#raiseAlarm('group_removed', `the directory lists group ${this.groupId} as removed (group ids are never reused)`, { removedAt: record.revision });
      return;
    }
    if (record !== undefined && sameGateways(record.gateways, gateways)) return;
    const command: DirectoryCommand = record === undefined ? { op: 'add_group', group: this.groupId, gateways } : { op: 'set_gateways', group: this.groupId, gateways };
    const result = this.#isRoot() ? await this.#proposeDirectory(command) : ((await this.#callGroupAsGateway(view.rootGroup, 'dir_propose', { command })) as DirectoryResult);
    this.#lastPollMs = -Infinity;
    if (result.ok) {
      if (this.#global.alarms().some((alarm) => alarm.code === 'add_group_refused')) await this.#proposeGlobal({ op: 'clear_alarm', code: 'add_group_refused' });
      return;
    }
    // `group_exists`: this cache had not seen the record yet (the next poll brings it: a removed
    // tombstone then raises `group_removed`); `not_initialized`: the root is being created.
    if (result.code === 'group_exists' || result.code === 'not_initialized') this.#log('warn', 'publish_refused', `${command.op}: ${result.reason}`);
    else await this.#raiseAlarm('add_group_refused', `the root's directory refused group ${this.groupId}: ${result.reason}`, { refusal: result.code, op: command.op });
  }

  async #pollDirectory(): Promise<void> {
    const link = this.#gateway;
    if (link === undefined) return;
    this.#pollInFlight = true;
    try {
      const rootGroup = this.#cache.rootGroup;
      const rootGateways = rootGroup === undefined ? [] : (this.#cache.group(rootGroup)?.gateways ?? []).map((gateway) => gateway.node);
      const candidates = [...new Set([...rootGateways.filter((node) => link.distribution.isConnected(node)), ...link.distribution.peers({ hidden: true })])];
      for (const candidate of candidates) {
        try {
          const revision = this.#needSnapshot ? 0 : this.#cache.revision;
          // A root gateway holds the poll open until the directory changes (a watch); others answer at once.
          const watched = rootGateways.includes(candidate);
          const waitMs = watched ? this.#settings.directoryWatchMs : 0;
          const reply = (await link.rpc.call(candidate, 'dir_since', { revision, waitMs, root: this.#cache.rootGroup ?? null }, this.#settings.hopTimeoutMs + waitMs)) as {
            events?: DirectoryEvent[];
            snapshot?: DirectorySnapshot;
          };
          this.#applyDirectoryReply(reply, candidate);
          if (watched) this.#lastPollMs = -Infinity;
          return;
        } catch {
          // try the next candidate (a gateway with nothing newer answers `moved`)
        }
      }
    } finally {
      this.#pollInFlight = false;
    }
  }

  #wakeDirectoryWaiters(): void {
    for (const wake of [...this.#directoryWaiters]) wake();
  }

  #applyDirectoryReply(reply: { events?: DirectoryEvent[]; snapshot?: DirectorySnapshot }, from: string): void {
    const otherRoot = reply.snapshot?.rootGroup ?? null;
    const knownRoot = this.#cache.rootGroup;
    if (otherRoot !== null && knownRoot !== undefined && otherRoot !== knownRoot) {
      // Seeds (or links) of two different federations: follow neither's news into the other's.
      void this.#raiseAlarm('two_roots', `gateways reach two federations, with root groups ${knownRoot} and ${otherRoot}`, { roots: [knownRoot, otherRoot], via: from }).catch(() => undefined);
      return;
    }
    if (reply.snapshot !== undefined) {
      this.#cache.applySnapshot(reply.snapshot);
      this.#needSnapshot = false;
    }
    for (const event of reply.events ?? []) {
      if (this.#cache.applyEvent(event) === 'gap') {
        this.#needSnapshot = true;
        return;
      }
    }
  }

  /**
   * `#directorySince`, but a root member with nothing newer than `revision` holds the answer
   * until the directory changes or `waitMs` (at most `directoryWatchMs`) passes: a watch, so a
   * quiet directory costs its followers one poll per `directoryWatchMs`, not per `directoryPollMs`.
   */
  async #directorySinceWatched(revision: number, waitMs: number): Promise<{ events?: DirectoryEvent[]; snapshot?: DirectorySnapshot }> {
    const answer = this.#directorySince(revision);
    const quiet = answer.events !== undefined && answer.events.length === 0;
    if (!quiet || waitMs <= 0 || this.#closed || this.#directoryWaiters.size >= this.#settings.subscriptionsMax) return answer;
    await new Promise<void>((resolve) => {
      const wake = () => {
        this.#clock.clearTimeout(timer);
        this.#directoryWaiters.delete(wake);
        resolve();
      };
      const timer = this.#clock.setTimeout(wake, Math.min(waitMs, this.#settings.directoryWatchMs));
      this.#directoryWaiters.add(wake);
    });
    return this.#directorySince(revision);
  }

  /**
   * The directory events after `revision`, or a snapshot. A root member answers from its
   * replica; another gateway answers from its cache when that is newer (so gateways cut off
   * from the root still learn from each other), else `moved` to the root.
   */
  #directorySince(revision: number): { events?: DirectoryEvent[]; snapshot?: DirectorySnapshot } {
    if (!this.#isRoot()) {
      if (this.#cache.revision > revision) return { snapshot: this.#cache.snapshot() };
      throw fedError('moved', `${this.groupId} is not the root group`, { group: this.#cache.rootGroup ?? null });
    }
    const events = revision > 0 ? this.#directory.eventsSince(revision) : undefined;
    if (events === undefined) return { snapshot: this.#directory.snapshot() };
    return { events };
  }

  /** Bring this group's slot states in line with the directory (`reconcileSteps`; guarded by move revisions). */
  async #reconcileSlots(): Promise<void> {
    const view = this.#view();
    if (view === undefined || view.rootGroup === undefined) return;
    const steps = reconcileSteps(this.#global.slots(), view, this.groupId);
    for (const op of ['accept', 'unfence', 'drop'] as const) {
      const list = steps[op];
      for (let start = 0; start < list.length; start += SLOT_BATCH_MAX) await this.#proposeGlobal({ op, steps: list.slice(start, start + SLOT_BATCH_MAX) });
    }
  }

  // ---- slot moves (root members) ---------------------------------------------------------------

  /** Root leader: abort moves stuck in one phase for `moveStallMs` (their mover is gone); groups then undo the fence. */
  async #abortStalledMoves(): Promise<void> {
    const now = this.#clock.now();
    const stalled: SlotMove[] = [];
    const current = new Set<number>();
    for (const move of this.#directory.moves()) {
      current.add(move.slot);
      const seen = this.#movesSeen.get(move.slot);
      if (seen === undefined || seen.revision !== move.revision || seen.phase !== move.phase || this.#movesRunning.has(move.slot)) {
        this.#movesSeen.set(move.slot, { revision: move.revision, phase: move.phase, sinceMs: now });
      } else if (now - seen.sinceMs >= this.#settings.moveStallMs) stalled.push(move);
    }
    for (const slot of [...this.#movesSeen.keys()]) if (!current.has(slot)) this.#movesSeen.delete(slot);
    if (stalled.length === 0) return;
    this.#log('warn', 'moves_stalled', `aborting ${stalled.length} stalled slot moves`);
    await this.#proposeDirectory({ op: 'batch', commands: stalled.slice(0, MOVE_BATCH_SLOTS).map((move) => ({ op: 'abort_move' as const, slot: move.slot, moveRevision: move.revision })) });
  }

  async #moveBatch(slots: readonly number[], to: GroupId): Promise<SlotMoveReport> {
    for (const slot of slots) this.#movesRunning.add(slot);
    try {
      return await this.#runMoveBatch(slots, to);
    } finally {
      for (const slot of slots) this.#movesRunning.delete(slot);
    }
  }

  /**
   * One batch of the move protocol (see the file comment), checking every per-slot answer: a
   * slot whose step is refused or fails leaves the batch, and its move is made to end (aborted)
   * and undone in both groups (`#undoMoves`). Only slots whose `complete_move` this mover saw
   * succeed are accepted at the destination and dropped at the source.
   */
  async #runMoveBatch(slots: readonly number[], to: GroupId): Promise<SlotMoveReport> {
    const refused: SlotMoveRefusal[] = [];
    const began = await this.#proposeDirectory({ op: 'batch', commands: slots.map((slot) => ({ op: 'begin_move' as const, slot, to })) });
    if (!began.ok) throw refusalError(began);
    let live: SlotMove[] = [];
    slots.forEach((slot, index) => {
      const result = began.results?.[index];
      assert(result !== undefined, 'a directory batch answers every command');
      if (!result.ok) return refused.push({ slot, code: result.code, reason: result.reason });
      // Entries applied after ours may already have ended the move (the root's leader aborting it).
      const move = this.#directory.moveOf(slot);
      if (move?.revision !== began.revision) return refused.push({ slot, code: 'move_aborted', reason: `the move of slot ${slot} was aborted as it began` });
      live.push(move);
    });
    // Fence at each source (its log freezes the slot and hands back the names), import at `to`.
    const bySource = groupBy(live, (move) => move.from);
    for (const [source, list] of bySource) {
      const steps = list.map((move) => ({ slot: move.slot, moveRevision: move.revision }));
      let fenced: GlobalResult;
      try {
        fenced = (await this.#callGroup(source, 'slot_step', { cmd: { op: 'fence', steps } })) as GlobalResult;
      } catch (error) {
        live = await this.#giveUp(live, list, 'unavailable', `group ${source} did not fence: ${(error as Error).message}`, refused);
        continue;
      }
      const entries = new Map(fenced.ok ? (fenced.entries ?? []) : []);
      const unfenced = list.filter((move) => !entries.has(move.slot));
      live = await this.#giveUp(live, unfenced, 'unavailable', `group ${source} did not fence the slot`, refused);
      // Imports travel in batches of whole slots (one destination log entry each), bounded in names.
      const notImported: SlotMove[] = [];
      for (const chunk of importChunks(list.filter((move) => entries.has(move.slot)), (move) => entries.get(move.slot)?.length ?? 0)) {
        const imports = chunk.map((move) => ({ slot: move.slot, moveRevision: move.revision, entries: entries.get(move.slot) ?? [] }));
        // A slot alone in its chunk may hold more names than a batch carries: it goes as a plain import.
        const cmd = imports.length === 1 ? { op: 'import', ...(imports[0] as (typeof imports)[number]) } : { op: 'import_batch', imports };
        const imported = (await this.#callGroup(to, 'slot_step', { cmd }).catch(() => undefined)) as GlobalResult | undefined;
        const applied = new Set(imported?.ok === true ? (imported.applied ?? []) : []);
        appendAll(notImported, chunk.filter((move) => !applied.has(move.slot)));
      }
      live = await this.#giveUp(live, notImported, 'unavailable', `group ${to} did not import the slot`, refused);
    }
    // Record the copy, then switch ownership; a refusal means the move was ended by someone else.
    for (const op of ['mark_copied', 'complete_move'] as const) {
      if (live.length === 0) break;
      const result = await this.#proposeDirectory({ op: 'batch', commands: live.map((move) => ({ op, slot: move.slot, moveRevision: move.revision })) });
      if (!result.ok) throw refusalError(result);
      const failed = live.filter((_move, index) => result.results?.[index]?.ok !== true);
      live = await this.#giveUp(live, failed, 'move_aborted', `the move was aborted before ${op}`, refused);
    }
    await this.#finishMoves(live);
    return { moved: live.map((move) => move.slot), refused };
  }

  /** Take `failed` out of the batch: report them, abort their moves, undo them. Returns what stays live. */
  async #giveUp(live: SlotMove[], failed: readonly SlotMove[], code: SlotMoveRefusalCode, reason: string, refused: SlotMoveRefusal[]): Promise<SlotMove[]> {
    if (failed.length === 0) return live;
    const out = new Set(failed);
    for (const move of failed) refused.push({ slot: move.slot, code, reason });
    try {
      // Refused harmlessly (`no_move`/`stale_move`) for moves that already ended.
      await this.#proposeDirectory({ op: 'batch', commands: failed.map((move) => ({ op: 'abort_move' as const, slot: move.slot, moveRevision: move.revision })) });
    } catch (error) {
      // Unknown whether the abort applied: leave it to the root's stall check and the reconcilers.
      this.#log('warn', 'move_abort_failed', `${failed.length} moves: ${(error as Error).message}`);
      return live.filter((move) => !out.has(move));
    }
    await this.#finishMoves(failed);
    return live.filter((move) => !out.has(move));
  }

  /**
   * Send each ended move's last steps to both groups, as the directory decides them
   * (`moveOutcome`): completed → accept at `to`, drop at `from`; aborted → unfence at `from`,
   * drop at `to`; superseded → drop at both. Best effort: the groups' reconcilers do the same.
   */
  async #finishMoves(moves: readonly SlotMove[]): Promise<void> {
    const commands = new Map<GroupId, Map<'accept' | 'unfence' | 'drop', SlotStep[]>>();
    const add = (group: GroupId, op: 'accept' | 'unfence' | 'drop', move: SlotMove) => {
      let byOp = commands.get(group);
      if (byOp === undefined) commands.set(group, (byOp = new Map()));
      let steps = byOp.get(op);
      if (steps === undefined) byOp.set(op, (steps = []));
      steps.push({ slot: move.slot, moveRevision: move.revision });
    };
    for (const move of moves) {
      const outcome = moveOutcome(this.#directory, move);
      if (outcome === 'completed') (add(move.to, 'accept', move), add(move.from, 'drop', move));
      else if (outcome === 'aborted') (add(move.from, 'unfence', move), add(move.to, 'drop', move));
      else if (outcome === 'superseded') (add(move.from, 'drop', move), add(move.to, 'drop', move));
    }
    // Accept before drop: the new owner takes writes before the old copy goes.
    for (const op of ['accept', 'unfence', 'drop'] as const) {
      for (const [group, byOp] of commands) {
        const steps = byOp.get(op) ?? [];
        for (let start = 0; start < steps.length; start += SLOT_BATCH_MAX) {
          await this.#callGroup(group, 'slot_step', { cmd: { op, steps: steps.slice(start, start + SLOT_BATCH_MAX) } }).catch((error: unknown) =>
            this.#log('warn', 'move_step_failed', `${op} at ${group}: ${(error as Error).message}`),
          );
        }
      }
    }
  }

  // ---- names follow their processes ----------------------------------------------------------

  /**
   * Tie `name` to `pid`'s life: this member's agent monitors the pid (on this node or, over the
   * group's own link, on another member) and releases the name when it exits.
   */
  #hold(name: string, pid: Pid): void {
    let held = this.#localHolders.get(pid.key);
    if (held === undefined) {
      this.#localHolders.set(pid.key, (held = { pid, names: new Set() }));
      if (this.#agentPid !== undefined) this.node.send(this.#agentPid, pid);
    }
    held.names.add(name);
  }

  /**
   * Monitors every holder. A `noconnection` DOWN says only that the link to the holder's node
   * dropped, not that the holder exited: its names stay (the home group's holder check releases
   * them if the node is gone for good) and it is monitored again when its node comes back.
   */
  async #agent(ctx: ProcessContext): Promise<void> {
    for (;;) {
      const message = await ctx.receive();
      if (message instanceof Pid) ctx.monitor(message);
      else if (isDownMessage(message) && message.pid instanceof Pid) {
        if (message.reason === 'noconnection' && this.#localHolders.has(message.pid.key)) this.#detached.add(message.pid.key);
        else this.#onHolderDown(message.pid);
      }
    }
  }

  /** A member's node is back: monitor its holders again (one that exited meanwhile answers `noproc`). */
  #reattachHolders(node: string): void {
    for (const key of [...this.#detached]) {
      const held = this.#localHolders.get(key);
      if (held === undefined) {
        this.#detached.delete(key);
        continue;
      }
      if (held.pid.node !== node) continue;
      this.#detached.delete(key);
      if (this.#agentPid !== undefined) this.node.send(this.#agentPid, held.pid);
    }
  }

  /** `node` is this member's or a member of this group's (as this member knows the configuration). */
  #isGroupNode(node: string): boolean {
    if (node === this.node.name) return true;
    const status = this.group.status();
    return status.voters.includes(node) || status.learners.includes(node);
  }

  #onHolderDown(pid: Pid): void {
    const held = this.#localHolders.get(pid.key);
    this.#localHolders.delete(pid.key);
    for (const name of held?.names ?? []) {
      if (this.#releases.size >= this.#settings.releasesPendingMax) {
        this.#log('warn', 'releases_full', `${this.#releases.size} releases pending; ${name} stays until its home group cleans up`);
        break;
      }
      this.#releases.set(name, pid);
    }
    if (this.#releases.size > 0) this.#once('releases', () => this.#retryReleases());
  }

  async #retryReleases(): Promise<void> {
    for (const [name, pid] of [...this.#releases]) {
      if (this.#closed) return;
      try {
        await this.#write(name, { op: 'unregister', name, pid, reason: 'process_exit' });
        this.#releases.delete(name);
      } catch (error) {
        if (isFedError(error, 'not_owner') || isFedError(error, 'badarg')) this.#releases.delete(name);
      }
    }
  }

  // ---- relayed monitors ----------------------------------------------------------------------

  /**
   * A proxy process here monitors (or, `link`, links to — trapping exits) `pid` and tells
   * `deliver` once it ends; `until` resolves once its monitor or link is set (signals to `pid`
   * sent from this node afterwards come after it). A `link` proxy also obeys `UNLINK_MESSAGE`.
   */
  #proxy(pid: Pid, link: boolean, deliver: (reason: unknown) => void): { proxy: Pid; until: Promise<void> } {
    let set: () => void = () => undefined;
    const until = new Promise<void>((resolve) => (set = resolve));
    const body = async (ctx: ProcessContext): Promise<void> => {
      if (!link) {
        ctx.monitor(pid);
        set();
        const down = await ctx.receive((message) => isDownMessage(message));
        deliver((down as { reason: unknown }).reason);
        return;
      }
      ctx.link(pid);
      set();
      const message = (await ctx.receive((candidate) => (isExitMessage(candidate) && candidate.from.equals(pid)) || (candidate as { type?: unknown })?.type === UNLINK_MESSAGE)) as {
        type: string;
        reason: ExitReason;
      };
      if (message.type !== UNLINK_MESSAGE) return deliver(message.reason);
      if (message.reason !== 'normal') ctx.exit(pid, message.reason);
    };
    return { proxy: this.node.spawn(body, link ? { trapExit: true } : {}), until };
  }

  /** Within the group: a proxy here monitors `pid` for `watcher` (tracked, so `demonitor` can drop it). */
  async #localMonitor(watcher: Pid, ref: Ref, pid: Pid): Promise<void> {
    const key = refKey(ref);
    const { proxy, until } = this.#proxy(pid, false, (reason) => {
      this.#localMonitors.delete(key);
      this.node.send(watcher, { type: 'DOWN', ref, pid, reason });
    });
    this.#localMonitors.set(key, proxy);
    await until;
  }

  /** At the caller's gateway: ask the home group's gateways to watch (or link to) `pid`, remember the route. */
  async #relayMonitor(member: string, ref: Ref, pid: Pid, group: GroupId, linked: boolean): Promise<null> {
    const link = this.#gateway;
    if (link === undefined) throw fedError('unavailable', `${this.node.name} is not a gateway`);
    const record = this.#view()?.group(group);
    if (record === undefined) throw fedError('not_found', `no group ${group} in the directory`);
    const gateways = orderGateways(record.gateways, link.node.name, (node) => (link.distribution.isConnected(node) ? 'connected' : 'unknown'));
    for (const gateway of gateways) {
      this.#relayedMonitors.set(refKey(ref), { member, ref, pid, home: gateway.node });
      try {
        await link.rpc.call(gateway.node, 'monitor', { ref, pid, link: linked }, this.#settings.hopTimeoutMs);
        return null;
      } catch (error) {
        this.#relayedMonitors.delete(refKey(ref));
        if (!isFedError(error, 'nodedown') && !isFedError(error, 'timeout')) throw error;
      }
    }
    throw fedError('unavailable', `group ${group} is unreachable`, { group });
  }

  /** At the caller's gateway: end a relayed monitor or link; a link's `reason` goes on to the remote pid. */
  async #relayDemonitor(ref: Ref, reason: ExitReason): Promise<null> {
    const relayed = this.#relayedMonitors.get(refKey(ref));
    this.#relayedMonitors.delete(refKey(ref));
    if (relayed !== undefined) await this.#gateway?.rpc.call(relayed.home, 'demonitor', { ref, reason }, this.#settings.hopTimeoutMs).catch(() => undefined);
    return null;
  }

  /**
   * At the home gateway: watch a local-group pid for gateway `from` of another group. For a
   * link, the proxy also links to `pid` (trapping exits): `pid`'s exit goes back as a DOWN, and
   * the end of the relay (`#endServed`) exits `pid` with the other side's reason.
   */
  async #serveMonitor(from: string, ref: Ref, pid: Pid, link: boolean): Promise<void> {
    const key = refKey(ref);
    const { proxy, until } = this.#proxy(pid, link, (reason) => {
      if (this.#servedMonitors.get(key)?.proxy.equals(proxy) !== true) return;
      this.#servedMonitors.delete(key);
      this.#gateway?.distribution.sendControl(from, DOWN_CHANNEL, { ref, reason });
    });
    this.#servedMonitors.set(key, { proxy, from, link });
    await until;
  }

  /** At the home gateway: stop serving a monitor (drop its proxy) or a link (exit the pid with `reason` unless normal). */
  #endServed(key: string, reason: ExitReason): void {
    const served = this.#servedMonitors.get(key);
    if (served === undefined) return;
    this.#servedMonitors.delete(key);
    if (!this.node.started) return;
    if (served.link) this.node.send(served.proxy, { type: UNLINK_MESSAGE, reason });
    else this.node.exit(served.proxy, 'kill');
  }

  /** At the caller's gateway: a home gateway reports a DOWN; pass it to the member. */
  #onRelayedDown(from: string, payload: { ref: Ref; reason: unknown }): void {
    if (!(payload?.ref instanceof Ref)) return;
    const relayed = this.#relayedMonitors.get(refKey(payload.ref));
    if (relayed === undefined || relayed.home !== from) return;
    this.#relayedMonitors.delete(refKey(payload.ref));
    this.#forwardDown(relayed.member, payload.ref, payload.reason);
  }

  #forwardDown(member: string, ref: Ref, reason: unknown): void {
    if (member === this.node.name) this.#onMemberDown(member, { ref, reason });
    else this.distribution.sendControl(member, DOWN_CHANNEL, { ref, reason });
  }

  /** At the caller: deliver the DOWN to the watcher. */
  #onMemberDown(from: string, payload: { ref: Ref; reason: unknown }): void {
    if (!(payload?.ref instanceof Ref)) return;
    const monitor = this.#monitors.get(refKey(payload.ref));
    if (monitor === undefined || monitor.via !== from) return;
    this.#monitors.delete(refKey(payload.ref));
    this.node.send(monitor.watcher, { type: 'DOWN', ref: monitor.ref, pid: monitor.pid, reason: payload.reason });
  }

  /** A hidden link dropped: relayed monitors through it fire `noconnection`; monitors served for it stop. */
  #onHiddenNodeDown(node: string): void {
    for (const [key, relayed] of this.#relayedMonitors) {
      if (relayed.home !== node) continue;
      this.#relayedMonitors.delete(key);
      this.#forwardDown(relayed.member, relayed.ref, 'noconnection');
    }
    for (const [key, served] of this.#servedMonitors) if (served.from === node) this.#endServed(key, 'noconnection');
  }

  /** A link inside the group dropped: monitors relayed by that gateway fire `noconnection`. */
  #onGroupNodeDown(node: string): void {
    for (const [key, monitor] of this.#monitors) {
      if (monitor.via !== node) continue;
      this.#monitors.delete(key);
      this.node.send(monitor.watcher, { type: 'DOWN', ref: monitor.ref, pid: monitor.pid, reason: 'noconnection' });
    }
    // The caller is gone: its links' remote ends get noconnection, its monitors just stop.
    for (const [key, relayed] of this.#relayedMonitors) {
      if (relayed.member !== node) continue;
      this.#relayedMonitors.delete(key);
      void this.#gateway?.rpc.call(relayed.home, 'demonitor', { ref: relayed.ref, reason: 'noconnection' }, this.#settings.hopTimeoutMs).catch(() => undefined);
    }
  }

  /**
   * The holder checker of a home group (its first gateway): names die with their holder's node.
   * Each holder node's own group says whether it is a live member and its creation; a node dead
   * for `nameDownGraceMs` loses its names, a live node's older incarnations lose theirs. A group
   * that cannot be asked (partition) keeps its names: nothing is removed on a guess. Names
   * behind a fence stay until a later check, which then reaches the slot's new owner.
   *
   * What it costs: only groups whose pids hold names here are asked, all their nodes in one
   * call, and the call subscribes (`watch`): the answering gateway sends `nodes_changed` when its
   * group's members or their incarnations change, and only then is the group asked again —
   * besides a resync every `holderResyncMs` (a lost notice, a lost subscription) and a recheck
   * every `holderCheckMs` while one of its nodes is in its grace period. So a quiet federation
   * spends O(groups² / holderResyncMs) messages per second on this, not O(groups²) per second.
   */
  async #checkHolders(): Promise<void> {
    const now = this.#clock.now();
    const byGroup = new Map<GroupId, Map<string, number>>();
    for (const [recorded, nodes] of this.#global.holdersByGroup()) {
      const group = recorded ?? this.groupId;
      const merged = byGroup.get(group) ?? new Map<string, number>();
      for (const [node, creation] of nodes) merged.set(node, Math.min(merged.get(node) ?? Infinity, creation));
      byGroup.set(group, merged);
    }
    for (const group of [...this.#holderGroups.keys()]) if (!byGroup.has(group)) this.#holderGroups.delete(group);
    const seen = new Set<string>();
    for (const [group, nodes] of byGroup) {
      let state = this.#holderGroups.get(group);
      if (state === undefined) this.#holderGroups.set(group, (state = { nextMs: 0, via: undefined }));
      if (now < state.nextMs) {
        for (const node of nodes.keys()) seen.add(node);
        continue;
      }
      let alive: Record<string, number | null>;
      try {
        if (group === this.groupId) alive = this.#nodesAlive([...nodes.keys()]);
        else {
          const answer = await this.#callGroupGateways(group, 'nodes_alive', { nodes: [...nodes.keys()], watch: true });
          alive = answer.value as Record<string, number | null>;
          state.via = answer.gateway;
        }
      } catch {
        for (const node of nodes.keys()) seen.add(node);
        state.nextMs = now + this.#settings.holderCheckMs;
        continue;
      }
      let grace = false;
      for (const [node, oldestCreation] of nodes) {
        seen.add(node);
        const creation = alive[node];
        if (typeof creation === 'number') {
          this.#deadSince.delete(node);
          if (oldestCreation < creation) await this.#proposeGlobal({ op: 'release_node', node, creationBelow: creation });
          continue;
        }
        const since = this.#deadSince.get(node) ?? now;
        this.#deadSince.set(node, since);
        if (now - since >= this.#settings.nameDownGraceMs) await this.#proposeGlobal({ op: 'release_node', node });
        else grace = true;
      }
      const local = group === this.groupId;
      state.nextMs = now + (local || grace ? this.#settings.holderCheckMs : this.#settings.holderResyncMs);
    }
    for (const node of [...this.#deadSince.keys()]) if (!seen.has(node)) this.#deadSince.delete(node);
  }

  /** This member checks the holders of its group's names: it is the group's first published gateway. */
  #isHolderChecker(): boolean {
    return this.#gateway !== undefined && this.#global.gateways()[0]?.member === this.node.name;
  }

  /**
   * At a gateway with subscribers: tell them (`nodes_changed`) when this group's members, their
   * links to this member or their incarnations change, so they ask about their holders again.
   */
  #noticeMemberChanges(): void {
    const link = this.#gateway;
    if (link === undefined || this.#nodeWatchers.size === 0) return;
    const status = this.group.status();
    const members = [...status.voters, ...status.learners].sort();
    const key = members.map((member) => `${member}:${member === this.node.name ? this.node.creation : (this.distribution.peerInfo(member)?.creation ?? '-')}`).join(',');
    if (key === this.#membersKey) return;
    const first = this.#membersKey === undefined;
    this.#membersKey = key;
    if (first) return;
    for (const watcher of this.#nodeWatchers) link.distribution.sendControl(watcher, NODES_CHANNEL, { group: this.groupId });
  }

  /** At the holder checker: a holder group's gateway says its members changed. */
  #onNodesChanged(payload: unknown): void {
    const group = (payload as { group?: unknown } | null)?.group;
    if (typeof group !== 'string') return;
    const state = this.#holderGroups.get(group);
    if (state !== undefined) state.nextMs = 0;
  }

  /** For each node: its creation if it is a live member of this group (as this member sees it), else null. */
  #nodesAlive(nodes: readonly string[]): Record<string, number | null> {
    const status = this.group.status();
    const members = new Set([...status.voters, ...status.learners]);
    const out: Record<string, number | null> = {};
    for (const node of Array.isArray(nodes) ? nodes : []) {
      if (typeof node !== 'string') continue;
      if (node === this.node.name) out[node] = this.node.creation;
      else out[node] = members.has(node) ? (this.distribution.peerInfo(node)?.creation ?? null) : null;
    }
    return out;
  }

  // ---- helpers -------------------------------------------------------------------------------

  #isRoot(): boolean {
    return this.#directory.rootGroup === this.groupId;
  }

  #assertRoot(): void {
    if (!this.#isRoot()) throw fedError('badarg', `slot moves run on a member of the root group, and ${this.groupId} is not it`);
  }

  /** The directory this member routes with: its replica (root group) or its gateway's cache. */
  #view(): DirectoryView | undefined {
    if (this.#isRoot()) return this.#directory;
    return this.#cache.revision > 0 ? this.#cache : undefined;
  }

  #summary(): DirectorySummary {
    const view = this.#view();
    if (view === undefined) throw fedError('unavailable', `group ${this.groupId} does not know the directory yet`);
    const slots: Record<GroupId, number> = {};
    const moves: SlotMove[] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const owner = view.ownerOf(slot);
      if (owner !== undefined) slots[owner] = (slots[owner] ?? 0) + 1;
      const move = view.moveOf(slot);
      if (move !== undefined) moves.push(move);
    }
    return { revision: view.revision, rootGroup: view.rootGroup ?? null, groups: view.groups(), slots, moves };
  }

  #remaining(deadline: number): number {
    return Math.max(1, deadline - this.#clock.now());
  }

  /** Wait `delayMs`; rejects with `shutdown` at once if the federation closes meanwhile. */
  #sleep(delayMs: number): Promise<void> {
    if (this.#closed) return Promise.reject(fedError('shutdown', 'the federation member is closed'));
    return new Promise((resolve, reject) => {
      const sleep = {
        timer: this.#clock.setTimeout(() => {
          this.#sleeps.delete(sleep);
          resolve();
        }, delayMs),
        reject,
      };
      this.#sleeps.add(sleep);
    });
  }

  #log(level: 'info' | 'warn', event: string, msg: string): void {
    this.#options.log?.(level, event, msg);
  }
}

