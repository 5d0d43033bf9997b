/**
 * Bounded mailboxes: proves each overflow policy (kill, drop_newest, drop_oldest) keeps at most
 * the bound queued and does what it says with the extra message, that `trySend` refuses a full
 * mailbox with `mailbox_full` without queueing (while plain `send` never throws), and that every
 * drop, refusal and kill is counted in `Node.messageStats()`. Processes here never receive
 * until told, so their mailboxes fill deterministically.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Node, isFedError } from '../../runtime/index.js';
import type { ProcessContext } from '../../runtime/index.js';

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

describe('bounded mailboxes', () => {
  it('drop_newest — keeps the oldest messages up to the bound and counts the dropped', async () => {
    await newNode();
    const pid = node.spawn(collector, { mailboxMessagesMax: 3, mailboxOverflow: 'drop_newest' });
    await new Promise((resolve) => setImmediate(resolve));
    for (let index = 0; index < 5; index++) node.send(pid, index);
    const stats = node.messageStats();
    expect(stats.droppedNewest).toBe(2);
    expect([...node.processInfo()].find((info) => info.pid.equals(pid))?.messageQueueLength).toBe(3);
    // The drain request reaches the collector's waiting selective receive directly, never the full mailbox.
    expect(await drain(pid)).toEqual([0, 1, 2]);
  });

  it('drop_oldest — keeps the newest messages up to the bound and counts the dropped', async () => {
    await newNode();
    const pid = node.spawn(collector, { mailboxMessagesMax: 3, mailboxOverflow: 'drop_oldest' });
    await new Promise((resolve) => setImmediate(resolve));
    for (let index = 0; index < 5; index++) node.send(pid, index);
    expect(node.messageStats().droppedOldest).toBe(2);
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
    expect(node.messageStats().killedMailboxFull).toBe(1);
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
    expect([...node.processInfo()].find((info) => info.pid.equals(pid))?.messageQueueLength).toBe(2);
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
    const info = [...node.processInfo()].find((entry) => entry.pid.equals(pid));
    expect(info).toMatchObject({ messageQueueLength: 7, messagesReceived: 7, mailboxMessagesMax: Infinity });
    expect(await drain(pid)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
