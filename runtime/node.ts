/**
 * `Node`: one runtime instance — a name `name@host`, a creation number, its processes and local
 * names — and the hooks the distribution layer uses to join nodes.
 *
 * Contract:
 * - `start()` and `stop()` are idempotent. `stop()` sends `shutdown` to every process, oldest
 *   first (a supervisor, older than its children, stops them in its own order), waits up to
 *   `stopTimeoutMs`, kills what is left and clears every timer it owns; afterwards `spawn`
 *   throws `shutdown`. A stopped node cannot be started again (`closed`).
 * - Then `stop()` closes every attachment (the distribution, an endpoint, a store: whatever
 *   registered with `onStop`), last attached first, after the processes have ended (they may
 *   still talk to other nodes while they stop). Each hook gets `stopTimeoutMs`; one that throws
 *   or times out does not keep the others from running, and `stop()` rejects with its error
 *   (an AggregateError for several) once the node is stopped.
 * - `send` never throws for a dead pid or a pid on another node; to a local name nobody holds
 *   it throws `badarg` (as Erlang's `Name ! Msg`); to `{name, node}` it never throws. A full
 *   mailbox applies its policy (SpawnOptions.mailboxOverflow); `trySend` answers `{ ok: false,
 *   code: 'mailbox_full' }` for a full local mailbox of any policy, without queueing.
 * - `exit(pid, reason)` from outside any process comes from `outsidePid` (`<node#0.creation>`).
 * - Distribution: signals to other nodes go to the `SignalRouter` (see signals.ts); signals
 *   from other nodes come in through `deliverSignal`; `nodeDown(node)` ends every link and
 *   monitor across that node with `noconnection`.
 * - `creation` defaults to 1; a node that restarts must pass a new one (persisted by the
 *   distribution layer), so pids of the earlier incarnation are known dead.
 */
import { type Clock, SystemClock } from './kernel/clock.js';
import { fedError } from './kernel/errors.js';
import { Engine, type MessageStats, checkMailboxBound } from './engine.js';
import { type Pid, type Ref, assertNodeName } from './pid.js';
import {
  type ProcessContext,
  type ProcessFn,
  type SendTarget,
  type SpawnOptions,
  type TrySendResult,
  isProcessExited,
} from './process.js';
import type { ExitReason, Signal, SignalRouter } from './signals.js';

/** How long `stop()` waits for processes to finish after `shutdown` before killing them (and for each stop hook). */
export const STOP_TIMEOUT_MS_DEFAULT = 5_000;
/** Most stop hooks a node holds at once (one per attachment; more is a leak). */
export const STOP_HOOKS_MAX = 1_024;

/** Closes an attachment when its node stops (see `Node.onStop`). */
export type StopHook = () => void | Promise<void>;

export interface NodeOptions {
  /** `name@host`. */
  readonly name: string;
  /** Incarnation number, bumped at every start by whoever persists it. Default 1. */
  readonly creation?: number;
  /** Timers of receive timeouts and of `stop()`; with a SimulatedClock, time moves only when advanced. */
  readonly clock?: Clock;
  /** How long `stop()` waits after `shutdown` before killing what is left. */
  readonly stopTimeoutMs?: number;
  /** Default mailbox bound per process (default: unbounded, as Erlang); see SpawnOptions. */
  readonly mailboxMessagesMax?: number;
}

type NodeState = 'new' | 'started' | 'stopping' | 'stopped';

/** One live process as introspection sees it (a copy: it does not change afterwards). */
export interface ProcessInfo {
  readonly pid: Pid;
  readonly name: string | undefined;
  /** Messages queued now. */
  readonly messageQueueLength: number;
  /** Messages handed to it since it started. */
  readonly messagesReceived: number;
  /** Its mailbox bound (Infinity when unbounded). */
  readonly mailboxMessagesMax: number;
}

export type { MessageStats };

export class Node {
  readonly name: string;
  readonly creation: number;
  readonly clock: Clock;
  readonly #engine: Engine;
  readonly #stopTimeoutMs: number;
  #state: NodeState = 'new';
  #stopping: Promise<void> | undefined;
  /** Registered stop hooks, oldest first; each wrapped so that one function may be registered twice. */
  readonly #stopHooks = new Set<{ readonly hook: StopHook }>();
  #stopHooksRan = false;

  constructor(options: NodeOptions) {
    assertNodeName(options.name);
    const creation = options.creation ?? 1;
    if (!Number.isInteger(creation) || creation < 0 || creation > 0xffff_ffff) {
      throw fedError('badarg', `invalid creation ${String(creation)}`);
    }
    this.name = options.name;
    this.creation = creation;
    this.clock = options.clock ?? new SystemClock();
    this.#stopTimeoutMs = options.stopTimeoutMs ?? STOP_TIMEOUT_MS_DEFAULT;
    this.#engine = new Engine(this, this.name, creation, this.clock);
    if (options.mailboxMessagesMax !== undefined) {
      checkMailboxBound(options.mailboxMessagesMax);
      this.#engine.mailboxMessagesMax = options.mailboxMessagesMax;
    }
  }

  /** The pid that signals sent from outside any process (and `stop()`) come from. */
  get outsidePid(): Pid {
    return this.#engine.outsidePid;
  }

  get started(): boolean {
    return this.#state === 'started';
  }

  async start(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      throw fedError('closed', `node ${this.name} was stopped`);
    }
    this.#state = 'started';
  }

  stop(): Promise<void> {
    if (this.#stopping === undefined) {
      this.#state = 'stopping';
      this.#stopping = this.#engine
        .stop(this.#stopTimeoutMs)
        .then(() => this.#runStopHooks())
        .finally(() => {
          this.#state = 'stopped';
        });
    }
    return this.#stopping;
  }

  /**
   * Run `hook` when the node stops, after its processes have ended: how an attachment (the
   * distribution, a metrics endpoint, a store) closes its sockets, timers and files with the
   * node. Hooks run one at a time, last registered first. Returns a function that unregisters
   * the hook (idempotent). Throws `closed` once the stop hooks have run, `badarg` for a
   * non-function or past STOP_HOOKS_MAX hooks.
   */
  onStop(hook: StopHook): () => void {
    if (typeof hook !== 'function') throw fedError('badarg', 'onStop needs a function');
    if (this.#stopHooksRan) throw fedError('closed', `node ${this.name} was stopped`);
    if (this.#stopHooks.size >= STOP_HOOKS_MAX) {
      throw fedError('badarg', `node ${this.name} already has ${STOP_HOOKS_MAX} stop hooks (are they ever unregistered?)`);
    }
    const entry = { hook };
    this.#stopHooks.add(entry);
    return () => {
      this.#stopHooks.delete(entry);
    };
  }

  async #runStopHooks(): Promise<void> {
    this.#stopHooksRan = true;
    const hooks = [...this.#stopHooks].reverse();
    this.#stopHooks.clear();
    const failures: unknown[] = [];
    for (const { hook } of hooks) {
      try {
        await this.#runWithinStopTimeout(hook);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `${failures.length} stop hooks of node ${this.name} failed`);
  }

  #runWithinStopTimeout(hook: StopHook): Promise<void> {
    const timeoutMs = this.#stopTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        reject(fedError('timeout', `a stop hook of node ${this.name} did not finish within ${timeoutMs} ms`, { timeoutMs }));
      }, timeoutMs);
      const settle = (error?: unknown): void => {
        this.clock.clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      try {
        Promise.resolve(hook()).then(() => settle(), (error: unknown) => settle(error ?? new Error('a stop hook rejected')));
      } catch (error) {
        settle(error ?? new Error('a stop hook threw'));
      }
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  spawn(fn: ProcessFn, options?: SpawnOptions): Pid {
    return this.#engine.spawn(fn, options, undefined).pid();
  }

  send(to: SendTarget, msg: unknown): void {
    this.#engine.send(undefined, to, msg);
  }

  /** See `ProcessContext.trySend`: refuses with `mailbox_full` instead of overflowing a local mailbox. */
  trySend(to: SendTarget, msg: unknown): TrySendResult {
    return this.#engine.trySend(undefined, to, msg);
  }

  /** A copy of the node's message counters (sent local/remote, delivered, dropped, rejected). */
  messageStats(): MessageStats {
    return { ...this.#engine.messageStats };
  }

  /** Every live process, oldest first, as introspection sees it (one small object each). */
  *processInfo(): Generator<ProcessInfo> {
    const nodeBound = this.#engine.mailboxMessagesMax;
    for (const proc of this.#engine.processes()) {
      yield {
        pid: proc.self,
        name: proc.registeredName,
        messageQueueLength: proc.mailbox === null ? 0 : proc.mailbox.size,
        messagesReceived: proc.messagesReceived,
        mailboxMessagesMax: proc.extra?.mailboxMessagesMax ?? nodeBound,
      };
    }
  }

  exit(pid: Pid, reason: ExitReason): void {
    this.#engine.exit(this.#engine.outsidePid, pid, reason);
  }

  register(name: string, pid: Pid): void {
    this.#engine.register(name, pid);
  }

  unregister(name: string): void {
    this.#engine.unregister(name);
  }

  whereis(name: string): Pid | undefined {
    return this.#engine.whereis(name);
  }

  registeredNames(): string[] {
    return this.#engine.registeredNames();
  }

  /** For pids of this node only (`badarg` otherwise); a pid of an older creation is dead. */
  isAlive(pid: Pid): boolean {
    if (pid.node !== this.name) throw fedError('badarg', `${pid.key} is not a pid of ${this.name}`);
    return this.#engine.localProcess(pid) !== undefined;
  }

  processCount(): number {
    return this.#engine.processCount;
  }

  makeRef(): Ref {
    return this.#engine.makeRef();
  }

  /**
   * Run `fn` in a fresh temporary process and resolve with what it returns: the bridge from
   * plain async code to code that needs a process (a `call`, a `receive`). Rejects with what
   * `fn` throws, or `exited` (details.reason) if the process is killed first.
   */
  run<T>(fn: (ctx: ProcessContext) => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const proc = this.#engine.spawn(
        async (ctx) => {
          try {
            resolve(await fn(ctx));
          } catch (error) {
            if (!isProcessExited(error)) reject(error);
            throw error;
          }
        },
        undefined,
        undefined,
      );
      proc.onExit = (reason) => {
        reject(fedError('exited', `the process running this task exited`, { reason }));
      };
    });
  }

  // ---- distribution hooks ------------------------------------------------------------------

  setSignalRouter(router: SignalRouter | undefined): void {
    this.#engine.router = router;
  }

  /** A signal from another node (or answered locally by the router) addressed to this node. */
  deliverSignal(signal: Signal): void {
    if (signal.to.node !== this.name) {
      throw fedError('badarg', `signal for ${signal.to.node} delivered to ${this.name}`);
    }
    this.#engine.handleSignal(signal);
  }

  /** `nodeName` is gone: local links and monitors involving it end with `noconnection`. */
  nodeDown(nodeName: string): void {
    this.#engine.nodeDown(nodeName);
  }

}
