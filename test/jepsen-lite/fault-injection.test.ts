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
import { isFedError } from '../../runtime/index.js';
import { alive, fedctlForTests } from './runner-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'jepsen-lite-fault-hook-'));
const started: Cluster[] = [];

afterAll(async () => {
  await Promise.all(started.map((cluster) => cluster.stop()));
  rmSync(root, { recursive: true, force: true });
});

async function oneNode(name: string, faultInjection: boolean): Promise<{ cluster: Cluster; cookie: string }> {
  const outDir = join(root, name);
  const cookie = randomBytes(24).toString('base64url');
  const cookieFile = join(root, `${name}.cookie`);
  writeFileSync(cookieFile, `${cookie}\n`, { mode: 0o600 });
  const fedctl = defaultFedctlCommand();
  const cluster = await Cluster.start({ outDir, nodes: 1, cookie, cookieFile, groups: ['hook'], fedctlCommand: fedctlForTests() ?? fedctl.command, faultInjection, log: () => undefined }, fedctl.cwd);
  started.push(cluster);
  return { cluster, cookie };
}

let off: Cluster;
let on: Cluster;

beforeAll(async () => {
  [{ cluster: off }, { cluster: on }] = await Promise.all([oneNode('off', false), oneNode('on', true)]);
}, 60_000);

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
    expect(await cluster.request(node, { op: 'fault', blocked: ['n9@127.0.0.1'] })).toEqual({ node, blocked: ['n9@127.0.0.1'] });
    expect(await cluster.request(node, { op: 'fault', blocked: [] })).toEqual({ node, blocked: [] });
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
});
