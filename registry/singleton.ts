/**
 * Singletons: "run exactly one of these somewhere in the group". A `SingletonManager` is attached
 * to every member's `Group`, and every member declares the same keys (`declare(key, spec)`).
 *
 * Placement. The owner of a key is the first member of the ring's preference list for it (the
 * ring over the committed membership, `group.ring()`) that this member can reach, whose manager
 * has said it is up (a `present` notice, exchanged whenever a link comes up: a restarted member
 * links before its manager runs, and a handoff sent to it then would be lost), and that is not
 * draining. The owner claims the key through the registry (`claim` command); the claim's Raft
 * index is the instance's fencing token, and the instance (a process, `spec.start`) runs only
 * after that claim has committed.
 *
 * Moves.
 * - Planned (the ring owner changed: a member joined, left or came back): the old instance is
 *   asked for its state (`spec.handoff`), STOPPED, the state is sent to the new owner with the
 *   old token, then the old owner releases its claim. The new owner claims with
 *   `previousRevision` = the old token (or once the release commits) and starts with the state.
 * - Unplanned (the holder died or is cut off): the leader releases the claim of a holder it has
 *   not seen for `ownerDownGraceMs` (and `node_down` drops a dead node's claims); the new owner
 *   then waits `leaseMs + clockDriftMs`, measured on its own clock from when its replica applied
 *   the removal, before it claims, and its instance starts with `{handoff: undefined, reason:
 *   'owner_lost'}`.
 * - Restarted (the previous claim was this member's own): at once if this manager ran an
 *   instance under it. If not — the claim committed though its proposer's call failed, or the
 *   member restarted while that claim waited out its predecessor — the wait it owed is still
 *   owed, and the new claim inherits it (not knowing it, after a restart: a whole
 *   `leaseMs + clockDriftMs` from when this manager started). Likewise, releasing such a claim
 *   to a new owner sends no proof that the instance stopped until that wait has passed.
 *
 * The lease (why at most one instance holds a valid token at any time). An instance runs only
 * while its member holds a lease: the lease is taken at `t0` (our clock) when a claim proposal is
 * sent, or when a `readBarrier` (Raft ReadIndex, which a quorum confirms after `t0`: the leader's
 * heartbeat round, or on a follower of three voters that follower and the leader, RaftNode
 * `#serveRead`) is sent, and it is valid until `t0 + leaseMs` provided that, once the claim or barrier
 * completed, the replica still shows our claim. Every member renews every `leaseMs / 4`; at
 * `t0 + leaseMs` an instance whose lease was not renewed is killed, and an instance whose claim
 * disappears from the replica is killed at once. Any removal of our claim is a log entry ordered
 * after every claim or barrier that renewed us (a barrier served after the removal committed
 * would have shown it to us), so it committed after our last `t0`; a claimant waits
 * `leaseMs + clockDriftMs` after applying it, hence after our lease ended — as long as:
 *
 *   CLOCK-DRIFT BOUND: over one lease, the holder's clock runs no more than `clockDriftMs` slower
 *   than the claimant's, and the holder's timers fire no later than `clockDriftMs` minus that
 *   skew. Both are monotonic clocks (performance.now), so skew is rate drift (ppm, microseconds
 *   per lease); the budget is really for event-loop stalls. A member paused longer than
 *   `clockDriftMs` (SIGSTOP, swapping) can overrun its lease: downstream systems must check the
 *   fencing token, which is why the instance gets it.
 *
 * The leader waits too: it releases a claim only after `ownerDownGraceMs` without seeing the
 * holder (counted from when it became leader at the latest), so a blip does not move singletons.
 *
 * Handoff fencing. The new owner accepts handed-off state only if the token it came with is the
 * claim that, in log order, immediately preceded the new owner's own claim (this replica follows
 * every claim through `group.onApply`), so state from a stale instance is never accepted. With
 * no acceptable state, `init.reason` says why: 'first' (never claimed before), 'restarted' (this
 * member held the previous claim), 'owner_lost' (the previous holder vanished).
 *
 * Liveness: once faults heal and a member is reachable, the key is claimed within about
 * `ownerDownGraceMs + leaseMs + clockDriftMs` plus the failure detector's delay.
 *
 * Timers come from the injected `Clock`; nothing here calls `setTimeout` directly.
 */
import { type Clock, type DownMessage, FedError, type Node, Pid, SystemClock, type TimerHandle, fedError, isDownMessage, keepNewest } from '../runtime/index.js';
import type { AppliedEvent, Group } from './group.js';
import type { ClaimEntry } from './names.js';

export const SINGLETON_DEFAULTS = {
  /** How long a confirmed contact with the group lets an instance run. */
  leaseMs: 3_000,
  /** See the CLOCK-DRIFT BOUND in the header. */
  clockDriftMs: 500,
  /** How long the leader must not see a holder before it releases the holder's claims. */
  ownerDownGraceMs: 1_000,
  /** How often ownership is re-checked (changes are also reacted to at once). */
  checkIntervalMs: 100,
  /** How long `spec.handoff` may take on a planned move before the state is given up. */
  handoffTimeoutMs: 1_000,
  /** How long a stopped instance gets to exit after `shutdown` before it is killed. */
  stopTimeoutMs: 2_000,
  /** Pause before retrying a claim or a release that failed. */
  retryMs: 200,
  /** How long a draining member is not chosen as owner (unless it leaves sooner). */
  drainExclusionMs: 30_000,
} as const;

/** Kept handed-off states (one per key) and recorded claims of ours: bounded. */
const HANDOFFS_MAX = 1_024;
const OWN_CLAIMS_MAX = 1_024;
const STOP_POLL_MS = 5;

export type SingletonStartReason = 'first' | 'handoff' | 'owner_lost' | 'restarted';

/** What `spec.start` is given. */
export interface SingletonInit {
  readonly key: string;
  /** The fencing token: the Raft index of this member's committed claim. Higher is newer. */
  readonly token: number;
  readonly node: Node;
  /** The previous instance's state on a planned move (reason 'handoff'); undefined otherwise. */
  readonly handoff: unknown;
  readonly reason: SingletonStartReason;
}

export interface SingletonSpec {
  /**
   * Start the instance as a process on `init.node` and return its pid — as soon as it is
   * spawned: until `start` returns there is no pid to stop, so an instance whose lease ends (or
   * whose manager closes) while `start` is still pending is killed only once it returns. Slow
   * initialisation belongs inside the process, after `start` has returned.
   */
  start(init: SingletonInit): Pid | Promise<Pid>;
  /**
   * Planned moves only: the running instance's state, asked before it is stopped; it reaches the
   * next owner's `start` as `init.handoff`. Must be encodable (msgpackr).
   */
  handoff?(pid: Pid, node: Node): unknown;
}

export type SingletonStopReason = 'moved' | 'claim_lost' | 'lease_expired' | 'closed' | 'drained';

export type SingletonEvent =
  | { readonly type: 'started'; readonly key: string; readonly token: number; readonly pid: Pid; readonly reason: SingletonStartReason }
  | { readonly type: 'stopped'; readonly key: string; readonly token: number; readonly pid: Pid; readonly why: SingletonStopReason }
  | { readonly type: 'exited'; readonly key: string; readonly token: number; readonly pid: Pid };

export interface SingletonManagerOptions {
  readonly clock?: Clock;
  readonly leaseMs?: number;
  readonly clockDriftMs?: number;
  readonly ownerDownGraceMs?: number;
  readonly checkIntervalMs?: number;
  readonly handoffTimeoutMs?: number;
  readonly stopTimeoutMs?: number;
  readonly retryMs?: number;
  readonly drainExclusionMs?: number;
  readonly log?: (level: 'info' | 'warn', event: string, msg: string) => void;
}

export interface SingletonStatus {
  readonly key: string;
  readonly owner: string | undefined;
  readonly claim: ClaimEntry | undefined;
  readonly phase: Phase;
  readonly token: number | undefined;
  readonly pid: Pid | undefined;
}

type Phase = 'idle' | 'claiming' | 'waiting' | 'starting' | 'running' | 'stopping' | 'releasing';

interface Slot {
  readonly key: string;
  readonly spec: SingletonSpec;
  phase: Phase;
  /** Bumped whenever an async step must be abandoned (lease lost, claim lost, close). */
  epoch: number;
  token: number;
  pid: Pid | undefined;
  leaseUntil: number;
  retryAt: number;
  wake: TimerHandle | undefined;
}

/** What this replica knows of one key's claims, in log order. */
interface KeyHistory {
  current: ClaimEntry | undefined;
  /** The most recent claim ever applied (current or since removed); undefined if none/unknown. */
  last: ClaimEntry | undefined;
  /** When this replica applied the removal of `last` (our clock). */
  removedAt: number | undefined;
  /** False when this replica did not see the whole history (started from a snapshot or mid-log). */
  known: boolean;
}

/** Recorded when a claim of ours applies: what preceded it. */
interface Predecessor {
  readonly previous: ClaimEntry | undefined;
  /** The previous claim was still current when ours applied (a takeover with `previousRevision`). */
  readonly takeover: boolean;
  readonly removedAt: number | undefined;
  readonly known: boolean;
}

interface Handoff {
  readonly revision: number;
  /** The member that sent it: it counts only if that member held the claim at `revision`. */
  readonly from: string;
  /** True from a planned move (the state, if any, is the instance's); false: only proof it stopped. */
  readonly planned: boolean;
  readonly state: unknown;
}

type SingletonMessage =
  | { readonly type: 'handoff'; readonly key: string; readonly revision: number; readonly planned: boolean; readonly state: unknown }
  | { readonly type: 'draining'; readonly node: string }
  /** "My singleton manager is up": sent to every peer at start and to each peer that connects. */
  | { readonly type: 'present'; readonly node: string };

export class SingletonManager {
  readonly group: Group;
  readonly #node: Node;
  readonly #me: string;
  readonly #clock: Clock;
  readonly #settings: typeof SINGLETON_DEFAULTS;
  readonly #log: SingletonManagerOptions['log'];
  readonly #slots = new Map<string, Slot>();
  readonly #histories = new Map<string, KeyHistory>();
  readonly #ownClaims = new Map<number, Predecessor>();
  /**
   * Claims of ours and the earliest time an instance could have started under them (what their
   * own predecessor was owed): a later claim of ours inherits it unless an instance did start.
   */
  readonly #owedSafeAt = new Map<number, number>();
  /** Claims of ours under which this manager started an instance (the wait they owed was served). */
  readonly #startedTokens = new Set<number>();
  readonly #handoffs = new Map<string, Handoff>();
  readonly #draining = new Map<string, number>();
  readonly #listeners = new Set<(event: SingletonEvent) => void>();
  readonly #unsubscribe: Array<() => void> = [];
  /** History of keys this replica has not followed is unknown before this time. */
  #unknownBefore: number;
  #historyComplete: boolean;
  #closed = false;
  #selfDraining = false;
  #renewing = false;
  #checkTimer: TimerHandle | undefined;
  #renewTimer: TimerHandle | undefined;
  #expiryTimer: TimerHandle | undefined;
  #expiryAt = Infinity;
  #leaderTerm = 0;
  #leaderSince = 0;
  readonly #lastSeen = new Map<string, number>();
  /** Peers whose singleton manager told us it is up (since their link last came up). */
  readonly #present = new Set<string>();
  readonly #releasing = new Set<string>();

  constructor(group: Group, options: SingletonManagerOptions = {}) {
    this.group = group;
    this.#node = group.node;
    this.#me = group.node.name;
    this.#clock = options.clock ?? new SystemClock();
    this.#settings = {
      ...SINGLETON_DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([key, value]) => key in SINGLETON_DEFAULTS && value !== undefined)),
    } as typeof SINGLETON_DEFAULTS;
    this.#log = options.log;
    validateSettings(this.#settings);
    this.#unknownBefore = this.#clock.now();
    // Complete only if this replica knows no claim ever existed (not merely "nothing applied
    // yet": the driver may have applied the first entries before this manager attached).
    this.#historyComplete = group.state.names.claimHistoryEmpty;
    for (const claim of group.state.names.claims()) {
      this.#histories.set(claim.key, { current: claim, last: claim, removedAt: undefined, known: this.#historyComplete });
    }
    this.#unsubscribe.push(
      group.onApply((event) => this.#onApply(event)),
      group.distribution.onControl(`singleton:${group.id}`, (from, payload) => this.#onMessage(from, payload)),
      group.distribution.onNodeEvent((event) => {
        if (event.type === 'nodedown') {
          this.#lastSeen.set(event.node, this.#clock.now());
          this.#present.delete(event.node);
        } else this.#announce(event.node);
        this.#reconcileAll();
      }),
    );
    for (const peer of group.distribution.peers({ hidden: false })) this.#announce(peer);
    this.#scheduleCheck();
    this.#scheduleRenew();
  }

  // ---- public API --------------------------------------------------------------------------

  /** Declare singleton `key` on this member (every member declares the same keys and specs). */
  declare(key: string, spec: SingletonSpec): void {
    if (this.#closed) throw fedError('closed', 'the singleton manager is closed');
    if (typeof key !== 'string' || key.length === 0) throw fedError('badarg', 'a singleton key is a non-empty string');
    if (typeof spec?.start !== 'function') throw fedError('badarg', `singleton ${key}: spec.start must be a function`);
    if (this.#slots.has(key)) throw fedError('badarg', `singleton ${key} is already declared`);
    this.#slots.set(key, { key, spec, phase: 'idle', epoch: 0, token: 0, pid: undefined, leaseUntil: 0, retryAt: 0, wake: undefined });
    this.#reconcileSoon(key);
  }

  /** Every start, stop and unexpected exit of an instance on this member. Returns an unsubscribe. */
  onEvent(listener: (event: SingletonEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The member that should run `key` as this member sees it (undefined if nobody reachable). */
  ownerOf(key: string): string | undefined {
    const ring = this.group.ring();
    if (ring.size === 0) return undefined;
    const now = this.#clock.now();
    for (const member of ring.owners(key, ring.size)) {
      if (member === this.#me) {
        if (!this.#selfDraining) return member;
        continue;
      }
      const drainingUntil = this.#draining.get(member);
      if (drainingUntil !== undefined && drainingUntil > now) continue;
      // Connected AND its manager is up: a planned move to a member whose manager has not started
      // yet (a restarted node links before its group and manager are open) would lose the handoff.
      if (this.#present.has(member) && this.group.distribution.isConnected(member)) return member;
    }
    return undefined;
  }

  status(): SingletonStatus[] {
    return [...this.#slots.values()]
      .map((slot) => ({
        key: slot.key,
        owner: this.ownerOf(slot.key),
        claim: this.group.state.names.claim(slot.key),
        phase: slot.phase,
        token: slot.token === 0 ? undefined : slot.token,
        pid: slot.pid,
      }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /** The local instance of `key` and its token, if one runs here. */
  running(key: string): { pid: Pid; token: number } | undefined {
    const slot = this.#slots.get(key);
    return slot?.phase === 'running' && slot.pid !== undefined ? { pid: slot.pid, token: slot.token } : undefined;
  }

  /**
   * Hand every singleton running here to its next owner (planned moves, with state) and release
   * every claim this member holds; resolves once none is left. Other members stop choosing this
   * one as owner for `drainExclusionMs`.
   */
  async drain(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) throw fedError('closed', 'the singleton manager is closed');
    this.#selfDraining = true;
    for (const peer of this.group.distribution.peers()) {
      this.group.distribution.sendControl(peer, `singleton:${this.group.id}`, { type: 'draining', node: this.#me } satisfies SingletonMessage);
    }
    this.#reconcileAll();
    const deadline = this.#clock.now() + (options.timeoutMs ?? this.#settings.leaseMs * 3);
    while (!this.#drained()) {
      if (this.#closed) throw fedError('closed', 'closed while draining');
      if (this.#clock.now() > deadline) throw fedError('timeout', `singletons still held by ${this.#me} after draining`);
      await this.#sleep(this.#settings.checkIntervalMs);
    }
  }

  /** Drain, then leave the group (`group.leave()`). */
  async leave(): Promise<void> {
    await this.drain();
    await this.group.leave();
  }

  /** Kill every local instance (no handoff, claims kept: they expire as leases do). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of [this.#checkTimer, this.#renewTimer, this.#expiryTimer]) if (timer !== undefined) this.#clock.clearTimeout(timer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    for (const slot of this.#slots.values()) {
      if (slot.wake !== undefined) this.#clock.clearTimeout(slot.wake);
      this.#abort(slot, 'closed');
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- following the log -------------------------------------------------------------------

  #onApply(event: AppliedEvent): void {
    if (event.type === 'restore') {
      this.#onRestore();
      return;
    }
    if (event.type === 'conf_change') {
      this.#reconcileAll(); // the ring may have changed
      return;
    }
    const command = event.command;
    if (command.op !== 'claim' && command.op !== 'release_claim' && command.op !== 'node_down') return;
    const keys =
      command.op === 'node_down'
        ? [...this.#histories.entries()].filter(([, history]) => history.current?.node === command.node).map(([key]) => key)
        : [command.key];
    for (const key of keys) this.#follow(key, event.index);
  }

  /** Bring one key's history up to date with the replica after the entry at `index` applied. */
  #follow(key: string, index: number): void {
    const history = this.#history(key);
    const before = history.current;
    const after = this.group.state.names.claim(key);
    if (before?.revision === after?.revision) return;
    const now = this.#clock.now();
    if (after !== undefined && after.revision === index) {
      if (after.node === this.#me) {
        const predecessor: Predecessor = { previous: history.last, takeover: before !== undefined, removedAt: history.removedAt, known: history.known };
        this.#ownClaims.set(index, predecessor);
        keepNewest(this.#ownClaims, OWN_CLAIMS_MAX);
        // Also for a claim whose proposer never learns it committed (its call failed): the next
        // claim of ours inherits what this one owed.
        this.#oweFrom(index, this.#successorOf(key, now, predecessor).safeAt);
      }
      history.last = after;
      history.removedAt = undefined;
    } else if (after === undefined) {
      history.removedAt = now;
    }
    history.current = after;
    this.#histories.set(key, history);
    this.#reconcileSoon(key);
  }

  #onRestore(): void {
    const now = this.#clock.now();
    this.#historyComplete = false;
    this.#unknownBefore = now;
    const keys = new Set([...this.#histories.keys(), ...this.group.state.names.claims().map((claim) => claim.key)]);
    for (const key of keys) {
      const current = this.group.state.names.claim(key);
      this.#histories.set(key, { current, last: current, removedAt: current === undefined ? now : undefined, known: false });
    }
    this.#reconcileAll();
  }

  #history(key: string): KeyHistory {
    return (
      this.#histories.get(key) ?? {
        current: undefined,
        last: undefined,
        removedAt: this.#historyComplete ? undefined : this.#unknownBefore,
        known: this.#historyComplete,
      }
    );
  }

  // ---- messages between members ------------------------------------------------------------

  #onMessage(from: string, payload: unknown): void {
    const message = payload as SingletonMessage | null;
    if (typeof message !== 'object' || message === null) return;
    if (message.type === 'present') {
      if (message.node !== from || this.#present.has(from)) return;
      this.#present.add(from);
      // Our own notice may have reached it before its manager was up: answer once.
      this.#announce(from);
      this.#reconcileAll();
      return;
    }
    if (message.type === 'draining') {
      if (message.node !== from) return;
      this.#draining.set(from, this.#clock.now() + this.#settings.drainExclusionMs);
      this.#reconcileAll();
      return;
    }
    if (message.type === 'handoff' && typeof message.key === 'string' && Number.isInteger(message.revision) && message.revision > 0) {
      // Only the holder of the claim at `revision` may hand it off: a handoff is proof that the
      // instance of that token stopped, and only its member can give that proof.
      const known = this.#claimAt(message.key, message.revision);
      if (known !== undefined && known.node !== from) {
        this.#log?.('warn', 'singleton_handoff_rejected', `handoff of ${message.key}@${message.revision} from ${from}, but ${known.node} held that claim`);
        return;
      }
      const held = this.#handoffs.get(message.key);
      if (held !== undefined && held.revision >= message.revision) return;
      const last = this.#history(message.key).last;
      if (last !== undefined && last.revision > message.revision) return; // already superseded
      this.#handoffs.set(message.key, { revision: message.revision, from, planned: message.planned === true, state: message.planned === true ? message.state : undefined });
      keepNewest(this.#handoffs, HANDOFFS_MAX);
      this.#reconcileSoon(message.key);
      return;
    }
    this.#log?.('warn', 'singleton_message_rejected', `malformed singleton message from ${from}`);
  }

  /** The claim of `key` at `revision`, if this replica knows it (current, or the last one applied). */
  #claimAt(key: string, revision: number): ClaimEntry | undefined {
    const current = this.group.state.names.claim(key);
    if (current?.revision === revision) return current;
    const last = this.#history(key).last;
    return last?.revision === revision ? last : undefined;
  }

  /** A handoff we hold that proves the instance of `claim` stopped: same token, sent by its holder. */
  #handoffFor(key: string, claim: ClaimEntry | undefined): Handoff | undefined {
    const handoff = this.#handoffs.get(key);
    if (claim === undefined || handoff === undefined) return undefined;
    return handoff.revision === claim.revision && handoff.from === claim.node ? handoff : undefined;
  }

  #announce(peer: string): void {
    if (this.#closed) return;
    this.group.distribution.sendControl(peer, `singleton:${this.group.id}`, { type: 'present', node: this.#me } satisfies SingletonMessage);
  }

  // ---- deciding what to do -----------------------------------------------------------------

  #reconcileAll(): void {
    for (const key of this.#slots.keys()) this.#reconcileSoon(key);
  }

  #reconcileSoon(key: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined || this.#closed) return;
    queueMicrotask(() => this.#reconcile(slot));
  }

  #reconcile(slot: Slot): void {
    if (this.#closed) return;
    const claim = this.group.state.names.claim(slot.key);
    const owner = this.ownerOf(slot.key);
    if (slot.phase === 'running') {
      if (claim?.node !== this.#me || claim.revision !== slot.token) this.#abort(slot, 'claim_lost');
      else if (owner !== this.#me && (owner !== undefined || this.#selfDraining)) this.#background(this.#move(slot, owner));
      return;
    }
    if (slot.phase !== 'idle') return;
    const now = this.#clock.now();
    if (now < slot.retryAt) return this.#wakeAt(slot, slot.retryAt);
    if (claim?.node === this.#me) {
      if (owner === this.#me) this.#background(this.#claim(slot, claim.revision));
      // No instance runs under it here, but "it stopped" is proof for the new owner only once
      // the wait this claim owed its own predecessor has passed; else the new owner waits.
      else this.#background(this.#release(slot, claim.revision, this.#afterOwnClaim(claim.revision, now) <= now ? owner : undefined, undefined));
      return;
    }
    if (owner !== this.#me) return;
    const history = this.#history(slot.key);
    const previous = claim ?? history.last;
    const handedOver = this.#handoffFor(slot.key, previous) !== undefined;
    if (claim !== undefined) {
      // Held by another member: take it over only with its handoff (proof it stopped).
      if (handedOver) this.#background(this.#claim(slot, claim.revision));
      return;
    }
    const safeAt = handedOver ? now : this.#safeAt(now, { previous, takeover: false, removedAt: history.removedAt, known: history.known });
    if (safeAt > now) return this.#wakeAt(slot, safeAt);
    this.#background(this.#claim(slot, undefined));
  }

  /** When an instance of ours may start after `predecessor`, and why it starts. */
  #successorOf(key: string, now: number, predecessor: Predecessor | undefined): { safeAt: number; reason: SingletonStartReason; handoff: Handoff | undefined } {
    const unknownWait = now + this.#settings.leaseMs + this.#settings.clockDriftMs;
    if (predecessor === undefined) return { safeAt: unknownWait, reason: 'owner_lost', handoff: undefined };
    const previous = predecessor.previous;
    if (previous === undefined) {
      return { safeAt: this.#safeAt(now, predecessor), reason: predecessor.known ? 'first' : 'owner_lost', handoff: undefined };
    }
    if (previous.node === this.#me) return { safeAt: this.#afterOwnClaim(previous.revision, now), reason: 'restarted', handoff: undefined };
    const handoff = this.#handoffFor(key, previous);
    if (handoff !== undefined) return { safeAt: now, reason: handoff.planned ? 'handoff' : 'owner_lost', handoff };
    return { safeAt: this.#safeAt(now, predecessor), reason: 'owner_lost', handoff: undefined };
  }

  /** The earliest time a new instance may run, given what preceded it (see the header). */
  #safeAt(now: number, predecessor: Predecessor): number {
    const wait = this.#settings.leaseMs + this.#settings.clockDriftMs;
    if (predecessor.previous === undefined && predecessor.known) return now;
    if (predecessor.previous?.node === this.#me) return this.#afterOwnClaim(predecessor.previous.revision, now);
    if (predecessor.takeover) return now + wait;
    return (predecessor.removedAt ?? this.#unknownBefore) + wait;
  }

  /**
   * The earliest time an instance may start after our own claim at `revision`. At once if this
   * manager started an instance under it: that instance is gone (we are past it), and it started
   * only after whatever preceded it was safe. Otherwise the claim may never have started — it
   * committed while its proposer's call failed, or while it waited out its predecessor, and then
   * this member restarted — and the wait it owed is still owed: as this manager recorded it, or,
   * not knowing it (a restarted member), a whole lease and drift from when this manager's
   * knowledge begins (the predecessor's removal applied before that).
   */
  #afterOwnClaim(revision: number, now: number): number {
    if (this.#startedTokens.has(revision)) return now;
    const owed = this.#owedSafeAt.get(revision);
    return Math.max(now, owed ?? this.#unknownBefore + this.#settings.leaseMs + this.#settings.clockDriftMs);
  }

  #oweFrom(token: number, safeAt: number): void {
    this.#owedSafeAt.set(token, Math.max(safeAt, this.#owedSafeAt.get(token) ?? -Infinity));
    keepNewest(this.#owedSafeAt, OWN_CLAIMS_MAX);
  }

  // ---- claiming and starting ---------------------------------------------------------------

  async #claim(slot: Slot, previousRevision: number | undefined): Promise<void> {
    slot.phase = 'claiming';
    const epoch = ++slot.epoch;
    const sentAt = this.#clock.now();
    let token: number;
    try {
      const result = await this.group.propose({
        op: 'claim',
        key: slot.key,
        node: this.#me,
        ...(previousRevision !== undefined ? { previousRevision } : {}),
      });
      token = result.revision;
    } catch (error) {
      if (epoch !== slot.epoch || this.#closed) return;
      this.#log?.('info', 'singleton_claim_failed', `claim of ${slot.key}: ${(error as Error).message}`);
      return this.#idle(slot, this.#settings.retryMs);
    }
    if (epoch !== slot.epoch || this.#closed) return;
    const predecessor = this.#ownClaims.get(token);
    this.#ownClaims.delete(token);
    if (!this.#holds(slot.key, token)) return this.#idle(slot, 0);
    slot.token = token;
    slot.leaseUntil = sentAt + this.#settings.leaseMs;
    this.#scheduleExpiry();
    const now = this.#clock.now();
    const next = this.#successorOf(slot.key, now, predecessor);
    this.#oweFrom(token, next.safeAt);
    if (next.handoff !== undefined) this.#handoffs.delete(slot.key);
    if (next.safeAt > now) {
      slot.phase = 'waiting';
      slot.wake = this.#clock.setTimeout(() => {
        slot.wake = undefined;
        if (epoch === slot.epoch) this.#background(this.#start(slot, epoch, next.reason, next.handoff));
      }, next.safeAt - now);
      return;
    }
    await this.#start(slot, epoch, next.reason, next.handoff);
  }

  async #start(slot: Slot, epoch: number, reason: SingletonStartReason, handoff: Handoff | undefined): Promise<void> {
    if (this.#closed || epoch !== slot.epoch) return;
    if (!this.#holds(slot.key, slot.token) || this.#clock.now() >= slot.leaseUntil) return this.#idle(slot, 0);
    slot.phase = 'starting';
    let pid: Pid;
    try {
      pid = await slot.spec.start({ key: slot.key, token: slot.token, node: this.#node, handoff: handoff?.state, reason });
      if (!(pid instanceof Pid) || pid.node !== this.#me) throw fedError('badarg', `singleton ${slot.key}: spec.start must return a pid of ${this.#me}`);
    } catch (error) {
      if (epoch !== slot.epoch || this.#closed) return;
      this.#log?.('warn', 'singleton_start_failed', `start of ${slot.key}: ${(error as Error).message}`);
      return this.#idle(slot, this.#settings.retryMs);
    }
    if (epoch !== slot.epoch || this.#closed) {
      if (this.#node.started && this.#node.isAlive(pid)) this.#node.exit(pid, 'kill');
      return;
    }
    slot.pid = pid;
    slot.phase = 'running';
    this.#startedTokens.add(slot.token);
    keepNewest(this.#startedTokens, OWN_CLAIMS_MAX);
    this.#emit({ type: 'started', key: slot.key, token: slot.token, pid, reason });
    try {
      this.#watchExit(slot, pid, slot.token);
    } catch {
      return this.#abort(slot, 'closed'); // the node is stopping
    }
    this.#reconcileSoon(slot.key);
  }

  /** An instance that exits on its own: noted, and the key is claimed and started again. */
  #watchExit(slot: Slot, pid: Pid, token: number): void {
    this.#node.spawn(async (ctx) => {
      ctx.monitor(pid);
      await ctx.receive((msg): msg is DownMessage => isDownMessage(msg) && msg.pid instanceof Pid && msg.pid.equals(pid));
      if (slot.pid === undefined || !slot.pid.equals(pid) || slot.phase !== 'running') return;
      this.#emit({ type: 'exited', key: slot.key, token, pid });
      slot.pid = undefined;
      this.#idle(slot, this.#settings.retryMs);
    });
  }

  // ---- stopping, moving, releasing ---------------------------------------------------------

  /** Planned move: state, stop, hand the state to `target` with our token, release the claim. */
  async #move(slot: Slot, target: string | undefined): Promise<void> {
    const pid = slot.pid;
    const token = slot.token;
    if (pid === undefined) return;
    slot.phase = 'stopping';
    const epoch = ++slot.epoch;
    let state: unknown;
    if (slot.spec.handoff !== undefined && target !== undefined) {
      try {
        state = await this.#withTimeout(Promise.resolve(slot.spec.handoff(pid, this.#node)), this.#settings.handoffTimeoutMs);
      } catch (error) {
        this.#log?.('warn', 'singleton_handoff_failed', `handoff of ${slot.key}: ${(error as Error).message}`);
      }
    }
    if (epoch !== slot.epoch || this.#closed) return; // lease or claim lost meanwhile: already killed
    await this.#stopProcess(pid);
    if (epoch !== slot.epoch || this.#closed) return;
    slot.pid = undefined;
    this.#emit({ type: 'stopped', key: slot.key, token, pid, why: this.#selfDraining ? 'drained' : 'moved' });
    await this.#release(slot, token, target, { state });
  }

  /** Tell `target` our instance of token `token` is stopped (with its state), then release. */
  async #release(slot: Slot, token: number, target: string | undefined, handed: { state: unknown } | undefined): Promise<void> {
    slot.phase = 'releasing';
    const epoch = ++slot.epoch;
    if (target !== undefined && target !== this.#me) {
      const message: SingletonMessage = { type: 'handoff', key: slot.key, revision: token, planned: handed !== undefined, state: handed?.state };
      try {
        this.group.distribution.sendControl(target, `singleton:${this.group.id}`, message);
      } catch (error) {
        this.#log?.('warn', 'singleton_handoff_unsent', `handoff of ${slot.key} to ${target}: ${(error as Error).message}`);
      }
    }
    try {
      await this.group.propose({ op: 'release_claim', key: slot.key, revision: token });
    } catch (error) {
      if (epoch !== slot.epoch || this.#closed) return;
      if (this.#holds(slot.key, token)) return this.#idle(slot, this.#settings.retryMs);
    }
    if (epoch !== slot.epoch || this.#closed) return;
    slot.token = 0;
    this.#idle(slot, 0);
  }

  /** Kill the instance now (lease expired, claim lost, closing): no handoff, no release. */
  #abort(slot: Slot, why: SingletonStopReason): void {
    slot.epoch++;
    if (slot.wake !== undefined) this.#clock.clearTimeout(slot.wake);
    slot.wake = undefined;
    const pid = slot.pid;
    slot.pid = undefined;
    if (pid !== undefined) {
      if (this.#node.started && this.#node.isAlive(pid)) this.#node.exit(pid, 'kill');
      this.#emit({ type: 'stopped', key: slot.key, token: slot.token, pid, why });
    }
    slot.phase = 'idle';
    if (!this.#closed) this.#idle(slot, this.#settings.retryMs);
  }

  async #stopProcess(pid: Pid): Promise<void> {
    if (!this.#node.started || !this.#node.isAlive(pid)) return;
    this.#node.exit(pid, 'shutdown');
    const deadline = this.#clock.now() + this.#settings.stopTimeoutMs;
    while (this.#node.started && this.#node.isAlive(pid) && this.#clock.now() < deadline) await this.#sleep(STOP_POLL_MS);
    if (this.#node.started && this.#node.isAlive(pid)) this.#node.exit(pid, 'kill');
  }

  #idle(slot: Slot, retryAfterMs: number): void {
    slot.phase = 'idle';
    slot.retryAt = this.#clock.now() + retryAfterMs;
    if (retryAfterMs > 0) this.#wakeAt(slot, slot.retryAt);
    else this.#reconcileSoon(slot.key);
  }

  #wakeAt(slot: Slot, at: number): void {
    if (slot.wake !== undefined || this.#closed) return;
    slot.wake = this.#clock.setTimeout(() => {
      slot.wake = undefined;
      this.#reconcile(slot);
    }, Math.max(0, at - this.#clock.now()));
  }

  #holds(key: string, token: number): boolean {
    const claim = this.group.state.names.claim(key);
    return claim !== undefined && claim.node === this.#me && claim.revision === token;
  }

  #drained(): boolean {
    for (const slot of this.#slots.values()) {
      if (slot.phase !== 'idle') return false;
      if (this.group.state.names.claim(slot.key)?.node === this.#me) return false;
    }
    return true;
  }

  // ---- leases ------------------------------------------------------------------------------

  #scheduleRenew(): void {
    this.#renewTimer = this.#clock.setTimeout(() => {
      if (this.#closed) return;
      this.#renew();
      this.#scheduleRenew();
    }, this.#settings.leaseMs / 4);
  }

  /** Renew every lease of ours with one ReadIndex barrier (see the header). */
  #renew(): void {
    const leased = [...this.#slots.values()].filter((slot) => slot.token !== 0 && slot.phase !== 'idle' && slot.phase !== 'releasing');
    if (this.#renewing || leased.length === 0) return;
    this.#renewing = true;
    const sentAt = this.#clock.now();
    this.group
      .readBarrier()
      .then(() => {
        for (const slot of leased) {
          if (this.#holds(slot.key, slot.token)) slot.leaseUntil = Math.max(slot.leaseUntil, sentAt + this.#settings.leaseMs);
          else this.#reconcileSoon(slot.key);
        }
        this.#scheduleExpiry();
      })
      .catch(() => undefined)
      .finally(() => {
        this.#renewing = false;
      });
  }

  #scheduleExpiry(): void {
    if (this.#closed) return;
    let earliest = Infinity;
    for (const slot of this.#slots.values()) if (slot.token !== 0 && slot.phase !== 'idle' && slot.phase !== 'releasing') earliest = Math.min(earliest, slot.leaseUntil);
    if (earliest === this.#expiryAt) return;
    if (this.#expiryTimer !== undefined) this.#clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryAt = earliest;
    if (earliest === Infinity) return;
    this.#expiryTimer = this.#clock.setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#expiryAt = Infinity;
      this.#expire();
    }, earliest - this.#clock.now());
  }

  #expire(): void {
    const now = this.#clock.now();
    for (const slot of this.#slots.values()) {
      if (slot.token === 0 || slot.phase === 'idle' || slot.phase === 'releasing' || slot.leaseUntil > now) continue;
      this.#log?.('warn', 'singleton_lease_expired', `lease of ${slot.key} (token ${slot.token}) expired: instance stopped`);
      this.#abort(slot, 'lease_expired');
    }
    this.#scheduleExpiry();
  }

  // ---- periodic upkeep ---------------------------------------------------------------------

  #scheduleCheck(): void {
    this.#checkTimer = this.#clock.setTimeout(() => {
      if (this.#closed) return;
      this.#releaseUnseenHolders();
      this.#forgetDrained();
      for (const slot of this.#slots.values()) this.#reconcile(slot);
      this.#scheduleCheck();
    }, this.#settings.checkIntervalMs);
  }

  /** As leader: release the claims of holders not seen for `ownerDownGraceMs`. */
  #releaseUnseenHolders(): void {
    const status = this.group.status();
    if (status.role !== 'leader') {
      this.#leaderTerm = 0;
      return;
    }
    const now = this.#clock.now();
    if (this.#leaderTerm !== status.term) {
      this.#leaderTerm = status.term;
      this.#leaderSince = now;
    }
    for (const claim of this.group.state.names.claims()) {
      if (claim.node === this.#me) continue;
      if (this.group.distribution.isConnected(claim.node)) {
        this.#lastSeen.set(claim.node, now);
        continue;
      }
      const seen = Math.max(this.#lastSeen.get(claim.node) ?? this.#leaderSince, this.#leaderSince);
      const id = `${claim.key}@${claim.revision}`;
      if (now - seen < this.#settings.ownerDownGraceMs || this.#releasing.has(id)) continue;
      this.#releasing.add(id);
      this.#log?.('info', 'singleton_holder_lost', `releasing ${claim.key}: ${claim.node} unseen for ${Math.round(now - seen)} ms`);
      this.group
        .propose({ op: 'release_claim', key: claim.key, revision: claim.revision })
        .catch(() => undefined)
        .finally(() => this.#releasing.delete(id));
    }
  }

  #forgetDrained(): void {
    const now = this.#clock.now();
    for (const [node, until] of this.#draining) if (until <= now) this.#draining.delete(node);
  }

  // ---- helpers -----------------------------------------------------------------------------

  #emit(event: SingletonEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log?.('warn', 'singleton_listener_failed', (error as Error).message);
      }
    }
  }

  /** Run an async step whose failures are logged, never unhandled. */
  #background(step: Promise<void>): void {
    step.catch((error: unknown) => this.#log?.('warn', 'singleton_step_failed', error instanceof Error ? error.message : String(error)));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.setTimeout(resolve, ms));
  }

  #withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => reject(fedError('timeout', `no answer in ${ms} ms`)), ms);
      promise.then(
        (value) => {
          this.#clock.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          this.#clock.clearTimeout(timer);
          reject(error instanceof FedError || error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }
}

function validateSettings(settings: typeof SINGLETON_DEFAULTS): void {
  for (const [name, value] of Object.entries(settings)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw fedError('config', `singleton ${name} must be a positive number, got ${String(value)}`);
  }
  if (settings.clockDriftMs >= settings.leaseMs) throw fedError('config', 'singleton clockDriftMs must be below leaseMs');
  if (settings.checkIntervalMs >= settings.leaseMs) throw fedError('config', 'singleton checkIntervalMs must be below leaseMs');
}

