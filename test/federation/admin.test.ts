// Federation administration refuses with typed errors, and a refusal changes nothing (real nodes
// over 127.0.0.1, one process). It proves: `moveSlots` reports each refused slot with its code
// (unknown target, draining target, already the owner, a move already in progress, too many
// moves) — `moveSlotsReport` lists them, `moveSlots` rejects with the first; `removeGroup` of a
// group taking part in a move is refused (`group_in_move`) and leaves the group active (it used
// to drain it first); a group started with `createRoot` whose seeds belong to an existing
// federation never creates a second root: every member's `ready()` rejects with `config`
// (`two_roots`) and the existing directory never lists it; a group removed from the directory
// reports `group_removed` from `ready()` on every member; a group id the directory would refuse
// is refused at attach; and `ready()` resolves for groups that did join.
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution, Node, isFedError } from '../../runtime/index.js';
import { Group } from '../../registry/index.js';
import { Federation, MOVES_IN_PROGRESS_MAX, federationMachines, slotOf, type DirectoryResult } from '../../federation/index.js';
import { COOKIE, createCluster, eventually, type Cluster, type Member } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

async function directoryStep(root: Member, cmd: unknown): Promise<DirectoryResult> {
  const proposed = await root.group.propose({ op: 'ext', ext: 'directory', cmd });
  return ('value' in proposed ? proposed.value : undefined) as DirectoryResult;
}

describe('federation — typed refusals of slot moves', () => {
  it('each refused slot is reported with its code; moveSlots rejects with the first', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const c = await cluster.startGroup('gc', ['c1', 'c2'], { seeds: cluster.rootGatewayAddresses() });
    await Promise.all([...a, ...b, ...c].map((member) => member.federation.ready()));
    const root = a[0]!.federation;
    const [s1, s2, s3] = [slotOf('one'), slotOf('two'), slotOf('three')];

    expect(await root.moveSlotsReport([s1], 'nope')).toMatchObject({ moved: [], refused: [{ slot: s1, code: 'unknown_group' }] });
    expect(await root.moveSlotsReport([s1], 'ga')).toMatchObject({ moved: [], refused: [{ slot: s1, code: 'already_owner' }] });
    await root.drainGroup('gc');
    expect(await root.moveSlotsReport([s1], 'gc')).toMatchObject({ moved: [], refused: [{ slot: s1, code: 'group_not_active' }] });
    const error = await root.moveSlots([s1], 'gc').catch((caught: unknown) => caught);
    expect(isFedError(error, 'badarg')).toBe(true);
    expect((error as { details: unknown }).details).toMatchObject({ refusal: 'group_not_active', moved: [], refused: [{ slot: s1, code: 'group_not_active' }] });
    expect(isFedError(await root.moveSlots([s1], 'nope').catch((caught: unknown) => caught), 'not_found')).toBe(true);

    // A move left in progress (begun, never finished) refuses another move of its slot…
    const begun = await directoryStep(a[0]!, { op: 'begin_move', slot: s2, to: 'gb' });
    expect(begun.ok).toBe(true);
    expect(await root.moveSlotsReport([s2, s3], 'gb')).toMatchObject({ moved: [s3], refused: [{ slot: s2, code: 'move_in_progress' }] });
    // …and with MOVES_IN_PROGRESS_MAX moves open, a new one is refused as too many.
    const crowded = slotOf('crowded');
    const open = Array.from({ length: MOVES_IN_PROGRESS_MAX + 3 }, (_, index) => index)
      .filter((slot) => slot !== s2 && slot !== s3 && slot !== crowded)
      .slice(0, MOVES_IN_PROGRESS_MAX - 1);
    const batch = await directoryStep(a[0]!, { op: 'batch', commands: open.map((slot) => ({ op: 'begin_move', slot, to: 'gb' })) });
    expect(batch.ok && batch.results?.every((result) => result.ok)).toBe(true);
    expect(await root.moveSlotsReport([crowded], 'gb')).toMatchObject({ moved: [], refused: [{ slot: crowded, code: 'too_many_moves' }] });
    expect(isFedError(await root.moveSlots([crowded], 'gb').catch((caught: unknown) => caught), 'overloaded')).toBe(true);
    // Only the slots that moved changed hands.
    const summary = await root.directory();
    expect(summary.slots).toEqual({ ga: 4_095, gb: 1 });
    // Calls that are refused as a whole: not a root member, not a list of slots.
    expect(isFedError(await b[0]!.federation.moveSlotsReport([s1], 'ga').catch((caught: unknown) => caught), 'badarg')).toBe(true);
    expect(isFedError(await root.moveSlotsReport([4_096], 'gb').catch((caught: unknown) => caught), 'badarg')).toBe(true);
  });
});

describe('federation — removing a group', () => {
  it('a group taking part in a move is refused (group_in_move) and stays active', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const slot = slotOf('moving');
    expect((await directoryStep(a[0]!, { op: 'begin_move', slot, to: 'gb' })).ok).toBe(true);
    const error = await a[0]!.federation.removeGroup('gb').catch((caught: unknown) => caught);
    expect(isFedError(error, 'badarg')).toBe(true);
    expect((error as { details: unknown }).details).toMatchObject({ refusal: 'group_in_move' });
    const record = (await a[0]!.federation.directory()).groups.find((group) => group.id === 'gb');
    expect(record?.state).toBe('active');
  });

  it('the members of a removed group report group_removed from ready()', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
    await Promise.all(b.map((member) => member.federation.ready()));
    await a[0]!.federation.removeGroup('gb');
    for (const member of b) {
      const error = await eventually('ready() refuses', async () => member.federation.ready({ timeoutMs: 200 }).then(() => undefined, (caught: unknown) => (isFedError(caught, 'not_found') ? caught : undefined)));
      expect((error as { details: unknown }).details).toMatchObject({ alarm: 'group_removed' });
      expect(member.federation.status().alarms.map((alarm) => alarm.code)).toEqual(['group_removed']);
    }
  });
});

describe('federation — creating the root', () => {
  it('a group started with createRoot at the seeds of an existing federation raises two_roots and creates nothing', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const seeds = cluster.rootGatewayAddresses();
    const x = await cluster.startGroup('gx', ['x1', 'x2', 'x3'], { root: true, seeds, waitForDirectory: false });
    for (const member of x) {
      const error = await member.federation.ready({ timeoutMs: 10_000 }).catch((caught: unknown) => caught);
      expect(isFedError(error, 'config')).toBe(true);
      expect((error as { details: unknown }).details).toMatchObject({ alarm: 'two_roots', otherRoot: 'ga' });
    }
    for (const member of x) {
      expect(member.federation.status().root).toBe(false);
      expect(member.federation.status().ownedSlots).toBe(0);
    }
    const summary = await a[0]!.federation.directory();
    expect(summary.groups.map((group) => group.id)).toEqual(['ga']);
    expect(summary.rootGroup).toBe('ga');
  });

  it('a group id the directory would refuse is refused when the federation attaches', async () => {
    cluster = createCluster();
    const node = new Node({ name: 'bad1@127.0.0.1' });
    await node.start();
    const distribution = await Distribution.start({ node, cookie: COOKIE, logger: () => undefined });
    const machines = federationMachines();
    const group = await Group.open({ node, distribution, group: 'not a group id', memory: true, address: distribution.address, bootstrap: true, extensions: machines.extensions });
    try {
      const error = await Federation.attach({ node, distribution, group, machines, cookie: COOKIE, createRoot: true }).catch((caught: unknown) => caught);
      expect(isFedError(error, 'config')).toBe(true);
    } finally {
      await group.close();
      await distribution.close();
      await node.stop();
    }
  });
});
