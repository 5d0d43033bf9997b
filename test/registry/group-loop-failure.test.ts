// A fault inside a member's Raft driver loop never ends the node process nor leaves a member
// that silently stops answering: an `onApply` listener that throws is logged and everything else
// goes on; any other failure between a Ready and its advance (here: the transport throwing as
// the leader sends its appends) stops that member as a disk failure does: the waiting proposal
// is rejected at once with a typed error, the store is closed, and the rest of the group elects
// a new leader and keeps registering.
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import { RaftStore, type StoredGroupSnapshot } from '../../registry/raft-store.js';
import type { Entry, HardState } from '../../registry/raft/index.js';
import { GroupCluster, eventually, idleProcess } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

type Logged = { level: string; event: string; msg: string };

describe('group onApply — a listener that throws', () => {
  it('is logged; the replica, the other listeners and later registrations go on', async () => {
    const logs: Logged[] = [];
    const member = await cluster.start('a', { bootstrap: true, log: (level, event, msg) => logs.push({ level, event, msg }) });
    await eventually('a leads', () => member.group.status().role === 'leader');
    const seen: string[] = [];
    member.group.onApply(() => {
      throw new Error('listener bug');
    });
    member.group.onApply((event) => {
      if (event.type === 'command' && event.command.op === 'register') seen.push(event.command.name);
    });
    const pid = idleProcess(member.node);
    await member.group.register('one', pid);
    await member.group.register('two', pid);
    expect(seen).toEqual(['one', 'two']);
    expect(member.group.whereisLocal('two')?.pid.equals(pid)).toBe(true);
    expect(member.group.closed).toBe(false);
    const failures = logs.filter((line) => line.event === 'apply_listener_failed');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]?.msg).toMatch(/listener bug/);
  });
});

describe('group driver loop — an unexpected failure stops the member', () => {
  it('rejects the waiting proposal at once, closes the store; the others elect a leader and go on', async () => {
    const logs: Logged[] = [];
    const path = cluster.dir('a-raft');
    const store = await RaftStore.openDisk<Entry, HardState, StoredGroupSnapshot>(path);
    const [a, b, c] = await cluster.three({}, { a: { store, requestTimeoutMs: 30_000, log: (level, event, msg) => logs.push({ level, event, msg }) } });
    expect(a!.group.status().role).toBe('leader');
    const pid = idleProcess(a!.node);
    await a!.group.register('before', pid);
    // The fault is in the transport, below the group: it throws on the next append with entries.
    const send = a!.distribution.sendControl.bind(a!.distribution);
    a!.distribution.sendControl = (to, channel, payload) => {
      if (channel.startsWith('raft:') && (payload as { type?: string }).type === 'append' && 'entries' in (payload as object)) {
        const entries = (payload as { entries: unknown }).entries;
        if (!Array.isArray(entries) || entries.length > 0) throw new Error('transport bug (injected)');
      }
      return send(to, channel, payload);
    };
    const error = await a!.group.register('after', pid).catch((caught: unknown) => caught);
    // At once (long before the 30 s request timeout) and typed.
    expect(isFedError(error, 'unavailable')).toBe(true);
    expect((error as { details: { reason: string } }).details.reason).toBe('loop_failed');
    expect(logs.some((line) => line.event === 'loop_failed' && /transport bug/.test(line.msg))).toBe(true);
    await eventually('a closed its store', () => store.closed);
    expect(a!.group.closed).toBe(true);
    expect(isFedError(await a!.group.register('later', pid).catch((caught: unknown) => caught), 'shutdown')).toBe(true);
    // What committed before the fault is on the others (checked before a stops: a's names go
    // nameDownGraceMs after it does).
    await eventually('b holds before', () => b!.group.whereisLocal('before')?.pid.equals(pid) === true);
    // The two others: a new leader among them, and registrations commit there.
    await cluster.stop(a!);
    const leader = await cluster.leader();
    expect([b!.name, c!.name]).toContain(leader.name);
    const other = idleProcess(leader.node);
    await leader.group.register('elsewhere', other);
    await eventually('both see it', () => [b!, c!].every((member) => member.group.whereisLocal('elsewhere') !== undefined));
  });
});
