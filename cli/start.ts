/**
 * `fedctl start`: run a node in the foreground until SIGINT/SIGTERM, then shut down cleanly.
 * Log lines go to stderr: `time level node [component] message`, one per line (`--log-format
 * json` for machines: pino, see logging.ts; `--log-level`). The line `ready` (with the address)
 * tells a script or test the node serves; with `--metrics host:port` the line
 * `metrics: listening on http://host:port/metrics` gives the bound metrics address.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { fedError } from '../runtime/index.js';
import { UNSAFE_MODES, type UnsafeMode } from '../registry/index.js';
import { parseAddress, resolveCookie } from './config.js';
import type { GlobalOptions } from './main.js';
import { startNodeStack } from './node-stack.js';
import type { Output } from './output.js';
import { LOG_LEVELS, type LogFunction, type LogLevel, createLogger, parseLogLevel } from './logging.js';

interface StartOptions {
  name: string;
  listen: string;
  group: string;
  data?: string;
  seed: string[];
  discovery: 'static' | 'hyperswarm' | 'dns';
  transport: 'tcp' | 'hyperswarm';
  dhtBootstrap: string[];
  dnsName?: string;
  gateway: boolean;
  hidden: boolean;
  logFormat: 'text' | 'json';
  logLevel: LogLevel;
  metrics?: string;
  proposalsInFlightMax?: string;
  tickMs?: string;
  faultInjection: boolean;
  unsafe?: UnsafeMode;
  bootstrap: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerStartCommand(program: Command, run: (action: (output: Output) => Promise<number | void>) => Promise<void>): void {
  program
    .command('start')
    .description('run a node in the foreground (Ctrl-C stops it cleanly)')
    .addOption(new Option('--name <name@host>', 'node name').env('FEDCTL_NAME').makeOptionMandatory())
    .addOption(new Option('--listen <host:port>', 'address to listen on').env('FEDCTL_LISTEN').default('127.0.0.1:4370'))
    .addOption(new Option('--group <id>', 'group to create or join').env('FEDCTL_GROUP').default('default'))
    .addOption(new Option('--data <dir>', 'data directory (default ~/.fedctl/data/<name>)').env('FEDCTL_DATA'))
    .addOption(new Option('--seed <host:port>', 'a member to join through (repeatable)').argParser(collect).default([]))
    .addOption(new Option('--discovery <kind>', 'how to find peers').choices(['static', 'hyperswarm', 'dns']).default('static'))
    .addOption(new Option('--transport <kind>', 'link transport').choices(['tcp', 'hyperswarm']).default('tcp'))
    .addOption(new Option('--dht-bootstrap <host:port>', 'DHT bootstrap node for hyperswarm (repeatable; required with hyperswarm)').argParser(collect).default([]))
    .addOption(new Option('--dns-name <name>', 'name to resolve with --discovery dns'))
    .addOption(new Option('--gateway', 'offer to act as a federation gateway').default(false))
    .addOption(new Option('--hidden', 'connect only where told; never propagated').default(false))
    .addOption(new Option('--log-format <format>', 'log line format').choices(['text', 'json']).env('FEDCTL_LOG_FORMAT').default('text'))
    .addOption(new Option('--log-level <level>', 'lowest level logged').choices([...LOG_LEVELS]).env('FEDCTL_LOG_LEVEL').default('info'))
    .addOption(new Option('--metrics <host:port>', 'serve /metrics, /livez and /readyz on this address (off by default)').env('FEDCTL_METRICS'))
    .addOption(new Option('--proposals-in-flight-max <n>', 'admission control: client proposals waiting on this member before it answers overloaded (default 256)'))
    .addOption(new Option('--tick-ms <ms>', 'Raft tick (default 50)'))
    .addOption(new Option('--no-bootstrap', 'with no --seed, wait to be added by `fedctl join` instead of creating a new group'))
    .addOption(new Option('--fault-injection', 'accept fault requests from jepsen-lite (cut links); off by default').default(false))
    .addOption(new Option('--unsafe <mode>', 'TEST ONLY: deliberately break a guarantee').choices([...UNSAFE_MODES]).hideHelp())
    .action(async (options: StartOptions, command: Command) => {
      await run(async (output) => startAction(options, command.optsWithGlobals<GlobalOptions & StartOptions>(), output));
    });
}

async function startAction(options: StartOptions, globals: GlobalOptions, output: Output): Promise<number> {
  const listen = parseAddress(options.listen, '--listen', { allowAnyPort: true });
  for (const seed of options.seed) parseAddress(seed, '--seed');
  const tickMs = options.tickMs === undefined ? undefined : Number(options.tickMs);
  if (tickMs !== undefined && !(Number.isInteger(tickMs) && tickMs > 0)) throw fedError('config', `--tick-ms wants a positive integer, got ${options.tickMs}`);
  const cookie = resolveCookie({ cookie: globals.cookie, cookieFile: globals.cookieFile, create: true });
  const log = createLogger({ node: options.name, group: options.group, format: options.logFormat, level: parseLogLevel(options.logLevel), writeLine: (line) => output.writeError(line) });
  const metrics = options.metrics === undefined ? undefined : parseAddress(options.metrics, '--metrics', { allowAnyPort: true });
  const proposalsInFlightMax = options.proposalsInFlightMax === undefined ? undefined : Number(options.proposalsInFlightMax);
  if (proposalsInFlightMax !== undefined && !(Number.isInteger(proposalsInFlightMax) && proposalsInFlightMax > 0)) {
    throw fedError('config', `--proposals-in-flight-max wants a positive integer, got ${options.proposalsInFlightMax}`);
  }
  const stack = await startNodeStack({
    name: options.name,
    listenHost: listen.host,
    listenPort: listen.port,
    group: options.group,
    dataDir: options.data ?? join(homedir(), '.fedctl', 'data', options.name),
    cookie,
    seeds: options.seed,
    discovery: options.discovery,
    transport: options.transport,
    dhtBootstrap: options.dhtBootstrap,
    ...(options.dnsName !== undefined ? { dnsName: options.dnsName } : {}),
    gateway: options.gateway,
    hidden: options.hidden,
    ...(tickMs !== undefined ? { tickMs } : {}),
    faultInjection: options.faultInjection,
    bootstrap: options.bootstrap,
    unsafe: options.unsafe,
    ...(metrics !== undefined ? { metrics } : {}),
    ...(proposalsInFlightMax !== undefined ? { proposalsInFlightMax } : {}),
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

/** The `fedctl start` logger at level info (see cli/logging.ts for the formats). */
export function makeLogger(node: string, format: 'text' | 'json', output: Output): LogFunction {
  return createLogger({ node, group: '', format, level: 'info', writeLine: (line) => output.writeError(line) });
}
