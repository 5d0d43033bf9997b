// `fedctl demo` end to end, as a newcomer runs it: the built CLI, with a hostile environment
// (a user's FEDCTL_COOKIE, FEDCTL_LOG_LEVEL, FEDCTL_METRICS, FEDCTL_GROUP, … that must not reach
// the demo's nodes) and a --data directory that does not exist yet. It proves the demo exits 0
// and prints what it claims: two groups in one federation, names registered from both, each found
// from the other group with its home group, the leader of blue killed while it led, a new
// leader, writes committed after the failover, and a clean stop; and that it keeps the data it
// was given, refusing to reuse a directory that is not empty.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliHarness } from './harness.js';

const harness = new CliHarness();

afterAll(async () => {
  await harness.close();
});

const HOSTILE_ENV = {
  FEDCTL_COOKIE: 'a-cookie-of-the-users-own-cluster-0123',
  FEDCTL_LOG_LEVEL: 'bogus',
  FEDCTL_LOG_FORMAT: 'xml',
  FEDCTL_METRICS: 'not-an-address',
  FEDCTL_GROUP: 'someone-elses-group',
  FEDCTL_SEEDS: '127.0.0.1:1',
  FEDCTL_FEDERATION_SEEDS: '127.0.0.1:1',
  FEDCTL_SINGLETONS: 'x,y',
  FEDCTL_TRANSPORT: 'hyperswarm',
};

describe('fedctl demo', () => {
  it('runs a federation of two groups, shows cross-group lookups and a leader failover, and stops cleanly', async () => {
    const data = join(harness.root, 'not', 'yet', 'there');
    const result = await harness.run(['demo', '--data', data], HOSTILE_ENV, 240_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/^fedctl demo — a federation of two groups of three nodes, all on 127\.0\.0\.1\.$/m);
    // Both groups, from the directory.
    expect(out).toMatch(/^\s+GROUP\s+ROOT\s+STATE\s+SLOTS\s+LEADER\s+VOTERS\s+LEARNERS\s+NAMES\s+GATEWAYS$/m);
    expect(out).toMatch(/^\s+blue\s+yes\s+active\s+4096\s+blue\d@127\.0\.0\.1\s+blue1@127\.0\.0\.1,blue2@127\.0\.0\.1,blue3@127\.0\.0\.1\s+/m);
    expect(out).toMatch(/^\s+green\s+active\s+0\s+green\d@127\.0\.0\.1\s+green1@127\.0\.0\.1,green2@127\.0\.0\.1,green3@127\.0\.0\.1\s+/m);
    expect(out).toContain('moved 2048 slots: blue owns 2048, green owns 2048.');
    // Names from both groups, homed in both groups.
    expect(out).toMatch(/^\s+web\s+registered from blue2\s+→ held by <blue2@127\.0\.0\.1#\d+\.\d+>, home group (blue|green)$/m);
    expect(out).toMatch(/^\s+db\s+registered from green3\s+→ held by <green3@127\.0\.0\.1#\d+\.\d+>, home group (blue|green)$/m);
    expect(out).toMatch(/home group blue$/m);
    expect(out).toMatch(/home group green$/m);
    // Cross-group lookups: a name held in blue found from green, and the other way round.
    expect(out).toMatch(/^\s+NAME\s+ASKED FROM\s+PID\s+HELD IN\s+HOME GROUP$/m);
    expect(out).toMatch(/^\s+web\s+green1 \(green\)\s+<blue2@127\.0\.0\.1#\d+\.\d+>\s+blue\s+(blue|green)$/m);
    expect(out).toMatch(/^\s+db\s+blue3 \(blue\)\s+<green3@127\.0\.0\.1#\d+\.\d+>\s+green\s+(blue|green)$/m);
    expect(out).toContain('Names homed in blue and green were found from the other group through the gateways.');
    // The leader killed while it led, a new one elected.
    const killed = /^\s+(blue\d) led blue at term (\d+) when it was killed\.$/m.exec(out);
    expect(killed).not.toBeNull();
    const elected = /^\s+(blue\d)@127\.0\.0\.1 leads blue now \(term (\d+), \d+ ms after the kill\)\.$/m.exec(out);
    expect(elected).not.toBeNull();
    expect(elected![1]).not.toBe(killed![1]);
    expect(Number(elected![2])).toBeGreaterThan(Number(killed![2]));
    // Writes after the failover, in blue (the group that lost its leader), read from green.
    expect(out).toMatch(/^\s+registered \S+ from blue\d: home group blue, revision \d+ \(committed by blue's new leader\)$/m);
    expect(out).toMatch(/^\s+green2 finds \S+: <blue\d@127\.0\.0\.1#\d+\.\d+> \(home group blue\)\.$/m);
    expect(out).toMatch(/^\s+web \(home group (blue|green)\) is still where it was: <blue2@127\.0\.0\.1#\d+\.\d+>\.$/m);
    expect(out).toMatch(/^8\. Stopping every node …$/m);
    expect(out).toMatch(/^\s+done\. Next: /m);
    // --data was created and kept: six node directories and the cookie.
    expect(readdirSync(data).sort()).toEqual(['blue1', 'blue2', 'blue3', 'cookie', 'green1', 'green2', 'green3']);
    expect(existsSync(join(data, 'blue1'))).toBe(true);
    const again = await harness.run(['demo', '--data', data]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is not empty');
  }, 300_000);
});
