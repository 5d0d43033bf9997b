/**
 * The distribution handshake, run over any `ByteStream` before anything else. Both sides
 * exchange who they are and prove that they know the cluster cookie; the cookie never crosses
 * the wire.
 *
 *   initiator → responder  hello     {versions [min,max], cluster, name, creation, hidden, listen, sealed, nonce}
 *   responder → initiator  challenge {version, cluster, name, creation, hidden, listen, sealed, nonce, proof}
 *   initiator → responder  proof     {proof}                      (after checking the responder's proof)
 *   responder → initiator  ok                                     (after checking it and admitting the peer)
 *   either side            error     {code}                       then closes
 *
 * A proof is HMAC-SHA256(cookie, label ‖ role ‖ cluster ‖ both names ‖ both nonces ‖ version);
 * the role in the label stops a proof being reflected back. Proofs are compared with
 * `timingSafeEqual`. Each frame is a msgpack map in a length-prefixed frame. Failures reject
 * with a FedError: `auth_failed` (wrong cookie or cluster id), `version_mismatch`,
 * `name_clash` (refused by `admit`), `handshake_timeout`, `bad_frame`, `config` (one side
 * sealed and the other not), `closed` (the stream went away). The caller logs and closes.
 *
 * On success the caller gets the peer's identity, the negotiated version, the sealing keys and
 * the frame decoder, which may already hold bytes that arrived after the handshake's last frame.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { encode, decode } from '../codec.js';
import { FedError, fedError, type ErrorCode, ERROR_CODES } from '../kernel/errors.js';
import { LIMITS } from '../kernel/limits.js';
import { isValidNodeName } from '../pid.js';
import { FrameDecoder, encodeFrame } from './frame.js';
import { Opener, Sealer, deriveKey } from './seal.js';
import type { ByteStream } from './transport.js';

export const PROTOCOL_VERSION_MIN = 1;
export const PROTOCOL_VERSION_MAX = 1;
const NONCE_BYTES = 32;
const PROOF_BYTES = 32;
const CLUSTER_BYTES_MAX = 256;
const ADDRESS_BYTES_MAX = 512;
/** Handshake frames are small; anything larger is hostile. */
const HANDSHAKE_FRAME_BYTES_MAX = 4_096;

export type Role = 'initiator' | 'responder';

export interface NodeIdentity {
  readonly name: string;
  readonly creation: number;
  readonly cluster: string;
  readonly hidden: boolean;
  /** Where this node accepts connections ('' if it does not listen). */
  readonly listenAddress: string;
  /** Whether records will be sealed (false only in loopback benchmark mode). */
  readonly sealed: boolean;
}

export interface HandshakeOptions {
  readonly role: Role;
  readonly local: NodeIdentity;
  readonly cookie: string;
  readonly versionMin?: number;
  readonly versionMax?: number;
  readonly timeoutMs?: number;
  readonly frameBytesMax?: number;
  /** Called once the peer is authenticated; return an error code to refuse it (e.g. `name_clash`). */
  readonly admit?: (peer: NodeIdentity) => ErrorCode | undefined;
}

export interface HandshakeResult {
  readonly peer: NodeIdentity;
  readonly version: number;
  readonly sealer: Sealer | undefined;
  readonly opener: Opener | undefined;
  /** The stream's frame decoder, possibly holding bytes that arrived after the handshake. */
  readonly decoder: FrameDecoder;
}

type Message = Record<string, unknown>;

export function proof(cookie: string, role: Role, cluster: string, initiatorName: string, responderName: string, initiatorNonce: Buffer, responderNonce: Buffer, version: number): Buffer {
  const hmac = createHmac('sha256', Buffer.from(cookie, 'utf8'));
  hmac.update(`fedctl-auth-v1\0${role}\0${cluster}\0${initiatorName}\0${responderName}\0${version}\0`);
  hmac.update(initiatorNonce);
  hmac.update(responderNonce);
  return hmac.digest();
}

function proofsEqual(expected: Buffer, received: Buffer): boolean {
  return received.length === expected.length && timingSafeEqual(expected, received);
}

/** Run the handshake on `stream`. Never throws synchronously; the promise rejects with a FedError. */
export function handshake(stream: ByteStream, options: HandshakeOptions): Promise<HandshakeResult> {
  return new Promise<HandshakeResult>((resolve, reject) => {
    new HandshakeRun(stream, options, resolve, reject).start();
  });
}

class HandshakeRun {
  readonly #stream: ByteStream;
  readonly #options: HandshakeOptions;
  readonly #resolve: (result: HandshakeResult) => void;
  readonly #reject: (error: FedError) => void;
  readonly #decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
  readonly #nonce = randomBytes(NONCE_BYTES);
  #step: 'hello' | 'challenge' | 'proof' | 'ok' | 'done' = 'hello';
  #peer: NodeIdentity | undefined;
  #peerNonce: Buffer | undefined;
  #version = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(stream: ByteStream, options: HandshakeOptions, resolve: (result: HandshakeResult) => void, reject: (error: FedError) => void) {
    this.#stream = stream;
    this.#options = options;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  start(): void {
    const timeoutMs = this.#options.timeoutMs ?? LIMITS.handshakeTimeoutMs;
    this.#timer = setTimeout(() => this.#fail(fedError('handshake_timeout', `handshake did not finish within ${timeoutMs} ms`)), timeoutMs);
    this.#stream.setHandlers({
      data: (chunk) => this.#onData(chunk),
      drain: () => undefined,
      close: (error) => this.#fail(fedError('closed', `stream closed during handshake${error ? `: ${error.message}` : ''}`, undefined, error)),
    });
    if (this.#options.role === 'initiator') {
      const local = this.#options.local;
      this.#send({ t: 'hello', versions: [this.#versionMin, this.#versionMax], ...identityFields(local), nonce: this.#nonce });
      this.#step = 'challenge';
    }
  }

  get #versionMin(): number {
    return this.#options.versionMin ?? PROTOCOL_VERSION_MIN;
  }

  get #versionMax(): number {
    return this.#options.versionMax ?? PROTOCOL_VERSION_MAX;
  }

  #onData(chunk: Buffer): void {
    if (this.#step === 'done') return;
    try {
      this.#decoder.append(chunk);
      for (;;) {
        const frame = this.#decoder.next();
        if (frame === undefined) return;
        if (this.#onMessage(decodeMessage(frame))) {
          this.#finish();
          return;
        }
      }
    } catch (error) {
      this.#fail(error instanceof FedError ? error : fedError('bad_frame', `handshake: ${(error as Error).message}`), true);
    }
  }

  /** Handle one message; returns true when the handshake is complete. */
  #onMessage(message: Message): boolean {
    if (message.t === 'error') {
      const code = typeof message.code === 'string' && message.code in ERROR_CODES ? (message.code as ErrorCode) : 'auth_failed';
      throw fedError(code, `peer refused the handshake: ${code}`, { remote: true });
    }
    switch (this.#step) {
      case 'hello':
        this.#onHello(message);
        return false;
      case 'challenge':
        this.#onChallenge(message);
        return false;
      case 'proof':
        this.#onProof(message);
        return true;
      case 'ok':
        if (message.t !== 'ok') throw fedError('bad_frame', `handshake: expected ok, got ${String(message.t)}`);
        return true;
      default:
        throw fedError('bad_frame', 'handshake: unexpected message');
    }
  }

  /** Responder: the initiator introduced itself. */
  #onHello(message: Message): void {
    if (message.t !== 'hello') throw fedError('bad_frame', `handshake: expected hello, got ${String(message.t)}`);
    const versions = message.versions;
    if (!Array.isArray(versions) || versions.length !== 2 || !versions.every((v) => Number.isSafeInteger(v))) {
      throw fedError('bad_frame', 'handshake: malformed version range');
    }
    const version = Math.min(this.#versionMax, versions[1] as number);
    if (version < Math.max(this.#versionMin, versions[0] as number)) {
      throw fedError('version_mismatch', `peer speaks versions ${versions[0]}..${versions[1]}, we speak ${this.#versionMin}..${this.#versionMax}`);
    }
    this.#version = version;
    this.#acceptIdentity(message);
    const local = this.#options.local;
    const peer = this.#peer as NodeIdentity;
    const responderProof = this.#proof('responder', peer.name, local.name, this.#peerNonce as Buffer, this.#nonce);
    this.#send({ t: 'challenge', version, ...identityFields(local), nonce: this.#nonce, proof: responderProof });
    this.#step = 'proof';
  }

  /** Initiator: the responder answered and proved itself. */
  #onChallenge(message: Message): void {
    if (message.t !== 'challenge') throw fedError('bad_frame', `handshake: expected challenge, got ${String(message.t)}`);
    const version = message.version;
    if (!Number.isSafeInteger(version) || (version as number) < this.#versionMin || (version as number) > this.#versionMax) {
      throw fedError('version_mismatch', `peer chose version ${String(version)}, we speak ${this.#versionMin}..${this.#versionMax}`);
    }
    this.#version = version as number;
    this.#acceptIdentity(message);
    const local = this.#options.local;
    const peer = this.#peer as NodeIdentity;
    const expected = this.#proof('responder', local.name, peer.name, this.#nonce, this.#peerNonce as Buffer);
    if (!proofsEqual(expected, binary(message.proof, PROOF_BYTES, 'proof'))) {
      throw fedError('auth_failed', `node ${peer.name} failed the cookie challenge`, { peer: peer.name });
    }
    this.#admit(peer);
    this.#send({ t: 'proof', proof: this.#proof('initiator', local.name, peer.name, this.#nonce, this.#peerNonce as Buffer) });
    this.#step = 'ok';
  }

  /** Responder: the initiator proved itself. */
  #onProof(message: Message): void {
    if (message.t !== 'proof') throw fedError('bad_frame', `handshake: expected proof, got ${String(message.t)}`);
    const local = this.#options.local;
    const peer = this.#peer as NodeIdentity;
    const expected = this.#proof('initiator', peer.name, local.name, this.#peerNonce as Buffer, this.#nonce);
    if (!proofsEqual(expected, binary(message.proof, PROOF_BYTES, 'proof'))) {
      throw fedError('auth_failed', `node ${peer.name} failed the cookie challenge`, { peer: peer.name });
    }
    this.#admit(peer);
    this.#send({ t: 'ok' });
  }

  #admit(peer: NodeIdentity): void {
    const refusal = this.#options.admit?.(peer);
    if (refusal !== undefined) throw fedError(refusal, `node ${peer.name} refused: ${refusal}`, { peer: peer.name });
  }

  #acceptIdentity(message: Message): void {
    const local = this.#options.local;
    const peer = parseIdentity(message);
    this.#peerNonce = binary(message.nonce, NONCE_BYTES, 'nonce');
    if (peer.cluster !== local.cluster) {
      throw fedError('auth_failed', `node ${peer.name} belongs to cluster ${JSON.stringify(peer.cluster)}, not ${JSON.stringify(local.cluster)}`, { peer: peer.name });
    }
    if (peer.sealed !== local.sealed) {
      throw fedError('config', `node ${peer.name} has sealing ${peer.sealed ? 'on' : 'off'}, we have it ${local.sealed ? 'on' : 'off'}`, { peer: peer.name });
    }
    if (peer.name === local.name) throw fedError('name_clash', `peer claims our own name ${peer.name}`, { peer: peer.name });
    this.#peer = peer;
  }

  #proof(role: Role, initiatorName: string, responderName: string, initiatorNonce: Buffer, responderNonce: Buffer): Buffer {
    return proof(this.#options.cookie, role, this.#options.local.cluster, initiatorName, responderName, initiatorNonce, responderNonce, this.#version);
  }

  #send(message: Message): void {
    this.#stream.write([encodeFrame(encode(message), HANDSHAKE_FRAME_BYTES_MAX)]);
  }

  #finish(): void {
    this.#step = 'done';
    clearTimeout(this.#timer);
    // Bytes that arrive before the connection takes the stream over are kept, not lost.
    this.#stream.detach();
    const peer = this.#peer as NodeIdentity;
    const local = this.#options.local;
    const isInitiator = this.#options.role === 'initiator';
    const initiatorName = isInitiator ? local.name : peer.name;
    const responderName = isInitiator ? peer.name : local.name;
    const initiatorNonce = isInitiator ? this.#nonce : (this.#peerNonce as Buffer);
    const responderNonce = isInitiator ? (this.#peerNonce as Buffer) : this.#nonce;
    let sealer: Sealer | undefined;
    let opener: Opener | undefined;
    if (local.sealed) {
      const key = (direction: 'initiator-to-responder' | 'responder-to-initiator'): Buffer =>
        deriveKey(this.#options.cookie, initiatorNonce, responderNonce, direction, initiatorName, responderName);
      sealer = new Sealer(key(isInitiator ? 'initiator-to-responder' : 'responder-to-initiator'));
      opener = new Opener(key(isInitiator ? 'responder-to-initiator' : 'initiator-to-responder'));
    }
    // The decoder was held to handshake-sized frames; the link uses the configured maximum.
    const decoder = this.#decoder;
    decoder.frameBytesMax = this.#options.frameBytesMax ?? LIMITS.frameBytesMax;
    this.#resolve({ peer, version: this.#version, sealer, opener, decoder });
  }

  #fail(error: FedError, tellPeer = false): void {
    if (this.#step === 'done') return;
    this.#step = 'done';
    clearTimeout(this.#timer);
    if (tellPeer && error.details?.remote !== true) {
      try {
        this.#send({ t: 'error', code: error.code });
      } catch {
        // The stream is going away anyway.
      }
    }
    this.#stream.destroy();
    this.#reject(error);
  }
}

function identityFields(identity: NodeIdentity): Message {
  return {
    cluster: identity.cluster,
    name: identity.name,
    creation: identity.creation,
    hidden: identity.hidden,
    listen: identity.listenAddress,
    sealed: identity.sealed,
  };
}

function decodeMessage(frame: Buffer): Message {
  const value = decode(frame);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fedError('bad_frame', 'handshake: frame is not a map');
  return value as Message;
}

function parseIdentity(message: Message): NodeIdentity {
  const { cluster, name, creation, hidden, listen, sealed } = message;
  if (typeof name !== 'string' || !isValidNodeName(name)) throw fedError('bad_frame', 'handshake: invalid node name');
  if (typeof cluster !== 'string' || Buffer.byteLength(cluster) > CLUSTER_BYTES_MAX) throw fedError('bad_frame', 'handshake: invalid cluster id');
  if (!Number.isSafeInteger(creation) || (creation as number) < 0) throw fedError('bad_frame', 'handshake: invalid creation');
  if (typeof hidden !== 'boolean' || typeof sealed !== 'boolean') throw fedError('bad_frame', 'handshake: invalid flags');
  if (typeof listen !== 'string' || Buffer.byteLength(listen) > ADDRESS_BYTES_MAX) throw fedError('bad_frame', 'handshake: invalid listen address');
  return { name, cluster, creation: creation as number, hidden, listenAddress: listen, sealed };
}

function binary(value: unknown, bytes: number, what: string): Buffer {
  if (!(value instanceof Uint8Array) || value.length !== bytes) throw fedError('bad_frame', `handshake: invalid ${what}`);
  return Buffer.from(value.buffer, value.byteOffset, value.length);
}
