/**
 * `npm run example`: a tour of the runtime on one node.
 *
 * 1. spawn two processes that play ping-pong with messages;
 * 2. link: a crash in one process takes its linked partner down, unless it traps exits;
 * 3. a supervisor restarts a crashed worker;
 * 4. a GenServer answers calls (and a call to a dead server fails with a typed error).
 * Exits 0 by itself once the node is stopped.
 */
import type { Pid } from '../runtime/pid.js';
import {
  Node,
  type ServerBehaviour,
  call,
  cast,
  isExitMessage,
  startServer,
  startSupervisor,
  whichChildren,
  worker,
} from '../runtime/public.js';

const node = new Node({ name: 'demo@127.0.0.1' });
await node.start();

// 1. ping-pong ------------------------------------------------------------------------------
const pong = node.spawn(async (ctx) => {
  for (;;) {
    const { from, count } = await ctx.receive<{ from: Pid; count: number }>();
    ctx.send(from, { count: count + 1 });
  }
});
// node.run runs a function in a temporary process: the "ping" side.
const rallies = await node.run(async (ctx) => {
  let count = 0;
  while (count < 10) {
    ctx.send(pong, { from: ctx.self, count });
    ({ count } = await ctx.receive<{ count: number }>());
  }
  return `${count} hits between ${ctx.self} and ${pong}`;
});
console.log(`1. ping-pong: ${rallies}`);

// 2. links ----------------------------------------------------------------------------------
const exit = await node.run(async (ctx) => {
  ctx.trapExit(true); // without this, the crash below would end this process too
  ctx.spawnLink(() => {
    throw new Error('worker gave up');
  });
  return ctx.receive(isExitMessage);
});
console.log(`2. links: trapped EXIT from ${exit.from}: ${(exit.reason as { error: string }).error}`);

// 3. a supervisor restarts a crashed worker --------------------------------------------------
const supervisor = await startSupervisor(node, {
  strategy: 'one_for_one',
  intensity: { maxRestarts: 3, periodMs: 5_000 },
  children: [
    worker('echo', async (ctx) => {
      ctx.register('echo');
      for (;;) {
        const msg = await ctx.receive<string | { from: Pid; text: string }>();
        if (msg === 'crash') throw new Error('echo crashed on purpose');
        if (typeof msg === 'object') ctx.send(msg.from, msg.text);
      }
    }),
  ],
});
const [before] = await whichChildren(node, supervisor);
node.send('echo', 'crash');
let after = before;
while (after?.pid?.equals(before?.pid) === true) [after] = await whichChildren(node, supervisor);
const echoed = await node.run(async (ctx) => {
  ctx.send('echo', { from: ctx.self, text: 'still answering' });
  return ctx.receive<string>();
});
console.log(`3. supervisor: echo crashed as ${before?.pid}, restarted as ${after?.pid}, says "${echoed}"`);

// 4. a GenServer ----------------------------------------------------------------------------
const counter: ServerBehaviour<number, number> = {
  init: (start) => start,
  handleCall: (request, _from, state) => (request === 'get' ? { reply: state, state } : { reply: 'unknown', state }),
  handleCast: (request, state) => ({ state: request === 'increment' ? state + 1 : state }),
};
const server = await startServer(node, counter, 41, { name: 'counter' });
cast(node, 'counter', 'increment');
console.log(`4. GenServer: counter ${server} says ${await call(node, 'counter', 'get')}`);
await node.run((ctx) => ctx.exit(server, 'kill'));
try {
  await call(node, 'counter', 'get', 100);
} catch (error) {
  console.log(`   a call to the killed server fails with code ${(error as { code: string }).code}`);
}

await node.stop();
console.log(`stopped: ${node.processCount()} processes left`);
