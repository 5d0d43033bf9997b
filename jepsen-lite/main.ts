#!/usr/bin/env node
/**
 * `jepsen-lite`: partition-tolerance test runs against a real fedctl cluster.
 *
 *   jepsen-lite run [--nodes 5] [--groups 1] [--time 30] [--rate 20] [--concurrency 10]
 *                   [--nemesis partition,kill] [--seed N] [--out DIR] …
 *
 * Exit codes: 0 every checker passed; 1 a checker failed or could not decide; 2 bad options;
 * 3 the run itself could not be carried out (the cluster did not start, …). Errors are one line
 * on stderr.
 *
 * `--unsafe MODE` (hidden) starts the nodes in a deliberately unsafe mode, to prove the checkers
 * catch each anomaly. It is for the project's own tests: it is refused (exit 2) unless the
 * environment says `JEPSEN_LITE_UNSAFE=1` (see `validateRunOptions`).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { UNSAFE_MODES, type UnsafeMode } from '../registry/index.js';
import { isFedError, randomSeed } from '../runtime/index.js';
import { NEMESIS_NAMES, RUN_DEFAULTS, type RunOptions, parseNemesisList } from './options.js';
import { runTest } from './run.js';

export const EXIT_JEPSEN = { pass: 0, checkFailed: 1, usage: 2, runError: 3 } as const;

/** Where runs go without `--out` (listed in .gitignore). */
export const DEFAULT_RUNS_DIR = 'jepsen-lite-runs';

interface RunFlags {
  nodes: string;
  groups: string;
  time: string;
  rate: string;
  concurrency: string;
  clientsPerName: string;
  opsPerName: string;
  nemesis: string;
  nemesisInterval: string;
  singletons: string;
  seed?: string;
  out?: string;
  settle: string;
  opTimeout: string;
  tickMs?: string;
  unsafe?: UnsafeMode;
  progress: boolean;
}

function number(text: string): number {
  return text.trim() === '' ? NaN : Number(text);
}

/** A fresh directory under jepsen-lite-runs/ for a run without `--out`. */
export function defaultOutDir(seed: number, now = new Date()): string {
  return `${DEFAULT_RUNS_DIR}/${now.toISOString().replaceAll(':', '-')}-seed${seed}`;
}

export function optionsFromFlags(flags: RunFlags): RunOptions {
  const seed = flags.seed === undefined ? randomSeed() : number(flags.seed);
  return {
    nodes: number(flags.nodes),
    groups: number(flags.groups),
    timeSeconds: number(flags.time),
    ratePerSecond: number(flags.rate),
    concurrency: number(flags.concurrency),
    clientsPerName: number(flags.clientsPerName),
    opsPerName: number(flags.opsPerName),
    nemesis: parseNemesisList(flags.nemesis),
    nemesisIntervalSeconds: number(flags.nemesisInterval),
    singletonKeys: number(flags.singletons),
    seed,
    outDir: flags.out ?? defaultOutDir(seed),
    settleSeconds: number(flags.settle),
    operationTimeoutMs: number(flags.opTimeout),
    tickMs: flags.tickMs === undefined ? undefined : number(flags.tickMs),
    unsafe: flags.unsafe,
    progress: flags.progress,
  };
}

/** The `jepsen-lite` program; `onRun` gets the flags of `run`. */
function program(onRun: (flags: RunFlags) => Promise<void>): Command {
  const root = new Command('jepsen-lite').description('partition-tolerance test runs against a real fedctl cluster').exitOverride();
  root
    .command('run')
    .description('start a cluster, hurt it, record what clients saw, check it, write report.html and results.json')
    .option('--nodes <n>', 'nodes at the start (over all groups)', String(RUN_DEFAULTS.nodes))
    .option('--groups <n>', 'groups; more than one is a federation (the first its root), the nodes spread evenly', String(RUN_DEFAULTS.groups))
    .option('--time <seconds>', 'seconds of workload', String(RUN_DEFAULTS.timeSeconds))
    .option('--rate <ops>', 'operations per second over all clients', String(RUN_DEFAULTS.ratePerSecond))
    .option('--concurrency <n>', 'concurrent clients', String(RUN_DEFAULTS.concurrency))
    .option('--clients-per-name <n>', 'clients sharing one name at a time (≤ 10)', String(RUN_DEFAULTS.clientsPerName))
    .option('--ops-per-name <n>', 'operations on a name before moving to a fresh one', String(RUN_DEFAULTS.opsPerName))
    .option('--nemesis <list>', `faults, comma list of: ${NEMESIS_NAMES.join(', ')}`, RUN_DEFAULTS.nemesis.join(','))
    .option('--nemesis-interval <seconds>', 'mean seconds from one fault to the next', String(RUN_DEFAULTS.nemesisIntervalSeconds))
    .option('--singletons <n>', 'singleton keys the nodes run and the singleton checker checks (0: none; needs fedctl start --singleton)', String(RUN_DEFAULTS.singletonKeys))
    .option('--seed <n>', 'seed of the schedule and the workload (default: random, printed)')
    .option('--out <dir>', `run directory, new or empty (default: a fresh one under ${DEFAULT_RUNS_DIR}/)`)
    .option('--settle <seconds>', 'seconds to settle after the final heal', String(RUN_DEFAULTS.settleSeconds))
    .option('--op-timeout <ms>', 'client timeout per operation', String(RUN_DEFAULTS.operationTimeoutMs))
    .option('--tick-ms <ms>', 'Raft tick of the nodes')
    .addOption(new Option('--unsafe <mode>', 'TEST ONLY (needs JEPSEN_LITE_UNSAFE=1): run nodes in a deliberately unsafe mode').choices([...UNSAFE_MODES]).hideHelp())
    .option('--no-progress', 'no progress line')
    .action(onRun);
  return root;
}

/** Parses `run …` arguments into options (without running); throws on bad flags. For tests and re-run commands. */
export async function parseRunArgs(argv: readonly string[]): Promise<RunOptions> {
  let parsed: RunOptions | undefined;
  const root = program(async (flags) => {
    parsed = optionsFromFlags(flags);
  });
  root.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  await root.parseAsync(argv as string[], { from: 'user' });
  if (parsed === undefined) throw new Error('not a run command');
  return parsed;
}

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT_JEPSEN.pass;
  const root = program(async (flags) => {
    let options: RunOptions;
    try {
      options = optionsFromFlags(flags);
    } catch (error) {
      process.stderr.write(`jepsen-lite: error: ${(error as Error).message}\n`);
      exitCode = EXIT_JEPSEN.usage;
      return;
    }
    try {
      const outcome = await runTest(options);
      const { results } = outcome;
      process.stdout.write(
        `${results.verdict.toUpperCase()}: ${results.operations.client} operations, ${results.faults.length} faults, seed ${results.seed}\n` +
          `${results.notes.map((note) => `${note}\n`).join('')}` +
          `report: ${outcome.outDir}/report.html\nre-run: ${results.rerun}\n`,
      );
      exitCode = outcome.exitCode;
    } catch (error) {
      process.stderr.write(`jepsen-lite: error: ${(error as Error).message}\n`);
      exitCode = isFedError(error, 'config') ? EXIT_JEPSEN.usage : EXIT_JEPSEN.runError;
    }
  });
  try {
    await root.parseAsync(argv as string[], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version' ? EXIT_JEPSEN.pass : EXIT_JEPSEN.usage;
    }
    throw error;
  }
  return exitCode;
}

/**
 * Whether this module is the program being run. `process.argv[1]` is the path node was given,
 * which for an installed package is the `node_modules/.bin/jepsen-lite` symlink (or a shim's
 * target): compare real paths, never the text.
 */
export function isEntryPoint(argv1: string | undefined, moduleUrl: string): boolean {
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

if (isEntryPoint(process.argv[1], import.meta.url)) {
  // Interrupted: exit through process.exit, whose 'exit' hook in the cluster SIGKILLs every node
  // the run started (a signal's default action would leave them running).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`jepsen-lite: error: ${(error as Error).message}\n`);
      process.exitCode = EXIT_JEPSEN.runError;
    },
  );
}
