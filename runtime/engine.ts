/**
 * The engine of one node: the process table, local names, and the semantics of every signal
 * (messages, links, exit signals, monitors). `Node` (node.ts) is its public face.
 *
 * Contract:
 * - Every operation that involves another process is a `Signal` passed to `dispatch`, which
 *   handles it here when `signal.to.node` is this node and hands it to the `SignalRouter`
 *   otherwise (with no router, as to an unreachable node: messages dropped, `link` answered by
 *   an `exit` and `monitor` by a `down`, both with `noconnection`). Local `send` to a pid takes
 *   a fast path with the same meaning.
 * - Delivery is synchronous, so signals between two processes arrive in the order sent. Deaths
 *   are processed iteratively (a work list), so a chain of a million links cannot overflow the
 *   stack.
 * - A process dies exactly once: it leaves the table, frees its name, clears its receive timer,
 *   has its pending receive rejected with `PROCESS_EXITED`, then its links get exit signals and
 *   its watchers DOWN messages (links first, then monitors, so a supervisor sees EXIT then DOWN).
 * - Processes start in a microtask after `spawn` returns, all pending starts in one batch.
 * - A call's alias (its tag, server.ts) is active from `activateAlias` until the first reply
 *   with it is delivered, the receive waiting for it times out, `deactivateAlias`, or death;
 *   a reply to an inactive alias is dropped, so a late reply never reaches a mailbox.
 * - Nothing a process does (throwing, a throwing receive predicate) escapes as an unhandled
 *   rejection or crashes the node: it ends that process with a reason.
 * - Fairness: processes resume in microtasks, which would starve the event loop (timers,
 *   sockets, heartbeats) under a busy pair of processes. So after `WAKEUPS_PER_TURN_MAX`
 *   wake-ups the next ones are deferred to a `setImmediate`, letting I/O and timers run: a
 *   preemption point every few thousand messages, like Erlang's reductions.
 */
import type { Clock } from './kernel/clock.js';
import { fedError } from './kernel/errors.js';
import { LIMITS } from './kernel/limits.js';
import { Mailbox } from './mailbox.js';
import { ProcessTable } from './process-table.js';
import type { Node } from './node.js';
import { Pid, Ref } from './pid.js';
import {
  PROCESS_EXITED,
  Process,
  ProcessExtra,
  type ProcessFn,
  type ProcessHost,
  type SendTarget,
  type SpawnOptions,
  TIMEOUT,
  type TrySendResult,
  captureResolve,
  reasonFromThrown,
  takeCapturedResolve,
} from './process.js';
import type { ExitReason, NameAtNode, Signal, SignalRouter } from './signals.js';

/** The id of the pseudo-pid that signals sent from outside any process come from. */
export const OUTSIDE_PID_ID = 0;

/** Wake-ups (receives resolved) between two chances for the event loop to run. */
export const WAKEUPS_PER_TURN_MAX = 20_000;

export type EngineState = 'running' | 'stopping' | 'stopped';

/** A reply to a `call`: delivered only while the caller's alias (the call tag) is active. */
export interface ReplyMessage {
  readonly type: '$reply';
  readonly tag: Ref;
  readonly value: unknown;
}

export function isReplyMessage(msg: unknown): msg is ReplyMessage {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    (msg as { type?: unknown }).type === '$reply' &&
    (msg as { tag?: unknown }).tag instanceof Ref
  );
}

export function isNameAtNode(value: unknown): value is NameAtNode {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { node?: unknown }).node === 'string'
  );
}

/** Message counters of one node (see `Node.messageStats()`); only ever increase. */
export interface MessageStats {
  /** Sends from this node to a process (pid or name) of this node, except those a full mailbox refused (counted in `rejected`). */
  sentLocal: number;
  /** Sends from this node handed to the distribution for another node. */
  sentRemote: number;
  /**
   * Messages a local process accepted (from any node): handed to its waiting receive or queued.
   * A message dropped or refused on arrival is not counted; one queued and later pushed out by
   * `drop_oldest` was (and is counted again in `droppedOldest`).
   */
  delivered: number;
  /** Arriving messages dropped by `drop_newest` mailboxes. */
  droppedNewest: number;
  /** Queued messages dropped by `drop_oldest` mailboxes to make room. */
  droppedOldest: number;
  /** Messages refused by a full mailbox: every `trySend` answered `mailbox_full`, and every arrival at a `reject` mailbox. */
  rejected: number;
  /** Processes killed with `mailbox_full` (policy `kill`); the message that overflowed is not delivered. */
  killedMailboxFull: number;
}

/** What `deliver` did with a message: accepted (handed to the waiting receive, or queued) … */
export const ACCEPTED = 0;
/** … dropped (dead target, `drop_newest`, `kill`, a throwing receive predicate) … */
export const DROPPED = 1;
/** … or refused by a full mailbox (policy `reject`, or any policy for `trySend`). */
export const REFUSED = 2;
export type DeliverOutcome = typeof ACCEPTED | typeof DROPPED | typeof REFUSED;

export class Engine implements ProcessHost {
  readonly facade: Node;
  readonly name: string;
  readonly creation: number;
  readonly clock: Clock;
  readonly outsidePid: Pid;
  state: EngineState = 'running';
  /** Default mailbox bound of every process (see SpawnOptions.mailboxMessagesMax). */
  mailboxMessagesMax = Infinity;
  router: SignalRouter | undefined = undefined;
  readonly messageStats: MessageStats = {
    sentLocal: 0,
    sentRemote: 0,
    delivered: 0,
    droppedNewest: 0,
    droppedOldest: 0,
    rejected: 0,
    killedMailboxFull: 0,
  };
  readonly #processes = new ProcessTable<Process>(OUTSIDE_PID_ID + 1);
  readonly #names = new Map<string, Process>();
  /** Local processes with links or monitors involving each remote node. */
  readonly #remoteInterest = new Map<string, Set<Process>>();
  #nextRefId = 1;
  /**
   * The processes to start, as runs of consecutive ids spawned with the same function: pairs of
   * (function, first id). A run ends where the next begins, the last one at the table's next id,
   * so spawning N processes of one function queues one pair — no per-process entry, which at a
   * million spawns would be a 16 MB array of fresh pointers for every scavenge to trace. The
   * processes themselves are found in the table (one that died before starting is not there).
   */
  #runQueue: Array<ProcessFn | number> = [];
  #runScheduled = false;
  readonly #runBound = (): void => this.#runPending();
  readonly #dying: Array<Process | undefined> = [];
  #draining = false;
  #onEmpty: (() => void) | null = null;
  #wakeupsLeft = WAKEUPS_PER_TURN_MAX;
  /** Deferred wake-ups, in triples: process, resolve, value. */
  #deferred: unknown[] = [];
  #deferredScheduled = false;
  readonly #flushBound = (): void => this.#flushDeferred();

  constructor(facade: Node, name: string, creation: number, clock: Clock) {
    this.facade = facade;
    this.name = name;
    this.creation = creation;
    this.clock = clock;
    this.outsidePid = new Pid(name, OUTSIDE_PID_ID, creation);
  }

  get processCount(): number {
    return this.#processes.size;
  }

  // ---- processes -------------------------------------------------------------------------

  spawn(fn: ProcessFn, options: SpawnOptions | undefined, parent: Process | undefined): Process {
    if (this.state !== 'running') throw fedError('shutdown', `node ${this.name} is stopping`);
    if (typeof fn !== 'function') throw fedError('badarg', 'spawn needs a function');
    const name = options?.name;
    if (name !== undefined) this.#checkNameFree(name);
    if (options?.mailboxMessagesMax !== undefined) checkMailboxBound(options.mailboxMessagesMax);
    if (options?.mailboxOverflow !== undefined) checkMailboxOverflow(options.mailboxOverflow);
    const proc = new Process(this, this.#processes.nextId);
    this.#processes.add(proc);
    const runs = this.#runQueue;
    if (runs.length === 0 || runs[runs.length - 2] !== fn) runs.push(fn, proc.id);
    if (name !== undefined) {
      this.#names.set(name, proc);
      proc.registeredName = name;
    }
    if (options?.trapExit === true) proc.trapping = true;
    if (options?.mailboxMessagesMax !== undefined) {
      (proc.extra ??= new ProcessExtra()).mailboxMessagesMax = options.mailboxMessagesMax;
    }
    if (options?.mailboxOverflow !== undefined) (proc.extra ??= new ProcessExtra()).mailboxOverflow = options.mailboxOverflow;
    if (parent !== undefined) {
      this.#addLink(parent, proc.self);
      this.#addLink(proc, parent.self);
    }
    if (!this.#runScheduled) {
      this.#runScheduled = true;
      queueMicrotask(this.#runBound);
    }
    return proc;
  }

  localProcess(pid: Pid): Process | undefined {
    if (pid.node !== this.name || pid.creation !== this.creation) return undefined;
    return this.#processes.get(pid.id);
  }

  /** Every live process, oldest first. */
  processes(): Process[] {
    return this.#processes.values();
  }

  /** Start every queued process in id order (spawn order), including those spawned meanwhile. */
  #runPending(): void {
    const runs = this.#runQueue;
    const table = this.#processes;
    for (let index = 0; index < runs.length; index += 2) {
      const fn = runs[index] as ProcessFn;
      // Re-read each time: a starting process may spawn, extending the last run or adding one.
      for (let id = runs[index + 1] as number; id < (index + 2 < runs.length ? (runs[index + 3] as number) : table.nextId); id++) {
        const proc = table.get(id);
        if (proc !== undefined) this.#start(proc, fn);
      }
    }
    this.#runQueue = [];
    this.#runScheduled = false;
  }

  #start(proc: Process, fn: ProcessFn): void {
    if (!proc.isAlive) return;
    try {
      const result = fn(proc);
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        trackCompletion(proc, result as PromiseLike<unknown>);
      } else {
        this.#bodyReturned(proc);
      }
    } catch (error) {
      // The body threw synchronously, or returned a thenable whose `then` threw.
      this.#bodyThrew(proc, error);
    }
  }

  #bodyReturned(proc: Process): void {
    if (proc.isAlive) this.terminate(proc, 'normal');
  }

  #bodyThrew(proc: Process, error: unknown): void {
    if (proc.isAlive) this.terminate(proc, reasonFromThrown(error));
  }

  /** End `proc` with `reason` (no-op if already dead); notifications follow iteratively. */
  terminate(proc: Process, reason: ExitReason): void {
    if (!proc.isAlive) return;
    proc.markExited(reason);
    this.#processes.delete(proc);
    if (proc.registeredName !== undefined) {
      this.#names.delete(proc.registeredName);
      proc.registeredName = undefined;
    }
    this.#abandonWait(proc);
    proc.mailbox = null;
    proc.aliases = null;
    proc.abortController?.abort(reason);
    const onExit = proc.onExit;
    proc.onExit = null;
    onExit?.(reason);
    this.#dying.push(proc);
    if (!this.#draining) this.#drainDying();
  }

  #abandonWait(proc: Process): void {
    if (proc.waitTimer !== null) {
      this.clock.clearTimeout(proc.waitTimer);
      proc.waitTimer = null;
    }
    const resolve = proc.waitResolve;
    const promise = proc.waitPromise;
    proc.waitResolve = null;
    proc.waitPromise = null;
    proc.waitMatch = undefined;
    if (resolve !== null) {
      promise?.then(undefined, ignore);
      resolve(EXITED_REJECTION);
    }
  }

  #drainDying(): void {
    this.#draining = true;
    try {
      const dying = this.#dying;
      for (let index = 0; index < dying.length; index++) {
        const proc = dying[index] as Process;
        dying[index] = undefined;
        this.#notifyDeath(proc);
      }
    } finally {
      this.#dying.length = 0;
      this.#draining = false;
    }
    if (this.#processes.size === 0 && this.#onEmpty !== null) {
      const onEmpty = this.#onEmpty;
      this.#onEmpty = null;
      onEmpty();
    }
  }

  #notifyDeath(proc: Process): void {
    const reason = proc.exitReason as ExitReason;
    const links = proc.links;
    const monitors = proc.monitors;
    const watchers = proc.watchers;
    proc.links = null;
    proc.monitors = null;
    proc.watchers = null;
    if (links !== null) {
      for (const pid of links.values()) {
        const other = this.localProcess(pid);
        if (other !== undefined) {
          other.links?.delete(proc.id);
          this.#applyExit(other, proc.self, reason, false);
        } else if (pid.node !== this.name) {
          this.dispatch({ kind: 'exit', from: proc.self, to: pid, reason });
        }
      }
    }
    if (monitors !== null) {
      for (const held of monitors.values()) this.#dropHeldMonitor(proc, held.ref, held.target, held.resolved);
    }
    if (watchers !== null) {
      for (const watch of watchers.values()) {
        this.dispatch({ kind: 'down', from: watch.target, to: watch.watcher, ref: watch.ref, reason });
      }
    }
    if (proc.remoteNodes !== null) {
      for (const node of proc.remoteNodes) this.#remoteInterest.get(node)?.delete(proc);
      proc.remoteNodes = null;
    }
  }

  // ---- messages ----------------------------------------------------------------------------

  /**
   * Hand `msg` to `proc`: to its waiting receive if that accepts it, else to its mailbox, where
   * a full mailbox applies its overflow policy (with `refuseWhenFull`, as for `trySend`, any
   * full mailbox refuses). Only an accepted message counts as delivered.
   */
  deliver(proc: Process, msg: unknown, refuseWhenFull = false): DeliverOutcome {
    if (!proc.isAlive) return DROPPED;
    const resolve = proc.waitResolve;
    if (resolve !== null) {
      const match = proc.waitMatch;
      let accepted = true;
      if (match !== undefined) {
        try {
          accepted = match(msg);
        } catch (error) {
          this.matchFailed(proc, error);
          return DROPPED;
        }
      }
      if (accepted) {
        proc.messagesReceived++;
        this.messageStats.delivered++;
        proc.waitResolve = null;
        proc.waitPromise = null;
        proc.waitMatch = undefined;
        if (proc.waitTimer !== null) {
          this.clock.clearTimeout(proc.waitTimer);
          proc.waitTimer = null;
        }
        if (--this.#wakeupsLeft >= 0) resolve(msg);
        else this.#defer(proc, resolve, msg);
        return ACCEPTED;
      }
    }
    let mailbox = proc.mailbox;
    if (mailbox === null) mailbox = proc.mailbox = new Mailbox();
    const extra = proc.extra;
    const bound = extra !== null && extra.mailboxMessagesMax !== undefined ? extra.mailboxMessagesMax : this.mailboxMessagesMax;
    if (mailbox.size >= bound) {
      const outcome = this.#overflow(proc, mailbox, refuseWhenFull);
      if (outcome !== ACCEPTED) return outcome;
    }
    proc.messagesReceived++;
    this.messageStats.delivered++;
    mailbox.push(msg);
    return ACCEPTED;
  }

  /** A message arrives at a full mailbox: apply the overflow policy; ACCEPTED when it may be queued. */
  #overflow(proc: Process, mailbox: Mailbox, refuseWhenFull: boolean): DeliverOutcome {
    const policy = refuseWhenFull ? 'reject' : (proc.extra?.mailboxOverflow ?? 'kill');
    switch (policy) {
      case 'drop_newest':
        this.messageStats.droppedNewest++;
        return DROPPED;
      case 'drop_oldest':
        this.messageStats.droppedOldest++;
        mailbox.take(undefined);
        return ACCEPTED;
      case 'reject':
        this.messageStats.rejected++;
        return REFUSED;
      case 'kill':
        this.messageStats.killedMailboxFull++;
        this.terminate(proc, MAILBOX_FULL);
        return DROPPED;
    }
  }

  /** `send`, but a full local mailbox (of any policy) refuses, answered instead of thrown. */
  trySend(from: Process | undefined, to: SendTarget, msg: unknown): TrySendResult {
    const target = this.#localTarget(to);
    if (target === undefined) {
      this.send(from, to, msg);
      return SENT_RESULT;
    }
    return this.#sendLocal(target, msg, true) ? SENT_RESULT : MAILBOX_FULL_RESULT;
  }

  /** A send to a live local process; false (and not counted as sent) when its full mailbox refused it. */
  #sendLocal(proc: Process, msg: unknown, refuseWhenFull: boolean): boolean {
    if (this.deliver(proc, msg, refuseWhenFull) === REFUSED) return false;
    this.messageStats.sentLocal++;
    return true;
  }

  #localTarget(to: SendTarget): Process | undefined {
    if (to instanceof Pid) return this.localProcess(to);
    if (typeof to === 'string') return this.#names.get(to);
    return isNameAtNode(to) && to.node === this.name ? this.#names.get(to.name) : undefined;
  }

  /**
   * Send `msg` (never blocks; throws only for a bad target). False when a local mailbox of
   * policy `reject` refused it — `send` itself ignores that (Erlang semantics), `call` turns
   * it into `mailbox_full`.
   */
  send(from: Process | undefined, to: SendTarget, msg: unknown): boolean {
    if (to instanceof Pid) {
      if (to.node === this.name) {
        const proc = to.creation === this.creation ? this.#processes.get(to.id) : undefined;
        if (proc !== undefined) return this.#sendLocal(proc, msg, false);
        this.messageStats.sentLocal++;
        return true;
      }
      this.messageStats.sentRemote++;
      this.dispatch({ kind: 'send', from: from?.self, to, msg });
      return true;
    }
    if (typeof to === 'string') {
      const proc = this.#names.get(to);
      if (proc === undefined) throw fedError('badarg', `no process is registered as ${JSON.stringify(to)}`, { name: to });
      return this.#sendLocal(proc, msg, false);
    }
    if (!isNameAtNode(to)) throw fedError('badarg', 'send target must be a pid, a name or {name, node}');
    if (to.node === this.name) {
      const proc = this.#names.get(to.name);
      if (proc !== undefined) return this.#sendLocal(proc, msg, false);
      this.messageStats.sentLocal++;
      return true;
    }
    this.messageStats.sentRemote++;
    this.dispatch({ kind: 'reg_send', from: from?.self, to: { name: to.name, node: to.node }, msg });
    return true;
  }

  /** Send a call reply; dropped unless the caller still waits for this tag. */
  reply(to: Pid, tag: Ref, value: unknown): void {
    const msg: ReplyMessage = { type: '$reply', tag, value };
    if (to.node === this.name) this.#deliverReply(to, msg);
    else this.dispatch({ kind: 'send', from: undefined, to, msg });
  }

  /** Deliver a reply if its alias is active; the first reply ends the alias (one reply per call). */
  #deliverReply(to: Pid, msg: ReplyMessage): void {
    const proc = this.localProcess(to);
    if (proc === undefined || !this.#isLocalRef(msg.tag)) return;
    if (proc.aliases?.delete(msg.tag.id) === true) this.deliver(proc, msg);
  }

  activateAlias(proc: Process, tag: Ref): void {
    (proc.aliases ??= new Set()).add(tag.id);
  }

  deactivateAlias(proc: Process, tag: Ref): void {
    proc.aliases?.delete(tag.id);
  }

  receiveTimedOut(proc: Process): void {
    proc.waitTimer = null;
    const resolve = proc.waitResolve;
    if (resolve === null) return;
    // Aliases are active only while a call waits for its reply in this very receive: once it
    // has timed out, a reply must not be queued in the gap before the caller resumes (which
    // can be a whole event-loop turn when this wake-up is deferred).
    proc.aliases?.clear();
    proc.waitResolve = null;
    proc.waitPromise = null;
    proc.waitMatch = undefined;
    if (--this.#wakeupsLeft >= 0) resolve(TIMEOUT);
    else this.#defer(proc, resolve, TIMEOUT);
  }

  resumeWith(proc: Process, value: unknown): Promise<unknown> {
    if (--this.#wakeupsLeft >= 0) return Promise.resolve(value);
    const promise = new Promise(captureResolve);
    this.#defer(proc, takeCapturedResolve(), value);
    return promise;
  }

  #defer(proc: Process, resolve: (value: unknown) => void, value: unknown): void {
    this.#deferred.push(proc, resolve, value);
    if (!this.#deferredScheduled) {
      this.#deferredScheduled = true;
      setImmediate(this.#flushBound);
    }
  }

  /** The event loop has had its turn: resume the deferred wake-ups (dead processes unwind). */
  #flushDeferred(): void {
    const deferred = this.#deferred;
    this.#deferred = [];
    this.#deferredScheduled = false;
    this.#wakeupsLeft = WAKEUPS_PER_TURN_MAX;
    for (let index = 0; index < deferred.length; index += 3) {
      const proc = deferred[index] as Process;
      const resolve = deferred[index + 1] as (value: unknown) => void;
      resolve(proc.isAlive ? deferred[index + 2] : EXITED_REJECTION);
    }
  }

  matchFailed(proc: Process, error: unknown): void {
    this.terminate(proc, reasonFromThrown(error));
  }

  // ---- links, exits, monitors ----------------------------------------------------------------

  link(proc: Process, pid: Pid): void {
    if (!(pid instanceof Pid)) throw fedError('badarg', 'link needs a pid');
    if (pid.equals(proc.self)) return;
    this.#addLink(proc, pid);
    this.dispatch({ kind: 'link', from: proc.self, to: pid });
  }

  unlink(proc: Process, pid: Pid): void {
    if (!(pid instanceof Pid)) throw fedError('badarg', 'unlink needs a pid');
    if (proc.links?.delete(this.#pidKey(pid)) !== true) return;
    this.dispatch({ kind: 'unlink', from: proc.self, to: pid });
  }

  exit(from: Pid, to: Pid, reason: ExitReason): void {
    if (!(to instanceof Pid)) throw fedError('badarg', 'exit needs a pid');
    this.dispatch({ kind: 'exit2', from, to, reason });
  }

  monitor(proc: Process, target: SendTarget): Ref {
    let to: Pid | NameAtNode;
    if (target instanceof Pid) to = target;
    else if (typeof target === 'string') to = { name: target, node: this.name };
    else if (isNameAtNode(target)) to = { name: target.name, node: target.node };
    else throw fedError('badarg', 'monitor target must be a pid, a name or {name, node}');
    const ref = this.makeRef();
    let resolved: Pid | undefined;
    if (to instanceof Pid) resolved = to;
    else if (to.node === this.name) resolved = this.#names.get(to.name)?.self;
    (proc.monitors ??= new Map()).set(ref.id, { ref, target: to, resolved });
    if (to.node !== this.name) this.#noteRemote(proc, to.node);
    this.dispatch({ kind: 'monitor', from: proc.self, to: resolved ?? to, ref });
    return ref;
  }

  demonitor(proc: Process, ref: Ref): void {
    if (!(ref instanceof Ref)) throw fedError('badarg', 'demonitor needs a ref');
    if (!this.#isLocalRef(ref)) return;
    const held = proc.monitors?.get(ref.id);
    if (held === undefined) return;
    proc.monitors?.delete(ref.id);
    this.#dropHeldMonitor(proc, ref, held.target, held.resolved);
  }

  #dropHeldMonitor(proc: Process, ref: Ref, target: Pid | NameAtNode, resolved: Pid | undefined): void {
    this.dispatch({ kind: 'demonitor', from: proc.self, to: resolved ?? target, ref });
  }

  /** Apply an exit signal to a live process. `direct` is exit/2, where `kill` is untrappable. */
  #applyExit(target: Process, from: Pid, reason: ExitReason, direct: boolean): void {
    if (!target.isAlive) return;
    if (direct && reason === 'kill') {
      this.terminate(target, 'killed');
    } else if (target.trapping) {
      this.deliver(target, { type: 'EXIT', from, reason });
    } else if (reason === 'normal') {
      if (from.equals(target.self)) this.terminate(target, 'normal');
    } else {
      this.terminate(target, reason);
    }
  }

  // ---- names -------------------------------------------------------------------------------

  register(name: string, pid: Pid): void {
    this.#checkNameFree(name);
    if (!(pid instanceof Pid)) throw fedError('badarg', 'register needs a pid');
    const proc = this.localProcess(pid);
    if (proc === undefined) throw fedError('noproc', `cannot register ${name}: ${pid.key} is not a live local process`);
    if (proc.registeredName !== undefined) {
      throw fedError('badarg', `${pid.key} is already registered as ${proc.registeredName}`);
    }
    this.#names.set(name, proc);
    proc.registeredName = name;
  }

  unregister(name: string): void {
    const proc = this.#names.get(name);
    if (proc === undefined) throw fedError('badarg', `no process is registered as ${JSON.stringify(name)}`);
    this.#names.delete(name);
    proc.registeredName = undefined;
  }

  whereis(name: string): Pid | undefined {
    return this.#names.get(name)?.self;
  }

  registeredNames(): string[] {
    return [...this.#names.keys()];
  }

  #checkNameFree(name: string): void {
    if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > LIMITS.nameBytesMax) {
      throw fedError('badarg', `invalid name ${JSON.stringify(name)}`);
    }
    const holder = this.#names.get(name);
    if (holder !== undefined) {
      throw fedError('name_taken', `${name} is already registered`, { holder: holder.self.key });
    }
  }

  makeRef(): Ref {
    return new Ref(this.name, this.#nextRefId++, this.creation);
  }

  // ---- signals -----------------------------------------------------------------------------

  /** The one place a signal is sent: handled here if addressed to this node, else routed. */
  dispatch(signal: Signal): void {
    if (signal.to.node === this.name) this.handleSignal(signal);
    else this.#route(signal);
  }

  #route(signal: Signal): void {
    if (this.router !== undefined && this.state !== 'stopped') {
      this.router.route(signal);
      return;
    }
    if (signal.kind === 'link') {
      this.handleSignal({ kind: 'exit', from: signal.to, to: signal.from, reason: 'noconnection' });
    } else if (signal.kind === 'monitor') {
      this.handleSignal({ kind: 'down', from: signal.to, to: signal.from, ref: signal.ref, reason: 'noconnection' });
    }
  }

  /** A signal addressed to this node. */
  handleSignal(signal: Signal): void {
    switch (signal.kind) {
      case 'send':
        return this.#onSend(signal.to, signal.msg);
      case 'reg_send': {
        const proc = this.#names.get(signal.to.name);
        if (proc !== undefined) this.deliver(proc, signal.msg);
        return;
      }
      case 'link':
        return this.#onLink(signal.from, signal.to);
      case 'unlink':
        this.localProcess(signal.to)?.links?.delete(this.#pidKey(signal.from));
        return;
      case 'exit': {
        const target = this.localProcess(signal.to);
        if (target?.links?.delete(this.#pidKey(signal.from)) === true) {
          this.#applyExit(target, signal.from, signal.reason, false);
        }
        return;
      }
      case 'exit2': {
        const target = this.localProcess(signal.to);
        if (target !== undefined) this.#applyExit(target, signal.from, signal.reason, true);
        return;
      }
      case 'monitor':
        return this.#onMonitor(signal.from, signal.to, signal.ref);
      case 'demonitor':
        this.#resolveTarget(signal.to)?.watchers?.delete(this.#refKey(signal.ref));
        return;
      case 'down':
        return this.#onDown(signal.to, signal.ref, signal.reason);
    }
  }

  #onSend(to: Pid, msg: unknown): void {
    if (isReplyMessage(msg)) {
      this.#deliverReply(to, msg);
      return;
    }
    const proc = this.localProcess(to);
    if (proc !== undefined) this.deliver(proc, msg);
  }

  #onLink(from: Pid, to: Pid): void {
    const target = this.localProcess(to);
    if (target === undefined) {
      this.dispatch({ kind: 'exit', from: to, to: from, reason: 'noproc' });
      return;
    }
    this.#addLink(target, from);
  }

  #onMonitor(from: Pid, to: Pid | NameAtNode, ref: Ref): void {
    const target = this.#resolveTarget(to);
    if (target === undefined) {
      this.dispatch({ kind: 'down', from: to, to: from, ref, reason: 'noproc' });
      return;
    }
    (target.watchers ??= new Map()).set(this.#refKey(ref), { ref, watcher: from, target: to });
    if (from.node !== this.name) this.#noteRemote(target, from.node);
  }

  #onDown(to: Pid, ref: Ref, reason: ExitReason): void {
    const watcher = this.localProcess(to);
    if (watcher === undefined || !this.#isLocalRef(ref)) return;
    const held = watcher.monitors?.get(ref.id);
    if (held === undefined) return;
    watcher.monitors?.delete(ref.id);
    // Report the target as the watcher named it (a name monitor resolved locally reports the name).
    this.deliver(watcher, { type: 'DOWN', ref, pid: held.target, reason });
  }

  #resolveTarget(to: Pid | NameAtNode): Process | undefined {
    return to instanceof Pid ? this.localProcess(to) : this.#names.get(to.name);
  }

  /** The other node is gone: its links and monitors end with `noconnection`. */
  nodeDown(nodeName: string): void {
    if (nodeName === this.name) return;
    const interested = this.#remoteInterest.get(nodeName);
    if (interested === undefined) return;
    this.#remoteInterest.delete(nodeName);
    for (const proc of interested) {
      if (!proc.isAlive) continue;
      proc.remoteNodes?.delete(nodeName);
      this.#forgetWatchersOn(proc, nodeName);
      this.#downMonitorsOn(proc, nodeName);
      this.#breakLinksTo(proc, nodeName);
    }
  }

  #forgetWatchersOn(proc: Process, nodeName: string): void {
    if (proc.watchers === null) return;
    for (const [key, watch] of proc.watchers) {
      if (watch.watcher.node === nodeName) proc.watchers.delete(key);
    }
  }

  #downMonitorsOn(proc: Process, nodeName: string): void {
    const monitors = proc.monitors;
    if (monitors === null) return;
    for (const [id, held] of monitors) {
      if (held.target.node !== nodeName) continue;
      monitors.delete(id);
      this.deliver(proc, { type: 'DOWN', ref: held.ref, pid: held.target, reason: 'noconnection' });
    }
  }

  #breakLinksTo(proc: Process, nodeName: string): void {
    const links = proc.links;
    if (links === null) return;
    for (const [key, pid] of links) {
      if (pid.node !== nodeName) continue;
      links.delete(key);
      this.#applyExit(proc, pid, 'noconnection', false);
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  #addLink(proc: Process, pid: Pid): void {
    (proc.links ??= new Map()).set(this.#pidKey(pid), pid);
    if (pid.node !== this.name) this.#noteRemote(proc, pid.node);
  }

  #noteRemote(proc: Process, nodeName: string): void {
    (proc.remoteNodes ??= new Set()).add(nodeName);
    let interested = this.#remoteInterest.get(nodeName);
    if (interested === undefined) {
      interested = new Set();
      this.#remoteInterest.set(nodeName, interested);
    }
    interested.add(proc);
  }

  #pidKey(pid: Pid): number | string {
    return pid.node === this.name && pid.creation === this.creation ? pid.id : pid.key;
  }

  #isLocalRef(ref: Ref): boolean {
    return ref.node === this.name && ref.creation === this.creation;
  }

  #refKey(ref: Ref): number | string {
    return this.#isLocalRef(ref) ? ref.id : ref.key;
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Send `shutdown` to every root process — one not linked to an older live process — oldest
   * first; the others are stopped by their links (a supervisor stops its children in its own
   * order). Whatever is left after `timeoutMs` is killed.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    for (const proc of this.processes()) {
      if (this.#isRoot(proc)) this.#applyExit(proc, this.outsidePid, 'shutdown', true);
    }
    if (this.#processes.size > 0) await this.#waitEmpty(timeoutMs);
    for (const proc of this.processes()) this.terminate(proc, 'killed');
    this.#remoteInterest.clear();
    this.state = 'stopped';
  }

  #isRoot(proc: Process): boolean {
    const links = proc.links;
    if (links === null) return true;
    for (const key of links.keys()) {
      if (typeof key === 'number' && key < proc.id) return false;
    }
    return true;
  }

  #waitEmpty(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.#onEmpty = null;
        resolve();
      }, timeoutMs);
      this.#onEmpty = () => {
        this.clock.clearTimeout(timer);
        resolve();
      };
    });
  }
}

function ignore(): void {}

/** The exit reason of a process killed for a full mailbox. */
export const MAILBOX_FULL: ExitReason = Object.freeze({ error: 'mailbox full', code: 'mailbox_full' });

const SENT_RESULT: TrySendResult = Object.freeze({ ok: true });
const MAILBOX_FULL_RESULT: TrySendResult = Object.freeze({ ok: false, code: 'mailbox_full' });
const MAILBOX_OVERFLOWS: ReadonlySet<string> = new Set(['kill', 'drop_newest', 'drop_oldest', 'reject']);

export function checkMailboxOverflow(policy: unknown): void {
  if (typeof policy !== 'string' || !MAILBOX_OVERFLOWS.has(policy)) {
    throw fedError('badarg', `mailboxOverflow must be kill, drop_newest, drop_oldest or reject, not ${String(policy)}`);
  }
}

export function checkMailboxBound(bound: number): void {
  if (!(bound === Infinity || (Number.isInteger(bound) && bound > 0))) {
    throw fedError('badarg', `mailboxMessagesMax must be a positive integer or Infinity, not ${String(bound)}`);
  }
}

/**
 * End `proc` when its body settles. The handlers are shared functions bound to the process:
 * two bound functions are the smallest per-process cost (smaller than two closures and their
 * context). They are anonymous on purpose: a transpiler keeping names (esbuild's keepNames,
 * used by tsx) redefines `name` on named functions, which sends `bind` down a path that costs
 * three times the memory.
 */
function trackCompletion(proc: Process, body: PromiseLike<unknown>): void {
  body.then(onBodyReturned.bind(proc), onBodyThrew.bind(proc));
}

function anonymous<T>(fn: T): T {
  return fn;
}

const onBodyReturned = anonymous(function (this: Process): void {
  if (this.isAlive) this.host.terminate(this, 'normal');
});

const onBodyThrew = anonymous(function (this: Process, error: unknown): void {
  if (this.isAlive) this.host.terminate(this, reasonFromThrown(error));
});

/** Resolving a receive with this rejects it: how a dead process's pending receive unwinds. */
const EXITED_REJECTION: Promise<never> = Promise.reject(PROCESS_EXITED);
EXITED_REJECTION.catch(ignore);
