// No name ever points to a pid of an older incarnation of a node (in-process members on real
// TCP on 127.0.0.1). When a newer creation of a node connects, the leader releases the names held
// by its older creations at once (not after the node-down grace, not when the new incarnation
// next registers), and older pids are refused from then on; and a member restarted from its own
// directory releases the names of its earlier incarnation that it finds in its loaded snapshot.
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution, Node, Pid, isFedError } from '../../runtime/index.js';
import type { WatchEvent } from '../../registry/names.js';
import { GroupCluster, eventually, idleProcess } from './group-helpers.js';

let cluster = new GroupCluster();
const extra: Array<{ node: Node; distribution: Distribution }> = [];

afterEach(async () => {
  for (const { node, distribution } of extra.splice(0)) {
    await distribution.close();
    await node.stop();
  }
  await cluster.close();
  cluster = new GroupCluster();
});

/** Graces long enough that only the incarnation rule can explain a release within the test. */
const NO_GRACE_CLEANUP = { nameDownGraceMs: 60_000, voterDownGraceMs: 60_000 } as const;

describe('group incarnations — the leader enforces it when a newer creation appears', () => {
  it('names of the old incarnation go as soon as the new one connects; old pids are refused after', async () => {
    const [a, b] = await cluster.three(NO_GRACE_CLEANUP);
    const held = idleProcess(b!.node);
    await b!.group.register('b-service', held);
    await b!.group.register('b-other', held);
    await eventually('replicated to a', () => a!.group.whereisLocal('b-other'));
    const deletes: WatchEvent[] = [];
    a!.group.state.names.onChange((event) => {
      if (event.type === 'delete') deletes.push(event);
    });
    // b restarts as a new incarnation (creation 2) — only its node comes back, no group member yet.
    await cluster.stop(b!);
    const node = new Node({ name: 'b@127.0.0.1', creation: 2 });
    await node.start();
    const distribution = await Distribution.start({ node, cookie: 'group-helpers-cookie-0123456789', tickMs: 100, heartbeatTimeoutMs: 1_000 });
    extra.push({ node, distribution });
    await distribution.connect(a!.distribution.address);
    await eventually('the old incarnation lost its names', () => a!.group.whereisLocal('b-service') === undefined && a!.group.whereisLocal('b-other') === undefined);
    expect(deletes.map((event) => (event.type === 'delete' ? `${event.name}:${event.reason}` : ''))).toEqual(['b-other:stale_incarnation', 'b-service:stale_incarnation']);
    expect(a!.group.state.names.newestCreation('b@127.0.0.1')).toBe(2);
    const stale = await a!.group.register('late', new Pid('b@127.0.0.1', 99, 1)).catch((error: unknown) => error);
    expect(isFedError(stale, 'noproc')).toBe(true);
  });
});

describe('group incarnations — a restarted owner releases its old names from its snapshot', () => {
  it('names in the loaded snapshot held by the previous creation are released by the new one', async () => {
    const raftPath = cluster.dir('solo-raft');
    const solo = await cluster.start('solo', { bootstrap: true, raftPath, snapshotEveryEntries: 5 });
    await eventually('solo leads', () => solo.group.status().role === 'leader');
    for (let index = 0; index < 12; index++) await solo.group.register(`old-${index}`, idleProcess(solo.node));
    // Every name is inside the snapshot (none only in the log after it).
    const lastName = solo.group.whereisLocal('old-11')!.revision;
    for (let index = 0; index < 6; index++) await solo.group.propose({ op: 'noop' });
    await eventually('a snapshot covers every name', () => solo.group.status().snapshotIndex >= lastName);
    await cluster.stop(solo);
    const again = await cluster.start('solo', { raftPath, creation: 2, snapshotEveryEntries: 5 });
    await eventually('the restarted member leads', () => again.group.status().role === 'leader');
    await eventually('every old name released', () => again.group.registered('old-').length === 0);
    expect(again.group.state.names.newestCreation('solo@127.0.0.1')).toBe(2);
    // And it still registers its own.
    await again.group.register('new', idleProcess(again.node));
    expect(again.group.whereisLocal('new')?.pid.creation).toBe(2);
  });
});
