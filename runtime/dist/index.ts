/**
 * runtime/dist — distribution: transports, the authenticated sealed link, lanes, heartbeats,
 * discovery and the mesh. The public face of this folder; distribution.ts states the contract.
 *
 *   const node = new Node({ name: 'a@127.0.0.1', creation });
 *   const dist = await Distribution.start({ node, cookie, cluster: 'prod' });   // tcp, 127.0.0.1:0
 *   await dist.connect('127.0.0.1:4370');          // resolves to the peer's node name
 *   node.spawn(async (ctx) => ctx.send({ name: 'echo', node: 'b@127.0.0.1' }, 'hi'));
 *
 *   // A subsystem (Raft) speaks on its own control channel, ahead of user data:
 *   const off = dist.onControl('raft', (fromNode, payload) => { … });
 *   dist.sendControl('b@127.0.0.1', 'raft', { term, … });   // false if not connected
 *   dist.onNodeEvent(({ type, node }) => { … });              // nodeup / nodedown
 *
 *   await dist.close();   // before node.stop()
 *
 * Wire (see wire.ts): length-prefixed frames; after the handshake each frame is a sealed record
 * (ChaCha20-Poly1305) of msgpack messages. Backpressure: data over `outboundBytesMax` per peer is
 * dropped and counted (`send` never throws), `sendAsync` waits for room or fails `buffer_full`.
 */
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
  PENDING_HANDSHAKES_MAX,
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
export { handshake, type HandshakeOptions, type HandshakeResult, type NodeIdentity, type Role, PROTOCOL_VERSION_MIN, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_ENCODED } from './handshake.js';
export { FrameDecoder, encodeFrame, frameHeader, FRAME_HEADER_BYTES } from './frame.js';
export { Sealer, Opener, deriveKey, SEAL_TAG_BYTES } from './seal.js';
export { type PeerAddress, type LinkMessage, DataEncoder, parseRecord } from './wire.js';
