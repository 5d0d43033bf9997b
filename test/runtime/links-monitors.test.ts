// Links, exit signals, trapExit and monitors on one node, Erlang's rules included the awkward
// ones: a link to a dead pid gives noproc, a monitor on a dead pid gives an immediate DOWN,
// `kill` is untrappable and propagates as `killed`, `normal` is ignored unless sent to oneself.
// Observed through EXIT/DOWN messages of real processes.
import { describe, expect, it } from 'vitest';
import type { Node } from '../../runtime/node.js';
import type { Pid } from '../../runtime/pid.js';
import { type DownMessage, type ExitMessage, isDownMessage, isExitMessage } from '../../runtime/process.js';
import { exitReasonOf, settle, spawnCollector, withNode } from './runtime-helpers.js';

function idle(node: Node, options: { trapExit?: boolean } = {}): Pid {
  return node.spawn(async (ctx) => {
    for (;;) await ctx.receive();
  }, options);
}

async function deadPid(node: Node): Promise<Pid> {
  const pid = node.spawn(() => undefined);
  await settle();
  return pid;
}

describe('links — exit signals', () => {
  it('a crash propagates along a link and kills a non-trapping partner with the same reason', async () => {
    await withNode(async (node) => {
      const partner = node.spawn(async (ctx) => {
        ctx.spawnLink(async (child) => {
          await child.receive();
          throw new Error('child failed');
        }, { name: 'child' });
        await ctx.receive();
      });
      await settle();
      const reason = exitReasonOf(node, partner);
      await settle();
      node.send('child', 'fail now');
      expect(await reason).toMatchObject({ error: 'child failed' });
    });
  });

  it('a trapping process gets EXIT messages instead of dying', async () => {
    await withNode(async (node) => {
      const got = await node.run(async (ctx) => {
        ctx.trapExit(true);
        const child = ctx.spawnLink(() => {
          throw new Error('oops');
        });
        const exit = await ctx.receive(isExitMessage);
        return { fromChild: exit.from.equals(child), reason: exit.reason, alive: ctx.alive };
      });
      expect(got).toMatchObject({ fromChild: true, reason: { error: 'oops' }, alive: true });
    });
  });

  it('a normal exit does not kill a linked non-trapping process', async () => {
    await withNode(async (node) => {
      const got = await node.run(async (ctx) => {
        ctx.spawnLink(() => 'done');
        await ctx.sleep(5);
        return ctx.alive;
      });
      expect(got).toBe(true);
    });
  });

  it('link to an already-dead pid: non-trapping caller dies with noproc, trapping one gets EXIT noproc', async () => {
    await withNode(async (node) => {
      const dead = await deadPid(node);
      const caller = node.spawn(async (ctx) => {
        await ctx.receive();
        ctx.link(dead);
      });
      const reason = exitReasonOf(node, caller);
      await settle();
      node.send(caller, 'go');
      expect(await reason).toBe('noproc');

      const trapped = await node.run(async (ctx) => {
        ctx.trapExit(true);
        ctx.link(dead);
        return ctx.receive(isExitMessage);
      });
      expect(trapped.from.equals(dead)).toBe(true);
      expect(trapped.reason).toBe('noproc');
    });
  });

  it('unlink stops propagation', async () => {
    await withNode(async (node) => {
      const got = await node.run(async (ctx) => {
        const child = ctx.spawnLink(async (c) => {
          await c.receive();
          throw new Error('late failure');
        });
        ctx.unlink(child);
        ctx.send(child, 'fail');
        await ctx.sleep(5);
        return ctx.alive;
      });
      expect(got).toBe(true);
    });
  });

  it('a chain of 20,000 linked processes dies entirely without overflowing the stack', async () => {
    await withNode(async (node) => {
      const count = 20_000;
      const pids: Pid[] = [idle(node)];
      for (let index = 1; index < count; index++) {
        const previous = pids[index - 1] as Pid;
        pids.push(
          node.spawn(async (ctx) => {
            ctx.link(previous);
            await ctx.receive();
          }),
        );
      }
      await settle();
      expect(node.processCount()).toBe(count);
      node.exit(pids[0] as Pid, 'crash');
      expect(node.processCount()).toBe(0);
    });
  });
});

describe('exit/2 — kill, normal and self', () => {
  it('kill is untrappable and the victim dies with killed; its links see killed', async () => {
    await withNode(async (node) => {
      const watcher = spawnCollector(node, { trapExit: true });
      const victim = node.spawn(async (ctx) => {
        ctx.trapExit(true);
        ctx.link(watcher.pid);
        for (;;) await ctx.receive();
      });
      await settle();
      node.exit(victim, 'kill');
      await settle();
      expect(node.isAlive(victim)).toBe(false);
      expect(watcher.messages).toHaveLength(1);
      const exit = watcher.messages[0] as ExitMessage;
      expect(exit.from.equals(victim)).toBe(true);
      expect(exit.reason).toBe('killed');
    });
  });

  it('a link exit with reason kill is an ordinary, trappable reason', async () => {
    await withNode(async (node) => {
      const got = await node.run(async (ctx) => {
        ctx.trapExit(true);
        ctx.spawnLink((c) => c.exitSelf('kill'));
        return (await ctx.receive(isExitMessage)).reason;
      });
      expect(got).toBe('kill');
    });
  });

  it('exit(pid, normal) is ignored by a non-trapping process and delivered to a trapping one', async () => {
    await withNode(async (node) => {
      const plain = idle(node);
      const trapping = spawnCollector(node, { trapExit: true });
      await settle();
      node.exit(plain, 'normal');
      node.exit(trapping.pid, 'normal');
      await settle();
      expect(node.isAlive(plain)).toBe(true);
      expect(trapping.messages).toMatchObject([{ type: 'EXIT', reason: 'normal' }]);
      expect((trapping.messages[0] as ExitMessage).from.equals(node.outsidePid)).toBe(true);
    });
  });

  it('signals from one process to another keep their order: a message, then an exit signal', async () => {
    await withNode(async (node) => {
      const target = spawnCollector(node, { trapExit: true });
      await node.run(async (ctx) => {
        ctx.send(target.pid, 'first');
        ctx.exit(target.pid, 'second');
        ctx.send(target.pid, 'third');
      });
      await settle();
      expect(target.messages.map((msg) => (typeof msg === 'string' ? msg : (msg as ExitMessage).reason))).toEqual([
        'first',
        'second',
        'third',
      ]);
    });
  });

  it('exit(self, normal) ends a non-trapping process with normal', async () => {
    await withNode(async (node) => {
      const pid = node.spawn(async (ctx) => {
        await ctx.receive();
        ctx.exit(ctx.self, 'normal');
      });
      const reason = exitReasonOf(node, pid);
      await settle();
      node.send(pid, 'go');
      expect(await reason).toBe('normal');
    });
  });

  it('exit(pid, shutdown) kills a non-trapping process with shutdown', async () => {
    await withNode(async (node) => {
      const pid = idle(node);
      const reason = exitReasonOf(node, pid);
      await settle();
      node.exit(pid, 'shutdown');
      expect(await reason).toBe('shutdown');
    });
  });
});

describe('monitors — DOWN messages', () => {
  it('DOWN carries the ref, the pid and the reason; monitors are one-way', async () => {
    await withNode(async (node) => {
      const got = await node.run(async (ctx) => {
        const { pid, ref } = ctx.spawnMonitor(async (c) => {
          await c.receive();
          c.exitSelf('bye');
        });
        ctx.send(pid, 'go');
        const down = await ctx.receive(isDownMessage);
        return { sameRef: down.ref.equals(ref), samePid: (down.pid as Pid).equals(pid), reason: down.reason };
      });
      expect(got).toEqual({ sameRef: true, samePid: true, reason: 'bye' });
    });
  });

  it('a monitor on a dead pid gives an immediate DOWN noproc', async () => {
    await withNode(async (node) => {
      const dead = await deadPid(node);
      const down = await node.run(async (ctx) => {
        const ref = ctx.monitor(dead);
        const msg = await ctx.receive(undefined, 0);
        return { isDown: isDownMessage(msg), reason: (msg as DownMessage).reason, ref: (msg as DownMessage).ref.equals(ref) };
      });
      expect(down).toEqual({ isDown: true, reason: 'noproc', ref: true });
    });
  });

  it('monitoring a name reports the name; an unregistered name gives DOWN noproc', async () => {
    await withNode(async (node) => {
      const named = idle(node);
      node.register('svc', named);
      const got = await node.run(async (ctx) => {
        ctx.monitor('svc');
        ctx.monitor('missing');
        const missing = await ctx.receive(isDownMessage, 0);
        ctx.exit(named, 'kill');
        const gone = await ctx.receive(isDownMessage);
        return { missing, gone };
      });
      expect(got.missing).toMatchObject({ pid: { name: 'missing', node: node.name }, reason: 'noproc' });
      expect(got.gone).toMatchObject({ pid: { name: 'svc', node: node.name }, reason: 'killed' });
    });
  });

  it('demonitor stops DOWN; with flush it also drops a DOWN already queued', async () => {
    await withNode(async (node) => {
      const got = await node.run(async (ctx) => {
        const first = idle(node);
        const ref1 = ctx.monitor(first);
        ctx.demonitor(ref1);
        ctx.exit(first, 'kill');
        const second = idle(node);
        const ref2 = ctx.monitor(second);
        ctx.exit(second, 'kill');
        const queued = ctx.messageCount();
        ctx.demonitor(ref2, { flush: true });
        return { queued, after: ctx.messageCount() };
      });
      expect(got).toEqual({ queued: 1, after: 0 });
    });
  });

  it('a watcher that dies first leaves nothing behind on the target', async () => {
    await withNode(async (node) => {
      const target = spawnCollector(node);
      const watcher = node.spawn(async (ctx) => {
        ctx.monitor(target.pid);
        ctx.link(target.pid);
        ctx.unlink(target.pid);
        await ctx.receive();
      });
      await settle();
      node.exit(watcher, 'kill');
      node.exit(target.pid, 'kill');
      await settle();
      expect(node.processCount()).toBe(0);
    });
  });

  it('EXIT comes before DOWN when a process is both linked and monitored', async () => {
    await withNode(async (node) => {
      const order = await node.run(async (ctx) => {
        ctx.trapExit(true);
        const child = ctx.spawnLink(async (c) => {
          await c.receive();
        });
        ctx.monitor(child);
        ctx.exit(child, 'kill');
        return [await ctx.receive(), await ctx.receive()].map((msg) => (msg as { type: string }).type);
      });
      expect(order).toEqual(['EXIT', 'DOWN']);
    });
  });
});
