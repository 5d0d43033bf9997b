/**
 * A cluster of real `fedctl start` child processes on 127.0.0.1, each with its own data
 * directory and log file under the run directory (`nodes/<name>/data`, `nodes/<name>/node.log`),
 * started with `--fault-injection` (unless told otherwise), and the means to hurt it: kill -9 and
 * restart from the data directory, SIGSTOP/SIGCONT, cut links (the nodes' authenticated admin
 * `fault` request), join a fresh node, make a node leave. Extra `fedctl start` arguments (the
 * singleton flags) can be given per node.
 *
 * Groups: with one group id the cluster is one group. With several it is a federation: the
 * nodes are spread evenly over the groups (n1… in the first, and so on), the first group is the
 * root (its members start with `--federation-root`), every other group joins it (its members
 * start with `--federation-seed` for the gateway address of every root member), and each node
 * has its own `--gateway-listen` port, kept across restarts so that seeds and gateway addresses
 * stay valid. Each group bootstraps from its first node; the others join through it. `rebalance`
 * spreads the hash slots over the groups (the runner does it once every group joined).
 *
 * Contract: every process the cluster starts is tracked by pid and `stop()` ends each one
 * (SIGCONT if paused, SIGTERM, then SIGKILL after a grace period) and waits for its exit; a
 * process `exit` hook SIGKILLs whatever is left if the runner itself dies first. A node is
 * "ready" when its log shows `ready: listening on`. Control requests use a fresh hidden admin
 * connection each time (`connectAdmin`), so a dead or paused node only costs that request.
 * Every SIGKILL the cluster sends is recorded in `kills` with the time the process was gone: a
 * process killed that way writes nothing more (no singleton stop line), and the checkers must
 * know when it ended.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAdmin } from '../cli/admin-client.js';
import type { AdminRequest, GroupRow } from '../cli/admin-protocol.js';
import type { UnsafeMode } from '../registry/index.js';
import { fedError } from '../runtime/index.js';
import { groupSizes } from './options.js';

export const NODE_READY_TIMEOUT_MS = 30_000;
export const NODE_STOP_GRACE_MS = 5_000;
export const CONTROL_TIMEOUT_MS = 3_000;
const READY_POLL_MS = 100;
const HEALTH_POLL_MS = 300;
const LOG_LINE_CHARS_MAX = 500;
const HOST = '127.0.0.1';

/**
 * starting: launched, not ready yet; running: ready and not paused; killed: no process (killed,
 * or not started yet); paused: SIGSTOP; leaving: asked to leave, being stopped; left: gone for good.
 */
export type NodeState = 'starting' | 'running' | 'killed' | 'paused' | 'leaving' | 'left';

export interface ClusterOptions {
  readonly outDir: string;
  readonly nodes: number;
  readonly cookie: string;
  readonly cookieFile: string;
  /** Group ids; more than one makes a federation whose root is the first. */
  readonly groups: readonly string[];
  readonly fedctlCommand: readonly string[];
  readonly tickMs?: number | undefined;
  readonly unsafe?: UnsafeMode | undefined;
  /** Start nodes with `--fault-injection` (default true; the runner needs it to cut links). */
  readonly faultInjection?: boolean;
  /** Extra `fedctl start` arguments for a node, given its name and directory. */
  readonly extraArgs?: (node: { readonly name: string; readonly dir: string; readonly group: string }) => readonly string[];
  /** The run's clock, for `kills` (default: ms since the cluster was made, in ns). */
  readonly nowNs?: () => number;
  readonly log: (message: string) => void;
}

/** A SIGSTOP the cluster sent, and the SIGCONT that ended it (ns of the run's clock; `toNs` null while paused). */
export interface PauseRecord {
  readonly node: string;
  readonly pid: number;
  readonly fromNs: number;
  toNs: number | null;
  /** The node was the only member of its group (every other had left): it is its own quorum. */
  readonly alone: boolean;
}

/** A process the cluster ended with SIGKILL, and when it was gone (ns of the run's clock). */
export interface KillRecord {
  readonly node: string;
  readonly pid: number;
  readonly timeNs: number;
}

interface ClusterNode {
  readonly name: string;
  readonly group: string;
  readonly address: string;
  /** Where its gateway listens when it is one (federations only). */
  readonly gatewayAddress: string | undefined;
  readonly dataDir: string;
  readonly logPath: string;
  readonly dir: string;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  state: NodeState;
  /** Every pid this node ran under, in order. */
  readonly pids: number[];
}

export interface GroupView {
  readonly leader: string | null;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

/** A group's gateway as its members' status says: the member hosting it and its hidden node's name. */
export interface GatewayInfo {
  readonly member: string;
  readonly node: string;
  readonly address: string;
}

/** How long `groups` may take: it asks each other group through its gateways (2 s each). */
export const FEDERATION_CONTROL_TIMEOUT_MS = 10_000;
/** How long a `rebalance` may take (it moves every slot a new group gets). */
export const REBALANCE_TIMEOUT_MS = 60_000;

/** The command that runs `fedctl` from this package: the built CLI, or the source through tsx. */
export function defaultFedctlCommand(): { command: string[]; cwd: string } {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) {
    const root = fileURLToPath(new URL('..', import.meta.url));
    return { command: [process.execPath, '--import', 'tsx', join(root, 'cli', 'main.ts')], cwd: root };
  }
  const root = fileURLToPath(new URL('../..', import.meta.url));
  return { command: [process.execPath, fileURLToPath(new URL('../cli/main.js', import.meta.url))], cwd: root };
}

/** `count` distinct free TCP ports on 127.0.0.1 (bound then released). */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, HOST, () => {
        const address = server.address();
        const chosen = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(chosen));
      });
    });
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

export class Cluster {
  readonly #options: ClusterOptions;
  readonly #cwd: string;
  readonly #nodes: ClusterNode[] = [];
  readonly #exitHook = (): void => this.#killAllNow();
  readonly #kills: KillRecord[] = [];
  readonly #pauses: PauseRecord[] = [];
  readonly #nowNs: () => number;
  #nextIndex = 0;
  #stopped = false;
  /** Gateway addresses of the root group's first members: the `--federation-seed`s of the other groups. */
  #rootSeeds: string[] = [];

  private constructor(options: ClusterOptions, cwd: string) {
    this.#options = options;
    this.#cwd = cwd;
    const createdMs = performance.now();
    this.#nowNs = options.nowNs ?? (() => Math.round((performance.now() - createdMs) * 1e6));
    process.on('exit', this.#exitHook);
  }

  /**
   * Starts each group (all groups at once): its first node bootstraps it, then the others join
   * through it; resolves once every node is ready.
   */
  static async start(options: ClusterOptions, cwd: string): Promise<Cluster> {
    if (options.groups.length === 0 || options.nodes < options.groups.length) throw fedError('config', `${options.nodes} nodes cannot make ${options.groups.length} groups`);
    const cluster = new Cluster(options, cwd);
    try {
      const federated = cluster.federated;
      const ports = await freePorts(options.nodes * (federated ? 2 : 1));
      const sizes = groupSizes(options.nodes, options.groups.length);
      let next = 0;
      const byGroup = options.groups.map((group, index) =>
        Array.from({ length: sizes[index] as number }, () => {
          const at = next++;
          return cluster.#define(group, ports[at] as number, federated ? (ports[options.nodes + at] as number) : undefined);
        }),
      );
      cluster.#rootSeeds = federated ? (byGroup[0] ?? []).map((node) => node.gatewayAddress as string) : [];
      await Promise.all(
        byGroup.map(async ([first, ...others]) => {
          await cluster.#launch(first as ClusterNode, []);
          await Promise.all(others.map((node) => cluster.#launch(node, [(first as ClusterNode).address])));
        }),
      );
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Whether the cluster is a federation of several groups. */
  get federated(): boolean {
    return this.#options.groups.length > 1;
  }

  /** The group ids; the first is the root of a federation. */
  groups(): readonly string[] {
    return this.#options.groups;
  }

  groupOf(name: string): string {
    return this.#node(name).group;
  }

  /** Members that have not left or begun to leave (running, starting, killed or paused), of one group or all. */
  members(group?: string): string[] {
    return this.#nodes.filter((node) => node.state !== 'left' && node.state !== 'leaving' && (group === undefined || node.group === group)).map((node) => node.name);
  }

  /** Nodes wiped whose new store was not yet seen admitted (see `unrecoveredWipes`). */
  readonly #wiped = new Set<string>();

  /** How many processes the node has run under (1 until its first restart). */
  incarnation(name: string): number {
    return this.#node(name).pids.length;
  }

  /** Every node ever started, in order. */
  nodes(): string[] {
    return this.#nodes.map((node) => node.name);
  }

  /** Every SIGKILL sent, in order. */
  kills(): readonly KillRecord[] {
    return [...this.#kills];
  }

  /** Every SIGSTOP sent and its SIGCONT, in order. */
  pauses(): readonly PauseRecord[] {
    return this.#pauses.map((pause) => ({ ...pause }));
  }

  /** The directory of a node (its data, log and singleton log live there). */
  dirOf(name: string): string {
    return this.#node(name).dir;
  }

  /** Members whose process runs and is not paused, of one group or all. */
  running(group?: string): string[] {
    return this.#nodes.filter((node) => node.state === 'running' && (group === undefined || node.group === group)).map((node) => node.name);
  }

  stateOf(name: string): NodeState {
    return this.#node(name).state;
  }

  addressOf(name: string): string {
    return this.#node(name).address;
  }

  /** Every pid started, per node name. */
  pids(): Record<string, number[]> {
    return Object.fromEntries(this.#nodes.map((node) => [node.name, [...node.pids]]));
  }

  logPaths(): Record<string, string> {
    return Object.fromEntries(this.#nodes.map((node) => [node.name, node.logPath]));
  }

  /** One admin request to a node over a fresh hidden connection. */
  async request(name: string, request: AdminRequest, timeoutMs = CONTROL_TIMEOUT_MS): Promise<unknown> {
    const client = await connectAdmin(this.#node(name).address, this.#options.cookie, timeoutMs);
    try {
      return await client.request(request, timeoutMs);
    } finally {
      await client.close();
    }
  }

  /** A group (default the first) as each of its running nodes sees it, then the view most of them share (null if none). */
  async view(group = this.#options.groups[0] as string): Promise<{ views: Map<string, GroupView>; agreed: GroupView | null }> {
    const views = new Map<string, GroupView>();
    await Promise.all(
      this.running(group).map(async (name) => {
        try {
          const status = (await this.request(name, { op: 'status' })) as { leader: string | null; voters: string[]; learners: string[] };
          views.set(name, { leader: status.leader, voters: status.voters, learners: status.learners });
        } catch {
          // Unreachable for now: it simply has no view.
        }
      }),
    );
    const leaders = new Map<string, number>();
    for (const view of views.values()) if (view.leader !== null) leaders.set(view.leader, (leaders.get(view.leader) ?? 0) + 1);
    const [leader] = [...leaders.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0] ?? [null];
    const agreed = leader === null ? null : (views.get(leader) ?? [...views.values()].find((view) => view.leader === leader) ?? null);
    return { views, agreed };
  }

  /** The leader most running nodes of a group (default the first) name, or null. */
  async leader(group?: string): Promise<string | null> {
    return (await this.view(group)).agreed?.leader ?? null;
  }

  /**
   * Waits until every group is healthy — every running member names the same running leader,
   * that leader's configuration holds every running member, and it has its full voter count (3,
   * or 5 from 5 members) — and, in a federation, the directory is too (`federationHealthy`).
   * Resolves false on timeout.
   */
  async waitHealthy(timeoutMs: number, options: { signal?: AbortSignal; slots?: boolean } = {}): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && options.signal?.aborted !== true) {
      if (await this.#healthy(options.slots ?? true)) return true;
      await sleep(HEALTH_POLL_MS);
    }
    return false;
  }

  /** Each running node's view of its group, and in a federation the directory's rows (why `waitHealthy` said no). */
  async describeViews(): Promise<string> {
    const lines: string[] = [];
    for (const group of this.#options.groups) {
      const { views } = await this.view(group);
      for (const name of this.running(group)) {
        const view = views.get(name);
        lines.push(view === undefined ? `${name}: no answer` : `${name}: leader ${view.leader ?? 'none'}, voters [${view.voters.join(' ')}], learners [${view.learners.join(' ')}]`);
      }
    }
    if (this.federated) {
      const rows = await this.federationRows();
      lines.push(
        rows === null
          ? 'federation directory: no root member answered'
          : `federation directory: ${rows.map((row) => `${row.group} ${row.state}${row.reachable ? '' : ' unreachable'}, leader ${row.leader ?? 'none'}, ${row.slots ?? 0} slots, gateways [${row.gateways.map((gateway) => gateway.node).join(' ')}]`).join('; ')}`,
      );
    }
    return lines.join('; ');
  }

  /** `fedctl groups` as a running member of the root group answers it (null if none answers). */
  async federationRows(): Promise<GroupRow[] | null> {
    const root = this.#options.groups[0] as string;
    for (const name of this.running(root)) {
      try {
        return (await this.request(name, { op: 'groups' }, FEDERATION_CONTROL_TIMEOUT_MS)) as GroupRow[];
      } catch {
        // The next one.
      }
    }
    return null;
  }

  /** The gateways of a group as its running members' status lists them (empty if none answers). */
  async gatewaysOf(group: string): Promise<GatewayInfo[]> {
    for (const name of this.running(group)) {
      try {
        const status = (await this.request(name, { op: 'status' })) as { gateways?: GatewayInfo[] };
        return [...(status.gateways ?? [])];
      } catch {
        // The next one.
      }
    }
    return [];
  }

  /** Even out the hash slots over the groups (`rebalance` on a root member); resolves with the slots per group. */
  async rebalance(): Promise<Record<string, number>> {
    const root = this.#options.groups[0] as string;
    const leader = await this.leader(root);
    let lastError: unknown;
    for (const name of leader === null ? this.running(root) : [leader, ...this.running(root).filter((other) => other !== leader)]) {
      try {
        const answer = (await this.request(name, { op: 'rebalance' }, REBALANCE_TIMEOUT_MS)) as { slots: Record<string, number> };
        return answer.slots;
      } catch (error) {
        lastError = error;
      }
    }
    throw fedError('unavailable', `no member of the root group ${root} could rebalance the slots: ${(lastError as Error | undefined)?.message ?? 'none runs'}`);
  }

  async #healthy(requireSlots: boolean): Promise<boolean> {
    for (const group of this.#options.groups) if (!(await this.#groupHealthy(group))) return false;
    return !this.federated || this.#federationHealthy(await this.federationRows(), requireSlots);
  }

  /**
   * The directory is healthy when it lists every group, active, reachable through a gateway,
   * with a leader that runs and (once slots were spread) slots of its own.
   */
  #federationHealthy(rows: readonly GroupRow[] | null, requireSlots: boolean): boolean {
    if (rows === null) return false;
    return this.#options.groups.every((group) => {
      const row = rows.find((candidate) => candidate.group === group);
      if (row === undefined || row.state !== 'active' || !row.reachable || row.gateways.length === 0) return false;
      if (row.leader === null || !this.running(group).includes(row.leader)) return false;
      return !requireSlots || (row.slots ?? 0) > 0;
    });
  }

  async #groupHealthy(group: string): Promise<boolean> {
    const running = this.running(group);
    const { views } = await this.view(group);
    if (views.size !== running.length) return false;
    const leaders = new Set([...views.values()].map((view) => view.leader));
    const [leader] = [...leaders];
    if (leaders.size !== 1 || leader === null || leader === undefined || !running.includes(leader)) return false;
    const view = views.get(leader) as GroupView;
    const members = [...view.voters, ...view.learners];
    if (!running.every((name) => members.includes(name))) return false;
    const target = members.length >= 5 ? 5 : Math.min(3, members.length);
    return view.voters.length >= target;
  }

  /** kill -9, and wait for the exit. */
  async kill(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.map(async (name) => {
        const node = this.#node(name);
        const child = node.child;
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
        if (node.state === 'paused') this.#continue(node, child);
        child.kill('SIGKILL');
        await node.exited;
        this.#recordKill(node, child);
        node.state = 'killed';
      }),
    );
  }

  /**
   * Delete the data directories of killed nodes (a disk lost): restarted, each starts as a new
   * store under its old name and joins through its seeds.
   */
  wipe(names: readonly string[]): void {
    for (const name of names) {
      const node = this.#node(name);
      if (node.state !== 'killed') continue;
      rmSync(node.dataDir, { recursive: true, force: true });
      this.#wiped.add(name);
    }
  }

  /**
   * The nodes of `group` whose data directory was wiped and whose new store the group has not
   * admitted yet (as its own status says: admitted, and in its configuration). Until it has,
   * such a node holds none of the group's data: wiping more would lose the data a majority held.
   */
  async unrecoveredWipes(group: string): Promise<string[]> {
    const pending: string[] = [];
    for (const name of [...this.#wiped]) {
      const node = this.#node(name);
      if (node.group !== group) continue;
      if (node.state === 'left') {
        this.#wiped.delete(name);
        continue;
      }
      let recovered = false;
      if (node.state === 'running') {
        try {
          const status = (await this.request(name, { op: 'status' })) as { admitted?: boolean; voters?: string[]; learners?: string[] };
          recovered = status.admitted === true && [...(status.voters ?? []), ...(status.learners ?? [])].includes(name);
        } catch {
          // Unreachable for now: not known to be recovered.
        }
      }
      if (recovered) this.#wiped.delete(name);
      else pending.push(name);
    }
    return pending.sort();
  }

  /** Restart killed nodes from their data directories (seeded with every other member's address). */
  async restart(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.map(async (name) => {
        const node = this.#node(name);
        if (node.state !== 'killed') return;
        const seeds = this.#nodes.filter((other) => other !== node && other.group === node.group && other.state !== 'left' && other.state !== 'leaving').map((other) => other.address);
        await this.#launch(node, seeds);
      }),
    );
  }

  pause(names: readonly string[]): void {
    for (const name of names) {
      const node = this.#node(name);
      if (node.state !== 'running' || node.child === undefined) continue;
      const alone = this.members(node.group).length === 1;
      node.child.kill('SIGSTOP');
      this.#pauses.push({ node: node.name, pid: node.child.pid ?? -1, fromNs: this.#nowNs(), toNs: null, alone });
      node.state = 'paused';
    }
  }

  resume(names: readonly string[]): void {
    for (const name of names) {
      const node = this.#node(name);
      if (node.state !== 'paused' || node.child === undefined) continue;
      this.#continue(node, node.child);
      node.state = 'running';
    }
  }

  /**
   * Start a fresh node that joins a group (default the first) through its running members.
   * Resolves with its name; a node that does not get ready (it was not admitted) is stopped and
   * counts as left.
   */
  async join(group = this.#options.groups[0] as string): Promise<string> {
    const [port, gatewayPort] = await freePorts(this.federated ? 2 : 1);
    const node = this.#define(group, port as number, this.federated ? gatewayPort : undefined);
    // Every member that has not left is a seed, down or not. Seeded with the running ones only, a
    // node joining while the others were all killed or paused started with no seed and
    // bootstrapped a group of its own under the same name: a split brain of the harness's making
    // (seed 1402, `--nodes 3 --nemesis all`), which every checker then reported.
    const seeds = this.#nodes.filter((other) => other !== node && other.group === group && other.state !== 'left' && other.state !== 'leaving').map((other) => other.address);
    try {
      await this.#launch(node, seeds);
    } catch (error) {
      // It never joined (the group could not admit it, or it gave up): not a member to restart at the heal.
      await this.#terminate(node);
      node.state = 'left';
      throw error;
    }
    return node.name;
  }

  /** The node leaves the group (admin `leave`), then its process is stopped. Resolves with whether the leave was acknowledged. */
  async leave(name: string, timeoutMs: number): Promise<boolean> {
    const node = this.#node(name);
    node.state = 'leaving';
    let acknowledged = false;
    try {
      await this.request(name, { op: 'leave' }, timeoutMs);
      acknowledged = true;
    } catch (error) {
      this.#options.log(`${name} leave failed: ${(error as Error).message}`);
    }
    await this.#terminate(node);
    node.state = 'left';
    return acknowledged;
  }

  /**
   * Cut (or, with an empty list, heal) a node's links. Resolves with the node's answer (`{node,
   * blocked, …}`), or undefined if the node could not be told.
   */
  async setBlocked(name: string, blocked: readonly string[]): Promise<Record<string, unknown> | undefined> {
    try {
      return (await this.request(name, { op: 'fault', blocked })) as Record<string, unknown>;
    } catch (error) {
      this.#options.log(`fault request to ${name} failed: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Stop every process started (idempotent). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.#nodes.map((node) => this.#terminate(node)));
    process.off('exit', this.#exitHook);
  }

  #node(name: string): ClusterNode {
    const node = this.#nodes.find((candidate) => candidate.name === name);
    if (node === undefined) throw fedError('badarg', `no node ${name} in this cluster`);
    return node;
  }

  /**
   * SIGCONT, and the end of the node's pause if it is paused: read before the signal, as the
   * start is read after the SIGSTOP, so the recorded pause lies inside the real one. (Read
   * after it, a node that stopped its singletons at once on resuming could log that before the
   * runner noted the resume, and the checker saw an instance that ended during the pause.)
   */
  #continue(node: ClusterNode, child: ChildProcess): void {
    const pause = this.#pauses.find((candidate) => candidate.node === node.name && candidate.pid === child.pid && candidate.toNs === null);
    if (pause !== undefined) pause.toNs = this.#nowNs();
    child.kill('SIGCONT');
  }

  #recordKill(node: ClusterNode, child: ChildProcess): void {
    this.#kills.push({ node: node.name, pid: child.pid ?? -1, timeNs: this.#nowNs() });
  }

  #define(group: string, port: number, gatewayPort: number | undefined): ClusterNode {
    const index = this.#nextIndex++;
    const name = `n${index + 1}@${HOST}`;
    const dir = join(this.#options.outDir, 'nodes', `n${index + 1}`);
    mkdirSync(dir, { recursive: true });
    const node: ClusterNode = {
      name,
      group,
      address: `${HOST}:${port}`,
      gatewayAddress: gatewayPort === undefined ? undefined : `${HOST}:${gatewayPort}`,
      dataDir: join(dir, 'data'),
      logPath: join(dir, 'node.log'),
      dir,
      child: undefined,
      exited: undefined,
      state: 'killed',
      pids: [],
    };
    this.#nodes.push(node);
    return node;
  }

  async #launch(node: ClusterNode, seeds: readonly string[]): Promise<void> {
    if (this.#stopped) throw fedError('closed', 'the cluster is stopped');
    const [command, ...leading] = this.#options.fedctlCommand;
    const args = [
      ...leading,
      'start',
      '--name', node.name,
      '--listen', node.address,
      '--data', node.dataDir,
      '--group', node.group,
      ...this.#federationArgs(node),
      ...(this.#options.faultInjection === false ? [] : ['--fault-injection']),
      ...seeds.flatMap((seed) => ['--seed', seed]),
      ...(this.#options.tickMs !== undefined ? ['--tick-ms', String(this.#options.tickMs)] : []),
      ...(this.#options.unsafe !== undefined ? ['--unsafe', this.#options.unsafe] : []),
      ...(this.#options.extraArgs?.({ name: node.name, dir: node.dir, group: node.group }) ?? []),
    ];
    const logOffset = fileSize(node.logPath);
    const fd = openSync(node.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command as string, args, {
        cwd: this.#cwd,
        stdio: ['ignore', fd, fd],
        env: childEnvironment(this.#options.cookieFile),
      });
    } finally {
      closeSync(fd);
    }
    node.child = child;
    node.exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.once('error', (error) => this.#options.log(`${node.name}: could not start: ${error.message}`));
    if (child.pid !== undefined) node.pids.push(child.pid);
    node.state = 'starting';
    await this.#waitReady(node, child, logOffset);
    node.state = 'running';
  }

  /** A federation member's flags: the root group creates the federation, the others join it through the root's gateways. */
  #federationArgs(node: ClusterNode): string[] {
    if (!this.federated) return [];
    const role = node.group === this.#options.groups[0] ? ['--federation-root'] : this.#rootSeeds.flatMap((seed) => ['--federation-seed', seed]);
    return [...role, '--gateway-listen', node.gatewayAddress as string];
  }

  async #waitReady(node: ClusterNode, child: ChildProcess, logOffset: number): Promise<void> {
    const deadline = Date.now() + NODE_READY_TIMEOUT_MS;
    for (;;) {
      const text = readFrom(node.logPath, logOffset);
      if (text.includes('ready: listening on')) return;
      if (child.exitCode !== null || child.signalCode !== null) {
        node.state = 'killed';
        throw fedError('unavailable', `${node.name} exited before it was ready (${child.exitCode ?? child.signalCode}): ${lastLine(text)} (log: ${node.logPath})`);
      }
      if (Date.now() > deadline || this.#stopped) {
        throw fedError('timeout', `${node.name} was not ready in ${NODE_READY_TIMEOUT_MS} ms: ${lastLine(text)} (log: ${node.logPath})`);
      }
      await sleep(READY_POLL_MS);
    }
  }

  async #terminate(node: ClusterNode): Promise<void> {
    const child = node.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.#continue(node, child);
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exitedInTime = await Promise.race([
      (node.exited as Promise<void>).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), NODE_STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!exitedInTime) {
      this.#options.log(`${node.name} (pid ${child.pid}) ignored SIGTERM for ${NODE_STOP_GRACE_MS} ms: SIGKILL`);
      child.kill('SIGKILL');
      await node.exited;
      this.#recordKill(node, child);
    }
  }

  #killAllNow(): void {
    for (const node of this.#nodes) {
      const child = node.child;
      if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}

/** The runner's environment, with the run's cookie file and no other cookie or node settings. */
function childEnvironment(cookieFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FEDCTL_COOKIE_FILE: cookieFile };
  for (const key of ['FEDCTL_COOKIE', 'FEDCTL_NAME', 'FEDCTL_LISTEN', 'FEDCTL_GROUP', 'FEDCTL_DATA', 'FEDCTL_NODE', 'FEDCTL_JSON']) delete env[key];
  return env;
}

/** The last non-empty line of a log text, cut to a sane length (errors are one line). */
function lastLine(text: string): string {
  const line = text.trimEnd().split('\n').at(-1)?.trim() ?? '';
  return line.length === 0 ? '(empty log)' : line.slice(0, LOG_LINE_CHARS_MAX);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readFrom(path: string, offset: number): string {
  try {
    return readFileSync(path).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
