/**
 * Signals: everything one process can do to another, as plain data. The process runtime turns
 * API calls into signals; a signal whose target lives on this node is handled locally, any other
 * is handed to the node's `SignalRouter` (distribution), which carries it to the target node and
 * hands it to that node's `Node.deliverSignal`.
 *
 * Ordering: signals from one process to another arrive in the order they were sent (Erlang's
 * guarantee), whichever lane carries them. Nothing else is promised.
 */
import type { Pid, Ref } from './pid.js';

/** Why a process ended. `normal` and `shutdown` are clean exits; `kill` is untrappable. */
export type ExitReason =
  | 'normal'
  | 'shutdown'
  | 'kill'
  | 'killed'
  | 'noproc'
  | 'noconnection'
  | { readonly shutdown: unknown }
  | { readonly error: string; readonly code?: string; readonly stack?: string }
  | string
  | Readonly<Record<string, unknown>>;

/** A registered name on a given node, as Erlang's `{Name, Node}`. */
export interface NameAtNode {
  readonly name: string;
  readonly node: string;
}

export type Signal =
  /** A user message to a pid. */
  | { readonly kind: 'send'; readonly from: Pid | undefined; readonly to: Pid; readonly msg: unknown }
  /** A user message to a locally registered name on `to.node`. */
  | { readonly kind: 'reg_send'; readonly from: Pid | undefined; readonly to: NameAtNode; readonly msg: unknown }
  | { readonly kind: 'link'; readonly from: Pid; readonly to: Pid }
  | { readonly kind: 'unlink'; readonly from: Pid; readonly to: Pid }
  /** Link propagation: `from` ended with `reason`, and `to` is linked to it. */
  | { readonly kind: 'exit'; readonly from: Pid; readonly to: Pid; readonly reason: ExitReason }
  /** `exit(to, reason)` called by `from` (Erlang's exit/2): not a link signal. */
  | { readonly kind: 'exit2'; readonly from: Pid; readonly to: Pid; readonly reason: ExitReason }
  | { readonly kind: 'monitor'; readonly from: Pid; readonly to: Pid | NameAtNode; readonly ref: Ref }
  | { readonly kind: 'demonitor'; readonly from: Pid; readonly to: Pid | NameAtNode; readonly ref: Ref }
  /** The monitored process `from` (or name) ended; `to` is the monitoring process. */
  | {
      readonly kind: 'down';
      readonly from: Pid | NameAtNode;
      readonly to: Pid;
      readonly ref: Ref;
      readonly reason: ExitReason;
    };

export type SignalKind = Signal['kind'];

/** The node a signal is addressed to. */
export function signalTargetNode(signal: Signal): string {
  return signal.to.node;
}

/** User data travels on the data lane; every other signal on the control lane. */
export function isDataSignal(signal: Signal): boolean {
  return signal.kind === 'send' || signal.kind === 'reg_send';
}

/**
 * Carries signals to other nodes. `route` never blocks and never throws for an unreachable
 * node: as in Erlang, a message to a dead or unreachable node is dropped, while link and
 * monitor signals to an unreachable node are answered locally with `noconnection`
 * (the router calls back `Node.deliverSignal` with the `exit`/`down` signal).
 */
export interface SignalRouter {
  route(signal: Signal): void;
}
