// Pids and refs print and parse back, and survive the wire codec; malformed input is a typed error.
import { describe, expect, it } from 'vitest';
import { Pid, Ref } from '../../runtime/pid.js';
import { decode, encode } from '../../runtime/codec.js';
import { isFedError } from '../../runtime/kernel/errors.js';

describe('pid — printed form', () => {
  it('round-trips through toString and parse', () => {
    const pid = new Pid('a@127.0.0.1', 42, 3);
    expect(pid.toString()).toBe('<a@127.0.0.1#42.3>');
    expect(Pid.parse(pid.toString()).equals(pid)).toBe(true);
  });

  it('rejects malformed pids with badarg', () => {
    for (const text of ['', '<a@h#1>', 'a@h#1.2', '<noat#1.2>', '<a@h#x.2>']) {
      let error: unknown;
      try {
        Pid.parse(text);
      } catch (caught) {
        error = caught;
      }
      expect(isFedError(error, 'badarg'), text).toBe(true);
    }
  });

  it('refs round-trip too', () => {
    const ref = new Ref('b@127.0.0.1', 7, 1);
    expect(Ref.parse(ref.toString()).equals(ref)).toBe(true);
  });

  it('pids and refs are immutable at run time, as decoded ones are', () => {
    const pid = new Pid('a@127.0.0.1', 42, 3);
    const ref = new Ref('b@127.0.0.1', 7, 1);
    // ES modules are strict: an assignment to a frozen object's field throws.
    expect(() => {
      (pid as { id: number }).id = 9;
    }).toThrow(TypeError);
    expect(() => {
      (ref as { node: string }).node = 'c@127.0.0.1';
    }).toThrow(TypeError);
    expect(() => {
      (pid as unknown as { extra: number }).extra = 1;
    }).toThrow(TypeError);
    expect(pid.toString()).toBe('<a@127.0.0.1#42.3>');
    const decoded = decode(encode({ pid, ref })) as { pid: Pid; ref: Ref };
    expect(Object.isFrozen(decoded.pid)).toBe(true);
    expect(Object.isFrozen(decoded.ref)).toBe(true);
  });
});

describe('codec — msgpackr with pid and ref extensions', () => {
  it('round-trips nested pids and refs', () => {
    const value = { to: new Pid('a@h', 1, 2), refs: [new Ref('b@h', 3, 4)], n: 5, s: 'x' };
    const back = decode(encode(value)) as typeof value;
    expect(back.to).toBeInstanceOf(Pid);
    expect(back.to.equals(value.to)).toBe(true);
    expect(back.refs[0]).toBeInstanceOf(Ref);
    expect(back.refs[0]!.equals(value.refs[0])).toBe(true);
    expect(back.n).toBe(5);
  });

  it('turns garbage into bad_frame: reserved byte, truncation, trailing bytes', () => {
    for (const bytes of [[0xc1], [0x92, 0x01], [0x01, 0x02], [0xd9, 0x05, 0x61]]) {
      let error: unknown;
      try {
        decode(Buffer.from(bytes));
      } catch (caught) {
        error = caught;
      }
      expect(isFedError(error, 'bad_frame'), JSON.stringify(bytes)).toBe(true);
    }
  });
});
