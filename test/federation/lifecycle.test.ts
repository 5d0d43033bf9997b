// Closing a federation member ends what waits inside it, on real nodes over 127.0.0.1 (one
// process). A registration is left waiting on a slot fenced by a move that never finishes (it
// sleeps between retries); closing the member ends it at once with `shutdown` rather than
// letting it retry until its deadline, and leaves no timer behind (test/setup.ts fails a file
// that leaks one). `ready()` waiting on a member that closes ends with `shutdown` too.
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import { slotOf, type DirectoryResult } from '../../federation/index.js';
import { createCluster, eventually, idleProcess, type Cluster } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

describe('federation — close ends waiting calls', () => {
  it('a registration waiting on a fenced slot ends with shutdown when the member closes', async () => {
    cluster = createCluster({ federation: { requestTimeoutMs: 20_000 } });
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
    const slot = slotOf('stuck');
    const proposed = await a[0]!.group.propose({ op: 'ext', ext: 'directory', cmd: { op: 'begin_move', slot, to: 'gb' } });
    const began = ('value' in proposed ? proposed.value : undefined) as DirectoryResult;
    if (!began.ok) throw new Error(began.reason);
    await a[0]!.group.propose({ op: 'ext', ext: 'global', cmd: { op: 'fence', steps: [{ slot, moveRevision: began.revision }] } });
    const gateway = a.find((member) => member.federation.status().gateway !== null)!;
    let settled = false;
    const waiting = gateway.federation.register('{stuck}x', idleProcess(gateway.node)).then(
      () => 'registered',
      (error: unknown) => error,
    );
    void waiting.then(() => (settled = true));
    // It is waiting (retrying on the fence), not failing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    await gateway.federation.close();
    const outcome = await waiting;
    expect(isFedError(outcome, 'shutdown')).toBe(true);
  });

  it('ready() on a member that closes ends with shutdown', async () => {
    cluster = createCluster();
    const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
    // A group whose seeds lead nowhere never joins: its ready() waits…
    const x = await cluster.startGroup('gx', ['x1'], { seeds: ['127.0.0.1:9'], waitForDirectory: false });
    const waiting = x[0]!.federation.ready({ timeoutMs: 60_000 }).catch((error: unknown) => error);
    await eventually('x1 is a gateway', () => x[0]!.federation.status().gateway !== null);
    await x[0]!.federation.close();
    expect(isFedError(await waiting, 'shutdown')).toBe(true);
    expect(await a[0]!.federation.ready()).toBeUndefined();
  });
});
