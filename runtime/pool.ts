/**
 * A worker pool (like Erlang's poolboy): a pool process owns `size` worker processes and lends
 * them out one at a time.
 *
 * Contract:
 * - `checkout(ctx, {timeoutMs})` resolves with an idle worker's pid, lent to the calling
 *   process until `checkin(ctx, worker)`. With no idle worker the caller waits in a FIFO queue
 *   of at most `waitersMax`; a full queue refuses at once with `overloaded`
 *   (`details.retryAfterMs`), and a wait longer than `timeoutMs` rejects with `timeout`. On a
 *   timeout the caller cancels and waits for the pool to acknowledge: the pool forgets the
 *   waiter or, if it lent the waiter a worker in the meantime (a checkin processed before the
 *   cancel), takes that worker back itself, as poolboy's `cancel_waiting` does. The grant that
 *   crossed the cancel arrives before the acknowledgement and is dropped, so a worker is never
 *   left lent to a caller that gave up and no late grant stays in its mailbox.
 * - A borrower that dies returns its workers (the pool monitors it). A worker that dies is
 *   replaced by a fresh one (the pool links to and traps exits of its workers). Stopping the
 *   pool (`stop`, or its own death) ends every worker.
 * - Only a process can borrow (the loan is tied to it); `transaction(nodeOrCtx, fn)` borrows,
 *   runs `fn(worker)`, and always checks the worker back in — from a `Node` it runs in a
 *   temporary process.
 * - Counters: `status()` answers idle, busy, waiting and the totals of checkouts, timeouts and
 *   refusals.
 */
import { fedError } from './kernel/errors.js';
import { Node } from './node.js';
import { Pid, Ref } from './pid.js';
import { type ProcessContext, type ProcessFn, TIMEOUT, isDownMessage, isExitMessage } from './process.js';

/** Default longest queue of borrowers waiting for a worker. */
export const POOL_WAITERS_MAX_DEFAULT = 1_000;
/** Default longest wait in `checkout`. */
export const POOL_CHECKOUT_TIMEOUT_MS_DEFAULT = 5_000;
/** Most workers one pool may hold. */
export const POOL_SIZE_MAX = 10_000;
/** Hint given with `overloaded` when the wait queue is full. */
const POOL_RETRY_AFTER_MS = 50;
/** How long `status`/`stop` wait for the pool's answer. */
const POOL_ADMIN_TIMEOUT_MS = 5_000;

export interface PoolOptions {
  /** Number of workers (1 … POOL_SIZE_MAX). */
  readonly size: number;
  /** The body of each worker process. */
  readonly worker: ProcessFn;
  /** Longest wait queue (default POOL_WAITERS_MAX_DEFAULT; 0 refuses whenever none is idle). */
  readonly waitersMax?: number;
  /** Register the pool process under this local name. */
  readonly name?: string;
}

export interface PoolStatus {
  readonly size: number;
  readonly idle: number;
  readonly busy: number;
  readonly waiting: number;
  readonly checkoutsTotal: number;
  readonly timeoutsTotal: number;
  readonly refusedTotal: number;
  readonly workersRestartedTotal: number;
}

type PoolRequest =
  | { readonly type: '$pool_checkout'; readonly from: Pid; readonly ref: Ref }
  | { readonly type: '$pool_cancel'; readonly from: Pid; readonly ref: Ref }
  | { readonly type: '$pool_checkin'; readonly from: Pid; readonly worker: Pid }
  | { readonly type: '$pool_status'; readonly from: Pid; readonly ref: Ref }
  | { readonly type: '$pool_stop'; readonly from: Pid; readonly ref: Ref };

interface PoolAnswer {
  readonly type: '$pool_answer';
  readonly ref: Ref;
  readonly worker?: Pid;
  readonly refused?: boolean;
  /** The pool has handled the cancel of checkout `ref`: nothing more about it will follow. */
  readonly cancelled?: boolean;
  readonly status?: PoolStatus;
}

function isPoolRequest(msg: unknown): msg is PoolRequest {
  const type = (msg as { type?: unknown } | null)?.type;
  return typeof type === 'string' && type.startsWith('$pool_') && type !== '$pool_answer';
}

function isAnswerTo(ref: Ref): (msg: unknown) => boolean {
  return (msg) => (msg as { type?: unknown } | null)?.type === '$pool_answer' && (msg as PoolAnswer).ref.equals(ref);
}

/** A handle on a running pool. */
export class Pool {
  constructor(readonly pid: Pid) {}

  /** Borrow a worker for the calling process; rejects `timeout`, `overloaded` or `noproc`. */
  async checkout(ctx: ProcessContext, options: { timeoutMs?: number } = {}): Promise<Pid> {
    const timeoutMs = options.timeoutMs ?? POOL_CHECKOUT_TIMEOUT_MS_DEFAULT;
    const ref = ctx.makeRef();
    const monitor = ctx.monitor(this.pid);
    try {
      ctx.send(this.pid, { type: '$pool_checkout', from: ctx.self, ref } satisfies PoolRequest);
      const answer = await ctx.receive((msg) => isAnswerTo(ref)(msg) || (isDownMessage(msg) && msg.ref.equals(monitor)), timeoutMs);
      if (answer === TIMEOUT) {
        await this.#cancel(ctx, ref, monitor);
        throw fedError('timeout', `no worker of pool ${this.pid.key} was free within ${timeoutMs} ms`, { timeoutMs });
      }
      if (isDownMessage(answer)) throw fedError('noproc', `pool ${this.pid.key} is not running`);
      const granted = answer as PoolAnswer;
      if (granted.refused === true || granted.worker === undefined) {
        throw fedError('overloaded', `pool ${this.pid.key}: every worker is busy and the wait queue is full`, { retryAfterMs: POOL_RETRY_AFTER_MS });
      }
      return granted.worker;
    } finally {
      if (ctx.alive) ctx.demonitor(monitor, { flush: true });
    }
  }

  /** Give `worker` back. Checking in a worker the caller does not hold is ignored by the pool. */
  checkin(ctx: ProcessContext, worker: Pid): void {
    ctx.send(this.pid, { type: '$pool_checkin', from: ctx.self, worker } satisfies PoolRequest);
  }

  /** Borrow a worker, run `fn` with it, and check it back in whatever `fn` does. */
  transaction<T>(nodeOrCtx: Node | ProcessContext, fn: (worker: Pid, ctx: ProcessContext) => T | Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
    if (nodeOrCtx instanceof Node) return nodeOrCtx.run((ctx) => this.transaction(ctx, fn, options));
    const ctx = nodeOrCtx;
    return this.checkout(ctx, options).then(async (worker) => {
      try {
        return await fn(worker, ctx);
      } finally {
        if (ctx.alive) this.checkin(ctx, worker);
      }
    });
  }

  status(nodeOrCtx: Node | ProcessContext): Promise<PoolStatus> {
    return this.#ask(nodeOrCtx, '$pool_status').then((answer) => answer.status as PoolStatus);
  }

  /** Stop the pool and its workers; resolves once the pool has answered (or was already gone). */
  async stop(nodeOrCtx: Node | ProcessContext): Promise<void> {
    await this.#ask(nodeOrCtx, '$pool_stop').catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== 'noproc') throw error;
    });
  }

  async #ask(nodeOrCtx: Node | ProcessContext, type: '$pool_status' | '$pool_stop'): Promise<PoolAnswer> {
    if (nodeOrCtx instanceof Node) return nodeOrCtx.run((ctx) => this.#ask(ctx, type));
    const ctx = nodeOrCtx;
    const ref = ctx.makeRef();
    const monitor = ctx.monitor(this.pid);
    ctx.send(this.pid, { type, from: ctx.self, ref } satisfies PoolRequest);
    const answer = await ctx.receive((msg) => isAnswerTo(ref)(msg) || (isDownMessage(msg) && msg.ref.equals(monitor)), POOL_ADMIN_TIMEOUT_MS);
    ctx.demonitor(monitor, { flush: true });
    if (answer === TIMEOUT) throw fedError('timeout', `pool ${this.pid.key} did not answer`);
    if (isDownMessage(answer)) throw fedError('noproc', `pool ${this.pid.key} is not running`);
    return answer as PoolAnswer;
  }

  /**
   * Cancel checkout `ref` and wait until the pool has acknowledged it (or is gone). The pool
   * takes back a worker it lent in the race, and its grant, sent before the acknowledgement,
   * is already queued by then (signals from one process keep their order): drop it.
   */
  async #cancel(ctx: ProcessContext, ref: Ref, monitor: Ref): Promise<void> {
    ctx.send(this.pid, { type: '$pool_cancel', from: ctx.self, ref } satisfies PoolRequest);
    const answered = isAnswerTo(ref);
    await ctx.receive(
      (msg) => (answered(msg) && (msg as PoolAnswer).cancelled === true) || (isDownMessage(msg) && msg.ref.equals(monitor)),
      POOL_ADMIN_TIMEOUT_MS,
    );
    while ((await ctx.receive(answered, 0)) !== TIMEOUT);
  }
}

/** Start a pool on `node` (or from a process: the pool is then linked to it). */
export function startPool(nodeOrCtx: Node | ProcessContext, options: PoolOptions): Pool {
  checkPoolOptions(options);
  const body = (ctx: ProcessContext) => runPool(ctx, options);
  const spawnOptions = { trapExit: true, ...(options.name !== undefined ? { name: options.name } : {}) };
  const pid = nodeOrCtx instanceof Node ? nodeOrCtx.spawn(body, spawnOptions) : nodeOrCtx.spawnLink(body, spawnOptions);
  return new Pool(pid);
}

function checkPoolOptions(options: PoolOptions): void {
  if (!Number.isInteger(options.size) || options.size < 1 || options.size > POOL_SIZE_MAX) {
    throw fedError('badarg', `pool size must be an integer in 1…${POOL_SIZE_MAX}, not ${String(options.size)}`);
  }
  if (typeof options.worker !== 'function') throw fedError('badarg', 'pool worker must be a process function');
  const waitersMax = options.waitersMax ?? POOL_WAITERS_MAX_DEFAULT;
  if (!Number.isInteger(waitersMax) || waitersMax < 0) throw fedError('badarg', `pool waitersMax must be a non-negative integer, not ${String(waitersMax)}`);
}

interface Loan {
  readonly worker: Pid;
  readonly borrower: Pid;
  /** The checkout it answered. */
  readonly ref: Ref;
  readonly monitor: Ref;
}

interface Waiter {
  readonly from: Pid;
  readonly ref: Ref;
}

class PoolState {
  readonly idle: Pid[] = [];
  /** Lent workers by pid key. */
  readonly loans = new Map<string, Loan>();
  readonly waiters: Waiter[] = [];
  checkoutsTotal = 0;
  timeoutsTotal = 0;
  refusedTotal = 0;
  workersRestartedTotal = 0;

  constructor(
    readonly ctx: ProcessContext,
    readonly options: PoolOptions,
    readonly waitersMax: number,
  ) {}

  status(): PoolStatus {
    return {
      size: this.options.size,
      idle: this.idle.length,
      busy: this.loans.size,
      waiting: this.waiters.length,
      checkoutsTotal: this.checkoutsTotal,
      timeoutsTotal: this.timeoutsTotal,
      refusedTotal: this.refusedTotal,
      workersRestartedTotal: this.workersRestartedTotal,
    };
  }
}

async function runPool(ctx: ProcessContext, options: PoolOptions): Promise<void> {
  const state = new PoolState(ctx, options, options.waitersMax ?? POOL_WAITERS_MAX_DEFAULT);
  for (let index = 0; index < options.size; index++) state.idle.push(ctx.spawnLink(options.worker));
  for (;;) {
    const msg = await ctx.receive();
    if (isPoolRequest(msg)) {
      if (!onRequest(state, msg)) return;
    } else if (isExitMessage(msg)) {
      if (!onWorkerExit(state, msg.from)) ctx.exitSelf(msg.reason);
    } else if (isDownMessage(msg) && msg.pid instanceof Pid) {
      onBorrowerDown(state, msg.pid);
    }
  }
}

/** Handle one request; false when the pool should stop. */
function onRequest(state: PoolState, request: PoolRequest): boolean {
  const { ctx } = state;
  switch (request.type) {
    case '$pool_checkout':
      onCheckout(state, request.from, request.ref);
      return true;
    case '$pool_cancel':
      onCancel(state, request.from, request.ref);
      return true;
    case '$pool_checkin':
      onCheckin(state, request.from, request.worker);
      return true;
    case '$pool_status':
      ctx.send(request.from, { type: '$pool_answer', ref: request.ref, status: state.status() } satisfies PoolAnswer);
      return true;
    case '$pool_stop':
      for (const worker of [...state.idle, ...[...state.loans.values()].map((loan) => loan.worker)]) ctx.exit(worker, 'shutdown');
      ctx.send(request.from, { type: '$pool_answer', ref: request.ref } satisfies PoolAnswer);
      return false;
  }
}

function onCheckout(state: PoolState, from: Pid, ref: Ref): void {
  const worker = state.idle.pop();
  if (worker !== undefined) {
    lend(state, worker, from, ref);
    return;
  }
  if (state.waiters.length >= state.waitersMax) {
    state.refusedTotal++;
    state.ctx.send(from, { type: '$pool_answer', ref, refused: true } satisfies PoolAnswer);
    return;
  }
  state.waiters.push({ from, ref });
}

function lend(state: PoolState, worker: Pid, borrower: Pid, ref: Ref): void {
  state.loans.set(worker.key, { worker, borrower, ref, monitor: state.ctx.monitor(borrower) });
  state.checkoutsTotal++;
  state.ctx.send(borrower, { type: '$pool_answer', ref, worker } satisfies PoolAnswer);
}

/**
 * A waiter gave up on checkout `ref`: forget it or, if it was lent a worker after it timed out
 * (the grant crossed the cancel), take that worker back. Always acknowledged.
 */
function onCancel(state: PoolState, from: Pid, ref: Ref): void {
  state.timeoutsTotal++;
  const index = state.waiters.findIndex((waiter) => waiter.ref.equals(ref));
  if (index >= 0) {
    state.waiters.splice(index, 1);
  } else {
    for (const [key, loan] of state.loans) {
      if (!loan.ref.equals(ref) || !loan.borrower.equals(from)) continue;
      state.loans.delete(key);
      state.ctx.demonitor(loan.monitor, { flush: true });
      release(state, loan.worker);
      break;
    }
  }
  state.ctx.send(from, { type: '$pool_answer', ref, cancelled: true } satisfies PoolAnswer);
}

function onCheckin(state: PoolState, from: Pid, worker: Pid): void {
  const loan = state.loans.get(worker.key);
  if (loan === undefined || !loan.borrower.equals(from)) return;
  state.loans.delete(worker.key);
  state.ctx.demonitor(loan.monitor, { flush: true });
  release(state, worker);
}

/** A worker is free again: hand it to the oldest waiter, else keep it idle. */
function release(state: PoolState, worker: Pid): void {
  const waiter = state.waiters.shift();
  if (waiter === undefined) state.idle.push(worker);
  else lend(state, worker, waiter.from, waiter.ref);
}

function onBorrowerDown(state: PoolState, borrower: Pid): void {
  for (const [key, loan] of [...state.loans]) {
    if (!loan.borrower.equals(borrower)) continue;
    state.loans.delete(key);
    release(state, loan.worker);
  }
  for (let index = state.waiters.length - 1; index >= 0; index--) {
    if ((state.waiters[index] as Waiter).from.equals(borrower)) state.waiters.splice(index, 1);
  }
}

/** A linked process exited: replace it if it was a worker; false if it was not (the parent). */
function onWorkerExit(state: PoolState, pid: Pid): boolean {
  const idleIndex = state.idle.findIndex((worker) => worker.equals(pid));
  const loan = state.loans.get(pid.key);
  if (idleIndex < 0 && loan === undefined) return false;
  if (idleIndex >= 0) state.idle.splice(idleIndex, 1);
  if (loan !== undefined) {
    state.loans.delete(pid.key);
    state.ctx.demonitor(loan.monitor, { flush: true });
  }
  state.workersRestartedTotal++;
  release(state, state.ctx.spawnLink(state.options.worker));
  return true;
}
