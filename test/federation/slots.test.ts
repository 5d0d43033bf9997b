// Hash slots: `slotOf` is CRC16-XMODEM (Redis Cluster's key hash) mod 4,096 with Redis hash
// tags. Golden values pin the function forever (they are Redis's published CLUSTER KEYSLOT
// answers mod 4,096; the other fixed names were checked with Python's binascii.crc_hqx); a distribution check shows names
// spread evenly; `hash32` is stable and spreads too.
import { describe, expect, it } from 'vitest';
import { SLOT_COUNT, crc16, hash32, isSlot, slotOf } from '../../federation/slots.js';

describe('slots — golden values', () => {
  it('crc16 has the standard XMODEM check value', () => {
    expect(crc16(new TextEncoder().encode('123456789'))).toBe(0x31c3);
  });

  it('slotOf equals Redis CLUSTER KEYSLOT mod 4096 for published keys', () => {
    // Redis: foo → 12182, bar → 5061, hello → 866, somekey → 11058, foo{hash_tag} → 2515.
    const redis: Array<[string, number]> = [['foo', 12182], ['bar', 5061], ['hello', 866], ['somekey', 11058], ['foo{hash_tag}', 2515]];
    for (const [name, redisSlot] of redis) expect(slotOf(name)).toBe(redisSlot % SLOT_COUNT);
  });

  it('slotOf is pinned for a set of fixed names', () => {
    const golden = Object.fromEntries(['', 'a', 'svc', 'user:42', 'émile', 'orders/eu-west-1', '名前'].map((name) => [name, slotOf(name)]));
    expect(golden).toEqual({ '': 0, a: 3207, svc: 3938, 'user:42': 3592, 'émile': 1314, 'orders/eu-west-1': 2589, '名前': 233 });
  });
});

describe('slots — hash tags', () => {
  it('names with the same non-empty tag share a slot', () => {
    expect(slotOf('user:{42}:inbox')).toBe(slotOf('user:{42}:outbox'));
    expect(slotOf('{42}')).toBe(slotOf('42'));
  });

  it('an empty or unclosed tag hashes the whole name; only the first tag counts', () => {
    expect(slotOf('a{}b')).toBe(crc16(new TextEncoder().encode('a{}b')) % SLOT_COUNT);
    expect(slotOf('a{b')).toBe(crc16(new TextEncoder().encode('a{b')) % SLOT_COUNT);
    expect(slotOf('{x}{y}')).toBe(slotOf('x'));
    expect(slotOf('{{x}}')).toBe(slotOf('{x'));
  });
});

describe('slots — distribution and range', () => {
  it('100,000 names spread like a uniform hash (chi-square within 5 standard deviations)', () => {
    const counts = new Array<number>(SLOT_COUNT).fill(0);
    const total = 100_000;
    let outOfRange = 0;
    for (let index = 0; index < total; index++) {
      const slot = slotOf(`service-${index}`);
      if (!isSlot(slot)) outOfRange++;
      else counts[slot] = (counts[slot] as number) + 1;
    }
    expect(outOfRange).toBe(0);
    const mean = total / SLOT_COUNT;
    const chiSquare = counts.reduce((sum, count) => sum + (count - mean) ** 2 / mean, 0);
    const degrees = SLOT_COUNT - 1;
    expect(chiSquare).toBeLessThan(degrees + 5 * Math.sqrt(2 * degrees));
    expect(Math.min(...counts)).toBeGreaterThan(0);
  });

  it('hash32 is stable and spreads over two buckets evenly', () => {
    expect([hash32(''), hash32('a')]).toEqual([2872998923, 444641715]);
    let odd = 0;
    for (let index = 0; index < 10_000; index++) odd += hash32(`n${index}`) & 1;
    expect(odd).toBeGreaterThan(4_700);
    expect(odd).toBeLessThan(5_300);
  });
});
