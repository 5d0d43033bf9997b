// Slot states heal by themselves in a group whose Raft leader is not a gateway (real nodes over
// 127.0.0.1, one process). The test hands group B's leadership to its one member that is not a
// gateway, then leaves B's log in the two states a dead mover leaves behind, driving the
// protocol steps by hand: (1) B fenced a slot for a move away that the root then aborted — B
// must unfence it; (2) a move into B completed in the directory but the final `accept` never
// reached B — B must take the slot (and the old owner drop its copy). It proves B's slot
// states follow the directory although its leader has no directory view (B's gateways
// reconcile through B's log), that the names survive, and that the slot takes writes again.
import { afterEach, describe, expect, it } from 'vitest';
import type { DirectoryResult, GlobalNames } from '../../federation/index.js';
import { slotOf } from '../../federation/index.js';
import { createCluster, eventually, idleProcess, type Cluster, type Member } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

function globalOf(member: Member): GlobalNames {
  return member.group.state.extension('global') as GlobalNames;
}

async function value<T>(member: Member, ext: 'directory' | 'global', cmd: unknown): Promise<T> {
  const proposed = await member.group.propose({ op: 'ext', ext, cmd });
  return ('value' in proposed ? proposed.value : undefined) as T;
}

async function directoryStep(root: Member, cmd: unknown): Promise<number> {
  const result = await value<DirectoryResult>(root, 'directory', cmd);
  if (!result.ok) throw new Error(`directory refused ${JSON.stringify(cmd)}: ${result.reason}`);
  return result.revision;
}

/** Group B of three whose leader is b3, which is not a gateway (b1 and b2 are). */
async function groupsWithNonGatewayLeader(): Promise<{ a: Member[]; b: Member[]; leader: Member }> {
  const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
  const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
  const leader = b[2]!;
  expect(leader.federation.status().gateway).toBeNull();
  // Only a voter can lead: wait for the group to promote b3, then hand it the leadership.
  await eventually('b3 is a voter', () => b[0]!.group.committedConf().voters.includes(leader.node.name));
  await b[0]!.group.transferLeadership(leader.node.name, { timeoutMs: 10_000 });
  await eventually('b3 leads', () => b.every((member) => member.group.status().leader === leader.node.name));
  return { a, b, leader };
}

function expectLeaderStillNotGateway(b: readonly Member[], leader: Member): void {
  expect(leader.group.status().role).toBe('leader');
  expect(leader.federation.status().gateway).toBeNull();
  expect(b.filter((member) => member.federation.status().gateway !== null)).toHaveLength(2);
}

describe('federation — slot states heal in a group whose leader is not a gateway', () => {
  it('a fence left by an aborted move away from the group is undone', async () => {
    cluster = createCluster();
    const { a, b, leader } = await groupsWithNonGatewayLeader();
    const slot = slotOf('hot');
    expect(await a[0]!.federation.moveSlots([slot], 'gb')).toEqual([slot]);
    await eventually('B owns the slot', () => b.every((member) => globalOf(member).slotState(slot) === 'owned'));
    const holder = idleProcess(leader.node);
    expect((await leader.federation.register('{hot}kept', holder)).group).toBe('gb');
    // A mover began moving the slot back, fenced B, and died; the root aborted the move.
    const moveRevision = await directoryStep(a[0]!, { op: 'begin_move', slot, to: 'ga' });
    await value(leader, 'global', { op: 'fence', steps: [{ slot, moveRevision }] });
    await eventually('B fenced', () => b.every((member) => globalOf(member).slotState(slot) === 'fenced'));
    await directoryStep(a[0]!, { op: 'abort_move', slot, moveRevision });
    await eventually('B unfenced the slot', () => b.every((member) => globalOf(member).slotState(slot) === 'owned'));
    expect((await leader.federation.register('{hot}after', holder)).group).toBe('gb');
    expect((await a[1]!.federation.whereis('{hot}kept', { consistency: 'linearizable' }))?.pid.equals(holder)).toBe(true);
    expectLeaderStillNotGateway(b, leader);
  });

  it('a move into the group whose accept was lost is finished: the group takes the slot, the old owner drops it', async () => {
    cluster = createCluster();
    const { a, b, leader } = await groupsWithNonGatewayLeader();
    const slot = slotOf('warm');
    const holder = idleProcess(a[1]!.node);
    await a[1]!.federation.register('{warm}kept', holder);
    // A mover that ran every step but the last two (accept at B, drop at A).
    const moveRevision = await directoryStep(a[0]!, { op: 'begin_move', slot, to: 'gb' });
    const fenced = await value<{ entries: Array<[number, unknown[]]> }>(a[0]!, 'global', { op: 'fence', steps: [{ slot, moveRevision }] });
    const entries = fenced.entries.find(([fencedSlot]) => fencedSlot === slot)?.[1] ?? [];
    expect(entries).toHaveLength(1);
    await value(leader, 'global', { op: 'import', slot, moveRevision, entries });
    await directoryStep(a[0]!, { op: 'mark_copied', slot, moveRevision });
    await directoryStep(a[0]!, { op: 'complete_move', slot, moveRevision });
    await eventually('B accepted the slot', () => b.every((member) => globalOf(member).slotState(slot) === 'owned'));
    await eventually('A dropped its copy', () => a.every((member) => globalOf(member).slotState(slot) === undefined));
    const found = await a[2]!.federation.whereis('{warm}kept', { consistency: 'linearizable' });
    expect(found?.group).toBe('gb');
    expect(found?.pid.equals(holder)).toBe(true);
    expect((await a[2]!.federation.register('{warm}after', holder)).group).toBe('gb');
    expectLeaderStillNotGateway(b, leader);
  });
});
