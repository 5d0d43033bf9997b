/**
 * The consistent-hash ring of a group: which member owns a key (a singleton, a handoff target).
 * Pure and deterministic: built from the committed membership only (names and integer weights),
 * so every member that computes it from the same membership gets the same answer, whatever the
 * order the members were listed in. No clock, no randomness, no I/O.
 *
 * Algorithm: weighted rendezvous hashing (highest random weight, Thaler & Ravishankar), in the
 * logarithmic form of Schindelhauer & Resch: for a key, every member draws a pseudo-random
 * u = hash(key, member) in (0, 1) and gets the score -ln(u) / weight; the lowest score owns the
 * key, and the preference list is the members in increasing score. Why rendezvous and not
 * virtual nodes on a circle:
 * - Movement is minimal by construction, not just in expectation: when a member leaves, exactly
 *   the keys it owned move (every other key keeps its best score); when a member joins, exactly
 *   the keys it now wins move, all of them to it. The same holds for the preference lists.
 * - Balance is that of independent draws: the load of a member over K keys is binomial, so
 *   max/mean is about 1 + 3·sqrt(N/K) (≈1.07 for 50 members and 100,000 keys), where virtual
 *   nodes need hundreds of points per member (memory, build time) to get near 1.2.
 * - Weights are exact: a member of weight w wins a key with probability w / Σ weights, because
 *   -ln(u)/w is exponential with rate w and the minimum of exponentials picks each with
 *   probability proportional to its rate. Changing one member's weight moves only keys to or
 *   from that member.
 * - The cost is O(N) hash mixes per lookup instead of O(log N·V): about 10 ns a member here, so
 *   well under a microsecond for the group sizes we run (3 to a few dozen members; bigger scale
 *   is the federation's slot map, not one group's ring). `bench/ring.ts` prints the figures.
 *
 * Hash: keys and member names are hashed once with a 53-bit two-lane string hash (cyrb53 style:
 * Math.imul multiply-xorshift over UTF-16 code units, identical on every platform); a member's
 * draw for a key mixes the two hashes with murmur3's fmix32 finalizer across both lanes, so
 * nearby keys or names give unrelated draws (the balance and movement tests check the result
 * statistically). The 53 bits give u = (bits + 0.5) / 2^53, never 0 or 1. When all weights are
 * equal the log is skipped (it is monotonic, so the order is the same). Ties (probability about
 * 2^-53) are broken by member name. `Math.log` is V8's fdlibm port, bit-identical on every
 * platform; members running different Node majors could in theory differ in the last bit of a
 * score, which only matters for a near-tie of that size.
 */
import { fedError } from '../runtime/index.js';

/** Largest weight a member may have; weights are integers in [1, RING_WEIGHT_MAX]. */
export const RING_WEIGHT_MAX = 1_000;
/** Most members one ring holds (a bound on the O(N) lookup). */
export const RING_MEMBERS_MAX = 1_000;
/** Longest member name, in UTF-16 code units. */
export const RING_MEMBER_NAME_LENGTH_MAX = 1_024;

export interface RingMemberInput {
  readonly name: string;
  /** Relative share of keys; an integer in [1, RING_WEIGHT_MAX]. Default 1. */
  readonly weight?: number;
}

export interface RingMember {
  readonly name: string;
  readonly weight: number;
}

const TWO_POW_32 = 4_294_967_296;
const TWO_POW_53 = 9_007_199_254_740_992;
const LOW_21_BITS = 0x1f_ffff;

export class HashRing {
  /** Members sorted by name: the canonical form of the membership. */
  readonly members: readonly RingMember[];
  readonly #hashHigh: Int32Array;
  readonly #hashLow: Int32Array;
  readonly #weights: Float64Array;
  readonly #equalWeights: boolean;

  private constructor(members: readonly RingMember[]) {
    this.members = members;
    this.#hashHigh = new Int32Array(members.length);
    this.#hashLow = new Int32Array(members.length);
    this.#weights = new Float64Array(members.length);
    members.forEach((member, index) => {
      const [high, low] = stringHash(member.name, MEMBER_SEED);
      this.#hashHigh[index] = high;
      this.#hashLow[index] = low;
      this.#weights[index] = member.weight;
    });
    this.#equalWeights = members.every((member) => member.weight === members[0]?.weight);
  }

  /**
   * Builds the ring of a membership. The order of `members` does not matter. Throws `badarg` on
   * an empty or duplicate name, a weight that is not an integer in [1, RING_WEIGHT_MAX], or more
   * than RING_MEMBERS_MAX members. An empty membership gives an empty ring (lookups throw).
   */
  static from(members: readonly RingMemberInput[]): HashRing {
    if (members.length > RING_MEMBERS_MAX) {
      throw fedError('badarg', `a ring holds at most ${RING_MEMBERS_MAX} members, got ${members.length}`);
    }
    const seen = new Set<string>();
    const canonical = members.map((member) => validateMember(member, seen));
    canonical.sort((a, b) => compareNames(a.name, b.name));
    return new HashRing(canonical);
  }

  get size(): number {
    return this.members.length;
  }

  /** The member that owns `key`. Throws `not_found` if the ring is empty. */
  owner(key: string): string {
    const count = this.members.length;
    if (count === 0) throw fedError('not_found', 'the ring has no members');
    const [keyHigh, keyLow] = stringHash(key, KEY_SEED);
    let best = 0;
    let bestScore = Infinity;
    for (let index = 0; index < count; index++) {
      const score = this.#score(keyHigh, keyLow, index);
      // Members are sorted by name, so keeping the first of equal scores breaks ties by name.
      if (score < bestScore) {
        bestScore = score;
        best = index;
      }
    }
    return (this.members[best] as RingMember).name;
  }

  /**
   * The preference list of `key`: up to `count` distinct members, best first (the owner, then
   * where replicas or a handoff go). Removing a member from the ring removes it from every list
   * and keeps the others' order.
   */
  owners(key: string, count: number): string[] {
    if (!Number.isInteger(count) || count < 0) {
      throw fedError('badarg', `owners(key, n): n must be a non-negative integer, got ${count}`);
    }
    const wanted = Math.min(count, this.members.length);
    if (wanted === 0) return [];
    const [keyHigh, keyLow] = stringHash(key, KEY_SEED);
    // Keep the `wanted` lowest scores with an insertion into a short sorted list.
    const bestScores: number[] = [];
    const bestIndexes: number[] = [];
    for (let index = 0; index < this.members.length; index++) {
      const score = this.#score(keyHigh, keyLow, index);
      if (bestScores.length === wanted && score >= (bestScores[wanted - 1] as number)) continue;
      let position = bestScores.length;
      while (position > 0 && (bestScores[position - 1] as number) > score) position--;
      bestScores.splice(position, 0, score);
      bestIndexes.splice(position, 0, index);
      if (bestScores.length > wanted) {
        bestScores.pop();
        bestIndexes.pop();
      }
    }
    return bestIndexes.map((index) => (this.members[index] as RingMember).name);
  }

  /** How many of `keys` each member owns (every member listed, zero included): for reports. */
  loadOf(keys: Iterable<string>): Map<string, number> {
    const load = new Map<string, number>(this.members.map((member) => [member.name, 0]));
    for (const key of keys) {
      const owner = this.owner(key);
      load.set(owner, (load.get(owner) as number) + 1);
    }
    return load;
  }

  /** The fraction of `keys` whose owner differs between two rings (0 when `keys` is empty). */
  static movedFraction(before: HashRing, after: HashRing, keys: readonly string[]): number {
    if (keys.length === 0) return 0;
    let moved = 0;
    for (const key of keys) if (before.owner(key) !== after.owner(key)) moved++;
    return moved / keys.length;
  }

  /** Lower is better. With equal weights the raw draw is used (same order as -ln(u)). */
  #score(keyHigh: number, keyLow: number, index: number): number {
    const unit = drawUnit(keyHigh, keyLow, this.#hashHigh[index] as number, this.#hashLow[index] as number);
    if (this.#equalWeights) return -unit;
    return -Math.log(unit) / (this.#weights[index] as number);
  }
}

function validateMember(member: RingMemberInput, seen: Set<string>): RingMember {
  const name: unknown = member?.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > RING_MEMBER_NAME_LENGTH_MAX) {
    throw fedError('badarg', `ring member name must be a non-empty string of at most ${RING_MEMBER_NAME_LENGTH_MAX} characters`);
  }
  if (seen.has(name)) throw fedError('badarg', `ring member ${JSON.stringify(name)} is listed twice`);
  seen.add(name);
  const weight: unknown = member.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > RING_WEIGHT_MAX) {
    throw fedError('badarg', `ring member ${JSON.stringify(name)}: weight must be an integer in [1, ${RING_WEIGHT_MAX}], got ${String(weight)}`);
  }
  return { name, weight };
}

/** Code-unit order, the same on every platform and locale (unlike localeCompare). */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const KEY_SEED = 0x5bd1e995;
const MEMBER_SEED = 0x27d4eb2f;

/** A 53-bit string hash in two 32-bit lanes (cyrb53 construction), returned as [high, low]. */
export function stringHash(text: string, seed: number): [number, number] {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    h1 = Math.imul(h1 ^ unit, 2_654_435_761);
    h2 = Math.imul(h2 ^ unit, 1_597_334_677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2_246_822_507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3_266_489_909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2_246_822_507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3_266_489_909);
  return [h1 | 0, h2 | 0];
}

/** murmur3's 32-bit finalizer: every input bit affects every output bit. */
function finalize32(value: number): number {
  let h = value;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The draw u in (0, 1) of one member for one key: both lanes mixed into each other. */
function drawUnit(keyHigh: number, keyLow: number, memberHigh: number, memberLow: number): number {
  let high = finalize32(keyHigh ^ memberHigh);
  let low = finalize32((keyLow ^ memberLow) + Math.imul(high, 0x9e3779b1));
  high = finalize32(high ^ Math.imul(low, 0x7feb352d));
  low = finalize32(low + high);
  const bits = (high & LOW_21_BITS) * TWO_POW_32 + (low >>> 0);
  return (bits + 0.5) / TWO_POW_53;
}
