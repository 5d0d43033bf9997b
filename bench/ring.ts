/**
 * `npm run bench -- ring`: the consistent-hash ring's balance, movement and lookup cost.
 * For 3, 10 and 50 equal-weight members over 100,000 keys it prints max/mean (and min/mean)
 * load, the fraction of keys that move when one member joins and when one leaves (next to the
 * ideal 1/N), and `owner()` ns/op (best of a few rounds over the same keys).
 */
import { HashRing, type RingMemberInput } from '../registry/ring.js';

const KEY_COUNT = 100_000;
const MEMBER_COUNTS = [3, 10, 50] as const;
const TIMING_ROUNDS = 5;

function members(count: number): RingMemberInput[] {
  return Array.from({ length: count }, (_, index) => ({ name: `node${index}@127.0.0.1` }));
}

function ownerNanosecondsPerOperation(ring: HashRing, keys: readonly string[]): number {
  let best = Infinity;
  let sink = 0;
  for (let round = 0; round < TIMING_ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (const key of keys) sink += ring.owner(key).length;
    const elapsed = Number(process.hrtime.bigint() - started);
    best = Math.min(best, elapsed / keys.length);
  }
  if (sink < 0) console.log(sink); // keeps the loop from being optimised away
  return best;
}

export default async function (_args: string[]): Promise<void> {
  const keys = Array.from({ length: KEY_COUNT }, (_, index) => `name/${index}`);
  console.log(`ring: weighted rendezvous hashing, ${KEY_COUNT.toLocaleString('en')} keys`);
  console.log('members  max/mean  min/mean  moved-on-join (ideal)  moved-on-leave (ideal)  owner() ns/op');
  for (const count of MEMBER_COUNTS) {
    const ring = HashRing.from(members(count));
    const loads = [...ring.loadOf(keys).values()];
    const mean = KEY_COUNT / count;
    const joined = HashRing.from([...members(count), { name: 'joiner@127.0.0.1' }]);
    const left = HashRing.from(members(count).slice(1));
    const join = HashRing.movedFraction(ring, joined, keys);
    const leave = HashRing.movedFraction(ring, left, keys);
    const nanoseconds = ownerNanosecondsPerOperation(ring, keys);
    console.log(
      [
        String(count).padStart(7),
        (Math.max(...loads) / mean).toFixed(3).padStart(9),
        (Math.min(...loads) / mean).toFixed(3).padStart(9),
        `${join.toFixed(4)} (${(1 / (count + 1)).toFixed(4)})`.padStart(22),
        `${leave.toFixed(4)} (${(1 / count).toFixed(4)})`.padStart(23),
        nanoseconds.toFixed(0).padStart(14),
      ].join(' '),
    );
  }
}
