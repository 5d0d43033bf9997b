/**
 * Property-based fuzzing (fast-check) of a live listener on 127.0.0.1: random bytes, random
 * bytes behind a plausible length prefix, mutated and truncated handshake frames, and — from a
 * peer that completes a genuine handshake — random and mutated sealed link records. After every
 * case the node is still serving: an honest peer connects and gets a reply (also between cases),
 * nothing reached a mailbox but valid sends among the fuzzed records (judged by decoding each
 * record on its own), and each bad connection cost at most one log line. A flood of connections
 * that never speak is capped at `PENDING_HANDSHAKES_MAX` pending handshakes.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../../runtime/codec.js';
import { Distribution, type LogEntry, PENDING_HANDSHAKES_MAX } from '../../runtime/dist/distribution.js';
import { encodeFrame, frameHeader } from '../../runtime/dist/frame.js';
import { handshake } from '../../runtime/dist/handshake.js';
import type { Sealer } from '../../runtime/dist/seal.js';
import { type ByteStream, TcpTransport } from '../../runtime/dist/transport.js';
import { Node } from '../../runtime/node.js';
import { Pid } from '../../runtime/pid.js';
import { identity, waitFor } from './fixtures/helpers.js';

const COOKIE = 'fuzz-cookie';
const CLUSTER = 'fuzz';
let node: Node;
let dist: Distribution;
const logs: LogEntry[] = [];
let sinkMessages = 0;
let fuzzConnections = 0;
/** What reached the spy process (the fuzzed sends' target), and what a valid send to it could carry. */
const spied: unknown[] = [];
let spyPid: Pid;

beforeAll(async () => {
  node = new Node({ name: 'target@127.0.0.1', stopTimeoutMs: 100 });
  dist = await Distribution.start({ node, cookie: COOKIE, cluster: CLUSTER, handshakeTimeoutMs: 300, logger: (entry) => logs.push(entry), reconnect: false });
  node.spawn(
    async (ctx) => {
      for (;;) {
        const msg = (await ctx.receive()) as { from?: Pid; honest?: number };
        if (msg.honest !== undefined && msg.from !== undefined) ctx.send(msg.from, { echoed: msg.honest });
        else sinkMessages++;
      }
    },
    { name: 'echo' },
  );
  spyPid = node.spawn(async (ctx) => {
    for (;;) spied.push(await ctx.receive());
  });
});

afterAll(async () => {
  await dist.close();
  await node.stop();
});

function rawSend(chunks: Buffer[]): Promise<void> {
  fuzzConnections++;
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: Number(dist.address.split(':')[1]) });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
      setTimeout(() => socket.destroy(), 5);
    });
  });
}

function helloFrame(): Buffer {
  return encodeFrame(
    encode({ t: 'hello', versions: [1, 1], cluster: CLUSTER, name: 'x@127.0.0.1', creation: 1, hidden: false, listen: '', sealed: true, nonce: Buffer.alloc(32, 9) }),
  );
}

function mutate(bytes: Buffer, flips: Array<[number, number]>, cut: number): Buffer {
  const out = Buffer.from(bytes);
  for (const [position, value] of flips) out[position % out.length] = value;
  return out.subarray(0, Math.max(1, cut % (out.length + 1)));
}

let honestRound = 0;
async function honestPeerWorks(): Promise<void> {
  const peerNode = new Node({ name: `honest${honestRound++}@127.0.0.1`, stopTimeoutMs: 100 });
  const peer = await Distribution.start({ node: peerNode, cookie: COOKIE, cluster: CLUSTER, logger: () => undefined, reconnect: false, listen: false });
  try {
    await peer.connect(dist.address);
    const reply = await peerNode.run(async (ctx) => {
      ctx.send({ name: 'echo', node: node.name }, { from: ctx.self, honest: honestRound });
      return ctx.receive(undefined, 5_000);
    });
    expect(reply).toEqual({ echoed: honestRound });
  } finally {
    await peer.close();
    await peerNode.stop();
  }
}

let authenticatedRound = 0;
/** A peer that knows the cookie, completes the handshake, then sends `records` (plaintexts to seal). */
async function authenticatedSend(records: Buffer[]): Promise<void> {
  fuzzConnections++;
  const transport = new TcpTransport();
  try {
    const stream = await transport.connect(dist.address);
    const result = await handshake(stream, { role: 'initiator', local: identity(`fuzz${authenticatedRound++}@127.0.0.1`, { cluster: CLUSTER }), cookie: COOKIE });
    stream.setHandlers({ data: () => undefined, drain: () => undefined, close: () => undefined });
    for (const plaintext of records) {
      const [ciphertext, tag] = result.sealer!.seal(plaintext);
      stream.write([frameHeader(ciphertext.length + tag.length), ciphertext, tag]);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  } finally {
    await transport.close();
  }
}

describe('fuzz', () => {
  it('fuzz — random and mutated bytes before authentication never hurt the node', async () => {
    const bytes = fc.uint8Array({ minLength: 1, maxLength: 2_048 }).map((array) => Buffer.from(array));
    const caseArbitrary = fc.oneof(
      bytes.map((random) => [random]),
      bytes.map((random) => [frameHeader(random.length), random]),
      fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat()).map(([flips, cut]) => [mutate(helloFrame(), flips, cut)]),
      fc.tuple(fc.nat({ max: 0xffff_ffff }), bytes).map(([length, random]) => [frameHeader(length), random]),
    );
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(caseArbitrary, async (chunks) => {
        await rawSend(chunks);
        // Still serving honest peers in the middle of it, not only at the end.
        if (++cases % 40 === 0) await honestPeerWorks();
      }),
      { numRuns: 120 },
    );
    await honestPeerWorks();
    expect(sinkMessages).toBe(0);
  });

  it('fuzz — random and mutated records from an authenticated peer never reach a mailbox unvalidated', async () => {
    // The template is a valid send to a live process (the spy): a mutation may leave it a valid
    // send (another payload), which is then delivered; anything else reaches nobody. Judged
    // independently of the link's parser: a record may deliver to the spy only if it decodes, on
    // its own, to exactly [send, null, spy, payload].
    const valid = encode([1, null, spyPid, 'x']);
    const recordArbitrary = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 512 }).map((array) => Buffer.from(array)),
      fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat()).map(([flips, cut]) => mutate(valid, flips, cut)),
      fc.constantFrom(encode([3, 0, 'link', new Pid('elsewhere@127.0.0.1', 1, 1), new Pid(node.name, 1, 1), null, null]), encode([2, null, 42, 'x']), encode({ t: 'hello' })),
      // Valid sends among the bad ones: delivered only if nothing bad came before them on that link.
      fc.string({ maxLength: 40 }).map((text) => encode([1, null, spyPid, text])),
    );
    const allowed: string[] = [];
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(recordArbitrary, { minLength: 1, maxLength: 3 }), async (records) => {
        for (const record of records) {
          let value: unknown;
          try {
            value = decode(record);
          } catch {
            continue;
          }
          if (Array.isArray(value) && value.length === 4 && value[0] === 1 && value[1] === null && value[2] instanceof Pid && value[2].equals(spyPid)) {
            allowed.push(JSON.stringify(value[3]) ?? 'undefined');
          }
        }
        await authenticatedSend(records);
        if (++cases % 20 === 0) await honestPeerWorks();
      }),
      { numRuns: 60 },
    );
    await honestPeerWorks();
    expect(sinkMessages).toBe(0);
    expect(allowed.length).toBeGreaterThan(0);
    expect(spied.length).toBeGreaterThan(0);
    expect(spied.length).toBeLessThanOrEqual(allowed.length);
    const unclaimed = [...allowed];
    for (const message of spied) {
      const at = unclaimed.indexOf(JSON.stringify(message) ?? 'undefined');
      expect(at, `delivered ${JSON.stringify(message)}`).toBeGreaterThanOrEqual(0);
      unclaimed.splice(at, 1);
    }
  });

  it('fuzz — a flood of silent connections is capped; the node serves again once they go', async () => {
    const port = Number(dist.address.split(':')[1]);
    const sockets = await Promise.all(
      Array.from({ length: PENDING_HANDSHAKES_MAX + 20 }, () => new Promise<net.Socket>((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
        socket.on('error', () => undefined);
      })),
    );
    await waitFor(() => dist.stats().handshakesRefused >= 20, 5_000, 'refusals');
    for (const socket of sockets) socket.destroy();
    // The node sees those closes asynchronously; until it has, a new connection may still be refused.
    await waitFor(() => dist.stats().handshakesPending === 0, 5_000, 'silent connections closed');
    await honestPeerWorks();
  });

  /**
   * As an authenticated peer named `prefix…`, do `misbehave` on the sealed link, wait for the
   * node's nodedown line about it, and return the warnings the node logged about that peer.
   */
  async function misbehaveAuthenticated(prefix: string, misbehave: (stream: ByteStream, sealer: Sealer) => void): Promise<LogEntry[]> {
    fuzzConnections++;
    const name = `${prefix}${authenticatedRound++}@127.0.0.1`;
    const transport = new TcpTransport();
    try {
      const stream = await transport.connect(dist.address);
      const result = await handshake(stream, { role: 'initiator', local: identity(name, { cluster: CLUSTER }), cookie: COOKIE });
      stream.setHandlers({ data: () => undefined, drain: () => undefined, close: () => undefined });
      misbehave(stream, result.sealer!);
      await waitFor(() => logs.some((entry) => entry.peer === name && entry.event === 'nodedown'), 5_000, 'the nodedown line');
    } finally {
      await transport.close();
    }
    return logs.filter((entry) => entry.peer === name && entry.level === 'warn');
  }

  it('fuzz — a record cut short by the peer closing is one bad_frame log line', async () => {
    const lines = await misbehaveAuthenticated('cut', (stream, sealer) => {
      const [ciphertext, tag] = sealer.seal(encode([0]));
      const record = Buffer.concat([frameHeader(ciphertext.length + tag.length), ciphertext, tag]);
      stream.write([record.subarray(0, record.length - 5)]);
      stream.raw.end();
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event: 'nodedown', code: 'bad_frame' });
    expect(lines[0]!.msg).toMatch(/ended inside a frame/);
  });

  it('fuzz — an unknown message type from an authenticated peer is one bad_frame log line; nothing is delivered', async () => {
    const spiedBefore = spied.length;
    const lines = await misbehaveAuthenticated('unknown', (stream, sealer) => {
      const [ciphertext, tag] = sealer.seal(Buffer.concat([encode([1, null, spyPid, 'before']), encode([99, 'x'])]));
      stream.write([frameHeader(ciphertext.length + tag.length), ciphertext, tag]);
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event: 'nodedown', code: 'bad_frame' });
    expect(lines[0]!.msg).not.toContain('\n');
    expect(spied.length).toBe(spiedBefore);
    await honestPeerWorks();
  });

  it('fuzz — each bad connection cost at most one log line and the node kept serving', async () => {
    await waitFor(() => dist.peers().length === 0, 5_000, 'fuzz connections gone');
    // (Honest peers' own disconnects are logged too, but they are not bad connections.)
    const warnings = logs.filter((entry) => entry.level === 'warn' && entry.peer?.startsWith('honest') !== true);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThanOrEqual(fuzzConnections);
    for (const entry of warnings) expect(entry.msg).not.toContain('\n');
    // At most one line per bad peer that completed a handshake (each had its own name).
    const perPeer = new Map<string, number>();
    for (const entry of warnings) if (entry.peer !== undefined) perPeer.set(entry.peer, (perPeer.get(entry.peer) ?? 0) + 1);
    for (const [peer, count] of perPeer) expect(count, peer).toBe(1);
    await honestPeerWorks();
  });
});
