// A cross-group write reaches its home group once, over real TCP on 127.0.0.1 (groups of real
// nodes in one process). A gateway whose call to the home group's gateway got no answer in time
// cannot know whether the home group took the write: sending it again (to the same gateway or
// the other) made a second copy that the home group proposed too, later — seen in jepsen-lite
// seed 2305 (--groups 2 --nodes 6 --nemesis all), where a client's unregister that had timed
// out was applied twice, the second time over an acknowledged registration made in between. So
// a write that may have been delivered is answered `timeout` (the caller's outcome is unknown)
// and never re-sent; only a write that surely never left (no connected gateway, a definite
// refusal) is tried again. A relayed send is held to the same rule: its answer lost, it is not
// delivered a second time through the holder group's other gateway (Erlang's sends arrive at
// most once).
import { afterEach, describe, expect, it } from 'vitest';
import { GLOBAL_EXTENSION, type GlobalCommand } from '../../federation/index.js';
import { isFedError, type Pid } from '../../runtime/index.js';
import { collector, createCluster, eventually, idleProcess, type Cluster, type Member } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

/** Cut (or heal) the links between the members of one group: no quorum, while its gateways stay up. */
function cutInside(group: readonly Member[], on: boolean): void {
  for (const member of group) member.distribution.setBlocked(on ? group.filter((other) => other !== member).map((other) => other.node.name) : []);
}

/** Every global register of `name` that `member` applies, counted. */
function countRegisters(member: Member, name: string): { count: number } {
  const counter = { count: 0 };
  member.group.onApply((event) => {
    if (event.type !== 'command' || event.command.op !== 'ext' || event.command.ext !== GLOBAL_EXTENSION) return;
    const cmd = event.command.cmd as GlobalCommand;
    if (cmd.op === 'register' && cmd.name === name) counter.count++;
  });
  return counter;
}

/** Two groups; the root ga (home of every name) cut inside, leaderless: a register of `name` from gb's member `via` times out. Heals ga; returns the groups and the holder. */
async function registerTimedOut(name: string, via: number, beforeRegister: (a: readonly Member[]) => void = () => undefined): Promise<{ a: Member[]; b: Member[]; pid: Pid }> {
  cluster = createCluster();
  // The root group owns every slot: every name is homed in ga, and gb's writes cross.
  const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
  const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
  beforeRegister(a);
  cutInside(a, true);
  await eventually('ga has no leader', () => a.every((member) => member.group.status().role !== 'leader'));
  const pid = idleProcess(b[via]!.node);
  const outcome = await b[via]!.federation.register(name, pid).then(
    () => 'ok',
    (error: unknown) => (isFedError(error) ? error.code : String(error)),
  );
  // The home group could not commit it; whether it will once healed is unknown to the caller.
  expect(outcome).toBe('timeout');
  cutInside(a, false);
  return { a, b, pid };
}

describe('federation — a cross-group write reaches its home group once', () => {
  it('a register that timed out on the way to a home group without quorum is applied once after the heal, not once per retry', async () => {
    let counter = { count: 0 };
    const { a, b, pid } = await registerTimedOut('once', 0, (home) => (counter = countRegisters(home[0]!, 'once')));
    await eventually('ga applied the register', () => counter.count >= 1, 15_000);
    // Every copy that reached ga is proposed before its server-side deadline (the federation's
    // requestTimeoutMs, 3 s here, from when it arrived, before the heal): wait it out, then a
    // write through ga's leader, applied on a1, orders after every one of them.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const leader = await eventually('a leader of ga', () => a.find((member) => member.group.status().role === 'leader'));
    const { revision } = await leader.federation.register('barrier', idleProcess(leader.node));
    await eventually('a1 applied the barrier', () => a[0]!.group.status().applied >= revision);
    expect(counter.count).toBe(1);
    expect((await b[1]!.federation.whereis('once', { consistency: 'linearizable' }))?.pid.key).toBe(pid.key);
  });
});

describe('federation — a name whose register timed out still dies with its process', () => {
  it('the register times out, the home group applies it after the heal, and the holder\'s exit releases it', async () => {
    const { b, pid: holder } = await registerTimedOut('orphan', 2);
    await eventually('the register applied after all', async () => (await b[0]!.federation.whereis('orphan', { consistency: 'linearizable' }).catch(() => undefined))?.pid.key === holder.key, 15_000);
    // Before: nothing watched the holder of a register that had failed, so the name outlived it.
    b[2]!.node.send(holder, 'stop');
    await eventually('the name died with its holder', async () => (await b[0]!.federation.whereis('orphan', { consistency: 'linearizable' }).catch(() => null)) === undefined, 15_000);
  });
});

/** Drop every answer `member`'s gateway sends to other groups' gateways while `on()` (the calls themselves are served). */
function loseAnswers(member: Member, on: () => boolean): void {
  const distribution = member.federation.gatewayDistribution();
  if (distribution === undefined) return;
  const sendControl = distribution.sendControl.bind(distribution);
  distribution.sendControl = (node, channel, payload) => {
    if (on() && channel === 'fed:gw' && (payload as { type?: string }).type === 'res') return true;
    return sendControl(node, channel, payload);
  };
}

describe('federation — a relayed send is delivered at most once', () => {
  it('a send whose answer from the holder group was lost is not sent again through its other gateway; the caller gets the timeout', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
    const gateways = a.filter((member) => member.federation.gatewayDistribution() !== undefined);
    // Two gateways: before, the second delivered the message again after the first timed out.
    expect(gateways.length).toBe(2);
    const received: unknown[] = [];
    const sink = collector(a[2]!.node, received);
    let losing = true;
    for (const gateway of gateways) loseAnswers(gateway, () => losing);
    const outcome = await b[2]!.federation.send({ pid: sink, group: 'ga' }, 'once').then(
      () => 'ok',
      (error: unknown) => (isFedError(error) ? error.code : String(error)),
    );
    expect(outcome).toBe('timeout');
    // The one copy arrived; give a second one (the other gateway's hop timeout, 1 s) time to come.
    await eventually('the send arrived', () => received.includes('once'));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    losing = false;
    await b[2]!.federation.send({ pid: sink, group: 'ga' }, 'after');
    await eventually('the next send arrived', () => received.includes('after'));
    expect(received).toEqual(['once', 'after']);
  });
});
