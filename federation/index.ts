// federation — many groups. The public face of the folder; other folders import only this file.
export * from './core.js';
export { BATCH_COMMANDS_MAX } from './directory.js';
export {
  GlobalNames,
  GLOBAL_EXTENSION,
  GLOBAL_EVENTS_MAX,
  RELEASE_NAMES_MAX,
  SLOT_BATCH_MAX,
  type SlotState,
  type GlobalEntry,
  type LocalGateway,
  type SlotStep,
  type GlobalCommand,
  type GlobalResult,
  type GlobalChange,
  type GlobalSnapshot,
} from './global-names.js';
export { federationMachines, DIRECTORY_EXTENSION, type FederationMachines } from './machines.js';
export { Rpc, RPC_PENDING_MAX_DEFAULT, type RpcHandler } from './rpc.js';
export {
  Federation,
  FEDERATION_DEFAULTS,
  type FederationOptions,
  type FederationSettings,
  type FederationConsistency,
  type FederationStatus,
  type GlobalWhereis,
  type DirectorySummary,
} from './federation.js';
