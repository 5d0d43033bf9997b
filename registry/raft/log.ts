/**
 * `RaftLog`: the core's in-memory view of the log — the snapshot point, the entries after it,
 * the commit and apply indexes, which entries are not yet persisted, and the history of
 * configurations found in the log.
 *
 * Invariants (asserted): snapshotIndex <= applied <= committed <= lastIndex; entries are
 * consecutive; a committed entry is never truncated; terms in the log never decrease.
 *
 * Configuration is taken from the log as soon as an entry is appended (the single-server change
 * of the Raft dissertation, §4.1): `conf()` is the newest configuration entry in the log,
 * committed or not, and truncating that entry reverts to the previous one. `confAt(i)` is the
 * configuration in force at index i (for the snapshot of index i).
 */
import { assert } from '../../runtime/kernel/assert.js';
import { entryBytesEstimate } from './storage.js';
import type { AppendRequest, ConfChange, ConfState, Entry, NodeId } from './types.js';

interface ConfPoint {
  readonly index: number;
  readonly conf: ConfState;
}

export class RaftLog {
  snapshotIndex: number;
  snapshotTerm: number;
  /** `entries[k]` has index `snapshotIndex + 1 + k`. */
  entries: Entry[];
  committed: number;
  /** Highest index handed out in `committedEntries` and acknowledged by `advance()`. */
  applied: number;
  /** Highest index known durable (persisted by the driver and advanced). */
  stableIndex: number;
  /** First index not yet handed to the driver for persisting. */
  unstableFrom: number;
  #confs: ConfPoint[];

  constructor(snapshotIndex: number, snapshotTerm: number, conf: ConfState, entries: Entry[], committed: number) {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    this.entries = entries;
    this.#confs = [{ index: snapshotIndex, conf }];
    for (const entry of entries) this.#noteConf(entry);
    this.stableIndex = this.lastIndex();
    this.unstableFrom = this.lastIndex() + 1;
    assert(committed >= snapshotIndex && committed <= this.lastIndex(), `restart commit ${committed} outside the log`);
    this.committed = committed;
    this.applied = snapshotIndex;
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    const length = this.entries.length;
    return length === 0 ? this.snapshotTerm : (this.entries[length - 1] as Entry).term;
  }

  /** The term of entry `index`, or -1 when it is compacted away or beyond the end. */
  term(index: number): number {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return -1;
    return (this.entries[index - this.snapshotIndex - 1] as Entry).term;
  }

  entry(index: number): Entry {
    assert(index > this.snapshotIndex && index <= this.lastIndex(), `entry ${index} not in the log`);
    return this.entries[index - this.snapshotIndex - 1] as Entry;
  }

  matchTerm(index: number, term: number): boolean {
    const found = this.term(index);
    return found !== -1 && found === term;
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [low, high), at most `entriesMax` and (after the first) `bytesMax`. */
  slice(low: number, high: number, entriesMax: number, bytesMax: number): Entry[] {
    assert(low > this.snapshotIndex && high <= this.lastIndex() + 1, `slice [${low}, ${high}) outside the log`);
    const start = low - this.snapshotIndex - 1;
    let end = Math.min(high - this.snapshotIndex - 1, start + entriesMax);
    if (bytesMax !== Number.POSITIVE_INFINITY) {
      let bytes = 0;
      for (let k = start; k < end; k++) {
        bytes += entryBytesEstimate(this.entries[k] as Entry);
        if (bytes > bytesMax && k > start) {
          end = k;
          break;
        }
      }
    }
    return this.entries.slice(start, end);
  }

  /** Leader append: entries continue the log. */
  append(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, 'leader append must continue the log');
    assert(entry.term >= this.lastTerm(), 'terms in the log never decrease');
    this.entries.push(entry);
    this.#noteConf(entry);
  }

  /**
   * Follower append (AppendEntries receiver rules 2–4). Returns the index of the last entry the
   * message covers, or -1 if the log does not contain an entry at prevIndex with prevTerm.
   */
  maybeAppend(prevIndex: number, prevTerm: number, entries: readonly Entry[]): number {
    if (prevIndex < this.snapshotIndex) {
      // The prefix up to our snapshot is committed and so matches the leader's: skip it.
      const skip = this.snapshotIndex - prevIndex;
      if (skip > entries.length) return prevIndex + entries.length;
      const last = entries[skip - 1];
      if (skip > 0 && last !== undefined && last.term !== this.snapshotTerm) return -1;
      return this.maybeAppend(this.snapshotIndex, this.snapshotTerm, entries.slice(skip));
    }
    if (!this.matchTerm(prevIndex, prevTerm)) return -1;
    const lastNew = prevIndex + entries.length;
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k] as Entry;
      assert(entry.index === prevIndex + 1 + k, 'append entries must be consecutive');
      if (entry.index <= this.lastIndex() && this.term(entry.index) === entry.term) continue;
      this.#truncateFrom(entry.index);
      for (let j = k; j < entries.length; j++) this.append(entries[j] as Entry);
      break;
    }
    return lastNew;
  }

  #truncateFrom(index: number): void {
    if (index > this.lastIndex()) return;
    assert(index > this.committed, `truncating committed entry ${index} (commit ${this.committed})`);
    this.entries.length = index - this.snapshotIndex - 1;
    while ((this.#confs[this.#confs.length - 1] as ConfPoint).index >= index) this.#confs.pop();
    if (this.unstableFrom > index) this.unstableFrom = index;
    if (this.stableIndex >= index) this.stableIndex = index - 1;
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** Largest index <= `index` whose term is <= `term` (fast backtracking); stops at the snapshot. */
  findConflictByTerm(index: number, term: number): number {
    let candidate = Math.min(index, this.lastIndex());
    while (candidate > this.snapshotIndex) {
      if (this.term(candidate) <= term) return candidate;
      candidate--;
    }
    return candidate;
  }

  /** Replace everything with a snapshot received from the leader. */
  restore(index: number, term: number, conf: ConfState): void {
    assert(index > this.committed, 'restoring a snapshot older than the commit index');
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.entries = [];
    this.#confs = [{ index, conf }];
    this.committed = index;
    this.applied = index;
    this.stableIndex = index;
    this.unstableFrom = index + 1;
  }

  /** Drop the entries up to `index` (a snapshot of the state at `index` exists). */
  compact(index: number): void {
    assert(index <= this.applied, `compacting ${index} beyond applied ${this.applied}`);
    if (index <= this.snapshotIndex) return;
    const term = this.term(index);
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    let keep = 0;
    for (let k = 0; k < this.#confs.length; k++) if ((this.#confs[k] as ConfPoint).index <= index) keep = k;
    this.#confs = this.#confs.slice(keep);
  }

  conf(): ConfState {
    return (this.#confs[this.#confs.length - 1] as ConfPoint).conf;
  }

  /** Index of the newest configuration entry (the snapshot index when none follows it). */
  confIndex(): number {
    return (this.#confs[this.#confs.length - 1] as ConfPoint).index;
  }

  confAt(index: number): ConfState {
    let found: ConfPoint | undefined;
    for (const point of this.#confs) if (point.index <= index) found = point;
    assert(found !== undefined, `no configuration known at ${index}`);
    return found.conf;
  }

  #noteConf(entry: Entry): void {
    if (entry.type !== 'conf_change') return;
    this.#confs.push({ index: entry.index, conf: applyConfChange(this.conf(), entry.data as ConfChange) });
  }
}

/** The configuration after one change. Changes that do not apply leave it as it is. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== nodeOf(change));
  const learners = conf.learners.filter((id) => id !== nodeOf(change));
  switch (change.type) {
    case 'bootstrap':
      return { voters: [...change.voters], learners: [...change.learners] };
    case 'add_learner':
      if (conf.voters.includes(change.node)) return conf;
      return { voters, learners: [...learners, change.node] };
    case 'add_voter':
    case 'promote':
      return { voters: [...voters, change.node], learners };
    case 'remove':
      return { voters, learners };
  }
}

function nodeOf(change: ConfChange): NodeId | null {
  return change.type === 'bootstrap' ? null : change.node;
}

/**
 * `append` as two appends that together say what it says: its first half, then the rest from
 * where that half ends (a follower given both, in order, ends where the one would take it). A
 * driver's fallback for an append its transport cannot carry whole.
 */
export function splitAppend(append: AppendRequest): [AppendRequest, AppendRequest] {
  assert(append.entries.length > 1, 'an append of one entry cannot be split');
  const half = Math.ceil(append.entries.length / 2);
  const first = append.entries.slice(0, half);
  const last = first[first.length - 1] as Entry;
  return [
    { ...append, entries: first },
    { ...append, prevIndex: last.index, prevTerm: last.term, entries: append.entries.slice(half) },
  ];
}
