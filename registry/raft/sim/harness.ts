/**
 * Helpers for the Raft core tests: a small cluster over the simulator's instant network
 * (`SimCluster` with no delays or loss), campaigns, ticks and log inspection. Not a test file.
 */
import type { Message, NodeId, RaftConfig } from '../index.js';
import { SimCluster } from './cluster.js';

export interface TestClusterOptions {
  readonly voters?: number;
  readonly learners?: readonly NodeId[];
  /** Extra members outside the bootstrap configuration (join later). */
  readonly spares?: readonly NodeId[];
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'rng' | 'bootstrap'>>;
  readonly seed?: number;
  readonly snapshotPaddingBytes?: number;
}

export function testCluster(options: TestClusterOptions = {}): SimCluster {
  const voterCount = options.voters ?? 3;
  const voters = Array.from({ length: voterCount }, (_, k) => `n${k + 1}`);
  const learners = [...(options.learners ?? [])];
  const ids = [...voters, ...learners, ...(options.spares ?? [])];
  return new SimCluster({
    ids,
    bootstrap: { voters, learners },
    seed: options.seed ?? 1,
    snapshotPaddingBytes: options.snapshotPaddingBytes ?? 0,
    raft: { electionTicks: 10, heartbeatTicks: 1, preVote: true, checkQuorum: true, ...options.raft },
  });
}

/** Make `id` campaign now and let the cluster settle. */
export function elect(cluster: SimCluster, id: NodeId): void {
  cluster.raft(id).step({ type: 'campaign' });
  cluster.drive(cluster.member(id));
  cluster.stabilize();
}

/** Tick every live member `count` times, settling after each tick. */
export function ticks(cluster: SimCluster, count: number): void {
  for (let k = 0; k < count; k++) {
    cluster.tickAll();
    cluster.stabilize();
    cluster.now++;
  }
}

/** Collect messages of some types as they are delivered (and optionally drop some). */
export function watchMessages(cluster: SimCluster, drop: (message: Message) => boolean = () => false): Message[] {
  const seen: Message[] = [];
  cluster.messageFilter = (message) => {
    if (drop(message)) return false;
    seen.push(message);
    return true;
  };
  return seen;
}

export function appliedData(cluster: SimCluster, id: NodeId): unknown[] {
  const raft = cluster.raft(id);
  const status = raft.status();
  const data: unknown[] = [];
  for (let index = status.firstIndex; index <= status.applied; index++) {
    const entry = raft.entryAt(index);
    if (entry.type === 'normal') data.push(entry.data);
  }
  return data;
}
