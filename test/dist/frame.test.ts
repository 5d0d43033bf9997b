/**
 * Proves the framing layer: frames survive any chunking (partial and coalesced chunks, checked
 * as a fast-check property over random splits), and oversized, empty and truncated input is a
 * typed error that poisons the decoder.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame } from '../../runtime/dist/frame.js';
import { isFedError } from '../../runtime/kernel/errors.js';

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

describe('frame decoder', () => {
  it('framing — any split of a frame stream yields the same frames in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map((payload) => encodeFrame(payload, 1024)));
          const decoder = new FrameDecoder(1024);
          const frames: Buffer[] = [];
          for (const chunk of split(stream, cuts)) frames.push(...decoder.push(chunk));
          expect(frames.map((frame) => [...frame])).toEqual(payloads.map((payload) => [...payload]));
          expect(decoder.bufferedBytes).toBe(0);
          decoder.finish();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('framing — a declared length over the maximum is frame_too_large before the body arrives', () => {
    const decoder = new FrameDecoder(100);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(101, 0);
    expect(() => decoder.push(header)).toThrow(expect.objectContaining({ code: 'frame_too_large' }));
    expect(() => decoder.push(Buffer.from([1]))).toThrow(expect.objectContaining({ code: 'bad_frame' }));
  });

  it('framing — encoding refuses an oversized or empty payload', () => {
    expect(() => encodeFrame(Buffer.alloc(11), 10)).toThrow(expect.objectContaining({ code: 'frame_too_large' }));
    expect(() => encodeFrame(Buffer.alloc(0), 10)).toThrow(expect.objectContaining({ code: 'bad_frame' }));
  });

  it('framing — a zero-length frame is bad_frame', () => {
    const decoder = new FrameDecoder(100);
    let caught: unknown;
    try {
      decoder.push(Buffer.alloc(4));
    } catch (error) {
      caught = error;
    }
    expect(isFedError(caught, 'bad_frame')).toBe(true);
  });

  it('framing — a stream that ends inside a frame is reported as truncated', () => {
    const decoder = new FrameDecoder(100);
    const frame = encodeFrame(Buffer.from('hello'), 100);
    expect(decoder.push(frame.subarray(0, 6))).toEqual([]);
    expect(() => decoder.finish()).toThrow(expect.objectContaining({ code: 'bad_frame' }));
  });

  it('framing — a header split across chunks is read correctly', () => {
    const decoder = new FrameDecoder(100_000);
    const frame = encodeFrame(Buffer.alloc(70_000, 7), 100_000);
    const out: Buffer[] = [];
    for (let index = 0; index < frame.length; index += 3) out.push(...decoder.push(frame.subarray(index, index + 3)));
    expect(out).toHaveLength(1);
    expect(out[0]?.length).toBe(70_000);
    expect(out[0]?.every((byte) => byte === 7)).toBe(true);
  });
});
