// msgpackr's record packer keeps, across calls, a trie of the key sequences it has seen, each
// node holding its keys as a property `__keys__`; an object with a key `__keys__` lands on that
// property, and msgpackr then writes later objects of other shapes with broken keys (bytes that
// do not decode). Proves that msgpackr behaviour on a packer of the test's own (so this file says
// so if msgpackr changes), which values `mayUpsetRecords` keeps from the shared packer, that
// `encodeRecords` and the entry writer keep writing decodable bytes after such a value, and,
// on a real group with classic-level stores, that a registration whose metadata has a
// `__keys__` key neither stops replication nor leaves a store that cannot be read back.
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

  it('a group: a registration whose metadata has a `__keys__` key, then others, replicate and read back from disk', async () => {
    const members = await cluster.three({}, { a: { raftPath: cluster.dir('a') }, b: { raftPath: cluster.dir('b') }, c: { raftPath: cluster.dir('c') } });
    const leader = await cluster.leader();
    const pid = idleProcess(leader.node);
    await leader.group.register('odd', pid, { zone: 'eu', __keys__: 1 });
    // Metadata nested deeper than the entry writer goes sends its whole batch to encodeRecords,
    // along with the others' `{ zone }` (whose keys are a prefix of the odd one's).
    let deep: Record<string, unknown> = { leaf: true };
    for (let level = 0; level < 40; level++) deep = { deep };
    const after = await Promise.all([
      leader.group.register('deep', pid, deep),
      ...Array.from({ length: 20 }, (_, index) => leader.group.register(`after-${index}`, pid, { zone: 'us' })),
    ]);
    const last = Math.max(...after.map((result) => result.revision));
    await eventually('applied everywhere', () => members.every((member) => member.group.status().applied >= last));
    for (const member of members) {
      expect(member.group.whereisLocal('odd')?.meta).toEqual({ zone: 'eu', __keys__: 1 });
      expect(member.group.whereisLocal('after-19')?.meta).toEqual({ zone: 'us' });
      expect(member.group.whereisLocal('deep')?.meta).toEqual(deep);
    }
    // A follower restarted from its store reads every entry back.
    const follower = members.find((member) => member !== leader)!;
    await cluster.stop(follower);
    const again = await cluster.start(follower.name.split('@')[0]!, { raftPath: cluster.dir(follower.name.split('@')[0]!) });
    await eventually('restarted follower caught up', () => again.group.status().applied >= last);
    expect(again.group.whereisLocal('after-19')?.meta).toEqual({ zone: 'us' });
    expect(again.group.whereisLocal('odd')?.meta).toEqual({ zone: 'eu', __keys__: 1 });
  });
});
