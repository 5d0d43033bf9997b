/**
 * `MsgpackWriter`: writes MessagePack exactly as the wire codec (`encode`: msgpackr, records off)
 * writes the same values — byte for byte — for the few kinds a registry snapshot's bulk is made
 * of: map and array headers, strings, non-negative integers, and any other value spliced in as
 * `encode` gives it (a MessagePack value is self-delimiting).
 *
 * Why: a group snapshot holds five values per name, hundreds of thousands of them. Encoded by
 * msgpackr's general encoder, that one huge array both cost most of the snapshot's time and —
 * the encoder's code being shared with every message and log entry the member encodes — threw
 * its optimized code away at every snapshot ("wrong map", new type feedback), so that all
 * encoding ran slower until it was compiled again. Written here, the bytes stay the same (the
 * data format does not change; `decode` reads them as before) and the shared encoder never
 * sees the bulk.
 */
import { assert, encode } from '../runtime/index.js';

const INITIAL_BYTES = 64 * 1024;
/** Integers from here up are written as float64, as msgpackr writes them (exact below 2^53). */
const UINT32_LIMIT = 2 ** 32;
/** Strings shorter than this (a str8 at most, when ASCII) are copied by hand. */
const SHORT_STRING_MAX = 64;

export class MsgpackWriter {
  #buffer: Buffer;
  #length = 0;

  constructor(initialBytes = INITIAL_BYTES) {
    this.#buffer = Buffer.allocUnsafe(Math.max(16, initialBytes));
  }

  /** A map of `count` entries: then `count` key/value pairs. msgpackr writes every object as map16. */
  mapHeader(count: number): void {
    assert(Number.isInteger(count) && count >= 0 && count <= 0xffff, `a map of ${count} entries`);
    this.#reserve(3);
    this.#buffer[this.#length] = 0xde;
    this.#buffer.writeUInt16BE(count, this.#length + 1);
    this.#length += 3;
  }

  /** An array of `count` values: then the `count` values. */
  arrayHeader(count: number): void {
    assert(Number.isInteger(count) && count >= 0 && count < UINT32_LIMIT, `an array of ${count} values`);
    this.#reserve(5);
    if (count < 16) {
      this.#buffer[this.#length++] = 0x90 | count;
    } else if (count <= 0xffff) {
      this.#buffer[this.#length] = 0xdc;
      this.#buffer.writeUInt16BE(count, this.#length + 1);
      this.#length += 3;
    } else {
      this.#buffer[this.#length] = 0xdd;
      this.#buffer.writeUInt32BE(count, this.#length + 1);
      this.#length += 5;
    }
  }

  /**
   * A string. ASCII is written here; any other text is handed to `encode` (msgpackr writes lone
   * surrogates its own way in short strings, and the bytes must stay the same).
   */
  string(value: string): void {
    const length = value.length;
    if (length < SHORT_STRING_MAX) {
      this.#shortString(value);
      return;
    }
    // One byte per UTF-16 code unit for ASCII, plus the longest header.
    this.#reserve(length * 3 + 5);
    const bytes = this.#buffer.write(value, this.#length + 5, 'utf8');
    if (bytes !== length) {
      this.raw(encode(value));
      return;
    }
    let header: number;
    if (bytes < 32) {
      this.#buffer[this.#length] = 0xa0 | bytes;
      header = 1;
    } else if (bytes <= 0xff) {
      this.#buffer[this.#length] = 0xd9;
      this.#buffer[this.#length + 1] = bytes;
      header = 2;
    } else if (bytes <= 0xffff) {
      this.#buffer[this.#length] = 0xda;
      this.#buffer.writeUInt16BE(bytes, this.#length + 1);
      header = 3;
    } else {
      this.#buffer[this.#length] = 0xdb;
      this.#buffer.writeUInt32BE(bytes, this.#length + 1);
      header = 5;
    }
    // The text was written after room for the longest header: move it up to its own.
    if (header < 5) this.#buffer.copy(this.#buffer, this.#length + header, this.#length + 5, this.#length + 5 + bytes);
    this.#length += header + bytes;
  }

  /** A non-negative safe integer (an index, a revision, a count). */
  uint(value: number): void {
    if (!(Number.isSafeInteger(value) && value >= 0)) assert(false, `not a non-negative safe integer: ${value}`);
    this.#reserve(9);
    const at = this.#length;
    if (value < 0x80) {
      this.#buffer[at] = value;
      this.#length += 1;
    } else if (value <= 0xff) {
      this.#buffer[at] = 0xcc;
      this.#buffer[at + 1] = value;
      this.#length += 2;
    } else if (value <= 0xffff) {
      this.#buffer[at] = 0xcd;
      this.#buffer.writeUInt16BE(value, at + 1);
      this.#length += 3;
    } else if (value < UINT32_LIMIT) {
      this.#buffer[at] = 0xce;
      this.#buffer.writeUInt32BE(value, at + 1);
      this.#length += 5;
    } else {
      this.#buffer[at] = 0xcb;
      this.#buffer.writeDoubleBE(value, at + 1);
      this.#length += 9;
    }
  }

  /** Any value, as `encode` writes it. */
  value(value: unknown): void {
    this.raw(encode(value));
  }

  /** Bytes that are one whole MessagePack value. */
  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** A number as `encode` writes it: here for non-negative safe integers, by `encode` otherwise. */
  number(value: number): void {
    if (Number.isSafeInteger(value) && value >= 0) this.uint(value);
    else this.value(value);
  }

  /** Everything `other` wrote, as it is. */
  append(other: MsgpackWriter): void {
    this.raw(other.#buffer.subarray(0, other.#length));
  }

  /** What was written, as a buffer of its own. */
  bytes(): Uint8Array {
    return Buffer.from(this.#buffer.subarray(0, this.#length));
  }

  /** A string of fewer than SHORT_STRING_MAX code units: ASCII copied here (no call into Buffer), else `encode`. */
  #shortString(value: string): void {
    const length = value.length;
    this.#reserve(length + 2);
    const buffer = this.#buffer;
    const header = length < 32 ? 1 : 2;
    let at = this.#length + header;
    for (let index = 0; index < length; index++) {
      const code = value.charCodeAt(index);
      if (code > 0x7f) {
        this.raw(encode(value));
        return;
      }
      buffer[at++] = code;
    }
    if (header === 1) buffer[this.#length] = 0xa0 | length;
    else {
      buffer[this.#length] = 0xd9;
      buffer[this.#length + 1] = length;
    }
    this.#length = at;
  }

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.#length + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }
}
