/**
 * The options of `jepsen-lite run`, their defaults and their validation. Everything a run does
 * follows from these and the seed; `rerunCommand` prints the command that repeats a run.
 *
 * Contract: `validateRunOptions` refuses bad input with one `FedError('config')` naming the
 * option; nemesis names are those of issue 8, plus `gateway-loss`. With `--groups` above 1 the
 * run is a federation: the nodes are spread evenly over the groups. The federation's nemeses
 * (`partition-group`: a whole group, or only its gateways, cut off; `gateway-loss`: a group's
 * gateways killed or paused) are refused with "needs federation" while a run has one group, and
 * `partition` and `all` draw from them when it has several. A partition shape named explicitly
 * is refused on groups smaller than it needs to cut anything (`PARTITION_SHAPE_NODES_MIN`);
 * `partition` and `all` draw only from the shapes the groups' sizes allow. `unsafe` is refused
 * unless the environment says `JEPSEN_LITE_UNSAFE=1` (only the project's tests set it).
 */
import { fedError } from '../runtime/index.js';
import type { UnsafeMode } from '../registry/index.js';

export const NEMESIS_NAMES = [
  'none',
  'partition',
  'partition-halves',
  'partition-leader',
  'partition-ring',
  'partition-bridge',
  'partition-group',
  'gateway-loss',
  'kill',
  'pause',
  'membership',
  'wipe',
  'all',
] as const;
export type NemesisName = (typeof NEMESIS_NAMES)[number];

/** Partition shapes cut inside one group. */
export const GROUP_PARTITION_SHAPES = ['halves', 'leader', 'ring', 'bridge'] as const;
/** Partition shapes of a federation (`partition-group`): a whole group cut off from the others, or only its gateways cut off from everyone. */
export const FEDERATION_PARTITION_SHAPES = ['group', 'gateways'] as const;
export const PARTITION_SHAPES = [...GROUP_PARTITION_SHAPES, ...FEDERATION_PARTITION_SHAPES] as const;
export type PartitionShape = (typeof PARTITION_SHAPES)[number];
export type FederationPartitionShape = (typeof FEDERATION_PARTITION_SHAPES)[number];

export function isFederationShape(shape: PartitionShape): shape is FederationPartitionShape {
  return (FEDERATION_PARTITION_SHAPES as readonly string[]).includes(shape);
}

/**
 * Members a shape needs to cut anything: halves and an isolated leader need two sides; a bridge
 * needs two sides and the bridge; a majority ring needs each node to miss someone while it still
 * sees a majority — on 3 nodes every node's two neighbours are everyone, so it cuts nothing; on
 * 4, each node sees itself and its two neighbours (3 of 4, a majority) and misses the opposite.
 */
export const PARTITION_SHAPE_NODES_MIN: Readonly<Record<PartitionShape, number>> = { halves: 2, leader: 2, ring: 4, bridge: 3, group: 1, gateways: 1 };

/** The environment variable that unlocks `--unsafe` (set by the project's tests only). */
export const UNSAFE_ENV = 'JEPSEN_LITE_UNSAFE';

/** The faults a schedule draws from once `--nemesis` is expanded. */
export type FaultKind = 'partition' | 'kill' | 'pause' | 'membership' | 'gateway-loss' | 'wipe';
/** Nemesis names that need a federation (`--groups` above 1). */
const FEDERATION_NEMESES: readonly NemesisName[] = ['partition-group', 'gateway-loss'];

export const NODES_MIN = 1;
export const NODES_MAX = 15;
export const CONCURRENCY_MAX = 200;
export const CLIENTS_PER_NAME_MAX = 10;
export const RATE_MAX_PER_SECOND = 5_000;
export const TIME_MAX_SECONDS = 24 * 3600;
export const SINGLETON_KEYS_MAX = 64;
export const GROUPS_MAX = 8;

export interface RunOptions {
  /** Node processes at the start (over all groups). */
  readonly nodes: number;
  /** Groups; more than one makes a federation (the first is its root), the nodes spread evenly over them. */
  readonly groups: number;
  /** Seconds of workload (faults happen during it). */
  readonly timeSeconds: number;
  /** Target operations per second over all clients. */
  readonly ratePerSecond: number;
  /** Concurrent clients. */
  readonly concurrency: number;
  /** Clients that share one name at a time (at most ~10, as Jepsen does). */
  readonly clientsPerName: number;
  /** Operations on one name before its clients move to a fresh name. */
  readonly opsPerName: number;
  readonly nemesis: readonly NemesisName[];
  /** Mean seconds between the start of one fault and the next. */
  readonly nemesisIntervalSeconds: number;
  /**
   * Singleton keys (`jl-singleton-1` …) the nodes run with `fedctl start --singleton`, checked
   * by the singleton checker; 0 for none. Used only when `fedctl start` has the flag.
   */
  readonly singletonKeys: number;
  readonly seed: number;
  readonly outDir: string;
  /** Seconds to let the cluster settle after the final heal, before the final reads. */
  readonly settleSeconds: number;
  /** Per-operation client timeout. */
  readonly operationTimeoutMs: number;
  /** Raft tick of the nodes (passed to `fedctl start --tick-ms`). */
  readonly tickMs?: number | undefined;
  /** TEST ONLY: start every node with this deliberately unsafe mode. */
  readonly unsafe?: UnsafeMode | undefined;
  /** How to run `fedctl`: the command and its leading arguments (default: this package's). */
  readonly fedctlCommand?: readonly string[] | undefined;
  /** Print a progress line (to stderr). */
  readonly progress: boolean;
}

export const RUN_DEFAULTS = {
  nodes: 5,
  groups: 1,
  timeSeconds: 30,
  ratePerSecond: 20,
  concurrency: 10,
  clientsPerName: 5,
  opsPerName: 200,
  nemesis: ['partition', 'kill'] as readonly NemesisName[],
  nemesisIntervalSeconds: 8,
  singletonKeys: 3,
  settleSeconds: 5,
  operationTimeoutMs: 3_000,
  progress: true,
} as const;

function positiveInteger(value: number, option: string, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw fedError('config', `${option} wants an integer from 1 to ${max}, got ${value}`);
  }
}

function positiveNumber(value: number, option: string, max: number): void {
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw fedError('config', `${option} wants a number above 0 and at most ${max}, got ${value}`);
  }
}

/** Parses a comma list of nemesis names. */
export function parseNemesisList(text: string): NemesisName[] {
  const names = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (names.length === 0) throw fedError('config', '--nemesis wants a comma list, e.g. partition,kill');
  for (const name of names) {
    if (!(NEMESIS_NAMES as readonly string[]).includes(name)) {
      throw fedError('config', `--nemesis: unknown nemesis ${JSON.stringify(name)} (known: ${NEMESIS_NAMES.join(', ')})`);
    }
  }
  return names as NemesisName[];
}

export function validateRunOptions(options: RunOptions, env: NodeJS.ProcessEnv = process.env): RunOptions {
  positiveInteger(options.nodes, '--nodes', NODES_MAX);
  positiveInteger(options.groups, '--groups', GROUPS_MAX);
  if (options.nodes < options.groups) throw fedError('config', `--nodes ${options.nodes} cannot make ${options.groups} groups (--groups): a group needs a node`);
  positiveNumber(options.timeSeconds, '--time', TIME_MAX_SECONDS);
  positiveNumber(options.ratePerSecond, '--rate', RATE_MAX_PER_SECOND);
  positiveInteger(options.concurrency, '--concurrency', CONCURRENCY_MAX);
  positiveInteger(options.clientsPerName, '--clients-per-name', CLIENTS_PER_NAME_MAX);
  positiveInteger(options.opsPerName, '--ops-per-name', 100_000);
  positiveNumber(options.nemesisIntervalSeconds, '--nemesis-interval', 3600);
  if (!(Number.isInteger(options.singletonKeys) && options.singletonKeys >= 0 && options.singletonKeys <= SINGLETON_KEYS_MAX)) {
    throw fedError('config', `--singletons wants an integer from 0 to ${SINGLETON_KEYS_MAX}, got ${options.singletonKeys}`);
  }
  if (!(options.settleSeconds >= 0 && options.settleSeconds <= 600)) throw fedError('config', `--settle wants 0 to 600 seconds, got ${options.settleSeconds}`);
  positiveInteger(options.operationTimeoutMs, '--op-timeout', 600_000);
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
    throw fedError('config', `--seed wants an integer from 0 to 4294967295, got ${options.seed}`);
  }
  const federationOnly = options.nemesis.find((name) => FEDERATION_NEMESES.includes(name));
  if (federationOnly !== undefined && options.groups < 2) {
    throw fedError('config', `--nemesis ${federationOnly} hurts a federation's groups or gateways: it needs federation (--groups 2 or more)`);
  }
  const smallestGroup = Math.min(...groupSizes(options.nodes, options.groups));
  const groupWord = options.groups > 1 ? `its smallest group has ${smallestGroup}` : `the run has ${options.nodes}`;
  for (const name of options.nemesis) {
    if (!name.startsWith('partition-') || name === 'partition-group') continue;
    const shape = name.slice('partition-'.length) as PartitionShape;
    const needed = PARTITION_SHAPE_NODES_MIN[shape];
    if (smallestGroup < needed) {
      throw fedError('config', `--nemesis ${name} needs at least ${needed} nodes in a group to cut anything, and ${groupWord} (--nodes, --groups)`);
    }
  }
  if (options.nemesis.some((name) => name === 'partition' || name === 'all') && expandNemeses(options.nemesis, smallestGroup, options.groups).shapes.length === 0) {
    throw fedError('config', `--nemesis partition needs at least ${PARTITION_SHAPE_NODES_MIN.halves} nodes to cut anything, and ${groupWord} (--nodes)`);
  }
  if (options.unsafe !== undefined && env[UNSAFE_ENV] !== '1') {
    throw fedError('config', `--unsafe ${options.unsafe} deliberately breaks a guarantee and is for jepsen-lite's own tests: set ${UNSAFE_ENV}=1 to use it`);
  }
  if (options.outDir.length === 0) throw fedError('config', '--out wants a directory');
  return options;
}

/** How `nodes` nodes are spread over `groups` groups: as evenly as possible, the first groups one larger. */
export function groupSizes(nodes: number, groups: number): number[] {
  return Array.from({ length: groups }, (_, index) => Math.floor(nodes / groups) + (index < nodes % groups ? 1 : 0));
}

/**
 * The fault kinds and partition shapes a nemesis list stands for. With `nodesPerGroup` (the
 * smallest group's size), `partition` and `all` keep only the group shapes that cut something
 * there (and the partition kind only if some shape is left); with `groups` above 1 they also
 * draw the federation's shapes, and `all` the gateway losses.
 */
export function expandNemeses(names: readonly NemesisName[], nodesPerGroup = Infinity, groups = 1): { kinds: FaultKind[]; shapes: PartitionShape[] } {
  const kinds = new Set<FaultKind>();
  const shapes = new Set<PartitionShape>();
  const everyShape = (): void => {
    for (const shape of GROUP_PARTITION_SHAPES) if (nodesPerGroup >= PARTITION_SHAPE_NODES_MIN[shape]) shapes.add(shape);
    if (groups > 1) for (const shape of FEDERATION_PARTITION_SHAPES) shapes.add(shape);
  };
  for (const name of names) {
    if (name === 'none') continue;
    if (name === 'all') {
      for (const kind of ['partition', 'kill', 'pause', 'membership'] as const) kinds.add(kind);
      if (groups > 1) kinds.add('gateway-loss');
      everyShape();
    } else if (name === 'partition') {
      kinds.add('partition');
      everyShape();
    } else if (name === 'partition-group') {
      kinds.add('partition');
      for (const shape of FEDERATION_PARTITION_SHAPES) shapes.add(shape);
    } else if (name.startsWith('partition-')) {
      kinds.add('partition');
      shapes.add(name.slice('partition-'.length) as PartitionShape);
    } else {
      kinds.add(name as FaultKind);
    }
  }
  if (shapes.size === 0) kinds.delete('partition');
  return { kinds: [...kinds], shapes: PARTITION_SHAPES.filter((shape) => shapes.has(shape)) };
}

/**
 * The command that repeats a run with the same options and seed. It names no `--out`, so each
 * time it is run it writes a fresh directory under jepsen-lite-runs/ (a run refuses a non-empty
 * one). An unsafe run's command carries the environment variable that unlocks `--unsafe`.
 */
export function rerunCommand(options: RunOptions): string {
  const parts = [
    ...(options.unsafe !== undefined ? [`${UNSAFE_ENV}=1`] : []),
    'npx jepsen-lite run',
    `--nodes ${options.nodes}`,
    ...(options.groups !== 1 ? [`--groups ${options.groups}`] : []),
    `--time ${options.timeSeconds}`,
    `--rate ${options.ratePerSecond}`,
    `--concurrency ${options.concurrency}`,
    `--clients-per-name ${options.clientsPerName}`,
    `--ops-per-name ${options.opsPerName}`,
    `--nemesis ${options.nemesis.join(',')}`,
    `--nemesis-interval ${options.nemesisIntervalSeconds}`,
    `--singletons ${options.singletonKeys}`,
    `--settle ${options.settleSeconds}`,
    `--op-timeout ${options.operationTimeoutMs}`,
    ...(options.tickMs !== undefined ? [`--tick-ms ${options.tickMs}`] : []),
    ...(options.unsafe !== undefined ? [`--unsafe ${options.unsafe}`] : []),
    `--seed ${options.seed}`,
  ];
  return parts.join(' ');
}
