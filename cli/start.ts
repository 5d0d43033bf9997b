/**
 * `fedctl start`: run a node in the foreground until SIGINT/SIGTERM, then shut down cleanly.
 * Log lines go to stderr: `time level node [component] message`, one per line (`--log-format
 * json` for machines: pino, see logging.ts; `--log-level`). The line `ready` (with the address)
 * tells a script or test the node serves; with `--metrics host:port` the line
 * `metrics: listening on http://host:port/metrics` gives the bound metrics address.
 *
 * With `--transport hyperswarm` (a global flag: the client commands reach nodes over it too) the
 * node's address, in the `ready` line, is its DHT public key; `--dht-bootstrap` is required for
 * hyperswarm transport and discovery alike, and the `--listen` host and port are where the DHT
 * node binds (UDP).
 *
 * Every flag has a `FEDCTL_*` environment variable (repeatable flags: a comma-separated list;
 * booleans: 1/0, true/false, yes/no, on/off), except the test-only `--unsafe`, which is never
 * taken from the environment so that it cannot be left switched on by accident.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { LIMITS, fedError } from '../runtime/index.js';
import { RING_WEIGHT_MAX, UNSAFE_MODES, type UnsafeMode } from '../registry/index.js';
import { checkDiscoveryFitsTransport, parseAddress, parseNodeAddress, resolveCookie, resolveDhtBootstrap } from './config.js';
import { collect, envBoolean, flagOrEnvBoolean, flagOrEnvList } from './env.js';
import type { GlobalOptions } from './main.js';
import { type FederationStackOptions, startNodeStack } from './node-stack.js';
import type { Output } from './output.js';
import { LOG_LEVELS, type LogFunction, type LogLevel, createLogger, parseLogLevel } from './logging.js';

interface StartOptions {
  name: string;
  listen: string;
  group: string;
  data?: string;
  seed?: string[];
  discovery: 'static' | 'hyperswarm' | 'dns';
  dnsName?: string;
  bootstrap?: boolean;
  hidden?: boolean;
  federationRoot?: boolean;
  federationSeed?: string[];
  gateway?: boolean;
  gatewayListen?: string;
  singleton?: string[];
  singletonLog?: string;
  logFormat: 'text' | 'json';
  logLevel: LogLevel;
  metrics?: string;
  proposalsInFlightMax?: string;
  tickMs?: string;
  busyWaitUs?: string;
  snapshotEveryEntries?: string;
  weight?: string;
  faultInjection?: boolean;
  unsafe?: UnsafeMode;
}

export function registerStartCommand(program: Command, run: (action: (output: Output) => Promise<number | void>) => Promise<void>): void {
  program
    .command('start')
    .description('run a node in the foreground (Ctrl-C stops it cleanly)')
    .addOption(new Option('--name <name@host>', 'node name').env('FEDCTL_NAME').makeOptionMandatory())
    .addOption(new Option('--listen <host:port>', 'address to listen on').env('FEDCTL_LISTEN').default('127.0.0.1:4370'))
    .addOption(new Option('--group <id>', 'group to create or join').env('FEDCTL_GROUP').default('default'))
    .addOption(new Option('--data <dir>', 'data directory (default ~/.fedctl/data/<name>)').env('FEDCTL_DATA'))
    .addOption(new Option('--seed <address>', 'a member to join through: host:port, or its public key with --transport hyperswarm (repeatable) [env FEDCTL_SEEDS, comma list]').argParser(collect))
    .addOption(new Option('--discovery <kind>', 'how to find peers (hyperswarm: on the cluster\'s DHT topic, with --transport hyperswarm)').choices(['static', 'hyperswarm', 'dns']).env('FEDCTL_DISCOVERY').default('static'))
    .addOption(new Option('--dns-name <name>', 'name to resolve with --discovery dns').env('FEDCTL_DNS_NAME'))
    .addOption(new Option('--bootstrap', 'on a first start with no --seed, create a new group (default with static discovery) [env FEDCTL_BOOTSTRAP]'))
    .addOption(new Option('--no-bootstrap', 'on a first start with no --seed, wait to be admitted (`fedctl join`, or a peer found by discovery; default with dns or hyperswarm discovery)'))
    .addOption(new Option('--hidden', 'connect only where told; never propagated [env FEDCTL_HIDDEN]'))
    .addOption(new Option('--federation-root', 'this group creates the federation (its root group); give it to every member of that group [env FEDCTL_FEDERATION_ROOT]'))
    .addOption(new Option('--federation-seed <host:port>', 'gateway address of a root-group gateway: this group joins the federation (repeatable) [env FEDCTL_FEDERATION_SEEDS, comma list]').argParser(collect))
    .addOption(new Option('--gateway', 'in a federation, this member may serve as one of its group\'s gateways (the default) [env FEDCTL_GATEWAY]'))
    .addOption(new Option('--no-gateway', 'in a federation, this member never serves as a gateway'))
    .addOption(new Option('--gateway-listen <host:port>', 'where this member\'s gateway listens when it is one (default: the --listen host, any port)').env('FEDCTL_GATEWAY_LISTEN'))
    .addOption(new Option('--singleton <key>', 'run a built-in probe singleton for KEY in the group (repeatable; every member declares the same) [env FEDCTL_SINGLETONS, comma list]').argParser(collect))
    .addOption(new Option('--singleton-log <file>', 'append one JSON line per singleton instance start/stop to FILE').env('FEDCTL_SINGLETON_LOG'))
    .addOption(new Option('--log-format <format>', 'log line format').choices(['text', 'json']).env('FEDCTL_LOG_FORMAT').default('text'))
    .addOption(new Option('--log-level <level>', 'lowest level logged').choices([...LOG_LEVELS]).env('FEDCTL_LOG_LEVEL').default('info'))
    .addOption(new Option('--metrics <host:port>', 'serve /metrics, /livez and /readyz on this address (off by default)').env('FEDCTL_METRICS'))
    .addOption(new Option('--proposals-in-flight-max <n>', 'admission control: client proposals waiting on this member before it answers overloaded (default 256)').env('FEDCTL_PROPOSALS_IN_FLIGHT_MAX'))
    .addOption(new Option('--tick-ms <ms>', 'Raft tick (default 50)').env('FEDCTL_TICK_MS'))
    .addOption(new Option('--busy-wait-us <us>', `after a link's activity keep the event loop turning this long, as BEAM schedulers spin, for lower latency at the cost of CPU (0 to ${BUSY_WAIT_US_MAX}; default 0, off)`).env('FEDCTL_BUSY_WAIT_US'))
    .addOption(new Option('--snapshot-every-entries <n>', 'take a Raft snapshot (and compact the log) every N applied entries (default: adaptive, as many entries as the last snapshot held names, 10000 to 100000)').env('FEDCTL_SNAPSHOT_EVERY_ENTRIES'))
    .addOption(new Option('--weight <n>', `this member's share of the ring's keys, an integer from 1 to ${RING_WEIGHT_MAX} (default 1)`).env('FEDCTL_WEIGHT'))
    .addOption(new Option('--fault-injection', 'accept fault requests from jepsen-lite (cut links); off by default [env FEDCTL_FAULT_INJECTION]'))
    .addOption(new Option('--unsafe <mode>', 'TEST ONLY: deliberately break a guarantee').choices([...UNSAFE_MODES]).hideHelp())
    // --transport and --dht-bootstrap are global (the client commands reach nodes over them too).
    .configureHelp({ showGlobalOptions: true })
    .action(async (options: StartOptions, command: Command) => {
      await run(async (output) => startAction(options, command.optsWithGlobals<GlobalOptions & StartOptions>(), output));
    });
}

/** Longest busy-wait window `--busy-wait-us` accepts (the library's bound). */
const BUSY_WAIT_US_MAX = LIMITS.busyWaitUsMax;

function busyWaitMicros(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(text.trim() !== '' && Number.isInteger(value) && value >= 0 && value <= BUSY_WAIT_US_MAX)) {
    throw fedError('config', `--busy-wait-us wants an integer from 0 to ${BUSY_WAIT_US_MAX}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(Number.isInteger(value) && value > 0)) throw fedError('config', `${flag} wants a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

async function startAction(options: StartOptions, globals: GlobalOptions, output: Output): Promise<number> {
  const listen = parseAddress(options.listen, '--listen', { allowAnyPort: true });
  const transport = globals.transport ?? 'tcp';
  // Hyperswarm, as transport or discovery, never starts without an explicit DHT bootstrap list.
  const usesDht = transport === 'hyperswarm' || options.discovery === 'hyperswarm';
  const dhtBootstrap = resolveDhtBootstrap(usesDht ? 'hyperswarm' : 'tcp', globals.dhtBootstrap, transport === 'hyperswarm' ? '--transport hyperswarm' : '--discovery hyperswarm');
  checkDiscoveryFitsTransport(options.discovery, transport);
  const seeds = flagOrEnvList(options.seed, 'FEDCTL_SEEDS').map((seed) => parseNodeAddress(seed, '--seed', transport));
  const tickMs = positiveInt(options.tickMs, '--tick-ms');
  const busyWaitUs = busyWaitMicros(options.busyWaitUs);
  const proposalsInFlightMax = positiveInt(options.proposalsInFlightMax, '--proposals-in-flight-max');
  const snapshotEveryEntries = positiveInt(options.snapshotEveryEntries, '--snapshot-every-entries');
  const weight = positiveInt(options.weight, '--weight');
  if (weight !== undefined && weight > RING_WEIGHT_MAX) throw fedError('config', `--weight wants an integer from 1 to ${RING_WEIGHT_MAX}, got ${weight}`);
  const metrics = options.metrics === undefined ? undefined : parseAddress(options.metrics, '--metrics', { allowAnyPort: true });
  const federation = federationOptions(options, listen.host);
  const singletons = flagOrEnvList(options.singleton, 'FEDCTL_SINGLETONS');
  if (new Set(singletons).size !== singletons.length) throw fedError('config', `--singleton: a key is given twice (${singletons.join(', ')})`);
  // Unset (neither flag nor variable): the default for the discovery kind (see node-stack.ts).
  const bootstrap = options.bootstrap ?? envBoolean('FEDCTL_BOOTSTRAP');
  const cookie = resolveCookie({ cookie: globals.cookie, cookieFile: globals.cookieFile, create: true });
  const log = createLogger({ node: options.name, group: options.group, format: options.logFormat, level: parseLogLevel(options.logLevel), writeLine: (line) => output.writeError(line) });
  const stack = await startNodeStack({
    name: options.name,
    listenHost: listen.host,
    listenPort: listen.port,
    group: options.group,
    dataDir: options.data ?? join(homedir(), '.fedctl', 'data', options.name),
    cookie,
    seeds,
    discovery: options.discovery,
    transport,
    dhtBootstrap,
    ...(options.dnsName !== undefined ? { dnsName: options.dnsName } : {}),
    hidden: flagOrEnvBoolean(options.hidden, 'FEDCTL_HIDDEN', false),
    gateway: federation?.gatewayEligible ?? flagOrEnvBoolean(options.gateway, 'FEDCTL_GATEWAY', true),
    ...(tickMs !== undefined ? { tickMs } : {}),
    ...(busyWaitUs !== undefined ? { busyWaitUs } : {}),
    faultInjection: flagOrEnvBoolean(options.faultInjection, 'FEDCTL_FAULT_INJECTION', false),
    bootstrap,
    unsafe: options.unsafe,
    ...(metrics !== undefined ? { metrics } : {}),
    ...(proposalsInFlightMax !== undefined ? { proposalsInFlightMax } : {}),
    ...(snapshotEveryEntries !== undefined ? { snapshotEveryEntries } : {}),
    ...(weight !== undefined ? { weight } : {}),
    federation,
    singletons,
    singletonLog: options.singletonLog,
    log,
  });
  if (options.unsafe !== undefined) log('warn', `UNSAFE MODE ${options.unsafe}: this node deliberately breaks a guarantee (testing only)`);
  log('info', `ready: listening on ${stack.address}, group ${options.group}, creation ${stack.node.creation}`, { address: stack.address });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log('info', `${signal}: shutting down`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  await stack.close();
  log('info', 'stopped');
  return 0;
}

/** The federation flags, or undefined when the node is given none (it is federated only if its group is). */
function federationOptions(options: StartOptions, listenHost: string): FederationStackOptions | undefined {
  const root = flagOrEnvBoolean(options.federationRoot, 'FEDCTL_FEDERATION_ROOT', false);
  const seeds = flagOrEnvList(options.federationSeed, 'FEDCTL_FEDERATION_SEEDS');
  for (const seed of seeds) parseAddress(seed, '--federation-seed');
  if (root && seeds.length > 0) throw fedError('config', '--federation-root and --federation-seed exclude each other: the root group has no root to join');
  const gatewayEligible = flagOrEnvBoolean(options.gateway, 'FEDCTL_GATEWAY', true);
  const gatewayListen = options.gatewayListen === undefined ? undefined : parseAddress(options.gatewayListen, '--gateway-listen', { allowAnyPort: true });
  if (!root && seeds.length === 0) {
    if (gatewayListen !== undefined) throw fedError('config', '--gateway-listen needs --federation-root or --federation-seed');
    return undefined;
  }
  return { root, seeds, gatewayEligible, gatewayHost: gatewayListen?.host ?? listenHost, gatewayPort: gatewayListen?.port ?? 0 };
}

/** The `fedctl start` logger at level info (see cli/logging.ts for the formats). */
export function makeLogger(node: string, format: 'text' | 'json', output: Output): LogFunction {
  return createLogger({ node, group: '', format, level: 'info', writeLine: (line) => output.writeError(line) });
}
