/**
 * `npm run sim -- --seeds N [--first S] [--size 3|5] [--seed S]`: runs the Raft simulator over
 * many seeds, printing progress and the count run clean. A failing seed prints its reason and
 * last events; `--seed S` re-runs one seed and prints its trace (the run is exactly reproduced).
 * Exit code 1 if any seed failed.
 */
import { formatFailure, runSeed, runSeeds } from './sim/run.js';

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const single = argument('seed');
const sizeText = argument('size');
const size = sizeText === '3' ? 3 : sizeText === '5' ? 5 : undefined;
const options = size === undefined ? {} : { size: size as 3 | 5 };

if (single !== undefined) {
  const result = runSeed(Number(single), options);
  console.log(result.ok ? `seed ${result.seed} clean (${result.applied} entries applied, ${result.reads} reads checked)` : formatFailure(result));
  process.exitCode = result.ok ? 0 : 1;
} else {
  const count = Number(argument('seeds') ?? '1000');
  const first = Number(argument('first') ?? '1');
  const started = performance.now();
  const { clean, failures } = runSeeds(first, count, options, (done, cleanSoFar) => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${done}/${count} seeds, ${cleanSoFar} clean, ${seconds} s`);
  });
  for (const failure of failures.slice(0, 5)) console.log(formatFailure(failure));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`ran ${count} seeds from ${first}: ${clean} clean, ${failures.length} failed, ${seconds} s`);
  if (failures.length > 0) console.log(`failing seeds: ${failures.slice(0, 50).map((f) => f.seed).join(', ')}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}
