/**
 * The decisions of the slot handover, as pure functions of a directory view and a group's slot
 * states, shared by the mover (`Federation#runMoveBatch`) and by every group's reconciler. No
 * I/O: callers turn the answers into `GlobalNames` commands (`accept`, `unfence`, `drop`), each
 * guarded by the move's revision in the group's own log, so acting on a stale view, twice, or
 * concurrently with another member changes nothing it should not.
 *
 * Why this is safe (the invariant: at most one group's log has a slot `owned`, and the names of
 * an owned slot are never dropped):
 * - A source leaves `fenced(m)` only by `unfence(m)` (back to owned) or `drop(m)`. `unfence(m)`
 *   is decided only once the directory has ended move m with the source still the owner (the
 *   move was aborted, so the destination will never accept it); `drop(m)` only once the
 *   directory names another owner.
 * - A destination leaves `importing(m)` by `accept(m)` only once the directory has ended move m
 *   with the destination the owner (`complete_move` ran, so the source is fenced for good), or
 *   by `drop(m)` once the directory has ended m with someone else the owner (aborted).
 * - The directory never revives a move: "move m is over" seen in any view stays true.
 * So a mover that sees a refused step (the root leader aborted its move as stalled) must not send
 * `accept`/`drop` as if the move had completed: it asks `moveOutcome` and undoes the move instead.
 */
import type { DirectoryView, GroupId, SlotMove } from './directory.js';
import type { SlotState, SlotStep } from './global-names.js';

/** What the directory says became of move `move` (named by its begin revision). */
export type MoveOutcome = 'in_progress' | 'completed' | 'aborted' | 'superseded';

/**
 * `in_progress`: the move is current, or the view has not seen it end. Once it is over:
 * `completed` when `move.to` owns the slot, `aborted` when `move.from` does, `superseded` when a
 * third group does (later moves ran; neither side may take the slot back on this move's behalf).
 * The steps each outcome allows: completed — accept(m) at `to`, drop(m) at `from`; aborted —
 * unfence(m) at `from`, drop(m) at `to`; superseded — drop(m) at both.
 */
export function moveOutcome(view: DirectoryView, move: Pick<SlotMove, 'slot' | 'from' | 'to' | 'revision'>): MoveOutcome {
  if (view.moveOf(move.slot)?.revision === move.revision || view.slotRevision(move.slot) <= move.revision) return 'in_progress';
  const owner = view.ownerOf(move.slot);
  return owner === move.to ? 'completed' : owner === move.from ? 'aborted' : 'superseded';
}

export interface ReconcileSteps {
  /** `importing(m)` here, the move over and this group the owner: take the slot. */
  readonly accept: SlotStep[];
  /** `fenced(m)` here, the move over (aborted) and this group still the owner: writable again. */
  readonly unfence: SlotStep[];
  /** `fenced(m)` or `importing(m)` here, the move over and another group the owner: forget the copy. */
  readonly drop: SlotStep[];
}

/**
 * The steps that bring group `self`'s slot states (`[slot, state, moveRevision]`, as
 * `GlobalNames.slots()` lists them) in line with `view`. Slots whose move is still under way
 * (or not yet seen to end) are left alone.
 */
export function reconcileSteps(slots: Iterable<readonly [number, SlotState, number]>, view: DirectoryView, self: GroupId): ReconcileSteps {
  const steps: ReconcileSteps = { accept: [], unfence: [], drop: [] };
  for (const [slot, state, moveRevision] of slots) {
    if (state === 'owned') continue;
    const current = view.moveOf(slot);
    const settled = view.slotRevision(slot) > moveRevision && current?.revision !== moveRevision;
    if (!settled) continue;
    const owner = view.ownerOf(slot);
    const step = { slot, moveRevision };
    if (owner === self && current === undefined) (state === 'importing' ? steps.accept : steps.unfence).push(step);
    else if (owner !== self) steps.drop.push(step);
  }
  return steps;
}
