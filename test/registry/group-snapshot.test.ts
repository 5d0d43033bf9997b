// Snapshots in a running group (in-process members on real TCP; the member under test on a real
// classic-level store): a member that fell behind catches up by InstallSnapshot, its store then
// holds exactly the log its core holds (a divergent suffix of its own never comes back behind
// the snapshot at restart), and restoring the snapshot keeps the name bookkeeping: local holders
// are monitored (their names still die with them), a live process whose name went away while
// its member was cut off gets name_lost, and live watchers see every change.
import { afterEach, describe, expect, it } from 'vitest';
import type { WatchEvent } from '../../registry/names.js';
import { RaftStore, type StoredGroupSnapshot } from '../../registry/raft-store.js';
import type { Entry, HardState } from '../../registry/raft/index.js';
import { GroupCluster, type Member, eventually, heal, idleProcess, isolate } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

/** Group settings of this file: a snapshot after every applied entry, no cleanup of the cut-off member. */
const SNAPSHOT_EVERY_ENTRY = { snapshotEveryEntries: 1, nameDownGraceMs: 60_000, voterDownGraceMs: 60_000 } as const;

async function caughtUp(member: Member, leader: Member): Promise<void> {
  await eventually(`${member.name} caught up`, () => {
    const mine = member.group.status();
    const theirs = leader.group.status();
    return mine.applied === theirs.commit && mine.lastIndex === theirs.lastIndex && theirs.commit === theirs.lastIndex;
  });
}

/** Cut `victim` off, write `count` names on the majority (each entry compacted at once), heal, wait until it caught up. */
async function lagBehindAndCatchUp(victim: Member, count: number, write: (leader: Member, index: number) => Promise<unknown>): Promise<Member> {
  const before = victim.group.status().snapshotsInstalled;
  isolate(cluster, victim);
  const others = cluster.members.filter((member) => member !== victim && !member.closed);
  const leader = await eventually('a leader on the majority side', () => others.find((member) => member.group.status().role === 'leader'));
  for (let index = 0; index < count; index++) await write(leader, index);
  heal(cluster);
  await caughtUp(victim, leader);
  expect(victim.group.status().snapshotsInstalled).toBeGreaterThan(before);
  return leader;
}

describe('group snapshots — a lagging member catches up by InstallSnapshot', () => {
  it('the store keeps exactly the in-memory log: a divergent suffix does not survive a restart', async () => {
    // B2. The leader `a` is cut off and appends 50 entries nobody else has (uncommitted, of its
    // term). The majority elects a new leader, commits and compacts past them. Healed, `a`
    // installs the new leader's snapshot, whose index is below a's stale suffix: in memory the
    // core drops a's whole log; on disk the stale entries beyond the snapshot must go too, or a
    // restart brings them back behind the snapshot.
    const raftPath = cluster.dir('a-raft');
    const [a] = await cluster.three(SNAPSHOT_EVERY_ENTRY, { a: { raftPath } });
    const pid = idleProcess(a!.node);
    isolate(cluster, a!);
    const doomed = Array.from({ length: 50 }, (_, index) => a!.group.register(`doomed-${index}`, pid).then(
      () => 'acknowledged',
      () => 'failed',
    ));
    const staleLast = await eventually('a appended its stale suffix', () => (a!.group.status().lastIndex >= 50 ? a!.group.status().lastIndex : undefined));
    const others = cluster.members.filter((member) => member !== a);
    const leader = await eventually('a new leader', () => others.find((member) => member.group.status().role === 'leader'));
    for (let index = 0; index < 5; index++) await leader.group.register(`kept-${index}`, idleProcess(leader.node));
    expect(leader.group.status().lastIndex).toBeLessThan(staleLast);
    heal(cluster);
    await caughtUp(a!, leader);
    expect(a!.group.status().snapshotsInstalled).toBeGreaterThan(0);
    expect(await Promise.all(doomed)).not.toContain('acknowledged');
    const inMemory = a!.group.status();
    await cluster.stop(a!);
    const store = await RaftStore.openDisk<Entry, HardState, StoredGroupSnapshot>(raftPath, { createIfMissing: false });
    const loaded = await store.load();
    await store.close();
    const lastOnDisk = loaded.entries.length > 0 ? loaded.entries[loaded.entries.length - 1]! : undefined;
    expect(lastOnDisk?.index ?? loaded.snapshot?.index).toBe(inMemory.lastIndex);
    expect(lastOnDisk?.term ?? loaded.snapshot?.term).toBe(inMemory.lastTerm);
    // Restarted from its directory (a new incarnation), it has the group's log and none of its own stale names.
    const again = await cluster.start('a', { raftPath, creation: 2, ...SNAPSHOT_EVERY_ENTRY });
    await caughtUp(again, await cluster.leader());
    for (let index = 0; index < 50; index++) expect(again.group.whereisLocal(`doomed-${index}`)).toBeUndefined();
    for (let index = 0; index < 5; index++) expect(again.group.whereisLocal(`kept-${index}`)).toBeDefined();
  });
});

describe('group snapshots — a restored snapshot keeps the name bookkeeping', () => {
  it('a holder learned from a snapshot is monitored: its name still dies with it', async () => {
    // B3. While c is cut off, a name is registered (through the leader) for a process living on
    // c. c learns it only from the snapshot it installs. Without restore bookkeeping, nobody on
    // c monitors that process, and the name outlives it.
    const [, , c] = await cluster.three(SNAPSHOT_EVERY_ENTRY);
    const holder = idleProcess(c!.node);
    const leader = await lagBehindAndCatchUp(c!, 3, (member, index) =>
      index === 0 ? member.group.register('on-c', holder) : member.group.register(`filler-${index}`, idleProcess(member.node)),
    );
    expect(c!.group.whereisLocal('on-c')?.pid.equals(holder)).toBe(true);
    c!.node.send(holder, 'stop');
    await eventually('the name died with its process', () => leader.group.whereisLocal('on-c') === undefined);
    await eventually('… on c too', () => c!.group.whereisLocal('on-c') === undefined);
  });

  it('a live process whose name was removed while its member was cut off gets name_lost', async () => {
    // B3. A process on c holds a name; while c is cut off, the group removes c's names (as the
    // leader does for a node it declares down). c learns it only from a snapshot; its process,
    // alive all along, must be told.
    const [, , c] = await cluster.three(SNAPSHOT_EVERY_ENTRY);
    const told: unknown[] = [];
    let stopped = false;
    const holder = c!.node.spawn(async (ctx) => {
      for (;;) {
        const msg = await ctx.receive();
        if (msg === 'stop') break;
        told.push(msg);
      }
      stopped = true;
    });
    await c!.group.register('lost-on-c', holder);
    await lagBehindAndCatchUp(c!, 3, (member, index) =>
      index === 0 ? member.group.propose({ op: 'node_down', node: c!.name }) : member.group.register(`filler-${index}`, idleProcess(member.node)),
    );
    expect(c!.group.whereisLocal('lost-on-c')).toBeUndefined();
    const lost = await eventually('name_lost delivered', () => told.find((msg) => (msg as { type?: string }).type === 'name_lost'));
    expect(lost).toMatchObject({ type: 'name_lost', name: 'lost-on-c', reason: 'snapshot' });
    c!.node.send(holder, 'stop');
    await eventually('holder stopped', () => stopped);
  });

  it('a watcher on the lagging member sees the changes the snapshot brought', async () => {
    // B3. A watcher started before c was cut off must see, after c installs a snapshot, the
    // names that appeared and disappeared meanwhile — then the changes after it, in order.
    const [a, , c] = await cluster.three(SNAPSHOT_EVERY_ENTRY);
    await a!.group.register('will-go', idleProcess(a!.node));
    await eventually('c has will-go', () => c!.group.whereisLocal('will-go'));
    const controller = new AbortController();
    const seen: WatchEvent[] = [];
    const watching = (async () => {
      for await (const event of c!.group.watch('', { signal: controller.signal })) seen.push(event);
    })();
    const leader = await lagBehindAndCatchUp(c!, 3, async (member, index) => {
      if (index === 0) {
        const entry = member.group.whereisLocal('will-go')!;
        await member.group.unregister('will-go', entry.pid);
      } else await member.group.register(`came-${index}`, idleProcess(member.node));
    });
    await leader.group.register('after', idleProcess(leader.node));
    await eventually('the watcher saw the change after the snapshot', () => seen.some((event) => event.name === 'after'));
    controller.abort();
    await watching;
    const summary = seen.map((event) => `${event.type} ${event.name}`);
    expect(summary).toEqual(expect.arrayContaining(['delete will-go', 'put came-1', 'put came-2', 'put after']));
    expect(summary.indexOf('put after')).toBe(summary.length - 1);
    const restored = seen.filter((event) => event.name !== 'after');
    const restoreRevision = restored[0]!.revision;
    expect(restored.every((event) => event.revision === restoreRevision)).toBe(true);
    expect(seen[seen.length - 1]!.revision).toBeGreaterThan(restoreRevision);
  });
});

describe('group snapshots — the default interval grows with the registry', () => {
  it('spaces snapshots by the names the last one held, not every 10,000 entries', async () => {
    // Proves the adaptive interval: a member with the default setting snapshots once 10,000
    // entries applied (the floor, the registry being empty before), then again once as many
    // entries as that snapshot held names (about 10,000 more), then only once about 20,000 more
    // applied — so after 31,000 registrations its newest snapshot is the one near index 20,000,
    // where a fixed 10,000 would have taken one at 30,000. The replica keeps every name.
    const solo = await cluster.start('solo', { bootstrap: true, proposalsInFlightMax: 4_096 });
    await eventually('solo leads', () => solo.group.status().role === 'leader');
    const pid = idleProcess(solo.node);
    const total = 31_000;
    const burst = 2_000;
    const snapshotIndexes = new Set<number>();
    for (let start = 0; start < total; start += burst) {
      const count = Math.min(burst, total - start);
      await Promise.all(Array.from({ length: count }, (_, offset) => solo.group.register(`name-${start + offset}`, pid)));
      snapshotIndexes.add(solo.group.status().snapshotIndex);
    }
    const taken = [...snapshotIndexes].filter((index) => index > 0).sort((x, y) => x - y);
    expect(taken).toHaveLength(2);
    expect(taken[0]).toBeGreaterThanOrEqual(10_000);
    expect(taken[0]).toBeLessThan(10_000 + burst);
    expect(taken[1]! - taken[0]!).toBeGreaterThanOrEqual(10_000 - 10);
    expect(taken[1]).toBeLessThan(20_000 + 2 * burst);
    expect(solo.group.status().names).toBe(total);
  });
});
