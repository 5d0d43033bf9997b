// runtime — one node. The public face of the folder; other folders import only this file.
export * from './kernel/index.js';
export { Pid, Ref, isValidNodeName, assertNodeName } from './pid.js';
export { encode, decode, Encoded, encodeRecords } from './codec.js';
// Node, processes, servers, supervisors (runtime/public.ts lists them).
export * from './public.js';
export {
  Pool,
  startPool,
  type PoolOptions,
  type PoolStatus,
  POOL_WAITERS_MAX_DEFAULT,
  POOL_CHECKOUT_TIMEOUT_MS_DEFAULT,
  POOL_SIZE_MAX,
} from './pool.js';
export * from './dist/index.js';
export * from './observe/index.js';
