/**
 * The federation directory state machine, kept in the root group's Raft log. Pure and
 * deterministic: `apply(index, command)` is called with every committed entry in log order, on
 * every member of the root group, and gives the same state and result everywhere. No clock, no
 * randomness, no I/O.
 *
 * State: the groups (id, gateways, state `active` | `draining` | `removed`), the slot map (each
 * of `SLOT_COUNT` slots owned by exactly one group once the root is created) and the slot moves
 * in progress. `revision` is the Raft index of the last entry that changed anything; every group
 * record and every slot carries the revision of its own last change, so caches can merge
 * partial news (`moved` answers, watch events) without ever going backwards.
 *
 * Slot move protocol (so that no two groups ever accept registrations for the same name):
 *   1. `begin_move`    the slot is fenced: from this entry on, neither `from` nor `to` accepts
 *                      writes for it (they answer `wait`); `from` still serves reads.
 *   2. `mark_copied`   `to` holds a copy of the slot's names (still fenced).
 *   3. `complete_move` ownership switches to `to`, which accepts writes from now on; `from`
 *                      answers `moved` and drops its copy.
 *   `abort_move` (from phase 1 or 2) leaves `from` the owner; `to` drops any partial copy.
 * Every step names the move by its begin revision, so a step of an older, aborted move of the
 * same slot is refused (`stale_move`). The directory only records the protocol; the mover (the
 * gateway layer) must have the source commit the fence in its own log before it copies, and
 * the source drops its copy only after it has seen the switch. A destination drained during a
 * move still receives the slot; the next rebalancing plan moves it on.
 *
 * Every refusal is a typed result (`DirectoryRefusal`); a refused command changes nothing except
 * the applied index. Group ids are never reused: a removed group stays as a tombstone.
 */
import { type ErrorCode, type FedError, assert, fedError, isValidNodeName, partitionPoint } from '../runtime/index.js';
import { SLOT_COUNT, isSlot } from './slots.js';

export type GroupId = string;
export type GroupState = 'active' | 'draining' | 'removed';

export interface Gateway {
  /** Node name `name@host`. */
  readonly node: string;
  /** Where its hidden gateway listener is reached, e.g. `127.0.0.1:4370`. */
  readonly address: string;
}

export interface GroupRecord {
  readonly id: GroupId;
  readonly gateways: readonly Gateway[];
  readonly state: GroupState;
  readonly createRevision: number;
  /** Revision of the last change to this record. */
  readonly revision: number;
}

export type MovePhase = 'fenced' | 'copied';

export interface SlotMove {
  readonly slot: number;
  readonly from: GroupId;
  readonly to: GroupId;
  readonly phase: MovePhase;
  /** Revision of the `begin_move` entry: names the move in every later step. */
  readonly revision: number;
}

export type DirectoryCommand =
  | { readonly op: 'create_root'; readonly group: GroupId; readonly gateways: readonly Gateway[] }
  | { readonly op: 'add_group'; readonly group: GroupId; readonly gateways: readonly Gateway[] }
  | { readonly op: 'set_gateways'; readonly group: GroupId; readonly gateways: readonly Gateway[] }
  | { readonly op: 'drain_group'; readonly group: GroupId }
  | { readonly op: 'remove_group'; readonly group: GroupId }
  | { readonly op: 'begin_move'; readonly slot: number; readonly to: GroupId; readonly expectedFrom?: GroupId }
  | { readonly op: 'mark_copied'; readonly slot: number; readonly moveRevision: number }
  | { readonly op: 'complete_move'; readonly slot: number; readonly moveRevision: number }
  | { readonly op: 'abort_move'; readonly slot: number; readonly moveRevision: number }
  | { readonly op: 'noop' }
  /** Several commands at one index (a mover's pipelined steps); each answers on its own in `results`. */
  | { readonly op: 'batch'; readonly commands: readonly DirectoryCommand[] };

/** Most commands in one `batch`. */
export const BATCH_COMMANDS_MAX = 1_024;

/** Why a command was refused. Stable codes; `reason` is for people. */
export type DirectoryRefusalCode =
  | 'badarg'
  | 'not_initialized'
  | 'already_initialized'
  | 'too_many_groups'
  | 'group_exists'
  | 'unknown_group'
  | 'group_removed'
  | 'group_not_active'
  | 'root_group'
  | 'group_not_empty'
  | 'group_in_move'
  | 'already_owner'
  | 'stale_owner'
  | 'move_in_progress'
  | 'too_many_moves'
  | 'no_move'
  | 'stale_move'
  | 'wrong_phase';

export interface DirectoryRefusal {
  readonly ok: false;
  readonly code: DirectoryRefusalCode;
  readonly reason: string;
}

export type DirectoryResult = { readonly ok: true; readonly revision: number; readonly results?: readonly DirectoryResult[] } | DirectoryRefusal;

export type DirectoryChange =
  | { readonly type: 'group'; readonly group: GroupRecord }
  | { readonly type: 'all_slots'; readonly owner: GroupId; readonly slotRevision: number }
  | { readonly type: 'slot'; readonly slot: number; readonly owner: GroupId; readonly move: SlotMove | null; readonly slotRevision: number };

/** One applied command's changes. `previousRevision` lets a follower of the stream detect a gap. */
export interface DirectoryEvent {
  readonly revision: number;
  readonly previousRevision: number;
  readonly changes: readonly DirectoryChange[];
}

export interface DirectorySnapshot {
  readonly version: 1;
  readonly appliedIndex: number;
  readonly revision: number;
  readonly rootGroup: GroupId | null;
  readonly groups: readonly GroupRecord[];
  /** Owner per slot, `SLOT_COUNT` entries (empty strings before the root is created). */
  readonly owners: readonly GroupId[];
  readonly slotRevisions: readonly number[];
  readonly moves: readonly SlotMove[];
}

/** What routing, rebalancing and caches read. Implemented by `Directory` and `DirectoryCache`. */
export interface DirectoryView {
  readonly revision: number;
  readonly rootGroup: GroupId | undefined;
  ownerOf(slot: number): GroupId | undefined;
  moveOf(slot: number): SlotMove | undefined;
  slotRevision(slot: number): number;
  group(id: GroupId): GroupRecord | undefined;
  groups(): GroupRecord[];
}

/** Most gateways a group may list. */
export const GATEWAYS_MAX = 16;
/** Most groups ever created (tombstones included): more groups than slots is pointless. */
export const GROUPS_MAX = SLOT_COUNT;
/** Most slot moves in progress at once. */
export const MOVES_IN_PROGRESS_MAX = 512;
/** How many directory events are kept for watchers to resume from. */
export const DIRECTORY_EVENTS_MAX = 10_000;
/** Longest gateway address, in characters. */
export const GATEWAY_ADDRESS_LENGTH_MAX = 256;

const GROUP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function isValidGroupId(value: unknown): value is GroupId {
  return typeof value === 'string' && GROUP_ID_PATTERN.test(value);
}

/** Why a gateway list is invalid, or undefined if it is valid. */
export function validateGateways(gateways: unknown): string | undefined {
  if (!Array.isArray(gateways)) return 'gateways is a list of {node, address}';
  if (gateways.length > GATEWAYS_MAX) return `a group lists at most ${GATEWAYS_MAX} gateways`;
  const seen = new Set<string>();
  for (const gateway of gateways as unknown[]) {
    const { node, address } = (gateway ?? {}) as { node?: unknown; address?: unknown };
    if (typeof node !== 'string' || !isValidNodeName(node)) return `invalid gateway node ${JSON.stringify(node)}`;
    if (typeof address !== 'string' || address.length === 0 || address.length > GATEWAY_ADDRESS_LENGTH_MAX) {
      return `invalid gateway address for ${node}`;
    }
    if (seen.has(node)) return `gateway ${node} is listed twice`;
    seen.add(node);
  }
  return undefined;
}

/** Error code of the `FedError` for each refusal (`details.refusal` keeps the precise code). */
const REFUSAL_ERROR_CODES: Readonly<Record<DirectoryRefusalCode, ErrorCode>> = {
  badarg: 'badarg',
  not_initialized: 'unavailable',
  already_initialized: 'badarg',
  too_many_groups: 'badarg',
  group_exists: 'badarg',
  unknown_group: 'not_found',
  group_removed: 'not_found',
  group_not_active: 'badarg',
  root_group: 'badarg',
  group_not_empty: 'badarg',
  group_in_move: 'badarg',
  already_owner: 'badarg',
  stale_owner: 'badarg',
  move_in_progress: 'badarg',
  too_many_moves: 'overloaded',
  no_move: 'badarg',
  stale_move: 'badarg',
  wrong_phase: 'badarg',
};

/** The `FedError` code a refusal becomes. */
export function refusalErrorCode(code: DirectoryRefusalCode): ErrorCode {
  return REFUSAL_ERROR_CODES[code];
}

/** The one-line typed error for a refusal, for callers that throw. */
export function refusalError(refusal: DirectoryRefusal): FedError {
  return fedError(REFUSAL_ERROR_CODES[refusal.code], `directory: ${refusal.reason}`, { refusal: refusal.code });
}

function refuse(code: DirectoryRefusalCode, reason: string): DirectoryRefusal {
  return { ok: false, code, reason };
}

function copyGateways(gateways: readonly Gateway[]): Gateway[] {
  return gateways.map((gateway) => ({ node: gateway.node, address: gateway.address }));
}

export class Directory implements DirectoryView {
  #appliedIndex = 0;
  #revision = 0;
  #rootGroup: GroupId | undefined;
  readonly #groups = new Map<GroupId, GroupRecord>();
  readonly #owners: GroupId[] = new Array<GroupId>(SLOT_COUNT).fill('');
  readonly #slotRevisions: number[] = new Array<number>(SLOT_COUNT).fill(0);
  readonly #moves = new Map<number, SlotMove>();
  /** Slots owned per group, kept in step with `#owners`. */
  readonly #slotCounts = new Map<GroupId, number>();
  /** Kept events are `#events[#eventsHead…]`; the dropped prefix is cut off in amortized batches. */
  readonly #events: DirectoryEvent[] = [];
  #eventsHead = 0;
  #eventsFloorRevision = 0;
  readonly #listeners = new Set<(event: DirectoryEvent) => void>();

  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  get revision(): number {
    return this.#revision;
  }

  get rootGroup(): GroupId | undefined {
    return this.#rootGroup;
  }

  ownerOf(slot: number): GroupId | undefined {
    const owner = this.#owners[slot];
    return owner === undefined || owner === '' ? undefined : owner;
  }

  moveOf(slot: number): SlotMove | undefined {
    return this.#moves.get(slot);
  }

  moves(): SlotMove[] {
    return [...this.#moves.values()].sort((a, b) => a.slot - b.slot);
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

  slotCount(group: GroupId): number {
    return this.#slotCounts.get(group) ?? 0;
  }

  /** Slots owned by `group`, ascending. */
  slotsOf(group: GroupId): number[] {
    const out: number[] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (this.#owners[slot] === group) out.push(slot);
    return out;
  }

  /** Apply one committed entry. `index` must be later than every index applied before. */
  apply(index: number, command: DirectoryCommand): DirectoryResult {
    assert(index > this.#appliedIndex, `apply out of order: ${index} after ${this.#appliedIndex}`);
    this.#appliedIndex = index;
    const changes: DirectoryChange[] = [];
    const result = this.#dispatch(index, command, changes);
    if (result.ok && changes.length > 0) this.#commit(index, changes);
    return result;
  }

  /** Advance the applied index for an entry that is not a directory command. */
  skip(index: number): void {
    assert(index > this.#appliedIndex, `skip out of order: ${index} after ${this.#appliedIndex}`);
    this.#appliedIndex = index;
  }

  #dispatch(index: number, command: DirectoryCommand, changes: DirectoryChange[]): DirectoryResult {
    if (typeof command !== 'object' || command === null) return refuse('badarg', 'a directory command is an object');
    switch (command.op) {
      case 'create_root':
        return this.#createRoot(index, command.group, command.gateways, changes);
      case 'add_group':
        return this.#addGroup(index, command.group, command.gateways, changes);
      case 'set_gateways':
        return this.#setGateways(index, command.group, command.gateways, changes);
      case 'drain_group':
        return this.#drainGroup(index, command.group, changes);
      case 'remove_group':
        return this.#removeGroup(index, command.group, changes);
      case 'begin_move':
        return this.#beginMove(index, command.slot, command.to, command.expectedFrom, changes);
      case 'mark_copied':
        return this.#markCopied(index, command.slot, command.moveRevision, changes);
      case 'complete_move':
        return this.#completeMove(index, command.slot, command.moveRevision, changes);
      case 'abort_move':
        return this.#abortMove(index, command.slot, command.moveRevision, changes);
      case 'noop':
        return { ok: true, revision: this.#revision };
      case 'batch':
        return this.#batch(index, command.commands, changes);
      default:
        return refuse('badarg', `unknown directory command ${JSON.stringify((command as { op?: unknown }).op)}`);
    }
  }

  #batch(index: number, commands: readonly DirectoryCommand[], changes: DirectoryChange[]): DirectoryResult {
    if (!Array.isArray(commands) || commands.length > BATCH_COMMANDS_MAX) return refuse('badarg', `a batch lists at most ${BATCH_COMMANDS_MAX} commands`);
    const results: DirectoryResult[] = [];
    for (const command of commands) {
      if ((command as { op?: unknown } | null)?.op === 'batch') results.push(refuse('badarg', 'batches do not nest'));
      else results.push(this.#dispatch(index, command, changes));
    }
    return { ok: true, revision: index, results };
  }

  #createRoot(index: number, id: GroupId, gateways: readonly Gateway[], changes: DirectoryChange[]): DirectoryResult {
    if (this.#rootGroup !== undefined) return refuse('already_initialized', `the root group is already ${this.#rootGroup}`);
    const invalid = this.#validateNewGroup(id, gateways);
    if (invalid !== undefined) return invalid;
    this.#rootGroup = id;
    changes.push(this.#putGroup(index, { id, gateways: copyGateways(gateways), state: 'active', createRevision: index, revision: index }));
    this.#owners.fill(id);
    this.#slotRevisions.fill(index);
    this.#slotCounts.set(id, SLOT_COUNT);
    changes.push({ type: 'all_slots', owner: id, slotRevision: index });
    return { ok: true, revision: index };
  }

  #addGroup(index: number, id: GroupId, gateways: readonly Gateway[], changes: DirectoryChange[]): DirectoryResult {
    if (this.#rootGroup === undefined) return refuse('not_initialized', 'create the root group first');
    const invalid = this.#validateNewGroup(id, gateways);
    if (invalid !== undefined) return invalid;
    changes.push(this.#putGroup(index, { id, gateways: copyGateways(gateways), state: 'active', createRevision: index, revision: index }));
    return { ok: true, revision: index };
  }

  #validateNewGroup(id: GroupId, gateways: readonly Gateway[]): DirectoryRefusal | undefined {
    if (!isValidGroupId(id)) return refuse('badarg', `invalid group id ${JSON.stringify(id)}`);
    const invalidGateways = validateGateways(gateways);
    if (invalidGateways !== undefined) return refuse('badarg', invalidGateways);
    const existing = this.#groups.get(id);
    if (existing !== undefined) return refuse('group_exists', `group ${id} exists (${existing.state}); ids are never reused`);
    if (this.#groups.size >= GROUPS_MAX) return refuse('too_many_groups', `at most ${GROUPS_MAX} groups`);
    return undefined;
  }

  #setGateways(index: number, id: GroupId, gateways: readonly Gateway[], changes: DirectoryChange[]): DirectoryResult {
    const found = this.#liveGroup(id);
    if (!('id' in found)) return found;
    const invalidGateways = validateGateways(gateways);
    if (invalidGateways !== undefined) return refuse('badarg', invalidGateways);
    changes.push(this.#putGroup(index, { ...found, gateways: copyGateways(gateways), revision: index }));
    return { ok: true, revision: index };
  }

  #drainGroup(index: number, id: GroupId, changes: DirectoryChange[]): DirectoryResult {
    const found = this.#liveGroup(id);
    if (!('id' in found)) return found;
    if (id === this.#rootGroup) return refuse('root_group', 'the root group cannot be drained');
    if (found.state === 'draining') return { ok: true, revision: found.revision };
    changes.push(this.#putGroup(index, { ...found, state: 'draining', revision: index }));
    return { ok: true, revision: index };
  }

  #removeGroup(index: number, id: GroupId, changes: DirectoryChange[]): DirectoryResult {
    const found = this.#liveGroup(id);
    if (!('id' in found)) return found;
    if (id === this.#rootGroup) return refuse('root_group', 'the root group cannot be removed');
    const owned = this.slotCount(id);
    if (owned > 0) return refuse('group_not_empty', `group ${id} owns ${owned} slots`);
    for (const move of this.#moves.values()) {
      if (move.from === id || move.to === id) return refuse('group_in_move', `group ${id} takes part in the move of slot ${move.slot}`);
    }
    changes.push(this.#putGroup(index, { ...found, gateways: [], state: 'removed', revision: index }));
    return { ok: true, revision: index };
  }

  /** The group if it exists and is not removed, else the refusal. */
  #liveGroup(id: GroupId): GroupRecord | DirectoryRefusal {
    if (this.#rootGroup === undefined) return refuse('not_initialized', 'create the root group first');
    if (!isValidGroupId(id)) return refuse('badarg', `invalid group id ${JSON.stringify(id)}`);
    const found = this.#groups.get(id);
    if (found === undefined) return refuse('unknown_group', `no group ${id}`);
    if (found.state === 'removed') return refuse('group_removed', `group ${id} was removed`);
    return found;
  }

  #beginMove(index: number, slot: number, to: GroupId, expectedFrom: GroupId | undefined, changes: DirectoryChange[]): DirectoryResult {
    if (this.#rootGroup === undefined) return refuse('not_initialized', 'create the root group first');
    if (!isSlot(slot)) return refuse('badarg', `slot ${JSON.stringify(slot)} is not in [0, ${SLOT_COUNT})`);
    const target = this.#liveGroup(to);
    if (!('id' in target)) return target;
    if (target.state !== 'active') return refuse('group_not_active', `group ${to} is ${target.state} and takes no slots`);
    const from = this.#owners[slot] as GroupId;
    if (expectedFrom !== undefined && expectedFrom !== from) return refuse('stale_owner', `slot ${slot} is owned by ${from}, not ${expectedFrom}`);
    if (this.#moves.has(slot)) return refuse('move_in_progress', `slot ${slot} is already moving`);
    if (from === to) return refuse('already_owner', `group ${to} already owns slot ${slot}`);
    if (this.#moves.size >= MOVES_IN_PROGRESS_MAX) return refuse('too_many_moves', `at most ${MOVES_IN_PROGRESS_MAX} moves at once`);
    const move: SlotMove = { slot, from, to, phase: 'fenced', revision: index };
    this.#moves.set(slot, move);
    changes.push(this.#touchSlot(index, slot));
    return { ok: true, revision: index };
  }

  #markCopied(index: number, slot: number, moveRevision: number, changes: DirectoryChange[]): DirectoryResult {
    const move = this.#currentMove(slot, moveRevision);
    if (!('phase' in move)) return move;
    if (move.phase !== 'fenced') return refuse('wrong_phase', `the move of slot ${slot} is ${move.phase}, not fenced`);
    this.#moves.set(slot, { ...move, phase: 'copied' });
    changes.push(this.#touchSlot(index, slot));
    return { ok: true, revision: index };
  }

  #completeMove(index: number, slot: number, moveRevision: number, changes: DirectoryChange[]): DirectoryResult {
    const move = this.#currentMove(slot, moveRevision);
    if (!('phase' in move)) return move;
    if (move.phase !== 'copied') return refuse('wrong_phase', `the move of slot ${slot} is ${move.phase}, not copied`);
    assert(this.#owners[slot] === move.from, 'a moving slot is owned by its source until the switch');
    this.#moves.delete(slot);
    this.#owners[slot] = move.to;
    this.#slotCounts.set(move.from, this.slotCount(move.from) - 1);
    this.#slotCounts.set(move.to, this.slotCount(move.to) + 1);
    changes.push(this.#touchSlot(index, slot));
    return { ok: true, revision: index };
  }

  #abortMove(index: number, slot: number, moveRevision: number, changes: DirectoryChange[]): DirectoryResult {
    const move = this.#currentMove(slot, moveRevision);
    if (!('phase' in move)) return move;
    this.#moves.delete(slot);
    changes.push(this.#touchSlot(index, slot));
    return { ok: true, revision: index };
  }

  #currentMove(slot: number, moveRevision: number): SlotMove | DirectoryRefusal {
    if (this.#rootGroup === undefined) return refuse('not_initialized', 'create the root group first');
    if (!isSlot(slot)) return refuse('badarg', `slot ${JSON.stringify(slot)} is not in [0, ${SLOT_COUNT})`);
    const move = this.#moves.get(slot);
    if (move === undefined) return refuse('no_move', `slot ${slot} is not moving`);
    if (move.revision !== moveRevision) return refuse('stale_move', `slot ${slot} is in the move begun at ${move.revision}, not ${moveRevision}`);
    return move;
  }

  #putGroup(index: number, record: GroupRecord): DirectoryChange {
    assert(record.revision === index, 'a group record changes at the applied index');
    this.#groups.set(record.id, record);
    return { type: 'group', group: record };
  }

  #touchSlot(index: number, slot: number): DirectoryChange {
    this.#slotRevisions[slot] = index;
    return { type: 'slot', slot, owner: this.#owners[slot] as GroupId, move: this.#moves.get(slot) ?? null, slotRevision: index };
  }

  #commit(index: number, changes: DirectoryChange[]): void {
    const event: DirectoryEvent = { revision: index, previousRevision: this.#revision, changes };
    this.#revision = index;
    this.#events.push(event);
    if (this.#events.length - this.#eventsHead > DIRECTORY_EVENTS_MAX) {
      this.#eventsFloorRevision = (this.#events[this.#eventsHead] as DirectoryEvent).revision;
      this.#eventsHead++;
      if (this.#eventsHead >= DIRECTORY_EVENTS_MAX) {
        this.#events.splice(0, this.#eventsHead);
        this.#eventsHead = 0;
      }
    }
    for (const listener of this.#listeners) listener(event);
  }

  /**
   * Events with revision > `afterRevision`, or `undefined` if some of them were already dropped
   * (the watcher must re-read a snapshot: etcd's "compacted").
   */
  eventsSince(afterRevision: number): DirectoryEvent[] | undefined {
    if (afterRevision < this.#eventsFloorRevision) return undefined;
    return this.#events.slice(partitionPoint(this.#events, this.#eventsHead, (event) => event.revision <= afterRevision));
  }

  /** Listen to every change as it is applied. Returns the function that stops listening. */
  onChange(listener: (event: DirectoryEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  snapshot(): DirectorySnapshot {
    return {
      version: 1,
      appliedIndex: this.#appliedIndex,
      revision: this.#revision,
      rootGroup: this.#rootGroup ?? null,
      groups: this.groups(),
      owners: [...this.#owners],
      slotRevisions: [...this.#slotRevisions],
      moves: this.moves(),
    };
  }

  /** Replace the whole state with a snapshot's. Watchers see no events; resuming before it is `compacted`. */
  restore(snapshot: DirectorySnapshot): void {
    assert(snapshot.version === 1, `unknown directory snapshot version ${String(snapshot.version)}`);
    assert(snapshot.owners.length === SLOT_COUNT && snapshot.slotRevisions.length === SLOT_COUNT, 'a snapshot lists every slot');
    this.#appliedIndex = snapshot.appliedIndex;
    this.#revision = snapshot.revision;
    this.#rootGroup = snapshot.rootGroup ?? undefined;
    this.#groups.clear();
    for (const record of snapshot.groups) this.#groups.set(record.id, record);
    this.#slotCounts.clear();
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const owner = snapshot.owners[slot] as GroupId;
      this.#owners[slot] = owner;
      this.#slotRevisions[slot] = snapshot.slotRevisions[slot] as number;
      if (owner !== '') this.#slotCounts.set(owner, this.slotCount(owner) + 1);
    }
    this.#moves.clear();
    for (const move of snapshot.moves) this.#moves.set(move.slot, move);
    this.#events.length = 0;
    this.#eventsHead = 0;
    this.#eventsFloorRevision = snapshot.revision;
    this.#checkInvariants();
  }

  /** Every slot has one live owner once the root exists; moves go between live groups. Crashes if not. */
  #checkInvariants(): void {
    if (this.#rootGroup === undefined) return;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const owner = this.#groups.get(this.#owners[slot] as GroupId);
      assert(owner !== undefined && owner.state !== 'removed', `slot ${slot} has no live owner`);
    }
    for (const move of this.#moves.values()) {
      assert(this.#owners[move.slot] === move.from && move.from !== move.to, `move of slot ${move.slot} is inconsistent`);
    }
  }
}
