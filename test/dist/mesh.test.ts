/**
 * Proves the mesh with real `Node`s and real TCP on 127.0.0.1, several nodes in one process:
 * remote send, reg_send and request/reply; remote link and monitor; `noconnection` and
 * `nodedown` when a connection ends; wrong cookie and name clash refused while honest peers
 * keep working; transitive visible connections; hidden nodes not propagated; reconnect after a
 * peer restarts, with pids of the old incarnation treated as dead; simultaneous connects;
 * subsystem control channels; plaintext mode refused on every path off loopback (dial, listen —
 * before binding — and accept).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution, type DistributionOptions, type LogEntry, backoffDelayMs } from '../../runtime/dist/distribution.js';
import { ByteStream, TcpTransport, type Transport } from '../../runtime/dist/transport.js';
import { Rng } from '../../runtime/kernel/rng.js';
import { Node } from '../../runtime/node.js';
import { Pid } from '../../runtime/pid.js';
import { TIMEOUT, type ProcessContext } from '../../runtime/process.js';
import { call, cast, startServer } from '../../runtime/server.js';
import { sleep, waitFor } from './fixtures/helpers.js';

interface Member {
  readonly node: Node;
  readonly dist: Distribution;
  readonly logs: LogEntry[];
}

const members: Member[] = [];

afterEach(async () => {
  for (const member of members.splice(0).reverse()) {
    await member.dist.close();
    await member.node.stop();
  }
});

const FAST = { tickMs: 20, heartbeatTimeoutMs: 400, backoffMinMs: 20, backoffMaxMs: 100, handshakeTimeoutMs: 1_000 };

async function member(name: string, options: Partial<DistributionOptions> & { creation?: number } = {}): Promise<Member> {
  const node = new Node({ name: `${name}@127.0.0.1`, creation: options.creation ?? 1, stopTimeoutMs: 200 });
  await node.start();
  const logs: LogEntry[] = [];
  const dist = await Distribution.start({ node, cookie: 'cookie', cluster: 'mesh-test', logger: (entry) => logs.push(entry), ...FAST, ...options });
  const result = { node, dist, logs };
  members.push(result);
  return result;
}

function echo(ctx: ProcessContext): Promise<void> {
  return (async () => {
    for (;;) {
      const msg = (await ctx.receive()) as { from: Pid; ref?: unknown; body: unknown };
      ctx.send(msg.from, { ref: msg.ref, reply: msg.body });
    }
  })();
}

/** An honest peer `b` still links to `a` and gets an echo of `body` from it. */
async function expectHonestPeerServed(a: Member, b: Member, body: number): Promise<void> {
  b.node.spawn(echo, { name: 'echo' });
  await b.dist.connect(a.dist.address);
  const reply = await a.node.run(async (ctx) => {
    ctx.send({ name: 'echo', node: b.node.name }, { from: ctx.self, body });
    return ctx.receive(undefined, 2_000);
  });
  expect(reply).toEqual({ ref: undefined, reply: body });
}

const isType = (type: string) => (msg: unknown) => typeof msg === 'object' && msg !== null && (msg as { type?: string }).type === type;

/** tcp on 127.0.0.1 whose accepted streams report `remoteHost` as given (to play a remote peer). */
class RelabelingTransport implements Transport {
  readonly kind = 'tcp';
  readonly host = '127.0.0.1';
  readonly #remoteHost: string;
  readonly #server = net.createServer({ noDelay: true });
  readonly #sockets = new Set<net.Socket>();
  address: string | undefined;

  constructor(remoteHost: string) {
    this.#remoteHost = remoteHost;
  }

  async listen(onStream: (stream: ByteStream) => void): Promise<string> {
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      onStream(new ByteStream(socket, this.#remoteHost));
    });
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    this.address = `127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
    return this.address;
  }

  connect(): Promise<ByteStream> {
    return Promise.reject(new Error('this test transport only listens'));
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A transport that opens nothing and reports `address` when asked to listen. */
class AddressOnlyTransport implements Transport {
  readonly kind = 'tcp';
  readonly #address: string;
  closed = false;
  address: string | undefined;

  constructor(address: string) {
    this.#address = address;
  }

  async listen(): Promise<string> {
    this.address = this.#address;
    return this.#address;
  }

  connect(): Promise<ByteStream> {
    return Promise.reject(new Error('this test transport cannot connect'));
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

describe('mesh', () => {
  it('mesh — remote send and reg_send reach processes on another node, replies come back', async () => {
    const a = await member('a');
    const b = await member('b');
    b.node.spawn(echo, { name: 'echo' });
    await a.dist.connect(b.dist.address);
    const replies = await a.node.run(async (ctx) => {
      ctx.send({ name: 'echo', node: b.node.name }, { from: ctx.self, body: 'by name' });
      const echoPid = b.node.whereis('echo')!;
      ctx.send(echoPid, { from: ctx.self, body: 'by pid' });
      return [await ctx.receive(undefined, 2_000), await ctx.receive(undefined, 2_000)];
    });
    expect(replies).toEqual([{ ref: undefined, reply: 'by name' }, { ref: undefined, reply: 'by pid' }]);
  });

  it('mesh — request/reply (a call) across nodes with 50 concurrent callers', async () => {
    const a = await member('a');
    const b = await member('b');
    const server = b.node.spawn(echo);
    await a.dist.connect(b.dist.address);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        a.node.run(async (ctx) => {
          const ref = ctx.makeRef();
          ctx.send(server, { from: ctx.self, ref, body: index });
          const reply = (await ctx.receive((msg) => (msg as { ref?: { equals(x: unknown): boolean } }).ref?.equals(ref) === true, 2_000)) as { reply: number };
          return reply.reply;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 50 }, (_, index) => index));
  });

  it('mesh — GenServer call and cast work on a server of another node; a lost node fails the call', async () => {
    const a = await member('a');
    const b = await member('b');
    await a.dist.connect(b.dist.address);
    await startServer(
      b.node,
      {
        init: () => 0,
        handleCall: (request, _from, state: number) => ({ reply: { request, state }, state }),
        handleCast: (request, state: number) => ({ state: state + (request as number) }),
      },
      undefined,
      { name: 'counter' },
    );
    const counter = { name: 'counter', node: b.node.name };
    cast(a.node, counter, 5);
    expect(await call(a.node, counter, 'get', 2_000)).toEqual({ request: 'get', state: 5 });
    const viaPid = b.node.whereis('counter')!;
    expect(await call(a.node, viaPid, 'again', 2_000)).toEqual({ request: 'again', state: 5 });
    await expect(call(a.node, { name: 'nobody', node: b.node.name }, 'x', 2_000)).rejects.toMatchObject({ code: 'noproc' });
    await b.dist.close();
    await expect(call(a.node, counter, 'after', 2_000)).rejects.toMatchObject({ code: 'nodedown' });
  });

  it('mesh — a remote link propagates the exit reason; a remote monitor delivers DOWN', async () => {
    const a = await member('a');
    const b = await member('b');
    await a.dist.connect(b.dist.address);
    const target = b.node.spawn(async (ctx) => {
      await ctx.receive((msg) => msg === 'die');
      throw new Error('boom');
    });
    const [exit, down] = await a.node.run(async (ctx) => {
      ctx.trapExit(true);
      ctx.link(target);
      const ref = ctx.monitor(target);
      await sleep(50);
      ctx.send(target, 'die');
      const exitMsg = await ctx.receive(isType('EXIT'), 2_000);
      const downMsg = await ctx.receive(isType('DOWN'), 2_000);
      return [exitMsg, { ...(downMsg as object), refMatches: (downMsg as { ref: { equals(x: unknown): boolean } }).ref.equals(ref) }];
    });
    expect(exit).toMatchObject({ type: 'EXIT', reason: { error: 'boom' } });
    expect((exit as { from: Pid }).from.equals(target)).toBe(true);
    expect(down).toMatchObject({ type: 'DOWN', reason: { error: 'boom' }, refMatches: true });
  });

  it('mesh — exit/2 reaches a remote process; unlink and demonitor stop notifications', async () => {
    const a = await member('a');
    const b = await member('b');
    await a.dist.connect(b.dist.address);
    const victim = b.node.spawn(async (ctx) => {
      await ctx.receive();
    });
    const quiet = b.node.spawn(async (ctx) => {
      await ctx.receive((msg) => msg === 'stop');
    });
    const got = await a.node.run(async (ctx) => {
      ctx.trapExit(true);
      const ref = ctx.monitor(victim);
      ctx.link(quiet);
      ctx.monitor(quiet);
      await sleep(30);
      ctx.exit(victim, 'kill');
      const down = await ctx.receive(isType('DOWN'), 2_000);
      ctx.unlink(quiet);
      void ref;
      return down;
    });
    expect(got).toMatchObject({ type: 'DOWN', reason: 'killed' });
    await waitFor(() => !b.node.isAlive(victim));
    // After unlink and demonitor, the end of `quiet` notifies nobody on a.
    const silent = await a.node.run(async (ctx) => {
      ctx.trapExit(true);
      ctx.link(quiet);
      const ref = ctx.monitor(quiet);
      ctx.unlink(quiet);
      ctx.demonitor(ref);
      await sleep(30);
      ctx.send(quiet, 'stop');
      return ctx.receive(undefined, 300);
    });
    expect(silent).toBe(TIMEOUT);
  });

  it('mesh — a remote name can be monitored and reports the name when it goes away', async () => {
    const a = await member('a');
    const b = await member('b');
    await a.dist.connect(b.dist.address);
    b.node.spawn(
      async (ctx) => {
        await ctx.receive((msg) => msg === 'stop');
      },
      { name: 'service' },
    );
    const down = await a.node.run(async (ctx) => {
      ctx.monitor({ name: 'service', node: b.node.name });
      await sleep(30);
      ctx.send({ name: 'service', node: b.node.name }, 'stop');
      return ctx.receive(isType('DOWN'), 2_000);
    });
    expect(down).toMatchObject({ type: 'DOWN', pid: { name: 'service', node: b.node.name }, reason: 'normal' });
  });

  it('mesh — the redial delay doubles to its cap, each a random 50–100 % of it, spread by the seed', () => {
    const minMs = 20;
    const maxMs = 1_000;
    for (let failures = 0; failures < 40; failures++) {
      const cap = Math.min(maxMs, minMs * 2 ** failures);
      const rng = new Rng(failures + 1);
      for (let draw = 0; draw < 200; draw++) {
        const delay = backoffDelayMs(failures, minMs, maxMs, rng);
        expect(delay).toBeGreaterThanOrEqual(cap / 2);
        expect(delay).toBeLessThanOrEqual(cap);
      }
    }
    // Jitter: peers with other seeds that lost the same node at once redial at other moments.
    const delays = Array.from({ length: 100 }, (_, seed) => backoffDelayMs(10, minMs, maxMs, new Rng(seed + 1)));
    expect(new Set(delays.map((delay) => Math.round(delay))).size).toBeGreaterThan(50);
    const mean = delays.reduce((sum, delay) => sum + delay, 0) / delays.length;
    expect(mean).toBeGreaterThan(650);
    expect(mean).toBeLessThan(850);
    // Deterministic per seed.
    expect(backoffDelayMs(3, minMs, maxMs, new Rng(9))).toBe(backoffDelayMs(3, minMs, maxMs, new Rng(9)));
  });

  it('mesh — redials back off exponentially with jitter (no connection storm)', async () => {
    let dials = 0;
    class CountingTransport extends TcpTransport {
      override connect(address: string, options?: { timeoutMs?: number }) {
        dials++;
        return super.connect(address, options);
      }
    }
    const a = await member('a', { transport: new CountingTransport(), backoffMinMs: 20, backoffMaxMs: 200, rng: new Rng(7) });
    const b = await member('b');
    await a.dist.connect(b.dist.address);
    dials = 0;
    await b.dist.close();
    await sleep(1_000);
    // Delays grow 20→40→80→160→200 ms (each a random 50–100 % of that): a handful of dials, not a storm.
    expect(dials).toBeGreaterThanOrEqual(3);
    expect(dials).toBeLessThanOrEqual(14);
  });

  it('mesh — forgetAddress stops redialling an address where no peer ever answered, and closes a named one', async () => {
    // disconnect(name) cannot reach a target whose peer name was never learned; forgetAddress can.
    let dials = 0;
    class CountingTransport extends TcpTransport {
      override connect(address: string, options?: { timeoutMs?: number }) {
        dials++;
        return super.connect(address, options);
      }
    }
    const a = await member('a', { transport: new CountingTransport(), backoffMinMs: 20, backoffMaxMs: 40 });
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const deadAddress = `127.0.0.1:${(closed.address() as net.AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(a.dist.connect(deadAddress)).rejects.toMatchObject({ code: 'nodedown' });
    await waitFor(() => dials >= 3);
    expect(a.dist.forgetAddress(deadAddress)).toBe(true);
    const dialsWhenForgotten = dials;
    await sleep(300);
    expect(dials).toBeLessThanOrEqual(dialsWhenForgotten + 1);
    expect(a.dist.forgetAddress(deadAddress)).toBe(false);

    const b = await member('b');
    await a.dist.connect(b.dist.address);
    expect(a.dist.forgetAddress(b.dist.address)).toBe(true);
    await waitFor(() => !a.dist.isConnected(b.node.name) && !b.dist.isConnected(a.node.name));
    const dialsAfterClose = dials;
    await sleep(300);
    expect(dials).toBe(dialsAfterClose);
  });

  it('mesh — a hidden client that dialled us and leaves is logged at info; a lost visible peer is a warning', async () => {
    // `fedctl` calls connect as hidden nodes and leave: routine, not a warning on every call.
    const a = await member('a');
    const client = await member('client', { hidden: true });
    await client.dist.connect(a.dist.address);
    await client.dist.close();
    await waitFor(() => a.logs.some((entry) => entry.event === 'nodedown' && entry.peer === client.node.name));
    expect(a.logs.find((entry) => entry.event === 'nodedown' && entry.peer === client.node.name)?.level).toBe('info');
    const b = await member('b');
    await a.dist.connect(b.dist.address);
    await b.dist.close();
    await waitFor(() => a.logs.some((entry) => entry.event === 'nodedown' && entry.peer === b.node.name));
    expect(a.logs.find((entry) => entry.event === 'nodedown' && entry.peer === b.node.name)?.level).toBe('warn');
  });

  it('mesh — linking or monitoring a dead remote pid gives noproc', async () => {
    const a = await member('a');
    const b = await member('b');
    await a.dist.connect(b.dist.address);
    const gone = b.node.spawn(async () => undefined);
    await waitFor(() => !b.node.isAlive(gone));
    const down = await a.node.run(async (ctx) => {
      ctx.monitor(gone);
      return ctx.receive(isType('DOWN'), 2_000);
    });
    expect(down).toMatchObject({ reason: 'noproc' });
  });

  it('mesh — when the connection ends, links and monitors get noconnection and node monitors nodedown', async () => {
    const a = await member('a');
    const b = await member('b');
    await a.dist.connect(b.dist.address);
    const target = b.node.spawn(async (ctx) => {
      await ctx.receive();
    });
    const watcher = a.node.run(async (ctx) => {
      ctx.trapExit(true);
      a.dist.monitorNode(ctx.self, b.node.name);
      ctx.link(target);
      ctx.monitor(target);
      ctx.send(ctx.self, 'ready');
      await ctx.receive((msg) => msg === 'ready');
      const got: unknown[] = [];
      for (let index = 0; index < 3; index++) got.push(await ctx.receive(undefined, 3_000));
      return got;
    });
    await sleep(100);
    await b.dist.close();
    const got = await watcher;
    expect(got).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'EXIT', reason: 'noconnection' }),
        expect.objectContaining({ type: 'DOWN', reason: 'noconnection' }),
        { type: 'nodedown', node: b.node.name },
      ]),
    );
    expect(a.logs.some((entry) => entry.event === 'nodedown' && entry.peer === b.node.name)).toBe(true);
  });

  it('mesh — linking to a node we are not connected to gives noconnection at once', async () => {
    const a = await member('a');
    const exit = await a.node.run(async (ctx) => {
      ctx.trapExit(true);
      ctx.link(new Pid('nowhere@127.0.0.1', 1, 1));
      return ctx.receive(isType('EXIT'), 1_000);
    });
    expect(exit).toMatchObject({ reason: 'noconnection' });
  });

  it('mesh — a peer of an unsupported protocol version is refused with one log line and honest peers keep working', async () => {
    const a = await member('a');
    const b = await member('b');
    const future = await member('future', { versionMin: 90, versionMax: 91, reconnect: false });
    const refused = await future.dist.connect(a.dist.address).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeDefined();
    await waitFor(() => a.logs.some((entry) => entry.code === 'version_mismatch'));
    await sleep(100);
    const lines = a.logs.filter((entry) => entry.level === 'warn');
    expect(lines).toHaveLength(1);
    expect(refused).toMatchObject({ code: 'version_mismatch' });
    expect(lines[0]).toMatchObject({ event: 'handshake_failed', code: 'version_mismatch' });
    expect(lines[0]!.msg).toMatch(/peer speaks 90\.\.91, we speak/);
    expect(lines[0]!.msg).not.toContain('\n');
    expect(a.dist.peers()).toEqual([]);
    await expectHonestPeerServed(a, b, 2);
  });

  it('mesh — a wrong cookie is refused with one log line and honest peers keep working', async () => {
    const a = await member('a');
    const b = await member('b');
    const intruder = await member('intruder', { cookie: 'guess', reconnect: false });
    await expect(intruder.dist.connect(a.dist.address)).rejects.toMatchObject({ code: 'auth_failed' });
    await waitFor(() => a.logs.some((entry) => entry.code === 'auth_failed'));
    expect(a.logs.filter((entry) => entry.code === 'auth_failed')).toHaveLength(1);
    expect(a.dist.peers()).toEqual([]);
    await expectHonestPeerServed(a, b, 1);
  });

  it('mesh — a node of another cluster never links', async () => {
    const a = await member('a');
    const other = await member('other', { cluster: 'elsewhere', reconnect: false });
    await expect(other.dist.connect(a.dist.address)).rejects.toMatchObject({ code: 'auth_failed' });
  });

  it('mesh — a second node with a connected name is refused with name_clash', async () => {
    const a = await member('a');
    const b = await member('b');
    await b.dist.connect(a.dist.address);
    const node = new Node({ name: b.node.name, creation: 1 });
    const impostor = await Distribution.start({ node, cookie: 'cookie', cluster: 'mesh-test', logger: () => undefined, reconnect: false, ...FAST });
    try {
      await expect(impostor.connect(a.dist.address)).rejects.toMatchObject({ code: 'name_clash' });
      await waitFor(() => a.logs.some((entry) => entry.code === 'name_clash'));
      await sleep(100);
      // One line for the refused impostor, none for anything else; the real b keeps its link.
      expect(a.logs.filter((entry) => entry.level === 'warn')).toHaveLength(1);
      expect(a.logs.filter((entry) => entry.code === 'name_clash')).toHaveLength(1);
      expect(a.dist.peerInfo(b.node.name)?.creation).toBe(1);
      expect(a.dist.isConnected(b.node.name)).toBe(true);
    } finally {
      await impostor.close();
      await node.stop();
    }
  });

  it('mesh — a newer incarnation replaces a connection its old self has not yet lost', async () => {
    const a = await member('a');
    const old = await member('b', { reconnect: false });
    await old.dist.connect(a.dist.address);
    const events: string[] = [];
    a.dist.onNodeEvent((event) => events.push(`${event.type}:${event.node}`));
    const restarted = await member('b', { creation: 2, reconnect: false });
    await restarted.dist.connect(a.dist.address);
    expect(a.dist.peerInfo('b@127.0.0.1')?.creation).toBe(2);
    expect(events).toEqual(['nodedown:b@127.0.0.1', 'nodeup:b@127.0.0.1']);
    await waitFor(() => !old.dist.isConnected(a.node.name));
  });

  it('mesh — visible connections are made transitive', async () => {
    const a = await member('a');
    const b = await member('b');
    const c = await member('c');
    const d = await member('d');
    await b.dist.connect(a.dist.address);
    await c.dist.connect(a.dist.address);
    await d.dist.connect(c.dist.address);
    await waitFor(() => [a, b, c, d].every((m) => m.dist.peers().length === 3), 5_000, 'full mesh');
    expect(b.dist.peers()).toEqual(['a@127.0.0.1', 'c@127.0.0.1', 'd@127.0.0.1']);
  });

  it('mesh — a hidden node connects only where told and is never propagated', async () => {
    const a = await member('a');
    const b = await member('b');
    const hidden = await member('h', { hidden: true });
    await b.dist.connect(a.dist.address);
    await hidden.dist.connect(a.dist.address);
    const c = await member('c');
    await c.dist.connect(a.dist.address);
    await waitFor(() => c.dist.peers().length === 2);
    await sleep(150);
    expect(hidden.dist.peers()).toEqual(['a@127.0.0.1']);
    expect(a.dist.peers()).toEqual(['b@127.0.0.1', 'c@127.0.0.1', 'h@127.0.0.1']);
    expect(a.dist.peers({ hidden: false })).toEqual(['b@127.0.0.1', 'c@127.0.0.1']);
    expect(b.dist.peers()).toEqual(['a@127.0.0.1', 'c@127.0.0.1']);
    expect(c.dist.peers()).toEqual(['a@127.0.0.1', 'b@127.0.0.1']);
  });

  it('mesh — reconnects after the peer restarts; pids of the old incarnation are dead', async () => {
    const a = await member('a');
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const first = new Node({ name: 'b@127.0.0.1', creation: 1, stopTimeoutMs: 100 });
    const firstDist = await Distribution.start({ node: first, cookie: 'cookie', cluster: 'mesh-test', transport: new TcpTransport({ port }), logger: () => undefined, ...FAST });
    const oldPid = first.spawn(echo);
    const events: string[] = [];
    a.dist.onNodeEvent((event) => events.push(`${event.type}:${event.node}`));
    await a.dist.connect(firstDist.address);
    await firstDist.close();
    await first.stop();
    await waitFor(() => events.includes('nodedown:b@127.0.0.1'));
    const second = await member('b', { creation: 2, transport: new TcpTransport({ port }) });
    await waitFor(() => a.dist.isConnected('b@127.0.0.1'), 5_000, 'reconnect');
    expect(a.dist.peerInfo('b@127.0.0.1')?.creation).toBe(2);
    expect(events).toEqual(['nodeup:b@127.0.0.1', 'nodedown:b@127.0.0.1', 'nodeup:b@127.0.0.1']);
    const [down, reply] = await a.node.run(async (ctx) => {
      ctx.monitor(oldPid);
      const downMsg = await ctx.receive(isType('DOWN'), 2_000);
      ctx.send(oldPid, { from: ctx.self, body: 'anyone?' });
      return [downMsg, await ctx.receive((msg) => !isType('DOWN')(msg), 200)];
    });
    expect(down).toMatchObject({ reason: 'noproc' });
    expect(reply).toBe(TIMEOUT);
    void second;
  });

  it('mesh — no connection storm while a peer of three is down, and one link each once it is back', async () => {
    // Each survivor redials the dead peer with its own backoff and jitter: a bounded handful of
    // dials over the outage (20 ms doubling to 200 ms: at most about 16 in 1.5 s), not one per
    // tick or per learned address; once it is back every survivor holds exactly one link to it.
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const target = `127.0.0.1:${port}`;
    const dials = new Map<string, number>();
    const counting = (who: string) =>
      new (class extends TcpTransport {
        override connect(address: string, options?: { timeoutMs?: number }) {
          if (address === target) dials.set(who, (dials.get(who) ?? 0) + 1);
          return super.connect(address, options);
        }
      })();
    const survivors: Member[] = [];
    for (const [index, name] of ['s1', 's2', 's3'].entries()) {
      survivors.push(await member(name, { transport: counting(name), backoffMinMs: 20, backoffMaxMs: 200, rng: new Rng(index + 11) }));
    }
    const firstNode = new Node({ name: 'back@127.0.0.1', creation: 1, stopTimeoutMs: 100 });
    const firstDist = await Distribution.start({ node: firstNode, cookie: 'cookie', cluster: 'mesh-test', transport: new TcpTransport({ port }), logger: () => undefined, ...FAST });
    for (const survivor of survivors) await survivor.dist.connect(firstDist.address);
    await waitFor(() => survivors.every((survivor) => survivor.dist.peers().length === 3), 5_000, 'full mesh');
    await firstDist.close();
    await firstNode.stop();
    await waitFor(() => survivors.every((survivor) => !survivor.dist.isConnected('back@127.0.0.1')), 5_000, 'nodedown everywhere');
    dials.clear();
    await sleep(1_500);
    for (const name of ['s1', 's2', 's3']) {
      expect(dials.get(name) ?? 0, name).toBeGreaterThanOrEqual(3);
      expect(dials.get(name) ?? 0, name).toBeLessThanOrEqual(20);
    }
    const back = await member('back', { creation: 2, transport: new TcpTransport({ port }) });
    await waitFor(() => survivors.every((survivor) => survivor.dist.isConnected('back@127.0.0.1')), 5_000, 'reconnected everywhere');
    await sleep(300);
    expect([...back.dist.peers()].sort()).toEqual(['s1@127.0.0.1', 's2@127.0.0.1', 's3@127.0.0.1']);
    for (const survivor of survivors) expect(survivor.dist.peerInfo('back@127.0.0.1')?.creation).toBe(2);
  });

  it('mesh — simultaneous connects end with exactly one connection', async () => {
    for (let round = 0; round < 5; round++) {
      const a = await member(`a${round}`);
      const b = await member(`b${round}`);
      const results = await Promise.allSettled([a.dist.connect(b.dist.address), b.dist.connect(a.dist.address)]);
      expect(results.some((result) => result.status === 'fulfilled')).toBe(true);
      await waitFor(() => a.dist.isConnected(b.node.name) && b.dist.isConnected(a.node.name), 5_000, 'connected');
      await sleep(60);
      expect(a.dist.stats().connectionsClosed + b.dist.stats().connectionsClosed).toBe(0);
      expect(a.dist.peers()).toEqual([b.node.name]);
    }
  });

  it('mesh — monitorNode reports nodedown at once when not connected, then nodeup', async () => {
    const a = await member('a');
    const b = await member('b');
    const got = await a.node.run(async (ctx) => {
      a.dist.monitorNode(ctx.self, b.node.name);
      const first = await ctx.receive(undefined, 1_000);
      await a.dist.connect(b.dist.address);
      const second = await ctx.receive(undefined, 1_000);
      return [first, second];
    });
    expect(got).toEqual([
      { type: 'nodedown', node: b.node.name },
      { type: 'nodeup', node: b.node.name },
    ]);
  });

  it('mesh — subsystems exchange their own messages on control channels', async () => {
    const a = await member('a');
    const b = await member('b');
    const received: Array<[string, unknown]> = [];
    const off = b.dist.onControl('raft', (from, payload) => received.push([from, payload]));
    expect(() => b.dist.onControl('raft', () => undefined)).toThrow(expect.objectContaining({ code: 'badarg' }));
    expect(a.dist.sendControl(b.node.name, 'raft', { term: 1 })).toBe(false);
    await a.dist.connect(b.dist.address);
    expect(a.dist.sendControl(b.node.name, 'raft', { term: 2, entries: [1, 2] })).toBe(true);
    expect(a.dist.sendControl(b.node.name, 'unknown-channel', 1)).toBe(true);
    await waitFor(() => received.length === 1 && b.dist.stats().controlUnhandled === 1);
    expect(received).toEqual([[a.node.name, { term: 2, entries: [1, 2] }]]);
    off();
    expect(b.dist.isConnected(a.node.name)).toBe(true);
  });

  it('mesh — sendAsync delivers, and rejects nodedown when not connected', async () => {
    const a = await member('a');
    const b = await member('b');
    await expect(a.dist.sendAsync({ name: 'x', node: b.node.name }, 1)).rejects.toMatchObject({ code: 'nodedown' });
    await a.dist.connect(b.dist.address);
    const got = b.node.run(async (ctx) => {
      ctx.register('inbox');
      ctx.send(ctx.self, 'registered');
      await ctx.receive((msg) => msg === 'registered');
      return ctx.receive(undefined, 2_000);
    });
    await sleep(20);
    await a.dist.sendAsync({ name: 'inbox', node: b.node.name }, 'async hello');
    expect(await got).toBe('async hello');
  });

  it('mesh — fault injection: blocking a node cuts and refuses its link until unblocked', async () => {
    const a = await member('a');
    const b = await member('b');
    await b.dist.connect(a.dist.address);
    a.dist.setBlocked([b.node.name]);
    expect(a.dist.blocked()).toEqual([b.node.name]);
    await waitFor(() => !a.dist.isConnected(b.node.name) && !b.dist.isConnected(a.node.name));
    await sleep(150); // b keeps redialling and is refused
    expect(a.dist.isConnected(b.node.name)).toBe(false);
    a.dist.setBlocked([]);
    await waitFor(() => a.dist.isConnected(b.node.name), 5_000, 'healed');
  });

  it('mesh — plaintext links are refused to non-loopback addresses', async () => {
    const a = await member('a', { sealed: false, reconnect: false });
    await expect(a.dist.connect('10.255.255.1:4370')).rejects.toMatchObject({ code: 'config' });
  });

  it('mesh — a plaintext node refuses to listen on a non-loopback interface, before binding anything', async () => {
    const node = new Node({ name: 'plain@127.0.0.1' });
    // 192.0.2.1 (TEST-NET-1) is no interface here: were the check missing, listen would fail, not bind.
    expect(() => new Distribution({ node, cookie: 'cookie', sealed: false, transport: new TcpTransport({ host: '192.0.2.1' }) })).toThrow(
      expect.objectContaining({ code: 'config' }),
    );
    // A transport that learns its address only by listening is closed again if that address is not loopback.
    const stub = new AddressOnlyTransport('192.0.2.1:4370');
    const dist = new Distribution({ node, cookie: 'cookie', sealed: false, transport: stub, logger: () => undefined });
    await expect(dist.start()).rejects.toMatchObject({ code: 'config' });
    expect(stub.closed).toBe(true);
    await dist.close();
  });

  it('mesh — a plaintext node refuses an incoming connection from a non-loopback address before any handshake', async () => {
    const refusing = await member('refusing', { sealed: false, reconnect: false, transport: new RelabelingTransport('192.0.2.7') });
    const dialer = await member('dialer', { sealed: false, reconnect: false });
    await expect(dialer.dist.connect(refusing.dist.address)).rejects.toMatchObject({ code: 'closed' });
    await waitFor(() => refusing.logs.some((entry) => entry.event === 'refused'), 5_000, 'the refusal line');
    expect(refusing.logs.filter((entry) => entry.level === 'warn')).toEqual([expect.objectContaining({ event: 'refused', code: 'config' })]);
    expect(refusing.dist.stats().handshakesFailed).toBe(0);
    expect(refusing.dist.peers()).toEqual([]);
    // The same transport reporting a loopback peer lets the plaintext link through.
    const accepting = await member('accepting', { sealed: false, reconnect: false, transport: new RelabelingTransport('127.0.0.1') });
    expect(await dialer.dist.connect(accepting.dist.address)).toBe(accepting.node.name);
  });

  it('mesh — close is idempotent and detaches from the node', async () => {
    const a = await member('a');
    const b = await member('b');
    await a.dist.connect(b.dist.address);
    await a.dist.close();
    await a.dist.close();
    await waitFor(() => !b.dist.isConnected(a.node.name));
    await expect(a.dist.connect(b.dist.address)).rejects.toMatchObject({ code: 'closed' });
  });
  it('mesh — node.stop() alone closes the distribution: the peer sees nodedown, the listener is gone', async () => {
    // Proves the distribution is an attachment of its node: stopping the node closes its sockets
    // and heartbeat timer (test/setup.ts fails this file if any handle were left open).
    const a = await member('a');
    const b = await member('b');
    await a.dist.connect(b.dist.address);
    await a.node.stop();
    await waitFor(() => !b.dist.isConnected(a.node.name));
    await expect(a.dist.connect(b.dist.address)).rejects.toMatchObject({ code: 'closed' });
    await expect(b.dist.connect(a.dist.address)).rejects.toMatchObject({ code: expect.stringMatching(/nodedown|timeout/) });
  });
});
