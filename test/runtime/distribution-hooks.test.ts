// The hooks the distribution layer uses, exercised with two real nodes joined by a minimal
// in-memory router (route = the other node's deliverSignal): messages, names, links, monitors
// and exit/2 across nodes; nodeDown turning links and monitors into noconnection; and, with no
// router at all, the behaviour of an unreachable node.
import { describe, expect, it } from 'vitest';
import { Node } from '../../runtime/node.js';
import { Pid } from '../../runtime/pid.js';
import { type DownMessage, type ExitMessage, isDownMessage, isExitMessage } from '../../runtime/process.js';
import type { Signal, SignalRouter } from '../../runtime/signals.js';
import { type ServerBehaviour, call, startServer } from '../../runtime/server.js';
import { settle, spawnCollector } from './runtime-helpers.js';

const A = 'a@127.0.0.1';
const B = 'b@127.0.0.1';

/** Carries signals between registered nodes; a cut node's signals are dropped. */
class MemoryRouter implements SignalRouter {
  readonly nodes = new Map<string, Node>();
  readonly routed: Signal[] = [];
  cut = false;
  route(signal: Signal): void {
    this.routed.push(signal);
    if (this.cut) return;
    this.nodes.get(signal.to.node)?.deliverSignal(signal);
  }
}

async function withTwoNodes(fn: (a: Node, b: Node, router: MemoryRouter) => Promise<void>): Promise<void> {
  const router = new MemoryRouter();
  const a = new Node({ name: A, stopTimeoutMs: 200 });
  const b = new Node({ name: B, stopTimeoutMs: 200 });
  for (const node of [a, b]) {
    router.nodes.set(node.name, node);
    node.setSignalRouter(router);
  }
  try {
    await fn(a, b, router);
  } finally {
    await a.stop();
    await b.stop();
  }
}

function idle(node: Node): Pid {
  return node.spawn(async (ctx) => {
    for (;;) await ctx.receive();
  });
}

describe('distribution hooks — signals across nodes', () => {
  it('send to a remote pid and to {name, node} arrive in order', async () => {
    await withTwoNodes(async (a, b) => {
      const inbox = spawnCollector(b);
      b.register('inbox', inbox.pid);
      a.send(inbox.pid, 1);
      a.send({ name: 'inbox', node: B }, 2);
      a.send(inbox.pid, 3);
      await settle();
      expect(inbox.messages).toEqual([1, 2, 3]);
    });
  });

  it('a remote link propagates a crash both ways and is recorded on both sides', async () => {
    await withTwoNodes(async (a, b) => {
      const remote = b.spawn(async (ctx) => {
        await ctx.receive();
        throw new Error('remote crash');
      });
      const exit = a.run(async (ctx) => {
        ctx.trapExit(true);
        ctx.link(remote);
        ctx.send(remote, 'crash now');
        return ctx.receive(isExitMessage);
      });
      const got = await exit;
      expect(got.from.equals(remote)).toBe(true);
      expect(got.reason).toMatchObject({ error: 'remote crash' });

      // The other way: a local process on A dies, its remote partner on B is told.
      const partner = spawnCollector(b, { trapExit: true });
      const local = a.spawn(async (ctx) => {
        ctx.link(partner.pid);
        await ctx.receive();
      });
      await settle();
      a.exit(local, 'kill');
      await settle();
      expect(partner.messages).toHaveLength(1);
      expect((partner.messages[0] as ExitMessage).reason).toBe('killed');
      expect((partner.messages[0] as ExitMessage).from.equals(local)).toBe(true);
    });
  });

  it('a remote link or monitor to a dead pid answers noproc', async () => {
    await withTwoNodes(async (a, b) => {
      const dead = b.spawn(() => undefined);
      await settle();
      const got = await a.run(async (ctx) => {
        ctx.trapExit(true);
        ctx.link(dead);
        const ref = ctx.monitor(dead);
        const exit = await ctx.receive(isExitMessage);
        const down = await ctx.receive(isDownMessage);
        return { exit: exit.reason, down: down.reason, sameRef: down.ref.equals(ref) };
      });
      expect(got).toEqual({ exit: 'noproc', down: 'noproc', sameRef: true });
    });
  });

  it('a remote monitor (by pid and by name) gets DOWN with the reason; demonitor stops it', async () => {
    await withTwoNodes(async (a, b) => {
      const target = idle(b);
      b.register('target', target);
      const quiet = idle(b);
      const got = await a.run(async (ctx) => {
        const byPid = ctx.monitor(target);
        const byName = ctx.monitor({ name: 'target', node: B });
        const dropped = ctx.monitor(quiet);
        ctx.demonitor(dropped);
        ctx.exit(target, 'shutdown');
        ctx.exit(quiet, 'shutdown');
        const first = await ctx.receive(isDownMessage);
        const second = await ctx.receive(isDownMessage);
        const third = await ctx.receive(isDownMessage, 10);
        const refs = [first, second].map((down) => (down.ref.equals(byPid) ? 'pid' : down.ref.equals(byName) ? 'name' : '?'));
        return { refs: refs.sort(), reasons: [first.reason, second.reason], third, byNamePid: [first, second].find((d) => d.ref.equals(byName))?.pid };
      });
      expect(got.refs).toEqual(['name', 'pid']);
      expect(got.reasons).toEqual(['shutdown', 'shutdown']);
      expect(typeof got.third).toBe('symbol');
      expect(got.byNamePid).toEqual({ name: 'target', node: B });
    });
  });

  it('nodeDown: links exit and monitors go DOWN with noconnection; remote state is forgotten', async () => {
    await withTwoNodes(async (a, b, router) => {
      const remote = idle(b);
      const watcher = spawnCollector(a, { trapExit: true });
      const plainLinked = a.spawn(async (ctx) => {
        ctx.link(remote);
        await ctx.receive();
      });
      const monitorRef = await a.run(async (ctx) => {
        ctx.link(remote);
        ctx.unlink(remote);
        return ctx.monitor(remote);
      });
      // The run process ended normally: its monitor is gone with it. Give the watcher its own.
      a.send(watcher.pid, 'start');
      await settle();
      const link = a.spawn(async (ctx) => {
        ctx.trapExit(true);
        ctx.link(remote);
        ctx.monitor(remote);
        const exit = await ctx.receive(isExitMessage);
        const down = await ctx.receive(isDownMessage);
        ctx.send(watcher.pid, { exit: exit.reason, down: down.reason });
      });
      await settle();
      expect(monitorRef).toBeDefined();
      router.cut = true;
      a.nodeDown(B);
      await settle();
      expect(a.isAlive(plainLinked)).toBe(false);
      expect(a.isAlive(link)).toBe(false);
      expect(watcher.messages).toEqual(['start', { exit: 'noconnection', down: 'noconnection' }]);
      // After nodeDown nothing about B is left: a second nodeDown changes nothing.
      a.nodeDown(B);
      expect(a.processCount()).toBe(1);
    });
  });

  it('with no router, another node is unreachable: sends dropped, link exits and monitor DOWN noconnection', async () => {
    const node = new Node({ name: A });
    try {
      const far = new Pid(B, 1, 1);
      expect(() => node.send(far, 'dropped')).not.toThrow();
      const got = await node.run(async (ctx) => {
        ctx.trapExit(true);
        ctx.link(far);
        ctx.monitor({ name: 'svc', node: B });
        const exit = (await ctx.receive(isExitMessage)) as ExitMessage;
        const down = (await ctx.receive(isDownMessage)) as DownMessage;
        return { exit: exit.reason, down: down.reason, downPid: down.pid };
      });
      expect(got).toEqual({ exit: 'noconnection', down: 'noconnection', downPid: { name: 'svc', node: B } });
      const victim = node.spawn(async (ctx) => {
        ctx.link(far);
        await ctx.receive();
      });
      await settle();
      expect(node.isAlive(victim)).toBe(false);
    } finally {
      await node.stop();
    }
  });

  it('call across nodes: replies arrive; a lost connection rejects nodedown', async () => {
    await withTwoNodes(async (a, b, router) => {
      const echo: ServerBehaviour<null> = {
        init: () => null,
        handleCall: (request, _from, state) => (request === 'hang' ? { noreply: true, state } : { reply: request, state }),
      };
      await startServer(b, echo, undefined, { name: 'echo' });
      expect(await call(a, { name: 'echo', node: B }, 'over the wire')).toBe('over the wire');
      const hanging = call(a, { name: 'echo', node: B }, 'hang', 10_000);
      await settle();
      router.cut = true;
      a.nodeDown(B);
      await expect(hanging).rejects.toMatchObject({ code: 'nodedown' });
    });
  });

  it('deliverSignal refuses a signal addressed to another node', async () => {
    const node = new Node({ name: A });
    try {
      expect(() => node.deliverSignal({ kind: 'send', from: undefined, to: new Pid(B, 1, 1), msg: 1 })).toThrow(/delivered to/);
    } finally {
      await node.stop();
    }
  });
});
