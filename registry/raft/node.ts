/**
 * `RaftNode`: the Raft algorithm as a pure state machine, in the style of etcd's raft library.
 * No timers, sockets, disk, clock or global randomness inside: time is `tick` inputs, randomness
 * comes from the injected `Rng`, I/O is the driver's job.
 *
 * THE DRIVER LOOP (the only correct way to run it):
 *
 *     node.step(input)                       // any number of times
 *     while (node.hasReady()) {
 *       const ready = node.ready();
 *       send ready.earlyMessages             // at once (empty unless earlyReplication)
 *       persist ready.snapshot, ready.entries, ready.hardState, ready.compaction   // fsync if mustSync
 *       send ready.messages                  // ONLY AFTER the write above is durable
 *       restore ready.snapshot into the state machine, apply ready.committedEntries in order
 *       serve ready.readStates once applied index >= readState.index
 *       node.advance();
 *     }
 *
 * `step` must not be called between `ready()` and `advance()` (queue inputs meanwhile) —
 * except with `earlyReplication`, where the driver may step inputs (messages, ticks,
 * proposals) while the write is in flight; their effects go into the next Ready. A leader then
 * commits as soon as a quorum holds an entry durably, its own disk included only once the
 * write is done: with fast followers it may commit before its own write completes.
 *
 * Design choices (see the issue and STYLE.md):
 * - Election: randomized timeout in [electionTicks, 2*electionTicks), pre-vote, check-quorum,
 *   and votes are refused while a member heard from a leader within electionTicks (so a
 *   partitioned member rejoining does not depose a healthy leader).
 * - Replication: the leader batches everything proposed between two `ready()` calls into one
 *   append per follower, pipelines appends under flow control (see `Progress`), backtracks fast
 *   with conflict hints, and commits by counting only entries of its own term (Figure 8).
 * - A no-op entry opens every term.
 * - Membership: single-member changes, taking effect when appended (dissertation §4.1), with the
 *   fix that a leader appends a change only once an entry of its own term is committed and no
 *   earlier change is uncommitted. A leader removed from the voters keeps leading (without
 *   counting itself) until the change commits, then hands over with TimeoutNow and steps down.
 * - The leader counts its own log as replicated only up to what the driver made durable; with
 *   `earlyReplication` it sends its entries before they are (thesis §10.2.1).
 */
import { assert, unreachable } from '../../runtime/kernel/assert.js';
import { fedError } from '../../runtime/kernel/errors.js';
import { type RaftConfig, validateRaftConfig } from './config.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { type RaftStorage, entryBytesEstimate } from './storage.js';
import type {
  AppendRequest,
  AppendResponse,
  ConfChange,
  ConfState,
  Entry,
  HardState,
  HeartbeatRequest,
  Input,
  Message,
  NodeId,
  ReadState,
  Ready,
  RejectReason,
  RequestKind,
  RequestResult,
  Role,
  Snapshot,
  SnapshotChunk,
  SoftState,
  VoteRequest,
} from './types.js';

/** Heartbeat rounds remembered for lease reads (older rounds count as expired). */
const LEASE_ROUNDS_REMEMBERED = 64;

interface PendingRead {
  readonly requestId: string;
  readonly from: NodeId;
  /** A forwarded read's `requesterTerm` (undefined for our own reads and older members'). */
  readonly requesterTerm: number | undefined;
}

/** A read whose index is taken, waiting for its confirmation round (or released at once). */
interface QueuedRead {
  readonly requestId: string;
  readonly from: NodeId;
  readonly index: number;
  readonly round: number;
}

interface IncomingSnapshot {
  readonly meta: Snapshot['meta'];
  readonly totalBytes: number;
  readonly chunks: Uint8Array[];
  received: number;
}

interface ReadyInFlight {
  /** Last entry handed out for persisting, and its term (-1, -1: none). */
  readonly lastEntryIndex: number;
  readonly lastEntryTerm: number;
  readonly appliedTo: number;
}

/** A read-only view of a member, for drivers, tests and the simulator. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Last log index known durable (persisted and advanced); the leader counts itself up to it. */
  readonly stableIndex: number;
  readonly snapshotIndex: number;
  readonly conf: ConfState;
  readonly leadTransferee: NodeId | null;
}

export class RaftNode {
  readonly id: NodeId;
  readonly config: RaftConfig;
  #log: RaftLog;
  #term: number;
  #vote: NodeId | null;
  #role: Role = 'follower';
  #leader: NodeId | null = null;

  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedElectionTicks = 0;
  /**
   * Ticks since a leader last contacted us: the vote-refusal lease. In lease read mode a
   * (re)started member also counts its start as contact, since it may have acknowledged a
   * leader's heartbeat just before crashing.
   */
  #leaderContactElapsed: number;
  #ticks = 0;

  #votes = new Map<NodeId, boolean>();
  #progress = new Map<NodeId, Progress>();
  #leadTransferee: NodeId | null = null;
  #progressIncludesRemoved = false;

  #round = 0;
  #readRoundPending = false;
  /** Lease reads count only heartbeat rounds from this one on (see `#sendTimeoutNow`). */
  #leaseRoundMin = 0;
  readonly #roundTicks: number[] = new Array<number>(LEASE_ROUNDS_REMEMBERED).fill(0);
  #pendingReads: PendingRead[] = [];
  #readQueue: QueuedRead[] = [];

  /** The newest snapshot this member has (taken, installed or loaded): what a leader sends. */
  #snapshot: Snapshot;
  #installSnapshot: Snapshot | null = null;
  #compaction: Snapshot | null = null;
  #incoming: IncomingSnapshot | null = null;

  #messages: Message[] = [];
  #requests: RequestResult[] = [];
  #readStates: ReadState[] = [];
  #persistedHardState: HardState;
  #reportedSoftState: SoftState;
  #inFlight: ReadyInFlight | null = null;

  constructor(config: RaftConfig, storage: RaftStorage) {
    validateRaftConfig(config);
    this.id = config.id;
    this.config = config;
    this.#leaderContactElapsed = config.readMode === 'lease' ? 0 : config.electionTicks;
    const hardState = storage.initialState();
    const snapshot = storage.snapshot();
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    assert(first === snapshot.meta.index + 1, 'storage: firstIndex is the snapshot index + 1');
    const entries = last >= first ? storage.entries(first, last + 1) : [];
    this.#snapshot = snapshot;
    this.#log = new RaftLog(snapshot.meta.index, snapshot.meta.term, snapshot.meta.conf, entries, hardState.commit);
    this.#term = hardState.term;
    this.#vote = hardState.vote;
    this.#persistedHardState = hardState;
    const applied = config.applied ?? snapshot.meta.index;
    if (applied < snapshot.meta.index || applied > hardState.commit) {
      throw fedError('config', `raft: applied ${applied} outside [snapshot ${snapshot.meta.index}, commit ${hardState.commit}]`);
    }
    this.#log.applied = applied;
    if (config.bootstrap !== null && last === 0 && hardState.term === 0) this.#bootstrap(config.bootstrap);
    this.#becomeFollower(this.#term, null);
    this.#reportedSoftState = this.#softState();
  }

  #bootstrap(conf: ConfState): void {
    const change: ConfChange = { type: 'bootstrap', voters: [...conf.voters], learners: [...conf.learners] };
    this.#term = 1;
    this.#log.append({ term: 1, index: 1, type: 'conf_change', data: change });
    this.#log.commitTo(1);
  }

  // -------------------------------------------------------------------------------------------
  // Public surface.

  step(input: Input): void {
    assert(this.#inFlight === null || this.config.earlyReplication, 'step() between ready() and advance()');
    switch (input.type) {
      case 'tick':
        return this.#tick();
      case 'message':
        return this.#stepMessage(input.message);
      case 'propose':
        return this.#propose(input.data, input.id);
      case 'read_index':
        return this.#readIndex(input.requestId, this.id, undefined);
      case 'conf_change':
        return this.#proposeConfChange(input.change, input.id);
      case 'transfer_leader':
        return this.#transferLeader(input.to, input.id);
      case 'campaign':
        return this.#campaign(this.config.preVote ? 'pre' : 'real', false);
      case 'snapshot_taken':
        return this.#snapshotTaken(input.index, input.data);
      default:
        throw fedError('badarg', `raft: unknown input type ${String((input as { type: unknown }).type)}`);
    }
  }

  /** Is there anything to persist, send, apply or report? (A leader batches its appends here.) */
  hasReady(): boolean {
    if (this.#role === 'leader') this.#flush();
    return (
      this.#messages.length > 0 ||
      this.#requests.length > 0 ||
      this.#readStates.length > 0 ||
      this.#log.unstableFrom <= this.#log.lastIndex() ||
      this.#installSnapshot !== null ||
      this.#compaction !== null ||
      this.#applyLimit() > this.#log.applied ||
      this.#hardStateChanged() ||
      this.#softStateChanged()
    );
  }

  /** The effects to carry out, in the order the `Ready` type documents; then call `advance()`. */
  ready(): Ready {
    assert(this.#inFlight === null, 'ready() twice without advance()');
    if (this.#role === 'leader') this.#flush();
    const log = this.#log;
    const lastIndex = log.lastIndex();
    const entries = log.unstableFrom <= lastIndex ? log.slice(log.unstableFrom, lastIndex + 1, Infinity, Infinity) : [];
    const hardStateChanged = this.#hardStateChanged();
    const hardState = hardStateChanged ? this.#hardStateToPersist() : null;
    const committedEntries = this.#committedEntriesToApply();
    const softState = this.#softStateChanged() ? this.#softState() : null;
    const mustSync =
      entries.length > 0 ||
      this.#installSnapshot !== null ||
      (hardState !== null && (hardState.term !== this.#persistedHardState.term || hardState.vote !== this.#persistedHardState.vote));
    const { early, late } = this.#splitMessages();
    const ready: Ready = {
      snapshot: this.#installSnapshot,
      entries,
      hardState,
      compaction: this.#compaction,
      mustSync,
      earlyMessages: early,
      messages: late,
      committedEntries,
      readStates: this.#readStates,
      softState,
      requests: this.#requests,
    };
    if (hardState !== null) this.#persistedHardState = hardState;
    if (softState !== null) this.#reportedSoftState = softState;
    const lastCommitted = committedEntries[committedEntries.length - 1];
    this.#inFlight = {
      lastEntryIndex: entries.length > 0 ? lastIndex : -1,
      lastEntryTerm: entries.length > 0 ? log.lastTerm() : -1,
      appliedTo: lastCommitted !== undefined ? lastCommitted.index : log.applied,
    };
    log.unstableFrom = lastIndex + 1;
    this.#messages = [];
    this.#requests = [];
    this.#readStates = [];
    this.#installSnapshot = null;
    this.#compaction = null;
    return ready;
  }

  /** The driver persisted, sent and applied the last `Ready`. */
  advance(): void {
    const inFlight = this.#inFlight;
    assert(inFlight !== null, 'advance() without ready()');
    this.#inFlight = null;
    const log = this.#log;
    // The entries handed out are durable now — if the log still holds them. Inputs stepped
    // while the write was in flight (`earlyReplication`) may have truncated or replaced them;
    // an unchanged (index, term) of the last one means an unchanged prefix (Log Matching), and
    // otherwise the log already lowered `stableIndex` to what survived.
    if (inFlight.lastEntryIndex > log.stableIndex && log.term(inFlight.lastEntryIndex) === inFlight.lastEntryTerm) {
      log.stableIndex = inFlight.lastEntryIndex;
    }
    if (inFlight.appliedTo > log.applied) log.applied = inFlight.appliedTo;
    assert(log.applied <= log.committed || this.config.bugs.applyBeyondCommit === true, 'applied <= committed');
    if (this.#role === 'leader') this.#maybeCommit();
  }

  status(): RaftStatus {
    const log = this.#log;
    return {
      id: this.id,
      role: this.#role,
      term: this.#term,
      vote: this.#vote,
      leader: this.#leader,
      commit: log.committed,
      applied: log.applied,
      firstIndex: log.firstIndex(),
      lastIndex: log.lastIndex(),
      lastTerm: log.lastTerm(),
      stableIndex: log.stableIndex,
      snapshotIndex: log.snapshotIndex,
      conf: log.conf(),
      leadTransferee: this.#leadTransferee,
    };
  }

  /**
   * As leader, the entries appended but not yet committed (last index minus commit index); 0 in
   * any other role. What `status()` tells, without building a status (admission control asks
   * it for every proposal).
   */
  uncommittedEntries(): number {
    if (this.#role !== 'leader') return 0;
    return Math.max(0, this.#log.lastIndex() - this.#log.committed);
  }

  /** The term of the entry at `index`, or -1 if compacted or absent (for checkers). */
  termAt(index: number): number {
    return this.#log.term(index);
  }

  /** The entry at `index` (must be in the log: firstIndex..lastIndex). */
  entryAt(index: number): Entry {
    return this.#log.entry(index);
  }

  /** Progress of a follower as the leader sees it (tests and metrics). */
  progressOf(id: NodeId): { match: number; next: number; state: string; inflight: number; inflightBytes: number } | null {
    const progress = this.#progress.get(id);
    if (progress === undefined) return null;
    return {
      match: progress.match,
      next: progress.next,
      state: progress.state,
      inflight: progress.inflightLastIndexes.length,
      inflightBytes: progress.inflightBytes,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Role transitions.

  #becomeFollower(term: number, leader: NodeId | null): void {
    assert(term >= this.#term, 'term never decreases');
    const wasLeader = this.#role === 'leader';
    if (term > this.#term) {
      this.#term = term;
      this.#vote = null;
    }
    this.#role = 'follower';
    this.#leader = leader;
    this.#resetTimers();
    if (wasLeader) this.#dropLeaderState();
  }

  #becomePreCandidate(): void {
    assert(this.#role !== 'leader', 'a leader does not pre-campaign');
    this.#role = 'pre_candidate';
    this.#leader = null;
    this.#votes = new Map();
    this.#resetTimers();
  }

  #becomeCandidate(): void {
    assert(this.#role !== 'leader', 'a leader does not campaign');
    this.#term += 1;
    this.#vote = this.id;
    this.#role = 'candidate';
    this.#leader = null;
    this.#votes = new Map();
    this.#resetTimers();
  }

  #becomeLeader(): void {
    assert(this.#role === 'candidate', 'only a candidate becomes leader');
    this.#role = 'leader';
    this.#leader = this.id;
    this.#resetTimers();
    this.#progress = new Map();
    this.#round = 0;
    this.#readRoundPending = false;
    this.#leaseRoundMin = 0;
    this.#syncProgressWithConf();
    this.#buggifyProgress();
    this.#log.append({ term: this.#term, index: this.#log.lastIndex() + 1, type: 'noop', data: null });
  }

  /**
   * BUGGIFY (simulator only): start some followers' progress from our first index, as a leader
   * that knows nothing of them may. Legal — `next` may be anything above `match` — but rare:
   * it makes us send our snapshot to followers whose logs already match it, possibly followed
   * by a stale suffix of an older term that our noop has not yet overwritten.
   */
  #buggifyProgress(): void {
    const probability = this.config.buggify.progressFromFirstIndexProbability ?? 0;
    if (probability === 0) return;
    const first = Math.max(1, this.#log.snapshotIndex);
    for (const progress of this.#progress.values()) {
      if (this.config.rng.chance(probability)) progress.next = first;
    }
  }

  #resetTimers(): void {
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#randomizedElectionTicks = this.config.electionTicks + this.config.rng.int(this.config.electionTicks);
    this.#leadTransferee = null;
  }

  #dropLeaderState(): void {
    for (const read of [...this.#pendingReads, ...this.#readQueue]) {
      if (read.from === this.id) this.#reject('read_index', read.requestId, 'leadership_lost');
    }
    this.#pendingReads = [];
    this.#readQueue = [];
    this.#progress = new Map();
  }

  /**
   * May this member start an election? A voter of the newest configuration may; so may a member
   * that the newest, still uncommitted configuration removes but the committed one has as voter
   * (dissertation §4.2.2: it may still be needed until the removal commits; it does not count
   * its own vote then).
   */
  #isPromotable(): boolean {
    const log = this.#log;
    if (log.conf().voters.includes(this.id)) return true;
    return log.confIndex() > log.committed && log.confAt(log.committed).voters.includes(this.id);
  }

  // -------------------------------------------------------------------------------------------
  // Time.

  #tick(): void {
    this.#ticks++;
    this.#leaderContactElapsed++;
    if (this.#role === 'leader') return this.#tickLeader();
    this.#electionElapsed++;
    if (this.#isPromotable() && this.#electionElapsed >= this.#randomizedElectionTicks) {
      this.#electionElapsed = 0;
      this.#campaign(this.config.preVote ? 'pre' : 'real', false);
    }
  }

  #tickLeader(): void {
    const stallTicksMax = Math.max(2, this.config.electionTicks >> 1);
    for (const progress of this.#progress.values()) progress.tickStall(stallTicksMax);
    this.#heartbeatElapsed++;
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.config.electionTicks) {
      this.#electionElapsed = 0;
      if (this.config.checkQuorum && !this.#quorumActive()) {
        this.#becomeFollower(this.#term, null);
        return;
      }
      this.#leadTransferee = null;
      this.#forgetRemovedMembers();
    }
    if (this.#heartbeatElapsed >= this.config.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#broadcastHeartbeat();
    }
  }

  #quorumActive(): boolean {
    const voters = this.#log.conf().voters;
    let active = 0;
    for (const id of voters) {
      const progress = this.#progress.get(id);
      if (id === this.id || progress?.recentActive === true) active++;
    }
    for (const progress of this.#progress.values()) progress.recentActive = false;
    return active >= majority(voters.length);
  }

  // -------------------------------------------------------------------------------------------
  // Elections.

  #campaign(kind: 'pre' | 'real', transfer: boolean): void {
    if (!this.#isPromotable() || this.#role === 'leader') return;
    if (kind === 'pre') this.#becomePreCandidate();
    else this.#becomeCandidate();
    const voteTerm = kind === 'pre' ? this.#term + 1 : this.#term;
    this.#votes.set(this.id, true);
    if (this.#tally() === 'won') return this.#wonElection();
    const lastIndex = this.#log.lastIndex();
    const lastTerm = this.#log.lastTerm();
    for (const voter of this.#log.conf().voters) {
      if (voter === this.id) continue;
      this.#send({ type: kind === 'pre' ? 'pre_vote' : 'vote', from: this.id, to: voter, term: voteTerm, lastIndex, lastTerm, transfer });
    }
  }

  #tally(): 'won' | 'lost' | 'pending' {
    const voters = this.#log.conf().voters;
    let granted = 0;
    let rejected = 0;
    for (const id of voters) {
      const vote = this.#votes.get(id);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    const needed = majority(voters.length);
    if (granted >= needed) return 'won';
    if (rejected > voters.length - needed) return 'lost';
    return 'pending';
  }

  #wonElection(): void {
    if (this.#role === 'pre_candidate') this.#campaign('real', false);
    else this.#becomeLeader();
  }

  #handleVoteRequest(message: VoteRequest): void {
    const isPre = message.type === 'pre_vote';
    const canVote =
      this.#vote === message.from ||
      (this.#vote === null && this.#leader === null) ||
      (isPre && message.term > this.#term);
    const upToDate = this.config.bugs.skipLogCheckInVote === true || this.#log.isUpToDate(message.lastIndex, message.lastTerm);
    const responseType = isPre ? 'pre_vote_response' : 'vote_response';
    if (canVote && upToDate) {
      this.#send({ type: responseType, from: this.id, to: message.from, term: message.term, granted: true });
      if (!isPre) {
        this.#electionElapsed = 0;
        this.#vote = message.from;
      }
    } else {
      this.#send({ type: responseType, from: this.id, to: message.from, term: this.#term, granted: false });
    }
  }

  /**
   * Dissertation §4.2.3: a member that heard from a leader within the minimum election timeout
   * (or is the leader) ignores vote requests for a higher term, so a removed or partitioned
   * member cannot depose a working leader. Always on; TimeoutNow campaigns bypass it.
   */
  #inLease(): boolean {
    return this.#role === 'leader' || this.#leaderContactElapsed < this.config.electionTicks;
  }

  // -------------------------------------------------------------------------------------------
  // Messages.

  #stepMessage(message: Message): void {
    if (message.to !== this.id) throw fedError('badarg', `raft: message for ${message.to} stepped into ${this.id}`);
    if (message.term === 0) return this.#stepForwarded(message);
    if (message.term > this.#term) {
      const isVoteRequest = message.type === 'vote' || message.type === 'pre_vote';
      if (isVoteRequest && !message.transfer && this.#inLease() && this.#leader !== message.from) return;
      const keepTerm = message.type === 'pre_vote' || (message.type === 'pre_vote_response' && message.granted);
      if (!keepTerm) {
        const fromLeader = message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot';
        this.#becomeFollower(message.term, fromLeader ? message.from : null);
      }
    } else if (message.term < this.#term) {
      if (message.type === 'append' || message.type === 'heartbeat') {
        // A stale leader: tell it our term so it steps down.
        this.#send({ type: 'append_response', from: this.id, to: message.from, term: this.#term, reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
      } else if (message.type === 'pre_vote') {
        this.#send({ type: 'pre_vote_response', from: this.id, to: message.from, term: this.#term, granted: false });
      }
      return;
    }
    if (message.type === 'pre_vote' || message.type === 'vote') return this.#handleVoteRequest(message);
    switch (this.#role) {
      case 'leader':
        return this.#stepLeader(message);
      case 'candidate':
      case 'pre_candidate':
        return this.#stepCandidate(message);
      case 'follower':
        return this.#stepFollower(message);
    }
  }

  #stepForwarded(message: Message): void {
    if (message.type === 'propose') {
      if (this.#role !== 'leader' || this.#leadTransferee !== null) return;
      for (const data of message.data) this.#appendNormal(data);
    } else if (message.type === 'read_index') {
      if (this.#role !== 'leader') return;
      this.#readIndex(message.requestId, message.from, typeof message.requesterTerm === 'number' ? message.requesterTerm : undefined);
    }
  }

  #stepFollower(message: Message): void {
    switch (message.type) {
      case 'append':
        this.#heardFromLeader(message.from);
        return this.#handleAppend(message);
      case 'heartbeat':
        this.#heardFromLeader(message.from);
        return this.#handleHeartbeat(message);
      case 'snapshot':
        this.#heardFromLeader(message.from);
        return this.#handleSnapshotChunk(message);
      case 'timeout_now':
        return this.#campaign('real', true);
      case 'read_index_response':
        this.#readStates.push({ requestId: message.requestId, index: message.index });
        return;
      default:
        return;
    }
  }

  #heardFromLeader(leader: NodeId): void {
    this.#electionElapsed = 0;
    this.#leaderContactElapsed = 0;
    this.#leader = leader;
  }

  #stepCandidate(message: Message): void {
    switch (message.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.#becomeFollower(message.term, message.from);
        return this.#stepFollower(message);
      case 'pre_vote_response':
      case 'vote_response': {
        const expected = this.#role === 'pre_candidate' ? 'pre_vote_response' : 'vote_response';
        if (message.type !== expected) return;
        this.#votes.set(message.from, message.granted);
        const result = this.#tally();
        if (result === 'won') this.#wonElection();
        else if (result === 'lost') this.#becomeFollower(this.#term, null);
        return;
      }
      default:
        return;
    }
  }

  #stepLeader(message: Message): void {
    const progress = this.#progress.get(message.from);
    if (progress === undefined) return;
    switch (message.type) {
      case 'append_response':
        progress.recentActive = true;
        return this.#handleAppendResponse(message, progress);
      case 'heartbeat_response':
        progress.recentActive = true;
        progress.probeSent = false;
        if (message.round > progress.ackedRound) progress.ackedRound = message.round;
        return this.#releaseConfirmedReads();
      case 'snapshot_response':
        progress.recentActive = true;
        if (progress.state === 'snapshot' && message.snapshotIndex === progress.snapshotIndex) {
          progress.snapshotOffset = message.nextOffset;
          progress.snapshotAcknowledged = true;
          this.#sendSnapshotChunk(message.from, progress);
        }
        return;
      default:
        return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Follower side of replication.

  #handleAppend(message: AppendRequest): void {
    const log = this.#log;
    if (message.prevIndex < log.committed) {
      this.#respondAppend(message.from, false, log.committed);
      return;
    }
    const lastNew = log.maybeAppend(message.prevIndex, message.prevTerm, message.entries);
    if (lastNew >= 0) {
      log.commitTo(Math.min(message.commit, lastNew));
      this.#respondAppend(message.from, false, lastNew);
      return;
    }
    const hintIndex = log.findConflictByTerm(Math.min(message.prevIndex, log.lastIndex()), message.prevTerm);
    this.#send({
      type: 'append_response',
      from: this.id,
      to: message.from,
      term: this.#term,
      reject: true,
      index: message.prevIndex,
      hintIndex,
      hintTerm: log.term(hintIndex),
    });
  }

  #respondAppend(to: NodeId, reject: boolean, index: number): void {
    this.#send({ type: 'append_response', from: this.id, to, term: this.#term, reject, index, hintIndex: 0, hintTerm: 0 });
  }

  #handleHeartbeat(message: HeartbeatRequest): void {
    this.#log.commitTo(Math.min(message.commit, this.#log.lastIndex()));
    this.#send({ type: 'heartbeat_response', from: this.id, to: message.from, term: this.#term, round: message.round });
  }

  #handleSnapshotChunk(message: SnapshotChunk): void {
    const log = this.#log;
    const meta = message.meta;
    if (meta.index <= log.committed) {
      this.#incoming = null;
      this.#respondAppend(message.from, false, log.committed);
      return;
    }
    let incoming = this.#incoming;
    if (incoming === null || incoming.meta.index !== meta.index || incoming.meta.term !== meta.term) {
      if (message.offset !== 0 || message.totalBytes > this.config.snapshotBytesMax) {
        this.#send({ type: 'snapshot_response', from: this.id, to: message.from, term: this.#term, snapshotIndex: meta.index, nextOffset: 0 });
        return;
      }
      incoming = { meta, totalBytes: message.totalBytes, chunks: [], received: 0 };
      this.#incoming = incoming;
    }
    if (message.offset === incoming.received && message.chunk.byteLength + incoming.received <= incoming.totalBytes) {
      incoming.chunks.push(message.chunk);
      incoming.received += message.chunk.byteLength;
    }
    if (incoming.received < incoming.totalBytes) {
      this.#send({
        type: 'snapshot_response',
        from: this.id,
        to: message.from,
        term: this.#term,
        snapshotIndex: meta.index,
        nextOffset: incoming.received,
      });
      return;
    }
    this.#incoming = null;
    this.#restore({ meta, data: concatBytes(incoming.chunks, incoming.totalBytes) });
    // Answer with the snapshot index, never our last index: when our log already matched the
    // snapshot, the entries after it are unchecked and may be a stale suffix of an older term
    // (etcd answers with its commit index here for the same reason). The leader probes on from
    // the snapshot index.
    const acknowledged = this.config.bugs.snapshotMatchAcksLastIndex === true ? log.lastIndex() : meta.index;
    this.#respondAppend(message.from, false, acknowledged);
  }

  #restore(snapshot: Snapshot): void {
    const log = this.#log;
    const meta = snapshot.meta;
    if (log.matchTerm(meta.index, meta.term)) {
      // We already hold this prefix: just learn that it is committed. What follows it in our log
      // is kept, but not vouched for (see the answer in `#handleSnapshotChunk`).
      log.commitTo(meta.index);
      return;
    }
    log.restore(meta.index, meta.term, meta.conf);
    this.#snapshot = snapshot;
    this.#installSnapshot = snapshot;
    this.#compaction = null;
  }

  // -------------------------------------------------------------------------------------------
  // Leader side of replication.

  #handleAppendResponse(message: AppendResponse, progress: Progress): void {
    if (message.reject) {
      // Replicate state, and the follower agrees up to `match`: the rejection is stale (for an
      // append already forgotten), or the follower lacks entries still in flight to it (the
      // network reordered our appends: wait for them, then resend from the rejected one). Only a
      // rejection of the oldest append in flight falls back to probe.
      if (progress.state === 'replicate' && message.hintIndex >= progress.match) {
        const verdict = progress.rejectedInReplicate(message.index);
        if (verdict !== 'probe') return;
      }
      let hint = message.hintIndex;
      if (message.hintTerm > 0) hint = this.#log.findConflictByTerm(message.hintIndex, message.hintTerm);
      if (progress.maybeDecreaseTo(message.index, hint)) {
        if (progress.state === 'replicate') progress.becomeProbe();
      }
      return;
    }
    if (!progress.maybeUpdate(message.index)) return;
    if (progress.state === 'probe') progress.becomeReplicate();
    else if (progress.state === 'snapshot' && progress.match >= progress.snapshotIndex) {
      progress.becomeProbe();
      progress.becomeReplicate();
    }
    this.#maybeCommit();
    if (message.from === this.#leadTransferee && progress.match === this.#log.lastIndex()) {
      this.#sendTimeoutNow(message.from);
    }
  }

  /** Send whatever each follower is due: new entries (batched), commit updates. */
  #flush(): void {
    if (this.#readRoundPending) {
      this.#readRoundPending = false;
      this.#confirmReads();
    }
    for (const [id, progress] of this.#progress) this.#sendAppends(id, progress);
    // The removal committed and the commit went out above: stop tracking removed members.
    if (this.#progressIncludesRemoved && this.#log.confIndex() <= this.#log.committed) this.#syncProgressWithConf();
  }

  /** Once per election timeout: forget removed members that never acknowledged their removal. */
  #forgetRemovedMembers(): void {
    if (this.#progressIncludesRemoved && this.#log.confIndex() <= this.#log.committed) this.#syncProgressWithConf(true);
  }

  #sendAppends(to: NodeId, progress: Progress): void {
    const log = this.#log;
    const config = this.config;
    while (progress.state !== 'snapshot' && !progress.isPaused(config.inflightMessagesMax, config.inflightBytesMax)) {
      const prevIndex = progress.next - 1;
      const prevTerm = log.term(prevIndex);
      if (prevTerm === -1) {
        this.#startSnapshot(to, progress);
        return;
      }
      const lastIndex = log.lastIndex();
      if (progress.next > lastIndex) {
        const needsProbe = progress.state === 'probe' && progress.match < prevIndex;
        const needsCommit = progress.commitSent < log.committed && progress.match >= prevIndex;
        if (needsProbe || needsCommit) this.#sendAppend(to, progress, prevIndex, prevTerm, []);
        return;
      }
      const entries = log.slice(progress.next, lastIndex + 1, config.messageEntriesMax, config.messageBytesMax);
      this.#sendAppend(to, progress, prevIndex, prevTerm, entries);
      if (progress.state === 'probe') return;
    }
  }

  #sendAppend(to: NodeId, progress: Progress, prevIndex: number, prevTerm: number, entries: Entry[]): void {
    const commit = this.#log.committed;
    this.#send({ type: 'append', from: this.id, to, term: this.#term, prevIndex, prevTerm, entries, commit });
    progress.commitSent = commit;
    const last = entries[entries.length - 1];
    if (last === undefined) {
      if (progress.state === 'probe') progress.probeSent = true;
      return;
    }
    let bytes = 0;
    for (const entry of entries) bytes += entryBytesEstimate(entry);
    progress.sentEntries(prevIndex, last.index, bytes);
  }

  #startSnapshot(to: NodeId, progress: Progress): void {
    if (!progress.recentActive) return;
    progress.becomeSnapshot(this.#snapshot.meta.index);
    this.#sendSnapshotChunk(to, progress);
  }

  #sendSnapshotChunk(to: NodeId, progress: Progress): void {
    const snapshot = this.#snapshot;
    if (snapshot.meta.index !== progress.snapshotIndex) progress.becomeSnapshot(snapshot.meta.index);
    const offset = Math.min(progress.snapshotOffset, snapshot.data.byteLength);
    const chunk = snapshot.data.subarray(offset, offset + this.config.snapshotChunkBytes);
    this.#send({
      type: 'snapshot',
      from: this.id,
      to,
      term: this.#term,
      meta: snapshot.meta,
      offset,
      totalBytes: snapshot.data.byteLength,
      chunk,
    });
  }

  /**
   * TimeoutNow lets the target's votes bypass the followers' vote-refusal lease, so the lease
   * this leader built on earlier heartbeat rounds is void: only rounds sent afterwards count.
   */
  #sendTimeoutNow(to: NodeId): void {
    this.#send({ type: 'timeout_now', from: this.id, to, term: this.#term });
    this.#leaseRoundMin = this.#round + 1;
  }

  /**
   * A heartbeat round that confirms the reads queued before it, sent to the voters of the
   * newest configuration only: only a quorum of them confirms leadership (`#confirmedRound`),
   * and in a large group the learners would multiply the messages of every read for nothing.
   * Learners still get every tick's heartbeat (`#broadcastHeartbeat`), and no snapshot chunk is
   * resent here (resends follow the ticks, however often reads come).
   */
  #confirmReads(): void {
    this.#startRound();
    for (const id of this.#log.conf().voters) {
      const progress = this.#progress.get(id);
      if (progress !== undefined) this.#sendHeartbeat(id, progress);
    }
  }

  #startRound(): void {
    this.#round++;
    this.#roundTicks[this.#round % LEASE_ROUNDS_REMEMBERED] = this.#ticks;
  }

  #sendHeartbeat(id: NodeId, progress: Progress): void {
    const commit = Math.min(progress.match, this.#log.committed);
    this.#send({ type: 'heartbeat', from: this.id, to: id, term: this.#term, commit, round: this.#round });
  }

  #broadcastHeartbeat(): void {
    this.#startRound();
    for (const [id, progress] of this.#progress) {
      this.#sendHeartbeat(id, progress);
      // Resend the current chunk only if nothing was acknowledged since the last heartbeat.
      if (progress.state === 'snapshot' && !progress.snapshotAcknowledged) this.#sendSnapshotChunk(id, progress);
      progress.snapshotAcknowledged = false;
    }
  }

  #maybeCommit(): void {
    const log = this.#log;
    const voters = log.conf().voters;
    if (voters.length === 0) return;
    // The leader counts its own log only up to what is durable (thesis §10.2.1): with
    // `earlyReplication` followers may hold and acknowledge entries still in its write.
    const own = this.config.bugs.leaderCountsUnpersisted === true ? log.lastIndex() : log.stableIndex;
    const matches: number[] = [];
    for (const id of voters) matches.push(id === this.id ? own : (this.#progress.get(id)?.match ?? 0));
    matches.sort((a, b) => b - a);
    const quorumIndex = matches[majority(voters.length) - 1] as number;
    if (quorumIndex <= log.committed) return;
    if (log.term(quorumIndex) !== this.#term && this.config.bugs.commitOldTermByCounting !== true) return;
    log.commitTo(quorumIndex);
    this.#afterCommit();
  }

  #afterCommit(): void {
    const log = this.#log;
    if (log.term(log.committed) === this.#term && this.#pendingReads.length > 0) {
      const waiting = this.#pendingReads;
      this.#pendingReads = [];
      for (const read of waiting) this.#serveRead(read.requestId, read.from, read.requesterTerm);
    }
    if (log.confIndex() <= log.committed && !log.conf().voters.includes(this.id)) this.#stepDownRemoved();
  }

  /** Our removal is committed: hand over to the most caught-up voter and step down. */
  #stepDownRemoved(): void {
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const id of this.#log.conf().voters) {
      const match = this.#progress.get(id)?.match ?? 0;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    if (best !== null && bestMatch === this.#log.lastIndex()) this.#sendTimeoutNow(best);
    this.#becomeFollower(this.#term, null);
  }

  /**
   * Track every member of the newest configuration, and also those it removes until they were
   * told that the removal committed (so they stop campaigning) — or, with `forget`, not at all.
   */
  #syncProgressWithConf(forget = false): void {
    const log = this.#log;
    const conf = log.conf();
    const committedConf = log.confAt(log.committed);
    const members = new Set([...conf.voters, ...conf.learners]);
    let removedTracked = false;
    if (!forget) {
      for (const id of [...committedConf.voters, ...committedConf.learners, ...this.#progress.keys()]) {
        if (members.has(id)) continue;
        const progress = this.#progress.get(id);
        const told = log.confIndex() <= log.committed && progress !== undefined && progress.commitSent >= log.confIndex();
        if (told || (progress === undefined && !committedConf.voters.includes(id) && !committedConf.learners.includes(id))) continue;
        members.add(id);
        removedTracked = true;
      }
    }
    this.#progressIncludesRemoved = removedTracked;
    for (const id of [...this.#progress.keys()]) if (!members.has(id)) this.#progress.delete(id);
    for (const id of members) {
      if (id === this.id) continue;
      const isLearner = conf.learners.includes(id);
      const existing = this.#progress.get(id);
      if (existing !== undefined) existing.isLearner = isLearner;
      else this.#progress.set(id, new Progress(this.#log.lastIndex() + 1, isLearner));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Requests.

  #propose(data: unknown, id: string | undefined): void {
    if (this.#role !== 'leader') {
      if (this.config.forwardProposals && this.#leader !== null) {
        this.#send({ type: 'propose', from: this.id, to: this.#leader, term: 0, data: [data] });
        if (id !== undefined) this.#requests.push({ kind: 'propose', id, outcome: 'forwarded', to: this.#leader });
        return;
      }
      if (id !== undefined) this.#reject('propose', id, 'not_leader');
      return;
    }
    if (this.#leadTransferee !== null) {
      if (id !== undefined) this.#reject('propose', id, 'transfer_in_progress');
      return;
    }
    const entry = this.#appendNormal(data);
    if (id !== undefined) this.#requests.push({ kind: 'propose', id, outcome: 'appended', index: entry.index, term: entry.term });
  }

  #appendNormal(data: unknown): Entry {
    const entry: Entry = { term: this.#term, index: this.#log.lastIndex() + 1, type: 'normal', data };
    this.#log.append(entry);
    return entry;
  }

  #proposeConfChange(change: ConfChange, id: string | undefined): void {
    const requestId = id ?? '';
    if (this.#role !== 'leader') return this.#reject('conf_change', requestId, 'not_leader');
    if (this.#leadTransferee !== null) return this.#reject('conf_change', requestId, 'transfer_in_progress');
    const log = this.#log;
    if (log.confIndex() > log.committed) return this.#reject('conf_change', requestId, 'conf_change_pending');
    if (log.term(log.committed) !== this.#term && this.config.bugs.skipOwnTermBeforeConfChange !== true) {
      return this.#reject('conf_change', requestId, 'conf_change_pending');
    }
    if (!isValidChange(log.conf(), change)) return this.#reject('conf_change', requestId, 'bad_conf_change');
    const entry: Entry = { term: this.#term, index: log.lastIndex() + 1, type: 'conf_change', data: change };
    log.append(entry);
    // A member added again while its removal is still tracked (it was never told: it was gone)
    // starts from a fresh progress: what it held before is no promise of what it holds now (its
    // disk may be a new one), and a match that may never go back would leave it stuck, every
    // append after that match rejected and the leader never sending what comes before it.
    if ((change.type === 'add_learner' || change.type === 'add_voter') && change.node !== this.id) this.#progress.delete(change.node);
    this.#syncProgressWithConf();
    this.#requests.push({ kind: 'conf_change', id: requestId, outcome: 'appended', index: entry.index, term: entry.term });
  }

  #transferLeader(to: NodeId, id: string | undefined): void {
    const requestId = id ?? '';
    if (this.#role !== 'leader') return this.#reject('transfer_leader', requestId, 'not_leader');
    if (to === this.id) return;
    if (!this.#log.conf().voters.includes(to)) return this.#reject('transfer_leader', requestId, 'bad_target');
    if (this.#leadTransferee === to) return;
    this.#leadTransferee = to;
    this.#electionElapsed = 0;
    const progress = this.#progress.get(to);
    if (progress !== undefined && progress.match === this.#log.lastIndex()) {
      this.#sendTimeoutNow(to);
    }
  }

  #readIndex(requestId: string, from: NodeId, requesterTerm: number | undefined): void {
    if (this.#role !== 'leader') {
      if (this.#leader === null) return this.#reject('read_index', requestId, 'not_leader');
      this.#send({ type: 'read_index', from: this.id, to: this.#leader, term: 0, requestId, requesterTerm: this.#term });
      this.#requests.push({ kind: 'read_index', id: requestId, outcome: 'forwarded', to: this.#leader });
      return;
    }
    const log = this.#log;
    if (log.term(log.committed) !== this.#term) {
      if (this.#pendingReads.length >= this.config.pendingReadsMax) {
        if (from === this.id) this.#reject('read_index', requestId, 'queue_full');
        return;
      }
      this.#pendingReads.push({ requestId, from, requesterTerm });
      return;
    }
    this.#serveRead(requestId, from, requesterTerm);
  }

  /**
   * Serve a read at the commit index, once a quorum has confirmed that no later leader had
   * committed anything when the read began. That is ReadIndex: usually one heartbeat round, the
   * acks coming after the index was taken. A follower that forwarded the read in our own term
   * (`requesterTerm`) is a confirmation too: it had voted in no later term when it sent the
   * read, which is after the read began. So with three voters, we and the requester are the
   * quorum, and the read is served at once, one round trip sooner. (A later leader's commit
   * before the read began needs the votes of a majority, which must include us or the
   * requester: we are leader of our term now, so we had not voted later; the requester was
   * still in our term.) With five voters the heartbeat round still confirms.
   */
  #serveRead(requestId: string, from: NodeId, requesterTerm: number | undefined): void {
    const index = this.#log.committed;
    const voters = this.#log.conf().voters;
    const alone = voters.length === 1 && voters[0] === this.id;
    const bugs = this.config.bugs;
    const withRequester =
      from !== this.id &&
      ((requesterTerm === this.#term && voters.includes(from) && voters.includes(this.id) && majority(voters.length) <= 2) || bugs.anyRequesterConfirmsRead === true);
    if (alone || withRequester || bugs.serveReadsUnconfirmed === true || (this.config.readMode === 'lease' && this.#leaseValid())) return this.#releaseRead({ requestId, from, index, round: 0 });
    // One heartbeat round (sent at the next flush or tick) confirms every read queued before it.
    this.#readRoundPending = true;
    this.#readQueue.push({ requestId, from, index, round: this.#round + 1 });
  }

  #confirmedRound(): number {
    const voters = this.#log.conf().voters;
    const rounds: number[] = [];
    for (const id of voters) rounds.push(id === this.id ? this.#round : (this.#progress.get(id)?.ackedRound ?? 0));
    rounds.sort((a, b) => b - a);
    return rounds[majority(voters.length) - 1] ?? 0;
  }

  #leaseValid(): boolean {
    if (this.#leadTransferee !== null) return false;
    const confirmed = this.#confirmedRound();
    if (confirmed === 0 || confirmed < this.#leaseRoundMin || this.#round - confirmed >= LEASE_ROUNDS_REMEMBERED) return false;
    const sentTick = this.#roundTicks[confirmed % LEASE_ROUNDS_REMEMBERED] as number;
    return this.#ticks < sentTick + this.config.electionTicks - this.config.leaseDriftTicks;
  }

  #releaseConfirmedReads(): void {
    if (this.#readQueue.length === 0) return;
    const confirmed = this.#confirmedRound();
    let released = 0;
    while (released < this.#readQueue.length && (this.#readQueue[released] as QueuedRead).round <= confirmed) {
      this.#releaseRead(this.#readQueue[released] as QueuedRead);
      released++;
    }
    if (released > 0) this.#readQueue.splice(0, released);
  }

  #releaseRead(read: QueuedRead): void {
    if (read.from === this.id) {
      this.#readStates.push({ requestId: read.requestId, index: read.index });
      return;
    }
    this.#send({ type: 'read_index_response', from: this.id, to: read.from, term: this.#term, requestId: read.requestId, index: read.index });
  }

  #snapshotTaken(index: number, data: Uint8Array): void {
    const log = this.#log;
    if (!(data instanceof Uint8Array)) throw fedError('badarg', 'raft: snapshot data must be a Uint8Array');
    if (!Number.isInteger(index) || index > log.applied) {
      throw fedError('badarg', `raft: snapshot at ${index} beyond applied index ${log.applied}`);
    }
    if (index <= log.snapshotIndex) return;
    const snapshot: Snapshot = { meta: { index, term: log.term(index), conf: log.confAt(index) }, data };
    log.compact(index);
    this.#snapshot = snapshot;
    this.#compaction = snapshot;
  }

  #reject(kind: RequestKind, id: string, reason: RejectReason): void {
    this.#requests.push({ kind, id, outcome: 'rejected', reason, leaderHint: this.#leader === this.id ? null : this.#leader });
  }

  #send(message: Message): void {
    this.#messages.push(message);
  }

  // -------------------------------------------------------------------------------------------
  // Ready helpers.

  /**
   * With `earlyReplication`, a leader's appends and heartbeats go out before the Ready's write
   * (Raft thesis §10.2.1), when they depend on nothing that write makes durable: the leader's
   * term and vote are already durable (handed out in an earlier Ready, which the driver finished
   * before calling `ready()` again), its commit index counts its own log only up to its durable
   * index, and its entries are its to send whether or not its own disk has them yet. Everything
   * else — every acknowledgement, vote, and any message of a term this Ready makes durable —
   * waits for the write.
   */
  #splitMessages(): { early: Message[]; late: Message[] } {
    const messages = this.#messages;
    const termDurable = this.#persistedHardState.term === this.#term && this.#persistedHardState.vote === this.#vote;
    if (!this.config.earlyReplication || this.#role !== 'leader' || !termDurable) return { early: [], late: messages };
    const early: Message[] = [];
    const late: Message[] = [];
    for (const message of messages) {
      const replication = (message.type === 'append' || message.type === 'heartbeat') && message.term === this.#term;
      (replication ? early : late).push(message);
    }
    return { early, late };
  }

  #hardStateToPersist(): HardState {
    const vote = this.config.bugs.forgetVote === true ? null : this.#vote;
    return { term: this.#term, vote, commit: this.#log.committed };
  }

  #hardStateChanged(): boolean {
    const persisted = this.#persistedHardState;
    const vote = this.config.bugs.forgetVote === true ? null : this.#vote;
    return persisted.term !== this.#term || persisted.vote !== vote || persisted.commit !== this.#log.committed;
  }

  #softState(): SoftState {
    return { role: this.#role, leader: this.#leader, term: this.#term };
  }

  #softStateChanged(): boolean {
    const reported = this.#reportedSoftState;
    return reported.role !== this.#role || reported.leader !== this.#leader || reported.term !== this.#term;
  }

  /** Highest index that may be handed out for applying now. */
  #applyLimit(): number {
    if (this.config.bugs.applyBeyondCommit === true && this.#role !== 'leader') return this.#log.lastIndex();
    return this.#log.committed;
  }

  #committedEntriesToApply(): Entry[] {
    const log = this.#log;
    const limit = this.#applyLimit();
    if (limit <= log.applied) return [];
    return log.slice(log.applied + 1, limit + 1, Number.MAX_SAFE_INTEGER, this.config.applyBytesMax);
  }
}

function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

function isValidChange(conf: ConfState, change: ConfChange): boolean {
  switch (change.type) {
    case 'bootstrap':
      return false;
    case 'add_learner':
      return !conf.voters.includes(change.node) && !conf.learners.includes(change.node);
    case 'add_voter':
      return !conf.voters.includes(change.node);
    case 'promote':
      return conf.learners.includes(change.node);
    case 'remove':
      return (conf.voters.includes(change.node) && conf.voters.length > 1) || conf.learners.includes(change.node);
    default:
      return unreachable(change);
  }
}

function concatBytes(chunks: Uint8Array[], totalBytes: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const result = new Uint8Array(totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return result;
}
