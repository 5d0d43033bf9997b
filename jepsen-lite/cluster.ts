/**
 * A cluster of real `fedctl start` child processes on 127.0.0.1, each with its own data
 * directory and log file under the run directory (`nodes/<name>/data`, `nodes/<name>/node.log`),
 * started with `--fault-injection` (unless told otherwise), and the means to hurt it: kill -9 and
 * restart from the data directory, SIGSTOP/SIGCONT, cut links (the nodes' authenticated admin
 * `fault` request), join a fresh node, make a node leave. Extra `fedctl start` arguments (the
 * singleton flags) can be given per node.
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
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAdmin } from '../cli/admin-client.js';
import type { AdminRequest } from '../cli/admin-protocol.js';
import type { UnsafeMode } from '../registry/index.js';
import { fedError } from '../runtime/index.js';

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
  readonly group: string;
  readonly fedctlCommand: readonly string[];
  readonly tickMs?: number | undefined;
  readonly unsafe?: UnsafeMode | undefined;
  /** Start nodes with `--fault-injection` (default true; the runner needs it to cut links). */
  readonly faultInjection?: boolean;
  /** Extra `fedctl start` arguments for a node, given its name and directory. */
  readonly extraArgs?: (node: { readonly name: string; readonly dir: string }) => readonly string[];
  /** The run's clock, for `kills` (default: ms since the cluster was made, in ns). */
  readonly nowNs?: () => number;
  readonly log: (message: string) => void;
}

/** A process the cluster ended with SIGKILL, and when it was gone (ns of the run's clock). */
export interface KillRecord {
  readonly node: string;
  readonly pid: number;
  readonly timeNs: number;
}

interface ClusterNode {
  readonly name: string;
  readonly address: string;
  readonly dataDir: string;
  readonly logPath: string;
  readonly dir: string;
  /** Started by joining through seeds (every node but the first). */
  readonly joins: boolean;
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
  readonly #nowNs: () => number;
  #nextIndex = 0;
  #stopped = false;

  private constructor(options: ClusterOptions, cwd: string) {
    this.#options = options;
    this.#cwd = cwd;
    const createdMs = performance.now();
    this.#nowNs = options.nowNs ?? (() => Math.round((performance.now() - createdMs) * 1e6));
    process.on('exit', this.#exitHook);
  }

  /** Starts the first node (it bootstraps the group), then the others (they join), and waits for all to be ready. */
  static async start(options: ClusterOptions, cwd: string): Promise<Cluster> {
    const cluster = new Cluster(options, cwd);
    try {
      const ports = await freePorts(options.nodes);
      const first = cluster.#define(ports[0] as number, false);
      await cluster.#launch(first, []);
      const others = ports.slice(1).map((port) => cluster.#define(port, true));
      await Promise.all(others.map((node) => cluster.#launch(node, [first.address])));
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Members that have not left or begun to leave (running, starting, killed or paused). */
  members(): string[] {
    return this.#nodes.filter((node) => node.state !== 'left' && node.state !== 'leaving').map((node) => node.name);
  }

  /** Every node ever started, in order. */
  nodes(): string[] {
    return this.#nodes.map((node) => node.name);
  }

  /** Every SIGKILL sent, in order. */
  kills(): readonly KillRecord[] {
    return [...this.#kills];
  }

  /** The directory of a node (its data, log and singleton log live there). */
  dirOf(name: string): string {
    return this.#node(name).dir;
  }

  /** Members whose process runs and is not paused. */
  running(): string[] {
    return this.#nodes.filter((node) => node.state === 'running').map((node) => node.name);
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

  /** The group as each running node sees it, then the view most of them share (null if none). */
  async view(): Promise<{ views: Map<string, GroupView>; agreed: GroupView | null }> {
    const views = new Map<string, GroupView>();
    await Promise.all(
      this.running().map(async (name) => {
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

  /** The leader most running nodes name, or null. */
  async leader(): Promise<string | null> {
    return (await this.view()).agreed?.leader ?? null;
  }

  /**
   * Waits until every running member names the same running leader, that leader's
   * configuration holds every running member, and it has its full voter count (3, or 5 from
   * 5 members). Resolves false on timeout.
   */
  async waitHealthy(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && signal?.aborted !== true) {
      if (await this.#healthy()) return true;
      await sleep(HEALTH_POLL_MS);
    }
    return false;
  }

  /** Each running node's view of the group, one line (why `waitHealthy` said no). */
  async describeViews(): Promise<string> {
    const { views } = await this.view();
    return this.running()
      .map((name) => {
        const view = views.get(name);
        if (view === undefined) return `${name}: no answer`;
        return `${name}: leader ${view.leader ?? 'none'}, voters [${view.voters.join(' ')}], learners [${view.learners.join(' ')}]`;
      })
      .join('; ');
  }

  async #healthy(): Promise<boolean> {
    const running = this.running();
    const { views } = await this.view();
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
        if (node.state === 'paused') child.kill('SIGCONT');
        child.kill('SIGKILL');
        await node.exited;
        this.#recordKill(node, child);
        node.state = 'killed';
      }),
    );
  }

  /** Restart killed nodes from their data directories (seeded with every other member's address). */
  async restart(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.map(async (name) => {
        const node = this.#node(name);
        if (node.state !== 'killed') return;
        const seeds = this.#nodes.filter((other) => other !== node && other.state !== 'left' && other.state !== 'leaving').map((other) => other.address);
        await this.#launch(node, seeds);
      }),
    );
  }

  pause(names: readonly string[]): void {
    for (const name of names) {
      const node = this.#node(name);
      if (node.state !== 'running' || node.child === undefined) continue;
      node.child.kill('SIGSTOP');
      node.state = 'paused';
    }
  }

  resume(names: readonly string[]): void {
    for (const name of names) {
      const node = this.#node(name);
      if (node.state !== 'paused' || node.child === undefined) continue;
      node.child.kill('SIGCONT');
      node.state = 'running';
    }
  }

  /** Start a fresh node that joins through the running members. Resolves with its name. */
  async join(): Promise<string> {
    const [port] = await freePorts(1);
    const node = this.#define(port as number, true);
    await this.#launch(
      node,
      this.running()
        .filter((name) => name !== node.name)
        .map((name) => this.addressOf(name)),
    );
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

  /** Cut (or, with an empty list, heal) a node's links. Resolves false if the node could not be told. */
  async setBlocked(name: string, blocked: readonly string[]): Promise<boolean> {
    try {
      await this.request(name, { op: 'fault', blocked });
      return true;
    } catch (error) {
      this.#options.log(`fault request to ${name} failed: ${(error as Error).message}`);
      return false;
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

  #recordKill(node: ClusterNode, child: ChildProcess): void {
    this.#kills.push({ node: node.name, pid: child.pid ?? -1, timeNs: this.#nowNs() });
  }

  #define(port: number, joins: boolean): ClusterNode {
    const index = this.#nextIndex++;
    const name = `n${index + 1}@${HOST}`;
    const dir = join(this.#options.outDir, 'nodes', `n${index + 1}`);
    mkdirSync(dir, { recursive: true });
    const node: ClusterNode = {
      name,
      address: `${HOST}:${port}`,
      dataDir: join(dir, 'data'),
      logPath: join(dir, 'node.log'),
      dir,
      joins,
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
      '--group', this.#options.group,
      ...(this.#options.faultInjection === false ? [] : ['--fault-injection']),
      ...seeds.flatMap((seed) => ['--seed', seed]),
      ...(this.#options.tickMs !== undefined ? ['--tick-ms', String(this.#options.tickMs)] : []),
      ...(this.#options.unsafe !== undefined ? ['--unsafe', this.#options.unsafe] : []),
      ...(this.#options.extraArgs?.({ name: node.name, dir: node.dir }) ?? []),
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
    child.kill('SIGCONT');
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
