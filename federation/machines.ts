/**
 * The two extension state machines federation plugs into every group's Raft log:
 * - `global`: the group's share of the global namespace (`GlobalNames`);
 * - `directory`: the federation directory (`Directory`). Only the root group ever applies
 *   commands to it; in every other group it stays empty.
 * Both answer every command with `{ok: true, value}` and put their typed outcome in `value`, so
 * a refusal is read from the value, never from a thrown `ext_refused`.
 *
 *   const machines = federationMachines();
 *   const group = await Group.open({ …, extensions: machines.extensions });
 *   const federation = await Federation.attach({ …, group, machines });
 */
import type { ExtensionStateMachine } from '../registry/index.js';
import { Directory, type DirectoryCommand, type DirectorySnapshot } from './directory.js';
import { GLOBAL_EXTENSION, GlobalNames } from './global-names.js';

export const DIRECTORY_EXTENSION = 'directory';

export interface FederationMachines {
  readonly global: GlobalNames;
  readonly directory: Directory;
  /** Pass to `Group.open({extensions})`. */
  readonly extensions: Readonly<Record<string, ExtensionStateMachine>>;
}

export function federationMachines(): FederationMachines {
  const global = new GlobalNames();
  const directory = new Directory();
  const directoryMachine: ExtensionStateMachine = {
    apply: (index, command) => ({ ok: true, value: directory.apply(index, command as DirectoryCommand) }),
    snapshot: () => directory.snapshot(),
    restore: (snapshot) => directory.restore(snapshot as DirectorySnapshot),
  };
  return { global, directory, extensions: { [GLOBAL_EXTENSION]: global, [DIRECTORY_EXTENSION]: directoryMachine } };
}
