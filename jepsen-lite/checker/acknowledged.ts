/**
 * The acknowledged-commits checker: every write a node acknowledged ("ok", with the revision it
 * answered) is in the committed history of the name's group at that revision. A registration
 * that was acknowledged and never committed is a lost acknowledged write, whatever the clients
 * saw afterwards — the one lie a cut-off leader that acknowledges early can tell without any
 * later read to contradict it (its owner's own later operations, refused or timed out, would
 * explain to the other checkers why the name vanished).
 *
 * The committed history of a group is what its registry watch saw (registry-events.jsonl, one
 * file per group in a federation: revisions are per group). A register answered "ok" with
 * revision r (a new registration: the index that put the name; an idempotent one: the index of
 * the put that made the entry it found) is confirmed by a put of that name to that owner at r.
 * An unregister answered "ok" with revision r is confirmed by a delete of that name from that
 * owner at r; where an unregister of a free name is also "ok" (a federation's namespace:
 * `unregisterFree: 'ok'`), by no change of the name at r either.
 *
 * Sound for a correct registry (it never reports a write that committed), because it decides
 * only where the watch is known to have seen everything:
 * - an answer at a revision the watch did not cover, or inside a gap the watch reported
 *   (compacted before it saw it), is `undetermined` (verdict unknown, never a pass or a fail);
 * - where the watch reads one change per poll (`wholeRevisions: false`, a group's own registry
 *   watch), a put that shares its revision with a removal of the same name (a new incarnation's
 *   register drops the old pid's names first) can hide behind it — the only change such a
 *   watch can miss. For a register whose revision r shows only a delete of its name, the
 *   name's next change decides who held it after r: a delete from the owner proves the hidden
 *   put was the owner's, a delete from another pid or a put (the name was free) that it was
 *   not; with no later change, the final linearizable read decides the same way; with neither,
 *   `undetermined`. Each decides only over a stretch the watch saw whole: a gap between r and
 *   the next change may hide the name's real next change, and the final read decides only if
 *   the watch covered, with no gap after r, every revision it could have seen
 *   (`finalRevision`); otherwise `undetermined`. So an incomplete record makes unknown only
 *   the writes it cannot decide, not the whole verdict;
 * - an operation without a recorded revision or group is not checked (`unanswered`).
 */
import type { Operation } from '../history.js';
import type { RegistryEvent } from '../registry-events.js';
import type { Verdict } from './verdict.js';

type Change = Exclude<RegistryEvent, { type: 'gap' }>;

/** What a group's registry watch saw. */
export interface CommittedHistory {
  /** The watch's changes and gaps (registry-events.jsonl), in revision order. */
  readonly events: readonly RegistryEvent[];
  /** Every change up to this revision was seen or declared lost in a gap. */
  readonly coveredRevision: number;
  /** Whether each answer of the watch carried every change of its revisions. */
  readonly wholeRevisions: boolean;
  /**
   * The group's commit index read after the final reads: they saw no change above it. Absent:
   * not known, and the final reads decide nothing.
   */
  readonly finalRevision?: number;
}

export interface AcknowledgedOptions {
  /** Per group id, its committed history. */
  readonly groups: ReadonlyMap<string, CommittedHistory>;
  /** The final linearizable reads (name → holder or null), read before the watches drained. */
  readonly finalReads?: ReadonlyMap<string, string | null>;
  /** What an unregister of a free name answers: the group registry's `not_owner`, or a federation's `ok`. */
  readonly unregisterFree: 'not_owner' | 'ok';
}

export interface UncommittedWrite {
  readonly operation: Operation;
  /** What the committed history holds for the name at that revision. */
  readonly found: string;
  readonly message: string;
}

export interface AcknowledgedReport {
  readonly verdict: Verdict;
  /** Acknowledged writes with a revision and a group: the ones checked. */
  readonly checked: number;
  readonly confirmed: number;
  /** Checked writes the watch cannot decide (see the file comment), with why. */
  readonly undetermined: readonly string[];
  /** Acknowledged writes without a recorded revision or group. */
  readonly unanswered: number;
  readonly uncommitted: readonly UncommittedWrite[];
}

interface GroupIndex {
  readonly history: CommittedHistory;
  /** Changes by `revision name`. */
  readonly changes: Map<string, Change[]>;
  /** Each name's changes, in revision order. */
  readonly byName: Map<string, Change[]>;
  readonly gaps: readonly { readonly after: number; readonly upTo: number }[];
}

function index(history: CommittedHistory): GroupIndex {
  const changes = new Map<string, Change[]>();
  const byName = new Map<string, Change[]>();
  const gaps: { after: number; upTo: number }[] = [];
  for (const event of history.events) {
    if (event.type === 'gap') {
      gaps.push({ after: event.afterRevision, upTo: event.revision });
      continue;
    }
    const key = `${event.revision} ${event.name}`;
    changes.set(key, [...(changes.get(key) ?? []), event]);
    const ofName = byName.get(event.name) ?? [];
    ofName.push(event);
    byName.set(event.name, ofName);
  }
  for (const list of byName.values()) list.sort((a, b) => a.revision - b.revision);
  return { history, changes, byName, gaps };
}

function describeChanges(changes: readonly Change[]): string {
  if (changes.length === 0) return 'no change of the name';
  return changes.map((change) => (change.type === 'put' ? `a put to ${change.pid}` : `a delete from ${change.pid} (${change.reason})`)).join(' and ');
}

export function checkAcknowledgedCommits(operations: readonly Operation[], options: AcknowledgedOptions): AcknowledgedReport {
  const groups = new Map([...options.groups].map(([id, history]) => [id, index(history)]));
  let checked = 0;
  let confirmed = 0;
  let unanswered = 0;
  const undetermined: string[] = [];
  const uncommitted: UncommittedWrite[] = [];
  for (const operation of operations) {
    if (operation.removal !== undefined || operation.type !== 'ok' || operation.output !== 'ok') continue;
    if (operation.f !== 'register' && operation.f !== 'unregister') continue;
    const { revision, group } = operation;
    if (revision === undefined || group === undefined) {
      unanswered++;
      continue;
    }
    checked++;
    const where = `${operation.f} of ${JSON.stringify(operation.name)} by ${operation.input} acknowledged at revision ${revision} of group ${group} (history line ${operation.completeLine})`;
    const groupIndex = groups.get(group);
    if (groupIndex === undefined) {
      undetermined.push(`${where}: no committed history of group ${group}`);
      continue;
    }
    if (revision > groupIndex.history.coveredRevision) {
      undetermined.push(`${where}: the watch covered only up to revision ${groupIndex.history.coveredRevision}`);
      continue;
    }
    const gap = groupIndex.gaps.find((candidate) => revision > candidate.after && revision <= candidate.upTo);
    if (gap !== undefined) {
      undetermined.push(`${where}: revisions ${gap.after + 1}–${gap.upTo} are a gap in what the watch saw`);
      continue;
    }
    const changes = groupIndex.changes.get(`${revision} ${operation.name}`) ?? [];
    const owner = operation.input as string;
    const verdict =
      operation.f === 'register'
        ? judgeRegister(changes, owner, groupIndex, revision, operation.name, options.finalReads)
        : judgeUnregister(changes, owner, options.unregisterFree);
    if (verdict === 'confirmed') confirmed++;
    else if (verdict === 'undetermined') undetermined.push(`${where}: only a delete of the name is known at that revision (a put there may be unseen) and nothing later the watch saw whole decides`);
    else {
      const found = describeChanges(changes);
      uncommitted.push({ operation, found, message: `${where} never committed: at revision ${revision} the committed history has ${found}` });
    }
  }
  const verdict: Verdict = uncommitted.length > 0 ? 'fail' : undetermined.length > 0 ? 'unknown' : 'pass';
  return { verdict, checked, confirmed, undetermined, unanswered, uncommitted };
}

/**
 * The operations, with the group filled in on acknowledged writes whose answer did not name it
 * (fedctl answers an unregister with `{name, revision}` only): the only group, or the one group
 * whose committed history has changes of the name (a name's changes are all in its home group's
 * history while the slots stay put). A name no history has (never registered) stays without.
 */
export function withHomeGroups(operations: readonly Operation[], groups: ReadonlyMap<string, CommittedHistory>): Operation[] {
  const homes = new Map<string, Set<string>>();
  for (const [group, history] of groups) {
    for (const event of history.events) {
      if (event.type === 'gap') continue;
      const set = homes.get(event.name) ?? new Set<string>();
      set.add(group);
      homes.set(event.name, set);
    }
  }
  const only = groups.size === 1 ? [...groups.keys()][0] : undefined;
  return operations.map((operation) => {
    if (operation.group !== undefined || operation.type !== 'ok' || (operation.f !== 'register' && operation.f !== 'unregister')) return operation;
    const found = homes.get(operation.name);
    const group = only ?? (found?.size === 1 ? [...found][0] : undefined);
    return group === undefined ? operation : { ...operation, group };
  });
}

type Judgement = 'confirmed' | 'undetermined' | 'uncommitted';

function judgeRegister(
  changes: readonly Change[],
  owner: string,
  group: GroupIndex,
  revision: number,
  name: string,
  finalReads: ReadonlyMap<string, string | null> | undefined,
): Judgement {
  if (changes.some((change) => change.type === 'put' && change.pid === owner)) return 'confirmed';
  const hiddenPutPossible = !group.history.wholeRevisions && changes.length > 0 && changes.every((change) => change.type === 'delete');
  if (!hiddenPutPossible) return 'uncommitted';
  // Only puts hide, and only behind a delete of their name at their revision: the name's next
  // change (or, with none, its final read) says who held it after `revision`.
  // Either decides only if the watch saw every change in between (no gap after `revision`, before what decides).
  const gapAfter = (upTo: number): boolean => group.gaps.some((gap) => gap.after >= revision && gap.after < upTo);
  const next = (group.byName.get(name) ?? []).find((change) => change.revision > revision);
  if (next !== undefined) {
    if (gapAfter(next.revision)) return 'undetermined';
    return next.type === 'delete' && next.pid === owner ? 'confirmed' : 'uncommitted';
  }
  const { finalRevision, coveredRevision } = group.history;
  if (finalReads === undefined || !finalReads.has(name) || finalRevision === undefined || coveredRevision < finalRevision || gapAfter(finalRevision + 1)) return 'undetermined';
  return finalReads.get(name) === owner ? 'confirmed' : 'uncommitted';
}

function judgeUnregister(changes: readonly Change[], owner: string, unregisterFree: 'not_owner' | 'ok'): Judgement {
  const deletedFromOwner = changes.some((change) => change.type === 'delete' && change.pid === owner);
  if (deletedFromOwner) return 'confirmed';
  return unregisterFree === 'ok' && changes.length === 0 ? 'confirmed' : 'uncommitted';
}
