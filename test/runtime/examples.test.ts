// examples — the two programs the README points newcomers to run as they are: each is started
// as a child process (through tsx, as `npm run example` and `npm run example:library` do), must
// exit 0 by itself and print what it claims, so the README's examples cannot rot.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const example = (file: string) => run(process.execPath, ['--import', 'tsx', `examples/${file}`], { timeout: 60_000 });

describe('examples', () => {
  it('examples — ping-pong: processes, a trapped link exit, a supervisor restart, a GenServer, a clean stop', async () => {
    const { stdout } = await example('ping-pong.ts');
    expect(stdout).toMatch(/^1\. ping-pong: 10 hits between </m);
    expect(stdout).toMatch(/^2\. links: trapped EXIT from <.*>: worker gave up$/m);
    expect(stdout).toMatch(/^3\. supervisor: echo crashed as <.*>, restarted as <.*>, says "still answering"$/m);
    expect(stdout).toMatch(/a call to the killed server fails with code noproc/);
    expect(stdout).toMatch(/^stopped: 0 processes left$/m);
  });

  it('examples — library: a name at three consistencies, a watch resumed from a revision, a call, a fenced singleton', async () => {
    const { stdout } = await example('library.ts');
    const pids = [...stdout.matchAll(/^whereis svc:counter \((local|leader|linearizable)\): (<\S+>) revision (\d+)$/gm)];
    expect(pids.map((match) => match[1])).toEqual(['local', 'leader', 'linearizable']);
    expect(new Set(pids.map((match) => `${match[2]} ${match[3]}`)).size).toBe(1);
    expect(stdout).toMatch(/^watch: put svc:counter at revision (\d+) \(registered at \1\)$/m);
    expect(stdout).toMatch(/^call: 1, then 2$/m);
    expect(stdout).toMatch(/^singleton report: running with fencing token \d+$/m);
  });
});
