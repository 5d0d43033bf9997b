/**
 * Helpers for the singleton tests: in-process group members over real TCP on 127.0.0.1 (memory
 * Raft stores), a counting singleton spec whose every start and stop is recorded with its
 * fencing token, and the check that no two instances with different tokens ever overlapped.
 */
import { Distribution, Node, type Pid, TIMEOUT, isDownMessage } from '../../runtime/index.js';
import { Group } from '../../registry/group.js';
import { HashRing } from '../../registry/ring.js';
import { SingletonManager, type SingletonManagerOptions, type SingletonSpec, type SingletonStartReason } from '../../registry/singleton.js';
import { eventually as eventuallyEvery } from '../support/eventually.js';

const COOKIE = 'singleton-test-cookie-0123456789';

export const FAST_SINGLETONS: SingletonManagerOptions = {
  leaseMs: 600,
  clockDriftMs: 100,
  ownerDownGraceMs: 300,
  checkIntervalMs: 30,
  handoffTimeoutMs: 500,
  stopTimeoutMs: 300,
  retryMs: 50,
};

export interface Member {
  readonly name: string;
  readonly node: Node;
  readonly distribution: Distribution;
  readonly group: Group;
  /** Undefined until attached, for a member started with `managerLater`. */
  singletons: SingletonManager;
  closed: boolean;
}

/** One instance's life as observed from outside the manager (the test's own monitor). */
export interface InstanceRecord {
  readonly key: string;
  readonly token: number;
  readonly node: string;
  readonly pid: Pid;
  readonly reason: SingletonStartReason;
  readonly handoff: unknown;
  readonly startedAt: number;
  stoppedAt: number | undefined;
}

export class Cluster {
  readonly members: Member[] = [];
  readonly records: InstanceRecord[] = [];
  /** Every claim proposed (by any member's manager) that committed: when it was proposed, and its token. */
  readonly claims: Array<{ readonly key: string; readonly node: string; readonly proposedAt: number; readonly token: number }> = [];

  /** `managerLater`: the member runs its group but no singleton manager until `attach()`. */
  async start(name: string, options: { bootstrap?: boolean; seed?: string; keys?: readonly string[]; managerLater?: boolean } = {}): Promise<Member> {
    const node = new Node({ name: `${name}@127.0.0.1`, stopTimeoutMs: 200 });
    await node.start();
    const distribution = await Distribution.start({ node, cookie: COOKIE, tickMs: 100, heartbeatTimeoutMs: 1_000 });
    const group = await Group.open({
      node,
      distribution,
      group: 'g1',
      memory: true,
      address: distribution.address,
      bootstrap: options.bootstrap ?? false,
      tickMs: 20,
      nameDownGraceMs: 300,
      voterDownGraceMs: 600,
      requestTimeoutMs: 1_000,
    });
    const member: Member = { name: node.name, node, distribution, group, singletons: undefined as unknown as SingletonManager, closed: false };
    this.members.push(member);
    const propose = group.propose.bind(group);
    group.propose = async (command) => {
      const proposedAt = performance.now();
      const result = await propose(command);
      if (command.op === 'claim') this.claims.push({ key: command.key, node: command.node, proposedAt, token: result.revision });
      return result;
    };
    if (options.managerLater !== true) this.attach(member, options.keys ?? []);
    if (options.seed !== undefined) await group.join(options.seed);
    return member;
  }

  /** Start the member's singleton manager and declare `keys` on it. */
  attach(member: Member, keys: readonly string[]): void {
    const debug = process.env.SINGLETON_DEBUG ? { log: (level: string, event: string, msg: string) => console.log(member.name, level, event, msg) } : {};
    member.singletons = new SingletonManager(member.group, { ...FAST_SINGLETONS, ...debug });
    for (const key of keys) member.singletons.declare(key, this.counterSpec(key));
  }

  /** Bootstrap `a`, then `b` and `c` join: three voters, each declaring `keys`. */
  async three(keys: readonly string[]): Promise<Member[]> {
    const a = await this.start('a', { bootstrap: true, keys });
    await eventually('a leads', () => a.group.status().role === 'leader');
    const b = await this.start('b', { seed: a.distribution.address, keys });
    const c = await this.start('c', { seed: a.distribution.address, keys });
    // Every member must have applied the configuration with 3 voters (the leader appending it is
    // not enough: killed right after, it would leave b and c believing a is needed for a quorum).
    await eventually('3 voters everywhere', () => {
      const { commit, lastIndex } = a.group.status();
      return commit === lastIndex && [a, b, c].every((member) => member.group.committedConf().voters.length === 3 && member.group.status().applied === commit);
    });
    return [a, b, c];
  }

  /** When the claim that gave `token` was proposed: the claim commits after it. */
  claimProposedAt(token: number): number {
    const claim = this.claims.find((candidate) => candidate.token === token);
    if (claim === undefined) throw new Error(`no committed claim with token ${token}`);
    return claim.proposedAt;
  }

  member(name: string): Member {
    const member = this.members.find((candidate) => candidate.name === name || candidate.name === `${name}@127.0.0.1`);
    if (member === undefined) throw new Error(`no member ${name}`);
    return member;
  }

  /**
   * A singleton that counts `tick` messages; its state (the count) travels on a planned move.
   * Every start is recorded, and a monitor process on the same node records its stop.
   */
  counterSpec(key: string): SingletonSpec {
    return {
      start: (init) => {
        const initial = (init.handoff as { count?: number } | undefined)?.count ?? 0;
        const pid = init.node.spawn(async (ctx) => {
          let count = initial;
          for (;;) {
            const msg = (await ctx.receive()) as { type?: string; from?: Pid } | string;
            if (msg === 'tick') count++;
            else if (typeof msg === 'object' && msg.type === 'handoff' && msg.from !== undefined) ctx.send(msg.from, { type: 'state', count });
          }
        });
        const record: InstanceRecord = {
          key,
          token: init.token,
          node: init.node.name,
          pid,
          reason: init.reason,
          handoff: init.handoff,
          startedAt: performance.now(),
          stoppedAt: undefined,
        };
        this.records.push(record);
        init.node.spawn(async (ctx) => {
          ctx.monitor(pid);
          await ctx.receive((msg) => isDownMessage(msg));
          record.stoppedAt = performance.now();
        });
        return pid;
      },
      handoff: (pid, node) =>
        node.run(async (ctx) => {
          ctx.send(pid, { type: 'handoff', from: ctx.self });
          const reply = await ctx.receive((msg) => (msg as { type?: string }).type === 'state', 400);
          if (reply === TIMEOUT) throw new Error('no state from the instance');
          return { count: (reply as { count: number }).count };
        }),
    };
  }

  running(key: string): InstanceRecord[] {
    return this.records.filter((record) => record.key === key && record.stoppedAt === undefined);
  }

  /** The one live instance of `key` on a live member, once exactly one exists. */
  async settled(key: string, what: string, predicate: (record: InstanceRecord) => boolean = () => true, timeoutMs = 10_000): Promise<InstanceRecord> {
    return eventually(
      what,
      () => {
        const live = this.running(key).filter((record) => !this.member(record.node).closed);
        return live.length === 1 && predicate(live[0] as InstanceRecord) ? live[0] : undefined;
      },
      timeoutMs,
    );
  }

  /** Kill a member abruptly: links first (the others see it die), then its group, singletons, node. */
  async kill(member: Member): Promise<void> {
    if (member.closed) return;
    member.closed = true;
    await member.distribution.close();
    await member.group.close();
    await member.singletons?.close();
    await member.node.stop();
  }

  async close(): Promise<void> {
    for (const member of this.members.splice(0).reverse()) {
      if (member.closed) continue;
      member.closed = true;
      await member.singletons?.close();
      await member.group.close();
      await member.distribution.close();
      await member.node.stop();
    }
  }
}

/**
 * At most one instance with a valid token at any time: for every key, instances ordered by
 * start have increasing tokens and each starts only after the previous one stopped.
 */
export function overlaps(records: readonly InstanceRecord[]): string[] {
  const problems: string[] = [];
  const keys = new Set(records.map((record) => record.key));
  for (const key of keys) {
    const ordered = records.filter((record) => record.key === key).sort((x, y) => x.startedAt - y.startedAt);
    for (let index = 1; index < ordered.length; index++) {
      const previous = ordered[index - 1] as InstanceRecord;
      const next = ordered[index] as InstanceRecord;
      if (next.token <= previous.token) problems.push(`${key}: token ${next.token} started after token ${previous.token}`);
      if (previous.stoppedAt === undefined || previous.stoppedAt > next.startedAt) {
        problems.push(`${key}: token ${next.token} on ${next.node} started while token ${previous.token} on ${previous.node} ran`);
      }
    }
  }
  return problems;
}

/** A key whose ring owner among `members` is `wanted`. */
export function keyOwnedBy(wanted: string, members: readonly string[], prefix = 'key'): string {
  const ring = HashRing.from(members.map((name) => ({ name: `${name}@127.0.0.1` })));
  for (let index = 0; index < 10_000; index++) {
    const key = `${prefix}-${index}`;
    if (ring.owner(key) === `${wanted}@127.0.0.1`) return key;
  }
  throw new Error(`no key owned by ${wanted}`);
}

/** `eventually` (test/support) polling every 10 ms: these conditions are in-process and quick. */
export function eventually<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  return eventuallyEvery(what, probe, timeoutMs, 10);
}

export function sendTicks(member: Member, pid: Pid, count: number): void {
  for (let index = 0; index < count; index++) member.node.send(pid, 'tick');
}
