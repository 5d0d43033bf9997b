/**
 * The replicated state of a group: the name registry plus the group's member directory (each
 * member's listen address, so a restarted member can find the others from its own replica, and
 * its ring weight, so every member builds the same ring).
 * Like `NameRegistry`, pure and deterministic: every member applies the same committed entries.
 */
import { assert, decode } from '../runtime/index.js';
import { MsgpackWriter } from './msgpack-writer.js';
import { NameRegistry, type RegistryCommand, type RegistryResult, type RegistrySnapshot } from './names.js';
import { RING_WEIGHT_MAX } from './ring.js';

export function isRingWeight(weight: unknown): weight is number {
  return typeof weight === 'number' && Number.isInteger(weight) && weight >= 1 && weight <= RING_WEIGHT_MAX;
}

/** A per-node map's entries, sorted by node (every member writes them in the same order). */
function byNode<V>(map: ReadonlyMap<string, V>): Array<[string, V]> {
  return [...map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

export type GroupCommand =
  | RegistryCommand
  /**
   * A member's listen address, (optional, default 1) ring weight and (optional) Raft store id:
   * the store the group admitted under this name. An op without one keeps the recorded one; one
   * with a store id replaces a recorded other only with `admit` (the leader admitting a store),
   * else it records it only where none is recorded (a member publishing its own, from a replica
   * that may be behind the record of a store that replaced it).
   */
  | { readonly op: 'member'; readonly node: string; readonly address: string; readonly weight?: number; readonly storeId?: string; readonly admit?: boolean }
  | { readonly op: 'forget_member'; readonly node: string }
  /**
   * The leader is demoting voter `node` to learner (`on`), or is done (`!on`). The core moves a
   * voter to learner in two configuration changes (remove, then add as learner); while the mark
   * is on, the member stays on the ring, so its singletons do not move away and back.
   */
  | { readonly op: 'demoting'; readonly node: string; readonly on: boolean }
  /** A command for an extension state machine (e.g. federation's directory in the root group). */
  | { readonly op: 'ext'; readonly ext: string; readonly cmd: unknown };

export type GroupResult = RegistryResult | { readonly ok: true; readonly revision: number; readonly value: unknown } | { readonly ok: false; readonly code: 'ext_refused'; readonly value: unknown };

/**
 * A state machine that rides in a group's log beside the registry (the layers above registry —
 * federation — plug theirs in without registry depending on them). Same contract as the registry:
 * `apply` is deterministic, called with every committed `ext` command for it, in log order, on
 * every member; `snapshot`/`restore` round-trip its whole state.
 */
export interface ExtensionStateMachine {
  apply(index: number, command: unknown): { ok: boolean; value: unknown };
  snapshot(): unknown;
  restore(snapshot: unknown): void;
}

/** What a normal Raft entry of a group carries: the command and the proposer's request id. */
export interface GroupEntryData {
  readonly id: string | null;
  readonly cmd: GroupCommand;
}

interface GroupSnapshot {
  readonly version: 1;
  readonly registry: RegistrySnapshot;
  readonly members: ReadonlyArray<readonly [string, string]>;
  /** Ring weights other than 1 (absent in snapshots from before weights). */
  readonly weights?: ReadonlyArray<readonly [string, number]>;
  /** Members being demoted from voter to learner (absent in older snapshots). */
  readonly demoting?: readonly string[];
  /** Each member's admitted Raft store id, where known (absent in older snapshots). */
  readonly stores?: ReadonlyArray<readonly [string, string]>;
  readonly extensions?: ReadonlyArray<readonly [string, unknown]>;
}

export class GroupState {
  readonly names = new NameRegistry();
  readonly #addresses = new Map<string, string>();
  readonly #weights = new Map<string, number>();
  readonly #stores = new Map<string, string>();
  readonly #demoting = new Set<string>();
  readonly #extensions = new Map<string, ExtensionStateMachine>();

  constructor(extensions: Readonly<Record<string, ExtensionStateMachine>> = {}) {
    for (const [name, machine] of Object.entries(extensions)) this.#extensions.set(name, machine);
  }

  extension(name: string): ExtensionStateMachine | undefined {
    return this.#extensions.get(name);
  }

  get appliedIndex(): number {
    return this.names.appliedIndex;
  }

  addressOf(node: string): string | undefined {
    return this.#addresses.get(node);
  }

  /** The member's ring weight (1 unless it published another). */
  weightOf(node: string): number {
    return this.#weights.get(node) ?? 1;
  }

  /** The Raft store the group admitted for `node` (see the `member` command), if recorded. */
  storeIdOf(node: string): string | undefined {
    return this.#stores.get(node);
  }

  /** Members being demoted from voter to learner (see the `demoting` command), sorted. */
  demoting(): string[] {
    return [...this.#demoting].sort();
  }

  addresses(): Array<[string, string]> {
    return byNode(this.#addresses);
  }

  apply(index: number, command: GroupCommand): GroupResult {
    switch (command.op) {
      case 'member': {
        this.names.skip(index);
        const weight = command.weight ?? 1;
        if (!isRingWeight(weight)) {
          return { ok: false, code: 'badarg', reason: `member weight must be an integer in [1, ${RING_WEIGHT_MAX}], got ${String(weight)}` };
        }
        if (command.storeId !== undefined && (typeof command.storeId !== 'string' || command.storeId.length === 0)) {
          return { ok: false, code: 'badarg', reason: `member store id must be a non-empty string, got ${String(command.storeId)}` };
        }
        this.#addresses.set(command.node, command.address);
        if (command.storeId !== undefined && (command.admit === true || !this.#stores.has(command.node))) this.#stores.set(command.node, command.storeId);
        if (weight === 1) this.#weights.delete(command.node);
        else this.#weights.set(command.node, weight);
        return { ok: true, revision: index };
      }
      case 'forget_member':
        this.names.skip(index);
        this.#addresses.delete(command.node);
        this.#weights.delete(command.node);
        this.#stores.delete(command.node);
        return { ok: true, revision: index };
      case 'demoting':
        this.names.skip(index);
        if (command.on) this.#demoting.add(command.node);
        else this.#demoting.delete(command.node);
        return { ok: true, revision: index };
      case 'ext': {
        this.names.skip(index);
        const machine = this.#extensions.get(command.ext);
        if (machine === undefined) return { ok: false, code: 'ext_refused', value: `no extension ${command.ext} in this group` };
        const result = machine.apply(index, command.cmd);
        return result.ok ? { ok: true, revision: index, value: result.value } : { ok: false, code: 'ext_refused', value: result.value };
      }
      default:
        return this.names.apply(index, command);
    }
  }

  /** An entry that carries no command (no-op, configuration change). */
  skip(index: number): void {
    this.names.skip(index);
  }

  /**
   * The encoded `GroupSnapshot`: the bytes `encode` gives for it, written with a MsgpackWriter
   * so the registry's names never go through msgpackr's encoder (see msgpack-writer.ts).
   */
  snapshot(): Uint8Array {
    const extensions = [...this.#extensions.entries()].map(([name, machine]) => [name, machine.snapshot()] as const);
    const weights = byNode(this.#weights);
    const writer = new MsgpackWriter();
    // The keys of GroupSnapshot, in its order.
    writer.mapHeader(7);
    writer.string('version');
    writer.uint(1);
    writer.string('registry');
    this.names.writeSnapshot(writer);
    writer.string('members');
    writer.value(this.addresses());
    writer.string('weights');
    writer.value(weights);
    writer.string('demoting');
    writer.value(this.demoting());
    writer.string('stores');
    writer.value(byNode(this.#stores));
    writer.string('extensions');
    writer.value(extensions);
    return writer.bytes();
  }

  restore(bytes: Uint8Array): void {
    const snapshot = decode(bytes) as GroupSnapshot;
    assert(snapshot !== null && typeof snapshot === 'object' && snapshot.version === 1, 'unknown group snapshot');
    this.names.restore(snapshot.registry);
    this.#addresses.clear();
    for (const [node, address] of snapshot.members) this.#addresses.set(node, address);
    this.#weights.clear();
    for (const [node, weight] of snapshot.weights ?? []) this.#weights.set(node, weight);
    this.#demoting.clear();
    for (const node of snapshot.demoting ?? []) this.#demoting.add(node);
    this.#stores.clear();
    for (const [node, storeId] of snapshot.stores ?? []) this.#stores.set(node, storeId);
    for (const [name, state] of snapshot.extensions ?? []) this.#extensions.get(name)?.restore(state);
  }
}
