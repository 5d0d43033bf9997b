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
import { GroupCluster, type Member, eventually, idleProcess } from './group-helpers.js';

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
});
