// fedctl as a person or a script uses it: the built CLI run as child processes against a group
// of three real `fedctl start` nodes. It proves every command's table and JSON output, the exit
// codes of each error path (usage, not found, refused, unreachable, wrong cookie), join/leave,
// watch, the cookie file's creation with mode 0600, refusal of another node's data directory,
// and a clean SIGTERM shutdown.
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliHarness, type StartedNode, eventually } from './harness.js';

const harness = new CliHarness();
let a: StartedNode;
let b: StartedNode;
let c: StartedNode;

beforeAll(async () => {
  a = await harness.startNode('a');
  [b, c] = await Promise.all([harness.startNode('b', ['--seed', a.address]), harness.startNode('c', ['--seed', a.address])]);
  await eventually('three voters', async () => {
    const result = await harness.run(['--node', a.address, '--json', 'members']);
    const members = result.code === 0 ? (JSON.parse(result.stdout) as Array<{ role: string }>) : [];
    return members.filter((member) => member.role === 'voter').length === 3;
  });
}, 60_000);

afterAll(async () => {
  await harness.close();
});

const on = (node: StartedNode, ...args: string[]) => harness.run(['--node', node.address, ...args]);

describe('fedctl — cookie and data directory', () => {
  it('start created the cookie file with mode 0600', () => {
    expect(statSync(harness.cookieFile).mode & 0o777).toBe(0o600);
  });

  it('a node refuses another node\'s data directory with one clear line', async () => {
    const result = await harness.run(['start', '--name', 'z@127.0.0.1', '--listen', '127.0.0.1:0', '--data', a.dataDir, '--group', 'g1']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('wrong_data_dir');
    expect(result.stderr).toContain('belongs to node a@127.0.0.1');
  });
});

describe('fedctl — register, whereis, names, unregister', () => {
  it('registers a service entry and finds it from another node, as a table and as JSON', async () => {
    const registered = await on(b, 'register', 'web', '--meta', 'port=8080', '--meta', 'zone=x');
    expect(registered.code).toBe(0);
    expect(registered.stdout).toMatch(/^registered web → <b@127\.0\.0\.1#\d+\.1> \(revision \d+\)/);

    const table = await on(c, 'whereis', 'web', '--consistency', 'linearizable');
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^NAME\s+PID\s+REVISION\s+META$/);
    expect(row).toMatch(/^web\s+<b@127\.0\.0\.1#\d+\.1>\s+\d+\s+port=8080,zone=x,entry=service$/);

    const json = await on(c, '--json', 'whereis', 'web', '--consistency', 'leader');
    expect(json.code).toBe(0);
    const info = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ name: 'web', node: 'b@127.0.0.1', meta: { port: '8080', zone: 'x', entry: 'service' }, consistency: 'leader' });
    expect(typeof info.revision).toBe('number');
  });

  it('a local read on every node converges on the registration', async () => {
    await on(a, 'register', 'local-check');
    for (const node of [a, b, c]) {
      await eventually(`local whereis on ${node.name}`, async () => (await on(node, 'whereis', 'local-check')).code === 0);
    }
  });

  it('lists names by prefix', async () => {
    await on(a, 'register', 'svc.one');
    await on(a, 'register', 'svc.two');
    const result = await on(c, '--json', 'names', 'svc.');
    expect(result.code).toBe(0);
    await eventually('both names listed', async () => {
      const names = (JSON.parse((await on(c, '--json', 'names', 'svc.')).stdout) as Array<{ name: string }>).map((entry) => entry.name);
      return names.join(',') === 'svc.one,svc.two';
    });
    const table = await on(a, 'names', 'svc.');
    expect(table.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('name taken → exit 4 and one line naming the holder', async () => {
    await on(a, 'register', 'taken');
    const result = await on(b, 'register', 'taken');
    expect(result.code).toBe(4);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/fedctl: name_taken: name is held by <a@127\.0\.0\.1#\d+\.1>/);
    const json = await on(b, '--json', 'register', 'taken');
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'name_taken' } });
  });

  it('unregister removes the name; whereis then exits 3', async () => {
    await on(a, 'register', 'temp');
    const removed = await on(b, 'unregister', 'temp');
    expect(removed.code).toBe(0);
    const lookup = await on(a, 'whereis', 'temp', '--consistency', 'linearizable');
    expect(lookup.code).toBe(3);
    expect(lookup.stderr).toContain('not_found');
    expect((await on(a, 'unregister', 'never-was')).code).toBe(3);
  });

  it('watch prints changes as they commit', async () => {
    const watching = on(c, '--json', 'watch', 'watched.', '--limit', '2');
    await new Promise((resolve) => setTimeout(resolve, 800));
    await on(a, 'register', 'watched.x');
    await on(a, 'unregister', 'watched.x');
    const result = await watching;
    expect(result.code).toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; name: string });
    expect(events.map((event) => `${event.type}:${event.name}`)).toEqual(['put:watched.x', 'delete:watched.x']);
  });
});

describe('fedctl — members, status, ring, groups, stats', () => {
  it('members: a table and JSON with roles, states and one leader', async () => {
    const json = JSON.parse((await on(a, '--json', 'members')).stdout) as Array<{ node: string; role: string; state: string; leader: boolean; address: string }>;
    expect(json.map((member) => member.node)).toEqual(['a@127.0.0.1', 'b@127.0.0.1', 'c@127.0.0.1']);
    expect(json.every((member) => member.role === 'voter' && member.state === 'up')).toBe(true);
    expect(json.filter((member) => member.leader)).toHaveLength(1);
    await eventually('every address published', async () => {
      const members = JSON.parse((await on(a, '--json', 'members')).stdout) as Array<{ address: string }>;
      return members.every((member) => /^127\.0\.0\.1:\d+$/.test(member.address));
    });
    const table = (await on(b, 'members')).stdout.trim().split('\n');
    expect(table[0]).toMatch(/^NODE\s+ADDRESS\s+ROLE\s+STATE\s+LEADER\s+LAG$/);
    expect(table).toHaveLength(4);
  });

  it('status: leader, term, commit index, and per-member lag on the leader', async () => {
    const status = JSON.parse((await on(a, '--json', 'status')).stdout) as { leader: string; term: number; commit: number; role: string; members: Array<{ node: string; lag?: number }> };
    expect(status.leader).toMatch(/@127\.0\.0\.1$/);
    expect(status.term).toBeGreaterThan(0);
    expect(status.commit).toBeGreaterThan(0);
    const leaderAddress = [a, b, c].find((node) => `${node.name}@127.0.0.1` === status.leader)!.address;
    const fromLeader = JSON.parse((await harness.run(['--node', leaderAddress, '--json', 'status'])).stdout) as { role: string; members: Array<{ lag?: number }> };
    expect(fromLeader.role).toBe('leader');
    expect(fromLeader.members.every((member) => typeof member.lag === 'number')).toBe(true);
    const table = (await on(c, 'status')).stdout;
    expect(table).toMatch(/^NODE\s+GROUP\s+ROLE\s+LEADER\s+TERM\s+COMMIT\s+APPLIED\s+NAMES/m);
  });

  it('ring: every node names the same owner for a key', async () => {
    const owners = await Promise.all([a, b, c].map(async (node) => (JSON.parse((await on(node, '--json', 'ring', 'some-key')).stdout) as { owner: string }).owner));
    expect(new Set(owners).size).toBe(1);
    expect(['a@127.0.0.1', 'b@127.0.0.1', 'c@127.0.0.1']).toContain(owners[0]);
    const members = JSON.parse((await on(a, '--json', 'ring')).stdout) as { members: Array<{ name: string }> };
    expect(members.members.map((member) => member.name).sort()).toEqual(['a@127.0.0.1', 'b@127.0.0.1', 'c@127.0.0.1']);
  });

  it('groups and stats answer', async () => {
    const groups = JSON.parse((await on(a, '--json', 'groups')).stdout) as Array<{ group: string; voters: string[] }>;
    expect(groups[0]).toMatchObject({ group: 'g1' });
    expect(groups[0]!.voters).toHaveLength(3);
    const stats = JSON.parse((await on(a, 'stats')).stdout) as { node: string; processes: number };
    expect(stats.node).toBe('a@127.0.0.1');
    expect(stats.processes).toBeGreaterThan(0);
  });
});

describe('fedctl — join and leave', () => {
  it('a node started with --no-bootstrap joins through `fedctl join` and leaves through `fedctl leave`', async () => {
    const d = await harness.startNode('d', ['--no-bootstrap']);
    const joined = await on(d, 'join', a.address);
    expect(joined.code).toBe(0);
    expect(joined.stdout).toContain('d@127.0.0.1 joined group g1');
    await eventually('d listed', async () => {
      const members = JSON.parse((await on(a, '--json', 'members')).stdout) as Array<{ node: string }>;
      return members.some((member) => member.node === 'd@127.0.0.1');
    });
    const left = await on(d, 'leave');
    expect(left.code).toBe(0);
    await eventually('d gone', async () => {
      const members = JSON.parse((await on(a, '--json', 'members')).stdout) as Array<{ node: string }>;
      return !members.some((member) => member.node === 'd@127.0.0.1');
    });
    expect(await d.stop()).toBe(0);
  });
});

describe('fedctl — errors a script can test', () => {
  it('bad flags and missing arguments exit 2', async () => {
    expect((await harness.run(['bogus'])).code).toBe(2);
    expect((await harness.run(['whereis'])).code).toBe(2);
    expect((await harness.run(['--node', a.address, 'whereis', 'x', '--consistency', 'psychic'])).code).toBe(2);
    const noNode = await harness.run(['whereis', 'x']);
    expect(noNode.code).toBe(2);
    expect(noNode.stderr).toContain('pass --node host:port or set FEDCTL_NODE');
    const badListen = await harness.run(['start', '--name', 'q@127.0.0.1', '--listen', 'nowhere']);
    expect(badListen.code).toBe(2);
    expect(badListen.stderr).toContain('--listen wants host:port');
  });

  it('FEDCTL_NODE stands in for --node', async () => {
    const result = await harness.run(['--json', 'status'], { FEDCTL_NODE: a.address });
    expect(result.code).toBe(0);
  });

  it('an unreachable node exits 5 with a hint', async () => {
    const result = await harness.run(['--node', '127.0.0.1:1', 'whereis', 'web']);
    expect(result.code).toBe(5);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('is the node running?');
  });

  it('a wrong cookie exits 5 and names the cookie as the thing to check; no stack trace', async () => {
    const result = await harness.run(['--node', a.address, '--cookie', 'definitely-the-wrong-cookie', 'whereis', 'web']);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('auth_failed');
    expect(result.stderr).toContain('cookie');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('--help lists the exit codes', async () => {
    const result = await harness.run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Exit codes:');
    expect(result.stdout).toContain('5  unreachable');
  });
});

describe('fedctl — shutdown', () => {
  it('SIGTERM stops a node cleanly with exit 0, and the others keep serving', async () => {
    expect(await c.stop()).toBe(0);
    expect(c.stderr).toContain('SIGTERM: shutting down');
    expect(c.stderr).toContain('stopped');
    const result = await on(a, 'register', 'after-c-stopped');
    expect(result.code).toBe(0);
  });
});
