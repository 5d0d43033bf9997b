/**
 * The workload of a run: concurrent clients (hidden nodes speaking the admin protocol through
 * the public `connectAdmin`) issuing register / unregister / whereis (linearizable) /
 * whereis_local over small rotating name sets, every operation recorded in history.jsonl.
 *
 * Recording (the format is history.ts's): each operation is an invoke and a completion.
 * Outcomes: a result → `ok` (name_taken and not_owner ARE results: {"taken"}, {"not_owner"});
 * an error with `details.definite === true` (refused before it was proposed) → `fail`;
 * anything else (timeout, lost connection) → `info`, after which the client continues under a
 * fresh process number, as in Jepsen. An operation never outlives `--op-timeout`: an
 * `overloaded` refusal is retried (with the CLI's backoff) only within what is left of it.
 *
 * Owners: each client's names are held by a holder process (`spawn_holder`) on the node the
 * client is connected to; a client that reconnects (to the same node or another) spawns a fresh
 * holder there. So a name lives and dies with a node the runner knows, by the product's rule —
 * the holder exits with its node, and the leader removes the names of a node it declares down.
 * The history records only what clients saw; what the cluster removed, it says itself (the
 * registry watch, registry-events.ts).
 *
 * Load is spread as Jepsen does: clients form teams of `clientsPerName`; a team works on one
 * name until it has issued `opsPerName` operations on it, then moves to a fresh name.
 */
import type { AdminClient } from '../cli/admin-client.js';
import { connectAdmin } from '../cli/admin-client.js';
import type { AdminRequest, NameInfo } from '../cli/admin-protocol.js';
import { RETRY_DEFAULTS, backoffDelayMs } from '../cli/retry.js';
import { Rng, fedError, isFedError } from '../runtime/index.js';
import { JsonLinesWriter, type HistoryEvent, type OperationFunction } from './history.js';
import { sleep } from './cluster.js';

export const CONNECT_TIMEOUT_MS = 2_000;
const RECONNECT_PAUSE_MS = 250;
/** Mix of operations: cumulative shares of register, unregister, whereis; the rest whereis_local. */
const MIX_REGISTER = 0.3;
const MIX_UNREGISTER = 0.5;
const MIX_WHEREIS = 0.8;
/** Every name of the workload starts with this (the registry watch follows it). */
export const NAME_PREFIX = 'jl-t';
/**
 * Every name ends with this, so that no name is a prefix of another (`jl-t0-g1.` is not a
 * prefix of `jl-t0-g10.`): the registry watch can then ask about exactly one name by prefix.
 */
export const NAME_END = '.';
const CONNECTION_LOST_CODES = new Set(['nodedown', 'noconnection', 'closed', 'noproc', 'shutdown']);

/** Monotonic nanoseconds since the start of the run. */
export class RunClock {
  readonly #start = process.hrtime.bigint();
  readonly startedAt = new Date();
  nowNs(): number {
    return Number(process.hrtime.bigint() - this.#start);
  }
}

/** Appends events in time order to history.jsonl and keeps them for the checkers. */
export class Recorder {
  readonly events: HistoryEvent[] = [];
  readonly #writer: JsonLinesWriter<HistoryEvent>;
  readonly #clock: RunClock;
  #nextProcess = 0;

  constructor(path: string, clock: RunClock) {
    this.#writer = JsonLinesWriter.history(path);
    this.#clock = clock;
  }

  get clock(): RunClock {
    return this.#clock;
  }

  /** Who used each process number: a client index, or -1 for the final reads. */
  readonly processClient = new Map<number, number>();

  newProcess(client = -1): number {
    const process = this.#nextProcess++;
    this.processClient.set(process, client);
    return process;
  }

  /** `answer`: on an ok write, the revision and group the node answered with. */
  record(process: number, type: HistoryEvent['type'], f: OperationFunction, name: string, value: unknown, answer: WriteAnswer = {}): HistoryEvent {
    const event: HistoryEvent = { process, type, f, name, value, time: this.#clock.nowNs(), ...answer };
    this.#writer.append(event);
    this.events.push(event);
    return event;
  }

  async close(): Promise<void> {
    await this.#writer.close();
  }
}

/** Hands out start slots so that all clients together stay near `ratePerSecond`. */
export class RateLimiter {
  readonly #intervalMs: number;
  #nextMs = 0;

  constructor(ratePerSecond: number) {
    this.#intervalMs = 1000 / ratePerSecond;
  }

  async take(): Promise<void> {
    const now = performance.now();
    const at = Math.max(now, this.#nextMs);
    this.#nextMs = at + this.#intervalMs;
    if (at > now) await sleep(at - now);
  }
}

/** Which name each team works on; a team moves on after `opsPerName` operations. */
export class NameRotation {
  readonly #opsPerName: number;
  readonly #generation = new Map<number, number>();
  readonly #ops = new Map<number, number>();
  readonly used = new Set<string>();

  constructor(opsPerName: number) {
    this.#opsPerName = opsPerName;
  }

  /** The name for the next operation of `team` (counts the operation). */
  next(team: number): string {
    const generation = this.#generation.get(team) ?? 0;
    const ops = (this.#ops.get(team) ?? 0) + 1;
    if (ops > this.#opsPerName) {
      this.#generation.set(team, generation + 1);
      this.#ops.set(team, 1);
      return this.#name(team, generation + 1);
    }
    this.#ops.set(team, ops);
    return this.#name(team, generation);
  }

  #name(team: number, generation: number): string {
    const name = `${NAME_PREFIX}${team}-g${generation}${NAME_END}`;
    this.used.add(name);
    return name;
  }
}

export interface WorkloadContext {
  readonly recorder: Recorder;
  readonly limiter: RateLimiter;
  readonly names: NameRotation;
  readonly cookie: string;
  readonly operationTimeoutMs: number;
  /** Running nodes and their addresses, for (re)connecting. */
  readonly running: () => readonly { name: string; address: string }[];
  readonly counts: Record<'invoke' | 'ok' | 'fail' | 'info', number>;
}

/** What a node answered an acknowledged write with (recorded beside the result). */
export interface WriteAnswer {
  readonly revision?: number;
  readonly group?: string;
}

type Outcome = { type: 'ok'; value: unknown; answer?: WriteAnswer } | { type: 'fail' | 'info'; value: unknown; connectionLost: boolean };

/** One client: a hidden node connected to one cluster node, with its own holder (owner pid) there. */
export class Client {
  readonly index: number;
  readonly team: number;
  readonly #context: WorkloadContext;
  readonly #rng: Rng;
  #process: number;
  #connection: AdminClient | undefined;
  /** The holder on the connected node; cleared with the connection. */
  #owner: string | undefined;
  #connectAttempt = 0;
  /** Holders this client spawned, in order (for results.json). */
  readonly owners: string[] = [];

  constructor(index: number, team: number, seed: number, context: WorkloadContext) {
    this.index = index;
    this.team = team;
    this.#context = context;
    this.#rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    this.#process = context.recorder.newProcess(index);
  }

  /** Issues operations until `deadlineMs` (performance.now() time) or `signal` aborts. */
  async run(deadlineMs: number, signal: AbortSignal): Promise<void> {
    try {
      while (performance.now() < deadlineMs && !signal.aborted) {
        if (!(await this.#ready())) {
          await sleep(RECONNECT_PAUSE_MS);
          continue;
        }
        await this.#context.limiter.take();
        if (performance.now() >= deadlineMs || signal.aborted) break;
        await this.#operate();
      }
    } finally {
      await this.#disconnect();
    }
  }

  /** Connected, with a usable owner. */
  async #ready(): Promise<boolean> {
    if (this.#connection === undefined) {
      const running = this.#context.running();
      if (running.length === 0) return false;
      const target = running[(this.index + this.#connectAttempt++) % running.length] as { name: string; address: string };
      try {
        this.#connection = await connectAdmin(target.address, this.#context.cookie, CONNECT_TIMEOUT_MS);
      } catch {
        return false;
      }
    }
    if (this.#owner === undefined) {
      try {
        const { pid } = (await requestWithin(this.#connection, { op: 'spawn_holder' }, CONNECT_TIMEOUT_MS)) as { pid: string };
        this.#owner = pid;
        this.owners.push(pid);
      } catch {
        await this.#disconnect();
        return false;
      }
    }
    return true;
  }

  async #operate(): Promise<void> {
    const connection = this.#connection as AdminClient;
    const owner = this.#owner as string;
    const name = this.#context.names.next(this.team);
    const roll = this.#rng.next();
    const f: OperationFunction = roll < MIX_REGISTER ? 'register' : roll < MIX_UNREGISTER ? 'unregister' : roll < MIX_WHEREIS ? 'whereis' : 'whereis_local';
    const isWrite = f === 'register' || f === 'unregister';
    const process = this.#process;
    this.#context.recorder.record(process, 'invoke', f, name, isWrite ? owner : null);
    this.#context.counts.invoke++;
    const outcome = await perform(connection, f, name, owner, this.#context.operationTimeoutMs);
    this.#context.recorder.record(process, outcome.type, f, name, outcome.value, outcome.type === 'ok' ? outcome.answer : undefined);
    this.#context.counts[outcome.type]++;
    if (outcome.type === 'info') {
      this.#process = this.#context.recorder.newProcess(this.index);
      if (outcome.connectionLost) await this.#disconnect();
    } else if (outcome.type === 'fail' && outcome.connectionLost) {
      await this.#disconnect();
    }
  }

  async #disconnect(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    this.#owner = undefined;
    if (connection !== undefined) await connection.close().catch(() => undefined);
  }
}

/** Time and randomness of `requestWithin` (injected by tests). */
export interface DeadlineTiming {
  now(): number;
  sleep(ms: number): Promise<void>;
  readonly rng?: Rng;
}

const REAL_TIMING: DeadlineTiming = { now: () => performance.now(), sleep };

/**
 * One admin request that settles within `timeoutMs` in all: each attempt gets only what is
 * left, and an `overloaded` refusal (definite: it was never proposed) is retried with the CLI's
 * capped, jittered backoff only while a wait and another attempt still fit. When they do not,
 * the last refusal is thrown as it is, so the operation is recorded as the definite `fail` it
 * is; an attempt that runs out of time is a `timeout` (unknown).
 */
export async function requestWithin(connection: AdminClient, request: AdminRequest, timeoutMs: number, timing: DeadlineTiming = REAL_TIMING): Promise<unknown> {
  const deadline = timing.now() + timeoutMs;
  for (let attempt = 0; attempt < RETRY_DEFAULTS.attemptsMax; attempt++) {
    const remaining = Math.floor(deadline - timing.now());
    if (remaining <= 0) throw fedError('timeout', `${request.op} did not finish in ${timeoutMs} ms`);
    try {
      return await connection.requestOnce(request, remaining);
    } catch (error) {
      if (!isFedError(error, 'overloaded')) throw error;
      const hint = typeof error.details?.retryAfterMs === 'number' ? error.details.retryAfterMs : undefined;
      const waitMs = backoffDelayMs(attempt, hint, {}, timing.rng);
      // Another attempt needs time to wait and then time to be answered: stop with the refusal.
      if (timing.now() + waitMs >= deadline || attempt + 1 >= RETRY_DEFAULTS.attemptsMax) throw error;
      await timing.sleep(waitMs);
    }
  }
  throw fedError('timeout', `${request.op} did not finish in ${timeoutMs} ms`);
}

/** One operation against the node, mapped to its history outcome; it settles within `timeoutMs`. */
export async function perform(connection: AdminClient, f: OperationFunction, name: string, owner: string, timeoutMs: number, timing: DeadlineTiming = REAL_TIMING): Promise<Outcome> {
  try {
    switch (f) {
      case 'register':
        return { type: 'ok', value: 'ok', answer: writeAnswer(await requestWithin(connection, { op: 'register', name, pid: owner, meta: {} }, timeoutMs, timing)) };
      case 'unregister':
        return { type: 'ok', value: 'ok', answer: writeAnswer(await requestWithin(connection, { op: 'unregister', name, pid: owner }, timeoutMs, timing)) };
      case 'whereis':
      case 'whereis_local': {
        const consistency = f === 'whereis' ? 'linearizable' : 'local';
        const info = (await requestWithin(connection, { op: 'whereis', name, consistency }, timeoutMs, timing)) as NameInfo;
        return { type: 'ok', value: info.pid };
      }
    }
  } catch (error) {
    return classify(f, error);
  }
}

/** The revision and group of a register / unregister answer (`{name, pid, revision, group}`), those that are there. */
export function writeAnswer(reply: unknown): WriteAnswer {
  if (typeof reply !== 'object' || reply === null) return {};
  const { revision, group } = reply as { revision?: unknown; group?: unknown };
  return {
    ...(typeof revision === 'number' && Number.isSafeInteger(revision) && revision >= 0 ? { revision } : {}),
    ...(typeof group === 'string' && group.length > 0 ? { group } : {}),
  };
}

/** Maps an error to its outcome: a refusal that is a result, a definite failure, or unknown. */
export function classify(f: OperationFunction, error: unknown): Outcome {
  if (!isFedError(error)) return { type: 'info', value: `error: ${String(error)}`, connectionLost: false };
  const details = error.details ?? {};
  const holder = details.holder;
  if (f === 'register' && error.code === 'name_taken' && typeof holder === 'string') return { type: 'ok', value: { taken: holder } };
  if (f === 'unregister' && error.code === 'not_owner' && (typeof holder === 'string' || holder === null)) {
    return { type: 'ok', value: { not_owner: holder } };
  }
  if ((f === 'whereis' || f === 'whereis_local') && error.code === 'not_found') return { type: 'ok', value: null };
  const connectionLost = CONNECTION_LOST_CODES.has(error.code) && details.definite !== true;
  if (details.definite === true) return { type: 'fail', value: error.code, connectionLost: false };
  return { type: 'info', value: error.code, connectionLost };
}
