/**
 * `npm run example -- library` — the library from the package entry, as the README shows it: one
 * node with a sealed distribution, a one-member group on classic-level in a temporary
 * directory, a registered name found at each consistency, a change seen by a watch, a singleton
 * started with its fencing token, a GenServer called through the registry. Exits 0 by itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Distribution, Group, Node, type Pid, SingletonManager, TcpTransport, call, startServer } from '../index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'fedctl-library-'));
const node = new Node({ name: 'a@127.0.0.1' });
const distribution = await Distribution.start({ node, cookie: 'example-cookie', transport: new TcpTransport({ host: '127.0.0.1', port: 0 }) });
const group = await Group.open({ node, distribution, group: 'g1', address: distribution.address, raftPath: join(dataDir, 'raft'), bootstrap: true });
try {
  await group.ready(); // a new group elects its first leader within an election timeout or so
  // A GenServer, registered in the group's Raft-replicated registry.
  const counter = await startServer<number, undefined>(node, {
    init: () => 0,
    handleCall: (_request, _from, count) => ({ reply: count + 1, state: count + 1 }),
  }, undefined);
  const { revision } = await group.register('svc:counter', counter, { port: 8080 });
  for (const consistency of ['local', 'leader', 'linearizable'] as const) {
    const found = await group.whereis('svc:counter', { consistency });
    console.log(`whereis svc:counter (${consistency}): ${String(found?.pid)} revision ${found?.revision}`);
  }
  // A watch resumes after a revision (here: the one before our registration), as etcd's does.
  const watch = group.watch('svc:', { afterRevision: revision - 1 });
  const { value: change } = await watch.next();
  console.log(`watch: ${change.type} ${change.name} at revision ${change.revision} (registered at ${revision})`);
  await watch.return(undefined);

  // Location-transparent call by name: resolve through the registry, then call the pid.
  const pid = (await group.whereis('svc:counter'))?.pid as Pid;
  console.log(`call: ${String(await call(node, pid, 'next', 1_000))}, then ${String(await call(node, pid, 'next', 1_000))}`);

  // A singleton: the ring's owner of the key runs it once its claim commits; the token fences it.
  const singletons = new SingletonManager(group);
  const started = new Promise<number>((resolve) => {
    singletons.declare('report', {
      start: (init) => {
        resolve(init.token);
        return init.node.spawn(async (ctx) => {
          await ctx.receive();
        });
      },
    });
  });
  console.log(`singleton report: running with fencing token ${await started}`);
  await singletons.close();
} finally {
  await group.close();
  await distribution.close();
  await node.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
