/**
 * Hash slots: the fixed partition of the global namespace. A name's home group is the owner of
 * `slotOf(name)` in the federation directory.
 *
 * Contract (it is part of the wire and storage format; changing it re-homes every name):
 * - `SLOT_COUNT` is 4,096 and never changes.
 * - `slotOf(name)` is CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0, no reflection,
 *   no final xor) over the name's UTF-8 bytes, keeping the low 12 bits. This is Redis Cluster's
 *   key hash with 4,096 slots instead of 16,384, so `slotOf(name) === redisKeySlot(name) % 4096`
 *   and anyone can check a slot with `redis-cli CLUSTER KEYSLOT`.
 * - Hash tags, as in Redis Cluster: if the name contains `{`, and a `}` follows it with at
 *   least one byte between them, only the bytes between the first `{` and the first `}` after
 *   it are hashed. `user:{42}:inbox` and `user:{42}:outbox` share a slot, hence a home group.
 * - Why CRC16: it is a published, table-driven function with a standard check value
 *   (`"123456789"` → 0x31C3), it spreads names evenly over its low bits (Redis relies on the
 *   same property), and it is trivial to reimplement identically in any language or version.
 *
 * `hash32(text)` is a separate 32-bit hash (FNV-1a followed by the murmur3 finalizer) used for
 * stable spreading decisions such as picking a gateway; it is not a slot function.
 */

/** Number of hash slots in the federation. Fixed forever: part of the directory format. */
export const SLOT_COUNT = 4_096;

const SLOT_MASK = SLOT_COUNT - 1;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

const CRC16_TABLE: Uint16Array = buildCrc16Table();

function buildCrc16Table(): Uint16Array {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
}

/** CRC16-CCITT (XMODEM) of `bytes[start, end)`. */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let index = start; index < end; index++) {
    crc = ((crc << 8) ^ (CRC16_TABLE[((crc >>> 8) ^ (bytes[index] as number)) & 0xff] as number)) & 0xffff;
  }
  return crc;
}

/** The part of the name that is hashed: the hash tag `{…}` if there is a non-empty one. */
function hashedRange(bytes: Uint8Array): [number, number] {
  const open = bytes.indexOf(OPEN_BRACE);
  if (open === -1) return [0, bytes.length];
  const close = bytes.indexOf(CLOSE_BRACE, open + 1);
  if (close === -1 || close === open + 1) return [0, bytes.length];
  return [open + 1, close];
}

const encoder = new TextEncoder();

/** The hash slot of a name, in [0, SLOT_COUNT). Identical on every node and every version. */
export function slotOf(name: string): number {
  const bytes = encoder.encode(name);
  const [start, end] = hashedRange(bytes);
  return crc16(bytes, start, end) & SLOT_MASK;
}

export function isSlot(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < SLOT_COUNT;
}

/** A stable, well-mixed 32-bit hash of a string (FNV-1a over UTF-16 code units, murmur3 fmix32). */
export function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
