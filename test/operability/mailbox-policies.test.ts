/**
 * Bounded mailboxes: proves each overflow policy (kill, drop_newest, drop_oldest, reject) keeps
 * at most the bound queued and does what it says with the extra message, that `reject` makes a
 * `call` fail at once with a typed `mailbox_full` (while a plain `send`, local or from another
 * node, is refused without throwing), that `trySend` refuses a full mailbox of any policy with
 * `{ ok: false, code: 'mailbox_full' }` without queueing (while plain `send` never throws), and
 * that every drop, refusal and kill is counted in `Node.messageStats()` — and never counted as
 * delivered. Processes here never receive until told, so their mailboxes fill deterministically.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Node, Pid, isFedError } from '../../runtime/index.js';
import type { ProcessContext } from '../../runtime/index.js';
import type { ProcessInfo } from '../../runtime/node.js';
import { call, startServer } from '../../runtime/server.js';

let node: Node;

afterEach(async () => {
  await node.stop();
});

async function newNode(): Promise<Node> {
  node = new Node({ name: 'mailbox@127.0.0.1' });
  await node.start();
  return node;
}

/** A process that waits for 'drain', then reports every message queued before it. */
function collector(ctx: ProcessContext): Promise<void> {
  return (async () => {
    const { replyTo } = await ctx.receive<{ replyTo: ReturnType<Node['spawn']> }>((msg) => (msg as { type?: string }).type === 'drain');
    const seen: unknown[] = [];
    for (;;) {
      const msg = await ctx.receive(undefined, 0);
      if (typeof msg === 'symbol') break;
      seen.push(msg);
    }
    ctx.send(replyTo, { seen });
  })();
}

/**
 * Ask the collector for what it queued. It waits in a selective receive for 'drain', so the
 * request is handed to that receive directly and never meets the (full) mailbox.
 */
async function drain(target: ReturnType<Node['spawn']>): Promise<unknown[]> {
  return node.run(async (ctx) => {
    ctx.send(target, { type: 'drain', replyTo: ctx.self });
    const reply = await ctx.receive<{ seen: unknown[] }>((msg) => typeof msg === 'object' && msg !== null && 'seen' in msg);
    return reply.seen;
  });
}

function infoOf(pid: Pid): ProcessInfo | undefined {
  return [...node.processInfo()].find((info) => info.pid.equals(pid));
}

describe('bounded mailboxes', () => {
  it('drop_newest — keeps the oldest messages up to the bound and counts the dropped', async () => {
    await newNode();
    const pid = node.spawn(collector, { mailboxMessagesMax: 3, mailboxOverflow: 'drop_newest' });
    await new Promise((resolve) => setImmediate(resolve));
    for (let index = 0; index < 5; index++) node.send(pid, index);
    const stats = node.messageStats();
    expect(stats.droppedNewest).toBe(2);
    expect(stats.delivered).toBe(3); // the dropped ones were never delivered
    expect(infoOf(pid)).toMatchObject({ messageQueueLength: 3, messagesReceived: 3 });
    // The drain request reaches the collector's waiting selective receive directly, never the full mailbox.
    expect(await drain(pid)).toEqual([0, 1, 2]);
  });

  it('drop_oldest — keeps the newest messages up to the bound and counts the dropped', async () => {
    await newNode();
    const pid = node.spawn(collector, { mailboxMessagesMax: 3, mailboxOverflow: 'drop_oldest' });
    await new Promise((resolve) => setImmediate(resolve));
    for (let index = 0; index < 5; index++) node.send(pid, index);
    // Every arrival was accepted (and counted delivered); the two oldest were dropped later.
    expect(node.messageStats()).toMatchObject({ droppedOldest: 2, delivered: 5 });
    expect(await drain(pid)).toEqual([2, 3, 4]);
  });

  it('kill — one message past the bound ends the process with mailbox_full', async () => {
    await newNode();
    const reasons = await node.run(async (ctx) => {
      const { pid, ref } = ctx.spawnMonitor(collector, { mailboxMessagesMax: 2 });
      await ctx.sleep(1);
      ctx.send(pid, 'a');
      ctx.send(pid, 'b');
      ctx.send(pid, 'c');
      const down = await ctx.receive<{ ref: unknown; reason: unknown }>((msg) => (msg as { type?: string }).type === 'DOWN');
      expect(down.ref).toEqual(ref);
      return down.reason;
    });
    expect(reasons).toMatchObject({ code: 'mailbox_full' });
    // 'c' killed the process and was never delivered (the DOWN to the monitoring process was).
    expect(node.messageStats()).toMatchObject({ killedMailboxFull: 1, delivered: 3 });
  });

  it('reject — a call to a full mailbox rejects at once with mailbox_full; send and trySend are refused', async () => {
    await newNode();
    let release!: () => void;
    const busy = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await startServer(
      node,
      {
        init: () => null,
        async handleCall(request, _from, state) {
          if (request === 'hold') await busy;
          return { reply: request, state };
        },
        handleInfo: (_msg, state) => ({ state }),
      },
      undefined,
      { mailboxMessagesMax: 2, mailboxOverflow: 'reject' },
    );
    // The server is busy in a call, so what is sent to it next queues behind it.
    const held = call(node, server, 'hold');
    for (let attempt = 0; infoOf(server)?.messagesReceived !== 1; attempt++) {
      if (attempt === 100) throw new Error('the server never got the call');
      await new Promise((resolve) => setImmediate(resolve));
    }
    node.send(server, 'one');
    node.send(server, 'two');
    expect(() => node.send(server, 'three')).not.toThrow(); // refused, as Erlang's send never fails
    // A call can be told: it fails at once (its timeout is far away), typed.
    let refused: unknown;
    try {
      await call(node, server, 'late', 60_000);
    } catch (error) {
      refused = error;
    }
    expect(isFedError(refused, 'mailbox_full')).toBe(true);
    expect((refused as { details?: unknown }).details).toMatchObject({ target: server.key });
    expect(node.trySend(server, 'four')).toEqual({ ok: false, code: 'mailbox_full' });
    expect(node.messageStats()).toMatchObject({ rejected: 3, droppedNewest: 0, killedMailboxFull: 0 });
    expect(infoOf(server)?.messageQueueLength).toBe(2);
    release();
    expect(await held).toBe('hold');
    expect(await call(node, server, 'after')).toBe('after'); // it survived and serves again
  });

  it('reject — a message from another node to a full mailbox is dropped and counted, never thrown', async () => {
    await newNode();
    const pid = node.spawn(collector, { mailboxMessagesMax: 1, mailboxOverflow: 'reject' });
    await new Promise((resolve) => setImmediate(resolve));
    const remote = new Pid('other@127.0.0.1', 9, 1);
    node.deliverSignal({ kind: 'send', from: remote, to: pid, msg: 'first' });
    expect(() => node.deliverSignal({ kind: 'send', from: remote, to: pid, msg: 'second' })).not.toThrow();
    expect(node.messageStats()).toMatchObject({ rejected: 1, delivered: 1 });
    expect(await drain(pid)).toEqual(['first']);
  });

  it('trySend — refuses a full mailbox with mailbox_full and queues nothing; send never throws', async () => {
    await newNode();
    const pid = node.spawn(collector, { mailboxMessagesMax: 2, mailboxOverflow: 'drop_newest' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(node.trySend(pid, 1)).toEqual({ ok: true });
    expect(node.trySend(pid, 2)).toEqual({ ok: true });
    expect(node.trySend(pid, 3)).toEqual({ ok: false, code: 'mailbox_full' });
    expect(() => node.send(pid, 4)).not.toThrow();
    const stats = node.messageStats();
    expect(stats.rejected).toBe(1);
    expect(stats.droppedNewest).toBe(1);
    expect(stats.delivered).toBe(2);
    expect(infoOf(pid)?.messageQueueLength).toBe(2);
  });

  it('trySend — a full mailbox whose process waits for exactly this message takes it', async () => {
    await newNode();
    // The collector waits in a selective receive for 'drain': that message never meets the
    // full mailbox, so trySend hands it over instead of refusing it.
    const pid = node.spawn(collector, { mailboxMessagesMax: 1, mailboxOverflow: 'kill' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(node.trySend(pid, 'queued')).toEqual({ ok: true });
    expect(node.trySend(pid, 'refused')).toEqual({ ok: false, code: 'mailbox_full' });
    const seen = await node.run(async (ctx) => {
      expect(ctx.trySend(pid, { type: 'drain', replyTo: ctx.self })).toEqual({ ok: true });
      const reply = await ctx.receive<{ seen: unknown[] }>((msg) => typeof msg === 'object' && msg !== null && 'seen' in msg);
      return reply.seen;
    });
    expect(seen).toEqual(['queued']);
    expect(node.messageStats()).toMatchObject({ rejected: 1, killedMailboxFull: 0 });
  });

  it('spawn — an unknown overflow policy is a badarg and spawns nothing', async () => {
    await newNode();
    const before = node.processCount();
    let caught: unknown;
    try {
      node.spawn(collector, { mailboxMessagesMax: 2, mailboxOverflow: 'drop_everything' as never });
    } catch (error) {
      caught = error;
    }
    expect(isFedError(caught, 'badarg')).toBe(true);
    expect(node.processCount()).toBe(before);
  });

  it('messageStats — counts local sends and deliveries, and processInfo counts per process', async () => {
    await newNode();
    const pid = node.spawn(collector);
    await new Promise((resolve) => setImmediate(resolve));
    const before = node.messageStats();
    for (let index = 0; index < 7; index++) node.send(pid, index);
    const after = node.messageStats();
    expect(after.sentLocal - before.sentLocal).toBe(7);
    expect(after.delivered - before.delivered).toBe(7);
    expect(after.sentRemote).toBe(before.sentRemote);
    const info = infoOf(pid);
    expect(info).toMatchObject({ messageQueueLength: 7, messagesReceived: 7, mailboxMessagesMax: Infinity });
    expect(await drain(pid)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
