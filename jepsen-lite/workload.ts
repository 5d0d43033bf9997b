/**
 * The workload of a run: concurrent clients (hidden nodes speaking the admin protocol through
 * the public `connectAdmin`) issuing register / unregister / whereis (linearizable) /
 * whereis_local over small rotating name sets, every operation recorded in history.jsonl.
 *
 * Recording (the format is history.ts's): each operation is an invoke and a completion.
 * Outcomes: a result → `ok` (name_taken and not_owner ARE results: {"taken"}, {"not_owner"});
 * an error with `details.definite === true` (refused before it was proposed) → `fail`;
 * anything else (timeout, lost connection) → `info`, after which the client continues under a
 * fresh process number, as in Jepsen.
 *
 * Names die with their node (the product's rule: the leader removes the names of a member it
 * cannot reach for a grace period, or that left or died). So that a correct cluster passes,
 * the removals a fault makes possible are recorded as operations that may or may not have
 * happened: when a fault cuts off, kills or pauses a node, each name its owners may hold gets
 * an `unregister` by that owner that ends `info` at once ("owner-loss" operations, listed in
 * results.json); so does each register by such an owner until a grace period after the heal,
 * after which those owners are retired and their clients spawn fresh owners. Owners on a
 * killed or departed node are dead (the lost-registration checker excuses them).
 *
 * Load is spread as Jepsen does: clients form teams of `clientsPerName`; a team works on one
 * name until it has issued `opsPerName` operations on it, then moves to a fresh name.
 */
import type { AdminClient } from '../cli/admin-client.js';
import { connectAdmin } from '../cli/admin-client.js';
import type { NameInfo } from '../cli/admin-protocol.js';
import { Pid, Rng, isFedError } from '../runtime/index.js';
import { JsonLinesWriter, type HistoryEvent, type OperationFunction } from './history.js';
import { sleep } from './cluster.js';

export const CONNECT_TIMEOUT_MS = 2_000;
const RECONNECT_PAUSE_MS = 250;
/** Mix of operations: cumulative shares of register, unregister, whereis; the rest whereis_local. */
const MIX_REGISTER = 0.3;
const MIX_UNREGISTER = 0.5;
const MIX_WHEREIS = 0.8;
const NAME_PREFIX = 'jl';
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
  /** Process numbers of owner-loss operations (not client operations). */
  readonly ownerLossProcesses = new Set<number>();
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

  /** Who used each process number: a client index, or -1 for final reads and owner-loss operations. */
  readonly processClient = new Map<number, number>();

  newProcess(client = -1): number {
    const process = this.#nextProcess++;
    this.processClient.set(process, client);
    return process;
  }

  record(process: number, type: HistoryEvent['type'], f: OperationFunction, name: string, value: unknown): HistoryEvent {
    const event: HistoryEvent = { process, type, f, name, value, time: this.#clock.nowNs() };
    this.#writer.append(event);
    this.events.push(event);
    return event;
  }

  /** An unregister by `owner` that may or may not happen: the product may remove the name with the owner's node. */
  recordOwnerLoss(owner: string, name: string, why: string): void {
    const process = this.newProcess();
    this.ownerLossProcesses.add(process);
    this.record(process, 'invoke', 'unregister', name, owner);
    this.record(process, 'info', 'unregister', name, `owner-loss: ${why}`);
  }

  async close(): Promise<void> {
    await this.#writer.close();
  }
}

interface OwnerRecord {
  readonly node: string;
  readonly names: Set<string>;
  /** Its names may be removed from now on: retire it once the current fault's grace ends. */
  tainted: boolean;
  retired: boolean;
  dead: boolean;
}

/**
 * Owners (holder pids in printed form), the names each may hold, and the fault bookkeeping
 * described in the file comment.
 */
export class Owners {
  readonly #owners = new Map<string, OwnerRecord>();
  readonly #recorder: Recorder;
  /** Nodes hit by the faults since the last time everything settled. */
  #affected = new Set<string>();
  #why = '';

  constructor(recorder: Recorder) {
    this.#recorder = recorder;
  }

  add(owner: string): void {
    this.#owners.set(owner, { node: Pid.parse(owner).node, names: new Set(), tainted: false, retired: false, dead: false });
  }

  /** Whether a client should stop using this owner (dead, or retired after a fault). */
  unusable(owner: string): boolean {
    const record = this.#owners.get(owner);
    return record === undefined || record.dead || record.retired;
  }

  /** Before a register by `owner` is invoked. */
  beforeRegister(owner: string, name: string): void {
    const record = this.#owners.get(owner);
    if (record === undefined) return;
    record.names.add(name);
    if (this.#affected.has(record.node) && !record.dead) {
      record.tainted = true;
      this.#recorder.recordOwnerLoss(owner, name, this.#why);
    }
  }

  /** A fault begins on `nodes`; `ownersDie` when their processes end (kill, leave). */
  faultStart(nodes: readonly string[], why: string, ownersDie: boolean): void {
    for (const node of nodes) this.#affected.add(node);
    this.#why = why;
    for (const [owner, record] of this.#owners) {
      if (!this.#affected.has(record.node) || record.dead) continue;
      for (const name of [...record.names].sort()) this.#recorder.recordOwnerLoss(owner, name, why);
      record.tainted = true;
      if (ownersDie) record.dead = true;
    }
  }

  /** The fault's grace period is over: retire the owners it touched. */
  faultSettled(): void {
    this.#affected = new Set();
    for (const record of this.#owners.values()) {
      if (record.tainted) record.retired = true;
    }
  }

  /** Owners whose processes died (on killed or departed nodes). */
  deadOwners(): string[] {
    return [...this.#owners].filter(([, record]) => record.dead).map(([owner]) => owner);
  }

  count(): number {
    return this.#owners.size;
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
    const name = `${NAME_PREFIX}-t${team}-g${generation}`;
    this.used.add(name);
    return name;
  }
}

export interface WorkloadContext {
  readonly recorder: Recorder;
  readonly owners: Owners;
  readonly limiter: RateLimiter;
  readonly names: NameRotation;
  readonly cookie: string;
  readonly operationTimeoutMs: number;
  /** Running nodes and their addresses, for (re)connecting. */
  readonly running: () => readonly { name: string; address: string }[];
  readonly counts: Record<'invoke' | 'ok' | 'fail' | 'info', number>;
}

type Outcome = { type: 'ok'; value: unknown } | { type: 'fail' | 'info'; value: unknown; connectionLost: boolean };

/** One client: a hidden node connected to one cluster node, with its own owner pid. */
export class Client {
  readonly index: number;
  readonly team: number;
  readonly #context: WorkloadContext;
  readonly #rng: Rng;
  #process: number;
  #connection: AdminClient | undefined;
  #owner: string | undefined;
  #connectAttempt = 0;

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
    if (this.#owner === undefined || this.#context.owners.unusable(this.#owner)) {
      try {
        const { pid } = (await this.#connection.request({ op: 'spawn_holder' }, CONNECT_TIMEOUT_MS)) as { pid: string };
        this.#owner = pid;
        this.#context.owners.add(pid);
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
    if (f === 'register') this.#context.owners.beforeRegister(owner, name);
    const process = this.#process;
    this.#context.recorder.record(process, 'invoke', f, name, isWrite ? owner : null);
    this.#context.counts.invoke++;
    const outcome = await perform(connection, f, name, owner, this.#context.operationTimeoutMs);
    this.#context.recorder.record(process, outcome.type, f, name, outcome.value);
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
    if (connection !== undefined) await connection.close().catch(() => undefined);
  }
}

/** One operation against the node, mapped to its history outcome. */
export async function perform(connection: AdminClient, f: OperationFunction, name: string, owner: string, timeoutMs: number): Promise<Outcome> {
  try {
    switch (f) {
      case 'register':
        await connection.request({ op: 'register', name, pid: owner, meta: {} }, timeoutMs);
        return { type: 'ok', value: 'ok' };
      case 'unregister':
        await connection.request({ op: 'unregister', name, pid: owner }, timeoutMs);
        return { type: 'ok', value: 'ok' };
      case 'whereis':
      case 'whereis_local': {
        const consistency = f === 'whereis' ? 'linearizable' : 'local';
        const info = (await connection.request({ op: 'whereis', name, consistency }, timeoutMs)) as NameInfo;
        return { type: 'ok', value: info.pid };
      }
    }
  } catch (error) {
    return classify(f, error);
  }
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
