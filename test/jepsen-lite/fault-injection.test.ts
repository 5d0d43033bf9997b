// The fault-injection hook jepsen-lite cuts links with (the admin `fault` request) is off
// unless the node was started with --fault-injection, and only a caller with the cluster's
// cookie reaches it: a real `fedctl start` node without the flag refuses the request with a
// typed error and keeps running; with the flag it accepts it (and a heal); a caller with a
// wrong cookie cannot even connect. Real child processes on 127.0.0.1.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin } from '../../cli/admin-client.js';
import { Cluster, defaultFedctlCommand } from '../../jepsen-lite/cluster.js';
import { gatewayNodeName } from '../../federation/index.js';
import { isFedError } from '../../runtime/index.js';
import { alive, fedctlForTests } from './runner-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'jepsen-lite-fault-hook-'));
const started: Cluster[] = [];

afterAll(async () => {
  await Promise.all(started.map((cluster) => cluster.stop()));
  rmSync(root, { recursive: true, force: true });
});

async function oneNode(name: string, faultInjection: boolean, groups: readonly string[] = ['hook']): Promise<{ cluster: Cluster; cookie: string }> {
  const outDir = join(root, name);
  const cookie = randomBytes(24).toString('base64url');
  const cookieFile = join(root, `${name}.cookie`);
  writeFileSync(cookieFile, `${cookie}\n`, { mode: 0o600 });
  const fedctl = defaultFedctlCommand();
  const cluster = await Cluster.start({ outDir, nodes: groups.length, cookie, cookieFile, groups, fedctlCommand: fedctlForTests() ?? fedctl.command, faultInjection, log: () => undefined }, fedctl.cwd);
  started.push(cluster);
  return { cluster, cookie };
}

let off: Cluster;
let on: Cluster;
let federated: Cluster;

beforeAll(async () => {
  [{ cluster: off }, { cluster: on }, { cluster: federated }] = await Promise.all([oneNode('off', false), oneNode('on', true), oneNode('federated', true, ['fa', 'fb'])]);
}, 90_000);

describe('fault injection — off unless started with --fault-injection', () => {
  it('fault hook — a node started without the flag refuses the request and keeps running', async () => {
    const cluster = off;
    const [node] = cluster.running() as [string];
    let error: unknown;
    try {
      await cluster.request(node, { op: 'fault', blocked: ['n9@127.0.0.1'] });
    } catch (caught) {
      error = caught;
    }
    expect(isFedError(error, 'badarg')).toBe(true);
    expect((error as Error).message).toContain('fault injection is off');
    const status = (await cluster.request(node, { op: 'status' })) as { node: string };
    expect(status.node).toBe(node);
    expect(cluster.pids()[node]?.every(alive)).toBe(true);
  });

  it('fault hook — with the flag the request is accepted, and healed with an empty list', async () => {
    const cluster = on;
    const [node] = cluster.running() as [string];
    // A member of a lone group runs no gateway: nothing to cut between groups (null, not absent).
    expect(await cluster.request(node, { op: 'fault', blocked: ['n9@127.0.0.1'] })).toEqual({ node, blocked: ['n9@127.0.0.1'], gatewayBlocked: null });
    expect(await cluster.request(node, { op: 'fault', blocked: [] })).toEqual({ node, blocked: [], gatewayBlocked: null });
  });

  it('fault hook — a caller without the cookie cannot reach it', async () => {
    const cluster = on;
    const [node] = cluster.running() as [string];
    let error: unknown;
    try {
      const client = await connectAdmin(cluster.addressOf(node), randomBytes(24).toString('base64url'), 2_000);
      await client.close();
    } catch (caught) {
      error = caught;
    }
    expect(isFedError(error)).toBe(true);
  });

  it('fault hook — a gateway member cuts its gateway\'s links to the blocked members\' gateways too', async () => {
    const cluster = federated;
    const [first, second] = cluster.running() as [string, string];
    // Each one-node group's member hosts its group's gateway once the federation has started it.
    let answer: { gatewayBlocked?: unknown } = {};
    for (let attempt = 0; attempt < 100 && !Array.isArray(answer.gatewayBlocked); attempt++) {
      answer = (await cluster.request(first, { op: 'fault', blocked: [second] })) as { gatewayBlocked?: unknown };
      if (!Array.isArray(answer.gatewayBlocked)) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answer).toEqual({ node: first, blocked: [second], gatewayBlocked: [gatewayNodeName(second)] });
    expect(await cluster.request(first, { op: 'fault', blocked: [] })).toEqual({ node: first, blocked: [], gatewayBlocked: [] });
    expect(cluster.pids()[first]?.every(alive)).toBe(true);
  });
});
