/**
 * runtime/observe — what a running node tells about itself: `NodeObserver` (snapshots for
 * `fedctl top` and `fedctl stats`), `NodeMetrics` (Prometheus text, `fedctl_*`), the heartbeat
 * RTT probe and the event-loop monitor.
 */
export {
  NodeObserver,
  type NodeObserverOptions,
  type NodeSnapshot,
  type GroupSnapshot,
  type GroupView,
  type FederationView,
  type FederationFigures,
  type FederationSnapshot,
  type PeerRow,
  type ProcessRow,
  type ProcessSort,
  TOP_PROCESSES_DEFAULT,
  TOP_PROCESSES_MAX,
  RATE_TRACKED_PROCESSES_MAX,
  READERS_MAX,
  KNOWN_PEERS_MAX,
  DOWN_PEER_FORGET_MS,
  HEARTBEAT_SAMPLE_MS_DEFAULT,
} from './introspect.js';
export { NodeMetrics, METRIC_DEFINITIONS, METRICS_PREFIX } from './metrics.js';
export { RttProbe, RTT_CHANNEL, RTT_PROBE_INTERVAL_MS_DEFAULT, type PeerRtt } from './rtt.js';
export { EventLoopMonitor, EVENT_LOOP_WINDOW_MS_DEFAULT, type EventLoopFigures } from './event-loop.js';
