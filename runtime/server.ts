/**
 * A GenServer-style behaviour: a process that holds state and answers `call`s (request →
 * reply), `cast`s (fire and forget) and other messages (`handleInfo`).
 *
 * Contract:
 * - `startServer` resolves with the pid once `init` has returned; if `init` throws, it rejects
 *   with that error (the server unlinks from its starter first, so a linked starter is not
 *   killed) and the server exits with the error as reason. A taken `name` rejects `name_taken`.
 * - `call(…, target, request, timeoutMs)` monitors the target and uses the monitor ref as the
 *   call tag (an alias, as in OTP 24+): the reply is delivered only while the caller still
 *   waits — the alias ends with the first reply, at the timeout itself (even when the caller
 *   resumes a turn later) and when the call returns, which also drops a reply queued after the
 *   DOWN — so no late or second reply ever stays in its mailbox. Rejects with FedError `timeout`,
 *   `noproc` (no such process or name), `nodedown` (the connection to its node was lost),
 *   `exited` (it died before replying; details.reason) or, at once, `mailbox_full` (a target on
 *   this node whose mailbox is full and has policy `reject`).
 * - A handler that throws ends the server (after `terminate`) with the error as reason. An
 *   `EXIT` from the parent (the linked starter, or `node.outsidePid` from `node.stop()`) is a
 *   shutdown request when the server traps exits: `terminate` runs, then the server exits with
 *   that reason. `stopServer` asks a server to stop and waits for it.
 * - Every function takes a `Node` (the call runs in a temporary process, see `Node.run`) or the
 *   `ProcessContext` of the calling process.
 */
import { fedError } from './kernel/errors.js';
import { LIMITS } from './kernel/limits.js';
import { isReplyMessage } from './engine.js';
import { NO_MESSAGE } from './mailbox.js';
import { Node } from './node.js';
import { Pid, Ref } from './pid.js';
import {
  type DownMessage,
  type MailboxOverflow,
  PROCESS_EXITED,
  Process,
  type ProcessContext,
  type SendTarget,
  type SpawnOptions,
  TIMEOUT,
  isDownMessage,
  isExitMessage,
  isProcessExited,
  reasonFromThrown,
} from './process.js';
import type { ExitReason, NameAtNode } from './signals.js';

export type NodeOrContext = Node | ProcessContext;

/** Where a call came from: pass it to `reply` to answer later (after `{ noreply: true }`). */
export class From {
  readonly pid: Pid;
  readonly tag: Ref;
  readonly #server: Process;

  constructor(pid: Pid, tag: Ref, server: Process) {
    this.pid = pid;
    this.tag = tag;
    this.#server = server;
  }

  /** @internal */
  send(value: unknown): void {
    this.#server.host.reply(this.pid, this.tag, value);
  }
}

export type CallResult<State, Reply = unknown> =
  | { readonly reply: Reply; readonly state: State }
  | { readonly noreply: true; readonly state: State }
  | { readonly stop: ExitReason; readonly reply?: Reply; readonly state: State };

export type CastResult<State> = { readonly state: State } | { readonly stop: ExitReason; readonly state: State };

type Awaitable<T> = T | Promise<T>;

export interface ServerBehaviour<State, Args = undefined> {
  init(args: Args, ctx: ProcessContext): Awaitable<State>;
  handleCall?(request: unknown, from: From, state: State, ctx: ProcessContext): Awaitable<CallResult<State>>;
  handleCast?(request: unknown, state: State, ctx: ProcessContext): Awaitable<CastResult<State>>;
  handleInfo?(msg: unknown, state: State, ctx: ProcessContext): Awaitable<CastResult<State>>;
  /** Runs before the server exits for any reason it sees (not when killed). */
  terminate?(reason: ExitReason, state: State, ctx: ProcessContext): Awaitable<void>;
}

export interface StartServerOptions {
  /** Register the server under this local name. */
  readonly name?: string;
  /** Link the server to the calling process (needs a ProcessContext). */
  readonly link?: boolean;
  /** How long `init` may take (default: no limit); on expiry the server is killed. */
  readonly initTimeoutMs?: number;
  /** Bound the server's mailbox (SpawnOptions.mailboxMessagesMax; default: the node's). */
  readonly mailboxMessagesMax?: number;
  /** What a message arriving at its full mailbox does (SpawnOptions.mailboxOverflow). */
  readonly mailboxOverflow?: MailboxOverflow;
}

interface StartedMessage {
  readonly type: '$started';
  readonly tag: Ref;
  readonly error?: unknown;
  readonly failed: boolean;
}

interface CallMessage {
  readonly type: '$call';
  readonly from: { readonly pid: Pid; readonly tag: Ref };
  readonly request: unknown;
}

interface CastMessage {
  readonly type: '$cast';
  readonly request: unknown;
}

interface StopMessage {
  readonly type: '$stop';
  readonly from: { readonly pid: Pid; readonly tag: Ref };
  readonly reason: ExitReason;
}

function hasType(msg: unknown, type: string): boolean {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === type;
}

function asProcess(ctx: ProcessContext): Process {
  if (!(ctx instanceof Process)) throw fedError('badarg', 'expected a Node or the ProcessContext of a process');
  return ctx;
}

/** A local name becomes `{name, node}`, so sending to it never throws. */
function normalizeTarget(ctx: ProcessContext, target: SendTarget): Pid | NameAtNode {
  if (typeof target === 'string') return { name: target, node: ctx.node.name };
  return target;
}

// ---- starting ----------------------------------------------------------------------------

export function startServer<State, Args>(
  nodeOrCtx: NodeOrContext,
  behaviour: ServerBehaviour<State, Args>,
  args: Args,
  options: StartServerOptions = {},
): Promise<Pid> {
  if (nodeOrCtx instanceof Node) {
    if (options.link === true) {
      return Promise.reject(fedError('badarg', 'link: true needs the ProcessContext of the starter'));
    }
    return nodeOrCtx.run((ctx) => startServer(ctx, behaviour, args, options));
  }
  return startIn(asProcess(nodeOrCtx), behaviour, args, options);
}

async function startIn<State, Args>(
  ctx: Process,
  behaviour: ServerBehaviour<State, Args>,
  args: Args,
  options: StartServerOptions,
): Promise<Pid> {
  const tag = ctx.makeRef();
  const linked = options.link === true;
  const start: StartInfo = { starter: ctx.self, tag, linked, parent: linked ? ctx.self : ctx.node.outsidePid };
  const body = (server: ProcessContext): Promise<void> => serve(asProcess(server), behaviour, args, start);
  const spawnOptions: SpawnOptions = {
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.mailboxMessagesMax === undefined ? {} : { mailboxMessagesMax: options.mailboxMessagesMax }),
    ...(options.mailboxOverflow === undefined ? {} : { mailboxOverflow: options.mailboxOverflow }),
  };
  const pid = linked ? ctx.spawnLink(body, spawnOptions) : ctx.spawn(body, spawnOptions);
  const monitorRef = ctx.monitor(pid);
  const answer = await ctx.receive<StartedMessage | DownMessage>(
    (msg) =>
      (hasType(msg, '$started') && (msg as StartedMessage).tag.equals(tag)) ||
      (isDownMessage(msg) && msg.ref.equals(monitorRef)),
    options.initTimeoutMs ?? Infinity,
  );
  ctx.demonitor(monitorRef, { flush: true });
  if (answer === TIMEOUT) {
    if (linked) ctx.unlink(pid);
    ctx.exit(pid, 'kill');
    throw fedError('timeout', `server init did not finish within ${String(options.initTimeoutMs)} ms`);
  }
  if (isDownMessage(answer)) throw errorFromDown(answer.reason, pid);
  if (answer.failed) throw answer.error;
  return pid;
}

interface StartInfo {
  readonly starter: Pid;
  readonly tag: Ref;
  readonly linked: boolean;
  /** EXIT from this pid (or from outside the node) asks a trapping server to stop. */
  readonly parent: Pid;
}

// ---- the server loop ---------------------------------------------------------------------

async function serve<State, Args>(
  ctx: Process,
  behaviour: ServerBehaviour<State, Args>,
  args: Args,
  start: StartInfo,
): Promise<void> {
  let state: State;
  try {
    state = await behaviour.init(args, ctx);
  } catch (error) {
    if (isProcessExited(error)) throw error;
    if (start.linked) ctx.unlink(start.starter);
    ctx.send(start.starter, { type: '$started', tag: start.tag, error, failed: true } satisfies StartedMessage);
    throw error;
  }
  ctx.send(start.starter, { type: '$started', tag: start.tag, failed: false } satisfies StartedMessage);
  for (;;) {
    const msg = await ctx.receive();
    let outcome: { state: State; stop?: ExitReason };
    try {
      outcome = await handle(ctx, behaviour, msg, state, start);
    } catch (error) {
      if (isProcessExited(error)) throw error;
      await runTerminate(ctx, behaviour, reasonFromThrown(error), state);
      throw error;
    }
    state = outcome.state;
    if ('stop' in outcome && outcome.stop !== undefined) {
      await runTerminate(ctx, behaviour, outcome.stop, state);
      exitWith(ctx, outcome.stop);
      return;
    }
  }
}

async function handle<State, Args>(
  ctx: Process,
  behaviour: ServerBehaviour<State, Args>,
  msg: unknown,
  state: State,
  start: StartInfo,
): Promise<{ state: State; stop?: ExitReason }> {
  if (hasType(msg, '$call')) {
    const call = msg as CallMessage;
    const from = new From(call.from.pid, call.from.tag, ctx);
    if (behaviour.handleCall === undefined) throw fedError('badarg', 'this server does not handle calls');
    const result = await behaviour.handleCall(call.request, from, state, ctx);
    if ('reply' in result) from.send(result.reply);
    return result as { state: State; stop?: ExitReason };
  }
  if (hasType(msg, '$cast')) {
    if (behaviour.handleCast === undefined) throw fedError('badarg', 'this server does not handle casts');
    return (await behaviour.handleCast((msg as CastMessage).request, state, ctx)) as { state: State };
  }
  if (hasType(msg, '$stop')) {
    const stop = msg as StopMessage;
    await runTerminate(ctx, behaviour, stop.reason, state);
    new From(stop.from.pid, stop.from.tag, ctx).send('ok');
    exitWith(ctx, stop.reason);
  }
  if (isExitMessage(msg) && (msg.from.equals(start.parent) || msg.from.equals(ctx.node.outsidePid))) {
    return { state, stop: msg.reason };
  }
  if (behaviour.handleInfo === undefined) return { state };
  return (await behaviour.handleInfo(msg, state, ctx)) as { state: State };
}

async function runTerminate<State, Args>(
  ctx: Process,
  behaviour: ServerBehaviour<State, Args>,
  reason: ExitReason,
  state: State,
): Promise<void> {
  if (behaviour.terminate === undefined) return;
  try {
    await behaviour.terminate(reason, state, ctx);
  } catch (error) {
    if (isProcessExited(error)) throw error;
    // The server exits anyway, with its original reason.
  }
}

function exitWith(ctx: Process, reason: ExitReason): never {
  return ctx.exitSelf(reason);
}

// ---- calling -----------------------------------------------------------------------------

export function call<Reply = unknown>(
  nodeOrCtx: NodeOrContext,
  target: SendTarget,
  request: unknown,
  timeoutMs: number = LIMITS.callTimeoutMs,
): Promise<Reply> {
  if (nodeOrCtx instanceof Node) return nodeOrCtx.run((ctx) => call<Reply>(ctx, target, request, timeoutMs));
  return callWith<Reply>(asProcess(nodeOrCtx), target, (from) => ({ type: '$call', from, request }), timeoutMs);
}

/** Send a request and wait for its reply, a DOWN, or the timeout; the tag is the monitor ref. */
async function callWith<Reply>(
  ctx: Process,
  target: SendTarget,
  build: (from: { pid: Pid; tag: Ref }) => unknown,
  timeoutMs: number,
): Promise<Reply> {
  const to = normalizeTarget(ctx, target);
  const resolved = to instanceof Pid ? to : to.node === ctx.node.name ? ctx.whereis(to.name) : undefined;
  if (resolved?.equals(ctx.self) === true) throw fedError('badarg', 'a process cannot call itself (it would wait forever)');
  const tag = ctx.monitor(to);
  ctx.host.activateAlias(ctx, tag);
  try {
    sendRequest(ctx, to, build({ pid: ctx.self, tag }));
    const answer = await ctx.receive(
      (msg) => (isReplyMessage(msg) && msg.tag.equals(tag)) || (isDownMessage(msg) && msg.ref.equals(tag)),
      timeoutMs,
    );
    if (answer === TIMEOUT) throw fedError('timeout', `call did not answer within ${timeoutMs} ms`, { timeoutMs });
    if (isDownMessage(answer)) throw errorFromDown(answer.reason, answer.pid);
    return (answer as { value: Reply }).value;
  } finally {
    if (ctx.alive) {
      ctx.host.deactivateAlias(ctx, tag);
      ctx.demonitor(tag, { flush: true });
      flushReplies(ctx, tag);
    }
  }
}

/**
 * Drop every queued reply to `tag`. With its alias inactive none can arrive any more; one is
 * queued when it arrived after the call's receive had settled with the DOWN but before the
 * caller resumed (a `From` handed to another process that replies after the server died, or a
 * remote server's DOWN overtaking its reply on the control lane).
 */
function flushReplies(ctx: Process, tag: Ref): void {
  const mailbox = ctx.mailbox;
  if (mailbox === null) return;
  while (mailbox.take((msg) => isReplyMessage(msg) && msg.tag.equals(tag)) !== NO_MESSAGE);
}

/** Send a request; a local target whose full mailbox has policy `reject` refuses it at once. */
function sendRequest(ctx: Process, to: Pid | NameAtNode, request: unknown): void {
  if (!ctx.alive) throw PROCESS_EXITED;
  if (ctx.host.send(ctx, to, request)) return;
  const printed = to instanceof Pid ? to.key : `${to.name}@{${to.node}}`;
  throw fedError('mailbox_full', `the mailbox of ${printed} is full and rejects the request`, { target: printed });
}

function errorFromDown(reason: ExitReason, target: Pid | NameAtNode): Error {
  const printed = target instanceof Pid ? target.key : `${target.name}@{${target.node}}`;
  if (reason === 'noproc') return fedError('noproc', `no process ${printed}`, { target: printed });
  if (reason === 'noconnection') return fedError('nodedown', `lost the connection to ${printed}`, { target: printed });
  return fedError('exited', `${printed} exited before replying`, { target: printed, reason });
}

export function cast(nodeOrCtx: NodeOrContext, target: SendTarget, request: unknown): void {
  const msg: CastMessage = { type: '$cast', request };
  if (nodeOrCtx instanceof Node) {
    nodeOrCtx.send(typeof target === 'string' ? { name: target, node: nodeOrCtx.name } : target, msg);
    return;
  }
  nodeOrCtx.send(normalizeTarget(nodeOrCtx, target), msg);
}

/** Answer a call later (after `handleCall` returned `{ noreply: true }`). */
export function reply(from: From, value: unknown): void {
  if (!(from instanceof From)) throw fedError('badarg', 'reply needs the From given to handleCall');
  from.send(value);
}

/** Ask a server to stop with `reason`: it runs `terminate` and exits; resolves once it has. */
export async function stopServer(
  nodeOrCtx: NodeOrContext,
  target: SendTarget,
  reason: ExitReason = 'normal',
  timeoutMs: number = Infinity,
): Promise<void> {
  if (nodeOrCtx instanceof Node) return nodeOrCtx.run((ctx) => stopServer(ctx, target, reason, timeoutMs));
  await callWith(asProcess(nodeOrCtx), target, (from) => ({ type: '$stop', from, reason }), timeoutMs);
}
