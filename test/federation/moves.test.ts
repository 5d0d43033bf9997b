// Slot moves with handover on real nodes (two groups over 127.0.0.1, one process): a slot moves
// from the root group to another group and back, three times, while clients in both groups keep
// registering names in that slot (unique names, and contended names several pids race for).
// Readers meanwhile read acknowledged names linearizably from both groups.
// It proves: no linearizable read misses an acknowledged name or sees another holder; no
// acknowledged registration is lost (each is found, linearizably, from both
// groups afterwards); no name ever has two holders (each contended name has at most one
// acknowledged winner, and it is the holder found); at the end the slot's names live only in
// the owner group's share; and the directory records no move left in progress. Then that a
// move whose destination is unreachable is aborted and the source accepts writes again, and
// that a move left half-done by a mover that died (begun and fenced, nothing more) is aborted
// by the root's leader after it stalls, after which the slot is writable again. Last, that a
// holder that exits while its slot is fenced loses its name at the new owner after the move,
// and that removing a group is refused (typed) while it owns slots and works once drained.
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError, type Pid } from '../../runtime/index.js';
import type { DirectoryResult } from '../../federation/index.js';
import { slotOf } from '../../federation/index.js';
import { createCluster, eventually, idleProcess, type Cluster, type Member } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

const HOT_SLOT = slotOf('hot');
const CONTENDED = 6;

interface Outcome {
  readonly acknowledged: Map<string, Pid>;
  readonly contendedWins: Map<string, Pid[]>;
  /** [start, end] of every acknowledged unique registration (ms). */
  readonly intervals: Array<[number, number]>;
  errors: number;
}

async function worker(member: Member, id: number, stop: () => boolean, outcome: Outcome): Promise<void> {
  const pid = idleProcess(member.node);
  for (let round = 0; !stop() || round < 3; round++) {
    const unique = `{hot}w${id}-${round}`;
    try {
      const started = performance.now();
      await member.federation.register(unique, pid);
      outcome.intervals.push([started, performance.now()]);
      outcome.acknowledged.set(unique, pid);
    } catch (error) {
      if (!isFedError(error, 'unavailable') && !isFedError(error, 'timeout')) throw error;
      outcome.errors++;
    }
    const contended = `{hot}c${round % CONTENDED}`;
    try {
      await member.federation.register(contended, pid);
      const wins = outcome.contendedWins.get(contended) ?? [];
      if (!wins.some((winner) => winner.equals(pid))) wins.push(pid);
      outcome.contendedWins.set(contended, wins);
    } catch (error) {
      if (!isFedError(error, 'name_taken') && !isFedError(error, 'unavailable') && !isFedError(error, 'timeout')) throw error;
    }
  }
}

/** Linearizable reads of names acknowledged before each read began: never missing, never another holder. */
async function reader(members: readonly Member[], stop: () => boolean, outcome: Outcome, violations: string[]): Promise<number> {
  let reads = 0;
  for (let round = 0; !stop(); round++) {
    const acknowledged = [...outcome.acknowledged];
    const picked = acknowledged[round % Math.max(1, acknowledged.length)];
    if (picked === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      continue;
    }
    const [name, pid] = picked;
    try {
      const found = await members[round % members.length]!.federation.whereis(name, { consistency: 'linearizable' });
      reads++;
      if (found === undefined || !found.pid.equals(pid)) violations.push(`${name}: read ${found?.pid.toString() ?? 'nothing'}, acknowledged ${pid.toString()}`);
    } catch (error) {
      if (!isFedError(error, 'unavailable') && !isFedError(error, 'timeout')) throw error;
    }
  }
  return reads;
}

describe('federation — slot moves under concurrent registrations', () => {
  it('moves a hot slot back and forth: nothing lost, never two holders', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const outcome: Outcome = { acknowledged: new Map(), contendedWins: new Map(), intervals: [], errors: 0 };
    let done = false;
    const workers = [a[1]!, a[2]!, b[0]!, b[1]!].map((member, id) => worker(member, id, () => done, outcome));
    const violations: string[] = [];
    const reads = reader([a[2]!, b[1]!, a[1]!, b[0]!], () => done, outcome, violations);
    const mover = a[0]!.federation;
    const moveIntervals: Array<[number, number]> = [];
    try {
      for (const to of ['gb', 'ga', 'gb', 'ga', 'gb']) {
        await new Promise((resolve) => setTimeout(resolve, 60));
        const started = performance.now();
        expect(await mover.moveSlots([HOT_SLOT], to)).toEqual([HOT_SLOT]);
        moveIntervals.push([started, performance.now()]);
        expect((await mover.directory()).moves).toEqual([]);
      }
      await new Promise((resolve) => setTimeout(resolve, 60));
    } finally {
      // Stop the workers and the reader whatever happened above (they loop until told).
      done = true;
      await Promise.allSettled([...workers, reads]);
    }
    await Promise.all(workers);
    expect(await reads).toBeGreaterThan(0);
    expect(violations).toEqual([]);
    // The registrations really raced the moves: some were in flight while a move ran.
    const overlapping = outcome.intervals.filter(([start, end]) => moveIntervals.some(([moveStart, moveEnd]) => start < moveEnd && end > moveStart));
    expect(overlapping.length).toBeGreaterThan(0);
    expect(outcome.acknowledged.size).toBeGreaterThan(10);
    for (const [name, pid] of outcome.acknowledged) {
      for (const member of [a[0]!, b[1]!]) {
        const found = await member.federation.whereis(name, { consistency: 'linearizable' });
        expect({ name, holder: found?.pid.toString() }).toEqual({ name, holder: pid.toString() });
      }
    }
    for (const [name, winners] of outcome.contendedWins) {
      expect({ name, winners: winners.length }).toEqual({ name, winners: 1 });
      const found = await a[2]!.federation.whereis(name, { consistency: 'linearizable' });
      expect(found?.pid.equals(winners[0]!)).toBe(true);
    }
    // The slot lives in gb only, in every member's replica once the drop applies.
    const inA = () => a.flatMap((member) => member.federation.registeredHere('{hot}'));
    const start = Date.now();
    while (inA().length > 0 && Date.now() - start < 5_000) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(inA()).toEqual([]);
    expect(b[0]!.federation.registeredHere('{hot}').length).toBeGreaterThanOrEqual(outcome.acknowledged.size);
  });

  it('a move to an unreachable group is aborted and the source takes writes again', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const holder = idleProcess(a[1]!.node);
    await a[1]!.federation.register('{hot}before', holder);
    const bGateways = b.map((member) => member.federation.status().gateway!.node);
    const aGateways = a.map((member) => member.federation.status().gateway?.node).filter((node): node is string => node !== undefined);
    for (const member of a) member.federation.gatewayDistribution()?.setBlocked(bGateways);
    for (const member of b) member.federation.gatewayDistribution()?.setBlocked(aGateways);
    const error = await a[0]!.federation.moveSlots([HOT_SLOT], 'gb').catch((caught: unknown) => caught);
    expect(isFedError(error, 'unavailable')).toBe(true);
    expect((await a[0]!.federation.directory()).moves).toEqual([]);
    await a[1]!.federation.register('{hot}after', holder);
    expect((await a[2]!.federation.whereis('{hot}before', { consistency: 'linearizable' }))?.pid.equals(holder)).toBe(true);
    expect((await a[2]!.federation.whereis('{hot}after', { consistency: 'linearizable' }))?.pid.equals(holder)).toBe(true);
    for (const member of [...a, ...b]) member.federation.gatewayDistribution()?.setBlocked([]);
    // Healed: the gateways redial with backoff; the move is tried once the links are back.
    await eventually('gateway links between the groups again', () =>
      a.every((member) => bGateways.every((node) => member.federation.gatewayDistribution()?.isConnected(node) !== false)),
    );
    expect(await a[0]!.federation.moveSlots([HOT_SLOT], 'gb')).toEqual([HOT_SLOT]);
    expect((await b[1]!.federation.whereis('{hot}after', { consistency: 'linearizable' }))?.group).toBe('gb');
  });

  it('a half-done move whose mover died is aborted when it stalls, and the slot is writable again', async () => {
    cluster = createCluster({ moveStallMs: 1_000 });
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    // A mover that began the move and fenced the source, then died.
    const proposed = await a[0]!.group.propose({ op: 'ext', ext: 'directory', cmd: { op: 'begin_move', slot: HOT_SLOT, to: 'gb' } });
    const began = ('value' in proposed ? proposed.value : undefined) as DirectoryResult;
    if (!began.ok) throw new Error(`begin_move refused: ${began.reason}`);
    await a[0]!.group.propose({ op: 'ext', ext: 'global', cmd: { op: 'fence', steps: [{ slot: HOT_SLOT, moveRevision: began.revision }] } });
    const holder = idleProcess(a[1]!.node);
    // Registering waits on the fence until the stalled move is aborted and the fence undone.
    await cluster.member('a2').federation.register('{hot}x', holder).catch(() => undefined);
    await eventuallyOk('slot writable again', async () => {
      await a[1]!.federation.register('{hot}y', holder);
      return true;
    });
    expect((await a[0]!.federation.directory()).moves).toEqual([]);
    expect((await a[2]!.federation.whereis('{hot}y', { consistency: 'linearizable' }))?.pid.equals(holder)).toBe(true);
  });
});

describe('federation — deletions behind a fence', () => {
  it('a holder that exits while its slot is fenced loses its name at the new owner once the move completes', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const doomed = idleProcess(b[1]!.node);
    const survivor = idleProcess(b[1]!.node);
    await b[1]!.federation.register('{hot}doomed', doomed);
    await b[1]!.federation.register('{hot}survivor', survivor);
    // A mover, step by step: begin, fence the source (the copy is taken here)…
    const directoryStep = async (cmd: unknown) => {
      const proposed = await a[0]!.group.propose({ op: 'ext', ext: 'directory', cmd });
      const result = ('value' in proposed ? proposed.value : undefined) as DirectoryResult;
      if (!result.ok) throw new Error(`refused: ${result.reason}`);
      return result.revision;
    };
    const moveRevision = await directoryStep({ op: 'begin_move', slot: HOT_SLOT, to: 'gb' });
    const fenced = await a[0]!.group.propose({ op: 'ext', ext: 'global', cmd: { op: 'fence', steps: [{ slot: HOT_SLOT, moveRevision }] } });
    const entries = ('value' in fenced ? (fenced.value as { entries: Array<[number, unknown[]]> }).entries[0]![1] : []) as unknown[];
    expect(entries).toHaveLength(2);
    // …the holder exits now: its release is refused by the fence and queued…
    b[1]!.node.send(doomed, 'stop');
    await eventually('release queued', () => b[1]!.federation.status().pendingReleases === 1);
    // …copy to the destination, switch ownership.
    await b[0]!.group.propose({ op: 'ext', ext: 'global', cmd: { op: 'import', slot: HOT_SLOT, moveRevision, entries } });
    await directoryStep({ op: 'mark_copied', slot: HOT_SLOT, moveRevision });
    await directoryStep({ op: 'complete_move', slot: HOT_SLOT, moveRevision });
    // The groups finish the handover themselves; the queued release reaches the new owner.
    await eventually('release done', () => b[1]!.federation.status().pendingReleases === 0);
    expect(await a[2]!.federation.whereis('{hot}doomed', { consistency: 'linearizable' })).toBeUndefined();
    const kept = await a[2]!.federation.whereis('{hot}survivor', { consistency: 'linearizable' });
    expect(kept?.pid.equals(survivor)).toBe(true);
    expect(kept?.group).toBe('gb');
    await eventually('source dropped its copy', () => a.every((member) => member.federation.registeredHere('{hot}').length === 0));
  });
});

describe('federation — draining and removing a group', () => {
  it('a group with slots cannot be removed; drained and rebalanced it can, and its names move home', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const root = a[0]!.federation;
    expect(await root.rebalance()).toBe(2_048);
    const holder = idleProcess(b[0]!.node);
    const names: string[] = [];
    for (let index = 0; names.length < 3; index++) {
      const name = `d:${(index * 2_654_435_761) >>> 0}`;
      if ((await b[0]!.federation.register(name, holder)).group === 'gb') names.push(name);
    }
    const refusal = (error: unknown) => (error as { code?: string; details?: { refusal?: string } }) ?? {};
    const notEmpty = await root.removeGroup('gb').catch((error: unknown) => error);
    expect(refusal(notEmpty)).toMatchObject({ code: 'badarg', details: { refusal: 'group_not_empty' } });
    expect(refusal(await root.removeGroup('ga').catch((error: unknown) => error))).toMatchObject({ code: 'badarg', details: { refusal: 'root_group' } });
    expect(refusal(await root.removeGroup('nope').catch((error: unknown) => error))).toMatchObject({ code: 'not_found' });
    expect(refusal(await b[0]!.federation.rebalance().catch((error: unknown) => error))).toMatchObject({ code: 'badarg' });
    await root.drainGroup('gb');
    expect(await root.rebalance()).toBe(2_048);
    await root.removeGroup('gb');
    const summary = await root.directory();
    expect(summary.groups.find((record) => record.id === 'gb')?.state).toBe('removed');
    expect(summary.slots).toEqual({ ga: 4_096 });
    for (const name of names) {
      const found = await a[1]!.federation.whereis(name, { consistency: 'linearizable' });
      expect(found?.group).toBe('ga');
      expect(found?.pid.equals(holder)).toBe(true);
    }
  });
});

async function eventuallyOk<T>(what: string, probe: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${(error as Error).message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
