/**
 * The leader's view of one follower (or learner): how far its log matches, where to send next,
 * and the flow-control state.
 *
 * - `probe`: we do not know where the logs agree; send one append at a time and wait for its
 *   answer (or the next heartbeat) before sending another.
 * - `replicate`: the logs agree up to `match`; stream appends optimistically (`next` advances as
 *   we send), up to `inflightMessagesMax` messages and `inflightBytesMax` bytes unacknowledged.
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
  /** Replicate: last index and size of each unacknowledged append, oldest first. */
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
        return this.inflightLastIndexes.length >= inflightMessagesMax || this.inflightBytes >= inflightBytesMax;
      case 'snapshot':
        return true;
    }
  }

  /** Is an append ending before `index` still unacknowledged? */
  hasInflightBelow(index: number): boolean {
    const oldest = this.inflightLastIndexes[0];
    return oldest !== undefined && oldest < index;
  }

  /** Record an append sent with entries up to `lastIndex` of `bytes` bytes. */
  sentEntries(lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      this.next = lastIndex + 1;
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
      this.inflightLastIndexes.splice(0, count);
      this.inflightSizes.splice(0, count);
    }
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
    this.inflightLastIndexes.length = 0;
    this.inflightSizes.length = 0;
    this.inflightBytes = 0;
  }
}
