/**
 * The change feed behind `fedctl watch` on a federated node: the changes to the names homed in
 * this node's group (its share of the global namespace, `GlobalNames`), kept in order so a
 * poller can resume after a revision, as the group registry's own watch does.
 *
 * Contract: at most `GLOBAL_WATCH_EVENTS_MAX` events are kept; asking for events after a
 * revision whose successors were dropped is `compacted` (`badarg` with `details.compacted`, the
 * same answer as the group registry's watch). The feed starts at the replica's applied index
 * (what was applied before it existed, at a restart the whole replayed log, it does not hold),
 * and a snapshot installed later starts it again at the snapshot's index: changes carried in by
 * a snapshot are not events, so a poll from before either is `compacted` too, never a silent gap.
 */
import { fedError } from '../runtime/index.js';
import type { GlobalChange, GlobalNames } from '../federation/index.js';
import type { AppliedEvent } from '../registry/index.js';

/** What the feed needs of the member's group: where its replica stands, and when a snapshot replaces it. */
export interface FeedReplica {
  readonly state: { readonly appliedIndex: number };
  onApply(listener: (event: AppliedEvent) => void): () => void;
}

export const GLOBAL_WATCH_EVENTS_MAX = 10_000;

export class GlobalWatchFeed {
  readonly #events: GlobalChange[] = [];
  #floorRevision: number;
  readonly #waiters = new Set<() => void>();
  readonly #unsubscribe: Array<() => void>;

  constructor(global: GlobalNames, replica: FeedReplica) {
    this.#floorRevision = replica.state.appliedIndex;
    this.#unsubscribe = [
      global.onChange((change) => {
        this.#events.push(change);
        if (this.#events.length > GLOBAL_WATCH_EVENTS_MAX) {
          const dropped = this.#events.splice(0, this.#events.length - GLOBAL_WATCH_EVENTS_MAX);
          this.#floorRevision = (dropped[dropped.length - 1] as GlobalChange).revision;
        }
        this.#wake();
      }),
      // The snapshot's own changes came just before (GlobalNames.restore): dropped with the rest.
      replica.onApply((event) => {
        if (event.type !== 'restore') return;
        this.#events.length = 0;
        this.#floorRevision = Math.max(this.#floorRevision, event.index);
        this.#wake();
      }),
    ];
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#wake();
    this.#waiters.clear();
  }

  /**
   * The first changes under `prefix` after `afterRevision` (-1: from now on), waiting up to
   * `waitMs` for one. Resolves with `[]` when none came in time.
   */
  async next(prefix: string, afterRevision: number, waitMs: number): Promise<{ events: GlobalChange[]; revision: number }> {
    const from = afterRevision >= 0 ? afterRevision : this.#lastRevision();
    const deadline = Date.now() + waitMs;
    for (;;) {
      // Checked on every wake too: a snapshot installed while we waited compacts `from`.
      if (from < this.#floorRevision) throw fedError('badarg', `watch: revisions after ${from} were compacted; re-read`, { compacted: true });
      const events = this.#events.filter((event) => event.revision > from && event.name.startsWith(prefix));
      if (events.length > 0) return { events, revision: (events[events.length - 1] as GlobalChange).revision };
      const remaining = deadline - Date.now();
      if (remaining <= 0) return { events: [], revision: Math.max(from, this.#lastRevision()) };
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, remaining);
        this.#waiters.add(done);
      });
    }
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }

  #lastRevision(): number {
    return this.#events[this.#events.length - 1]?.revision ?? this.#floorRevision;
  }
}
