// Shared by the runner's real-run tests: a small jepsen-lite run in a fresh temporary directory
// (3 nodes, small rates: these are real processes on a loaded machine), and a check that every
// process the run started is gone afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_DEFAULTS, type RunOptions } from '../../jepsen-lite/options.js';
import { type RunOutcome, runTest } from '../../jepsen-lite/run.js';

export const REAL_RUN_TIMEOUT_MS = 90_000;

export interface SmallRun {
  readonly outcome: RunOutcome;
  readonly logs: string[];
  readonly dir: string;
  cleanup(): void;
}

export async function smallRun(overrides: Partial<RunOptions>): Promise<SmallRun> {
  const dir = mkdtempSync(join(tmpdir(), 'jepsen-lite-test-'));
  const logs: string[] = [];
  const options: RunOptions = {
    ...RUN_DEFAULTS,
    nodes: 3,
    timeSeconds: 10,
    ratePerSecond: 30,
    concurrency: 9,
    clientsPerName: 3,
    opsPerName: 100,
    nemesisIntervalSeconds: 5,
    operationTimeoutMs: 1_000,
    settleSeconds: 1,
    seed: 1,
    outDir: join(dir, 'run'),
    progress: false,
    nemesis: ['none'],
    ...overrides,
  };
  const outcome = await runTest(options, { log: (line) => logs.push(line) });
  return { outcome, logs, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether a pid still names a live process. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function allPids(outcome: RunOutcome): number[] {
  return Object.values(outcome.results.nodes).flatMap((node) => [...node.pids]);
}
