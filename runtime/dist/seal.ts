/**
 * Sealing: after the handshake every record on a link is encrypted and authenticated with
 * ChaCha20-Poly1305 (RFC 8439). Keys come from HKDF-SHA256 over the cookie, salted with the
 * handshake transcript (both nonces and identities), one key per direction; the 96-bit AEAD
 * nonce is 32 zero bits and a 64-bit record counter that both sides advance in step. The
 * counter is never sent: a replayed, dropped, reordered or altered record fails
 * authentication, `open` throws `bad_frame`, and the caller closes the connection.
 *
 * A record is `ciphertext ‖ tag` (16 bytes). The AEAD is libsodium's (sodium-native, which the
 * hyperswarm stack already brings), working in place in the caller's buffers: node:crypto
 * builds a cipher object per record (it cannot be re-keyed or re-nonced), which costs more than
 * sealing a small record itself. The bytes are the same as node:crypto's `chacha20-poly1305`
 * (the tests check it both ways). The counter is a bigint only at the edges; the hot path
 * writes it as two 32-bit halves.
 */
import { hkdfSync } from 'node:crypto';
import sodium from 'sodium-native';
import { fedError } from '../kernel/errors.js';
import { FRAME_HEADER_BYTES } from './frame.js';

export const SEAL_TAG_BYTES = 16;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
/** 2^64 records per key is far beyond any link's life; we still refuse to wrap. */
const COUNTER_HIGH_MAX = 0xffff_ffff;

export type Direction = 'initiator-to-responder' | 'responder-to-initiator';

/**
 * One direction's key: HKDF-SHA256 of the cookie, salted with the handshake transcript (which
 * holds both nonces and both identities, see handshake.ts), so the keys are fresh per
 * connection and bound to everything the two sides said to each other.
 */
export function deriveKey(cookie: string, transcript: Buffer, direction: Direction): Buffer {
  const info = Buffer.from(`fedctl-seal-v2\0${direction}`, 'utf8');
  return Buffer.from(hkdfSync('sha256', Buffer.from(cookie, 'utf8'), transcript, info, KEY_BYTES));
}

class Counter {
  #low = 0;
  #high = 0;
  readonly #nonce = Buffer.alloc(NONCE_BYTES);

  /** The nonce for the current count, then advance. */
  next(): Buffer {
    const nonce = this.#nonce;
    nonce.writeUInt32BE(this.#high, 4);
    nonce.writeUInt32BE(this.#low, 8);
    if (this.#low === 0xffff_ffff) {
      if (this.#high === COUNTER_HIGH_MAX) throw fedError('closed', 'record counter exhausted');
      this.#low = 0;
      this.#high++;
    } else {
      this.#low++;
    }
    return nonce;
  }

  get value(): bigint {
    return (BigInt(this.#high) << 32n) | BigInt(this.#low);
  }
}

/** Encrypts outgoing records with one direction's key. */
export class Sealer {
  readonly #key: Buffer;
  readonly #counter = new Counter();

  constructor(key: Buffer) {
    this.#key = key;
  }

  get recordsSealed(): bigint {
    return this.#counter.value;
  }

  /**
   * Seal the concatenation of `parts` (`plaintextBytes` in all) as one whole frame in a single
   * buffer: the length header, the ciphertext and the tag, ready to write.
   */
  sealFrame(parts: readonly Uint8Array[], plaintextBytes: number): Buffer {
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + plaintextBytes + SEAL_TAG_BYTES);
    frame.writeUInt32BE(plaintextBytes + SEAL_TAG_BYTES, 0);
    const bodyEnd = FRAME_HEADER_BYTES + plaintextBytes;
    const body = frame.subarray(FRAME_HEADER_BYTES, bodyEnd);
    let plaintext: Uint8Array = body;
    if (parts.length === 1) {
      // One part (a bulk record): encrypt straight from it, no copy.
      plaintext = parts[0] as Uint8Array;
    } else {
      let offset = FRAME_HEADER_BYTES;
      for (const part of parts) {
        frame.set(part, offset);
        offset += part.length;
      }
    }
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(body, frame.subarray(bodyEnd), plaintext, null, null, this.#counter.next(), this.#key);
    return frame;
  }

  /** Seal `plaintext`; returns [ciphertext, tag] to be written back to back (after a frame header). */
  seal(plaintext: Uint8Array): [Buffer, Buffer] {
    const ciphertext = Buffer.from(plaintext);
    const tag = Buffer.allocUnsafe(SEAL_TAG_BYTES);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(ciphertext, tag, ciphertext, null, null, this.#counter.next(), this.#key);
    return [ciphertext, tag];
  }
}

/** Decrypts incoming records with the other direction's key, in counter order. */
export class Opener {
  readonly #key: Buffer;
  readonly #counter = new Counter();

  constructor(key: Buffer) {
    this.#key = key;
  }

  /**
   * Open one record (`ciphertext ‖ tag`) in place: `record`'s bytes become the plaintext, which
   * is returned (a view of them). Throws `bad_frame` if it does not authenticate.
   */
  open(record: Buffer): Buffer {
    if (record.length <= SEAL_TAG_BYTES) throw fedError('bad_frame', `sealed record too short (${record.length} bytes)`);
    const body = record.subarray(0, record.length - SEAL_TAG_BYTES);
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(body, null, body, record.subarray(body.length), null, this.#counter.next(), this.#key);
    } catch (error) {
      throw fedError('bad_frame', 'sealed record failed authentication (tampered, replayed or reordered)', undefined, error);
    }
    return body;
  }
}
