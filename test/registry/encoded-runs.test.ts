// EncodedRuns: the driver's memory of entries it encoded (or received encoded). It proves that a
// batch is encoded once and its bytes reused for exactly the same entry objects; that entries
// spanning known runs and unknown stretches come out as consecutive runs covering them, each of
// whose bytes decodes to its entries; that other entry objects at the same indexes (a replaced
// log suffix) are never taken for a known run; and that the memory is bounded.
import { describe, expect, it } from 'vitest';
import { ENCODED_RUNS_MAX, EncodedRuns } from '../../registry/encoded-runs.js';
import type { Entry } from '../../registry/raft/index.js';
import { decode, encodeRecords } from '../../runtime/index.js';

function entries(from: number, to: number, term = 1): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push({ index, term, type: 'normal', data: { id: `n/${index}`, cmd: { op: 'noop' } } });
  return out;
}

describe('encoded runs — entries encoded once', () => {
  it('the same entries give the same bytes, not a second encoding', () => {
    const runs = new EncodedRuns();
    const batch = entries(1, 64);
    const bytes = runs.encodingOf(batch);
    expect(decode(bytes)).toEqual(batch);
    // Another array of the same objects (the core slices its log for each follower).
    expect(runs.encodingOf([...batch])).toBe(bytes);
    expect(runs.runsOf(batch)).toEqual([{ count: 64, bytes }]);
  });

  it('known runs and unknown stretches come out as consecutive runs covering the entries', () => {
    const runs = new EncodedRuns();
    const log = entries(1, 20);
    const received = log.slice(5, 10);
    const receivedBytes = encodeRecords(received);
    runs.remember(received, receivedBytes);
    runs.remember(log.slice(14, 17), encodeRecords(log.slice(14, 17)));
    const out = runs.runsOf(log);
    expect(out.map((run) => run.count)).toEqual([5, 5, 4, 3, 3]);
    expect(out[1]!.bytes).toBe(receivedBytes);
    let at = 0;
    for (const run of out) {
      expect(decode(run.bytes)).toEqual(log.slice(at, at + run.count));
      at += run.count;
    }
    // The stretches encoded now are remembered too.
    expect(runs.runsOf(log.slice(0, 5))[0]!.bytes).toBe(out[0]!.bytes);
  });

  it('a run is known by its entry objects: equal entries at the same indexes are encoded anew', () => {
    const runs = new EncodedRuns();
    const first = entries(1, 4, 1);
    runs.remember(first, encodeRecords(first));
    const replaced = [first[0]!, first[1]!, ...entries(3, 4, 2)];
    const out = runs.runsOf(replaced);
    expect(out.map((run) => run.count)).toEqual([4]);
    expect(decode(out[0]!.bytes)).toEqual(replaced);
    // A longer or shorter array that starts with a known run's entries is not that run.
    expect(decode(runs.encodingOf(first.slice(0, 3)))).toEqual(first.slice(0, 3));
  });

  it('keeps at most ENCODED_RUNS_MAX runs, the newest', () => {
    const runs = new EncodedRuns();
    const oldest = entries(1, 1);
    const oldestBytes = runs.encodingOf(oldest);
    for (let index = 2; index <= ENCODED_RUNS_MAX + 10; index++) runs.encodingOf(entries(index, index));
    expect(runs.size).toBe(ENCODED_RUNS_MAX);
    const again = runs.encodingOf(oldest);
    expect(again).not.toBe(oldestBytes);
    expect(decode(again)).toEqual(oldest);
  });
});
