/**
 * One running fedctl node, as `fedctl start` (and the demo, and jepsen-lite through it) runs
 * it: the data directory, the runtime `Node`, its `Distribution`, its `Group` member (always
 * opened with the federation state machines, so every replica of a group is the same whatever
 * flags its members got), the federation role when there is one, the singletons, the observer,
 * the metrics endpoint and the admin server the CLI talks to. `startNodeStack` brings them up in
 * that order and `close` takes them down in reverse; a failure half-way closes what was opened.
 *
 * Joining a group, on a first start (empty data directory):
 * - with `seeds`: join the group of the first seed that answers;
 * - with no seeds and static discovery: bootstrap a new group as its only voter, unless
 *   `bootstrap: false` (then wait for `fedctl join`);
 * - with no seeds and dns/hyperswarm discovery: bootstrap only if `bootstrap: true` (exactly one
 *   node of a new group is started so, as etcd's `--initial-cluster-state new`); every other
 *   node waits and asks each peer discovery connects it to for admission until one admits it.
 *   So nodes found by discovery always form one group, never one group per node.
 * A restart (existing data directory) rejoins its group from its own replica: it redials the
 * member addresses it knows, and the seeds. One whose store holds no configuration (it stopped
 * before its first join completed) joins through its seeds or discovery as on a first start.
 *
 * Federation: with `federation.root` the group creates the federation (its leader writes the
 * directory into the group's log once); with `federation.seeds` (hidden addresses of root
 * gateways) the group joins it. A member started without either attaches as soon as its
 * replica shows that its group is federated (a member added to a federated group later), so a
 * group never has members that disagree about which namespace the CLI uses.
 */
import {
  Distribution,
  DnsDiscovery,
  type Discovery,
  HyperswarmDiscovery,
  HyperswarmTransport,
  Node,
  StaticDiscovery,
  TcpTransport,
  type Transport,
  assert,
  fedError,
  type LogEntry,
} from '../runtime/index.js';
import { Group, SingletonManager, type UnsafeMode, openDataDirVerified } from '../registry/index.js';
import { type DirectorySummary, Federation, type FederationMachines, type FederationSettings, federationMachines, gatewayNodeName } from '../federation/index.js';
import { startAdminServer, startGatewayAdminServer } from './admin-server.js';
import { NodeMetrics, NodeObserver, type FederationView } from '../runtime/observe/index.js';
import { startMetricsServer } from './metrics-server.js';
import { checkDiscoveryFitsTransport, loadOrCreateDhtSeed } from './config.js';
import { ProbeSingletons, SingletonLog } from './singletons.js';

export interface FederationStackOptions {
  /** This group creates the federation (its root group). */
  readonly root: boolean;
  /** Hidden gateway addresses (`host:port`) of root-group gateways. */
  readonly seeds: readonly string[];
  /** This member may serve as one of its group's gateways (default true). */
  readonly gatewayEligible?: boolean;
  /** Where this member's gateway listens when it is one (default: the listen host, any port). */
  readonly gatewayHost?: string;
  readonly gatewayPort?: number;
  /** Timings of the federation layer (tests and the demo shorten them). */
  readonly settings?: Partial<FederationSettings>;
}

export interface NodeStackOptions {
  /** `name@host`. */
  readonly name: string;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly group: string;
  readonly dataDir: string;
  readonly cookie: string;
  readonly seeds: readonly string[];
  readonly discovery: 'static' | 'hyperswarm' | 'dns';
  readonly transport: 'tcp' | 'hyperswarm';
  /** DHT bootstrap nodes (`host:port`), required for hyperswarm. */
  readonly dhtBootstrap: readonly string[];
  /** For DNS discovery: the name to resolve and the port every node listens on. */
  readonly dnsName?: string;
  /** More discovery sources (library users, tests); counts as non-static discovery. */
  readonly extraDiscovery?: readonly Discovery[];
  /** May this member serve as a federation gateway (default true; `federation.gatewayEligible` wins). */
  readonly gateway?: boolean;
  readonly hidden: boolean;
  readonly tickMs?: number;
  /**
   * On a first start with no seeds: create a new group (true), wait to be added (false), or the
   * default (undefined): create with static discovery, wait with dns/hyperswarm discovery.
   */
  readonly bootstrap?: boolean | undefined;
  /** Accept the admin `fault` request (jepsen-lite's partitions). Off by default. */
  readonly faultInjection?: boolean;
  /** TEST-ONLY deliberate unsafety (see registry's `UnsafeMode`). */
  readonly unsafe?: UnsafeMode | undefined;
  readonly heartbeatTickMs?: number;
  readonly heartbeatTimeoutMs?: number;
  /** The distribution's busy-wait window (µs, 0 off; see runtime/dist/busy-wait.ts). */
  readonly busyWaitUs?: number;
  readonly snapshotEveryEntries?: number;
  /** This member's share of the ring's keys (an integer in [1, RING_WEIGHT_MAX]; default 1). */
  readonly weight?: number;
  /** Serve /metrics, /livez and /readyz here (`fedctl start --metrics`); off when absent. */
  readonly metrics?: { readonly host: string; readonly port: number };
  /** Admission control of the group member (see registry GROUP_DEFAULTS). */
  readonly proposalsInFlightMax?: number;
  /** Run in a federation (see the header); absent: only if the replica says the group is federated. */
  readonly federation?: FederationStackOptions | undefined;
  /** Probe singletons declared on this member (every member of the group declares the same). */
  readonly singletons?: readonly string[];
  /** Append one JSON line per singleton instance start/stop here (see singletons.ts). */
  readonly singletonLog?: string | undefined;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
}

export interface NodeStack {
  readonly node: Node;
  readonly distribution: Distribution;
  readonly group: Group;
  readonly address: string;
  readonly observer: NodeObserver;
  readonly singletons: ProbeSingletons;
  /** `host:port` of the metrics endpoint, when `metrics` was asked for. */
  readonly metricsAddress: string | undefined;
  /** The federation role, once this member has one. */
  federation(): Federation | undefined;
  close(): Promise<void>;
}

/** How often a member without a federation role checks its replica for one, and so on. */
const FEDERATION_CHECK_MS = 500;
/** How often the cached directory (metrics, `groups`) is refreshed. */
const DIRECTORY_REFRESH_MS = 2_000;
/** How often a fresh node waiting for admission asks its discovered peers again. */
const DISCOVERY_JOIN_RETRY_MS = 500;

export async function startNodeStack(options: NodeStackOptions): Promise<NodeStack> {
  if (options.federation?.root === true && options.federation.seeds.length > 0) {
    throw fedError('config', '--federation-root and --federation-seed exclude each other: the root group has no root to join');
  }
  if (options.seeds.length > 0 && options.bootstrap === true) {
    throw fedError('config', '--bootstrap and --seed exclude each other: a node either creates its group or joins one');
  }
  // Hyperswarm, as transport or discovery, never starts without an explicit DHT bootstrap list.
  if ((options.transport === 'hyperswarm' || options.discovery === 'hyperswarm') && options.dhtBootstrap.length === 0) {
    throw fedError('config', `--${options.transport === 'hyperswarm' ? 'transport' : 'discovery'} hyperswarm needs --dht-bootstrap host:port (fedctl never uses the public DHT)`);
  }
  checkDiscoveryFitsTransport(options.discovery, options.transport);
  if (options.discovery === 'dns' && options.dnsName === undefined) throw fedError('config', '--discovery dns needs --dns-name NAME');
  const dataDir = await openDataDirVerified(options.dataDir, { name: options.name, group: options.group });
  const closers: Array<() => Promise<void>> = [];
  // The checked Raft store is ours to close until Group.open takes it (it closes it from then on).
  let storeOwned = true;
  closers.push(async () => (storeOwned ? dataDir.store.close() : undefined));
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        options.log('warn', `error while closing: ${(error as Error).message}`);
      }
    }
  };
  try {
    const node = new Node({ name: options.name, creation: dataDir.identity.creation });
    await node.start();
    closers.push(() => node.stop());
    const transport = makeTransport(options);
    const discovery = makeDiscovery(options, transport);
    const distribution = await Distribution.start({
      node,
      cookie: options.cookie,
      cluster: 'fedctl',
      hidden: options.hidden,
      transport,
      discovery,
      tickMs: options.heartbeatTickMs ?? 500,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 3_000,
      ...(options.busyWaitUs !== undefined ? { busyWaitUs: options.busyWaitUs } : {}),
      logger: (entry: LogEntry) => options.log(entry.level, entry.msg, { component: 'dist', event: entry.event, peer: entry.peer, code: entry.code }),
    });
    closers.push(() => distribution.close());
    const discovers = options.discovery !== 'static' || (options.extraDiscovery?.length ?? 0) > 0;
    const fresh = dataDir.fresh && options.seeds.length === 0;
    const bootstrap = fresh && (options.bootstrap ?? !discovers);
    const machines = federationMachines();
    storeOwned = false;
    const group = await Group.open({
      node,
      distribution,
      group: options.group,
      store: dataDir.store,
      bootstrap,
      address: distribution.address,
      extensions: machines.extensions,
      ...(options.tickMs !== undefined ? { tickMs: options.tickMs } : {}),
      ...(options.unsafe !== undefined ? { unsafe: options.unsafe } : {}),
      ...(options.proposalsInFlightMax !== undefined ? { proposalsInFlightMax: options.proposalsInFlightMax } : {}),
      ...(options.snapshotEveryEntries !== undefined ? { snapshotEveryEntries: options.snapshotEveryEntries } : {}),
      ...(options.weight !== undefined ? { weight: options.weight } : {}),
      log: (level, event, msg) => options.log(level, msg, { component: 'group', event }),
    });
    closers.push(() => group.close());
    // Stopping while it leads, the member hands the leadership over first (run before the
    // group closes, after everything above it): the group is not left leaderless for an
    // election timeout by a planned stop.
    closers.push(async () => {
      const successor = await group.handOffLeadership();
      if (successor !== undefined) options.log('info', `handed the leadership of group ${group.id} to ${successor} before stopping`, { component: 'group', successor });
    });

    const role = new FederationRole({
      node,
      distribution,
      group,
      machines,
      cookie: options.cookie,
      listenHost: options.listenHost,
      config: options.federation,
      gatewayEligible: options.federation?.gatewayEligible ?? options.gateway ?? true,
      log: options.log,
    });
    closers.push(() => role.close());

    const manager = new SingletonManager(group, { log: (level, event, msg) => options.log(level, msg, { component: 'singleton', event }) });
    const singletonLog = options.singletonLog === undefined ? undefined : new SingletonLog(options.singletonLog);
    const singletons = new ProbeSingletons(node, manager, singletonLog);
    closers.push(async () => {
      await manager.close();
      singletons.close();
      singletonLog?.close();
    });
    for (const key of options.singletons ?? []) singletons.declare(key);

    const observer = new NodeObserver({ node, distribution, group, federation: role.view() });
    closers.push(async () => observer.close());
    let metricsAddress: string | undefined;
    if (options.metrics !== undefined) {
      const metricsServer = await startMetricsServer({
        host: options.metrics.host,
        port: options.metrics.port,
        metrics: new NodeMetrics(observer),
        live: () => node.started,
        ready: () => readiness(group),
      });
      closers.push(() => metricsServer.close());
      metricsAddress = metricsServer.address;
      options.log('info', `metrics: listening on http://${metricsAddress}/metrics`, { component: 'metrics', address: metricsAddress });
    }
    // Fault injection cuts this member's links to the blocked members, and — when it hosts a
    // gateway, now or later — its gateway's links to theirs, so a partition can isolate a group.
    const faults =
      options.faultInjection === true
        ? (blocked: readonly string[]) => {
            distribution.setBlocked(blocked);
            return { gatewayBlocked: role.setBlocked(blocked) };
          }
        : undefined;
    const admin = startAdminServer({
      node,
      distribution,
      group,
      cookie: options.cookie,
      machines,
      federation: () => role.federation,
      directory: () => role.directory,
      singletons,
      manager,
      faults,
      observer,
    });
    closers.push(async () => admin.stop());
    // No configuration in the store: never admitted (a first start, or one stopped before its join completed).
    const unconfigured = group.status().voters.length === 0 && group.status().learners.length === 0;
    if (unconfigured && options.seeds.length > 0) {
      await joinViaSeeds(group, options.seeds, options.log);
    } else {
      for (const [member, address] of group.state.addresses()) {
        if (member !== options.name) distribution.connect(address).catch(() => undefined);
      }
      for (const seed of options.seeds) distribution.connect(seed).catch(() => undefined);
      if (unconfigured && !bootstrap && discovers) {
        options.log('info', `waiting to be admitted to group ${options.group} by a peer that discovery finds (one node of a new group starts with --bootstrap)`, { component: 'group' });
        const stop = joinThroughDiscoveredPeers(group, distribution);
        closers.push(async () => stop());
      }
    }
    return { node, distribution, group, address: distribution.address, observer, singletons, metricsAddress, federation: () => role.federation, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Until this member is admitted, ask every visible peer to admit it (members forward to their leader). */
function joinThroughDiscoveredPeers(group: Group, distribution: Distribution): () => void {
  const timer = setInterval(() => {
    if (group.isMember()) {
      clearInterval(timer);
      return;
    }
    for (const peer of distribution.peers({ hidden: false })) group.requestJoin(peer);
  }, DISCOVERY_JOIN_RETRY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

interface FederationRoleOptions {
  readonly node: Node;
  readonly distribution: Distribution;
  readonly group: Group;
  readonly machines: FederationMachines;
  readonly cookie: string;
  readonly listenHost: string;
  readonly config: FederationStackOptions | undefined;
  readonly gatewayEligible: boolean;
  readonly log: NodeStackOptions['log'];
}

/**
 * This member's part in the federation: attaches `Federation` (at once when configured, else
 * when the replica shows the group is federated), keeps the directory summary cached for the
 * metrics, and serves the read-only admin requests other groups' members send to this member's
 * gateway node (`fedctl groups` asks each group there for its leader, members and names).
 */
class FederationRole {
  federation: Federation | undefined;
  directory: DirectorySummary | undefined;
  readonly #options: FederationRoleOptions;
  readonly #timer: NodeJS.Timeout;
  #attaching: Promise<void> | undefined;
  #lastDirectoryMs = -Infinity;
  #refreshing = false;
  #gatewayNode: Node | undefined;
  #gatewayAdmin: { stop(): void } | undefined;
  #closed = false;
  /** Members whose gateways this member's gateway must not link to (fault injection). */
  #blocked: readonly string[] = [];

  constructor(options: FederationRoleOptions) {
    this.#options = options;
    if (options.config !== undefined) this.#attach(options.config);
    this.#timer = setInterval(() => this.#tick(), FEDERATION_CHECK_MS);
    this.#timer.unref();
  }

  /** What the observer reads (structural: runtime does not depend on federation). */
  view(): FederationView {
    return {
      status: () => {
        const federation = this.federation;
        if (federation === undefined) return undefined;
        const status = federation.status();
        const directory = this.directory;
        return {
          ...status,
          groups: directory?.groups.filter((record) => record.state !== 'removed').length ?? null,
          rootGroup: directory?.rootGroup ?? null,
          cacheHitsTotal: status.cacheHits,
          cacheMissesTotal: status.cacheMisses,
        };
      },
    };
  }

  /**
   * Fault injection: block the gateways of `members` from this member's gateway (applied again to
   * a gateway that starts later). Returns the gateway node names blocked now, or null when this
   * member runs no gateway at the moment.
   */
  setBlocked(members: readonly string[]): string[] | null {
    this.#blocked = [...members];
    return this.#applyBlocked();
  }

  #applyBlocked(): string[] | null {
    const gateway = this.federation?.gatewayDistribution();
    if (gateway === undefined) return null;
    const wanted = this.#blocked.map((member) => gatewayNodeName(member)).sort();
    if (gateway.blocked().join() !== wanted.join()) gateway.setBlocked(wanted);
    return wanted;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#gatewayAdmin?.stop();
    await this.#attaching?.catch(() => undefined);
    await this.federation?.close();
  }

  #tick(): void {
    if (this.#closed) return;
    const { machines, group } = this.#options;
    if (this.federation === undefined && this.#attaching === undefined) {
      const federated = machines.global.initialized || machines.global.wantedGateways().length > 0 || machines.directory.rootGroup !== undefined;
      if (federated) {
        this.#options.log('info', `group ${group.id} is federated: taking this member's federation role`, { component: 'federation' });
        this.#attach({ root: machines.directory.rootGroup === group.id, seeds: [] });
      }
    }
    const federation = this.federation;
    if (federation === undefined) return;
    this.#keepGatewayAdmin(federation);
    if (this.#blocked.length > 0) this.#applyBlocked();
    if (!this.#refreshing && Date.now() - this.#lastDirectoryMs >= DIRECTORY_REFRESH_MS) {
      this.#refreshing = true;
      this.#lastDirectoryMs = Date.now();
      federation
        .directory()
        .then((summary) => (this.directory = summary))
        .catch(() => undefined)
        .finally(() => (this.#refreshing = false));
    }
  }

  #attach(config: FederationStackOptions): void {
    const { node, distribution, group, machines, cookie, log } = this.#options;
    this.#attaching = Federation.attach({
      node,
      distribution,
      group,
      machines,
      cookie,
      cluster: distribution.cluster,
      createRoot: config.root,
      seeds: config.seeds,
      gatewayEligible: this.#options.gatewayEligible,
      gatewayHost: config.gatewayHost ?? this.#options.listenHost,
      gatewayPort: config.gatewayPort ?? 0,
      ...config.settings,
      log: (level, event, msg) => log(level, msg, { component: 'federation', event }),
      gatewayLogger: (entry: LogEntry) => log(entry.level, entry.msg, { component: 'gateway', event: entry.event, peer: entry.peer, code: entry.code }),
    }).then(
      async (federation) => {
        if (this.#closed) {
          await federation.close();
          return;
        }
        this.federation = federation;
        log('info', config.root ? `federation: group ${group.id} is the root group` : `federation: joining through ${config.seeds.join(', ') || 'the group\'s gateways'}`, { component: 'federation' });
      },
      (error: unknown) => log('error', `federation: cannot attach: ${(error as Error).message}`, { component: 'federation' }),
    ).finally(() => (this.#attaching = undefined));
  }

  /** While this member is a gateway, its gateway node answers `group_info` and `names`. */
  #keepGatewayAdmin(federation: Federation): void {
    const gatewayNode = federation.gatewayDistribution()?.node;
    const current = gatewayNode instanceof Node && gatewayNode.started ? gatewayNode : undefined;
    if (current === this.#gatewayNode) return;
    this.#gatewayAdmin?.stop();
    this.#gatewayAdmin = undefined;
    this.#gatewayNode = current;
    if (current !== undefined) this.#gatewayAdmin = startGatewayAdminServer(current, { group: this.#options.group, machines: this.#options.machines });
  }
}

/** Ready to serve registrations: a member of its group that knows a leader. */
function readiness(group: Group): { ready: boolean; reason: string } {
  if (!group.isMember()) return { ready: false, reason: `not a member of group ${group.id} yet` };
  const leader = group.status().leader;
  if (leader === null) return { ready: false, reason: `group ${group.id} has no leader known here` };
  if (leader !== group.node.name && !group.distribution.isConnected(leader)) return { ready: false, reason: `leader ${leader} is not connected` };
  return { ready: true, reason: 'ok' };
}

async function joinViaSeeds(group: Group, seeds: readonly string[], log: NodeStackOptions['log']): Promise<void> {
  let lastError: unknown;
  for (const seed of seeds) {
    try {
      await group.join(seed);
      return;
    } catch (error) {
      lastError = error;
      log('warn', `could not join via ${seed}: ${(error as Error).message}`);
    }
  }
  throw fedError('unavailable', `could not join the group via any seed (${seeds.join(', ')})`, undefined, lastError);
}

/**
 * With hyperswarm the node's address is its DHT public key, kept across restarts (its seed lives
 * in the data directory, so members and clients that know the address find the node again), and
 * the DHT binds to the listen host and port (UDP).
 */
function makeTransport(options: NodeStackOptions): Transport {
  if (options.transport === 'hyperswarm') {
    const seed = loadOrCreateDhtSeed(options.dataDir);
    return new HyperswarmTransport({ bootstrap: options.dhtBootstrap, host: options.listenHost, port: options.listenPort, seed });
  }
  return new TcpTransport({ host: options.listenHost, port: options.listenPort });
}

function makeDiscovery(options: NodeStackOptions, transport: Transport): Discovery[] {
  const extra = [...(options.extraDiscovery ?? [])];
  switch (options.discovery) {
    case 'static':
      return [...(options.seeds.length > 0 ? [new StaticDiscovery(options.seeds)] : []), ...extra];
    case 'dns':
      assert(options.dnsName !== undefined, 'dns discovery has a name (checked at start)');
      return [new DnsDiscovery({ hostname: options.dnsName, port: options.listenPort }), ...extra];
    case 'hyperswarm':
      assert(transport instanceof HyperswarmTransport, 'hyperswarm discovery runs on the hyperswarm transport (checked at start)');
      return [new HyperswarmDiscovery(transport, 'fedctl', options.cookie), ...extra];
    default:
      throw fedError('config', `unknown discovery ${String(options.discovery)}`);
  }
}
