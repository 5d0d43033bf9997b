// runtime — one node. The public face of the folder; other folders import only this file.
export * from './kernel/index.js';
export { Pid, Ref, isValidNodeName, assertNodeName } from './pid.js';
export { encode, decode } from './codec.js';
export type { ExitReason, NameAtNode, Signal, SignalRouter } from './signals.js';
export { Node, type NodeOptions, type StopHook } from './node.js';
export {
  TIMEOUT,
  type Timeout,
  type ProcessContext,
  type ProcessFn,
  type SpawnOptions,
  type MailboxOverflow,
  type TrySendResult,
  type SendTarget,
  type ExitMessage,
  type DownMessage,
  isExitMessage,
  isDownMessage,
} from './process.js';
export * from './dist/index.js';
