/**
 * The wire codec: msgpackr with pids and refs as extension types, so they round-trip across
 * nodes. One shared `Packr` instance; structured clones of records are off (each frame is
 * self-describing, a peer may restart at any time).
 */
import { Packr, addExtension } from 'msgpackr';
import { Pid, Ref } from './pid.js';
import { fedError } from './kernel/errors.js';

export const EXT_PID = 0x50; // 'P'
export const EXT_REF = 0x52; // 'R'

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

const packr = new Packr({ useRecords: false, moreTypes: true });

export function encode(value: unknown): Buffer {
  return packr.pack(value);
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
