/**
 * The distribution handshake, run over any `ByteStream` before anything else. Both sides
 * exchange who they are and prove that they know the cluster cookie; the cookie never crosses
 * the wire.
 *
 *   initiator → responder  hello     {versions [min,max], cluster, name, creation, hidden, listen, sealed, nonce}
 *   responder → initiator  challenge {version, cluster, name, creation, hidden, listen, sealed, nonce}
 *   initiator → responder  proof     {proof: HMAC(cookie, "initiator" ‖ transcript)}
 *   responder → initiator  accept    {proof: HMAC(cookie, "responder" ‖ transcript)}   (after checking it and admitting the peer)
 *   initiator → responder  ok                                                          (after checking it and admitting the peer)
 *   responder → initiator  ready                                                       (the responder now holds the connection)
 *   either side            error     {code}                                            then closes
 *
 * So when the initiator's handshake resolves, the responder has already taken the connection
 * (a `connect()` that resolved can be answered at once), and each side has admitted the other
 * only after the other proved itself.
 *
 * The transcript is SHA-256 over the hello and the challenge exactly as they travelled (each
 * length-prefixed), so both proofs and the sealing keys cover every field of both: names,
 * creations, hidden flags, listen addresses, sealing, the cluster id, the version range and
 * the chosen version, and both nonces. An on-path attacker who rewrites any of them makes the
 * two sides compute different transcripts, and the handshake fails `auth_failed`.
 *
 * The initiator proves first. Anyone can connect to a listener, so the responder gives nothing
 * derived from the cookie to a connector until that connector has proved it knows the cookie:
 * a stranger gets a challenge (fresh nonce, public identity) and then an error, never an HMAC
 * over data it knows, so it cannot brute-force the cookie offline. (The initiator only dials
 * addresses it was given or discovered; its proof goes to whoever answers there.)
 *
 * Proofs are compared with `timingSafeEqual`; the role in the proof's label stops a proof being
 * reflected back. Each frame is a msgpack map in a length-prefixed frame. Failures reject with a
 * FedError: `auth_failed` (wrong cookie, tampered transcript or cluster id), `version_mismatch`
 * (no protocol version in common), `name_clash` (refused by `admit`), `handshake_timeout`,
 * `bad_frame` (also a stream that ends inside a frame), `config` (one side sealed and the other
 * not), `closed` (the stream went away). The caller logs and closes.
 *
 * On success the caller gets the peer's identity, the negotiated version, the sealing keys and
 * the frame decoder, which may already hold bytes that arrived after the handshake's last frame.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { encode, decode } from '../codec.js';
import { FedError, fedError, type ErrorCode, ERROR_CODES } from '../kernel/errors.js';
import { LIMITS } from '../kernel/limits.js';
import { isValidNodeName } from '../pid.js';
import { FrameDecoder, encodeFrame } from './frame.js';
import { Opener, Sealer, deriveKey } from './seal.js';
import type { ByteStream } from './transport.js';

/**
 * The protocol versions this build speaks. The link format is the same for all of them; 2 adds
 * values a build speaking only 1 cannot decode (the codec's `Encoded` extension, in which Raft
 * appends carry their entries), sent only over links that agreed on 2 or more — so members of
 * the previous release and of this one still link and replicate during a rolling upgrade.
 */
export const PROTOCOL_VERSION_MIN = 1;
export const PROTOCOL_VERSION_MAX = 2;
/** The first version whose peers decode `Encoded` values. */
export const PROTOCOL_VERSION_ENCODED = 2;
const NONCE_BYTES = 32;
const PROOF_BYTES = 32;
const CLUSTER_BYTES_MAX = 256;
const ADDRESS_BYTES_MAX = 512;
/** Handshake frames are small; anything larger is hostile. */
const HANDSHAKE_FRAME_BYTES_MAX = 4_096;
const PROOF_LABEL = 'fedctl-auth-v2';
/** After sending an error, the stream is closed once it is out, or after this long. */
const ERROR_GRACE_MS = 1_000;

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
  /**
   * The range of protocol versions this side offers (default: what this build speaks). Other
   * values are for tests that play a node of another release.
   */
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

/** SHA-256 over the hello and the challenge as they travelled, each prefixed with its length. */
export function transcriptHash(hello: Uint8Array, challenge: Uint8Array): Buffer {
  const hash = createHash('sha256');
  for (const part of [hello, challenge]) {
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(part.length, 0);
    hash.update(length);
    hash.update(part);
  }
  return hash.digest();
}

/** What `role` sends to prove it knows the cookie, bound to the transcript. */
export function proof(cookie: string, role: Role, transcript: Buffer): Buffer {
  const hmac = createHmac('sha256', Buffer.from(cookie, 'utf8'));
  hmac.update(`${PROOF_LABEL}\0${role}\0`);
  hmac.update(transcript);
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
  /** The step we wait for: the next message expected from the peer. */
  #step: 'hello' | 'challenge' | 'proof' | 'accept' | 'ok' | 'ready' | 'done' = 'hello';
  #peer: NodeIdentity | undefined;
  #version = 0;
  #hello: Buffer | undefined;
  #transcript: Buffer | undefined;
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
      close: (error) => this.#onClosed(error),
    });
    if (this.#options.role === 'initiator') {
      this.#hello = this.#send({ t: 'hello', versions: [this.#versionMin, this.#versionMax], ...identityFields(this.#options.local), nonce: this.#nonce });
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
        if (this.#onMessage(frame, decodeMessage(frame))) {
          this.#finish();
          return;
        }
      }
    } catch (error) {
      this.#fail(error instanceof FedError ? error : fedError('bad_frame', `handshake: ${(error as Error).message}`), true);
    }
  }

  #onClosed(error: Error | undefined): void {
    try {
      this.#decoder.finish();
    } catch (truncated) {
      this.#fail(truncated as FedError);
      return;
    }
    this.#fail(fedError('closed', `stream closed during handshake${error ? `: ${error.message}` : ''}`, undefined, error));
  }

  /** Handle one message (`frame` is its bytes); returns true when the handshake is complete. */
  #onMessage(frame: Buffer, message: Message): boolean {
    if (message.t === 'error') {
      const code = typeof message.code === 'string' && message.code in ERROR_CODES ? (message.code as ErrorCode) : 'auth_failed';
      throw fedError(code, `peer refused the handshake: ${code}`, { remote: true });
    }
    switch (this.#step) {
      case 'hello':
        this.#onHello(frame, message);
        return false;
      case 'challenge':
        this.#onChallenge(frame, message);
        return false;
      case 'proof':
        this.#onProof(message);
        return false;
      case 'accept':
        this.#onAccept(message);
        return false;
      case 'ok':
        expect(message, 'ok');
        this.#send({ t: 'ready' });
        return true;
      case 'ready':
        expect(message, 'ready');
        return true;
      default:
        throw fedError('bad_frame', 'handshake: unexpected message');
    }
  }

  /** Responder: the initiator introduced itself. Nothing derived from the cookie goes back yet. */
  #onHello(frame: Buffer, message: Message): void {
    expect(message, 'hello');
    const versions = message.versions;
    if (!Array.isArray(versions) || versions.length !== 2 || !versions.every((v) => Number.isSafeInteger(v))) {
      throw fedError('bad_frame', 'handshake: malformed version range');
    }
    const version = Math.min(this.#versionMax, versions[1] as number);
    if (version < Math.max(this.#versionMin, versions[0] as number)) {
      throw fedError('version_mismatch', `unsupported protocol version: peer speaks ${versions[0]}..${versions[1]}, we speak ${this.#versionMin}..${this.#versionMax}`);
    }
    this.#version = version;
    this.#acceptIdentity(message);
    const challenge = this.#send({ t: 'challenge', version, ...identityFields(this.#options.local), nonce: this.#nonce });
    this.#transcript = transcriptHash(frame, challenge);
    this.#step = 'proof';
  }

  /** Initiator: the responder introduced itself; prove the cookie over everything said so far. */
  #onChallenge(frame: Buffer, message: Message): void {
    expect(message, 'challenge');
    const version = message.version;
    if (!Number.isSafeInteger(version) || (version as number) < this.#versionMin || (version as number) > this.#versionMax) {
      throw fedError('version_mismatch', `unsupported protocol version: peer chose ${String(version)}, we speak ${this.#versionMin}..${this.#versionMax}`);
    }
    this.#version = version as number;
    this.#acceptIdentity(message);
    this.#transcript = transcriptHash(this.#hello as Buffer, frame);
    this.#send({ t: 'proof', proof: proof(this.#options.cookie, 'initiator', this.#transcript) });
    this.#step = 'accept';
  }

  /** Responder: the initiator proved itself; admit it and prove ourselves. */
  #onProof(message: Message): void {
    expect(message, 'proof');
    this.#checkProof('initiator', message);
    this.#admit(this.#peer as NodeIdentity);
    this.#send({ t: 'accept', proof: proof(this.#options.cookie, 'responder', this.#transcript as Buffer) });
    this.#step = 'ok';
  }

  /** Initiator: the responder proved itself; admit it and tell it so. */
  #onAccept(message: Message): void {
    expect(message, 'accept');
    this.#checkProof('responder', message);
    this.#admit(this.#peer as NodeIdentity);
    this.#send({ t: 'ok' });
    this.#step = 'ready';
  }

  #checkProof(role: Role, message: Message): void {
    const expected = proof(this.#options.cookie, role, this.#transcript as Buffer);
    if (!proofsEqual(expected, binary(message.proof, PROOF_BYTES, 'proof'))) {
      const peer = this.#peer as NodeIdentity;
      throw fedError('auth_failed', `node ${peer.name} failed the cookie challenge (wrong cookie, or the handshake was altered in transit)`, { peer: peer.name });
    }
  }

  #admit(peer: NodeIdentity): void {
    const refusal = this.#options.admit?.(peer);
    if (refusal !== undefined) throw fedError(refusal, `node ${peer.name} refused: ${refusal}`, { peer: peer.name });
  }

  #acceptIdentity(message: Message): void {
    const local = this.#options.local;
    const peer = parseIdentity(message);
    binary(message.nonce, NONCE_BYTES, 'nonce');
    if (peer.cluster !== local.cluster) {
      throw fedError('auth_failed', `node ${peer.name} belongs to cluster ${JSON.stringify(peer.cluster)}, not ${JSON.stringify(local.cluster)}`, { peer: peer.name });
    }
    if (peer.sealed !== local.sealed) {
      throw fedError('config', `node ${peer.name} has sealing ${peer.sealed ? 'on' : 'off'}, we have it ${local.sealed ? 'on' : 'off'}`, { peer: peer.name });
    }
    if (peer.name === local.name) throw fedError('name_clash', `peer claims our own name ${peer.name}`, { peer: peer.name });
    this.#peer = peer;
  }

  /** Send a message; returns its bytes (the frame's payload) for the transcript. */
  #send(message: Message): Buffer {
    const payload = encode(message);
    this.#stream.write([encodeFrame(payload, HANDSHAKE_FRAME_BYTES_MAX)]);
    return payload;
  }

  #finish(): void {
    this.#step = 'done';
    clearTimeout(this.#timer);
    // Bytes that arrive before the connection takes the stream over are kept, not lost.
    this.#stream.detach();
    const peer = this.#peer as NodeIdentity;
    const isInitiator = this.#options.role === 'initiator';
    let sealer: Sealer | undefined;
    let opener: Opener | undefined;
    if (this.#options.local.sealed) {
      const transcript = this.#transcript as Buffer;
      const key = (direction: 'initiator-to-responder' | 'responder-to-initiator'): Buffer => deriveKey(this.#options.cookie, transcript, direction);
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
    if (tellPeer && error.details?.remote !== true && !this.#stream.closed) {
      this.#send({ t: 'error', code: error.code });
      // Let the error frame reach the peer before the stream goes.
      this.#stream.end(ERROR_GRACE_MS);
    } else {
      this.#stream.destroy();
    }
    this.#reject(error);
  }
}

function expect(message: Message, type: string): void {
  if (message.t !== type) throw fedError('bad_frame', `handshake: expected ${type}, got ${String(message.t)}`);
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
