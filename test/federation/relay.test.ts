// Relayed monitors and sends for pids in other groups, over real TCP on 127.0.0.1 (two groups
// of three real nodes, one process; the watchers and targets sit on members that are not
// gateways, so every signal crosses member → gateway → gateway → member). It proves: a send
// to a pid of another group arrives; a monitor across groups gets the target's real exit
// reason; a demonitored monitor stays silent; and losing the relay (the groups' gateway links
// cut) is a `noconnection` DOWN, like any monitor across a lost connection. Links across
// groups carry exit reasons both ways and are two-sided on loss: a lost relay kills both ends
// with noconnection, the death of either end's node kills the other end with noconnection.
// Within a group, demonitor silences the monitor and leaves no proxy process behind.
import { afterEach, describe, expect, it } from 'vitest';
import { type Node, type Pid, type Ref } from '../../runtime/index.js';
import { collector, createCluster, eventually, type Cluster, type Member } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

function exitingProcess(node: Node): Pid {
  return node.spawn(async (ctx) => {
    const reason = await ctx.receive();
    ctx.exitSelf(reason as string);
  });
}

function cut(inside: readonly Member[], outside: readonly Member[], on: boolean): void {
  const names = (members: readonly Member[]) => members.map((member) => member.federation.status().gateway?.node).filter((name): name is string => name !== undefined);
  for (const member of inside) member.federation.gatewayDistribution()?.setBlocked(on ? names(outside) : []);
  for (const member of outside) member.federation.gatewayDistribution()?.setBlocked(on ? names(inside) : []);
}

function downFor(messages: unknown[], ref: Ref): { reason: unknown; pid: Pid } | undefined {
  return messages.find((message) => (message as { type?: string; ref?: Ref }).type === 'DOWN' && (message as { ref: Ref }).ref.equals(ref)) as { reason: unknown; pid: Pid } | undefined;
}

describe('federation — relayed sends and monitors', () => {
  it('a monitor across groups gets the exit reason; send to a remote pid arrives; demonitor silences', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
    expect(a[2]!.federation.status().gateway).toBeNull();
    expect(b[2]!.federation.status().gateway).toBeNull();
    const inbox: unknown[] = [];
    const watcher = collector(b[2]!.node, inbox);
    const target = exitingProcess(a[2]!.node);
    const quiet = exitingProcess(a[2]!.node);
    const ref = await b[2]!.federation.monitor(watcher, { pid: target, group: 'ga' });
    const silenced = await b[2]!.federation.monitor(watcher, { pid: quiet, group: 'ga' });
    await b[2]!.federation.demonitor(silenced);
    const received: unknown[] = [];
    const sink = collector(a[2]!.node, received);
    await b[2]!.federation.send({ pid: sink, group: 'ga' }, 'across');
    await eventually('send arrives', () => received.includes('across'));
    await b[2]!.federation.send({ pid: target, group: 'ga' }, 'bye');
    a[2]!.node.send(quiet, 'also-bye');
    const down = await eventually('DOWN', () => downFor(inbox, ref));
    expect(down.reason).toBe('bye');
    expect(down.pid.equals(target)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(downFor(inbox, silenced)).toBeUndefined();
  });

  it('losing the relay between groups is a noconnection DOWN', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
    const inbox: unknown[] = [];
    const watcher = collector(b[2]!.node, inbox);
    const target = exitingProcess(a[2]!.node);
    const ref = await b[2]!.federation.monitor(watcher, { pid: target, group: 'ga' });
    cut(a, b, true);
    const down = await eventually('noconnection DOWN', () => downFor(inbox, ref));
    expect(down.reason).toBe('noconnection');
    cut(a, b, false);
    a[2]!.node.send(target, 'late');
  });

  it('a link across groups carries exits both ways, and a lost relay is noconnection', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
    // Observers monitor each side within its own group (plain monitors).
    const observeA: unknown[] = [];
    const observeB: unknown[] = [];
    const watch = (member: Member, pid: Pid, inbox: unknown[]) =>
      member.node.spawn(async (ctx) => {
        ctx.monitor(pid);
        inbox.push(await ctx.receive((message) => (message as { type?: string }).type === 'DOWN'));
      });
    const downReason = (inbox: unknown[]) => (inbox[0] as { reason?: unknown } | undefined)?.reason;

    // remote exits → local dies with the same reason
    const local1 = exitingProcess(b[2]!.node);
    const remote1 = exitingProcess(a[2]!.node);
    await b[2]!.federation.link(local1, { pid: remote1, group: 'ga' });
    watch(b[2]!, local1, observeB);
    a[2]!.node.send(remote1, 'crash');
    await eventually('local died', () => observeB.length === 1);
    expect(downReason(observeB)).toBe('crash');

    // local exits → remote dies with the same reason
    const local2 = exitingProcess(b[2]!.node);
    const remote2 = exitingProcess(a[2]!.node);
    await b[2]!.federation.link(local2, { pid: remote2, group: 'ga' });
    watch(a[2]!, remote2, observeA);
    b[2]!.node.send(local2, 'boom');
    await eventually('remote died', () => observeA.length === 1);
    expect(downReason(observeA)).toBe('boom');

    // relay lost → both ends die with noconnection
    observeA.length = 0;
    observeB.length = 0;
    const local3 = exitingProcess(b[2]!.node);
    const remote3 = exitingProcess(a[2]!.node);
    await b[2]!.federation.link(local3, { pid: remote3, group: 'ga' });
    watch(b[2]!, local3, observeB);
    watch(a[2]!, remote3, observeA);
    cut(a, b, true);
    await eventually('local died of noconnection', () => observeB.length === 1);
    expect(downReason(observeB)).toBe('noconnection');
    await eventually('remote died of noconnection', () => observeA.length === 1);
    expect(downReason(observeA)).toBe('noconnection');
    cut(a, b, false);
  });

  it("the death of either end's node kills the other end of a cross-group link with noconnection", async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
    const watch = (member: Member, pid: Pid, inbox: unknown[]) =>
      member.node.spawn(async (ctx) => {
        ctx.monitor(pid);
        inbox.push(await ctx.receive((message) => (message as { type?: string }).type === 'DOWN'));
      });
    const reasonOf = (inbox: unknown[]) => (inbox[0] as { reason?: unknown } | undefined)?.reason;
    // The local end's node (a member of B that is not a gateway) dies: the remote end in A gets noconnection.
    const remote = exitingProcess(a[2]!.node);
    const remoteDown: unknown[] = [];
    await b[2]!.federation.link(exitingProcess(b[2]!.node), { pid: remote, group: 'ga' });
    watch(a[2]!, remote, remoteDown);
    await b[2]!.close();
    await eventually('remote end died', () => remoteDown.length === 1);
    expect(reasonOf(remoteDown)).toBe('noconnection');
    // The remote end's node (a member of A that is not a gateway) dies: the local end in B gets noconnection.
    const local = exitingProcess(b[0]!.node);
    const localDown: unknown[] = [];
    await b[0]!.federation.link(local, { pid: exitingProcess(a[2]!.node), group: 'ga' });
    watch(b[0]!, local, localDown);
    await a[2]!.close();
    await eventually('local end died', () => localDown.length === 1);
    expect(reasonOf(localDown)).toBe('noconnection');
  });
});

describe('federation — monitors within a group', () => {
  it('demonitor silences a same-group monitor and removes its proxy process', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const inbox: unknown[] = [];
    const watcher = collector(a[2]!.node, inbox);
    const target = exitingProcess(a[1]!.node);
    const before = a[2]!.node.processCount();
    const ref = await a[2]!.federation.monitor(watcher, { pid: target, group: 'ga' });
    expect(a[2]!.node.processCount()).toBe(before + 1);
    await a[2]!.federation.demonitor(ref);
    await eventually('proxy gone', () => a[2]!.node.processCount() === before);
    a[1]!.node.send(target, 'bye');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(downFor(inbox, ref)).toBeUndefined();
    // A monitor left in place still fires, and its proxy is gone afterwards too.
    const other = exitingProcess(a[1]!.node);
    const kept = await a[2]!.federation.monitor(watcher, { pid: other, group: 'ga' });
    a[2]!.node.send(other, 'later');
    expect((await eventually('DOWN', () => downFor(inbox, kept))).reason).toBe('later');
    await eventually('proxy gone after DOWN', () => a[2]!.node.processCount() === before);
  });
});

