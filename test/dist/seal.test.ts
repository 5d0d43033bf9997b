/**
 * Proves the sealing layer: records round-trip under per-direction keys derived from the cookie
 * and the handshake transcript; an altered, replayed, reordered or foreign-key record fails
 * authentication with `bad_frame`; ciphertext does not contain the plaintext; and a record is
 * exactly node:crypto's `chacha20-poly1305` with the counter nonce, both ways (fast-check over
 * sizes and record numbers), whole frames included.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Opener, Sealer, deriveKey } from '../../runtime/dist/seal.js';

const transcript = randomBytes(32);
const keyAB = deriveKey('cookie', transcript, 'initiator-to-responder');
const keyBA = deriveKey('cookie', transcript, 'responder-to-initiator');

function record(parts: [Buffer, Buffer]): Buffer {
  return Buffer.concat(parts);
}

describe('sealing', () => {
  it('seal — records open in order and hide the plaintext', () => {
    const sealer = new Sealer(keyAB);
    const opener = new Opener(keyAB);
    for (let index = 0; index < 5; index++) {
      const plaintext = Buffer.from(`secret message number ${index}`);
      const sealed = record(sealer.seal(plaintext));
      expect(sealed.includes(Buffer.from('secret'))).toBe(false);
      expect(opener.open(sealed)).toEqual(plaintext);
    }
  });

  it('seal — keys differ per direction, per transcript and per cookie', () => {
    expect(keyAB.equals(keyBA)).toBe(false);
    expect(deriveKey('cookie', randomBytes(32), 'initiator-to-responder').equals(keyAB)).toBe(false);
    expect(deriveKey('other', transcript, 'initiator-to-responder').equals(keyAB)).toBe(false);
    expect(() => new Opener(keyBA).open(record(new Sealer(keyAB).seal(Buffer.from('x'))))).toThrow(expect.objectContaining({ code: 'bad_frame' }));
  });

  it('seal — a tampered record fails authentication', () => {
    const sealed = record(new Sealer(keyAB).seal(Buffer.from('hello world')));
    for (const position of [0, 5, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[position] = (tampered[position] as number) ^ 1;
      expect(() => new Opener(keyAB).open(tampered)).toThrow(expect.objectContaining({ code: 'bad_frame' }));
    }
  });

  it('seal — a replayed record fails authentication', () => {
    const sealer = new Sealer(keyAB);
    const opener = new Opener(keyAB);
    const first = record(sealer.seal(Buffer.from('pay 10')));
    expect(opener.open(first).toString()).toBe('pay 10');
    expect(() => opener.open(first)).toThrow(expect.objectContaining({ code: 'bad_frame' }));
  });

  it('seal — reordered records fail authentication', () => {
    const sealer = new Sealer(keyAB);
    const first = record(sealer.seal(Buffer.from('one')));
    const second = record(sealer.seal(Buffer.from('two')));
    expect(() => new Opener(keyAB).open(second)).toThrow(expect.objectContaining({ code: 'bad_frame' }));
    void first;
  });

  it('seal — records are node:crypto chacha20-poly1305 with the counter nonce, both ways', () => {
    const nonce = (count: number): Buffer => {
      const bytes = Buffer.alloc(12);
      bytes.writeUInt32BE(count, 8);
      return bytes;
    };
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 3_000 }), { minLength: 1, maxLength: 6 }), (plaintexts) => {
        const sealer = new Sealer(keyAB);
        const opener = new Opener(keyAB);
        plaintexts.forEach((bytes, count) => {
          const plaintext = Buffer.from(bytes);
          // Ours sealed (as a whole frame, from one part or from two), node:crypto opens.
          const parts = count % 2 === 0 ? [plaintext] : [plaintext.subarray(0, 7), plaintext.subarray(7)];
          const frame = sealer.sealFrame(parts, plaintext.length);
          expect(frame.readUInt32BE(0)).toBe(plaintext.length + 16);
          const decipher = createDecipheriv('chacha20-poly1305', keyAB, nonce(count), { authTagLength: 16 });
          decipher.setAuthTag(frame.subarray(4 + plaintext.length));
          expect(Buffer.concat([decipher.update(frame.subarray(4, 4 + plaintext.length)), decipher.final()]).equals(plaintext)).toBe(true);
          // node:crypto sealed, ours opens.
          const cipher = createCipheriv('chacha20-poly1305', keyAB, nonce(count), { authTagLength: 16 });
          const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
          expect(opener.open(sealed).equals(plaintext)).toBe(true);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('seal — a record shorter than the tag is bad_frame', () => {
    expect(() => new Opener(keyAB).open(Buffer.alloc(10))).toThrow(expect.objectContaining({ code: 'bad_frame' }));
  });
});
