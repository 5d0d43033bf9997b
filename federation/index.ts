// federation — many groups. The public face of the folder; other folders import only this file.
//
//   const machines = federationMachines();                       // before the group opens
//   const group = await Group.open({ node, distribution, group: 'ga', address, extensions: machines.extensions, … });
//   const federation = await Federation.attach({ node, distribution, group, machines, cookie,
//     createRoot: true,                 // only in the group that creates the federation
//     seeds: ['127.0.0.1:4380'] });     // other groups: hidden addresses of root gateways
//   await federation.ready();                                    // joined, or a typed alarm (two_roots, group_removed…)
//   await federation.register('svc:orders', pid);                // linearizable in the home group
//   await federation.whereis('svc:orders', { consistency: 'linearizable' });
//   await federation.send('svc:orders', msg);   await federation.monitor(watcher, found);
//   await federation.directory();  await federation.rebalance();  // (rebalance: on a root member)
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
  type GlobalDeleteReason,
  type GlobalSnapshot,
  type FederationAlarm,
  type FederationAlarmCode,
  IMPORT_NAMES_MAX,
} from './global-names.js';
export { federationMachines, DIRECTORY_EXTENSION, type FederationMachines } from './machines.js';
export { Rpc, RPC_PENDING_MAX_DEFAULT, type RpcHandler } from './rpc.js';
export {
  Federation,
  FEDERATION_DEFAULTS,
  gatewayNodeName,
  type FederationOptions,
  type FederationSettings,
  type FederationConsistency,
  type FederationStatus,
  type GlobalWhereis,
  type DirectorySummary,
  type SlotMoveReport,
  type SlotMoveRefusal,
  type SlotMoveRefusalCode,
} from './federation.js';
