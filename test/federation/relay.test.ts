// Relayed monitors and sends for pids in other groups, over real TCP on 127.0.0.1 (two groups
// of three real nodes, one process; the watchers and targets sit on members that are not
// gateways, so every signal crosses member → gateway → gateway → member). It proves: a send
// to a pid of another group arrives; a monitor across groups gets the target's real exit
// reason; a demonitored monitor stays silent; and losing the relay (the groups' gateway links
// cut) is a `noconnection` DOWN, like any monitor across a lost connection. Links across
// groups carry exit reasons both ways, and a lost relay kills the local side with noconnection.
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

    // relay lost → local dies with noconnection
    observeB.length = 0;
    const local3 = exitingProcess(b[2]!.node);
    const remote3 = exitingProcess(a[2]!.node);
    await b[2]!.federation.link(local3, { pid: remote3, group: 'ga' });
    watch(b[2]!, local3, observeB);
    cut(a, b, true);
    await eventually('local died of noconnection', () => observeB.length === 1);
    expect(downReason(observeB)).toBe('noconnection');
    cut(a, b, false);
    a[2]!.node.send(remote3, 'done');
  });
});
