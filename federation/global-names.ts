/**
 * `GlobalNames`: a group's share of the global namespace, an extension state machine that rides
 * in the group's own Raft log (`Group.open({extensions: {global: machine}})`). Pure and
 * deterministic: every member applies the same committed commands in the same order.
 *
 * Why not the group's own name registry: a global name is usually held by a pid of another
 * group, whose node the home group never connects to; the registry's leader would remove it as
 * "node down". Here the pid's own group tells the home group when a holder dies.
 *
 * State:
 * - per slot, what this group's LOG says about it: `owned` (accepts writes), `fenced` (a move
 *   away has begun: reads served from the frozen copy, writes refused), `importing` (a move
 *   here has copied the names, ownership not switched yet) or absent (not ours). The slot
 *   state, not a directory cache, decides whether a write applies, so no write ever lands in a
 *   fenced slot whatever a gateway believed when it forwarded it.
 * - the names of the slots it holds, each `{pid, meta, revision, createRevision}`.
 * - the group's gateways: the members the leader wants as gateways, and the hidden address
 *   each one published once its gateway node listens.
 *
 * Slot transitions (each guarded by the move's revision, so a step of an older move, or a
 * reconciler acting on a stale directory, changes nothing):
 *   claim_all (once, root creation) ∅→owned · fence(m) owned|importing→fenced(m), answers the
 *   slot's names · import(m) ∅|fenced→importing(m) with the copied names · accept(m)
 *   importing(m)→owned · unfence(m) fenced(m)→owned (move aborted) · drop(m) fenced(m)|importing(m)→∅.
 *
 * Every command answers a `GlobalResult` value (never a refusal of the extension itself), so
 * callers read typed outcomes: `not_home` carries the slot's state here.
 */
import { LIMITS, Pid, assert, minOf } from '../runtime/index.js';
import { SLOT_COUNT, isSlot, slotOf } from './slots.js';

export const GLOBAL_EXTENSION = 'global';
/** How many change events are kept for watchers (cache invalidation) to resume from. */
export const GLOBAL_EVENTS_MAX = 10_000;
/** Most names one `release` command carries. */
export const RELEASE_NAMES_MAX = 1_024;
/** Most slots one batch command carries. */
export const SLOT_BATCH_MAX = 512;
/** Most names one `import_batch` carries (the mover splits bigger batches; bounds the entry's size). */
export const IMPORT_NAMES_MAX = 4_096;

export type SlotState = 'owned' | 'fenced' | 'importing';

/**
 * Why a group is not (or no longer) part of the federation, as recorded in its own log so that
 * every member reports it: `two_roots` (a federation already exists at the seeds, or the
 * gateways reach two directories with different roots), `create_root_refused`,
 * `add_group_refused` (the root's directory refused this group), `group_removed` (the directory
 * lists this group as removed: ids are never reused).
 */
export type FederationAlarmCode = 'two_roots' | 'create_root_refused' | 'add_group_refused' | 'group_removed';

export interface FederationAlarm {
  readonly code: FederationAlarmCode;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
  /** Index of the entry that raised it. */
  readonly revision: number;
}

const ALARM_CODES: ReadonlySet<string> = new Set<FederationAlarmCode>(['two_roots', 'create_root_refused', 'add_group_refused', 'group_removed']);
/** Longest alarm message, in characters. */
const ALARM_MESSAGE_LENGTH_MAX = 1_024;

export interface GlobalEntry {
  readonly pid: Pid;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly revision: number;
  readonly createRevision: number;
  /** The group the holder pid lives in (where messages to it are relayed), if known. */
  readonly group: string | null;
}

export interface LocalGateway {
  /** The group member hosting the gateway. */
  readonly member: string;
  /** The hidden gateway node's name and listen address. */
  readonly node: string;
  readonly address: string;
}

export interface SlotStep {
  readonly slot: number;
  readonly moveRevision: number;
}

export type GlobalCommand =
  | { readonly op: 'register'; readonly name: string; readonly pid: Pid; readonly meta?: Record<string, unknown>; readonly group?: string }
  /** `reason` only labels the change watchers see (`unregister` when absent); state is the same either way. */
  | { readonly op: 'unregister'; readonly name: string; readonly pid: Pid; readonly reason?: 'unregister' | 'process_exit' }
  /** Remove `names` if `pid` holds them (a process exit); names in slots not writable here are reported back. */
  | { readonly op: 'release'; readonly pid: Pid; readonly names: readonly string[] }
  /** Remove every name held by pids of `node` (with creation below `creationBelow`, if given) in writable slots. */
  | { readonly op: 'release_node'; readonly node: string; readonly creationBelow?: number }
  | { readonly op: 'claim_all' }
  | { readonly op: 'fence'; readonly steps: readonly SlotStep[] }
  | { readonly op: 'import'; readonly slot: number; readonly moveRevision: number; readonly entries: ReadonlyArray<readonly [string, GlobalEntry]> }
  /** Several slots' imports in one entry (a mover's batch): each applies as `import` would. */
  | { readonly op: 'import_batch'; readonly imports: ReadonlyArray<{ readonly slot: number; readonly moveRevision: number; readonly entries: ReadonlyArray<readonly [string, GlobalEntry]> }> }
  | { readonly op: 'accept'; readonly steps: readonly SlotStep[] }
  | { readonly op: 'unfence'; readonly steps: readonly SlotStep[] }
  | { readonly op: 'drop'; readonly steps: readonly SlotStep[] }
  | { readonly op: 'want_gateways'; readonly members: readonly string[] }
  /** Record (or replace) an alarm: a condition that keeps this group out of the federation (etcd's alarms). */
  | { readonly op: 'alarm'; readonly alarm: { readonly code: FederationAlarmCode; readonly message: string; readonly details?: Record<string, unknown> } }
  | { readonly op: 'clear_alarm'; readonly code: FederationAlarmCode }
  | { readonly op: 'gateway_up'; readonly gateway: LocalGateway }
  /** A member says whether it may serve as a gateway (the leader never chooses one that may not). */
  | { readonly op: 'gateway_eligible'; readonly member: string; readonly eligible: boolean };

export type GlobalResult =
  | { readonly ok: true; readonly revision: number; readonly blocked?: readonly string[]; readonly applied?: readonly number[]; readonly entries?: ReadonlyArray<readonly [number, ReadonlyArray<readonly [string, GlobalEntry]>]> }
  | { readonly ok: false; readonly code: 'name_taken'; readonly holder: Pid; readonly revision: number }
  | { readonly ok: false; readonly code: 'not_owner'; readonly holder: Pid | null }
  | { readonly ok: false; readonly code: 'not_home'; readonly slot: number; readonly state: SlotState | null }
  | { readonly ok: false; readonly code: 'badarg'; readonly reason: string };

/**
 * Why a name went: its holder unregistered it or exited; its node was declared down, or restarted
 * (`stale_incarnation`: names of the older incarnation); its slot moved to another group (the
 * name lives on there) or was re-imported; or a snapshot installed on this replica no longer
 * holds it (as the group registry's `DeleteReason`, plus `slot_moved`).
 */
export type GlobalDeleteReason = 'unregister' | 'process_exit' | 'node_down' | 'stale_incarnation' | 'slot_moved' | 'snapshot';

export type GlobalChange =
  | { readonly type: 'put'; readonly name: string; readonly entry: GlobalEntry; readonly revision: number }
  | { readonly type: 'delete'; readonly name: string; readonly pid: Pid; readonly revision: number; readonly reason: GlobalDeleteReason };

export interface GlobalSnapshot {
  readonly version: 1;
  /** Index of the last command applied (absent in snapshots written before it was recorded). */
  readonly lastIndex?: number;
  readonly initialized: boolean;
  readonly slots: ReadonlyArray<readonly [number, SlotState, number]>;
  readonly names: ReadonlyArray<readonly [string, GlobalEntry]>;
  readonly wanted: readonly string[];
  readonly gateways: readonly LocalGateway[];
  /** Absent in snapshots written before alarms existed. */
  readonly alarms?: readonly FederationAlarm[];
  /** Members that may not serve as gateways (absent in older snapshots). */
  readonly ineligible?: readonly string[];
}

interface SlotRecord {
  state: SlotState;
  moveRevision: number;
}

function sameEntry(a: GlobalEntry, b: GlobalEntry): boolean {
  return a.revision === b.revision && a.createRevision === b.createRevision && a.pid.equals(b.pid) && a.group === b.group;
}

function badarg(reason: string): GlobalResult {
  return { ok: false, code: 'badarg', reason };
}

function validName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'a name is a non-empty string';
  if (Buffer.byteLength(name, 'utf8') > LIMITS.nameBytesMax) return `a name is at most ${LIMITS.nameBytesMax} bytes`;
  return undefined;
}

function validSteps(steps: unknown): string | undefined {
  if (!Array.isArray(steps) || steps.length === 0 || steps.length > SLOT_BATCH_MAX) return `a batch lists 1 to ${SLOT_BATCH_MAX} slots`;
  for (const step of steps as Array<Partial<SlotStep>>) {
    if (!isSlot(step?.slot) || typeof step.moveRevision !== 'number') return 'a slot step is {slot, moveRevision}';
  }
  return undefined;
}

export class GlobalNames {
  #initialized = false;
  readonly #slots = new Map<number, SlotRecord>();
  /** Names per slot. */
  readonly #names = new Map<number, Map<string, GlobalEntry>>();
  #wanted: string[] = [];
  readonly #gateways = new Map<string, LocalGateway>();
  readonly #listeners = new Set<(change: GlobalChange) => void>();
  readonly #gatewayListeners = new Set<() => void>();
  readonly #alarms = new Map<FederationAlarmCode, FederationAlarm>();
  /** Members that declared they never serve as gateways. */
  readonly #ineligible = new Set<string>();
  /** Holder index: holder group ('' if unknown) → node → creation → names held. */
  readonly #holders = new Map<string, Map<string, Map<number, number>>>();
  #lastIndex = 0;

  // ---- reads -------------------------------------------------------------------------------

  get initialized(): boolean {
    return this.#initialized;
  }

  slotState(slot: number): SlotState | undefined {
    return this.#slots.get(slot)?.state;
  }

  slotMoveRevision(slot: number): number | undefined {
    return this.#slots.get(slot)?.moveRevision;
  }

  /** Slots in each state, ascending. */
  slots(): Array<[number, SlotState, number]> {
    return [...this.#slots.entries()].sort((a, b) => a[0] - b[0]).map(([slot, record]) => [slot, record.state, record.moveRevision]);
  }

  ownedCount(): number {
    let count = 0;
    for (const record of this.#slots.values()) if (record.state === 'owned') count++;
    return count;
  }

  whereis(name: string): GlobalEntry | undefined {
    return this.#names.get(slotOf(name))?.get(name);
  }

  /** Every name held here (any slot state), sorted. */
  registered(prefix = ''): Array<[string, GlobalEntry]> {
    const out: Array<[string, GlobalEntry]> = [];
    for (const names of this.#names.values()) for (const [name, entry] of names) if (name.startsWith(prefix)) out.push([name, entry]);
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  get size(): number {
    let count = 0;
    for (const names of this.#names.values()) count += names.size;
    return count;
  }

  /** Nodes whose pids hold names here. */
  holderNodes(): string[] {
    const nodes = new Set<string>();
    for (const names of this.#names.values()) for (const entry of names.values()) nodes.add(entry.pid.node);
    return [...nodes].sort();
  }

  /**
   * For each holder group (`null`: not recorded), the nodes whose pids hold names here and the
   * oldest creation among each node's holders. Built from an index kept in step with every
   * change, so it costs the number of holder nodes, not the number of names.
   */
  holdersByGroup(): Map<string | null, Map<string, number>> {
    const out = new Map<string | null, Map<string, number>>();
    for (const [group, nodes] of this.#holders) {
      const oldest = new Map<string, number>();
      for (const [node, creations] of nodes) oldest.set(node, minOf(creations.keys(), Infinity));
      out.set(group === '' ? null : group, oldest);
    }
    return out;
  }

  wantedGateways(): string[] {
    return [...this.#wanted];
  }

  /** Whether `member` may serve as a gateway (it did not declare otherwise). */
  gatewayEligible(member: string): boolean {
    return !this.#ineligible.has(member);
  }

  /** The alarms raised and not cleared, by code. */
  alarms(): FederationAlarm[] {
    return [...this.#alarms.values()].sort((a, b) => (a.code < b.code ? -1 : 1));
  }

  /** Wanted gateways that have published their hidden address, in wanted order. */
  gateways(): LocalGateway[] {
    const out: LocalGateway[] = [];
    for (const member of this.#wanted) {
      const gateway = this.#gateways.get(member);
      if (gateway !== undefined) out.push(gateway);
    }
    return out;
  }

  onChange(listener: (change: GlobalChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onGatewaysChange(listener: () => void): () => void {
    this.#gatewayListeners.add(listener);
    return () => this.#gatewayListeners.delete(listener);
  }

  // ---- apply -------------------------------------------------------------------------------

  apply(index: number, command: unknown): { ok: boolean; value: unknown } {
    assert(index > this.#lastIndex, `global names: apply out of order: ${index} after ${this.#lastIndex}`);
    this.#lastIndex = index;
    return { ok: true, value: this.#dispatch(index, command as GlobalCommand) };
  }

  #dispatch(index: number, command: GlobalCommand): GlobalResult {
    if (typeof command !== 'object' || command === null) return badarg('a command is an object');
    switch (command.op) {
      case 'register':
        return this.#register(index, command.name, command.pid, command.meta ?? {}, typeof command.group === 'string' ? command.group : null);
      case 'unregister':
        return this.#unregister(index, command.name, command.pid, command.reason === 'process_exit' ? 'process_exit' : 'unregister');
      case 'release':
        return this.#release(index, command.pid, command.names);
      case 'release_node':
        return this.#releaseNode(index, command.node, command.creationBelow);
      case 'claim_all':
        return this.#claimAll(index);
      case 'fence':
        return this.#fence(index, command.steps);
      case 'import':
        return this.#import(index, command.slot, command.moveRevision, command.entries);
      case 'import_batch':
        return this.#importBatch(index, command.imports);
      case 'accept':
        return this.#transition(index, command.steps, 'importing', 'owned');
      case 'unfence':
        return this.#transition(index, command.steps, 'fenced', 'owned');
      case 'drop':
        return this.#drop(index, command.steps);
      case 'want_gateways':
        return this.#wantGateways(index, command.members);
      case 'gateway_up':
        return this.#gatewayUp(index, command.gateway);
      case 'gateway_eligible':
        if (typeof command.member !== 'string' || typeof command.eligible !== 'boolean') return badarg('gateway_eligible is {member, eligible}');
        if (command.eligible) this.#ineligible.delete(command.member);
        else this.#ineligible.add(command.member);
        return { ok: true, revision: index };
      case 'alarm': {
        const alarm = command.alarm;
        if (!ALARM_CODES.has(alarm?.code) || typeof alarm.message !== 'string' || alarm.message.length > ALARM_MESSAGE_LENGTH_MAX) return badarg('an alarm is {code, message}');
        if (alarm.details !== undefined && (typeof alarm.details !== 'object' || alarm.details === null)) return badarg('alarm details are an object');
        this.#alarms.set(alarm.code, { code: alarm.code, message: alarm.message, details: { ...(alarm.details ?? {}) }, revision: index });
        return { ok: true, revision: index };
      }
      case 'clear_alarm':
        if (!ALARM_CODES.has(command.code)) return badarg(`unknown alarm ${JSON.stringify(command.code)}`);
        this.#alarms.delete(command.code);
        return { ok: true, revision: index };
      default:
        return badarg(`unknown global names command ${JSON.stringify((command as { op?: unknown }).op)}`);
    }
  }

  /** A write to `name` applies only if its slot is owned here; else `not_home`. */
  #writable(name: string): GlobalResult | undefined {
    const slot = slotOf(name);
    const record = this.#slots.get(slot);
    if (record?.state === 'owned') return undefined;
    return { ok: false, code: 'not_home', slot, state: record?.state ?? null };
  }

  #register(index: number, name: string, pid: Pid, meta: Record<string, unknown>, group: string | null): GlobalResult {
    const invalid = validName(name);
    if (invalid !== undefined) return badarg(invalid);
    if (!(pid instanceof Pid)) return badarg('register needs a pid');
    if (typeof meta !== 'object' || meta === null) return badarg('meta is an object');
    const refused = this.#writable(name);
    if (refused !== undefined) return refused;
    const held = this.whereis(name);
    if (held !== undefined) {
      if (held.pid.equals(pid)) return { ok: true, revision: held.revision };
      return { ok: false, code: 'name_taken', holder: held.pid, revision: held.revision };
    }
    this.#put(name, { pid, meta: { ...meta }, revision: index, createRevision: index, group });
    return { ok: true, revision: index };
  }

  #unregister(index: number, name: string, pid: Pid, reason: 'unregister' | 'process_exit'): GlobalResult {
    const invalid = validName(name);
    if (invalid !== undefined) return badarg(invalid);
    if (!(pid instanceof Pid)) return badarg('unregister needs a pid');
    const refused = this.#writable(name);
    if (refused !== undefined) return refused;
    const held = this.whereis(name);
    if (held === undefined) return { ok: true, revision: index };
    if (!held.pid.equals(pid)) return { ok: false, code: 'not_owner', holder: held.pid };
    this.#delete(name, index, reason);
    return { ok: true, revision: index };
  }

  #release(index: number, pid: Pid, names: readonly string[]): GlobalResult {
    if (!(pid instanceof Pid)) return badarg('release needs a pid');
    if (!Array.isArray(names) || names.length > RELEASE_NAMES_MAX) return badarg(`release lists at most ${RELEASE_NAMES_MAX} names`);
    const blocked: string[] = [];
    for (const name of names) {
      if (typeof name !== 'string') continue;
      if (this.#writable(name) !== undefined) {
        if (this.#slots.has(slotOf(name))) blocked.push(name);
        continue;
      }
      if (this.whereis(name)?.pid.equals(pid) === true) this.#delete(name, index, 'process_exit');
    }
    return { ok: true, revision: index, blocked };
  }

  #releaseNode(index: number, node: string, creationBelow: number | undefined): GlobalResult {
    if (typeof node !== 'string') return badarg('release_node needs a node name');
    const blocked: string[] = [];
    for (const [slot, names] of this.#names) {
      const owned = this.#slots.get(slot)?.state === 'owned';
      for (const [name, entry] of [...names]) {
        if (entry.pid.node !== node || (creationBelow !== undefined && entry.pid.creation >= creationBelow)) continue;
        if (owned) this.#delete(name, index, creationBelow === undefined ? 'node_down' : 'stale_incarnation');
        else blocked.push(name);
      }
    }
    return { ok: true, revision: index, blocked };
  }

  #claimAll(index: number): GlobalResult {
    if (this.#initialized || this.#slots.size > 0) return badarg('claim_all happens once, on an empty group');
    this.#initialized = true;
    for (let slot = 0; slot < SLOT_COUNT; slot++) this.#slots.set(slot, { state: 'owned', moveRevision: index });
    return { ok: true, revision: index };
  }

  #fence(index: number, steps: readonly SlotStep[]): GlobalResult {
    const invalid = validSteps(steps);
    if (invalid !== undefined) return badarg(invalid);
    const applied: number[] = [];
    const entries: Array<readonly [number, Array<readonly [string, GlobalEntry]>]> = [];
    for (const { slot, moveRevision } of steps) {
      const record = this.#slots.get(slot);
      if (record === undefined || record.moveRevision > moveRevision) continue;
      this.#slots.set(slot, { state: 'fenced', moveRevision });
      applied.push(slot);
      entries.push([slot, [...(this.#names.get(slot) ?? new Map<string, GlobalEntry>()).entries()]]);
    }
    return { ok: true, revision: index, applied, entries };
  }

  #import(index: number, slot: number, moveRevision: number, entries: ReadonlyArray<readonly [string, GlobalEntry]>): GlobalResult {
    if (!isSlot(slot) || typeof moveRevision !== 'number' || !Array.isArray(entries)) return badarg('import is {slot, moveRevision, entries}');
    const record = this.#slots.get(slot);
    if (record?.state === 'owned' || (record !== undefined && record.moveRevision > moveRevision)) {
      return { ok: true, revision: index, applied: [] };
    }
    if (record?.state === 'importing' && record.moveRevision === moveRevision) return { ok: true, revision: index, applied: [slot] };
    this.#dropNames(slot, index);
    this.#slots.set(slot, { state: 'importing', moveRevision });
    for (const [name, entry] of entries) {
      if (typeof name !== 'string' || slotOf(name) !== slot || !(entry?.pid instanceof Pid)) continue;
      this.#put(name, { pid: entry.pid, meta: entry.meta ?? {}, revision: entry.revision, createRevision: entry.createRevision, group: entry.group ?? null });
    }
    return { ok: true, revision: index, applied: [slot] };
  }

  #importBatch(index: number, imports: ReadonlyArray<{ slot: number; moveRevision: number; entries: ReadonlyArray<readonly [string, GlobalEntry]> }>): GlobalResult {
    if (!Array.isArray(imports) || imports.length === 0 || imports.length > SLOT_BATCH_MAX) return badarg(`an import batch lists 1 to ${SLOT_BATCH_MAX} slots`);
    let names = 0;
    for (const item of imports) {
      if (!isSlot(item?.slot) || typeof item.moveRevision !== 'number' || !Array.isArray(item.entries)) return badarg('an import is {slot, moveRevision, entries}');
      names += item.entries.length;
    }
    if (names > IMPORT_NAMES_MAX) return badarg(`an import batch carries at most ${IMPORT_NAMES_MAX} names`);
    const applied: number[] = [];
    for (const item of imports) {
      const result = this.#import(index, item.slot, item.moveRevision, item.entries);
      if (result.ok && result.applied?.includes(item.slot) === true) applied.push(item.slot);
    }
    return { ok: true, revision: index, applied };
  }

  #transition(index: number, steps: readonly SlotStep[], from: SlotState, to: SlotState): GlobalResult {
    const invalid = validSteps(steps);
    if (invalid !== undefined) return badarg(invalid);
    const applied: number[] = [];
    for (const { slot, moveRevision } of steps) {
      const record = this.#slots.get(slot);
      if (record === undefined || record.state !== from || record.moveRevision !== moveRevision) continue;
      record.state = to;
      applied.push(slot);
    }
    return { ok: true, revision: index, applied };
  }

  #drop(index: number, steps: readonly SlotStep[]): GlobalResult {
    const invalid = validSteps(steps);
    if (invalid !== undefined) return badarg(invalid);
    const applied: number[] = [];
    for (const { slot, moveRevision } of steps) {
      const record = this.#slots.get(slot);
      if (record === undefined || record.state === 'owned' || record.moveRevision !== moveRevision) continue;
      this.#slots.delete(slot);
      this.#dropNames(slot, index);
      applied.push(slot);
    }
    return { ok: true, revision: index, applied };
  }

  #wantGateways(index: number, members: readonly string[]): GlobalResult {
    if (!Array.isArray(members) || members.some((member) => typeof member !== 'string')) return badarg('want_gateways lists member names');
    this.#wanted = [...new Set(members)];
    for (const member of [...this.#gateways.keys()]) if (!this.#wanted.includes(member)) this.#gateways.delete(member);
    this.#emitGateways();
    return { ok: true, revision: index };
  }

  #gatewayUp(index: number, gateway: LocalGateway): GlobalResult {
    if (typeof gateway?.member !== 'string' || typeof gateway.node !== 'string' || typeof gateway.address !== 'string') {
      return badarg('gateway_up is {member, node, address}');
    }
    if (!this.#wanted.includes(gateway.member)) return badarg(`${gateway.member} is not a wanted gateway`);
    this.#gateways.set(gateway.member, { member: gateway.member, node: gateway.node, address: gateway.address });
    this.#emitGateways();
    return { ok: true, revision: index };
  }

  // ---- helpers -----------------------------------------------------------------------------

  #put(name: string, entry: GlobalEntry): void {
    const slot = slotOf(name);
    let names = this.#names.get(slot);
    if (names === undefined) this.#names.set(slot, (names = new Map()));
    const previous = names.get(name);
    if (previous !== undefined) this.#indexHolder(previous, -1);
    names.set(name, entry);
    this.#indexHolder(entry, 1);
    this.#emit({ type: 'put', name, entry, revision: entry.revision });
  }

  #indexHolder(entry: GlobalEntry, delta: 1 | -1): void {
    const group = entry.group ?? '';
    let nodes = this.#holders.get(group);
    if (nodes === undefined) this.#holders.set(group, (nodes = new Map()));
    let creations = nodes.get(entry.pid.node);
    if (creations === undefined) nodes.set(entry.pid.node, (creations = new Map()));
    const count = (creations.get(entry.pid.creation) ?? 0) + delta;
    assert(count >= 0, 'the holder index never goes negative');
    if (count > 0) creations.set(entry.pid.creation, count);
    else {
      creations.delete(entry.pid.creation);
      if (creations.size === 0) nodes.delete(entry.pid.node);
      if (nodes.size === 0) this.#holders.delete(group);
    }
  }

  #delete(name: string, index: number, reason: GlobalDeleteReason): void {
    const slot = slotOf(name);
    const names = this.#names.get(slot);
    const entry = names?.get(name);
    if (names === undefined || entry === undefined) return;
    names.delete(name);
    this.#indexHolder(entry, -1);
    if (names.size === 0) this.#names.delete(slot);
    this.#emit({ type: 'delete', name, pid: entry.pid, revision: index, reason });
  }

  #dropNames(slot: number, index: number): void {
    for (const name of [...(this.#names.get(slot)?.keys() ?? [])]) this.#delete(name, index, 'slot_moved');
  }

  #emit(change: GlobalChange): void {
    for (const listener of this.#listeners) listener(change);
  }

  #emitGateways(): void {
    for (const listener of this.#gatewayListeners) listener();
  }

  // ---- snapshots ---------------------------------------------------------------------------

  snapshot(): GlobalSnapshot {
    return {
      version: 1,
      lastIndex: this.#lastIndex,
      initialized: this.#initialized,
      slots: this.slots(),
      names: this.registered(),
      wanted: [...this.#wanted],
      gateways: [...this.#gateways.values()],
      alarms: this.alarms(),
      ineligible: [...this.#ineligible].sort(),
    };
  }

  /**
   * Replace the whole state with a snapshot's (a member catching up by InstallSnapshot). The
   * difference is reported to `onChange` listeners like applied changes — a `put` for every name
   * added or changed, a `delete` for every name gone — so watchers (cache invalidation at a home
   * gateway) never miss a change that arrived inside a snapshot.
   */
  restore(snapshot: unknown): void {
    const state = snapshot as GlobalSnapshot;
    assert(state !== null && typeof state === 'object' && state.version === 1, 'unknown global names snapshot');
    const before = new Map(this.registered());
    this.#lastIndex = state.lastIndex ?? 0;
    this.#initialized = state.initialized;
    this.#slots.clear();
    for (const [slot, slotState, moveRevision] of state.slots) this.#slots.set(slot, { state: slotState, moveRevision });
    this.#names.clear();
    this.#holders.clear();
    for (const [name, entry] of state.names) {
      const slot = slotOf(name);
      let names = this.#names.get(slot);
      if (names === undefined) this.#names.set(slot, (names = new Map()));
      names.set(name, entry);
      this.#indexHolder(entry, 1);
    }
    this.#wanted = [...state.wanted];
    this.#gateways.clear();
    for (const gateway of state.gateways) this.#gateways.set(gateway.member, gateway);
    this.#alarms.clear();
    for (const alarm of state.alarms ?? []) this.#alarms.set(alarm.code, alarm);
    this.#ineligible.clear();
    for (const member of state.ineligible ?? []) this.#ineligible.add(member);
    for (const [name, entry] of state.names) {
      const old = before.get(name);
      before.delete(name);
      if (old === undefined || !sameEntry(old, entry)) this.#emit({ type: 'put', name, entry, revision: entry.revision });
    }
    for (const [name, old] of before) this.#emit({ type: 'delete', name, pid: old.pid, revision: this.#lastIndex, reason: 'snapshot' });
    this.#emitGateways();
  }
}
