// The entry writer (registry/entry-writer.ts): a run of log entries comes out exactly as
// `encodeRecords` (msgpackr, records on) encodes it — byte for byte — whether the writer wrote it
// or left it to msgpackr. Proved for random batches of the real entry shapes (every group command,
// conf changes, noops, random names, pids, refs and metadata), with unrelated `encodeRecords`
// calls in between (msgpackr keeps state across calls: none of it may show), for every integer
// width and string header at its boundaries, for the shape limit, and for each kind of value the
// writer leaves to msgpackr. Decoding the bytes gives the entries back, pids and refs included.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EntryWriter, TRIE_NODES_MAX, encodeEntries } from '../../registry/entry-writer.js';
import type { Entry } from '../../registry/raft/index.js';
import { decode, encode, encodeRecords } from '../../runtime/codec.js';
import { Pid, Ref } from '../../runtime/pid.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Keys msgpackr treats specially (the writer leaves them to it; `__keys__` is tested on its own). */
const SPECIAL_KEYS = new Set(['__proto__', '__keys__', 'hasOwnProperty']);

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** What decoding gives back for `value`: msgpackr writes -0 as the integer 0. */
function decoded(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(decoded);
  if (value instanceof Pid) return new Pid(value.node, decoded(value.id) as number, decoded(value.creation) as number);
  if (value instanceof Ref) return new Ref(value.node, decoded(value.id) as number, decoded(value.creation) as number);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, decoded(inner)]));
  }
  return value;
}

function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.some(hasLoneSurrogate);
  if (value instanceof Pid || value instanceof Ref) return LONE_SURROGATE.test(value.node);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([key, inner]) => LONE_SURROGATE.test(key) || hasLoneSurrogate(inner));
  return false;
}

/** Both encoders agree, and decoding gives `value` back (unless it holds text or kinds msgpackr does not keep). */
function expectSameBytes(value: unknown[], writer?: EntryWriter, decodes = true): Buffer {
  const expected = Buffer.from(encodeRecords(value));
  const bytes = encodeEntries(value);
  expect(hex(bytes)).toBe(hex(expected));
  if (writer !== undefined) {
    const written = writer.write(value);
    if (written !== undefined) expect(hex(written)).toBe(hex(expected));
  }
  if (decodes && !hasLoneSurrogate(value)) expect(decode(bytes)).toStrictEqual(decoded(value));
  return bytes;
}

// --- arbitraries: the entries a group's log holds ---

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const text = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: codeUnit, maxLength: 70 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 56, maxLength: 300 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 20, maxLength: 120 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'é', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(63), 'x'.repeat(64), 'é'.repeat(16), 'é'.repeat(31), '€'.repeat(63), 'n'.repeat(256)) },
);
const nodeName = fc.oneof(fc.constantFrom('a@127.0.0.1', 'bench-b@10.0.0.2', 'node_3@host-name.example:4000', `${'n'.repeat(60)}@127.0.0.1`), text);
const integer = fc.oneof(
  fc.nat({ max: 300 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(0x3f, 0x40, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1),
);
const number = fc.oneof({ weight: 3, arbitrary: integer }, { weight: 1, arbitrary: fc.double() }, { weight: 1, arbitrary: fc.constantFrom(-0, NaN, Infinity, -Infinity, 0.5, -1.25, 1e300, 5e-324) });
const pid = fc.tuple(nodeName, integer, integer).map(([node, id, creation]) => new Pid(node, id, creation));
const ref = fc.tuple(nodeName, integer, integer).map(([node, id, creation]) => new Ref(node, id, creation));
const key = fc
  .oneof(fc.constantFrom('zone', 'weight', 'tags', 'a', 'b', '0', '1', '10', 'ключ', ''), fc.string({ maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 4 }))
  .filter((candidate) => !SPECIAL_KEYS.has(candidate));
const { value: metaValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    number,
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    pid,
    ref,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
}));
const meta = fc.dictionary(key, metaValue, { maxKeys: 4, noNullPrototype: true });
const EXOTIC = 'exotic';
const exotic = fc.oneof(fc.bigInt(), fc.date({ noInvalidDate: true }), fc.constant(new Map([['k', 1]])), fc.constant(new Set([1])), fc.uint8Array({ maxLength: 4 }).map((bytes) => Buffer.from(bytes)));
/** Whether `entries` hold values the writer leaves to msgpackr (which may not decode to themselves). */
const hasExotic = (entries: readonly Entry[]): boolean => entries.some((entry) => (entry.data as { cmd?: { ext?: string } } | null)?.cmd?.ext === EXOTIC);
const name = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('n0', 'n1', 'svc/a', 'é-name') }, { weight: 4, arbitrary: text });
const plain = { noNullPrototype: true } as const;
const command = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('register'), name, pid }, plain) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('register'), name, pid, meta }, plain) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('unregister'), name, pid }, plain) },
  fc.record({ op: fc.constant('release_pid'), pid }, plain),
  fc.record({ op: fc.constant('node_down'), node: nodeName, creationBelow: integer }, { ...plain, requiredKeys: ['op', 'node'] }),
  fc.record({ op: fc.constant('claim'), key: text, node: nodeName, previousRevision: integer }, { ...plain, requiredKeys: ['op', 'key', 'node'] }),
  fc.record({ op: fc.constant('release_claim'), key: text, revision: integer }, plain),
  fc.record({ op: fc.constant('noop') }, plain),
  fc.record({ op: fc.constant('member'), node: nodeName, address: fc.constantFrom('127.0.0.1:4000', '[::1]:1'), weight: fc.integer({ min: 1, max: 64 }) }, { ...plain, requiredKeys: ['op', 'node', 'address'] }),
  fc.record({ op: fc.constant('forget_member'), node: nodeName }, plain),
  fc.record({ op: fc.constant('demoting'), node: nodeName, on: fc.boolean() }, plain),
  fc.record({ op: fc.constant('ext'), ext: fc.constantFrom('directory', 'global'), cmd: metaValue }, plain),
);
const confChange = fc.oneof(
  fc.record({ type: fc.constantFrom('add_learner', 'add_voter', 'promote', 'remove'), node: nodeName }, plain),
  fc.record({ type: fc.constant('bootstrap'), voters: fc.array(nodeName, { maxLength: 5 }), learners: fc.array(nodeName, { maxLength: 3 }) }, plain),
);
type EntryBody = Pick<Entry, 'type' | 'data'>;
const body: fc.Arbitrary<EntryBody> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ id: fc.option(text, { nil: null }), cmd: command }, plain).map((data) => ({ type: 'normal' as const, data })) },
  { weight: 1, arbitrary: confChange.map((data) => ({ type: 'conf_change' as const, data })) },
  { weight: 1, arbitrary: fc.constant({ type: 'noop' as const, data: null }) },
);
const batch: fc.Arbitrary<Entry[]> = fc
  .tuple(
    fc.oneof(fc.nat({ max: 100 }), fc.maxSafeInteger()),
    fc.oneof(fc.nat({ max: 1_000 }), fc.constantFrom(0x3e, 0xfff0, 2 ** 32 - 5, 2 ** 40)),
    fc.array(body, { minLength: 1, maxLength: 200 }),
    // One batch in ten or so holds a value the writer leaves to msgpackr (the whole run goes to it).
    fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.tuple(fc.nat(), exotic) }),
  )
  .map(([term, first, bodies, odd]) => {
    const entries: Entry[] = bodies.map(({ type, data }, offset) => ({ term, index: first + offset + 1, type, data }));
    if (odd !== null) {
      const at = odd[0] % entries.length;
      entries[at] = { ...(entries[at] as Entry), type: 'normal', data: { id: null, cmd: { op: 'ext', ext: EXOTIC, cmd: odd[1] } } };
    }
    return entries;
  });

/** Values of other shapes, for `encodeRecords` calls between the batches: prefixes and extensions of entry shapes among them. */
const otherValue = fc.oneof(
  metaValue,
  fc.record({ term: integer }, plain),
  fc.record({ term: integer, index: integer }, plain),
  fc.record({ term: integer, index: integer, type: text, data: metaValue, extra: metaValue }, plain),
  fc.record({ op: text }, plain),
  fc.record({ op: text, name: text, pid, meta, more: metaValue }, plain),
  fc.record({ id: metaValue }, plain),
  fc.array(fc.record({ index: integer, term: integer }, plain), { maxLength: 80 }),
  fc.constant({}),
);

describe('entry writer — the bytes encodeRecords writes', () => {
  it('random batches of the real entry shapes, with unrelated encodeRecords calls between them', () => {
    // Proves the writer is byte-identical to msgpackr for what a group's log holds, that its own
    // state and msgpackr's across calls never change a byte, and that the writer writes every
    // batch itself but those holding a value it leaves to msgpackr (then the whole run is msgpackr's).
    const writer = new EntryWriter();
    let handedOver = 0;
    fc.assert(
      fc.property(batch, fc.array(otherValue, { maxLength: 3 }), (entries, others) => {
        for (const other of others) encodeRecords(other);
        const before = expectSameBytes(entries, writer, !hasExotic(entries));
        expect(writer.write(entries) === undefined).toBe(hasExotic(entries));
        if (hasExotic(entries)) handedOver++;
        const copy = Buffer.from(before);
        for (const other of others) {
          encodeRecords([other, entries[0]]);
          encode(other);
        }
        // Still the same bytes: both encoders again, and the first run's bytes untouched by the calls since.
        expectSameBytes(entries, undefined, !hasExotic(entries));
        expect(before.equals(copy)).toBe(true);
      }),
      { numRuns: 2_000, seed: 4_242 },
    );
    expect(handedOver).toBeGreaterThan(100);
  });

  it('batches re-encoded after a decode (a new leader sends what it received) stay the same bytes', () => {
    // Proves the objects msgpackr decodes records into are written by the writer too, identically.
    const writer = new EntryWriter();
    fc.assert(
      fc.property(batch, (entries) => {
        if (hasLoneSurrogate(entries) || hasExotic(entries)) return;
        const received = decode(encodeRecords(entries)) as unknown[];
        const bytes = writer.write(received);
        expect(bytes).toBeDefined();
        expect(hex(bytes as Buffer)).toBe(hex(encodeRecords(received)));
      }),
      { numRuns: 500, seed: 77 },
    );
  });

  it('numbers of every width, and what msgpackr writes as float64', () => {
    // Proves the record-mode integer widths (0x40–0x7f as cc: they are record ids) and that -0,
    // NaN, infinities, floats and integers outside 32 bits are float64, as msgpackr writes them.
    const values = [0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 64, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53), -0, NaN, Infinity, -Infinity, 0.5, -1.25, 1e-300, Number.MIN_VALUE, Number.MAX_VALUE];
    for (const value of values) {
      expectSameBytes([value]);
      expectSameBytes([{ term: value, index: value, type: 'normal', data: { id: null, cmd: { op: 'release_pid', pid: new Pid('a@127.0.0.1', value, value) } } }]);
    }
    expect(hex(encodeEntries([0x3f, 0x40, -0]))).toBe('933fcc4000');
  });

  it('strings at every header boundary, ASCII or not, and lone surrogates both sides of 64 units', () => {
    // Proves the headers follow the UTF-8 length (a short string that grows past 31 bytes moves
    // to str8), and that short strings are encoded as msgpackr's own loop and long ones as Node's.
    const lengths = [0, 1, 15, 31, 32, 33, 63, 64, 65, 255, 256, 65_535, 65_536, 70_000];
    for (const length of lengths) {
      for (const unit of ['n', 'é', '€', '😀', '\uD800', '\uDC00']) {
        const value = unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
        expectSameBytes([value, { [value]: value }]);
      }
    }
    expectSameBytes(['x'.repeat(30) + 'é', 'x'.repeat(62) + '😀', 'é' + 'x'.repeat(63), '\uD800x', 'x\uDBFF', '\uDC00\uD800']);
  });

  it('empty batch, one entry, arrays of every header size, nested values and undefined', () => {
    expectSameBytes([]);
    expectSameBytes([{ term: 1, index: 1, type: 'noop', data: null }]);
    for (const length of [0, 15, 16, 65_535, 65_536]) expectSameBytes([Array.from({ length }, (_, index) => index % 100)]);
    expectSameBytes([{ a: undefined, b: [undefined, null, true, false], c: { d: { e: { f: [{}, {}, { g: 1 }] } } } }]);
    expectSameBytes([{}, {}, [{}], { '': '' }, { 1: 'a', 0: 'b', x: 'c' }]);
    const deep = (depth: number): unknown => (depth === 0 ? 'leaf' : { next: deep(depth - 1), list: [depth] });
    for (const depth of [10, 30, 31, 32, 40]) expectSameBytes([deep(depth)]);
  });

  it('up to 64 shapes in a run are written; from the 65th, msgpackr reuses ids and the run is its', () => {
    // Proves the one-byte record ids 0x40–0x7f, and that the writer hands over before msgpackr's ids cycle.
    const writer = new EntryWriter();
    const shaped = (count: number, repeat: number): unknown[] => {
      const out: unknown[] = [];
      for (let round = 0; round < repeat; round++) for (let index = 0; index < count; index++) out.push({ [`k${index}`]: round, op: 'x' });
      return out;
    };
    for (const count of [1, 16, 17, 63, 64]) {
      expect(writer.write(shaped(count, 2)), `${count} shapes`).toBeDefined();
      expectSameBytes(shaped(count, 2), writer);
    }
    for (const count of [65, 66, 200]) {
      expect(writer.write(shaped(count, 2)), `${count} shapes`).toBeUndefined();
      expectSameBytes(shaped(count, 2));
    }
    // A 65th shape nested inside an entry, too.
    const entries = shaped(64, 1).map((data, index) => ({ term: 1, index, type: 'normal', data }));
    expect(writer.write(entries)).toBeUndefined();
    expectSameBytes(entries);
    expect(writer.write(entries.slice(0, 63))).toBeDefined();
    expectSameBytes(entries.slice(0, 63), writer);
  });

  it('what the writer leaves to msgpackr comes out as msgpackr writes it', () => {
    // Proves each kind of value the writer does not write is handed over whole (same bytes, the
    // writer never half-writes a run), and the writer is not put off the runs after it.
    const writer = new EntryWriter();
    class Point {
      constructor(readonly x: number) {}
    }
    class Special extends Pid {}
    const nullPrototype = Object.assign(Object.create(null) as object, { a: 1 });
    const inherited = Object.assign(Object.create({ hidden: 1 }) as object, { a: 1 });
    const handedOver: unknown[] = [
      10n,
      2n ** 70n,
      new Map([['a', 1]]),
      new Set([1]),
      new Date(0),
      Buffer.from([1, 2]),
      new Uint8Array([1]),
      new Point(1),
      new Special('a@127.0.0.1', 1, 1),
      nullPrototype,
      inherited,
      { constructor: 'x' },
      { hasOwnProperty: 1 },
      [1, 2, () => 1],
    ];
    for (const value of handedOver) {
      const entries = [{ term: 1, index: 1, type: 'normal', data: { id: 'x', cmd: { op: 'ext', ext: 'e', cmd: value } } }];
      expect(writer.write(entries)).toBeUndefined();
      expect(hex(encodeEntries(entries))).toBe(hex(encodeRecords(entries)));
      // A batch of inherited keys that look like an earlier shape: still msgpackr's own keys only.
      expectSameBytes([{ a: 1, hidden: 2 }, inherited], writer);
    }
    // A plain object's own `toJSON` is just a key to msgpackr; a symbol throws, as in msgpackr.
    expect(writer.write([{ toJSON: 5, a: 1 }])).toBeDefined();
    expectSameBytes([{ toJSON: 5, a: 1 }], writer);
    expect(() => encodeEntries([Symbol('s')])).toThrow();
    expectSameBytes([{ term: 1, index: 2, type: 'noop', data: null }], writer);
  });

  it('repeated values (a holder pid, an op, a node) are copied as first written; another pid in the same place is written anew', () => {
    // Proves the writer's memory of the last value in each place: bytes copied for the same
    // string or pid, and never for another pid that differs in one field. (A pid cannot change
    // under the writer: pids are frozen.)
    const writer = new EntryWriter();
    let holder = new Pid('a@127.0.0.1', 42, 1);
    const run = (from: number) => Array.from({ length: 20 }, (_, index) => ({ term: 1, index: from + index, type: 'normal', data: { id: `a@127.0.0.1/1/${from + index}`, cmd: { op: 'register', name: `in/${index}`, pid: holder } } }));
    expectSameBytes(run(1), writer);
    expectSameBytes(run(100), writer);
    expect(() => {
      (holder as { id: number }).id = 0x1234;
    }).toThrow(TypeError);
    holder = new Pid('a@127.0.0.1', 0x1234, 1);
    expectSameBytes(run(200), writer);
    holder = new Pid('b@127.0.0.1', 0x1234, 1);
    expectSameBytes(run(300), writer);
    holder = new Pid('b@127.0.0.1', 0x1234, 2);
    expectSameBytes(run(400), writer);
    // Strings of every length in one place, each twice in a row, and a ref after a pid of the same fields.
    const texts = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'é', 'x'.repeat(31), 'x'.repeat(40), 'x'.repeat(47), 'x'.repeat(60), 'y'.repeat(200)];
    expectSameBytes(texts.flatMap((text) => [{ op: text }, { op: text }, { op: text }]), writer);
    expectSameBytes([holder, holder, new Ref(holder.node, holder.id, holder.creation), holder, holder], writer);
  });

  it('an object that is not of the shape last seen in its place is rewound and written in its own', () => {
    // Proves the rewind: the guessed shape's keys match until a nested record has been given a
    // new id, then differ; the ids given since are taken back, so they follow msgpackr's order.
    const writer = new EntryWriter();
    const batchOf = (objects: unknown[]) => objects.map((data, index) => ({ term: 1, index, type: 'normal', data }));
    const cases = [
      [{ a: { x: 1 }, b: 1 }, { a: { y: 1 }, c: 1 }, { a: { y: 2 }, c: 2 }, { a: { x: 3 }, b: 3 }],
      [{ a: 1, b: 2 }, { a: 1 }, { a: 1, b: 2, c: 3 }, { a: { n: { m: 1 } }, b: { o: 1 } }, { a: { n: { m: 1 } } }],
      [{ op: 'register', name: 'n', pid: new Pid('a@127.0.0.1', 1, 1), meta: { zone: 'eu' } }, { op: 'register', name: 'n', pid: new Pid('a@127.0.0.1', 1, 1) }],
    ];
    for (const objects of cases) {
      expect(writer.write(batchOf(objects))).toBeDefined();
      expectSameBytes(batchOf(objects), writer);
    }
  });

  it('runs handed out are views that later runs never overwrite, also when a run outgrows the slab', () => {
    // Proves the slab handling: every run keeps its bytes while hundreds more are written, and
    // a run larger than a slab (and a long string in the middle of one) moves whole to a new one.
    const writer = new EntryWriter();
    const kept: Array<[Buffer, Buffer]> = [];
    for (let round = 0; round < 300; round++) {
      const size = round % 50 === 0 ? 2_000 : 1 + (round % 70);
      const entries = Array.from({ length: size }, (_, index) => ({ term: round, index, type: 'normal', data: { id: `r${round}/${index}`, cmd: { op: 'register', name: round % 7 === 0 ? 'y'.repeat(5_000 + index) : `n${index}`, pid: new Pid('a@127.0.0.1', index, round) } } }));
      const bytes = writer.write(entries) as Buffer;
      expect(hex(bytes)).toBe(hex(encodeRecords(entries)));
      kept.push([bytes, Buffer.from(bytes)]);
    }
    for (const [bytes, copy] of kept) expect(bytes.equals(copy)).toBe(true);
  });

  it('the shapes it remembers stay bounded by their keys, however many distinct keys the metadata brings', () => {
    const writer = new EntryWriter();
    for (let batch = 0; batch < 40; batch++) {
      const meta = Object.fromEntries(Array.from({ length: 1_000 }, (_, key) => [`k${batch}-${key}`, key]));
      expectSameBytes([{ term: 1, index: batch, type: 'normal', data: { id: null, cmd: { op: 'register', name: `n${batch}`, meta } } }], writer);
      expect(writer.trieNodes).toBeLessThanOrEqual(TRIE_NODES_MAX + 1_010);
    }
  });
});
