/**
 * The public API of the single-node runtime (processes, servers, supervisors), re-exported by
 * `runtime/index.ts`. Everything else in these files is internal.
 */
export { Node, type NodeOptions, type StopHook, STOP_TIMEOUT_MS_DEFAULT, STOP_HOOKS_MAX } from './node.js';
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
  isProcessExited,
  isCleanExit,
  reasonFromThrown,
} from './process.js';
export {
  From,
  type CallResult,
  type CastResult,
  type ServerBehaviour,
  type StartServerOptions,
  type NodeOrContext,
  startServer,
  call,
  cast,
  reply,
  stopServer,
} from './server.js';
export {
  type ChildSpec,
  type ChildInfo,
  type ChildType,
  type Intensity,
  type RestartType,
  type ShutdownPolicy,
  type Strategy,
  type SupervisorSpec,
  INTENSITY_DEFAULT,
  REACHED_MAX_RESTART_INTENSITY,
  worker,
  startSupervisor,
  startDynamicSupervisor,
  startChild,
  terminateChild,
  whichChildren,
} from './supervisor.js';
export type { ExitReason, NameAtNode, Signal, SignalRouter } from './signals.js';
