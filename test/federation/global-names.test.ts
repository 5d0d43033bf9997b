// GlobalNames, the per-group share of the global namespace (pure state machine, applied here
// directly with increasing indexes). It proves: writes apply only in slots the group's log
// owns; a fence freezes a slot (reads still answer, writes refused) and hands back its names;
// import/accept/unfence/drop only act for the move revision they name, so a late step of an
// old move or a stale reconciler changes nothing; a release blocked by a fence is reported;
// snapshots round-trip, and restoring one reports the difference as changes (so cache
// invalidation never misses a change that arrived inside a snapshot); gateway records follow
// the wanted list; import batches, the holder index, alarms and gateway eligibility; every
// delete a watcher sees says why the name went.
import { describe, expect, it } from 'vitest';
import { Pid, decode, encode } from '../../runtime/index.js';
import { GlobalNames, IMPORT_NAMES_MAX, slotOf, type GlobalChange, type GlobalCommand, type GlobalResult } from '../../federation/index.js';

const P1 = new Pid('a1@127.0.0.1', 1, 1);
const P2 = new Pid('b1@127.0.0.1', 2, 1);

/** Through the wire codec, as a Raft snapshot travels (pids stay pids). */
function roundTrip<T>(value: T): T {
  return decode(encode(value)) as T;
}

function machine(): { names: GlobalNames; run: (cmd: GlobalCommand) => GlobalResult } {
  const names = new GlobalNames();
  let index = 0;
  return { names, run: (cmd) => names.apply(++index, cmd).value as GlobalResult };
}

describe('global names — ownership gates writes', () => {
  it('writes refuse not_home before claim_all; register is idempotent and name_taken is typed', () => {
    const { names, run } = machine();
    expect(run({ op: 'register', name: 'x', pid: P1 })).toMatchObject({ ok: false, code: 'not_home', slot: slotOf('x'), state: null });
    expect(run({ op: 'claim_all' })).toMatchObject({ ok: true });
    expect(run({ op: 'claim_all' })).toMatchObject({ ok: false, code: 'badarg' });
    const first = run({ op: 'register', name: 'x', pid: P1, group: 'ga' });
    expect(first).toMatchObject({ ok: true });
    expect(run({ op: 'register', name: 'x', pid: P1 })).toEqual(first);
    expect(run({ op: 'register', name: 'x', pid: P2 })).toMatchObject({ ok: false, code: 'name_taken', holder: P1 });
    expect(names.whereis('x')).toMatchObject({ pid: P1, group: 'ga' });
    expect(run({ op: 'unregister', name: 'x', pid: P2 })).toMatchObject({ ok: false, code: 'not_owner' });
    expect(run({ op: 'unregister', name: 'x', pid: P1 })).toMatchObject({ ok: true });
    expect(names.whereis('x')).toBeUndefined();
    expect(run({ op: 'register', name: '', pid: P1 })).toMatchObject({ ok: false, code: 'badarg' });
  });
});

describe('global names — the move protocol', () => {
  it('fence freezes a slot and answers its names; import/accept on the destination; drop on the source', () => {
    const source = machine();
    const destination = machine();
    source.run({ op: 'claim_all' });
    source.run({ op: 'register', name: '{s}a', pid: P1 });
    source.run({ op: 'register', name: '{s}b', pid: P2 });
    const slot = slotOf('s');
    const fenced = source.run({ op: 'fence', steps: [{ slot, moveRevision: 100 }] });
    expect(fenced).toMatchObject({ ok: true, applied: [slot] });
    const entries = fenced.ok ? (fenced.entries?.[0]?.[1] ?? []) : [];
    expect(entries.map(([name]) => name).sort()).toEqual(['{s}a', '{s}b']);
    // Frozen: reads answer, writes refused (the fence, not a cache, decides).
    expect(source.names.whereis('{s}a')?.pid.equals(P1)).toBe(true);
    expect(source.run({ op: 'register', name: '{s}c', pid: P1 })).toMatchObject({ ok: false, code: 'not_home', state: 'fenced' });
    expect(source.run({ op: 'release', pid: P1, names: ['{s}a'] })).toMatchObject({ ok: true, blocked: ['{s}a'] });
    // Destination: import holds the names but accepts no writes until accept(m).
    expect(destination.run({ op: 'import', slot, moveRevision: 100, entries })).toMatchObject({ ok: true, applied: [slot] });
    expect(destination.run({ op: 'register', name: '{s}c', pid: P1 })).toMatchObject({ ok: false, code: 'not_home', state: 'importing' });
    expect(destination.run({ op: 'accept', steps: [{ slot, moveRevision: 99 }] })).toMatchObject({ ok: true, applied: [] });
    expect(destination.run({ op: 'accept', steps: [{ slot, moveRevision: 100 }] })).toMatchObject({ ok: true, applied: [slot] });
    expect(destination.run({ op: 'register', name: '{s}c', pid: P1 })).toMatchObject({ ok: true });
    expect(destination.names.whereis('{s}b')?.pid.equals(P2)).toBe(true);
    // Source: a stale drop does nothing; the right one empties the slot.
    expect(source.run({ op: 'drop', steps: [{ slot, moveRevision: 7 }] })).toMatchObject({ applied: [] });
    expect(source.run({ op: 'drop', steps: [{ slot, moveRevision: 100 }] })).toMatchObject({ applied: [slot] });
    expect(source.names.whereis('{s}a')).toBeUndefined();
    expect(source.names.slotState(slot)).toBeUndefined();
    expect(source.run({ op: 'register', name: '{s}d', pid: P1 })).toMatchObject({ ok: false, code: 'not_home', state: null });
  });

  it('an aborted move unfences only for its own revision; an owned slot is never unfenced or dropped', () => {
    const { names, run } = machine();
    run({ op: 'claim_all' });
    const slot = slotOf('t');
    run({ op: 'fence', steps: [{ slot, moveRevision: 50 }] });
    // A newer move re-fences; the old move's unfence is then stale.
    run({ op: 'fence', steps: [{ slot, moveRevision: 60 }] });
    expect(run({ op: 'unfence', steps: [{ slot, moveRevision: 50 }] })).toMatchObject({ applied: [] });
    expect(names.slotState(slot)).toBe('fenced');
    expect(run({ op: 'unfence', steps: [{ slot, moveRevision: 60 }] })).toMatchObject({ applied: [slot] });
    expect(names.slotState(slot)).toBe('owned');
    expect(run({ op: 'drop', steps: [{ slot, moveRevision: 60 }] })).toMatchObject({ applied: [] });
    // An older move's fence cannot re-fence a slot taken over by a newer one.
    expect(run({ op: 'fence', steps: [{ slot, moveRevision: 40 }] })).toMatchObject({ applied: [] });
    expect(run({ op: 'fence', steps: [] })).toMatchObject({ ok: false, code: 'badarg' });
  });

  it('release_node removes names of a node in owned slots and reports those behind a fence', () => {
    const { names, run } = machine();
    run({ op: 'claim_all' });
    run({ op: 'register', name: '{u}1', pid: P1 });
    run({ op: 'register', name: 'free', pid: P1 });
    run({ op: 'register', name: 'other', pid: P2 });
    run({ op: 'fence', steps: [{ slot: slotOf('u'), moveRevision: 10 }] });
    expect(run({ op: 'release_node', node: P1.node })).toMatchObject({ ok: true, blocked: ['{u}1'] });
    expect(names.whereis('free')).toBeUndefined();
    expect(names.whereis('other')?.pid.equals(P2)).toBe(true);
    expect(names.holderNodes()).toEqual([P1.node, P2.node].sort());
  });
});

describe('global names — why a name went', () => {
  it('each delete carries its reason: unregister, process_exit, node_down, stale_incarnation, slot_moved, snapshot', () => {
    const { names, run } = machine();
    const deletes: string[] = [];
    names.onChange((change) => {
      if (change.type === 'delete') deletes.push(`${change.name}:${change.reason}`);
    });
    const P1_RESTARTED = new Pid(P1.node, 7, P1.creation + 1);
    run({ op: 'claim_all' });
    for (const name of ['by-hand', 'exited', 'released']) run({ op: 'register', name, pid: P1 });
    run({ op: 'register', name: 'old-incarnation', pid: P2 });
    run({ op: 'unregister', name: 'by-hand', pid: P1 });
    // The holder's member reports its exit (reason travels with the command; state is as for a plain unregister).
    run({ op: 'unregister', name: 'exited', pid: P1, reason: 'process_exit' });
    run({ op: 'release', pid: P1, names: ['released'] });
    run({ op: 'release_node', node: P2.node, creationBelow: P2.creation + 1 });
    run({ op: 'register', name: 'down', pid: P1_RESTARTED });
    run({ op: 'release_node', node: P1.node });
    // A slot moved away: its names leave with it.
    run({ op: 'register', name: '{m}moved', pid: P2 });
    const slot = slotOf('m');
    run({ op: 'fence', steps: [{ slot, moveRevision: 90 }] });
    run({ op: 'drop', steps: [{ slot, moveRevision: 90 }] });
    expect(deletes).toEqual(['by-hand:unregister', 'exited:process_exit', 'released:process_exit', 'old-incarnation:stale_incarnation', 'down:node_down', '{m}moved:slot_moved']);
    // A replica that installs a snapshot without a name it held reports it gone by the snapshot.
    run({ op: 'register', name: 'kept-here', pid: P2 });
    const behind = machine();
    behind.run({ op: 'claim_all' });
    behind.run({ op: 'register', name: 'only-behind', pid: P1 });
    const restored: string[] = [];
    behind.names.onChange((change) => {
      if (change.type === 'delete') restored.push(`${change.name}:${change.reason}`);
    });
    behind.names.restore(roundTrip(names.snapshot()));
    expect(restored).toEqual(['only-behind:snapshot']);
  });
});

describe('global names — snapshots and gateways', () => {
  it('round-trips its whole state through a snapshot', () => {
    const { names, run } = machine();
    run({ op: 'claim_all' });
    run({ op: 'register', name: 'x', pid: P1, meta: { role: 'db' }, group: 'ga' });
    run({ op: 'fence', steps: [{ slot: slotOf('y'), moveRevision: 9 }] });
    run({ op: 'want_gateways', members: ['a1@127.0.0.1', 'a2@127.0.0.1'] });
    run({ op: 'gateway_up', gateway: { member: 'a2@127.0.0.1', node: 'a2-gw@127.0.0.1', address: '127.0.0.1:5000' } });
    const copy = new GlobalNames();
    copy.restore(structuredClone(names.snapshot()));
    expect(copy.snapshot()).toEqual(names.snapshot());
    expect(copy.whereis('x')).toMatchObject({ meta: { role: 'db' }, group: 'ga' });
    expect(copy.slotState(slotOf('y'))).toBe('fenced');
    expect(copy.gateways()).toEqual([{ member: 'a2@127.0.0.1', node: 'a2-gw@127.0.0.1', address: '127.0.0.1:5000' }]);
  });

  it('lists only wanted gateways that published an address, and forgets unwanted ones', () => {
    const { names, run } = machine();
    expect(run({ op: 'gateway_up', gateway: { member: 'a1@127.0.0.1', node: 'a1-gw@127.0.0.1', address: '127.0.0.1:1' } })).toMatchObject({ ok: false, code: 'badarg' });
    run({ op: 'want_gateways', members: ['a1@127.0.0.1', 'a2@127.0.0.1'] });
    run({ op: 'gateway_up', gateway: { member: 'a1@127.0.0.1', node: 'a1-gw@127.0.0.1', address: '127.0.0.1:1' } });
    expect(names.gateways().map((gateway) => gateway.member)).toEqual(['a1@127.0.0.1']);
    run({ op: 'want_gateways', members: ['a2@127.0.0.1', 'a3@127.0.0.1'] });
    expect(names.gateways()).toEqual([]);
    expect(names.wantedGateways()).toEqual(['a2@127.0.0.1', 'a3@127.0.0.1']);
  });
});

describe('global names — restoring a snapshot', () => {
  it('reports the difference as changes: a put for each added or changed name, a delete for each name gone', () => {
    const { names, run } = machine();
    run({ op: 'claim_all' });
    run({ op: 'register', name: 'kept', pid: P1 });
    run({ op: 'register', name: 'changed', pid: P1 });
    run({ op: 'register', name: 'gone', pid: P1 });
    // A replica that then moves ahead (what the snapshot a lagging member installs holds).
    const ahead = new GlobalNames();
    ahead.restore(roundTrip(names.snapshot()));
    let index = 10;
    const runAhead = (cmd: GlobalCommand) => ahead.apply(++index, cmd).value as GlobalResult;
    runAhead({ op: 'unregister', name: 'changed', pid: P1 });
    runAhead({ op: 'register', name: 'changed', pid: P2 });
    runAhead({ op: 'unregister', name: 'gone', pid: P1 });
    runAhead({ op: 'register', name: 'added', pid: P2 });
    const changes: GlobalChange[] = [];
    names.onChange((change) => changes.push(change));
    names.restore(roundTrip(ahead.snapshot()));
    const summary = changes.map((change) => `${change.type} ${change.name} ${change.type === 'put' ? change.entry.pid.toString() : change.pid.toString()}`).sort();
    expect(summary).toEqual([`delete gone ${P1.toString()}`, `put added ${P2.toString()}`, `put changed ${P2.toString()}`]);
    expect(names.snapshot()).toEqual(ahead.snapshot());
    // Applying goes on after the snapshot's last index.
    expect(() => names.apply(index, { op: 'register', name: 'late', pid: P1 })).toThrow();
    expect(names.apply(index + 1, { op: 'register', name: 'late', pid: P1 }).value).toMatchObject({ ok: true });
  });
});

describe('global names — batches, holders, alarms, eligibility', () => {
  it('import_batch imports whole slots for their own moves only, within its bounds', () => {
    const { names, run } = machine();
    const [x, y] = [slotOf('x'), slotOf('y')];
    const entry = (pid: Pid) => ({ pid, meta: {}, revision: 1, createRevision: 1, group: 'gb' });
    const result = run({ op: 'import_batch', imports: [{ slot: x, moveRevision: 5, entries: [['x', entry(P1)]] }, { slot: y, moveRevision: 5, entries: [['y', entry(P2)], ['not-y', entry(P2)]] }] });
    expect(result).toMatchObject({ ok: true, applied: [x, y] });
    expect([names.slotState(x), names.slotState(y)]).toEqual(['importing', 'importing']);
    expect(names.whereis('y')?.pid.equals(P2)).toBe(true);
    expect(names.whereis('not-y')).toBeUndefined();
    expect(run({ op: 'import_batch', imports: [] })).toMatchObject({ ok: false, code: 'badarg' });
    const tooMany = Array.from({ length: IMPORT_NAMES_MAX + 1 }, (_, index) => [`n${index}`, entry(P1)] as const);
    expect(run({ op: 'import_batch', imports: [{ slot: x, moveRevision: 6, entries: tooMany }] })).toMatchObject({ ok: false, code: 'badarg' });
    expect(names.slotMoveRevision(x)).toBe(5);
  });

  it('holdersByGroup follows registrations, releases and restores by holder group, node and oldest creation', () => {
    const { names, run } = machine();
    run({ op: 'claim_all' });
    const old = new Pid('b1@127.0.0.1', 7, 1);
    const young = new Pid('b1@127.0.0.1', 8, 2);
    run({ op: 'register', name: 'p', pid: young, group: 'gb' });
    run({ op: 'register', name: 'q', pid: old, group: 'gb' });
    run({ op: 'register', name: 'r', pid: P1 });
    expect(names.holdersByGroup()).toEqual(new Map<string | null, Map<string, number>>([['gb', new Map([['b1@127.0.0.1', 1]])], [null, new Map([[P1.node, 1]])]]));
    run({ op: 'release_node', node: 'b1@127.0.0.1', creationBelow: 2 });
    expect(names.holdersByGroup().get('gb')).toEqual(new Map([['b1@127.0.0.1', 2]]));
    const copy = new GlobalNames();
    copy.restore(roundTrip(names.snapshot()));
    expect(copy.holdersByGroup()).toEqual(names.holdersByGroup());
    run({ op: 'unregister', name: 'p', pid: young });
    expect(names.holdersByGroup().has('gb')).toBe(false);
  });

  it('alarms are recorded by code, replaced, cleared, kept in snapshots; malformed ones refused', () => {
    const { names, run } = machine();
    expect(run({ op: 'alarm', alarm: { code: 'two_roots', message: 'seeds belong to gx', details: { otherRoot: 'gx' } } })).toMatchObject({ ok: true });
    run({ op: 'alarm', alarm: { code: 'two_roots', message: 'again', details: { otherRoot: 'gy' } } });
    expect(names.alarms()).toMatchObject([{ code: 'two_roots', message: 'again', details: { otherRoot: 'gy' } }]);
    expect(run({ op: 'alarm', alarm: { code: 'nonsense' as 'two_roots', message: 'x' } })).toMatchObject({ ok: false, code: 'badarg' });
    const copy = new GlobalNames();
    copy.restore(roundTrip(names.snapshot()));
    expect(copy.alarms()).toEqual(names.alarms());
    run({ op: 'clear_alarm', code: 'two_roots' });
    expect(names.alarms()).toEqual([]);
  });

  it('gateway eligibility is declared per member and survives snapshots', () => {
    const { names, run } = machine();
    expect(names.gatewayEligible('a1@127.0.0.1')).toBe(true);
    run({ op: 'gateway_eligible', member: 'a1@127.0.0.1', eligible: false });
    expect(names.gatewayEligible('a1@127.0.0.1')).toBe(false);
    const copy = new GlobalNames();
    copy.restore(roundTrip(names.snapshot()));
    expect(copy.gatewayEligible('a1@127.0.0.1')).toBe(false);
    run({ op: 'gateway_eligible', member: 'a1@127.0.0.1', eligible: true });
    expect(names.gatewayEligible('a1@127.0.0.1')).toBe(true);
    expect(run({ op: 'gateway_eligible', member: 'a1@127.0.0.1' } as unknown as GlobalCommand)).toMatchObject({ ok: false, code: 'badarg' });
  });
});
