/**
 * Concurrency hygiene for every test file: sockets, servers, child processes, timers and
 * file handles that a file opens must be closed by the end of that file. The set of active
 * resources is snapshotted before the file's tests and compared after them.
 */
import { afterAll, beforeAll } from 'vitest';

const WATCHED = new Set(['TCPSocketWrap', 'TCPServerWrap', 'ProcessWrap', 'Timeout', 'FSReqCallback', 'UDPWrap', 'PipeWrap', 'Immediate']);

function countWatched(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (!WATCHED.has(kind)) continue;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

let before = new Map<string, number>();

beforeAll(() => {
  before = countWatched();
});

afterAll(async () => {
  // Give close callbacks already scheduled a chance to run.
  for (let attempt = 0; attempt < 50; attempt++) {
    const leaked = leaks();
    if (leaked.length === 0) return;
    await new Promise((resolve) => setImmediate(resolve));
    if (attempt > 10) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const leaked = leaks();
  if (leaked.length > 0) throw new Error(`test file left handles open: ${leaked.join(', ')}`);
});

function leaks(): string[] {
  const after = countWatched();
  const leaked: string[] = [];
  for (const [kind, count] of after) {
    const extra = count - (before.get(kind) ?? 0);
    if (extra > 0) leaked.push(`${extra} × ${kind}`);
  }
  return leaked;
}
