// The GenServer behaviour: init/handleCall/handleCast/handleInfo/terminate, typed call errors
// (timeout, noproc, exited), deferred replies, and the guarantee that a late reply never lands
// in the caller's mailbox. Real servers on a real node.
import { describe, expect, it } from 'vitest';
import { WAKEUPS_PER_TURN_MAX } from '../../runtime/engine.js';
import { SimulatedClock } from '../../runtime/kernel/clock.js';
import { isFedError } from '../../runtime/kernel/errors.js';
import type { Node } from '../../runtime/node.js';
import type { Pid } from '../../runtime/pid.js';
import { TIMEOUT } from '../../runtime/process.js';
import { type From, type ServerBehaviour, call, cast, reply, startServer, stopServer } from '../../runtime/server.js';
import { exitReasonOf, settle, spawnCollector, withNode } from './runtime-helpers.js';

interface CounterState {
  count: number;
  log: string[];
}

const counter: ServerBehaviour<CounterState, { start: number; log: string[] }> = {
  init: ({ start, log }) => ({ count: start, log }),
  handleCall(request, _from, state) {
    if (request === 'get') return { reply: state.count, state };
    if (request === 'crash') throw new Error('asked to crash');
    if (request === 'stop') return { stop: 'normal', reply: 'stopping', state };
    return { reply: 'unknown', state };
  },
  handleCast(request, state) {
    if (request === 'increment') return { state: { ...state, count: state.count + 1 } };
    return { state };
  },
  handleInfo(msg, state) {
    state.log.push(`info:${String(msg)}`);
    return { state };
  },
  terminate(reason, state) {
    state.log.push(`terminate:${typeof reason === 'string' ? reason : JSON.stringify(reason)}`);
  },
};

function queueLength(node: Node, pid: Pid): number | undefined {
  return [...node.processInfo()].find((info) => info.pid.equals(pid))?.messageQueueLength;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return isFedError(error) ? error.code : `untyped: ${String(error)}`;
  }
}

describe('server — calls, casts and info', () => {
  it('answers calls, applies casts in order, hands other messages to handleInfo', async () => {
    await withNode(async (node) => {
      const log: string[] = [];
      const pid = await startServer(node, counter, { start: 10, log }, { name: 'counter' });
      expect(await call(node, pid, 'get')).toBe(10);
      cast(node, 'counter', 'increment');
      cast(node, pid, 'increment');
      expect(await call(node, 'counter', 'get')).toBe(12);
      node.send(pid, 'hello');
      await settle();
      expect(log).toEqual(['info:hello']);
    });
  });

  it('a call from inside a process works the same', async () => {
    await withNode(async (node) => {
      const pid = await startServer(node, counter, { start: 1, log: [] });
      const value = await node.run(async (ctx) => {
        cast(ctx, pid, 'increment');
        return call<number>(ctx, pid, 'get');
      });
      expect(value).toBe(2);
    });
  });

  it('a handler that throws ends the server after terminate; the caller gets exited', async () => {
    await withNode(async (node) => {
      const log: string[] = [];
      const pid = await startServer(node, counter, { start: 0, log });
      const reason = exitReasonOf(node, pid);
      let error: unknown;
      try {
        await call(node, pid, 'crash');
      } catch (caught) {
        error = caught;
      }
      expect(isFedError(error, 'exited')).toBe(true);
      expect((error as { details: { reason: unknown } }).details.reason).toMatchObject({ error: 'asked to crash' });
      expect(await reason).toMatchObject({ error: 'asked to crash' });
      expect(log).toEqual(['terminate:' + JSON.stringify(await reason)]);
    });
  });

  it('stop from handleCall replies first, then runs terminate and exits normally', async () => {
    await withNode(async (node) => {
      const log: string[] = [];
      const pid = await startServer(node, counter, { start: 0, log });
      const reason = exitReasonOf(node, pid);
      expect(await call(node, pid, 'stop')).toBe('stopping');
      expect(await reason).toBe('normal');
      expect(log).toEqual(['terminate:normal']);
    });
  });

  it('stopServer runs terminate with the reason and resolves once the server is gone', async () => {
    await withNode(async (node) => {
      const log: string[] = [];
      const pid = await startServer(node, counter, { start: 0, log }, { name: 'c' });
      await stopServer(node, 'c', 'shutdown');
      expect(node.isAlive(pid)).toBe(false);
      expect(node.whereis('c')).toBeUndefined();
      expect(log).toEqual(['terminate:shutdown']);
    });
  });

  it('a deferred reply (noreply, then reply) reaches the caller', async () => {
    await withNode(async (node) => {
      const deferred: ServerBehaviour<{ waiting: From | undefined }> = {
        init: () => ({ waiting: undefined }),
        handleCall(request, from, state) {
          if (request === 'wait') return { noreply: true, state: { waiting: from } };
          if (state.waiting !== undefined) reply(state.waiting, `released by ${String(request)}`);
          return { reply: 'ok', state: { waiting: undefined } };
        },
      };
      const pid = await startServer(node, deferred, undefined);
      const waiting = call(node, pid, 'wait');
      await settle();
      expect(await call(node, pid, 'release')).toBe('ok');
      expect(await waiting).toBe('released by release');
    });
  });
});

describe('server — call errors', () => {
  it('noproc for a dead pid and for an unregistered name', async () => {
    await withNode(async (node) => {
      const pid = await startServer(node, counter, { start: 0, log: [] });
      await stopServer(node, pid);
      expect(await codeOf(call(node, pid, 'get'))).toBe('noproc');
      expect(await codeOf(call(node, 'nobody', 'get'))).toBe('noproc');
    });
  });

  it('timeout; and a late reply never lands in the caller mailbox', async () => {
    await withNode(async (node) => {
      const slow: ServerBehaviour<null> = {
        init: () => null,
        async handleCall(_request, _from, state, ctx) {
          await ctx.sleep(30);
          return { reply: 'late', state };
        },
      };
      const pid = await startServer(node, slow, undefined);
      const outcome = await node.run(async (ctx) => {
        let code = 'resolved';
        try {
          await call(ctx, pid, 'anything', 5);
        } catch (error) {
          code = isFedError(error) ? error.code : 'untyped';
        }
        // Wait past the server's reply, then look at the whole mailbox.
        const afterwards = await ctx.receive(undefined, 60);
        return { code, afterwards, queued: ctx.messageCount() };
      });
      expect(outcome).toEqual({ code: 'timeout', afterwards: TIMEOUT, queued: 0 });
    });
  });

  it('timeout whose wake-up is deferred past a busy turn; a reply sent before the caller resumes never lands in its mailbox', async () => {
    // Proves the call's alias ends at the timeout itself, not when the caller resumes: the
    // turn's wake-up budget is spent first (a busy process), so the timeout's wake-up waits for
    // the engine's next turn, and the server replies in that gap. The simulated clock fires the
    // timeout exactly there; an immediate queued before the budget runs out runs before the
    // engine's flush of deferred wake-ups.
    const clock = new SimulatedClock();
    await withNode(
      async (node) => {
        let parked: From | undefined;
        let callArrived!: () => void;
        const arrived = new Promise<void>((resolve) => {
          callArrived = resolve;
        });
        const holding: ServerBehaviour<null> = {
          init: () => null,
          handleCall(_request, from, state) {
            parked = from;
            callArrived();
            return { noreply: true, state };
          },
        };
        const server = await startServer(node, holding, undefined);
        const busy = node.spawn(async (ctx) => {
          for (;;) await ctx.receive();
        });
        let caller: Pid | undefined;
        const outcome = node.run(async (ctx) => {
          caller = ctx.self;
          const code = await codeOf(call(ctx, server, 'hold', 10));
          return { code, queued: ctx.messageCount() };
        });
        await arrived;
        const beforeFlush = new Promise((resolve) => setImmediate(resolve));
        for (let index = 0; index <= 2 * WAKEUPS_PER_TURN_MAX; index++) node.send(busy, index);
        await beforeFlush;
        expect(queueLength(node, busy)).toBeGreaterThan(0); // the budget is spent: wake-ups are deferred
        clock.advance(10);
        reply(parked as From, 'too late');
        expect(queueLength(node, caller as Pid)).toBe(0); // dropped at once, not queued
        expect(await outcome).toEqual({ code: 'timeout', queued: 0 });
      },
      { clock },
    );
  });

  it('a second reply to the same call never lands in the caller mailbox', async () => {
    // Proves the alias ends with the first reply: a handler that replies twice in a row sends
    // both before the caller resumes.
    await withNode(async (node) => {
      let queuedAfterSecond: number | undefined;
      const twice: ServerBehaviour<null> = {
        init: () => null,
        handleCall(_request, from, state) {
          reply(from, 'first');
          reply(from, 'second');
          queuedAfterSecond = queueLength(node, from.pid); // dropped at once, not queued
          return { noreply: true, state };
        },
      };
      const server = await startServer(node, twice, undefined);
      const outcome = await node.run(async (ctx) => {
        const value = await call(ctx, server, 'twice');
        return { value, queued: ctx.messageCount() };
      });
      expect(queuedAfterSecond).toBe(0);
      expect(outcome).toEqual({ value: 'first', queued: 0 });
    });
  });

  it('a reply that follows the DOWN before the caller resumes never lands in the caller mailbox', async () => {
    // Proves the call drops replies queued after its DOWN: the server hands the caller's From to
    // a helper and dies; the helper (woken first) replies before the caller resumes with exited.
    await withNode(async (node) => {
      const helper = node.spawn(async (ctx) => {
        const from = await ctx.receive<From>();
        reply(from, 'from the helper');
      });
      const delegating: ServerBehaviour<null> = {
        init: () => null,
        handleCall(_request, from, _state, ctx) {
          ctx.send(helper, from);
          return ctx.exitSelf('gone');
        },
      };
      const server = await startServer(node, delegating, undefined);
      const outcome = await node.run(async (ctx) => {
        const code = await codeOf(call(ctx, server, 'delegate'));
        return { code, queued: ctx.messageCount() };
      });
      expect(outcome).toEqual({ code: 'exited', queued: 0 });
      expect(node.isAlive(helper)).toBe(false); // it did reply
    });
  });

  it('a server calling itself is a badarg, not a deadlock', async () => {
    await withNode(async (node) => {
      const selfish: ServerBehaviour<null> = {
        init: () => null,
        async handleCall(request, _from, state, ctx) {
          if (request === 'outer') {
            const code = await codeOf(call(ctx, 'selfish', 'inner'));
            return { reply: code, state };
          }
          return { reply: 'inner', state };
        },
      };
      await startServer(node, selfish, undefined, { name: 'selfish' });
      expect(await call(node, 'selfish', 'outer')).toBe('badarg');
    });
  });

  it('exited when the server dies while handling the call', async () => {
    await withNode(async (node) => {
      const dying: ServerBehaviour<null> = {
        init: () => null,
        handleCall(_request, _from, _state, ctx) {
          return ctx.exitSelf('gone');
        },
      };
      const pid = await startServer(node, dying, undefined);
      expect(await codeOf(call(node, pid, 'x'))).toBe('exited');
    });
  });
});

describe('server — start', () => {
  it('init failure rejects start with the error, and a linked starter is not killed', async () => {
    await withNode(async (node) => {
      const failing: ServerBehaviour<null> = {
        init: () => {
          throw new Error('cannot init');
        },
      };
      const outcome = await node.run(async (ctx) => {
        try {
          await startServer(ctx, failing, undefined, { link: true });
          return 'started';
        } catch (error) {
          await ctx.sleep(5);
          return `${(error as Error).message}; starter alive: ${ctx.alive}`;
        }
      });
      expect(outcome).toBe('cannot init; starter alive: true');
      await settle();
      expect(node.processCount()).toBe(0);
    });
  });

  it('a taken name rejects name_taken and starts nothing', async () => {
    await withNode(async (node) => {
      await startServer(node, counter, { start: 0, log: [] }, { name: 'one' });
      expect(await codeOf(startServer(node, counter, { start: 0, log: [] }, { name: 'one' }))).toBe('name_taken');
      expect(node.processCount()).toBe(1);
    });
  });

  it('init that takes too long is killed and start rejects timeout', async () => {
    await withNode(async (node) => {
      const stuck: ServerBehaviour<null> = {
        async init(_args, ctx) {
          await ctx.receive();
          return null;
        },
      };
      expect(await codeOf(startServer(node, stuck, undefined, { initTimeoutMs: 5 }))).toBe('timeout');
      await settle();
      expect(node.processCount()).toBe(0);
    });
  });

  it('a trapping linked server stops (running terminate) when its parent exits', async () => {
    await withNode(async (node) => {
      const log: string[] = [];
      const trapping: ServerBehaviour<null> = {
        init: (_args, ctx) => {
          ctx.trapExit(true);
          return null;
        },
        terminate: (reason) => {
          log.push(`terminate:${String(reason)}`);
        },
      };
      const report = spawnCollector(node);
      const parent = node.spawn(async (ctx) => {
        const pid = await startServer(ctx, trapping, undefined, { link: true });
        ctx.send(report.pid, pid);
        await ctx.receive();
      });
      while (report.messages.length === 0) await settle();
      const server = report.messages[0] as Pid;
      const serverReason = exitReasonOf(node, server);
      await settle();
      node.exit(parent, 'shutdown');
      expect(await serverReason).toBe('shutdown');
      expect(log).toEqual(['terminate:shutdown']);
    });
  });
});
