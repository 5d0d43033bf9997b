// How fresh nodes found by discovery form ONE group (cli/node-stack.ts): real node stacks in
// this process (classic-level data directories, TCP on 127.0.0.1), each with a discovery source
// that answers the addresses of nodes already started (as DNS or hyperswarm discovery would).
// It proves that with discovery and no seeds a fresh node does not bootstrap a group of its
// own: only the node started with `bootstrap: true` creates the group, and the others are
// admitted through the peers discovery connects them to — one group, one leader, three voters;
// and that fresh nodes that only find each other (no one bootstraps) stay out of any group
// rather than each creating one. Static discovery with no seeds still bootstraps by default.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Discovery } from '../../runtime/index.js';
import { type NodeStack, startNodeStack } from '../../cli/node-stack.js';
import { eventually } from './harness.js';

const COOKIE = 'discovery-bootstrap-cookie-0123456789';
const root = mkdtempSync(join(tmpdir(), 'fedctl-discovery-'));
const stacks: NodeStack[] = [];

afterEach(async () => {
  for (const stack of stacks.splice(0).reverse()) await stack.close();
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A discovery source answering whatever addresses `known` holds when asked. */
function discoveryOf(known: readonly string[]): Discovery {
  return { kind: 'test', discover: async () => [...known], close: async () => undefined };
}

async function start(name: string, known: string[], bootstrap?: boolean): Promise<NodeStack> {
  const stack = await startNodeStack({
    name: `${name}@127.0.0.1`,
    listenHost: '127.0.0.1',
    listenPort: 0,
    group: 'found',
    dataDir: join(root, name),
    cookie: COOKIE,
    seeds: [],
    discovery: 'static',
    extraDiscovery: [discoveryOf(known)],
    transport: 'tcp',
    dhtBootstrap: [],
    hidden: false,
    heartbeatTickMs: 100,
    heartbeatTimeoutMs: 1_000,
    ...(bootstrap !== undefined ? { bootstrap } : {}),
    log: () => undefined,
  });
  stacks.push(stack);
  known.push(stack.address);
  return stack;
}

describe('node stack — bootstrap with discovery', () => {
  it('only the node started with bootstrap creates the group; discovered nodes join it', async () => {
    const known: string[] = [];
    const first = await start('d1', known, true);
    await eventually('d1 leads', () => first.group.status().role === 'leader');
    const second = await start('d2', known);
    const third = await start('d3', known);
    await eventually('three voters', () => first.group.status().voters.length === 3, 20_000);
    for (const stack of [first, second, third]) {
      await eventually(`${stack.node.name} is a member`, () => stack.group.isMember());
      expect(stack.group.status().group).toBe('found');
    }
    await eventually('one leader everywhere', () => [second, third].every((stack) => stack.group.status().leader === first.group.status().leader));
    expect([...first.group.status().voters].sort()).toEqual(['d1@127.0.0.1', 'd2@127.0.0.1', 'd3@127.0.0.1']);
  });

  it('fresh nodes that only discover each other do not each bootstrap a group', async () => {
    const known: string[] = [];
    const a = await start('e1', known);
    const b = await start('e2', known);
    await eventually('they are connected', () => a.distribution.isConnected('e2@127.0.0.1') && b.distribution.isConnected('e1@127.0.0.1'));
    // Several admission rounds (every 500 ms) pass; neither is admitted, neither leads.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const stack of [a, b]) {
      expect(stack.group.isMember()).toBe(false);
      expect(stack.group.status().role).not.toBe('leader');
      expect(stack.group.status().voters).toEqual([]);
    }
  });

  it('static discovery with no seeds bootstraps by default; bootstrap: false waits', async () => {
    const lone = await startNodeStack({
      name: 'f1@127.0.0.1', listenHost: '127.0.0.1', listenPort: 0, group: 'solo', dataDir: join(root, 'f1'), cookie: COOKIE,
      seeds: [], discovery: 'static', transport: 'tcp', dhtBootstrap: [], hidden: false, log: () => undefined,
    });
    stacks.push(lone);
    await eventually('f1 leads its own group', () => lone.group.status().role === 'leader');
    const waiting = await startNodeStack({
      name: 'f2@127.0.0.1', listenHost: '127.0.0.1', listenPort: 0, group: 'solo', dataDir: join(root, 'f2'), cookie: COOKIE,
      seeds: [], discovery: 'static', transport: 'tcp', dhtBootstrap: [], hidden: false, bootstrap: false, log: () => undefined,
    });
    stacks.push(waiting);
    expect(waiting.group.isMember()).toBe(false);
  });
});
