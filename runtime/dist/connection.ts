/**
 * A connection: one authenticated link to one peer node, after the handshake. It owns the
 * stream, the sealing state, two outbound lanes, the heartbeat and the receive path.
 *
 * Lanes. Control messages (heartbeats, link/monitor/exit/down signals, subsystems' control
 * messages, peer lists) are written ahead of queued data, and are written even while the stream
 * asks us to wait for `drain` (until the stream holds `CONTROL_AHEAD_STREAM_BYTES_MAX`: past that
 * the peer is not reading, and control waits in its lane, where it is bounded); data (user
 * `send`/`reg_send`) is written only when the stream has drained. So a saturated data lane delays
 * a heartbeat by at most what the stream already holds. Many messages are batched into one sealed
 * record per write (up to `recordBytesTarget`): the first flush of a turn of the event loop on
 * a microtask, later ones on `setImmediate` (or at once when a record's worth is queued);
 * consecutive messages from one sender to one target form a run that names them once (wire.ts).
 *
 * Ordering is Erlang's: per pair of processes, nothing more. A control signal from process P
 * carries a stamp, the number of the last data message from P that was still queued here when
 * the signal was sent (0 if none); the receiver holds the signal until it has delivered that data
 * message. So a signal waits only behind its own sender's data, never behind another process's
 * bulk data. (Per sender rather than per sender and target, because a message to a registered
 * name has no pid here to compare with.) Heartbeats, subsystem control messages and peer lists
 * are never held.
 *
 * Backpressure policy (bounded memory). `outboundBytesMax` bounds the data queued for the peer
 * (our lanes plus what the stream buffers). `sendData` (what a process's `send` uses) never
 * throws or blocks: a data message over the bound, or larger than the frame limit, is dropped and
 * counted in `stats.dataDropped`, as Erlang drops messages to unreachable nodes. `sendDataAsync`
 * instead waits for room (resolves once the message is queued; a message larger than the bound
 * is queued when nothing else is), and rejects with `buffer_full` after `timeoutMs`,
 * `frame_too_large`, or `nodedown` if the connection closes. While a process has an awaited send
 * waiting, its later sends and signals queue behind it (per-sender order; the plain sends held so
 * are bounded by `outboundBytesMax` too, then dropped). Control messages are never dropped; if
 * the control lane exceeds `outboundBytesMax` the peer is not reading at all and the connection
 * is closed (`buffer_full`).
 *
 * Failure detection: a heartbeat is sent every `tickMs`; a peer from which no authenticated record
 * arrived for `timeoutMs` is declared down (the check re-runs after pending I/O so a busy event
 * loop does not misread queued input as silence). Any error on the receive path (bad frame,
 * failed authentication, forged signal, a stream that ends inside a frame) closes the connection
 * with that error; `closed` is reported exactly once.
 */
import { performance } from 'node:perf_hooks';
import { FedError, fedError } from '../kernel/errors.js';
import { LIMITS } from '../kernel/limits.js';
import { appendAll } from '../kernel/arrays.js';
import { Pid } from '../pid.js';
import type { NameAtNode, Signal } from '../signals.js';
import type { BusyWait } from './busy-wait.js';
import { FRAME_HEADER_BYTES, FrameDecoder, frameHeader } from './frame.js';
import type { HandshakeResult, NodeIdentity } from './handshake.js';
import { Opener, SEAL_TAG_BYTES, Sealer } from './seal.js';
import type { ByteStream } from './transport.js';
import {
  HEARTBEAT_BYTES,
  MESSAGE,
  RUN_COUNT_BYTES,
  type DataKind,
  type DataTarget,
  type LinkMessage,
  type PeerAddress,
  DataEncoder,
  DataSegment,
  SimpleEncoder,
  checkRunFits,
  decodeRecord,
  encodeControl,
  encodeControlSignal,
  encodePeers,
  parseMessage,
} from './wire.js';

/** A record's plaintext aims at this size; one message larger than it gets a record of its own. */
export const RECORD_BYTES_TARGET_DEFAULT = 64 * 1024;
/** While waiting for drain, control is still written until the stream holds this much. */
export const CONTROL_AHEAD_STREAM_BYTES_MAX = 256 * 1024;
/** Segment buffers kept for reuse per connection (sealed mode). */
const SPARE_SEGMENTS_MAX = 4;
/** Control signals waiting for earlier data on arrival; a peer stamping beyond what it sends is cut off. */
const HELD_SIGNALS_MAX = 65_536;
/** Messages waiting for room (awaited sends and the sends of their senders queued behind them). */
const PENDING_MESSAGES_MAX = 65_536;
/** Control signals waiting behind their sender's pending messages; more close the connection. */
const DEFERRED_SIGNALS_MAX = 65_536;
/** Senders remembered for stamping before a sweep forgets those whose data is all written. */
const SENDERS_SWEEP_MIN = 1_024;
const NO_SENDER = -1;

export interface ConnectionOptions {
  readonly local: NodeIdentity;
  readonly tickMs?: number;
  readonly timeoutMs?: number;
  readonly outboundBytesMax?: number;
  readonly recordBytesTarget?: number;
  /** Kept turning after this link's activity (the distribution's, shared by its links). */
  readonly busyWait?: BusyWait;
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
  /** Data messages accepted for sending (queued; filled in by `snapshot()`). */
  dataAccepted: number;
  /** Data messages handed to the stream. */
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
  /** Control signals that had to wait for earlier data of their sender on arrival. */
  signalsHeld: number;
  /** Highest outbound bytes seen queued (lanes, pending messages and the stream's buffer). */
  outboundBytesPeak: number;
  /** Bytes queued toward the peer now (filled in by `snapshot()`). */
  outboundBytes: number;
}

/** A data message waiting for room: an awaited send, or a send queued behind its sender's awaited one. */
interface Pending {
  readonly kind: DataKind;
  readonly from: Pid | undefined;
  readonly to: DataTarget;
  /** The encoded message (a copy: the encoder's buffer is reused). */
  readonly body: Buffer;
  /** What it takes in a segment at most (a run header and the body). */
  readonly bytes: number;
  /** Set for awaited sends only. */
  readonly resolve: (() => void) | undefined;
  readonly reject: ((error: FedError) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Control signals of the same sender sent after this message: they go once it is queued or refused. */
  after: Signal[] | undefined;
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
    dataAccepted: 0,
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
  #segments: DataSegment[] = [];
  /** Sealed mode copies a segment into the cipher, so its buffer can be filled again. */
  #spareSegmentBuffers: Buffer[] = [];
  #dataBytes = 0;
  readonly #encoder = new DataEncoder();
  readonly #simple = new SimpleEncoder();
  /** Data messages accepted for sending so far: message n is the n-th (the stamps' counter). */
  #dataEnqueued = 0;
  /** Per local sender (pid id): the number of its last accepted data message. */
  readonly #lastDataBySender = new Map<number, number>();
  /** The last sender's entry, kept out of the map while it streams (the hot path). */
  #lastSenderId = NO_SENDER;
  #lastSenderData = 0;
  #sendersSweepAt = SENDERS_SWEEP_MIN;
  /** Messages waiting for room, oldest first. */
  #pending: Pending[] = [];
  /** For each sender with messages waiting, its newest one. */
  readonly #pendingBySender = new Map<number, Pending>();
  /** Bytes of the plain sends queued behind awaited ones (bounded by `outboundBytesMax`). */
  #pendingUnawaitedBytes = 0;
  #deferredSignals = 0;
  /** Data messages delivered so far (the receiver's side of the stamp). */
  #dataDelivered = 0;
  /** Signals held until data message number (key) is delivered. */
  readonly #held = new Map<number, Signal[]>();
  #heldCount = 0;
  #waitingDrain = false;
  #flushScheduled = false;
  /** This turn of the event loop has had its early (microtask) flush. */
  #earlyFlushDone = false;
  #closed = false;
  #lastReceivedMs = performance.now();
  #tickTimer: NodeJS.Timeout | undefined;
  #silenceCheck: NodeJS.Immediate | undefined;
  readonly #busyWait: BusyWait | undefined;

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
    this.#busyWait = options.busyWait;
  }

  /** Start: attach handlers, process bytes that arrived during the handshake, start ticking. */
  start(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    this.#lastReceivedMs = performance.now();
    this.#tickTimer = setInterval(() => this.#tick(), this.#tickMs);
    this.#stream.setHandlers({
      data: (chunk) => this.#onData(chunk),
      drain: () => this.#onDrain(),
      close: (error) => this.#onStreamClosed(error),
    });
    this.#drainDecoder();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A copy of the counters, with the current outbound backlog. */
  snapshot(): ConnectionStats {
    return { ...this.stats, dataAccepted: this.#dataEnqueued, outboundBytes: this.outboundBytes };
  }

  /** Bytes queued toward the peer: both lanes, messages waiting for room, and what the stream has buffered. */
  get outboundBytes(): number {
    return this.#controlBytes + this.#dataBytes + this.#pendingUnawaitedBytes + this.#streamBytes;
  }

  get #streamBytes(): number {
    return this.#stream.bufferedBytes;
  }

  get #recordPayloadBytesMax(): number {
    return this.#decoder.frameBytesMax - (this.#sealer === undefined ? 0 : SEAL_TAG_BYTES);
  }

  /** Nothing of ours waits to be written: a message larger than the bound may go now. */
  get #idle(): boolean {
    return this.#dataBytes === 0 && this.#control.length === 0 && !this.#waitingDrain;
  }

  /** Send a signal. Data follows the drop policy (returns false if dropped); control signals are always queued. */
  sendSignal(signal: Signal): boolean {
    if (this.#closed) return false;
    if (signal.kind === 'send') return this.#sendData('send', signal.from, signal.to, signal.msg);
    if (signal.kind === 'reg_send') return this.#sendData('reg_send', signal.from, signal.to.name, signal.msg);
    const from = signal.from;
    if (from instanceof Pid && this.#pendingBySender.size > 0) {
      const newest = this.#pendingBySender.get(from.id);
      if (newest !== undefined) return this.#defer(newest, signal);
    }
    return this.#enqueueSignal(signal);
  }

  /** Send a data signal, waiting for room in the outbound buffer (see the policy above). */
  sendDataAsync(signal: Signal, timeoutMs: number = LIMITS.callTimeoutMs): Promise<void> {
    if (this.#closed) return Promise.reject(this.#nodedown());
    if (signal.kind !== 'send' && signal.kind !== 'reg_send') {
      this.sendSignal(signal);
      return Promise.resolve();
    }
    const kind = signal.kind;
    const to = signal.kind === 'send' ? signal.to : signal.to.name;
    const header = this.#encoder.header(kind, signal.from, to);
    const body = this.#encoder.body(signal.msg);
    const bytes = header.length + RUN_COUNT_BYTES + body.end - body.start;
    if (bytes > this.#recordPayloadBytesMax) {
      return Promise.reject(fedError('frame_too_large', `message of ${bytes} bytes exceeds the frame limit`, { bytes }));
    }
    if (this.#pending.length === 0 && (this.#fits(bytes) || this.#idle)) {
      this.#append(kind, signal.from, to, header, body, body.start, body.end, true);
      return Promise.resolve();
    }
    if (this.#pending.length >= PENDING_MESSAGES_MAX) {
      return Promise.reject(fedError('buffer_full', `${PENDING_MESSAGES_MAX} messages to ${this.peer.name} already wait for room`, { peer: this.peer.name }));
    }
    const copy = Buffer.from(body.subarray(body.start, body.end));
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = { kind, from: signal.from, to, body: copy, bytes, resolve, reject, timer: undefined, after: undefined };
      entry.timer = setTimeout(() => this.#expire(entry, timeoutMs), timeoutMs);
      this.#pushPending(entry);
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
    this.#held.clear();
    this.#heldCount = 0;
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingBySender.clear();
    this.#pendingUnawaitedBytes = 0;
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.reject?.(this.#nodedown());
    }
    this.#handlers?.closed(reason);
  }

  #nodedown(): FedError {
    return fedError('nodedown', `not connected to ${this.peer.name}`, { node: this.peer.name });
  }

  #fits(bytes: number): boolean {
    return this.outboundBytes + bytes <= this.#outboundBytesMax;
  }

  // ---- outbound data -----------------------------------------------------------------------

  #sendData(kind: DataKind, from: Pid | undefined, to: DataTarget, msg: unknown): boolean {
    if (from !== undefined && this.#pendingBySender.size > 0 && this.#pendingBySender.has(from.id)) return this.#queueBehind(kind, from, to, msg);
    // The header first: msgpackr packs every value into one shared buffer, so a header encoded
    // after the body would overwrite it.
    const header = this.#encoder.header(kind, from, to);
    const tail = this.#segments[this.#segments.length - 1] ?? this.#newSegment(0);
    // The common case: the message is written in place at the end of the open segment.
    const bodyStart = tail.bodyOffset(kind, from, to, header);
    const bodyEnd = this.#simple.write(msg, tail.buffer, bodyStart, tail.buffer.length);
    if (bodyEnd >= 0) {
      const bytes = bodyEnd - tail.used;
      if (!this.#fits(bytes)) return this.#drop(bytes);
      tail.appendInPlace(kind, from, to, header, bodyEnd - bodyStart);
      this.#appended(bytes, from);
      return true;
    }
    const body = this.#encoder.body(msg);
    return this.#append(kind, from, to, header, body, body.start, body.end, false);
  }

  /**
   * Queue one encoded message (`body[start, end)`) on the data lane, continuing the open run when
   * it has the same sender and target. Without `force` a message over the bound is dropped.
   */
  #append(kind: DataKind, from: Pid | undefined, to: DataTarget, header: Buffer, body: Uint8Array, start: number, end: number, force: boolean): boolean {
    const bodyBytes = end - start;
    let tail = this.#segments[this.#segments.length - 1];
    let bytes = bodyBytes;
    if (tail === undefined || bodyBytes > tail.room || !tail.continues(kind, from, to)) {
      bytes += header.length + RUN_COUNT_BYTES;
      if (bytes > this.#recordPayloadBytesMax) return this.#drop(bytes);
    }
    if (!force && !this.#fits(bytes)) return this.#drop(bytes);
    if (tail === undefined || bytes > tail.room) tail = this.#newSegment(bytes);
    tail.append(kind, from, to, header, body, start, end);
    this.#appended(bytes, from);
    return true;
  }

  /** Bookkeeping after a message of `bytes` joined the data lane. */
  #appended(bytes: number, from: Pid | undefined): void {
    this.#dataBytes += bytes;
    const number = ++this.#dataEnqueued;
    if (from !== undefined) this.#noteSender(from.id, number);
    this.#notePeak();
    if (this.#dataBytes >= this.#recordBytesTarget && !this.#waitingDrain) this.#flush();
    else this.#scheduleFlush(true);
  }

  #drop(bytes: number): false {
    this.stats.dataDropped++;
    this.stats.dataDroppedBytes += bytes;
    return false;
  }

  #newSegment(bytes: number): DataSegment {
    const last = this.#segments[this.#segments.length - 1];
    if (last !== undefined && last.used === 0) {
      // An empty segment too small for this message: replace it (an empty record is never sent).
      this.#segments.pop();
      if (last.buffer.length === this.#recordBytesTarget) this.#spareSegmentBuffers.push(last.buffer);
    }
    const spare = bytes <= this.#recordBytesTarget ? this.#spareSegmentBuffers.pop() : undefined;
    const segment = new DataSegment(spare ?? Buffer.allocUnsafe(Math.max(this.#recordBytesTarget, bytes)));
    this.#segments.push(segment);
    return segment;
  }

  #noteSender(id: number, number: number): void {
    if (id !== this.#lastSenderId) {
      if (this.#lastSenderId !== NO_SENDER) this.#lastDataBySender.set(this.#lastSenderId, this.#lastSenderData);
      this.#lastSenderId = id;
      if (this.#lastDataBySender.size > this.#sendersSweepAt) this.#sweepSenders();
    }
    this.#lastSenderData = number;
  }

  /** Forget senders whose data is all written (the stream keeps their order from now on). */
  #sweepSenders(): void {
    const written = this.stats.dataSent;
    for (const [id, number] of this.#lastDataBySender) if (number <= written) this.#lastDataBySender.delete(id);
    this.#sendersSweepAt = Math.max(SENDERS_SWEEP_MIN, 2 * this.#lastDataBySender.size);
  }

  /** The stamp for a control signal from `from`: its last data message not yet written, or 0. */
  #stampFor(from: Pid | NameAtNode | undefined): number {
    const written = this.stats.dataSent;
    if (from === undefined) return 0;
    if (!(from instanceof Pid)) {
      // A `down` for a monitored name: the name's process is not known here, so follow all data.
      return this.#dataEnqueued > written ? this.#dataEnqueued : 0;
    }
    const last = from.id === this.#lastSenderId ? this.#lastSenderData : this.#lastDataBySender.get(from.id);
    return last !== undefined && last > written ? last : 0;
  }

  // ---- messages waiting for room -----------------------------------------------------------

  #pushPending(entry: Pending): void {
    this.#pending.push(entry);
    if (entry.from !== undefined) this.#pendingBySender.set(entry.from.id, entry);
  }

  /** A plain send from a process whose awaited send waits: it queues behind, or is dropped past the bound. */
  #queueBehind(kind: DataKind, from: Pid, to: DataTarget, msg: unknown): boolean {
    const header = this.#encoder.header(kind, from, to);
    const body = this.#encoder.body(msg);
    const bytes = header.length + RUN_COUNT_BYTES + body.end - body.start;
    if (bytes > this.#recordPayloadBytesMax || this.#pendingUnawaitedBytes + bytes > this.#outboundBytesMax || this.#pending.length >= PENDING_MESSAGES_MAX) {
      return this.#drop(bytes);
    }
    this.#pendingUnawaitedBytes += bytes;
    const copy = Buffer.from(body.subarray(body.start, body.end));
    this.#pushPending({ kind, from, to, body: copy, bytes, resolve: undefined, reject: undefined, timer: undefined, after: undefined });
    this.#notePeak();
    return true;
  }

  /** A control signal whose sender has `newest` waiting: it goes once that message is queued. */
  #defer(newest: Pending, signal: Signal): boolean {
    if (this.#deferredSignals >= DEFERRED_SIGNALS_MAX) {
      this.close(fedError('buffer_full', `more than ${DEFERRED_SIGNALS_MAX} signals to ${this.peer.name} wait behind their senders' data`, { peer: this.peer.name }));
      return false;
    }
    (newest.after ??= []).push(signal);
    this.#deferredSignals++;
    return true;
  }

  /** Queue waiting messages, oldest first, while there is room. */
  #admitPending(): void {
    const pending = this.#pending;
    while (pending.length > 0 && !this.#closed) {
      const entry = pending[0] as Pending;
      if (!this.#fits(entry.bytes) && !this.#idle) return;
      pending.shift();
      this.#unlinkPending(entry, 0);
      this.#append(entry.kind, entry.from, entry.to, this.#encoder.header(entry.kind, entry.from, entry.to), entry.body, 0, entry.body.length, true);
      entry.resolve?.();
      this.#release(entry.after);
    }
  }

  /** An awaited send ran out of time: it is refused, and what waited behind it moves up. */
  #expire(entry: Pending, timeoutMs: number): void {
    const index = this.#pending.indexOf(entry);
    if (index < 0 || this.#closed) return;
    this.#pending.splice(index, 1);
    const previous = this.#unlinkPending(entry, index);
    entry.reject?.(fedError('buffer_full', `outbound buffer to ${this.peer.name} stayed full for ${timeoutMs} ms`, { peer: this.peer.name }));
    if (entry.after === undefined) return;
    if (previous !== undefined) appendAll((previous.after ??= []), entry.after);
    else this.#release(entry.after);
  }

  /** Bookkeeping for an entry leaving the queue (it was at `index`); returns its sender's previous entry still waiting. */
  #unlinkPending(entry: Pending, index: number): Pending | undefined {
    clearTimeout(entry.timer);
    if (entry.resolve === undefined) this.#pendingUnawaitedBytes -= entry.bytes;
    const from = entry.from;
    if (from === undefined) return undefined;
    let previous: Pending | undefined;
    for (let at = index - 1; at >= 0 && previous === undefined; at--) {
      const other = this.#pending[at] as Pending;
      if (other.from?.id === from.id) previous = other;
    }
    if (this.#pendingBySender.get(from.id) === entry) {
      if (previous === undefined) this.#pendingBySender.delete(from.id);
      else this.#pendingBySender.set(from.id, previous);
    }
    return previous;
  }

  #release(signals: Signal[] | undefined): void {
    if (signals === undefined) return;
    this.#deferredSignals -= signals.length;
    for (const signal of signals) {
      if (this.#closed) return;
      this.#enqueueSignal(signal);
    }
  }

  // ---- outbound control and writing --------------------------------------------------------

  #enqueueSignal(signal: Signal): boolean {
    const frame = encodeControlSignal(signal, this.#stampFor(signal.from));
    if (frame.length > this.#recordPayloadBytesMax) {
      this.stats.controlDropped++;
      return false;
    }
    this.#enqueueControl(frame);
    return true;
  }

  #enqueueControl(frame: Buffer): void {
    this.#control.push(frame);
    this.#controlBytes += frame.length;
    this.#notePeak();
    if (this.#controlBytes > this.#outboundBytesMax) {
      this.close(fedError('buffer_full', `control lane to ${this.peer.name} exceeded ${this.#outboundBytesMax} bytes: the peer is not reading`, { peer: this.peer.name }));
      return;
    }
    this.#scheduleFlush(false);
  }

  #notePeak(): void {
    const bytes = this.outboundBytes;
    if (bytes > this.stats.outboundBytesPeak) this.stats.outboundBytesPeak = bytes;
  }

  /**
   * `early`: user data, whose first flush of a turn may go out on a microtask. Control schedules
   * the turn's-end flush (it still goes out with an early data flush already pending, and data
   * queued after it then waits for the turn's end too).
   */
  #scheduleFlush(early: boolean): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    if (!early || this.#earlyFlushDone) {
      // Later in this turn: everything sent until the loop's check phase (by any number of
      // processes) goes out in one record.
      setImmediate(this.#flushBound);
      return;
    }
    // The first flush of a turn goes out as soon as the running code yields (a microtask), so
    // the peer can start on it while this side works through the rest: when a record of many
    // requests arrives, the first answer leaves at once and the others follow in one record,
    // instead of the two sides taking turns with one batch between them (measured: 16
    // concurrent callers, 28–29k round trips/s with one flush per turn, 32–37k so). Not for
    // control messages: Raft's appends and acknowledgements, split so, cost the registry a
    // fifth more CPU per registration (more records sealed and written) for no gain.
    this.#earlyFlushDone = true;
    queueMicrotask(this.#flushBound);
    setImmediate(this.#turnOverBound);
  }

  readonly #flushBound = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  readonly #turnOverBound = (): void => {
    this.#earlyFlushDone = false;
  };

  /** Write control first (also while waiting for drain, up to a bound), then data while the stream accepts it. */
  #flush(): void {
    for (;;) {
      if (this.#closed) return;
      const controlReady = this.#control.length > 0 && (!this.#waitingDrain || this.#streamBytes < CONTROL_AHEAD_STREAM_BYTES_MAX);
      const dataReady = this.#dataBytes > 0 && !this.#waitingDrain;
      if (!controlReady && !dataReady) break;
      if (!this.#writeRecord(this.#takeRecord())) this.#waitingDrain = true;
    }
    // The stream took everything without asking for drain (so no drain event will come).
    if (!this.#waitingDrain && this.#pending.length > 0) this.#admitPending();
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
    if (this.#waitingDrain || this.#dataBytes === 0) return frames;
    // (A segment opened for a message that was then refused stays empty: skip it.)
    while ((this.#segments[0] as DataSegment).used === 0) this.#segments.shift();
    const segment = this.#segments[0] as DataSegment;
    if (frames.length > 0 && bytes + segment.used > this.#recordPayloadBytesMax) return frames;
    this.#segments.shift();
    frames.push(segment.finish());
    if (this.#sealer !== undefined && segment.buffer.length === this.#recordBytesTarget && this.#spareSegmentBuffers.length < SPARE_SEGMENTS_MAX) {
      // Safe: #writeRecord seals (copies) the plaintext before anything else is appended.
      this.#spareSegmentBuffers.push(segment.buffer);
    }
    this.#dataBytes -= segment.used;
    this.stats.dataSent += segment.messages;
    return frames;
  }

  #writeRecord(frames: Buffer[]): boolean {
    let plaintextBytes = 0;
    for (const frame of frames) plaintextBytes += frame.length;
    this.stats.recordsSent++;
    // An answer may come soon: keep the loop turning (not for a lone heartbeat).
    if (frames.length > 1 || frames[0] !== HEARTBEAT_BYTES) this.#busyWait?.touch();
    if (this.#sealer === undefined) {
      this.stats.bytesSent += FRAME_HEADER_BYTES + plaintextBytes;
      return this.#stream.write([frameHeader(plaintextBytes), ...frames]);
    }
    // One buffer per record: header, ciphertext and tag, sealed in place.
    const record = this.#sealer.sealFrame(frames, plaintextBytes);
    this.stats.bytesSent += record.length;
    return this.#stream.write([record]);
  }

  #onDrain(): void {
    if (this.#closed) return;
    this.#waitingDrain = false;
    this.#admitPending();
    this.#flush();
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

  // ---- inbound -----------------------------------------------------------------------------

  #onStreamClosed(error: Error | undefined): void {
    try {
      // A stream that ends inside a frame was cut short or tampered with: say so, not just "lost".
      this.#decoder.finish();
    } catch (truncated) {
      this.close(asFedError(truncated));
      return;
    }
    this.close(fedError('nodedown', `connection to ${this.peer.name} lost${error ? `: ${error.message}` : ''}`, { peer: this.peer.name }, error));
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
        const values = decodeRecord(plaintext);
        const heartbeats = this.stats.heartbeatsReceived;
        this.#dispatch(values);
        // An answer may follow soon: keep the loop turning (not for a record of heartbeats only).
        if (this.stats.heartbeatsReceived - heartbeats < values.length) this.#busyWait?.touch();
      }
    } catch (error) {
      this.close(asFedError(error));
    }
  }

  /**
   * Validate and deliver a record's messages in order. All of them are parsed before any is
   * delivered: a record with one bad message is refused whole (the link closes and nothing of
   * it reaches a mailbox), not delivered up to the bad message.
   */
  #dispatch(values: unknown[]): void {
    const localName = this.local.name;
    const peerName = this.peer.name;
    const first = values.length === 0 ? undefined : parseMessage(values[0], localName, peerName);
    // The common record: one message, or one run of data and its messages.
    if (first !== undefined && (values.length === 1 || (first.type === 'run' && first.count === values.length - 1))) {
      if (first.type === 'run') checkRunFits(first.count, values.length - 1);
      this.#deliver(first, values, 0);
      return;
    }
    const messages: LinkMessage[] = [];
    const positions: number[] = [];
    for (let index = 0; index < values.length; index++) {
      const message = index === 0 ? (first as LinkMessage) : parseMessage(values[index], localName, peerName);
      messages.push(message);
      positions.push(index);
      if (message.type === 'run') {
        checkRunFits(message.count, values.length - index - 1);
        index += message.count;
      }
    }
    for (let k = 0; k < messages.length; k++) {
      if (this.#closed) return;
      this.#deliver(messages[k] as LinkMessage, values, positions[k] as number);
    }
  }

  /** Deliver one parsed message of a record (`at`: its position in `values`, where a run's messages follow it). */
  #deliver(message: LinkMessage, values: unknown[], at: number): void {
    const handlers = this.#handlers as ConnectionHandlers;
    switch (message.type) {
      case 'run':
        this.#deliverRun(message, values, at + 1);
        break;
      case 'data':
        this.#deliverData(message.signal);
        break;
      case 'signal':
        this.stats.controlReceived++;
        if (message.stamp <= this.#dataDelivered) handlers.signal(message.signal);
        else this.#hold(message.stamp, message.signal);
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

  /** Deliver the `run.count` messages of a run, which start at `values[first]`. */
  #deliverRun(run: LinkMessage & { type: 'run' }, values: unknown[], first: number): void {
    const end = first + run.count;
    const from = run.from;
    if (run.kind === 'send') {
      const to = run.to as Pid;
      for (let index = first; index < end && !this.#closed; index++) this.#deliverData({ kind: 'send', from, to, msg: values[index] });
    } else {
      const to = run.to as NameAtNode;
      for (let index = first; index < end && !this.#closed; index++) this.#deliverData({ kind: 'reg_send', from, to, msg: values[index] });
    }
  }

  #deliverData(signal: Signal): void {
    this.stats.dataReceived++;
    const number = ++this.#dataDelivered;
    (this.#handlers as ConnectionHandlers).signal(signal);
    if (this.#heldCount > 0) this.#releaseHeld(number);
  }

  #hold(stamp: number, signal: Signal): void {
    if (this.#heldCount >= HELD_SIGNALS_MAX) throw fedError('bad_frame', `more than ${HELD_SIGNALS_MAX} signals waiting for data that never came`);
    this.stats.signalsHeld++;
    this.#heldCount++;
    const waiting = this.#held.get(stamp);
    if (waiting === undefined) this.#held.set(stamp, [signal]);
    else waiting.push(signal);
  }

  /** Data message `number` was delivered: the signals that waited for it follow, in arrival order. */
  #releaseHeld(number: number): void {
    const waiting = this.#held.get(number);
    if (waiting === undefined) return;
    this.#held.delete(number);
    this.#heldCount -= waiting.length;
    const handlers = this.#handlers as ConnectionHandlers;
    for (const signal of waiting) {
      if (this.#closed) return;
      handlers.signal(signal);
    }
  }
}

function asFedError(error: unknown): FedError {
  if (error instanceof FedError) return error;
  return fedError('bad_frame', `link error: ${(error as Error)?.message ?? String(error)}`, undefined, error);
}
