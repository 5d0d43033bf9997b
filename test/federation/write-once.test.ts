// A cross-group write reaches its home group once, over real TCP on 127.0.0.1 (groups of real
// nodes in one process). A gateway whose call to the home group's gateway got no answer in time
// cannot know whether the home group took the write: sending it again (to the same gateway or
// the other) made a second copy that the home group proposed too, later — seen in jepsen-lite
// seed 2305 (--groups 2 --nodes 6 --nemesis all), where a client's unregister that had timed
// out was applied twice, the second time over an acknowledged registration made in between. So
// a write that may have been delivered is answered `timeout` (the caller's outcome is unknown)
// and never re-sent; only a write that surely never left (no connected gateway, a definite
// refusal) is tried again.
import { afterEach, describe, expect, it } from 'vitest';
import { GLOBAL_EXTENSION, type GlobalCommand } from '../../federation/index.js';
import { isFedError } from '../../runtime/index.js';
import { createCluster, eventually, idleProcess, type Cluster, type Member } from './fixtures/cluster.js';

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

describe('federation — a cross-group write reaches its home group once', () => {
  it('a register that timed out on the way to a home group without quorum is applied once after the heal, not once per retry', async () => {
    cluster = createCluster();
    // The root group owns every slot: every name is homed in ga, and gb's writes cross.
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    const b = await cluster.startGroup('gb', ['b1', 'b2', 'b3'], { seeds: cluster.rootGatewayAddresses() });
    const counter = countRegisters(a[0]!, 'once');
    cutInside(a, true);
    await eventually('ga has no leader', () => a.every((member) => member.group.status().role !== 'leader'));
    const pid = idleProcess(b[0]!.node);
    const outcome = await b[0]!.federation.register('once', pid).then(
      () => 'ok',
      (error: unknown) => (isFedError(error) ? error.code : String(error)),
    );
    // The home group could not commit it; whether it will once healed is unknown to the caller.
    expect(outcome).toBe('timeout');
    cutInside(a, false);
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
