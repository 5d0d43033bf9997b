// The snapshot writer (registry/msgpack-writer.ts) and the group snapshot written with it: the
// bytes are exactly those the wire codec's `encode` gives for the same values, so the snapshot
// format does not change (stores and peers of any release read it as before) — checked byte for
// byte for every header size and integer width, for any text, and for random registries.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MsgpackWriter } from '../../registry/msgpack-writer.js';
import { GroupState, type GroupCommand } from '../../registry/group-state.js';
import { decode, encode } from '../../runtime/codec.js';
import { Pid } from '../../runtime/pid.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const written = (write: (writer: MsgpackWriter) => void): Buffer => {
  // A small first buffer, so growing is exercised too.
  const writer = new MsgpackWriter(16);
  write(writer);
  return Buffer.from(writer.bytes());
};

describe('msgpack writer — the bytes encode writes', () => {
  it('strings of every header size, integers of every width, array and map headers, spliced values', () => {
    // Proves each kind the writer writes itself matches msgpackr at every boundary.
    for (const length of [0, 1, 31, 32, 255, 256, 65_535, 65_536, 70_000]) {
      const text = 'n'.repeat(length);
      expect(written((writer) => writer.string(text)).equals(Buffer.from(encode(text))), `string of ${length}`).toBe(true);
    }
    for (const value of [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, 0.5, -(2 ** 40)]) {
      expect(written((writer) => writer.number(value)).equals(Buffer.from(encode(value))), `number ${value}`).toBe(true);
    }
    for (const count of [0, 15, 16, 65_535, 65_536]) {
      const values = Array.from({ length: count }, (_, index) => index % 200);
      const bytes = written((writer) => {
        writer.arrayHeader(count);
        for (const value of values) writer.uint(value);
      });
      expect(bytes.equals(Buffer.from(encode(values))), `array of ${count}`).toBe(true);
    }
    const object = { a: 1, text: 'x', nested: [1, { b: null }], pid: new Pid('a@127.0.0.1', 1, 2) };
    const map = written((writer) => {
      writer.mapHeader(4);
      for (const [key, value] of Object.entries(object)) {
        writer.string(key);
        writer.value(value);
      }
    });
    expect(map.equals(Buffer.from(encode(object)))).toBe(true);
    expect(decode(map)).toEqual(object);
  });

  it('any text, also non-ASCII and lone surrogates, as encode writes it', () => {
    // Proves names that are not ASCII (left to encode) keep msgpackr's bytes, so every replica decodes the same string.
    const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: codeUnit }), fc.string({ minLength: 30, maxLength: 300 })), (text) => {
        const bytes = written((writer) => writer.string(text));
        expect(bytes.equals(Buffer.from(encode(text)))).toBe(true);
        // (A lone surrogate does not survive msgpackr either way; the bytes being its own is the point.)
        if (!LONE_SURROGATE.test(text)) expect(decode(bytes)).toBe(text);
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});

describe('group snapshot — written byte for byte as before', () => {
  const pids = [new Pid('a@127.0.0.1', 1, 1), new Pid('a@127.0.0.1', 2, 1), new Pid('b@127.0.0.1', 7, 3), new Pid('a@127.0.0.1', 1, 2)];
  const name = fc.oneof(fc.constantFrom('n0', 'n1', 'n2', 'é-name', 'x'.repeat(40), 'y'.repeat(300)), fc.string({ minLength: 1, maxLength: 8 }));
  const meta = fc.oneof(fc.constant(undefined), fc.constant({}), fc.record({ zone: fc.constantFrom('eu', 'us'), weight: fc.nat(1_000) }));
  const command: fc.Arbitrary<GroupCommand> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('register' as const), name, pid: fc.constantFrom(...pids), meta }, { requiredKeys: ['op', 'name', 'pid'] }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('unregister' as const), name, pid: fc.constantFrom(...pids) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('release_pid' as const), pid: fc.constantFrom(...pids) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('claim' as const), key: fc.constantFrom('k1', 'k2'), node: fc.constantFrom('a@127.0.0.1', 'b@127.0.0.1') }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('member' as const), node: fc.constantFrom('a@127.0.0.1', 'b@127.0.0.1'), address: fc.constantFrom('127.0.0.1:1', '127.0.0.1:2'), weight: fc.constantFrom(1, 2, 5), storeId: fc.constantFrom('0a1b2c3d4e5f6071', 'ffeeddccbbaa9988') }, { requiredKeys: ['op', 'node', 'address', 'weight'] }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('demoting' as const), node: fc.constantFrom('a@127.0.0.1', 'b@127.0.0.1'), on: fc.boolean() }) },
  );

  it('equals encode of the snapshot object for random registries, restores to the same state, at any revision size', () => {
    // Proves GroupState.snapshot (names written by the MsgpackWriter) is exactly the encoding the
    // data format had — names, holders, metadata, revisions up to 2^53, claims, members, weights,
    // demotions, store ids — and that restoring it gives a registry that snapshots to the same bytes.
    fc.assert(
      fc.property(fc.array(command, { maxLength: 120 }), fc.constantFrom(0, 200, 70_000, 2 ** 32 - 60, 2 ** 40), (commands, offset) => {
        const state = new GroupState();
        commands.forEach((entry, index) => state.apply(offset + index + 1, entry));
        const bytes = Buffer.from(state.snapshot());
        const { weights, stores } = decode(bytes) as { weights: unknown; stores: unknown };
        const before = encode({ version: 1, registry: state.names.snapshot(), members: state.addresses(), weights, demoting: state.demoting(), stores, extensions: [] });
        expect(bytes.equals(Buffer.from(before))).toBe(true);
        const restored = new GroupState();
        restored.restore(bytes);
        expect(Buffer.from(restored.snapshot()).equals(bytes)).toBe(true);
        expect(restored.names.registered()).toEqual(state.names.registered());
      }),
      { numRuns: 300, seed: 23 },
    );
  });
});
