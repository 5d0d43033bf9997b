// The consistent-hash ring: the same membership gives the same answers whatever the input order
// (and the answers are pinned, since members of one group must agree across versions); the
// structural rendezvous properties hold exactly on fixed keys (a leave moves only the leaver's
// keys, a join moves keys only to the joiner, preference lists lose only the removed member);
// balance, weights and movement fractions are checked with generous bounds on fixed keys.
import { describe, expect, it } from 'vitest';
import { HashRing, RING_WEIGHT_MAX, type RingMemberInput } from '../../registry/ring.js';
import { Rng, isFedError } from '../../runtime/index.js';

const KEYS = Array.from({ length: 20_000 }, (_, index) => `key-${index}`);
const BALANCE_KEYS = Array.from({ length: 100_000 }, (_, index) => `name/${index}`);

function membersNamed(count: number): RingMemberInput[] {
  return Array.from({ length: count }, (_, index) => ({ name: `node${index}@127.0.0.1` }));
}

function refusal(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

function maxOverMean(ring: HashRing, keys: readonly string[]): number {
  const loads = [...ring.loadOf(keys).values()];
  return Math.max(...loads) / (keys.length / ring.size);
}

describe('ring — determinism', () => {
  it('ring — the order of the membership does not matter', () => {
    const members: RingMemberInput[] = [...membersNamed(7), { name: 'heavy@127.0.0.1', weight: 3 }];
    const reference = HashRing.from(members);
    const rng = new Rng(7);
    for (let trial = 0; trial < 5; trial++) {
      const shuffled = HashRing.from(rng.shuffle([...members]));
      expect(shuffled.members).toEqual(reference.members);
      for (const key of KEYS.slice(0, 2_000)) {
        expect(shuffled.owner(key)).toBe(reference.owner(key));
        expect(shuffled.owners(key, 3)).toEqual(reference.owners(key, 3));
      }
    }
  });

  it('ring — answers are pinned so every version of a member agrees', () => {
    const weighted = HashRing.from([
      { name: 'a@127.0.0.1' },
      { name: 'b@127.0.0.1' },
      { name: 'c@127.0.0.1' },
      { name: 'd@127.0.0.1', weight: 2 },
    ]);
    const firstLetters = Array.from({ length: 24 }, (_, index) => weighted.owner(`key-${index}`)[0]).join('');
    expect(firstLetters).toBe('badacdcbccdcddaacababddd');
    const equal = HashRing.from([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect(Array.from({ length: 24 }, (_, index) => equal.owner(`key-${index}`)).join('')).toBe(
      'acbcabcccabccaabcaabacbb',
    );
    expect(weighted.owners('singleton:scheduler', 4)).toEqual(['d@127.0.0.1', 'b@127.0.0.1', 'c@127.0.0.1', 'a@127.0.0.1']);
  });
});

describe('ring — movement', () => {
  it('ring — a leave moves exactly the keys of the leaving member', () => {
    const members = membersNamed(10);
    const before = HashRing.from(members);
    const leaver = 'node4@127.0.0.1';
    const after = HashRing.from(members.filter((member) => member.name !== leaver));
    let moved = 0;
    for (const key of KEYS) {
      const was = before.owner(key);
      const now = after.owner(key);
      if (was === leaver) {
        moved++;
        expect(now).not.toBe(leaver);
      } else {
        expect(now).toBe(was);
      }
    }
    // About 1/10 of the keys, with a generous bound.
    expect(moved / KEYS.length).toBeGreaterThan(0.07);
    expect(moved / KEYS.length).toBeLessThan(0.13);
  });

  it('ring — a join moves keys only to the joining member, about 1/(N+1) of them', () => {
    for (const count of [3, 10, 50]) {
      const before = HashRing.from(membersNamed(count));
      const joiner = 'joiner@127.0.0.1';
      const after = HashRing.from([...membersNamed(count), { name: joiner }]);
      let moved = 0;
      for (const key of KEYS) {
        const now = after.owner(key);
        if (now !== before.owner(key)) {
          moved++;
          expect(now).toBe(joiner);
        }
      }
      const expected = 1 / (count + 1);
      expect(moved / KEYS.length).toBeGreaterThan(expected * 0.7);
      expect(moved / KEYS.length).toBeLessThan(expected * 1.3);
      expect(HashRing.movedFraction(before, after, KEYS)).toBe(moved / KEYS.length);
    }
  });

  it('ring — a preference list loses only the removed member and keeps its order', () => {
    const members = membersNamed(8);
    const before = HashRing.from(members);
    const removed = 'node2@127.0.0.1';
    const after = HashRing.from(members.filter((member) => member.name !== removed));
    for (const key of KEYS.slice(0, 3_000)) {
      const list = before.owners(key, 4);
      const expected = list.filter((name) => name !== removed).slice(0, 3);
      expect(after.owners(key, 4).slice(0, expected.length)).toEqual(expected);
    }
  });

  it('ring — changing one weight moves keys only to or from that member', () => {
    const members = membersNamed(6);
    const before = HashRing.from(members);
    const changed = 'node1@127.0.0.1';
    const heavier = HashRing.from(members.map((member) => (member.name === changed ? { ...member, weight: 3 } : member)));
    for (const key of KEYS) {
      const was = before.owner(key);
      const now = heavier.owner(key);
      if (was !== now) expect(now).toBe(changed);
    }
    const lighter = HashRing.from(members.map((member) => ({ ...member, weight: member.name === changed ? 1 : 2 })));
    for (const key of KEYS) {
      const was = before.owner(key);
      const now = lighter.owner(key);
      if (was !== now) expect(was).toBe(changed);
    }
  });
});

describe('ring — balance and weights', () => {
  it('ring — max/mean load over 100,000 keys stays within generous bounds', () => {
    expect(maxOverMean(HashRing.from(membersNamed(3)), BALANCE_KEYS)).toBeLessThan(1.03);
    expect(maxOverMean(HashRing.from(membersNamed(10)), BALANCE_KEYS)).toBeLessThan(1.06);
    expect(maxOverMean(HashRing.from(membersNamed(50)), BALANCE_KEYS)).toBeLessThan(1.15);
  });

  it('ring — weights are respected proportionally', () => {
    const ring = HashRing.from([
      { name: 'one', weight: 1 },
      { name: 'two', weight: 2 },
      { name: 'five', weight: 5 },
    ]);
    const load = ring.loadOf(BALANCE_KEYS);
    for (const [name, weight] of [['one', 1], ['two', 2], ['five', 5]] as const) {
      const share = (load.get(name) as number) / BALANCE_KEYS.length;
      expect(share).toBeGreaterThan((weight / 8) * 0.95);
      expect(share).toBeLessThan((weight / 8) * 1.05);
    }
  });

  it('ring — equal weights other than 1 give the same answers as weight 1', () => {
    const plain = HashRing.from(membersNamed(5));
    const scaled = HashRing.from(membersNamed(5).map((member) => ({ ...member, weight: 7 })));
    for (const key of KEYS.slice(0, 2_000)) expect(scaled.owners(key, 5)).toEqual(plain.owners(key, 5));
  });

  it('ring — loadOf lists every member, idle ones at zero', () => {
    const ring = HashRing.from(membersNamed(4));
    const load = ring.loadOf(['only-key']);
    expect([...load.keys()].sort()).toEqual(ring.members.map((member) => member.name));
    expect([...load.values()].reduce((sum, value) => sum + value, 0)).toBe(1);
    expect(load.get(ring.owner('only-key'))).toBe(1);
  });
});

describe('ring — preference lists', () => {
  it('ring — owners() gives distinct members, the owner first, capped at the ring size', () => {
    const ring = HashRing.from(membersNamed(5));
    for (const key of KEYS.slice(0, 1_000)) {
      const list = ring.owners(key, 3);
      expect(list).toHaveLength(3);
      expect(new Set(list).size).toBe(3);
      expect(list[0]).toBe(ring.owner(key));
      expect(ring.owners(key, 2)).toEqual(list.slice(0, 2));
    }
    expect(ring.owners('k', 9)).toHaveLength(5);
    expect(ring.owners('k', 0)).toEqual([]);
  });
});

describe('ring — bad input', () => {
  it('ring — duplicate names, bad weights and empty names are refused with badarg', () => {
    const cases: RingMemberInput[][] = [
      [{ name: 'a' }, { name: 'a' }],
      [{ name: 'a', weight: 0 }],
      [{ name: 'a', weight: 1.5 }],
      [{ name: 'a', weight: RING_WEIGHT_MAX + 1 }],
      [{ name: '' }],
    ];
    for (const members of cases) expect(isFedError(refusal(() => HashRing.from(members)), 'badarg')).toBe(true);
  });

  it('ring — an empty ring answers owner() with not_found and owners() with []', () => {
    const ring = HashRing.from([]);
    expect(isFedError(refusal(() => ring.owner('k')), 'not_found')).toBe(true);
    expect(ring.owners('k', 3)).toEqual([]);
    expect(isFedError(refusal(() => HashRing.from(membersNamed(2)).owners('k', -1)), 'badarg')).toBe(true);
  });
});
