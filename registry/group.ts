/**
 * `Group`: one member of a group — the Raft core driven over the node's distribution links and a
 * durable store, applying the replicated `GroupState` (the name registry and member directory).
 *
 * The driver loop (the order is the point; see registry/raft/types.ts `Ready`):
 *   1. feed queued inputs (ticks, messages, proposals, reads) to the core;
 *   2. take a `Ready`; send its `earlyMessages` at once (a leader's appends and heartbeats,
 *      which promise nothing this Ready writes: the followers write to their disks while the
 *      leader writes to its own — the core counts the leader toward commit only once its write
 *      is done);
 *   3. restore/apply its committed entries and answer the proposals and reads waiting on them —
 *      committed entries are durable on a quorum already, so applying them need not wait for
 *      this Ready's own write, and the callers get their answers one disk write sooner;
 *   4. persist its snapshot, entries and hard state in ONE batch (synced when `mustSync`) — in
 *      memory first (the core's `MemoryStorage` mirror), then on disk;
 *   5. only then send its `messages` on the control lane (they may promise what step 4 wrote);
 *   6. `advance()`; repeat while there is more. Inputs that arrive while step 4 awaits the disk
 *      are stepped at once (the core allows it with `earlyReplication`; see #push) and their
 *      effects go into the next `Ready` together: that is the group commit (many proposals share
 *      one sync and one AppendEntries round).
 *
 * Guarantees the group gives its callers:
 * - `register` is linearizable; its revision (the Raft index) is a fencing token. A `fail`
 *   (`not_leader`/`unavailable`) means the request was not proposed; a `timeout` means it may
 *   or may not have been.
 * - `whereis` reads the local replica by default (refused `unavailable` on a member that left:
 *   nothing updates its replica any more); `{consistency: 'leader'}` asks the leader;
 *   `{consistency: 'linearizable'}` goes through ReadIndex: a heartbeat round on the leader;
 *   on a follower of three voters, one round trip to the leader, whose own term the follower
 *   vouches for (RaftNode `#serveRead`).
 * - Names die with their process (the owner node releases them), with their node (the leader
 *   removes the names of a member it cannot reach for `nameDownGraceMs`), and with old
 *   incarnations. A live process whose name was removed gets `{type: 'name_lost', name}`.
 * - The leader keeps 3 voters (5 once the group has 5 members) by promoting caught-up learners
 *   and replacing voters unreachable for longer than `voterDownGraceMs` — each change only while
 *   a quorum of the voters it leaves is live for the leader, so it never locks the group out —
 *   and removes learners unreachable for longer than `learnerDownGraceMs` (they rejoin if they
 *   come back).
 * - A member's Raft store has an id (made when it is first opened). A store that neither
 *   bootstrapped the group nor was admitted by it — a new node, or a node whose data directory
 *   was wiped, back under its old name — takes part in no Raft exchange (it drops every Raft
 *   message) until a member that applied the group's record of that store id tells it it is
 *   admitted. Its name may be a voter whose vote and acknowledged entries went with the old
 *   store: counting it as that voter could elect two leaders in one term or lose committed
 *   entries. The leader admits a joining store by recording its id and adding it as a learner;
 *   a store that comes back under the name of a member the group holds under another (or no)
 *   id is first removed from the configuration (a voter only while a quorum of the others is
 *   live), then admitted as new. etcd asks an operator to do this (member remove, member add);
 *   a wiped member identifies itself here, so the group does it. A member not admitted that
 *   gets a Raft message asks its sender to admit it (once a second), so one restarted between
 *   its admission and writing it down gets in with no join. Answers (acks, votes) carry the
 *   sender's store id, and one from another store than the replica records for the sender
 *   counts for nothing: an earlier store back after a new one was admitted under the name (a
 *   volume remounted), or a node that lost its directory and bootstrapped a group anew. The
 *   leader tells such a store it is superseded; it stops taking part and asks again. Limit: a
 *   member whose replica is older than the record of the new store still counts the earlier
 *   store's answers (a group id per bootstrap, as etcd's cluster id, would close this).
 * - A learner is promoted only if it answered within an election timeout: one that answers
 *   nothing (a store not admitted, a hung process) is not, however caught up the leader's old
 *   progress for it says it is.
 */
import { randomBytes } from 'node:crypto';
import {
  type Clock,
  type Distribution,
  Encoded,
  FedError,
  PROTOCOL_VERSION_ENCODED,
  type Node,
  Pid,
  Rng,
  SystemClock,
  assert,
  decode,
  fedError,
  isDownMessage,
  isExitMessage,
  keepNewest,
  randomSeed,
} from '../runtime/index.js';
import {
  type AppendRequest,
  type ConfChange,
  type ConfState,
  EMPTY_CONF,
  type Entry,
  type HardState,
  MemoryStorage,
  type Message,
  RaftNode,
  type RaftStatus,
  type Ready,
  type RequestResult,
  type Snapshot,
  applyConfChange,
  defaultRaftConfig,
  splitAppend,
} from './raft/index.js';
import { type EncodedRun, type GroupRaftStore, RAFT_STORE_FORMAT, RaftStore, type RaftStoreStats, type StoreMeta, type StoredGroupSnapshot, verifyStoreMeta } from './raft-store.js';
import { type ExtensionStateMachine, type GroupCommand, type GroupEntryData, type GroupResult, GroupState, isRingWeight } from './group-state.js';
import { type NameEntry, WATCH_EVENTS_MAX, type WatchEvent, copyMeta, validateName } from './names.js';
import { HashRing, RING_WEIGHT_MAX } from './ring.js';
import { EncodedRuns } from './encoded-runs.js';
import { type Deadline, RequestDeadlines } from './request-deadlines.js';

export const GROUP_DEFAULTS = {
  tickMs: 50,
  electionTicks: 10,
  heartbeatTicks: 2,
  requestTimeoutMs: 5_000,
  maintenanceIntervalMs: 250,
  nameDownGraceMs: 1_000,
  voterDownGraceMs: 3_000,
  /**
   * A learner unreachable this long is removed from the configuration (Consul autopilot's
   * dead-server cleanup): one gone for good would otherwise stay a member, listed down and
   * counted in the group's size, forever. One that comes back rejoins by itself (a removed
   * member asks to join again), as a learner that catches up.
   */
  learnerDownGraceMs: 60_000,
  /** The snapshot interval's floor when adaptive (see `GroupOptions.snapshotEveryEntries`). */
  snapshotEveryEntries: 10_000,
  pendingRequestsMax: 100_000,
  /** Admission control: client proposals (register, unregister, ext) waiting on this member at once. */
  proposalsInFlightMax: 256,
  /** Admission control: as leader, appended but uncommitted entries beyond which client proposals are refused. */
  uncommittedEntriesMax: 8_192,
} as const;

/** The adaptive snapshot interval's ceiling (etcd's default SnapshotCount): bounds the log kept in memory. */
const SNAPSHOT_EVERY_ENTRIES_MAX = 100_000;

/** Bounds of the `retryAfterMs` hint sent with `overloaded` (it follows the recent proposal latency). */
const RETRY_AFTER_MS_MIN = 5;
const RETRY_AFTER_MS_MAX = 1_000;
/** Weight of the newest sample in the proposal latency average. */
const LATENCY_AVERAGE_WEIGHT = 0.1;
/** Commands subject to admission control; the group's own upkeep (member, node_down, release…) never is. */
const ADMITTED_OPS: ReadonlySet<string> = new Set(['register', 'unregister', 'ext']);

/** Admission control counters of one member (see `Group.admission()`). */
export interface AdmissionStats {
  readonly proposalsInFlight: number;
  readonly proposalsInFlightMax: number;
  /** As leader: last index minus commit index; 0 on a follower. */
  readonly uncommittedEntries: number;
  readonly uncommittedEntriesMax: number;
  readonly admittedTotal: number;
  readonly rejectedOverloadedTotal: number;
  /** Moving average of the time from propose to applied here, in ms. */
  readonly proposalLatencyMsAverage: number;
}

/** See `Group.driverStats()`. */
export interface DriverStats extends RaftStoreStats {
  readonly readies: number;
  readonly appendsWithEntriesSent: number;
  /** Appends without entries sent (commit updates, probes). */
  readonly emptyAppendsSent: number;
}

export type Consistency = 'local' | 'leader' | 'linearizable';

export const UNSAFE_MODES = ['stale-reads', 'early-ack', 'no-quorum-check'] as const;
export type UnsafeMode = (typeof UNSAFE_MODES)[number];

export const JOIN_TIMEOUT_MS_DEFAULT = 15_000;
/** How often the leader logs, per member and store, that a member came back with a store it did not admit. */
const LOST_STORE_LOG_MS = 10_000;
/** How often a Raft message to one member that cannot be sent (over the frame limit) is logged: Raft sends it again every heartbeat. */
const TOO_LARGE_LOG_INTERVAL_MS = 10_000;
/** Keys a rate limit (`letThrough`) remembers by default: the newest ones. */
const RATE_KEYS_MAX = 256;
const JOIN_RETRY_MS = 200;
/** A learner at most this many entries behind the commit index may be promoted to voter. */
const LEARNER_CAUGHT_UP_ENTRIES = 16;
/** The leader tells a campaigning non-member it is not in the configuration at most this often. */
const REMOVED_NOTICE_MS = 1_000;
/** Non-members remembered for that (a bound on the map). */
const REMOVED_NOTICES_MAX = 1_024;

export interface GroupOptions {
  readonly node: Node;
  readonly distribution: Distribution;
  /** The group's id: members of other groups never exchange Raft messages with this one. */
  readonly group: string;
  /** Where the Raft store lives (classic-level): the data directory's `raft/`. One of `raftPath`, `store` or `memory` is required. */
  readonly raftPath?: string;
  /**
   * Unit tests only: keep the Raft state in memory (memory-level), lost when the group closes.
   * Never a default — a member that forgot its data directory would come back empty and vote
   * again in terms it already voted in.
   */
  readonly memory?: boolean;
  /**
   * An open Raft store to use instead of opening one (`openDataDirVerified` hands over the store
   * it checked). The group owns it from then on and closes it; not together with `raftPath`.
   */
  readonly store?: GroupRaftStore;
  /** Create a new group with this member as its only voter (first start, no seeds). */
  readonly bootstrap?: boolean;
  /** This member's listen address, published in the member directory. */
  readonly address: string;
  /**
   * This member's share of the ring's keys (an integer in [1, RING_WEIGHT_MAX], default 1),
   * published in the member directory beside its address so every member builds the same ring.
   */
  readonly weight?: number;
  readonly clock?: Clock;
  readonly rng?: Rng;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly requestTimeoutMs?: number;
  readonly nameDownGraceMs?: number;
  readonly voterDownGraceMs?: number;
  readonly learnerDownGraceMs?: number;
  /**
   * Take a snapshot (and compact the log) every this many applied entries. Default: adaptive,
   * once the entries applied since the last snapshot reach the number of names that snapshot
   * held (as Redis rewrites its append-only file once it doubled), at least
   * GROUP_DEFAULTS.snapshotEveryEntries and at most SNAPSHOT_EVERY_ENTRIES_MAX entries apart. A
   * snapshot blocks the driver loop for time in proportion to the registry while it is encoded:
   * spacing snapshots by the registry's size keeps that cost per entry bounded (at most about
   * two names encoded per entry applied) however large the registry grows, and the log kept
   * between two snapshots stays within a bound.
   */
  readonly snapshotEveryEntries?: number;
  /** Admission control bounds (see GROUP_DEFAULTS). */
  readonly proposalsInFlightMax?: number;
  readonly uncommittedEntriesMax?: number;
  /**
   * TEST-ONLY deliberate unsafety, so jepsen-lite can prove it catches each one. Never in
   * production: `stale-reads` answers linearizable reads from the local replica; `early-ack`
   * acknowledges a proposal as soon as its entry is appended to this member's log (persisted,
   * before it commits), with the result the state machine gives it at that point of the log
   * (a speculative replica that applies every appended entry, uncommitted ones included) — so
   * without faults its answers are the committed ones, and only a fault (the leader deposed or
   * cut off, its uncommitted suffix overwritten) makes it acknowledge what never commits;
   * `no-quorum-check`
   * turns off check-quorum and lets whoever believes it leads serve leader and linearizable
   * reads alone.
   */
  readonly unsafe?: UnsafeMode;
  /** State machines that ride in this group's log beside the registry (see `ExtensionStateMachine`). */
  readonly extensions?: Readonly<Record<string, ExtensionStateMachine>>;
  readonly log?: (level: 'info' | 'warn', event: string, msg: string, extra?: Record<string, unknown>) => void;
}

export interface WhereisResult {
  readonly pid: Pid;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly revision: number;
}

export interface MemberStatus {
  readonly node: string;
  readonly address: string | undefined;
  readonly role: 'voter' | 'learner';
  readonly connected: boolean;
  readonly leader: boolean;
  readonly match: number | undefined;
}

export interface GroupStatus {
  readonly group: string;
  readonly node: string;
  readonly role: RaftStatus['role'];
  readonly leader: string | null;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Index of the newest snapshot this member holds (taken, installed or loaded); 0 if none. */
  readonly snapshotIndex: number;
  /** Snapshots installed from a leader since this member opened. */
  readonly snapshotsInstalled: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  readonly names: number;
  /** This member's Raft store id (see the header). */
  readonly storeId: string;
  /** False while this member's store waits to be admitted: it takes part in no Raft exchange. */
  readonly admitted: boolean;
}

/** What `onApply` listeners see: one applied command or configuration change, or the state replaced by a snapshot. */
export type AppliedEvent =
  | { readonly type: 'command'; readonly index: number; readonly command: GroupCommand; readonly result: GroupResult }
  | { readonly type: 'conf_change'; readonly index: number; readonly change: ConfChange }
  | { readonly type: 'restore'; readonly index: number };

/** Control-lane messages of the group protocol (channel `group:<id>`). */
type GroupMessage =
  /**
   * `storeId`: the joiner's Raft store; `admitted`: whether that store was admitted before (or
   * bootstrapped the group). Absent in joins from before store ids (treated as admitted).
   */
  | { readonly type: 'join'; readonly node: string; readonly address: string; readonly weight?: number; readonly storeId?: string; readonly admitted?: boolean }
  /** From a member that applied the group's record of `storeId` for `node` (and `node` in its configuration): take part. */
  | { readonly type: 'admitted'; readonly node: string; readonly storeId: string }
  /** From the leader to a node whose answers come from another store than the one recorded for it (`storeId`). */
  | { readonly type: 'superseded'; readonly node: string; readonly storeId: string }
  | { readonly type: 'leave'; readonly node: string }
  /** Hand leadership to `to` (a member asks; a follower sends it on to its leader once). */
  | { readonly type: 'transfer_leader'; readonly to: string; readonly forwarded?: boolean }
  /**
   * From the leader to a member whose removal has been applied (it gets no more appends to learn
   * it), or from any member to a node that campaigns without being in its configuration (a
   * replaced voter restarted from its directory). `term` is the sender's.
   */
  | { readonly type: 'removed'; readonly node: string; readonly term: number }
  | { readonly type: 'read'; readonly requestId: string; readonly name: string }
  | { readonly type: 'read_reply'; readonly requestId: string; readonly entry: NameEntry | null; readonly error?: string };

interface Pending<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
  /** Its timeout, in #deadlines (settled when the request finishes first). */
  deadline: Deadline | undefined;
}

type Input = Parameters<RaftNode['step']>[0];

function isRaftMessage(payload: unknown, from: string, self: string): payload is Message {
  if (typeof payload !== 'object' || payload === null) return false;
  const message = payload as { type?: unknown; from?: unknown; to?: unknown; term?: unknown };
  return typeof message.type === 'string' && message.from === from && message.to === self && typeof message.term === 'number';
}

/**
 * This member's store id and whether the group admitted it (see the header): a store from
 * before store ids gets one, and counts as admitted if it holds Raft state (its data directory
 * was checked whole, so it is the store its votes and entries were made with); a fresh store is
 * admitted only when it bootstraps the group.
 */
function storeIdentity(meta: StoreMeta | undefined, fresh: boolean, bootstrap: boolean): { storeId: string; admitted: boolean } {
  if (meta?.storeId !== undefined) return { storeId: meta.storeId, admitted: meta.admitted === true || (fresh && bootstrap) };
  return { storeId: randomBytes(8).toString('hex'), admitted: !fresh || bootstrap };
}

type AnswerType = 'append_response' | 'heartbeat_response' | 'snapshot_response' | 'vote_response' | 'pre_vote_response';

/**
 * The Raft messages by which a member vouches for something (an acknowledged append, a heartbeat
 * round, a vote): they carry the sender's store id (`s`), and one from a store other than the
 * one this replica records for the sender counts for nothing (see the header).
 */
function isAnswer(message: Message): message is Extract<Message, { type: AnswerType }> {
  const type = message.type;
  return type === 'append_response' || type === 'heartbeat_response' || type === 'snapshot_response' || type === 'vote_response' || type === 'pre_vote_response';
}

/** How often an unadmitted member asks a sender of Raft messages to admit it, and a member tells a superseded store so (per node). */
const KNOCK_MS = 1_000;

/** The number of voters a group of `members` keeps: 3, or 5 once it has 5 or more members (fewer while it is smaller than 3). */
export function targetVoters(members: number): number {
  return members >= 5 ? 5 : Math.min(3, members);
}

export class Group {
  readonly id: string;
  readonly node: Node;
  readonly distribution: Distribution;
  readonly state: GroupState;
  readonly #clock: Clock;
  readonly #options: GroupOptions;
  readonly #storage: MemoryStorage;
  readonly #store: GroupRaftStore;
  readonly #raft: RaftNode;
  readonly #settings: typeof GROUP_DEFAULTS;
  #inputs: Input[] = [];
  #running = false;
  /** True while #run awaits a Ready's write: inputs are stepped at once (see #push). */
  #persisting = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #loopIdle: Promise<void> = Promise.resolve();
  #tickTimer: ReturnType<Clock['setTimeout']> | undefined;
  #maintenanceTimer: ReturnType<Clock['setTimeout']> | undefined;
  #requestSeq = 0;
  readonly #proposals = new Map<string, Pending<GroupResult>>();
  readonly #reads = new Map<string, Pending<void>>();
  /** Reads confirmed by ReadIndex, waiting for the applied index to reach theirs. */
  #readsWaitingApply: Array<{ requestId: string; index: number }> = [];
  readonly #leaderReads = new Map<string, Pending<NameEntry | null>>();
  /** The timeouts of everything in #proposals, #reads and #leaderReads, with one timer. */
  readonly #deadlines: RequestDeadlines;
  #ring: HashRing;
  #ringKey = '';
  /**
   * The configuration as of the last applied entry (or restored snapshot): the COMMITTED
   * membership. The core's `status().conf` is the newest one in the log, possibly uncommitted.
   */
  #committedConf: ConfState = EMPTY_CONF;
  /** When the leader first saw each node disconnected (cleanup of names and voters). */
  readonly #downSince = new Map<string, number>();
  /**
   * When a Raft message last came from each member (one entry per member that ever sent one):
   * whether the leader may change the voters (`#liveQuorum`). Clock time, not ticks, so a
   * leader resumed after a pause sees that it has heard from nobody since.
   */
  readonly #heardAt = new Map<string, number>();
  #appliedSinceSnapshot = 0;
  /** Names held at the last snapshot (taken, installed or loaded): the adaptive snapshot interval. */
  #namesAtSnapshot = 0;
  readonly #unsubscribe: Array<() => void> = [];
  #agentPid: Pid | undefined;
  /** Local pids holding names that the agent monitors (their names go when they exit). */
  readonly #monitoredPids = new Set<string>();
  /** A pid in #monitoredPids (the last one a name was registered for), or undefined. */
  #lastMonitoredPid: Pid | undefined;
  /** Upkeep proposals in flight, by key (so each is proposed once at a time). */
  readonly #releasing = new Set<string>();
  readonly #retryTimers = new Set<ReturnType<Clock['setTimeout']>>();
  readonly #changeListeners = new Set<() => void>();
  readonly #applyListeners = new Set<(event: AppliedEvent) => void>();
  /** Members whose address was handed to `distribution.connect` (which then redials on its own). */
  readonly #dialed = new Set<string>();
  /** Set once this member learns its own removal was applied (it then is no member). */
  #removed = false;
  /** Who told us we were removed (where the rejoin request goes first). */
  #removedBy: string | undefined;
  /** Set by `leave()`: a member that left does not ask to be re-admitted. */
  #left = false;
  /** This member's Raft store id, whether the group admitted it, and its meta format (see the header). */
  #storeId = '';
  #admitted = false;
  #storeFormat = RAFT_STORE_FORMAT;
  /** Set by `join`: a member whose store is not admitted keeps asking (see #rejoinIfRemoved). */
  #joinRequested = false;
  /** Set while the `admitted` mark is being written to the store. */
  #admitting = false;
  /** When this member last asked each node to admit it, or told each node its store is superseded. */
  readonly #knockedAt = new Map<string, number>();
  readonly #toldSupersededAt = new Map<string, number>();
  /** As leader: joiners admitted under a new store id, to be told so once both records apply. */
  readonly #toAdmit = new Map<string, string>();
  /** When the leader last logged that each member came back with a store it did not admit (by `node store`). */
  readonly #lostStoreLoggedAt = new Map<string, number>();
  readonly #tooLargeLoggedAt = new Map<string, number>();
  /** When the leader last told each non-member that it is not in the configuration. */
  readonly #toldRemovedAt = new Map<string, number>();
  #clientProposals = 0;
  #admittedTotal = 0;
  #rejectedOverloadedTotal = 0;
  #proposalLatencyMsAverage = 0;
  #snapshotsInstalled = 0;
  #readies = 0;
  /** A hard state that differs from the written one by its commit index only (see #persist). */
  #hardStateUnwritten: HardState | undefined;
  /** The role as of the last Ready (cheap to read on hot paths; `#raft.status()` allocates). */
  #leading = false;
  #knownLeader: string | null = null;
  /** Proposals waiting here that were forwarded, and to which leader. */
  readonly #forwardedTo = new Map<string, string>();
  /** Linearizable reads (read barriers) waiting here that were forwarded, and to which leader. */
  readonly #readsForwardedTo = new Map<string, string>();
  #appendsWithEntriesSent = 0;
  #emptyAppendsSent = 0;
  /**
   * Appends without entries (a commit update, a probe) held back for one round of the driver
   * loop, by follower, with the Ready they came in (see #send): the append that the proposals
   * answered by this commit bring, a moment later, says the same and more.
   */
  readonly #heldAppends = new Map<string, { readonly message: AppendRequest; readonly ready: number }>();
  /** Entries encoded once for the wire and the disk (see encoded-runs.ts). */
  readonly #encodedRuns = new EncodedRuns();
  /** Unsafe `early-ack` only: the registry as of the last appended entry, committed or not. */
  #speculative: GroupState | undefined;
  readonly #weight: number;

  private constructor(
    options: GroupOptions,
    storage: MemoryStorage,
    store: GroupRaftStore,
    raft: RaftNode,
  ) {
    this.id = options.group;
    this.node = options.node;
    this.distribution = options.distribution;
    this.#options = options;
    this.state = new GroupState(options.extensions ?? {});
    this.#clock = options.clock ?? new SystemClock();
    this.#storage = storage;
    this.#store = store;
    this.#raft = raft;
    this.#settings = {
      ...GROUP_DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([key, value]) => key in GROUP_DEFAULTS && value !== undefined)),
    } as typeof GROUP_DEFAULTS;
    this.#ring = HashRing.from([]);
    this.#weight = options.weight ?? 1;
    this.#deadlines = new RequestDeadlines(this.#clock, this.#settings.requestTimeoutMs);
  }

  /** Open the store, rebuild the replica from it, and start ticking. */
  static async open(options: GroupOptions): Promise<Group> {
    const sources = [options.store !== undefined, options.raftPath !== undefined, options.memory === true].filter(Boolean).length;
    const misconfigured =
      sources > 1
        ? 'give one of store, raftPath and memory, not several'
        : sources === 0
          ? 'give raftPath (the data directory\'s raft/), an open store, or memory: true (unit tests only)'
          : options.weight !== undefined && !isRingWeight(options.weight)
          ? `weight must be an integer in [1, ${RING_WEIGHT_MAX}], got ${String(options.weight)}`
          : undefined;
    if (misconfigured !== undefined) {
      await options.store?.close();
      throw fedError('config', `Group.open: ${misconfigured}`);
    }
    const store =
      options.store ??
      (options.raftPath !== undefined
        ? await RaftStore.openDisk<Entry, HardState, StoredGroupSnapshot>(options.raftPath)
        : await RaftStore.openMemory<Entry, HardState, StoredGroupSnapshot>());
    // The store is ours from here: every failure below closes it (the caller gave it away).
    let loaded;
    let group: Group;
    let identity: { storeId: string; admitted: boolean };
    try {
      loaded = await store.load();
      verifyStoreMeta(options.raftPath ?? 'memory', loaded, { group: options.group, node: options.node.name });
      const fresh = loaded.entries.length === 0 && loaded.snapshot === undefined && loaded.hardState === undefined;
      identity = storeIdentity(loaded.meta, fresh, options.bootstrap === true);
      if (loaded.meta === undefined || loaded.meta.storeId !== identity.storeId || loaded.meta.admitted !== identity.admitted) {
        await store.writeMeta({ format: loaded.meta?.format ?? RAFT_STORE_FORMAT, group: options.group, node: options.node.name, ...identity });
      }
      const storage = new MemoryStorage();
      if (loaded.snapshot !== undefined) storage.installSnapshot(loaded.snapshot.snapshot);
      storage.append(loaded.entries);
      if (loaded.hardState !== undefined) storage.setHardState(loaded.hardState);
      const rng = options.rng ?? new Rng(randomSeed());
      const raft = new RaftNode(
        defaultRaftConfig(options.node.name, rng, {
          electionTicks: options.electionTicks ?? GROUP_DEFAULTS.electionTicks,
          heartbeatTicks: options.heartbeatTicks ?? GROUP_DEFAULTS.heartbeatTicks,
          forwardProposals: true,
          // The leader's disk write runs in parallel with replication (the driver sends
          // `earlyMessages` before persisting, see #run).
          earlyReplication: true,
          checkQuorum: options.unsafe !== 'no-quorum-check',
          bootstrap: options.bootstrap === true && fresh ? { voters: [options.node.name], learners: [] } : null,
        }),
        storage,
      );
      group = new Group(options, storage, store, raft);
      group.#storeId = identity.storeId;
      group.#admitted = identity.admitted;
      group.#storeFormat = loaded.meta?.format ?? RAFT_STORE_FORMAT;
    } catch (error) {
      await store.close();
      throw error;
    }
    try {
      group.#committedConf = loaded.snapshot?.snapshot.meta.conf ?? EMPTY_CONF;
      group.#listen();
      // After #listen: the names in the snapshot reach #onNameChange (local holders monitored,
      // names of this node's older incarnations released).
      if (loaded.snapshot !== undefined) group.state.restore(loaded.snapshot.snapshot.data);
      group.#namesAtSnapshot = group.state.names.size;
    } catch (error) {
      await group.close();
      throw error;
    }
    group.#start();
    return group;
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Subscribe to Raft and group messages, node events and name changes; spawn the agent. */
  #listen(): void {
    const channel = `group:${this.id}`;
    this.#unsubscribe.push(
      this.distribution.onControl(`raft:${this.id}`, (from, payload) => {
        const message = isRaftMessage(payload, from, this.node.name) ? this.#withDecodedEntries(payload) : undefined;
        if (message === undefined) {
          this.#log('warn', 'raft_message_rejected', `malformed Raft message from ${from}`);
          return;
        }
        if (!this.#admitted) {
          // Not yet admitted (see the header): our name may be a voter of an earlier store. The
          // sender has us in its configuration: ask to be admitted (a member restarted between
          // its admission and writing it down, on a path that never calls join, is let in so).
          this.#knock(from);
          return;
        }
        if (isAnswer(message) && !this.#fromAdmittedStore(from, payload)) return;
        this.#noteMembership(message);
        this.#heardAt.set(from, this.#clock.now());
        this.#push({ type: 'message', message });
      }),
      this.distribution.onControl(channel, (from, payload) => this.#onGroupMessage(from, payload as GroupMessage)),
      this.distribution.onNodeEvent((event) => {
        if (event.type === 'nodedown') {
          if (!this.#downSince.has(event.node)) this.#downSince.set(event.node, this.#clock.now());
          this.#leaderLost(event.node, `the link to ${event.node} went down`);
        } else {
          this.#downSince.delete(event.node);
          this.#releaseOlderIncarnations(event.node);
        }
      }),
      this.state.names.onChange((event) => this.#onNameChange(event)),
    );
    this.#agentPid = this.node.spawn((ctx) => this.#agent(ctx), { trapExit: true });
    // The member closes with its node (its timers and store are the node's handles too).
    const unhookStop = this.node.onStop(() => this.close());
    this.#unsubscribe.push(unhookStop);
  }

  /** Start ticking and the driver loop. */
  #start(): void {
    this.#scheduleTick();
    this.#scheduleMaintenance();
    this.#kick();
  }

  /**
   * Stop ticking, fail waiting requests with `shutdown`, close the store. Idempotent: every call
   * returns the same promise, also after the member stopped itself on a disk failure.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown(fedError('shutdown', `group member ${this.node.name} is closing`));
    return this.#closing;
  }

  /** True once the member is closed or closing (by `close()`, or by itself after a disk failure). */
  get closed(): boolean {
    return this.#closed;
  }

  async #shutdown(reason: FedError): Promise<void> {
    this.#closed = true;
    if (this.#tickTimer !== undefined) this.#clock.clearTimeout(this.#tickTimer);
    if (this.#maintenanceTimer !== undefined) this.#clock.clearTimeout(this.#maintenanceTimer);
    for (const timer of this.#retryTimers) this.#clock.clearTimeout(timer);
    this.#retryTimers.clear();
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    if (this.#agentPid !== undefined && this.node.isAlive(this.#agentPid)) this.node.exit(this.#agentPid, 'kill');
    this.#deadlines.close();
    for (const pending of [...this.#proposals.values(), ...this.#reads.values(), ...this.#leaderReads.values()]) pending.reject(reason);
    this.#proposals.clear();
    this.#forwardedTo.clear();
    this.#readsForwardedTo.clear();
    this.#reads.clear();
    this.#leaderReads.clear();
    for (const listener of this.#changeListeners) listener();
    await this.#loopIdle;
    await this.#store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- public API --------------------------------------------------------------------------

  /** Register `name` for `pid`. Resolves with the revision; rejects `name_taken` with the holder. */
  register(name: string, pid: Pid, meta?: Record<string, unknown>): Promise<{ revision: number }> {
    // No metadata travels as none (the registry reads an absent meta as empty): an empty
    // object would be written, sent and decoded for every registration.
    let command: GroupCommand;
    try {
      command = meta === undefined || isEmptyObject(meta) ? { op: 'register', name, pid } : { op: 'register', name, pid, meta: copyMeta(meta) };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#propose(command, revisionOf);
  }

  /**
   * Unregister `name`. With `pid`, only while `pid` holds it (else `not_owner` with the holder):
   * the safe form for a holder giving its own name up. Without, whoever holds it now (Erlang's
   * `global:unregister_name/1`): the holder is read linearizably, then removed only if it still
   * holds the name when the removal applies — a name taken over meanwhile is refused
   * `not_owner`, never removed from its new holder. `not_found` if nobody holds it.
   */
  async unregister(name: string, pid?: Pid): Promise<{ revision: number }> {
    let holder = pid;
    if (holder === undefined) {
      const entry = await this.whereis(name, { consistency: 'linearizable' });
      if (entry === undefined) throw fedError('not_found', `no name ${JSON.stringify(name)} in group ${this.id}`);
      holder = entry.pid;
    }
    return this.#propose({ op: 'unregister', name, pid: holder }, revisionOf);
  }

  whereisLocal(name: string): WhereisResult | undefined {
    return this.state.names.whereis(name);
  }

  async whereis(name: string, options: { consistency?: Consistency } = {}): Promise<WhereisResult | undefined> {
    const consistency = options.consistency ?? 'local';
    if (consistency === 'local') {
      // A member that left keeps its replica, but nothing updates it any more: its answer
      // would be stale without bound (a lagging member's is stale by its lag only).
      if (this.#left && !this.isMember()) {
        throw fedError('unavailable', `${this.node.name} left group ${this.id}: its replica is no longer kept up to date; ask a member, or join the group again`, { definite: true });
      }
      return this.whereisLocal(name);
    }
    if (consistency === 'linearizable') {
      const unsafe = this.#options.unsafe;
      if (unsafe === 'stale-reads' || (unsafe === 'no-quorum-check' && this.#raft.status().role === 'leader')) return this.whereisLocal(name);
      await this.readBarrier();
      return this.whereisLocal(name);
    }
    return this.#leaderWhereis(name);
  }

  /**
   * Send `msg` to the process registered as `name` (Erlang's `global:send/2`): the name is
   * resolved through the registry — the local replica by default, or per `consistency` as
   * `whereis` — and the message sent as any other (asynchronous, unconfirmed, dropped if the
   * process has died meanwhile, as in Erlang). Resolves with the pid it was sent to. Rejects
   * with `not_found` (details.name) when no process holds the name, `badarg` for a name that
   * cannot be one.
   */
  async send(name: string, msg: unknown, options: { consistency?: Consistency } = {}): Promise<Pid> {
    this.#assertOpen();
    const invalid = validateName(name);
    if (invalid !== undefined) throw fedError('badarg', `send: ${invalid}`);
    const found = await this.whereis(name, options);
    if (found === undefined) throw fedError('not_found', `send: no process is registered as ${JSON.stringify(name)} in group ${this.id}`, { name, definite: true });
    this.node.send(found.pid, msg);
    return found.pid;
  }

  registered(prefix = ''): Array<[string, NameEntry]> {
    return this.state.names.registered(prefix);
  }

  /**
   * Changes to names starting with `prefix`, as an async iterator; every event carries the
   * revision to resume from. With `afterRevision`, replays the kept changes after it first, then
   * follows live ones, with neither gap nor repeat. If the changes after `afterRevision` are no
   * longer kept (more than WATCH_EVENTS_MAX since, or before a snapshot this replica restored)
   * it throws `compacted` (details.oldestRevision: the oldest revision one may resume after;
   * re-read with `registered()` and watch from `state.appliedIndex`), as etcd does.
   */
  async *watch(prefix = '', options: { afterRevision?: number; signal?: AbortSignal } = {}): AsyncGenerator<WatchEvent> {
    const after = options.afterRevision;
    if (after !== undefined && !(Number.isSafeInteger(after) && after >= 0)) throw fedError('badarg', `watch: afterRevision must be a non-negative integer, not ${String(after)}`);
    const queue: WatchEvent[] = [];
    let overflowedAfter: number | undefined;
    let wake: (() => void) | undefined;
    const stop = this.state.names.onChange((event) => {
      if (!event.name.startsWith(prefix) || overflowedAfter !== undefined) return;
      if (queue.length >= WATCH_EVENTS_MAX) {
        // A consumer this far behind is cut off (bounded memory); it may resume where it was.
        overflowedAfter = queue[0]!.revision - 1;
        queue.length = 0;
      } else queue.push(event);
      wake?.();
    });
    const onClose = () => wake?.();
    this.#changeListeners.add(onClose);
    options.signal?.addEventListener('abort', onClose);
    try {
      if (after !== undefined) {
        // Computed right after subscribing, synchronously: no event is both here and in `queue`.
        const past = this.state.names.eventsSince(after);
        if (past === undefined) throw this.#compacted(after);
        for (const event of past) if (event.name.startsWith(prefix)) yield event;
      }
      while (!this.#closed && options.signal?.aborted !== true) {
        if (overflowedAfter !== undefined) throw this.#compacted(overflowedAfter, 'the watcher fell too far behind');
        const event = queue.shift();
        if (event !== undefined) {
          // A replica behind `afterRevision` (the caller learned it from another member) applies
          // changes the caller has already seen: never again.
          if (after === undefined || event.revision > after) yield event;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      stop();
      this.#changeListeners.delete(onClose);
      options.signal?.removeEventListener('abort', onClose);
    }
  }

  /**
   * One batch of a watch, for pollers (`fedctl watch` through the admin protocol): the changes
   * to names under `prefix` after `afterRevision` that this replica has applied, and
   * `revision`, the one to resume after — every change under `prefix` up to it is in this batch
   * (or was before `afterRevision`), so a poller that always resumes after `revision` misses
   * nothing and sees nothing twice. At most `limit` events, except that one revision's events
   * are never split (one command may change many names at one revision: `node_down`,
   * `release_pid`); `more` says further changes are available now. Never below
   * `afterRevision`, also on a replica that is behind it. Throws `compacted` as `watch` does.
   */
  changesSince(prefix: string, afterRevision: number, limit: number): { events: WatchEvent[]; revision: number; more: boolean } {
    if (!(Number.isSafeInteger(afterRevision) && afterRevision >= 0)) throw fedError('badarg', `watch: afterRevision must be a non-negative integer, not ${String(afterRevision)}`);
    if (!(Number.isSafeInteger(limit) && limit > 0)) throw fedError('badarg', `watch: limit must be a positive integer, not ${String(limit)}`);
    const past = this.state.names.eventsSince(afterRevision);
    if (past === undefined) throw this.#compacted(afterRevision);
    const events: WatchEvent[] = [];
    for (const event of past) {
      if (!event.name.startsWith(prefix)) continue;
      const last = events[events.length - 1];
      if (last !== undefined && events.length >= limit && event.revision !== last.revision) {
        return { events, revision: last.revision, more: true };
      }
      events.push(event);
    }
    return { events, revision: Math.max(afterRevision, this.state.appliedIndex), more: false };
  }

  #compacted(afterRevision: number, why = 'they were compacted'): FedError {
    const oldestRevision = this.state.names.oldestResumableRevision;
    // `compacted: true` as the federated watch feed answers (cli/global-watch.ts): one test for both.
    return fedError('compacted', `watch: the changes after revision ${afterRevision} are no longer kept (${why}); re-read and resume after ${oldestRevision} or later`, {
      afterRevision,
      oldestRevision,
      compacted: true,
    });
  }


  /** Propose a command; resolves once it is applied here with an `ok` result, else rejects typed. */
  propose(command: GroupCommand): Promise<GroupResult & { ok: true }> {
    return this.#propose(command, okResult);
  }

  /**
   * `propose`, resolving with `answer(result)`: the caller's promise is settled directly when
   * the entry applies (or the request fails), not through a chain of async functions — a
   * registration's answer reaches its caller one microtask after the apply instead of three,
   * which the leader of a busy group pays for every proposal. Never throws: every failure,
   * also one found before proposing, is a rejection.
   */
  #propose<T>(command: GroupCommand, answer: (result: GroupResult & { ok: true }) => T): Promise<T> {
    let admitted: boolean;
    try {
      this.#assertOpen();
      if (this.#proposals.size >= this.#settings.pendingRequestsMax) {
        throw fedError('overloaded', `${this.#proposals.size} requests already wait on ${this.node.name}`, { retryAfterMs: 100, definite: true });
      }
      admitted = ADMITTED_OPS.has(command.op);
      // A member that left (or is leaving, its names released) is no member: it would never see
      // the entry commit, yet the leader it forwards to would commit it — a name on a node gone
      // from the group. Its own upkeep (the release, the removal) still goes through.
      if (admitted && this.#left) {
        throw fedError('unavailable', `${this.node.name} left group ${this.id} (or is leaving it): it takes no ${command.op}; join the group again first`, { definite: true });
      }
      if (admitted) this.#admitProposal();
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this.#nextRequestId();
    const data: GroupEntryData = { id, cmd: command };
    const startedMs = this.#clock.now();
    const finished = (): void => {
      if (admitted) this.#clientProposals--;
      this.#forwardedTo.delete(id);
    };
    return new Promise<T>((resolve, reject) => {
      this.#wait<GroupResult>(
        this.#proposals,
        id,
        `proposal ${command.op}`,
        (result) => {
          finished();
          const latencyMs = this.#clock.now() - startedMs;
          this.#proposalLatencyMsAverage += (latencyMs - this.#proposalLatencyMsAverage) * LATENCY_AVERAGE_WEIGHT;
          if (result.ok) resolve(answer(result));
          else reject(resultError(result));
        },
        (error) => {
          finished();
          reject(error);
        },
        () => this.#push({ type: 'propose', data, id }),
      );
    });
  }

  /**
   * Admission control for a client proposal: refuse with `overloaded` (definite: nothing was
   * proposed; `retryAfterMs` follows the recent proposal latency) when this member already has
   * `proposalsInFlightMax` client proposals waiting, or leads with `uncommittedEntriesMax`
   * entries not yet committed — instead of queueing without bound.
   */
  #admitProposal(): void {
    const uncommitted = this.#uncommittedEntries();
    const full = this.#clientProposals >= this.#settings.proposalsInFlightMax;
    if (full || uncommitted >= this.#settings.uncommittedEntriesMax) {
      this.#rejectedOverloadedTotal++;
      const retryAfterMs = Math.round(Math.min(RETRY_AFTER_MS_MAX, Math.max(RETRY_AFTER_MS_MIN, this.#proposalLatencyMsAverage)));
      const why = full ? `${this.#clientProposals} proposals in flight` : `${uncommitted} entries uncommitted`;
      throw fedError('overloaded', `group ${this.id} member ${this.node.name} is overloaded (${why})`, { retryAfterMs, definite: true });
    }
    this.#clientProposals++;
    this.#admittedTotal++;
  }

  #uncommittedEntries(): number {
    return this.#raft.uncommittedEntries();
  }

  /**
   * Counters of the driver loop (for metrics and the group-commit test): Readies handled, what
   * the store wrote (batches, of which synced, of which carrying entries; entries), and append
   * messages with entries sent. Group commit shows as many entries per batch and per append.
   */
  driverStats(): DriverStats {
    return { readies: this.#readies, ...this.#store.stats(), appendsWithEntriesSent: this.#appendsWithEntriesSent, emptyAppendsSent: this.#emptyAppendsSent };
  }

  /** Admission control counters (for metrics and `fedctl top`). */
  admission(): AdmissionStats {
    return {
      proposalsInFlight: this.#clientProposals,
      proposalsInFlightMax: this.#settings.proposalsInFlightMax,
      uncommittedEntries: this.#uncommittedEntries(),
      uncommittedEntriesMax: this.#settings.uncommittedEntriesMax,
      admittedTotal: this.#admittedTotal,
      rejectedOverloadedTotal: this.#rejectedOverloadedTotal,
      proposalLatencyMsAverage: this.#proposalLatencyMsAverage,
    };
  }

  /**
   * Resolves once this member is in the group's committed configuration and knows a leader: a
   * freshly opened (or bootstrapped) member is ready to take `register` and linearizable reads.
   * Rejects `timeout` after `timeoutMs` (default the request timeout), or the signal's reason.
   */
  async ready(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.#settings.requestTimeoutMs;
    const deadline = this.#clock.now() + timeoutMs;
    for (;;) {
      this.#assertOpen();
      options.signal?.throwIfAborted();
      if (this.isMember() && this.#raft.status().leader !== null) return;
      if (this.#clock.now() >= deadline) throw fedError('timeout', `group ${this.id}: member ${this.node.name} not ready in ${timeoutMs} ms (no leader known, or not yet a member)`);
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, this.#settings.tickMs));
    }
  }

  /** Resolves once this member's replica reflects every write committed before the call. */
  async readBarrier(): Promise<void> {
    this.#assertOpen();
    const requestId = this.#nextRequestId();
    try {
      await this.#await(this.#reads, requestId, 'linearizable read', () => this.#push({ type: 'read_index', requestId }));
    } finally {
      this.#readsForwardedTo.delete(requestId);
    }
  }

  /** Ask the group to add `node` (at `address`) as a learner. Sent to the leader, or a member that forwards. */
  requestJoin(viaNode: string): boolean {
    return this.distribution.sendControl(viaNode, `group:${this.id}`, {
      type: 'join',
      node: this.node.name,
      address: this.#options.address,
      weight: this.#weight,
      storeId: this.#storeId,
      admitted: this.#admitted,
    } satisfies GroupMessage);
  }

  /**
   * Join the group that the node at `seedAddress` belongs to: connect, ask to be added as a
   * learner (retried: the request is idempotent), resolve once this member is in the configuration.
   */
  async join(seedAddress: string, options: { timeoutMs?: number } = {}): Promise<void> {
    this.#assertOpen();
    const seed = await this.distribution.connect(seedAddress);
    this.#removed = false;
    this.#left = false;
    this.#joinRequested = true;
    const deadline = this.#clock.now() + (options.timeoutMs ?? JOIN_TIMEOUT_MS_DEFAULT);
    while (!this.isMember()) {
      if (this.#closed) throw fedError('shutdown', 'closed while joining');
      if (this.#clock.now() > deadline) throw fedError('timeout', `not admitted to group ${this.id} via ${seed} in time`);
      const leader = this.#raft.status().leader;
      this.requestJoin(leader !== null && this.distribution.isConnected(leader) ? leader : seed);
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, JOIN_RETRY_MS));
    }
  }

  /**
   * Listen to every committed command as this replica applies it, in log order (and to a
   * snapshot replacing the whole state). Listeners run inside the driver loop: keep them short.
   * Returns the function that stops listening.
   */
  onApply(listener: (event: AppliedEvent) => void): () => void {
    this.#applyListeners.add(listener);
    return () => this.#applyListeners.delete(listener);
  }

  /** True once this member appears in the committed configuration (and was not told it was removed since). */
  isMember(): boolean {
    if (this.#removed) return false;
    const conf = this.#committedConf;
    return conf.voters.includes(this.node.name) || conf.learners.includes(this.node.name);
  }

  /**
   * Leave the group gracefully: take no more client writes (from now on, also if the leave fails:
   * `join` again), release this node's names, then be removed from the configuration.
   */
  async leave(): Promise<void> {
    this.#left = true;
    await this.propose({ op: 'node_down', node: this.node.name });
    const leader = this.#raft.status().leader;
    if (leader === this.node.name) this.#changeConf({ type: 'remove', node: this.node.name });
    else if (leader !== null) this.distribution.sendControl(leader, `group:${this.id}`, { type: 'leave', node: this.node.name });
    else throw fedError('unavailable', 'no leader known: cannot leave now');
    const deadline = this.#clock.now() + this.#settings.requestTimeoutMs;
    while (this.isMember()) {
      if (this.#clock.now() > deadline) throw fedError('timeout', 'leave: still a member after the timeout');
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, this.#settings.tickMs));
    }
  }

  status(): GroupStatus {
    const status = this.#raft.status();
    return {
      group: this.id,
      node: this.node.name,
      role: status.role,
      leader: status.leader,
      term: status.term,
      commit: status.commit,
      applied: this.state.appliedIndex,
      lastIndex: status.lastIndex,
      lastTerm: status.lastTerm,
      snapshotIndex: status.snapshotIndex,
      snapshotsInstalled: this.#snapshotsInstalled,
      voters: [...status.conf.voters].sort(),
      learners: [...status.conf.learners].sort(),
      names: this.state.names.size,
      storeId: this.#storeId,
      admitted: this.#admitted,
    };
  }

  members(): MemberStatus[] {
    const status = this.#raft.status();
    const isLeader = status.role === 'leader';
    const all = [
      ...status.conf.voters.map((node) => ({ node, role: 'voter' as const })),
      ...status.conf.learners.map((node) => ({ node, role: 'learner' as const })),
    ].sort((a, b) => (a.node < b.node ? -1 : 1));
    return all.map(({ node, role }) => ({
      node,
      role,
      address: this.state.addressOf(node),
      connected: node === this.node.name || this.distribution.isConnected(node),
      leader: status.leader === node,
      match: isLeader ? (node === this.node.name ? status.lastIndex : this.#raft.progressOf(node)?.match) : undefined,
    }));
  }

  /**
   * The consistent-hash ring over the COMMITTED membership (voters and learners of the
   * configuration this replica has applied, and a voter being demoted to learner), each member
   * with the weight it published: every member that applied the same entries computes the same
   * ring.
   */
  ring(): HashRing {
    const conf = this.#committedConf;
    // A member being demoted is out of the configuration between its two changes: it stays on.
    const names = new Set([...conf.voters, ...conf.learners, ...this.state.demoting()]);
    const members = [...names].map((name) => ({ name, weight: this.state.weightOf(name) }));
    const key = members.map((member) => `${member.name}=${member.weight}`).sort().join(',');
    if (key !== this.#ringKey) {
      this.#ringKey = key;
      this.#ring = HashRing.from(members);
    }
    return this.#ring;
  }

  /** The committed configuration (see `ring()`); `status()` shows the newest one in the log. */
  committedConf(): ConfState {
    return this.#committedConf;
  }

  /**
   * Hand the group's leadership to the voter `to` (etcd's move-leader, Raft's TimeoutNow): the
   * leader stops taking proposals, brings `to` up to date, and tells it to campaign at once, so
   * the group is without a leader for about a round trip instead of an election timeout. Asked
   * of a follower, the request goes on to its leader. Resolves once this member sees `to`
   * leading. Rejects with `badarg` when `to` is not a voter of the committed configuration,
   * `unavailable` (definite) when no leader is known, and `timeout` when `to` does not lead
   * within `timeoutMs` (default: the request timeout): the leader gives a transfer up after an
   * election timeout (a target that is cut off or cannot catch up), and the request is
   * repeated until the deadline. While a transfer runs the leader refuses proposals (a definite
   * `unavailable`, reason `transfer_in_progress`, as etcd drops them), for at most an election
   * timeout.
   */
  async transferLeadership(to: string, options: { timeoutMs?: number } = {}): Promise<void> {
    this.#assertOpen();
    if (typeof to !== 'string' || !this.#committedConf.voters.includes(to)) {
      throw fedError('badarg', `${JSON.stringify(to)} is not a voter of group ${this.id} (voters: ${this.#committedConf.voters.join(', ')})`, { voters: [...this.#committedConf.voters] });
    }
    const timeoutMs = options.timeoutMs ?? this.#settings.requestTimeoutMs;
    const deadline = this.#clock.now() + timeoutMs;
    const repeatMs = this.#settings.tickMs * this.#settings.electionTicks;
    let askedAt = -Infinity;
    while (this.#raft.status().leader !== to) {
      if (this.#closed) throw fedError('shutdown', 'closed while transferring leadership');
      const now = this.#clock.now();
      if (now > deadline) throw fedError('timeout', `${to} did not take the leadership of group ${this.id} within ${timeoutMs} ms`, { to, leader: this.#raft.status().leader });
      // Asked again each election timeout (the leader gives a transfer up after one), but not
      // so late that the leader would still be refusing proposals for it after our deadline.
      if (askedAt === -Infinity || (now - askedAt >= repeatMs && now + repeatMs <= deadline)) {
        const leader = this.#raft.status().leader;
        if (leader === null) throw fedError('unavailable', `group ${this.id} has no known leader to hand over from`, { definite: true });
        if (leader === this.node.name) this.#push({ type: 'transfer_leader', to, id: this.#nextRequestId() });
        else this.distribution.sendControl(leader, `group:${this.id}`, { type: 'transfer_leader', to } satisfies GroupMessage);
        askedAt = now;
      }
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, this.#settings.tickMs));
    }
  }

  /**
   * If this member leads, hand the leadership to the connected voter that has the most of the
   * log (`transferLeadership`), as etcd does before a leader stops: a leader that just went away
   * would leave the group without one for an election timeout. Resolves with the new leader, or
   * undefined when this member does not lead, has no connected voter to hand to, or the voter
   * did not take over within `timeoutMs` (default: two election timeouts).
   */
  async handOffLeadership(options: { timeoutMs?: number } = {}): Promise<string | undefined> {
    if (this.#closed || this.#raft.status().role !== 'leader') return undefined;
    let successor: string | undefined;
    let bestMatch = -1;
    for (const voter of this.#committedConf.voters) {
      if (voter === this.node.name || !this.distribution.isConnected(voter)) continue;
      const match = this.#raft.progressOf(voter)?.match ?? -1;
      if (match > bestMatch) (successor = voter), (bestMatch = match);
    }
    if (successor === undefined) return undefined;
    const timeoutMs = options.timeoutMs ?? this.#settings.tickMs * this.#settings.electionTicks * 2;
    try {
      await this.transferLeadership(successor, { timeoutMs });
      return successor;
    } catch (error) {
      this.#log('warn', 'hand_off_failed', `leadership not handed to ${successor}: ${(error as Error).message}`);
      return undefined;
    }
  }

  // ---- the driver loop ---------------------------------------------------------------------

  /**
   * While a Ready's write is in flight the core takes inputs at once (`earlyReplication`): the
   * leader counts its followers' acknowledgements and appends new proposals during its own
   * fsync instead of after it, so the next Ready is ready the moment the write is done. A
   * `snapshot_taken` is never stepped then (it names an applied index the core learns only at
   * `advance()`); #applyReady queues it in `#inputs`, stepped at the next round.
   */
  #push(input: Input): void {
    if (this.#closed) return;
    if (this.#persisting && input.type !== 'snapshot_taken') {
      this.#stepSafely(input);
      return;
    }
    this.#inputs.push(input);
    this.#kick();
  }

  #kick(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#loopIdle = this.#run().finally(() => {
      this.#running = false;
      if (this.#inputs.length > 0 && !this.#closed) this.#kick();
    });
  }

  async #run(): Promise<void> {
    // Start on the next microtask: every input pushed in the same turn (a burst of proposals
    // from many callers) goes into the first Ready together — one write, one append round.
    await Promise.resolve();
    try {
      await this.#rounds();
    } catch (error) {
      // A fault of our own between a Ready and its advance() (encoding its entries, applying
      // them, sending): the core is half way through a round nobody can finish, so the member
      // stops as it does when its disk fails, instead of leaving a loop that is never kicked
      // again (or an unhandled rejection that would end the whole node).
      this.#failStop('loop_failed', `the Raft loop failed: ${(error as Error).message}`, error);
    }
  }

  /** The loop's rounds: inputs stepped, then one Ready sent, applied, persisted and advanced. */
  async #rounds(): Promise<void> {
    while (!this.#closed) {
      const inputs = this.#inputs;
      this.#inputs = [];
      for (const input of inputs) this.#stepSafely(input);
      if (!this.#raft.hasReady()) {
        this.#sendHeldAppends(Number.POSITIVE_INFINITY);
        return;
      }
      const ready = this.#raft.ready();
      this.#readies++;
      if (ready.softState !== null) {
        this.#leading = ready.softState.role === 'leader';
        if (this.#knownLeader !== null && ready.softState.leader !== this.#knownLeader) this.#leaderLost(this.#knownLeader, 'the leader changed');
        this.#knownLeader = ready.softState.leader;
      }
      // Encoded once, here (a follower's arrived encoded), for the disk and every follower's append alike.
      const encodedEntries = ready.entries.length > 0 ? this.#encodedRuns.runsOf(ready.entries) : undefined;
      // A leader's appends and heartbeats go out at once: the followers write while we do.
      this.#send(ready.earlyMessages);
      this.#applyReady(ready);
      this.#persisting = true;
      try {
        await this.#persist(ready, encodedEntries);
      } catch (error) {
        // A disk that cannot persist must not send promises it cannot keep.
        this.#failStop('persist_failed', `cannot persist Raft state: ${(error as Error).message}`, error);
        return;
      } finally {
        this.#persisting = false;
      }
      if (this.#closed) return;
      this.#send(ready.messages);
      this.#sendHeldAppends(this.#readies);
      if (this.#options.unsafe === 'early-ack') this.#ackEarly(ready);
      this.#raft.advance();
    }
  }

  /**
   * Stop this member entirely (timers, agent, waiting requests, the store), as close() does, on
   * a failure it cannot go on from: every waiting request is rejected with `unavailable` naming
   * `reason`, later calls get `shutdown`. Not awaited: the shutdown waits for the loop to end.
   */
  #failStop(reason: 'persist_failed' | 'loop_failed', what: string, cause: unknown): void {
    this.#log('warn', reason, `${what}; ${this.#closing === undefined ? 'stopping' : 'closing'} this member`);
    if (this.#closing !== undefined) return;
    const failure = fedError('unavailable', `group member ${this.node.name} stopped: ${what}`, { reason, definite: false }, cause);
    this.#closing = this.#shutdown(failure);
    this.#closing.catch((closeError: unknown) => this.#log('warn', 'close_failed', `closing after ${reason}: ${(closeError as Error).message}`));
  }

  #stepSafely(input: Input): void {
    try {
      this.#raft.step(input);
    } catch (error) {
      if (error instanceof FedError) {
        this.#log('warn', 'raft_input_rejected', `${input.type}: ${error.message}`);
        return;
      }
      throw error;
    }
  }

  /**
   * Step 3 of the loop: the Ready's installed snapshot, entries, hard state and compaction in
   * ONE atomic batch (so a crash never leaves a snapshot without the log truncation or the hard
   * state that go with it), synced when the core says `mustSync`. A Ready whose only change is
   * the commit index writes nothing: the commit index on disk is only where a restart resumes
   * applying (a lower one is safe — the leader tells the commit again), so it rides along with
   * the next write that has to happen anyway. That saves a write per commit round. The entries
   * go to disk as the runs #run encoded (or received) them in (`encodedEntries`).
   */
  async #persist(ready: Ready, encodedEntries: readonly EncodedRun[] | undefined): Promise<void> {
    this.#storage.persist(ready);
    const commitOnly = !ready.mustSync && ready.snapshot === null && ready.entries.length === 0 && ready.compaction === null;
    if (commitOnly) {
      if (ready.hardState !== null) this.#hardStateUnwritten = ready.hardState;
      return;
    }
    const hardState = ready.hardState ?? this.#hardStateUnwritten;
    this.#hardStateUnwritten = undefined;
    await this.#store.persist(
      {
        snapshot: ready.snapshot !== null ? wrapSnapshot(ready.snapshot) : undefined,
        entries: ready.entries,
        encodedEntries,
        hardState,
        compaction: ready.compaction !== null ? wrapSnapshot(ready.compaction) : undefined,
      },
      { sync: ready.mustSync },
    );
  }

  /**
   * Send `messages` in order, holding back appends without entries: when an entry commits, the
   * leader tells its followers at once in an empty append, and the proposals that the commit
   * answers bring their entries to the same followers a moment later (in the next Ready of this
   * loop: they are proposed while this Ready is written). Sent alone, the commit costs every
   * follower a message, a wake-up and an answer per round — about half the messages of a
   * loaded group. So an empty append waits for the next message to its follower: dropped if
   * that is an append of the same term from the same point with at least its commit (it says
   * all the held one says: the core's view that it was sent is then that of a message lost and
   * repeated, which Raft allows), sent first otherwise (order is kept). Bounded: it is sent at
   * the end of the next Ready's round, or when the loop has nothing more to do.
   */
  #send(messages: readonly Message[]): void {
    for (const message of messages) {
      const held = this.#heldAppends.get(message.to);
      if (held !== undefined) {
        this.#heldAppends.delete(message.to);
        if (!coversAppend(message, held.message)) this.#sendNow(held.message);
      }
      if (message.type === 'append' && message.entries.length === 0) {
        this.#heldAppends.set(message.to, { message, ready: this.#readies });
        continue;
      }
      this.#sendNow(message);
    }
  }

  /** Send the held appends that came in a Ready before `ready` (see #send). */
  #sendHeldAppends(ready: number): void {
    if (this.#heldAppends.size === 0 || this.#closed) return;
    for (const [to, held] of [...this.#heldAppends]) {
      if (held.ready >= ready) continue;
      this.#heldAppends.delete(to);
      this.#sendNow(held.message);
    }
  }

  #sendNow(message: Message): void {
    // An answer says which store gives it (see #fromAdmittedStore).
    let payload: unknown = isAnswer(message) ? { ...message, s: this.#storeId } : message;
    if (message.type === 'append' && message.entries.length === 0) this.#emptyAppendsSent++;
    else if (message.type === 'append') {
      this.#appendsWithEntriesSent++;
      // The entries travel as the bytes they were (or are now) encoded to once, for every
      // follower and the disk alike — to a peer of a release that decodes them (a rolling
      // upgrade: an older one gets them as before).
      if ((this.distribution.peerInfo(message.to)?.version ?? 0) >= PROTOCOL_VERSION_ENCODED) {
        payload = { ...message, entries: new Encoded(this.#encodedRuns.encodingOf(message.entries)) };
      }
    }
    let sent: boolean;
    try {
      sent = this.distribution.sendControl(message.to, `raft:${this.id}`, payload);
    } catch (error) {
      if (!(error instanceof FedError) || error.code !== 'frame_too_large') throw error;
      // The core keeps appends near `messageBytesMax` by its estimate of each entry, far below
      // the frame limit; should one still not fit, it goes as two appends, each from where the
      // one before ends (what the follower would do with the one is what it does with the two).
      if (message.type === 'append' && message.entries.length > 1) {
        const [first, second] = splitAppend(message);
        this.#sendNow(first);
        this.#sendNow(second);
        return;
      }
      // Anything else is lost, as a message on a broken link is: Raft sends it again.
      if (letThrough(this.#tooLargeLoggedAt, message.to, this.#clock.now(), TOO_LARGE_LOG_INTERVAL_MS)) {
        this.#log('warn', 'raft_message_too_large', `a Raft ${message.type} to ${message.to} was not sent: ${error.message}`);
      }
      sent = false;
    }
    if (!sent && message.type === 'propose') this.#forwardFailed(message.to, message.data);
    else if (!sent && message.type === 'read_index') this.#readForwardFailed(message.to, message.requestId);
  }

  /**
   * An append's entries arrive encoded (see #send): decoded here, and their bytes kept for the
   * disk write (#persist). `undefined` for entries that are neither encoded entries nor an array.
   */
  #withDecodedEntries(message: Message): Message | undefined {
    if (message.type !== 'append') return message;
    const carried = message.entries as unknown;
    if (Array.isArray(carried)) return message;
    if (!(carried instanceof Encoded)) return undefined;
    let entries: unknown;
    try {
      entries = decode(carried.bytes);
    } catch {
      return undefined;
    }
    if (!Array.isArray(entries)) return undefined;
    this.#encodedRuns.remember(entries as Entry[], carried.bytes);
    return { ...message, entries: entries as Entry[] };
  }

  /**
   * Proposals forwarded to `leader` that are still waiting, once it is no longer the leader or
   * its link went down: they may have been lost with it, or appended and still commit — so the
   * callers get `unavailable` with `definite: false` (as etcd's "leader changed") at once, and
   * may retry an idempotent request, instead of waiting out the request timeout.
   */
  #leaderLost(leader: string, why: string): void {
    // A read changes nothing, so one that may have reached the old leader is refused definite:
    // the caller asks again at once (a singleton renewing its lease must not wait out the
    // request timeout, longer than the lease, for a leader that stepped down or died).
    for (const [id, to] of [...this.#readsForwardedTo]) {
      if (to !== leader) continue;
      this.#readsForwardedTo.delete(id);
      this.#take(this.#reads, id)?.reject(fedError('unavailable', `${why} while a read forwarded to it was pending`, { leaderHint: leader, definite: true }));
    }
    if (this.#forwardedTo.size === 0) return;
    for (const [id, to] of [...this.#forwardedTo]) {
      if (to !== leader) continue;
      this.#forwardedTo.delete(id);
      const pending = this.#take(this.#proposals, id);
      if (pending === undefined) continue;
      pending.reject(fedError('unavailable', `${why} while a proposal forwarded to it was pending; it may or may not commit`, { leaderHint: leader, definite: false }));
    }
  }

  /**
   * Proposals forwarded to a leader we are not connected to (it died, or the link is cut) were
   * dropped, never proposed: fail them now — definite, so the caller may retry at once — instead
   * of letting them wait for the request timeout.
   */
  #forwardFailed(leader: string, data: readonly unknown[]): void {
    for (const item of data) {
      const id = (item as GroupEntryData | null)?.id;
      if (typeof id !== 'string') continue;
      const pending = this.#take(this.#proposals, id);
      if (pending === undefined) continue;
      pending.reject(fedError('unavailable', `the leader ${leader} is not connected; nothing was proposed`, { leaderHint: leader, definite: true }));
    }
  }

  /** A read barrier forwarded to a leader we are not connected to was dropped: fail it now (definite). */
  #readForwardFailed(leader: string, requestId: string): void {
    this.#readsForwardedTo.delete(requestId);
    this.#take(this.#reads, requestId)?.reject(fedError('unavailable', `the leader ${leader} is not connected; the read was not sent`, { leaderHint: leader, definite: true }));
  }

  #applyReady(ready: Ready): void {
    if (ready.snapshot !== null) {
      // Restoring tells the name listeners what changed (#onNameChange: monitor local holders,
      // release stale incarnations, name_lost to live processes; watchers see it too).
      this.state.restore(ready.snapshot.data);
      this.#committedConf = ready.snapshot.meta.conf;
      this.#snapshotsInstalled++;
      this.#appliedSinceSnapshot = 0;
      this.#namesAtSnapshot = this.state.names.size;
      this.#emitApplied({ type: 'restore', index: this.state.appliedIndex });
    }
    for (const entry of ready.committedEntries) this.#applyEntry(entry);
    if (this.#toAdmit.size > 0 && ready.committedEntries.length > 0) this.#tellAdmitted();
    for (const request of ready.requests) this.#onRequestResult(request);
    for (const read of ready.readStates) this.#readsWaitingApply.push({ requestId: read.requestId, index: read.index });
    this.#serveReads();
    if (this.#appliedSinceSnapshot >= this.#snapshotEveryEntries()) {
      this.#appliedSinceSnapshot = 0;
      this.#namesAtSnapshot = this.state.names.size;
      this.#inputs.push({ type: 'snapshot_taken', index: this.state.appliedIndex, data: this.state.snapshot() });
    }
  }

  /** See `GroupOptions.snapshotEveryEntries`. */
  #snapshotEveryEntries(): number {
    const fixed = this.#options.snapshotEveryEntries;
    if (fixed !== undefined) return fixed;
    return Math.min(SNAPSHOT_EVERY_ENTRIES_MAX, Math.max(GROUP_DEFAULTS.snapshotEveryEntries, this.#namesAtSnapshot));
  }

  #applyEntry(entry: Entry): void {
    if (entry.index <= this.state.appliedIndex) return; // already in the restored snapshot
    this.#appliedSinceSnapshot++;
    if (entry.type !== 'normal') {
      this.state.skip(entry.index);
      if (entry.type === 'conf_change') {
        const change = entry.data as ConfChange;
        this.#committedConf = applyConfChange(this.#committedConf, change);
        this.#onConfApplied(change);
        this.#emitApplied({ type: 'conf_change', index: entry.index, change });
      }
      return;
    }
    const data = entry.data as GroupEntryData;
    const result = this.state.apply(entry.index, data.cmd);
    this.#emitApplied({ type: 'command', index: entry.index, command: data.cmd, result });
    // A follower (or the proposer of nothing) waits for none: no lookup of an id it never made.
    if (data.id === null || this.#proposals.size === 0) return;
    const pending = this.#take(this.#proposals, data.id);
    if (pending === undefined) return;
    pending.resolve(result);
  }

  /**
   * Tell the `onApply` listeners. They observe, so one that throws is logged and the others,
   * and the replica, go on: the state is already applied, and a listener's fault must not stop
   * the member (it would stop every name of the group on this node with it).
   */
  #emitApplied(event: AppliedEvent): void {
    for (const listener of this.#applyListeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log('warn', 'apply_listener_failed', `an onApply listener threw at index ${event.index}: ${(error as Error)?.message ?? String(error)}`);
      }
    }
  }

  #onConfApplied(change: ConfChange): void {
    if (change.type === 'bootstrap') return;
    if (change.type !== 'remove') {
      if (change.node === this.node.name) this.#removed = false;
      return;
    }
    if (change.node === this.node.name) this.#removed = true;
    else if (this.#raft.status().role === 'leader') this.#tellRemoved(change.node);
  }

  /**
   * As leader, each maintenance round: tell every former member linked to us (the replica has
   * its address, the configuration no longer has it) that it was removed, at most once per
   * `REMOVED_NOTICE_MS`, so it asks to rejoin. A learner removed while it was away
   * (`learnerDownGraceMs`) never campaigns, and a leader other than the one that removed it
   * does not send it the removal entry, so nothing else would tell it: it would sit on a replica
   * that no leader updates any more. (Each round, not once per link: a notice sent on a link
   * that is then replaced, as when both sides redial at once, is lost.)
   */
  #noticeFormerMembers(status: RaftStatus): void {
    for (const node of this.distribution.peers({ hidden: false })) {
      if (node === this.node.name || this.state.addressOf(node) === undefined) continue;
      if (status.conf.voters.includes(node) || status.conf.learners.includes(node)) continue;
      this.#tellRemovedNow(node);
    }
  }

  /** `#tellRemoved`, unless `node` was told within `REMOVED_NOTICE_MS` (the memory of that is bounded). */
  #tellRemovedNow(node: string): void {
    if (letThrough(this.#toldRemovedAt, node, this.#clock.now(), REMOVED_NOTICE_MS, REMOVED_NOTICES_MAX)) this.#tellRemoved(node);
  }

  #tellRemoved(node: string): void {
    this.#toldRemovedAt.delete(node);
    this.#toldRemovedAt.set(node, this.#clock.now());
    this.distribution.sendControl(node, `group:${this.id}`, { type: 'removed', node, term: this.#raft.status().term } satisfies GroupMessage);
  }

  /**
   * What an incoming Raft message says about membership. Replication from a leader (append,
   * heartbeat, snapshot) means we are in its configuration: whatever told us we were removed is
   * outdated. A campaign (pre-vote, vote) from a node outside our configuration comes from a
   * member removed while it was away (a dead voter replaced, then restarted): we tell it, at
   * most once per `REMOVED_NOTICE_MS`, so it asks to rejoin.
   */
  #noteMembership(message: Message): void {
    if (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot') {
      if (this.#removed && !this.#left) this.#removed = false;
      return;
    }
    if (message.type !== 'pre_vote' && message.type !== 'vote') return;
    const status = this.#raft.status();
    // Any member that knows a leader tells it (the campaigner may not know the current leader:
    // it was promoted after the campaigner went away); a join sent back to a follower is
    // forwarded to the leader.
    if (status.leader === null || status.conf.voters.includes(message.from) || status.conf.learners.includes(message.from)) return;
    this.#tellRemovedNow(message.from);
  }

  /**
   * Unsafe `early-ack` only: apply the entries this Ready appended (now persisted) to the
   * speculative replica, and answer the proposals waiting here with its results. The replica is
   * rebuilt from the committed state plus the log whenever the log did not simply grow (a
   * suffix overwritten, a snapshot installed). Extension commands are not answered early (the
   * speculative replica has no extension state machines).
   */
  #ackEarly(ready: Ready): void {
    if (ready.snapshot !== null) {
      this.#speculative = new GroupState();
      this.#speculative.restore(ready.snapshot.data);
    }
    if (ready.entries.length === 0) return;
    let speculative = this.#speculative;
    let from = (ready.entries[0] as Entry).index;
    if (speculative === undefined || from !== speculative.appliedIndex + 1) {
      speculative = new GroupState();
      speculative.restore(this.state.snapshot());
      from = this.state.appliedIndex + 1;
      this.#speculative = speculative;
    }
    const last = this.#storage.lastIndex();
    if (from > last) return;
    for (const entry of this.#storage.entries(from, last + 1)) {
      if (entry.type !== 'normal') {
        speculative.skip(entry.index);
        continue;
      }
      const data = entry.data as GroupEntryData;
      const result = speculative.apply(entry.index, data.cmd);
      if (data.id === null || data.cmd.op === 'ext') continue;
      const pending = this.#take(this.#proposals, data.id);
      if (pending === undefined) continue;
      pending.resolve(result);
    }
  }

  #onRequestResult(request: RequestResult): void {
    if (request.outcome === 'forwarded') {
      if (request.kind === 'propose' && this.#proposals.has(request.id)) this.#forwardedTo.set(request.id, request.to);
      else if (request.kind === 'read_index' && this.#reads.has(request.id)) this.#readsForwardedTo.set(request.id, request.to);
      return;
    }
    if (request.outcome !== 'rejected') return;
    const pending: { reject(error: unknown): void } | undefined =
      request.kind === 'read_index' ? this.#take(this.#reads, request.id) : request.kind === 'propose' ? this.#take(this.#proposals, request.id) : undefined;
    if (pending === undefined) return;
    const code = request.reason === 'not_leader' ? 'not_leader' : request.reason === 'queue_full' ? 'overloaded' : 'unavailable';
    pending.reject(
      fedError(code, `${request.kind} refused: ${request.reason}`, { leaderHint: request.leaderHint, reason: request.reason, definite: true }),
    );
  }

  #serveReads(): void {
    if (this.#readsWaitingApply.length === 0) return;
    const applied = this.state.appliedIndex;
    const still: Array<{ requestId: string; index: number }> = [];
    for (const read of this.#readsWaitingApply) {
      if (read.index > applied) {
        still.push(read);
        continue;
      }
      const pending = this.#take(this.#reads, read.requestId);
      if (pending === undefined) continue;
      pending.resolve();
    }
    this.#readsWaitingApply = still;
  }

  // ---- timers ------------------------------------------------------------------------------

  #scheduleTick(): void {
    this.#tickTimer = this.#clock.setTimeout(() => {
      if (this.#closed) return;
      this.#push({ type: 'tick' });
      this.#scheduleTick();
    }, this.#settings.tickMs);
  }

  #scheduleMaintenance(): void {
    this.#maintenanceTimer = this.#clock.setTimeout(() => {
      if (this.#closed) return;
      try {
        this.#maintain();
      } finally {
        this.#scheduleMaintenance();
      }
    }, this.#settings.maintenanceIntervalMs);
  }

  /** Upkeep: publish this member's address; as leader, remove names of unreachable nodes and keep the voter count. */
  #maintain(): void {
    const status = this.#raft.status();
    this.#publishAddress(status);
    this.#dialMembers(status);
    this.#rejoinIfRemoved(status);
    this.#forgetFormerNodes(status);
    if (status.role !== 'leader') return;
    const now = this.#clock.now();
    const unreachableFor = (node: string): number => {
      if (node === this.node.name || this.distribution.isConnected(node)) {
        this.#downSince.delete(node);
        return 0;
      }
      const since = this.#downSince.get(node) ?? now;
      this.#downSince.set(node, since);
      return now - since;
    };
    for (const holder of this.state.names.nodesWithNames()) {
      this.#releaseOlderIncarnations(holder);
      if (unreachableFor(holder) >= this.#settings.nameDownGraceMs) this.#proposeOnce(`node:${holder}`, { op: 'node_down', node: holder });
    }
    this.#balanceVoters(status, unreachableFor);
    this.#noticeFormerMembers(status);
  }

  /**
   * Bound the per-node bookkeeping by the nodes that matter: when a Raft message last came from a
   * node, and joiners waiting to be told they are admitted, are kept for members and for nodes
   * still connected (a removed member may ask to join again) only.
   */
  #forgetFormerNodes(status: RaftStatus): void {
    const keep = (node: string): boolean => status.conf.voters.includes(node) || status.conf.learners.includes(node) || this.distribution.isConnected(node);
    for (const node of [...this.#heardAt.keys()]) if (!keep(node)) this.#heardAt.delete(node);
    for (const node of [...this.#toAdmit.keys()]) if (!keep(node) || !this.#leading) this.#toAdmit.delete(node);
  }

  /** Keep (re)dialling every member whose address the replica knows: links survive long partitions. */
  #dialMembers(status: RaftStatus): void {
    for (const member of [...status.conf.voters, ...status.conf.learners]) {
      if (member === this.node.name || this.distribution.isConnected(member)) continue;
      const address = this.state.addressOf(member);
      if (address === undefined || this.#dialed.has(`${member} ${address}`)) continue;
      this.#dialed.add(`${member} ${address}`);
      this.distribution.connect(address).catch(() => undefined);
    }
  }

  #publishAddress(status: RaftStatus): void {
    const me = this.node.name;
    const known = status.conf.voters.includes(me) || status.conf.learners.includes(me);
    // The store id only once admitted, and only where none is recorded (a member admitted before
    // store ids were): a record is the leader's to change (#admit), and the state machine keeps
    // the one it has against any other publication — this replica may be behind the record of a
    // store that replaced this one.
    const recorded = this.state.storeIdOf(me);
    const storeId = this.#admitted && recorded === undefined ? this.#storeId : undefined;
    const published = this.state.addressOf(me) === this.#options.address && this.state.weightOf(me) === this.#weight && storeId === undefined;
    if (!known || status.leader === null || published || this.#releasing.has('address')) return;
    this.#releasing.add('address');
    this.propose({ op: 'member', node: me, address: this.#options.address, weight: this.#weight, ...(storeId === undefined ? {} : { storeId }) })
      .catch(() => undefined)
      .finally(() => this.#releasing.delete('address'));
  }

  /**
   * A member the group removed while it lived on (a voter replaced after the grace period, then
   * back) asks to be admitted again, as a learner; one that left with `leave()` does not.
   */
  #rejoinIfRemoved(status: RaftStatus): void {
    // Also a member whose store is not admitted yet that once asked to join (the library's
    // `join` gave up waiting: the leader removes an earlier store's voter only while a quorum of
    // the others is live). `fedctl start` gives up and exits instead.
    if (!(this.#removed || (this.#joinRequested && !this.#admitted && !this.isMember())) || this.#left) return;
    const via = [this.#removedBy, status.leader, ...this.distribution.peers({ hidden: false })].find(
      (node): node is string => node !== undefined && node !== null && node !== this.node.name && this.distribution.isConnected(node),
    );
    if (via !== undefined) this.requestJoin(via);
  }

  /**
   * As leader: keep 3 voters (5 once the group has 5 members). In order: finish a demotion in
   * progress; replace a voter unreachable for `voterDownGraceMs` by a caught-up learner (or drop
   * it when there are more voters than the target); promote a caught-up learner while below the
   * target, but from 3 voters on not to an even count with no second learner to follow (4
   * voters tolerate no more failures than 3, and need one more answer per commit); demote a live
   * surplus voter (after a leave from 5 voters the group goes back to 3); remove a learner
   * unreachable for `learnerDownGraceMs`. One configuration change at a time: the core refuses
   * another while one is uncommitted, and the next maintenance round tries again. And only a
   * change of the voters whose new voters include a quorum this leader can reach
   * (`#liveQuorum`, etcd's strict reconfiguration check): a change takes effect when appended,
   * so removing a dead voter while another is down too (a leader that has not yet stepped down,
   * or that just resumed from a pause) left a configuration whose quorum needs a member that may
   * never come back, and the group never elected a leader again even once the removed one was
   * back (jepsen-lite seed 3027).
   */
  #balanceVoters(status: RaftStatus, unreachableFor: (node: string) => number): void {
    const { voters, learners } = status.conf;
    const demoting = this.state.demoting();
    if (demoting.length > 0) return this.#continueDemotion(demoting[0] as string, status, unreachableFor);
    const members = voters.length + learners.length;
    const target = targetVoters(members);
    const heardWithinMs = this.#settings.tickMs * this.#settings.electionTicks;
    const deadVoter = voters.find((voter) => unreachableFor(voter) >= this.#settings.voterDownGraceMs);
    const healthyLearners = learners.filter((learner) => {
      // Connected and answering: a learner that answers nothing (not admitted, hung) is no
      // candidate, however caught up the leader's old progress for it says it is.
      if (unreachableFor(learner) > 0 || this.#clock.now() - (this.#heardAt.get(learner) ?? -Infinity) > heardWithinMs) return false;
      const match = this.#raft.progressOf(learner)?.match ?? 0;
      return status.commit - match <= LEARNER_CAUGHT_UP_ENTRIES;
    });
    const healthyLearner = healthyLearners[0];
    const deadLearner = learners.find((learner) => unreachableFor(learner) >= this.#settings.learnerDownGraceMs);
    // From 3 voters on, an odd count stays odd unless a second learner follows at once.
    const promotionKeepsOdd = voters.length < 3 || voters.length % 2 === 0 || healthyLearners.length >= 2;
    if (deadVoter !== undefined && (healthyLearner !== undefined || voters.length > target)) {
      const remaining = voters.filter((voter) => voter !== deadVoter);
      if (this.#liveQuorum(remaining, unreachableFor)) this.#changeConf({ type: 'remove', node: deadVoter });
    } else if (voters.length < target && healthyLearner !== undefined && promotionKeepsOdd) {
      if (this.#liveQuorum([...voters, healthyLearner], unreachableFor)) this.#changeConf({ type: 'promote', node: healthyLearner });
    } else if (deadLearner !== undefined) {
      // A learner is no voter: removing it changes no quorum.
      this.#changeConf({ type: 'remove', node: deadLearner });
    } else if (voters.length > target && deadVoter === undefined) {
      // The most lagging live voter other than ourselves goes back to learner.
      const surplus = voters
        .filter((voter) => voter !== this.node.name)
        .sort((x, y) => (this.#raft.progressOf(x)?.match ?? 0) - (this.#raft.progressOf(y)?.match ?? 0) || (x < y ? -1 : 1))[0];
      if (surplus !== undefined) this.#proposeOnce(`demoting:${surplus}`, { op: 'demoting', node: surplus, on: true });
    }
  }

  /** A demotion is: mark (committed), remove from the voters, add back as a learner, unmark. */
  #continueDemotion(node: string, status: RaftStatus, unreachableFor: (node: string) => number): void {
    const { voters, learners } = status.conf;
    if (voters.includes(node)) {
      if (node !== this.node.name && this.#liveQuorum(voters.filter((voter) => voter !== node), unreachableFor)) this.#changeConf({ type: 'remove', node });
      return;
    }
    const gone = unreachableFor(node) >= this.#settings.voterDownGraceMs;
    if (!learners.includes(node) && !gone) {
      this.#changeConf({ type: 'add_learner', node });
      return;
    }
    this.#proposeOnce(`demoting:${node}`, { op: 'demoting', node, on: false });
  }

  /**
   * Whether a quorum of `voters` is live for this leader: itself, and members connected that sent
   * a Raft message within an election timeout (the window check-quorum uses).
   */
  #liveQuorum(voters: readonly string[], unreachableFor: (node: string) => number): boolean {
    const now = this.#clock.now();
    const windowMs = this.#settings.tickMs * this.#settings.electionTicks;
    const live = voters.filter((voter) => voter === this.node.name || (unreachableFor(voter) === 0 && now - (this.#heardAt.get(voter) ?? -Infinity) <= windowMs));
    return live.length >= Math.floor(voters.length / 2) + 1;
  }

  /** Propose an upkeep command unless the same one (by `key`) is still in flight. */
  #proposeOnce(key: string, command: GroupCommand): void {
    if (this.#releasing.has(key)) return;
    this.#releasing.add(key);
    this.propose(command)
      .catch(() => undefined)
      .finally(() => this.#releasing.delete(key));
  }

  #changeConf(change: ConfChange): void {
    this.#push({ type: 'conf_change', change, id: this.#nextRequestId() });
  }

  // ---- the group protocol ------------------------------------------------------------------

  #onGroupMessage(from: string, message: GroupMessage): void {
    if (typeof message !== 'object' || message === null) return;
    const status = this.#raft.status();
    switch (message.type) {
      case 'join':
      case 'leave': {
        // From the node itself, or forwarded by a member (a join or leave sent to a follower
        // goes on to the leader). Anyone else asking for another node is refused.
        if (typeof message.node !== 'string' || message.node.length === 0) {
          this.#log('warn', 'group_message_rejected', `${message.type} from ${from} names no node`);
          return;
        }
        const direct = message.node === from;
        if (!direct && !status.conf.voters.includes(from) && !status.conf.learners.includes(from)) {
          this.#log('warn', 'group_message_rejected', `${from} asked to ${message.type} for ${String(message.node)} but is no member of group ${this.id}`);
          return;
        }
        if (status.role !== 'leader') {
          // Forwarded once only (a forwarded request reaching a stale leader is dropped; the
          // joiner retries): two members that each think the other leads never bounce it.
          if (direct && status.leader !== null && status.leader !== from) this.distribution.sendControl(status.leader, `group:${this.id}`, message);
          return;
        }
        if (message.type === 'join') {
          const storeId = typeof message.storeId === 'string' && message.storeId.length > 0 ? message.storeId : undefined;
          this.#admit(message.node, message.address, isRingWeight(message.weight) ? message.weight : 1, storeId, storeId === undefined || message.admitted !== false, status);
        }
        else {
          if (this.state.demoting().includes(message.node)) this.#proposeOnce(`demoting:${message.node}`, { op: 'demoting', node: message.node, on: false });
          this.#changeConf({ type: 'remove', node: message.node });
        }
        return;
      }
      case 'transfer_leader': {
        if (typeof message.to !== 'string' || (!status.conf.voters.includes(from) && !status.conf.learners.includes(from))) {
          this.#log('warn', 'group_message_rejected', `transfer_leader from ${from}: not a member of group ${this.id}, or names no target`);
          return;
        }
        if (status.role === 'leader') this.#push({ type: 'transfer_leader', to: message.to, id: this.#nextRequestId() });
        // Sent on once only: two members that each think the other leads never bounce it.
        else if (message.forwarded !== true && status.leader !== null && status.leader !== from) {
          this.distribution.sendControl(status.leader, `group:${this.id}`, { type: 'transfer_leader', to: message.to, forwarded: true } satisfies GroupMessage);
        }
        return;
      }
      case 'admitted':
        if (message.node === this.node.name && message.storeId === this.#storeId) this.#markAdmitted(from);
        return;
      case 'superseded':
        if (message.node === this.node.name && typeof message.storeId === 'string' && message.storeId !== this.#storeId && from === status.leader) this.#markSuperseded(from, message.storeId);
        return;
      case 'removed':
        // From our leader, from a leader of a term at least ours that does not know us, or when we
        // know no leader. A notice that is outdated costs little: the next append or heartbeat from
        // a leader clears it, and the rejoin request it causes is idempotent.
        if (message.node !== this.node.name) return;
        if (from !== status.leader && status.leader !== null && !(Number.isInteger(message.term) && message.term >= status.term)) return;
        this.#removed = true;
        this.#removedBy = from;
        return;
      case 'read': {
        const reply: GroupMessage =
          status.role === 'leader'
            ? { type: 'read_reply', requestId: message.requestId, entry: this.state.names.whereis(message.name) ?? null }
            : { type: 'read_reply', requestId: message.requestId, entry: null, error: 'not_leader' };
        this.distribution.sendControl(from, `group:${this.id}`, reply);
        return;
      }
      case 'read_reply': {
        const pending = this.#take(this.#leaderReads, message.requestId);
        if (pending === undefined) return;
        if (message.error !== undefined) pending.reject(fedError('not_leader', `${from} is no longer the leader`, { definite: true }));
        else pending.resolve(message.entry);
        return;
      }
      default:
        this.#log('warn', 'group_message_rejected', `unknown group message from ${from}`);
    }
  }

  /**
   * As leader, a join from `node` with store `storeId` (undefined: a joiner from before store
   * ids), `admitted` if that store was admitted before. See the header: a store the group does
   * not hold for a member in the configuration, and that was never admitted, is the member's
   * data lost — removed first, admitted as new once it is out.
   */
  #admit(node: string, address: string, weight: number, storeId: string | undefined, admitted: boolean, status: RaftStatus): void {
    if (typeof address !== 'string') return;
    const inConf = status.conf.voters.includes(node) || status.conf.learners.includes(node);
    const recorded = this.state.storeIdOf(node);
    // Another store than the one recorded, under a name in the configuration: a new store (its
    // data directory lost), or an admitted one the group has since replaced by another.
    if (inConf && storeId !== undefined && recorded !== storeId && (!admitted || recorded !== undefined)) {
      this.#removeLostStore(node, storeId, recorded, status, admitted);
      return;
    }
    // The store id is recorded only for a joiner out of the configuration, or one admitted
    // before store ids were recorded: never for another store while its name may still count
    // as an earlier store's voter.
    const record = storeId !== undefined && recorded !== storeId ? storeId : undefined;
    if (this.state.addressOf(node) !== address || this.state.weightOf(node) !== weight || record !== undefined) {
      this.propose({ op: 'member', node, address, weight, ...(record === undefined ? {} : { storeId: record, admit: true }) }).catch(() => undefined);
    }
    if (!inConf) this.#changeConf({ type: 'add_learner', node });
    if (storeId !== undefined && !admitted) {
      this.#toAdmit.set(node, storeId);
      this.#tellAdmitted();
    }
  }

  /** `node` came back with store `storeId`, not the one the group holds for it: take it out of the configuration. */
  #removeLostStore(node: string, storeId: string, recorded: string | undefined, status: RaftStatus, admitted: boolean): void {
    const voter = status.conf.voters.includes(node);
    const others = status.conf.voters.filter((other) => other !== node);
    const removable = !voter || this.#liveQuorum(others, (other) => (other === this.node.name || this.distribution.isConnected(other) ? 0 : 1));
    if (letThrough(this.#lostStoreLoggedAt, `${node} ${storeId}`, this.#clock.now(), LOST_STORE_LOG_MS)) {
      this.#log(
        'warn',
        'member_store_lost',
        (admitted
          ? `${node} came back with an earlier Raft store (${storeId}; the group holds ${recorded ?? 'none recorded'}), replaced since: `
          : `${node} came back with a new Raft store (${storeId}; the group holds ${recorded ?? 'none recorded'}): its data directory was lost; `) +
          (removable
            ? `removing it from the ${voter ? 'voters' : 'learners'}, then admitting it as a new learner`
            : `it stays out of every Raft exchange until a quorum of the other voters (${others.join(', ')}) is live to remove it`),
        { node, storeId, recorded: recorded ?? null },
      );
    }
    if (removable) this.#changeConf({ type: 'remove', node });
  }

  /** Not admitted: ask `from` (which sent us a Raft message) to admit this store, at most once per KNOCK_MS. */
  #knock(from: string): void {
    if (this.#left || this.#closed || !letThrough(this.#knockedAt, from, this.#clock.now(), KNOCK_MS)) return;
    this.requestJoin(from);
  }

  /**
   * Whether an answer (ack, vote) from `from` comes from the store this replica records for it
   * (or carries no store id: a member of an earlier release; or none is recorded). One from
   * another store is dropped: that store is not the voter the configuration counts (an old
   * store back after a new one was admitted under the name, or a node that lost its data
   * directory and bootstrapped anew). The leader tells it so, once per KNOCK_MS.
   */
  #fromAdmittedStore(from: string, payload: unknown): boolean {
    const recorded = this.state.storeIdOf(from);
    const sent = (payload as { s?: unknown }).s;
    if (recorded === undefined || typeof sent !== 'string' || sent === recorded) return true;
    // Fail open for a record this replica has in its log but not applied yet (a new leader
    // learns what committed only once an entry of its term does).
    if (this.#admittedInLog(from, sent)) return true;
    if (letThrough(this.#toldSupersededAt, from, this.#clock.now(), KNOCK_MS)) {
      this.#log('warn', 'store_superseded', `${from} answers from Raft store ${sent}, not the one group ${this.id} admitted for it (${recorded}): its answers count for nothing`, { node: from, storeId: sent, recorded });
      if (this.#leading) this.distribution.sendControl(from, `group:${this.id}`, { type: 'superseded', node: from, storeId: recorded } satisfies GroupMessage);
    }
    return false;
  }

  /** Whether this member's log, past what it applied, admits `storeId` for `node`. */
  #admittedInLog(node: string, storeId: string): boolean {
    const from = Math.max(this.state.appliedIndex + 1, this.#storage.firstIndex());
    const to = this.#storage.lastIndex();
    if (from > to) return false;
    for (const entry of this.#storage.entries(from, to + 1)) {
      if (entry.type !== 'normal') continue;
      const cmd = (entry.data as GroupEntryData | null)?.cmd;
      if (cmd?.op === 'member' && cmd.node === node && cmd.storeId === storeId && cmd.admit === true) return true;
    }
    return false;
  }

  /**
   * Told by our leader that the group holds another store for this node: this one is no longer
   * admitted. Stop taking part at once, write it down, and ask again (as a store that lost its
   * place: the leader removes the other store's entry first).
   */
  #markSuperseded(from: string, recorded: string): void {
    if (!this.#admitted || this.#closed) return;
    this.#admitted = false;
    this.#log('warn', 'store_superseded', `group ${this.id} holds Raft store ${recorded} for this node, not this one (${this.#storeId}; told by ${from}): taking part in nothing until admitted again`, { storeId: this.#storeId, recorded });
    this.#writeAdmitted(false)
      .catch((error: unknown) => {
        if (!this.#closed) this.#log('warn', 'store_admit_failed', `could not record that store ${this.#storeId} is no longer admitted: ${(error as Error)?.message ?? String(error)}`);
      });
    this.#knock(from);
  }

  /** Write this member's store meta record with `admitted` (synced). */
  #writeAdmitted(admitted: boolean): Promise<void> {
    return this.#store.writeMeta({ format: this.#storeFormat, group: this.id, node: this.node.name, storeId: this.#storeId, admitted });
  }

  /** As leader: tell each joiner in #toAdmit whose store id and configuration entry both applied here that it is admitted. */
  #tellAdmitted(): void {
    if (!this.#leading) return;
    const conf = this.#committedConf;
    for (const [node, storeId] of this.#toAdmit) {
      if (this.state.storeIdOf(node) !== storeId || (!conf.voters.includes(node) && !conf.learners.includes(node))) continue;
      this.#toAdmit.delete(node);
      this.distribution.sendControl(node, `group:${this.id}`, { type: 'admitted', node, storeId } satisfies GroupMessage);
    }
  }

  /**
   * Told by `from` that the group admitted this member's store: write the mark (so a restart
   * needs no new admission), then take part. Until the write is done, Raft messages are still
   * dropped; a failed write is logged and the next `admitted` (the joiner keeps asking) tries again.
   */
  #markAdmitted(from: string): void {
    if (this.#admitted || this.#admitting || this.#closed) return;
    this.#admitting = true;
    this.#writeAdmitted(true)
      .then(
        () => {
          this.#admitted = true;
          this.#log('info', 'store_admitted', `group ${this.id} admitted this member's Raft store ${this.#storeId} (told by ${from})`, { storeId: this.#storeId });
        },
        (error: unknown) => {
          if (!this.#closed) this.#log('warn', 'store_admit_failed', `could not record that store ${this.#storeId} was admitted: ${(error as Error)?.message ?? String(error)}`);
        },
      )
      .finally(() => {
        this.#admitting = false;
      });
  }

  async #leaderWhereis(name: string): Promise<WhereisResult | undefined> {
    const status = this.#raft.status();
    if (status.role === 'leader') return this.whereisLocal(name);
    if (status.leader === null) throw fedError('unavailable', 'no leader known', { definite: true });
    const leader = status.leader;
    const requestId = this.#nextRequestId();
    const entry = await this.#await(this.#leaderReads, requestId, 'leader read', () => {
      if (!this.distribution.sendControl(leader, `group:${this.id}`, { type: 'read', requestId, name } satisfies GroupMessage)) {
        const pending = this.#take(this.#leaderReads, requestId);
        if (pending !== undefined) {
          pending.reject(fedError('unavailable', `leader ${leader} is not connected`, { definite: true }));
        }
      }
    });
    return entry ?? undefined;
  }

  // ---- names follow their processes --------------------------------------------------------

  /** The agent process: monitors local pids that hold names and releases their names on exit. */
  async #agent(ctx: import('../runtime/index.js').ProcessContext): Promise<void> {
    for (;;) {
      const message = await ctx.receive();
      // It traps exits only so that nobody's link takes it down; an exit signal sent to it (the
      // node stopping, an operator's exit) ends it as it would a process that does not trap.
      if (isExitMessage(message)) return;
      if (message instanceof Pid) ctx.monitor(message);
      else if (isDownMessage(message) && message.pid instanceof Pid) {
        this.#monitoredPids.delete(message.pid.key);
        if (message.pid.equals(this.#lastMonitoredPid)) this.#lastMonitoredPid = undefined;
        this.#release(message.pid);
      }
    }
  }

  #onNameChange(event: WatchEvent): void {
    if (event.type === 'put') {
      const pid = event.entry.pid;
      if (pid.node !== this.node.name) {
        // A name for a pid of a node whose newer incarnation is connected (registered late, or learned late).
        this.#releaseOlderIncarnations(pid.node);
        return;
      }
      if (pid.creation < this.node.creation) {
        this.#releaseOwnOlderIncarnations();
        return;
      }
      if (pid.creation !== this.node.creation) return; // a pid of a newer incarnation than ours: not ours to watch
      // Once per pid (checked here, not in the agent's mailbox: a holder of many names registers
      // often — usually in a row, so the last pid seen is compared first: building a key allocates).
      if (pid === this.#lastMonitoredPid || pid.equals(this.#lastMonitoredPid)) return;
      const key = pid.key;
      if (this.#agentPid !== undefined && !this.#monitoredPids.has(key)) {
        this.#monitoredPids.add(key);
        this.node.send(this.#agentPid, pid);
      }
      if (this.#monitoredPids.has(key)) this.#lastMonitoredPid = pid;
      return;
    }
    const pid = event.previous.pid;
    if (pid.node !== this.node.name || event.reason === 'unregister' || event.reason === 'process_exit') return;
    if (pid.creation === this.node.creation && this.node.isAlive(pid)) {
      this.node.send(pid, { type: 'name_lost', name: event.name, revision: event.revision, reason: event.reason });
    }
  }

  /**
   * No name may point to a pid of an older incarnation of a node. As leader, once a newer
   * incarnation of `node` is connected (its creation is in the handshake), release at once every
   * name held by pids of its older creations — not when they next register, not after a grace.
   */
  #releaseOlderIncarnations(node: string): void {
    if (!this.#leading || this.#closed || node === this.node.name) return;
    const oldest = this.state.names.oldestCreationHolding(node);
    if (oldest === undefined) return;
    const creation = this.distribution.peerInfo(node)?.creation;
    if (creation === undefined || oldest >= creation || this.#raft.status().role !== 'leader') return;
    this.#proposeOnce(`incarnation:${node}:${creation}`, { op: 'node_down', node, creationBelow: creation });
  }

  /**
   * This member restarted (a new creation) and its replica — a loaded snapshot or replayed
   * entries — holds names of its earlier incarnations: their processes are dead, so release
   * them all with one command; retried until none is left (the names must not outlive them).
   */
  #releaseOwnOlderIncarnations(): void {
    const key = `incarnation:${this.node.name}`;
    if (this.#releasing.has(key) || this.#closed) return;
    this.#releasing.add(key);
    const me = this.node.name;
    const stale = (): boolean => (this.state.names.oldestCreationHolding(me) ?? this.node.creation) < this.node.creation;
    this.#retryUntil(key, () => this.propose({ op: 'node_down', node: me, creationBelow: this.node.creation }), () => !stale());
  }

  /** Release every name of a dead local pid; retried until it commits (the names must not outlive it). */
  #release(pid: Pid): void {
    if (this.#releasing.has(pid.key) || this.#closed) return;
    this.#releasing.add(pid.key);
    this.#retryUntil(pid.key, () => this.propose({ op: 'release_pid', pid }), () => this.state.names.namesOf(pid).length === 0);
  }

  /**
   * Run `attempt` until it succeeds or `done()` holds, pausing one election timeout between
   * tries (a failed proposal means no leader for now); ends with the member. Clears `key` from
   * the in-flight set when finished.
   */
  #retryUntil(key: string, attempt: () => Promise<unknown>, done: () => boolean): void {
    const once = (): void => {
      if (this.#closed) return;
      attempt()
        .then(() => this.#releasing.delete(key))
        .catch(() => {
          if (this.#closed || done()) {
            this.#releasing.delete(key);
            return;
          }
          const timer = this.#clock.setTimeout(() => {
            this.#retryTimers.delete(timer);
            once();
          }, this.#settings.tickMs * this.#settings.electionTicks);
          this.#retryTimers.add(timer);
        });
    };
    once();
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** The request `id` waiting in `waiting`, removed and its timeout settled (undefined if it is not waiting). */
  #take<T>(waiting: Map<string, Pending<T>>, id: string): Pending<T> | undefined {
    const pending = waiting.get(id);
    if (pending === undefined) return undefined;
    waiting.delete(id);
    this.#deadlines.settle(pending.deadline!);
    return pending;
  }

  #await<T>(waiting: Map<string, Pending<T>>, id: string, what: string, start: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => this.#wait(waiting, id, what, resolve, reject, start));
  }

  /**
   * Wait for request `id` in `waiting`: `start()` it, then exactly one of `resolve` (when it
   * finishes), `reject` (when it fails, or after the request timeout) is called.
   */
  #wait<T>(waiting: Map<string, Pending<T>>, id: string, what: string, resolve: (value: T) => void, reject: (error: unknown) => void, start: () => void): void {
    const pending: Pending<T> = { resolve, reject, deadline: undefined };
    pending.deadline = this.#deadlines.add(() => {
      if (waiting.get(id) !== pending) return;
      waiting.delete(id);
      reject(fedError('timeout', `${what} did not finish in ${this.#settings.requestTimeoutMs} ms`));
    });
    waiting.set(id, pending);
    try {
      start();
    } catch (error) {
      if (this.#take(waiting, id) === pending) reject(error);
      else throw error;
    }
  }

  #nextRequestId(): string {
    return `${this.node.name}/${this.node.creation}/${++this.#requestSeq}`;
  }

  #assertOpen(): void {
    if (this.#closed) throw fedError('shutdown', `group member ${this.node.name} is closed`);
  }

  #log(level: 'info' | 'warn', event: string, msg: string, extra?: Record<string, unknown>): void {
    this.#options.log?.(level, event, msg, extra);
  }
}

/**
 * A rate limit per key: true (and `key` recorded as let through `now`) when `intervalMs` passed
 * since it last was, or it never was. `times` keeps its `max` most recent keys.
 */
function letThrough<K>(times: Map<K, number>, key: K, now: number, intervalMs: number, max = RATE_KEYS_MAX): boolean {
  const last = times.get(key);
  if (last !== undefined && now - last < intervalMs) return false;
  times.delete(key);
  keepNewest(times, max - 1);
  times.set(key, now);
  return true;
}

/** True when `message` says all that the empty append `held` says (see Group #send). */
function coversAppend(message: Message, held: AppendRequest): boolean {
  return message.type === 'append' && message.term === held.term && message.prevIndex === held.prevIndex && message.prevTerm === held.prevTerm && message.commit >= held.commit;
}

function isEmptyObject(value: Record<string, unknown>): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return false;
  return true;
}

function okResult(result: GroupResult & { ok: true }): GroupResult & { ok: true } {
  return result;
}

function revisionOf(result: GroupResult & { ok: true }): { revision: number } {
  return { revision: result.revision };
}

function wrapSnapshot(snapshot: Snapshot): StoredGroupSnapshot {
  return { index: snapshot.meta.index, term: snapshot.meta.term, snapshot };
}

/** Turn a refused registry result into the typed error callers catch. */
export function resultError(result: GroupResult): FedError {
  assert(!result.ok, 'resultError of an ok result');
  switch (result.code) {
    case 'name_taken':
      return fedError('name_taken', `name is held by ${result.holder.toString()}`, { holder: result.holder.toString(), revision: result.revision, definite: true });
    case 'not_owner':
      return fedError('not_owner', `name is held by ${result.holder?.toString() ?? 'nobody'}`, { holder: result.holder?.toString() ?? null, definite: true });
    case 'noproc':
      return fedError('noproc', result.reason, { definite: true });
    case 'ext_refused':
      return fedError('badarg', `refused: ${JSON.stringify(result.value)}`, { refusal: result.value, definite: true });
    case 'claim_held':
      return fedError('name_taken', `claim ${result.holder.key} is held by ${result.holder.node}`, { holder: result.holder.node, revision: result.holder.revision, definite: true });
    default:
      return fedError('badarg', result.reason, { definite: true });
  }
}
