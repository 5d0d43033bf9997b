/**
 * Helpers for the in-process group tests: members on real TCP on 127.0.0.1, each with its own
 * `Node`, `Distribution` and `Group` (a memory Raft store unless `raftPath` puts it on disk with
 * classic-level), a cluster object that closes everything it opened, and `eventually`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Distribution, Node, type Pid } from '../../runtime/index.js';
import { Group, type GroupOptions } from '../../registry/group.js';
import { eventually as eventuallyEvery } from '../support/eventually.js';

const COOKIE = 'group-helpers-cookie-0123456789';

export interface Member {
  readonly name: string;
  readonly node: Node;
  readonly distribution: Distribution;
  readonly group: Group;
  closed: boolean;
}

export type MemberOptions = Partial<Omit<GroupOptions, 'node' | 'distribution' | 'address'>> & {
  /** Join the group through this address once open. */
  readonly seed?: string;
  /** The node's creation (a restart of a node is a higher one). */
  readonly creation?: number;
  /** The newest link protocol version the node offers (a member of an older release). */
  readonly versionMax?: number;
};

/** Fast settings for tests: 20 ms ticks, short graces. */
export const FAST_GROUP = { tickMs: 20, nameDownGraceMs: 300, voterDownGraceMs: 600, requestTimeoutMs: 2_000 } as const;

export class GroupCluster {
  readonly members: Member[] = [];
  #root: string | undefined;

  /** A directory for on-disk Raft stores, removed by `close()`. */
  dir(name: string): string {
    this.#root ??= mkdtempSync(join(tmpdir(), 'fedctl-group-test-'));
    return join(this.#root, name);
  }

  async start(short: string, options: MemberOptions = {}): Promise<Member> {
    const node = new Node({ name: `${short}@127.0.0.1`, stopTimeoutMs: 200, ...(options.creation !== undefined ? { creation: options.creation } : {}) });
    await node.start();
    const distribution = await Distribution.start({ node, cookie: COOKIE, tickMs: 100, heartbeatTimeoutMs: 1_000, ...(options.versionMax !== undefined ? { versionMax: options.versionMax } : {}) });
    const { seed, creation: _creation, versionMax: _versionMax, ...groupOptions } = options;
    let group: Group;
    try {
      const inMemory = groupOptions.raftPath === undefined && groupOptions.store === undefined;
      group = await Group.open({ group: 'g1', bootstrap: false, ...FAST_GROUP, ...(inMemory ? { memory: true } : {}), ...groupOptions, node, distribution, address: distribution.address });
    } catch (error) {
      await distribution.close();
      await node.stop();
      throw error;
    }
    const member: Member = { name: node.name, node, distribution, group, closed: false };
    this.members.push(member);
    if (seed !== undefined) await group.join(seed);
    return member;
  }

  /** Bootstrap `a`, then `b` and `c` join: three voters. */
  async three(options: MemberOptions = {}, perMember: Record<string, MemberOptions> = {}): Promise<Member[]> {
    const a = await this.start('a', { ...options, ...perMember.a, bootstrap: true });
    await eventually('a leads', () => a.group.status().role === 'leader');
    const b = await this.start('b', { ...options, ...perMember.b, seed: a.distribution.address });
    const c = await this.start('c', { ...options, ...perMember.c, seed: a.distribution.address });
    await settled([a, b, c], 3);
    return [a, b, c];
  }

  member(short: string): Member {
    const member = this.members.find((candidate) => candidate.name === `${short}@127.0.0.1` && !candidate.closed);
    if (member === undefined) throw new Error(`no live member ${short}`);
    return member;
  }

  /** The member every live member agrees leads. */
  async leader(): Promise<Member> {
    return eventually('an agreed leader', () => {
      const live = this.members.filter((member) => !member.closed && member.group.isMember());
      const leader = live.find((member) => member.group.status().role === 'leader');
      if (leader === undefined) return undefined;
      return live.every((member) => member.group.status().leader === leader.name) ? leader : undefined;
    });
  }

  /** Stop one member: links first (the others see it go), then its group and node. */
  async stop(member: Member): Promise<void> {
    if (member.closed) return;
    member.closed = true;
    await member.distribution.close();
    await member.group.close();
    await member.node.stop();
  }

  async close(): Promise<void> {
    for (const member of [...this.members].reverse()) await this.stop(member);
    this.members.length = 0;
    if (this.#root !== undefined) rmSync(this.#root, { recursive: true, force: true });
    this.#root = undefined;
  }
}

/** Every member sees `voters` voters and has applied all the leader committed. */
export async function settled(members: readonly Member[], voters: number): Promise<void> {
  await eventually(`${voters} voters everywhere`, () => {
    const leader = members.find((member) => member.group.status().role === 'leader');
    if (leader === undefined) return false;
    const { commit, lastIndex } = leader.group.status();
    return commit === lastIndex && members.every((member) => member.group.committedConf().voters.length === voters && member.group.status().applied === commit);
  });
}

export function idleProcess(node: Node): Pid {
  return node.spawn(async (ctx) => {
    await ctx.receive((msg) => msg === 'stop');
  });
}

/** Cut `member` off from every other live member, both ways. */
export function isolate(cluster: GroupCluster, member: Member): void {
  const others = cluster.members.filter((other) => other !== member && !other.closed);
  member.distribution.setBlocked(others.map((other) => other.name));
  for (const other of others) other.distribution.setBlocked([...other.distribution.blocked(), member.name]);
}

export function heal(cluster: GroupCluster): void {
  for (const member of cluster.members) if (!member.closed) member.distribution.setBlocked([]);
}

/** `eventually` (test/support) polling every 10 ms: these conditions are in-process and quick. */
export function eventually<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  return eventuallyEvery(what, probe, timeoutMs, 10);
}
