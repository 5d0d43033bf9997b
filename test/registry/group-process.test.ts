// The group with real `fedctl start` child processes on 127.0.0.1 and real classic-level data
// directories, driven through the admin protocol: a name registered on any member is seen from
// every member (local and linearizable reads); a member cut off from the other two cannot
// register while the majority can; a leader killed with kill -9 is replaced and writes resume;
// the names held on the dead node are removed; the dead member restarted from its own data
// directory (new incarnation) catches up with what was written while it was down.
// One cluster serves the tests in order (each builds on the previous state), to keep the file fast.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import { ProcessCluster, type ProcessMember } from './fixtures/fedctl-process.js';

interface NameInfo {
  name: string;
  pid: string;
  node: string;
  revision: number;
}

let cluster: ProcessCluster;
let members: ProcessMember[];

beforeAll(async () => {
  cluster = new ProcessCluster();
  members = await cluster.startGroup(['p1', 'p2', 'p3']);
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

async function register(member: ProcessMember, name: string): Promise<NameInfo> {
  return (await cluster.request(member, { op: 'register', name, meta: {} })) as NameInfo;
}

async function whereis(member: ProcessMember, name: string, consistency: 'local' | 'leader' | 'linearizable'): Promise<NameInfo | undefined> {
  try {
    return (await cluster.request(member, { op: 'whereis', name, consistency })) as NameInfo;
  } catch (error) {
    if (isFedError(error, 'not_found')) return undefined;
    throw error;
  }
}

describe('group processes — registry over real processes and disks', () => {
  it('a name registered on any member is seen from every member', async () => {
    for (const member of members) {
      const name = `svc-${member.name}`;
      const registered = await register(member, name);
      expect(registered.revision).toBeGreaterThan(0);
      for (const reader of members) {
        const linearizable = await whereis(reader, name, 'linearizable');
        expect(linearizable).toMatchObject({ pid: registered.pid, node: member.name, revision: registered.revision });
        const local = await cluster.eventually(`local whereis on ${reader.name}`, () => whereis(reader, name, 'local'));
        expect(local.revision).toBe(registered.revision);
      }
    }
    const taken = await register(members[1]!, `svc-${members[0]!.name}`).catch((error: unknown) => error);
    expect(isFedError(taken, 'name_taken')).toBe(true);
  });

  it('a member cut off from the other two cannot register; the majority can', async () => {
    const leader = await cluster.leader(members[0]!);
    const others = members.filter((member) => member !== leader);
    await cluster.request(leader, { op: 'fault', blocked: others.map((member) => member.name) });
    for (const member of others) await cluster.request(member, { op: 'fault', blocked: [leader.name] });
    const majorityName = await cluster.eventually('a registration on the majority side', () => register(others[0]!, 'during-partition'));
    // A short client deadline: the proof is below, that the name never appears once healed.
    const refused = await cluster.request(leader, { op: 'register', name: 'minority-name', meta: {} }, 2_000).catch((error: unknown) => error);
    expect(isFedError(refused)).toBe(true);
    expect(['timeout', 'unavailable', 'not_leader']).toContain((refused as { code: string }).code);
    for (const member of members) await cluster.request(member, { op: 'fault', blocked: [] });
    for (const member of members) {
      const seen = await cluster.eventually(`healed ${member.name} sees the majority's name`, () => whereis(member, 'during-partition', 'linearizable'));
      expect(seen.revision).toBe(majorityName.revision);
      expect(await whereis(member, 'minority-name', 'linearizable')).toBeUndefined();
    }
  });

  it('leader killed with kill -9: writes resume, its names are removed, and restarted it catches up', async () => {
    const leader = await cluster.leader(members[0]!);
    const survivors = members.filter((member) => member !== leader);
    await register(leader, 'held-by-victim');
    await cluster.eventually('victim name replicated', () => whereis(survivors[0]!, 'held-by-victim', 'local'));
    const statusBefore = (await cluster.request(leader, { op: 'status' })) as { creation: number };
    await cluster.kill(leader);
    const resumed = await cluster.eventually('a registration after the leader died', () => register(survivors[0]!, 'after-kill'));
    expect(resumed.revision).toBeGreaterThan(0);
    const newLeader = await cluster.leader(survivors[0]!);
    expect(newLeader).not.toBe(leader);
    for (const member of survivors) {
      await cluster.eventually(`names of the dead node removed on ${member.name}`, async () => (await whereis(member, 'held-by-victim', 'linearizable')) === undefined);
    }
    // Written while it was down; the restart must catch up from its own directory plus the log.
    for (let index = 0; index < 20; index++) await register(survivors[index % 2]!, `while-down-${index}`);
    await cluster.launch(leader);
    const statusAfter = (await cluster.request(leader, { op: 'status' })) as { creation: number; voters: string[] };
    expect(statusAfter.creation).toBeGreaterThan(statusBefore.creation);
    for (let index = 0; index < 20; index++) {
      const caught = await cluster.eventually(`restarted member sees while-down-${index}`, () => whereis(leader, `while-down-${index}`, 'local'));
      expect(caught.node).toBe(survivors[index % 2]!.name);
    }
    expect(await whereis(leader, 'held-by-victim', 'local')).toBeUndefined();
    expect((await whereis(leader, 'after-kill', 'local'))?.revision).toBe(resumed.revision);
    // And it serves writes again.
    const again = await register(leader, 'after-restart');
    expect((await whereis(survivors[0]!, 'after-restart', 'linearizable'))?.revision).toBe(again.revision);
  });
});
