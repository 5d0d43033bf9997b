/**
 * Link messages: what travels inside a (sealed) record once the handshake is done. A record's
 * plaintext is a run of msgpack values back to back (msgpack is self-delimiting), each one a
 * message shaped as a small array whose first element is its type:
 *
 *   [0]                                          heartbeat (control lane, never held)
 *   [1, from | null, to: Pid, msg]               send (data lane)
 *   [2, from | null, name: string, msg]          reg_send (data lane)
 *   [3, dataCount, kind, from, to, ref, reason]  link/unlink/exit/exit2/monitor/demonitor/down
 *                                                (control lane; held by the receiver until it has
 *                                                delivered `dataCount` data messages, so a signal
 *                                                never overtakes data sent before it)
 *   [4, channel: string, payload]                a subsystem's own control message (never held)
 *   [5, [[name, address], …]]                    the sender's visible peers (mesh)
 *
 * `parseRecord` validates every message strictly (types, that pids name the right nodes) and
 * throws `bad_frame` on anything else: a peer cannot forge a signal from a third node or address
 * a process on another node. Nothing malformed reaches a mailbox.
 */
import { Packr, REUSE_BUFFER_MODE, RESET_BUFFER_MODE, Unpackr } from 'msgpackr';
import { encode } from '../codec.js';
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

type ReusedBuffer = Buffer & { start: number; end: number };

/** Below this many bytes a plain loop beats `Buffer.copy` (which has a fixed cost). */
const SHORT_COPY_BYTES_MAX = 64;

function copyBytes(source: Buffer, start: number, end: number, target: Buffer, offset: number): void {
  if (end - start <= SHORT_COPY_BYTES_MAX) {
    for (let index = start; index < end; index++) target[offset++] = source[index] as number;
  } else {
    target.set(source.subarray(start, end), offset);
  }
}

/**
 * Encodes data messages as `prefix ‖ body`: the prefix (`[tag, from, to,` of a 4-array) is kept
 * from the previous message when sender and target are the same, so a process streaming to one
 * target pays only for its message. The bytes equal `encodeDataSignal(signal)`. After `encode`,
 * copy the message out with `copyTo` (or `frame`) before encoding another.
 */
export class DataEncoder {
  #prefix: Buffer = EMPTY;
  #body: ReusedBuffer | undefined;
  #kind: 'send' | 'reg_send' | undefined;
  #from: Pid | undefined;
  #to: Pid | string | undefined;

  /** Encode a `send` or `reg_send`; returns the message's length in bytes. */
  encode(signal: Signal & { kind: 'send' | 'reg_send' }): number {
    const to = signal.kind === 'send' ? signal.to : signal.to.name;
    if (!this.#samePrefix(signal.kind, signal.from, to)) {
      this.#prefix = Buffer.concat([ARRAY_OF_FOUR, encode(signal.kind === 'send' ? MESSAGE.send : MESSAGE.regSend), encode(signal.from ?? null), encode(to)]);
      this.#kind = signal.kind;
      this.#from = signal.from;
      this.#to = to;
    }
    const body = packr.pack(signal.msg, PACK_IN_PLACE) as ReusedBuffer;
    this.#body = body;
    return this.#prefix.length + body.end - body.start;
  }

  copyTo(buffer: Buffer, offset: number): void {
    const body = this.#body as ReusedBuffer;
    const prefix = this.#prefix;
    copyBytes(prefix, 0, prefix.length, buffer, offset);
    copyBytes(body, body.start, body.end, buffer, offset + prefix.length);
  }

  /** The last encoded message as a buffer of its own. */
  frame(): Buffer {
    const body = this.#body as ReusedBuffer;
    const frame = Buffer.allocUnsafe(this.#prefix.length + body.end - body.start);
    this.copyTo(frame, 0);
    return frame;
  }

  #samePrefix(kind: 'send' | 'reg_send', from: Pid | undefined, to: Pid | string): boolean {
    if (kind !== this.#kind) return false;
    if (from !== this.#from && (from === undefined || this.#from === undefined || !from.equals(this.#from))) return false;
    if (to === this.#to) return true;
    return to instanceof Pid && to.equals(this.#to);
  }
}

export interface PeerAddress {
  readonly name: string;
  readonly address: string;
}

export type LinkMessage =
  | { readonly type: 'heartbeat' }
  | { readonly type: 'data'; readonly signal: Signal }
  | { readonly type: 'signal'; readonly dataCount: number; readonly signal: Signal }
  | { readonly type: 'control'; readonly channel: string; readonly payload: unknown }
  | { readonly type: 'peers'; readonly peers: PeerAddress[] };

export function encodeDataSignal(signal: Signal): Buffer {
  if (signal.kind === 'send') return encode([MESSAGE.send, signal.from ?? null, signal.to, signal.msg]);
  if (signal.kind === 'reg_send') return encode([MESSAGE.regSend, signal.from ?? null, signal.to.name, signal.msg]);
  throw fedError('badarg', `not a data signal: ${signal.kind}`);
}

export function encodeControlSignal(signal: Signal, dataCount: number): Buffer {
  const ref = 'ref' in signal ? signal.ref : null;
  const reason = 'reason' in signal ? signal.reason : null;
  return encode([MESSAGE.signal, dataCount, signal.kind, signal.from, signal.to, ref, reason]);
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

/** Decode and validate every message of a record's plaintext. */
export function parseRecord(plaintext: Buffer, localName: string, peerName: string): LinkMessage[] {
  return decodeRecord(plaintext).map((value) => parseMessage(value, localName, peerName));
}

/** The hot path: a data message's signal (validated), or undefined if `value` is not a data message. */
export function parseDataSignal(value: unknown, localName: string, peerName: string): Signal | undefined {
  if (!Array.isArray(value)) return undefined;
  const tag = value[0];
  if (tag === MESSAGE.send) return parseSend(value, localName, peerName);
  if (tag === MESSAGE.regSend) return parseRegSend(value, localName, peerName);
  return undefined;
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
  const [, dataCount, kind, from, to, ref, reason] = value;
  if (!Number.isSafeInteger(dataCount) || (dataCount as number) < 0) throw fedError('bad_frame', 'signal with a bad data count');
  if (typeof kind !== 'string' || !CONTROL_KINDS.has(kind)) throw fedError('bad_frame', `unknown signal kind ${JSON.stringify(kind)}`);
  const signal = buildSignal(kind, from, to, ref, reason as ExitReason, localName, peerName);
  return { type: 'signal', dataCount: dataCount as number, signal };
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
