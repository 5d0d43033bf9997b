// The federated node's watch feed (cli/global-watch.ts) over a real GlobalNames state machine
// applied at increasing indexes. It proves the feed never answers a poll with a silent gap: it
// starts at the replica's applied index (at a restart, the replayed log is not in it), so a
// poll from before that is `compacted`; a snapshot installed later starts it again at the
// snapshot's index, and a poller waiting from before it is told `compacted` rather than given
// the snapshot's changes as if they were the next ones; polls from the floor on see every later
// change in order.
import { describe, expect, it } from 'vitest';
import { GlobalWatchFeed, type FeedReplica } from '../../cli/global-watch.js';
import { GlobalNames, type GlobalCommand } from '../../federation/index.js';
import type { AppliedEvent } from '../../registry/index.js';
import { Pid, isFedError } from '../../runtime/index.js';

const P1 = new Pid('a1@127.0.0.1', 1, 1);

/** A replica as the feed sees a group's: the applied index, and the apply events (here: a restore). */
class Replica implements FeedReplica {
  readonly names = new GlobalNames();
  readonly state = { appliedIndex: 0 };
  readonly #listeners = new Set<(event: AppliedEvent) => void>();

  onApply(listener: (event: AppliedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  run(cmd: GlobalCommand): void {
    this.state.appliedIndex++;
    this.names.apply(this.state.appliedIndex, cmd);
  }

  /** Install `from`'s state as a snapshot at its applied index, as a group does. */
  install(from: Replica): void {
    this.names.restore(structuredClone(from.names.snapshot()));
    this.state.appliedIndex = from.state.appliedIndex;
    for (const listener of this.#listeners) listener({ type: 'restore', index: this.state.appliedIndex });
  }
}

function compacted(error: unknown): boolean {
  return isFedError(error, 'badarg') && (error as { details?: { compacted?: boolean } }).details?.compacted === true;
}

describe('fedctl watch feed — no silent gaps', () => {
  it('starts at the applied index: a poll from before is compacted, from it on every change comes', async () => {
    const replica = new Replica();
    replica.run({ op: 'claim_all' });
    for (let index = 0; index < 4; index++) replica.run({ op: 'register', name: `before:${index}`, pid: P1 });
    const feed = new GlobalWatchFeed(replica.names, replica);
    try {
      expect(replica.state.appliedIndex).toBe(5);
      expect(compacted(await feed.next('', 3, 0).catch((error: unknown) => error))).toBe(true);
      replica.run({ op: 'register', name: 'after', pid: P1 });
      const { events, revision } = await feed.next('', 5, 0);
      expect(events.map((event) => [event.type, event.name])).toEqual([['put', 'after']]);
      expect(revision).toBe(6);
      expect(await feed.next('', 6, 0)).toEqual({ events: [], revision: 6 });
    } finally {
      feed.close();
    }
  });

  it('a snapshot installed later compacts what came before it, also for a poller already waiting', async () => {
    const leader = new Replica();
    const follower = new Replica();
    for (const replica of [leader, follower]) replica.run({ op: 'claim_all' });
    const feed = new GlobalWatchFeed(follower.names, follower);
    try {
      follower.run({ op: 'register', name: 'seen', pid: P1 });
      leader.run({ op: 'register', name: 'seen', pid: P1 });
      for (let index = 0; index < 10; index++) leader.run({ op: 'register', name: `missed:${index}`, pid: P1 });
      const waiting = feed.next('', 2, 10_000).catch((error: unknown) => error);
      follower.install(leader);
      expect(compacted(await waiting)).toBe(true);
      expect(compacted(await feed.next('', 2, 0).catch((error: unknown) => error))).toBe(true);
      follower.run({ op: 'register', name: 'later', pid: P1 });
      const { events } = await feed.next('', follower.state.appliedIndex - 1, 0);
      expect(events.map((event) => event.name)).toEqual(['later']);
    } finally {
      feed.close();
    }
  });
});
