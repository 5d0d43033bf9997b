// A node the nemesis starts to join its group is seeded with every member that has not left,
// down or not: with the only member killed, the join is refused (no quorum to admit it) and the
// node gives up, instead of starting with no seed and bootstrapping a group of its own under
// the same name (a split brain of the harness's making, which every checker then reported:
// seed 1402, `--nodes 3 --nemesis all`, killed a majority and paused the last member before a
// join). Real child processes on 127.0.0.1.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, defaultFedctlCommand } from '../../jepsen-lite/cluster.js';
import { fedctlForTests } from './runner-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'jepsen-lite-cluster-join-'));
let cluster: Cluster | undefined;

afterAll(async () => {
  await cluster?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('cluster — a joining node is seeded with every member that has not left', () => {
  it('cluster join — with the only member killed, the join is refused and the joiner never bootstraps', async () => {
    const cookie = randomBytes(24).toString('base64url');
    const cookieFile = join(root, 'cookie');
    writeFileSync(cookieFile, `${cookie}\n`, { mode: 0o600 });
    const fedctl = defaultFedctlCommand();
    cluster = await Cluster.start({ outDir: join(root, 'run'), nodes: 1, cookie, cookieFile, groups: ['solo'], fedctlCommand: fedctlForTests() ?? fedctl.command, log: () => undefined }, fedctl.cwd);
    const [member] = cluster.running() as [string];
    await cluster.kill([member]);
    expect(cluster.running()).toEqual([]);
    await expect(cluster.join('solo')).rejects.toThrow(/could not join the group via any seed/);
    const joiner = 'n2@127.0.0.1'; // the cluster names its nodes n1, n2, … in order
    expect(cluster.stateOf(joiner)).toBe('left');
    // Its log names the killed member's address as its seed, and it never became a group's member.
    const log = readFileSync(join(root, 'run', 'nodes', joiner.split('@')[0] as string, 'node.log'), 'utf8');
    expect(log).toContain(cluster.addressOf(member));
    expect(log).not.toMatch(/ready: listening/);
  }, 60_000);
});
