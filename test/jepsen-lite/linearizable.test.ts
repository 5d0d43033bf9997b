// The linearizability checker on hand-made histories that must pass and must fail (concurrent
// registers, stale reads, info writes that did or did not happen, fails, pending calls), on its
// failure report (the failing operation and a self-contained window), on its budget (running out
// is 'unknown', never a pass), and with fast-check: histories produced by random concurrent
// clients against the sequential model always pass; flipping one ok result to an impossible
// value always fails, at exactly that operation; and on small arbitrary histories (random
// results) the verdict equals a brute-force oracle that tries every order and every subset of
// maybe-happened operations — which checks the search's pruning rules — and every reported
// failure window is itself impossible by brute force from every state it claims.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LinearizabilityFailure, checkLinearizable, formatLinearizabilityFailure } from '../../jepsen-lite/checker/index.js';
import { type HistoryEvent, type Operation, type OperationFunction, pairOperations } from '../../jepsen-lite/history.js';
import { Rng, isFedError } from '../../runtime/index.js';
import {
  GHOST,
  HistoryBuilder,
  checkedOkLines,
  generateLinearizableHistory,
  impossibleResult,
} from './history-builder.js';

const A = '<a@127.0.0.1#1.1>';
const B = '<b@127.0.0.1#2.1>';

describe('linearizable — registers', () => {
  it('linearizable — concurrent registers where only one wins pass', () => {
    const history = new HistoryBuilder()
      .invoke(0, 'register', 'n', A)
      .invoke(1, 'register', 'n', B)
      .ok(1, { taken: A })
      .ok(0, 'ok')
      .call(2, 'whereis', 'n', null, A);
    expect(checkLinearizable(history.events).verdict).toBe('pass');
  });

  it('linearizable — concurrent registers that both win fail', () => {
    const history = new HistoryBuilder()
      .invoke(0, 'register', 'n', A)
      .invoke(1, 'register', 'n', B)
      .ok(1, 'ok')
      .ok(0, 'ok');
    const report = checkLinearizable(history.events);
    expect(report.verdict).toBe('fail');
    expect(report.failures[0]?.name).toBe('n');
  });

  it('linearizable — registration is idempotent and unregister reports the holder', () => {
    const history = new HistoryBuilder()
      .call(0, 'unregister', 'n', A, { not_owner: null })
      .call(0, 'register', 'n', A, 'ok')
      .call(1, 'register', 'n', A, 'ok')
      .call(1, 'register', 'n', B, { taken: A })
      .call(2, 'unregister', 'n', B, { not_owner: A })
      .call(2, 'unregister', 'n', A, 'ok')
      .call(0, 'whereis', 'n', null, null)
      .call(0, 'register', 'n', B, 'ok');
    expect(checkLinearizable(history.events).verdict).toBe('pass');
  });

  it('linearizable — a register reporting itself as the holder fails', () => {
    const history = new HistoryBuilder().call(0, 'register', 'n', A, 'ok').call(0, 'register', 'n', A, { taken: A });
    expect(checkLinearizable(history.events).verdict).toBe('fail');
  });
});

describe('linearizable — reads', () => {
  it('linearizable — a stale read after a completed register fails, with a two-operation window', () => {
    const history = new HistoryBuilder()
      .call(0, 'whereis', 'n', null, null)
      .call(1, 'whereis', 'n', null, null)
      .call(0, 'register', 'n', A, 'ok')
      .call(2, 'whereis', 'n', null, null);
    const report = checkLinearizable(history.events);
    expect(report.verdict).toBe('fail');
    const failure = report.failures[0];
    expect(failure?.failing.invokeLine).toBe(7);
    expect(failure?.windowFrom).toBe('any-state');
    expect(failure?.window.map((operation) => operation.invokeLine)).toEqual([5, 7]);
    expect(formatLinearizabilityFailure(failure!)).toContain('whereis "n" → null');
  });

  it('linearizable — the window is the latest self-contained one: a read that undoes an earlier read', () => {
    const history = new HistoryBuilder()
      .call(0, 'register', 'n', A, 'ok')
      .call(1, 'whereis', 'n', null, A)
      .call(1, 'whereis', 'n', null, A)
      .call(2, 'whereis', 'n', null, null);
    const failure = checkLinearizable(history.events).failures[0];
    expect(failure?.windowFrom).toBe('any-state');
    expect(failure?.window.map((operation) => operation.invokeLine)).toEqual([5, 7]);
  });

  it('linearizable — a window that needs the start says so', () => {
    const history = new HistoryBuilder().call(0, 'whereis', 'n', null, A);
    const failure = checkLinearizable(history.events).failures[0];
    expect(failure?.windowFrom).toBe('start');
    expect(failure?.window.map((operation) => operation.invokeLine)).toEqual([1]);
  });

  it('linearizable — a read concurrent with a register may see before or after it', () => {
    const history = new HistoryBuilder()
      .invoke(0, 'register', 'n', A)
      .invoke(1, 'whereis', 'n')
      .invoke(2, 'whereis', 'n')
      .ok(1, A)
      .ok(2, null)
      .ok(0, 'ok');
    expect(checkLinearizable(history.events).verdict).toBe('pass');
  });

  it('linearizable — two sequential reads that see a register and then undo it without an unregister fail', () => {
    const history = new HistoryBuilder()
      .invoke(0, 'register', 'n', A)
      .call(1, 'whereis', 'n', null, A)
      .call(1, 'whereis', 'n', null, null)
      .ok(0, 'ok');
    expect(checkLinearizable(history.events).verdict).toBe('fail');
  });

  it('linearizable — stale local reads are not held to linearizability', () => {
    const history = new HistoryBuilder()
      .call(0, 'register', 'n', A, 'ok')
      .call(1, 'whereis_local', 'n', null, null)
      .call(1, 'whereis_local', 'n', null, B);
    const report = checkLinearizable(history.events);
    expect(report.verdict).toBe('pass');
    expect(report.operationsChecked).toBe(1);
  });
});

describe('linearizable — info, fail and pending', () => {
  it('linearizable — an info register that later shows as held passes', () => {
    const history = new HistoryBuilder()
      .invoke(0, 'register', 'n', A)
      .info(0)
      .call(1, 'whereis', 'n', null, null)
      .call(1, 'whereis', 'n', null, A)
      .call(2, 'register', 'n', B, { taken: A });
    expect(checkLinearizable(history.events).verdict).toBe('pass');
  });

  it('linearizable — an info register that never shows passes', () => {
    const history = new HistoryBuilder()
      .invoke(0, 'register', 'n', A)
      .info(0)
      .call(1, 'whereis', 'n', null, null)
      .call(1, 'register', 'n', B, 'ok')
      .call(1, 'whereis', 'n', null, B);
    expect(checkLinearizable(history.events).verdict).toBe('pass');
  });

  it('linearizable — an info register cannot take effect before its invoke', () => {
    const history = new HistoryBuilder()
      .call(1, 'whereis', 'n', null, A)
      .invoke(0, 'register', 'n', A)
      .info(0);
    expect(checkLinearizable(history.events).verdict).toBe('fail');
  });

  it('linearizable — an info register seen held then free, with no unregister, fails', () => {
    const history = new HistoryBuilder()
      .invoke(0, 'register', 'n', A)
      .info(0)
      .call(1, 'whereis', 'n', null, A)
      .call(1, 'whereis', 'n', null, null);
    expect(checkLinearizable(history.events).verdict).toBe('fail');
  });

  it('linearizable — a failed register had no effect: seeing it fails, not seeing it passes', () => {
    const unseen = new HistoryBuilder().invoke(0, 'register', 'n', A).fail(0).call(1, 'whereis', 'n', null, null);
    expect(checkLinearizable(unseen.events).verdict).toBe('pass');
    const seen = new HistoryBuilder().invoke(0, 'register', 'n', A).fail(0).call(1, 'whereis', 'n', null, A);
    expect(checkLinearizable(seen.events).verdict).toBe('fail');
  });

  it('linearizable — a call still open at the end may or may not have happened', () => {
    const history = new HistoryBuilder()
      .invoke(0, 'register', 'n', A)
      .call(1, 'whereis', 'n', null, A)
      .call(2, 'whereis', 'n', null, A);
    expect(checkLinearizable(history.events).verdict).toBe('pass');
  });
});

describe('linearizable — names, budget and bad histories', () => {
  it('linearizable — names are checked independently and the failing one is named', () => {
    const history = new HistoryBuilder()
      .call(0, 'register', 'x', A, 'ok')
      .call(0, 'whereis', 'y', null, null)
      .call(1, 'register', 'y', B, 'ok')
      .call(1, 'whereis', 'x', null, A)
      .call(2, 'whereis', 'y', null, GHOST);
    const report = checkLinearizable(history.events);
    expect(report.namesChecked).toBe(2);
    expect(report.failures.map((failure) => failure.name)).toEqual(['y']);
  });

  it('linearizable — running out of budget is unknown, never a pass', () => {
    const { events } = generateLinearizableHistory({ seed: 5, clients: 8, operations: 200, names: ['n'] });
    const report = checkLinearizable(events, { stepsMaxPerName: 3 });
    expect(report.verdict).toBe('unknown');
    expect(report.unknownNames).toEqual(['n']);
  });

  it('linearizable — a history breaking the process discipline is refused with the line', () => {
    const reused = new HistoryBuilder().invoke(0, 'register', 'n', A).info(0).invoke(0, 'whereis', 'n');
    let error: unknown;
    try {
      checkLinearizable(reused.events);
    } catch (caught) {
      error = caught;
    }
    expect(isFedError(error, 'badarg')).toBe(true);
    expect((error as Error).message).toContain('line 3');
  });
});

describe('linearizable — generated histories', () => {
  const shape = fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    clients: fc.integer({ min: 1, max: 10 }),
    operations: fc.integer({ min: 1, max: 120 }),
    nameCount: fc.integer({ min: 1, max: 3 }),
  });
  const names = (count: number): string[] => Array.from({ length: count }, (_, index) => `name-${index}`);

  it('linearizable — histories of random concurrent clients against the model always pass', () => {
    fc.assert(
      fc.property(shape, ({ seed, clients, operations, nameCount }) => {
        const { events } = generateLinearizableHistory({ seed, clients, operations, names: names(nameCount) });
        expect(checkLinearizable(events).verdict).toBe('pass');
      }),
      { numRuns: 150, seed: 42 },
    );
  });

  it('linearizable — one ok result flipped to an impossible value fails at that operation', () => {
    fc.assert(
      fc.property(shape, fc.nat(), ({ seed, clients, operations, nameCount }, pick) => {
        const { events } = generateLinearizableHistory({ seed, clients, operations, names: names(nameCount) });
        const candidates = checkedOkLines(events);
        fc.pre(candidates.length > 0);
        const line = candidates[pick % candidates.length] as number;
        const original = events[line - 1]!;
        const flipped = events.map((event, index) => (index === line - 1 ? { ...event, value: impossibleResult(event.f) } : event));
        const report = checkLinearizable(flipped);
        expect(report.verdict).toBe('fail');
        expect(report.failures).toHaveLength(1);
        const failure = report.failures[0]!;
        expect(failure.name).toBe(original.name);
        expect(failure.failing.completeLine).toBe(line);
        expect(failure.window).toContain(failure.failing);
      }),
      { numRuns: 150, seed: 43 },
    );
  });

  it('linearizable — a few hundred operations from ten clients on one name check without running out', () => {
    for (const seed of [1, 2, 3]) {
      const { events } = generateLinearizableHistory({ seed, clients: 10, operations: 400, names: ['hot'], infoRate: 0.04 });
      const report = checkLinearizable(events);
      expect(report.verdict).toBe('pass');
      expect(report.operationsChecked).toBeGreaterThan(200);
    }
  });
});

// A brute-force oracle: every subset of maybe-happened writes, every order that respects real
// time (an operation that completed before another was invoked comes first).
function bruteForceLinearizable(events: readonly HistoryEvent[], unregisterFree: UnregisterFree = 'not_owner'): boolean {
  const operations = pairOperations(events).filter(
    (operation) => operation.type !== 'fail' && operation.f !== 'whereis_local' && !(operation.f === 'whereis' && operation.type !== 'ok'),
  );
  const optional = operations.filter((operation) => operation.type !== 'ok');
  const required = operations.filter((operation) => operation.type === 'ok');
  for (let mask = 0; mask < 1 << optional.length; mask++) {
    const chosen = [...required, ...optional.filter((_, index) => (mask & (1 << index)) !== 0)];
    if (someOrderWorks(chosen, null, unregisterFree)) return true;
  }
  return false;
}

type UnregisterFree = 'not_owner' | 'ok';

function someOrderWorks(remaining: readonly Operation[], holder: string | null, unregisterFree: UnregisterFree = 'not_owner'): boolean {
  if (remaining.length === 0) return true;
  for (const operation of remaining) {
    // Only ok operations have a real completion; info and pending ones complete at infinity.
    const blocked = remaining.some(
      (other) => other !== operation && other.type === 'ok' && (other.completeLine as number) < operation.invokeLine,
    );
    if (blocked) continue;
    const step = modelStep(operation.f, operation.input, holder, unregisterFree);
    if (operation.type === 'ok' && JSON.stringify(step.result) !== JSON.stringify(operation.output)) continue;
    if (someOrderWorks(remaining.filter((other) => other !== operation), step.holder, unregisterFree)) return true;
  }
  return false;
}

/**
 * Whether a reported window has a linearization from `holder`: its operations as the window
 * documents them (spanning the start or the end → result unknown, from the start line on),
 * every subset of the unknown ones, every real-time order.
 */
function windowLinearizable(failure: LinearizabilityFailure, holder: string | null, unregisterFree: UnregisterFree = 'not_owner'): boolean {
  const seen = failure.window.map((operation): Operation => {
    const inside = operation.invokeLine >= failure.windowStartLine && operation.type === 'ok' && (operation.completeLine as number) <= failure.windowEndLine;
    if (inside) return operation;
    return { ...operation, type: 'info', invokeLine: Math.max(operation.invokeLine, failure.windowStartLine) };
  });
  const optional = seen.filter((operation) => operation.type !== 'ok');
  const required = seen.filter((operation) => operation.type === 'ok');
  for (let mask = 0; mask < 1 << optional.length; mask++) {
    const chosen = [...required, ...optional.filter((_, index) => (mask & (1 << index)) !== 0)];
    if (someOrderWorks(chosen, holder, unregisterFree)) return true;
  }
  return false;
}

function modelStep(f: OperationFunction, owner: string | null, holder: string | null, unregisterFree: UnregisterFree): { result: unknown; holder: string | null } {
  if (f === 'register') return holder === null || holder === owner ? { result: 'ok', holder: owner } : { result: { taken: holder }, holder };
  if (f === 'unregister') {
    if (holder === owner || (holder === null && unregisterFree === 'ok')) return { result: 'ok', holder: null };
    return { result: { not_owner: holder }, holder };
  }
  return { result: holder, holder };
}

/** Small histories with arbitrary (mostly wrong) results over two owners. */
function arbitraryHistory(seed: number, operationCount: number): HistoryEvent[] {
  const rng = new Rng(seed);
  const builder = new HistoryBuilder();
  const owners = [A, B];
  const open = new Map<number, OperationFunction>();
  let nextProcess = 0;
  let invoked = 0;
  const idle: number[] = [0, 1, 2];
  nextProcess = 3;
  for (let step = 0; step < operationCount * 6 && (invoked < operationCount || open.size > 0); step++) {
    const busy = [...open.keys()];
    if ((rng.chance(0.5) || busy.length === 0) && invoked < operationCount && idle.length > 0) {
      const process = idle.splice(rng.int(idle.length), 1)[0] as number;
      const f = rng.pick<OperationFunction>(['register', 'register', 'unregister', 'whereis']);
      builder.invoke(process, f, 'n', f === 'whereis' ? null : rng.pick(owners));
      open.set(process, f);
      invoked++;
      continue;
    }
    if (busy.length === 0) continue;
    const process = rng.pick(busy);
    const f = open.get(process) as OperationFunction;
    open.delete(process);
    const roll = rng.next();
    if (roll < 0.1) {
      builder.info(process);
      idle.push(nextProcess++);
    } else if (roll < 0.15) {
      builder.fail(process);
      idle.push(process);
    } else if (roll < 0.2 && step > operationCount * 4) {
      open.set(process, f); // left pending at the end
      continue;
    } else {
      const holder = rng.pick([null, A, B]);
      const result = f === 'whereis' ? holder : rng.chance(0.5) ? 'ok' : f === 'register' ? { taken: holder ?? A } : { not_owner: holder };
      builder.ok(process, result);
      idle.push(process);
    }
  }
  return builder.events;
}

describe('linearizable — against a brute-force oracle', () => {
  it('linearizable — the verdict equals the brute-force answer on small arbitrary histories', () => {
    let passes = 0;
    let failures = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 7 }), (seed, operationCount) => {
        const events = arbitraryHistory(seed, operationCount);
        const expected = bruteForceLinearizable(events);
        const report = checkLinearizable(events);
        expect(report.verdict).toBe(expected ? 'pass' : 'fail');
        if (expected) passes++;
        else failures++;
        // A reported window must itself be a proof: no linearization from any state it claims.
        for (const failure of report.failures) {
          const starts = failure.windowFrom === 'start' ? [null] : [null, A, B, GHOST];
          for (const holder of starts) expect(windowLinearizable(failure, holder)).toBe(false);
          expect(failure.window).toContain(failure.failing);
        }
      }),
      { numRuns: 600, seed: 44 },
    );
    // The generator must exercise both outcomes for the comparison to mean anything.
    expect(passes).toBeGreaterThan(50);
    expect(failures).toBeGreaterThan(50);
  });

  it('linearizable — with unregisterFree "ok" (a federation\'s namespace) the verdict equals the brute-force answer under that model', () => {
    let passes = 0;
    let failures = 0;
    let differ = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 7 }), (seed, operationCount) => {
        const events = arbitraryHistory(seed, operationCount);
        const expected = bruteForceLinearizable(events, 'ok');
        const report = checkLinearizable(events, { unregisterFree: 'ok' });
        expect(report.verdict).toBe(expected ? 'pass' : 'fail');
        if (expected) passes++;
        else failures++;
        if (expected !== bruteForceLinearizable(events, 'not_owner')) differ++;
        for (const failure of report.failures) {
          const starts = failure.windowFrom === 'start' ? [null] : [null, A, B, GHOST];
          for (const holder of starts) expect(windowLinearizable(failure, holder, 'ok')).toBe(false);
        }
      }),
      { numRuns: 400, seed: 45 },
    );
    expect(passes).toBeGreaterThan(30);
    expect(failures).toBeGreaterThan(30);
    // The two models really differ on some of these histories (an ok unregister of a free name).
    expect(differ).toBeGreaterThan(10);
  });
});
