// runtime/dist — distribution: transports, the authenticated sealed link, lanes, heartbeats,
// discovery and the mesh. The public face of this folder; see distribution.ts for the contract.
export {
  Distribution,
  type DistributionOptions,
  type DistributionHost,
  type DistributionStats,
  type ControlHandler,
  type NodeEvent,
  type PeerInfo,
  type LogEntry,
  type Logger,
  stderrLogger,
  CLUSTER_DEFAULT,
  DISCOVERY_INTERVAL_MS_DEFAULT,
  LEARNED_RECONNECT_ATTEMPTS_MAX,
} from './distribution.js';
export { Connection, type ConnectionStats, type ConnectionOptions, type ConnectionHandlers, RECORD_BYTES_TARGET_DEFAULT } from './connection.js';
export {
  type Transport,
  type ConnectOptions,
  type RawDuplex,
  ByteStream,
  TcpTransport,
  type TcpTransportOptions,
  isLoopbackHost,
  parseHostPort,
  formatHostPort,
} from './transport.js';
export { HyperswarmTransport, type HyperswarmTransportOptions, HyperswarmDiscovery, clusterTopic } from './hyperswarm.js';
export { type Discovery, StaticDiscovery, DnsDiscovery, type DnsDiscoveryOptions, type HostResolver, resolveAllAddresses } from './discovery.js';
export { handshake, type HandshakeOptions, type HandshakeResult, type NodeIdentity, type Role, PROTOCOL_VERSION_MIN, PROTOCOL_VERSION_MAX } from './handshake.js';
export { FrameDecoder, encodeFrame, frameHeader, FRAME_HEADER_BYTES } from './frame.js';
export { Sealer, Opener, deriveKey, SEAL_TAG_BYTES } from './seal.js';
export { type PeerAddress } from './wire.js';
