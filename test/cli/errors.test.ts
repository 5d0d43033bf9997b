// fedctl's error paths as a script sees them: the built CLI run as child processes against real
// `fedctl start` nodes. It proves each path's exit code and its one line on stderr (or, with
// --json, the error object): usage errors from the parser in fedctl's own format, the default
// node, an unreachable node, a wrong cookie, a taken name, a missing name, an `overloaded`
// group (a member whose one admitted proposal cannot commit), a compacted watch; --debug's stack
// trace; FEDCTL_JSON as a real boolean; the cookie from FEDCTL_COOKIE and from the default
// ~/.fedctl/cookie (created 0600, refused once group/world-readable), created once when several
// processes race to create it; repeated --seed and
// FEDCTL_SEEDS; the refusals of flag combinations (hyperswarm's: test/cli/hyperswarm.test.ts).
import { chmodSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin } from '../../cli/admin-client.js';
import { CLI, CliHarness, type StartedNode, eventually } from './harness.js';

const harness = new CliHarness();
let a: StartedNode;
let b: StartedNode;
let c: StartedNode;

beforeAll(async () => {
  // One client proposal in flight per member; 200 ms ticks make a leader cut off from its
  // followers keep its stuck proposal for an election timeout of seconds (the overloaded test).
  const limited = ['--proposals-in-flight-max', '1', '--tick-ms', '200'];
  a = await harness.startNode('a', limited);
  [b, c] = await Promise.all([harness.startNode('b', [...limited, '--seed', a.address]), harness.startNode('c', [...limited, '--seed', a.address])]);
  await eventually('three voters', async () => {
    const result = await harness.run(['--node', a.address, '--json', 'members']);
    return result.code === 0 && (JSON.parse(result.stdout) as Array<{ role: string }>).filter((member) => member.role === 'voter').length === 3;
  });
}, 60_000);

afterAll(async () => {
  await harness.close();
});

const on = (node: StartedNode, ...args: string[]) => harness.run(['--node', node.address, ...args]);

async function leaderOf(nodes: readonly StartedNode[]): Promise<StartedNode> {
  const { leader } = JSON.parse((await on(nodes[0] as StartedNode, '--json', 'status')).stdout) as { leader: string };
  return nodes.find((node) => `${node.name}@127.0.0.1` === leader) as StartedNode;
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0] as string;
}

describe('fedctl errors — usage', () => {
  it('bad flags, unknown commands and missing arguments exit 2 with one fedctl-format line', async () => {
    const unknown = await harness.run(['bogus']);
    expect(unknown.code).toBe(2);
    expect(oneLine(unknown.stderr)).toMatch(/^fedctl: usage: unknown command 'bogus'.* \(see fedctl --help\)$/);
    const missing = await harness.run(['whereis']);
    expect(missing.code).toBe(2);
    expect(oneLine(missing.stderr)).toMatch(/^fedctl: usage: missing required argument 'name' \(see fedctl --help\)$/);
    const badChoice = await on(a, 'whereis', 'x', '--consistency', 'psychic');
    expect(badChoice.code).toBe(2);
    expect(oneLine(badChoice.stderr)).toContain("fedctl: usage: option '--consistency <level>' argument 'psychic' is invalid");
    const badOption = await harness.run(['members', '--frobnicate']);
    expect(badOption.code).toBe(2);
    expect(oneLine(badOption.stderr)).toContain("unknown option '--frobnicate'");
    const badListen = await harness.run(['start', '--name', 'q@127.0.0.1', '--listen', 'nowhere']);
    expect(badListen.code).toBe(2);
    expect(oneLine(badListen.stderr)).toMatch(/^fedctl: config: --listen wants host:port, got "nowhere" \(see fedctl --help\)$/);
  });

  it('with --json, a usage error is the JSON error object on stderr', async () => {
    const result = await harness.run(['--json', 'whereis', 'x', '--consistency', 'psychic']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const error = JSON.parse(oneLine(result.stderr)) as { error: { code: string; message: string; hint: string } };
    expect(error.error.code).toBe('usage');
    expect(error.error.message).toContain('psychic');
    expect(error.error.hint).toBe('see fedctl --help');
    const viaEnv = await harness.run(['bogus'], { FEDCTL_JSON: '1' });
    expect(JSON.parse(oneLine(viaEnv.stderr))).toMatchObject({ error: { code: 'usage' } });
  });

  it('FEDCTL_JSON is a boolean: 0 and false mean tables, 1 and true mean JSON, anything else is a usage error', async () => {
    for (const off of ['0', 'false', 'no']) {
      const result = await harness.run(['--node', a.address, 'members'], { FEDCTL_JSON: off });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^NODE\s+ADDRESS/);
    }
    for (const on_ of ['1', 'true']) {
      const result = await harness.run(['--node', a.address, 'members'], { FEDCTL_JSON: on_ });
      expect(result.code).toBe(0);
      expect(Array.isArray(JSON.parse(result.stdout))).toBe(true);
    }
    const bad = await harness.run(['--node', a.address, 'members'], { FEDCTL_JSON: 'maybe' });
    expect(bad.code).toBe(2);
    expect(oneLine(bad.stderr)).toContain('FEDCTL_JSON wants 1 or 0');
  });

  it('flag combinations that cannot work are refused before anything starts', async () => {
    const bootstrapAndSeed = await harness.run(['start', '--name', 'r1@127.0.0.1', '--listen', '127.0.0.1:0', '--data', join(harness.root, 'data', 'r1'), '--bootstrap', '--seed', a.address]);
    expect(bootstrapAndSeed.code).toBe(2);
    expect(oneLine(bootstrapAndSeed.stderr)).toContain('--bootstrap and --seed exclude each other');
    const rootAndSeed = await harness.run(['start', '--name', 'r2@127.0.0.1', '--listen', '127.0.0.1:0', '--data', join(harness.root, 'data', 'r2'), '--federation-root', '--federation-seed', '127.0.0.1:9']);
    expect(rootAndSeed.code).toBe(2);
    expect(oneLine(rootAndSeed.stderr)).toContain('--federation-root and --federation-seed exclude each other');
    const gatewayListen = await harness.run(['start', '--name', 'r3@127.0.0.1', '--listen', '127.0.0.1:0', '--data', join(harness.root, 'data', 'r3'), '--gateway-listen', '127.0.0.1:0']);
    expect(gatewayListen.code).toBe(2);
    expect(oneLine(gatewayListen.stderr)).toContain('--gateway-listen needs --federation-root or --federation-seed');
  });
});

describe('fedctl errors — reaching a node', () => {
  it('without --node or FEDCTL_NODE the local node 127.0.0.1:4370 is asked (join included)', async () => {
    for (const args of [['whereis', 'x'], ['join', a.address]]) {
      const result = await harness.run(args, { FEDCTL_COOKIE: 'a-cookie-nobody-uses-0123456789' });
      expect(result.code).toBe(5);
      expect(oneLine(result.stderr)).toContain('127.0.0.1:4370');
    }
  });

  it('FEDCTL_NODE stands in for --node', async () => {
    const result = await harness.run(['--json', 'status'], { FEDCTL_NODE: a.address });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ node: 'a@127.0.0.1' });
  });

  it('an unreachable node exits 5 with a hint; with --json, the error object', async () => {
    const result = await harness.run(['--node', '127.0.0.1:1', 'whereis', 'web']);
    expect(result.code).toBe(5);
    expect(oneLine(result.stderr)).toContain('is the node running?');
    const asJson = await harness.run(['--json', '--node', '127.0.0.1:1', 'whereis', 'web']);
    expect(asJson.code).toBe(5);
    const error = JSON.parse(oneLine(asJson.stderr)) as { error: { code: string; hint: string } };
    expect(['nodedown', 'timeout']).toContain(error.error.code);
    expect(error.error.hint).toContain('--node');
  });

  it('a wrong cookie exits 5 and names the cookie as the thing to check; no stack trace; --json too', async () => {
    const result = await on(a, '--cookie', 'definitely-the-wrong-cookie', 'whereis', 'web');
    expect(result.code).toBe(5);
    const line = oneLine(result.stderr);
    expect(line).toContain('auth_failed');
    expect(line).toContain('cookie');
    const asJson = await on(a, '--json', '--cookie', 'definitely-the-wrong-cookie', 'whereis', 'web');
    expect(asJson.code).toBe(5);
    expect(JSON.parse(oneLine(asJson.stderr))).toMatchObject({ error: { code: 'auth_failed', hint: 'check --cookie / FEDCTL_COOKIE / the cookie file' } });
  });

  it('--debug prints the stack trace after the line; without it there is none', async () => {
    const plain = await harness.run(['--node', '127.0.0.1:1', 'members']);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = await harness.run(['--debug', '--node', '127.0.0.1:1', 'members']);
    expect(debug.code).toBe(5);
    const [first, ...stack] = debug.stderr.trim().split('\n');
    expect(first).toMatch(/^fedctl: (nodedown|timeout): /);
    expect(stack.some((line) => /^\s+at /.test(line))).toBe(true);
    const viaEnv = await harness.run(['--node', '127.0.0.1:1', 'members'], { FEDCTL_DEBUG: '1' });
    expect(viaEnv.stderr).toMatch(/\n\s+at /);
  });
});

describe('fedctl errors — the registry answers', () => {
  it('name taken → exit 4, one line naming the holder with a hint; JSON error', async () => {
    await on(a, 'register', 'taken');
    const result = await on(b, 'register', 'taken');
    expect(result.code).toBe(4);
    expect(oneLine(result.stderr)).toMatch(/^fedctl: name_taken: name is held by <a@127\.0\.0\.1#\d+\.\d+> \(the name is held: unregister it first/);
    const json = await on(b, '--json', 'register', 'taken');
    expect(json.code).toBe(4);
    expect(JSON.parse(oneLine(json.stderr))).toMatchObject({ error: { code: 'name_taken', hint: expect.stringContaining('unregister') } });
  });

  it('not found → exit 3 with a hint', async () => {
    const result = await on(a, 'whereis', 'no-such-name', '--consistency', 'linearizable');
    expect(result.code).toBe(3);
    expect(oneLine(result.stderr)).toMatch(/^fedctl: not_found: no name "no-such-name" \(list what exists with fedctl names/);
    expect((await on(a, 'unregister', 'never-was')).code).toBe(3);
  });

  it('overloaded → exit 4: a member whose one admitted proposal cannot commit refuses the next one', async () => {
    // The leader admits one client proposal at a time (--proposals-in-flight-max 1). With its two
    // followers stopped, the proposal it admits cannot commit; until check-quorum steps it down
    // (an election timeout: 2 s and more at 200 ms ticks) a register is refused with
    // `overloaded` on every retry, and the CLI's retries end within its --timeout.
    const leader = await leaderOf([a, b, c]);
    const others = [a, b, c].filter((node) => node !== leader);
    const cookie = readFileSync(harness.cookieFile, 'utf8').trim();
    const admin = await connectAdmin(leader.address, cookie, 10_000);
    try {
      for (const node of others) node.child.kill('SIGSTOP');
      const stuck = admin.requestOnce({ op: 'register', name: 'stuck', meta: {} }, 10_000).then(
        () => 'committed',
        (error: { code?: string }) => error.code,
      );
      await eventually('one proposal in flight on the leader', async () => {
        const stats = (await admin.requestOnce({ op: 'stats' })) as { admission: { proposalsInFlight: number } };
        return stats.admission.proposalsInFlight === 1;
      }, 5_000);
      const refused = await on(leader, '--timeout', '700', 'register', 'refused-by-admission');
      expect(refused.code).toBe(4);
      expect(oneLine(refused.stderr)).toMatch(/^fedctl: overloaded: group g1 member \S+ is overloaded \(1 proposals in flight\) \(the group is refusing work for now/);
      for (const node of others) node.child.kill('SIGCONT');
      expect(['committed', 'timeout', 'not_leader', 'unavailable']).toContain(await stuck);
    } finally {
      for (const node of others) node.child.kill('SIGCONT');
      await admin.close();
    }
    await eventually('the group serves again', async () => (await on(a, 'register', 'after-overload')).code === 0, 20_000);
  });
});

describe('fedctl errors — watch', () => {
  it('a watch resumed from a compacted revision exits 3 with code compacted', async () => {
    const args = ['--snapshot-every-entries', '5'];
    let lone = await harness.startNode('lone', args, 20_000, { group: 'gc' });
    await eventually('lone leads', async () => (JSON.parse((await on(lone, '--json', 'status')).stdout) as { role?: string }).role === 'leader');
    for (let index = 0; index < 12; index++) expect((await on(lone, 'register', `w${index}`)).code).toBe(0);
    expect(await lone.stop()).toBe(0);
    lone = await harness.startNode('lone', args, 20_000, { group: 'gc' });
    const result = await on(lone, 'watch', '--after-revision', '1', '--limit', '1');
    expect(result.code).toBe(3);
    expect(oneLine(result.stderr)).toMatch(/^fedctl: compacted: the node no longer keeps the changes after revision 1 \(re-read with fedctl names, then watch again from now\)$/);
    const asJson = await on(lone, '--json', 'watch', '--after-revision', '1', '--limit', '1');
    expect(JSON.parse(oneLine(asJson.stderr))).toMatchObject({ error: { code: 'compacted' } });
    expect(await lone.stop()).toBe(0);
  });
});

describe('fedctl errors — cookies', () => {
  it('FEDCTL_COOKIE stands in for the cookie file', async () => {
    const cookie = readFileSync(harness.cookieFile, 'utf8').trim();
    const result = await harness.run(['--node', a.address, '--json', 'members'], { FEDCTL_COOKIE: cookie, FEDCTL_COOKIE_FILE: join(harness.root, 'missing-cookie') });
    expect(result.code).toBe(0);
    const missing = await harness.run(['--node', a.address, 'members'], { FEDCTL_COOKIE_FILE: join(harness.root, 'missing-cookie') });
    expect(missing.code).toBe(2);
    expect(oneLine(missing.stderr)).toContain('does not exist');
  });

  it('the default ~/.fedctl/cookie is created with mode 0600, and refused once group- or world-readable', async () => {
    const home = join(harness.root, 'home');
    const env = { HOME: home, FEDCTL_COOKIE_FILE: '' };
    const node = await harness.startNode('cookie-node', [], 20_000, { group: 'gk', env });
    const file = join(home, '.fedctl', 'cookie');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, '.fedctl')).mode & 0o777).toBe(0o700);
    expect((await harness.run(['--node', node.address, 'members'], env)).code).toBe(0);
    for (const mode of [0o640, 0o604]) {
      chmodSync(file, mode);
      const refused = await harness.run(['--node', node.address, 'members'], env);
      expect(refused.code).toBe(2);
      expect(oneLine(refused.stderr)).toContain(`cookie file ${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 ${file}`);
    }
    chmodSync(file, 0o600);
    expect(await node.stop()).toBe(0);
  });
});

describe('fedctl errors — cookie file race', () => {
  it('processes creating the same cookie file at once all read one complete cookie', async () => {
    const file = join(harness.root, 'race', 'cookie');
    const script = `import { resolveCookie } from ${JSON.stringify(pathToFileURL(join(CLI, '..', 'config.js')).href)};` +
      `process.stdout.write(resolveCookie({ cookieFile: ${JSON.stringify(file)}, create: true }));`;
    const results = await Promise.all(Array.from({ length: 6 }, () => harness.runCommand(process.execPath, ['--input-type=module', '-e', script])));
    for (const result of results) expect(result).toMatchObject({ code: 0, stderr: '' });
    const cookies = new Set(results.map((result) => result.stdout));
    expect(cookies.size).toBe(1);
    expect(readFileSync(file, 'utf8').trim()).toBe([...cookies][0]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(harness.root, 'race'))).toEqual(['cookie']);
  });
});

describe('fedctl errors — seeds', () => {
  it('repeated --seed: an unreachable seed is skipped, the next one joins; FEDCTL_SEEDS works the same', async () => {
    // The seeds that answer are the leader's address: a join sent to a follower is forwarded to
    // the leader, which drops it (registry/group.ts, #onGroupMessage: message.node !== from).
    const leader = await leaderOf([a, b, c]);
    const d = await harness.startNode('d', ['--seed', '127.0.0.1:1', '--seed', leader.address]);
    expect(d.stderr).toContain('could not join via 127.0.0.1:1');
    const e = await harness.startNode('e', [], 20_000, { env: { FEDCTL_SEEDS: `127.0.0.1:1, ${leader.address}` } });
    await eventually('d and e are members', async () => {
      const members = JSON.parse((await on(a, '--json', 'members')).stdout) as Array<{ node: string }>;
      return ['d@127.0.0.1', 'e@127.0.0.1'].every((name) => members.some((member) => member.node === name));
    }, 20_000);
    expect(await d.stop()).toBe(0);
    expect(await e.stop()).toBe(0);
  });
});
