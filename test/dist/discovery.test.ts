/**
 * Proves discovery behind one interface: a static seed list, DNS (a name resolving to many
 * addresses, through a stub resolver) and a hyperswarm topic (on a local testnet bound to
 * 127.0.0.1) each lead a `Distribution` to its peers; the hyperswarm topic depends on the
 * cluster and the cookie, so another cookie finds nobody.
 */
import createTestnet from 'hyperdht/testnet.js';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsDiscovery, StaticDiscovery } from '../../runtime/dist/discovery.js';
import { Distribution, type DistributionOptions } from '../../runtime/dist/distribution.js';
import { HyperswarmDiscovery, HyperswarmTransport, clusterTopic } from '../../runtime/dist/hyperswarm.js';
import { parseHostPort } from '../../runtime/dist/transport.js';
import { Node } from '../../runtime/node.js';
import { waitFor } from './fixtures/helpers.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function member(name: string, options: Partial<DistributionOptions> = {}): Promise<Distribution> {
  const node = new Node({ name: `${name}@127.0.0.1`, stopTimeoutMs: 100 });
  const dist = await Distribution.start({ node, cookie: 'cookie', logger: () => undefined, tickMs: 50, heartbeatTimeoutMs: 2_000, backoffMinMs: 20, backoffMaxMs: 200, discoveryIntervalMs: 100, ...options });
  cleanups.push(async () => {
    await dist.close();
    await node.stop();
  });
  return dist;
}

describe('discovery', () => {
  it('static — seeds are returned as given', async () => {
    expect(await new StaticDiscovery(['127.0.0.1:1', '127.0.0.1:2']).discover()).toEqual(['127.0.0.1:1', '127.0.0.1:2']);
  });

  it('static — a node finds its group through a seed list', async () => {
    const a = await member('a');
    const b = await member('b', { discovery: [new StaticDiscovery([a.address])] });
    const c = await member('c', { discovery: [new StaticDiscovery([a.address])] });
    await waitFor(() => [a, b, c].every((dist) => dist.peers().length === 2), 5_000, 'mesh from seeds');
    expect(c.peers()).toEqual(['a@127.0.0.1', 'b@127.0.0.1']);
  });

  it('dns — a name resolving to many addresses gives one address per host, deduplicated', async () => {
    const asked: string[] = [];
    const discovery = new DnsDiscovery({
      hostname: 'fedctl.default.svc.cluster.local',
      port: 4370,
      resolve: async (hostname) => {
        asked.push(hostname);
        return ['10.0.0.3', '10.0.0.1', '::1', '10.0.0.1'];
      },
    });
    expect(await discovery.discover()).toEqual(['10.0.0.1:4370', '10.0.0.3:4370', '[::1]:4370']);
    expect(asked).toEqual(['fedctl.default.svc.cluster.local']);
  });

  it('dns — a failing resolver yields no addresses, not an error', async () => {
    const discovery = new DnsDiscovery({ hostname: 'x', port: 1, resolve: async () => Promise.reject(new Error('ENOTFOUND')) });
    expect(await discovery.discover()).toEqual([]);
    expect(() => new DnsDiscovery({ hostname: 'x', port: 0 })).toThrow(expect.objectContaining({ code: 'config' }));
  });

  it('dns — a node dials what the name resolves to', async () => {
    const a = await member('a');
    const { port } = parseHostPort(a.address);
    const b = await member('b', { discovery: [new DnsDiscovery({ hostname: 'group.test', port, resolve: async () => ['127.0.0.1'] })] });
    await waitFor(() => b.isConnected('a@127.0.0.1'), 5_000, 'dns-discovered peer');
  });

  it('hyperswarm — the topic depends on cluster and cookie', () => {
    expect(clusterTopic('c', 'k').equals(clusterTopic('c', 'k'))).toBe(true);
    expect(clusterTopic('c', 'k').equals(clusterTopic('c', 'other'))).toBe(false);
    expect(clusterTopic('c', 'k').equals(clusterTopic('d', 'k'))).toBe(false);
  });

  it('hyperswarm — nodes announcing on the cluster topic find each other; another cookie finds nobody', async () => {
    const testnet = await createTestnet(3, { host: '127.0.0.1' });
    cleanups.push(() => testnet.destroy());
    const swarmMember = async (name: string, cookie: string): Promise<Distribution> => {
      const transport = new HyperswarmTransport({ bootstrap: testnet.bootstrap });
      return member(name, { cookie, transport, discovery: [new HyperswarmDiscovery(transport, 'fedctl', cookie)], discoveryIntervalMs: 200 });
    };
    const a = await swarmMember('a', 'cookie');
    const b = await swarmMember('b', 'cookie');
    const c = await swarmMember('c', 'cookie');
    const stranger = await swarmMember('s', 'another cookie');
    await waitFor(() => [a, b, c].every((dist) => dist.peers().length === 2), 15_000, 'hyperswarm mesh');
    expect(stranger.peers()).toEqual([]);
    expect(a.peers()).toEqual(['b@127.0.0.1', 'c@127.0.0.1']);
  });
});
