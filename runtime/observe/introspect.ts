/**
 * `NodeObserver`: what a running node tells about itself (Erlang's observer/etop, in data).
 * A snapshot holds: processes (count, the top N by mailbox length or by message rate), message
 * counters (local and remote, dropped, refused), per-peer connection state, queue depth and
 * heartbeat RTT, the distribution's counters, event-loop delay and utilization, memory (with
 * its high-water mark), and, when a group member is attached, its Raft state, replication lag
 * per member, proposals/s and admission control.
 *
 * Contract:
 * - `snapshot()` is plain JSON-able data (pids printed), cheap enough to take every second:
 *   O(processes), a few small objects per process; per-process
 *   message rates are tracked only while the node has at most `RATE_TRACKED_PROCESSES_MAX`
 *   processes (above that `ratePerSecond` is null).
 * - Rates (messages/s, proposals/s) are deltas since the previous snapshot of this observer.
 * - The group is seen through `GroupView`, the few methods of registry's `Group` it reads, so
 *   runtime does not depend on registry.
 * - `close()` stops the RTT probe, the event-loop histogram and the apply listener.
 */
import { performance } from 'node:perf_hooks';
import type { Distribution } from '../dist/index.js';
import type { MessageStats, Node } from '../node.js';
import { EventLoopMonitor, type EventLoopFigures } from './event-loop.js';
import { RttProbe } from './rtt.js';

/** Default number of processes listed in `top`. */
export const TOP_PROCESSES_DEFAULT = 20;
/** Most processes listed in `top`, whatever is asked. */
export const TOP_PROCESSES_MAX = 1_000;
/** Above this many processes, per-process message rates are not tracked (memory bound). */
export const RATE_TRACKED_PROCESSES_MAX = 100_000;

export type ProcessSort = 'mailbox' | 'rate';

/** The parts of registry's `Group` the observer reads (structural, so runtime stays below registry). */
export interface GroupView {
  readonly id: string;
  status(): {
    readonly role: string;
    readonly leader: string | null;
    readonly term: number;
    readonly commit: number;
    readonly applied: number;
    readonly lastIndex: number;
    readonly voters: readonly string[];
    readonly learners: readonly string[];
    readonly names: number;
  };
  members(): ReadonlyArray<{ readonly node: string; readonly role: string; readonly connected: boolean; readonly leader: boolean; readonly match: number | undefined }>;
  onApply?(listener: (event: { readonly type: string }) => void): () => void;
  admission?(): {
    readonly proposalsInFlight: number;
    readonly proposalsInFlightMax: number;
    readonly uncommittedEntries: number;
    readonly uncommittedEntriesMax: number;
    readonly admittedTotal: number;
    readonly rejectedOverloadedTotal: number;
    readonly proposalLatencyMsAverage: number;
  };
}

export interface ProcessRow {
  readonly pid: string;
  readonly name: string | null;
  readonly messageQueueLength: number;
  readonly messagesReceived: number;
  readonly ratePerSecond: number | null;
}

export interface PeerRow {
  readonly node: string;
  readonly hidden: boolean;
  readonly address: string;
  readonly state: 'up';
  readonly outboundBytes: number;
  readonly outboundBytesPeak: number;
  readonly dataSent: number;
  readonly dataReceived: number;
  readonly dataDropped: number;
  readonly heartbeatsReceived: number;
  readonly heartbeatRttMs: number | null;
}

export interface GroupSnapshot {
  readonly group: string;
  readonly role: string;
  readonly leader: string | null;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly names: number;
  readonly appliedCommandsTotal: number;
  readonly proposalsPerSecond: number;
  readonly members: ReadonlyArray<{ readonly node: string; readonly role: string; readonly state: 'up' | 'down'; readonly leader: boolean; readonly lag: number | null }>;
  readonly admission: ReturnType<NonNullable<GroupView['admission']>> | null;
}

export interface NodeSnapshot {
  readonly node: string;
  readonly creation: number;
  readonly timeMs: number;
  readonly uptimeSeconds: number;
  readonly processes: {
    readonly count: number;
    readonly sortedBy: ProcessSort;
    readonly top: readonly ProcessRow[];
    /** Messages queued over all processes, and the longest queue. */
    readonly queuedMessages: number;
    readonly longestQueue: number;
  };
  readonly messages: MessageStats & { readonly receivedRemote: number; readonly deliveredPerSecond: number };
  readonly peers: readonly PeerRow[];
  readonly distribution: {
    readonly connectionsOpened: number;
    readonly connectionsClosed: number;
    readonly handshakesFailed: number;
    readonly handshakesRefused: number;
    readonly dataDroppedUnconnected: number;
    readonly dataDroppedTotal: number;
  } | null;
  readonly eventLoop: EventLoopFigures;
  readonly memory: {
    readonly heapUsedBytes: number;
    readonly heapTotalBytes: number;
    readonly rssBytes: number;
    readonly heapUsedBytesPeak: number;
    readonly rssBytesPeak: number;
  };
  readonly group: GroupSnapshot | null;
}

export interface NodeObserverOptions {
  readonly node: Node;
  readonly distribution?: Distribution;
  readonly group?: GroupView;
  /** RTT probe interval (default 1 s); 0 turns the probe off. */
  readonly rttProbeIntervalMs?: number;
  readonly eventLoopWindowMs?: number;
}

export class NodeObserver {
  readonly node: Node;
  readonly distribution: Distribution | undefined;
  readonly group: GroupView | undefined;
  readonly #eventLoop: EventLoopMonitor;
  readonly #rtt: RttProbe | undefined;
  readonly #startedMs = performance.now();
  readonly #stopApply: (() => void) | undefined;
  #appliedCommandsTotal = 0;
  #previous: { timeMs: number; delivered: number; applied: number; received: Map<number, number> } | undefined;
  #heapUsedBytesPeak = 0;
  #rssBytesPeak = 0;

  constructor(options: NodeObserverOptions) {
    this.node = options.node;
    this.distribution = options.distribution;
    this.group = options.group;
    this.#eventLoop = new EventLoopMonitor(options.eventLoopWindowMs === undefined ? {} : { windowMs: options.eventLoopWindowMs });
    const intervalMs = options.rttProbeIntervalMs;
    this.#rtt = options.distribution !== undefined && intervalMs !== 0 ? new RttProbe(options.distribution, intervalMs === undefined ? {} : { intervalMs }) : undefined;
    this.#stopApply = options.group?.onApply?.((event) => {
      if (event.type === 'command') this.#appliedCommandsTotal++;
    });
  }

  close(): void {
    this.#rtt?.close();
    this.#eventLoop.close();
    this.#stopApply?.();
  }

  /** Memory figures, also updating the high-water marks (call it often to catch peaks). */
  sampleMemory(): NodeSnapshot['memory'] {
    const usage = process.memoryUsage();
    this.#heapUsedBytesPeak = Math.max(this.#heapUsedBytesPeak, usage.heapUsed);
    this.#rssBytesPeak = Math.max(this.#rssBytesPeak, usage.rss);
    return {
      heapUsedBytes: usage.heapUsed,
      heapTotalBytes: usage.heapTotal,
      rssBytes: usage.rss,
      heapUsedBytesPeak: this.#heapUsedBytesPeak,
      rssBytesPeak: this.#rssBytesPeak,
    };
  }

  snapshot(options: { top?: number; sortBy?: ProcessSort } = {}): NodeSnapshot {
    const timeMs = performance.now();
    const sortBy = options.sortBy ?? 'mailbox';
    const limit = Math.max(0, Math.min(TOP_PROCESSES_MAX, Math.floor(options.top ?? TOP_PROCESSES_DEFAULT)));
    const elapsedSeconds = this.#previous === undefined ? 0 : (timeMs - this.#previous.timeMs) / 1_000;
    const processes = this.#processes(sortBy, limit, elapsedSeconds);
    const messageStats = this.node.messageStats();
    const distributionStats = this.distribution?.stats();
    const peers = this.#peers();
    const receivedRemote =
      (distributionStats?.closedTotals.dataReceived ?? 0) + peers.reduce((sum, peer) => sum + peer.dataReceived, 0);
    const group = this.#groupSnapshot(elapsedSeconds);
    const snapshot: NodeSnapshot = {
      node: this.node.name,
      creation: this.node.creation,
      timeMs: Date.now(),
      uptimeSeconds: (timeMs - this.#startedMs) / 1_000,
      processes: processes.summary,
      messages: {
        ...messageStats,
        receivedRemote,
        deliveredPerSecond: rate(messageStats.delivered, this.#previous?.delivered, elapsedSeconds),
      },
      peers,
      distribution:
        distributionStats === undefined
          ? null
          : {
              connectionsOpened: distributionStats.connectionsOpened,
              connectionsClosed: distributionStats.connectionsClosed,
              handshakesFailed: distributionStats.handshakesFailed,
              handshakesRefused: distributionStats.handshakesRefused,
              dataDroppedUnconnected: distributionStats.dataDroppedUnconnected,
              dataDroppedTotal: distributionStats.closedTotals.dataDropped + peers.reduce((sum, peer) => sum + peer.dataDropped, 0),
            },
      eventLoop: this.#eventLoop.read(),
      memory: this.sampleMemory(),
      group,
    };
    this.#previous = { timeMs, delivered: messageStats.delivered, applied: this.#appliedCommandsTotal, received: processes.received };
    return snapshot;
  }

  #processes(sortBy: ProcessSort, limit: number, elapsedSeconds: number): { summary: NodeSnapshot['processes']; received: Map<number, number> } {
    const count = this.node.processCount();
    const trackRates = count <= RATE_TRACKED_PROCESSES_MAX;
    const received = new Map<number, number>();
    const previous = this.#previous?.received;
    const top: ProcessRow[] = [];
    let queuedMessages = 0;
    let longestQueue = 0;
    const keyOf = (row: ProcessRow): number => (sortBy === 'mailbox' ? row.messageQueueLength : (row.ratePerSecond ?? 0));
    for (const info of this.node.processInfo()) {
      queuedMessages += info.messageQueueLength;
      if (info.messageQueueLength > longestQueue) longestQueue = info.messageQueueLength;
      let ratePerSecond: number | null = null;
      if (trackRates) {
        received.set(info.pid.id, info.messagesReceived);
        ratePerSecond = rate(info.messagesReceived, previous?.get(info.pid.id) ?? (previous === undefined ? undefined : 0), elapsedSeconds);
      }
      const row: ProcessRow = {
        pid: info.pid.toString(),
        name: info.name ?? null,
        messageQueueLength: info.messageQueueLength,
        messagesReceived: info.messagesReceived,
        ratePerSecond,
      };
      insertTop(top, row, limit, keyOf);
    }
    return { summary: { count, sortedBy: sortBy, top, queuedMessages, longestQueue }, received };
  }

  #peers(): PeerRow[] {
    const distribution = this.distribution;
    if (distribution === undefined) return [];
    const stats = distribution.stats();
    const rows: PeerRow[] = [];
    for (const name of distribution.peers()) {
      const connection = stats.peers[name];
      const info = distribution.peerInfo(name);
      if (connection === undefined || info === undefined) continue;
      const rtt = this.#rtt?.rtt(name);
      rows.push({
        node: name,
        hidden: info.hidden,
        address: info.address,
        state: 'up',
        outboundBytes: connection.outboundBytes,
        outboundBytesPeak: connection.outboundBytesPeak,
        dataSent: connection.dataSent,
        dataReceived: connection.dataReceived,
        dataDropped: connection.dataDropped,
        heartbeatsReceived: connection.heartbeatsReceived,
        heartbeatRttMs: rtt === undefined ? null : rtt.averageMs,
      });
    }
    return rows;
  }

  #groupSnapshot(elapsedSeconds: number): GroupSnapshot | null {
    const group = this.group;
    if (group === undefined) return null;
    const status = group.status();
    return {
      group: group.id,
      role: status.role,
      leader: status.leader,
      term: status.term,
      commit: status.commit,
      applied: status.applied,
      lastIndex: status.lastIndex,
      names: status.names,
      appliedCommandsTotal: this.#appliedCommandsTotal,
      proposalsPerSecond: rate(this.#appliedCommandsTotal, this.#previous?.applied, elapsedSeconds),
      members: group.members().map((member) => ({
        node: member.node,
        role: member.role,
        state: member.connected ? 'up' : 'down',
        leader: member.leader,
        lag: member.match === undefined ? null : Math.max(0, status.lastIndex - member.match),
      })),
      admission: group.admission?.() ?? null,
    };
  }
}

function rate(now: number, before: number | undefined, elapsedSeconds: number): number {
  if (before === undefined || elapsedSeconds <= 0) return 0;
  return Math.max(0, now - before) / elapsedSeconds;
}

/** Keep `top` sorted by `keyOf` descending with at most `limit` rows (insertion: `limit` is small). */
function insertTop(top: ProcessRow[], row: ProcessRow, limit: number, keyOf: (row: ProcessRow) => number): void {
  if (limit === 0) return;
  const key = keyOf(row);
  if (top.length === limit && key <= keyOf(top[top.length - 1] as ProcessRow)) return;
  let index = top.length;
  while (index > 0 && keyOf(top[index - 1] as ProcessRow) < key) index--;
  top.splice(index, 0, row);
  if (top.length > limit) top.pop();
}
