// msgpackr's record packer keeps, across calls, a trie of the key sequences it has seen, each
// node holding its keys as a property `__keys__`; an object with a key `__keys__` lands on that
// property, and msgpackr then writes later objects of other shapes with broken keys (bytes that
// do not decode). Proves that msgpackr behaviour on a packer of the test's own (so this file says
// so if msgpackr changes), which values `mayUpsetRecords` keeps from the shared packer, that
// `encodeRecords` and the entry writer keep writing decodable bytes after such a value, and,
// on a real group with classic-level stores, that metadata the codec would not carry unchanged
// is refused before it is proposed (`copyMeta`), and what is registered is a copy.
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { EntryWriter, encodeEntries } from '../../registry/entry-writer.js';
import { decode, encodeRecords, mayUpsetRecords } from '../../runtime/codec.js';
import { Pid } from '../../runtime/pid.js';
import { GroupCluster, eventually, idleProcess } from './group-helpers.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const entry = (cmd: unknown) => ({ term: 1, index: 7, type: 'normal', data: { id: 'a/1', cmd } });
const holder = new Pid('a@127.0.0.1', 1, 1);

let cluster = new GroupCluster();
afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

describe('records upset — a `__keys__` key and msgpackr’s record packer', () => {
  it('msgpackr: after an object with a `__keys__` key, a packer writes a prefix shape that does not decode', () => {
    const prefix = [entry({ op: 'register', name: 'n', pid: holder, meta: { zone: 'us' } })];
    expect(decode(new Packr({ useRecords: true, moreTypes: true }).pack(prefix))).toEqual(prefix);
    const packr = new Packr({ useRecords: true, moreTypes: true });
    packr.pack([entry({ op: 'register', name: 'n', pid: holder, meta: { zone: 'eu', __keys__: 1 } })]);
    expect(() => decode(packr.pack(prefix))).toThrow();
  });

  it('mayUpsetRecords knows which values may upset the record packer', () => {
    expect(mayUpsetRecords([entry({ op: 'register', name: 'n', pid: holder, meta: { zone: 'eu' } })])).toBe(false);
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
    // A Map subclass is written by msgpackr as a record of its own properties, not as a map.
    expect(mayUpsetRecords([Object.assign(new (class extends Map {})(), { __keys__: 1 })])).toBe(true);
    expect(mayUpsetRecords([Object.assign(new (class extends Map {})(), { zone: 'eu' })])).toBe(false);
    expect(mayUpsetRecords([{ toJSON: 1 }, new (class {
      toJSON(): unknown {
        return {};
      }
    })()])).toBe(true);
  });

  it('encodeRecords and the entry writer write decodable bytes before and after such a value, the same as a fresh writer', () => {
    const ordinary = [entry({ op: 'register', name: 'n', pid: holder })];
    expect(hex(encodeEntries(ordinary))).toBe(hex(encodeRecords(ordinary)));
    const upsetting = [entry({ op: 'register', name: 'n', pid: holder, meta: { zone: 'eu', __keys__: 1 } })];
    expect(new EntryWriter().write(upsetting)).toBeUndefined();
    expect(decode(encodeRecords(upsetting))).toEqual(upsetting);
    expect(decode(encodeEntries(upsetting))).toEqual(upsetting);
    // The shared packer never saw it: a prefix shape still comes out as a fresh writer writes it.
    const prefix = [entry({ op: 'register', name: 'n', pid: holder, meta: { zone: 'us' } })];
    const fresh = new EntryWriter().write(prefix) as Buffer;
    expect(hex(encodeRecords(prefix))).toBe(hex(fresh));
    expect(decode(encodeRecords(prefix))).toEqual(prefix);
    expect(hex(encodeEntries(prefix))).toBe(hex(fresh));
  });

  it('a group refuses metadata the codec would not carry unchanged, registers the rest, and keeps a copy', async () => {
    const members = await cluster.three({}, { a: { raftPath: cluster.dir('a') }, b: { raftPath: cluster.dir('b') }, c: { raftPath: cluster.dir('c') } });
    const leader = await cluster.leader();
    const pid = idleProcess(leader.node);
    let deep: Record<string, unknown> = { leaf: true };
    for (let level = 0; level < 40; level++) deep = { deep };
    const refused: unknown[] = [
      { zone: 'eu', __keys__: 1 },
      { constructor: 'x', toJSON: 'y' }, // msgpackr called the string, and threw inside the leader's loop
      { nested: { hasOwnProperty: 1 } },
      JSON.parse('{"__proto__": {"a": 1}}'),
      { when: new Date(0) },
      { set: new Map([['a', 1]]) },
      { big: 10n },
      { gone: undefined },
      deep,
      { blob: 'x'.repeat(70 * 1024) },
    ];
    for (const meta of refused) {
      await expect(leader.group.register('odd', pid, meta as Record<string, unknown>)).rejects.toMatchObject({ code: 'badarg' });
    }
    expect(leader.group.whereisLocal('odd')).toBeUndefined();
    // What is kept is a copy: the caller's later change to its object changes no replica.
    const meta = { zone: 'us', tags: ['a', 'b'], weight: -0, limits: { cpu: 2 } };
    const { revision } = await leader.group.register('ok', pid, meta);
    meta.zone = 'changed';
    meta.tags.push('c');
    await eventually('applied everywhere', () => members.every((member) => member.group.status().applied >= revision));
    for (const member of members) expect(member.group.whereisLocal('ok')?.meta).toStrictEqual({ zone: 'us', tags: ['a', 'b'], weight: 0, limits: { cpu: 2 } });
    // A follower restarted from its store reads it back the same.
    const follower = members.find((member) => member !== leader)!;
    const short = follower.name.split('@')[0]!;
    await cluster.stop(follower);
    const again = await cluster.start(short, { raftPath: cluster.dir(short) });
    await eventually('restarted follower caught up', () => again.group.status().applied >= revision);
    expect(again.group.whereisLocal('ok')?.meta).toStrictEqual({ zone: 'us', tags: ['a', 'b'], weight: 0, limits: { cpu: 2 } });
  });
});
