/**
 * The nemesis: runs a fault schedule (schedule.ts) against a `Cluster`, one fault at a time,
 * and records each fault window (when it was applied, when it was healed, what it did).
 *
 * Contract: a step starts no earlier than its scheduled offset (later if the previous one ran
 * long); an abort (the end of the workload) cuts the current fault short and heals it.
 * `healAll` resumes paused nodes, restarts killed ones and clears every node's block list —
 * called once at the end, whatever happened. Each fault tells `hooks.faultStart` which nodes it
 * touches before it acts, and `hooks.faultSettled` a grace period after it is healed.
 */
import { Rng } from '../runtime/index.js';
import type { Cluster } from './cluster.js';
import { sleep } from './cluster.js';
import { chooseTargets, partitionBlocks, removableNodes, shortName, type FaultStep } from './schedule.js';

/**
 * After a heal, names of the nodes a fault touched may still be removed for this long: removals
 * proposed just before the heal commit just after it, and a resumed node's peers may still
 * miss heartbeats for a moment.
 */
export const FAULT_SETTLE_GRACE_MS = 3_000;

export interface FaultWindow {
  readonly index: number;
  readonly kind: FaultStep['kind'];
  readonly description: string;
  /** The nodes whose names the fault lets the group remove (or whose processes it ends). */
  readonly nodes: readonly string[];
  /** ns since the start of the run. */
  readonly startNs: number;
  endNs: number | null;
  problems: string[];
}

export interface NemesisHooks {
  faultStart(nodes: readonly string[], why: string, ownersDie: boolean): void;
  faultSettled(): void;
  nowNs(): number;
  log(message: string): void;
}

export class Nemesis {
  readonly windows: FaultWindow[] = [];
  readonly #cluster: Cluster;
  readonly #hooks: NemesisHooks;
  #current: FaultWindow | undefined;
  #settleTimer: NodeJS.Timeout | undefined;

  constructor(cluster: Cluster, hooks: NemesisHooks) {
    this.#cluster = cluster;
    this.#hooks = hooks;
  }

  /** What is happening now, for the progress line. */
  current(): string {
    return this.#current === undefined ? 'none' : `${this.#current.kind}: ${this.#current.description}`;
  }

  /** Runs the steps; `startMs` is the performance.now() of the workload start. */
  async run(steps: readonly FaultStep[], startMs: number, signal: AbortSignal): Promise<void> {
    for (const step of steps) {
      if (signal.aborted) return;
      await abortableSleep(startMs + step.startMs - performance.now(), signal);
      if (signal.aborted) return;
      await this.#execute(step, signal);
    }
  }

  async #execute(step: FaultStep, signal: AbortSignal): Promise<void> {
    try {
      switch (step.kind) {
        case 'partition':
          return await this.#partition(step, signal);
        case 'kill':
          return await this.#kill(step, signal);
        case 'pause':
          return await this.#pause(step, signal);
        case 'membership':
          return await this.#membership(step);
      }
    } catch (error) {
      this.#hooks.log(`nemesis step ${step.index} (${step.kind}) failed: ${(error as Error).message}`);
      this.#current?.problems.push((error as Error).message);
    } finally {
      this.#close();
    }
  }

  #open(step: FaultStep, description: string, nodes: readonly string[], ownersDie: boolean): FaultWindow {
    if (this.#settleTimer !== undefined) clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
    this.#hooks.faultStart(nodes, `${step.kind} ${description}`, ownersDie);
    const window: FaultWindow = { index: step.index, kind: step.kind, description, nodes: [...nodes], startNs: this.#hooks.nowNs(), endNs: null, problems: [] };
    this.windows.push(window);
    this.#current = window;
    this.#hooks.log(`fault ${step.index}: ${step.kind} ${description}`);
    return window;
  }

  #close(): void {
    const window = this.#current;
    if (window === undefined) return;
    window.endNs = this.#hooks.nowNs();
    this.#current = undefined;
    if (this.#settleTimer !== undefined) clearTimeout(this.#settleTimer);
    this.#settleTimer = setTimeout(() => {
      this.#settleTimer = undefined;
      this.#hooks.faultSettled();
    }, FAULT_SETTLE_GRACE_MS);
  }

  async #partition(step: FaultStep, signal: AbortSignal): Promise<void> {
    const running = this.#cluster.running();
    const leader = await this.#cluster.leader();
    const partition = partitionBlocks(step.shape ?? 'halves', running, leader, step.pick);
    const window = this.#open(step, partition.description, removableNodes(partition, running), false);
    const told = await Promise.all([...partition.blocked].map(([node, blocked]) => this.#cluster.setBlocked(node, blocked)));
    if (told.includes(false)) window.problems.push('some nodes could not be told to cut their links');
    await abortableSleep(step.durationMs, signal);
    await this.#healLinks(running);
  }

  async #kill(step: FaultStep, signal: AbortSignal): Promise<void> {
    const running = this.#cluster.running();
    const targets = chooseTargets(step.role ?? 'minority', running, await this.#cluster.leader(), step.pick);
    this.#open(step, `kill -9 ${step.role}: ${targets.map(shortName).join(' ')}`, targets, true);
    await this.#cluster.kill(targets);
    await abortableSleep(step.durationMs, signal);
    await this.#cluster.restart(targets);
  }

  async #pause(step: FaultStep, signal: AbortSignal): Promise<void> {
    const running = this.#cluster.running();
    const targets = chooseTargets(step.role ?? 'minority', running, await this.#cluster.leader(), step.pick);
    this.#open(step, `SIGSTOP ${step.role}: ${targets.map(shortName).join(' ')}`, targets, false);
    this.#cluster.pause(targets);
    await abortableSleep(step.durationMs, signal);
    this.#cluster.resume(targets);
  }

  async #membership(step: FaultStep): Promise<void> {
    if (step.action === 'join') {
      this.#open(step, 'a fresh node joins', [], false);
      const name = await this.#cluster.join();
      this.#hooks.log(`${name} joined`);
      return;
    }
    const running = this.#cluster.running();
    if (running.length <= 1) return;
    const target = new Rng(step.pick).pick([...running].sort());
    this.#open(step, `${shortName(target)} leaves`, [target], true);
    const acknowledged = await this.#cluster.leave(target, 10_000);
    if (!acknowledged) this.#current?.problems.push(`${target} left without an acknowledged leave`);
  }

  async #healLinks(nodes: readonly string[]): Promise<void> {
    await Promise.all(nodes.filter((node) => this.#cluster.stateOf(node) === 'running').map((node) => this.#cluster.setBlocked(node, [])));
  }

  /** Resume, restart and reconnect everything (the final heal). */
  async healAll(): Promise<void> {
    const members = this.#cluster.members();
    this.#cluster.resume(members.filter((node) => this.#cluster.stateOf(node) === 'paused'));
    await this.#cluster.restart(members.filter((node) => this.#cluster.stateOf(node) === 'killed'));
    await this.#healLinks(this.#cluster.running());
  }

  /** Stops the settle timer (run it now). */
  finish(): void {
    if (this.#settleTimer !== undefined) {
      clearTimeout(this.#settleTimer);
      this.#settleTimer = undefined;
    }
    this.#hooks.faultSettled();
  }
}

/** Sleeps `ms` or until `signal` aborts. */
export async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
