/**
 * One conformance suite, run against every transport (tcp on 127.0.0.1, hyperswarm on a local
 * `hyperdht/testnet` bound to 127.0.0.1): listen/connect, bytes both ways in order, a large
 * payload intact, close seen by the peer, unreachable addresses rejected with a typed error,
 * idempotent close, a full `Distribution` (handshake, sealed link, remote send) on top, and a
 * peer with the wrong cookie refused by the handshake over it (the Noise stream is no membership).
 * Also proves the hyperswarm transport refuses to start without an explicit bootstrap list (or
 * with a malformed one), holds no DHT node (no sockets) until it is used, and that many
 * short-lived connections from fresh clients to a server in another process all reach it.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

const SHORT_LIVED_CLIENTS = 12;
const TRANSPORT_MODULE = fileURLToPath(new URL('../../runtime/dist/hyperswarm.ts', import.meta.url));

/**
 * One short-lived client, run in a fresh process as a CLI command is: a new DHT node and key
 * pair, one connection to FEDCTL_PING_ADDRESS, `ping` written, and one JSON line printed:
 * `{"echoed":true}` if the bytes came back (so the server accepted the stream), else why not.
 * Its waits are bounded (10 s to connect, 5 s for the echo); it closes its transport and exits.
 */
const PING_CLIENT = `
const { HyperswarmTransport } = await import(process.env.FEDCTL_TRANSPORT_MODULE);
const transport = new HyperswarmTransport({ bootstrap: JSON.parse(process.env.FEDCTL_DHT_BOOTSTRAP) });
let result;
try {
  const stream = await transport.connect(process.env.FEDCTL_PING_ADDRESS, { timeoutMs: 10000 });
  result = await new Promise((resolve) => {
    let received = '';
    const timer = setTimeout(() => resolve({ echoed: false, error: 'no echo in 5000 ms: the server never saw the stream' }), 5000);
    stream.setHandlers({
      data: (chunk) => {
        received += Buffer.from(chunk).toString();
        if (received === 'ping') { clearTimeout(timer); resolve({ echoed: true }); }
      },
      drain: () => undefined,
      close: () => { clearTimeout(timer); resolve({ echoed: false, error: 'closed before the echo' }); },
    });
    stream.write([Buffer.from('ping')]);
  });
} catch (error) {
  result = { echoed: false, error: error.message };
}
process.stdout.write(JSON.stringify(result) + '\\n');
await transport.close();
`;

function pingFromAnotherProcess(address: string): Promise<{ echoed: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', PING_CLIENT], {
      env: { ...process.env, FEDCTL_TRANSPORT_MODULE: TRANSPORT_MODULE, FEDCTL_DHT_BOOTSTRAP: JSON.stringify(testnet!.bootstrap), FEDCTL_PING_ADDRESS: address },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    // The client bounds its own waits; this only ends a hang.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(stdout) as { echoed: boolean; error?: string });
      } catch {
        reject(new Error(`ping client exited with ${code} and printed ${JSON.stringify(stdout)}`));
      }
    });
  });
}

describe('hyperswarm across processes', () => {
  it('hyperswarm — short-lived connections from fresh client processes each reach the server', async () => {
    // As the CLI connects (a fresh process, DHT node and key pair per command, one after the
    // other), each client must get its bytes echoed — proof that the server accepted the stream,
    // which the client seeing its own end open is not — and the server counts one stream each.
    // (hyperdht 6.33–6.34 races its same-host LAN shortcut against a holepunch that the server
    // aborts, leaving such streams half-open; see createDht in hyperswarm.ts.)
    const server = new HyperswarmTransport({ bootstrap: testnet!.bootstrap });
    let accepted = 0;
    try {
      const address = await server.listen((stream) => {
        accepted++;
        stream.setHandlers({ data: (chunk) => stream.write([Buffer.from(chunk)]), drain: () => undefined, close: () => undefined });
      });
      for (let index = 0; index < SHORT_LIVED_CLIENTS; index++) {
        expect({ client: index, ...(await pingFromAnotherProcess(address)) }).toEqual({ client: index, echoed: true });
      }
      expect(accepted).toBe(SHORT_LIVED_CLIENTS);
    } finally {
      await server.close();
    }
  }, 120_000);
});

describe('hyperswarm safety', () => {
  it('hyperswarm — refuses to start without an explicit bootstrap list', () => {
    expect(() => new HyperswarmTransport({ bootstrap: [] })).toThrow(expect.objectContaining({ code: 'config' }));
    expect(() => new HyperswarmTransport(undefined as never)).toThrow(expect.objectContaining({ code: 'config' }));
    expect(() => new HyperswarmTransport({} as never)).toThrow(expect.objectContaining({ code: 'config' }));
  });

  it('hyperswarm — refuses a malformed bootstrap list, naming the bad entry', () => {
    for (const bootstrap of [['127.0.0.1'], ['127.0.0.1:0'], ['127.0.0.1:70000'], ['host:port'], [{ host: '127.0.0.1' }], [{ host: '', port: 49737 }], [42]]) {
      expect(() => new HyperswarmTransport({ bootstrap: bootstrap as never })).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('bootstrap node is host:port') }));
    }
    expect(() => new HyperswarmTransport({ bootstrap: ['127.0.0.1:49737'], seed: Buffer.alloc(16) })).toThrow(expect.objectContaining({ code: 'config' }));
    // Both spellings are accepted.
    const transport = new HyperswarmTransport({ bootstrap: ['127.0.0.1:49737', { host: '127.0.0.1', port: 49738 }] });
    expect(transport.publicKeyHex).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hyperswarm — a key pair seed gives the same address every time', () => {
    const seed = Buffer.alloc(32, 7);
    const one = new HyperswarmTransport({ bootstrap: ['127.0.0.1:49737'], seed });
    const two = new HyperswarmTransport({ bootstrap: ['127.0.0.1:49737'], seed });
    const other = new HyperswarmTransport({ bootstrap: ['127.0.0.1:49737'] });
    expect(one.publicKeyHex).toBe(two.publicKeyHex);
    expect(other.publicKeyHex).not.toBe(one.publicKeyHex);
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
