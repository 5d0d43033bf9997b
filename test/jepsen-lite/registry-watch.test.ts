// The registry watch against a member that behaves as fedctl's `watch_poll` does — one change
// per answer, strictly after the asked revision, filtered by prefix, and (the race) a long poll
// that times out as a change lands answering none with an applied index past it. The watch
// must still keep every removal: a node declared down loses several names at ONE revision, and
// all of them are kept; a change hidden by the race is found by the confirming poll; changes
// come out once each, in revision order; drain() waits until the watch has seen the target
// revision. A federated member's feed (every change after the asked revision in one answer,
// deletes without a reason, an empty answer that says nothing about how far it applied): the
// watch keeps every change of a revision, records reasonless deletes as `released`, counts
// revisions as seen only up to the member's applied index, and never reads a member the runner
// says it may not (restarted since the watch began). A fake member, no sockets.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../cli/admin-client.js';
import type { AdminRequest } from '../../cli/admin-protocol.js';
import { parseRegistryEvents } from '../../jepsen-lite/registry-events.js';
import { RegistryWatcher } from '../../jepsen-lite/registry-events.js';
import { fedError } from '../../runtime/index.js';

const root = mkdtempSync(join(tmpdir(), 'jepsen-lite-watch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Change {
  readonly type: 'put' | 'delete';
  readonly name: string;
  readonly pid: string;
  readonly revision: number;
  readonly reason?: string;
}

/** A member with these changes applied (emission order), answering like fedctl's watch_poll. */
function member(changes: readonly Change[], applied: number, options: { raceOnce?: boolean } = {}): AdminClient {
  let raced = false;
  const requestOnce = async (request: AdminRequest): Promise<unknown> => {
    if (request.op !== 'watch_poll') throw new Error(`unexpected ${request.op}`);
    const first = changes.find((change) => change.revision > request.afterRevision && change.name.startsWith(request.prefix));
    // The race: the long poll times out just as the change lands, and answers none.
    if (first !== undefined && options.raceOnce === true && !raced && request.waitMs > 0) {
      raced = true;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { events: [], revision: applied };
    }
    if (first === undefined) {
      // A long poll with nothing to answer waits (briefly here) before it answers none.
      if (request.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      return { events: [], revision: applied };
    }
    return { events: [first], revision: first.revision };
  };
  return { peer: 'fake@127.0.0.1', requestOnce, request: requestOnce, close: async () => undefined };
}

const P = '<n2@127.0.0.1#3.1>';
const Q = '<n3@127.0.0.1#3.1>';
const CHANGES: Change[] = [
  { type: 'put', name: 'jl-t0-g0.', pid: P, revision: 4 },
  { type: 'put', name: 'jl-t1-g0.', pid: P, revision: 6 },
  { type: 'put', name: 'jl-t2-g0.', pid: Q, revision: 7 },
  // n2 declared down: both its names go at revision 9.
  { type: 'delete', name: 'jl-t0-g0.', pid: P, reason: 'node_down', revision: 9 },
  { type: 'delete', name: 'jl-t1-g0.', pid: P, reason: 'node_down', revision: 9 },
  { type: 'put', name: 'jl-t0-g0.', pid: Q, revision: 12 },
];
const NAMES = ['jl-t0-g0.', 'jl-t1-g0.', 'jl-t2-g0.'];

async function watchAll(name: string, client: AdminClient, target: number, drainMs = 5_000): Promise<{ watcher: RegistryWatcher; drained: boolean; path: string }> {
  const path = join(root, `${name}.jsonl`);
  const watcher = new RegistryWatcher({
    path,
    cookie: 'x',
    prefix: 'jl-t',
    names: () => NAMES,
    running: () => [{ name: 'n1@127.0.0.1', address: '127.0.0.1:1' }],
    nowNs: () => 1,
    log: () => undefined,
    connect: async () => client,
  });
  watcher.start();
  const drained = await watcher.drain(target, drainMs);
  await watcher.stop();
  return { watcher, drained, path };
}

describe('registry watch — every change, once, in order', () => {
  it('watch — a node declared down loses two names at one revision: both removals are kept', async () => {
    const { watcher, drained, path } = await watchAll('down', member(CHANGES, 15), 15);
    expect(drained).toBe(true);
    expect(watcher.complete).toBe(true);
    const kept = watcher.events.map((event) => `${event.revision} ${event.type} ${'name' in event ? event.name : ''}`);
    expect(kept).toEqual(['4 put jl-t0-g0.', '6 put jl-t1-g0.', '7 put jl-t2-g0.', '9 delete jl-t0-g0.', '9 delete jl-t1-g0.', '12 put jl-t0-g0.']);
    expect(parseRegistryEvents(readFileSync(path, 'utf8'))).toHaveLength(6);
  });

  it('watch — a change hidden by a long poll timing out as it lands is found by the confirming poll', async () => {
    const { watcher } = await watchAll('race', member(CHANGES, 15, { raceOnce: true }), 15);
    expect(watcher.events.map((event) => event.revision)).toEqual([4, 6, 7, 9, 9, 12]);
  });

  it('watch — drain gives up (false) when the member never reaches the target', async () => {
    const { drained, watcher } = await watchAll('short', member(CHANGES.slice(0, 2), 6), 50, 500);
    expect(drained).toBe(false);
    expect(watcher.coveredRevision).toBe(6);
  });
});

/**
 * A federated member: every change after the asked revision, deletes without a reason, an empty
 * answer at the last change's revision; with a `floor` (where its feed began), a poll from
 * before it is refused `compacted`, as fedctl's feed does (cli/global-watch.ts).
 */
function federatedMember(changes: readonly Change[], applied: number, asked: string[], floor?: number): AdminClient {
  const requestOnce = async (request: AdminRequest): Promise<unknown> => {
    asked.push(request.op);
    if (request.op === 'status') return { applied };
    if (request.op !== 'watch_poll') throw new Error(`unexpected ${request.op}`);
    if (floor !== undefined && request.afterRevision < floor) throw fedError('badarg', `watch: revisions after ${request.afterRevision} were compacted; re-read`, { compacted: true });
    const events = changes
      .filter((change) => change.revision > request.afterRevision && change.name.startsWith(request.prefix))
      .map(({ reason: _reason, ...change }) => ({ ...change, group: 'g2' }));
    if (events.length === 0) {
      if (request.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const last = changes.filter((change) => change.revision <= applied).at(-1)?.revision ?? 0;
      return { events: [], revision: Math.max(request.afterRevision, last) };
    }
    return { events, revision: (events.at(-1) as { revision: number }).revision };
  };
  return { peer: 'fake@127.0.0.1', requestOnce, request: requestOnce, close: async () => undefined };
}

describe('registry watch — a federated member', () => {
  type Feeds = Record<string, { changes: readonly Change[]; asked: string[]; goneAfter?: number; applied?: number; floor?: number }>;
  async function watchFederated(name: string, feeds: Feeds, restarted: readonly string[], drainMs = 5_000): Promise<{ watcher: RegistryWatcher; drained: boolean; logs: string[] }> {
    const logs: string[] = [];
    let started = false;
    // A member with `goneAfter` leaves once the watch holds that many changes.
    const running = (): { name: string; address: string }[] =>
      Object.entries(feeds)
        .filter(([, feed]) => feed.goneAfter === undefined || !started || watcher.events.length < feed.goneAfter)
        .map(([node]) => ({ name: node, address: node }));
    const watcher: RegistryWatcher = new RegistryWatcher({
      path: join(root, `${name}.jsonl`),
      cookie: 'x',
      prefix: 'jl-t',
      names: () => NAMES,
      running,
      members: () => running().map((member) => member.name),
      nowNs: () => 1,
      log: (line) => logs.push(line),
      connect: async (address) => {
        const feed = feeds[address] as Feeds[string];
        return federatedMember(feed.changes, feed.applied ?? 20, feed.asked, feed.floor);
      },
      federated: true,
      // The nodes in `restarted` run a later incarnation than when the watch began.
      incarnation: (node) => (started && restarted.includes(node) ? 2 : 1),
    });
    watcher.start();
    started = true;
    const drained = await watcher.drain(20, drainMs);
    await watcher.stop();
    return { watcher, drained, logs };
  }

  it('watch — every change of a revision in one answer, reasonless deletes kept as released, covered up to the applied index only', async () => {
    const asked: string[] = [];
    const { watcher, drained } = await watchFederated('federated', { n4: { changes: CHANGES, asked } }, []);
    // The feed's last change is at 12; the member applied up to 20 (entries without names).
    expect(drained).toBe(true);
    expect(watcher.events.map((event) => `${event.revision} ${event.type} ${'reason' in event ? event.reason : ''}`)).toEqual([
      '4 put ',
      '6 put ',
      '7 put ',
      '9 delete released',
      '9 delete released',
      '12 put ',
    ]);
    expect(watcher.history()).toMatchObject({ coveredRevision: 20, wholeRevisions: true });
    expect(asked).toContain('status');
    expect(parseRegistryEvents(readFileSync(join(root, 'federated.jsonl'), 'utf8'))).toHaveLength(6);
  });

  it('watch — a member restarted since the watch began is read once its feed shows the latest change the watch saw', async () => {
    // The only original member had applied up to 6 and leaves; n5 restarted, its feed holding
    // revisions from 6 on (it re-applied the rest before its feed began): it holds the latest
    // change the watch saw, so it holds every later one.
    const lagging = { changes: CHANGES.slice(0, 2), asked: [] as string[], goneAfter: 2, applied: 6 };
    const later = { changes: CHANGES.filter((change) => change.revision >= 6), asked: [] as string[] };
    const { watcher, drained } = await watchFederated('restarted-later', { n4: lagging, n5: later }, ['n5']);
    expect(drained).toBe(true);
    expect(watcher.complete).toBe(true);
    expect(watcher.events.map((event) => event.revision)).toEqual([4, 6, 7, 9, 9, 12]);
    // Before the watch saw any change it cannot check a restarted member, so it reads none.
    const alone = { changes: CHANGES, asked: [] as string[] };
    const third = await watchFederated('restarted-alone', { n5: alone }, ['n5'], 500);
    expect({ drained: third.drained, events: third.watcher.events.length, asked: alone.asked }).toEqual({ drained: false, events: 0, asked: [] });
  });

  it('watch — once no member that ran since the watch began is left, what the restarted ones applied before their feeds is recorded as lost (a gap), and the watch goes on', async () => {
    // The only original member had applied up to 6 and leaves; n5 restarted and its feed began
    // at 8 (it re-applied up to 8 first: changes from 9 on): it lacks 6, and 7 is lost.
    const lagging = { changes: CHANGES.slice(0, 2), asked: [] as string[], goneAfter: 2, applied: 6 };
    const lacking = { changes: CHANGES.filter((change) => change.revision >= 9), asked: [] as string[], floor: 8 };
    const { watcher, drained, logs } = await watchFederated('all-restarted', { n4: lagging, n5: lacking }, ['n5']);
    expect(drained).toBe(true);
    expect(watcher.complete).toBe(false);
    expect(watcher.events.map((event) => (event.type === 'gap' ? `gap ${event.afterRevision}-${event.revision}` : `${event.revision}`))).toEqual(['4', '6', 'gap 6-8', '9', '9', '12']);
    expect(logs.join('\n')).toContain('changes after revision 6 up to 8 are lost to it');
  });

  it('watch — a restarted member whose feed began after the latest change answers compacted: the watch reads it from where its feed begins, with a gap only up to there', async () => {
    // Seed 3032: every member of the group killed at once; the restarted feeds began at the index
    // they re-applied to and refused the check's poll as compacted. Taken as a failed connection,
    // the check was asked again forever: the watch never got past revision 259. Seed 3042: the
    // gap then went up to the member's applied index (125 revisions), though its feed held most.
    // Here n5's feed began at 6, after the latest change the watch saw (6, asked from 5) but not
    // after what the watch covered (6): nothing is lost.
    const lagging = { changes: CHANGES.slice(0, 2), asked: [] as string[], goneAfter: 2, applied: 6 };
    const fromSix = { changes: CHANGES.filter((change) => change.revision >= 7), asked: [] as string[], floor: 6 };
    const { watcher, drained, logs } = await watchFederated('restarted-compacted', { n4: lagging, n5: fromSix }, ['n5']);
    expect(drained).toBe(true);
    expect(watcher.complete).toBe(true);
    expect(watcher.events.map((event) => `${event.revision}`)).toEqual(['4', '6', '7', '9', '9', '12']);
    expect(logs.join('\n')).toContain('n5 restarted and its feed lacks the latest change the watch saw (revision 6)');
  });
});
