/**
 * A connection: one authenticated link to one peer node, after the handshake. It owns the
 * stream, the sealing state, two outbound lanes, the heartbeat and the receive path.
 *
 * Lanes. Control messages (heartbeats, link/monitor/exit/down signals, subsystems' control
 * messages, peer lists) are written ahead of queued data, and are written even while the stream
 * asks us to wait for `drain`; data (user `send`/`reg_send`) is written only when the stream has
 * drained. So a saturated data lane delays a heartbeat by at most one record already handed to
 * the stream. Many messages are batched into one sealed record per write (up to
 * `recordBytesTarget`), flushed on `setImmediate` (or at once when a record's worth is queued).
 *
 * Ordering (Erlang's per-pair guarantee, kept here per connection): each control signal carries
 * the count of data messages enqueued before it; the receiver holds it until it has delivered
 * that many data messages. Heartbeats, subsystem control messages and peer lists are not held.
 *
 * Backpressure policy (bounded memory). `outboundBytesMax` bounds the bytes queued for the peer
 * (our lanes plus what the stream buffers). `sendData` (what a process's `send` uses) never
 * throws or blocks: a data message over the bound, or larger than the frame limit, is dropped and
 * counted in `stats.dataDropped`, as Erlang drops messages to unreachable nodes.
 * `sendDataAsync` instead waits for room (resolves once queued), and rejects with `buffer_full`
 * after `timeoutMs`, `frame_too_large`, or `nodedown` if the connection closes. Control messages
 * are never dropped; if the control lane alone exceeds `outboundBytesMax` the peer is not reading
 * at all and the connection is closed (`buffer_full`).
 *
 * Failure detection: a heartbeat is sent every `tickMs`; a peer from which no authenticated record
 * arrived for `timeoutMs` is declared down (the check re-runs after pending I/O so a busy event
 * loop does not misread queued input as silence). Any error on the receive path (bad frame,
 * failed authentication, forged signal) closes the connection with that error; `closed` is
 * reported exactly once.
 */
import { performance } from 'node:perf_hooks';
import { FedError, fedError } from '../kernel/errors.js';
import { LIMITS } from '../kernel/limits.js';
import { isDataSignal, type Signal } from '../signals.js';
import { FRAME_HEADER_BYTES, FrameDecoder, frameHeader } from './frame.js';
import type { HandshakeResult, NodeIdentity } from './handshake.js';
import { Opener, SEAL_TAG_BYTES, Sealer } from './seal.js';
import type { ByteStream } from './transport.js';
import {
  HEARTBEAT_BYTES,
  type LinkMessage,
  type PeerAddress,
  DataEncoder,
  decodeRecord,
  encodeControl,
  encodeControlSignal,
  encodePeers,
  parseDataSignal,
  parseMessage,
} from './wire.js';

/** A record's plaintext aims at this size; one message larger than it gets a record of its own. */
export const RECORD_BYTES_TARGET_DEFAULT = 64 * 1024;
/** Segment buffers kept for reuse per connection (sealed mode). */
const SPARE_SEGMENTS_MAX = 4;
/** Control signals waiting for earlier data; a peer stamping beyond what it sends is cut off. */
const HELD_SIGNALS_MAX = 65_536;

export interface ConnectionOptions {
  readonly local: NodeIdentity;
  readonly tickMs?: number;
  readonly timeoutMs?: number;
  readonly outboundBytesMax?: number;
  readonly recordBytesTarget?: number;
}

export interface ConnectionHandlers {
  /** A signal for this node, in order. */
  signal(signal: Signal): void;
  /** A subsystem's control message. */
  control(channel: string, payload: unknown): void;
  /** The peer's visible peers. */
  peers(peers: PeerAddress[]): void;
  /** The connection is gone; `reason` is undefined for a local `close()` without one. */
  closed(reason: FedError | undefined): void;
}

export interface ConnectionStats {
  recordsSent: number;
  recordsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  dataSent: number;
  dataReceived: number;
  controlSent: number;
  /** Control signals larger than the frame limit (e.g. a huge exit reason), not sent. */
  controlDropped: number;
  controlReceived: number;
  heartbeatsSent: number;
  heartbeatsReceived: number;
  /** Data messages refused by the backpressure policy or the frame limit. */
  dataDropped: number;
  dataDroppedBytes: number;
  /** Control signals that had to wait for earlier data on arrival. */
  signalsHeld: number;
  /** Highest outbound bytes seen queued. */
  outboundBytesPeak: number;
  /** Bytes queued toward the peer now (filled in by `snapshot()`). */
  outboundBytes: number;
}

interface Waiter {
  readonly frame: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: FedError) => void;
  timer: NodeJS.Timeout | undefined;
}

/** Data messages packed back to back, to be sealed as (part of) one record. */
interface Segment {
  readonly buffer: Buffer;
  used: number;
  messages: number;
}

interface HeldSignal {
  readonly dataCount: number;
  readonly signal: Signal;
}

export class Connection {
  readonly peer: NodeIdentity;
  readonly local: NodeIdentity;
  readonly version: number;
  readonly stats: ConnectionStats = {
    recordsSent: 0,
    recordsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    dataSent: 0,
    dataReceived: 0,
    controlSent: 0,
    controlDropped: 0,
    controlReceived: 0,
    heartbeatsSent: 0,
    heartbeatsReceived: 0,
    dataDropped: 0,
    dataDroppedBytes: 0,
    signalsHeld: 0,
    outboundBytesPeak: 0,
    outboundBytes: 0,
  };
  readonly #stream: ByteStream;
  readonly #sealer: Sealer | undefined;
  readonly #opener: Opener | undefined;
  readonly #decoder: FrameDecoder;
  readonly #tickMs: number;
  readonly #timeoutMs: number;
  readonly #outboundBytesMax: number;
  readonly #recordBytesTarget: number;
  #handlers: ConnectionHandlers | undefined;

  #control: Buffer[] = [];
  #controlBytes = 0;
  /** Queued data, oldest first; only the last segment is still being filled. */
  #segments: Segment[] = [];
  /** Sealed mode copies a segment into the cipher, so its buffer can be filled again. */
  #spareSegmentBuffers: Buffer[] = [];
  #dataBytes = 0;
  readonly #encoder = new DataEncoder();
  /** Data messages accepted for sending so far (the stamp for control signals). */
  #dataEnqueued = 0;
  /** Data messages delivered so far (the receiver's side of the stamp). */
  #dataDelivered = 0;
  #held: HeldSignal[] = [];
  #waiters: Waiter[] = [];
  #waitingDrain = false;
  #flushScheduled = false;
  #closed = false;
  #lastReceivedMs = performance.now();
  #tickTimer: NodeJS.Timeout | undefined;
  #silenceCheck: NodeJS.Immediate | undefined;

  constructor(stream: ByteStream, handshake: HandshakeResult, options: ConnectionOptions) {
    this.#stream = stream;
    this.peer = handshake.peer;
    this.local = options.local;
    this.version = handshake.version;
    this.#sealer = handshake.sealer;
    this.#opener = handshake.opener;
    this.#decoder = handshake.decoder;
    this.#tickMs = options.tickMs ?? LIMITS.heartbeatTickMs;
    this.#timeoutMs = options.timeoutMs ?? LIMITS.heartbeatTimeoutMs;
    this.#outboundBytesMax = options.outboundBytesMax ?? LIMITS.peerOutboundBytesMax;
    this.#recordBytesTarget = Math.min(options.recordBytesTarget ?? RECORD_BYTES_TARGET_DEFAULT, this.#recordPayloadBytesMax);
  }

  /** Start: attach handlers, process bytes that arrived during the handshake, start ticking. */
  start(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    this.#lastReceivedMs = performance.now();
    this.#tickTimer = setInterval(() => this.#tick(), this.#tickMs);
    this.#stream.setHandlers({
      data: (chunk) => this.#onData(chunk),
      drain: () => this.#onDrain(),
      close: (error) =>
        this.close(fedError('nodedown', `connection to ${this.peer.name} lost${error ? `: ${error.message}` : ''}`, { peer: this.peer.name }, error)),
    });
    this.#drainDecoder();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A copy of the counters, with the current outbound backlog. */
  snapshot(): ConnectionStats {
    return { ...this.stats, outboundBytes: this.outboundBytes };
  }

  /** Bytes queued toward the peer: both lanes plus what the stream has buffered. */
  get outboundBytes(): number {
    const raw = this.#stream.raw as { writableLength?: number };
    return this.#controlBytes + this.#dataBytes + (raw.writableLength ?? 0);
  }

  get #recordPayloadBytesMax(): number {
    return this.#decoder.frameBytesMax - (this.#sealer === undefined ? 0 : SEAL_TAG_BYTES);
  }

  /** Send a signal. Data follows the drop policy (returns false if dropped); control signals are always queued. */
  sendSignal(signal: Signal): boolean {
    if (this.#closed) return false;
    if (signal.kind === 'send' || signal.kind === 'reg_send') return this.#enqueueEncoded(this.#encoder.encode(signal));
    const frame = encodeControlSignal(signal, this.#dataEnqueued);
    if (frame.length > this.#recordPayloadBytesMax) {
      this.stats.controlDropped++;
      return false;
    }
    this.#enqueueControl(frame);
    return true;
  }

  /** Send a data signal, waiting for room in the outbound buffer (see the policy above). */
  sendDataAsync(signal: Signal, timeoutMs: number = LIMITS.callTimeoutMs): Promise<void> {
    if (this.#closed) return Promise.reject(this.#nodedown());
    if (!isDataSignal(signal)) {
      this.sendSignal(signal);
      return Promise.resolve();
    }
    this.#encoder.encode(signal as Signal & { kind: 'send' | 'reg_send' });
    const frame = this.#encoder.frame();
    if (frame.length > this.#recordPayloadBytesMax) {
      return Promise.reject(fedError('frame_too_large', `message of ${frame.length} bytes exceeds the frame limit`, { bytes: frame.length }));
    }
    if (this.#waiters.length === 0 && this.#fits(frame.length)) {
      this.#enqueueData(frame);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { frame, resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((other) => other !== waiter);
        reject(fedError('buffer_full', `outbound buffer to ${this.peer.name} stayed full for ${timeoutMs} ms`, { peer: this.peer.name }));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Send a subsystem's control message on the control lane (never held or dropped); `frame_too_large` if over the limit. */
  sendControl(channel: string, payload: unknown): void {
    if (this.#closed) throw this.#nodedown();
    const frame = encodeControl(channel, payload);
    if (frame.length > this.#recordPayloadBytesMax) {
      throw fedError('frame_too_large', `control message of ${frame.length} bytes exceeds the frame limit`, { bytes: frame.length });
    }
    this.#enqueueControl(frame);
  }

  sendPeers(peers: readonly PeerAddress[]): void {
    if (this.#closed) return;
    this.#enqueueControl(encodePeers(peers));
  }

  /** Close the connection (idempotent); `closed` is reported to the handlers once. */
  close(reason?: FedError): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#tickTimer);
    if (this.#silenceCheck !== undefined) clearImmediate(this.#silenceCheck);
    this.#stream.destroy();
    this.#control = [];
    this.#segments = [];
    this.#controlBytes = 0;
    this.#dataBytes = 0;
    this.#held = [];
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(this.#nodedown());
    }
    this.#handlers?.closed(reason);
  }

  #nodedown(): FedError {
    return fedError('nodedown', `not connected to ${this.peer.name}`, { node: this.peer.name });
  }

  #fits(bytes: number): boolean {
    return this.outboundBytes + bytes <= this.#outboundBytesMax;
  }

  /** Queue the message the encoder holds (`bytes` long), or drop it by the policy. */
  #enqueueEncoded(bytes: number): boolean {
    if (bytes > this.#recordPayloadBytesMax || !this.#fits(bytes)) {
      this.stats.dataDropped++;
      this.stats.dataDroppedBytes += bytes;
      return false;
    }
    this.#segmentFor(bytes);
    const tail = this.#segments[this.#segments.length - 1] as Segment;
    this.#encoder.copyTo(tail.buffer, tail.used);
    tail.used += bytes;
    tail.messages++;
    return this.#afterEnqueue(bytes);
  }

  /** Queue an already encoded message (an awaited send), or drop it by the policy. */
  #enqueueData(frame: Buffer): boolean {
    if (frame.length > this.#recordPayloadBytesMax || !this.#fits(frame.length)) {
      this.stats.dataDropped++;
      this.stats.dataDroppedBytes += frame.length;
      return false;
    }
    this.#segmentFor(frame.length);
    const tail = this.#segments[this.#segments.length - 1] as Segment;
    frame.copy(tail.buffer, tail.used);
    tail.used += frame.length;
    tail.messages++;
    return this.#afterEnqueue(frame.length);
  }

  #afterEnqueue(bytes: number): boolean {
    this.#dataBytes += bytes;
    this.#dataEnqueued++;
    this.#notePeak();
    if (this.#dataBytes >= this.#recordBytesTarget && !this.#waitingDrain) this.#flush();
    else this.#scheduleFlush();
    return true;
  }

  /** Make sure the last segment has room for `bytes` more. */
  #segmentFor(bytes: number): void {
    const segments = this.#segments;
    const tail = segments[segments.length - 1];
    if (tail !== undefined && tail.used + bytes <= tail.buffer.length) return;
    const spare = bytes <= this.#recordBytesTarget ? this.#spareSegmentBuffers.pop() : undefined;
    const buffer = spare ?? Buffer.allocUnsafe(Math.max(this.#recordBytesTarget, bytes));
    segments.push({ buffer, used: 0, messages: 0 });
  }

  #enqueueControl(frame: Buffer): void {
    this.#control.push(frame);
    this.#controlBytes += frame.length;
    this.#notePeak();
    if (this.#controlBytes > this.#outboundBytesMax) {
      this.close(fedError('buffer_full', `control lane to ${this.peer.name} exceeded ${this.#outboundBytesMax} bytes`, { peer: this.peer.name }));
      return;
    }
    this.#scheduleFlush();
  }

  #notePeak(): void {
    const bytes = this.#controlBytes + this.#dataBytes;
    if (bytes > this.stats.outboundBytesPeak) this.stats.outboundBytesPeak = bytes;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // setImmediate, not a microtask: everything sent in this turn of the event loop (by any
    // number of processes) goes out in one record; measured better for concurrent callers.
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Write control first (always), then data while the stream accepts it. */
  #flush(): void {
    while (!this.#closed && (this.#control.length > 0 || (this.#segments.length > 0 && !this.#waitingDrain))) {
      const frames = this.#takeRecord();
      if (!this.#writeRecord(frames)) this.#waitingDrain = true;
    }
  }

  /** Take the messages for one record: all control that fits, then data if the stream is drained. */
  #takeRecord(): Buffer[] {
    const frames: Buffer[] = [];
    let bytes = 0;
    const target = this.#recordBytesTarget;
    while (this.#control.length > 0) {
      const frame = this.#control[0] as Buffer;
      if (frames.length > 0 && bytes + frame.length > target) return frames;
      this.#control.shift();
      this.#controlBytes -= frame.length;
      frames.push(frame);
      bytes += frame.length;
      this.stats.controlSent++;
    }
    if (this.#waitingDrain || this.#segments.length === 0) return frames;
    const segment = this.#segments[0] as Segment;
    if (frames.length > 0 && bytes + segment.used > this.#recordPayloadBytesMax) return frames;
    this.#segments.shift();
    frames.push(segment.buffer.subarray(0, segment.used));
    if (this.#sealer !== undefined && segment.buffer.length === this.#recordBytesTarget && this.#spareSegmentBuffers.length < SPARE_SEGMENTS_MAX) {
      // Safe: #writeRecord seals (copies) the plaintext before anything else is appended.
      this.#spareSegmentBuffers.push(segment.buffer);
    }
    this.#dataBytes -= segment.used;
    this.stats.dataSent += segment.messages;
    return frames;
  }

  #writeRecord(frames: Buffer[]): boolean {
    const plaintext = frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames);
    let chunks: Buffer[];
    if (this.#sealer === undefined) {
      chunks = [frameHeader(plaintext.length), plaintext];
    } else {
      const [ciphertext, tag] = this.#sealer.seal(plaintext);
      chunks = [frameHeader(ciphertext.length + tag.length), ciphertext, tag];
    }
    this.stats.recordsSent++;
    this.stats.bytesSent += FRAME_HEADER_BYTES + plaintext.length + (this.#sealer === undefined ? 0 : SEAL_TAG_BYTES);
    return this.#stream.write(chunks);
  }

  #onDrain(): void {
    if (this.#closed) return;
    this.#waitingDrain = false;
    this.#admitWaiters();
    this.#flush();
  }

  #admitWaiters(): void {
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0] as Waiter;
      if (!this.#fits(waiter.frame.length) && this.outboundBytes > 0) return;
      this.#waiters.shift();
      clearTimeout(waiter.timer);
      this.#enqueueData(waiter.frame);
      waiter.resolve();
    }
  }

  #tick(): void {
    if (this.#closed) return;
    this.stats.heartbeatsSent++;
    this.#enqueueControl(HEARTBEAT_BYTES);
    if (performance.now() - this.#lastReceivedMs <= this.#timeoutMs || this.#silenceCheck !== undefined) return;
    // Input may be waiting behind a busy event loop: look again after pending I/O is read.
    this.#silenceCheck = setImmediate(() => {
      this.#silenceCheck = undefined;
      if (this.#closed || performance.now() - this.#lastReceivedMs <= this.#timeoutMs) return;
      this.close(fedError('nodedown', `node ${this.peer.name} silent for more than ${this.#timeoutMs} ms`, { peer: this.peer.name, heartbeatTimeoutMs: this.#timeoutMs }));
    });
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.stats.bytesReceived += chunk.length;
    try {
      this.#decoder.append(chunk);
    } catch (error) {
      this.close(asFedError(error));
      return;
    }
    this.#drainDecoder();
  }

  #drainDecoder(): void {
    try {
      for (;;) {
        if (this.#closed) return;
        const frame = this.#decoder.next();
        if (frame === undefined) return;
        const plaintext = this.#opener === undefined ? frame : this.#opener.open(frame);
        this.stats.recordsReceived++;
        this.#lastReceivedMs = performance.now();
        this.#dispatch(decodeRecord(plaintext));
      }
    } catch (error) {
      this.close(asFedError(error));
    }
  }

  /** Validate and deliver a record's messages in order; data takes the short path. */
  #dispatch(values: unknown[]): void {
    const handlers = this.#handlers as ConnectionHandlers;
    const localName = this.local.name;
    const peerName = this.peer.name;
    for (let index = 0; index < values.length; index++) {
      if (this.#closed) return;
      const value = values[index];
      const data = parseDataSignal(value, localName, peerName);
      if (data !== undefined) {
        this.stats.dataReceived++;
        this.#dataDelivered++;
        handlers.signal(data);
        if (this.#held.length > 0) this.#releaseHeld();
        continue;
      }
      const message = parseMessage(value, localName, peerName);
      switch (message.type) {
        case 'data':
          this.stats.dataReceived++;
          this.#dataDelivered++;
          handlers.signal(message.signal);
          if (this.#held.length > 0) this.#releaseHeld();
          break;
        case 'signal':
          this.stats.controlReceived++;
          if (message.dataCount <= this.#dataDelivered && this.#held.length === 0) handlers.signal(message.signal);
          else this.#hold(message.dataCount, message.signal);
          break;
        case 'heartbeat':
          this.stats.heartbeatsReceived++;
          break;
        case 'control':
          this.stats.controlReceived++;
          handlers.control(message.channel, message.payload);
          break;
        case 'peers':
          this.stats.controlReceived++;
          handlers.peers(message.peers);
          break;
      }
    }
  }

  #hold(dataCount: number, signal: Signal): void {
    const last = this.#held[this.#held.length - 1];
    if (last !== undefined && dataCount < last.dataCount) throw fedError('bad_frame', 'signal stamps went backwards');
    if (this.#held.length >= HELD_SIGNALS_MAX) throw fedError('bad_frame', `more than ${HELD_SIGNALS_MAX} signals waiting for data that never came`);
    this.stats.signalsHeld++;
    this.#held.push({ dataCount, signal });
  }

  #releaseHeld(): void {
    const handlers = this.#handlers as ConnectionHandlers;
    while (this.#held.length > 0 && (this.#held[0] as HeldSignal).dataCount <= this.#dataDelivered) {
      const held = this.#held.shift() as HeldSignal;
      handlers.signal(held.signal);
    }
  }
}

function asFedError(error: unknown): FedError {
  if (error instanceof FedError) return error;
  return fedError('bad_frame', `link error: ${(error as Error)?.message ?? String(error)}`, undefined, error);
}
