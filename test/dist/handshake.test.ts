/**
 * Proves the handshake over real TCP on 127.0.0.1: matching cookies yield matching sealing keys
 * on both sides and the cookie never appears on the wire; a wrong cookie, another cluster id,
 * disjoint protocol versions, a refused admission, a sealing mismatch and a silent peer each
 * fail with their stable error code on the side(s) that can know it.
 */
import { describe, expect, it } from 'vitest';
import { handshake, type HandshakeResult } from '../../runtime/dist/handshake.js';
import { isFedError } from '../../runtime/kernel/errors.js';
import { handshakePair, identity, tcpPair } from './fixtures/helpers.js';

function settle<T>(promise: Promise<T>): Promise<{ ok: T } | { error: unknown }> {
  return promise.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );
}

function codeOf(result: { ok: unknown } | { error: unknown }): string | undefined {
  return 'error' in result && isFedError(result.error) ? result.error.code : 'error' in result ? String(result.error) : undefined;
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
      expect(pair.initiator.version).toBe(1);
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

  it('handshake — disjoint protocol versions are version_mismatch', async () => {
    expect(await failing({ versionMin: 2, versionMax: 3 }, {})).toEqual(['version_mismatch', 'version_mismatch']);
  });

  it('handshake — overlapping version ranges agree on the highest common version', async () => {
    const pair = await handshakePair({ versionMin: 1, versionMax: 1 }, { versionMin: 1, versionMax: 1 });
    try {
      expect([pair.initiator.version, pair.responder.version]).toEqual([1, 1]);
    } finally {
      await pair.close();
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
