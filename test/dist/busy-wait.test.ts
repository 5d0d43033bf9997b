/**
 * Proves the distribution's busy-wait (runtime/dist/busy-wait.ts): after a message crosses a
 * real sealed link on 127.0.0.1, both nodes keep their event loop turning for the configured
 * window and then stop by themselves; a link carrying only heartbeats never starts it; with the
 * default (0) it never runs; `close()` stops it at once; a bad window is a typed `config` error;
 * a process that is not getting the CPU it spins on (a contended machine, simulated here with
 * injected clocks) pauses busy-waiting and tries again later. Messages arrive the same with or
 * without it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BusyWait, CONTENDED_CPU_RATIO, CONTENDED_SAMPLES, PAUSE_MS, SAMPLE_MS } from '../../runtime/dist/busy-wait.js';
import { Distribution } from '../../runtime/dist/distribution.js';
import { LIMITS } from '../../runtime/kernel/limits.js';
import { Node } from '../../runtime/node.js';
import type { ProcessContext } from '../../runtime/process.js';
import { waitFor } from './fixtures/helpers.js';

const COOKIE = 'busy-wait-test-cookie';
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A CPU clock that says the process always had its core: the contention check never pauses (tested apart, below). */
const UNCONTENDED = { cpuMicros: () => performance.now() * 1000 };

async function member(name: string, options: { busyWaitUs?: number; tickMs?: number } = {}) {
  const node = new Node({ name, stopTimeoutMs: 100 });
  await node.start();
  const dist = await Distribution.start({ node, cookie: COOKIE, logger: () => undefined, busyWaitClocks: UNCONTENDED, ...options });
  cleanups.push(async () => {
    await dist.close();
    await node.stop();
  });
  return { node, dist };
}

/** An echo process on `b`, and a round trip to it from `a`. */
async function roundTrip(a: { node: Node }, b: { node: Node }, body: unknown): Promise<unknown> {
  if (b.node.whereis('echo') === undefined) {
    b.node.spawn(
      async (ctx) => {
        for (;;) {
          const msg = (await ctx.receive()) as { from: ProcessContext['self']; body: unknown };
          ctx.send(msg.from, { echoed: msg.body });
        }
      },
      { name: 'echo' },
    );
  }
  return a.node.run(async (ctx) => {
    ctx.send({ name: 'echo', node: b.node.name }, { from: ctx.self, body });
    return ctx.receive(undefined, 5_000);
  });
}

/** Resolves once `dist` has spent no loop turn busy-waiting for a while (the window is over). */
async function settled(dist: Distribution): Promise<number> {
  let last = -1;
  await waitFor(
    () => {
      const turns = dist.stats().busyWaitTurns;
      const still = turns === last;
      last = turns;
      return still;
    },
    5_000,
    'busy-wait over',
  );
  return last;
}

describe('busy-wait — after link activity', () => {
  it('busy-wait — both ends spin for the window after a round trip, then stop by themselves', async () => {
    const a = await member('a@127.0.0.1', { busyWaitUs: 10_000 });
    const b = await member('b@127.0.0.1', { busyWaitUs: 10_000 });
    await a.dist.connect(b.dist.address);
    const before = { a: await settled(a.dist), b: await settled(b.dist) };
    expect(await roundTrip(a, b, 'hello')).toEqual({ echoed: 'hello' });
    // The loop turned while the window lasted on both ends, then came to rest.
    const after = { a: await settled(a.dist), b: await settled(b.dist) };
    expect(after.a).toBeGreaterThan(before.a);
    expect(after.b).toBeGreaterThan(before.b);
    // Nothing moves afterwards: the spinning stopped, it does not go on at a lower rate.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(a.dist.stats().busyWaitTurns).toBe(after.a);
  });

  it('busy-wait — heartbeats alone never start it', async () => {
    const a = await member('a@127.0.0.1', { busyWaitUs: 10_000, tickMs: 10 });
    const b = await member('b@127.0.0.1', { busyWaitUs: 10_000, tickMs: 10 });
    await a.dist.connect(b.dist.address);
    const turns = await settled(a.dist);
    const beats = a.dist.stats().peers[b.node.name]?.heartbeatsReceived ?? 0;
    await waitFor(() => (a.dist.stats().peers[b.node.name]?.heartbeatsReceived ?? 0) >= beats + 5, 5_000, 'five more heartbeats');
    expect(a.dist.stats().busyWaitTurns).toBe(turns);
  });

  it('busy-wait — off by default: messages flow and the loop never spins', async () => {
    const a = await member('a@127.0.0.1');
    const b = await member('b@127.0.0.1');
    await a.dist.connect(b.dist.address);
    for (let index = 0; index < 20; index++) expect(await roundTrip(a, b, index)).toEqual({ echoed: index });
    expect(a.dist.stats().busyWaitTurns).toBe(0);
    expect(b.dist.stats().busyWaitTurns).toBe(0);
  });

  it('busy-wait — close() stops it at once, even inside a long window', async () => {
    const wait = new BusyWait(60_000_000, UNCONTENDED);
    try {
      wait.touch();
      expect(wait.spinning).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(wait.turns).toBeGreaterThan(0);
    } finally {
      wait.close();
    }
    expect(wait.spinning).toBe(false);
    const turns = wait.turns;
    wait.touch(); // after close: nothing starts again
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(wait.turns).toBe(turns);
    expect(wait.spinning).toBe(false);
  });

  it('busy-wait — a negative, non-numeric or over-long window is a config error, before anything listens', async () => {
    const node = new Node({ name: 'x@127.0.0.1', stopTimeoutMs: 100 });
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, LIMITS.busyWaitUsMax + 1]) {
      expect(() => new Distribution({ node, cookie: COOKIE, busyWaitUs: bad })).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('busyWaitUs') }));
    }
  });
});

/** Clocks the test moves: each loop turn advances the wall clock by `stepMs` and the CPU clock by `cpuShare` of it. */
function fakeClocks(stepMs: number, cpuShare: number) {
  const clocks = { wallMs: 0, cpuMicros: 0 };
  return {
    clocks,
    options: {
      nowMs: () => {
        clocks.wallMs += stepMs;
        clocks.cpuMicros += stepMs * 1000 * cpuShare;
        return clocks.wallMs;
      },
      cpuMicros: () => clocks.cpuMicros,
    },
  };
}

async function untilIdle(wait: BusyWait): Promise<void> {
  await waitFor(() => !wait.spinning, 5_000, 'spinning over');
}

describe('busy-wait — contention', () => {
  it('busy-wait — a process that gets its core keeps spinning for the whole window', async () => {
    const { clocks, options } = fakeClocks(0.1, 1);
    const wait = new BusyWait(30_000, options);
    try {
      wait.touch();
      await untilIdle(wait);
      // 30 ms of window at 0.1 ms a turn: about three hundred turns, and no pause.
      expect(wait.turns).toBeGreaterThanOrEqual(290);
      expect(wait.pauses).toBe(0);
      expect(clocks.wallMs).toBeGreaterThanOrEqual(30);
    } finally {
      wait.close();
    }
  });

  it('busy-wait — a process getting less than its share of the CPU pauses spinning, then tries again after the pause', async () => {
    const { clocks, options } = fakeClocks(0.1, CONTENDED_CPU_RATIO / 2);
    const wait = new BusyWait(100_000, options);
    try {
      wait.touch();
      await untilIdle(wait);
      // It stopped once CONTENDED_SAMPLES samples of SAMPLE_MS were judged, long before the 100 ms window ended.
      expect(wait.pauses).toBe(1);
      expect(wait.turns).toBeLessThanOrEqual(Math.ceil((CONTENDED_SAMPLES * SAMPLE_MS) / 0.1) + 2);
      // During the pause, activity does not start it again.
      const turns = wait.turns;
      wait.touch();
      expect(wait.spinning).toBe(false);
      await new Promise((resolve) => setImmediate(resolve));
      expect(wait.turns).toBe(turns);
      // After the pause it is tried again (and, still contended, pauses again).
      clocks.wallMs += PAUSE_MS;
      wait.touch();
      expect(wait.spinning).toBe(true);
      await untilIdle(wait);
      expect(wait.turns).toBeGreaterThan(turns);
      expect(wait.pauses).toBe(2);
    } finally {
      wait.close();
    }
  });

  it('busy-wait — contended samples must come in a row: a dip between good samples does not pause it', async () => {
    // The CPU share alternates: one sample contended, the next not, and so on.
    const clocks = { wallMs: 0, cpuMicros: 0 };
    const options = {
      nowMs: () => {
        clocks.wallMs += 0.1;
        const contended = Math.floor(clocks.wallMs / SAMPLE_MS) % 2 === 0;
        clocks.cpuMicros += 100 * (contended ? CONTENDED_CPU_RATIO / 4 : 1);
        return clocks.wallMs;
      },
      cpuMicros: () => clocks.cpuMicros,
    };
    const wait = new BusyWait(10 * SAMPLE_MS * 1000, options);
    try {
      wait.touch();
      await untilIdle(wait);
      expect(wait.pauses).toBe(0);
      expect(wait.turns).toBeGreaterThanOrEqual(Math.floor((10 * SAMPLE_MS) / 0.1) - 2);
    } finally {
      wait.close();
    }
  });

  it('busy-wait — short windows are judged together: sessions shorter than a sample still add up to the samples that pause it', async () => {
    const { options } = fakeClocks(0.1, CONTENDED_CPU_RATIO / 2);
    // 1 ms windows, each far shorter than SAMPLE_MS: contention shows after enough of them.
    const wait = new BusyWait(1_000, options);
    try {
      const sessionsForASample = CONTENDED_SAMPLES * (Math.ceil(SAMPLE_MS / 1) + 1);
      let sessions = 0;
      while (wait.pauses === 0 && sessions < 3 * sessionsForASample) {
        wait.touch();
        await untilIdle(wait);
        sessions++;
      }
      expect(wait.pauses).toBe(1);
      expect(sessions).toBeGreaterThan(1);
      expect(sessions).toBeLessThanOrEqual(sessionsForASample);
      // And the same windows with the core to itself never pause.
      const free = new BusyWait(1_000, fakeClocks(0.1, 1).options);
      try {
        for (let index = 0; index < 3 * sessionsForASample; index++) {
          free.touch();
          await untilIdle(free);
        }
        expect(free.pauses).toBe(0);
      } finally {
        free.close();
      }
    } finally {
      wait.close();
    }
  });
});
