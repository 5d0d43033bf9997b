// Failover as a caller sees it (in-process members on real TCP on 127.0.0.1): when a follower's
// link to the leader is gone, a registration it would forward to that leader fails at once with
// a definite `unavailable` (nothing was proposed, so retrying is safe) instead of waiting for
// the request timeout, and the caller's retries succeed as soon as the others elect a new
// leader; a registration already forwarded to a leader that then dies fails at once too, with
// `unavailable` marked indefinite (it may have been appended before the leader died), as
// etcd's "leader changed".
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import { GroupCluster, eventually, idleProcess } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

describe('group failover — forwarding to a lost leader', () => {
  it('fails at once, definite, and retries succeed once a new leader is elected', async () => {
    // A request timeout far longer than the test's wait: only the fast failure can explain it.
    const [a, b, c] = await cluster.three({ requestTimeoutMs: 30_000, nameDownGraceMs: 60_000, voterDownGraceMs: 60_000 });
    expect(b!.group.status().leader).toBe(a!.name);
    a!.distribution.setBlocked([b!.name, c!.name]);
    b!.distribution.setBlocked([a!.name]);
    c!.distribution.setBlocked([a!.name]);
    await eventually('b sees the link to a gone', () => !b!.distribution.isConnected(a!.name));
    const pid = idleProcess(b!.node);
    const attempts: string[] = [];
    const registered = await eventually('a registration through b', async () => {
      try {
        return await b!.group.register('after-failover', pid);
      } catch (error) {
        expect(isFedError(error), String(error)).toBe(true);
        const code = (error as { code: string }).code;
        attempts.push(code);
        // Never a timeout: each failure is immediate and says nothing was proposed.
        expect(['unavailable', 'not_leader']).toContain(code);
        expect((error as { details: { definite?: boolean } }).details.definite).toBe(true);
        return undefined;
      }
    });
    expect(attempts.length).toBeGreaterThan(0);
    expect(registered.revision).toBeGreaterThan(0);
    const leader = b!.group.status().leader;
    expect([b!.name, c!.name]).toContain(leader);
    expect((await c!.group.whereis('after-failover', { consistency: 'linearizable' }))?.revision).toBe(registered.revision);
  });
});

describe('group failover — a proposal in flight to a leader that dies', () => {
  it('fails as soon as the leader is gone, indefinite, not after the request timeout', async () => {
    const [a, b] = await cluster.three({ requestTimeoutMs: 30_000, nameDownGraceMs: 60_000, voterDownGraceMs: 60_000 });
    expect(b!.group.status().leader).toBe(a!.name);
    // The leader stops handling anything (its links stay up), so b's forwarded proposal is lost
    // in it; then its links go down too.
    const stopping = a!.group.close();
    const inFlight = b!.group.register('in-flight', idleProcess(b!.node)).catch((error: unknown) => error);
    await stopping;
    await a!.distribution.close();
    const error = await inFlight;
    expect(isFedError(error, 'unavailable'), String(error)).toBe(true);
    expect((error as { details: { definite: boolean } }).details.definite).toBe(false);
  });
});
