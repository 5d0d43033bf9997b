/**
 * Wire framing: every unit on a distribution stream is a frame, a 4-byte big-endian length
 * followed by that many bytes. `FrameDecoder` is incremental: it accepts chunks of any size
 * (partial frames, many frames coalesced in one chunk) and yields whole frames in order.
 *
 * Contract: a declared length above `frameBytesMax` is a `frame_too_large` FedError; a zero
 * length is a `bad_frame`; after an error the decoder is poisoned and the caller closes the
 * connection. A stream that ends inside a frame is reported by `finish()` as `bad_frame`
 * (truncated). Frames are never larger than `frameBytesMax`, so memory per decoder is bounded.
 */
import { fedError } from '../kernel/errors.js';
import { LIMITS } from '../kernel/limits.js';

export const FRAME_HEADER_BYTES = 4;

/** A frame header for a payload of `payloadBytes`. */
export function frameHeader(payloadBytes: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(payloadBytes, 0);
  return header;
}

/** One whole frame (header and payload) in a single buffer. */
export function encodeFrame(payload: Uint8Array, frameBytesMax: number = LIMITS.frameBytesMax): Buffer {
  if (payload.length > frameBytesMax) {
    throw fedError('frame_too_large', `frame of ${payload.length} bytes exceeds ${frameBytesMax}`, {
      bytes: payload.length,
      frameBytesMax,
    });
  }
  if (payload.length === 0) throw fedError('bad_frame', 'empty frame');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export class FrameDecoder {
  /** May be raised once a handshake is done (handshake frames are held to a smaller bound). */
  frameBytesMax: number;
  /** Chunks received but not yet consumed, oldest first. */
  #chunks: Buffer[] = [];
  #bufferedBytes = 0;
  #failed = false;

  constructor(frameBytesMax: number = LIMITS.frameBytesMax) {
    this.frameBytesMax = frameBytesMax;
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** Feed a chunk; returns the frames it completed (possibly none). Throws a FedError on bad input. */
  push(chunk: Uint8Array): Buffer[] {
    this.append(chunk);
    const frames: Buffer[] = [];
    for (;;) {
      const frame = this.next();
      if (frame === undefined) return frames;
      frames.push(frame);
    }
  }

  /** Feed a chunk without decoding; pull frames with `next()`. */
  append(chunk: Uint8Array): void {
    if (this.#failed) throw fedError('bad_frame', 'decoder already failed');
    if (chunk.length === 0) return;
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    this.#chunks.push(buffer);
    this.#bufferedBytes += buffer.length;
  }

  /** The stream ended: bytes left over mean a truncated frame. */
  finish(): void {
    if (this.#bufferedBytes > 0 && !this.#failed) {
      this.#failed = true;
      throw fedError('bad_frame', `stream ended inside a frame (${this.#bufferedBytes} bytes pending)`);
    }
  }

  /** The next whole frame, or undefined if more bytes are needed. Throws a FedError on bad input. */
  next(): Buffer | undefined {
    if (this.#failed) throw fedError('bad_frame', 'decoder already failed');
    if (this.#bufferedBytes < FRAME_HEADER_BYTES) return undefined;
    const length = this.#peekLength();
    if (length > this.frameBytesMax) {
      this.#failed = true;
      throw fedError('frame_too_large', `frame of ${length} bytes exceeds ${this.frameBytesMax}`, {
        bytes: length,
        frameBytesMax: this.frameBytesMax,
      });
    }
    if (length === 0) {
      this.#failed = true;
      throw fedError('bad_frame', 'empty frame');
    }
    if (this.#bufferedBytes < FRAME_HEADER_BYTES + length) return undefined;
    this.#consume(FRAME_HEADER_BYTES);
    return this.#consume(length);
  }

  #peekLength(): number {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0);
    const header = this.#copyPrefix(FRAME_HEADER_BYTES);
    return header.readUInt32BE(0);
  }

  #copyPrefix(bytes: number): Buffer {
    const out = Buffer.allocUnsafe(bytes);
    let offset = 0;
    for (const chunk of this.#chunks) {
      const take = Math.min(chunk.length, bytes - offset);
      chunk.copy(out, offset, 0, take);
      offset += take;
      if (offset === bytes) break;
    }
    return out;
  }

  /** Remove and return the first `bytes` bytes (zero-copy when they lie in one chunk). */
  #consume(bytes: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= bytes) {
      out = first.subarray(0, bytes);
      if (first.length === bytes) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(bytes);
    } else {
      out = this.#copyPrefix(bytes);
      let left = bytes;
      while (left > 0) {
        const chunk = this.#chunks[0] as Buffer;
        if (chunk.length <= left) {
          left -= chunk.length;
          this.#chunks.shift();
        } else {
          this.#chunks[0] = chunk.subarray(left);
          left = 0;
        }
      }
    }
    this.#bufferedBytes -= bytes;
    return out;
  }
}
