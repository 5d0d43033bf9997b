// Local-read staleness on hand-made histories: a read of the current holder, or of a value
// written by an overlapping write, is fresh; a read of a replaced value is stale by the time
// since the replacing write completed; a value no acknowledged write produced is unexplained; a
// name the registry removed by itself (its holder's node declared down) is free from then on, so
// a read of it as free is fresh and a read of the old holder is stale from the removal.
import { describe, expect, it } from 'vitest';
import { measureLocalReadStaleness, measureLocalReadStalenessOfOperations, removalOperations } from '../../jepsen-lite/checker/index.js';
import { pairOperations } from '../../jepsen-lite/history.js';
import { HistoryBuilder } from './history-builder.js';

const A = '<a@127.0.0.1#1.1>';
const B = '<b@127.0.0.1#2.1>';

describe('staleness — local reads', () => {
  it('staleness — reads of the current holder are fresh', () => {
    const history = new HistoryBuilder()
      .call(0, 'whereis_local', 'n', null, null)
      .call(0, 'register', 'n', A, 'ok')
      .call(1, 'whereis_local', 'n', null, A);
    expect(measureLocalReadStaleness(history.events)).toMatchObject({ localReads: 2, stale: 0, unexplained: 0, staleNsMax: 0 });
  });

  it('staleness — a read overlapping the write may see either value', () => {
    const history = new HistoryBuilder()
      .invoke(0, 'register', 'n', A)
      .call(1, 'whereis_local', 'n', null, A)
      .call(1, 'whereis_local', 'n', null, null)
      .ok(0, 'ok');
    expect(measureLocalReadStaleness(history.events).stale).toBe(0);
  });

  it('staleness — a replaced value is stale by the time since the replacing write completed', () => {
    // Events are 1,000 ns apart: the unregister completes at 4,000, the stale read is invoked at 7,000.
    const history = new HistoryBuilder()
      .call(0, 'register', 'n', A, 'ok')
      .call(0, 'unregister', 'n', A, 'ok')
      .call(0, 'register', 'n', B, 'ok')
      .call(1, 'whereis_local', 'n', null, A)
      .call(1, 'whereis_local', 'n', null, null);
    const report = measureLocalReadStaleness(history.events);
    expect(report).toMatchObject({ localReads: 2, stale: 2, unexplained: 0 });
    expect(report.staleNsMax).toBe(3_000);
    expect(report.staleNsP50).toBe(3_000);
  });

  it('staleness — a value no acknowledged write produced is unexplained', () => {
    const history = new HistoryBuilder().invoke(0, 'register', 'n', B).info(0).call(1, 'whereis_local', 'n', null, B);
    expect(measureLocalReadStaleness(history.events)).toMatchObject({ localReads: 1, stale: 0, unexplained: 1 });
  });

  it('staleness — a name the registry removed is free from the removal on: reading it free is fresh, reading the old holder stale', () => {
    // Events are 1,000 ns apart: the register completes at 2,000; the watch sees the removal at
    // 3,500; the reads are invoked at 5,000 (free: fresh) and 7,000 (the old holder: stale by 3,500).
    const history = new HistoryBuilder()
      .call(0, 'register', 'n', A, 'ok')
      .call(1, 'whereis_local', 'n', null, A)
      .call(1, 'whereis_local', 'n', null, null)
      .call(2, 'whereis_local', 'n', null, A);
    const operations = pairOperations(history.events);
    const removals = removalOperations(history.events, operations, [
      { type: 'put', name: 'n', pid: A, revision: 5, time: 2_000 },
      { type: 'delete', name: 'n', pid: A, reason: 'node_down', revision: 9, time: 3_500 },
    ]);
    expect(removals).toHaveLength(1);
    const report = measureLocalReadStalenessOfOperations(operations, removals);
    expect(report).toMatchObject({ localReads: 3, stale: 1, unexplained: 0, staleNsMax: 3_500 });
    // Without the removal the free read counts as stale since the register (and the last read as fresh).
    expect(measureLocalReadStalenessOfOperations(operations)).toMatchObject({ localReads: 3, stale: 1, staleNsMax: 3_000 });
  });
});
