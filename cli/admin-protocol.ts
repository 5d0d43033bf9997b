/**
 * The admin protocol: what the CLI (a hidden node) asks of a running node. The node runs an
 * admin server registered locally as `fedctl_admin`; the CLI `call`s it over the normal
 * authenticated link, as `erl -remsh` reaches a node. Answers are plain data (pids in printed
 * form) so `--json` output is stable.
 */
export const ADMIN_SERVER_NAME = 'fedctl_admin';

export type Consistency = 'local' | 'leader' | 'linearizable';

/** Metadata keys under this prefix are fedctl's own; a user's are refused. */
export const RESERVED_META_PREFIX = 'fedctl:';
/** Marks a name registered from the CLI without `--pid` (held by a holder process until unregistered). */
export const SERVICE_ENTRY_META_KEY = `${RESERVED_META_PREFIX}entry`;

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
  /** `all`: in a federation, the names homed in every group (asked through their gateways). */
  | { readonly op: 'names'; readonly prefix: string; readonly all?: boolean }
  /**
   * One page of `names` (the node's own group; in a federation, the names homed there): the
   * names after `after` (the previous page's `next`), in order, at most NAMES_PAGE_NAMES_MAX of
   * them and about NAMES_PAGE_BYTES_MAX bytes. `fedctl names` reads a registry of any size this
   * way; one `names` answer over the frame limit could not be sent. `all`: in a federation, the
   * names homed in every group (each group's read through its gateways, page by page, into one
   * sorted listing on the asked node that serves the later pages).
   */
  | { readonly op: 'names_page'; readonly prefix: string; readonly after?: string; readonly all?: boolean }
  /** Send `message` (any msgpack-able value) to the process holding `name`. */
  | { readonly op: 'send'; readonly name: string; readonly message: unknown }
  /** The probe singletons declared on the node: owner, token, running here. */
  | { readonly op: 'singletons' }
  /** The node's group: leader, voters, learners, global names homed there (also served by gateway nodes). */
  | { readonly op: 'group_info' }
  | { readonly op: 'members' }
  | { readonly op: 'status' }
  | { readonly op: 'ring'; readonly key?: string }
  | { readonly op: 'groups' }
  /** Even out the hash slots over the federation's groups (on a member of the root group). */
  | { readonly op: 'rebalance' }
  | { readonly op: 'join'; readonly seed: string }
  | { readonly op: 'leave' }
  /** Hand the group's leadership to the voter `to` (a node name, as `members` lists it). */
  | { readonly op: 'transfer_leader'; readonly to: string }
  | { readonly op: 'stats' }
  /** A `NodeSnapshot` of runtime/observe: processes (top N by mailbox or rate), peers, Raft state. */
  /** `reader`: whose rate baseline (default: one per asking node); rates are since that reader's previous snapshot. */
  | { readonly op: 'introspect'; readonly top?: number; readonly sortBy?: 'mailbox' | 'rate'; readonly reader?: string }
  | { readonly op: 'watch_poll'; readonly prefix: string; readonly afterRevision: number; readonly waitMs: number };

/** Most names one `names_page` answer carries. */
export const NAMES_PAGE_NAMES_MAX = 20_000;
/** About the most bytes one `names_page` answer carries (a quarter of the default frame limit; a page has at least one name). */
export const NAMES_PAGE_BYTES_MAX = 2 * 1024 * 1024;

export interface NamesPage {
  readonly names: NameInfo[];
  /** When more names follow: the last name of this page, the next request's `after`; else null. */
  readonly next: string | null;
  /** Set on the answer to a request with `all` (an older node's answer lacks it: it listed its own group only). */
  readonly all?: boolean;
}

export interface NameInfo {
  readonly name: string;
  readonly pid: string;
  readonly node: string;
  readonly meta: Record<string, unknown>;
  readonly revision: number;
  /** The group whose registry holds the name (in a federation: its home group). */
  readonly group: string;
}

/** One row of `fedctl groups`. */
export interface GroupRow {
  readonly group: string;
  readonly root: boolean;
  /** `standalone` for a group outside any federation; else the directory's state. */
  readonly state: 'standalone' | 'active' | 'draining' | 'removed';
  /** Hash slots the group owns (null outside a federation). */
  readonly slots: number | null;
  readonly leader: string | null;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  /** Names homed in the group (null if it did not answer). */
  readonly names: number | null;
  readonly gateways: ReadonlyArray<{ readonly node: string; readonly address: string }>;
  /** False when none of the group's gateways answered (leader, members and names unknown). */
  readonly reachable: boolean;
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
