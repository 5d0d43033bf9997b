/**
 * The wire codec: msgpackr with pids and refs as extension types, so they round-trip across
 * nodes, and `Encoded` (bytes this codec produced, carried as they are). One shared `Packr`
 * instance; structured clones of records are off (each frame is self-describing, a peer may
 * restart at any time).
 */
import { Packr, addExtension } from 'msgpackr';
import { Pid, Ref } from './pid.js';
import { fedError } from './kernel/errors.js';

export const EXT_PID = 0x50; // 'P'
export const EXT_REF = 0x52; // 'R'
export const EXT_ENCODED = 0x45; // 'E'

/**
 * A value already encoded (by `encode`), carried inside another value as its bytes: encoding
 * the outer value copies them in instead of encoding the value again, and decoding gives back an
 * `Encoded` with a copy of them (the frame they came in may be reused), which the receiver
 * decodes with `decode` when it wants the value — or stores as they are. The Raft driver encodes
 * a batch of log entries once, sends those bytes to every follower and writes them to its disk;
 * a follower writes to its disk the bytes it received.
 */
export class Encoded {
  constructor(readonly bytes: Uint8Array) {}
}

addExtension({
  Class: Pid,
  type: EXT_PID,
  write(pid: Pid) {
    return [pid.node, pid.id, pid.creation];
  },
  read(data: unknown) {
    if (!Array.isArray(data) || data.length !== 3 || typeof data[0] !== 'string') {
      throw fedError('bad_frame', 'malformed pid extension');
    }
    return new Pid(data[0], Number(data[1]), Number(data[2]));
  },
});

addExtension({
  Class: Ref,
  type: EXT_REF,
  write(ref: Ref) {
    return [ref.node, ref.id, ref.creation];
  },
  read(data: unknown) {
    if (!Array.isArray(data) || data.length !== 3 || typeof data[0] !== 'string') {
      throw fedError('bad_frame', 'malformed ref extension');
    }
    return new Ref(data[0], Number(data[1]), Number(data[2]));
  },
});

addExtension({
  Class: Encoded,
  type: EXT_ENCODED,
  pack(encoded: Encoded) {
    return encoded.bytes;
  },
  unpack(data: Uint8Array) {
    return new Encoded(Buffer.from(data));
  },
});

const packr = new Packr({ useRecords: false, moreTypes: true });

/**
 * For many values of the same shapes (a batch of Raft log entries): each object shape is
 * written once per call, its keys then left out (msgpackr records, defined inline: the bytes stay
 * self-describing and `decode` reads them, as it reads `encode`'s). About a third fewer bytes
 * than `encode` for a batch of registrations, and decoding them makes objects of one shape
 * without looking up any key.
 */
const recordPackr = new Packr({ useRecords: true, moreTypes: true });

export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

/**
 * `encode` with repeated object shapes written once (see `recordPackr`); `decode` reads it.
 *
 * msgpackr's record packer keeps, across calls, a trie of the key sequences it has seen, each
 * node holding its keys as a property named `__keys__`. An object with a key `__keys__` (a
 * registration's metadata may have one) lands on that property, and from then on msgpackr wrote
 * objects of other shapes with broken keys, bytes that do not decode: a follower could not take
 * the append, and a store could not be read back. A value that may do that (`mayUpsetRecords`)
 * is encoded without records instead (as `encode`), which `decode` reads the same. Callers on
 * the hot path (registry/entry-writer.ts) write the usual shapes themselves and come here for
 * the rest, so the scan seldom runs.
 */
export function encodeRecords(value: unknown): Buffer {
  return mayUpsetRecords(value) ? packr.pack(value) : recordPackr.pack(value);
}

/** Values nested deeper than this are taken to upset msgpackr's records (see `mayUpsetRecords`). */
const SCAN_DEPTH_MAX = 256;

/**
 * Whether handing `value` to msgpackr's record packer may leave its trie of key sequences in a
 * state after which its bytes depend on it (see `encodeRecords`): an object written as a record with a key
 * `__keys__`, or whose keys msgpackr walks the trie with may not be its `Object.keys` (which it
 * writes): a `hasOwnProperty` other than Object.prototype's (msgpackr asks it which keys of its
 * for-in to keep), or none and inherited enumerable keys; or anything the scan does not see
 * through (a class instance with `toJSON`, very deep nesting).
 * Conservative: true when unsure.
 */
export function mayUpsetRecords(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth >= SCAN_DEPTH_MAX) return true;
  const next = depth + 1;
  // In msgpackr's order: by exact constructor first, then extensions by class, then arrays,
  // then `toJSON`, and anything else as a record (a Map subclass, say, by its own properties).
  const constructor = (value as { constructor?: unknown }).constructor;
  if (constructor === Object) return recordMayUpset(value as Record<string, unknown>, next);
  if (constructor === Array) return (value as unknown[]).some((element) => mayUpsetRecords(element, next));
  if (constructor === Map) {
    for (const [key, element] of value as Map<unknown, unknown>) if (mayUpsetRecords(key, next) || mayUpsetRecords(element, next)) return true;
    return false;
  }
  if (value instanceof Pid || value instanceof Ref) return mayUpsetRecords([value.node, value.id, value.creation], next);
  if (value instanceof Encoded) return false;
  if (value instanceof Set) return mayUpsetRecords([...value], next);
  if (value instanceof Error) return mayUpsetRecords([value.name, value.message, value.cause], next);
  if (value instanceof Date || value instanceof RegExp || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) return value.some((element) => mayUpsetRecords(element, next));
  // msgpackr calls a truthy `toJSON` (and throws if it is no function): not seen through.
  if ((value as { toJSON?: unknown }).toJSON) return true;
  return recordMayUpset(value as Record<string, unknown>, next);
}

/** An object msgpackr writes as a record, by the keys its for-in keeps: all of them when `hasOwnProperty` is no function, those it says yes to otherwise. */
function recordMayUpset(object: Record<string, unknown>, next: number): boolean {
  const own = object.hasOwnProperty;
  if (typeof own === 'function' ? own !== Object.prototype.hasOwnProperty : forInKeys(object) !== Object.keys(object).length) return true;
  for (const key in object) {
    if (key === '__keys__') return true;
    if (mayUpsetRecords(object[key], next)) return true;
  }
  return false;
}

function forInKeys(object: object): number {
  let count = 0;
  for (const key in object) if (key !== undefined) count++;
  return count;
}

/** Decode one value; a malformed buffer is a `bad_frame` FedError, never a crash. */
export function decode(bytes: Uint8Array): unknown {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (error) {
    throw fedError('bad_frame', `undecodable frame: ${(error as Error).message}`, undefined, error);
  }
  // 0xC1 is reserved by MessagePack; msgpackr decodes it to a marker object instead of failing.
  if (typeof value === 'object' && value !== null && value.constructor?.name === 'C1Type') {
    throw fedError('bad_frame', 'undecodable frame: reserved byte 0xc1');
  }
  return value;
}
