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
 * - Rates (messages/s, proposals/s, the federation cache hit ratio) and the largest heartbeat gap
 *   per peer are measured since the previous snapshot of the same READER (`snapshot({reader})`),
 *   so a Prometheus scrape, `fedctl stats` and each `fedctl top` do not disturb each other's
 *   figures. At most `READERS_MAX` readers are remembered (the least recently seen is forgotten).
 * - Peers: every connected peer, and every visible peer seen before or listed as a group member
 *   while it is disconnected (`state: 'down'`, so a dead peer keeps its row and its series).
 *   Hidden peers (CLI clients) are forgotten when they disconnect, a down peer that is not a
 *   group member after `DOWN_PEER_FORGET_MS`. At most `KNOWN_PEERS_MAX`.
 * - Heartbeat gaps: every `heartbeatSampleMs` the observer reads each peer's heartbeat counter;
 *   the gap between two heartbeats is measured to within that period (and the event-loop delay,
 *   which delays the failure detector the same way).
 * - The group is seen through `GroupView`, the few methods of registry's `Group` it reads, so
 *   runtime does not depend on registry.
 * - The federation (when attached) is seen through `FederationView`, as the group is.
 * - `close()` stops the RTT probe, the heartbeat sampler, the event-loop histogram and the
 *   apply listener.
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
/** Readers with their own rate baseline (see `snapshot({reader})`). */
export const READERS_MAX = 64;
/** Peers kept in the peer list (connected or not). */
export const KNOWN_PEERS_MAX = 1_024;
/** A down peer that is not a member of the group is forgotten after this long. */
export const DOWN_PEER_FORGET_MS = 600_000;
/** Default period of the heartbeat sampler. */
export const HEARTBEAT_SAMPLE_MS_DEFAULT = 100;
/** The reader of `snapshot()` called without one. */
const DEFAULT_READER = 'default';

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

/** What the observer reads of the federation (structural: runtime does not depend on federation). */
export interface FederationView {
  /** Undefined while the member has no federation role. */
  status(): FederationFigures | undefined;
}

export interface FederationFigures {
  readonly group: string;
  readonly root: boolean;
  readonly rootGroup: string | null;
  /** This member's gateway node, when it is one. */
  readonly gateway: { readonly node: string; readonly address: string } | null;
  /** Members of this group serving as gateways. */
  readonly gateways: readonly string[];
  /** Groups in the directory (null until the directory was read). */
  readonly groups: number | null;
  readonly directoryRevision: number;
  readonly ownedSlots: number;
  readonly names: number;
  readonly cachedNames: number;
  readonly pendingReleases: number;
  /** Remote whereis answered from this gateway's cache / not (when the federation counts them). */
  readonly cacheHitsTotal?: number;
  readonly cacheMissesTotal?: number;
}

export interface FederationSnapshot {
  readonly group: string;
  readonly root: boolean;
  readonly rootGroup: string | null;
  readonly isGateway: boolean;
  readonly gateways: number;
  readonly groups: number | null;
  readonly directoryRevision: number;
  readonly ownedSlots: number;
  readonly names: number;
  readonly cachedNames: number;
  readonly pendingReleases: number;
  /** Null while the federation does not count cache hits and misses. */
  readonly cacheHitsTotal: number | null;
  readonly cacheMissesTotal: number | null;
  /** Hits / (hits + misses) since this reader's previous snapshot; null with no lookups or no counters. */
  readonly cacheHitRatio: number | null;
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
  readonly state: 'up' | 'down';
  readonly outboundBytes: number;
  readonly outboundBytesPeak: number;
  readonly dataSent: number;
  readonly dataReceived: number;
  readonly dataDropped: number;
  readonly heartbeatsReceived: number;
  readonly heartbeatRttMs: number | null;
  /**
   * Largest gap between two heartbeats received from the peer since this reader's previous
   * snapshot, counting the gap still open now; null for a peer that is down.
   */
  readonly heartbeatGapMsMax: number | null;
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
    /** Event-loop turns spent busy-waiting after link activity (0 unless `busyWaitUs` is set). */
    readonly busyWaitTurns: number;
    /** Times busy-waiting paused for contention (the machine had no core to spare for it). */
    readonly busyWaitPauses: number;
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
  readonly federation: FederationSnapshot | null;
}

export interface NodeObserverOptions {
  readonly node: Node;
  readonly distribution?: Distribution;
  readonly group?: GroupView;
  readonly federation?: FederationView;
  /** Heartbeat sampler period (default 100 ms); 0 turns it off (gaps are then null). */
  readonly heartbeatSampleMs?: number;
  /** RTT probe interval (default 1 s); 0 turns the probe off. */
  readonly rttProbeIntervalMs?: number;
  readonly eventLoopWindowMs?: number;
}

interface Baseline {
  readonly timeMs: number;
  readonly delivered: number;
  readonly applied: number;
  readonly received: Map<number, number>;
  readonly cacheHits: number | null;
  readonly cacheMisses: number | null;
  /** Largest closed heartbeat gap per peer since this baseline was taken. */
  readonly gapsMs: Map<string, number>;
}

interface HeartbeatTrack {
  count: number;
  lastChangeMs: number;
}

export class NodeObserver {
  readonly node: Node;
  readonly distribution: Distribution | undefined;
  readonly group: GroupView | undefined;
  readonly federation: FederationView | undefined;
  readonly #eventLoop: EventLoopMonitor;
  readonly #rtt: RttProbe | undefined;
  readonly #startedMs = performance.now();
  readonly #stopApply: (() => void) | undefined;
  readonly #stopNodeEvents: (() => void) | undefined;
  readonly #sampler: NodeJS.Timeout | undefined;
  #appliedCommandsTotal = 0;
  /** Per reader, most recently seen last (Map order). */
  readonly #baselines = new Map<string, Baseline>();
  /** Visible peers ever seen, by name (address); kept while down. */
  readonly #knownPeers = new Map<string, { address: string; downSinceMs: number | undefined }>();
  readonly #heartbeats = new Map<string, HeartbeatTrack>();
  #heapUsedBytesPeak = 0;
  #rssBytesPeak = 0;

  constructor(options: NodeObserverOptions) {
    this.node = options.node;
    this.distribution = options.distribution;
    this.group = options.group;
    this.federation = options.federation;
    this.#eventLoop = new EventLoopMonitor(options.eventLoopWindowMs === undefined ? {} : { windowMs: options.eventLoopWindowMs });
    const intervalMs = options.rttProbeIntervalMs;
    this.#rtt = options.distribution !== undefined && intervalMs !== 0 ? new RttProbe(options.distribution, intervalMs === undefined ? {} : { intervalMs }) : undefined;
    this.#stopApply = options.group?.onApply?.((event) => {
      if (event.type === 'command') this.#appliedCommandsTotal++;
    });
    this.#stopNodeEvents = options.distribution?.onNodeEvent((event) => {
      if (event.type === 'nodeup' && !event.hidden) this.#knowPeer(event.node);
      if (event.type === 'nodedown') this.#heartbeats.delete(event.node);
    });
    const sampleMs = options.heartbeatSampleMs ?? HEARTBEAT_SAMPLE_MS_DEFAULT;
    if (options.distribution !== undefined && sampleMs > 0) {
      this.#sampler = setInterval(() => this.#sampleHeartbeats(), sampleMs);
      this.#sampler.unref();
    }
  }

  close(): void {
    this.#rtt?.close();
    this.#eventLoop.close();
    this.#stopApply?.();
    this.#stopNodeEvents?.();
    if (this.#sampler !== undefined) clearInterval(this.#sampler);
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

  /**
   * A snapshot of the node. Rates and heartbeat gaps are since the previous snapshot of the same
   * `reader` (default: one shared reader); a reader's first snapshot has rates of 0.
   */
  snapshot(options: { top?: number; sortBy?: ProcessSort; reader?: string } = {}): NodeSnapshot {
    const timeMs = performance.now();
    const sortBy = options.sortBy ?? 'mailbox';
    const limit = Math.max(0, Math.min(TOP_PROCESSES_MAX, Math.floor(options.top ?? TOP_PROCESSES_DEFAULT)));
    const reader = options.reader ?? DEFAULT_READER;
    const previous = this.#baselines.get(reader);
    const elapsedSeconds = previous === undefined ? 0 : (timeMs - previous.timeMs) / 1_000;
    const processes = this.#processes(sortBy, limit, elapsedSeconds, previous);
    const messageStats = this.node.messageStats();
    const distributionStats = this.distribution?.stats();
    const peers = this.#peers(timeMs, previous);
    const receivedRemote =
      (distributionStats?.closedTotals.dataReceived ?? 0) + peers.reduce((sum, peer) => sum + peer.dataReceived, 0);
    const group = this.#groupSnapshot(elapsedSeconds, previous);
    const federation = this.#federationSnapshot(previous);
    const snapshot: NodeSnapshot = {
      node: this.node.name,
      creation: this.node.creation,
      timeMs: Date.now(),
      uptimeSeconds: (timeMs - this.#startedMs) / 1_000,
      processes: processes.summary,
      messages: {
        ...messageStats,
        receivedRemote,
        deliveredPerSecond: rate(messageStats.delivered, previous?.delivered, elapsedSeconds),
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
              busyWaitTurns: distributionStats.busyWaitTurns,
              busyWaitPauses: distributionStats.busyWaitPauses,
            },
      eventLoop: this.#eventLoop.read(),
      memory: this.sampleMemory(),
      group,
      federation,
    };
    this.#baselines.delete(reader);
    this.#baselines.set(reader, {
      timeMs,
      delivered: messageStats.delivered,
      applied: this.#appliedCommandsTotal,
      received: processes.received,
      cacheHits: federation?.cacheHitsTotal ?? null,
      cacheMisses: federation?.cacheMissesTotal ?? null,
      gapsMs: new Map(),
    });
    while (this.#baselines.size > READERS_MAX) this.#baselines.delete(this.#baselines.keys().next().value as string);
    return snapshot;
  }

  #processes(sortBy: ProcessSort, limit: number, elapsedSeconds: number, baseline: Baseline | undefined): { summary: NodeSnapshot['processes']; received: Map<number, number> } {
    const count = this.node.processCount();
    const trackRates = count <= RATE_TRACKED_PROCESSES_MAX;
    const received = new Map<number, number>();
    const previous = baseline?.received;
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

  #knowPeer(name: string): void {
    if (name === this.node.name) return;
    const address = this.distribution?.peerInfo(name)?.address ?? this.#knownPeers.get(name)?.address ?? '';
    this.#knownPeers.delete(name);
    this.#knownPeers.set(name, { address, downSinceMs: undefined });
    while (this.#knownPeers.size > KNOWN_PEERS_MAX) this.#knownPeers.delete(this.#knownPeers.keys().next().value as string);
  }

  /** Note each heartbeat counter that moved; the gap it closed goes to every reader's baseline. */
  #sampleHeartbeats(): void {
    const distribution = this.distribution;
    if (distribution === undefined) return;
    const now = performance.now();
    const peers = distribution.stats().peers;
    for (const [name, connection] of Object.entries(peers)) {
      const track = this.#heartbeats.get(name);
      if (track === undefined || connection.heartbeatsReceived < track.count) {
        this.#heartbeats.set(name, { count: connection.heartbeatsReceived, lastChangeMs: now });
        continue;
      }
      if (connection.heartbeatsReceived === track.count) continue;
      const gapMs = now - track.lastChangeMs;
      track.count = connection.heartbeatsReceived;
      track.lastChangeMs = now;
      for (const baseline of this.#baselines.values()) baseline.gapsMs.set(name, Math.max(baseline.gapsMs.get(name) ?? 0, gapMs));
    }
  }

  #peers(nowMs: number, baseline: Baseline | undefined): PeerRow[] {
    const distribution = this.distribution;
    if (distribution === undefined) return [];
    const stats = distribution.stats();
    const rows: PeerRow[] = [];
    const connected = new Set<string>();
    for (const name of distribution.peers()) {
      const connection = stats.peers[name];
      const info = distribution.peerInfo(name);
      if (connection === undefined || info === undefined) continue;
      connected.add(name);
      if (!info.hidden) this.#knowPeer(name);
      const rtt = this.#rtt?.rtt(name);
      const track = this.#heartbeats.get(name);
      const openGapMs = track === undefined ? null : nowMs - track.lastChangeMs;
      const closedGapMs = baseline?.gapsMs.get(name);
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
        heartbeatGapMsMax: openGapMs === null ? null : Math.max(openGapMs, closedGapMs ?? 0),
      });
    }
    const members = new Set((this.group?.members() ?? []).map((member) => member.node));
    for (const member of members) if (!connected.has(member) && member !== this.node.name && !this.#knownPeers.has(member)) this.#knowPeer(member);
    for (const [name, known] of this.#knownPeers) {
      if (connected.has(name)) continue;
      known.downSinceMs ??= nowMs;
      // A member stays listed while down; a peer that is no member (it left) is forgotten in time.
      if (!members.has(name) && nowMs - known.downSinceMs > DOWN_PEER_FORGET_MS) {
        this.#knownPeers.delete(name);
        continue;
      }
      const address = known.address;
      rows.push({
        node: name,
        hidden: false,
        address,
        state: 'down',
        outboundBytes: 0,
        outboundBytesPeak: 0,
        dataSent: 0,
        dataReceived: 0,
        dataDropped: 0,
        heartbeatsReceived: 0,
        heartbeatRttMs: null,
        heartbeatGapMsMax: null,
      });
    }
    return rows;
  }

  #groupSnapshot(elapsedSeconds: number, baseline: Baseline | undefined): GroupSnapshot | null {
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
      proposalsPerSecond: rate(this.#appliedCommandsTotal, baseline?.applied, elapsedSeconds),
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

  #federationSnapshot(baseline: Baseline | undefined): FederationSnapshot | null {
    const status = this.federation?.status();
    if (status === undefined) return null;
    const hits = status.cacheHitsTotal ?? null;
    const misses = status.cacheMissesTotal ?? null;
    let cacheHitRatio: number | null = null;
    if (hits !== null && misses !== null) {
      const hitsDelta = hits - (baseline?.cacheHits ?? 0);
      const lookups = hitsDelta + misses - (baseline?.cacheMisses ?? 0);
      cacheHitRatio = lookups > 0 ? hitsDelta / lookups : null;
    }
    return {
      group: status.group,
      root: status.root,
      rootGroup: status.rootGroup,
      isGateway: status.gateway !== null,
      gateways: status.gateways.length,
      groups: status.groups,
      directoryRevision: status.directoryRevision,
      ownedSlots: status.ownedSlots,
      names: status.names,
      cachedNames: status.cachedNames,
      pendingReleases: status.pendingReleases,
      cacheHitsTotal: hits,
      cacheMissesTotal: misses,
      cacheHitRatio,
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
