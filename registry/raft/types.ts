/**
 * The data types of the Raft core: log entries, persisted state, messages between members, the
 * inputs a driver feeds to `RaftNode.step`, and the `Ready` record of effects it gets back.
 *
 * Contract of `Ready` (the order is the point — see `RaftNode` for the full driver loop):
 *   0. `earlyMessages` may be sent at once, before or while step 1 runs: they never depend on
 *      this Ready's writes (always empty unless `earlyReplication` is configured; then a
 *      leader's appends and heartbeats of a term already durable — never an acknowledgement or
 *      a vote, never anything a follower sends);
 *   1. persist `snapshot`, then `entries`, then `hardState`, then `compaction`, durably (fsync)
 *      when `mustSync` is true;
 *   2. only then send `messages` (they may promise what step 1 wrote: a vote, an appended entry);
 *   3. restore the state machine from `snapshot` if present, apply `committedEntries` in order,
 *      serve each of `readStates` once the applied index reaches its `index`;
 *   4. call `advance()`. Only then take the next `Ready`.
 * Between `ready()` and `advance()` the driver may `step()` inputs only with
 * `earlyReplication` (their effects go into the next Ready); otherwise it queues them.
 *
 * Entries are immutable once created: the core shares entry objects between its log, messages
 * and `Ready` without copying. `data` is opaque to the core except for `conf_change` entries,
 * whose data is a `ConfChange`.
 */

/** A member is named by a string (its node name). */
export type NodeId = string;

export type EntryType = 'normal' | 'noop' | 'conf_change';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Opaque for `normal` entries; a `ConfChange` for `conf_change`; `null` for `noop`. */
  readonly data: unknown;
}

/** The configuration: who votes and who only receives the log. Disjoint sets. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * A single-member configuration change. `bootstrap` only ever appears as the first entry of a
 * freshly bootstrapped group's log (it sets the whole configuration).
 */
export type ConfChange =
  | { readonly type: 'add_learner'; readonly node: NodeId }
  | { readonly type: 'add_voter'; readonly node: NodeId }
  | { readonly type: 'promote'; readonly node: NodeId }
  | { readonly type: 'remove'; readonly node: NodeId }
  | { readonly type: 'bootstrap'; readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[] };

/** What must survive a crash besides the log: the current term, the vote in it, the commit. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

export interface SnapshotMeta {
  /** Last log index the snapshot covers, its term, and the configuration at that index. */
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The state machine's serialized state at `meta.index`; opaque bytes. */
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'pre_candidate' | 'candidate' | 'leader';

/** Volatile state, reported when it changes. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly term: number;
}

/** A ReadIndex result: the read `requestId` may be served once applied index >= `index`. */
export interface ReadState {
  readonly requestId: string;
  readonly index: number;
}

export type RejectReason =
  | 'not_leader'
  | 'transfer_in_progress'
  | 'conf_change_pending'
  | 'bad_conf_change'
  | 'leadership_lost'
  | 'bad_target'
  | 'queue_full';

/** The fate of a request made through `step` (proposal, conf change, read, transfer). */
export type RequestResult =
  | { readonly kind: RequestKind; readonly id: string; readonly outcome: 'appended'; readonly index: number; readonly term: number }
  | { readonly kind: RequestKind; readonly id: string; readonly outcome: 'forwarded'; readonly to: NodeId }
  | {
      readonly kind: RequestKind;
      readonly id: string;
      readonly outcome: 'rejected';
      readonly reason: RejectReason;
      /** The leader as far as this member knows, for `not_leader`. */
      readonly leaderHint: NodeId | null;
    };

export type RequestKind = 'propose' | 'conf_change' | 'read_index' | 'transfer_leader';

// ---------------------------------------------------------------------------------------------
// Messages. `term` is the sender's term; forwarded requests (`propose`, `read_index`) carry
// term 0 and are not subject to term comparison.

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

export interface VoteRequest extends MessageBase {
  readonly type: 'pre_vote' | 'vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Set when campaigning because of TimeoutNow: overrides the leader-lease refusal. */
  readonly transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'pre_vote_response' | 'vote_response';
  readonly granted: boolean;
}

export interface AppendRequest extends MessageBase {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends MessageBase {
  readonly type: 'append_response';
  readonly reject: boolean;
  /** On success, the last index known to match; on rejection, the rejected `prevIndex`. */
  readonly index: number;
  /** On rejection: a hint where the logs may agree (fast backtracking). */
  readonly hintIndex: number;
  readonly hintTerm: number;
}

export interface HeartbeatRequest extends MessageBase {
  readonly type: 'heartbeat';
  readonly commit: number;
  /** Heartbeat round of the leader, echoed back (ReadIndex confirmation and leases). */
  readonly round: number;
}

export interface HeartbeatResponse extends MessageBase {
  readonly type: 'heartbeat_response';
  readonly round: number;
}

export interface SnapshotChunk extends MessageBase {
  readonly type: 'snapshot';
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly totalBytes: number;
  readonly chunk: Uint8Array;
}

export interface SnapshotChunkResponse extends MessageBase {
  readonly type: 'snapshot_response';
  readonly snapshotIndex: number;
  /** Bytes of this snapshot the receiver holds: where the sender continues. */
  readonly nextOffset: number;
}

export interface TimeoutNow extends MessageBase {
  readonly type: 'timeout_now';
}

export interface ForwardedProposal extends MessageBase {
  readonly type: 'propose';
  readonly data: readonly unknown[];
}

export interface ForwardedReadIndex extends MessageBase {
  readonly type: 'read_index';
  readonly requestId: string;
  /**
   * The follower's term when it forwarded the read (absent from members of earlier releases).
   * A voter in the leader's own term vouches that, when the read began, it had voted for no
   * later leader: with the leader, that is a quorum of three (see RaftNode `#serveRead`).
   */
  readonly requesterTerm?: number;
}

export interface ReadIndexResponse extends MessageBase {
  readonly type: 'read_index_response';
  readonly requestId: string;
  readonly index: number;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotChunk
  | SnapshotChunkResponse
  | TimeoutNow
  | ForwardedProposal
  | ForwardedReadIndex
  | ReadIndexResponse;

export type MessageType = Message['type'];

// ---------------------------------------------------------------------------------------------
// Inputs to `RaftNode.step`.

export type Input =
  /** One unit of logical time. */
  | { readonly type: 'tick' }
  /** A message from another member (the driver checks `to` is this node). */
  | { readonly type: 'message'; readonly message: Message }
  /** Propose a normal entry. `id` names the request in `Ready.requests`. */
  | { readonly type: 'propose'; readonly data: unknown; readonly id?: string }
  /** Ask for a linearizable read point; answered in `Ready.readStates` (or a rejection). */
  | { readonly type: 'read_index'; readonly requestId: string }
  /** Change the configuration by one member (leader only). */
  | { readonly type: 'conf_change'; readonly change: ConfChange; readonly id?: string }
  /** Hand leadership to `to` (leader only). */
  | { readonly type: 'transfer_leader'; readonly to: NodeId; readonly id?: string }
  /** Start an election now (tests, or an operator forcing a campaign). */
  | { readonly type: 'campaign' }
  /**
   * The application took a snapshot of its state at applied index `index`: the core will emit
   * it as `Ready.compaction` and drop the log up to `index`.
   */
  | { readonly type: 'snapshot_taken'; readonly index: number; readonly data: Uint8Array };

export interface Ready {
  /** Persist (1): a snapshot received from the leader; replaces the log up to its index. */
  readonly snapshot: Snapshot | null;
  /** Persist (1): entries to append; an entry at an existing index replaces it and all after. */
  readonly entries: readonly Entry[];
  /** Persist (1): the new hard state, if it changed. */
  readonly hardState: HardState | null;
  /** Persist (1): a snapshot the application took; store it and drop the log up to its index. */
  readonly compaction: Snapshot | null;
  /** True when step 1 must be durable (fsync) before step 2. */
  readonly mustSync: boolean;
  /**
   * Send (0) at once, in parallel with step 1: a leader's replication that depends on nothing
   * step 1 writes (its own entries need not be durable yet; it counts itself toward commit only
   * up to its durable index). Empty unless `earlyReplication` is configured.
   */
  readonly earlyMessages: readonly Message[];
  /** Send (2), only after step 1 is durable. */
  readonly messages: readonly Message[];
  /** Apply (3), in order, after restoring `snapshot` if any. */
  readonly committedEntries: readonly Entry[];
  /** Serve (3) each read once the applied index reaches `index`. */
  readonly readStates: readonly ReadState[];
  /** The new role/leader/term, if it changed. */
  readonly softState: SoftState | null;
  /** Outcomes of requests: appended (with index/term), forwarded, or rejected with a reason. */
  readonly requests: readonly RequestResult[];
}
