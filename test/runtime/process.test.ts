// Processes on one node: spawn, send, selective receive with timeouts, names, isAlive, crash
// isolation, and what a dead process can still do. Real nodes and processes; messages observed
// through the processes' own receives.
import { describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/kernel/errors.js';
import { Node } from '../../runtime/node.js';
import { Pid } from '../../runtime/pid.js';
import { type DownMessage, TIMEOUT, isDownMessage, isProcessExited } from '../../runtime/process.js';
import { NODE_NAME, exitReasonOf, settle, spawnCollector, withNode } from './runtime-helpers.js';

describe('spawn and send — basics', () => {
  it('spawn returns a pid of this node; the process runs after spawn returns', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const pid = node.spawn(() => {
        events.push('ran');
      });
      events.push('returned');
      expect(pid.node).toBe(NODE_NAME);
      expect(pid.creation).toBe(node.creation);
      await settle();
      expect(events).toEqual(['returned', 'ran']);
      expect(node.isAlive(pid)).toBe(false);
    });
  });

  it('processes start in spawn order with their own functions, children spawned while starting included; one killed first never runs', async () => {
    // Proves the run queue (runs of one function) starts every process once, in order, with the
    // right function — across changes of function, nested spawns and a table compaction.
    await withNode(async (node) => {
      const started: string[] = [];
      const child = (): void => {
        started.push('child');
      };
      const a = (ctx: { self: Pid }): void => {
        started.push(`a${ctx.self.id}`);
      };
      const b = (ctx: { self: Pid; spawn(fn: () => void): Pid }): void => {
        started.push(`b${ctx.self.id}`);
        ctx.spawn(child);
      };
      const first = node.spawn(a);
      const second = node.spawn(a);
      const third = node.spawn(b);
      const fourth = node.spawn(a);
      node.exit(second, 'kill');
      await settle();
      expect(started).toEqual([`a${first.id}`, `b${third.id}`, `a${fourth.id}`, 'child']);

      // Enough kills before starting to compact the process table: the survivors still start.
      started.length = 0;
      const victims: Pid[] = [];
      for (let index = 0; index < 3_000; index++) victims.push(node.spawn(a));
      const late = node.spawn(b);
      for (const pid of victims.slice(0, 2_500)) node.exit(pid, 'kill');
      await settle();
      expect(started).toEqual([...victims.slice(2_500).map((pid) => `a${pid.id}`), `b${late.id}`, 'child']);
      expect(node.processCount()).toBe(0);
    });
  });

  it('a message round trip between two processes', async () => {
    await withNode(async (node) => {
      const echo = node.spawn(async (ctx) => {
        const msg = await ctx.receive<{ from: Pid; text: string }>();
        ctx.send(msg.from, msg.text.toUpperCase());
      });
      const answer = await node.run(async (ctx) => {
        ctx.send(echo, { from: ctx.self, text: 'hi' });
        return ctx.receive<string>();
      });
      expect(answer).toBe('HI');
    });
  });

  it('send to a dead pid, an older creation or another node never throws', async () => {
    await withNode(async (node) => {
      const pid = node.spawn(() => undefined);
      await settle();
      expect(node.isAlive(pid)).toBe(false);
      expect(() => node.send(pid, 'late')).not.toThrow();
      expect(() => node.send(new Pid(NODE_NAME, 1, node.creation + 7), 'x')).not.toThrow();
      expect(() => node.send(new Pid('other@127.0.0.1', 1, 1), 'x')).not.toThrow();
      expect(() => node.send({ name: 'nobody', node: NODE_NAME }, 'x')).not.toThrow();
    });
  });

  it('send to a local name nobody holds throws badarg', async () => {
    await withNode(async (node) => {
      let thrown: unknown;
      try {
        node.send('nobody', 'x');
      } catch (error) {
        thrown = error;
      }
      expect(isFedError(thrown, 'badarg')).toBe(true);
    });
  });

  it('processes are independent: a crash leaves the node and other processes running', async () => {
    await withNode(async (node) => {
      const survivor = spawnCollector(node);
      const crasher = node.spawn(async (ctx) => {
        await ctx.receive();
        throw new Error('boom');
      });
      const syncReason = node.run(async (ctx) => {
        const { ref } = ctx.spawnMonitor(() => {
          throw new TypeError('sync boom');
        });
        const down = await ctx.receive((msg) => isDownMessage(msg) && msg.ref.equals(ref));
        return (down as DownMessage).reason;
      });
      const reason = exitReasonOf(node, crasher);
      node.send(crasher, 'go');
      expect(await reason).toMatchObject({ error: 'boom' });
      expect(await syncReason).toMatchObject({ error: 'sync boom' });
      node.send(survivor.pid, 'still here');
      await settle();
      expect(survivor.messages).toEqual(['still here']);
      expect(node.isAlive(survivor.pid)).toBe(true);
    });
  });

  it('a thrown FedError keeps its code in the exit reason', async () => {
    await withNode(async (node) => {
      const pid = node.spawn(async (ctx) => {
        await ctx.receive();
        node.send('no-such-name', 1);
      });
      const reason = exitReasonOf(node, pid);
      node.send(pid, 'go');
      expect(await reason).toMatchObject({ code: 'badarg' });
    });
  });
});

describe('receive — selective, ordered, with timeouts', () => {
  it('keeps unmatched messages queued in arrival order', async () => {
    await withNode(async (node) => {
      const got = await node.run(async (ctx) => {
        for (const msg of ['a', 1, 'b', 2, 'c', 3]) ctx.send(ctx.self, msg);
        const numbers = [
          await ctx.receive((msg) => typeof msg === 'number'),
          await ctx.receive((msg) => typeof msg === 'number'),
        ];
        const rest: unknown[] = [];
        while (ctx.messageCount() > 0) rest.push(await ctx.receive());
        return { numbers, rest };
      });
      expect(got).toEqual({ numbers: [1, 2], rest: ['a', 'b', 'c', 3] });
    });
  });

  it('a waiting receive skips non-matching arrivals and takes the first match', async () => {
    await withNode(async (node) => {
      const result: unknown[] = [];
      const pid = node.spawn(async (ctx) => {
        result.push(await ctx.receive((msg) => msg === 'wanted'));
        result.push(await ctx.receive(), await ctx.receive());
      });
      await settle();
      node.send(pid, 'first');
      node.send(pid, 'second');
      node.send(pid, 'wanted');
      await exitReasonOf(node, pid);
      expect(result).toEqual(['wanted', 'first', 'second']);
    });
  });

  it('times out with TIMEOUT, polls with 0, and a timed-out receive leaves the mailbox alone', async () => {
    await withNode(async (node) => {
      const got = await node.run(async (ctx) => {
        ctx.send(ctx.self, 'other');
        const polled = await ctx.receive((msg) => msg === 'x', 0);
        const waited = await ctx.receive((msg) => msg === 'x', 10);
        const remaining = await ctx.receive(undefined, 0);
        return { polled, waited, remaining };
      });
      expect(got).toEqual({ polled: TIMEOUT, waited: TIMEOUT, remaining: 'other' });
    });
  });

  it('a message arriving before the timeout wins and the timer is cleared', async () => {
    await withNode(async (node) => {
      const pid = node.spawn(async (ctx) => {
        const msg = await ctx.receive(undefined, 10_000);
        ctx.send('observer', msg);
      });
      const answer = node.run(async (ctx) => {
        ctx.register('observer');
        ctx.send(pid, 'in time');
        return ctx.receive();
      });
      expect(await answer).toBe('in time');
      // test/setup.ts fails this file if the 10 s timer were left behind.
    });
  });

  it('two receives at once in one process are a badarg', async () => {
    await withNode(async (node) => {
      const outcome = await node.run(async (ctx) => {
        const first = ctx.receive(undefined, 5);
        try {
          await ctx.receive();
          return 'no error';
        } catch (error) {
          return isFedError(error, 'badarg') ? 'badarg' : String(error);
        } finally {
          await first;
        }
      });
      expect(outcome).toBe('badarg');
    });
  });

  it('a receive predicate that throws ends that process, not the sender', async () => {
    await withNode(async (node) => {
      const picky = node.spawn(async (ctx) => {
        await ctx.receive(() => {
          throw new Error('bad predicate');
        });
      });
      const reason = exitReasonOf(node, picky);
      await settle();
      node.send(picky, 'anything');
      expect(await reason).toMatchObject({ error: 'bad predicate' });
    });
  });

  it('a mailbox over its bound kills its process with mailbox_full; the sender is unaffected', async () => {
    await withNode(
      async (node) => {
        const small = node.spawn(async (ctx) => {
          await ctx.receive((msg) => msg === 'never sent');
        }, { mailboxMessagesMax: 3 });
        const big = node.spawn(async (ctx) => {
          await ctx.receive((msg) => msg === 'never sent');
        });
        const smallReason = exitReasonOf(node, small);
        const bigReason = exitReasonOf(node, big);
        await settle();
        for (let index = 0; index < 5; index++) {
          node.send(small, index);
          node.send(big, index);
        }
        expect(await smallReason).toMatchObject({ code: 'mailbox_full' });
        node.send(big, 'one too many');
        expect(await bigReason).toMatchObject({ code: 'mailbox_full' });
        expect(() => node.spawn(() => undefined, { mailboxMessagesMax: 0 })).toThrow(/mailboxMessagesMax/);
      },
      { mailboxMessagesMax: 5 },
    );
  });

  it('sleep waits without taking messages', async () => {
    await withNode(async (node) => {
      const left = await node.run(async (ctx) => {
        ctx.send(ctx.self, 'kept');
        await ctx.sleep(5);
        return ctx.receive(undefined, 0);
      });
      expect(left).toBe('kept');
    });
  });
});

describe('names — register, whereis, unregister', () => {
  it('registers, sends by name, frees the name when the process dies', async () => {
    await withNode(async (node) => {
      const collector = spawnCollector(node);
      node.register('logger', collector.pid);
      expect(node.whereis('logger')?.equals(collector.pid)).toBe(true);
      node.send('logger', 'by name');
      node.send({ name: 'logger', node: NODE_NAME }, 'by name at node');
      await settle();
      expect(collector.messages).toEqual(['by name', 'by name at node']);
      node.exit(collector.pid, 'kill');
      expect(node.whereis('logger')).toBeUndefined();
      expect(node.registeredNames()).toEqual([]);
    });
  });

  it('refuses a taken name, a second name, a dead pid and bad names with typed errors', async () => {
    await withNode(async (node) => {
      const a = spawnCollector(node).pid;
      const b = spawnCollector(node).pid;
      node.register('a', a);
      const dead = node.spawn(() => undefined);
      await settle();
      const codeOf = (fn: () => void): string | undefined => {
        try {
          fn();
        } catch (error) {
          return isFedError(error) ? error.code : 'untyped';
        }
        return undefined;
      };
      expect(codeOf(() => node.register('a', b))).toBe('name_taken');
      expect(codeOf(() => node.register('other', a))).toBe('badarg');
      expect(codeOf(() => node.register('ghost', dead))).toBe('noproc');
      expect(codeOf(() => node.register('', b))).toBe('badarg');
      expect(codeOf(() => node.unregister('never'))).toBe('badarg');
      expect(codeOf(() => node.spawn(() => undefined, { name: 'a' }))).toBe('name_taken');
      node.unregister('a');
      expect(node.whereis('a')).toBeUndefined();
      node.register('a', b);
      expect(node.whereis('a')?.equals(b)).toBe(true);
    });
  });
});

describe('isAlive and creation', () => {
  it('a pid of an older creation of this node is dead; a remote pid is a badarg', async () => {
    const old = new Node({ name: NODE_NAME, creation: 1 });
    const oldPid = old.spawn(async (ctx) => {
      await ctx.receive();
    });
    const current = new Node({ name: NODE_NAME, creation: 2 });
    try {
      const pid = current.spawn(async (ctx) => {
        await ctx.receive();
      });
      expect(pid.id).toBe(oldPid.id);
      expect(current.isAlive(pid)).toBe(true);
      expect(current.isAlive(oldPid)).toBe(false);
      expect(() => current.isAlive(new Pid('far@127.0.0.1', 1, 1))).toThrow();
    } finally {
      await old.stop();
      await current.stop();
    }
  });
});

describe('dead processes — stop acting', () => {
  it('a process killed while awaiting something else throws PROCESS_EXITED at its next operation', async () => {
    await withNode(async (node) => {
      const observer = spawnCollector(node);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let caught: unknown;
      const pid = node.spawn(async (ctx) => {
        await gate;
        try {
          ctx.send(observer.pid, 'acted after death');
        } catch (error) {
          caught = error;
        }
      });
      await settle();
      node.exit(pid, 'kill');
      release();
      await settle();
      expect(isProcessExited(caught)).toBe(true);
      expect(observer.messages).toEqual([]);
    });
  });

  it('a killed process waiting in receive unwinds: its finally runs, its signal is aborted', async () => {
    await withNode(async (node) => {
      const log: string[] = [];
      let signal: AbortSignal | undefined;
      const pid = node.spawn(async (ctx) => {
        signal = ctx.signal;
        try {
          await ctx.receive();
        } finally {
          log.push(`finally, alive=${ctx.alive}`);
        }
      });
      await settle();
      node.exit(pid, 'kill');
      await settle();
      expect(log).toEqual(['finally, alive=false']);
      expect(signal?.aborted).toBe(true);
      expect(signal?.reason).toBe('killed');
    });
  });

  it('exitSelf ends the process with the given reason', async () => {
    await withNode(async (node) => {
      const pid = node.spawn(async (ctx) => {
        await ctx.receive();
        ctx.exitSelf({ shutdown: 'done' });
      });
      await settle();
      const reason = exitReasonOf(node, pid);
      node.send(pid, 'go');
      expect(await reason).toEqual({ shutdown: 'done' });
    });
  });
});
