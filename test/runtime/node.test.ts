// A node's lifecycle: stop() ends every process (shutdown, then kill after the timeout), is
// idempotent, clears every timer, refuses later spawns, then closes its attachments (onStop
// hooks, last attached first, each bounded by stopTimeoutMs, failures reported after all ran);
// bad options are typed errors; a dying process never leaks an unhandled rejection.
// test/setup.ts fails this file on leaked handles.
import { describe, expect, it } from 'vitest';
import { SystemClock } from '../../runtime/kernel/clock.js';
import { isFedError } from '../../runtime/kernel/errors.js';
import { Node } from '../../runtime/node.js';
import type { Pid } from '../../runtime/pid.js';
import { settle } from './runtime-helpers.js';

/**
 * A stand-in for an attachment such as the distribution: it holds a real handle (a heartbeat
 * interval on the real clock) and registers itself with the node, as Distribution.start does.
 */
class FakeAttachment {
  readonly #heartbeat: NodeJS.Timeout;
  closed = false;
  processesAtClose: number | undefined;

  constructor(
    readonly node: Node,
    readonly name: string,
    readonly events: string[],
  ) {
    this.#heartbeat = setInterval(() => undefined, 1_000);
    node.onStop(() => this.close());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.processesAtClose = this.node.processCount();
    await new Promise((resolve) => setTimeout(resolve, 1)); // an asynchronous close, like a socket's
    clearInterval(this.#heartbeat);
    this.closed = true;
    this.events.push(`closed ${this.name}`);
  }
}

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

  it('stop() closes every attachment after the processes have ended, last attached first', async () => {
    const node = new Node({ name: 'attached@127.0.0.1' });
    await node.start();
    const events: string[] = [];
    node.spawn(async (ctx) => {
      try {
        await ctx.receive();
      } finally {
        events.push('process ended');
      }
    });
    const first = new FakeAttachment(node, 'first', events);
    const second = new FakeAttachment(node, 'second', events);
    await settle();
    await node.stop();
    expect(events).toEqual(['process ended', 'closed second', 'closed first']);
    expect([first.closed, second.closed]).toEqual([true, true]);
    expect([first.processesAtClose, second.processesAtClose]).toEqual([0, 0]);
    // A second stop() does not run the hooks again.
    await node.stop();
    expect(events.length).toBe(3);
  });

  it('onStop — an unregistered hook does not run; a failing hook does not keep the others from running', async () => {
    const node = new Node({ name: 'hooks@127.0.0.1' });
    const events: string[] = [];
    node.onStop(() => {
      events.push('oldest');
    });
    const unregister = node.onStop(() => {
      events.push('unregistered');
    });
    node.onStop(() => {
      throw new Error('cannot close');
    });
    node.onStop(async () => {
      events.push('newest');
    });
    unregister();
    unregister(); // idempotent
    let failure: unknown;
    try {
      await node.stop();
    } catch (error) {
      failure = error;
    }
    expect((failure as Error | undefined)?.message).toBe('cannot close');
    expect(events).toEqual(['newest', 'oldest']);
    expect(codeOf(() => node.spawn(() => undefined))).toBe('shutdown');
    expect(codeOf(() => node.onStop(() => undefined))).toBe('closed');
  });

  it('onStop — a hook that never finishes is abandoned after stopTimeoutMs with a typed timeout', async () => {
    const node = new Node({ name: 'hung@127.0.0.1', stopTimeoutMs: 20 });
    const events: string[] = [];
    node.onStop(() => {
      events.push('after the hung one');
    });
    node.onStop(() => new Promise<void>(() => undefined));
    await expect(node.stop()).rejects.toMatchObject({ code: 'timeout' });
    expect(events).toEqual(['after the hung one']);
  });

  it('onStop — a hook that is not a function is a badarg', () => {
    const node = new Node({ name: 'bad@127.0.0.1' });
    expect(codeOf(() => node.onStop(undefined as never))).toBe('badarg');
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
