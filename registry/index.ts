// registry — one group. The public face of the folder; other folders import only this file.
export { Group, GROUP_DEFAULTS, targetVoters, UNSAFE_MODES, type AdmissionStats, type DriverStats, type UnsafeMode, JOIN_TIMEOUT_MS_DEFAULT, resultError, type AppliedEvent, type Consistency, type GroupOptions, type GroupStatus, type MemberStatus, type WhereisResult } from './group.js';
export { GroupState, type ExtensionStateMachine, type GroupCommand, type GroupEntryData, type GroupResult } from './group-state.js';
export { NameRegistry, copyMeta, validateName, WATCH_EVENTS_MAX, type NameEntry, type ClaimEntry, type RegistryCommand, type RegistryResult, type WatchEvent } from './names.js';
export { openDataDir, openDataDirVerified, DATA_FORMAT_VERSION, type DataDirIdentity, type OpenedDataDir, type VerifiedDataDir } from './data-dir.js';
export { RaftStore, RAFT_STORE_FORMAT, type GroupRaftStore, type RaftStoreStats } from './raft-store.js';
export { HashRing, RING_WEIGHT_MAX } from './ring.js';
export * as raft from './raft/index.js';
export { SingletonManager, SINGLETON_DEFAULTS, type SingletonSpec, type SingletonInit, type SingletonEvent, type SingletonStartReason, type SingletonStopReason, type SingletonStatus, type SingletonManagerOptions } from './singleton.js';
