/**
 * One conformance suite, run against every transport (tcp on 127.0.0.1, hyperswarm on a local
 * `hyperdht/testnet` bound to 127.0.0.1): listen/connect, bytes both ways in order, a large
 * payload intact, close seen by the peer, unreachable addresses rejected with a typed error,
 * idempotent close, a full `Distribution` (handshake, sealed link, remote send) on top, and a
 * peer with the wrong cookie refused by the handshake over it (the Noise stream is no membership).
 * Also proves the hyperswarm transport refuses to start without an explicit bootstrap list, and
 * holds no DHT node (no sockets) until it is used.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import createTestnet from 'hyperdht/testnet.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Distribution, type LogEntry } from '../../runtime/dist/distribution.js';
import { HyperswarmTransport } from '../../runtime/dist/hyperswarm.js';
import { type ByteStream, TcpTransport, type Transport } from '../../runtime/dist/transport.js';
import { isFedError } from '../../runtime/kernel/errors.js';
import { Node } from '../../runtime/node.js';
import { waitFor } from './fixtures/helpers.js';

type Testnet = Awaited<ReturnType<typeof createTestnet>>;
let testnet: Testnet | undefined;

beforeAll(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' });
});

afterAll(async () => {
  await testnet?.destroy();
});

interface TransportKind {
  readonly name: string;
  make(): Transport;
  unreachable(): string;
}

const kinds: TransportKind[] = [
  { name: 'tcp', make: () => new TcpTransport(), unreachable: () => '127.0.0.1:1' },
  {
    name: 'hyperswarm',
    make: () => new HyperswarmTransport({ bootstrap: testnet!.bootstrap }),
    unreachable: () => 'ab'.repeat(32),
  },
];

function collect(stream: ByteStream): { bytes: () => Buffer; closed: () => boolean } {
  const chunks: Buffer[] = [];
  let closed = false;
  stream.setHandlers({ data: (chunk) => chunks.push(Buffer.from(chunk)), drain: () => undefined, close: () => (closed = true) });
  return { bytes: () => Buffer.concat(chunks), closed: () => closed };
}

async function connectedPair(kind: TransportKind) {
  const server = kind.make();
  const client = kind.make();
  let accepted: ByteStream | undefined;
  const address = await server.listen((stream) => (accepted = stream));
  const stream = await client.connect(address, { timeoutMs: 10_000 });
  await waitFor(() => accepted !== undefined, 10_000, 'accept');
  return { server, client, address, clientStream: stream, serverStream: accepted! };
}

for (const kind of kinds) {
  describe(`transport conformance: ${kind.name}`, () => {
    it(`${kind.name} — bytes flow both ways in order, large payloads intact`, async () => {
      const pair = await connectedPair(kind);
      try {
        const atServer = collect(pair.serverStream);
        const atClient = collect(pair.clientStream);
        const big = Buffer.alloc(1024 * 1024);
        for (let index = 0; index < big.length; index++) big[index] = index % 251;
        pair.clientStream.write([Buffer.from('hello '), Buffer.from('world')]);
        pair.clientStream.write([big]);
        pair.serverStream.write([Buffer.from('pong')]);
        await waitFor(() => atServer.bytes().length === 11 + big.length, 10_000, 'payload');
        expect(atServer.bytes().subarray(0, 11).toString()).toBe('hello world');
        expect(atServer.bytes().subarray(11).equals(big)).toBe(true);
        await waitFor(() => atClient.bytes().toString() === 'pong');
        expect(pair.address).toBe(pair.server.address);
      } finally {
        await pair.client.close();
        await pair.server.close();
      }
    });

    it(`${kind.name} — what a peer that does not read leaves unsent is counted in bufferedBytes`, async () => {
      const pair = await connectedPair(kind);
      try {
        const atServer = collect(pair.serverStream);
        (pair.serverStream.raw as unknown as { pause(): void }).pause();
        const chunk = Buffer.alloc(64 * 1024, 3);
        // Write until the stream asks to wait (bounded), then a little more: that much stays buffered.
        let writes = 0;
        for (let accepted = true; accepted && writes < 4_096; writes++) accepted = pair.clientStream.write([chunk]);
        for (let extra = 0; extra < 16; extra++, writes++) pair.clientStream.write([chunk]);
        expect(pair.clientStream.bufferedBytes).toBeGreaterThan(0);
        (pair.serverStream.raw as unknown as { resume(): void }).resume();
        await waitFor(() => pair.clientStream.bufferedBytes === 0, 20_000, 'the buffer to drain');
        await waitFor(() => atServer.bytes().length === writes * chunk.length, 20_000, 'every byte');
      } finally {
        await pair.client.close();
        await pair.server.close();
      }
    });

    it(`${kind.name} — closing one end is seen by the other`, async () => {
      const pair = await connectedPair(kind);
      try {
        const atServer = collect(pair.serverStream);
        collect(pair.clientStream);
        pair.clientStream.destroy();
        await waitFor(() => atServer.closed(), 10_000, 'close seen');
      } finally {
        await pair.client.close();
        await pair.server.close();
      }
    });

    it(`${kind.name} — an unreachable address rejects with a typed error`, async () => {
      const transport = kind.make();
      try {
        let caught: unknown;
        try {
          await transport.connect(kind.unreachable(), { timeoutMs: 1_500 });
        } catch (error) {
          caught = error;
        }
        expect(isFedError(caught, 'nodedown') || isFedError(caught, 'timeout')).toBe(true);
        await expect(transport.connect('not an address')).rejects.toMatchObject({ code: 'badarg' });
      } finally {
        await transport.close();
      }
    });

    it(`${kind.name} — close is idempotent and ends open streams`, async () => {
      const pair = await connectedPair(kind);
      const atClient = collect(pair.clientStream);
      await pair.server.close();
      await pair.server.close();
      await waitFor(() => atClient.closed(), 10_000, 'client sees close');
      await pair.client.close();
      await expect(pair.client.connect(pair.address)).rejects.toMatchObject({ code: 'closed' });
    });

    it(`${kind.name} — a sealed distribution link runs over it`, async () => {
      const nodeA = new Node({ name: `a-${kind.name}@127.0.0.1`, stopTimeoutMs: 100 });
      const nodeB = new Node({ name: `b-${kind.name}@127.0.0.1`, stopTimeoutMs: 100 });
      const options = { cookie: 'c', logger: () => undefined, tickMs: 50, heartbeatTimeoutMs: 2_000, reconnect: false };
      const a = await Distribution.start({ node: nodeA, transport: kind.make(), ...options });
      const b = await Distribution.start({ node: nodeB, transport: kind.make(), ...options });
      try {
        const inbox = nodeB.run(async (ctx) => {
          ctx.register('inbox');
          return ctx.receive(undefined, 10_000);
        });
        expect(await a.connect(b.address)).toBe(nodeB.name);
        nodeA.send({ name: 'inbox', node: nodeB.name }, { over: kind.name });
        expect(await inbox).toEqual({ over: kind.name });
      } finally {
        await a.close();
        await b.close();
        await nodeA.stop();
        await nodeB.stop();
      }
    });

    it(`${kind.name} — a peer with the wrong cookie is refused by the handshake over it`, async () => {
      const nodeA = new Node({ name: `wrong-${kind.name}@127.0.0.1`, stopTimeoutMs: 100 });
      const nodeB = new Node({ name: `right-${kind.name}@127.0.0.1`, stopTimeoutMs: 100 });
      const logsB: LogEntry[] = [];
      const common = { logger: () => undefined, tickMs: 50, heartbeatTimeoutMs: 2_000, reconnect: false };
      const a = await Distribution.start({ node: nodeA, transport: kind.make(), ...common, cookie: 'guessed' });
      const b = await Distribution.start({ node: nodeB, transport: kind.make(), ...common, cookie: 'the-cookie', logger: (entry) => logsB.push(entry) });
      try {
        await expect(a.connect(b.address)).rejects.toMatchObject({ code: 'auth_failed' });
        await waitFor(() => logsB.some((entry) => entry.code === 'auth_failed'), 10_000, 'the refusal at b');
        expect(a.peers()).toEqual([]);
        expect(b.peers()).toEqual([]);
      } finally {
        await a.close();
        await b.close();
        await nodeA.stop();
        await nodeB.stop();
      }
    });
  });
}

describe('hyperswarm safety', () => {
  it('hyperswarm — refuses to start without an explicit bootstrap list', () => {
    expect(() => new HyperswarmTransport({ bootstrap: [] })).toThrow(expect.objectContaining({ code: 'config' }));
    expect(() => new HyperswarmTransport(undefined as never)).toThrow(expect.objectContaining({ code: 'config' }));
  });

  it('hyperswarm — a transport handed to a Distribution that refuses its options leaves no DHT running', async () => {
    // A DHT node binds its UDP sockets within milliseconds of its creation: count this process's sockets.
    const sockets = (): number =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
        } catch {
          return false; // the fd of the directory listing itself
        }
      }).length;
    const before = sockets();
    const transport = new HyperswarmTransport({ bootstrap: testnet!.bootstrap });
    const node = new Node({ name: 'refused@127.0.0.1' });
    expect(() => new Distribution({ node, cookie: 'c', sealed: false, transport })).toThrow(expect.objectContaining({ code: 'config' }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sockets()).toBe(before);
    // The count does see a DHT node: using the transport creates one, and close() releases it.
    await transport.listen(() => undefined);
    expect(sockets()).toBeGreaterThan(before);
    await transport.close();
    await waitFor(() => sockets() === before, 5_000, 'the DHT sockets to close');
  });

  it('hyperswarm — plaintext links are refused on it', () => {
    const node = new Node({ name: 'p@127.0.0.1' });
    expect(() => new Distribution({ node, cookie: 'c', sealed: false, transport: { kind: 'hyperswarm' } as Transport })).toThrow(
      expect.objectContaining({ code: 'config' }),
    );
  });
});
