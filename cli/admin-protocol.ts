/**
 * The admin protocol: what the CLI (a hidden node) asks of a running node. The node runs an
 * admin server registered locally as `fedctl_admin`; the CLI `call`s it over the normal
 * authenticated link, as `erl -remsh` reaches a node. Answers are plain data (pids in printed
 * form) so `--json` output is stable.
 */
export const ADMIN_SERVER_NAME = 'fedctl_admin';

export type Consistency = 'local' | 'leader' | 'linearizable';

export type AdminRequest =
  | { readonly op: 'register'; readonly name: string; readonly pid?: string; readonly meta: Record<string, string> }
  /** With `pid`: only if `pid` holds the name (`not_owner` otherwise). Without: whoever holds it. */
  | { readonly op: 'unregister'; readonly name: string; readonly pid?: string }
  /** A process on the node that can own names and lives until `release_holder` (or its node dies). */
  | { readonly op: 'spawn_holder' }
  | { readonly op: 'release_holder'; readonly pid: string }
  /**
   * Fault injection (only on nodes started with `--fault-injection`): cut this node's links to
   * `blocked` nodes and refuse them until a call with an empty list heals it.
   */
  | { readonly op: 'fault'; readonly blocked: readonly string[] }
  | { readonly op: 'whereis'; readonly name: string; readonly consistency: Consistency }
  | { readonly op: 'names'; readonly prefix: string }
  | { readonly op: 'members' }
  | { readonly op: 'status' }
  | { readonly op: 'ring'; readonly key?: string }
  | { readonly op: 'groups' }
  | { readonly op: 'join'; readonly seed: string }
  | { readonly op: 'leave' }
  | { readonly op: 'stats' }
  /** A `NodeSnapshot` of runtime/observe: processes (top N by mailbox or rate), peers, Raft state. */
  | { readonly op: 'introspect'; readonly top?: number; readonly sortBy?: 'mailbox' | 'rate' }
  | { readonly op: 'watch_poll'; readonly prefix: string; readonly afterRevision: number; readonly waitMs: number };

export interface NameInfo {
  readonly name: string;
  readonly pid: string;
  readonly node: string;
  readonly meta: Record<string, unknown>;
  readonly revision: number;
}

export interface MemberInfo {
  readonly node: string;
  readonly address: string;
  readonly role: 'voter' | 'learner';
  readonly state: 'up' | 'down';
  readonly leader: boolean;
  readonly matchIndex?: number;
  readonly lag?: number;
}

/** What an admin call answers: `ok` with a value, or a typed error (code, message, details). */
export type AdminReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly details?: Record<string, unknown> };
