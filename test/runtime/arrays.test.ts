// The list helpers of runtime/kernel/arrays.ts: they take lists of any length (spreading 200,000
// items as call arguments overflows V8's stack), find the partition point of a sorted list by
// binary search at every position, and keep a map to its newest keys.
import { describe, expect, it } from 'vitest';
import { appendAll, keepNewest, maxOf, minOf, partitionPoint } from '../../runtime/index.js';

const LONG = 200_000;

describe('arrays — helpers for lists of any length', () => {
  it('appendAll appends every item in order, to a list of any length', () => {
    const items = Array.from({ length: LONG }, (_, index) => index);
    expect(() => [0].push(...items)).toThrow(RangeError);
    const target = appendAll([-1], items);
    expect(target).toHaveLength(LONG + 1);
    expect(target[0]).toBe(-1);
    expect(target[LONG]).toBe(LONG - 1);
    expect(appendAll([1], new Set([2, 3]))).toEqual([1, 2, 3]);
  });

  it('maxOf and minOf of many values, and their value for none', () => {
    const values = Array.from({ length: LONG }, (_, index) => (index * 7919) % LONG);
    expect(maxOf(values, -1)).toBe(LONG - 1);
    expect(minOf(values, -1)).toBe(0);
    expect(maxOf([], 42)).toBe(42);
    expect(minOf([], 42)).toBe(42);
    expect(maxOf([-5, -3], 0)).toBe(-3);
  });

  it('partitionPoint finds the first item past the point, at every position and from any low bound', () => {
    const sorted = [1, 3, 3, 5, 8, 13];
    for (let point = 0; point <= 14; point++) {
      const expected = sorted.findIndex((item) => !(item <= point));
      expect(partitionPoint(sorted, 0, (item) => item <= point)).toBe(expected === -1 ? sorted.length : expected);
    }
    expect(partitionPoint(sorted, 4, (item) => item <= 2)).toBe(4);
    expect(partitionPoint([], 0, () => true)).toBe(0);
  });

  it('keepNewest forgets the oldest keys of a map or set', () => {
    const map = new Map([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
    keepNewest(map, 2);
    expect([...map.keys()]).toEqual(['c', 'd']);
    keepNewest(map, 5);
    expect(map.size).toBe(2);
    const set = new Set([1, 2, 3]);
    keepNewest(set, 0);
    expect(set.size).toBe(0);
  });
});
