// `group.watch(prefix, {afterRevision})` on a running group (in-process members on real TCP;
// one member on a real classic-level store): a watcher on one member sees the changes written
// on others, in revision order, filtered by prefix; a watcher that stops and resumes after the
// revision it last saw gets exactly what it missed (no gap, no repeat), then live changes; and a
// resume from revisions that are no longer kept (before the snapshot a restarted member loaded)
// is refused with the `compacted` code and the oldest revision one may resume after. A watcher
// on a replica that is behind the revision it resumes after never sees changes at or below it.
// `changesSince` (the poll behind `fedctl watch`) answers in batches that never split a
// revision and always say where to resume.
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import type { WatchEvent } from '../../registry/names.js';
import { GroupCluster, type Member, eventually, heal, idleProcess, isolate } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

/** Collect events from a watch until `until` holds (then abort it). */
async function collect(member: Member, prefix: string, options: { afterRevision?: number }, until: (seen: WatchEvent[]) => boolean): Promise<WatchEvent[]> {
  const controller = new AbortController();
  const seen: WatchEvent[] = [];
  const done = (async () => {
    for await (const event of member.group.watch(prefix, { ...options, signal: controller.signal })) {
      seen.push(event);
      if (until(seen)) controller.abort();
    }
  })();
  await eventually('watch condition', () => until(seen) || undefined);
  controller.abort();
  await done;
  return seen;
}

const label = (event: WatchEvent): string => `${event.type} ${event.name}`;

describe('group watch — across members, resumable', () => {
  it('sees the changes written on other members, in order, under its prefix only', async () => {
    const [a, b, c] = await cluster.three();
    const controller = new AbortController();
    const seen: WatchEvent[] = [];
    const watching = (async () => {
      for await (const event of c!.group.watch('svc/', { signal: controller.signal })) seen.push(event);
    })();
    const pid = idleProcess(a!.node);
    await a!.group.register('svc/one', pid);
    await b!.group.register('other/x', idleProcess(b!.node));
    await b!.group.register('svc/two', idleProcess(b!.node));
    await a!.group.unregister('svc/one', pid);
    await eventually('three events', () => seen.length === 3);
    controller.abort();
    await watching;
    expect(seen.map(label)).toEqual(['put svc/one', 'put svc/two', 'delete svc/one']);
    const revisions = seen.map((event) => event.revision);
    expect([...revisions].sort((x, y) => x - y)).toEqual(revisions);
  });

  it('a watcher resumed after the revision it last saw gets exactly what it missed, then live changes', async () => {
    const [a, b, c] = await cluster.three();
    const writers = [a!, b!];
    for (let index = 0; index < 6; index++) await writers[index % 2]!.group.register(`r/${index}`, idleProcess(writers[index % 2]!.node));
    // A first watcher from the start sees six puts, then stops.
    const first = await collect(c!, 'r/', { afterRevision: 0 }, (seen) => seen.length === 6);
    const last = first[first.length - 1]!.revision;
    // Meanwhile: more writes, one removal.
    for (let index = 6; index < 10; index++) await writers[index % 2]!.group.register(`r/${index}`, idleProcess(writers[index % 2]!.node));
    const holder = a!.group.whereisLocal('r/0')!.pid;
    await a!.group.unregister('r/0', holder);
    await eventually('c applied everything', () => c!.group.status().applied === a!.group.status().commit);
    // Resumed after `last` (the watch subscribes synchronously, so the live write cannot slip
    // between backlog and live): the five it missed, then one live change.
    const resumedPromise = collect(c!, 'r/', { afterRevision: last }, (seen) => seen.some((event) => event.name === 'r/live'));
    await b!.group.register('r/live', idleProcess(b!.node));
    const resumed = await resumedPromise;
    expect(resumed.map(label)).toEqual(['put r/6', 'put r/7', 'put r/8', 'put r/9', 'delete r/0', 'put r/live']);
    expect(resumed.every((event) => event.revision > last)).toBe(true);
    // Together: the same stream as one watcher that never stopped.
    const whole = await collect(c!, 'r/', { afterRevision: 0 }, (seen) => seen.length === 12);
    expect([...first, ...resumed].map((event) => `${label(event)}@${event.revision}`)).toEqual(whole.map((event) => `${label(event)}@${event.revision}`));
  });

  it('resuming before the loaded snapshot is compacted, with the oldest revision to resume after', async () => {
    const raftPath = cluster.dir('w-raft');
    const solo = await cluster.start('w', { bootstrap: true, raftPath, snapshotEveryEntries: 5 });
    await eventually('w leads', () => solo.group.status().role === 'leader');
    const pid = idleProcess(solo.node);
    for (let index = 0; index < 12; index++) await solo.group.register(`k/${index}`, pid);
    await eventually('a snapshot', () => solo.group.status().snapshotIndex > 0);
    await cluster.stop(solo);
    const again = await cluster.start('w', { raftPath, creation: 2, snapshotEveryEntries: 5 });
    const snapshotIndex = again.group.status().snapshotIndex;
    expect(snapshotIndex).toBeGreaterThan(1);
    const error = await collect(again, 'k/', { afterRevision: 1 }, () => true).catch((caught: unknown) => caught);
    expect(isFedError(error)).toBe(true);
    expect((error as { code: string }).code).toBe('compacted');
    expect((error as { details: { oldestRevision: number; afterRevision: number } }).details).toEqual({ afterRevision: 1, oldestRevision: snapshotIndex, compacted: true });
    // The poll answers the same.
    const polled = catching(() => again.group.changesSince('k/', 1, 10));
    expect(isFedError(polled)).toBe(true);
    expect((polled as { code: string; details: unknown }).details).toEqual({ afterRevision: 1, oldestRevision: snapshotIndex, compacted: true });
    // From the oldest revision on, it works: the releases of the old incarnation's names come after it.
    const fromOldest = await collect(again, 'k/', { afterRevision: snapshotIndex }, (seen) => seen.length >= 1);
    expect(fromOldest.every((event) => event.revision > snapshotIndex)).toBe(true);
    const bad = await collect(again, 'k/', { afterRevision: -1 }, () => true).catch((caught: unknown) => caught);
    expect(isFedError(bad, 'badarg')).toBe(true);
  });
});

describe('group watch — a replica behind the resume point', () => {
  it('never yields a change at or below afterRevision, though it applies them live', async () => {
    // c is cut off while x and y commit on the majority; a watcher on c resumes after y's
    // revision (learned elsewhere). Healed, c applies x, y and then z live: only z is new.
    const [a, , c] = await cluster.three();
    isolate(cluster, c!);
    const pid = idleProcess(a!.node);
    await eventually('a still leads', () => a!.group.status().role === 'leader');
    await a!.group.register('behind/x', pid);
    const { revision: after } = await a!.group.register('behind/y', pid);
    expect(c!.group.status().applied).toBeLessThan(after);
    const watching = collect(c!, 'behind/', { afterRevision: after }, (seen) => seen.some((event) => event.name === 'behind/z'));
    await a!.group.register('behind/z', pid);
    heal(cluster);
    const seen = await watching;
    expect(seen.map(label)).toEqual(['put behind/z']);
    expect(seen.every((event) => event.revision > after)).toBe(true);
  });
});

describe('group watch — changesSince, the poll behind fedctl watch', () => {
  it('answers in bounded batches that never split a revision; resuming after each answer loses and repeats nothing', async () => {
    // Five puts, then one release_pid that deletes three names at ONE revision. Polled with a
    // limit of 2: a batch stops before a new revision once it holds 2 events, but a revision's
    // events stay together — so the last batch holds the fifth put and all three deletes.
    const [a, , c] = await cluster.three();
    const start = c!.group.status().applied;
    const holder = idleProcess(a!.node);
    for (let index = 0; index < 5; index++) await a!.group.register(`poll/${index}`, index < 3 ? holder : idleProcess(a!.node));
    a!.node.send(holder, 'stop');
    await eventually('the holder\'s names released on c', () => c!.group.registered('poll/').length === 2);
    const batches: Array<{ events: string[]; more: boolean }> = [];
    let after = start;
    for (let round = 0; round < 10; round++) {
      const batch = c!.group.changesSince('poll/', after, 2);
      batches.push({ events: batch.events.map(label), more: batch.more });
      expect(batch.revision).toBeGreaterThanOrEqual(after);
      after = batch.revision;
      if (!batch.more) break;
    }
    expect(batches).toEqual([
      { events: ['put poll/0', 'put poll/1'], more: true },
      { events: ['put poll/2', 'put poll/3'], more: true },
      { events: ['put poll/4', 'delete poll/0', 'delete poll/1', 'delete poll/2'], more: false },
    ]);
    // The last answer is complete up to what c applied: nothing more there.
    expect(after).toBe(c!.group.status().applied);
    expect(c!.group.changesSince('poll/', after, 2)).toEqual({ events: [], revision: after, more: false });
  });

  it('on a replica behind afterRevision, answers nothing and the revision asked for (never lower)', async () => {
    const [a, , c] = await cluster.three();
    isolate(cluster, c!);
    await eventually('a still leads', () => a!.group.status().role === 'leader');
    const { revision } = await a!.group.register('ahead/x', idleProcess(a!.node));
    expect(c!.group.status().applied).toBeLessThan(revision);
    expect(c!.group.changesSince('', revision, 10)).toEqual({ events: [], revision, more: false });
    heal(cluster);
  });

  it('refuses a bad revision or limit with badarg (compacted revisions: see the restart test above)', async () => {
    const solo = await cluster.start('w', { bootstrap: true });
    await eventually('w leads', () => solo.group.status().role === 'leader');
    expect(isFedError(catching(() => solo.group.changesSince('', -1, 10)), 'badarg')).toBe(true);
    expect(isFedError(catching(() => solo.group.changesSince('', 0.5, 10)), 'badarg')).toBe(true);
    expect(isFedError(catching(() => solo.group.changesSince('', 0, 0)), 'badarg')).toBe(true);
  });
});

function catching(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}
