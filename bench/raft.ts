/**
 * `npm run bench -- raft [seconds]`: the Raft core alone — a 3-member cluster in memory (no disk,
 * no sockets, no checker), driven by the documented loop (send early messages, persist to
 * MemoryStorage, then send, then apply, then advance). Prints:
 * - committed entries/s with 1 proposer (each proposal waits for its commit) and with 256
 *   concurrent proposers (the core batches whatever was proposed between two ready() calls);
 * - the largest batch the core sustains (4096 outstanding);
 * - heap bytes per retained log entry on one member (core log and MemoryStorage share entry
 *   objects): with its own 16-byte Uint8Array payload, and with a shared payload (the overhead).
 */
import { Rng } from '../runtime/kernel/rng.js';
import { type Message, MemoryStorage, RaftNode, defaultRaftConfig } from '../registry/raft/index.js';

const IDS = ['a', 'b', 'c'];
const PAYLOAD = new Uint8Array(16);

class BenchCluster {
  readonly nodes = new Map<string, RaftNode>();
  readonly storages = new Map<string, MemoryStorage>();
  queue: Message[] = [];
  appliedOnLeader = 0;

  constructor() {
    for (const id of IDS) {
      const storage = new MemoryStorage();
      const config = defaultRaftConfig(id, new Rng(IDS.indexOf(id) + 1), {
        bootstrap: { voters: IDS, learners: [] },
        messageEntriesMax: 1 << 16,
        messageBytesMax: 64 * 1024 * 1024,
      });
      this.storages.set(id, storage);
      this.nodes.set(id, new RaftNode(config, storage));
    }
    this.leader.step({ type: 'campaign' });
    for (let round = 0; round < 20; round++) this.round();
    this.appliedOnLeader = 0;
  }

  get leader(): RaftNode {
    return this.nodes.get('a') as RaftNode;
  }

  drive(id: string): void {
    const node = this.nodes.get(id) as RaftNode;
    const storage = this.storages.get(id) as MemoryStorage;
    while (node.hasReady()) {
      const ready = node.ready();
      for (const message of ready.earlyMessages) this.queue.push(message);
      storage.persist(ready);
      for (const message of ready.messages) this.queue.push(message);
      if (id === 'a') this.appliedOnLeader += ready.committedEntries.length;
      node.advance();
    }
  }

  /** Drive everyone, then deliver every queued message once. */
  round(): void {
    for (const id of IDS) this.drive(id);
    const batch = this.queue;
    this.queue = [];
    for (const message of batch) (this.nodes.get(message.to) as RaftNode).step({ type: 'message', message });
  }

  /** Keep `concurrency` proposals outstanding for `seconds`; returns committed entries/s. */
  run(concurrency: number, seconds: number): number {
    const leader = this.leader;
    let outstanding = 0;
    let committed = 0;
    let rounds = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    while ((rounds & 63) !== 0 || performance.now() < deadline) {
      for (; outstanding < concurrency; outstanding++) leader.step({ type: 'propose', data: PAYLOAD });
      this.appliedOnLeader = 0;
      this.round();
      rounds++;
      if (rounds % 4096 === 0) this.compact();
      outstanding -= this.appliedOnLeader;
      committed += this.appliedOnLeader;
      if (outstanding < 0) outstanding = 0;
    }
    return committed / ((performance.now() - started) / 1000);
  }

  /** Snapshot and compact everyone so memory stays flat during long runs. */
  compact(): void {
    for (const id of IDS) {
      const node = this.nodes.get(id) as RaftNode;
      const applied = node.status().applied;
      if (applied > node.status().snapshotIndex) node.step({ type: 'snapshot_taken', index: applied, data: new Uint8Array(0) });
      this.drive(id);
    }
  }
}

function heapBytesPerEntry(count: number, payload: () => unknown): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  const storage = new MemoryStorage();
  const node = new RaftNode(defaultRaftConfig('solo', new Rng(1), { bootstrap: { voters: ['solo'], learners: [] } }), storage);
  node.step({ type: 'campaign' });
  const drive = () => {
    while (node.hasReady()) {
      storage.persist(node.ready());
      node.advance();
    }
  };
  drive();
  gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let k = 0; k < count; k++) {
    node.step({ type: 'propose', data: payload() });
    if (k % 1024 === 1023) drive();
  }
  drive();
  gc?.();
  const after = process.memoryUsage().heapUsed;
  if (node.status().applied < count) throw new Error('bench: entries not applied');
  return (after - before) / count;
}

export default async function (args: string[]): Promise<void> {
  const seconds = Number(args[0] ?? '2');
  const single = new BenchCluster().run(1, seconds);
  console.log(`raft: 1 proposer       ${Math.round(single).toLocaleString('en-US')} committed entries/s`);
  const batched = new BenchCluster().run(256, seconds);
  console.log(`raft: 256 proposers    ${Math.round(batched).toLocaleString('en-US')} committed entries/s`);
  const large = new BenchCluster().run(4096, seconds);
  console.log(`raft: 4096 outstanding ${Math.round(large).toLocaleString('en-US')} committed entries/s`);
  const perEntry = heapBytesPerEntry(200_000, () => new Uint8Array(16));
  console.log(`raft: heap per retained log entry, own 16-byte Uint8Array payload: ${Math.round(perEntry)} bytes`);
  const overhead = heapBytesPerEntry(200_000, () => PAYLOAD);
  console.log(`raft: heap per retained log entry, shared payload (core + MemoryStorage overhead): ${Math.round(overhead)} bytes`);
}
