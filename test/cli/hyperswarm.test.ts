// fedctl over hyperswarm, end to end: a hyperdht testnet bound to 127.0.0.1 is created in this
// process (and destroyed at the end), and the built CLI runs real `fedctl start --transport
// hyperswarm --discovery hyperswarm --dht-bootstrap …` nodes as child processes. It proves that
// three nodes found on the cluster topic form ONE group (one started with --bootstrap, the others
// admitted by the peers discovery finds), that the admin path over hyperswarm (the hidden
// client of `cli/admin-client.ts`, dialling a node's public key on the DHT) registers and finds
// names, that a node keeps its address (public key) across a restart because its key seed lives
// in its data directory with mode 0600, and that every way to ask for hyperswarm without an
// explicit, well-formed DHT bootstrap list is refused as a one-line usage error (exit 2), before
// anything runs.
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import createTestnet from 'hyperdht/testnet.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminClient, connectAdmin } from '../../cli/admin-client.js';
import type { MemberInfo, NameInfo } from '../../cli/admin-protocol.js';
import { DHT_SEED_FILE, resolveNodeTarget } from '../../cli/config.js';
import { CliHarness, type StartedNode, eventually } from './harness.js';

type Testnet = Awaited<ReturnType<typeof createTestnet>>;

const COOKIE = 'hyperswarm-cluster-cookie-0123456789';
const PUBLIC_KEY = /^[0-9a-f]{64}$/;
const ADMIN_TIMEOUT_MS = 10_000;

const harness = new CliHarness();
let testnet: Testnet;
let dhtBootstrap: string[];
let a: StartedNode;
let b: StartedNode;
let c: StartedNode;

const hyperswarmFlags = (): string[] => ['--transport', 'hyperswarm', '--discovery', 'hyperswarm', ...dhtBootstrap.flatMap((node) => ['--dht-bootstrap', node])];
const startHyperswarmNode = (name: string, extra: readonly string[] = []) =>
  harness.startNode(name, [...hyperswarmFlags(), ...extra], 30_000, { env: { FEDCTL_COOKIE: COOKIE } });

/** One request over the hyperswarm admin path; the client (and its DHT node) is closed after it. */
async function ask<T>(node: StartedNode, request: Parameters<AdminClient['request']>[0]): Promise<T> {
  const client = await connectAdmin(node.address, COOKIE, ADMIN_TIMEOUT_MS, { link: { transport: 'hyperswarm', dhtBootstrap } });
  try {
    return (await client.request(request)) as T;
  } finally {
    await client.close();
  }
}

async function threeVotersUp(node: StartedNode): Promise<MemberInfo[] | undefined> {
  try {
    const members = await ask<MemberInfo[]>(node, { op: 'members' });
    return members.filter((member) => member.role === 'voter' && member.state === 'up').length === 3 ? members : undefined;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' });
  dhtBootstrap = testnet.bootstrap.map((node) => `${node.host}:${node.port}`);
  a = await startHyperswarmNode('a', ['--bootstrap']);
  [b, c] = await Promise.all([startHyperswarmNode('b'), startHyperswarmNode('c')]);
}, 90_000);

afterAll(async () => {
  // SIGTERM first, so each node leaves the DHT cleanly; the harness kills whatever is left.
  await Promise.all([a, b, c].filter((node) => node !== undefined).map((node) => node.stop()));
  await harness.close();
  await testnet?.destroy();
}, 60_000);

describe('fedctl over hyperswarm — a group found on the cluster topic', () => {
  it('three nodes started with --discovery hyperswarm (one with --bootstrap) form one group of three voters', async () => {
    // Each node's address is its DHT public key (its ready line); the members every node reports
    // are the same three nodes, at those addresses: one group, not three.
    for (const node of [a, b, c]) expect(node.address).toMatch(PUBLIC_KEY);
    const members = await eventually('three voters up', () => threeVotersUp(a), 60_000);
    expect(members.map((member) => [member.node, member.address]).sort()).toEqual(
      [a, b, c].map((node) => [`${node.name}@127.0.0.1`, node.address]).sort(),
    );
    for (const node of [b, c]) {
      const seen = await eventually(`three voters seen from ${node.name}`, () => threeVotersUp(node), 30_000);
      expect(seen.map((member) => member.node).sort()).toEqual(['a@127.0.0.1', 'b@127.0.0.1', 'c@127.0.0.1']);
    }
    expect(a.stderr).not.toMatch(/waiting to be admitted/);
    expect(b.stderr).toMatch(/waiting to be admitted to group g1 by a peer that discovery finds/);
  }, 90_000);

  it('register and whereis work through the hyperswarm admin path, from one node to another', async () => {
    // A hidden client on the DHT registers a service entry on b and reads it linearizably on c.
    await eventually('three voters up', () => threeVotersUp(a), 60_000);
    const registered = await ask<{ name: string; pid: string; group: string }>(b, { op: 'register', name: 'web', meta: { port: '8080' } });
    expect(registered).toMatchObject({ name: 'web', group: 'g1' });
    expect(registered.pid).toMatch(/^<b@127\.0\.0\.1#\d+\.\d+>$/);
    const found = await ask<NameInfo>(c, { op: 'whereis', name: 'web', consistency: 'linearizable' });
    expect(found).toMatchObject({ name: 'web', pid: registered.pid, node: 'b@127.0.0.1', group: 'g1', meta: { port: '8080' } });
    await expect(ask(a, { op: 'whereis', name: 'no-such-name', consistency: 'linearizable' })).rejects.toMatchObject({ code: 'not_found' });
  }, 60_000);

  it('a restarted node keeps its address: the key seed lives in its data directory, mode 0600', async () => {
    // c is stopped and started again on the same data directory: same public key, and the group
    // sees it up again there. A seed file others can read is refused (exit 2) before anything runs.
    await eventually('three voters up', () => threeVotersUp(a), 60_000);
    const seedFile = join(c.dataDir, DHT_SEED_FILE);
    expect(statSync(seedFile).mode & 0o777).toBe(0o600);
    const address = c.address;
    expect(await c.stop()).toBe(0);
    chmodSync(seedFile, 0o644);
    const refused = await harness.run(['start', '--name', 'c@127.0.0.1', '--listen', '127.0.0.1:0', '--data', c.dataDir, '--group', 'g1', ...hyperswarmFlags()], { FEDCTL_COOKIE: COOKIE });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n').at(-1)).toMatch(/^fedctl: config: DHT key seed .*dht-seed is readable by others \(mode 644\); run chmod 600 /);
    chmodSync(seedFile, 0o600);
    const creation = (node: StartedNode): number => Number(/ready: .*, creation (\d+)/.exec(node.stderr)?.[1]);
    const before = creation(c);
    c = await startHyperswarmNode('c');
    expect(c.address).toBe(address);
    expect(creation(c)).toBeGreaterThan(before);
    // The new incarnation answers at the old address and is back in its group, with a leader.
    const status = await eventually('c back in its group', async () => {
      const value = await ask<{ node: string; role: string; leader: string | null; members: unknown[] }>(c, { op: 'status' }).catch(() => undefined);
      return value !== undefined && value.leader !== null ? value : undefined;
    }, 60_000);
    expect(status.node).toBe('c@127.0.0.1');
    expect(['follower', 'leader']).toContain(status.role);
    expect(status.members).toHaveLength(3);
    await eventually('three voters up', () => threeVotersUp(a), 60_000);
  }, 120_000);
});

describe('fedctl over hyperswarm — refusals', () => {
  function usageLine(result: { code: number; stderr: string }): string {
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    return lines[0] as string;
  }
  const start = (args: readonly string[], env: Record<string, string> = {}) =>
    harness.run(['start', '--name', 'r@127.0.0.1', '--listen', '127.0.0.1:0', '--data', join(harness.root, 'data', 'refused'), ...args], { FEDCTL_COOKIE: COOKIE, ...env });

  it('hyperswarm transport or discovery without --dht-bootstrap is a one-line usage error (exit 2); it never uses the public DHT', async () => {
    for (const args of [['--transport', 'hyperswarm'], ['--discovery', 'hyperswarm'], ['--transport', 'hyperswarm', '--discovery', 'hyperswarm']]) {
      const which = args[0] === '--transport' ? 'transport' : 'discovery';
      expect(usageLine(await start(args))).toMatch(
        new RegExp(`^fedctl: config: --${which} hyperswarm needs --dht-bootstrap host:port \\(or FEDCTL_DHT_BOOTSTRAP\\): fedctl never uses the public DHT`),
      );
    }
    expect(usageLine(await start([], { FEDCTL_TRANSPORT: 'hyperswarm' }))).toContain('--transport hyperswarm needs --dht-bootstrap');
    expect(usageLine(await start(['--transport', 'hyperswarm'], { FEDCTL_DHT_BOOTSTRAP: '' }))).toContain('needs --dht-bootstrap');
  });

  it('a malformed bootstrap list, a seed that is no public key, and mismatched flags are refused (exit 2)', async () => {
    expect(usageLine(await start(['--transport', 'hyperswarm', '--dht-bootstrap', 'nowhere']))).toContain('--dht-bootstrap wants host:port, got "nowhere"');
    expect(usageLine(await start(['--transport', 'hyperswarm'], { FEDCTL_DHT_BOOTSTRAP: '127.0.0.1:49737,127.0.0.1:0' }))).toContain('--dht-bootstrap wants host:port, got "127.0.0.1:0"');
    expect(usageLine(await start(['--transport', 'hyperswarm', '--dht-bootstrap', '127.0.0.1:49737', '--seed', '127.0.0.1:4370']))).toContain(
      "--seed wants a node's public key (64 hex digits, from its ready line) with --transport hyperswarm",
    );
    expect(usageLine(await start(['--seed', 'ab'.repeat(32)]))).toContain('--seed wants host:port');
    expect(usageLine(await start(['--discovery', 'hyperswarm', '--dht-bootstrap', '127.0.0.1:49737']))).toContain('--discovery hyperswarm needs --transport hyperswarm');
    expect(usageLine(await start(['--transport', 'hyperswarm', '--dht-bootstrap', '127.0.0.1:49737', '--discovery', 'dns', '--dns-name', 'x']))).toContain('--discovery dns needs --transport tcp');
    expect(usageLine(await start(['--dht-bootstrap', '127.0.0.1:49737']))).toContain('--dht-bootstrap is only for hyperswarm');
  });

  it('the client side: --node in the transport\'s form, and hyperswarm only with a bootstrap list', () => {
    // What every client command resolves before it dials (cli/config.ts resolveNodeTarget).
    const key = 'ab'.repeat(32);
    expect(resolveNodeTarget({ node: '127.0.0.1:4370' }, {})).toEqual({ address: '127.0.0.1:4370', link: { transport: 'tcp' } });
    expect(resolveNodeTarget({ node: key.toUpperCase(), transport: 'hyperswarm', dhtBootstrap: ['127.0.0.1:49737'] }, {})).toEqual({
      address: key,
      link: { transport: 'hyperswarm', dhtBootstrap: ['127.0.0.1:49737'] },
    });
    expect(resolveNodeTarget({ node: key, transport: 'hyperswarm' }, { FEDCTL_DHT_BOOTSTRAP: '127.0.0.1:49737, 127.0.0.1:49738' }).link).toEqual({
      transport: 'hyperswarm',
      dhtBootstrap: ['127.0.0.1:49737', '127.0.0.1:49738'],
    });
    expect(() => resolveNodeTarget({ node: key, transport: 'hyperswarm' }, {})).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('needs --dht-bootstrap') }));
    expect(() => resolveNodeTarget({ node: '127.0.0.1:4370', transport: 'hyperswarm', dhtBootstrap: ['127.0.0.1:49737'] }, {})).toThrow(
      expect.objectContaining({ code: 'config', message: expect.stringContaining("--node wants a node's public key") }),
    );
    expect(() => resolveNodeTarget({ node: key }, {})).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('--node wants host:port') }));
    expect(() => resolveNodeTarget({ node: '127.0.0.1:4370', dhtBootstrap: ['127.0.0.1:49737'] }, {})).toThrow(expect.objectContaining({ code: 'config' }));
  });

  it('the admin client refuses hyperswarm without a bootstrap list before it opens anything', async () => {
    await expect(connectAdmin('ab'.repeat(32), COOKIE, 1_000, { link: { transport: 'hyperswarm', dhtBootstrap: [] } })).rejects.toMatchObject({ code: 'config' });
  });
});
