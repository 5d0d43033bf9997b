/**
 * The nemesis: runs a fault schedule (schedule.ts) against a `Cluster` and records each fault
 * window (when it was applied, when it was healed, what it did).
 *
 * Faults of one kind run one after the other; the kinds run side by side, so a kill may land
 * during a partition, or a pause during a membership change. The partition in force is kept as
 * the block list each member should have, over every member (running, killed or paused), and
 * given again to a node when it comes back (restarted after a kill, resumed after a pause,
 * joined during the partition — a fresh node takes the leader's side), so that a node that
 * missed the cut, or the heal, while it was down does not bridge or split the group by mistake.
 *
 * Contract: a step starts no earlier than its scheduled offset (later if the previous step of
 * its kind ran long); an abort (the end of the workload) cuts every current fault short and
 * heals it, and `run` settles only when every kind has healed its fault. `healAll` resumes
 * paused nodes, restarts killed ones and clears every node's block list — called once at the
 * end, whatever happened. The nemesis never tells the checkers what a fault "may have done":
 * they learn what the cluster did from the cluster (see registry-events.ts).
 *
 * In a federation every fault but the federation shapes hurts one group (drawn from the step's
 * pick): a partition shape cuts inside it, kill and pause take its leader, a minority or a
 * majority, membership joins or leaves it. `gateway-loss` kills (then restarts) or pauses (then
 * resumes) the members hosting one group's gateways. The federation shapes cut links to gateway
 * nodes as well, which a node's fault hook applies to its gateway links (now, or to a gateway it
 * starts later): a node whose answer does not say so (`gatewayBlocked` in the `fault` answer:
 * the gateway names cut, or null with no gateway here) gets the window a problem, so a run never
 * claims a cut it did not make.
 */
import { Rng } from '../runtime/index.js';
import type { Cluster } from './cluster.js';
import { sleep } from './cluster.js';
import { isFederationShape } from './options.js';
import { type FaultStep, type Partition, chooseTargets, federationPartition, minorityMax, partitionBlocks, pickGroup, shortName } from './schedule.js';

/** How long, after a paused leader resumes, to wait for the running nodes to agree on a leader. */
export const LEADER_AFTER_PAUSE_WAIT_MS = 5_000;
const LEADER_POLL_MS = 200;
/** Time a membership leave may take before it counts as not acknowledged. */
export const LEAVE_TIMEOUT_MS = 10_000;

export interface FaultWindow {
  readonly index: number;
  readonly kind: FaultStep['kind'];
  readonly description: string;
  /** In a federation: the group the fault hurts (all groups for a federation partition: the target). */
  readonly group?: string;
  /** The nodes the fault acts on: cut off by a partition, killed, paused, joined (known once it started) or leaving. */
  nodes: readonly string[];
  /** ns since the start of the run. */
  readonly startNs: number;
  endNs: number | null;
  /** The leader the running nodes (of the group hurt) named when the fault began. */
  readonly leaderBefore: string | null;
  /** After a pause: the leader the running nodes agreed on once the paused nodes resumed (null: none agreed in time). */
  leaderAfter?: string | null;
  /** A membership leave: its node is gone for the rest of the run (the window's end is not the fault's). */
  leaves?: true;
  problems: string[];
}

export interface NemesisHooks {
  nowNs(): number;
  log(message: string): void;
}

export class Nemesis {
  readonly windows: FaultWindow[] = [];
  readonly #cluster: Cluster;
  readonly #hooks: NemesisHooks;
  readonly #active = new Set<FaultWindow>();
  /** The partition in force: each member's block list (empty map: none). */
  readonly #blocked = new Map<string, readonly string[]>();

  constructor(cluster: Cluster, hooks: NemesisHooks) {
    this.#cluster = cluster;
    this.#hooks = hooks;
  }

  /** What is happening now, for the progress line. */
  current(): string {
    if (this.#active.size === 0) return 'none';
    return [...this.#active].map((window) => `${window.kind}: ${window.description}`).join('; ');
  }

  /** Runs the steps, each kind in its own sequence; `startMs` is the performance.now() of the workload start. */
  async run(steps: readonly FaultStep[], startMs: number, signal: AbortSignal): Promise<void> {
    const kinds = [...new Set(steps.map((step) => step.kind))];
    await Promise.all(kinds.map((kind) => this.#runKind(steps.filter((step) => step.kind === kind), startMs, signal)));
  }

  async #runKind(steps: readonly FaultStep[], startMs: number, signal: AbortSignal): Promise<void> {
    for (const step of steps) {
      if (signal.aborted) return;
      await abortableSleep(startMs + step.startMs - performance.now(), signal);
      if (signal.aborted) return;
      await this.#execute(step, signal);
    }
  }

  async #execute(step: FaultStep, signal: AbortSignal): Promise<void> {
    const opened: { window?: FaultWindow } = {};
    try {
      switch (step.kind) {
        case 'partition':
          return await this.#partition(step, signal, opened);
        case 'kill':
          return await this.#kill(step, signal, opened);
        case 'pause':
          return await this.#pause(step, signal, opened);
        case 'membership':
          return await this.#membership(step, opened);
        case 'wipe':
          return await this.#wipe(step, signal, opened);
        case 'gateway-loss':
          return await this.#gatewayLoss(step, signal, opened);
      }
    } catch (error) {
      this.#hooks.log(`nemesis step ${step.index} (${step.kind}) failed: ${(error as Error).message}`);
      opened.window?.problems.push((error as Error).message);
    } finally {
      if (opened.window !== undefined) this.#close(opened.window);
    }
  }

  /** The group a step hurts: its pick's choice in a federation, the only group otherwise. */
  #groupOf(step: FaultStep): string {
    const groups = this.#cluster.groups();
    return groups.length > 1 ? pickGroup(groups, step.pick) : (groups[0] as string);
  }

  async #open(step: FaultStep, description: string, nodes: readonly string[], opened: { window?: FaultWindow }, group: string): Promise<FaultWindow> {
    const leaderBefore = await this.#cluster.leader(group);
    const federated = this.#cluster.groups().length > 1;
    const shown = federated ? `${group}: ${description}` : description;
    const window: FaultWindow = {
      index: step.index,
      kind: step.kind,
      description: shown,
      ...(federated ? { group } : {}),
      nodes: [...nodes].sort(),
      startNs: this.#hooks.nowNs(),
      endNs: null,
      leaderBefore,
      problems: [],
    };
    this.windows.push(window);
    this.#active.add(window);
    opened.window = window;
    this.#hooks.log(`fault ${step.index}: ${step.kind} ${shown}`);
    return window;
  }

  #close(window: FaultWindow): void {
    window.endNs = this.#hooks.nowNs();
    this.#active.delete(window);
  }

  async #partition(step: FaultStep, signal: AbortSignal, opened: { window?: FaultWindow }): Promise<void> {
    const shape = step.shape ?? 'halves';
    const group = this.#groupOf(step);
    let partition: Partition;
    if (isFederationShape(shape)) {
      const topology = {
        groups: await Promise.all(
          this.#cluster.groups().map(async (id) => ({ id, members: this.#cluster.members(id), gateways: (await this.#cluster.gatewaysOf(id)).map((gateway) => gateway.member) })),
        ),
      };
      partition = federationPartition(shape, topology, group);
    } else {
      partition = partitionBlocks(shape, this.#cluster.members(group), await this.#cluster.leader(group), step.pick);
    }
    const cut = [...partition.blocked].filter(([, blocked]) => blocked.length > 0).map(([node]) => node);
    const window = await this.#open(step, partition.description, cut, opened, group);
    for (const [node, blocked] of partition.blocked) this.#blocked.set(node, blocked);
    const answers = await Promise.all(this.#cluster.running().map(async (node) => ({ node, answer: await this.#tellLinks(node) })));
    if (answers.some(({ answer }) => answer === undefined)) window.problems.push('some nodes could not be told to cut their links');
    if (isFederationShape(shape)) {
      // `gatewayBlocked`: the gateway node names the node cut, or null when it hosts no gateway
      // now (it applies the same list to a gateway it starts later). Absent: a node that cannot.
      const unconfirmed = answers.filter(({ node, answer }) => answer !== undefined && (this.#blocked.get(node) ?? []).length > 0 && !('gatewayBlocked' in answer));
      if (unconfirmed.length > 0) {
        window.problems.push(
          `the links between groups were not cut: ${unconfirmed.map(({ node }) => shortName(node)).join(' ')} did not say they cut their gateway links (no gatewayBlocked in the fault answer: their fault hook reaches only their group's own links)`,
        );
      }
    }
    await abortableSleep(step.durationMs, signal);
    this.#blocked.clear();
    await Promise.all(this.#cluster.running().map((node) => this.#tellLinks(node)));
  }

  async #kill(step: FaultStep, signal: AbortSignal, opened: { window?: FaultWindow }): Promise<void> {
    const group = this.#groupOf(step);
    const targets = chooseTargets(step.role ?? 'minority', this.#cluster.running(group), await this.#cluster.leader(group), step.pick);
    if (targets.length === 0) return;
    await this.#open(step, `kill -9 ${step.role}: ${targets.map(shortName).join(' ')}`, targets, opened, group);
    await this.#cluster.kill(targets);
    await abortableSleep(step.durationMs, signal);
    await this.#restart(targets);
  }

  /**
   * kill -9 the leader or a minority, delete their data directories (a disk lost), and start
   * them again under their names: new members with new Raft stores, joining through the others.
   */
  async #wipe(step: FaultStep, signal: AbortSignal, opened: { window?: FaultWindow }): Promise<void> {
    const group = this.#groupOf(step);
    // Never a majority, counting the nodes wiped before whose new stores the group has not
    // admitted yet (they hold none of its data): seed 5217 wiped two of five, which could not
    // rejoin during a partition and a kill, then the leader: three of five disks lost.
    const unrecovered = await this.#cluster.unrecoveredWipes(group);
    const budget = minorityMax(this.#cluster.members(group).length) - unrecovered.length;
    if (budget <= 0) {
      this.#hooks.log(`nemesis step ${step.index} (wipe) skipped: ${unrecovered.map(shortName).join(' ')} not admitted again yet`);
      return;
    }
    const candidates = this.#cluster.running(group).filter((node) => !unrecovered.includes(node));
    const targets = chooseTargets(step.role ?? 'minority', candidates, await this.#cluster.leader(group), step.pick).slice(0, budget);
    if (targets.length === 0) return;
    await this.#open(step, `kill -9 and wipe the data of ${step.role}: ${targets.map(shortName).join(' ')}`, targets, opened, group);
    await this.#cluster.kill(targets);
    this.#cluster.wipe(targets);
    await abortableSleep(step.durationMs, signal);
    await this.#restart(targets);
  }

  async #pause(step: FaultStep, signal: AbortSignal, opened: { window?: FaultWindow }): Promise<void> {
    const group = this.#groupOf(step);
    const targets = chooseTargets(step.role ?? 'minority', this.#cluster.running(group), await this.#cluster.leader(group), step.pick);
    if (targets.length === 0) return;
    const window = await this.#open(step, `SIGSTOP ${step.role}: ${targets.map(shortName).join(' ')}`, targets, opened, group);
    await this.#pauseFor(targets, step.durationMs, signal);
    if (window.leaderBefore !== null && targets.includes(window.leaderBefore)) window.leaderAfter = await this.#agreedLeader(group);
  }

  /** SIGSTOP the nodes, wait, SIGCONT those still paused and give them the partition in force. */
  async #pauseFor(targets: readonly string[], durationMs: number, signal: AbortSignal): Promise<void> {
    this.#cluster.pause(targets);
    await abortableSleep(durationMs, signal);
    const resumed = targets.filter((node) => this.#cluster.stateOf(node) === 'paused');
    this.#cluster.resume(resumed);
    await Promise.all(resumed.map((node) => this.#tellLinks(node)));
  }

  /** kill -9 (then restart) or pause (then resume) the members hosting one group's gateways. */
  async #gatewayLoss(step: FaultStep, signal: AbortSignal, opened: { window?: FaultWindow }): Promise<void> {
    const group = this.#groupOf(step);
    const running = this.#cluster.running(group);
    const targets = (await this.#cluster.gatewaysOf(group)).map((gateway) => gateway.member).filter((member) => running.includes(member)).sort();
    if (targets.length === 0) return;
    const how = step.action === 'pause' ? 'SIGSTOP' : 'kill -9';
    await this.#open(step, `${how} the gateways: ${targets.map(shortName).join(' ')}`, targets, opened, group);
    if (step.action === 'pause') {
      await this.#pauseFor(targets, step.durationMs, signal);
      return;
    }
    await this.#cluster.kill(targets);
    await abortableSleep(step.durationMs, signal);
    await this.#restart(targets);
  }

  async #membership(step: FaultStep, opened: { window?: FaultWindow }): Promise<void> {
    const group = this.#groupOf(step);
    if (step.action === 'join') {
      const window = await this.#open(step, 'a fresh node joins', [], opened, group);
      const name = await this.#cluster.join(group);
      window.nodes = [name];
      await this.#placeJoined(name);
      this.#hooks.log(`${name} joined`);
      return;
    }
    const running = this.#cluster.running(group);
    if (running.length <= 1) return;
    const target = new Rng(step.pick).pick([...running].sort());
    const window = await this.#open(step, `${shortName(target)} leaves`, [target], opened, group);
    window.leaves = true;
    this.#blocked.delete(target);
    const acknowledged = await this.#cluster.leave(target, LEAVE_TIMEOUT_MS);
    if (!acknowledged) window.problems.push(`${target} left without an acknowledged leave`);
  }

  /**
   * A node that joined during a partition takes the side of its group's leader (it joined
   * through it): it blocks what the leader blocks, and is blocked by those.
   */
  async #placeJoined(name: string): Promise<void> {
    if (this.#blocked.size === 0) return;
    const leader = await this.#cluster.leader(this.#cluster.groupOf(name));
    const side = leader === null ? [] : (this.#blocked.get(leader) ?? []);
    this.#blocked.set(name, side);
    for (const node of side) this.#blocked.set(node, [...(this.#blocked.get(node) ?? []), name].sort());
    await Promise.all([name, ...side].filter((node) => this.#cluster.members().includes(node) && this.#cluster.stateOf(node) === 'running').map((node) => this.#tellLinks(node)));
  }

  async #restart(nodes: readonly string[]): Promise<void> {
    const killed = nodes.filter((node) => this.#cluster.stateOf(node) === 'killed');
    await this.#cluster.restart(killed);
    await Promise.all(killed.filter((node) => this.#cluster.stateOf(node) === 'running').map((node) => this.#tellLinks(node)));
  }

  /**
   * Gives a running node the block list the partition in force wants for it (empty: none).
   * Resolves with its answer; undefined if it could not be told ({} if it does not run).
   */
  async #tellLinks(node: string): Promise<Record<string, unknown> | undefined> {
    if (this.#cluster.stateOf(node) !== 'running') return {};
    return this.#cluster.setBlocked(node, this.#blocked.get(node) ?? []);
  }

  async #agreedLeader(group: string): Promise<string | null> {
    const deadline = performance.now() + LEADER_AFTER_PAUSE_WAIT_MS;
    for (;;) {
      const { views, agreed } = await this.#cluster.view(group);
      const running = this.#cluster.running(group);
      const leader = agreed?.leader ?? null;
      const named = [...views.values()].filter((view) => view.leader === leader).length;
      if (leader !== null && running.includes(leader) && named > running.length / 2) return leader;
      if (performance.now() > deadline) return null;
      await sleep(LEADER_POLL_MS);
    }
  }

  /** Resume, restart and reconnect everything (the final heal). */
  async healAll(): Promise<void> {
    this.#blocked.clear();
    const members = this.#cluster.members();
    this.#cluster.resume(members.filter((node) => this.#cluster.stateOf(node) === 'paused'));
    await this.#cluster.restart(members.filter((node) => this.#cluster.stateOf(node) === 'killed'));
    await Promise.all(this.#cluster.running().map((node) => this.#tellLinks(node)));
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
