/**
 * One running fedctl node, as `fedctl start` (and the demo, and jepsen-lite through it) runs
 * it: the data directory, the runtime `Node`, its `Distribution`, its `Group` member and the
 * admin server the CLI talks to. `startNodeStack` brings them up in that order and `close`
 * takes them down in reverse; a failure half-way closes what was opened.
 *
 * First start with no seed: the node bootstraps a new group as its only voter. With seeds: it
 * joins the group of the first seed that answers. A restart (existing data directory) rejoins
 * its group from its own replica: it redials the member addresses it knows, and the seeds.
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
  fedError,
  type LogEntry,
} from '../runtime/index.js';
import { Group, type UnsafeMode, openDataDir } from '../registry/index.js';
import { startAdminServer } from './admin-server.js';
import { NodeMetrics, NodeObserver } from '../runtime/observe/index.js';
import { startMetricsServer } from './metrics-server.js';

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
  readonly gateway: boolean;
  readonly hidden: boolean;
  readonly tickMs?: number;
  /** With no seeds on first start: create a new group (default) or wait for `fedctl join`. */
  readonly bootstrap?: boolean;
  /** Accept the admin `fault` request (jepsen-lite's partitions). Off by default. */
  readonly faultInjection?: boolean;
  /** TEST-ONLY deliberate unsafety (see registry's `UnsafeMode`). */
  readonly unsafe?: UnsafeMode | undefined;
  readonly heartbeatTickMs?: number;
  readonly heartbeatTimeoutMs?: number;
  /** Serve /metrics, /livez and /readyz here (`fedctl start --metrics`); off when absent. */
  readonly metrics?: { readonly host: string; readonly port: number };
  /** Admission control of the group member (see registry GROUP_DEFAULTS). */
  readonly proposalsInFlightMax?: number;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
}

export interface NodeStack {
  readonly node: Node;
  readonly distribution: Distribution;
  readonly group: Group;
  readonly address: string;
  readonly observer: NodeObserver;
  /** `host:port` of the metrics endpoint, when `metrics` was asked for. */
  readonly metricsAddress: string | undefined;
  close(): Promise<void>;
}

export async function startNodeStack(options: NodeStackOptions): Promise<NodeStack> {
  const dataDir = openDataDir(options.dataDir, { name: options.name, group: options.group });
  const closers: Array<() => Promise<void>> = [];
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
    const distribution = await Distribution.start({
      node,
      cookie: options.cookie,
      cluster: 'fedctl',
      hidden: options.hidden,
      transport,
      discovery: makeDiscovery(options, transport),
      tickMs: options.heartbeatTickMs ?? 500,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 3_000,
      logger: (entry: LogEntry) => options.log(entry.level, entry.msg, { component: 'dist', event: entry.event, peer: entry.peer, code: entry.code }),
    });
    closers.push(() => distribution.close());
    const bootstrap = dataDir.fresh && options.seeds.length === 0 && options.bootstrap !== false;
    const group = await Group.open({
      node,
      distribution,
      group: options.group,
      raftPath: dataDir.raftPath,
      bootstrap,
      address: distribution.address,
      ...(options.tickMs !== undefined ? { tickMs: options.tickMs } : {}),
      ...(options.unsafe !== undefined ? { unsafe: options.unsafe } : {}),
      ...(options.proposalsInFlightMax !== undefined ? { proposalsInFlightMax: options.proposalsInFlightMax } : {}),
      log: (level, event, msg) => options.log(level, msg, { component: 'group', event }),
    });
    closers.push(() => group.close());
    const observer = new NodeObserver({ node, distribution, group });
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
    const faults = options.faultInjection === true ? (blocked: readonly string[]) => distribution.setBlocked(blocked) : undefined;
    const admin = startAdminServer({ node, distribution, group, faults, observer });
    closers.push(async () => admin.stop());
    if (dataDir.fresh && options.seeds.length > 0) {
      await joinViaSeeds(group, options.seeds, options.log);
    } else {
      for (const [member, address] of group.state.addresses()) {
        if (member !== options.name) distribution.connect(address).catch(() => undefined);
      }
      for (const seed of options.seeds) distribution.connect(seed).catch(() => undefined);
    }
    return { node, distribution, group, address: distribution.address, observer, metricsAddress, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
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

function makeTransport(options: NodeStackOptions): Transport {
  if (options.transport === 'hyperswarm') {
    if (options.dhtBootstrap.length === 0) {
      throw fedError('config', '--transport hyperswarm needs --dht-bootstrap host:port (fedctl never uses the public DHT)');
    }
    return new HyperswarmTransport({ bootstrap: options.dhtBootstrap, host: options.listenHost });
  }
  return new TcpTransport({ host: options.listenHost, port: options.listenPort });
}

function makeDiscovery(options: NodeStackOptions, transport: Transport): Discovery[] {
  switch (options.discovery) {
    case 'static':
      return options.seeds.length > 0 ? [new StaticDiscovery(options.seeds)] : [];
    case 'dns':
      if (options.dnsName === undefined) throw fedError('config', '--discovery dns needs --dns-name NAME');
      return [new DnsDiscovery({ hostname: options.dnsName, port: options.listenPort })];
    case 'hyperswarm':
      if (!(transport instanceof HyperswarmTransport)) {
        throw fedError('config', '--discovery hyperswarm needs --transport hyperswarm');
      }
      return [new HyperswarmDiscovery(transport, 'fedctl', options.cookie)];
    default:
      throw fedError('config', `unknown discovery ${String(options.discovery)}`);
  }
}
