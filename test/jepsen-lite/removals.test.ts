// The registry's own removals, as the checkers take them: hand-made histories and hand-made
// registry-events (what the runner's watch reports). A name that vanishes with no removal
// reported fails; a reported removal of its holder (node declared down) explains it; the
// removal is bound in real time by when the watch saw it and by the revision order (after every
// change of a lower revision, on any name; before every change of a higher one), so a removal
// cannot be moved to where it would excuse an anomaly; a removal of someone who never held the
// name explains nothing. Random histories of clients against the model, with the registry
// removing names by itself and a watch seeing each change late, always pass both checkers (the
// bounds are sound) — and many fail when the removals are not given (they matter). Also:
// registry-events.jsonl lines are validated.
import { describe, expect, it } from 'vitest';
import { checkLinearizable, checkLostRegistrations, removalOperations } from '../../jepsen-lite/checker/index.js';
import { type HistoryEvent, describeOperation, pairOperations } from '../../jepsen-lite/history.js';
import { type RegistryEvent, formatRegistryEvent, parseRegistryEvents } from '../../jepsen-lite/registry-events.js';
import { isFedError } from '../../runtime/index.js';
import { HistoryBuilder, generateLinearizableHistory } from './history-builder.js';

const A = '<a@127.0.0.1#1.1>';
const B = '<b@127.0.0.1#2.1>';
const C = '<c@127.0.0.1#3.1>';

function check(events: readonly HistoryEvent[], registry: readonly RegistryEvent[]) {
  const removals = removalOperations(events, pairOperations(events), registry);
  return { removals, report: checkLinearizable(events, { removals }) };
}

/** The time of a 1-based history line (the builder's times are 1000 × line). */
const at = (line: number): number => line * 1_000;

describe('removals — a name that dies with its node', () => {
  it('removals — a name that vanishes with no removal reported fails', () => {
    const history = new HistoryBuilder().call(0, 'register', 'n', A, 'ok').call(1, 'whereis', 'n', null, A).call(1, 'whereis', 'n', null, null);
    expect(check(history.events, [{ type: 'put', name: 'n', pid: A, revision: 5, time: at(2) }]).report.verdict).toBe('fail');
  });

  it('removals — the registry\'s report that it removed the holder\'s name explains the name vanishing', () => {
    const history = new HistoryBuilder().call(0, 'register', 'n', A, 'ok').call(1, 'whereis', 'n', null, A).call(1, 'whereis', 'n', null, null);
    const { removals, report } = check(history.events, [
      { type: 'put', name: 'n', pid: A, revision: 5, time: at(2) },
      { type: 'delete', name: 'n', pid: A, reason: 'node_down', revision: 9, time: at(6) + 1 },
    ]);
    expect(report.verdict).toBe('pass');
    expect(removals).toHaveLength(1);
    expect(removals[0]).toMatchObject({ name: 'n', input: A, invokeLine: 1, completeLine: 6.5, removal: { reason: 'node_down', revision: 9 } });
    expect(describeOperation(removals[0] as never)).toContain('the registry removed "n" from');
  });

  it('removals — a removal of someone who never held the name explains nothing', () => {
    const history = new HistoryBuilder().call(0, 'register', 'n', A, 'ok').call(1, 'whereis', 'n', null, null);
    const { report } = check(history.events, [{ type: 'delete', name: 'n', pid: B, reason: 'node_down', revision: 9, time: at(4) + 1 }]);
    expect(report.verdict).toBe('fail');
    expect(report.failures[0]?.explanation.join('\n')).toContain('the registry removed "n" from <b@');
  });

  it('removals — a removal happened before the watch saw it: a later read of the holder fails', () => {
    // Seen right after line 2; the read at lines 3–4 came later and still saw A, who never registered again.
    const history = new HistoryBuilder().call(0, 'register', 'n', A, 'ok').call(1, 'whereis', 'n', null, A);
    const { report } = check(history.events, [
      { type: 'put', name: 'n', pid: A, revision: 5, time: at(1) },
      { type: 'delete', name: 'n', pid: A, reason: 'node_down', revision: 9, time: at(2) + 1 },
    ]);
    expect(report.verdict).toBe('fail');
  });
});

describe('removals — the revision order binds them', () => {
  // A holds n. B's register of n says ok. A's removal is what freed n for B — if the log puts
  // it before B's register. C's register of m (another name) commits in between.
  const history = new HistoryBuilder()
    .call(0, 'register', 'n', A, 'ok') // lines 1–2
    .call(1, 'register', 'n', B, 'ok') // lines 3–4
    .call(2, 'register', 'm', C, 'ok') // lines 5–6
    .call(1, 'whereis', 'n', null, B); // lines 7–8

  it('removals — a removal the log orders before the next owner\'s register explains it', () => {
    const { removals, report } = check(history.events, [
      { type: 'put', name: 'n', pid: A, revision: 5, time: at(2) },
      { type: 'delete', name: 'n', pid: A, reason: 'node_down', revision: 9, time: at(8) + 1 },
      { type: 'put', name: 'n', pid: B, revision: 12, time: at(8) + 2 },
      { type: 'put', name: 'm', pid: C, revision: 14, time: at(8) + 3 },
    ]);
    // After A's register was invoked (revision 5 < 9), before B's register completed (12 > 9).
    expect(removals[0]).toMatchObject({ invokeLine: 1, completeLine: 4 });
    expect(report.verdict).toBe('pass');
  });

  it('removals — a removal the log orders after a later change (on another name) cannot excuse the double ok', () => {
    const { removals, report } = check(history.events, [
      { type: 'put', name: 'n', pid: A, revision: 5, time: at(2) },
      { type: 'put', name: 'm', pid: C, revision: 14, time: at(8) + 1 },
      { type: 'delete', name: 'n', pid: A, reason: 'node_down', revision: 20, time: at(8) + 2 },
    ]);
    // C's register of m was invoked at line 5, after B's register of n completed (line 4): the
    // removal (revision 20 > 14) came after it, so when B was told ok A still held n.
    expect(removals[0]).toMatchObject({ invokeLine: 5 });
    expect(report.verdict).toBe('fail');
  });

  it('removals — a change made by an operation of unknown outcome bounds nothing from above', () => {
    const withInfo = new HistoryBuilder()
      .call(0, 'register', 'n', A, 'ok') // lines 1–2
      .invoke(2, 'register', 'm', C) // line 3
      .info(2) // line 4
      .call(1, 'whereis', 'n', null, null); // lines 5–6
    const { removals } = check(withInfo.events, [
      { type: 'put', name: 'n', pid: A, revision: 5, time: at(2) },
      { type: 'delete', name: 'n', pid: A, reason: 'node_down', revision: 9, time: at(6) + 1 },
      { type: 'put', name: 'm', pid: C, revision: 12, time: at(6) + 2 },
    ]);
    // The info register of m may have taken effect any time after its invoke: only the watch bounds the removal.
    expect(removals[0]?.completeLine).toBe(6.5);
  });

  it('removals — changes of one revision (one node_down command) are not ordered among themselves', () => {
    const two = new HistoryBuilder().call(0, 'register', 'n', A, 'ok').call(0, 'register', 'm', A, 'ok');
    const { removals } = check(two.events, [
      { type: 'put', name: 'n', pid: A, revision: 5, time: at(2) },
      { type: 'put', name: 'm', pid: A, revision: 6, time: at(4) },
      { type: 'delete', name: 'm', pid: A, reason: 'node_down', revision: 9, time: at(4) + 1 },
      { type: 'delete', name: 'n', pid: A, reason: 'node_down', revision: 9, time: at(4) + 1 },
    ]);
    expect(removals.map((removal) => removal.invokeLine)).toEqual([3, 3]);
  });
});

describe('removals — random histories with removals', () => {
  it('removals — clients against the model, with removals seen late, always pass both checkers', () => {
    let failWithout = 0;
    let removalsTotal = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const names = ['x', 'y', 'z'];
      const generated = generateLinearizableHistory({ seed, clients: 2 + (seed % 5), operations: 60, names, removalRate: 0.08 });
      const { removals, report } = check(generated.events, generated.registry);
      removalsTotal += removals.length;
      expect({ seed, verdict: report.verdict }).toEqual({ seed, verdict: 'pass' });
      const finalReads = new Map(names.map((name) => [name, generated.finalHolders.get(name) ?? null]));
      expect({ seed, lost: checkLostRegistrations(generated.events, { finalReads, removals }).verdict }).toEqual({ seed, lost: 'pass' });
      if (removals.length > 0 && checkLinearizable(generated.events).verdict === 'fail') failWithout++;
    }
    expect(removalsTotal).toBeGreaterThan(150);
    expect(failWithout).toBeGreaterThan(30);
  });
});

describe('removals — registry-events.jsonl', () => {
  it('registry events — lines read back; bad lines and revisions going backwards are refused with the line', () => {
    const events: RegistryEvent[] = [
      { type: 'put', name: 'n', pid: A, revision: 5, time: 10 },
      { type: 'gap', afterRevision: 5, revision: 40, time: 11 },
      { type: 'delete', name: 'n', pid: A, reason: 'stale_incarnation', revision: 41, time: 12 },
    ];
    const text = `${events.map(formatRegistryEvent).join('\n')}\n`;
    expect(parseRegistryEvents(text)).toEqual(events);
    const refused = (body: string): unknown => {
      try {
        parseRegistryEvents(body);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const backwards = refused(`${formatRegistryEvent(events[2] as RegistryEvent)}\n${formatRegistryEvent(events[0] as RegistryEvent)}\n`);
    expect(isFedError(backwards, 'badarg')).toBe(true);
    expect((backwards as Error).message).toContain('line 2: revision 5 is before');
    expect((refused('{"type":"delete","name":"n","pid":"x","reason":"lost","revision":1,"time":0}\n') as Error).message).toContain('"reason" must be one of');
    expect(() => formatRegistryEvent({ type: 'put', name: '', pid: A, revision: 1, time: 0 })).toThrow(/"name"/);
  });
});
