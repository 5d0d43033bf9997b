// Shared by the runner's real-run tests: a small jepsen-lite run in a fresh temporary directory
// (3 nodes, small rates: these are real processes on a loaded machine), the built CLI run as a
// child process, and a check that every process a run started is gone afterwards.
//
// Real runs take one "slot" at a time across every test file and fork (a lock directory in the
// system temp dir, owned by a pid; a dead owner's lock is taken over): vitest may run several
// files at once on a larger machine, and two clusters of real nodes on a small one would starve
// each other's heartbeats into flaky verdicts. On 2 cores vitest runs one file at a time anyway.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RUN_DEFAULTS, type RunOptions, UNSAFE_ENV } from '../../jepsen-lite/options.js';
import { type RunOutcome, runTest } from '../../jepsen-lite/run.js';

/** Longest a test waits for the real-run slot. */
export const REAL_RUN_WAIT_MS_MAX = 300_000;
/** A real run's own bound (start, a few to 30 s of workload, heal, settle, final reads, stop). */
export const REAL_RUN_MS_MAX = 120_000;
export const REAL_RUN_TIMEOUT_MS = REAL_RUN_WAIT_MS_MAX + REAL_RUN_MS_MAX;
const SLOT_DIR = join(tmpdir(), 'jepsen-lite-real-run.lock');
const SLOT_POLL_MS = 250;

/** The built CLI (`npm run build`; `npm test` builds first). */
export const JEPSEN_CLI = resolve('dist/jepsen-lite/main.js');
const FEDCTL_CLI = resolve('dist/cli/main.js');

/**
 * How the tests start fedctl nodes: the built CLI when it is there (a node starts in about a
 * second instead of several through tsx), else the runner's default (the sources via tsx).
 */
export function fedctlForTests(): string[] | undefined {
  return existsSync(FEDCTL_CLI) ? [process.execPath, FEDCTL_CLI] : undefined;
}

export interface SmallRun {
  readonly outcome: RunOutcome;
  readonly logs: string[];
  readonly dir: string;
  cleanup(): void;
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

function slotOwner(): number | undefined {
  try {
    const pid = Number(readFileSync(join(SLOT_DIR, 'pid'), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `work` holding the real-run slot. */
export async function withRealRunSlot<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + REAL_RUN_WAIT_MS_MAX;
  for (;;) {
    try {
      mkdirSync(SLOT_DIR);
      writeFileSync(join(SLOT_DIR, 'pid'), String(process.pid));
      break;
    } catch {
      const owner = slotOwner();
      // A lock without a pid file is being written right now; one whose owner died is stale.
      if (owner !== undefined && !alive(owner)) rmSync(SLOT_DIR, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`the real-run slot (${SLOT_DIR}) stayed busy for ${REAL_RUN_WAIT_MS_MAX} ms (owner pid ${owner})`);
      await new Promise((resolvePromise) => setTimeout(resolvePromise, SLOT_POLL_MS));
    }
  }
  try {
    return await work();
  } finally {
    if (slotOwner() === process.pid) rmSync(SLOT_DIR, { recursive: true, force: true });
  }
}

/**
 * A small real run. `expected` is the verdict the test expects: when the run gives another, its
 * directory (history, registry events, node logs, report) is kept and its path printed, so the
 * anomaly can be studied.
 */
export async function smallRun(overrides: Partial<RunOptions>, expected: 'pass' | 'fail' = 'pass'): Promise<SmallRun> {
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
    // No singleton workload in these runs (it needs fedctl start --singleton; the CI run turns it on when there).
    singletonKeys: 0,
    fedctlCommand: fedctlForTests(),
    ...overrides,
  };
  // The unsafe modes are for these tests only; the runner refuses them without this.
  if (options.unsafe !== undefined) process.env[UNSAFE_ENV] = '1';
  try {
    const outcome = await withRealRunSlot(() => runTest(options, { log: (line) => logs.push(line) }));
    const cleanup = (): void => {
      if (outcome.verdict === expected) rmSync(dir, { recursive: true, force: true });
      else process.stderr.write(`jepsen-lite test run kept (verdict ${outcome.verdict}, expected ${expected}): ${outcome.outDir}\n${outcome.results.notes.join('\n')}\n`);
    };
    return { outcome, logs, dir, cleanup };
  } finally {
    delete process.env[UNSAFE_ENV];
  }
}

export function allPids(outcome: RunOutcome): number[] {
  return Object.values(outcome.results.nodes).flatMap((node) => [...node.pids]);
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node <script> …args` to completion (by default the built jepsen-lite CLI), with the
 * environment given (on top of PATH and HOME only) and a hard time limit.
 */
export function runCli(args: readonly string[], options: { script?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const script = options.script ?? JEPSEN_CLI;
  if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build first`);
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolvePromise, reject) => {
    const child: ChildProcess = spawn(process.execPath, [script, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`node ${script} ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${stderr.slice(-2_000)}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** What every passing real run must show: each checker passed, exit 0, every process gone. */
export function passedChecks(outcome: RunOutcome): Record<string, unknown> {
  const { results } = outcome;
  return {
    notes: results.notes,
    linearizability: results.checkers.linearizability.verdict,
    lostRegistrations: results.checkers.lostRegistrations.verdict,
    acknowledgedCommits: results.checkers.acknowledgedCommits.verdict,
    healthyAfterHeal: results.checkers.recovery.healthyAfterHeal,
    registryComplete: results.registry.complete,
    verdict: outcome.verdict,
    exitCode: outcome.exitCode,
    alive: allPids(outcome).filter(alive),
  };
}

export const PASSED = {
  notes: [],
  linearizability: 'pass',
  lostRegistrations: 'pass',
  acknowledgedCommits: 'pass',
  healthyAfterHeal: true,
  registryComplete: true,
  verdict: 'pass',
  exitCode: 0,
  alive: [],
} as const;
