// Test helpers for jepsen-lite: a builder for hand-made histories (one event per call, times
// increasing by one, completions reusing the open invoke's function and name) and a generator
// of histories that are linearizable by construction (random concurrent clients against the
// sequential registry model, with real-time interleavings, fails, infos and pending calls).
import type { HistoryEvent, OperationFunction } from '../../jepsen-lite/history.js';
import type { RegistryEvent } from '../../jepsen-lite/registry-events.js';
import { Rng } from '../../runtime/index.js';

export class HistoryBuilder {
  readonly events: HistoryEvent[] = [];
  readonly #open = new Map<number, { f: OperationFunction; name: string }>();
  #time = 0;

  /** The 1-based line of the next event. */
  get nextLine(): number {
    return this.events.length + 1;
  }

  invoke(process: number, f: OperationFunction, name: string, owner: string | null = null): this {
    this.#open.set(process, { f, name });
    return this.#push({ process, type: 'invoke', f, name, value: owner });
  }

  ok(process: number, value: unknown): this {
    return this.#complete(process, 'ok', value);
  }

  fail(process: number, value: unknown = 'not_leader'): this {
    return this.#complete(process, 'fail', value);
  }

  info(process: number, value: unknown = 'timeout'): this {
    return this.#complete(process, 'info', value);
  }

  /** An operation invoked and completed with ok before anything else happens. */
  call(process: number, f: OperationFunction, name: string, owner: string | null, result: unknown): this {
    return this.invoke(process, f, name, owner).ok(process, result);
  }

  #complete(process: number, type: 'ok' | 'fail' | 'info', value: unknown): this {
    const open = this.#open.get(process);
    if (open === undefined) throw new Error(`process ${process} has nothing open`);
    this.#open.delete(process);
    return this.#push({ process, type, f: open.f, name: open.name, value });
  }

  #push(event: Omit<HistoryEvent, 'time'>): this {
    this.#time += 1_000;
    this.events.push({ ...event, time: this.#time });
    return this;
  }
}

export const OWNERS = ['<a@127.0.0.1#1.1>', '<b@127.0.0.1#2.1>', '<c@127.0.0.1#3.1>'] as const;
/** An owner that never registers anything: results naming it are impossible. */
export const GHOST = '<ghost@127.0.0.1#9.9>';

export interface GeneratedHistory {
  readonly events: HistoryEvent[];
  /** The name → holder after every operation that took effect (the final consistent reads). */
  readonly finalHolders: Map<string, string | null>;
  /** What a watch on the registry reported: every change, by revision, seen some time after it happened. */
  readonly registry: RegistryEvent[];
}

interface Client {
  process: number;
  open?: { f: OperationFunction; name: string; owner: string | null; result?: unknown; applied: boolean };
}

export interface GeneratorOptions {
  readonly seed: number;
  readonly clients: number;
  readonly operations: number;
  readonly names: readonly string[];
  /** Probability that a completion is info (after or without taking effect). */
  readonly infoRate?: number;
  /** Probability, per step, that the registry removes a held name by itself (its node declared down). */
  readonly removalRate?: number;
}

/** Applies one operation to the sequential model and returns its result. */
function applyModel(holders: Map<string, string | null>, f: OperationFunction, name: string, owner: string | null): unknown {
  const holder = holders.get(name) ?? null;
  if (f === 'register') {
    if (holder === null || holder === owner) {
      holders.set(name, owner);
      return 'ok';
    }
    return { taken: holder };
  }
  if (f === 'unregister') {
    if (holder === owner) {
      holders.set(name, null);
      return 'ok';
    }
    return { not_owner: holder };
  }
  return holder;
}

/**
 * Random concurrent clients against the model. Each step picks a client and advances it:
 * idle → invoke; invoked → take effect now (the linearization point), fail, or info without
 * effect; applied → ok with the model's result, or info. Some calls stay open at the end.
 * With `removalRate`, the registry also removes held names by itself between steps; every
 * change that took effect gets the next revision and is "seen" by a watch a random while later
 * (in revision order), as registry-events.jsonl reports it.
 */
export function generateLinearizableHistory(options: GeneratorOptions): GeneratedHistory {
  const rng = new Rng(options.seed);
  const infoRate = options.infoRate ?? 0.05;
  const removalRate = options.removalRate ?? 0;
  const holders = new Map<string, string | null>();
  const events: HistoryEvent[] = [];
  const registry: RegistryEvent[] = [];
  let revision = 0;
  let seen = 0;
  const change = (name: string, before: string | null, after: string | null, reason: 'unregister' | 'node_down'): void => {
    if (before === after) return;
    revision++;
    seen = Math.max(seen, time + rng.int(5_000));
    registry.push(after === null ? { type: 'delete', name, pid: before as string, reason, revision, time: seen } : { type: 'put', name, pid: after, revision, time: seen });
  };
  let time = 0;
  let nextProcess = options.clients;
  let invoked = 0;
  const clients: Client[] = Array.from({ length: options.clients }, (_, process) => ({ process }));
  const push = (event: Omit<HistoryEvent, 'time'>): void => {
    time += 1 + rng.int(1_000);
    events.push({ ...event, time });
  };
  const stepsMax = options.operations * 8;
  for (let step = 0; step < stepsMax; step++) {
    if (removalRate > 0 && rng.chance(removalRate)) {
      const held = [...holders].filter(([, holder]) => holder !== null);
      if (held.length > 0) {
        const [name, holder] = rng.pick(held);
        time += 1 + rng.int(1_000);
        holders.set(name, null);
        change(name, holder, null, 'node_down');
      }
    }
    const client = rng.pick(clients);
    const open = client.open;
    if (open === undefined) {
      if (invoked >= options.operations) continue;
      invoked++;
      const f = rng.pick<OperationFunction>(['register', 'register', 'unregister', 'whereis', 'whereis_local']);
      const name = rng.pick(options.names);
      const owner = f === 'register' || f === 'unregister' ? rng.pick(OWNERS) : null;
      client.open = { f, name, owner, applied: false };
      push({ process: client.process, type: 'invoke', f, name, value: owner });
      continue;
    }
    const complete = (type: 'ok' | 'fail' | 'info', value: unknown): void => {
      push({ process: client.process, type, f: open.f, name: open.name, value });
      client.open = undefined;
      if (type === 'info') client.process = nextProcess++;
    };
    if (!open.applied) {
      const roll = rng.next();
      if (roll < 0.05) complete('fail', 'not_leader');
      else if (roll < 0.05 + infoRate / 2) complete('info', 'timeout');
      else {
        open.applied = true;
        const before = holders.get(open.name) ?? null;
        open.result = open.f === 'whereis_local' ? rng.pick([null, ...OWNERS]) : applyModel(holders, open.f, open.name, open.owner);
        change(open.name, before, holders.get(open.name) ?? null, 'unregister');
      }
      continue;
    }
    if (rng.chance(infoRate / 2)) complete('info', 'timeout');
    else complete('ok', open.result);
  }
  return { events, finalHolders: holders, registry };
}

/** The lines (1-based) of ok completions of checked functions: candidates for a flipped result. */
export function checkedOkLines(events: readonly HistoryEvent[]): number[] {
  const lines: number[] = [];
  events.forEach((event, index) => {
    if (event.type === 'ok' && event.f !== 'whereis_local') lines.push(index + 1);
  });
  return lines;
}

/** A result no linearization can give: it names an owner that never registered. */
export function impossibleResult(f: OperationFunction): unknown {
  if (f === 'register') return { taken: GHOST };
  if (f === 'unregister') return { not_owner: GHOST };
  return GHOST;
}
