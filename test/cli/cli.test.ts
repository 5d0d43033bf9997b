// fedctl as a person or a script uses it: the built CLI run as child processes against a group
// of three real `fedctl start` nodes (each declaring the probe singleton `alpha`). It proves
// every command's table AND its JSON output — register, unregister, whereis, send, names, watch,
// members, status, singletons, ring, groups, stats, join, leave, transfer-leader — that a service entry's holder
// process ends when the name is unregistered through another node, that user metadata is kept
// as given (fedctl's own keys are reserved), and a clean SIGTERM and SIGINT shutdown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAdmin } from '../../cli/admin-client.js';
import { CliHarness, type StartedNode, eventually } from './harness.js';

const harness = new CliHarness();
let a: StartedNode;
let b: StartedNode;
let c: StartedNode;

beforeAll(async () => {
  a = await harness.startNode('a', ['--singleton', 'alpha']);
  [b, c] = await Promise.all([harness.startNode('b', ['--singleton', 'alpha', '--seed', a.address]), harness.startNode('c', ['--seed', a.address], 20_000, { env: { FEDCTL_SINGLETONS: 'alpha' } })]);
  await eventually('three voters', async () => {
    const result = await harness.run(['--node', a.address, '--json', 'members']);
    const members = result.code === 0 ? (JSON.parse(result.stdout) as Array<{ role: string }>) : [];
    return members.filter((member) => member.role === 'voter').length === 3;
  });
}, 60_000);

afterAll(async () => {
  await harness.close();
});

const on = (node: StartedNode, ...args: string[]) => harness.run(['--node', node.address, ...args]);
const json = <T>(node: StartedNode, ...args: string[]) => harness.json<T>(['--node', node.address, ...args]);

async function leaderAddress(): Promise<string> {
  const { leader } = await json<{ leader: string }>(a, 'status');
  return ([a, b, c].find((node) => `${node.name}@127.0.0.1` === leader) as StartedNode).address;
}

async function followerAddress(): Promise<string> {
  const { leader } = await json<{ leader: string }>(a, 'status');
  return ([a, b, c].find((node) => `${node.name}@127.0.0.1` !== leader) as StartedNode).address;
}

interface Snapshot {
  processes: { top: Array<{ pid: string; messagesReceived: number }> };
}

/** The pids of every process on a node (from `top --once --json`). */
async function processesOn(node: StartedNode): Promise<Snapshot['processes']['top']> {
  return (await json<Snapshot>(node, 'top', '--once', '--count', '1000')).processes.top;
}

describe('fedctl — register, whereis, names, unregister', () => {
  it('registers a service entry and finds it from another node, as a table and as JSON', async () => {
    const registered = await on(b, 'register', 'web', '--meta', 'port=8080', '--meta', 'zone=x');
    expect(registered.code).toBe(0);
    expect(registered.stdout).toMatch(/^registered web → <b@127\.0\.0\.1#\d+\.\d+> in group g1 \(revision \d+\)/);

    const table = await on(c, 'whereis', 'web', '--consistency', 'linearizable');
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^NAME\s+PID\s+GROUP\s+REVISION\s+META$/);
    expect(row).toMatch(/^web\s+<b@127\.0\.0\.1#\d+\.\d+>\s+g1\s+\d+\s+port=8080,zone=x,fedctl:entry=service$/);

    const info = await json<Record<string, unknown>>(c, 'whereis', 'web', '--consistency', 'leader');
    expect(info).toMatchObject({ name: 'web', node: 'b@127.0.0.1', group: 'g1', holderGroup: 'g1', meta: { port: '8080', zone: 'x', 'fedctl:entry': 'service' }, consistency: 'leader' });
    expect(typeof info.revision).toBe('number');
  });

  it('register --json answers {name, pid, revision, group}', async () => {
    const value = await json<Record<string, unknown>>(a, 'register', 'json-entry');
    expect(Object.keys(value).sort()).toEqual(['group', 'name', 'pid', 'revision']);
    expect(value).toMatchObject({ name: 'json-entry', group: 'g1' });
    expect(value.pid).toMatch(/^<a@127\.0\.0\.1#\d+\.\d+>$/);
  });

  it('a user\'s metadata is kept as given, entry=… included; keys under fedctl: are refused', async () => {
    await json(a, 'register', 'meta-kept', '--meta', 'entry=custom');
    expect((await json<{ meta: Record<string, string> }>(a, 'whereis', 'meta-kept')).meta).toEqual({ entry: 'custom', 'fedctl:entry': 'service' });
    const refused = await on(a, 'register', 'meta-refused', '--meta', 'fedctl:entry=mine');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('reserved');
    expect((await on(a, 'whereis', 'meta-refused', '--consistency', 'linearizable')).code).toBe(3);
    // Keys the codec gives a meaning of its own are refused by the node in one line, and it keeps serving.
    for (const key of ['constructor', '__proto__', '__keys__']) {
      const odd = await on(a, 'register', `meta-${key}`, '--meta', `${key}=x`);
      expect(odd.code).not.toBe(0);
      expect(odd.stderr).toContain(`meta key "${key}" is reserved`);
      expect(odd.stderr.trim().split('\n')).toHaveLength(1);
    }
    await json(a, 'register', 'meta-after', '--meta', 'zone=eu');
    expect((await json<{ meta: Record<string, string> }>(a, 'whereis', 'meta-after', '--consistency', 'linearizable')).meta).toMatchObject({ zone: 'eu' });
  });

  it('a local read on every node converges on the registration', async () => {
    await on(a, 'register', 'local-check');
    for (const node of [a, b, c]) {
      await eventually(`local whereis on ${node.name}`, async () => (await on(node, 'whereis', 'local-check')).code === 0);
    }
  });

  it('names: by prefix, as a table and as JSON', async () => {
    await on(a, 'register', 'svc.one');
    await on(a, 'register', 'svc.two');
    await eventually('both names listed on c', async () => {
      const names = (await json<Array<{ name: string }>>(c, 'names', 'svc.')).map((entry) => entry.name);
      return names.join(',') === 'svc.one,svc.two';
    });
    const listed = await json<Array<Record<string, unknown>>>(c, 'names', 'svc.');
    expect(Object.keys(listed[0] as object).sort()).toEqual(['group', 'meta', 'name', 'node', 'pid', 'revision']);
    const table = (await on(a, 'names', 'svc.')).stdout.trim().split('\n');
    expect(table).toHaveLength(3);
    expect(table[0]).toMatch(/^NAME\s+PID\s+GROUP\s+REVISION\s+META$/);
    expect(table[1]).toMatch(/^svc\.one\s+<a@/);
    // Outside a federation, every group is this one: --all lists the same names.
    expect(await json<Array<Record<string, unknown>>>(c, 'names', 'svc.', '--all')).toEqual(listed);
    const cookie = readFileSync(harness.cookieFile, 'utf8').trim();
    const admin = await connectAdmin(c.address, cookie, 10_000);
    try {
      // The page answering `all` says so (a node from before `all` was paged would not).
      expect(await admin.request({ op: 'names_page', prefix: 'svc.', all: true })).toMatchObject({ all: true, next: null });
      expect(await admin.request({ op: 'names_page', prefix: 'svc.' })).not.toHaveProperty('all');
    } finally {
      await admin.close();
    }
  });

  it('unregister through another node removes the name and ends the holder process; whereis then exits 3', async () => {
    const registered = await json<{ pid: string }>(a, 'register', 'temp');
    expect((await processesOn(a)).map((row) => row.pid)).toContain(registered.pid);
    const removed = await on(b, 'unregister', 'temp');
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/^unregistered temp \(revision \d+\)/);
    await eventually('the holder on a ended', async () => !(await processesOn(a)).some((row) => row.pid === registered.pid));
    const lookup = await on(a, 'whereis', 'temp', '--consistency', 'linearizable');
    expect(lookup.code).toBe(3);
    expect(lookup.stderr).toContain('not_found');
    const again = await json<Record<string, unknown>>(a, 'register', 'temp2');
    const removedJson = await json<Record<string, unknown>>(c, 'unregister', 'temp2');
    expect(removedJson).toMatchObject({ name: 'temp2', group: 'g1' });
    expect(removedJson.revision as number).toBeGreaterThan(again.revision as number);
  });

  it('send: delivers to the holder of a name, table and JSON', async () => {
    const registered = await json<{ pid: string }>(b, 'register', 'inbox');
    const before = (await processesOn(b)).find((row) => row.pid === registered.pid)?.messagesReceived ?? 0;
    const sent = await on(a, 'send', 'inbox', 'hello');
    expect(sent.code).toBe(0);
    expect(sent.stdout.trim()).toBe(`sent to inbox → ${registered.pid} (group g1)`);
    expect(await json(c, 'send', 'inbox', '{"n": 1}', '--json-message')).toEqual({ name: 'inbox', pid: registered.pid, group: 'g1' });
    await eventually('two messages received by the holder', async () => (await processesOn(b)).find((row) => row.pid === registered.pid)?.messagesReceived === before + 2);
    expect((await on(a, 'send', 'nobody-here', 'x')).code).toBe(3);
    expect((await on(a, 'send', 'inbox', '{bad', '--json-message')).code).toBe(2);
  });

  it('watch: changes after a revision, as JSON lines and as text', async () => {
    const { applied } = await json<{ applied: number }>(c, 'status');
    const watching = on(c, '--json', 'watch', 'watched.', '--limit', '2', '--after-revision', String(applied));
    await on(a, 'register', 'watched.x');
    await on(a, 'unregister', 'watched.x');
    const result = await watching;
    expect(result.code).toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; name: string; revision: number; reason?: string });
    expect(events.map((event) => `${event.type}:${event.name}`)).toEqual(['put:watched.x', 'delete:watched.x']);
    expect(events[1]!.revision).toBeGreaterThan(events[0]!.revision);
    expect(events[1]!.reason).toBe('unregister');
    const text = await on(c, 'watch', 'watched.', '--limit', '2', '--after-revision', String(applied));
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^PUT\s+watched\.x <a@127\.0\.0\.1#\d+\.\d+> \(revision \d+\)$/);
    expect(lines[1]).toMatch(/^DELETE\s+watched\.x <a@127\.0\.0\.1#\d+\.\d+> \(revision \d+, unregister\)$/);
  });
});

describe('fedctl — watch, several changes at one revision', () => {
  it('a process holding three names exits: `fedctl watch` prints all three deletes, at one revision', async () => {
    // One release_pid command deletes the three names at ONE revision; the poll behind
    // `fedctl watch` must answer all of them together (resuming after that revision skips
    // whatever part of it was not answered).
    const cookie = readFileSync(harness.cookieFile, 'utf8').trim();
    const admin = await connectAdmin(a.address, cookie, 10_000);
    try {
      const { pid } = (await admin.request({ op: 'spawn_holder' })) as { pid: string };
      for (const name of ['multi.1', 'multi.2', 'multi.3']) await admin.request({ op: 'register', name, pid, meta: {} });
      const { revision: before } = (await admin.request({ op: 'whereis', name: 'multi.3', consistency: 'linearizable' })) as { revision: number };
      await admin.request({ op: 'release_holder', pid });
      const result = await on(c, '--json', 'watch', 'multi.', '--limit', '3', '--after-revision', String(before));
      expect(result.code).toBe(0);
      const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; name: string; revision: number; reason: string });
      expect(events.map((event) => `${event.type}:${event.name}:${event.reason}`).sort()).toEqual(['delete:multi.1:process_exit', 'delete:multi.2:process_exit', 'delete:multi.3:process_exit']);
      expect(new Set(events.map((event) => event.revision)).size).toBe(1);
      expect(events[0]!.revision).toBeGreaterThan(before);
    } finally {
      await admin.close();
    }
  });

  it('names: a registry over the frame limit is read page by page, in order and in full', async () => {
    // 160 names with 60 KB of metadata each: 9.6 MB, over the 8 MiB frame limit. The single-answer
    // `names` op says so (frame_too_large, not a silent drop and a timeout); `fedctl names` reads
    // names_page answers of about 2 MiB and joins them. Replicating these entries exercises the
    // Raft core's byte estimate of object data: an append of all 160 could not be sent at all.
    const cookie = readFileSync(harness.cookieFile, 'utf8').trim();
    const admin = await connectAdmin(b.address, cookie, 10_000);
    try {
      const { pid } = (await admin.request({ op: 'spawn_holder' })) as { pid: string };
      const count = 160;
      const blob = 'm'.repeat(60_000);
      const name = (index: number): string => `huge.${String(index).padStart(3, '0')}`;
      for (let first = 0; first < count; first += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, offset) => admin.request({ op: 'register', name: name(first + offset), pid, meta: { blob } })));
      }
      await expect(admin.request({ op: 'names', prefix: 'huge.' })).rejects.toMatchObject({ code: 'frame_too_large' });
      const first = (await admin.request({ op: 'names_page', prefix: 'huge.' })) as { names: Array<{ name: string }>; next: string | null };
      expect(first.names.length).toBeLessThan(count / 4);
      expect(first.next).toBe(first.names.at(-1)?.name);
      for (const node of [a, b, c]) {
        const listed = await json<Array<{ name: string; meta: { blob: string } }>>(node, 'names', 'huge.');
        expect(listed.map((entry) => entry.name)).toEqual(Array.from({ length: count }, (_, index) => name(index)));
        expect(listed.every((entry) => entry.meta.blob === blob)).toBe(true);
      }
      const table = (await on(b, 'names', 'huge.')).stdout.trim().split('\n');
      expect(table).toHaveLength(count + 1);
      await admin.request({ op: 'release_holder', pid });
      await eventually('the huge names released everywhere', async () => {
        const lists = await Promise.all([a, c].map((node) => json<unknown[]>(node, 'names', 'huge.')));
        return lists.every((list) => list.length === 0);
      });
      const members = await json<Array<{ role: string }>>(a, 'members');
      expect(members.filter((member) => member.role === 'voter')).toHaveLength(3);
    } finally {
      await admin.close();
    }
  }, 90_000);

  it('watch_poll answers at most 1,000 changes with more: true, and the rest from where it stopped', async () => {
    // 1,001 registrations after a revision: the first poll holds 1,000 (each its own revision)
    // and says there is more; the next, after the revision it reported, holds the last one.
    const cookie = readFileSync(harness.cookieFile, 'utf8').trim();
    const admin = await connectAdmin(b.address, cookie, 10_000);
    try {
      const { pid } = (await admin.request({ op: 'spawn_holder' })) as { pid: string };
      const { applied: start } = (await admin.request({ op: 'status' })) as { applied: number };
      const count = 1_001;
      for (let first = 0; first < count; first += 100) {
        await Promise.all(Array.from({ length: Math.min(100, count - first) }, (_, offset) => admin.request({ op: 'register', name: `bulk.${first + offset}`, pid, meta: {} })));
      }
      type Poll = { events: Array<{ name: string; revision: number }>; revision: number; more: boolean };
      const poll = async (afterRevision: number): Promise<Poll> => (await admin.request({ op: 'watch_poll', prefix: 'bulk.', afterRevision, waitMs: 5_000 })) as Poll;
      await eventually('b applied every registration', async () => ((await admin.request({ op: 'names', prefix: 'bulk.' })) as unknown[]).length === count);
      const first = await poll(start);
      expect(first.events).toHaveLength(1_000);
      expect(first.more).toBe(true);
      expect(first.revision).toBe(first.events[999]!.revision);
      const second = await poll(first.revision);
      expect(second.events).toHaveLength(1);
      expect(second.more).toBe(false);
      const names = new Set([...first.events, ...second.events].map((event) => event.name));
      expect(names.size).toBe(count);
      await admin.request({ op: 'release_holder', pid });
    } finally {
      await admin.close();
    }
  }, 60_000);
});

describe('fedctl — members, status, singletons, ring, groups, stats', () => {
  it('members: a table and JSON with roles, states and one leader', async () => {
    const members = await json<Array<{ node: string; role: string; state: string; leader: boolean; address: string }>>(a, 'members');
    expect(members.map((member) => member.node)).toEqual(['a@127.0.0.1', 'b@127.0.0.1', 'c@127.0.0.1']);
    expect(members.every((member) => member.role === 'voter' && member.state === 'up')).toBe(true);
    expect(members.filter((member) => member.leader)).toHaveLength(1);
    await eventually('every address published', async () => (await json<Array<{ address: string }>>(a, 'members')).every((member) => /^127\.0\.0\.1:\d+$/.test(member.address)));
    const table = (await on(b, 'members')).stdout.trim().split('\n');
    expect(table[0]).toMatch(/^NODE\s+ADDRESS\s+ROLE\s+STATE\s+LEADER\s+LAG$/);
    expect(table).toHaveLength(4);
  });

  it('status: leader, term, commit index, per-member lag on the leader; no federation; singletons', async () => {
    const status = await json<{ leader: string; term: number; commit: number; role: string; gateways: unknown[]; federation: unknown; singletons: Array<{ key: string }> }>(a, 'status');
    expect(status.leader).toMatch(/@127\.0\.0\.1$/);
    expect(status.term).toBeGreaterThan(0);
    expect(status.commit).toBeGreaterThan(0);
    expect(status.gateways).toEqual([]);
    expect(status.federation).toBeNull();
    expect(status.singletons.map((row) => row.key)).toEqual(['alpha']);
    const leaderAddress = [a, b, c].find((node) => `${node.name}@127.0.0.1` === status.leader)!.address;
    const fromLeader = await harness.json<{ role: string; members: Array<{ lag?: number }> }>(['--node', leaderAddress, 'status']);
    expect(fromLeader.role).toBe('leader');
    expect(fromLeader.members.every((member) => typeof member.lag === 'number')).toBe(true);
    const table = (await on(c, 'status')).stdout;
    expect(table).toMatch(/^NODE\s+GROUP\s+ROLE\s+LEADER\s+TERM\s+COMMIT\s+APPLIED\s+NAMES/m);
    expect(table).toMatch(/^MEMBER\s+ROLE\s+STATE\s+LAG/m);
    expect(table).toMatch(/^KEY\s+OWNER\s+HOLDER\s+TOKEN\s+RUNNING HERE\s+PHASE$/m);
    expect(table).not.toContain('federation:');
  });

  it('singletons: one member runs alpha with the committed claim\'s token, every member agrees (table and JSON)', async () => {
    type Row = { key: string; owner: string; holder: string; token: number; running: boolean; phase: string; pid: string | null };
    const views = await eventually('alpha running somewhere, seen by all', async () => {
      const rows = await Promise.all([a, b, c].map(async (node) => (await json<Row[]>(node, 'singletons'))[0] as Row));
      const holder = rows[0]!.holder;
      return rows.every((row) => row.holder === holder && row.token === rows[0]!.token && row.token !== null) && rows.filter((row) => row.running).length === 1 ? rows : undefined;
    });
    const runner = views.find((row) => row.running)!;
    expect(runner.phase).toBe('running');
    expect(runner.pid).toMatch(new RegExp(`^<${runner.holder.replace(/\./g, '\\.')}#`));
    expect(views.filter((row) => !row.running).every((row) => row.pid === null)).toBe(true);
    const table = (await on(a, 'singletons')).stdout.trim().split('\n');
    expect(table[0]).toMatch(/^KEY\s+OWNER\s+HOLDER\s+TOKEN\s+RUNNING HERE\s+PHASE$/);
    expect(table[1]).toMatch(new RegExp(`^alpha\\s+\\S+\\s+${runner.holder.replace(/\./g, '\\.')}\\s+${runner.token}\\s+(yes|no)\\s+\\w+$`));
  });

  it('ring: every node names the same owner for a key; the member list as a table and JSON', async () => {
    const owners = await Promise.all([a, b, c].map(async (node) => (await json<{ owner: string }>(node, 'ring', 'some-key')).owner));
    expect(new Set(owners).size).toBe(1);
    expect(['a@127.0.0.1', 'b@127.0.0.1', 'c@127.0.0.1']).toContain(owners[0]);
    const byKey = await json<{ key: string; owner: string; preference: string[] }>(a, 'ring', 'some-key');
    expect(byKey.preference).toHaveLength(3);
    expect(byKey.preference[0]).toBe(byKey.owner);
    const members = await json<{ members: Array<{ name: string }> }>(a, 'ring');
    expect(members.members.map((member) => member.name).sort()).toEqual(['a@127.0.0.1', 'b@127.0.0.1', 'c@127.0.0.1']);
    const keyTable = (await on(b, 'ring', 'some-key')).stdout.trim().split('\n');
    expect(keyTable[0]).toMatch(/^KEY\s+OWNER\s+PREFERENCE$/);
    expect(keyTable[1]).toMatch(new RegExp(`^some-key\\s+${owners[0]!.replace(/\./g, '\\.')}\\s+`));
    const memberTable = (await on(b, 'ring')).stdout.trim().split('\n');
    expect(memberTable[0]).toMatch(/^MEMBER\s+WEIGHT$/);
    expect(memberTable).toHaveLength(4);
  });

  it('groups: outside a federation, the node\'s own group as the only row (table and JSON)', async () => {
    const groups = await json<Array<Record<string, unknown>>>(a, 'groups');
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ group: 'g1', root: false, state: 'standalone', slots: null, gateways: [], reachable: true });
    expect(groups[0]!.voters).toHaveLength(3);
    expect(typeof groups[0]!.leader).toBe('string');
    const table = (await on(b, 'groups')).stdout.trim().split('\n');
    expect(table[0]).toMatch(/^GROUP\s+ROOT\s+STATE\s+SLOTS\s+LEADER\s+VOTERS\s+LEARNERS\s+NAMES\s+GATEWAYS$/);
    expect(table[1]).toMatch(/^g1\s+standalone\s+-\s+\S+@127\.0\.0\.1\s+a@127\.0\.0\.1,b@127\.0\.0\.1,c@127\.0\.0\.1\s+/);
  });

  it('stats: node counters, raft, admission, introspection; no federation', async () => {
    const stats = await json<{ node: string; processes: number; raft: { group: string }; federation: unknown; admission: { proposalsInFlightMax: number }; introspection: { node: string } }>(a, 'stats');
    expect(stats.node).toBe('a@127.0.0.1');
    expect(stats.processes).toBeGreaterThan(0);
    expect(stats.raft.group).toBe('g1');
    expect(stats.federation).toBeNull();
    expect(stats.admission.proposalsInFlightMax).toBe(256);
    expect(stats.introspection.node).toBe('a@127.0.0.1');
    const text = await on(a, 'stats');
    expect(JSON.parse(text.stdout)).toMatchObject({ node: 'a@127.0.0.1' });
  });
});

describe('fedctl — join and leave', () => {
  it('a node started with --no-bootstrap joins through `fedctl join` and leaves through `fedctl leave` (table and JSON)', async () => {
    const d = await harness.startNode('d', ['--no-bootstrap']);
    // Not admitted before it joins: it says so, and takes part in nothing.
    expect((await on(d, 'status')).stdout).toMatch(/this member's Raft store [0-9a-f]{16} is not admitted yet: it takes part in no election and no commit/);
    expect(await json(d, 'status')).toMatchObject({ admitted: false, voters: [], learners: [] });
    const joined = await on(d, 'join', (await leaderAddress()));
    expect(joined.code).toBe(0);
    expect(joined.stdout.trim()).toBe('d@127.0.0.1 joined group g1');
    await eventually('d listed', async () => (await json<Array<{ node: string }>>(a, 'members')).some((member) => member.node === 'd@127.0.0.1'));
    const left = await json<Record<string, unknown>>(d, 'leave');
    expect(left).toEqual({ group: 'g1', node: 'd@127.0.0.1', left: true });
    await eventually('d gone', async () => !(await json<Array<{ node: string }>>(a, 'members')).some((member) => member.node === 'd@127.0.0.1'));
    // A node that left takes no writes: refused at once (not a timeout while the leader commits it anyway).
    const refused = await on(d, 'register', 'after-leave');
    expect(refused.code).toBe(5);
    expect(refused.stderr.trim()).toMatch(/^fedctl: unavailable: d@127\.0\.0\.1 left group g1 \(or is leaving it\): it takes no register/);
    expect((await on(a, 'whereis', 'after-leave', '--consistency', 'linearizable')).code).toBe(3);
    // Nor does it answer from its replica, which nothing updates any more.
    const stale = await on(d, 'whereis', 'web');
    expect(stale.code).toBe(5);
    expect(stale.stderr.trim()).toMatch(/^fedctl: unavailable: d@127\.0\.0\.1 left group g1: its replica is no longer kept up to date/);
    expect(await d.stop()).toBe(0);

    // Through a follower: it forwards the join to the leader (any member's address will do).
    const e = await harness.startNode('e', ['--no-bootstrap']);
    expect(await json(e, 'join', await followerAddress())).toEqual({ group: 'g1', node: 'e@127.0.0.1' });
    await eventually('e listed', async () => (await json<Array<{ node: string }>>(a, 'members')).some((member) => member.node === 'e@127.0.0.1'));
    const leftText = await on(e, 'leave');
    expect(leftText.stdout.trim()).toBe('e@127.0.0.1 left group g1');
    expect(await e.stop('SIGINT')).toBe(0);
    expect(e.stderr).toContain('SIGINT: shutting down');
  });

  it('a node whose first join never completed joins through its seeds when started again', async () => {
    // The first start's only seed is an address nobody listens on: the join fails and the node
    // exits, its data directory initialized but its store without any configuration. Started
    // again from that directory with a live seed, it joins (a directory that is not new must not
    // keep it out of the group).
    await expect(harness.startNode('f', ['--seed', '127.0.0.1:1'])).rejects.toThrow(/exited with [1-9]/);
    const firstCreation = (JSON.parse(readFileSync(join(harness.root, 'data', 'f', 'node.json'), 'utf8')) as { creation: number }).creation;
    const f = await harness.startNode('f', ['--seed', await followerAddress()]);
    expect(Number(/creation (\d+)/.exec(f.stderr)?.[1])).toBeGreaterThan(firstCreation);
    // Its store waited to be admitted, and was.
    await eventually('f admitted', async () => (await json<{ admitted: boolean }>(f, 'status')).admitted);
    await eventually('f listed', async () => (await json<Array<{ node: string }>>(a, 'members')).some((member) => member.node === 'f@127.0.0.1'));
    expect((await on(f, 'leave')).code).toBe(0);
    expect(await f.stop()).toBe(0);
  });

  it('--weight (or FEDCTL_WEIGHT) sets the share of the ring a member publishes when it joins; a bad one is a usage error', async () => {
    // The weight travels with the join and lands in the ring every member computes.
    const g = await harness.startNode('g', ['--seed', await followerAddress()], 20_000, { env: { FEDCTL_WEIGHT: '3' } });
    type Ring = { members: Array<{ name: string; weight: number }> };
    await eventually('g in the ring with weight 3', async () => (await json<Ring>(b, 'ring')).members.some((member) => member.name === 'g@127.0.0.1' && member.weight === 3));
    expect((await on(g, 'leave')).code).toBe(0);
    expect(await g.stop()).toBe(0);
    for (const bad of ['0', '-1', '1.5', 'x', '1001']) {
      const refused = await harness.run(['start', '--name', 'w@127.0.0.1', '--listen', '127.0.0.1:0', '--weight', bad]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('--weight');
    }
  });

  it('--busy-wait-us outside 0 to 10,000 (or not an integer) is a usage error, and nothing starts', async () => {
    // (An accepted value reaches the distribution: test/operability/metrics.test.ts.)
    for (const bad of ['-1', '1.5', '10001']) {
      const refused = await harness.run(['start', '--name', 'w@127.0.0.1', '--listen', '127.0.0.1:0', '--busy-wait-us', bad]);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n').at(-1)).toMatch(/^fedctl: config: --busy-wait-us wants an integer from 0 to 10000, got /);
    }
  });
});

describe('fedctl — transfer-leader', () => {
  it('hands the leadership to the named voter (table, then JSON back); a target that is no voter is a usage error', async () => {
    const { leader } = await json<{ leader: string }>(a, 'status');
    const target = ['a', 'b', 'c'].map((name) => `${name}@127.0.0.1`).find((name) => name !== leader) as string;
    // Asked of any node: a follower sends it on to the leader.
    const moved = await on(c, 'transfer-leader', target);
    expect(moved.code).toBe(0);
    expect(moved.stdout.trim()).toBe(`leadership of group g1 moved to ${target}`);
    await eventually('every node sees the new leader', async () => {
      const views = await Promise.all([a, b, c].map((node) => json<{ leader: string }>(node, 'status')));
      return views.every((view) => view.leader === target);
    });
    expect(await json(b, 'transfer-leader', leader)).toEqual({ group: 'g1', leader });
    await eventually('a sees the leadership back', async () => (await json<{ leader: string }>(a, 'status')).leader === leader);
    const refused = await on(a, 'transfer-leader', 'nobody@127.0.0.1');
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(/^fedctl: badarg: "nobody@127\.0\.0\.1" is not a voter of group g1 \(voters: /);
  });
});

describe('fedctl — shutdown', () => {
  it('SIGTERM stops a node cleanly with exit 0 (a leader hands its leadership over first), and the others keep serving', async () => {
    await json(a, 'transfer-leader', 'c@127.0.0.1');
    await eventually('c leads', async () => (await json<{ role: string }>(c, 'status')).role === 'leader');
    expect(await c.stop()).toBe(0);
    expect(c.stderr).toContain('SIGTERM: shutting down');
    expect(c.stderr).toMatch(/handed the leadership of group g1 to [ab]@127\.0\.0\.1 before stopping/);
    expect(c.stderr).toContain('stopped');
    const successor = /handed the leadership of group g1 to ([ab]@127\.0\.0\.1)/.exec(c.stderr)![1];
    await eventually('a and b agree on the successor', async () => (await Promise.all([a, b].map((node) => json<{ leader: string }>(node, 'status')))).every((view) => view.leader === successor));
    const result = await on(a, 'register', 'after-c-stopped');
    expect(result.code).toBe(0);
  });
});
