/**
 * Proves the codec's pre-encoded values and record encoding: an `Encoded` inside a message
 * travels as its bytes exactly (decoding the message gives those bytes back, copied out of the
 * frame, and decoding them gives the value); `encodeRecords` decodes with the same `decode` to
 * exactly what `encode` decodes to, for any JSON value and for objects with pids (fast-check),
 * is self-describing (each call decodes alone, in any order), and is smaller for many objects
 * of one shape; a truncated `Encoded` is `bad_frame`, as any undecodable frame.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Encoded, decode, encode, encodeRecords } from '../../runtime/codec.js';
import { decodeRecord } from '../../runtime/dist/wire.js';
import { isFedError } from '../../runtime/kernel/errors.js';
import { Pid } from '../../runtime/pid.js';

const pid = new Pid('a@127.0.0.1', 7, 3);
const entry = (index: number) => ({ term: 2, index, type: 'normal', data: { id: `a@127.0.0.1/3/${index}`, cmd: { op: 'register', name: `n/${index}`, pid, meta: {} } } });

describe('codec — Encoded values', () => {
  it('an Encoded travels as its bytes: decoding gives the same bytes (a copy) and they decode to the value', () => {
    const inner = encode([entry(1), entry(2)]);
    const frame = encode({ type: 'append', entries: new Encoded(inner), commit: 4 });
    const message = decode(frame) as { type: string; entries: Encoded; commit: number };
    expect(message.type).toBe('append');
    expect(message.commit).toBe(4);
    expect(message.entries).toBeInstanceOf(Encoded);
    expect(Buffer.from(message.entries.bytes).equals(inner)).toBe(true);
    // A copy: the frame may be reused for the next record.
    frame.fill(0);
    expect(decode(message.entries.bytes)).toEqual([entry(1), entry(2)]);
    expect((decode(message.entries.bytes) as Array<ReturnType<typeof entry>>)[0]!.data.cmd.pid.equals(pid)).toBe(true);
  });

  it('a record whose Encoded is cut short is bad_frame', () => {
    const frame = encode([4, 'raft:g', { entries: new Encoded(encode([entry(1)])) }]);
    let caught: unknown;
    try {
      decodeRecord(frame.subarray(0, frame.length - 5));
    } catch (error) {
      caught = error;
    }
    expect(isFedError(caught, 'bad_frame')).toBe(true);
  });
});

describe('codec — encodeRecords', () => {
  it('decodes to exactly what encode decodes to, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const plain = JSON.parse(JSON.stringify(value)) as unknown;
        expect(decode(encodeRecords(plain))).toEqual(decode(encode(plain)));
      }),
      { numRuns: 300, seed: 5 },
    );
  });

  it('objects of one shape with pids: same values, pids stay pids, a third fewer bytes or better', () => {
    const entries = Array.from({ length: 64 }, (_, at) => entry(at + 1));
    const records = encodeRecords(entries);
    const back = decode(records) as typeof entries;
    expect(back).toEqual(decode(encode(entries)));
    expect(back.every((item) => item.data.cmd.pid instanceof Pid && item.data.cmd.pid.equals(pid))).toBe(true);
    expect(records.length).toBeLessThan((encode(entries).length * 2) / 3);
  });

  it('each call is self-describing: decoded alone and in any order', () => {
    const first = Buffer.from(encodeRecords([entry(1), entry(2)]));
    const second = Buffer.from(encodeRecords([{ other: 'shape', n: 1 }, entry(3)]));
    expect(decode(second)).toEqual([{ other: 'shape', n: 1 }, entry(3)]);
    expect(decode(first)).toEqual([entry(1), entry(2)]);
  });
});
