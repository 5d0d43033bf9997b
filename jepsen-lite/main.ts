#!/usr/bin/env node
/**
 * `jepsen-lite`: partition-tolerance test runs against a real fedctl cluster.
 *
 *   jepsen-lite run [--nodes 5] [--time 30] [--rate 20] [--concurrency 10] [--nemesis partition,kill]
 *                   [--seed N] [--out DIR] …
 *
 * Exit codes: 0 every checker passed; 1 a checker failed or could not decide; 2 bad options;
 * 3 the run itself could not be carried out (the cluster did not start, …). Errors are one line
 * on stderr.
 */
import { Command, CommanderError, Option } from 'commander';
import { UNSAFE_MODES, type UnsafeMode } from '../registry/index.js';
import { isFedError, randomSeed } from '../runtime/index.js';
import { NEMESIS_NAMES, RUN_DEFAULTS, type RunOptions, parseNemesisList } from './options.js';
import { runTest } from './run.js';

export const EXIT_JEPSEN = { pass: 0, checkFailed: 1, usage: 2, runError: 3 } as const;

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
    seed,
    outDir: flags.out ?? `jepsen-lite-runs/${new Date().toISOString().replaceAll(':', '-')}-seed${seed}`,
    settleSeconds: number(flags.settle),
    operationTimeoutMs: number(flags.opTimeout),
    tickMs: flags.tickMs === undefined ? undefined : number(flags.tickMs),
    unsafe: flags.unsafe,
    progress: flags.progress,
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT_JEPSEN.pass;
  const program = new Command('jepsen-lite').description('partition-tolerance test runs against a real fedctl cluster').exitOverride();
  program
    .command('run')
    .description('start a cluster, hurt it, record what clients saw, check it, write report.html and results.json')
    .option('--nodes <n>', 'nodes in the group', String(RUN_DEFAULTS.nodes))
    .option('--groups <n>', 'groups (more than one needs federation)', String(RUN_DEFAULTS.groups))
    .option('--time <seconds>', 'seconds of workload', String(RUN_DEFAULTS.timeSeconds))
    .option('--rate <ops>', 'operations per second over all clients', String(RUN_DEFAULTS.ratePerSecond))
    .option('--concurrency <n>', 'concurrent clients', String(RUN_DEFAULTS.concurrency))
    .option('--clients-per-name <n>', 'clients sharing one name at a time (≤ 10)', String(RUN_DEFAULTS.clientsPerName))
    .option('--ops-per-name <n>', 'operations on a name before moving to a fresh one', String(RUN_DEFAULTS.opsPerName))
    .option('--nemesis <list>', `faults, comma list of: ${NEMESIS_NAMES.join(', ')}`, RUN_DEFAULTS.nemesis.join(','))
    .option('--nemesis-interval <seconds>', 'mean seconds from one fault to the next', String(RUN_DEFAULTS.nemesisIntervalSeconds))
    .option('--seed <n>', 'seed of the schedule and the workload (default: random, printed)')
    .option('--out <dir>', 'run directory (must be new or empty)')
    .option('--settle <seconds>', 'seconds to settle after the final heal', String(RUN_DEFAULTS.settleSeconds))
    .option('--op-timeout <ms>', 'client timeout per operation', String(RUN_DEFAULTS.operationTimeoutMs))
    .option('--tick-ms <ms>', 'Raft tick of the nodes')
    .addOption(new Option('--unsafe <mode>', 'TEST ONLY: run nodes in a deliberately unsafe mode').choices([...UNSAFE_MODES]).hideHelp())
    .option('--no-progress', 'no progress line')
    .action(async (flags: RunFlags) => {
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
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version' ? EXIT_JEPSEN.pass : EXIT_JEPSEN.usage;
    }
    throw error;
  }
  return exitCode;
}

const entry = process.argv[1];
if (entry !== undefined && (import.meta.url === new URL(`file://${entry}`).href || entry.endsWith('/jepsen-lite/main.js'))) {
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
