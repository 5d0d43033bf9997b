/**
 * Sealing: after the handshake every record on a link is encrypted and authenticated with
 * ChaCha20-Poly1305. Keys come from HKDF-SHA256 over the cookie, salted with the handshake
 * transcript (both nonces and identities), one key per direction; the 96-bit AEAD nonce is 32 zero bits and a 64-bit record
 * counter that both sides advance in step. The counter is never sent: a replayed, dropped,
 * reordered or altered record fails authentication, `open` throws `bad_frame`, and the caller
 * closes the connection.
 *
 * A record is `ciphertext ‖ tag` (16 bytes). The counter is a bigint only at the edges; the hot
 * path writes it as two 32-bit halves.
 */
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { fedError } from '../kernel/errors.js';

export const SEAL_TAG_BYTES = 16;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const ALGORITHM = 'chacha20-poly1305';
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

  /** Seal `plaintext`; returns [ciphertext, tag] to be written back to back. */
  seal(plaintext: Buffer): [Buffer, Buffer] {
    const cipher = createCipheriv(ALGORITHM, this.#key, this.#counter.next(), { authTagLength: SEAL_TAG_BYTES });
    const ciphertext = cipher.update(plaintext);
    cipher.final();
    return [ciphertext, cipher.getAuthTag()];
  }
}

/** Decrypts incoming records with the other direction's key, in counter order. */
export class Opener {
  readonly #key: Buffer;
  readonly #counter = new Counter();

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** Open one record (`ciphertext ‖ tag`); throws `bad_frame` if it does not authenticate. */
  open(record: Buffer): Buffer {
    if (record.length <= SEAL_TAG_BYTES) throw fedError('bad_frame', `sealed record too short (${record.length} bytes)`);
    const bodyBytes = record.length - SEAL_TAG_BYTES;
    const decipher = createDecipheriv(ALGORITHM, this.#key, this.#counter.next(), { authTagLength: SEAL_TAG_BYTES });
    decipher.setAuthTag(record.subarray(bodyBytes));
    const plaintext = decipher.update(record.subarray(0, bodyBytes));
    try {
      decipher.final();
    } catch (error) {
      throw fedError('bad_frame', 'sealed record failed authentication (tampered, replayed or reordered)', undefined, error);
    }
    return plaintext;
  }
}
