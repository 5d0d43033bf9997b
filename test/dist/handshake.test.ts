/**
 * Proves the handshake over real TCP on 127.0.0.1: matching cookies yield matching sealing keys
 * on both sides and the cookie never appears on the wire; version ranges negotiate the highest
 * common version (a newer release against this one) and disjoint ranges are refused; a field
 * rewritten in transit by a relay in the middle (creation, hidden, listen address, a version
 * downgrade) fails on both sides because the proofs cover the whole transcript; a connector
 * without the cookie receives only public data and an error (the initiator proves first); a
 * wrong cookie, another cluster id, a refused admission, a sealing mismatch, garbage, an
 * oversized frame and a silent peer each fail with their stable error code.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../runtime/codec.js';
import { FrameDecoder, encodeFrame } from '../../runtime/dist/frame.js';
import { PROTOCOL_VERSION_MAX, handshake, type HandshakeOptions, type HandshakeResult } from '../../runtime/dist/handshake.js';
import { TcpTransport } from '../../runtime/dist/transport.js';
import { isFedError } from '../../runtime/kernel/errors.js';
import { handshakePair, identity, tcpPair, waitFor } from './fixtures/helpers.js';

function settle<T>(promise: Promise<T>): Promise<{ ok: T } | { error: unknown }> {
  return promise.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );
}

function codeOf(result: { ok: unknown } | { error: unknown }): string | undefined {
  return 'error' in result && isFedError(result.error) ? result.error.code : 'error' in result ? String(result.error) : undefined;
}

type Tamper = (direction: 'up' | 'down', message: Record<string, unknown>) => Record<string, unknown>;

/**
 * Run a handshake through a relay on 127.0.0.1 that decodes every handshake frame, passes it
 * through `tamper` (up: initiator → responder) and re-encodes it. Returns both sides' outcomes.
 */
async function throughProxy(tamper: Tamper, initiator: Partial<HandshakeOptions> = {}, responder: Partial<HandshakeOptions> = {}): Promise<Array<{ ok: unknown } | { error: unknown }>> {
  const responderTransport = new TcpTransport();
  const initiatorTransport = new TcpTransport();
  let responderResult: Promise<{ ok: unknown } | { error: unknown }> | undefined;
  const responderAddress = await responderTransport.listen((stream) => {
    responderResult = settle(handshake(stream, { role: 'responder', local: identity('b@127.0.0.1'), cookie: 'secret', timeoutMs: 2_000, ...responder }));
  });
  const sockets: net.Socket[] = [];
  const relay = (from: net.Socket, to: net.Socket, direction: 'up' | 'down'): void => {
    const decoder = new FrameDecoder(4_096);
    from.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) to.write(encodeFrame(encode(tamper(direction, decode(frame) as Record<string, unknown>))));
    });
    from.on('close', () => to.destroy());
    from.on('error', () => undefined);
  };
  const proxy = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: Number(responderAddress.split(':')[1]) });
    sockets.push(client, upstream);
    relay(client, upstream, 'up');
    relay(upstream, client, 'down');
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  try {
    const stream = await initiatorTransport.connect(`127.0.0.1:${(proxy.address() as net.AddressInfo).port}`);
    const initiatorResult = await settle(handshake(stream, { role: 'initiator', local: identity('a@127.0.0.1'), cookie: 'secret', timeoutMs: 2_000, ...initiator }));
    await waitFor(() => responderResult !== undefined, 2_000, 'the responder');
    return [initiatorResult, await responderResult!];
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await initiatorTransport.close();
    await responderTransport.close();
  }
}

describe('handshake', () => {
  it('handshake — matching cookies authenticate both sides and agree on keys', async () => {
    const pair = await handshakePair(
      { local: identity('a@127.0.0.1', { creation: 7, listenAddress: '127.0.0.1:1' }) },
      { local: identity('b@127.0.0.1', { hidden: true }) },
    );
    try {
      expect(pair.initiator.peer).toMatchObject({ name: 'b@127.0.0.1', hidden: true, cluster: 'test' });
      expect(pair.responder.peer).toMatchObject({ name: 'a@127.0.0.1', creation: 7, listenAddress: '127.0.0.1:1' });
      expect(pair.initiator.version).toBe(PROTOCOL_VERSION_MAX);
      const sealed = pair.initiator.sealer!.seal(Buffer.from('ping'));
      expect(pair.responder.opener!.open(Buffer.concat(sealed)).toString()).toBe('ping');
      const back = pair.responder.sealer!.seal(Buffer.from('pong'));
      expect(pair.initiator.opener!.open(Buffer.concat(back)).toString()).toBe('pong');
    } finally {
      await pair.close();
    }
  });

  it('handshake — the cookie never crosses the wire', async () => {
    const pair = await tcpPair();
    const seen: Buffer[] = [];
    const raw = pair.client.raw as unknown as { write: (chunk: Buffer) => boolean };
    const write = raw.write.bind(raw);
    raw.write = (chunk: Buffer) => {
      seen.push(Buffer.from(chunk));
      return write(chunk);
    };
    pair.server.raw.on('data', (chunk: Buffer) => seen.push(Buffer.from(chunk)));
    const cookie = 'very-distinctive-cookie-value';
    try {
      await Promise.all([
        handshake(pair.client, { role: 'initiator', local: identity('a@127.0.0.1'), cookie }),
        handshake(pair.server, { role: 'responder', local: identity('b@127.0.0.1'), cookie }),
      ]);
      const wire = Buffer.concat(seen);
      expect(wire.length).toBeGreaterThan(0);
      expect(wire.includes(Buffer.from(cookie))).toBe(false);
    } finally {
      await pair.close();
    }
  });

  async function failing(initiator: Record<string, unknown>, responder: Record<string, unknown>): Promise<[string | undefined, string | undefined]> {
    const pair = await tcpPair();
    try {
      const results = await Promise.all([
        settle<HandshakeResult>(handshake(pair.client, { role: 'initiator', local: identity('a@127.0.0.1'), cookie: 'secret', timeoutMs: 2_000, ...initiator })),
        settle<HandshakeResult>(handshake(pair.server, { role: 'responder', local: identity('b@127.0.0.1'), cookie: 'secret', timeoutMs: 2_000, ...responder })),
      ]);
      return [codeOf(results[0]), codeOf(results[1])];
    } finally {
      await pair.close();
    }
  }

  it('handshake — a wrong cookie is auth_failed on both sides', async () => {
    expect(await failing({ cookie: 'wrong' }, {})).toEqual(['auth_failed', 'auth_failed']);
  });

  it('handshake — another cluster id is auth_failed', async () => {
    expect(await failing({ local: identity('a@127.0.0.1', { cluster: 'other' }) }, {})).toEqual(['auth_failed', 'auth_failed']);
  });

  it('handshake — overlapping version ranges agree on the highest common version', async () => {
    // A node of a newer release (offering 1..2) and one of this release (1..1), either way round.
    for (const [initiator, responder, agreed] of [
      [[1, 2], [1, 1], 1],
      [[1, 1], [1, 2], 1],
      [[1, 2], [1, 2], 2],
      [[1, 3], [2, 5], 3],
    ] as const) {
      const pair = await handshakePair({ versionMin: initiator[0], versionMax: initiator[1] }, { versionMin: responder[0], versionMax: responder[1] });
      try {
        expect([pair.initiator.version, pair.responder.version]).toEqual([agreed, agreed]);
      } finally {
        await pair.close();
      }
    }
  });

  it('handshake — disjoint version ranges are refused as an unsupported version, either way round', async () => {
    expect(await failing({ versionMin: 2, versionMax: 2 }, { versionMin: 1, versionMax: 1 })).toEqual(['version_mismatch', 'version_mismatch']);
    expect(await failing({ versionMin: 1, versionMax: 1 }, { versionMin: 2, versionMax: 3 })).toEqual(['version_mismatch', 'version_mismatch']);
  });

  it('handshake — a field rewritten in transit (creation, listen address) fails the handshake on both sides', async () => {
    // An on-path attacker relays the handshake over real TCP and rewrites one field.
    const cases: Array<[string, Tamper]> = [
      ['hello creation', (direction, message) => (direction === 'up' && message.t === 'hello' ? { ...message, creation: 99 } : message)],
      ['hello hidden flag', (direction, message) => (direction === 'up' && message.t === 'hello' ? { ...message, hidden: true } : message)],
      ['challenge listen address', (direction, message) => (direction === 'down' && message.t === 'challenge' ? { ...message, listen: '127.0.0.1:6666' } : message)],
      ['hello version range (a downgrade)', (direction, message) => (direction === 'up' && message.t === 'hello' ? { ...message, versions: [1, 1] } : message)],
    ];
    for (const [what, tamper] of cases) {
      const results = await throughProxy(tamper, { versionMin: 1, versionMax: 2 }, { versionMin: 1, versionMax: 2 });
      expect({ what, codes: results.map(codeOf) }).toEqual({ what, codes: ['auth_failed', 'auth_failed'] });
    }
    // The same relay without rewriting lets the handshake through (the relay itself is faithful).
    const honest = await throughProxy((_direction, message) => message);
    expect(honest.map(codeOf)).toEqual([undefined, undefined]);
  });

  it('handshake — a connector that does not know the cookie gets nothing derived from it', async () => {
    const responder = new TcpTransport();
    const results: Array<Promise<unknown>> = [];
    const address = await responder.listen((stream) => {
      results.push(settle(handshake(stream, { role: 'responder', local: identity('b@127.0.0.1'), cookie: 'secret', timeoutMs: 2_000 })));
    });
    const socket = net.connect({ host: '127.0.0.1', port: Number(address.split(':')[1]) });
    const received: Record<string, unknown>[] = [];
    const decoder = new FrameDecoder(4_096);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        const message = decode(frame) as Record<string, unknown>;
        received.push(message);
        // Answer the challenge with a guessed proof, as an attacker would.
        if (message.t === 'challenge') socket.write(encodeFrame(encode({ t: 'proof', proof: Buffer.alloc(32, 1) })));
      }
    });
    try {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(encodeFrame(encode({ t: 'hello', versions: [1, 1], cluster: 'test', name: 'x@127.0.0.1', creation: 1, hidden: false, listen: '', sealed: true, nonce: Buffer.alloc(32, 9) })));
      await closed;
      expect(received.map((message) => message.t)).toEqual(['challenge', 'error']);
      // The challenge is public data and a fresh nonce: no proof, no MAC, nothing keyed by the cookie.
      expect(Object.keys(received[0]!).sort()).toEqual(['cluster', 'creation', 'hidden', 'listen', 'name', 'nonce', 'sealed', 't', 'version']);
      expect(received[1]).toEqual({ t: 'error', code: 'auth_failed' });
      expect(codeOf((await Promise.all(results))[0] as { error: unknown })).toBe('auth_failed');
    } finally {
      socket.destroy();
      await responder.close();
    }
  });

  it('handshake — a refused admission (name clash) fails both sides with its code', async () => {
    expect(await failing({}, { admit: () => 'name_clash' })).toEqual(['name_clash', 'name_clash']);
  });

  it('handshake — a peer claiming our own name is a name_clash', async () => {
    expect(await failing({ local: identity('b@127.0.0.1') }, {})).toEqual(['name_clash', 'name_clash']);
  });

  it('handshake — one side sealed and the other not is a config error', async () => {
    expect(await failing({ local: identity('a@127.0.0.1', { sealed: false }) }, {})).toEqual(['config', 'config']);
  });

  it('handshake — a silent peer is dropped at the handshake timeout', async () => {
    const pair = await tcpPair();
    try {
      const result = await settle(handshake(pair.server, { role: 'responder', local: identity('b@127.0.0.1'), cookie: 'secret', timeoutMs: 100 }));
      expect(codeOf(result)).toBe('handshake_timeout');
      expect(pair.server.closed).toBe(true);
    } finally {
      await pair.close();
    }
  });

  it('handshake — garbage instead of a hello is bad_frame', async () => {
    const pair = await tcpPair();
    try {
      const result = settle(handshake(pair.server, { role: 'responder', local: identity('b@127.0.0.1'), cookie: 'secret' }));
      pair.client.write([Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1])]);
      expect(codeOf(await result)).toBe('bad_frame');
    } finally {
      await pair.close();
    }
  });

  it('handshake — an oversized handshake frame is frame_too_large', async () => {
    const pair = await tcpPair();
    try {
      const result = settle(handshake(pair.server, { role: 'responder', local: identity('b@127.0.0.1'), cookie: 'secret' }));
      pair.client.write([Buffer.from([0, 1, 0, 0])]);
      expect(codeOf(await result)).toBe('frame_too_large');
    } finally {
      await pair.close();
    }
  });
});
