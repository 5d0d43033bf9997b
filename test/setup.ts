/**
 * Concurrency hygiene for every test file: TCP sockets and servers, pipes, UDP sockets, child
 * processes, timers, immediates and in-flight fs requests that a file's hooks and tests open
 * must be closed by the end of that file. Each is tracked by its async id from creation (an
 * async hook, from the file's first beforeAll) until it is destroyed; whatever is still alive and
 * referenced after the file's tests, and was not created by the test runner itself, is a leak.
 * Not seen: what a file opens at module load (before its hooks), native handles without an
 * async id (the DHT's UDX sockets: their tests close them explicitly), and unreferenced handles. (Counting the active resources before and after
 * instead let one leaked timer hide behind a short-lived timer of the runner's that was counted
 * before and gone after.)
 */
import { createHook } from 'node:async_hooks';
import { afterAll, beforeAll } from 'vitest';

const WATCHED = new Set(['TCPWRAP', 'TCPSERVERWRAP', 'PROCESSWRAP', 'Timeout', 'FSREQCALLBACK', 'UDPWRAP', 'PIPEWRAP', 'Immediate']);

interface Tracked {
  readonly type: string;
  readonly resource: { hasRef?: () => boolean };
  /** Where it was created: its stack is read only if it leaks. */
  readonly origin: { stack?: string };
}

const live = new Map<number, Tracked>();
let tracking = false;

createHook({
  init(asyncId, type, _triggerAsyncId, resource) {
    if (!tracking || !WATCHED.has(type)) return;
    const origin: { stack?: string } = {};
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 24;
    Error.captureStackTrace(origin);
    Error.stackTraceLimit = limit;
    live.set(asyncId, { type, resource: resource as Tracked['resource'], origin });
  },
  destroy(asyncId) {
    live.delete(asyncId);
  },
}).enable();

/** The first frame of the stack that is not Node's own nor this file. */
function creator(tracked: Tracked): string {
  const frames = (tracked.origin.stack ?? '').split('\n').slice(1);
  return frames.find((frame) => !frame.includes('node:') && !frame.includes('test/setup.ts'))?.trim() ?? '(unknown)';
}

/** Created by the test runner (its own timers and pipes), not by the code under test. */
function runnersOwn(frame: string): boolean {
  return /node_modules[\\/](vitest|@vitest|tinypool|birpc|tinyspy|tinyrainbow)[\\/]/.test(frame);
}

function leaks(): string[] {
  const leaked: string[] = [];
  for (const tracked of live.values()) {
    const referenced = typeof tracked.resource.hasRef === 'function' ? tracked.resource.hasRef() : true;
    if (!referenced) continue;
    const frame = creator(tracked);
    if (runnersOwn(frame)) continue;
    leaked.push(`${tracked.type} created ${frame}`);
  }
  return leaked;
}

beforeAll(() => {
  live.clear();
  tracking = true;
});

afterAll(async () => {
  tracking = false;
  // Give close callbacks already scheduled a chance to run.
  for (let attempt = 0; attempt < 50; attempt++) {
    if (leaks().length === 0) return;
    await new Promise((resolve) => setImmediate(resolve));
    if (attempt > 10) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const leaked = leaks();
  live.clear();
  if (leaked.length > 0) throw new Error(`test file left handles open: ${leaked.length} — ${leaked.slice(0, 5).join('; ')}`);
});
