// A node's lifecycle: stop() ends every process (shutdown, then kill after the timeout), is
// idempotent, clears every timer, refuses later spawns; bad options are typed errors; a dying
// process never leaks an unhandled rejection. test/setup.ts fails this file on leaked handles.
import { describe, expect, it } from 'vitest';
import { SystemClock } from '../../runtime/kernel/clock.js';
import { isFedError } from '../../runtime/kernel/errors.js';
import { Node } from '../../runtime/node.js';
import type { Pid } from '../../runtime/pid.js';
import { settle } from './runtime-helpers.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isFedError(error) ? error.code : 'untyped';
  }
  return undefined;
}

describe('node — lifecycle', () => {
  it('stop() ends every process, clears their timers, and is idempotent', async () => {
    const clock = new SystemClock();
    const node = new Node({ name: 'life@127.0.0.1', clock });
    await node.start();
    await node.start();
    for (let index = 0; index < 100; index++) {
      node.spawn(async (ctx) => {
        await ctx.receive(undefined, 60_000);
      });
    }
    await settle();
    expect(node.processCount()).toBe(100);
    expect(clock.pendingTimers).toBe(100);
    const first = node.stop();
    const second = node.stop();
    expect(second).toBe(first);
    await first;
    expect(node.processCount()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(codeOf(() => node.spawn(() => undefined))).toBe('shutdown');
    await expect(node.start()).rejects.toMatchObject({ code: 'closed' });
  });

  it('a process that ignores shutdown is killed after stopTimeoutMs', async () => {
    const node = new Node({ name: 'life@127.0.0.1', stopTimeoutMs: 20 });
    const log: unknown[] = [];
    node.spawn(async (ctx) => {
      ctx.trapExit(true);
      try {
        for (;;) log.push(await ctx.receive());
      } finally {
        log.push(`finally alive=${ctx.alive}`);
      }
    });
    await settle();
    await node.stop();
    await settle();
    expect(log).toMatchObject([{ type: 'EXIT', reason: 'shutdown' }, 'finally alive=false']);
    expect(node.processCount()).toBe(0);
  });

  it('await using stops the node at the end of the block', async () => {
    let escaped: Node | undefined;
    {
      await using node = new Node({ name: 'scoped@127.0.0.1' });
      node.spawn(async (ctx) => {
        await ctx.receive();
      });
      escaped = node;
    }
    expect(escaped.processCount()).toBe(0);
    expect(codeOf(() => escaped?.spawn(() => undefined))).toBe('shutdown');
  });

  it('rejects a bad node name or creation with badarg', () => {
    expect(codeOf(() => new Node({ name: 'no-host' }))).toBe('badarg');
    expect(codeOf(() => new Node({ name: 'a@h', creation: -1 }))).toBe('badarg');
    expect(codeOf(() => new Node({ name: 'a@h', creation: 1.5 }))).toBe('badarg');
  });
});

describe('node — fairness', () => {
  it('an endless ping-pong pair and a draining consumer do not starve timers or the event loop', async () => {
    const node = new Node({ name: 'busy@127.0.0.1' });
    let rallies = 0;
    const pong = node.spawn(async (ctx) => {
      for (;;) ctx.send((await ctx.receive()) as Pid, 'pong');
    });
    node.spawn(async (ctx) => {
      for (;;) {
        ctx.send(pong, ctx.self);
        await ctx.receive();
        rallies++;
      }
    });
    const drainer = node.spawn(async (ctx) => {
      for (;;) await ctx.receive();
    });
    for (let index = 0; index < 100_000; index++) node.send(drainer, index);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const atTimer = rallies;
    await new Promise((resolve) => setImmediate(resolve));
    expect(atTimer).toBeGreaterThan(0);
    expect(rallies).toBeGreaterThan(atTimer);
    await node.stop();
  });
});

describe('node — crash containment', () => {
  it('a body returning a thenable whose then throws dies with that error; the batch goes on', async () => {
    const node = new Node({ name: 'crash@127.0.0.1' });
    const started: string[] = [];
    const reason = node.run(async (ctx) => {
      ctx.spawnMonitor(() => ({
        then() {
          throw new Error('bad thenable');
        },
      }));
      ctx.spawn(() => {
        started.push('next in batch');
      });
      return ((await ctx.receive()) as { reason: unknown }).reason;
    });
    expect(await reason).toMatchObject({ error: 'bad thenable' });
    expect(started).toEqual(['next in batch']);
    expect(() => node.spawn(() => undefined, { mailboxMessagesMax: -1 })).toThrow();
    await settle();
    expect(node.processCount()).toBe(0);
    await node.stop();
  });

  it('odd throws and abandoned receives of dying processes leak no unhandled rejection', async () => {
    const node = new Node({ name: 'crash@127.0.0.1' });
    node.spawn(() => {
      throw 'a string';
    });
    node.spawn(async () => {
      throw undefined;
    });
    node.spawn(async () => {
      throw Object.create(null);
    });
    const abandoned = node.spawn(async (ctx) => {
      void ctx.receive(); // never awaited
      await new Promise(() => undefined);
    });
    await settle();
    node.exit(abandoned, 'kill');
    await settle();
    expect(node.processCount()).toBe(0);
    await node.stop();
  });
});
