// The `jepsen-lite` command as a user runs it: the built CLI as a child process, invoked the
// way npm installs it (through a node_modules/.bin symlink) and directly. It proves the entry
// point runs through the symlink (it used to do nothing and exit 0 — a false pass), the exit
// codes of bad options (2, one line on stderr, before anything starts) and of a run that
// cannot be carried out (3), that --unsafe is refused unless JEPSEN_LITE_UNSAFE=1, that the
// default run directory is git-ignored, and that the printed re-run command parses back into
// the same run with a fresh directory. Exit codes 0 and 1 and the progress line are proved by
// the real runs through the CLI: ci-run.test.ts (0) and runner-unsafe-early-ack.test.ts (1).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RUNS_DIR, defaultOutDir, parseRunArgs } from '../../jepsen-lite/main.js';
import { RUN_DEFAULTS, type RunOptions, UNSAFE_ENV, rerunCommand } from '../../jepsen-lite/options.js';
import { JEPSEN_CLI, runCli } from './runner-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'jepsen-lite-cli-'));
const binDir = join(root, 'node_modules', '.bin');
mkdirSync(binDir, { recursive: true });
const linked = join(binDir, 'jepsen-lite');
symlinkSync(JEPSEN_CLI, linked);

afterAll(() => rmSync(root, { recursive: true, force: true }));

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0] as string;
}

describe('jepsen-lite CLI — entry point', () => {
  it('cli — through the npm .bin symlink, `run --help` prints the usage and exits 0', async () => {
    const result = await runCli(['run', '--help'], { script: linked });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: jepsen-lite run');
    expect(result.stdout).toContain('--nemesis <list>');
    expect(result.stdout).not.toContain('--unsafe');
  });

  it('cli — through the symlink, a bad option exits 2 with one line instead of silently passing', async () => {
    const result = await runCli(['run', '--nodes', '0'], { script: linked });
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toMatch(/^jepsen-lite: error: --nodes wants an integer from 1/);
  });
});

describe('jepsen-lite CLI — exit code 2: bad options, nothing started', () => {
  const out = join(root, 'never');
  it.for<[string[], RegExp]>([
    [['run', '--nemesis', 'partition,flood', '--out', out], /--nemesis: unknown nemesis "flood"/],
    [['run', '--nodes', '3', '--nemesis', 'partition-ring', '--out', out], /partition-ring needs at least 4 nodes/],
    [['run', '--nodes', '2', '--nemesis', 'partition-bridge', '--out', out], /partition-bridge needs at least 3 nodes/],
    [['run', '--nemesis', 'partition-group', '--out', out], /--nemesis partition-group .* needs federation/],
    [['run', '--nodes', '3', '--groups', '4', '--out', out], /--nodes 3 cannot make 4 groups/],
    [['run', '--rate', 'fast', '--out', out], /--rate wants a number/],
    [['run', '--singletons', '-1', '--out', out], /--singletons wants an integer/],
    [['run', '--unsafe', 'early-ack', '--out', out], new RegExp(`set ${UNSAFE_ENV}=1`)],
  ])('cli — %j exits 2 with one line', async ([args, message], { expect }) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it('cli — an unknown flag exits 2', async ({ expect }) => {
    const result = await runCli(['run', '--nodez', '3']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option '--nodez'");
  });

  it('cli — a run directory that is not empty is refused with exit 2', async ({ expect }) => {
    const used = join(root, 'used');
    mkdirSync(used);
    writeFileSync(join(used, 'results.json'), '{}');
    const result = await runCli(['run', '--nemesis', 'none', '--out', used]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining('is not empty')]);
  });
});

describe('jepsen-lite CLI — exit code 3: the run cannot be carried out', () => {
  it('cli — a node that refuses to start gives exit 3 and one line naming it and its log', async () => {
    const result = await runCli(['run', '--nodes', '1', '--time', '1', '--nemesis', 'none', '--tick-ms', '0', '--no-progress', '--out', join(root, 'broken')], {
      timeoutMs: 60_000,
    });
    expect(result.code).toBe(3);
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('jepsen-lite: error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/n1@127\.0\.0\.1 exited before it was ready .*--tick-ms.*\(log: .*node\.log\)$/);
  });
});

describe('jepsen-lite CLI — run directories and re-runs', () => {
  it('cli — the default run directory is git-ignored', () => {
    const dir = defaultOutDir(7);
    expect(dir.startsWith(`${DEFAULT_RUNS_DIR}/`)).toBe(true);
    // exit status 0: ignored (throws otherwise).
    execFileSync('git', ['check-ignore', '-q', `${dir}/results.json`], { stdio: 'ignore' });
  });

  it('cli — the re-run command repeats the run, into a fresh directory each time', async () => {
    const original: RunOptions = { ...RUN_DEFAULTS, nodes: 5, timeSeconds: 12, nemesis: ['partition', 'kill'], seed: 99, outDir: '/tmp/first', tickMs: 40, progress: true };
    const command = rerunCommand(original);
    expect(command).not.toContain('--out');
    const args = command.replace(/^npx jepsen-lite /, '').split(' ');
    const parsed = await parseRunArgs(args);
    const { outDir, ...rest } = parsed;
    const { outDir: _first, ...expected } = original;
    expect(rest).toEqual(expected);
    expect(outDir.startsWith(`${DEFAULT_RUNS_DIR}/`)).toBe(true);
    expect(outDir).toContain('seed99');
  });

  it('cli — an unsafe run\'s re-run command carries the variable that unlocks --unsafe', () => {
    const command = rerunCommand({ ...RUN_DEFAULTS, seed: 1, outDir: '/tmp/x', unsafe: 'stale-reads' });
    expect(command.startsWith(`${UNSAFE_ENV}=1 npx jepsen-lite run `)).toBe(true);
    expect(command).toContain('--unsafe stale-reads');
  });
});
