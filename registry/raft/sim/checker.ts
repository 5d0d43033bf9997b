/**
 * The simulator's safety checker: it watches every member's log, commit index, applied entries,
 * snapshots, elections and reads, and throws `SafetyViolation` the moment a Raft safety property
 * breaks:
 *
 * - election safety: at most one leader per term;
 * - log matching: an (index, term) pair names one entry everywhere, with one predecessor term
 *   (by induction, logs that agree at an index agree on the whole prefix);
 * - leader completeness: a new leader of term t holds every entry seen committed before term t;
 * - committed entries are never lost or changed: every member's committed prefix agrees with
 *   the entries first seen committed at each index;
 * - state-machine safety: no two members apply different entries at one index (and a snapshot
 *   installed at index i carries the same state hash as applying the log up to i);
 * - linearizable reads: a ReadIndex read started when index c was known committed anywhere is
 *   served at a read index >= c (so it observes every write completed before it started).
 */
import type { Entry, NodeId, RaftNode } from '../index.js';

/** The properties the checker enforces, by name (a `SafetyViolation` names the one it broke). */
export const SAFETY_INVARIANTS = [
  'election_safety',
  'log_matching',
  'leader_completeness',
  'committed_never_lost',
  'state_machine_safety',
  'linearizable_reads',
] as const;

export type SafetyInvariant = (typeof SAFETY_INVARIANTS)[number];

export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';

  /** `nodes`: the members whose state conflicts (what a failure report follows). */
  constructor(
    readonly invariant: SafetyInvariant,
    detail: string,
    readonly nodes: readonly NodeId[],
  ) {
    super(`${invariant.replaceAll('_', ' ')}: ${detail}`);
  }
}

interface CommittedRecord {
  readonly term: number;
  readonly key: string;
  /** The observer's term when first seen committed (>= the term it was committed in). */
  readonly seenInTerm: number;
  readonly node: NodeId;
}

interface PairRecord {
  readonly key: string;
  readonly prevTerm: number;
  readonly node: NodeId;
}

export function entryKey(entry: Entry): string {
  if (entry.type === 'normal') return typeof entry.data === 'string' ? entry.data : JSON.stringify(entry.data);
  if (entry.type === 'noop') return 'noop';
  return `conf:${JSON.stringify(entry.data)}`;
}

export class SafetyChecker {
  readonly #leaders = new Map<number, NodeId>();
  readonly #pairs = new Map<string, PairRecord>();
  readonly #committed: CommittedRecord[] = [];
  readonly #applied: { readonly key: string; readonly node: NodeId }[] = [];
  readonly #stateHashes: number[] = [];
  /** Per member: the highest commit index whose prefix was checked. */
  readonly #checkedCommit = new Map<NodeId, number>();
  committedMax = 0;
  appliedCount = 0;
  readsChecked = 0;

  onLeader(node: NodeId, term: number, raft: RaftNode): void {
    const existing = this.#leaders.get(term);
    if (existing !== undefined && existing !== node) {
      throw new SafetyViolation('election_safety', `${existing} and ${node} both leaders of term ${term}`, [existing, node]);
    }
    this.#leaders.set(term, node);
    const status = raft.status();
    for (let index = 1; index <= this.committedMax; index++) {
      const record = this.#committed[index];
      if (record === undefined || record.seenInTerm >= term) continue;
      if (index < status.snapshotIndex) continue;
      if (raft.termAt(index) !== record.term) {
        throw new SafetyViolation(
          'leader_completeness',
          `${node} leads term ${term} without committed entry ${index} (term ${record.term}, ${record.key}, seen committed on ${record.node})`,
          [node, record.node],
        );
      }
    }
  }

  /** Entries just persisted by `node`, consecutive; `firstPrevTerm`: the term before the first (-1: unknown). */
  onAppend(node: NodeId, entries: readonly Entry[], firstPrevTerm: number): void {
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k] as Entry;
      const prevTerm = k === 0 ? firstPrevTerm : (entries[k - 1] as Entry).term;
      const pair = `${entry.index}/${entry.term}`;
      const key = entryKey(entry);
      const existing = this.#pairs.get(pair);
      if (existing === undefined) {
        this.#pairs.set(pair, { key, prevTerm, node });
        continue;
      }
      if (existing.key !== key) {
        throw new SafetyViolation('log_matching', `${node} holds ${key} at ${pair}, ${existing.node} held ${existing.key}`, [node, existing.node]);
      }
      if (prevTerm !== -1 && existing.prevTerm !== -1 && existing.prevTerm !== prevTerm) {
        throw new SafetyViolation(
          'log_matching',
          `at ${pair} ${node} follows term ${prevTerm}, ${existing.node} term ${existing.prevTerm}`,
          [node, existing.node],
        );
      }
    }
  }

  /** Check the committed prefix of `node` against what was seen committed before. */
  onCommitState(node: NodeId, raft: RaftNode): void {
    const status = raft.status();
    let from = this.#checkedCommit.get(node) ?? 0;
    if (from > status.commit) from = 0;
    from = Math.max(from, status.snapshotIndex);
    for (let index = from + 1; index <= status.commit; index++) {
      const entry = raft.entryAt(index);
      const key = entryKey(entry);
      const record = this.#committed[index];
      if (record === undefined) {
        this.#committed[index] = { term: entry.term, key, seenInTerm: status.term, node };
        if (index > this.committedMax) this.committedMax = index;
      } else if (record.term !== entry.term || record.key !== key) {
        throw new SafetyViolation(
          'committed_never_lost',
          `${node} has ${key} (term ${entry.term}) committed at ${index}, ${record.node} had ${record.key} (term ${record.term})`,
          [node, record.node],
        );
      }
    }
    this.#checkedCommit.set(node, status.commit);
  }

  onApply(node: NodeId, entry: Entry, stateHash: number): void {
    const key = entryKey(entry);
    const existing = this.#applied[entry.index];
    if (existing === undefined) {
      this.#applied[entry.index] = { key, node };
      this.#stateHashes[entry.index] = stateHash;
      this.appliedCount++;
      return;
    }
    if (existing.key !== key) {
      throw new SafetyViolation(
        'state_machine_safety',
        `${node} applied ${key} at ${entry.index}, ${existing.node} applied ${existing.key}`,
        [node, existing.node],
      );
    }
    if (this.#stateHashes[entry.index] !== stateHash) {
      throw new SafetyViolation('state_machine_safety', `${node} reached a different state at ${entry.index} than ${existing.node}`, [
        node,
        existing.node,
      ]);
    }
  }

  onSnapshotRestore(node: NodeId, index: number, stateHash: number): void {
    const known = this.#stateHashes[index];
    if (known !== undefined && known !== stateHash) {
      throw new SafetyViolation('state_machine_safety', `${node} installed a snapshot at ${index} with a different state`, [node]);
    }
    if (known === undefined) this.#stateHashes[index] = stateHash;
  }

  onRead(node: NodeId, requestId: string, readIndex: number, committedAtStart: number): void {
    this.readsChecked++;
    if (readIndex < committedAtStart) {
      throw new SafetyViolation(
        'linearizable_reads',
        `read ${requestId} on ${node} served at index ${readIndex}, but ${committedAtStart} was committed before it started`,
        [node],
      );
    }
  }
}
