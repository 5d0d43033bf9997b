// fedctl's table output: columns as wide as their widest cell, for any number of rows (the
// widths were taken with Math.max(...cells), which throws past about 100,000 rows: `fedctl
// names` on a registry of 200,000 names would print a stack overflow instead of the list).
import { describe, expect, it } from 'vitest';
import { formatTable } from '../../cli/output.js';

describe('fedctl table output', () => {
  it('pads every column but the last to its widest cell, headers upper-cased', () => {
    expect(formatTable(['name', 'pid'], [['a', '<x#1.1>'], ['long-name', '<x#22.1>']]).split('\n')).toEqual([
      'NAME       PID',
      'a          <x#1.1>',
      'long-name  <x#22.1>',
    ]);
  });

  it('prints 200,000 rows', () => {
    const rows = Array.from({ length: 200_000 }, (_, index) => [`name/${index}`, index]);
    const lines = formatTable(['name', 'revision'], rows).split('\n');
    expect(lines).toHaveLength(200_001);
    expect(lines[200_000]).toBe('name/199999  199999');
    expect(lines[1]).toBe('name/0       0');
  });
});
