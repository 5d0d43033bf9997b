/**
 * The replicated state of a group: the name registry plus the group's member directory (each
 * member's listen address, so a restarted member can find the others from its own replica).
 * Like `NameRegistry`, pure and deterministic: every member applies the same committed entries.
 */
import { assert, decode, encode } from '../runtime/index.js';
import { NameRegistry, type RegistryCommand, type RegistryResult, type RegistrySnapshot } from './names.js';

export type GroupCommand =
  | RegistryCommand
  | { readonly op: 'member'; readonly node: string; readonly address: string }
  | { readonly op: 'forget_member'; readonly node: string };

export type GroupResult = RegistryResult;

/** What a normal Raft entry of a group carries: the command and the proposer's request id. */
export interface GroupEntryData {
  readonly id: string | null;
  readonly cmd: GroupCommand;
}

interface GroupSnapshot {
  readonly version: 1;
  readonly registry: RegistrySnapshot;
  readonly members: ReadonlyArray<readonly [string, string]>;
}

export class GroupState {
  readonly names = new NameRegistry();
  readonly #addresses = new Map<string, string>();

  get appliedIndex(): number {
    return this.names.appliedIndex;
  }

  addressOf(node: string): string | undefined {
    return this.#addresses.get(node);
  }

  addresses(): Array<[string, string]> {
    return [...this.#addresses.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  apply(index: number, command: GroupCommand): GroupResult {
    switch (command.op) {
      case 'member':
        this.names.skip(index);
        this.#addresses.set(command.node, command.address);
        return { ok: true, revision: index };
      case 'forget_member':
        this.names.skip(index);
        this.#addresses.delete(command.node);
        return { ok: true, revision: index };
      default:
        return this.names.apply(index, command);
    }
  }

  /** An entry that carries no command (no-op, configuration change). */
  skip(index: number): void {
    this.names.skip(index);
  }

  snapshot(): Uint8Array {
    const snapshot: GroupSnapshot = { version: 1, registry: this.names.snapshot(), members: this.addresses() };
    return encode(snapshot);
  }

  restore(bytes: Uint8Array): void {
    const snapshot = decode(bytes) as GroupSnapshot;
    assert(snapshot !== null && typeof snapshot === 'object' && snapshot.version === 1, 'unknown group snapshot');
    this.names.restore(snapshot.registry);
    this.#addresses.clear();
    for (const [node, address] of snapshot.members) this.#addresses.set(node, address);
  }
}
