// The mailbox keeps arrival order, takes selectively without disturbing the rest, and stays
// correct across slot reuse, compaction and release of a drained burst's array; checked
// directly and against a plain-array model.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mailbox, NO_MESSAGE } from '../../runtime/mailbox.js';

describe('mailbox — order and selection', () => {
  it('takes the oldest message first', () => {
    const mailbox = new Mailbox();
    for (const msg of [1, 2, 3]) mailbox.push(msg);
    expect([mailbox.take(undefined), mailbox.take(undefined), mailbox.take(undefined)]).toEqual([1, 2, 3]);
    expect(mailbox.take(undefined)).toBe(NO_MESSAGE);
    expect(mailbox.size).toBe(0);
  });

  it('takes the oldest matching message and leaves the others in order', () => {
    const mailbox = new Mailbox();
    for (const msg of ['a', 1, 'b', 2, 'c']) mailbox.push(msg);
    expect(mailbox.take((msg) => typeof msg === 'number')).toBe(1);
    expect(mailbox.take((msg) => typeof msg === 'number')).toBe(2);
    expect(mailbox.take((msg) => typeof msg === 'number')).toBe(NO_MESSAGE);
    expect(mailbox.peekAll()).toEqual(['a', 'b', 'c']);
  });

  it('holds undefined as a message, distinct from "none"', () => {
    const mailbox = new Mailbox();
    mailbox.push(undefined);
    expect(mailbox.size).toBe(1);
    expect(mailbox.take(undefined)).toBeUndefined();
    expect(mailbox.take(undefined)).toBe(NO_MESSAGE);
  });

  it('a throwing match propagates and loses nothing', () => {
    const mailbox = new Mailbox();
    mailbox.push(1);
    mailbox.push(2);
    expect(() =>
      mailbox.take(() => {
        throw new Error('bad predicate');
      }),
    ).toThrow('bad predicate');
    expect(mailbox.peekAll()).toEqual([1, 2]);
  });

  it('behaves as a plain array under any sequence of pushes and takes (across compaction)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 9 }).map((n) => ({ push: n })), fc.integer({ min: -1, max: 9 }).map((n) => ({ take: n }))), {
          maxLength: 3000,
        }),
        (ops) => {
          const mailbox = new Mailbox();
          const model: number[] = [];
          for (const op of ops) {
            if ('push' in op) {
              mailbox.push(op.push);
              model.push(op.push);
              continue;
            }
            const match = op.take < 0 ? undefined : (msg: unknown) => msg === op.take;
            const index = match === undefined ? (model.length > 0 ? 0 : -1) : model.findIndex(match);
            const expected = index < 0 ? NO_MESSAGE : model.splice(index, 1)[0];
            expect(mailbox.take(match)).toBe(expected);
          }
          expect(mailbox.peekAll()).toEqual(model);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('behaves as a plain array under bursts that fill, drain and refill it (slot reuse, compaction, release)', () => {
    // Bursts of thousands of messages drive the paths small random sequences rarely reach: an
    // emptied mailbox reusing its slots, the consumed prefix compacted while messages remain,
    // and a big array given back when a burst has drained.
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.integer({ min: 1, max: 6_000 }).map((count) => ({ push: count })),
            fc.integer({ min: 1, max: 6_000 }).map((count) => ({ take: count })),
            fc.integer({ min: 0, max: 9 }).map((digit) => ({ takeEndingIn: digit })),
          ),
          { maxLength: 40 },
        ),
        (ops) => {
          const mailbox = new Mailbox();
          const model: number[] = [];
          let next = 0;
          for (const op of ops) {
            if ('push' in op) {
              for (let index = 0; index < op.push; index++) {
                mailbox.push(next);
                model.push(next++);
              }
            } else if ('take' in op) {
              const taken: unknown[] = [];
              for (let index = 0; index < op.take; index++) taken.push(mailbox.take(undefined));
              const expected: unknown[] = model.splice(0, op.take);
              while (expected.length < op.take) expected.push(NO_MESSAGE);
              expect(taken).toEqual(expected);
            } else {
              const match = (msg: unknown): boolean => (msg as number) % 10 === op.takeEndingIn;
              const index = model.findIndex(match);
              expect(mailbox.take(match)).toBe(index < 0 ? NO_MESSAGE : model.splice(index, 1)[0]);
            }
            expect(mailbox.size).toBe(model.length);
          }
          expect(mailbox.peekAll()).toEqual(model);
        },
      ),
      { numRuns: 20, seed: 7 },
    );
  });

  it('compacts a long consumed prefix and keeps the rest', () => {
    const mailbox = new Mailbox();
    for (let index = 0; index < 5000; index++) mailbox.push(index);
    for (let index = 0; index < 4000; index++) expect(mailbox.take(undefined)).toBe(index);
    expect(mailbox.size).toBe(1000);
    expect(mailbox.peekAll()[0]).toBe(4000);
  });
});
