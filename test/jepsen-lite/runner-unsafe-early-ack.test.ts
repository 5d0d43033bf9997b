// The harness has teeth, through the CLI: nodes started with the TEST-ONLY unsafe mode
// `early-ack` (a registration acknowledged before it commits: two owners both told "ok" for one
// name, or an ok lost in a partition). `JEPSEN_LITE_UNSAFE=1 jepsen-lite run --unsafe early-ack`
// with partitions must report the anomaly: exit code 1, "FAIL" first on stdout, results.json's
// linearizability checker failing with a named non-linearizable window — and stop its processes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResults } from '../../jepsen-lite/results.js';
import { type CliResult, REAL_RUN_TIMEOUT_MS, alive, runCli, withRealRunSlot } from './runner-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'jepsen-lite-early-ack-'));
const outDir = join(root, 'run');
let cli: CliResult;
let results: RunResults;

beforeAll(async () => {
  const args = ['run', '--unsafe', 'early-ack', '--nodes', '3', '--time', '8', '--rate', '30', '--concurrency', '9', '--clients-per-name', '3', '--ops-per-name', '100'];
  args.push('--nemesis', 'partition', '--nemesis-interval', '4', '--op-timeout', '1000', '--settle', '1', '--seed', '1', '--no-progress', '--out', outDir);
  cli = await withRealRunSlot(() => runCli(args, { env: { JEPSEN_LITE_UNSAFE: '1' }, timeoutMs: 120_000 }));
  results = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as RunResults;
}, REAL_RUN_TIMEOUT_MS);

afterAll(() => {
  if (cli?.code === 1) rmSync(root, { recursive: true, force: true });
  else process.stderr.write(`jepsen-lite early-ack run kept: ${outDir}\n${cli?.stdout ?? ''}\n`);
});

describe('runner teeth — unsafe early-ack, through the CLI', () => {
  it('runner teeth — early-ack is reported as not linearizable', () => {
    const { linearizability } = results.checkers;
    expect(linearizability.verdict).toBe('fail');
    expect(linearizability.failures.length).toBeGreaterThan(0);
    expect(linearizability.failures[0]?.explanation.join('\n')).toMatch(/no valid order/);
  });

  it('runner teeth — the run exits 1, says FAIL first, and stops its processes', () => {
    expect(cli.code).toBe(1);
    expect(cli.stdout.split('\n')[0]).toMatch(/^FAIL: \d+ operations, \d+ faults, seed 1$/);
    expect(cli.stdout).toContain('re-run: JEPSEN_LITE_UNSAFE=1 npx jepsen-lite run');
    expect(Object.values(results.nodes).flatMap((node) => node.pids).filter(alive)).toEqual([]);
  });
});
