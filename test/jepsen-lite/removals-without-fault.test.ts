// results.json's `removalsWithoutFault`: the registry's removals of names held on a node that no
// fault window reached when the watch saw them. A fault reaches its nodes from its start to a
// while after its end (the leader misses a node for its down-grace before it removes its
// names); a node the harness made leave is gone for good, so its names' removals are expected
// whenever the group gets to them, however long after the leave. A removal on a node nothing
// touched, or before the fault began, is counted; a federated node's `released` deletes (no
// cause said) never are.
import { describe, expect, it } from 'vitest';
import type { Operation } from '../../jepsen-lite/history.js';
import type { FaultWindow } from '../../jepsen-lite/nemesis.js';
import { countRemovalsWithoutFault } from '../../jepsen-lite/results.js';

const N1 = 'n1@127.0.0.1';
const N2 = 'n2@127.0.0.1';
const S = 1e9;

function removal(node: string, atSeconds: number, reason = 'node_down'): Operation {
  return {
    process: -1,
    f: 'unregister',
    name: `jl-${node}-${atSeconds}`,
    input: `<${node}#7.1>`,
    type: 'ok',
    output: 'ok',
    invokeLine: 0,
    completeLine: 1,
    invokeTime: 0,
    completeTime: atSeconds * S,
    removal: { reason, revision: 1 },
  } as Operation;
}

function window(kind: FaultWindow['kind'], node: string, fromSeconds: number, toSeconds: number, leaves?: true): FaultWindow {
  return { index: 0, kind, description: '', nodes: [node], startNs: fromSeconds * S, endNs: toSeconds * S, leaderBefore: null, problems: [], ...(leaves ? { leaves } : {}) };
}

describe('removals without a fault — what a fault window covers', () => {
  it('removals — a kill covers its node until 10 s after its end, not before its start nor on other nodes', () => {
    // Proves the ordinary reach: inside and shortly after the window is a fault's; later, earlier or elsewhere is not.
    const windows = [window('kill', N1, 10, 20)];
    expect(countRemovalsWithoutFault([removal(N1, 15), removal(N1, 29)], windows)).toBe(0);
    expect(countRemovalsWithoutFault([removal(N1, 31)], windows)).toBe(1);
    expect(countRemovalsWithoutFault([removal(N1, 5)], windows)).toBe(1);
    expect(countRemovalsWithoutFault([removal(N2, 15)], windows)).toBe(1);
  });

  it('removals — a node that left loses its names as expected at any later time', () => {
    // Proves a leave covers its node for the rest of the run: a removal 40 s after the leave counted as "without a fault" before.
    const windows = [window('membership', N1, 10, 11, true)];
    expect(countRemovalsWithoutFault([removal(N1, 12), removal(N1, 25), removal(N1, 51)], windows)).toBe(0);
    expect(countRemovalsWithoutFault([removal(N2, 51)], windows)).toBe(1);
  });

  it('removals — a join covers its node only as long as an ordinary fault', () => {
    // Proves the rest-of-run reach is a leave's only: a joined node that loses its names much later is worth a look.
    expect(countRemovalsWithoutFault([removal(N1, 51)], [window('membership', N1, 10, 11)])).toBe(1);
  });

  it('removals — released deletes are never counted, a removal of an unparsable pid always is', () => {
    // Proves the two edges: a federated node says no cause; a holder the checker cannot place counts.
    expect(countRemovalsWithoutFault([removal(N1, 51, 'released')], [])).toBe(0);
    expect(countRemovalsWithoutFault([{ ...removal(N1, 15), input: 'not a pid' }], [window('kill', N1, 10, 20)])).toBe(1);
  });
});
