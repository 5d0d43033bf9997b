/**
 * The node's Prometheus metrics (prom-client), all named `fedctl_*` as etcd names its own:
 * counters end in `_total`, units are base units and come last (`_seconds`, `_bytes`), labels
 * hold bounded sets (peer names, member names, a policy).
 *
 * Contract: `render()` takes one observer snapshot (as its own reader, `prometheus`, so rates
 * and gaps are since the previous scrape whatever else reads the observer) and rewrites every
 * metric from it (the counters mirror the node's own monotonic counters, so a scrape never
 * double counts), then answers the text exposition format. Node's default process metrics (CPU, heap spaces, GC,
 * handles) are included under the same prefix. Nothing here keeps a timer running.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { NodeObserver, NodeSnapshot } from './introspect.js';

export const METRICS_PREFIX = 'fedctl_';

type Labels = Record<string, string>;
type Sample = readonly [Labels, number];

interface Definition {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly labelNames?: readonly string[];
  readonly read: (snapshot: NodeSnapshot) => readonly Sample[];
}

const one = (value: number): readonly Sample[] => [[{}, value]];

/** Every fedctl metric, with what it means. */
export const METRIC_DEFINITIONS: readonly Definition[] = [
  { name: 'processes', type: 'gauge', help: 'Live processes on this node.', read: (s) => one(s.processes.count) },
  { name: 'mailbox_messages', type: 'gauge', help: 'Messages queued in all mailboxes of this node.', read: (s) => one(s.processes.queuedMessages) },
  { name: 'mailbox_messages_max', type: 'gauge', help: 'Longest mailbox queue on this node now.', read: (s) => one(s.processes.longestQueue) },
  {
    name: 'messages_sent_total',
    type: 'counter',
    help: 'Messages sent from this node, by destination (local process or another node).',
    labelNames: ['destination'],
    read: (s) => [
      [{ destination: 'local' }, s.messages.sentLocal],
      [{ destination: 'remote' }, s.messages.sentRemote],
    ],
  },
  { name: 'messages_delivered_total', type: 'counter', help: 'Messages accepted by local processes (handed to a receive or queued), from any node; drops and refusals are not counted.', read: (s) => one(s.messages.delivered) },
  { name: 'messages_received_remote_total', type: 'counter', help: 'Data messages received from other nodes.', read: (s) => one(s.messages.receivedRemote) },
  {
    name: 'mailbox_messages_dropped_total',
    type: 'counter',
    help: 'Messages dropped by bounded mailboxes, by overflow policy.',
    labelNames: ['policy'],
    read: (s) => [
      [{ policy: 'drop_newest' }, s.messages.droppedNewest],
      [{ policy: 'drop_oldest' }, s.messages.droppedOldest],
    ],
  },
  { name: 'mailbox_sends_rejected_total', type: 'counter', help: 'Messages refused by a full mailbox: trySend answered mailbox_full, or an arrival at a mailbox with the reject policy.', read: (s) => one(s.messages.rejected) },
  { name: 'mailbox_full_kills_total', type: 'counter', help: 'Processes killed for a full mailbox (policy kill).', read: (s) => one(s.messages.killedMailboxFull) },
  { name: 'peers', type: 'gauge', help: 'Connected nodes, by kind.', labelNames: ['kind'], read: (s) => [
      [{ kind: 'visible' }, s.peers.filter((peer) => !peer.hidden).length],
      [{ kind: 'hidden' }, s.peers.filter((peer) => peer.hidden).length],
    ] },
  {
    name: 'peer_up',
    type: 'gauge',
    help: '1 for each connected peer, 0 for a known visible peer (seen before, or a group member) that is not connected.',
    labelNames: ['peer'],
    read: (s) => s.peers.map((peer) => [{ peer: peer.node }, peer.state === 'up' ? 1 : 0] as const),
  },
  { name: 'peer_outbound_bytes', type: 'gauge', help: 'Bytes queued toward each peer (queue depth).', labelNames: ['peer'], read: (s) => s.peers.map((peer) => [{ peer: peer.node }, peer.outboundBytes] as const) },
  {
    name: 'peer_heartbeat_rtt_seconds',
    type: 'gauge',
    help: 'Control-lane round-trip time to each peer (moving average).',
    labelNames: ['peer'],
    read: (s) => s.peers.flatMap((peer) => (peer.heartbeatRttMs === null ? [] : [[{ peer: peer.node }, peer.heartbeatRttMs / 1_000] as const])),
  },
  {
    name: 'peer_heartbeats_received_total',
    type: 'counter',
    help: 'Heartbeats received from each connected peer on its current connection.',
    labelNames: ['peer'],
    read: (s) => s.peers.flatMap((peer) => (peer.state === 'up' ? [[{ peer: peer.node }, peer.heartbeatsReceived] as const] : [])),
  },
  {
    name: 'peer_heartbeat_gap_seconds_max',
    type: 'gauge',
    help: 'Largest gap between two heartbeats received from each connected peer since the previous scrape (the failure detector declares a peer down past its heartbeat timeout).',
    labelNames: ['peer'],
    read: (s) => s.peers.flatMap((peer) => (peer.heartbeatGapMsMax === null ? [] : [[{ peer: peer.node }, peer.heartbeatGapMsMax / 1_000] as const])),
  },
  { name: 'peer_messages_sent_total', type: 'counter', help: 'Data messages sent to each peer on its current connection.', labelNames: ['peer'], read: (s) => s.peers.map((peer) => [{ peer: peer.node }, peer.dataSent] as const) },
  { name: 'peer_messages_received_total', type: 'counter', help: 'Data messages received from each peer on its current connection.', labelNames: ['peer'], read: (s) => s.peers.map((peer) => [{ peer: peer.node }, peer.dataReceived] as const) },
  { name: 'peer_messages_dropped_total', type: 'counter', help: 'Data messages to each peer refused by backpressure or the frame limit.', labelNames: ['peer'], read: (s) => s.peers.map((peer) => [{ peer: peer.node }, peer.dataDropped] as const) },
  { name: 'dist_connections_opened_total', type: 'counter', help: 'Distribution connections established.', read: (s) => one(s.distribution?.connectionsOpened ?? 0) },
  { name: 'dist_connections_closed_total', type: 'counter', help: 'Distribution connections closed.', read: (s) => one(s.distribution?.connectionsClosed ?? 0) },
  { name: 'dist_handshakes_failed_total', type: 'counter', help: 'Distribution handshakes that failed (bad cookie, timeout, …).', read: (s) => one(s.distribution?.handshakesFailed ?? 0) },
  { name: 'dist_busy_wait_turns_total', type: 'counter', help: 'Event-loop turns spent busy-waiting after link activity (fedctl start --busy-wait-us; 0 when off).', read: (s) => one(s.distribution?.busyWaitTurns ?? 0) },
  { name: 'dist_busy_wait_pauses_total', type: 'counter', help: 'Times busy-waiting paused because the process was not getting the CPU it spun on (more busy processes than cores).', read: (s) => one(s.distribution?.busyWaitPauses ?? 0) },
  { name: 'dist_messages_dropped_unconnected_total', type: 'counter', help: 'Messages to nodes with no connection (dropped, as Erlang does).', read: (s) => one(s.distribution?.dataDroppedUnconnected ?? 0) },
  // Three gauges rather than one with a `quantile` label: that label is reserved for summaries.
  { name: 'event_loop_delay_p50_seconds', type: 'gauge', help: 'Median event-loop delay over the recent window.', read: (s) => one(s.eventLoop.delayP50Ms / 1_000) },
  { name: 'event_loop_delay_p99_seconds', type: 'gauge', help: '99th percentile event-loop delay over the recent window.', read: (s) => one(s.eventLoop.delayP99Ms / 1_000) },
  { name: 'event_loop_delay_max_seconds', type: 'gauge', help: 'Largest event-loop delay over the recent window.', read: (s) => one(s.eventLoop.delayMaxMs / 1_000) },
  { name: 'event_loop_utilization_ratio', type: 'gauge', help: 'Share of time the event loop was busy since the previous scrape.', read: (s) => one(s.eventLoop.utilization) },
  { name: 'heap_used_bytes', type: 'gauge', help: 'V8 heap in use.', read: (s) => one(s.memory.heapUsedBytes) },
  { name: 'heap_used_peak_bytes', type: 'gauge', help: 'Highest V8 heap in use seen by the observer.', read: (s) => one(s.memory.heapUsedBytesPeak) },
  { name: 'raft_term', type: 'gauge', help: 'Current Raft term of this member.', read: (s) => groupValue(s, (g) => g.term) },
  { name: 'raft_commit_index', type: 'gauge', help: 'Raft commit index known to this member.', read: (s) => groupValue(s, (g) => g.commit) },
  { name: 'raft_applied_index', type: 'gauge', help: 'Raft index applied to this replica.', read: (s) => groupValue(s, (g) => g.applied) },
  { name: 'raft_last_index', type: 'gauge', help: 'Last Raft log index of this member.', read: (s) => groupValue(s, (g) => g.lastIndex) },
  { name: 'raft_is_leader', type: 'gauge', help: '1 if this member leads its group.', read: (s) => groupValue(s, (g) => (g.role === 'leader' ? 1 : 0)) },
  { name: 'raft_has_leader', type: 'gauge', help: '1 if this member knows a leader.', read: (s) => groupValue(s, (g) => (g.leader === null ? 0 : 1)) },
  {
    name: 'raft_replication_lag_entries',
    type: 'gauge',
    help: 'Entries each member is behind the leader (reported by the leader only).',
    labelNames: ['member'],
    read: (s) => (s.group?.members ?? []).flatMap((member) => (member.lag === null ? [] : [[{ member: member.node }, member.lag] as const])),
  },
  { name: 'raft_applied_commands_total', type: 'counter', help: 'Committed commands applied to this replica since it started.', read: (s) => groupValue(s, (g) => g.appliedCommandsTotal) },
  { name: 'registry_names', type: 'gauge', help: 'Names in this replica of the registry.', read: (s) => groupValue(s, (g) => g.names) },
  { name: 'registry_proposals_in_flight', type: 'gauge', help: 'Client proposals waiting on this member.', read: (s) => groupValue(s, (g) => g.admission?.proposalsInFlight ?? 0) },
  { name: 'registry_proposals_admitted_total', type: 'counter', help: 'Client proposals admitted by this member.', read: (s) => groupValue(s, (g) => g.admission?.admittedTotal ?? 0) },
  {
    name: 'registry_proposals_rejected_total',
    type: 'counter',
    help: 'Client proposals refused by admission control, by reason.',
    labelNames: ['reason'],
    read: (s) => (s.group === null ? [] : [[{ reason: 'overloaded' }, s.group.admission?.rejectedOverloadedTotal ?? 0]]),
  },
  // Outside a federation the federation_* gauges below read 0 (prom-client keeps an unlabelled
  // gauge at 0); federation_member tells the two cases apart.
  { name: 'federation_member', type: 'gauge', help: '1 if this member has a federation role (its group is in a federation), else 0.', read: (s) => one(s.federation === null ? 0 : 1) },
  { name: 'federation_is_root', type: 'gauge', help: '1 if this member\'s group is the federation\'s root group (keeps the directory).', read: (s) => federationValue(s, (f) => (f.root ? 1 : 0)) },
  { name: 'federation_groups', type: 'gauge', help: 'Groups in the federation directory (as last read here).', read: (s) => (s.federation?.groups === null || s.federation === null ? [] : one(s.federation.groups)) },
  { name: 'federation_gateways', type: 'gauge', help: 'Members of this group serving as federation gateways.', read: (s) => federationValue(s, (f) => f.gateways) },
  { name: 'federation_is_gateway', type: 'gauge', help: '1 if this member serves as a gateway of its group now.', read: (s) => federationValue(s, (f) => (f.isGateway ? 1 : 0)) },
  { name: 'federation_owned_slots', type: 'gauge', help: 'Hash slots this member\'s group owns (its replica\'s view).', read: (s) => federationValue(s, (f) => f.ownedSlots) },
  { name: 'federation_names', type: 'gauge', help: 'Global names homed in this member\'s group (its replica).', read: (s) => federationValue(s, (f) => f.names) },
  { name: 'federation_cached_names', type: 'gauge', help: 'Remote whereis answers cached at this gateway.', read: (s) => federationValue(s, (f) => f.cachedNames) },
  { name: 'federation_pending_releases', type: 'gauge', help: 'Names whose holder died and whose removal is not acknowledged yet.', read: (s) => federationValue(s, (f) => f.pendingReleases) },
  { name: 'federation_directory_revision', type: 'gauge', help: 'Revision of the federation directory as seen here.', read: (s) => federationValue(s, (f) => f.directoryRevision) },
  {
    name: 'federation_cache_lookups_total',
    type: 'counter',
    help: 'Remote whereis lookups at this gateway, by result (hit: answered from the cache); absent while the federation does not count them.',
    labelNames: ['result'],
    read: (s) =>
      s.federation === null || s.federation.cacheHitsTotal === null || s.federation.cacheMissesTotal === null
        ? []
        : [
            [{ result: 'hit' }, s.federation.cacheHitsTotal],
            [{ result: 'miss' }, s.federation.cacheMissesTotal],
          ],
  },
];

function federationValue(snapshot: NodeSnapshot, read: (federation: NonNullable<NodeSnapshot['federation']>) => number): readonly Sample[] {
  return snapshot.federation === null ? [] : one(read(snapshot.federation));
}

function groupValue(snapshot: NodeSnapshot, read: (group: NonNullable<NodeSnapshot['group']>) => number): readonly Sample[] {
  return snapshot.group === null ? [] : one(read(snapshot.group));
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly #observer: NodeObserver;
  readonly #metrics: Array<{ definition: Definition; metric: Counter<string> | Gauge<string> }> = [];

  constructor(observer: NodeObserver, options: { defaultMetrics?: boolean } = {}) {
    this.#observer = observer;
    this.registry.setDefaultLabels({});
    for (const definition of METRIC_DEFINITIONS) {
      const config = { name: METRICS_PREFIX + definition.name, help: definition.help, labelNames: [...(definition.labelNames ?? [])], registers: [this.registry] };
      const metric = definition.type === 'counter' ? new Counter(config) : new Gauge(config);
      this.#metrics.push({ definition, metric });
    }
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Update every metric from a fresh snapshot and answer the exposition text. */
  async render(): Promise<string> {
    this.update(this.#observer.snapshot({ top: 0, reader: 'prometheus' }));
    return this.registry.metrics();
  }

  update(snapshot: NodeSnapshot): void {
    for (const { definition, metric } of this.#metrics) {
      metric.reset();
      for (const [labels, value] of definition.read(snapshot)) {
        if (metric instanceof Counter) metric.inc(labels, value);
        else metric.set(labels, value);
      }
    }
  }
}
