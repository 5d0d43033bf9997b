// group lifecycle: a member is an attachment of its node. `node.stop()` alone — no
// `group.close()` first — closes the member: its requests are refused, its processes and timers
// end with the node (test/setup.ts fails the file on a leaked handle), and its classic-level
// store is released, which the test proves by opening the same directory again.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Group } from '../../registry/group.js';
import { Distribution, Node, isFedError } from '../../runtime/index.js';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function member(raftPath: string, creation: number): Promise<{ node: Node; distribution: Distribution; group: Group }> {
  const node = new Node({ name: 'solo@127.0.0.1', creation, stopTimeoutMs: 10_000 });
  const distribution = await Distribution.start({ node, cookie: 'lifecycle', cluster: 'lifecycle' });
  const group = await Group.open({ node, distribution, group: 'g1', address: distribution.address, raftPath, bootstrap: creation === 1, tickMs: 10 });
  return { node, distribution, group };
}

describe('group lifecycle', () => {
  it('group lifecycle — node.stop() alone closes the member and releases its store', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedctl-lifecycle-'));
    made.push(root);
    const raftPath = join(root, 'raft');
    const first = await member(raftPath, 1);
    const holder = first.node.spawn(async (ctx) => {
      await ctx.receive();
    });
    await first.group.ready();
    const { revision } = await first.group.register('svc', holder);
    const stopStarted = performance.now();
    await first.node.stop();
    // Every process ended on the shutdown signal: nothing waited out stopTimeoutMs (10 s) for a kill.
    expect(performance.now() - stopStarted).toBeLessThan(5_000);
    expect(first.group.closed).toBe(true);
    await expect(first.group.register('other', holder)).rejects.toSatisfy((error: unknown) => isFedError(error));

    const second = await member(raftPath, 2);
    try {
      // The log survived the stop (the restarted member then releases the old incarnation's name).
      expect(second.group.status().lastIndex).toBeGreaterThanOrEqual(revision);
    } finally {
      await second.node.stop();
    }
  });
  it('group lifecycle — ready() waits for a leader; a member that is in no group yet times out with a typed error', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedctl-lifecycle-'));
    made.push(root);
    const node = new Node({ name: 'loner@127.0.0.1', stopTimeoutMs: 2_000 });
    const distribution = await Distribution.start({ node, cookie: 'lifecycle', cluster: 'lifecycle' });
    const group = await Group.open({ node, distribution, group: 'g1', address: distribution.address, raftPath: join(root, 'raft'), tickMs: 10 });
    try {
      const error = await group.ready({ timeoutMs: 200 }).catch((caught: unknown) => caught);
      expect(isFedError(error, 'timeout')).toBe(true);
      const aborted = new AbortController();
      aborted.abort(new Error('gave up'));
      await expect(group.ready({ signal: aborted.signal })).rejects.toThrow('gave up');
    } finally {
      await node.stop();
    }
  });

  it('group lifecycle — Group.open needs exactly one place for the Raft state: a data directory, a store or memory (tests only)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedctl-lifecycle-'));
    made.push(root);
    const node = new Node({ name: 'nowhere@127.0.0.1', stopTimeoutMs: 2_000 });
    const distribution = await Distribution.start({ node, cookie: 'lifecycle', cluster: 'lifecycle' });
    try {
      const base = { node, distribution, group: 'g1', address: distribution.address, bootstrap: true } as const;
      // No silent memory store: a member that forgot its data directory would come back empty.
      const none = await Group.open(base).catch((caught: unknown) => caught);
      expect(isFedError(none, 'config')).toBe(true);
      expect((none as Error).message).toMatch(/give raftPath .* or memory: true/);
      const both = await Group.open({ ...base, raftPath: join(root, 'raft'), memory: true }).catch((caught: unknown) => caught);
      expect(isFedError(both, 'config')).toBe(true);
      expect((both as Error).message).toMatch(/not several/);
      // Nothing was created for the refused one.
      expect(existsSync(join(root, 'raft'))).toBe(false);
    } finally {
      await distribution.close();
      await node.stop();
    }
  });
});
