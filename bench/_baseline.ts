/**
 * What this machine gives without fedctl, printed next to the figures that rest on it: on a
 * shared VM they move from day to day (one session measured bare TCP round trips at p50 55 µs,
 * a later one at 163–178 µs), and a figure means little without the floor it stood on that day.
 *
 * - `tcpRoundTrips`: one byte ping-ponged between this process and a child over 127.0.0.1
 *   (plain `net`, no framing, no crypto), optionally with both ends keeping their event loops
 *   turning (what `busyWaitUs` does): the floor under the remote bench's round trips.
 * - `syncedWrites`: `processes` children each writing synced classic-level batches of one 5 KB
 *   value as fast as they can, all at once, as the registry bench's three voters do on one disk:
 *   the floor under a Raft round.
 *
 * Not a bench of its own (the leading `_` keeps it off `npm run bench`'s list). The same file is
 * the child: run with FEDCTL_BENCH_BASELINE set (`echo` or `sync-writer`).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const SYNC_VALUE_BYTES = 5_000;

interface ChildMessage {
  port?: number;
  writes?: number;
  p50Ms?: number;
}

if (process.env.FEDCTL_BENCH_BASELINE === 'echo') {
  const spin = process.env.FEDCTL_BENCH_BASELINE_SPIN === '1';
  let spinning = spin;
  const turn = (): void => {
    if (spinning) setImmediate(turn);
  };
  if (spin) turn();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (data) => socket.write(data));
  });
  server.listen(0, HOST, () => process.send?.({ port: (server.address() as net.AddressInfo).port } satisfies ChildMessage));
  process.on('disconnect', () => {
    spinning = false;
    server.close();
    process.exit(0);
  });
} else if (process.env.FEDCTL_BENCH_BASELINE === 'sync-writer') {
  const { ClassicLevel } = await import('classic-level');
  const dir = mkdtempSync(join(tmpdir(), 'fedctl-bench-sync-'));
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const value = new Uint8Array(SYNC_VALUE_BYTES).fill(7);
  process.send?.({} satisfies ChildMessage);
  const durationMs = await new Promise<number>((resolve) => process.once('message', (ms) => resolve(ms as number)));
  const latencies: number[] = [];
  const deadline = performance.now() + durationMs;
  for (let index = 0; performance.now() < deadline; index++) {
    const started = performance.now();
    await db.batch([{ type: 'put', key: new TextEncoder().encode(`e${index}`), value }], { sync: true });
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  process.send?.({ writes: latencies.length, p50Ms: latencies[latencies.length >> 1] ?? NaN } satisfies ChildMessage, () => process.exit(0));
}

function child(kind: 'echo' | 'sync-writer', env: Record<string, string> = {}): ChildProcess {
  return fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, FEDCTL_BENCH_BASELINE: kind, ...env },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function nextMessage(from: ChildProcess): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`baseline child exited with ${code}`));
    from.once('exit', onExit);
    from.once('message', (message) => {
      from.off('exit', onExit);
      resolve(message as ChildMessage);
    });
  });
}

export interface TcpRoundTrips {
  readonly roundTrips: number;
  readonly p50Us: number;
  /** CPU time (user + system) of this process per round trip. */
  readonly cpuUsPerRoundTrip: number;
}

/** Ping-pong one byte for `seconds` (see the file's comment). */
export async function tcpRoundTrips(seconds: number, spin: boolean): Promise<TcpRoundTrips> {
  const echo = child('echo', { FEDCTL_BENCH_BASELINE_SPIN: spin ? '1' : '0' });
  try {
    const { port } = await nextMessage(echo);
    const socket = net.connect(port as number, HOST);
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let spinning = spin;
    const turn = (): void => {
      if (spinning) setImmediate(turn);
    };
    if (spin) turn();
    const latencies: number[] = [];
    const cpuBefore = process.cpuUsage();
    const deadline = performance.now() + seconds * 1_000;
    await new Promise<void>((resolve) => {
      let sentAt = performance.now();
      socket.on('data', () => {
        const now = performance.now();
        latencies.push(now - sentAt);
        if (now >= deadline) return resolve();
        sentAt = performance.now();
        socket.write('x');
      });
      socket.write('x');
    });
    spinning = false;
    const cpu = process.cpuUsage(cpuBefore);
    socket.destroy();
    latencies.sort((a, b) => a - b);
    return { roundTrips: latencies.length, p50Us: (latencies[latencies.length >> 1] ?? NaN) * 1_000, cpuUsPerRoundTrip: (cpu.user + cpu.system) / Math.max(1, latencies.length) };
  } finally {
    echo.disconnect();
  }
}

export interface SyncedWrites {
  /** Synced batches per second of each process. */
  readonly perSecond: number[];
  readonly p50Ms: number[];
}

/** `processes` children writing synced batches at once for `seconds` (see the file's comment). */
export async function syncedWrites(processes: number, seconds: number): Promise<SyncedWrites> {
  const writers = Array.from({ length: processes }, () => child('sync-writer'));
  try {
    await Promise.all(writers.map((writer) => nextMessage(writer)));
    const results = writers.map((writer) => nextMessage(writer));
    for (const writer of writers) writer.send(seconds * 1_000);
    const done = await Promise.all(results);
    return { perSecond: done.map((result) => (result.writes as number) / seconds), p50Ms: done.map((result) => result.p50Ms as number) };
  } finally {
    for (const writer of writers) if (writer.exitCode === null && writer.signalCode === null) writer.kill();
  }
}
