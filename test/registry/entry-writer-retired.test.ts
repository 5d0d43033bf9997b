// msgpackr's record packer keeps a trie of key sequences across calls, each node holding its
// keys as `__keys__`; a key named `__keys__` lands on that property and, from then on, msgpackr
// writes other shapes with broken keys (bytes that do not decode) — its output depends on its
// past. This file proves that msgpackr behaviour (so the test fails if msgpackr changes), and that
// `encodeEntries` then hands every run to msgpackr for good, so its bytes stay msgpackr's.
// (A file of its own: the shared packer cannot be reset.)
import { describe, expect, it } from 'vitest';
import { EntryWriter, encodeEntries, entryWriterRetired, mayUpsetRecords } from '../../registry/entry-writer.js';
import { decode, encodeRecords } from '../../runtime/codec.js';
import { Pid } from '../../runtime/pid.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const entry = (cmd: unknown) => ({ term: 1, index: 7, type: 'normal', data: { id: 'a/1', cmd } });

describe('entry writer — after msgpackr has seen a `__keys__` key', () => {
  it('knows which values may upset msgpackr’s records', () => {
    expect(mayUpsetRecords([entry({ op: 'register', name: 'n', pid: new Pid('a@127.0.0.1', 1, 1), meta: { zone: 'eu' } })])).toBe(false);
    expect(mayUpsetRecords([1, 'x', null, undefined, 10n, new Date(0), Buffer.from([1]), new Map([['k', [{ a: 1 }]]])])).toBe(false);
    expect(mayUpsetRecords([entry({ op: 'register', meta: { deep: [{ __keys__: 1 }] } })])).toBe(true);
    expect(mayUpsetRecords([new Map([['k', { __keys__: 1 }]])])).toBe(true);
    expect(mayUpsetRecords([{ hasOwnProperty: () => true }])).toBe(true);
    expect(mayUpsetRecords([Object.assign(Object.create({ inherited: 1 }) as object, { hasOwnProperty: 1 })])).toBe(true);
    expect(mayUpsetRecords([{ hasOwnProperty: 1 }, Object.assign(Object.create(null) as object, { a: 1 })])).toBe(false);
    expect(mayUpsetRecords([new (class {
      hasOwnProperty(): boolean {
        return false;
      }
    })()])).toBe(true);
    expect(mayUpsetRecords([Object.create({ inherited: 1 }), new (class {
      readonly a = 1;
    })()])).toBe(false);
    expect(mayUpsetRecords([{ toJSON: 1 }, new (class {
      toJSON(): unknown {
        return {};
      }
    })()])).toBe(true);
  });

  it('encodeEntries writes msgpackr’s bytes before and after, and stops using the writer', () => {
    const ordinary = [entry({ op: 'register', name: 'n', pid: new Pid('a@127.0.0.1', 1, 1) })];
    expect(hex(encodeEntries(ordinary))).toBe(hex(encodeRecords(ordinary)));
    expect(entryWriterRetired()).toBe(false);

    // The writer leaves a `__keys__` key to msgpackr, and retires: msgpackr's trie now holds it.
    const upsetting = [entry({ op: 'register', name: 'n', pid: new Pid('a@127.0.0.1', 1, 1), meta: { zone: 'eu', __keys__: 1 } })];
    expect(new EntryWriter().write(upsetting)).toBeUndefined();
    expect(hex(encodeEntries(upsetting))).toBe(hex(encodeRecords(upsetting)));
    expect(entryWriterRetired()).toBe(true);

    // msgpackr's bytes for a shape that is a prefix of the upsetting one now depend on that past:
    // they differ from what a fresh writer gives, and do not decode. encodeEntries gives msgpackr's.
    const prefix = [entry({ op: 'register', name: 'n', pid: new Pid('a@127.0.0.1', 1, 1), meta: { zone: 'us' } })];
    const fresh = new EntryWriter().write(prefix) as Buffer;
    expect(decode(fresh)).toEqual(prefix);
    const now = encodeRecords(prefix);
    expect(hex(now)).not.toBe(hex(fresh));
    expect(() => decode(now)).toThrow();
    expect(hex(encodeEntries(prefix))).toBe(hex(encodeRecords(prefix)));
    expect(hex(encodeEntries(ordinary))).toBe(hex(encodeRecords(ordinary)));
  });
});
