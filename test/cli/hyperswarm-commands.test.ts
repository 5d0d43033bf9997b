// The client commands over hyperswarm, as a person types them: `fedctl --transport hyperswarm
// --dht-bootstrap … --node <public key> register|whereis|members`, with FEDCTL_* variables too,
// against three real `fedctl start` hyperswarm nodes on a testnet bound to 127.0.0.1 (destroyed
// at the end); and a client asking for hyperswarm without a bootstrap list, or with a
// host:port --node, gets a one-line usage error (exit 2).
import createTestnet from 'hyperdht/testnet.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliHarness, type StartedNode, eventually } from './harness.js';

const COOKIE = 'hyperswarm-cli-cookie-0123456789';
const harness = new CliHarness();
let testnet: Awaited<ReturnType<typeof createTestnet>>;
let bootstrap: string;
let nodes: StartedNode[] = [];

const client = (node: StartedNode, ...args: string[]) =>
  harness.run(['--transport', 'hyperswarm', '--dht-bootstrap', bootstrap, '--node', node.address, ...args], { FEDCTL_COOKIE: COOKIE });

beforeAll(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' });
  bootstrap = `${testnet.bootstrap[0]!.host}:${testnet.bootstrap[0]!.port}`;
  const flags = ['--transport', 'hyperswarm', '--discovery', 'hyperswarm', '--dht-bootstrap', bootstrap];
  const env = { env: { FEDCTL_COOKIE: COOKIE } };
  nodes = [await harness.startNode('a', [...flags, '--bootstrap'], 30_000, env)];
  nodes.push(...(await Promise.all([harness.startNode('b', flags, 30_000, env), harness.startNode('c', flags, 30_000, env)])));
  await eventually('three voters', async () => {
    const result = await client(nodes[0]!, '--json', 'members');
    return result.code === 0 && (JSON.parse(result.stdout) as Array<{ role: string }>).filter((member) => member.role === 'voter').length === 3;
  }, 60_000);
}, 120_000);

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  await harness.close();
  await testnet?.destroy();
}, 60_000);

describe('fedctl client commands over hyperswarm', () => {
  it('register on one node and whereis on another, by public key, as a table and as JSON', async () => {
    const [a, b, c] = nodes as [StartedNode, StartedNode, StartedNode];
    const registered = await client(b, 'register', 'web', '--meta', 'port=8080');
    expect(registered.code).toBe(0);
    expect(registered.stdout).toMatch(/^registered web → <b@127\.0\.0\.1#\d+\.\d+> in group g1 \(revision \d+\)/);
    const table = await client(c, 'whereis', 'web', '--consistency', 'linearizable');
    expect(table.code).toBe(0);
    expect(table.stdout.trim().split('\n')[1]).toMatch(/^web\s+<b@127\.0\.0\.1#\d+\.\d+>\s+g1\s+\d+\s+port=8080,fedctl:entry=service$/);
    // The same through the environment variables.
    const viaEnv = await harness.run(['--json', 'whereis', 'web'], { FEDCTL_COOKIE: COOKIE, FEDCTL_TRANSPORT: 'hyperswarm', FEDCTL_DHT_BOOTSTRAP: bootstrap, FEDCTL_NODE: a.address });
    expect(viaEnv.code).toBe(0);
    expect(JSON.parse(viaEnv.stdout)).toMatchObject({ name: 'web', node: 'b@127.0.0.1', group: 'g1' });
    const missing = await client(a, 'whereis', 'nothing-here', '--consistency', 'linearizable');
    expect(missing.code).toBe(3);
  }, 60_000);

  it('hyperswarm without --dht-bootstrap, or with a host:port --node, is a one-line usage error', async () => {
    const noBootstrap = await harness.run(['--transport', 'hyperswarm', '--node', nodes[0]!.address, 'members'], { FEDCTL_COOKIE: COOKIE });
    expect(noBootstrap.code).toBe(2);
    expect(noBootstrap.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^fedctl: config: --transport hyperswarm needs --dht-bootstrap host:port/)]);
    const hostPort = await harness.run(['--transport', 'hyperswarm', '--dht-bootstrap', bootstrap, 'members'], { FEDCTL_COOKIE: COOKIE });
    expect(hostPort.code).toBe(2);
    expect(hostPort.stderr.trim().split('\n')).toEqual([expect.stringContaining("--node wants a node's public key (64 hex digits, from its ready line) with --transport hyperswarm, got \"127.0.0.1:4370\"")]);
  });
});
