/**
 * The public face of `registry/raft/`: the pure Raft core (`RaftNode`), its configuration, the
 * storage contract with its in-memory implementation, and the types of inputs, messages and
 * `Ready`. The simulator lives in `./sim/` and is not exported here.
 *
 * Driver contract (also in `node.ts`): step inputs; while `hasReady()`: `ready()`, send
 * `earlyMessages` (empty unless `earlyReplication`), persist (snapshot, entries, hardState,
 * compaction — synced when `mustSync`), THEN send messages, then restore/apply/serve reads,
 * then `advance()`. No `step()` between `ready()` and `advance()` unless `earlyReplication`.
 */
export { RaftNode, type RaftStatus } from './node.js';
export {
  RAFT_DEFAULTS,
  type RaftBugs,
  type RaftBuggify,
  type RaftConfig,
  type ReadMode,
  defaultRaftConfig,
  validateRaftConfig,
} from './config.js';
export {
  EMPTY_CONF,
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  MemoryStorage,
  type RaftStorage,
  dataBytesEstimate,
  entryBytesEstimate,
} from './storage.js';
export { applyConfChange, splitAppend } from './log.js';
export type * from './types.js';
