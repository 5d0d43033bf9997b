/**
 * `npm run sim -- --seeds N [--first S] [--size 3|5]`: runs the Raft simulator over many seeds,
 * printing progress and the count run clean; exit code 1 if any seed failed.
 *
 * A failing seed is minimized (sim/minimize.ts: re-runs with parts of its schedule suppressed
 * while it still fails the same way) and printed with its reason, the commands that replay the
 * original and the minimized run exactly, and the events of the minimized run that involve the
 * members the violation names. The first `FAILURES_MINIMIZED_MAX` failures are minimized; the
 * rest are listed by seed.
 *
 * `--seed S [--suppress SPEC] [--no-minimize]` re-runs one seed (with the given suppression:
 * the `replay` line of a report) and prints its report, or that it ran clean.
 */
import { formatFailure, minimizeFailure, parseSuppression } from './sim/minimize.js';
import { type SeedOptions, type SeedResult, type Suppression, runSeed, runSeeds } from './sim/run.js';

const FAILURES_MINIMIZED_MAX = 5;

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const single = argument('seed');
const sizeText = argument('size');
const size = sizeText === '3' ? 3 : sizeText === '5' ? 5 : undefined;
const suppressText = argument('suppress');
const minimize = !process.argv.includes('--no-minimize');

function suppression(text: string): Suppression {
  try {
    return parseSuppression(text);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
}

const options: SeedOptions = {
  ...(size === undefined ? {} : { size }),
  ...(suppressText === undefined ? {} : { suppress: suppression(suppressText) }),
};

function report(failure: SeedResult): string {
  return formatFailure(failure, options, minimize ? minimizeFailure(failure, options) : null);
}

if (single !== undefined) {
  const result = runSeed(Number(single), options);
  console.log(result.ok ? `seed ${result.seed} clean (${result.applied} entries applied, ${result.reads} reads checked)` : report(result));
  process.exitCode = result.ok ? 0 : 1;
} else {
  const count = Number(argument('seeds') ?? '1000');
  const first = Number(argument('first') ?? '1');
  const started = performance.now();
  const { clean, failures } = runSeeds(first, count, options, (done, cleanSoFar) => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${done}/${count} seeds, ${cleanSoFar} clean, ${seconds} s`);
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  for (const failure of failures.slice(0, FAILURES_MINIMIZED_MAX)) console.log(report(failure));
  console.log(`ran ${count} seeds from ${first}: ${clean} clean, ${failures.length} failed, ${seconds} s`);
  if (failures.length > 0) console.log(`failing seeds: ${failures.slice(0, 50).map((f) => f.seed).join(', ')}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}
