/** Small helpers shared by the runtime tests (not a test file itself). */
import { Node, type NodeOptions } from '../../runtime/node.js';
import type { Pid } from '../../runtime/pid.js';
import { isDownMessage, type DownMessage } from '../../runtime/process.js';
import type { ExitReason } from '../../runtime/signals.js';

export const NODE_NAME = 'test@127.0.0.1';

/** A node for one test, always stopped at the end (short stop timeout). */
export async function withNode<T>(fn: (node: Node) => Promise<T>, options: Partial<NodeOptions> = {}): Promise<T> {
  const node = new Node({ name: NODE_NAME, stopTimeoutMs: 200, ...options });
  await node.start();
  try {
    return await fn(node);
  } finally {
    await node.stop();
  }
}

/** Let every queued microtask and immediate run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves with the exit reason of `pid` (noproc if it is already dead). */
export function exitReasonOf(node: Node, pid: Pid): Promise<ExitReason> {
  return node.run(async (ctx) => {
    const ref = ctx.monitor(pid);
    const down = await ctx.receive((msg): msg is DownMessage => isDownMessage(msg) && msg.ref.equals(ref));
    return down.reason;
  });
}

/** A process that records every message it gets, in order. */
export function spawnCollector(node: Node, options: { trapExit?: boolean } = {}): { pid: Pid; messages: unknown[] } {
  const messages: unknown[] = [];
  const pid = node.spawn(async (ctx) => {
    for (;;) messages.push(await ctx.receive());
  }, options);
  return { pid, messages };
}
