/**
 * `runSeed(seed)`: one randomized simulation, fully determined by its seed.
 *
 * From the seed it draws a cluster (3 or 5 members, some of them outside the initial
 * configuration), Raft settings (pre-vote, forwarding, lease reads, tiny append and snapshot
 * chunk limits, the core's BUGGIFY sites such as a new leader that sends its snapshot to
 * followers whose logs already match it, and for half the seeds the overlapped driver: early
 * leader replication over disks whose writes take ticks), and network faults; then it runs two
 * phases:
 *
 * 1. Safety phase (`safetyTicks`): a client proposes, reads, takes snapshots, changes the
 *    membership and transfers leadership, while a nemesis drops, duplicates, delays and reorders
 *    messages, partitions the network (halves, majority ring, bridge, isolated leader), and
 *    crashes and restarts members (also inside a driver cycle). The checker runs on every step.
 * 2. Liveness phase: every fault heals (no loss, no duplicates; with one-entry appends, each
 *    link in order again, as one TCP connection is) and every member restarts; within
 *    `livenessTicks` a leader must be elected and a fresh proposal applied by it.
 *
 * A failure returns the seed, its kind (safety with the invariant, liveness, error), the reason,
 * every event of the run and the numbers of the workload actions carried out; running the seed
 * again replays exactly the same run, and `Suppression` re-runs it with parts of the schedule
 * left out (sim/minimize.ts shrinks failures that way).
 */
import { assert } from '../../../runtime/kernel/assert.js';
import { Rng } from '../../../runtime/kernel/rng.js';
import type { ConfChange, NodeId, RaftBugs } from '../index.js';
import { type SafetyInvariant, SafetyViolation } from './checker.js';
import { type NetworkFaults, SimCluster, type TraceEvent } from './cluster.js';

/** Kinds of the workload's numbered actions (the client's requests and the nemesis' faults). */
export const WORKLOAD_KINDS = ['propose', 'read', 'snapshot', 'conf_change', 'transfer', 'crash', 'partition'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/**
 * Faults of the cluster itself rather than numbered actions: message loss and duplication
 * (`network`), crashes inside a driver cycle, after a vote or after a commit, and disk stalls
 * (`driver_crashes`), and the core's BUGGIFY sites (`buggify`).
 */
export const CLUSTER_FAULT_KINDS = ['network', 'driver_crashes', 'buggify'] as const;
export type SuppressibleKind = WorkloadKind | (typeof CLUSTER_FAULT_KINDS)[number];

/**
 * What a re-run leaves out (failure minimization): whole kinds, and every workload action whose
 * number is not in `keep` (null: keep them all). Every random choice is still drawn, so the rest
 * of the schedule keeps its randomness (the run diverges only through what the actions left out
 * would have done).
 */
export interface Suppression {
  readonly kinds: readonly SuppressibleKind[];
  readonly keep: readonly number[] | null;
}

export const NO_SUPPRESSION: Suppression = { kinds: [], keep: null };

export interface SeedOptions {
  readonly bugs?: RaftBugs;
  readonly safetyTicks?: number;
  readonly livenessTicks?: number;
  /**
   * Stop after this many ticks and report no failure (minimization's cut-off for re-runs that
   * cannot beat the best run found; a run that fails earlier is unaffected).
   */
  readonly ticksMax?: number;
  /** Force a cluster size (otherwise 3 or 5 from the seed). */
  readonly size?: 3 | 5;
  readonly suppress?: Suppression;
}

/**
 * How a run failed: `safety` — the checker caught a broken invariant (`SafetyViolation`);
 * `liveness` — no progress within the bound after healing; `error` — anything else thrown
 * (an assertion inside the core, or a harness error): a failure of the run, but not proof that
 * the checker caught anything.
 */
export type FailureKind = 'safety' | 'liveness' | 'error';

export interface SeedResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure: FailureKind | null;
  /** For `safety` failures: the invariant broken and the members involved. */
  readonly invariant: SafetyInvariant | null;
  readonly nodes: readonly NodeId[];
  readonly reason: string | null;
  /** Failed runs: every event (oldest dropped past `TRACE_EVENTS_MAX`, counted here). */
  readonly trace: readonly TraceEvent[];
  readonly traceDropped: number;
  /** Failed runs: the numbers of the workload actions carried out. */
  readonly actions: readonly number[];
  readonly ticks: number;
  readonly applied: number;
  readonly reads: number;
  readonly messages: number;
}

export const SAFETY_TICKS_DEFAULT = 300;
export const LIVENESS_TICKS_DEFAULT = 400;
const ELECTION_TICKS = 10;
/** Longest simulated disk stall: within the leader's stall check plus a round trip. */
const DISK_STALL_TICKS_MAX = 6;

type PartitionShape = 'halves' | 'ring' | 'bridge' | 'isolate_leader' | 'isolate_one' | 'leader_minority';

/** How hard the nemesis pushes; drawn per seed. */
interface NemesisSettings {
  readonly crashProbability: number;
  readonly partitionProbability: number;
  readonly partitionTicksMax: number;
  readonly isolateNewLeaderProbability: number;
  /** Per tick, and right after an election; and the chance to re-partition after a change. */
  readonly confChangeProbability: number;
  readonly confChangeOnNewLeaderProbability: number;
  readonly partitionAfterConfChangeProbability: number;
  /** Steer membership changes toward this many voters (null: any change). */
  readonly voterTarget: number | null;
}

type Profile = 'chaos' | 'churn' | 'membership';

/**
 * Three profiles, drawn per seed:
 * - `chaos`: every fault at random rates, 3 or 5 members, some membership changes;
 * - `churn`: 3 voters, a clean but slow network, leaders cut off right after election and
 *   crashed right after committing, one entry per append — it reaches the diverging-suffix
 *   states of Figure 8 far more often;
 * - `membership`: 5 members, 4 voters, frequent changes, right after elections, with the network
 *   re-partitioned right after a change is appended.
 */
export function runSeed(seed: number, options: SeedOptions = {}): SeedResult {
  const rng = new Rng(seed);
  const profile = rng.pick<Profile>(['chaos', 'chaos', 'chaos', 'churn', 'churn', 'membership']);
  const churn = profile === 'churn';
  const size = options.size ?? (profile === 'membership' ? 5 : churn || rng.chance(0.4) ? 3 : 5);
  const ids = Array.from({ length: size }, (_, k) => `n${k + 1}`);
  const initialVoters = churn ? size : profile === 'membership' ? size - 1 : size === 3 ? rng.range(2, 3) : rng.pick([3, 4, 4, 4, 5]);
  const voters = ids.slice(0, initialVoters);
  const learners = profile !== 'membership' && rng.chance(0.5) ? ids.slice(initialVoters, initialVoters + 1) : [];
  const faults: NetworkFaults =
    profile !== 'chaos'
    ? { lossProbability: churn ? 0 : 0.02, duplicateProbability: 0, delayTicksMin: 1, delayTicksMax: rng.pick([1, 2, 3]) }
    : {
        lossProbability: rng.pick([0, 0.02, 0.1, 0.2]),
        duplicateProbability: rng.pick([0, 0.02, 0.1]),
        delayTicksMin: 0,
        delayTicksMax: rng.pick([0, 1, 3, 6]),
      };
  const nemesis: NemesisSettings = churn
    ? {
        crashProbability: 0.005,
        partitionProbability: 0.01,
        partitionTicksMax: 20,
        isolateNewLeaderProbability: rng.pick([0.3, 0.6]),
        confChangeProbability: 0.01,
        confChangeOnNewLeaderProbability: 0,
        partitionAfterConfChangeProbability: 0,
        voterTarget: null,
      }
    : profile === 'membership'
      ? {
          crashProbability: 0.005,
          partitionProbability: 0.05,
          partitionTicksMax: 20,
          isolateNewLeaderProbability: 0.2,
          confChangeProbability: 0.15,
          confChangeOnNewLeaderProbability: 0.8,
          partitionAfterConfChangeProbability: 0.95,
          voterTarget: 4,
        }
      : {
          crashProbability: rng.pick([0.005, 0.02]),
          partitionProbability: rng.pick([0.02, 0.1, 0.3]),
          partitionTicksMax: rng.pick([8, 20, 60]),
          isolateNewLeaderProbability: rng.pick([0, 0.2, 0.5]),
          confChangeProbability: 0.06,
          confChangeOnNewLeaderProbability: 0.5,
          partitionAfterConfChangeProbability: 0.5,
          voterTarget: null,
        };
  const messageEntriesMax = churn ? 1 : rng.pick([1, 4, 64]);
  // Half the seeds run the overlapped driver: early leader replication, disks whose writes take
  // a tick or two and now and then stall (so followers answer while a leader's write is out).
  const earlyReplication = rng.chance(0.5);
  const diskDelayTicksMax = earlyReplication ? rng.pick([1, 2]) : 0;
  const diskStallProbability = earlyReplication ? rng.pick([0.05, 0.2]) : 0;
  const crashAfterCommitWhileWritingProbability = earlyReplication ? rng.pick([0.1, 0.3]) : 0;
  const checkQuorum = rng.chance(0.7);
  const leaseReads = checkQuorum && rng.chance(0.3);
  const suppress = options.suppress ?? NO_SUPPRESSION;
  const on = (kind: SuppressibleKind, probability: number): number => (suppress.kinds.includes(kind) ? 0 : probability);
  const cluster = new SimCluster({
    ids,
    bootstrap: { voters, learners },
    seed: rng.nextUint32(),
    faults: { ...faults, lossProbability: on('network', faults.lossProbability), duplicateProbability: on('network', faults.duplicateProbability) },
    cycleCrashProbability: on('driver_crashes', churn ? rng.pick([0.01, 0.03]) : rng.pick([0, 0.002, 0.01, 0.03])),
    rebootAfterVoteProbability: on('driver_crashes', rng.pick([0, 0.1, 0.3])),
    crashAfterCommitProbability: on('driver_crashes', churn ? rng.pick([0.05, 0.15]) : rng.pick([0, 0.02, 0.1])),
    snapshotPaddingBytes: rng.pick([0, 40, 200]),
    diskDelayTicksMax,
    diskStallProbability: on('driver_crashes', diskStallProbability),
    diskStallTicksMax: DISK_STALL_TICKS_MAX,
    crashAfterCommitWhileWritingProbability: on('driver_crashes', crashAfterCommitWhileWritingProbability),
    raft: {
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      preVote: rng.chance(0.5),
      checkQuorum,
      forwardProposals: rng.chance(0.5),
      readMode: leaseReads ? 'lease' : 'safe',
      earlyReplication,
      messageEntriesMax,
      // One entry per append with few in flight cannot drain a long backlog within the liveness bound.
      inflightMessagesMax: messageEntriesMax === 1 ? rng.pick([16, 64]) : rng.pick([4, 16, 64]),
      snapshotChunkBytes: rng.pick([8, 64, 4096]),
      bugs: options.bugs ?? {},
      buggify: { progressFromFirstIndexProbability: on('buggify', rng.pick([0, 0.2, 0.5])) },
    },
  });
  const workload = new Workload(cluster, rng, ids, nemesis, suppress);
  const raft = cluster.options.raft ?? {};
  cluster.note(
    `profile ${profile}: ${size} members, voters [${voters}], learners [${learners}]; ` +
      `network delay ${faults.delayTicksMin}-${faults.delayTicksMax} loss ${faults.lossProbability} dup ${faults.duplicateProbability}; ` +
      `entries/append ${raft.messageEntriesMax}, appends in flight ${raft.inflightMessagesMax}; ` +
      `${earlyReplication ? `early replication, disk writes 1-${diskDelayTicksMax} ticks, stalls ${diskStallProbability}` : 'instant disk'}`,
  );
  const safetyTicks = options.safetyTicks ?? SAFETY_TICKS_DEFAULT;
  const livenessTicks = options.livenessTicks ?? LIVENESS_TICKS_DEFAULT;
  const result = (failure: FailureKind | null, reason: string | null, violation: SafetyViolation | null = null): SeedResult => ({
    seed,
    ok: failure === null,
    failure,
    invariant: violation?.invariant ?? null,
    nodes: violation?.nodes ?? [],
    reason,
    trace: failure === null ? [] : [...cluster.trace],
    traceDropped: failure === null ? 0 : cluster.traceDropped,
    actions: failure === null ? [] : [...workload.executed],
    ticks: cluster.now,
    applied: cluster.checker.appliedCount,
    reads: cluster.checker.readsChecked,
    messages: cluster.messagesDelivered,
  });
  const ticksMax = options.ticksMax ?? Number.POSITIVE_INFINITY;
  try {
    for (let tick = 0; tick < safetyTicks; tick++) {
      if (cluster.now >= ticksMax) return result(null, null);
      cluster.beginTick();
      workload.beginTick(cluster.now);
      workload.nemesis();
      workload.client();
      advanceTick(cluster);
    }
    const reason = livenessPhase(cluster, livenessTicks, ticksMax);
    if (reason === TICKS_MAX_REACHED) return result(null, null);
    return result(reason === null ? null : 'liveness', reason);
  } catch (error) {
    if (error instanceof SafetyViolation) return result('safety', error.message, error);
    return result('error', `${(error as Error).name}: ${(error as Error).message}`);
  }
}

function advanceTick(cluster: SimCluster): void {
  cluster.completeWrites();
  cluster.deliverDue();
  cluster.tickAll();
  cluster.now++;
}

/** Heal everything; a leader must emerge and commit a fresh proposal within the bound. */
const TICKS_MAX_REACHED = 'ticksMax reached';

function livenessPhase(cluster: SimCluster, livenessTicks: number, ticksMax: number): string | null {
  cluster.heal();
  // Healed: nothing lost or duplicated. Where appends carry one entry each, each link is in order
  // again too (a real link is one TCP connection): shuffled windows of one-entry appends drain a
  // backlog of hundreds at under one entry a tick, and the fixed bound would say nothing about
  // the core. The other profiles heal into a network that still reorders, so the core's handling
  // of gaps (waiting them out, resending) stays under the liveness check. Messages sent before
  // this may overtake each other either way.
  const ordered = cluster.options.raft?.messageEntriesMax === 1;
  cluster.faults = { lossProbability: 0, duplicateProbability: 0, delayTicksMin: 0, delayTicksMax: 1, ordered };
  cluster.cycleCrashProbability = 0;
  cluster.rebootAfterVoteProbability = 0;
  cluster.crashAfterCommitProbability = 0;
  cluster.crashAfterCommitWhileWritingProbability = 0;
  cluster.diskStallProbability = 0;
  for (const id of cluster.members.keys()) cluster.restart(id);
  cluster.note('liveness phase: healed');
  const start = cluster.now;
  let attempt = 0;
  let pending: { leader: NodeId; data: string; at: number } | null = null;
  while (cluster.now - start < livenessTicks) {
    if (cluster.now >= ticksMax) return TICKS_MAX_REACHED;
    cluster.beginTick();
    const leader = cluster.leader();
    if (pending !== null) {
      const member = cluster.member(pending.leader);
      const raft = member.raft;
      if (raft !== null && member.machine.applied > 0 && appliedData(cluster, pending.leader, pending.data)) return null;
      if (cluster.now - pending.at > 4 * ELECTION_TICKS) pending = null;
    }
    if (pending === null && leader !== null) {
      const data = `live-${++attempt}`;
      pending = { leader, data, at: cluster.now };
      cluster.note(`liveness: propose ${data} on ${leader}`, [leader]);
      cluster.propose(leader, data);
    }
    advanceTick(cluster);
  }
  const leader = cluster.leader();
  return `liveness: no proposal applied within ${livenessTicks} ticks after healing (leader: ${leader ?? 'none'})`;
}

function appliedData(cluster: SimCluster, id: NodeId, data: string): boolean {
  const raft = cluster.raft(id);
  const status = raft.status();
  for (let index = status.applied; index >= Math.max(status.firstIndex, status.applied - 64); index--) {
    if (index < status.firstIndex) break;
    const entry = raft.entryAt(index);
    if (entry.data === data) return true;
  }
  return false;
}

/** Bound on the workload's actions in one tick (it draws at most a dozen). */
const ACTIONS_PER_TICK_MAX = 100;

/** The client and the nemesis of one run. */
class Workload {
  #proposals = 0;
  #lastLeaderKey: string | null = null;
  readonly #crashProbability: number;
  readonly #partitionProbability: number;
  readonly #partitionTicksMax: number;
  readonly #isolateNewLeaderProbability: number;
  #partitionUntil = -1;
  readonly #restartAt = new Map<NodeId, number>();
  /** This tick's random choices: a fresh fork of the run's stream per tick (see `beginTick`). */
  rng: Rng;
  readonly #baseRng: Rng;
  #tick = 0;
  #tickActions = 0;
  readonly #suppressedKinds: ReadonlySet<SuppressibleKind>;
  readonly #kept: ReadonlySet<number> | null;
  /** Numbers of the actions this run carried out, in order. */
  readonly executed: number[] = [];

  constructor(
    readonly cluster: SimCluster,
    rng: Rng,
    readonly ids: readonly NodeId[],
    readonly settings: NemesisSettings,
    suppress: Suppression,
  ) {
    this.#baseRng = rng;
    this.rng = rng;
    this.#crashProbability = settings.crashProbability;
    this.#partitionProbability = settings.partitionProbability;
    this.#partitionTicksMax = settings.partitionTicksMax;
    this.#isolateNewLeaderProbability = settings.isolateNewLeaderProbability;
    this.#suppressedKinds = new Set(suppress.kinds);
    this.#kept = suppress.keep === null ? null : new Set(suppress.keep);
  }

  /**
   * Start a tick: its choices come from a fresh fork of the run's stream, so a tick's actions
   * are drawn the same way whatever happened before it (minimization relies on it).
   */
  beginTick(tick: number): void {
    this.rng = this.#baseRng.fork();
    this.#tick = tick;
    this.#tickActions = 0;
  }

  /**
   * Carry out an action unless it is suppressed. Its number is `tick * ACTIONS_PER_TICK_MAX + k`
   * for the k-th action drawn in the tick, and every random choice of an action is drawn before
   * this call, so suppressing one changes no other action's number or choices (only what they
   * meet). Returns whether it ran.
   */
  #act(kind: WorkloadKind, text: string, nodes: readonly NodeId[], run: () => void): boolean {
    this.#tickActions++;
    assert(this.#tickActions < ACTIONS_PER_TICK_MAX, 'workload: too many actions in one tick');
    const number = this.#tick * ACTIONS_PER_TICK_MAX + this.#tickActions;
    if (this.#suppressedKinds.has(kind) || (this.#kept !== null && !this.#kept.has(number))) return false;
    this.executed.push(number);
    this.cluster.note(`#${number} ${text}`, nodes);
    run();
    return true;
  }

  client(): void {
    const { cluster, rng } = this;
    const alive = this.ids.filter((id) => cluster.member(id).alive);
    if (alive.length === 0) return;
    const proposals = rng.pick([0, 0, 1, 1, 2, 5]);
    for (let k = 0; k < proposals; k++) {
      const data = `p${++this.#proposals}`;
      const target = rng.pick(alive);
      this.#act('propose', `propose ${data} on ${target}`, [target], () => cluster.propose(target, data));
    }
    if (rng.chance(0.15)) {
      const target = rng.pick(alive);
      this.#act('read', `read on ${target}`, [target], () => cluster.read(target));
    }
    if (rng.chance(0.03)) {
      const target = rng.pick(alive);
      this.#act('snapshot', `snapshot on ${target}`, [target], () => cluster.takeSnapshot(target));
    }
    const leader = cluster.leader();
    const leaderKey = leader === null ? null : `${leader}@${cluster.raft(leader).status().term}`;
    const newLeader = leaderKey !== null && leaderKey !== this.#lastLeaderKey;
    this.#lastLeaderKey = leaderKey;
    // Membership changes at random, and (BUGGIFY-style) right after an election, when the new
    // leader has not yet committed anything in its term: the dangerous moment for changes.
    const settings = this.settings;
    if (leader !== null && (rng.chance(settings.confChangeProbability) || (newLeader && rng.chance(settings.confChangeOnNewLeaderProbability)))) {
      this.#changeMembership(leader);
    }
    // BUGGIFY: cut a new leader off right after its election, before its term's first entry
    // spreads: old-term suffixes then diverge across members (the Figure 8 setting).
    const fresh = cluster.leader();
    if (newLeader && fresh !== null && rng.chance(this.#isolateNewLeaderProbability)) {
      const until = cluster.now + rng.range(10, 40);
      this.#act('partition', `partition isolate new leader ${fresh}`, [], () => {
        cluster.heal();
        cluster.isolate(fresh);
      });
      this.#partitionUntil = until;
    }
    const transferFrom = cluster.leader();
    if (transferFrom !== null && rng.chance(0.01)) this.#transfer(transferFrom);
  }

  #transfer(leader: NodeId): void {
    const { cluster, rng } = this;
    const voters = cluster.raft(leader).status().conf.voters.filter((id) => id !== leader);
    if (voters.length === 0) return;
    const to = rng.pick(voters);
    this.#act('transfer', `transfer ${leader} -> ${to}`, [leader, to], () => {
      cluster.raft(leader).step({ type: 'transfer_leader', to });
      cluster.drive(cluster.member(leader));
    });
  }

  #changeMembership(leader: NodeId): void {
    const { cluster, rng } = this;
    const conf = cluster.raft(leader).status().conf;
    const outsiders = this.ids.filter((id) => !conf.voters.includes(id) && !conf.learners.includes(id));
    // Pick a kind of change first, then a member, so every kind is equally likely. The
    // membership profile keeps the voters around four, the count where two concurrent
    // single-member changes can have disjoint majorities (4 -> 5 and 4 -> 3).
    const addVoter = [
      ...outsiders.map((node): ConfChange => ({ type: 'add_voter', node })),
      ...conf.learners.map((node): ConfChange => ({ type: 'promote', node })),
    ];
    const removeVoter = conf.voters.map((node): ConfChange => ({ type: 'remove', node }));
    if (this.settings.voterTarget !== null) {
      const voters = conf.voters.length;
      const kind = voters < this.settings.voterTarget ? addVoter : voters > this.settings.voterTarget ? removeVoter : rng.pick([addVoter, removeVoter]);
      if (kind.length > 0) return this.#proposeChange(leader, rng.pick(kind));
    }
    const kinds: ConfChange[][] = [
      outsiders.map((node): ConfChange => ({ type: 'add_voter', node })),
      outsiders.map((node): ConfChange => ({ type: 'add_learner', node })),
      conf.learners.map((node): ConfChange => ({ type: 'promote', node })),
      conf.learners.map((node): ConfChange => ({ type: 'remove', node })),
      conf.voters.length > 2 ? conf.voters.map((node): ConfChange => ({ type: 'remove', node })) : [],
    ].filter((options) => options.length > 0);
    if (kinds.length === 0) return;
    this.#proposeChange(leader, rng.pick(rng.pick(kinds)));
  }

  #proposeChange(leader: NodeId, change: ConfChange): void {
    const { cluster, rng } = this;
    const member = cluster.member(leader);
    const target = 'node' in change ? change.node : '';
    let accepted = false;
    this.#act('conf_change', `conf change on ${leader}: ${change.type} ${target}`, target === '' ? [leader] : [leader, target], () => {
      const resultsBefore = member.results.length;
      cluster.raft(leader).step({ type: 'conf_change', change });
      cluster.drive(member);
      accepted = member.results.slice(resultsBefore).some((r) => r.kind === 'conf_change' && r.outcome === 'appended');
    });
    // BUGGIFY: often cut the network right after a change is appended, so that it reaches only
    // some members before leadership moves.
    if (accepted && rng.chance(this.settings.partitionAfterConfChangeProbability)) {
      const plan = this.#planPartition(rng.pick<PartitionShape>(['leader_minority', 'leader_minority', 'halves']));
      const until = cluster.now + rng.range(10, 40);
      this.#act('partition', plan.text, [], () => {
        cluster.heal();
        for (const [a, b] of plan.cuts) cluster.cut(a, b);
      });
      this.#partitionUntil = until;
    }
  }

  nemesis(): void {
    const { cluster, rng } = this;
    for (const [id, at] of this.#restartAt) {
      if (cluster.now >= at) {
        this.#restartAt.delete(id);
        cluster.restart(id);
      }
    }
    for (const id of this.ids) {
      const member = cluster.member(id);
      if (!member.alive && !this.#restartAt.has(id)) this.#restartAt.set(id, cluster.now + rng.pick([0, 0, 1, 2, 5, 20]));
    }
    if (rng.chance(this.#crashProbability)) {
      const alive = this.ids.filter((id) => cluster.member(id).alive);
      const leader = cluster.leader();
      const victim = leader !== null && rng.chance(0.5) ? leader : alive.length > 0 ? rng.pick(alive) : null;
      if (victim !== null) this.#act('crash', `crash ${victim}`, [victim], () => cluster.crash(victim));
    }
    if (cluster.now >= this.#partitionUntil && this.#partitionUntil >= 0) {
      cluster.heal();
      cluster.note('partition healed');
      this.#partitionUntil = -1;
    }
    if (this.#partitionUntil < 0 && rng.chance(this.#partitionProbability)) {
      const shape = rng.pick<PartitionShape>(['halves', 'ring', 'bridge', 'isolate_leader', 'isolate_leader', 'isolate_one']);
      const plan = this.#planPartition(shape);
      const until = cluster.now + rng.range(this.#partitionTicksMax >> 2, this.#partitionTicksMax);
      this.#act('partition', plan.text, [], () => {
        for (const [a, b] of plan.cuts) cluster.cut(a, b);
      });
      this.#partitionUntil = until;
    }
  }

  /** Draw a partition of the given shape: the links to cut and its description. */
  #planPartition(shape: PartitionShape): { text: string; cuts: [NodeId, NodeId][] } {
    const { cluster, rng } = this;
    const order = rng.shuffle([...this.ids]);
    const n = order.length;
    const split = rng.range(1, n - 1);
    const cuts: [NodeId, NodeId][] = [];
    const between = (sideA: readonly NodeId[], sideB: readonly NodeId[]): void => {
      for (const a of sideA) for (const b of sideB) cuts.push([a, b]);
    };
    const isolated = (id: NodeId): void => between([id], order.filter((other) => other !== id));
    switch (shape) {
      case 'halves': {
        const left = order.slice(0, split);
        const right = order.slice(split);
        between(left, right);
        return { text: `partition halves [${left}] | [${right}]`, cuts };
      }
      case 'ring':
        // Everyone talks only to its two ring neighbours: each member sees a majority of 5
        // (itself and two others) but no two distant members talk.
        for (let i = 0; i < n; i++) {
          for (let j = i + 1; j < n; j++) {
            const distance = Math.min(j - i, n - (j - i));
            if (distance > 1) cuts.push([order[i] as NodeId, order[j] as NodeId]);
          }
        }
        return { text: `partition ring [${order}]`, cuts };
      case 'bridge': {
        // Two sides that only reach each other through one bridge member.
        const bridge = order[0] as NodeId;
        const rest = order.slice(1);
        const half = Math.ceil(rest.length / 2);
        const sideA = rest.slice(0, half);
        const sideB = rest.slice(half);
        between(sideA, sideB);
        return { text: `partition bridge ${bridge} between [${sideA}] and [${sideB}]`, cuts };
      }
      case 'isolate_leader': {
        const leader = cluster.leader() ?? (order[0] as NodeId);
        isolated(leader);
        return { text: `partition isolate ${leader}`, cuts };
      }
      case 'leader_minority': {
        // The leader with fewer than half of the others: it keeps a minority, loses its quorum.
        const leader = cluster.leader() ?? (order[0] as NodeId);
        const others = order.filter((id) => id !== leader);
        const withLeader = [leader, ...others.slice(0, rng.int(Math.ceil(n / 2) - 1))];
        const rest = others.filter((id) => !withLeader.includes(id));
        between(withLeader, rest);
        return { text: `partition leader minority [${withLeader}] | [${rest}]`, cuts };
      }
      case 'isolate_one':
        isolated(order[0] as NodeId);
        return { text: `partition isolate ${order[0]}`, cuts };
    }
  }
}

/** Run seeds `first .. first + count - 1`; stop at the first failure when asked. */
export function runSeeds(
  first: number,
  count: number,
  options: SeedOptions = {},
  onProgress?: (done: number, clean: number) => void,
): { clean: number; failures: SeedResult[] } {
  const failures: SeedResult[] = [];
  let clean = 0;
  for (let k = 0; k < count; k++) {
    const outcome = runSeed(first + k, options);
    if (outcome.ok) clean++;
    else failures.push(outcome);
    if (onProgress !== undefined && (k + 1) % 1000 === 0) onProgress(k + 1, clean);
  }
  return { clean, failures };
}
