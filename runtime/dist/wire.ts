/**
 * Link messages: what travels inside a (sealed) record once the handshake is done. A record's
 * plaintext is a run of msgpack values back to back (msgpack is self-delimiting), each one a
 * message shaped as a small array whose first element is its type:
 *
 *   [0]                                          heartbeat (control lane, never held)
 *   [1, from | null, to: Pid, msg]               send (data lane)
 *   [2, from | null, name: string, msg]          reg_send (data lane)
 *   [3, stamp, kind, from, to, ref, reason]      link/unlink/exit/exit2/monitor/demonitor/down
 *                                                (control lane; `stamp` is the connection's data
 *                                                message number that must be delivered first, 0
 *                                                for none — see connection.ts)
 *   [4, channel: string, payload]                a subsystem's own control message (never held)
 *   [5, [[name, address], …]]                    the sender's visible peers (mesh)
 *   [6, from | null, to: Pid, count]  m1 … mN    a run of `count` sends from `from` to `to`: the
 *                                                header is followed by `count` bare msgpack values
 *   [7, from | null, name: string, count] m1 … mN  a run of reg_sends
 *
 * Runs are what the sender writes: a process streaming to one target pays for the sender and
 * target once per run instead of once per message (the receiver decodes and checks them once
 * too). `count` is always written as a msgpack uint32 so the sender can patch it as the run
 * grows. A run never spans two records.
 *
 * `parseMessage` validates every message strictly (types, that pids name the right nodes) and
 * throws `bad_frame` on anything else: a peer cannot forge a signal from a third node or address
 * a process on another node. Nothing malformed reaches a mailbox.
 */
import { Packr, REUSE_BUFFER_MODE, RESET_BUFFER_MODE, Unpackr } from 'msgpackr';
import { EXT_PID, EXT_REF, encode } from '../codec.js';
import { fedError } from '../kernel/errors.js';
import { Pid, Ref, isValidNodeName } from '../pid.js';
import type { ExitReason, NameAtNode, Signal } from '../signals.js';

export const MESSAGE = {
  heartbeat: 0,
  send: 1,
  regSend: 2,
  signal: 3,
  control: 4,
  peers: 5,
  sendRun: 6,
  regSendRun: 7,
} as const;

const CONTROL_KINDS = new Set(['link', 'unlink', 'exit', 'exit2', 'monitor', 'demonitor', 'down']);
const CHANNEL_BYTES_MAX = 128;
const PEERS_MAX = 4_096;

/** Same options as the shared codec, so extensions (pids, refs) decode the same way. */
const unpackr = new Unpackr({ useRecords: false, moreTypes: true });

export const HEARTBEAT_BYTES = encode([MESSAGE.heartbeat]);

/** For the data hot path: packs into one reused buffer, which the caller copies at once. */
const packr = new Packr({ useRecords: false, moreTypes: true });
const PACK_IN_PLACE = REUSE_BUFFER_MODE | RESET_BUFFER_MODE;
const ARRAY_OF_FOUR = Buffer.from([0x94]);
const EMPTY = Buffer.alloc(0);
const UINT32_MARKER = 0xce;
/** A run header's count: the uint32 marker and four bytes. */
export const RUN_COUNT_BYTES = 5;
const RUN_COUNT_MAX = 0xffff_ffff;

/** A packed value inside msgpackr's reused buffer: valid until the next pack. */
export type PackedBody = Buffer & { start: number; end: number };

/** Room for a run header written directly (longer ones, with very long names, go to msgpackr). */
const HEADER_SCRATCH_BYTES = 1_024;

/** Below this many bytes a plain loop beats `Buffer.copy` (which has a fixed cost). */
const SHORT_COPY_BYTES_MAX = 64;

function copyBytes(source: Uint8Array, start: number, end: number, target: Buffer, offset: number): void {
  if (end - start <= SHORT_COPY_BYTES_MAX) {
    for (let index = start; index < end; index++) target[offset++] = source[index] as number;
  } else {
    target.set(source.subarray(start, end), offset);
  }
}

export type DataKind = 'send' | 'reg_send';
/** A data message's target as the wire carries it: a pid, or a registered name on the peer. */
export type DataTarget = Pid | string;

function sameSender(a: Pid | undefined, b: Pid | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

function sameTarget(a: DataTarget | undefined, b: DataTarget): boolean {
  return a === b || (b instanceof Pid && b.equals(a));
}

/**
 * Encodes data messages: `body(msg)` packs a message (into msgpackr's reused buffer: copy it
 * before the next call), `header(kind, from, to)` gives a run header without its count, cached
 * for the last sender and target so a process streaming to one target encodes it once. Call
 * `header` before `body`: msgpackr packs every value into one module-wide buffer, so encoding a
 * header would overwrite a body packed before it.
 */
export class DataEncoder {
  readonly #simple = new SimpleEncoder();
  readonly #scratch = Buffer.alloc(HEADER_SCRATCH_BYTES);
  #header: Buffer = EMPTY;
  #kind: DataKind | undefined;
  #from: Pid | undefined;
  #to: DataTarget | undefined;

  body(msg: unknown): PackedBody {
    return packr.pack(msg, PACK_IN_PLACE) as PackedBody;
  }

  header(kind: DataKind, from: Pid | undefined, to: DataTarget): Buffer {
    if (kind !== this.#kind || !sameSender(from, this.#from) || !sameTarget(this.#to, to)) {
      this.#header = this.#encodeHeader(kind === 'send' ? MESSAGE.sendRun : MESSAGE.regSendRun, from ?? null, to);
      this.#kind = kind;
      this.#from = from;
      this.#to = to;
    }
    return this.#header;
  }

  /**
   * `[type, from, to, …` (the run's count follows): by the direct encoder when it can (pids and
   * names, the common case — a new sender for every message when many processes take turns),
   * else by msgpackr. The same bytes either way.
   */
  #encodeHeader(type: number, from: Pid | null, to: DataTarget): Buffer {
    const scratch = this.#scratch;
    scratch[0] = ARRAY_OF_FOUR[0] as number;
    let end = this.#simple.write(type, scratch, 1, scratch.length);
    if (end >= 0) end = this.#simple.write(from, scratch, end, scratch.length);
    if (end >= 0) end = this.#simple.write(to, scratch, end, scratch.length);
    if (end >= 0) {
      const header = Buffer.allocUnsafe(end);
      scratch.copy(header, 0, 0, end);
      return header;
    }
    return Buffer.concat([ARRAY_OF_FOUR, encode(type), encode(from), encode(to)]);
  }
}

/** Nesting deeper than this goes to msgpackr. */
const SIMPLE_DEPTH_MAX = 8;
/** Strings shorter than this are written byte by byte (ASCII only); longer ones with `Buffer.write`. */
const SHORT_STRING_CHARS_MAX = 64;
const NOT_SIMPLE = -1;

/**
 * Writes the common message shapes straight into a segment, without a msgpackr call or a copy:
 * null, booleans, numbers, strings, Buffers, pids and refs, and arrays and plain objects of
 * those. Numbers are written exactly as msgpackr writes them (so -0 and integers past 32 bits
 * decode as msgpackr's would), pids and refs as codec.ts's extensions write them (`d4 <type> 00`
 * and then `[node, id, creation]`); anything else (undefined, Maps, Dates, class instances,
 * typed arrays other than Buffer, short non-ASCII strings, deep nesting) makes `write` give up,
 * and the caller uses msgpackr. Either way the receiver decodes the same value.
 */
export class SimpleEncoder {
  #target: Buffer = EMPTY;
  #end = 0;
  #view: DataView | undefined;

  /** Encode `value` into `target[offset, end)`; returns the offset after it, or -1 (not simple, or no room). */
  write(value: unknown, target: Buffer, offset: number, end: number): number {
    if (target !== this.#target) {
      this.#target = target;
      this.#view = new DataView(target.buffer, target.byteOffset, target.length);
    }
    this.#end = end;
    return this.#value(value, offset, 0);
  }

  #value(value: unknown, at: number, depth: number): number {
    switch (typeof value) {
      case 'number':
        return this.#number(value, at);
      case 'string':
        return this.#string(value, at);
      case 'boolean':
        if (at >= this.#end) return NOT_SIMPLE;
        this.#target[at] = value ? 0xc3 : 0xc2;
        return at + 1;
      case 'object':
        if (value === null) {
          if (at >= this.#end) return NOT_SIMPLE;
          this.#target[at] = 0xc0;
          return at + 1;
        }
        if (depth >= SIMPLE_DEPTH_MAX) return NOT_SIMPLE;
        if ((value as object).constructor === Array) return this.#array(value as unknown[], at, depth);
        if (Buffer.isBuffer(value)) return this.#bytes(value, at);
        if ((value as object).constructor === Object) return this.#object(value as Record<string, unknown>, at, depth);
        return this.#idOrNot(value as object, at);
      default:
        return NOT_SIMPLE;
    }
  }

  /** A pid or a ref, told by its prototype (a plain object may have a `constructor` key); anything else is not simple. */
  #idOrNot(value: object, at: number): number {
    const prototype = Object.getPrototypeOf(value) as unknown;
    if (prototype === Pid.prototype) return this.#id(EXT_PID, value as Pid, at);
    if (prototype === Ref.prototype) return this.#id(EXT_REF, value as Ref, at);
    return NOT_SIMPLE;
  }

  /** A pid or a ref: the extension's tag (`d4 <type> 00`), then `[node, id, creation]`. */
  #id(type: number, value: Pid | Ref, at: number): number {
    // A pid made some other way than its constructor (no string node, a BigInt id…) is msgpackr's.
    if (typeof value.node !== 'string' || typeof value.id !== 'number' || typeof value.creation !== 'number') return NOT_SIMPLE;
    if (at + 4 > this.#end) return NOT_SIMPLE;
    const target = this.#target;
    target[at] = 0xd4;
    target[at + 1] = type;
    target[at + 2] = 0;
    target[at + 3] = 0x93;
    const offset = this.#string(value.node, at + 4);
    if (offset < 0) return NOT_SIMPLE;
    const afterId = this.#number(value.id, offset);
    return afterId < 0 ? NOT_SIMPLE : this.#number(value.creation, afterId);
  }

  #number(value: number, at: number): number {
    const target = this.#target;
    if (at + 9 > this.#end) return NOT_SIMPLE;
    if (value >>> 0 === value) {
      if (value < 0x80) {
        target[at] = value;
        return at + 1;
      }
      if (value < 0x100) {
        target[at] = 0xcc;
        target[at + 1] = value;
        return at + 2;
      }
      if (value < 0x10000) {
        target[at] = 0xcd;
        target[at + 1] = value >> 8;
        target[at + 2] = value & 0xff;
        return at + 3;
      }
      target[at] = 0xce;
      (this.#view as DataView).setUint32(at + 1, value);
      return at + 5;
    }
    if (value >> 0 === value) {
      if (value >= -0x20) {
        target[at] = 0x100 + value;
        return at + 1;
      }
      if (value >= -0x80) {
        target[at] = 0xd0;
        target[at + 1] = value + 0x100;
        return at + 2;
      }
      if (value >= -0x8000) {
        target[at] = 0xd1;
        (this.#view as DataView).setInt16(at + 1, value);
        return at + 3;
      }
      target[at] = 0xd2;
      (this.#view as DataView).setInt32(at + 1, value);
      return at + 5;
    }
    target[at] = 0xcb;
    (this.#view as DataView).setFloat64(at + 1, value);
    return at + 9;
  }

  #string(value: string, at: number): number {
    const target = this.#target;
    const length = value.length;
    if (length < SHORT_STRING_CHARS_MAX) {
      const headerBytes = length < 0x20 ? 1 : 2;
      if (at + headerBytes + length > this.#end) return NOT_SIMPLE;
      let offset = at + headerBytes;
      for (let index = 0; index < length; index++) {
        const code = value.charCodeAt(index);
        if (code >= 0x80) return NOT_SIMPLE;
        target[offset++] = code;
      }
      if (headerBytes === 1) {
        target[at] = 0xa0 | length;
      } else {
        target[at] = 0xd9;
        target[at + 1] = length;
      }
      return offset;
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    const headerBytes = bytes < 0x100 ? 2 : bytes < 0x10000 ? 3 : 5;
    if (at + headerBytes + bytes > this.#end) return NOT_SIMPLE;
    this.#header(at, bytes, 0xd9, 0xda, 0xdb);
    target.write(value, at + headerBytes, bytes, 'utf8');
    return at + headerBytes + bytes;
  }

  #bytes(value: Buffer, at: number): number {
    const length = value.length;
    const headerBytes = length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
    if (at + headerBytes + length > this.#end) return NOT_SIMPLE;
    this.#header(at, length, 0xc4, 0xc5, 0xc6);
    copyBytes(value, 0, length, this.#target, at + headerBytes);
    return at + headerBytes + length;
  }

  /** A length header with an 8-, 16- or 32-bit length (for str and bin). */
  #header(at: number, length: number, marker8: number, marker16: number, marker32: number): void {
    const target = this.#target;
    if (length < 0x100) {
      target[at] = marker8;
      target[at + 1] = length;
    } else if (length < 0x10000) {
      target[at] = marker16;
      target[at + 1] = length >> 8;
      target[at + 2] = length & 0xff;
    } else {
      target[at] = marker32;
      (this.#view as DataView).setUint32(at + 1, length);
    }
  }

  /** An array or map header for `count` entries (`fix` is 0x90 or 0x80). */
  #collection(at: number, count: number, fix: number, marker16: number, marker32: number): number {
    const target = this.#target;
    if (count < 0x10) {
      if (at + 1 > this.#end) return NOT_SIMPLE;
      target[at] = fix | count;
      return at + 1;
    }
    if (count < 0x10000) {
      if (at + 3 > this.#end) return NOT_SIMPLE;
      target[at] = marker16;
      target[at + 1] = count >> 8;
      target[at + 2] = count & 0xff;
      return at + 3;
    }
    if (at + 5 > this.#end) return NOT_SIMPLE;
    target[at] = marker32;
    (this.#view as DataView).setUint32(at + 1, count);
    return at + 5;
  }

  #array(value: unknown[], at: number, depth: number): number {
    let offset = this.#collection(at, value.length, 0x90, 0xdc, 0xdd);
    for (let index = 0; index < value.length && offset >= 0; index++) offset = this.#value(value[index], offset, depth + 1);
    return offset;
  }

  #object(value: Record<string, unknown>, at: number, depth: number): number {
    const keys = Object.keys(value);
    let offset = this.#collection(at, keys.length, 0x80, 0xde, 0xdf);
    for (let index = 0; index < keys.length && offset >= 0; index++) {
      const key = keys[index] as string;
      offset = this.#string(key, offset);
      if (offset >= 0) offset = this.#value(value[key], offset, depth + 1);
    }
    return offset;
  }
}

/**
 * Data messages packed back to back as runs, to be sent as (the data part of) one record. The
 * last run stays open: a message for the same sender and target only adds its body.
 */
export class DataSegment {
  readonly buffer: Buffer;
  used = 0;
  messages = 0;
  #runKind: DataKind | undefined;
  #runFrom: Pid | undefined;
  #runTo: DataTarget | undefined;
  #runCountOffset = -1;
  #runCount = 0;

  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }

  /** Whether a message for (kind, from, to) continues the open run (then it costs only its body). */
  continues(kind: DataKind, from: Pid | undefined, to: DataTarget): boolean {
    return this.#runCountOffset >= 0 && kind === this.#runKind && sameSender(from, this.#runFrom) && sameTarget(this.#runTo, to) && this.#runCount < RUN_COUNT_MAX;
  }

  get room(): number {
    return this.buffer.length - this.used;
  }

  /** Append a message body; `header` (from `DataEncoder.header`) starts a new run unless it continues the open one. */
  append(kind: DataKind, from: Pid | undefined, to: DataTarget, header: Buffer, body: Uint8Array, start: number, end: number): void {
    if (!this.continues(kind, from, to)) this.#startRun(kind, from, to, header);
    copyBytes(body, start, end, this.buffer, this.used);
    this.used += end - start;
    this.#runCount++;
    this.messages++;
  }

  /** Where a message's body goes if it is appended for (kind, from, to) with `header`. */
  bodyOffset(kind: DataKind, from: Pid | undefined, to: DataTarget, header: Buffer): number {
    return this.continues(kind, from, to) ? this.used : this.used + header.length + RUN_COUNT_BYTES;
  }

  /** Append a message whose body was already written in place at `bodyOffset(…)`, `bodyBytes` long. */
  appendInPlace(kind: DataKind, from: Pid | undefined, to: DataTarget, header: Buffer, bodyBytes: number): void {
    if (!this.continues(kind, from, to)) this.#startRun(kind, from, to, header);
    this.used += bodyBytes;
    this.#runCount++;
    this.messages++;
  }

  /** The finished bytes (the open run's count written in); nothing may be appended after. */
  finish(): Buffer {
    this.#closeRun();
    this.#runCountOffset = -1;
    return this.buffer.subarray(0, this.used);
  }

  #startRun(kind: DataKind, from: Pid | undefined, to: DataTarget, header: Buffer): void {
    this.#closeRun();
    const buffer = this.buffer;
    copyBytes(header, 0, header.length, buffer, this.used);
    this.used += header.length;
    buffer[this.used] = UINT32_MARKER;
    this.#runCountOffset = this.used + 1;
    this.used += RUN_COUNT_BYTES;
    this.#runKind = kind;
    this.#runFrom = from;
    this.#runTo = to;
    this.#runCount = 0;
  }

  #closeRun(): void {
    if (this.#runCountOffset >= 0) this.buffer.writeUInt32BE(this.#runCount, this.#runCountOffset);
  }
}

export interface PeerAddress {
  readonly name: string;
  readonly address: string;
}

export type LinkMessage =
  | { readonly type: 'heartbeat' }
  | { readonly type: 'data'; readonly signal: Signal }
  /** A control signal: deliver it once the connection's data message number `stamp` has been delivered. */
  | { readonly type: 'signal'; readonly stamp: number; readonly signal: Signal }
  /** The header of a run: the next `count` values of the record are its messages. */
  | { readonly type: 'run'; readonly kind: DataKind; readonly from: Pid | undefined; readonly to: Pid | NameAtNode; readonly count: number }
  | { readonly type: 'control'; readonly channel: string; readonly payload: unknown }
  | { readonly type: 'peers'; readonly peers: PeerAddress[] };

/** One data message on its own (types 1 and 2): what runs replace on the sender; still accepted. */
export function encodeDataSignal(signal: Signal): Buffer {
  if (signal.kind === 'send') return encode([MESSAGE.send, signal.from ?? null, signal.to, signal.msg]);
  if (signal.kind === 'reg_send') return encode([MESSAGE.regSend, signal.from ?? null, signal.to.name, signal.msg]);
  throw fedError('badarg', `not a data signal: ${signal.kind}`);
}

export function encodeControlSignal(signal: Signal, stamp: number): Buffer {
  const ref = 'ref' in signal ? signal.ref : null;
  const reason = 'reason' in signal ? signal.reason : null;
  return encode([MESSAGE.signal, stamp, signal.kind, signal.from, signal.to, ref, reason]);
}

export function encodeControl(channel: string, payload: unknown): Buffer {
  if (typeof channel !== 'string' || channel.length === 0 || Buffer.byteLength(channel) > CHANNEL_BYTES_MAX) {
    throw fedError('badarg', `invalid control channel ${JSON.stringify(channel)}`);
  }
  return encode([MESSAGE.control, channel, payload]);
}

export function encodePeers(peers: readonly PeerAddress[]): Buffer {
  return encode([MESSAGE.peers, peers.slice(0, PEERS_MAX).map((peer) => [peer.name, peer.address])]);
}

/** Decode a record's plaintext into its raw values (validate each with `parseMessage`). */
export function decodeRecord(plaintext: Buffer): unknown[] {
  try {
    return unpackr.unpackMultiple(plaintext) as unknown[];
  } catch (error) {
    throw fedError('bad_frame', `undecodable record: ${(error as Error).message}`, undefined, error);
  }
}

/** Decode and validate every message of a record's plaintext; runs come out as one `data` message each. */
export function parseRecord(plaintext: Buffer, localName: string, peerName: string): LinkMessage[] {
  const values = decodeRecord(plaintext);
  const messages: LinkMessage[] = [];
  for (let index = 0; index < values.length; index++) {
    const message = parseMessage(values[index], localName, peerName);
    if (message.type !== 'run') {
      messages.push(message);
      continue;
    }
    checkRunFits(message.count, values.length - index - 1);
    for (let offset = 1; offset <= message.count; offset++) {
      messages.push({ type: 'data', signal: runSignal(message, values[index + offset]) });
    }
    index += message.count;
  }
  return messages;
}

/** `bad_frame` unless a run of `count` messages fits in the `left` values after its header. */
export function checkRunFits(count: number, left: number): void {
  if (count > left) throw fedError('bad_frame', `run of ${count} messages with only ${left} in the record`);
}

/** The signal for one message of a run. */
export function runSignal(run: LinkMessage & { type: 'run' }, msg: unknown): Signal {
  return run.kind === 'send' ? { kind: 'send', from: run.from, to: run.to as Pid, msg } : { kind: 'reg_send', from: run.from, to: run.to as NameAtNode, msg };
}

/** Validate one decoded value as a link message; `bad_frame` if it is not one. */
export function parseMessage(value: unknown, localName: string, peerName: string): LinkMessage {
  if (!Array.isArray(value) || value.length === 0) throw fedError('bad_frame', 'link message is not a tagged array');
  switch (value[0]) {
    case MESSAGE.heartbeat:
      return HEARTBEAT;
    case MESSAGE.send:
      return { type: 'data', signal: parseSend(value, localName, peerName) };
    case MESSAGE.regSend:
      return { type: 'data', signal: parseRegSend(value, localName, peerName) };
    case MESSAGE.signal:
      return parseSignal(value, localName, peerName);
    case MESSAGE.control:
      return parseControl(value);
    case MESSAGE.peers:
      return parsePeers(value);
    case MESSAGE.sendRun:
    case MESSAGE.regSendRun:
      return parseRun(value, localName, peerName);
    default:
      throw fedError('bad_frame', `unknown link message type ${JSON.stringify(value[0])}`);
  }
}

const HEARTBEAT: LinkMessage = { type: 'heartbeat' };

function parseSend(value: unknown[], localName: string, peerName: string): Signal {
  if (value.length !== 4) throw fedError('bad_frame', 'malformed send');
  const from = optionalPeerPid(value[1], peerName);
  const to = value[2];
  if (!(to instanceof Pid) || to.node !== localName) throw fedError('bad_frame', 'send to a pid that is not on this node');
  return { kind: 'send', from, to, msg: value[3] };
}

function parseRegSend(value: unknown[], localName: string, peerName: string): Signal {
  if (value.length !== 4) throw fedError('bad_frame', 'malformed reg_send');
  const from = optionalPeerPid(value[1], peerName);
  const name = value[2];
  if (typeof name !== 'string' || name.length === 0) throw fedError('bad_frame', 'reg_send without a name');
  return { kind: 'reg_send', from, to: { name, node: localName }, msg: value[3] };
}

function parseSignal(value: unknown[], localName: string, peerName: string): LinkMessage {
  if (value.length !== 7) throw fedError('bad_frame', 'malformed signal');
  const [, stamp, kind, from, to, ref, reason] = value;
  if (!Number.isSafeInteger(stamp) || (stamp as number) < 0) throw fedError('bad_frame', 'signal with a bad stamp');
  if (typeof kind !== 'string' || !CONTROL_KINDS.has(kind)) throw fedError('bad_frame', `unknown signal kind ${JSON.stringify(kind)}`);
  const signal = buildSignal(kind, from, to, ref, reason as ExitReason, localName, peerName);
  return { type: 'signal', stamp: stamp as number, signal };
}

function parseRun(value: unknown[], localName: string, peerName: string): LinkMessage & { type: 'run' } {
  if (value.length !== 4) throw fedError('bad_frame', 'malformed run header');
  const from = optionalPeerPid(value[1], peerName);
  const count = value[3];
  if (!Number.isSafeInteger(count) || (count as number) < 1) throw fedError('bad_frame', 'run with a bad count');
  const target = value[2];
  if (value[0] === MESSAGE.sendRun) {
    if (!(target instanceof Pid) || target.node !== localName) throw fedError('bad_frame', 'send to a pid that is not on this node');
    return { type: 'run', kind: 'send', from, to: target, count: count as number };
  }
  if (typeof target !== 'string' || target.length === 0) throw fedError('bad_frame', 'reg_send without a name');
  return { type: 'run', kind: 'reg_send', from, to: { name: target, node: localName }, count: count as number };
}

function buildSignal(kind: string, from: unknown, to: unknown, ref: unknown, reason: ExitReason, localName: string, peerName: string): Signal {
  switch (kind) {
    case 'link':
    case 'unlink':
      return { kind, from: peerPid(from, peerName), to: localPid(to, localName) };
    case 'exit':
    case 'exit2':
      return { kind, from: peerPid(from, peerName), to: localPid(to, localName), reason: reason ?? 'normal' };
    case 'monitor':
    case 'demonitor':
      return { kind, from: peerPid(from, peerName), to: localTarget(to, localName), ref: ownRef(ref) };
    default:
      // 'down': the monitored process (or name) is on the peer; the ref was made by our process.
      return { kind: 'down', from: peerTarget(from, peerName), to: localPid(to, localName), ref: ownRef(ref), reason: reason ?? 'noproc' };
  }
}

function optionalPeerPid(value: unknown, peerName: string): Pid | undefined {
  if (value === null || value === undefined) return undefined;
  return peerPid(value, peerName);
}

function peerPid(value: unknown, peerName: string): Pid {
  if (!(value instanceof Pid) || value.node !== peerName) throw fedError('bad_frame', 'signal from a pid that is not on the sending node');
  return value;
}

function localPid(value: unknown, localName: string): Pid {
  if (!(value instanceof Pid) || value.node !== localName) throw fedError('bad_frame', 'signal to a pid that is not on this node');
  return value;
}

function ownRef(value: unknown): Ref {
  if (!(value instanceof Ref)) throw fedError('bad_frame', 'signal without a ref');
  return value;
}

function nameAtNode(value: unknown, nodeName: string): NameAtNode | undefined {
  if (typeof value !== 'object' || value === null || value instanceof Pid) return undefined;
  const { name, node } = value as Record<string, unknown>;
  if (typeof name !== 'string' || name.length === 0 || node !== nodeName) return undefined;
  return { name, node };
}

function localTarget(value: unknown, localName: string): Pid | NameAtNode {
  if (value instanceof Pid) return localPid(value, localName);
  const target = nameAtNode(value, localName);
  if (target === undefined) throw fedError('bad_frame', 'monitor of a target that is not on this node');
  return target;
}

function peerTarget(value: unknown, peerName: string): Pid | NameAtNode {
  if (value instanceof Pid) return peerPid(value, peerName);
  const target = nameAtNode(value, peerName);
  if (target === undefined) throw fedError('bad_frame', 'down from a target that is not on the sending node');
  return target;
}

function parseControl(value: unknown[]): LinkMessage {
  if (value.length !== 3 || typeof value[1] !== 'string' || value[1].length === 0 || value[1].length > CHANNEL_BYTES_MAX) {
    throw fedError('bad_frame', 'malformed control message');
  }
  return { type: 'control', channel: value[1], payload: value[2] };
}

function parsePeers(value: unknown[]): LinkMessage {
  const list = value[1];
  if (value.length !== 2 || !Array.isArray(list) || list.length > PEERS_MAX) throw fedError('bad_frame', 'malformed peer list');
  const peers: PeerAddress[] = [];
  for (const entry of list) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'string' || !isValidNodeName(entry[0])) {
      throw fedError('bad_frame', 'malformed peer list entry');
    }
    peers.push({ name: entry[0], address: entry[1] });
  }
  return { type: 'peers', peers };
}
