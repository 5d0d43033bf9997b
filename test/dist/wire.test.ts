/**
 * Proves the link message encoding: the prefix-caching `DataEncoder` produces exactly the bytes
 * of `encodeDataSignal` for any message, sender and target sequence (fast-check), and those
 * bytes parse back to the same signal; records of many messages decode in order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataEncoder, encodeDataSignal, parseDataSignal, parseRecord } from '../../runtime/dist/wire.js';
import { Pid } from '../../runtime/pid.js';
import type { Signal } from '../../runtime/signals.js';

const LOCAL = 'b@127.0.0.1';
const PEER = 'a@127.0.0.1';

const pidArbitrary = (node: string) => fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 2 })).map(([id, creation]) => new Pid(node, id, creation));
// (-0 is not a msgpack value: JSON round-tripping turns it into 0, as the codec does.)
const messageArbitrary = fc.oneof(fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown), fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)), pidArbitrary(PEER));
const signalArbitrary: fc.Arbitrary<Signal & { kind: 'send' | 'reg_send' }> = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), from: fc.option(pidArbitrary(PEER), { nil: undefined }), to: pidArbitrary(LOCAL), msg: messageArbitrary }),
  fc.record({
    kind: fc.constant('reg_send' as const),
    from: fc.option(pidArbitrary(PEER), { nil: undefined }),
    to: fc.constantFrom('echo', 'sink').map((name) => ({ name, node: LOCAL })),
    msg: messageArbitrary,
  }),
);

describe('wire', () => {
  it('wire — the caching encoder writes the same bytes as the plain encoder, and they parse back', () => {
    fc.assert(
      fc.property(fc.array(signalArbitrary, { minLength: 1, maxLength: 20 }), (signals) => {
        const encoder = new DataEncoder();
        for (const signal of signals) {
          const bytes = encoder.encode(signal);
          const frame = encoder.frame();
          expect(frame.length).toBe(bytes);
          const plain = encodeDataSignal(signal);
          expect(frame.equals(plain)).toBe(true);
          const parsed = parseRecord(plain, LOCAL, PEER);
          expect(parsed).toHaveLength(1);
          expect(parsed[0]).toEqual({ type: 'data', signal: { ...signal, from: signal.from } });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('wire — a record of many messages decodes in order', () => {
    const encoder = new DataEncoder();
    const to = new Pid(LOCAL, 1, 1);
    const buffers: Buffer[] = [];
    for (let index = 0; index < 1_000; index++) {
      encoder.encode({ kind: 'send', from: undefined, to, msg: ['ping', index] });
      buffers.push(encoder.frame());
    }
    const messages = parseRecord(Buffer.concat(buffers), LOCAL, PEER);
    expect(messages.map((message) => (message.type === 'data' && message.signal.kind === 'send' ? (message.signal.msg as [string, number])[1] : -1))).toEqual(
      Array.from({ length: 1_000 }, (_, index) => index),
    );
  });

  it('wire — data for another node or from a third node is refused', () => {
    expect(() => parseDataSignal([1, null, new Pid('c@127.0.0.1', 1, 1), 'x'], LOCAL, PEER)).toThrow(expect.objectContaining({ code: 'bad_frame' }));
    expect(() => parseDataSignal([1, new Pid('c@127.0.0.1', 1, 1), new Pid(LOCAL, 1, 1), 'x'], LOCAL, PEER)).toThrow(expect.objectContaining({ code: 'bad_frame' }));
    expect(parseDataSignal([0], LOCAL, PEER)).toBeUndefined();
  });
});
