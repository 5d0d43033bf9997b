/**
 * `fedctl top` in a real pseudo-terminal: `script -qfc` (util-linux) runs the built CLI on a pty
 * against a live `fedctl start` child. Proves the first screen names the node and lists at least
 * one process (a row with a pid of that node), peers and the Raft state; that `r` re-sorts by
 * message rate; that `q` ends it with exit code 0 and restores the cursor. Also proves
 * `top --once --json` (no terminal) answers one snapshot and that a bad `--interval` is a usage
 * error.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, CliHarness, type StartedNode, eventually } from '../cli/harness.js';

const harness = new CliHarness();
let a: StartedNode;

beforeAll(async () => {
  a = await harness.startNode('a');
  await eventually('a leads', async () => {
    const result = await harness.run(['--node', a.address, '--json', 'status']);
    return result.code === 0 && (JSON.parse(result.stdout) as { role: string }).role === 'leader';
  });
}, 30_000);

afterAll(async () => {
  await harness.close();
});

/** Run `fedctl top` under `script` so it gets a pty; collect what the terminal shows. */
function topInPty(args: readonly string[]): { child: ChildProcess; screen: () => string; exited: Promise<number | null> } {
  const command = [process.execPath, CLI, '--node', a.address, 'top', ...args].map((part) => `'${part}'`).join(' ');
  const child = spawn('script', ['-qfc', command, '/dev/null'], { env: { ...harness.env(), TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  child.stdout?.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, screen: () => screen, exited };
}

describe('fedctl top — in a pseudo-terminal', () => {
  it('first screen names the node and shows a process; r sorts by rate; q quits with 0', async () => {
    const top = topInPty(['--interval', '200']);
    try {
      const first = await eventually('first screen', () => (/RAFT MEMBERS/.test(top.screen()) ? top.screen() : undefined), 15_000);
      expect(first).toContain('fedctl top — a@127.0.0.1');
      expect(first).toContain('PROCESSES (by mailbox length)');
      expect(first).toMatch(/<a@127\.0\.0\.1#\d+\.\d+>/);
      expect(first).toMatch(/fedctl_admin/);
      expect(first).toMatch(/PEERS[\s\S]*fedctl-cli-/);
      expect(first).toMatch(/group g1\s+role leader/);
      top.child.stdin?.write('r');
      await eventually('sorted by rate', () => top.screen().includes('PROCESSES (by message rate)'), 10_000);
      top.child.stdin?.write('q');
      expect(await top.exited).toBe(0);
      expect(top.screen()).toContain('\x1b[?25h');
    } finally {
      if (top.child.exitCode === null) top.child.kill('SIGKILL');
      await top.exited;
    }
  });

  it('Ctrl-C quits with 0 too', async () => {
    const top = topInPty(['--interval', '200']);
    try {
      await eventually('first screen', () => top.screen().includes('fedctl top — a@127.0.0.1'), 15_000);
      top.child.stdin?.write('\x03');
      expect(await top.exited).toBe(0);
    } finally {
      if (top.child.exitCode === null) top.child.kill('SIGKILL');
      await top.exited;
    }
  });
});

describe('fedctl top — for scripts', () => {
  it('--once --json answers one snapshot of the node', async () => {
    const result = await harness.run(['--node', a.address, '--json', 'top', '--once', '--count', '5']);
    expect(result.code).toBe(0);
    const snapshot = JSON.parse(result.stdout) as { node: string; processes: { count: number; top: Array<{ pid: string }> }; group: { role: string } };
    expect(snapshot.node).toBe('a@127.0.0.1');
    expect(snapshot.processes.count).toBeGreaterThan(0);
    expect(snapshot.processes.top.length).toBeGreaterThan(0);
    expect(snapshot.processes.top.length).toBeLessThanOrEqual(5);
    expect(snapshot.group.role).toBe('leader');
  });

  it('a bad --interval is a usage error naming the flag', async () => {
    const result = await harness.run(['--node', a.address, 'top', '--interval', '5']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--interval');
  });
});
