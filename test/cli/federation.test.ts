// fedctl in a federation: the built CLI against two groups of real `fedctl start` nodes —
// blue (three members, --federation-root) and green (two members with --federation-seed set to
// blue's gateway addresses, and a third started with no federation flag at all). It proves that
// `groups` lists every group of the directory with its leader, members, names, slots and
// gateways; that `status` shows real gateways and the federation; `rebalance`; that register,
// whereis, unregister, send, names and watch use the global namespace across groups (a name is
// found from the other group with its home group, its holder ends when it is unregistered from
// the other group); that a member added without flags takes its federation role; and the
// federation figures of `stats --json` and of the Prometheus endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { connectAdmin } from '../../cli/admin-client.js';
import type { GroupRow, NameInfo } from '../../cli/admin-protocol.js';
import { CliHarness, type StartedNode, eventually } from './harness.js';

const harness = new CliHarness();
let blue: StartedNode[];
let green: StartedNode[];

const on = (node: StartedNode, ...args: string[]) => harness.run(['--node', node.address, ...args]);
const json = <T>(node: StartedNode, ...args: string[]) => harness.json<T>(['--node', node.address, ...args]);

interface Status {
  voters: string[];
  gateways: Array<{ member: string; node: string; address: string }>;
  federation: { root: boolean; rootGroup: string | null; ownedSlots: number; names: number; groups: number | null; gateway: { node: string; address: string } | null } | null;
}

beforeAll(async () => {
  const metrics = ['--metrics', '127.0.0.1:0'];
  const blue1 = await harness.startNode('blue1', ['--federation-root', ...metrics], 20_000, { group: 'blue' });
  blue = [blue1, ...(await Promise.all(['blue2', 'blue3'].map((name) => harness.startNode(name, ['--federation-root', '--seed', blue1.address], 20_000, { group: 'blue' }))))];
  const seeds = await eventually('blue\'s two gateways', async () => {
    const status = await json<Status>(blue1, 'status');
    return status.voters.length === 3 && status.gateways.length === 2 && status.federation?.ownedSlots === 4096 ? status.gateways.map((gateway) => gateway.address) : undefined;
  }, 30_000);
  const seedFlags = seeds.flatMap((seed) => ['--federation-seed', seed]);
  const green1 = await harness.startNode('green1', [...seedFlags, ...metrics], 20_000, { group: 'green' });
  const green2 = await harness.startNode('green2', [...seedFlags, '--seed', green1.address], 20_000, { group: 'green' });
  // No federation flag: it takes its role once its replica shows green is federated.
  const green3 = await harness.startNode('green3', ['--seed', green1.address], 20_000, { group: 'green' });
  green = [green1, green2, green3];
  await eventually('both groups in the directory, answering', async () => {
    const rows = await json<GroupRow[]>(blue1, 'groups');
    return rows.length === 2 && rows.every((row) => row.reachable && row.leader !== null && row.gateways.length === 2) && rows.find((row) => row.group === 'green')?.voters.length === 3;
  }, 40_000);
}, 150_000);

afterAll(async () => {
  await harness.close();
});

describe('fedctl federation — groups, status, rebalance', () => {
  it('groups: every group of the directory, from either group, as JSON and as a table', async () => {
    for (const node of [blue[1] as StartedNode, green[0] as StartedNode]) {
      const rows = await json<GroupRow[]>(node, 'groups');
      expect(rows.map((row) => row.group)).toEqual(['blue', 'green']);
      const [blueRow, greenRow] = rows as [GroupRow, GroupRow];
      expect(blueRow).toMatchObject({ root: true, state: 'active', reachable: true });
      expect(greenRow).toMatchObject({ root: false, state: 'active', reachable: true });
      expect([...blueRow.voters].sort()).toEqual(['blue1@127.0.0.1', 'blue2@127.0.0.1', 'blue3@127.0.0.1']);
      expect([...greenRow.voters].sort()).toEqual(['green1@127.0.0.1', 'green2@127.0.0.1', 'green3@127.0.0.1']);
      expect(blueRow.voters).toContain(blueRow.leader);
      expect(greenRow.voters).toContain(greenRow.leader);
      for (const row of rows) {
        expect(row.gateways).toHaveLength(2);
        for (const gateway of row.gateways) {
          expect(gateway.node).toMatch(new RegExp(`^${row.group}\\d-gw@127\\.0\\.0\\.1$`));
          expect(gateway.address).toMatch(/^127\.0\.0\.1:\d+$/);
        }
      }
      expect((blueRow.slots ?? 0) + (greenRow.slots ?? 0)).toBe(4096);
      expect(typeof greenRow.names).toBe('number');
    }
    const table = (await on(green[1] as StartedNode, 'groups')).stdout.trim().split('\n');
    expect(table[0]).toMatch(/^GROUP\s+ROOT\s+STATE\s+SLOTS\s+LEADER\s+VOTERS\s+LEARNERS\s+NAMES\s+GATEWAYS$/);
    expect(table[1]).toMatch(/^blue\s+yes\s+active\s+\d+\s+blue\d@127\.0\.0\.1\s+blue1@127\.0\.0\.1,blue2@127\.0\.0\.1,blue3@127\.0\.0\.1\s+\d+\s+blue\d-gw@127\.0\.0\.1,blue\d-gw@127\.0\.0\.1$/);
    expect(table[2]).toMatch(/^green\s+active\s+\d+\s+green\d@127\.0\.0\.1\s+green1@/);
  });

  it('status: real gateways of the member\'s group and its federation figures (JSON and table)', async () => {
    // The member's own replica of the federation directory may still be catching up (`groups`
    // above asks the directory through the federation; `status` reads the local replica).
    const status = await eventually('green1 knows the federation', async () => {
      const value = await json<Status>(green[0] as StartedNode, 'status');
      return value.federation?.groups === 2 ? value : undefined;
    });
    expect(status.gateways).toHaveLength(2);
    for (const gateway of status.gateways) {
      expect(gateway.member).toMatch(/^green\d@127\.0\.0\.1$/);
      expect(gateway.node).toBe(gateway.member.replace('@', '-gw@'));
      expect(gateway.address).toMatch(/^127\.0\.0\.1:\d+$/);
    }
    expect(status.federation).toMatchObject({ root: false, rootGroup: 'blue', groups: 2 });
    const root = await json<Status>(blue[0] as StartedNode, 'status');
    expect(root.federation).toMatchObject({ root: true, rootGroup: 'blue' });
    const gatewayMembers = root.gateways.map((gateway) => gateway.member);
    const asGateway = await json<Status>(blue.find((node) => gatewayMembers.includes(`${node.name}@127.0.0.1`)) as StartedNode, 'status');
    expect(root.gateways.map((gateway) => gateway.address)).toContain(asGateway.federation?.gateway?.address);
    const table = (await on(green[0] as StartedNode, 'status')).stdout;
    expect(table).toMatch(/^federation: root group blue, 2 groups; this group owns \d+ slots and \d+ global names/m);
    expect(table).toMatch(/^GATEWAY\s+MEMBER\s+ADDRESS$/m);
  });

  it('a member started without federation flags takes its role in its federated group', async () => {
    const status = await eventually('green3 federated', async () => {
      const value = await json<Status>(green[2] as StartedNode, 'status');
      return value.federation !== null ? value : undefined;
    });
    expect(status.federation).toMatchObject({ root: false });
    expect((green[2] as StartedNode).stderr).toContain('group green is federated: taking this member\'s federation role');
  });

  it('rebalance: spreads the slots over both groups (on the root group; refused elsewhere)', async () => {
    const refused = await on(green[0] as StartedNode, 'rebalance');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('slot moves run on a member of the root group');
    const moved = await json<{ moved: number; slots: Record<string, number> }>(blue[0] as StartedNode, 'rebalance');
    expect(moved.moved).toBe(2048);
    expect(moved.slots).toEqual({ blue: 2048, green: 2048 });
    const again = await on(blue[1] as StartedNode, 'rebalance');
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe('moved 0 slots; now blue 2048, green 2048');
    await eventually('green owns its slots', async () => (await json<Status>(green[1] as StartedNode, 'status')).federation?.ownedSlots === 2048);
  });
});

describe('fedctl federation — the global namespace across groups', () => {
  it('a name registered from one group is found from the other with its home group (JSON and table)', async () => {
    for (const [name, from, asker] of [
      ['web', green[1], blue[2]],
      ['db', blue[1], green[0]],
      ['cache', green[2], blue[0]],
    ] as Array<[string, StartedNode, StartedNode]>) {
      const registered = await json<{ name: string; pid: string; revision: number; group: string }>(from, 'register', name, '--meta', 'tier=1');
      expect(['blue', 'green']).toContain(registered.group);
      const found = await json<NameInfo & { holderGroup: string; consistency: string }>(asker, 'whereis', name, '--consistency', 'linearizable');
      expect(found).toMatchObject({ name, pid: registered.pid, group: registered.group, holderGroup: from.name.replace(/\d$/, ''), revision: registered.revision, consistency: 'linearizable' });
      expect(found.meta).toEqual({ tier: '1', 'fedctl:entry': 'service' });
      const leader = await json<{ consistency: string }>(asker, 'whereis', name, '--consistency', 'leader');
      expect(leader.consistency).toBe('linearizable');
      const local = await eventually(`${name} local on ${asker.name}`, async () => {
        const result = await on(asker, '--json', 'whereis', name);
        return result.code === 0 ? (JSON.parse(result.stdout) as { consistency: string; pid: string }) : undefined;
      });
      expect(local).toMatchObject({ consistency: 'local', pid: registered.pid });
      const row = (await on(asker, 'whereis', name, '--consistency', 'linearizable')).stdout.trim().split('\n')[1];
      expect(row).toMatch(new RegExp(`^${name}\\s+<${from.name}@127\\.0\\.0\\.1#\\d+\\.\\d+>\\s+${registered.group}\\s+${registered.revision}\\s+tier=1,fedctl:entry=service$`));
    }
    const homes = new Set(await Promise.all(['web', 'db', 'cache'].map(async (name) => (await json<NameInfo>(blue[0] as StartedNode, 'whereis', name, '--consistency', 'linearizable')).group)));
    expect([...homes].sort()).toEqual(['blue', 'green']);
  });

  it('a taken name is refused whatever group asks (exit 4)', async () => {
    await json(blue[0] as StartedNode, 'register', 'shared');
    const result = await on(green[0] as StartedNode, 'register', 'shared');
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^fedctl: name_taken: shared is held by <blue1@127\.0\.0\.1#/);
  });

  it('names: the names homed in the node\'s group; --all: in every group', async () => {
    for (const name of ['list.a', 'list.b', 'list.c', 'list.d', 'list.e', 'list.f']) await json(green[0] as StartedNode, 'register', name);
    const all = await json<NameInfo[]>(blue[1] as StartedNode, 'names', 'list.', '--all');
    expect(all.map((info) => info.name)).toEqual(['list.a', 'list.b', 'list.c', 'list.d', 'list.e', 'list.f']);
    const blueShare = await json<NameInfo[]>(blue[1] as StartedNode, 'names', 'list.');
    const greenShare = await eventually('green\'s share on green2', async () => {
      const share = await json<NameInfo[]>(green[1] as StartedNode, 'names', 'list.');
      return share.length + blueShare.length === 6 ? share : undefined;
    });
    expect(blueShare.every((info) => info.group === 'blue')).toBe(true);
    expect(greenShare.every((info) => info.group === 'green')).toBe(true);
    expect([...blueShare, ...greenShare].map((info) => info.name).sort()).toEqual(all.map((info) => info.name));
    for (const info of all) expect(info.group).toBe((blueShare.some((entry) => entry.name === info.name) ? 'blue' : 'green'));
    const table = (await on(blue[1] as StartedNode, 'names', 'list.', '--all')).stdout.trim().split('\n');
    expect(table).toHaveLength(7);
  });

  it('names --all: a federation\'s names over the frame limit are read page by page from every group', async () => {
    // 160 names with 60 KB of metadata each (9.6 MB, over the 8 MiB frame limit), homed in both
    // groups. The single-answer names op says frame_too_large; `fedctl names --all` reads pages
    // of one listing the asked node builds from every group (the other group's share read
    // through its gateway page by page, being more than one page itself).
    const cookie = readFileSync(harness.cookieFile, 'utf8').trim();
    const admin = await connectAdmin((green[0] as StartedNode).address, cookie, 10_000);
    try {
      const { pid } = (await admin.request({ op: 'spawn_holder' })) as { pid: string };
      const count = 160;
      const blob = 'm'.repeat(60_000);
      const name = (index: number): string => `big.${String(index).padStart(3, '0')}`;
      const homes: string[] = [];
      for (let first = 0; first < count; first += 20) {
        const answers = await Promise.all(Array.from({ length: 20 }, (_, offset) => admin.request({ op: 'register', name: name(first + offset), pid, meta: { blob } })));
        for (const answer of answers) homes.push((answer as { group: string }).group);
      }
      expect(homes.filter((home) => home === 'blue').length).toBeGreaterThan(40);
      expect(homes.filter((home) => home === 'green').length).toBeGreaterThan(40);
      await expect(admin.request({ op: 'names', prefix: 'big.', all: true })).rejects.toMatchObject({ code: 'frame_too_large' });
      const listed = await json<NameInfo[]>(blue[1] as StartedNode, 'names', 'big.', '--all');
      expect(listed.map((info) => info.name)).toEqual(Array.from({ length: count }, (_, index) => name(index)));
      expect(listed.map((info) => info.group)).toEqual(homes);
      expect(listed.every((info) => info.meta.blob === blob)).toBe(true);
      await admin.request({ op: 'release_holder', pid });
      await eventually('the big names released', async () => (await json<NameInfo[]>(blue[1] as StartedNode, 'names', 'big.', '--all')).length === 0);
    } finally {
      await admin.close();
    }
  }, 90_000);

  it('unregister from the other group removes the name and ends its holder process', async () => {
    const registered = await json<{ pid: string; group: string }>(green[1] as StartedNode, 'register', 'short-lived');
    const holderAlive = async (): Promise<boolean> => {
      const snapshot = await json<{ processes: { top: Array<{ pid: string }> } }>(green[1] as StartedNode, 'top', '--once', '--count', '1000');
      return snapshot.processes.top.some((row) => row.pid === registered.pid);
    };
    expect(await holderAlive()).toBe(true);
    const removed = await json<{ name: string; revision: number; group: string }>(blue[2] as StartedNode, 'unregister', 'short-lived');
    expect(removed).toMatchObject({ name: 'short-lived', group: registered.group });
    await eventually('the holder on green2 ended', async () => !(await holderAlive()));
    expect((await on(green[0] as StartedNode, 'whereis', 'short-lived', '--consistency', 'linearizable')).code).toBe(3);
  });

  it('send: a message to a name held in the other group arrives', async () => {
    const registered = await json<{ pid: string }>(green[0] as StartedNode, 'register', 'mailbox');
    const received = async (): Promise<number> => {
      const snapshot = await json<{ processes: { top: Array<{ pid: string; messagesReceived: number }> } }>(green[0] as StartedNode, 'top', '--once', '--count', '1000');
      return snapshot.processes.top.find((row) => row.pid === registered.pid)?.messagesReceived ?? -1;
    };
    const before = await received();
    expect(await json(blue[1] as StartedNode, 'send', 'mailbox', 'across')).toEqual({ name: 'mailbox', pid: registered.pid, group: 'green' });
    await eventually('the message arrived in green', async () => (await received()) === before + 1);
  });

  it('watch: changes to the names homed in the node\'s group, as they commit', async () => {
    const home = await json<{ group: string }>(blue[0] as StartedNode, 'register', 'watch.probe');
    const homeNode = (home.group === 'blue' ? blue[2] : green[2]) as StartedNode;
    const status = await json<{ applied: number }>(homeNode, 'status');
    const watching = on(homeNode, '--json', 'watch', 'watch.', '--limit', '2', '--after-revision', String(status.applied));
    const otherSide = (home.group === 'blue' ? green[0] : blue[0]) as StartedNode;
    await json(otherSide, 'unregister', 'watch.probe');
    await json(otherSide, 'register', 'watch.probe');
    const result = await watching;
    expect(result.code).toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; name: string; group: string; reason?: string });
    expect(events.map((event) => `${event.type}:${event.name}`)).toEqual(['delete:watch.probe', 'put:watch.probe']);
    // A federated delete says why, as a group's does.
    expect(events[0]!.reason).toBe('unregister');
    expect(events.every((event) => event.group === home.group)).toBe(true);
  });
});

describe('fedctl federation — figures', () => {
  it('stats --json carries the federation block', async () => {
    const stats = await json<{ federation: Record<string, unknown>; introspection: { federation: Record<string, unknown> } }>(green[0] as StartedNode, 'stats');
    expect(stats.federation).toMatchObject({ group: 'green', root: false, rootGroup: 'blue', groups: 2, ownedSlots: 2048 });
    expect(stats.federation.gateways).toHaveLength(2);
    expect(stats.introspection.federation).toMatchObject({ group: 'green', root: false, rootGroup: 'blue', gateways: 2, groups: 2, ownedSlots: 2048 });
    expect(typeof stats.introspection.federation.cacheHitsTotal).toBe('number');
    expect(typeof stats.introspection.federation.cacheMissesTotal).toBe('number');
  });

  it('stats and /metrics count remote lookups answered from the cache: a first local whereis misses, the next hits', async () => {
    // A name homed in blue, looked up twice from green at local consistency: green's gateway
    // asks blue once and then answers from its cache (until blue's watch invalidates it).
    let name = '';
    for (let index = 0; name === ''; index++) {
      const registered = await json<{ group: string }>(blue[0] as StartedNode, 'register', `cached.${index}`);
      if (registered.group === 'blue') name = `cached.${index}`;
    }
    type Counters = { cacheHitsTotal: number; cacheMissesTotal: number };
    const counters = async (): Promise<Counters> => {
      const all = await Promise.all(green.map((node) => json<{ introspection: { federation: Counters } }>(node, 'stats')));
      return all.reduce((sum, stats) => ({
        cacheHitsTotal: sum.cacheHitsTotal + stats.introspection.federation.cacheHitsTotal,
        cacheMissesTotal: sum.cacheMissesTotal + stats.introspection.federation.cacheMissesTotal,
      }), { cacheHitsTotal: 0, cacheMissesTotal: 0 });
    };
    const before = await counters();
    const first = await json<NameInfo>(green[0] as StartedNode, 'whereis', name);
    const second = await json<NameInfo>(green[0] as StartedNode, 'whereis', name);
    expect(second.pid).toBe(first.pid);
    const after = await counters();
    expect(after.cacheMissesTotal - before.cacheMissesTotal).toBeGreaterThanOrEqual(1);
    expect(after.cacheHitsTotal - before.cacheHitsTotal).toBeGreaterThanOrEqual(1);
    const body = await (await fetch(`http://${(green[0] as StartedNode).metricsAddress()}/metrics`)).text();
    expect(body).toMatch(/^fedctl_federation_cache_lookups_total\{result="hit"\} \d+$/m);
    expect(body).toMatch(/^fedctl_federation_cache_lookups_total\{result="miss"\} \d+$/m);
  });

  it('the Prometheus endpoint exposes the federation figures', async () => {
    const text = async (node: StartedNode) => (await fetch(`http://${node.metricsAddress()}/metrics`)).text();
    const value = (body: string, name: string): number => {
      const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
      if (match === null) throw new Error(`no sample ${name}`);
      return Number(match[1]);
    };
    const root = await text(blue[0] as StartedNode);
    expect(value(root, 'fedctl_federation_member')).toBe(1);
    expect(value(root, 'fedctl_federation_is_root')).toBe(1);
    expect(value(root, 'fedctl_federation_groups')).toBe(2);
    expect(value(root, 'fedctl_federation_gateways')).toBe(2);
    expect(value(root, 'fedctl_federation_owned_slots')).toBe(2048);
    const other = await text(green[0] as StartedNode);
    expect(value(other, 'fedctl_federation_is_root')).toBe(0);
    expect(value(other, 'fedctl_federation_owned_slots')).toBe(2048);
    const names = await json<NameInfo[]>(green[0] as StartedNode, 'names');
    expect(value(other, 'fedctl_federation_names')).toBe(names.length);
    expect(['0', '1']).toContain(String(value(other, 'fedctl_federation_is_gateway')));
    expect(value(other, 'fedctl_federation_directory_revision')).toBeGreaterThan(0);
  });
});
