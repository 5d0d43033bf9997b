/**
 * Rebalancing plan: a pure function from a directory view to the slot moves that give every
 * active group an even share of the slots (each gets ⌊S/k⌋ or ⌈S/k⌉ of the S slots, k active
 * groups), moving as few slots as possible. Draining groups get a share of zero.
 *
 * Why the plan is minimal: a group above its target must give away at least its excess, and
 * a plan moves exactly the sum of the excesses. Which groups get the ⌈S/k⌉ shares is chosen
 * to make that sum smallest: the groups that already hold the most slots (ties by group id).
 * No group both gives and receives.
 *
 * Slots already moving are pinned: they count for their destination and are never planned
 * again. If pinned slots leave a group above its target with too few movable slots, the plan
 * moves what it can; planning again after those moves finish completes the balance.
 *
 * The plan is deterministic (same view, same plan) and donors give their highest-numbered
 * movable slots first.
 */
import type { DirectoryView, GroupId } from './directory.js';
import { SLOT_COUNT } from './slots.js';

export interface PlannedMove {
  readonly slot: number;
  readonly from: GroupId;
  readonly to: GroupId;
}

export interface RebalanceOptions {
  /** A group that is about to be added (not yet in the directory): plan as if it were active. */
  readonly addGroup?: GroupId;
}

function byId(a: GroupId, b: GroupId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Effective slot counts (moving slots count for their destination) and movable slots per owner. */
function countSlots(view: DirectoryView): { counts: Map<GroupId, number>; movable: Map<GroupId, number[]> } {
  const counts = new Map<GroupId, number>();
  const movable = new Map<GroupId, number[]>();
  for (let slot = SLOT_COUNT - 1; slot >= 0; slot--) {
    const owner = view.ownerOf(slot);
    if (owner === undefined) continue;
    const move = view.moveOf(slot);
    const effective = move === undefined ? owner : move.to;
    counts.set(effective, (counts.get(effective) ?? 0) + 1);
    if (move !== undefined) continue;
    let list = movable.get(owner);
    if (list === undefined) movable.set(owner, (list = []));
    list.push(slot);
  }
  return { counts, movable };
}

/** Target slot count per active group: ⌈S/k⌉ for the groups holding most now, ⌊S/k⌋ for the rest. */
export function rebalanceTargets(view: DirectoryView, options: RebalanceOptions = {}): Map<GroupId, number> {
  const { counts } = countSlots(view);
  const active = view.groups().filter((group) => group.state === 'active').map((group) => group.id);
  if (options.addGroup !== undefined && view.group(options.addGroup) === undefined) active.push(options.addGroup);
  const targets = new Map<GroupId, number>();
  if (active.length === 0) return targets;
  const base = Math.floor(SLOT_COUNT / active.length);
  let extra = SLOT_COUNT % active.length;
  active.sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || byId(a, b));
  for (const id of active) {
    targets.set(id, base + (extra > 0 ? 1 : 0));
    if (extra > 0) extra--;
  }
  return targets;
}

/** The moves that balance the slots over the active groups (see the file comment). */
export function planRebalance(view: DirectoryView, options: RebalanceOptions = {}): PlannedMove[] {
  const targets = rebalanceTargets(view, options);
  if (targets.size === 0) return [];
  const { counts, movable } = countSlots(view);
  const receivers: Array<{ id: GroupId; deficit: number }> = [];
  for (const [id, target] of [...targets].sort((a, b) => byId(a[0], b[0]))) {
    const deficit = target - (counts.get(id) ?? 0);
    if (deficit > 0) receivers.push({ id, deficit });
  }
  const plan: PlannedMove[] = [];
  let receiverIndex = 0;
  for (const [donor, count] of [...counts].sort((a, b) => byId(a[0], b[0]))) {
    const excess = count - (targets.get(donor) ?? 0);
    const slots = movable.get(donor) ?? [];
    for (let given = 0; given < Math.min(excess, slots.length); given++) {
      const receiver = receivers[receiverIndex];
      if (receiver === undefined) return plan;
      plan.push({ slot: slots[given] as number, from: donor, to: receiver.id });
      receiver.deficit--;
      if (receiver.deficit === 0) receiverIndex++;
    }
  }
  return plan;
}
