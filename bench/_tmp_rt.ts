/**
 * `npm run bench -- runtime [--spawn N] [--messages N] [--roundtrips N]`: the single-node
 * runtime's figures.
 *
 * - spawn: N processes that each wait in `receive` — wall time until all are waiting, and heap
 *   bytes per process (heapUsed after a full GC, minus before, over N; needs --expose-gc, which
 *   `npm run bench` passes). Then the time `stop()` takes to shut them all down.
 * - one-way: a sender process sends N messages to a consuming process (one `await receive()`
 *   per message) while it consumes them, from the first send to the last receive. The sender
 *   sends in batches of ONE_WAY_BATCH_MESSAGES under credit-based flow control (the consumer
 *   grants a batch back each time it has taken one; at most ONE_WAY_WINDOW_BATCHES in flight),
 *   so both processes run interleaved and the mailbox stays bounded, as in a real pipeline.
 * - one-way bulk: the same N messages sent from outside any process before the consumer runs
 *   at all, then consumed: bulk enqueue and dequeue, the mailbox at its longest.
 * - ping-pong: two processes exchange a message and its answer N times (a round trip = two
 *   sends, two receives, two wake-ups).
 * Each figure is the best and the median of RUNS runs (the first also warms the JIT). The
 * machine's load average is printed too: on a shared machine, wall times grow with it, so each
 * figure also comes per cpu-second (process cpu time, all threads, GC helpers included), which
 * other load on the machine disturbs much less.
 */
import { cpus, loadavg } from 'node:os';
import { Node } from '../runtime/node.js';
import type { Pid } from '../runtime/pid.js';

const SPAWN_COUNT_DEFAULT = 1_000_000;
const ONE_WAY_MESSAGES_DEFAULT = 5_000_000;
const ROUND_TRIPS_DEFAULT = 1_000_000;
const RUNS = Number(process.env.RUNS ?? 6);
/** Messages the one-way sender sends between two looks at its credit. */
const ONE_WAY_BATCH_MESSAGES = 1_024;
/** Batches the one-way sender may have sent but the consumer not yet taken. */
const ONE_WAY_WINDOW_BATCHES = 4;

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(args[index + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} needs a positive integer`);
  return value;
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench does)');
  gc();
  gc();
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface SpawnResult {
  seconds: number;
  cpuSeconds: number;
  bytesPerProcess: number;
  stopSeconds: number;
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

async function spawnWaiting(count: number): Promise<SpawnResult> {
  const node = new Node({ name: 'bench@127.0.0.1' });
  await node.start();
  await nextTurn();
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const waiter = async (ctx: { receive(): Promise<unknown> }): Promise<void> => {
    await ctx.receive();
  };
  for (let index = 0; index < count; index++) node.spawn(waiter);
  await nextTurn(); // every process has run to its receive
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuSecondsSince(cpuStarted);
  collectGarbage();
  const bytesPerProcess = (process.memoryUsage().heapUsed - heapBefore) / count;
  if (node.processCount() !== count) throw new Error(`expected ${count} processes, found ${node.processCount()}`);
  const stopStarted = performance.now();
  await node.stop();
  const stopSeconds = (performance.now() - stopStarted) / 1000;
  return { seconds, cpuSeconds, bytesPerProcess, stopSeconds };
}

/**
 * The floor under `spawn`: the same number of plain async functions, each awaiting a fresh
 * promise and tracked to completion, with no runtime at all. What the runtime adds is the
 * difference.
 */
async function plainAsyncFloor(count: number): Promise<number> {
  collectGarbage();
  const started = performance.now();
  const resolvers: Array<(value: unknown) => void> = [];
  const body = async (): Promise<void> => {
    await new Promise((resolve) => resolvers.push(resolve));
  };
  let finished = 0;
  const onDone = (): void => {
    finished++;
  };
  for (let index = 0; index < count; index++) body().then(onDone, onDone);
  await nextTurn();
  const seconds = (performance.now() - started) / 1000;
  for (const resolve of resolvers) resolve(undefined);
  await nextTurn();
  if (finished !== count) throw new Error('floor bodies did not finish');
  return seconds;
}

/** A credit grant: the consumer has taken one more batch. */
const CREDIT = Symbol('credit');

/** Operations per wall second and per cpu-second since `started`. */
interface Rate {
  perSecond: number;
  perCpuSecond: number;
}

function measured(operations: number, started: number, cpuStarted: NodeJS.CpuUsage): Rate {
  return { perSecond: operations / ((performance.now() - started) / 1000), perCpuSecond: operations / cpuSecondsSince(cpuStarted) };
}

async function oneWay(count: number): Promise<Rate> {
  const node = new Node({ name: 'bench@127.0.0.1' });
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let sender: Pid | undefined;
  const consumer = node.spawn(async (ctx) => {
    for (let index = 1; index <= count; index++) {
      await ctx.receive();
      if (index % ONE_WAY_BATCH_MESSAGES === 0) ctx.send(sender as Pid, CREDIT);
    }
    finish();
  });
  await nextTurn();
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  sender = node.spawn(async (ctx) => {
    let credits = ONE_WAY_WINDOW_BATCHES;
    for (let sent = 0; sent < count; ) {
      if (credits === 0) {
        await ctx.receive();
        credits++;
      }
      credits--;
      const batchEnd = Math.min(count, sent + ONE_WAY_BATCH_MESSAGES);
      for (; sent < batchEnd; sent++) ctx.send(consumer, sent);
    }
  });
  await done;
  const rate = measured(count, started, cpuStarted);
  await node.stop();
  return rate;
}

async function oneWayBulk(count: number): Promise<Rate> {
  const node = new Node({ name: 'bench@127.0.0.1' });
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const consumer = node.spawn(async (ctx) => {
    for (let index = 0; index < count; index++) await ctx.receive();
    finish();
  });
  await nextTurn();
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  for (let index = 0; index < count; index++) node.send(consumer, index);
  await done;
  const rate = measured(count, started, cpuStarted);
  await node.stop();
  return rate;
}

async function pingPong(roundTrips: number): Promise<Rate> {
  const node = new Node({ name: 'bench@127.0.0.1' });
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const pong = node.spawn(async (ctx) => {
    for (;;) {
      const from = await ctx.receive<Pid>();
      ctx.send(from, 1);
    }
  });
  await nextTurn();
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  node.spawn(async (ctx) => {
    for (let index = 0; index < roundTrips; index++) {
      ctx.send(pong, ctx.self);
      await ctx.receive();
    }
    finish();
  });
  await done;
  const rate = measured(roundTrips, started, cpuStarted);
  await node.stop();
  return rate;
}

function millions(value: number): string {
  return `${(value / 1e6).toFixed(2)} M`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Run `measure` RUNS times; the best (highest) and median rates, per second and per cpu-second. */
async function rates(measure: () => Promise<Rate>): Promise<string> {
  const figures: Rate[] = [];
  for (let run = 0; run < RUNS; run++) figures.push(await measure());
  const wall = figures.map((rate) => rate.perSecond);
  const cpu = figures.map((rate) => rate.perCpuSecond);
  return (
    `best ${millions(Math.max(...wall))}/s, median ${millions(median(wall))}/s ` +
    `(per cpu-second: best ${millions(Math.max(...cpu))}, median ${millions(median(cpu))})`
  );
}

export default async function (args: string[]): Promise<void> {
  const spawnCount = option(args, 'spawn', SPAWN_COUNT_DEFAULT);
  const messages = option(args, 'messages', ONE_WAY_MESSAGES_DEFAULT);
  const roundTrips = option(args, 'roundtrips', ROUND_TRIPS_DEFAULT);
  const load = loadavg().map((value) => value.toFixed(1)).join(' ');
  console.log(`runtime bench (node ${process.version}, ${cpus().length} cpus, load ${load}, best and median of ${RUNS})`);

  const spawns: SpawnResult[] = [];
  if (process.env.WARM) await spawnWaiting(Number(process.env.WARM));
  for (let run = 0; run < RUNS; run++) { spawns.push(await spawnWaiting(spawnCount)); console.log(JSON.stringify(spawns.at(-1))); }
  const bestSpawn = spawns.reduce((best, result) => (result.seconds < best.seconds ? result : best));
  const spawnCpu = spawns.map((result) => result.cpuSeconds);
  console.log(
    `spawn ${spawnCount} waiting processes: best ${bestSpawn.seconds.toFixed(2)} s, ` +
      `median ${median(spawns.map((result) => result.seconds)).toFixed(2)} s ` +
      `(cpu, all threads: best ${Math.min(...spawnCpu).toFixed(2)} s, median ${median(spawnCpu).toFixed(2)} s), ` +
      `${Math.round(bestSpawn.bytesPerProcess)} heap bytes/process, stop() ${bestSpawn.stopSeconds.toFixed(2)} s`,
  );

  const floors: number[] = [];
  for (let run = 0; run < RUNS; run++) floors.push(await plainAsyncFloor(spawnCount));
  console.log(
    `  reference: ${spawnCount} plain async functions awaiting a promise, no runtime: ` +
      `best ${Math.min(...floors).toFixed(2)} s, median ${median(floors).toFixed(2)} s`,
  );

  console.log(`one-way send ${messages} messages, sender process, batches of ${ONE_WAY_BATCH_MESSAGES} with credit: ${await rates(() => oneWay(messages))}`);
  console.log(`one-way bulk ${messages} messages queued from outside, then consumed: ${await rates(() => oneWayBulk(messages))}`);
  console.log(`ping-pong ${roundTrips} round trips: ${await rates(() => pingPong(roundTrips))}`);
}
