// Encoded entries (in-process members on real TCP, every member on a real classic-level store):
// the leader encodes a batch of entries once and sends every follower the same bytes, which it
// also writes to its own disk; each follower writes to its disk exactly the bytes it received,
// without encoding them again (checked by reading the stores raw after closing the members);
// and an append whose encoded entries do not decode is refused with a warning, the member
// keeps running and the group keeps registering; a member of the previous release (its links
// agree on protocol version 1) gets plain entries and replicates, while the others get encoded
// ones (a rolling upgrade).
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { entryKey } from '../../registry/raft-store.js';
import { Encoded, decode, encodeRecords } from '../../runtime/index.js';
import { GroupCluster, type Member, eventually, heal, idleProcess, isolate } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

const BURST = 100;

async function segmentsOnDisk(path: string): Promise<Map<number, Buffer>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  const segments = new Map<number, Buffer>();
  try {
    for await (const [key, value] of db.iterator({ gte: entryKey(0), lte: entryKey(Number.MAX_SAFE_INTEGER) })) {
      segments.set(Number(Buffer.from(key).readBigUInt64BE(1)), Buffer.from(value));
    }
  } finally {
    await db.close();
  }
  return segments;
}

describe('group encoded entries — one encoding for the wire and every disk', () => {
  it('a burst: every follower gets the same bytes, and every member stores exactly those bytes', async () => {
    const members = await cluster.three({}, { a: { raftPath: cluster.dir('a') }, b: { raftPath: cluster.dir('b') }, c: { raftPath: cluster.dir('c') } });
    const leader = await cluster.leader();
    await eventually('quiet', () => {
      const { commit, lastIndex } = leader.group.status();
      return commit === lastIndex && members.every((member) => member.group.status().applied === commit);
    });
    const sent = new Map<string, Array<{ first: number; bytes: Buffer }>>();
    const send = leader.distribution.sendControl.bind(leader.distribution);
    leader.distribution.sendControl = (node, channel, payload) => {
      const message = payload as { type?: string; prevIndex?: number; entries?: unknown };
      if (channel === 'raft:g1' && message.type === 'append' && message.entries instanceof Encoded) {
        sent.set(node, [...(sent.get(node) ?? []), { first: message.prevIndex! + 1, bytes: Buffer.from(message.entries.bytes) }]);
      }
      return send(node, channel, payload);
    };
    const pid = idleProcess(leader.node);
    const results = await Promise.all(Array.from({ length: BURST }, (_, index) => leader.group.register(`encoded-${index}`, pid)));
    leader.distribution.sendControl = send;
    const first = Math.min(...results.map((result) => result.revision));
    await eventually('applied everywhere', () => members.every((member) => member.group.status().applied >= first + BURST - 1));
    const followers = members.filter((member) => member !== leader);
    const burstAppend = (follower: Member) => (sent.get(follower.name) ?? []).find((append) => append.first === first);
    for (const follower of followers) expect(burstAppend(follower), follower.name).toBeDefined();
    const bytes = burstAppend(followers[0]!)!.bytes;
    expect(burstAppend(followers[1]!)!.bytes.equals(bytes)).toBe(true);
    expect((decode(bytes) as Array<{ index: number }>).map((entry) => entry.index)).toEqual(results.map((result) => result.revision).sort((x, y) => x - y));
    for (const member of members) await cluster.stop(member);
    for (const member of members) {
      const stored = (await segmentsOnDisk(cluster.dir(member.name[0]!))).get(first);
      expect(stored?.equals(bytes), member.name).toBe(true);
    }
  });

  it('a member whose links speak protocol 1 gets entries as plain arrays, the others encoded, and all replicate', async () => {
    const members = await cluster.three({}, { c: { versionMax: 1 } });
    const leader = await cluster.leader();
    const old = cluster.member('c');
    expect(leader.distribution.peerInfo(old.name)?.version).toBe(1);
    const kinds = new Map<string, Set<string>>();
    const send = leader.distribution.sendControl.bind(leader.distribution);
    leader.distribution.sendControl = (node, channel, payload) => {
      const message = payload as { type?: string; entries?: unknown };
      if (channel === 'raft:g1' && message.type === 'append' && (message.entries instanceof Encoded || (Array.isArray(message.entries) && message.entries.length > 0))) {
        kinds.set(node, (kinds.get(node) ?? new Set()).add(message.entries instanceof Encoded ? 'encoded' : 'plain'));
      }
      return send(node, channel, payload);
    };
    const pid = idleProcess(leader.node);
    const results = await Promise.all(Array.from({ length: 20 }, (_, index) => leader.group.register(`mixed-${index}`, pid)));
    leader.distribution.sendControl = send;
    const last = Math.max(...results.map((result) => result.revision));
    await eventually('applied everywhere', () => members.every((member) => member.group.status().applied >= last));
    for (const member of members) expect(member.group.whereisLocal('mixed-19')?.pid.equals(pid), member.name).toBe(true);
    if (leader !== old) {
      expect([...(kinds.get(old.name) ?? [])]).toEqual(['plain']);
      const current = members.find((member) => member !== leader && member !== old)!;
      expect([...(kinds.get(current.name) ?? [])]).toEqual(['encoded']);
    }
  });

  it('an append whose encoded entries do not decode is refused; the member and the group go on', async () => {
    const warnings: string[] = [];
    const log = (level: 'info' | 'warn', event: string) => {
      if (level === 'warn') warnings.push(event);
    };
    const members = await cluster.three({}, { a: { log }, b: { log }, c: { log } });
    const leader = await cluster.leader();
    const [victim, forger] = members.filter((member) => member !== leader) as [Member, Member];
    const status = victim.group.status();
    const forged = {
      type: 'append',
      from: forger.name,
      to: victim.name,
      term: status.term,
      prevIndex: status.lastIndex,
      prevTerm: status.lastTerm,
      entries: new Encoded(encodeRecords([{ index: status.lastIndex + 1 }]).subarray(0, 3)),
      commit: 0,
    };
    expect(forger.distribution.sendControl(victim.name, 'raft:g1', forged)).toBe(true);
    await eventually('refused', () => warnings.includes('raft_message_rejected'));
    expect(victim.group.closed).toBe(false);
    expect(victim.group.status().lastIndex).toBeGreaterThanOrEqual(status.lastIndex);
    const { revision } = await leader.group.register('after-forgery', idleProcess(leader.node));
    await eventually('the victim applies later entries', () => victim.group.status().applied >= revision);
    expect(victim.group.whereisLocal('after-forgery')?.revision).toBe(revision);
  });

  it('a member that lagged behind catches up on entries with large metadata in appends that fit a frame', async () => {
    // 160 names with 60 KB of metadata each (9.6 MB) are written while c is cut off. Its
    // catch-up comes in appends of about messageBytesMax (1 MiB) each: the Raft core counts an
    // entry's object data by its size. (It once counted each at 64 bytes, packed all 160 into
    // one append over the 8 MiB frame limit, and the send's frame_too_large stopped the leader.)
    const warnings: string[] = [];
    const log = (level: 'info' | 'warn', event: string) => {
      if (level === 'warn') warnings.push(event);
    };
    const members = await cluster.three({ nameDownGraceMs: 60_000, voterDownGraceMs: 60_000, snapshotEveryEntries: 100_000, log });
    const leader = await cluster.leader();
    const victim = members.find((member) => member !== leader) as Member;
    const appendBytes: number[] = [];
    const send = leader.distribution.sendControl.bind(leader.distribution);
    leader.distribution.sendControl = (node, channel, payload) => {
      const message = payload as { type?: string; entries?: unknown };
      if (node === victim.name && message.type === 'append' && message.entries instanceof Encoded) appendBytes.push(message.entries.bytes.length);
      return send(node, channel, payload);
    };
    isolate(cluster, victim);
    const pid = idleProcess(leader.node);
    const blob = 'm'.repeat(60_000);
    for (let first = 0; first < 160; first += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, k) => leader.group.register(`huge.${first + k}`, pid, { blob })));
    }
    appendBytes.length = 0;
    heal(cluster);
    const { commit } = leader.group.status();
    await eventually('the lagging member caught up', () => victim.group.status().applied >= commit, 20_000);
    expect(victim.group.registered('huge.')).toHaveLength(160);
    expect(victim.group.whereisLocal('huge.159')?.meta).toEqual({ blob });
    const carried = appendBytes.filter((bytes) => bytes > 100_000);
    expect(carried.length).toBeGreaterThanOrEqual(8);
    expect(Math.max(...carried)).toBeLessThan(2 * 1024 * 1024);
    expect(members.every((member) => !member.group.closed)).toBe(true);
    expect(warnings.filter((event) => event === 'loop_failed' || event === 'raft_message_too_large')).toEqual([]);
    const { revision } = await leader.group.register('after-catch-up', idleProcess(leader.node));
    await eventually('the caught-up member applies later entries', () => victim.group.status().applied >= revision);
  }, 30_000);
});
