// The name-registry state machine: register/unregister semantics, names dying with processes,
// nodes and old incarnations, claims, watch events (a restored snapshot tells listeners what
// changed), and determinism (replicas applying the same log agree; restoring a snapshot equals
// replaying the log).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NameRegistry, WATCH_EVENTS_MAX, type RegistryCommand } from '../../registry/names.js';
import { Pid } from '../../runtime/pid.js';
import { decode, encode } from '../../runtime/codec.js';

const a1 = new Pid('a@127.0.0.1', 1, 1);
const a2 = new Pid('a@127.0.0.1', 2, 1);
const b1 = new Pid('b@127.0.0.1', 1, 1);

/** Random registry commands over a few names, pids (two incarnations of one node) and claims. */
function commandArbitrary(): fc.Arbitrary<RegistryCommand> {
  const pids = [a1, a2, b1, new Pid('a@127.0.0.1', 1, 2)];
  const names = ['n0', 'n1', 'n2', 'n3'];
  return fc.oneof(
    fc.record({ op: fc.constant('register' as const), name: fc.constantFrom(...names), pid: fc.constantFrom(...pids) }),
    fc.record({ op: fc.constant('unregister' as const), name: fc.constantFrom(...names), pid: fc.constantFrom(...pids) }),
    fc.record({ op: fc.constant('release_pid' as const), pid: fc.constantFrom(...pids) }),
    fc.record({ op: fc.constant('node_down' as const), node: fc.constantFrom('a@127.0.0.1', 'b@127.0.0.1') }),
    fc.record({ op: fc.constant('node_down' as const), node: fc.constant('a@127.0.0.1'), creationBelow: fc.constantFrom(2, 3) }),
    fc.record({ op: fc.constant('claim' as const), key: fc.constantFrom('k1', 'k2'), node: fc.constantFrom('a@h', 'b@h') }),
  );
}

function applyAll(registry: NameRegistry, commands: RegistryCommand[], startIndex = registry.appliedIndex + 1) {
  return commands.map((command, offset) => registry.apply(startIndex + offset, command));
}

describe('names — register and unregister', () => {
  it('a name is at most LIMITS.nameBytesMax bytes of UTF-8, counted also when its characters take several bytes', () => {
    // Proves the quick length check never lets a long multi-byte name through.
    const registry = new NameRegistry();
    const [ascii, tooLong, euros, fewEuros] = applyAll(registry, [
      { op: 'register', name: 'x'.repeat(1_024), pid: a1 },
      { op: 'register', name: 'x'.repeat(1_025), pid: a1 },
      { op: 'register', name: '€'.repeat(342), pid: a1 },
      { op: 'register', name: '€'.repeat(341), pid: a1 },
    ]);
    expect(ascii).toMatchObject({ ok: true });
    expect(tooLong).toMatchObject({ ok: false, code: 'badarg' });
    expect(euros).toMatchObject({ ok: false, code: 'badarg' });
    expect(fewEuros).toMatchObject({ ok: true });
  });

  it('pids are compared by value: equal pid objects (decoded one per entry) hold and release the same names', () => {
    // Proves the registry's per-pid index does not depend on pid object identity.
    const registry = new NameRegistry();
    const copy = (pid: Pid) => decode(encode(pid)) as Pid;
    applyAll(registry, [
      { op: 'register', name: 'n1', pid: copy(a1) },
      { op: 'register', name: 'n2', pid: copy(a2) },
      { op: 'register', name: 'n3', pid: copy(a1) },
      { op: 'register', name: 'n4', pid: copy(a1) },
    ]);
    expect(registry.namesOf(copy(a1)).sort()).toEqual(['n1', 'n3', 'n4']);
    expect(registry.apply(5, { op: 'unregister', name: 'n3', pid: copy(a1) })).toMatchObject({ ok: true });
    expect(registry.apply(6, { op: 'release_pid', pid: copy(a1) })).toEqual({ ok: true, revision: 6, released: ['n1', 'n4'] });
    expect(registry.registered().map(([name]) => name)).toEqual(['n2']);
    expect(registry.namesOf(a2)).toEqual(['n2']);
  });

  it('registers a free name with its index as revision, idempotently for the same pid', () => {
    const registry = new NameRegistry();
    const [first, again] = applyAll(registry, [
      { op: 'register', name: 'svc', pid: a1, meta: { role: 'db' } },
      { op: 'register', name: 'svc', pid: a1 },
    ]);
    expect(first).toEqual({ ok: true, revision: 1 });
    expect(again).toEqual({ ok: true, revision: 1 });
    const entry = registry.whereis('svc');
    expect(entry?.pid.equals(a1)).toBe(true);
    expect(entry?.meta).toEqual({ role: 'db' });
    expect(entry?.revision).toBe(1);
  });

  it('refuses a held name with name_taken and the holder', () => {
    const registry = new NameRegistry();
    const [, taken] = applyAll(registry, [
      { op: 'register', name: 'svc', pid: a1 },
      { op: 'register', name: 'svc', pid: b1 },
    ]);
    expect(taken).toMatchObject({ ok: false, code: 'name_taken', revision: 1 });
    expect((taken as { holder: Pid }).holder.equals(a1)).toBe(true);
  });

  it('only the holder unregisters; others get not_owner', () => {
    const registry = new NameRegistry();
    const [, wrong, missing, right] = applyAll(registry, [
      { op: 'register', name: 'svc', pid: a1 },
      { op: 'unregister', name: 'svc', pid: b1 },
      { op: 'unregister', name: 'nope', pid: a1 },
      { op: 'unregister', name: 'svc', pid: a1 },
    ]);
    expect(wrong).toMatchObject({ ok: false, code: 'not_owner' });
    expect(missing).toEqual({ ok: false, code: 'not_owner', holder: null });
    expect(right).toEqual({ ok: true, revision: 4 });
    expect(registry.whereis('svc')).toBeUndefined();
  });

  it('rejects empty and oversized names with badarg', () => {
    const registry = new NameRegistry();
    const [empty, huge] = applyAll(registry, [
      { op: 'register', name: '', pid: a1 },
      { op: 'register', name: 'x'.repeat(5000), pid: a1 },
    ]);
    expect(empty).toMatchObject({ ok: false, code: 'badarg' });
    expect(huge).toMatchObject({ ok: false, code: 'badarg' });
    expect(registry.size).toBe(0);
  });
});

describe('names — names die with processes, nodes and incarnations', () => {
  it('release_pid drops every name of that pid and nothing else', () => {
    const registry = new NameRegistry();
    applyAll(registry, [
      { op: 'register', name: 'x', pid: a1 },
      { op: 'register', name: 'y', pid: a1 },
      { op: 'register', name: 'z', pid: a2 },
    ]);
    const [result] = applyAll(registry, [{ op: 'release_pid', pid: a1 }]);
    expect(result).toEqual({ ok: true, revision: 4, released: ['x', 'y'] });
    expect(registry.registered().map(([name]) => name)).toEqual(['z']);
  });

  it('node_down drops every name held on that node', () => {
    const registry = new NameRegistry();
    applyAll(registry, [
      { op: 'register', name: 'x', pid: a1 },
      { op: 'register', name: 'y', pid: b1 },
      { op: 'register', name: 'z', pid: a2 },
    ]);
    expect(registry.nodesWithNames()).toEqual(['a@127.0.0.1', 'b@127.0.0.1']);
    const [result] = applyAll(registry, [{ op: 'node_down', node: 'a@127.0.0.1' }]);
    expect(result).toMatchObject({ ok: true, released: ['x', 'z'] });
    expect(registry.nodesWithNames()).toEqual(['b@127.0.0.1']);
    expect(registry.registered().map(([name]) => name)).toEqual(['y']);
  });

  it('a newer incarnation drops names of the older one and refuses older pids', () => {
    const registry = new NameRegistry();
    const restarted = new Pid('a@127.0.0.1', 1, 2);
    const [, , stale] = applyAll(registry, [
      { op: 'register', name: 'old', pid: a1 },
      { op: 'register', name: 'new', pid: restarted },
      { op: 'register', name: 'again', pid: a2 },
    ]);
    expect(registry.whereis('old')).toBeUndefined();
    expect(registry.whereis('new')?.pid.equals(restarted)).toBe(true);
    expect(stale).toMatchObject({ ok: false, code: 'noproc' });
  });
});

/**
 * A plain model of the registry's name rules (names, holders, incarnations), without indexes:
 * what every per-pid and per-node index of `NameRegistry` must agree with.
 */
class NamesModel {
  readonly names = new Map<string, Pid>();
  readonly creations = new Map<string, number>();

  apply(command: RegistryCommand): string[] | undefined {
    switch (command.op) {
      case 'register': {
        const newest = this.creations.get(command.pid.node);
        if (newest !== undefined && command.pid.creation < newest) return undefined;
        if (newest === undefined || command.pid.creation > newest) {
          this.creations.set(command.pid.node, command.pid.creation);
          this.#drop((pid) => pid.node === command.pid.node && pid.creation < command.pid.creation);
        }
        if (!this.names.has(command.name)) this.names.set(command.name, command.pid);
        return undefined;
      }
      case 'unregister':
        if (this.names.get(command.name)?.equals(command.pid)) this.names.delete(command.name);
        return undefined;
      case 'release_pid':
        return this.#drop((pid) => pid.equals(command.pid));
      case 'node_down': {
        const below = command.creationBelow;
        if (below === undefined) return this.#drop((pid) => pid.node === command.node);
        if ((this.creations.get(command.node) ?? 0) < below) this.creations.set(command.node, below);
        return this.#drop((pid) => pid.node === command.node && pid.creation < below);
      }
      default:
        return undefined;
    }
  }

  namesOf(pid: Pid): string[] {
    return [...this.names].filter(([, holder]) => holder.equals(pid)).map(([name]) => name).sort();
  }

  #drop(matches: (pid: Pid) => boolean): string[] {
    const dropped = [...this.names].filter(([, pid]) => matches(pid)).map(([name]) => name);
    for (const name of dropped) this.names.delete(name);
    return dropped.sort();
  }
}

describe('names — the per-pid and per-node indexes', () => {
  it('agree with a plain model after every command of long random runs (stale list entries, compactions)', () => {
    // Proves the append-only per-pid name lists (stale entries skipped, second copies of a name
    // registered again counted once, lists compacted) give exactly the names each pid holds, and
    // the per-node counts the nodes and creations holding names: after every command, for
    // registrations, removals, process exits, node downs and newer incarnations.
    const pids = [a1, a2, b1, new Pid('a@127.0.0.1', 1, 2), new Pid('a@127.0.0.1', 3, 3)];
    const names = Array.from({ length: 120 }, (_, index) => `n${index}`);
    const churn = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('register' as const), name: fc.constantFrom(...names), pid: fc.constantFrom(a1, a1, a1, ...pids) }) },
      { weight: 5, arbitrary: fc.record({ op: fc.constant('unregister' as const), name: fc.constantFrom(...names), pid: fc.constantFrom(a1, a1, a1, ...pids) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('release_pid' as const), pid: fc.constantFrom(...pids) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('node_down' as const), node: fc.constantFrom('a@127.0.0.1', 'b@127.0.0.1') }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('node_down' as const), node: fc.constant('a@127.0.0.1'), creationBelow: fc.constantFrom(2, 3) }) },
    );
    const copy = (pid: Pid) => decode(encode(pid)) as Pid;
    fc.assert(
      fc.property(fc.array(churn, { minLength: 200, maxLength: 1_500 }), (commands) => {
        const registry = new NameRegistry();
        const model = new NamesModel();
        commands.forEach((command, offset) => {
          // Each command carries its own pid object, as one decoded from the log does.
          const decoded = 'pid' in command ? { ...command, pid: copy(command.pid) } : command;
          const result = registry.apply(offset + 1, decoded);
          const released = model.apply(command);
          if (released !== undefined) expect(result).toMatchObject({ ok: true, released });
          for (const pid of pids) expect(registry.namesOf(pid).sort()).toEqual(model.namesOf(pid));
          const holders = [...model.names.values()];
          expect(registry.nodesWithNames()).toEqual([...new Set(holders.map((pid) => pid.node))].sort());
          for (const node of ['a@127.0.0.1', 'b@127.0.0.1']) {
            const creations = holders.filter((pid) => pid.node === node).map((pid) => pid.creation);
            expect(registry.oldestCreationHolding(node)).toBe(creations.length === 0 ? undefined : Math.min(...creations));
          }
        });
        expect(registry.registered().map(([name, entry]) => [name, entry.pid.key])).toEqual(
          [...model.names].map(([name, pid]) => [name, pid.key]).sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
        );
      }),
      { numRuns: 40, seed: 5 },
    );
  });

  it('a holder that unregisters most of many names releases exactly the rest when it exits', () => {
    // Proves a name list compacted after most of its names went (and grown again, with a name
    // registered a second time) still holds every live name once, and the entries share one pid.
    const registry = new NameRegistry();
    const many = Array.from({ length: 300 }, (_, index) => `m${String(index).padStart(3, '0')}`);
    let index = 0;
    for (const name of many) registry.apply(++index, { op: 'register', name, pid: decode(encode(a1)) as Pid });
    for (const name of many.slice(10)) registry.apply(++index, { op: 'unregister', name, pid: a1 });
    registry.apply(++index, { op: 'register', name: 'm299', pid: a1 });
    registry.apply(++index, { op: 'unregister', name: 'm000', pid: a1 });
    registry.apply(++index, { op: 'register', name: 'm000', pid: a1 });
    expect(registry.whereis('m001')?.pid).toBe(registry.whereis('m299')?.pid);
    const live = [...many.slice(0, 10), 'm299'].sort();
    expect(registry.namesOf(a1).sort()).toEqual(live);
    expect(registry.apply(++index, { op: 'release_pid', pid: a1 })).toEqual({ ok: true, revision: index, released: live });
    expect(registry.size).toBe(0);
    expect(registry.nodesWithNames()).toEqual([]);
  });
});

describe('names — a newer incarnation announced by node_down with creationBelow', () => {
  it('drops the older creations\' names, keeps newer ones and the node\'s claims, refuses older pids after', () => {
    const registry = new NameRegistry();
    const a3 = new Pid('a@127.0.0.1', 1, 3);
    applyAll(registry, [
      { op: 'register', name: 'old', pid: a1 },
      { op: 'claim', key: 'k', node: 'a@127.0.0.1' },
    ]);
    expect(registry.oldestCreationHolding('a@127.0.0.1')).toBe(1);
    const [result, refused, accepted] = applyAll(registry, [
      { op: 'node_down', node: 'a@127.0.0.1', creationBelow: 2 },
      { op: 'register', name: 'late', pid: new Pid('a@127.0.0.1', 5, 1) },
      { op: 'register', name: 'newer', pid: a3 },
    ]);
    expect(result).toEqual({ ok: true, revision: 3, released: ['old'] });
    expect(refused).toMatchObject({ ok: false, code: 'noproc' });
    expect(accepted).toEqual({ ok: true, revision: 5 });
    expect(registry.claim('k')?.node).toBe('a@127.0.0.1');
    expect(registry.newestCreation('a@127.0.0.1')).toBe(3);
    expect(registry.oldestCreationHolding('a@127.0.0.1')).toBe(3);
  });
});

describe('names — claims (singleton fencing tokens)', () => {
  it('knows when no claim ever existed: not after a claim, a release, or a restored snapshot', () => {
    const registry = new NameRegistry();
    applyAll(registry, [{ op: 'register', name: 'x', pid: a1 }, { op: 'noop' }]);
    expect(registry.claimHistoryEmpty).toBe(true);
    applyAll(registry, [{ op: 'claim', key: 'k', node: 'a@h' }]);
    expect(registry.claimHistoryEmpty).toBe(false);
    const restored = new NameRegistry();
    restored.restore(new NameRegistry().snapshot());
    expect(restored.claimHistoryEmpty).toBe(false);
  });

  it('a claim is exclusive per key until released, handed over or its node is down', () => {
    const registry = new NameRegistry();
    const [first, refused, handover] = applyAll(registry, [
      { op: 'claim', key: 'k', node: 'a@h' },
      { op: 'claim', key: 'k', node: 'b@h' },
      { op: 'claim', key: 'k', node: 'b@h', previousRevision: 1 },
    ]);
    expect(first).toEqual({ ok: true, revision: 1 });
    expect(refused).toMatchObject({ ok: false, code: 'claim_held' });
    expect(handover).toEqual({ ok: true, revision: 3 });
    expect(registry.claim('k')).toEqual({ key: 'k', node: 'b@h', revision: 3 });
    applyAll(registry, [{ op: 'node_down', node: 'b@h' }]);
    expect(registry.claim('k')).toBeUndefined();
  });
});

describe('names — watch events', () => {
  it('emits put and delete with revisions and resumes from a revision', () => {
    const registry = new NameRegistry();
    const seen: string[] = [];
    const stop = registry.onChange((event) => seen.push(`${event.type}:${event.name}@${event.revision}`));
    applyAll(registry, [
      { op: 'register', name: 'x', pid: a1 },
      { op: 'register', name: 'y', pid: a1 },
      { op: 'unregister', name: 'x', pid: a1 },
    ]);
    stop();
    applyAll(registry, [{ op: 'register', name: 'z', pid: a1 }]);
    expect(seen).toEqual(['put:x@1', 'put:y@2', 'delete:x@3']);
    expect(registry.eventsSince(1)?.map((event) => event.name)).toEqual(['y', 'x', 'z']);
  });

  it('says compacted (undefined) when the events to resume from were dropped', () => {
    const registry = new NameRegistry();
    const commands: RegistryCommand[] = [];
    const total = WATCH_EVENTS_MAX * 2;
    for (let i = 0; i < total; i++) commands.push({ op: 'register', name: `n${i}`, pid: a1 });
    applyAll(registry, commands);
    expect(registry.eventsSince(0)).toBeUndefined();
    expect(registry.eventsSince(total - 5)?.length).toBe(5);
    // At least the last WATCH_EVENTS_MAX are always kept.
    expect(registry.eventsSince(total - WATCH_EVENTS_MAX)?.length).toBe(WATCH_EVENTS_MAX);
    expect(registry.oldestResumableRevision).toBeLessThanOrEqual(total - WATCH_EVENTS_MAX);
  });
});

describe('names — restoring a snapshot tells listeners what changed', () => {
  it('emits a delete for each name that went, a put for each that came, at the snapshot revision', () => {
    // A replica that saw only the first two entries restores the snapshot taken after four.
    const source = new NameRegistry();
    applyAll(source, [
      { op: 'register', name: 'x', pid: a1 },
      { op: 'register', name: 'y', pid: b1 },
      { op: 'unregister', name: 'x', pid: a1 },
      { op: 'register', name: 'z', pid: a2 },
    ]);
    const lagging = new NameRegistry();
    applyAll(lagging, [
      { op: 'register', name: 'x', pid: a1 },
      { op: 'register', name: 'y', pid: b1 },
    ]);
    const seen: string[] = [];
    lagging.onChange((event) => seen.push(`${event.type}:${event.name}@${event.revision}${event.type === 'delete' ? `:${event.reason}` : ''}`));
    lagging.restore(source.snapshot());
    expect(seen).toEqual(['delete:x@4:snapshot', 'put:z@4']);
    expect(lagging.whereis('z')?.revision).toBe(4);
    // Resuming before the snapshot is compacted; from it, nothing is missed.
    expect(lagging.eventsSince(3)).toBeUndefined();
    expect(lagging.eventsSince(4)).toEqual([]);
    expect(lagging.oldestResumableRevision).toBe(4);
  });

  it('a listener that mirrors the events always agrees with the replica, restores included', () => {
    fc.assert(
      fc.property(fc.array(commandArbitrary(), { maxLength: 40 }), fc.nat(40), fc.nat(40), (commands, seenByReplica, snapshotAt) => {
        const replica = new NameRegistry();
        const mirror = new Map<string, string>();
        replica.onChange((event) => {
          if (event.type === 'put') mirror.set(event.name, event.entry.pid.key);
          else mirror.delete(event.name);
        });
        const known = Math.min(seenByReplica, commands.length);
        applyAll(replica, commands.slice(0, known));
        const source = new NameRegistry();
        const cut = Math.min(commands.length, Math.max(known + 1, snapshotAt));
        applyAll(source, commands.slice(0, cut));
        if (cut > known) replica.restore(source.snapshot());
        applyAll(replica, commands.slice(cut), cut + 1);
        const actual = new Map(replica.registered().map(([name, entry]) => [name, entry.pid.key]));
        expect(mirror).toEqual(actual);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe('names — determinism and snapshots', () => {
  it('two replicas applying the same log agree; a snapshot through the codec equals replay', () => {
    fc.assert(
      fc.property(fc.array(commandArbitrary(), { maxLength: 60 }), fc.nat(60), (commands, cut) => {
        const left = new NameRegistry();
        const right = new NameRegistry();
        const leftResults = applyAll(left, commands);
        const rightResults = applyAll(right, commands);
        expect(encode(rightResults)).toEqual(encode(leftResults));
        // Snapshot after a prefix, restore elsewhere (through the wire codec), apply the rest.
        const split = Math.min(cut, commands.length);
        const prefix = new NameRegistry();
        applyAll(prefix, commands.slice(0, split));
        const restored = new NameRegistry();
        restored.restore(decode(encode(prefix.snapshot())) as ReturnType<NameRegistry['snapshot']>);
        applyAll(restored, commands.slice(split), split + 1);
        expect(encode(restored.snapshot())).toEqual(encode(left.snapshot()));
      }),
      { numRuns: 300, seed: 42 },
    );
  });

  it('a version 1 snapshot (older data directories, a pid object per name) restores to the same state', () => {
    // Proves the columnar version 2 format is a pure re-encoding: the same registry written in
    // version 1's layout and restored through the codec gives the same state, names, holders
    // (names of one pid still die together) and later results as the original.
    const source = new NameRegistry();
    applyAll(source, [
      { op: 'register', name: 'x', pid: a1, meta: { role: 'db' } },
      { op: 'register', name: 'y', pid: a1 },
      { op: 'register', name: 'z', pid: b1 },
      { op: 'claim', key: 'k1', node: 'a@h' },
    ]);
    const current = source.snapshot();
    expect(current.version).toBe(2);
    const v1 = {
      version: 1 as const,
      appliedIndex: source.appliedIndex,
      names: source.registered().map(([name, entry]) => [name, entry] as const),
      claims: source.claims(),
      creations: [['a@127.0.0.1', 1], ['b@127.0.0.1', 1]] as const,
    };
    const restored = new NameRegistry();
    restored.restore(decode(encode(v1)) as ReturnType<NameRegistry['snapshot']>);
    expect(encode(restored.snapshot())).toEqual(encode(current));
    expect(restored.namesOf(a1).sort()).toEqual(['x', 'y']);
    expect(restored.apply(5, { op: 'release_pid', pid: a1 })).toEqual({ ok: true, revision: 5, released: ['x', 'y'] });
    expect(restored.whereis('z')?.pid.equals(b1)).toBe(true);
  });

  it('a version 2 snapshot stores each holder pid once', () => {
    // Proves the point of the format: a thousand names of one process carry one pid.
    const registry = new NameRegistry();
    applyAll(registry, Array.from({ length: 1_000 }, (_, index) => ({ op: 'register' as const, name: `n${index}`, pid: a1 })));
    const snapshot = registry.snapshot();
    expect(snapshot.version === 2 && snapshot.pids).toEqual([[a1.node, a1.id, a1.creation]]);
  });
});

describe('names — one pid holding very many names', () => {
  // 200,000 names of one pid released by one entry: the released list was built with
  // push(...list), which throws "Maximum call stack size exceeded" past about 100,000 items, and
  // an apply that throws stops every member at that entry (seen in the registry bench: one
  // load pid held every name, its node was killed and came back).
  const NAMES = 200_000;

  function registryWithManyNames(): NameRegistry {
    const registry = new NameRegistry();
    let index = 0;
    for (let name = 0; name < NAMES; name++) registry.apply(++index, { op: 'register', name: `n/${name}`, pid: a1 });
    registry.apply(++index, { op: 'register', name: 'other', pid: b1 });
    return registry;
  }

  it('a newer incarnation of its node releases them all in one entry', () => {
    const registry = registryWithManyNames();
    const result = registry.apply(NAMES + 2, { op: 'node_down', node: 'a@127.0.0.1', creationBelow: 2 });
    expect(result).toMatchObject({ ok: true });
    expect((result as unknown as { released: string[] }).released).toHaveLength(NAMES);
    expect(registry.registered().map(([name]) => name)).toEqual(['other']);
  });

  it('its node declared down releases them all in one entry', () => {
    const registry = registryWithManyNames();
    const result = registry.apply(NAMES + 2, { op: 'node_down', node: 'a@127.0.0.1' });
    expect((result as unknown as { released: string[] }).released).toHaveLength(NAMES);
    expect(registry.whereis('n/0')).toBeUndefined();
    expect(registry.whereis('other')?.pid.equals(b1)).toBe(true);
  });
});
