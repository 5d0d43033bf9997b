/**
 * Supervisors: processes that start children, watch them through links (trapping exits) and
 * restart them by a strategy. Built on the GenServer behaviour of server.ts.
 *
 * Contract:
 * - Strategies: `one_for_one` restarts the child that ended; `one_for_all` stops every other
 *   child (reverse start order) and restarts them all in start order; `rest_for_one` does that
 *   for the children started after it. A dynamic supervisor is `one_for_one` with children
 *   added at run time by `startChild` (ids optional) and removed when they end for good.
 * - Restart types: `permanent` always restarted, `transient` only after an unclean exit (not
 *   `normal`, `shutdown`, `{shutdown: _}`), `temporary` never (and forgotten).
 * - Intensity: more than `maxRestarts` restarts within `periodMs` (measured on the node's
 *   clock) and the supervisor stops its children and exits with
 *   `{ shutdown: 'reached_max_restart_intensity' }`; its own parent decides what follows.
 *   A child whose restart fails counts as another restart and is retried.
 * - Shutdown (on the supervisor's own exit, `terminateChild`, or before a group restart):
 *   children in reverse start order; each gets `shutdown`, and `kill` if still alive after its
 *   `shutdown` ms (`brutal_kill`: killed at once; `infinity`: waited for).
 * - A child's `start` runs in the supervisor's process and must return the pid of a process
 *   linked to it (`ctx.spawnLink`, `startServer(ctx, …, { link: true })`, `startSupervisor(ctx,
 *   …, { link: true })`); `worker(id, fn)` builds such a spec for a plain process.
 * - `terminateChild` removes the child entirely (unlike OTP, there is no restartChild).
 */
import type { Clock } from './kernel/clock.js';
import { fedError } from './kernel/errors.js';
import { Pid } from './pid.js';
import { type ProcessContext, type ProcessFn, TIMEOUT, isCleanExit, isDownMessage, isExitMessage } from './process.js';
import {
  type CallResult,
  type CastResult,
  type From,
  type NodeOrContext,
  type ServerBehaviour,
  type StartServerOptions,
  call,
  startServer,
} from './server.js';
import type { ExitReason } from './signals.js';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export type RestartType = 'permanent' | 'transient' | 'temporary';
export type ShutdownPolicy = number | 'brutal_kill' | 'infinity';
export type ChildType = 'worker' | 'supervisor';

export interface ChildSpec {
  readonly id: string;
  /** Runs in the supervisor's process; returns the pid of a process linked to it. */
  readonly start: (ctx: ProcessContext) => Pid | Promise<Pid>;
  readonly restart?: RestartType;
  /** Default 5000 ms for workers, `infinity` for supervisors. */
  readonly shutdown?: ShutdownPolicy;
  readonly type?: ChildType;
}

export interface Intensity {
  readonly maxRestarts: number;
  readonly periodMs: number;
}

export interface SupervisorSpec {
  readonly strategy: Strategy;
  readonly children?: readonly ChildSpec[];
  readonly intensity?: Intensity;
}

export interface ChildInfo {
  readonly id: string;
  readonly pid: Pid | undefined;
  readonly type: ChildType;
  readonly restart: RestartType;
}

/** As Elixir's default: 3 restarts in 5 s. */
export const INTENSITY_DEFAULT: Intensity = { maxRestarts: 3, periodMs: 5_000 };
export const WORKER_SHUTDOWN_MS_DEFAULT = 5_000;
export const REACHED_MAX_RESTART_INTENSITY: ExitReason = Object.freeze({ shutdown: 'reached_max_restart_intensity' });

/** A spec for a plain process running `fn`, linked to the supervisor. */
export function worker(
  id: string,
  fn: ProcessFn,
  options: { restart?: RestartType; shutdown?: ShutdownPolicy } = {},
): ChildSpec {
  return { id, start: (ctx) => ctx.spawnLink(fn), type: 'worker', ...options };
}

interface Child {
  readonly spec: Required<ChildSpec>;
  pid: Pid | undefined;
}

interface State {
  readonly strategy: Strategy;
  readonly intensity: Intensity;
  readonly dynamic: boolean;
  readonly children: Child[];
  /** Times (clock ms) of recent restarts, oldest first. */
  restarts: number[];
  nextDynamicId: number;
  clock: Clock;
}

type Request =
  | { readonly op: 'start_child'; readonly spec: ChildSpec | Omit<ChildSpec, 'id'> }
  | { readonly op: 'terminate_child'; readonly child: string | Pid }
  | { readonly op: 'which_children' };

interface InitArgs {
  readonly spec: SupervisorSpec;
  readonly dynamic: boolean;
}

// ---- public API --------------------------------------------------------------------------

export function startSupervisor(
  nodeOrCtx: NodeOrContext,
  spec: SupervisorSpec,
  options: StartServerOptions = {},
): Promise<Pid> {
  return startServer(nodeOrCtx, supervisorBehaviour, { spec, dynamic: false }, options);
}

export function startDynamicSupervisor(
  nodeOrCtx: NodeOrContext,
  options: StartServerOptions & { intensity?: Intensity } = {},
): Promise<Pid> {
  const spec: SupervisorSpec = { strategy: 'one_for_one', children: [], intensity: options.intensity ?? INTENSITY_DEFAULT };
  return startServer(nodeOrCtx, supervisorBehaviour, { spec, dynamic: true }, options);
}

/** Start a child under `supervisor`; a dynamic supervisor makes up an id if there is none. */
/**
 * Start a child under `supervisor`; a dynamic supervisor makes up an id if there is none.
 * Rejects with what the child's `start` threw, or `badarg` for a duplicate id; the supervisor
 * stays up either way.
 */
export function startChild(
  nodeOrCtx: NodeOrContext,
  supervisor: Pid | string,
  spec: ChildSpec | (Omit<ChildSpec, 'id'> & { id?: string }),
): Promise<Pid> {
  return request<Pid>(nodeOrCtx, supervisor, { op: 'start_child', spec });
}

/** Stop a child (by id or pid) as at shutdown, and forget it; `not_found` if there is none. */
export function terminateChild(nodeOrCtx: NodeOrContext, supervisor: Pid | string, child: string | Pid): Promise<void> {
  return request<void>(nodeOrCtx, supervisor, { op: 'terminate_child', child });
}

export function whichChildren(nodeOrCtx: NodeOrContext, supervisor: Pid | string): Promise<ChildInfo[]> {
  return request<ChildInfo[]>(nodeOrCtx, supervisor, { op: 'which_children' });
}

/** A supervisor answers every request with an outcome, so a bad request never crashes it. */
type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

async function request<T>(nodeOrCtx: NodeOrContext, supervisor: Pid | string, message: Request): Promise<T> {
  const outcome = await call<Outcome>(nodeOrCtx, supervisor, message, Infinity);
  if (!outcome.ok) throw outcome.error;
  return outcome.value as T;
}

// ---- the behaviour -----------------------------------------------------------------------

const supervisorBehaviour: ServerBehaviour<State, InitArgs> = {
  async init({ spec, dynamic }, ctx) {
    validateIntensity(spec.intensity ?? INTENSITY_DEFAULT);
    ctx.trapExit(true);
    const state: State = {
      strategy: spec.strategy,
      intensity: spec.intensity ?? INTENSITY_DEFAULT,
      dynamic,
      children: [],
      restarts: [],
      nextDynamicId: 1,
      clock: ctx.node.clock,
    };
    for (const childSpec of spec.children ?? []) {
      const normalized = normalizeSpec(childSpec);
      if (state.children.some((child) => child.spec.id === normalized.id)) {
        await shutdownAll(ctx, state);
        throw fedError('badarg', `duplicate child id ${normalized.id}`);
      }
      const child: Child = { spec: normalized, pid: undefined };
      try {
        child.pid = await normalized.start(ctx);
      } catch (error) {
        await shutdownAll(ctx, state);
        throw error;
      }
      state.children.push(child);
    }
    return state;
  },

  async handleCall(message, _from: From, state, ctx): Promise<CallResult<State>> {
    try {
      return { reply: { ok: true, value: await answer(ctx, state, message as Request) } satisfies Outcome, state };
    } catch (error) {
      if (!ctx.alive) throw error;
      return { reply: { ok: false, error } satisfies Outcome, state };
    }
  },

  async handleInfo(msg, state, ctx): Promise<CastResult<State>> {
    if (!isExitMessage(msg)) return { state };
    const index = state.children.findIndex((child) => child.pid?.equals(msg.from) === true);
    if (index < 0) return { state };
    const escalated = await onChildExit(ctx, state, index, msg.reason);
    return escalated ? { stop: REACHED_MAX_RESTART_INTENSITY, state } : { state };
  },

  async terminate(_reason, state, ctx) {
    await shutdownAll(ctx, state);
  },
};

async function answer(ctx: ProcessContext, state: State, message: Request): Promise<unknown> {
  switch (message.op) {
    case 'start_child':
      return addChild(ctx, state, message.spec);
    case 'terminate_child':
      return removeChild(ctx, state, message.child);
    case 'which_children':
      return state.children.map(describe);
    default:
      throw fedError('badarg', 'unknown supervisor request');
  }
}

function validateIntensity(intensity: Intensity): void {
  if (!Number.isInteger(intensity.maxRestarts) || intensity.maxRestarts < 0 || !(intensity.periodMs > 0)) {
    throw fedError('badarg', 'intensity needs maxRestarts >= 0 and periodMs > 0');
  }
}

function normalizeSpec(spec: ChildSpec): Required<ChildSpec> {
  if (typeof spec.id !== 'string' || spec.id.length === 0) throw fedError('badarg', 'a child needs an id');
  if (typeof spec.start !== 'function') throw fedError('badarg', `child ${spec.id} needs a start function`);
  const type = spec.type ?? 'worker';
  return {
    id: spec.id,
    start: spec.start,
    restart: spec.restart ?? 'permanent',
    type,
    shutdown: spec.shutdown ?? (type === 'supervisor' ? 'infinity' : WORKER_SHUTDOWN_MS_DEFAULT),
  };
}

function describe(child: Child): ChildInfo {
  return { id: child.spec.id, pid: child.pid, type: child.spec.type, restart: child.spec.restart };
}

async function addChild(
  ctx: ProcessContext,
  state: State,
  spec: ChildSpec | (Omit<ChildSpec, 'id'> & { id?: string }),
): Promise<Pid> {
  const id = spec.id ?? (state.dynamic ? `child-${state.nextDynamicId++}` : undefined);
  const normalized = normalizeSpec({ ...spec, id: id as string });
  if (state.children.some((child) => child.spec.id === normalized.id)) {
    throw fedError('badarg', `a child with id ${normalized.id} already exists`);
  }
  const pid = await normalized.start(ctx);
  state.children.push({ spec: normalized, pid });
  return pid;
}

async function removeChild(ctx: ProcessContext, state: State, key: string | Pid): Promise<void> {
  const index = state.children.findIndex((child) =>
    key instanceof Pid ? child.pid?.equals(key) === true : child.spec.id === key,
  );
  if (index < 0) throw fedError('not_found', `no child ${key instanceof Pid ? key.key : key}`);
  const [child] = state.children.splice(index, 1);
  if (child !== undefined) await shutdownChild(ctx, child);
}

// ---- restarts ----------------------------------------------------------------------------

function shouldRestart(restart: RestartType, reason: ExitReason): boolean {
  if (restart === 'permanent') return true;
  if (restart === 'transient') return !isCleanExit(reason);
  return false;
}

/** Handle the exit of `children[index]`; true when the intensity was exceeded. */
async function onChildExit(ctx: ProcessContext, state: State, index: number, reason: ExitReason): Promise<boolean> {
  const child = state.children[index] as Child;
  child.pid = undefined;
  if (!shouldRestart(child.spec.restart, reason)) {
    if (child.spec.restart === 'temporary' || state.dynamic) state.children.splice(index, 1);
    return false;
  }
  if (!recordRestart(state)) {
    await shutdownAll(ctx, state);
    return true;
  }
  const group = restartGroup(state, index);
  for (let position = group.length - 1; position >= 0; position--) {
    const sibling = group[position] as Child;
    if (sibling !== child) await shutdownChild(ctx, sibling);
  }
  // Temporary siblings stopped for the group are not restarted.
  for (const sibling of group) {
    if (sibling !== child && sibling.spec.restart === 'temporary') {
      state.children.splice(state.children.indexOf(sibling), 1);
    }
  }
  for (const member of group) {
    if (!state.children.includes(member)) continue;
    if (!(await startWithRetry(ctx, state, member))) return true;
  }
  return false;
}

/** The children stopped and restarted together with `children[index]`, in start order. */
function restartGroup(state: State, index: number): Child[] {
  switch (state.strategy) {
    case 'one_for_one':
      return [state.children[index] as Child];
    case 'one_for_all':
      return [...state.children];
    case 'rest_for_one':
      return state.children.slice(index);
  }
}

/** Start `child`; a failed start counts as a restart and is retried. False once over intensity. */
async function startWithRetry(ctx: ProcessContext, state: State, child: Child): Promise<boolean> {
  for (;;) {
    try {
      child.pid = await child.spec.start(ctx);
      return true;
    } catch (error) {
      if (!ctx.alive) throw error;
      if (!recordRestart(state)) {
        await shutdownAll(ctx, state);
        return false;
      }
    }
  }
}

/** Note a restart now; false if that makes more than `maxRestarts` within `periodMs`. */
function recordRestart(state: State): boolean {
  const nowMs = state.clock.now();
  state.restarts = state.restarts.filter((atMs) => atMs > nowMs - state.intensity.periodMs);
  state.restarts.push(nowMs);
  return state.restarts.length <= state.intensity.maxRestarts;
}

// ---- shutdown ----------------------------------------------------------------------------

async function shutdownAll(ctx: ProcessContext, state: State): Promise<void> {
  for (let index = state.children.length - 1; index >= 0; index--) {
    await shutdownChild(ctx, state.children[index] as Child);
  }
}

/** Stop one child: `shutdown`, then `kill` after its timeout; waits for its DOWN. */
async function shutdownChild(ctx: ProcessContext, child: Child): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  child.pid = undefined;
  const monitorRef = ctx.monitor(pid);
  ctx.unlink(pid);
  const policy = child.spec.shutdown;
  const isDown = (msg: unknown): boolean => isDownMessage(msg) && msg.ref.equals(monitorRef);
  ctx.exit(pid, policy === 'brutal_kill' ? 'kill' : 'shutdown');
  const waitMs = typeof policy === 'number' ? policy : Infinity;
  if ((await ctx.receive(isDown, waitMs)) === TIMEOUT) {
    ctx.exit(pid, 'kill');
    await ctx.receive(isDown);
  }
  // An EXIT the child sent before the unlink may be queued: it is not news.
  while ((await ctx.receive((msg) => isExitMessage(msg) && msg.from.equals(pid), 0)) !== TIMEOUT);
}
