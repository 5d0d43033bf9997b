// The acknowledged-commits checker on hand-made operations and committed histories that must
// pass and must fail: an acknowledged register is confirmed only by a put of that name to that
// owner at the revision it was answered with (a new registration or an idempotent one), an
// acknowledged unregister by a delete from that owner there (or, in a federation's namespace,
// no change of the name); anything else at that revision is a lost acknowledged write. Where
// the watch cannot know (beyond what it covered, inside a gap, a put hidden behind a delete of
// its name at one revision with nothing later to decide) the verdict is unknown, never pass or
// fail. Also the two helpers the runner uses in a federation: the home group of a write whose
// answer did not name it, and reasonless deletes that an acknowledged unregister made.
import { describe, expect, it } from 'vitest';
import { type CommittedHistory, checkAcknowledgedCommits, labelAcknowledgedUnregisters, withHomeGroups } from '../../jepsen-lite/checker/index.js';
import type { Operation } from '../../jepsen-lite/history.js';
import type { RegistryEvent } from '../../jepsen-lite/registry-events.js';

const P = '<n1@127.0.0.1#3.1>';
const Q = '<n2@127.0.0.1#3.1>';

let line = 0;
function write(f: 'register' | 'unregister', name: string, owner: string, revision: number | undefined, group: string | null = 'g'): Operation {
  line += 2;
  return {
    process: line,
    f,
    name,
    input: owner,
    type: 'ok',
    output: 'ok',
    invokeLine: line - 1,
    completeLine: line,
    invokeTime: line - 1,
    completeTime: line,
    ...(revision !== undefined ? { revision } : {}),
    ...(group !== null ? { group } : {}),
  };
}

function put(name: string, pid: string, revision: number): RegistryEvent {
  return { type: 'put', name, pid, revision, time: revision };
}
function del(name: string, pid: string, revision: number, reason: 'unregister' | 'node_down' | 'stale_incarnation' | 'released' = 'unregister'): RegistryEvent {
  return { type: 'delete', name, pid, reason, revision, time: revision };
}

/** One group's history; the final reads saw up to `finalRevision` (by default all the watch covered). */
function groups(events: readonly RegistryEvent[], coveredRevision = 100, wholeRevisions = false, finalRevision: number | null = coveredRevision): Map<string, CommittedHistory> {
  return new Map([['g', { events, coveredRevision, wholeRevisions, ...(finalRevision !== null ? { finalRevision } : {}) }]]);
}

describe('acknowledged commits — registers', () => {
  it('acknowledged — a register confirmed by its put, and an idempotent one by the put it found, pass', () => {
    const report = checkAcknowledgedCommits([write('register', 'x', P, 5), write('register', 'x', P, 5)], { groups: groups([put('x', P, 5)]), unregisterFree: 'not_owner' });
    expect(report).toMatchObject({ verdict: 'pass', checked: 2, confirmed: 2, uncommitted: [], undetermined: [] });
  });

  it('acknowledged — a register whose revision holds another change, or none, was never committed: fail, saying what is there', () => {
    const events = [put('x', P, 5), put('y', Q, 7)];
    const report = checkAcknowledgedCommits([write('register', 'y', P, 7), write('register', 'x', Q, 6)], { groups: groups(events), unregisterFree: 'not_owner' });
    expect(report.verdict).toBe('fail');
    expect(report.uncommitted.map((write) => write.found)).toEqual([`a put to ${Q}`, 'no change of the name']);
    expect(report.uncommitted[0]?.message).toMatch(/^register of "y" by <n1@127.0.0.1#3.1> acknowledged at revision 7 of group g \(history line \d+\) never committed: at revision 7 the committed history has a put to <n2/);
  });

  it('acknowledged — a revision the watch did not cover, or one inside a gap, is unknown, never a pass or a fail', () => {
    const gap: RegistryEvent = { type: 'gap', afterRevision: 10, revision: 20, time: 20 };
    const report = checkAcknowledgedCommits([write('register', 'x', P, 15), write('register', 'x', P, 150)], { groups: groups([gap]), unregisterFree: 'not_owner' });
    expect(report.verdict).toBe('unknown');
    expect(report.undetermined).toHaveLength(2);
    expect(report.undetermined[0]).toContain('revisions 11–20 are a gap in what the watch saw');
    expect(report.undetermined[1]).toContain('the watch covered only up to revision 100');
  });

  it('acknowledged — a put hidden behind a delete of its name (one change per poll) is decided by the name\'s next change or its final read', () => {
    // At 9 a new incarnation's register dropped the old pid's hold on x, then put x: the watch saw only the delete.
    const base = [put('x', Q, 5), del('x', Q, 9, 'stale_incarnation')];
    const options = { unregisterFree: 'not_owner' as const };
    const heldLater = checkAcknowledgedCommits([write('register', 'x', P, 9)], { ...options, groups: groups([...base, del('x', P, 14, 'node_down')]) });
    expect(heldLater.verdict).toBe('pass');
    const freeLater = checkAcknowledgedCommits([write('register', 'x', P, 9)], { ...options, groups: groups([...base, put('x', Q, 14)]) });
    expect(freeLater.verdict).toBe('fail');
    const readBack = checkAcknowledgedCommits([write('register', 'x', P, 9)], { ...options, groups: groups(base), finalReads: new Map([['x', P]]) });
    expect(readBack.verdict).toBe('pass');
    const readOther = checkAcknowledgedCommits([write('register', 'x', P, 9)], { ...options, groups: groups(base), finalReads: new Map([['x', null]]) });
    expect(readOther.verdict).toBe('fail');
    const unread = checkAcknowledgedCommits([write('register', 'x', P, 9)], { ...options, groups: groups(base) });
    expect(unread.verdict).toBe('unknown');
    // A watch whose answers carry whole revisions (a federation's feed) hides nothing: a delete alone is the answer.
    const whole = checkAcknowledgedCommits([write('register', 'x', P, 9)], { ...options, groups: groups(base, 100, true) });
    expect(whole.verdict).toBe('fail');
  });

  it('acknowledged — a hidden put is decided only across what the watch saw whole: a gap before the deciding change, or a final read the watch did not cover, is unknown', () => {
    // Proves an incomplete record cannot turn a hidden put into a fail (or a pass): across a gap the name's real next change may be unseen.
    const base = [put('x', Q, 5), del('x', Q, 9, 'stale_incarnation')];
    const gap: RegistryEvent = { type: 'gap', afterRevision: 11, revision: 13, time: 13 };
    const options = { unregisterFree: 'not_owner' as const };
    const ack = [write('register', 'x', P, 9)];
    // In the gap P may have unregistered x and Q taken it: the put to Q at 14 says nothing of who held x after 9.
    const acrossGap = checkAcknowledgedCommits(ack, { ...options, groups: groups([...base, gap, put('x', Q, 14)]) });
    expect(acrossGap.verdict).toBe('unknown');
    expect(acrossGap.undetermined[0]).toContain('nothing later the watch saw whole decides');
    // The same with the gap before the register: the next change decides.
    const gapBefore: RegistryEvent = { type: 'gap', afterRevision: 6, revision: 8, time: 8 };
    expect(checkAcknowledgedCommits(ack, { ...options, groups: groups([put('x', Q, 5), gapBefore, del('x', Q, 9, 'stale_incarnation'), put('x', Q, 14)]) }).verdict).toBe('fail');
    const read = new Map([['x', null]]);
    expect(checkAcknowledgedCommits(ack, { ...options, groups: groups([...base, gap]), finalReads: read }).verdict).toBe('unknown');
    // The final reads saw up to 120, the watch covered 100: what came in between is not known.
    expect(checkAcknowledgedCommits(ack, { ...options, groups: groups(base, 100, false, 120), finalReads: read }).verdict).toBe('unknown');
    expect(checkAcknowledgedCommits(ack, { ...options, groups: groups(base, 100, false, null), finalReads: read }).verdict).toBe('unknown');
    expect(checkAcknowledgedCommits(ack, { ...options, groups: groups(base, 100, false, 100), finalReads: read }).verdict).toBe('fail');
  });

  it('acknowledged — a gap elsewhere leaves the writes the watch saw whole decided: pass and fail stand', () => {
    // Proves an incomplete record is unknown only where it is incomplete (the runner no longer makes the whole checker unknown).
    const gap: RegistryEvent = { type: 'gap', afterRevision: 20, revision: 30, time: 30 };
    const history = groups([put('x', P, 5), gap, put('y', Q, 40)], 50, false, 60);
    const confirmed = checkAcknowledgedCommits([write('register', 'x', P, 5), write('register', 'y', Q, 40)], { groups: history, unregisterFree: 'not_owner' });
    expect(confirmed).toMatchObject({ verdict: 'pass', confirmed: 2, undetermined: [] });
    const lie = checkAcknowledgedCommits([write('register', 'x', P, 5), write('register', 'y', P, 41)], { groups: history, unregisterFree: 'not_owner' });
    expect(lie.verdict).toBe('fail');
    expect(lie.uncommitted[0]?.found).toBe('no change of the name');
  });

  it('acknowledged — writes without a recorded revision are counted, not checked', () => {
    const report = checkAcknowledgedCommits([write('register', 'x', P, undefined)], { groups: groups([]), unregisterFree: 'not_owner' });
    expect(report).toMatchObject({ verdict: 'pass', checked: 0, unanswered: 1 });
  });
});

describe('acknowledged commits — unregisters', () => {
  it('acknowledged — an unregister confirmed by its delete passes; nothing at its revision fails where a free name is not_owner', () => {
    const ok = checkAcknowledgedCommits([write('unregister', 'x', P, 8)], { groups: groups([put('x', P, 5), del('x', P, 8)]), unregisterFree: 'not_owner' });
    expect(ok.verdict).toBe('pass');
    const lie = checkAcknowledgedCommits([write('unregister', 'x', P, 8)], { groups: groups([put('x', P, 5)]), unregisterFree: 'not_owner' });
    expect(lie.verdict).toBe('fail');
  });

  it('acknowledged — in a federation\'s namespace an unregister of a free name changes nothing: no change passes, another change fails', () => {
    const free = checkAcknowledgedCommits([write('unregister', 'x', P, 8)], { groups: groups([]), unregisterFree: 'ok' });
    expect(free.verdict).toBe('pass');
    const other = checkAcknowledgedCommits([write('unregister', 'x', P, 8)], { groups: groups([put('x', Q, 8)]), unregisterFree: 'ok' });
    expect(other.verdict).toBe('fail');
  });
});

describe('acknowledged commits — the federation helpers', () => {
  it('home groups — a write without a group gets the one group whose history has its name, or the only group', () => {
    const histories = new Map<string, CommittedHistory>([
      ['g1', { events: [put('x', P, 5)], coveredRevision: 9, wholeRevisions: true }],
      ['g2', { events: [put('y', P, 3)], coveredRevision: 9, wholeRevisions: true }],
    ]);
    const filled = withHomeGroups([write('unregister', 'x', P, 8, null), write('unregister', 'y', P, 4, null), write('unregister', 'z', P, 4, null)], histories);
    expect(filled.map((operation) => operation.group)).toEqual(['g1', 'g2', undefined]);
    expect(withHomeGroups([write('unregister', 'z', P, 4, null)], groups([]))[0]?.group).toBe('g');
  });

  it('labels — a reasonless delete that an acknowledged unregister answered is that unregister; the others stay released', () => {
    const events = [put('x', P, 5), del('x', P, 8, 'released'), put('y', P, 9), del('y', P, 12, 'released')];
    const labelled = labelAcknowledgedUnregisters(events, [write('unregister', 'x', P, 8, 'g1'), write('unregister', 'y', P, 12, 'g2')], 'g1');
    expect(labelled.filter((event) => event.type === 'delete').map((event) => (event as { reason: string }).reason)).toEqual(['unregister', 'released']);
  });
});
