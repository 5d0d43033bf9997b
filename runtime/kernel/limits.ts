/**
 * Named limits. Every queue, buffer, loop and retry has a stated bound; the defaults live here
 * so they can be read in one place. Units last: `frameBytesMax`, `handshakeTimeoutMs`.
 */
export const LIMITS = {
  /** Largest frame accepted on a distribution link (bytes, after length prefix). */
  frameBytesMax: 8 * 1024 * 1024,
  /** A handshake that has not finished by then is dropped. */
  handshakeTimeoutMs: 5_000,
  /** Bytes queued to one peer before `send` applies the backpressure policy. */
  peerOutboundBytesMax: 64 * 1024 * 1024,
  /** Default heartbeat tick and the silence after which a peer is declared down. */
  heartbeatTickMs: 1_000,
  heartbeatTimeoutMs: 5_000,
  /** How long a node keeps its event loop turning after a link's activity (runtime/dist/busy-wait.ts): off by default, since it spends CPU that other processes on a busy machine need. */
  busyWaitUs: 0,
  /** The longest busy-wait window accepted: a round trip needs far less, and longer windows only burn a core. */
  busyWaitUsMax: 10_000,
  /** Reconnect backoff bounds. */
  reconnectBackoffMinMs: 100,
  reconnectBackoffMaxMs: 10_000,
  /** Default `call` timeout, as in OTP's gen_server. */
  callTimeoutMs: 5_000,
  /** Longest registered name, in UTF-8 bytes. */
  nameBytesMax: 1_024,
  /** Largest metadata a name may carry, in encoded bytes (well under a frame, with room for a batch). */
  metaBytesMax: 64 * 1024,
  /** Deepest nesting of metadata (an object in an object … counts a level each). */
  metaDepthMax: 16,
} as const;
