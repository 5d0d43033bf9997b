/**
 * `SimCluster`: N Raft members over a seeded virtual network, each with a simulated disk (a
 * `MemoryStorage` that holds exactly what the driver loop persisted) and a toy state machine
 * (a hash chain of applied entries). Everything random comes from one `Rng`.
 *
 * The driver loop here is the reference driver: send the early messages, persist, then send,
 * then apply, then advance. With the test-only bug `sendBeforePersist` it sends everything
 * first. Members configured with `earlyReplication` may get a slow disk (`diskDelayTicksMax`,
 * stalls): a write then stays in flight for some ticks while the member keeps stepping the
 * messages and ticks that arrive, as the overlapped driver may. A member may crash at any point
 * between two steps, with a write in flight, or inside a driver cycle (`cycleCrashProbability`):
 * everything not yet persisted is lost, and a restart rebuilds the member from its disk alone.
 *
 * Used two ways: by unit tests with instant delivery (`stabilize()`, `isolate()`, `cut()`), and
 * by `runSeed` (sim/run.ts) with delays, loss, duplication and partitions. Every interesting
 * event goes to the trace (bounded by `TRACE_EVENTS_MAX`, tagged with the members involved);
 * the `SafetyChecker` sees every persist, commit, apply and read.
 */
import { assert } from '../../../runtime/kernel/assert.js';
import { Rng } from '../../../runtime/kernel/rng.js';
import {
  type ConfState,
  type Entry,
  type Message,
  MemoryStorage,
  type NodeId,
  type RaftConfig,
  RaftNode,
  type Ready,
  type RequestResult,
  defaultRaftConfig,
} from '../index.js';
import { SafetyChecker, entryKey } from './checker.js';

/**
 * Events a run keeps for its failure report: every event of a normal run fits many times over;
 * a longer trace drops its oldest events in blocks of this many and the report says how many.
 */
export const TRACE_EVENTS_MAX = 200_000;
/** Driver cycles per member per step before we call it a livelock. */
const DRIVE_CYCLES_MAX = 10_000;

export interface NetworkFaults {
  /** Probability a message is dropped, duplicated; delivery delay range in ticks. */
  lossProbability: number;
  duplicateProbability: number;
  delayTicksMin: number;
  delayTicksMax: number;
  /**
   * Messages on each directed link arrive in the order they were sent, as over the one TCP
   * connection a real link is (runtime/dist): delays and the random interleaving of a tick's
   * deliveries then reorder only across links. Off (the default), any two messages may arrive in
   * either order — a fault the chaos phase injects and healing removes.
   */
  ordered?: boolean;
}

export const PERFECT_NETWORK: NetworkFaults = { lossProbability: 0, duplicateProbability: 0, delayTicksMin: 0, delayTicksMax: 0 };

export interface SimClusterOptions {
  /** Every member that may ever exist (the pool membership changes draw from). */
  readonly ids: readonly NodeId[];
  /** The bootstrap configuration; members outside it start empty and unconfigured. */
  readonly bootstrap: ConfState;
  readonly seed: number;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'rng' | 'bootstrap'>>;
  readonly faults?: NetworkFaults;
  /** Chance that a member crashes inside a driver cycle that must sync (before persisting; after sending with the bug). */
  readonly cycleCrashProbability?: number;
  /** Padding bytes in state-machine snapshots (exercises chunking). */
  readonly snapshotPaddingBytes?: number;
  /** BUGGIFY: chance that a member reboots (crash, then restart from disk) right after granting a vote. */
  readonly rebootAfterVoteProbability?: number;
  /** BUGGIFY: chance that a leader crashes right after its commit index advanced. */
  readonly crashAfterCommitProbability?: number;
  /**
   * Members configured with `earlyReplication`: a write that must sync completes after a delay
   * drawn in [1, this] ticks, while the member keeps stepping inputs (0: writes are instant).
   */
  readonly diskDelayTicksMax?: number;
  /**
   * BUGGIFY: chance that a leader crashes when its commit index advances while its own write is
   * still in flight (it counted a quorum of followers; its own copy is not durable yet).
   */
  readonly crashAfterCommitWhileWritingProbability?: number;
  /** BUGGIFY: chance that such a write stalls instead, for up to `diskStallTicksMax` ticks. */
  readonly diskStallProbability?: number;
  readonly diskStallTicksMax?: number;
}

/** A Ready whose write is in flight on a member's simulated disk. */
interface PendingWrite {
  readonly ready: Ready;
  readonly doneAt: number;
  readonly sentFirst: boolean;
}

/** One line of the trace, with the members it involves (none: it concerns the whole cluster). */
export interface TraceEvent {
  readonly tick: number;
  readonly text: string;
  readonly nodes: readonly NodeId[];
}

interface InFlightMessage {
  readonly deliverAt: number;
  readonly sequence: number;
  readonly message: Message;
}

/** A message's directed link, "from>to" (as `blocked` names links). */
function linkOf(message: Message): string {
  return `${message.from}>${message.to}`;
}

/**
 * Reorder a shuffled batch so each directed link's messages come in the order they were sent,
 * in the places the shuffle gave that link (the interleaving across links stays random).
 */
function keepLinkOrder(batch: InFlightMessage[]): void {
  const places = new Map<string, number[]>();
  batch.forEach((item, place) => {
    const link = linkOf(item.message);
    const list = places.get(link);
    if (list === undefined) places.set(link, [place]);
    else list.push(place);
  });
  const items = [...batch];
  for (const list of places.values()) {
    const sorted = list.map((place) => items[place] as InFlightMessage).sort((a, b) => a.sequence - b.sequence);
    list.forEach((place, at) => {
      batch[place] = sorted[at] as InFlightMessage;
    });
  }
}

interface PendingRead {
  readonly requestId: string;
  readonly committedAtStart: number;
  index: number;
}

/** The toy replicated state machine: a hash chain over applied entries. */
export class HashStateMachine {
  applied = 0;
  hash = 0x811c9dc5;

  apply(entry: Entry): void {
    assert(entry.index === this.applied + 1, `state machine applies ${entry.index} after ${this.applied}`);
    this.hash = mixHash(this.hash, entryKey(entry));
    this.applied = entry.index;
  }

  encode(paddingBytes: number): Uint8Array {
    const text = `${this.applied}:${this.hash}:`.padEnd(paddingBytes + 16, '.');
    return new TextEncoder().encode(text);
  }

  static decode(data: Uint8Array): { applied: number; hash: number } {
    const [applied, hash] = new TextDecoder().decode(data).split(':');
    return { applied: Number(applied), hash: Number(hash) };
  }
}

function mixHash(hash: number, text: string): number {
  let h = hash;
  for (let k = 0; k < text.length; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
  return h >>> 0;
}

export class SimMember {
  raft: RaftNode | null = null;
  storage = new MemoryStorage();
  /** Set by `wipe`: it starts again with an empty storage and never bootstraps. */
  wiped = false;
  machine = new HashStateMachine();
  pendingReads = new Map<string, PendingRead>();
  /** Results of requests seen in Ready (tests inspect them). */
  readonly results: RequestResult[] = [];
  /** The write in flight (only with `earlyReplication` and a disk delay); lost in a crash. */
  pending: PendingWrite | null = null;
  /** The commit index last seen by the driver loop (for the crash-after-commit site). */
  commitSeen = 0;
  constructor(readonly id: NodeId) {}

  get alive(): boolean {
    return this.raft !== null;
  }
}

export class SimCluster {
  /** Where the cluster's random choices come from now (see `beginTick`). */
  rng: Rng;
  readonly #baseRng: Rng;
  readonly members = new Map<NodeId, SimMember>();
  readonly checker = new SafetyChecker();
  trace: TraceEvent[] = [];
  /** Events dropped from the front of `trace` because it reached `TRACE_EVENTS_MAX`. */
  traceDropped = 0;
  readonly options: SimClusterOptions;
  faults: NetworkFaults;
  cycleCrashProbability: number;
  rebootAfterVoteProbability: number;
  crashAfterCommitProbability: number;
  diskDelayTicksMax: number;
  diskStallProbability: number;
  diskStallTicksMax: number;
  crashAfterCommitWhileWritingProbability: number;
  now = 0;
  #sequence = 0;
  #inFlight: InFlightMessage[] = [];
  /** Per directed link ("from>to"), the latest tick a message sent while `faults.ordered` is due. */
  readonly #linkDueAt = new Map<string, number>();
  /** Directed links that drop everything: "from>to". */
  readonly blocked = new Set<string>();
  messagesDelivered = 0;
  /** Tests: return false to drop a message at delivery; also sees every delivered message. */
  messageFilter: ((message: Message) => boolean) | null = null;
  #readCounter = 0;

  constructor(options: SimClusterOptions) {
    this.options = options;
    this.#baseRng = new Rng(options.seed);
    this.rng = this.#baseRng;
    this.faults = options.faults ?? PERFECT_NETWORK;
    this.cycleCrashProbability = options.cycleCrashProbability ?? 0;
    this.rebootAfterVoteProbability = options.rebootAfterVoteProbability ?? 0;
    this.crashAfterCommitProbability = options.crashAfterCommitProbability ?? 0;
    this.diskDelayTicksMax = options.diskDelayTicksMax ?? 0;
    this.diskStallProbability = options.diskStallProbability ?? 0;
    this.diskStallTicksMax = options.diskStallTicksMax ?? 0;
    this.crashAfterCommitWhileWritingProbability = options.crashAfterCommitWhileWritingProbability ?? 0;
    for (const id of options.ids) {
      const member = new SimMember(id);
      this.members.set(id, member);
      this.#start(member);
    }
  }

  /**
   * Draw this tick's random choices (delays, loss, crash sites) from a fresh fork of the base
   * stream, so that what happens in one tick does not shift the choices of later ticks: a re-run
   * that leaves out one action (failure minimization) stays close to the original. `runSeed`
   * calls it at every tick; unit tests that never call it draw from the base stream.
   */
  beginTick(): void {
    this.rng = this.#baseRng.fork();
  }

  member(id: NodeId): SimMember {
    const member = this.members.get(id);
    assert(member !== undefined, `no member ${id}`);
    return member;
  }

  raft(id: NodeId): RaftNode {
    const raft = this.member(id).raft;
    assert(raft !== null, `${id} is down`);
    return raft;
  }

  note(text: string, nodes: readonly NodeId[] = []): void {
    this.trace.push({ tick: this.now, text, nodes });
    if (this.trace.length >= 2 * TRACE_EVENTS_MAX) {
      this.traceDropped += TRACE_EVENTS_MAX;
      this.trace = this.trace.slice(TRACE_EVENTS_MAX);
    }
  }


  #raftConfig(id: NodeId): RaftConfig {
    const isBootstrap = !this.member(id).wiped && (this.options.bootstrap.voters.includes(id) || this.options.bootstrap.learners.includes(id));
    return defaultRaftConfig(id, this.rng.fork(), { ...this.options.raft, bootstrap: isBootstrap ? this.options.bootstrap : null });
  }

  #start(member: SimMember): void {
    member.raft = new RaftNode(this.#raftConfig(member.id), member.storage);
    member.machine = new HashStateMachine();
    const snapshot = member.storage.snapshot();
    if (snapshot.meta.index > 0) {
      const state = HashStateMachine.decode(snapshot.data);
      member.machine.applied = state.applied;
      member.machine.hash = state.hash;
    }
    member.pendingReads = new Map();
    member.pending = null;
    member.commitSeen = member.raft.status().commit;
    this.checker.onCommitState(member.id, member.raft);
  }

  crash(id: NodeId): void {
    const member = this.member(id);
    if (member.raft === null) return;
    member.raft = null;
    member.pending = null;
    this.note(`crash ${id}`, [id]);
  }

  /** Crash `id` and lose its disk: `restart` brings it back with an empty storage (a new member under the old id). */
  wipe(id: NodeId): void {
    this.crash(id);
    const member = this.member(id);
    member.storage = new MemoryStorage();
    member.wiped = true;
    this.note(`wipe ${id}`, [id]);
  }

  restart(id: NodeId): void {
    const member = this.member(id);
    if (member.raft !== null) return;
    this.#start(member);
    const status = this.raft(id).status();
    this.note(`restart ${id} term=${status.term} vote=${status.vote} commit=${status.commit} last=${status.lastIndex}`, [id]);
  }

  // --- Network ------------------------------------------------------------------------------

  isolate(id: NodeId): void {
    for (const other of this.members.keys()) {
      if (other === id) continue;
      this.blocked.add(`${id}>${other}`);
      this.blocked.add(`${other}>${id}`);
    }
  }

  cut(a: NodeId, b: NodeId): void {
    this.blocked.add(`${a}>${b}`);
    this.blocked.add(`${b}>${a}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  #send(message: Message): void {
    const faults = this.faults;
    const link = linkOf(message);
    if (this.blocked.has(link)) return;
    if (faults.lossProbability > 0 && this.rng.chance(faults.lossProbability)) return;
    const copies = faults.duplicateProbability > 0 && this.rng.chance(faults.duplicateProbability) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      const delay = faults.delayTicksMax === 0 ? 0 : this.rng.range(faults.delayTicksMin, faults.delayTicksMax);
      let deliverAt = this.now + delay;
      if (faults.ordered === true) {
        deliverAt = Math.max(deliverAt, this.#linkDueAt.get(link) ?? 0);
        this.#linkDueAt.set(link, deliverAt);
      }
      this.#inFlight.push({ deliverAt, sequence: this.#sequence++, message });
    }
  }

  get inFlightCount(): number {
    return this.#inFlight.length;
  }

  /** Deliver every message due now, in a random order, driving each receiver after each one. */
  deliverDue(): number {
    const due: InFlightMessage[] = [];
    const later: InFlightMessage[] = [];
    for (const item of this.#inFlight) (item.deliverAt <= this.now ? due : later).push(item);
    this.#inFlight = later;
    this.rng.shuffle(due);
    if (this.faults.ordered === true) keepLinkOrder(due);
    for (const item of due) this.#deliver(item.message);
    return due.length;
  }

  #deliver(message: Message): void {
    if (this.blocked.has(linkOf(message))) return;
    const member = this.members.get(message.to);
    if (member === undefined || member.raft === null) return;
    if (this.messageFilter !== null && !this.messageFilter(message)) return;
    this.messagesDelivered++;
    if (message.type !== 'heartbeat' && message.type !== 'heartbeat_response') this.note(`deliver ${describe(message)}`, [message.from, message.to]);
    member.raft.step({ type: 'message', message });
    this.drive(member);
  }

  // --- Time and the driver loop --------------------------------------------------------------

  tickAll(): void {
    for (const member of this.members.values()) {
      if (member.raft === null) continue;
      member.raft.step({ type: 'tick' });
      this.drive(member);
    }
  }

  /** Deliver messages with no delay until nothing moves (unit tests; ignores `faults` delays). */
  stabilize(roundsMax = 1_000): void {
    for (let round = 0; round < roundsMax; round++) {
      for (const member of this.members.values()) this.drive(member);
      if (this.#inFlight.length === 0) return;
      const batch = this.#inFlight;
      this.#inFlight = [];
      for (const item of batch) this.#deliver(item.message);
    }
    throw new Error('stabilize: still moving after the round limit');
  }

  /**
   * Run the driver loop of one member until it has nothing to do. With `earlyReplication` and a
   * disk delay, a cycle that must sync sends its early messages, leaves its write in flight and
   * returns; the member keeps stepping inputs (the checker watches its commit index meanwhile)
   * and `completeWrites()` finishes the cycle when the write is done.
   */
  drive(member: SimMember): void {
    for (let cycle = 0; cycle < DRIVE_CYCLES_MAX; cycle++) {
      const raft = member.raft;
      if (raft === null) return;
      if (member.pending !== null) return this.#watchWhileWriting(member, raft);
      if (!raft.hasReady()) return;
      const ready = raft.ready();
      for (const message of ready.earlyMessages) this.#send(message);
      const sendFirst = raft.config.bugs.sendBeforePersist === true;
      if (sendFirst) this.#sendAll(ready);
      if (ready.mustSync && raft.config.earlyReplication && this.diskDelayTicksMax > 0) {
        member.pending = { ready, doneAt: this.now + this.#diskDelay(member), sentFirst: sendFirst };
        return;
      }
      if (!this.#finishCycle(member, raft, ready, sendFirst)) return;
    }
    throw new Error(`drive: ${member.id} still has work after ${DRIVE_CYCLES_MAX} cycles`);
  }

  #diskDelay(member: SimMember): number {
    const stalls = this.diskStallTicksMax > this.diskDelayTicksMax && this.rng.chance(this.diskStallProbability);
    if (!stalls) return this.rng.range(1, this.diskDelayTicksMax);
    const ticks = this.rng.range(this.diskDelayTicksMax + 1, this.diskStallTicksMax);
    this.note(`${member.id} disk stalls for ${ticks} ticks`, [member.id]);
    return ticks;
  }

  /** Finish the cycles whose writes are done (call once per tick), then drive those members. */
  completeWrites(): void {
    for (const member of this.members.values()) {
      const pending = member.pending;
      const raft = member.raft;
      if (pending === null || raft === null || pending.doneAt > this.now) continue;
      member.pending = null;
      if (this.#finishCycle(member, raft, pending.ready, pending.sentFirst)) this.drive(member);
    }
  }

  /**
   * The rest of a driver cycle once its write may happen: persist (crash sites just before, where
   * something durable was due), send, apply, advance. Returns false if the member crashed.
   */
  #finishCycle(member: SimMember, raft: RaftNode, ready: Ready, sentFirst: boolean): boolean {
    // Crash sites inside the cycle, only where something durable was due (a vote, entries):
    // after sending (with the bug) or before persisting (correct order) — both lose the write.
    if (ready.mustSync && this.#crashInCycle(member)) return false;
    this.#persist(member, raft, ready);
    if (!sentFirst) this.#sendAll(ready);
    this.#applyReady(member, raft, ready);
    raft.advance();
    this.checker.onCommitState(member.id, raft);
    member.commitSeen = raft.status().commit;
    // And right after a cycle that made promises (a vote, acknowledged entries).
    if (ready.mustSync && ready.messages.length > 0 && this.#crashInCycle(member)) return false;
    if (ready.committedEntries.length > 0 && raft.status().role === 'leader' && this.rng.chance(this.crashAfterCommitProbability)) {
      this.crash(member.id);
      return false;
    }
    if (this.rebootAfterVoteProbability > 0 && grantsVote(ready) && this.rng.chance(this.rebootAfterVoteProbability)) {
      this.crash(member.id);
      this.restart(member.id);
    }
    return true;
  }

  /**
   * Inputs stepped while a write is in flight may move the commit index (a leader counting a
   * quorum of followers): the checker sees it at once, and a leader may crash right then,
   * before its own write is done.
   */
  #watchWhileWriting(member: SimMember, raft: RaftNode): void {
    this.checker.onCommitState(member.id, raft);
    const status = raft.status();
    if (status.commit <= member.commitSeen) return;
    member.commitSeen = status.commit;
    if (status.role === 'leader' && this.rng.chance(this.crashAfterCommitWhileWritingProbability)) {
      this.note(`crash ${member.id} with a write in flight after its commit advanced to ${status.commit}`, [member.id]);
      this.crash(member.id);
    }
  }

  #crashInCycle(member: SimMember): boolean {
    const probability = this.cycleCrashProbability;
    if (probability === 0 || !this.rng.chance(probability)) return false;
    this.note(`crash ${member.id} inside a driver cycle`, [member.id]);
    member.raft = null;
    member.pending = null;
    return true;
  }

  #persist(member: SimMember, raft: RaftNode, ready: Ready): void {
    const before = member.storage.initialState();
    member.storage.persist(ready);
    const first = ready.entries[0];
    if (first !== undefined) {
      // The predecessor on disk, not in memory: inputs stepped while the write was in flight
      // may have changed the in-memory log since.
      const storage = member.storage;
      const prevIndex = first.index - 1;
      const prevTerm = prevIndex >= storage.snapshot().meta.index && prevIndex <= storage.lastIndex() ? storage.term(prevIndex) : -1;
      this.checker.onAppend(member.id, ready.entries, prevTerm);
    }
    const after = ready.hardState;
    if (after !== null && (after.term !== before.term || after.vote !== before.vote)) {
      this.note(`${member.id} persists term=${after.term} vote=${after.vote}`, [member.id]);
    }
  }

  #sendAll(ready: Ready): void {
    for (const message of ready.messages) this.#send(message);
  }

  #applyReady(member: SimMember, raft: RaftNode, ready: Ready): void {
    if (ready.softState !== null) {
      const soft = ready.softState;
      this.note(`${member.id} is ${soft.role} term=${soft.term} leader=${soft.leader}`, [member.id]);
      if (soft.role === 'leader') this.checker.onLeader(member.id, soft.term, raft);
    }
    if (ready.snapshot !== null) {
      const state = HashStateMachine.decode(ready.snapshot.data);
      assert(state.applied === ready.snapshot.meta.index, 'snapshot data matches its index');
      member.machine.applied = state.applied;
      member.machine.hash = state.hash;
      this.checker.onSnapshotRestore(member.id, state.applied, state.hash);
      this.note(`${member.id} installs snapshot ${ready.snapshot.meta.index}`, [member.id]);
    }
    for (const entry of ready.committedEntries) {
      member.machine.apply(entry);
      this.checker.onApply(member.id, entry, member.machine.hash);
    }
    for (const result of ready.requests) {
      member.results.push(result);
      if (result.kind === 'read_index' && result.outcome === 'rejected') member.pendingReads.delete(result.id);
    }
    for (const state of ready.readStates) {
      const read = member.pendingReads.get(state.requestId);
      if (read !== undefined) read.index = state.index;
    }
    this.#serveReads(member);
  }

  #serveReads(member: SimMember): void {
    for (const [requestId, read] of member.pendingReads) {
      if (read.index < 0 || member.machine.applied < read.index) continue;
      this.checker.onRead(member.id, requestId, read.index, read.committedAtStart);
      member.pendingReads.delete(requestId);
    }
  }

  // --- Client requests -----------------------------------------------------------------------

  propose(id: NodeId, data: string): void {
    const member = this.member(id);
    if (member.raft === null) return;
    member.raft.step({ type: 'propose', data, id: data });
    this.drive(member);
  }

  read(id: NodeId): string | null {
    const member = this.member(id);
    if (member.raft === null) return null;
    const requestId = `r${++this.#readCounter}`;
    member.pendingReads.set(requestId, { requestId, committedAtStart: this.checker.committedMax, index: -1 });
    member.raft.step({ type: 'read_index', requestId });
    this.drive(member);
    return requestId;
  }

  takeSnapshot(id: NodeId): void {
    const member = this.member(id);
    if (member.raft === null || member.machine.applied === 0) return;
    const index = member.machine.applied;
    if (index <= member.raft.status().snapshotIndex) return;
    member.raft.step({ type: 'snapshot_taken', index, data: member.machine.encode(this.options.snapshotPaddingBytes ?? 0) });
    this.drive(member);
    this.note(`${id} snapshot at ${index}`, [id]);
  }

  leaders(): NodeId[] {
    const result: NodeId[] = [];
    for (const member of this.members.values()) if (member.raft?.status().role === 'leader') result.push(member.id);
    return result;
  }

  /** The leader with the highest term, if any. */
  leader(): NodeId | null {
    let best: NodeId | null = null;
    let bestTerm = -1;
    for (const member of this.members.values()) {
      const status = member.raft?.status();
      if (status?.role === 'leader' && status.term > bestTerm) {
        best = member.id;
        bestTerm = status.term;
      }
    }
    return best;
  }
}

function grantsVote(ready: Ready): boolean {
  for (const message of ready.messages) if (message.type === 'vote_response' && message.granted) return true;
  return false;
}

export function describe(message: Message): string {
  const head = `${message.from}>${message.to} ${message.type} t${message.term}`;
  switch (message.type) {
    case 'append':
      return `${head} prev=${message.prevIndex}/${message.prevTerm} n=${message.entries.length} commit=${message.commit}`;
    case 'append_response':
      return `${head} ${message.reject ? `reject ${message.index} hint=${message.hintIndex}/${message.hintTerm}` : `ok ${message.index}`}`;
    case 'vote':
    case 'pre_vote':
      return `${head} last=${message.lastIndex}/${message.lastTerm}${message.transfer ? ' transfer' : ''}`;
    case 'vote_response':
    case 'pre_vote_response':
      return `${head} ${message.granted ? 'granted' : 'rejected'}`;
    case 'snapshot':
      return `${head} index=${message.meta.index} offset=${message.offset}/${message.totalBytes}`;
    case 'snapshot_response':
      return `${head} index=${message.snapshotIndex} next=${message.nextOffset}`;
    default:
      return head;
  }
}
