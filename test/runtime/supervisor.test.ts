// Supervisors: the three strategies, restart types, restart intensity escalating to the parent
// (also across nested supervisors), ordered shutdown with per-child timeouts then kill, the
// dynamic supervisor, and node.stop() over a tree. Workers are real processes that crash on
// command; the clock is the real one except where a simulated clock proves the window.
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../runtime/kernel/clock.js';
import { isFedError } from '../../runtime/kernel/errors.js';
import { Node } from '../../runtime/node.js';
import type { Pid } from '../../runtime/pid.js';
import { type ProcessContext, type ProcessFn, isExitMessage } from '../../runtime/process.js';
import {
  type ChildInfo,
  type ChildSpec,
  REACHED_MAX_RESTART_INTENSITY,
  type RestartType,
  startChild,
  startDynamicSupervisor,
  startSupervisor,
  terminateChild,
  whichChildren,
  worker,
} from '../../runtime/supervisor.js';
import { exitReasonOf, settle, withNode } from './runtime-helpers.js';

/** A worker that records its start and its shutdown, crashes on 'crash', returns on 'quit'. */
/**
 * A worker that records its start and its stop. `ignoreShutdown`: it records the exit signal
 * (`got shutdown …`) and goes on. `stopAfterMs`: it takes that long to stop.
 */
function recordingWorker(id: string, events: string[], options: { ignoreShutdown?: boolean; stopAfterMs?: number } = {}): ProcessFn {
  return async (ctx: ProcessContext) => {
    events.push(`start ${id}`);
    ctx.trapExit(true);
    for (;;) {
      const msg = await ctx.receive();
      if (msg === 'crash') throw new Error(`${id} crashed`);
      if (msg === 'quit') return;
      if (msg === 'quit_shutdown') ctx.exitSelf('shutdown');
      if (isExitMessage(msg) && options.ignoreShutdown) events.push(`got shutdown ${id}`);
      else if (isExitMessage(msg)) {
        if (options.stopAfterMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.stopAfterMs));
        events.push(`stop ${id}`);
        ctx.exitSelf(msg.reason);
      }
    }
  };
}

function spec(id: string, events: string[], restart: RestartType = 'permanent', shutdown = 1_000): ChildSpec {
  return worker(id, recordingWorker(id, events), { restart, shutdown });
}

async function children(node: Node, supervisor: Pid): Promise<Map<string, Pid | undefined>> {
  const infos: ChildInfo[] = await whichChildren(node, supervisor);
  return new Map(infos.map((info) => [info.id, info.pid]));
}

async function waitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    if (await condition()) return;
    await settle();
  }
  throw new Error('condition not reached');
}

describe('supervisor — strategies', () => {
  it('one_for_one restarts only the child that crashed', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const sup = await startSupervisor(node, {
        strategy: 'one_for_one',
        children: ['a', 'b', 'c'].map((id) => spec(id, events)),
      });
      const before = await children(node, sup);
      node.send(before.get('b') as Pid, 'crash');
      await waitFor(async () => (await children(node, sup)).get('b')?.equals(before.get('b') as Pid) === false);
      const after = await children(node, sup);
      expect(after.get('a')?.equals(before.get('a') as Pid)).toBe(true);
      expect(after.get('c')?.equals(before.get('c') as Pid)).toBe(true);
      expect(events).toEqual(['start a', 'start b', 'start c', 'start b']);
    });
  });

  it('one_for_all stops the others in reverse order and restarts all in start order', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const sup = await startSupervisor(node, {
        strategy: 'one_for_all',
        children: ['a', 'b', 'c'].map((id) => spec(id, events)),
      });
      const before = await children(node, sup);
      events.length = 0;
      node.send(before.get('b') as Pid, 'crash');
      await waitFor(() => events.length === 5);
      expect(events).toEqual(['stop c', 'stop a', 'start a', 'start b', 'start c']);
      const after = await children(node, sup);
      for (const id of ['a', 'b', 'c']) expect(after.get(id)?.equals(before.get(id) as Pid)).toBe(false);
    });
  });

  it('rest_for_one restarts the crashed child and those started after it', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const sup = await startSupervisor(node, {
        strategy: 'rest_for_one',
        children: ['a', 'b', 'c', 'd'].map((id) => spec(id, events)),
      });
      const before = await children(node, sup);
      events.length = 0;
      node.send(before.get('b') as Pid, 'crash');
      await waitFor(() => events.length === 5);
      expect(events).toEqual(['stop d', 'stop c', 'start b', 'start c', 'start d']);
      expect((await children(node, sup)).get('a')?.equals(before.get('a') as Pid)).toBe(true);
    });
  });
});

describe('supervisor — restart types', () => {
  it('permanent always, transient only after a crash (not normal, not shutdown), temporary never (and forgotten)', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const sup = await startSupervisor(node, {
        strategy: 'one_for_one',
        children: [
          spec('perm', events, 'permanent'),
          spec('trans-normal', events, 'transient'),
          spec('trans-crash', events, 'transient'),
          spec('trans-shutdown', events, 'transient'),
          spec('temp', events, 'temporary'),
        ],
      });
      const before = await children(node, sup);
      node.send(before.get('perm') as Pid, 'quit');
      node.send(before.get('trans-normal') as Pid, 'quit');
      node.send(before.get('trans-shutdown') as Pid, 'quit_shutdown');
      node.send(before.get('trans-crash') as Pid, 'crash');
      node.send(before.get('temp') as Pid, 'crash');
      await waitFor(() => events.filter((event) => event.startsWith('start')).length === 7);
      await waitFor(async () => !(await children(node, sup)).has('temp'));
      const after = await children(node, sup);
      expect(after.get('perm')).toBeDefined();
      expect(after.get('perm')?.equals(before.get('perm') as Pid)).toBe(false);
      expect(after.has('trans-normal')).toBe(true);
      expect(after.get('trans-normal')).toBeUndefined();
      expect(after.get('trans-crash')?.equals(before.get('trans-crash') as Pid)).toBe(false);
      // A transient child that ends with shutdown ended normally, as OTP has it: not restarted.
      expect(after.has('trans-shutdown')).toBe(true);
      expect(after.get('trans-shutdown')).toBeUndefined();
      expect([...after.keys()]).toEqual(['perm', 'trans-normal', 'trans-crash', 'trans-shutdown']);
    });
  });
});

describe('supervisor — intensity', () => {
  it('more than maxRestarts within the period: children stopped, supervisor exits, parent told', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const got = await node.run(async (ctx) => {
        ctx.trapExit(true);
        const sup = await startSupervisor(
          ctx,
          { strategy: 'one_for_one', intensity: { maxRestarts: 2, periodMs: 60_000 }, children: [spec('a', events), spec('b', events)] },
          { link: true },
        );
        for (let crash = 0; crash < 3; crash++) {
          const pid = (await whichChildren(ctx, sup)).find((info) => info.id === 'a')?.pid as Pid;
          ctx.send(pid, 'crash');
          if (crash < 2) {
            while ((await whichChildren(ctx, sup)).find((info) => info.id === 'a')?.pid?.equals(pid) !== false) await ctx.sleep(1);
          }
        }
        const exit = await ctx.receive(isExitMessage);
        return { fromSup: exit.from.equals(sup), reason: exit.reason };
      });
      expect(got).toEqual({ fromSup: true, reason: REACHED_MAX_RESTART_INTENSITY });
      expect(events.filter((event) => event === 'stop b')).toHaveLength(1);
      await settle();
      expect(node.processCount()).toBe(0);
    });
  });

  it('restarts older than the period do not count (simulated clock)', async () => {
    const clock = new SimulatedClock();
    await withNode(
      async (node) => {
        const events: string[] = [];
        const sup = await startSupervisor(node, {
          strategy: 'one_for_one',
          intensity: { maxRestarts: 1, periodMs: 1_000 },
          children: [spec('a', events)],
        });
        for (let crash = 0; crash < 4; crash++) {
          const pid = (await children(node, sup)).get('a') as Pid;
          node.send(pid, 'crash');
          await waitFor(async () => (await children(node, sup)).get('a')?.equals(pid) === false);
          clock.advance(1_500);
        }
        expect(node.isAlive(sup)).toBe(true);
        expect(events.filter((event) => event === 'start a')).toHaveLength(5);
      },
      { clock },
    );
  });

  it('escalation through nested supervisors: the parent restarts the child supervisor', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const inner: ChildSpec = {
        id: 'inner',
        type: 'supervisor',
        start: (ctx) =>
          startSupervisor(ctx, { strategy: 'one_for_one', intensity: { maxRestarts: 0, periodMs: 60_000 }, children: [spec('w', events)] }, { link: true }),
      };
      const top = await startSupervisor(node, { strategy: 'one_for_one', children: [inner] });
      const innerBefore = (await children(node, top)).get('inner') as Pid;
      const workerPid = (await children(node, innerBefore)).get('w') as Pid;
      node.send(workerPid, 'crash');
      await waitFor(async () => (await children(node, top)).get('inner')?.equals(innerBefore) === false);
      expect(node.isAlive(innerBefore)).toBe(false);
      expect(events.filter((event) => event === 'start w')).toHaveLength(2);
    });
  });
});

describe('supervisor — shutdown', () => {
  it('children stop in reverse start order; one ignoring shutdown is killed after its timeout', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const shutdownMs = 60;
      const stubborn = worker('stubborn', recordingWorker('stubborn', events, { ignoreShutdown: true }), { shutdown: shutdownMs });
      const sup = await startSupervisor(node, {
        strategy: 'one_for_one',
        children: [spec('a', events), stubborn, spec('c', events)],
      });
      const stubbornPid = (await children(node, sup)).get('stubborn') as Pid;
      const stubbornDied = exitReasonOf(node, stubbornPid).then((reason) => ({ reason, at: performance.now() }));
      await settle();
      events.length = 0;
      const supReason = exitReasonOf(node, sup);
      await settle();
      const signalledAt = performance.now();
      node.exit(sup, 'shutdown'); // from outside the node: the supervisor's parent
      expect(await supReason).toBe('shutdown');
      // c first, then stubborn (told, ignoring it), then a only once stubborn is dead.
      expect(events).toEqual(['stop c', 'got shutdown stubborn', 'stop a']);
      const died = await stubbornDied;
      expect(died.reason).toBe('killed');
      // Killed no sooner than its shutdown timeout after it was told (a slower run only waits longer).
      expect(died.at - signalledAt).toBeGreaterThanOrEqual(shutdownMs - 1);
    });
  });

  it('shutdown brutal_kill kills a child at once; infinity waits for it however long it takes', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const sup = await startSupervisor(node, {
        strategy: 'one_for_one',
        children: [
          worker('patient', recordingWorker('patient', events, { stopAfterMs: 150 }), { shutdown: 'infinity' }),
          worker('brutal', recordingWorker('brutal', events), { shutdown: 'brutal_kill' }),
        ],
      });
      const pids = await children(node, sup);
      const brutal = exitReasonOf(node, pids.get('brutal') as Pid);
      const patient = exitReasonOf(node, pids.get('patient') as Pid);
      await settle();
      events.length = 0;
      const supReason = exitReasonOf(node, sup);
      await settle();
      node.exit(sup, 'shutdown');
      expect(await supReason).toBe('shutdown');
      // brutal never saw an exit signal it could act on; patient stopped in its own time (150 ms,
      // past the default worker timeout of the test's other children) and was not killed.
      expect(await brutal).toBe('killed');
      expect(await patient).toBe('shutdown');
      expect(events).toEqual(['stop patient']);
    });
  });

  it('a child that fails to start makes startSupervisor reject and stops the children already started', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const broken: ChildSpec = {
        id: 'broken',
        start: () => {
          throw new Error('no start');
        },
      };
      let message = '';
      try {
        await startSupervisor(node, { strategy: 'one_for_one', children: [spec('a', events), broken] });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toBe('no start');
      expect(events).toEqual(['start a', 'stop a']);
      await settle();
      expect(node.processCount()).toBe(0);
    });
  });

  it('node.stop() stops a supervision tree top-down, children in reverse order', async () => {
    const events: string[] = [];
    const node = new Node({ name: 'tree@127.0.0.1', stopTimeoutMs: 1_000 });
    const inner: ChildSpec = {
      id: 'inner',
      type: 'supervisor',
      start: (ctx) => startSupervisor(ctx, { strategy: 'one_for_one', children: [spec('x', events), spec('y', events)] }, { link: true }),
    };
    await startSupervisor(node, { strategy: 'one_for_one', children: [spec('a', events), inner, spec('b', events)] });
    events.length = 0;
    await node.stop();
    expect(node.processCount()).toBe(0);
    // Every child stopped exactly once, none restarted: the outer supervisor stops b, then the
    // inner supervisor (which stops y, then x), then a.
    expect(events).toEqual(['stop b', 'stop y', 'stop x', 'stop a']);
  });
});

describe('supervisor — dynamic', () => {
  it('startChild, whichChildren, terminateChild; ended children are forgotten', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const sup = await startDynamicSupervisor(node, { name: 'pool' });
      const first = await startChild(node, 'pool', { start: (ctx) => ctx.spawnLink(recordingWorker('1', events)) });
      const second = await startChild(node, sup, { id: 'named', start: (ctx) => ctx.spawnLink(recordingWorker('2', events)), restart: 'temporary' });
      let infos = await whichChildren(node, sup);
      expect(infos.map((info) => info.id)).toEqual(['child-1', 'named']);
      expect(infos[0]?.pid?.equals(first)).toBe(true);

      await terminateChild(node, sup, first);
      expect(node.isAlive(first)).toBe(false);
      expect(events).toContain('stop 1');

      node.send(second, 'crash');
      await waitFor(async () => (await whichChildren(node, sup)).length === 0);
      infos = await whichChildren(node, sup);
      expect(infos).toEqual([]);

      let code = '';
      try {
        await terminateChild(node, sup, 'no-such-child');
      } catch (error) {
        code = isFedError(error) ? error.code : 'untyped';
      }
      expect(code).toBe('not_found');
    });
  });

  it('a child whose start fails rejects startChild and leaves the supervisor up', async () => {
    await withNode(async (node) => {
      const sup = await startDynamicSupervisor(node);
      const failing = startChild(node, sup, {
        start: () => {
          throw new Error('cannot start');
        },
      });
      await expect(failing).rejects.toThrow('cannot start');
      expect(node.isAlive(sup)).toBe(true);
      expect(await whichChildren(node, sup)).toEqual([]);
    });
  });

  it('a supervisor ignores an exit signal from a process that is not its parent', async () => {
    await withNode(async (node) => {
      const sup = await startDynamicSupervisor(node);
      await node.run(async (ctx) => {
        ctx.exit(sup, 'shutdown');
      });
      expect(await whichChildren(node, sup)).toEqual([]);
      expect(node.isAlive(sup)).toBe(true);
    });
  });

  it('a permanent dynamic child that crashes is restarted under the same id', async () => {
    await withNode(async (node) => {
      const events: string[] = [];
      const sup = await startDynamicSupervisor(node);
      const pid = await startChild(node, sup, { id: 'w', start: (ctx) => ctx.spawnLink(recordingWorker('w', events)) });
      node.send(pid, 'crash');
      await waitFor(async () => (await children(node, sup)).get('w')?.equals(pid) === false);
      expect(events).toEqual(['start w', 'start w']);
    });
  });
});
