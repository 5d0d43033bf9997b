// Federation state is durable with the group's Raft log on disk (classic-level): a root-group
// member restarted from its data (new incarnation, new ports) rebuilds the global names and
// the directory from its log and answers cross-group requests; names registered before the
// restart are still found from the other group; and the directory ends up listing only live
// gateway addresses of the root group (a restarted gateway republishes its new address, or
// is replaced).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution, Node } from '../../runtime/index.js';
import { Group } from '../../registry/index.js';
import { Federation, federationMachines } from '../../federation/index.js';
import { eventually, idleProcess } from './fixtures/cluster.js';

const COOKIE = 'federation-restart-cookie-0123456789';
const quiet = (): void => undefined;

interface Member {
  node: Node;
  distribution: Distribution;
  group: Group;
  federation: Federation;
}

const open: Member[] = [];
let directory = '';

afterEach(async () => {
  for (const member of open.splice(0).reverse()) await closeMember(member);
  if (directory !== '') rmSync(directory, { recursive: true, force: true });
  directory = '';
});

async function closeMember(member: Member): Promise<void> {
  const index = open.indexOf(member);
  if (index >= 0) open.splice(index, 1);
  await member.federation.close();
  await member.group.close();
  await member.distribution.close();
  await member.node.stop();
}

async function startMember(name: string, groupId: string, options: { bootstrap: boolean; root: boolean; seeds?: string[]; creation?: number }): Promise<Member> {
  const node = new Node({ name: `${name}@127.0.0.1`, creation: options.creation ?? 1 });
  await node.start();
  const distribution = await Distribution.start({ node, cookie: COOKIE, tickMs: 100, heartbeatTimeoutMs: 1_000, logger: quiet });
  const machines = federationMachines();
  const group = await Group.open({
    node,
    distribution,
    group: groupId,
    address: distribution.address,
    bootstrap: options.bootstrap,
    raftPath: join(directory, name),
    tickMs: 20,
    requestTimeoutMs: 2_000,
    extensions: machines.extensions,
  });
  const federation = await Federation.attach({
    node,
    distribution,
    group,
    machines,
    cookie: COOKIE,
    createRoot: options.root,
    seeds: options.seeds ?? [],
    gatewayTickMs: 150,
    gatewayHeartbeatTimeoutMs: 1_200,
    maintenanceIntervalMs: 50,
    directoryPollMs: 100,
    requestTimeoutMs: 3_000,
    hopTimeoutMs: 1_000,
    gatewayLogger: quiet,
  });
  const member = { node, distribution, group, federation };
  open.push(member);
  return member;
}

describe('federation — durable state', () => {
  it('a root member restarted from disk rebuilds names and directory and serves cross-group requests', async () => {
    directory = mkdtempSync(join(tmpdir(), 'fed-restart-'));
    const a1 = await startMember('a1', 'ga', { bootstrap: true, root: true });
    await eventually('a1 leads', () => a1.group.status().role === 'leader');
    const a2 = await startMember('a2', 'ga', { bootstrap: false, root: true });
    await a2.group.join(a1.distribution.address);
    const a3 = await startMember('a3', 'ga', { bootstrap: false, root: true });
    await a3.group.join(a1.distribution.address);
    await eventually('root ready', () => [a1, a2, a3].every((member) => member.federation.status().ownedSlots === 4_096 && member.federation.status().gateways.length === 2));
    const seeds = [a1, a2].map((member) => member.federation.status().gateway?.address).filter((address): address is string => address !== undefined);
    const b1 = await startMember('b1', 'gb', { bootstrap: true, root: false, seeds });
    await eventually('gb in the directory', async () => (await a3.federation.directory()).groups.some((record) => record.id === 'gb' && record.gateways.length > 0));
    const holder = idleProcess(b1.node);
    for (let index = 0; index < 5; index++) await b1.federation.register(`durable:${index}`, holder);

    await closeMember(a1);
    const again = await startMember('a1', 'ga', { bootstrap: false, root: true, creation: 2, seeds: [] });
    await again.distribution.connect(a2.distribution.address);
    await again.distribution.connect(a3.distribution.address);
    await eventually('replica rebuilt', () => again.federation.registeredHere('durable:').length === 5 && again.federation.status().ownedSlots === 4_096);
    const summary = await again.federation.directory();
    expect(summary.rootGroup).toBe('ga');
    expect(summary.groups.map((record) => record.id)).toEqual(['ga', 'gb']);
    for (let index = 0; index < 5; index++) {
      expect((await again.federation.whereis(`durable:${index}`, { consistency: 'linearizable' }))?.holderGroup).toBe('gb');
      expect((await b1.federation.whereis(`durable:${index}`, { consistency: 'linearizable' }))?.pid.equals(holder)).toBe(true);
    }
    await eventually('directory lists live gateways', async () => {
      const live = [again, a2, a3].map((member) => member.federation.status().gateway?.address).filter((address): address is string => address !== undefined);
      const listed = (await b1.federation.directory()).groups.find((record) => record.id === 'ga')?.gateways ?? [];
      return listed.length === 2 && listed.every((gateway) => live.includes(gateway.address));
    });
    await b1.federation.register('durable:after', holder);
    expect((await again.federation.whereis('durable:after', { consistency: 'linearizable' }))?.pid.equals(holder)).toBe(true);
  });
});
