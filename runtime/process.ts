/**
 * A process: an async function with a mailbox, and the `ProcessContext` it receives.
 *
 * Contract:
 * - `receive(match?, timeoutMs?)` is selective: it takes the oldest queued message `match`
 *   accepts and leaves every other message queued in arrival order. With a timeout it resolves
 *   to `TIMEOUT` when nothing matched in time (`timeoutMs` 0 polls). A process receives once at
 *   a time; a second concurrent `receive` is a `badarg`.
 * - A process that finds a matching message already queued pays no timer and no wait; a waiting
 *   process is resumed once, by the message that satisfies it (handed over directly, never
 *   queued).
 * - After a process has died (killed, exit signal, crash, `exitSelf`), every context operation
 *   that acts (send, spawn, link, monitor, receive, register, …) throws the `PROCESS_EXITED`
 *   sentinel, and a `receive` it was waiting in rejects with it, so its code unwinds (running
 *   `finally` blocks) without acting. Reading `self`, `node`, `alive` and `signal` still works.
 *   Code awaiting something else (a socket, a timer) resumes after death and is stopped at its
 *   next context operation; use `ctx.signal` (aborted at death) to cancel such waits early.
 * - Messages are handed over through promises, so a message that is itself a thenable (a
 *   Promise, or anything with a `then` method) is awaited by `receive` instead of returned:
 *   wrap such values (`{ promise }`) to pass them through.
 * - Exit reasons follow `signals.ts`: returning ends the process with `normal`; throwing an
 *   Error ends it with `{ error: message, code?, stack? }`.
 *
 * The `Process` object is the context itself (one allocation per process); all semantics of
 * signals live in the `ProcessHost` (the engine of `node.ts`).
 */
import type { Clock, TimerHandle } from './kernel/clock.js';
import { fedError } from './kernel/errors.js';
import { Pid, type Ref } from './pid.js';
import type { ExitReason, NameAtNode } from './signals.js';
import { type Mailbox, type MessageMatch, NO_MESSAGE } from './mailbox.js';
import type { Node } from './node.js';

/** `receive(…, timeoutMs)` resolves to this when nothing matched in time. */
export const TIMEOUT: unique symbol = Symbol('fedctl.timeout');
export type Timeout = typeof TIMEOUT;

/** Thrown into (and by) a process's code once the process is dead. Never an `Error`: no stack. */
export class ProcessExited {
  readonly name = 'ProcessExited';
  toString(): string {
    return 'ProcessExited: this process has already exited';
  }
}
export const PROCESS_EXITED = Object.freeze(new ProcessExited());

export function isProcessExited(value: unknown): value is ProcessExited {
  return value === PROCESS_EXITED;
}

/** Sent to a process that traps exits, for every exit signal it receives. */
export interface ExitMessage {
  readonly type: 'EXIT';
  readonly from: Pid;
  readonly reason: ExitReason;
}

/** Sent to a monitoring process when the monitored process (or name) is gone. */
export interface DownMessage {
  readonly type: 'DOWN';
  readonly ref: Ref;
  readonly pid: Pid | NameAtNode;
  readonly reason: ExitReason;
}

export function isExitMessage(msg: unknown): msg is ExitMessage {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'EXIT';
}

export function isDownMessage(msg: unknown): msg is DownMessage {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'DOWN';
}

export type ProcessFn = (ctx: ProcessContext) => unknown;

export interface SpawnOptions {
  /** Register the new process under this local name (atomically with the spawn). */
  readonly name?: string;
  /** Start with exits trapped. */
  readonly trapExit?: boolean;
  /**
   * Most messages the mailbox may hold (a message handed straight to a waiting receive is never
   * queued, so it always gets through). What a plain `send` to a full mailbox does is
   * `mailboxOverflow`; senders are never blocked. A sender that wants to know, whatever the
   * policy, uses `trySend`, which answers `{ ok: false, code: 'mailbox_full' }` instead.
   * Default: the node's `mailboxMessagesMax`.
   */
  readonly mailboxMessagesMax?: number;
  /**
   * The policy for a message arriving at a full mailbox: `kill` (default) ends the process with
   * reason `{ error, code: 'mailbox_full' }` (as Erlang's max_heap_size); `drop_newest` drops the
   * arriving message; `drop_oldest` drops the oldest queued message to make room; `reject`
   * refuses the arriving message and tells a sender that can be told: a `call` (server.ts) from
   * this node rejects at once with FedError `mailbox_full` instead of waiting for its timeout,
   * and `trySend` answers `mailbox_full`; a plain `send` still never throws (Erlang semantics,
   * which the runtime's own notifications rely on), so its message is refused silently.
   * Every drop, refusal and kill is counted in `Node.messageStats()`.
   */
  readonly mailboxOverflow?: MailboxOverflow;
}

export type MailboxOverflow = 'kill' | 'drop_newest' | 'drop_oldest' | 'reject';

/**
 * What `trySend` answers: `{ ok: true }` when delivered (or handed to the distribution, or
 * dropped for a dead pid, as `send` would), `{ ok: false, code: 'mailbox_full' }` when the
 * local target's mailbox is full and nothing was queued.
 */
export type TrySendResult = { readonly ok: true } | { readonly ok: false; readonly code: 'mailbox_full' };

export type SendTarget = Pid | string | NameAtNode;

export interface ProcessContext {
  readonly self: Pid;
  readonly node: Node;
  /** False once the process has died. */
  readonly alive: boolean;
  /** Aborted when the process dies (created on first use). */
  readonly signal: AbortSignal;
  receive<T>(match: (msg: unknown) => msg is T): Promise<T>;
  receive<T = unknown>(match?: MessageMatch): Promise<T>;
  receive<T>(match: (msg: unknown) => msg is T, timeoutMs: number): Promise<T | Timeout>;
  receive<T = unknown>(match: MessageMatch | undefined, timeoutMs: number): Promise<T | Timeout>;
  /** Wait `delayMs` without taking any message (Erlang's `receive after`). */
  sleep(delayMs: number): Promise<void>;
  /**
   * Never blocks, and never throws for a dead pid, a pid on another node or a full mailbox (what
   * happens to the message is the target's `mailboxOverflow`). Throws `badarg` for a local
   * name nobody holds (as Erlang's `Name ! Msg`).
   */
  send(to: SendTarget, msg: unknown): void;
  /**
   * `send` for senders that ask: to a local process whose mailbox is full (whatever its
   * policy) it delivers nothing and answers `{ ok: false, code: 'mailbox_full' }` (counted as
   * rejected). Remote targets and dead pids answer `{ ok: true }`, as `send` would silently
   * carry or drop them. Throws only what `send` throws for a bad target.
   */
  trySend(to: SendTarget, msg: unknown): TrySendResult;
  spawn(fn: ProcessFn, options?: SpawnOptions): Pid;
  spawnLink(fn: ProcessFn, options?: SpawnOptions): Pid;
  spawnMonitor(fn: ProcessFn, options?: SpawnOptions): { pid: Pid; ref: Ref };
  link(pid: Pid): void;
  unlink(pid: Pid): void;
  monitor(target: SendTarget): Ref;
  /** Remove a monitor; with `flush`, also drop a DOWN for it already queued. */
  demonitor(ref: Ref, options?: { flush?: boolean }): void;
  /** Send an exit signal (Erlang's exit/2). */
  exit(pid: Pid, reason: ExitReason): void;
  /** End this process now with `reason` (Erlang's exit/1). */
  exitSelf(reason: ExitReason): never;
  /** Turn exit signals into `EXIT` messages; returns the previous setting. */
  trapExit(on: boolean): boolean;
  register(name: string): void;
  unregister(name: string): void;
  whereis(name: string): Pid | undefined;
  makeRef(): Ref;
  /** Number of messages queued (not counting one handed to a waiting receive). */
  messageCount(): number;
}

/** What a process needs from its node. Implemented by the engine in `node.ts`. */
export interface ProcessHost {
  readonly facade: Node;
  readonly clock: Clock;
  /** The node's name and creation, for the pids of its processes. */
  readonly name: string;
  readonly creation: number;
  /** False when a local mailbox of policy `reject` refused the message. */
  send(from: Process, to: SendTarget, msg: unknown): boolean;
  trySend(from: Process, to: SendTarget, msg: unknown): TrySendResult;
  spawn(fn: ProcessFn, options: SpawnOptions | undefined, parent: Process | undefined): Process;
  link(proc: Process, pid: Pid): void;
  unlink(proc: Process, pid: Pid): void;
  monitor(proc: Process, target: SendTarget): Ref;
  demonitor(proc: Process, ref: Ref): void;
  exit(from: Pid, to: Pid, reason: ExitReason): void;
  terminate(proc: Process, reason: ExitReason): void;
  register(name: string, pid: Pid): void;
  unregister(name: string): void;
  whereis(name: string): Pid | undefined;
  makeRef(): Ref;
  receiveTimedOut(proc: Process): void;
  /** A settled receive: resolved now, or after the event loop's next turn (see engine.ts). */
  resumeWith(proc: Process, value: unknown): Promise<unknown>;
  /** Send a call reply to `to`, dropped unless `to` still waits for `tag`. */
  reply(to: Pid, tag: Ref, value: unknown): void;
  activateAlias(proc: Process, tag: Ref): void;
  deactivateAlias(proc: Process, tag: Ref): void;
  matchFailed(proc: Process, error: unknown): void;
}

export interface HeldMonitor {
  readonly ref: Ref;
  /** As given to `monitor` (pid or name), reported back in DOWN. */
  readonly target: Pid | NameAtNode;
  /** The local process a name resolved to, for demonitor. */
  readonly resolved: Pid | undefined;
}

export interface Watcher {
  readonly ref: Ref;
  readonly watcher: Pid;
  readonly target: Pid | NameAtNode;
}

/** The rarely used part of a process, allocated on first use (keeps idle processes small). */
export class ProcessExtra {
  /** Linked pids by key (local id, or printed form for remote pids). */
  links: Map<number | string, Pid> | null = null;
  /** Monitors this process holds, by local ref id. */
  monitors: Map<number, HeldMonitor> | null = null;
  /** Monitors on this process, by ref key. */
  watchers: Map<number | string, Watcher> | null = null;
  /** Active call tags (ref ids): replies to any other tag are dropped. */
  aliases: Set<number> | null = null;
  /** Nodes this process has links or monitors with (for `nodeDown`). */
  remoteNodes: Set<string> | null = null;
  registeredName: string | undefined = undefined;
  abortController: AbortController | null = null;
  /** Called once, at death (used by `Node.run`). */
  onExit: ((reason: ExitReason) => void) | null = null;
  /** Overrides the node's mailbox bound. */
  mailboxMessagesMax: number | undefined = undefined;
  /** What a message arriving at a full mailbox does (default `kill`). */
  mailboxOverflow: MailboxOverflow | undefined = undefined;
  /** The timer of a receive with a timeout (processes that use timeouts also call, link or monitor, so they have an extra anyway). */
  waitTimer: TimerHandle | null = null;
  /** Exit signals become EXIT messages. */
  trapping = false;
}

/** The exit state of a live process (no exit reason can be this object). */
const ALIVE: unique symbol = Symbol('fedctl.alive');

export class Process implements ProcessContext {
  readonly host: ProcessHost;
  /** The id of this process on its node; its pid (`self`) is made on first use. */
  readonly id: number;
  #self: Pid | null = null;
  mailbox: Mailbox | null = null;
  /** Resolves the pending receive; at death it is resolved with a rejected promise. */
  waitResolve: ((value: unknown) => void) | null = null;
  /** The pending receive's promise, marked handled before it is rejected at death. */
  waitPromise: Promise<unknown> | null = null;
  waitMatch: MessageMatch | undefined = undefined;
  /** ALIVE until the process dies, then its exit reason (held here, so dying allocates nothing). */
  #exit: ExitReason | typeof ALIVE = ALIVE;
  /** Messages handed to this process so far (introspection: message rate per process). */
  messagesReceived = 0;
  extra: ProcessExtra | null = null;

  get waitTimer(): TimerHandle | null {
    return this.extra === null ? null : this.extra.waitTimer;
  }
  set waitTimer(value: TimerHandle | null) {
    if (value !== null || this.extra !== null) (this.extra ??= new ProcessExtra()).waitTimer = value;
  }
  get trapping(): boolean {
    return this.extra === null ? false : this.extra.trapping;
  }
  set trapping(value: boolean) {
    if (value || this.extra !== null) (this.extra ??= new ProcessExtra()).trapping = value;
  }
  get links(): Map<number | string, Pid> | null {
    return this.extra === null ? null : this.extra.links;
  }
  set links(value: Map<number | string, Pid> | null) {
    if (value !== null || this.extra !== null) (this.extra ??= new ProcessExtra()).links = value;
  }
  get monitors(): Map<number, HeldMonitor> | null {
    return this.extra === null ? null : this.extra.monitors;
  }
  set monitors(value: Map<number, HeldMonitor> | null) {
    if (value !== null || this.extra !== null) (this.extra ??= new ProcessExtra()).monitors = value;
  }
  get watchers(): Map<number | string, Watcher> | null {
    return this.extra === null ? null : this.extra.watchers;
  }
  set watchers(value: Map<number | string, Watcher> | null) {
    if (value !== null || this.extra !== null) (this.extra ??= new ProcessExtra()).watchers = value;
  }
  get aliases(): Set<number> | null {
    return this.extra === null ? null : this.extra.aliases;
  }
  set aliases(value: Set<number> | null) {
    if (value !== null || this.extra !== null) (this.extra ??= new ProcessExtra()).aliases = value;
  }
  get remoteNodes(): Set<string> | null {
    return this.extra === null ? null : this.extra.remoteNodes;
  }
  set remoteNodes(value: Set<string> | null) {
    if (value !== null || this.extra !== null) (this.extra ??= new ProcessExtra()).remoteNodes = value;
  }
  get registeredName(): string | undefined {
    return this.extra === null ? undefined : this.extra.registeredName;
  }
  set registeredName(value: string | undefined) {
    if (value !== undefined || this.extra !== null) (this.extra ??= new ProcessExtra()).registeredName = value;
  }
  get isAlive(): boolean {
    return this.#exit === ALIVE;
  }
  /** Undefined while alive. */
  get exitReason(): ExitReason | undefined {
    const exit = this.#exit;
    return exit === ALIVE ? undefined : exit;
  }
  /** Mark the process dead with `reason` (once; the engine's `terminate` does the rest). */
  markExited(reason: ExitReason): void {
    this.#exit = reason;
  }
  get abortController(): AbortController | null {
    return this.extra === null ? null : this.extra.abortController;
  }
  set abortController(value: AbortController | null) {
    if (value !== null || this.extra !== null) (this.extra ??= new ProcessExtra()).abortController = value;
  }
  get onExit(): ((reason: ExitReason) => void) | null {
    return this.extra === null ? null : this.extra.onExit;
  }
  set onExit(value: ((reason: ExitReason) => void) | null) {
    if (value !== null || this.extra !== null) (this.extra ??= new ProcessExtra()).onExit = value;
  }

  constructor(host: ProcessHost, id: number) {
    this.host = host;
    this.id = id;
  }

  get self(): Pid {
    return (this.#self ??= new Pid(this.host.name, this.id, this.host.creation));
  }

  /**
   * This process's pid for a caller that hands it out (`spawn`): `self` if already made, else a
   * fresh equal value that the process does not keep — a process that never needs its own pid
   * (an idle one) never holds one.
   */
  pid(): Pid {
    return this.#self ?? new Pid(this.host.name, this.id, this.host.creation);
  }

  get node(): Node {
    return this.host.facade;
  }

  get alive(): boolean {
    return this.isAlive;
  }

  get signal(): AbortSignal {
    if (this.abortController === null) {
      this.abortController = new AbortController();
      if (!this.isAlive) this.abortController.abort(this.exitReason);
    }
    return this.abortController.signal;
  }

  receive<T>(match: (msg: unknown) => msg is T): Promise<T>;
  receive<T = unknown>(match?: MessageMatch): Promise<T>;
  receive<T>(match: (msg: unknown) => msg is T, timeoutMs: number): Promise<T | Timeout>;
  receive<T = unknown>(match: MessageMatch | undefined, timeoutMs: number): Promise<T | Timeout>;
  receive<T = unknown>(match?: MessageMatch, timeoutMs?: number): Promise<T> {
    if (!this.isAlive) throw PROCESS_EXITED;
    if (this.waitResolve !== null) throw fedError('badarg', 'a process can receive only once at a time');
    const mailbox = this.mailbox;
    if (mailbox !== null && mailbox.size > 0) {
      let msg: unknown;
      try {
        msg = mailbox.take(match);
      } catch (error) {
        this.host.matchFailed(this, error);
        throw PROCESS_EXITED;
      }
      if (msg !== NO_MESSAGE) return this.host.resumeWith(this, msg) as Promise<T>;
    }
    if (timeoutMs === 0) return this.host.resumeWith(this, TIMEOUT) as Promise<T>;
    if (timeoutMs !== undefined && !(timeoutMs >= 0)) throw fedError('badarg', `invalid timeout ${String(timeoutMs)}`);
    const promise = new Promise<T>(captureResolve);
    this.waitResolve = capturedResolve;
    capturedResolve = null;
    this.waitMatch = match;
    this.waitPromise = promise;
    if (timeoutMs !== undefined && timeoutMs !== Infinity) {
      this.waitTimer = this.host.clock.setTimeout(() => this.host.receiveTimedOut(this), timeoutMs);
    }
    return promise;
  }

  async sleep(delayMs: number): Promise<void> {
    await this.receive(neverMatches, delayMs);
  }

  send(to: SendTarget, msg: unknown): void {
    if (!this.isAlive) throw PROCESS_EXITED;
    this.host.send(this, to, msg);
  }

  trySend(to: SendTarget, msg: unknown): TrySendResult {
    if (!this.isAlive) throw PROCESS_EXITED;
    return this.host.trySend(this, to, msg);
  }

  spawn(fn: ProcessFn, options?: SpawnOptions): Pid {
    if (!this.isAlive) throw PROCESS_EXITED;
    return this.host.spawn(fn, options, undefined).pid();
  }

  spawnLink(fn: ProcessFn, options?: SpawnOptions): Pid {
    if (!this.isAlive) throw PROCESS_EXITED;
    return this.host.spawn(fn, options, this).self;
  }

  spawnMonitor(fn: ProcessFn, options?: SpawnOptions): { pid: Pid; ref: Ref } {
    if (!this.isAlive) throw PROCESS_EXITED;
    const pid = this.host.spawn(fn, options, undefined).pid();
    return { pid, ref: this.host.monitor(this, pid) };
  }

  link(pid: Pid): void {
    if (!this.isAlive) throw PROCESS_EXITED;
    this.host.link(this, pid);
    if (!this.isAlive) throw PROCESS_EXITED;
  }

  unlink(pid: Pid): void {
    if (!this.isAlive) throw PROCESS_EXITED;
    this.host.unlink(this, pid);
  }

  monitor(target: SendTarget): Ref {
    if (!this.isAlive) throw PROCESS_EXITED;
    return this.host.monitor(this, target);
  }

  demonitor(ref: Ref, options?: { flush?: boolean }): void {
    if (!this.isAlive) throw PROCESS_EXITED;
    this.host.demonitor(this, ref);
    if (options?.flush === true && this.mailbox !== null) {
      while (this.mailbox.take((msg) => isDownMessage(msg) && msg.ref.equals(ref)) !== NO_MESSAGE);
    }
  }

  exit(pid: Pid, reason: ExitReason): void {
    if (!this.isAlive) throw PROCESS_EXITED;
    this.host.exit(this.self, pid, reason);
    if (!this.isAlive) throw PROCESS_EXITED;
  }

  exitSelf(reason: ExitReason): never {
    if (this.isAlive) this.host.terminate(this, reason);
    throw PROCESS_EXITED;
  }

  trapExit(on: boolean): boolean {
    if (!this.isAlive) throw PROCESS_EXITED;
    const previous = this.trapping;
    this.trapping = on;
    return previous;
  }

  register(name: string): void {
    if (!this.isAlive) throw PROCESS_EXITED;
    this.host.register(name, this.self);
  }

  unregister(name: string): void {
    if (!this.isAlive) throw PROCESS_EXITED;
    this.host.unregister(name);
  }

  whereis(name: string): Pid | undefined {
    return this.host.whereis(name);
  }

  makeRef(): Ref {
    return this.host.makeRef();
  }

  messageCount(): number {
    return this.mailbox === null ? 0 : this.mailbox.size;
  }
}

/**
 * A shared promise executor: it parks the resolve function here for `receive` to pick up, so a
 * wait allocates no executor closure.
 */
let capturedResolve: ((value: unknown) => void) | null = null;
export function captureResolve(resolve: (value: never) => void): void {
  capturedResolve = resolve as (value: unknown) => void;
}

/** The resolve function the last `new Promise(captureResolve)` parked. */
export function takeCapturedResolve(): (value: unknown) => void {
  const resolve = capturedResolve as (value: unknown) => void;
  capturedResolve = null;
  return resolve;
}

function neverMatches(): boolean {
  return false;
}

/** The exit reason for a value a process threw. */
export function reasonFromThrown(thrown: unknown): ExitReason {
  if (thrown instanceof Error) {
    const code = (thrown as { code?: unknown }).code;
    const reason: { error: string; code?: string; stack?: string } = { error: describeThrown(thrown.message) };
    if (typeof code === 'string') reason.code = code;
    if (thrown.stack !== undefined) reason.stack = thrown.stack;
    return reason;
  }
  return { error: describeThrown(thrown) };
}

/** A printable form of any thrown value; never throws itself. */
function describeThrown(thrown: unknown): string {
  try {
    return String(thrown);
  } catch {
    return Object.prototype.toString.call(thrown);
  }
}

/** `normal`, `shutdown` and `{shutdown: _}` are clean exits (a transient child is not restarted). */
export function isCleanExit(reason: ExitReason): boolean {
  return (
    reason === 'normal' ||
    reason === 'shutdown' ||
    (typeof reason === 'object' && reason !== null && 'shutdown' in reason)
  );
}
