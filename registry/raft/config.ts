/**
 * Configuration of a `RaftNode`: `defaultRaftConfig()` gives the defaults and
 * `validateRaftConfig()` refuses impossible settings at construction (a `FedError` with code
 * `config`). Time is in ticks: the driver calls `step({type: 'tick'})` at a fixed interval.
 *
 * Read modes:
 * - `safe` (default): ReadIndex — the leader records its commit index, confirms it is still
 *   leader with a heartbeat round acknowledged by a quorum, then releases the read.
 * - `lease`: the leader serves a read without a round trip while it holds a lease: a quorum
 *   acknowledged a heartbeat sent at tick T, and a member that heard from a leader ignores vote
 *   requests for electionTicks (in lease mode also after its own restart), so none of them
 *   votes for anyone else before their own tick count reaches T + electionTicks. The lease ends at
 *   T + electionTicks - leaseDriftTicks on the leader's tick count. CLOCK ASSUMPTION: every
 *   member's ticks advance at the same rate within `leaseDriftTicks` per election timeout. A
 *   paused or slow-ticking leader process breaks this; use `safe` unless that is guaranteed.
 *   Lease mode requires `checkQuorum`.
 */
import { fedError } from '../../runtime/kernel/errors.js';
import type { Rng } from '../../runtime/kernel/rng.js';
import type { ConfState, NodeId } from './types.js';

/**
 * Deliberate bugs, for the simulator's own tests only (to prove it catches each one). Product
 * code never sets these. `sendBeforePersist` is honoured by the driver loop, not the core.
 */
export interface RaftBugs {
  /** Figure 8: commit entries of earlier terms by counting replicas. */
  readonly commitOldTermByCounting?: boolean;
  /** Leave the vote out of the persisted hard state. */
  readonly forgetVote?: boolean;
  /** The driver sends a Ready's messages before persisting it. */
  readonly sendBeforePersist?: boolean;
  /** Grant votes without checking that the candidate's log is at least as up to date. */
  readonly skipLogCheckInVote?: boolean;
  /** A follower hands out entries beyond its commit index for applying. */
  readonly applyBeyondCommit?: boolean;
  /** A leader appends a configuration change before committing an entry of its own term. */
  readonly skipOwnTermBeforeConfChange?: boolean;
  /** A leader counts its own log toward commit up to its last index, durable or not. */
  readonly leaderCountsUnpersisted?: boolean;
  /**
   * A follower whose log already matches a snapshot it receives answers with its last index,
   * vouching for the unchecked entries after the snapshot (a stale suffix, maybe).
   */
  readonly snapshotMatchAcksLastIndex?: boolean;
  /** A leader serves every read at its commit index at once, with no quorum confirming it still leads. */
  readonly serveReadsUnconfirmed?: boolean;
  /**
   * A leader takes any forwarded read as confirmed by its requester, whatever the requester's
   * term and role and however many voters there are (the rule is: a voter of the leader's own
   * term, and only where it and the leader are a quorum).
   */
  readonly anyRequesterConfirmsRead?: boolean;
}

/**
 * BUGGIFY fault sites inside the core (FoundationDB's idea): behaviour that stays within the
 * protocol but that ordinary runs almost never produce, so the simulator reaches dangerous
 * states. Only the simulator sets these; each is a probability in [0, 1], drawn from `rng`.
 */
export interface RaftBuggify {
  /** A new leader starts a follower's progress from its own first index (sends its snapshot). */
  readonly progressFromFirstIndexProbability?: number;
}

export type ReadMode = 'safe' | 'lease';

export interface RaftConfig {
  readonly id: NodeId;
  /** Seeded randomness: election timeouts are drawn from it. */
  readonly rng: Rng;
  /** A follower campaigns after a random timeout in [electionTicks, 2 * electionTicks). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Followers forward proposals to the leader (true) or reject them with `not_leader`. */
  readonly forwardProposals: boolean;
  readonly readMode: ReadMode;
  readonly leaseDriftTicks: number;
  /**
   * A leader's write to its own disk runs in parallel with replication (Raft thesis §10.2.1):
   * its appends and heartbeats come in `Ready.earlyMessages`, to send before the Ready is
   * persisted, and the driver may `step()` while that write is in flight. The leader counts
   * itself toward commit only up to its durable index. Followers are unchanged: they persist
   * before acknowledging. Off by default: a driver that ignores `earlyMessages` must keep it off.
   */
  readonly earlyReplication: boolean;
  /** Flow control per follower: append messages and bytes in flight. */
  readonly inflightMessagesMax: number;
  readonly inflightBytesMax: number;
  /** Largest append message, in entries and in (estimated) bytes. */
  readonly messageEntriesMax: number;
  readonly messageBytesMax: number;
  /** Size of one InstallSnapshot chunk. */
  readonly snapshotChunkBytes: number;
  /** Largest snapshot a follower assembles. */
  readonly snapshotBytesMax: number;
  /** Largest batch of `committedEntries` in one `Ready` (estimated bytes; at least one entry). */
  readonly applyBytesMax: number;
  /** Reads waiting for the leader's first commit in its term; more are rejected. */
  readonly pendingReadsMax: number;
  /** Configuration for a brand-new group: written as entry 1 if storage is empty. */
  readonly bootstrap: ConfState | null;
  /** Index the application has already applied at restart (default: the snapshot index). */
  readonly applied: number | null;
  /** Test-only. */
  readonly bugs: RaftBugs;
  /** Simulator-only. */
  readonly buggify: RaftBuggify;
}

export const RAFT_DEFAULTS = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  forwardProposals: false,
  readMode: 'safe',
  leaseDriftTicks: 2,
  earlyReplication: false,
  inflightMessagesMax: 256,
  inflightBytesMax: 16 * 1024 * 1024,
  messageEntriesMax: 4_096,
  messageBytesMax: 1024 * 1024,
  snapshotChunkBytes: 256 * 1024,
  snapshotBytesMax: 1024 * 1024 * 1024,
  applyBytesMax: 16 * 1024 * 1024,
  pendingReadsMax: 4_096,
  bootstrap: null,
  applied: null,
  bugs: {},
  buggify: {},
} as const satisfies Omit<RaftConfig, 'id' | 'rng'>;

export function defaultRaftConfig(id: NodeId, rng: Rng, overrides: Partial<RaftConfig> = {}): RaftConfig {
  return { ...RAFT_DEFAULTS, id, rng, ...overrides };
}

export function validateRaftConfig(config: RaftConfig): void {
  const fail = (message: string): never => {
    throw fedError('config', `raft: ${message}`, { id: config.id });
  };
  if (typeof config.id !== 'string' || config.id.length === 0) fail('id must be a non-empty string');
  const positive: (keyof RaftConfig)[] = [
    'electionTicks',
    'heartbeatTicks',
    'inflightMessagesMax',
    'inflightBytesMax',
    'messageEntriesMax',
    'messageBytesMax',
    'snapshotChunkBytes',
    'snapshotBytesMax',
    'applyBytesMax',
    'pendingReadsMax',
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) fail(`${key} must be a positive integer`);
  }
  for (const [key, value] of Object.entries(config.buggify)) {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) fail(`buggify.${key} must be a probability in [0, 1]`);
  }
  if (config.heartbeatTicks >= config.electionTicks) fail('heartbeatTicks must be below electionTicks');
  if (config.readMode === 'lease') {
    if (!config.checkQuorum) fail('lease reads require checkQuorum');
    if (!(config.leaseDriftTicks >= 0 && config.leaseDriftTicks < config.electionTicks)) {
      fail('leaseDriftTicks must be in [0, electionTicks)');
    }
  } else if (config.readMode !== 'safe') {
    fail(`unknown readMode ${String(config.readMode)}`);
  }
  if (config.bootstrap !== null) {
    const voters = new Set(config.bootstrap.voters);
    if (voters.size === 0) fail('bootstrap needs at least one voter');
    if (voters.size !== config.bootstrap.voters.length) fail('bootstrap voters repeat');
    for (const learner of config.bootstrap.learners) if (voters.has(learner)) fail(`${learner} is both voter and learner`);
  }
}
