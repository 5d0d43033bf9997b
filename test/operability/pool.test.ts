/**
 * The worker pool (runtime/pool.ts): proves that checkout lends distinct workers up to the pool
 * size, that a checkout with every worker busy waits and times out with a typed `timeout` (and
 * the pool forgets the waiter), that a timeout racing a checkin never leaves the worker lent to
 * the caller that gave up (simulated clock), that a full wait queue refuses at once with `overloaded` and a
 * retry hint, that a waiting borrower gets the worker checked in, that a dead borrower's worker
 * returns to the pool, that a dead worker is replaced, and that `transaction` always checks in.
 * Everything runs on one in-memory node with short timeouts (a few ms).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FedError, Node, Pid, type ProcessContext, SimulatedClock } from '../../runtime/index.js';
import { startPool } from '../../runtime/pool.js';

let node: Node;

afterEach(async () => {
  await node.stop();
});

async function newNode(): Promise<Node> {
  node = new Node({ name: 'pool@127.0.0.1', stopTimeoutMs: 500 });
  await node.start();
  return node;
}

/** A worker that just lives until told to stop. */
async function idleWorker(ctx: ProcessContext): Promise<void> {
  await ctx.receive((msg) => msg === 'stop');
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; details: unknown }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FedError) return { code: error.code, details: error.details };
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('worker pool', () => {
  it('checkout — lends distinct workers, then times out with a typed timeout when all are busy', async () => {
    await newNode();
    const pool = startPool(node, { size: 2, worker: idleWorker });
    await node.run(async (ctx) => {
      const first = await pool.checkout(ctx);
      const second = await pool.checkout(ctx);
      expect(first).toBeInstanceOf(Pid);
      expect(first.equals(second)).toBe(false);
      const failure = await codeOf(pool.checkout(ctx, { timeoutMs: 5 }));
      expect(failure).toMatchObject({ code: 'timeout', details: { timeoutMs: 5 } });
      const status = await pool.status(ctx);
      expect(status).toMatchObject({ size: 2, idle: 0, busy: 2, waiting: 0, checkoutsTotal: 2, timeoutsTotal: 1 });
      pool.checkin(ctx, first);
      expect((await pool.status(ctx)).idle).toBe(1);
    });
    await pool.stop(node);
  });

  it('checkout timeout — a checkin processed before the cancel never leaves the worker lent to the timed-out caller', async () => {
    // Proves cancel and lend cannot race: the waiter's timeout fires (simulated clock), then a
    // checkin reaches the pool before the waiter's cancel does, so the pool lends the worker to
    // the waiter after the waiter has given up. The worker must come back to the pool, and the
    // waiter's mailbox must hold no late grant.
    const clock = new SimulatedClock();
    node = new Node({ name: 'pool@127.0.0.1', stopTimeoutMs: 500, clock });
    await node.start();
    const pool = startPool(node, { size: 1, worker: idleWorker });
    let holder: ProcessContext | undefined;
    let held: Pid | undefined;
    let releaseHolder!: () => void;
    const holderDone = new Promise<void>((resolve) => {
      releaseHolder = resolve;
    });
    const holding = node.run(async (ctx) => {
      held = await pool.checkout(ctx);
      holder = ctx;
      await holderDone;
    });
    for (let attempt = 0; held === undefined; attempt++) {
      if (attempt === 100) throw new Error('the holder never got its worker');
      await new Promise((resolve) => setImmediate(resolve));
    }
    const waiting = node.run(async (ctx) => {
      const failure = await codeOf(pool.checkout(ctx, { timeoutMs: 10 }));
      return { code: failure.code, queued: ctx.messageCount() };
    });
    for (let attempt = 0; (await pool.status(node)).waiting !== 1; attempt++) {
      if (attempt === 100) throw new Error('the waiter never queued');
    }
    clock.advance(10); // the waiter's wake-up is queued first …
    pool.checkin(holder as ProcessContext, held); // … then the pool's, with the checkin
    const outcome = await waiting;
    releaseHolder();
    await holding;
    expect(outcome).toEqual({ code: 'timeout', queued: 0 });
    const status = await pool.status(node);
    expect(status).toMatchObject({ idle: 1, busy: 0, waiting: 0, timeoutsTotal: 1 });
    const again = await node.run(async (ctx) => {
      const worker = await pool.checkout(ctx);
      pool.checkin(ctx, worker);
      return worker;
    });
    expect(again.equals(held)).toBe(true);
    await pool.stop(node);
  });

  it('checkout — a full wait queue refuses at once with overloaded and retryAfterMs', async () => {
    await newNode();
    const pool = startPool(node, { size: 1, worker: idleWorker, waitersMax: 1 });
    await node.run(async (ctx) => {
      await pool.checkout(ctx);
      // One borrower waits (queue now full), in another process.
      ctx.spawn(async (other) => {
        await pool.checkout(other, { timeoutMs: 10_000 }).catch(() => undefined);
      });
      for (;;) {
        if ((await pool.status(ctx)).waiting === 1) break;
        await ctx.sleep(1);
      }
      const failure = await codeOf(pool.checkout(ctx, { timeoutMs: 10_000 }));
      expect(failure.code).toBe('overloaded');
      expect((failure.details as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
      expect((await pool.status(ctx)).refusedTotal).toBe(1);
    });
    await pool.stop(node);
  });

  it('checkin — hands the worker to the oldest waiter', async () => {
    await newNode();
    const pool = startPool(node, { size: 1, worker: idleWorker });
    await node.run(async (ctx) => {
      const worker = await pool.checkout(ctx);
      const got = new Promise<Pid>((resolve) => {
        ctx.spawn(async (other) => resolve(await pool.checkout(other, { timeoutMs: 10_000 })));
      });
      for (;;) {
        if ((await pool.status(ctx)).waiting === 1) break;
        await ctx.sleep(1);
      }
      pool.checkin(ctx, worker);
      expect((await got).equals(worker)).toBe(true);
    });
    await pool.stop(node);
  });

  it('borrower death — its worker returns to the pool', async () => {
    await newNode();
    const pool = startPool(node, { size: 1, worker: idleWorker });
    const lent = await node.run((ctx) => pool.checkout(ctx));
    // The temporary process of `run` has ended: the pool saw it die and took the worker back.
    const again = await node.run(async (ctx) => {
      const worker = await pool.checkout(ctx, { timeoutMs: 1_000 });
      pool.checkin(ctx, worker);
      return worker;
    });
    expect(again.equals(lent)).toBe(true);
    await pool.stop(node);
  });

  it('worker death — the pool replaces it and stays at full size', async () => {
    await newNode();
    const pool = startPool(node, { size: 2, worker: idleWorker });
    const status = await node.run(async (ctx) => {
      const worker = await pool.checkout(ctx);
      ctx.exit(worker, 'kill');
      for (;;) {
        const current = await pool.status(ctx);
        if (current.workersRestartedTotal === 1) return current;
        await ctx.sleep(1);
      }
    });
    expect(status).toMatchObject({ idle: 2, busy: 0 });
    await pool.stop(node);
  });

  it('transaction — checks the worker back in even when the function throws', async () => {
    await newNode();
    const pool = startPool(node, { size: 1, worker: idleWorker });
    const failure = await codeOf(
      pool.transaction(node, () => {
        throw new FedError('badarg', 'boom');
      }),
    );
    expect(failure.code).toBe('badarg');
    const status = await pool.status(node);
    expect(status).toMatchObject({ idle: 1, busy: 0, checkoutsTotal: 1 });
    await pool.stop(node);
  });

  it('startPool — a size of 0 is a badarg', async () => {
    await newNode();
    expect(() => startPool(node, { size: 0, worker: idleWorker })).toThrow(/pool size/);
  });
});
