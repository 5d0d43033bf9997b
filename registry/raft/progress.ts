/**
 * The leader's view of one follower (or learner): how far its log matches, where to send next,
 * and the flow-control state.
 *
 * - `probe`: we do not know where the logs agree; send one append at a time and wait for its
 *   answer (or the next heartbeat) before sending another.
 * - `replicate`: the logs agree up to `match`; stream appends optimistically (`next` advances as
 *   we send), up to `inflightMessagesMax` messages and `inflightBytesMax` bytes unacknowledged.
 *   An append rejected only because earlier ones have not arrived yet (the network reordered
 *   them) pauses the stream until those are acknowledged, then it resumes from the rejected one
 *   (`rejectedInReplicate`); if they were lost, the stall check falls back to probe.
 * - `snapshot`: the follower needs entries we compacted; send the snapshot in chunks, one chunk
 *   in flight, and go back to `probe` once it is installed.
 *
 * Invariant (asserted): 0 <= match < next.
 */
import { assert } from '../../runtime/kernel/assert.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Probe: an append is out and unanswered. */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Highest heartbeat round acknowledged in the current term. */
  ackedRound = 0;
  /** Snapshot transfer: index of the snapshot and bytes the follower confirmed. */
  snapshotIndex = 0;
  snapshotOffset = 0;
  /** A chunk was acknowledged since the last heartbeat (no need to resend). */
  snapshotAcknowledged = false;
  /** Replicate: leader ticks since an append was last acknowledged while some are in flight. */
  stalledTicks = 0;
  /** Highest commit index we told this follower. */
  commitSent = 0;
  /** Replicate: an append was rejected for a gap that appends still in flight will fill. */
  gapWait = false;
  /** Replicate: previous index, last index and size of each unacknowledged append, oldest first. */
  readonly inflightPrevIndexes: number[] = [];
  readonly inflightLastIndexes: number[] = [];
  readonly inflightSizes: number[] = [];
  inflightBytes = 0;
  isLearner: boolean;

  constructor(next: number, isLearner: boolean) {
    this.next = next;
    this.isLearner = isLearner;
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.snapshotIndex + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = 'probe';
    this.probeSent = false;
    this.resetInflights();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.resetInflights();
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = 'snapshot';
    this.snapshotIndex = snapshotIndex;
    this.snapshotOffset = 0;
    this.resetInflights();
  }

  /** A success response for `index`: returns whether anything advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
      this.stalledTicks = 0;
    }
    if (this.next < index + 1) this.next = index + 1;
    this.freeUpTo(index);
    assert(this.match < this.next, 'progress: match < next');
    return updated;
  }

  /**
   * A rejection of an append whose prevIndex was `rejected`; `hint` is the highest index the
   * logs may agree on. Returns false for a stale rejection.
   */
  maybeDecreaseTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** May we send an append now? */
  isPaused(inflightMessagesMax: number, inflightBytesMax: number): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.gapWait || this.inflightLastIndexes.length >= inflightMessagesMax || this.inflightBytes >= inflightBytesMax;
      case 'snapshot':
        return true;
    }
  }

  /**
   * Replicate: the append after `prevIndex` was rejected by a follower that agrees with us up to
   * `match`. `stale`: no such append is outstanding (it was already answered or forgotten);
   * ignore it. `gap`: appends before it are still in flight, so the follower only lacks what
   * they carry (the network reordered them): forget the rejected append and those after it
   * (they fail for the same gap), send again from `prevIndex + 1`, and nothing until the earlier
   * ones are acknowledged. `probe`: it was the oldest outstanding append; find where we agree.
   */
  rejectedInReplicate(prevIndex: number): 'stale' | 'gap' | 'probe' {
    assert(this.state === 'replicate', 'progress: replicate state');
    const position = this.inflightPrevIndexes.indexOf(prevIndex);
    if (position < 0) return 'stale';
    if (position === 0) return 'probe';
    for (let k = position; k < this.inflightSizes.length; k++) this.inflightBytes -= this.inflightSizes[k] as number;
    this.inflightPrevIndexes.length = position;
    this.inflightLastIndexes.length = position;
    this.inflightSizes.length = position;
    if (this.next > prevIndex + 1) this.next = prevIndex + 1;
    this.gapWait = true;
    assert(this.match < this.next, 'progress: match < next');
    return 'gap';
  }

  /** Record an append sent with entries `prevIndex + 1 .. lastIndex` of `bytes` bytes. */
  sentEntries(prevIndex: number, lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      this.next = lastIndex + 1;
      this.inflightPrevIndexes.push(prevIndex);
      this.inflightLastIndexes.push(lastIndex);
      this.inflightSizes.push(bytes);
      this.inflightBytes += bytes;
    } else {
      this.probeSent = true;
    }
  }

  freeUpTo(index: number): void {
    let count = 0;
    while (count < this.inflightLastIndexes.length && (this.inflightLastIndexes[count] as number) <= index) {
      this.inflightBytes -= this.inflightSizes[count] as number;
      count++;
    }
    if (count > 0) {
      this.inflightPrevIndexes.splice(0, count);
      this.inflightLastIndexes.splice(0, count);
      this.inflightSizes.splice(0, count);
    }
    if (this.inflightLastIndexes.length === 0) this.gapWait = false;
  }

  /**
   * Called every leader tick: in replicate state, appends in flight with no acknowledgement for
   * `stallTicksMax` ticks were probably lost; fall back to probe and resend from `match + 1`.
   */
  tickStall(stallTicksMax: number): void {
    if (this.state !== 'replicate' || this.inflightLastIndexes.length === 0) {
      this.stalledTicks = 0;
      return;
    }
    this.stalledTicks++;
    if (this.stalledTicks >= stallTicksMax) {
      this.stalledTicks = 0;
      this.becomeProbe();
    }
  }

  resetInflights(): void {
    this.inflightPrevIndexes.length = 0;
    this.inflightLastIndexes.length = 0;
    this.inflightSizes.length = 0;
    this.inflightBytes = 0;
    this.gapWait = false;
  }
}
