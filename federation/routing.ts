/**
 * Routing decisions for gateways and clients: pure functions of a directory view, plus the
 * client-side directory cache. No I/O; gateways call these and act on the answer.
 *
 * - `homeGroup(view, name)`: the owner of `slotOf(name)`.
 * - `routeRequest(view, here, name, kind)`: what group `here` does with a request for `name`:
 *   `serve` it; answer `moved` (with the owner, its record and the slot's revision) when it does
 *   not own the slot; answer `wait` when the slot is fenced by a move this group takes part in.
 *   While a slot moves, *writes* are served by no group at all; *reads* are served by the
 *   source, whose copy is frozen by the fence and still authoritative.
 *   Contract for the mover (the gateway layer): the source group commits the fence in its own
 *   log, and the copy is read at or after that index, before `mark_copied` is proposed, so no
 *   write can slip into the source after the copy.
 * - `orderGateways` / `pickGateway`: which gateway of a group to use. Connected ones first, then
 *   ones believed alive, then unknown ones; down or already-failed ones never. Within a tier the
 *   order is rendezvous hashing on a spread key (the caller's node name), so callers spread
 *   evenly over gateways and each caller keeps using the same one; failing over is taking the
 *   next of the list. A caller that is itself a gateway of the group uses itself.
 * - `DirectoryCache`: a group's or client's copy of the directory, fed by snapshots, watch
 *   events and `moved` answers. It never goes backwards: a group record is replaced only by one
 *   of a higher revision, a slot only by news of a higher slot revision, and a snapshot older
 *   than what the cache has seen is ignored. A watch event that does not follow the cache's
 *   revision is reported as a `gap` (the caller re-reads a snapshot).
 */
import type {
  DirectoryEvent,
  DirectorySnapshot,
  DirectoryView,
  Gateway,
  GroupId,
  GroupRecord,
  SlotMove,
} from './directory.js';
import { SLOT_COUNT, hash32, isSlot, slotOf } from './slots.js';

export type RequestKind = 'read' | 'write';

/** How long a caller waits before retrying a request that got `wait` (a slot being moved). */
export const MOVE_WAIT_RETRY_MS = 50;
/** Most `moved` redirects a caller follows for one request before reporting `unavailable`. */
export const MOVED_REDIRECTS_MAX = 5;

export interface MovedAnswer {
  readonly slot: number;
  readonly owner: GroupId;
  readonly slotRevision: number;
  /** The slot's move in progress at `slotRevision`, if any (a cache stores the slot as a whole). */
  readonly move: SlotMove | null;
  /** The owner's record as the answering group knows it (gateways to go to), if it knows it. */
  readonly group: GroupRecord | undefined;
}

export type RouteDecision =
  | { readonly action: 'serve'; readonly slot: number }
  | ({ readonly action: 'moved' } & MovedAnswer)
  | { readonly action: 'wait'; readonly slot: number; readonly move: SlotMove; readonly retryAfterMs: number }
  | { readonly action: 'unavailable'; readonly slot: number; readonly reason: string };

/** The home group of a name, or undefined before the directory knows the slot's owner. */
export function homeGroup(view: DirectoryView, name: string): GroupId | undefined {
  return view.ownerOf(slotOf(name));
}

/** What group `here` does with a `kind` request for `name`. */
export function routeRequest(view: DirectoryView, here: GroupId, name: string, kind: RequestKind): RouteDecision {
  return routeSlot(view, here, slotOf(name), kind);
}

/** What group `here` does with a `kind` request for a name in `slot`. */
export function routeSlot(view: DirectoryView, here: GroupId, slot: number, kind: RequestKind): RouteDecision {
  if (!isSlot(slot)) return { action: 'unavailable', slot, reason: `slot ${String(slot)} is not in [0, ${SLOT_COUNT})` };
  const owner = view.ownerOf(slot);
  if (owner === undefined) return { action: 'unavailable', slot, reason: 'the directory does not know this slot yet' };
  const move = view.moveOf(slot);
  if (move !== undefined && (here === move.from || here === move.to)) {
    if (kind === 'read' && here === move.from) return { action: 'serve', slot };
    if (kind === 'write') return { action: 'wait', slot, move, retryAfterMs: MOVE_WAIT_RETRY_MS };
  }
  if (owner === here) return { action: 'serve', slot };
  return { action: 'moved', slot, owner, slotRevision: view.slotRevision(slot), move: move ?? null, group: view.group(owner) };
}

/** What a caller knows of a gateway node's link. */
export type GatewayHealth = 'connected' | 'alive' | 'unknown' | 'down';

const HEALTH_TIER: Readonly<Record<GatewayHealth, number>> = { connected: 0, alive: 1, unknown: 2, down: 3 };

/**
 * The gateways to try, best first: by health tier, then by rendezvous hash of `spreadKey` and
 * the gateway's node. `down` gateways and those in `excluded` (already failed) are left out.
 */
export function orderGateways(
  gateways: readonly Gateway[],
  spreadKey: string,
  health: (node: string) => GatewayHealth,
  excluded: ReadonlySet<string> = new Set(),
): Gateway[] {
  const ranked: Array<{ gateway: Gateway; tier: number; score: number }> = [];
  for (const gateway of gateways) {
    const tier = HEALTH_TIER[health(gateway.node)];
    if (tier === HEALTH_TIER.down || excluded.has(gateway.node)) continue;
    ranked.push({ gateway, tier, score: hash32(`${spreadKey}\u0000${gateway.node}`) });
  }
  ranked.sort((a, b) => a.tier - b.tier || b.score - a.score || (a.gateway.node < b.gateway.node ? -1 : 1));
  return ranked.map((entry) => entry.gateway);
}

/** The gateway to use now, or undefined if none is usable (the group is unreachable). */
export function pickGateway(
  gateways: readonly Gateway[],
  spreadKey: string,
  health: (node: string) => GatewayHealth,
  excluded: ReadonlySet<string> = new Set(),
): Gateway | undefined {
  return orderGateways(gateways, spreadKey, health, excluded)[0];
}

export type CacheUpdate = 'applied' | 'stale' | 'gap';

/** A copy of the directory that only moves forward (see the file comment). */
export class DirectoryCache implements DirectoryView {
  #revision = 0;
  #rootGroup: GroupId | undefined;
  readonly #groups = new Map<GroupId, GroupRecord>();
  readonly #owners: Array<GroupId | undefined> = new Array<GroupId | undefined>(SLOT_COUNT).fill(undefined);
  readonly #slotRevisions: number[] = new Array<number>(SLOT_COUNT).fill(0);
  readonly #moves = new Map<number, SlotMove>();

  get revision(): number {
    return this.#revision;
  }

  get rootGroup(): GroupId | undefined {
    return this.#rootGroup;
  }

  ownerOf(slot: number): GroupId | undefined {
    return this.#owners[slot];
  }

  moveOf(slot: number): SlotMove | undefined {
    return this.#moves.get(slot);
  }

  slotRevision(slot: number): number {
    return this.#slotRevisions[slot] ?? 0;
  }

  group(id: GroupId): GroupRecord | undefined {
    return this.#groups.get(id);
  }

  groups(): GroupRecord[] {
    return [...this.#groups.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  homeOf(name: string): GroupId | undefined {
    return this.#owners[slotOf(name)];
  }

  /**
   * What this cache knows, in the directory's snapshot form (unknown slots have owner `''`), so
   * a cache can seed another one (gateways share their view when the root is unreachable).
   */
  snapshot(): DirectorySnapshot {
    return {
      version: 1,
      appliedIndex: this.#revision,
      revision: this.#revision,
      rootGroup: this.#rootGroup ?? null,
      groups: this.groups(),
      owners: this.#owners.map((owner) => owner ?? ''),
      slotRevisions: [...this.#slotRevisions],
      moves: [...this.#moves.values()].sort((a, b) => a.slot - b.slot),
    };
  }

  /** Merge a full snapshot; ignored (`stale`) if older than what this cache follows. */
  applySnapshot(snapshot: DirectorySnapshot): CacheUpdate {
    if (snapshot.revision < this.#revision) return 'stale';
    if (snapshot.rootGroup !== null) this.#rootGroup = snapshot.rootGroup;
    for (const record of snapshot.groups) this.#mergeGroup(record);
    const moves = new Map(snapshot.moves.map((move) => [move.slot, move]));
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const owner = snapshot.owners[slot];
      if (owner === undefined || owner === '') continue;
      this.#mergeSlot(slot, owner, moves.get(slot), snapshot.slotRevisions[slot] ?? 0);
    }
    this.#revision = snapshot.revision;
    return 'applied';
  }

  /** Apply the next watch event: `stale` if already seen, `gap` if events were missed. */
  applyEvent(event: DirectoryEvent): CacheUpdate {
    if (event.revision <= this.#revision) return 'stale';
    if (event.previousRevision !== this.#revision) return 'gap';
    for (const change of event.changes) {
      if (change.type === 'group') this.#mergeGroup(change.group);
      else if (change.type === 'slot') this.#mergeSlot(change.slot, change.owner, change.move ?? undefined, change.slotRevision);
      else this.#mergeAllSlots(change.owner, change.slotRevision);
    }
    this.#revision = event.revision;
    return 'applied';
  }

  /** Learn from a `moved` answer. Returns whether the cache changed. */
  applyMoved(answer: MovedAnswer): boolean {
    if (!isSlot(answer.slot)) return false;
    const groupChanged = answer.group !== undefined && this.#mergeGroup(answer.group);
    const slotChanged = this.#mergeSlot(answer.slot, answer.owner, answer.move ?? undefined, answer.slotRevision);
    return groupChanged || slotChanged;
  }

  #mergeGroup(record: GroupRecord): boolean {
    const known = this.#groups.get(record.id);
    if (known !== undefined && known.revision >= record.revision) return false;
    this.#groups.set(record.id, record);
    return true;
  }

  #mergeSlot(slot: number, owner: GroupId, move: SlotMove | undefined, slotRevision: number): boolean {
    if (slotRevision <= (this.#slotRevisions[slot] ?? 0)) return false;
    this.#owners[slot] = owner;
    this.#slotRevisions[slot] = slotRevision;
    if (move === undefined) this.#moves.delete(slot);
    else this.#moves.set(slot, move);
    return true;
  }

  #mergeAllSlots(owner: GroupId, slotRevision: number): void {
    if (this.#rootGroup === undefined) this.#rootGroup = owner;
    for (let slot = 0; slot < SLOT_COUNT; slot++) this.#mergeSlot(slot, owner, undefined, slotRevision);
  }
}
