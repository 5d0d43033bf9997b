/**
 * Linearizability of the name registry, checked per name (linearizability is local, so the
 * per-name histories are independent — Herlihy & Wing's locality, Porcupine's partitions).
 *
 * Model of one name: free, or held by an owner.
 * - register(o): free or held by o → "ok" and held by o (idempotent); else {taken: holder}.
 * - unregister(o): held by o → "ok" and free; else {not_owner: holder | null} — or, where the
 *   registry documents that an unregister of a free name is fine (a federation's global
 *   namespace: `unregisterFree: 'ok'`), free → "ok" too.
 * - whereis: the holder or null. `whereis_local` is stale-allowed and not checked here.
 * - a removal by the registry itself (its holder's node declared down, …; see removals.ts):
 *   like an unregister by the holder that succeeded — the holder held the name, now it is free.
 * Completion types: ok results must be explained; `fail` operations had no effect and are
 * dropped; `info` (and invokes never completed) may have taken effect at any point after their
 * invoke or never — their completion is at +infinity and they need not be linearized; info
 * reads are dropped (they change nothing).
 *
 * Search: Wing & Gong's backtracking over a doubly linked list of call/return entries, with
 * Lowe's memoization of (set of linearized operations, model state) — the algorithm of
 * Knossos's `wgl` and Porcupine's `checkSingle`. The linearized set is a bitset with a Zobrist
 * hash kept incrementally, the model state a small integer (0 = free, else an owner id). The
 * search is bounded by `stepsMaxPerName`; running out gives 'unknown', never a pass. Real-time
 * order is the order of lines in the history (an operation precedes another if its completion
 * line comes before the other's invoke line).
 * Three prunings keep it fast, each sound (a brute-force oracle test compares verdicts):
 * - an operation of unknown result is only tried where it changes the state;
 * - operations of unknown result with the same function and owner are interchangeable, so only
 *   the earliest invoked are used (k info writes cost k+1 branches, not 2^k);
 * - an operation whose known result shows it changes nothing in any state (a read, a refused
 *   write) is linearized as soon as it fits, without exploring "later" (see WingGongSearch).
 * On this machine a name with ~300 operations from 10 clients checks in a few milliseconds
 * when it passes, and is refuted (with its explanation) in well under a second when it fails.
 *
 * On failure the report names the operation whose completion first makes the name's history
 * impossible (the end of the smallest failing prefix, found by bisection), and a small window:
 * the latest cut of that prefix such that the operations after the cut — those still running
 * at the cut counted as "may have happened", results that change nothing dropped when not
 * needed — have no linearization from ANY starting state. Such a window is a self-contained
 * proof: whatever the earlier history did, these operations cannot all be right.
 */
import { Rng } from '../../runtime/index.js';
import { pairOperations, type HistoryEvent, type Operation, describeOperation } from '../history.js';
import type { Verdict } from './verdict.js';

/**
 * Default search budget per name (loop iterations). A few hundred operations need about 10^4
 * to pass and 10^5 to refute; each step may keep one cache entry (a bitset), so this also bounds
 * memory (about 100 bytes a step for a few hundred operations).
 */
export const LINEARIZABILITY_STEPS_MAX = 1_000_000;
/** How many cut points the failure explanation tries before settling for the whole prefix. */
export const FAILURE_WINDOW_CUTS_MAX = 200;
/** Search budget of each small search made while explaining a failure. */
export const FAILURE_SEARCH_STEPS_MAX = 1_000_000;
/** Total budget for explaining one failing name; when spent, the explanation keeps what it has. */
export const FAILURE_EXPLANATION_STEPS_MAX = 5_000_000;

export interface LinearizabilityOptions {
  /** Search budget per name; exceeding it makes that name 'unknown'. */
  readonly stepsMaxPerName?: number;
  /**
   * Changes the registry made by itself (see removals.ts `removalOperations`): each must be
   * linearized, as an unregister by the holder that succeeded, within its bounds.
   */
  readonly removals?: readonly Operation[];
  /** What an unregister of a free name answers (default the group registry's `not_owner`). */
  readonly unregisterFree?: 'not_owner' | 'ok';
}

export interface LinearizabilityFailure {
  readonly name: string;
  /** The operation whose completion first makes this name's history impossible. */
  readonly failing: Operation;
  /**
   * Operations (invoke order) that have no linearization: from any starting state when
   * `windowFrom` is 'any-state', from the initial free state when it is 'start'. Operations
   * invoked before the cut and still running at it count as "may or may not have happened".
   */
  readonly window: readonly Operation[];
  readonly windowFrom: 'any-state' | 'start';
  /**
   * The slice of lines the window covers: operations invoked before `windowStartLine` (and still
   * running at it) or completing after `windowEndLine` (the failing operation's completion)
   * count as "may or may not have happened"; those of them whose result shows they changed
   * nothing are left out.
   */
  readonly windowStartLine: number;
  readonly windowEndLine: number;
  /** Human-readable lines: what failed and the window, one operation per line. */
  readonly explanation: readonly string[];
}

export interface LinearizabilityReport {
  readonly verdict: Verdict;
  readonly namesChecked: number;
  /** Operations that took part in the search (ok operations and info/pending writes). */
  readonly operationsChecked: number;
  readonly steps: number;
  readonly failures: readonly LinearizabilityFailure[];
  /** Names whose search ran out of budget. */
  readonly unknownNames: readonly string[];
}

const KIND_REGISTER = 0;
const KIND_UNREGISTER = 1;
const KIND_WHEREIS = 2;
/** An unregister whose answer on a free name is "ok" (`unregisterFree: 'ok'`). */
const KIND_UNREGISTER_FREE_OK = 3;
/** Encoded results: -1 is "ok", 0 is null / free, a positive number is an owner id. */
const RESULT_OK = -1;
/** Expected result of an operation whose result is unknown (info or pending). */
const RESULT_UNKNOWN = -2;
const STATE_FREE = 0;

interface SearchOperation {
  readonly kind: number;
  readonly input: number;
  readonly expected: number;
  /** Position of the invoke (a line number), and of the completion (+Infinity if none). */
  readonly call: number;
  readonly ret: number;
}

interface EncodedOperation extends SearchOperation {
  readonly source: Operation;
  /** An ok operation whose result shows it changed nothing: dropping it only relaxes. */
  readonly observer: boolean;
}

type SearchOutcome = 'linearizable' | 'impossible' | 'unknown';

/** Checks a whole history (events as read from history.jsonl). */
export function checkLinearizable(events: readonly HistoryEvent[], options: LinearizabilityOptions = {}): LinearizabilityReport {
  return checkLinearizableOperations(pairOperations(events), options);
}

/** Checks already paired operations (see `pairOperations`). */
export function checkLinearizableOperations(
  operations: readonly Operation[],
  options: LinearizabilityOptions = {},
): LinearizabilityReport {
  const stepsMax = options.stepsMaxPerName ?? LINEARIZABILITY_STEPS_MAX;
  const byName = new Map<string, Operation[]>();
  for (const operation of [...operations, ...(options.removals ?? [])]) {
    if (operation.f === 'whereis_local') continue;
    const list = byName.get(operation.name) ?? [];
    list.push(operation);
    byName.set(operation.name, list);
  }
  const failures: LinearizabilityFailure[] = [];
  const unknownNames: string[] = [];
  let steps = 0;
  let operationsChecked = 0;
  for (const [name, list] of byName) {
    const encoded = encodeName(list, options.unregisterFree === 'ok' ? KIND_UNREGISTER_FREE_OK : KIND_UNREGISTER);
    operationsChecked += encoded.operations.length;
    const result = searchLinearization(encoded.operations, STATE_FREE, stepsMax);
    steps += result.steps;
    if (result.outcome === 'unknown') unknownNames.push(name);
    if (result.outcome === 'impossible') {
      failures.push(explainFailure(name, encoded, new ExplanationBudget(FAILURE_EXPLANATION_STEPS_MAX)));
    }
  }
  const verdict: Verdict = failures.length > 0 ? 'fail' : unknownNames.length > 0 ? 'unknown' : 'pass';
  return { verdict, namesChecked: byName.size, operationsChecked, steps, failures, unknownNames };
}

// ---------------------------------------------------------------------------------------------
// Encoding one name's operations for the search.

interface EncodedName {
  readonly operations: readonly EncodedOperation[];
  /** Owner ids in use are 1..ownerCount. */
  readonly ownerCount: number;
}

function encodeName(operations: readonly Operation[], unregisterKind: number): EncodedName {
  const owners = new Map<string, number>();
  const ownerId = (owner: string | null): number => {
    if (owner === null) return STATE_FREE;
    let id = owners.get(owner);
    if (id === undefined) {
      id = owners.size + 1;
      owners.set(owner, id);
    }
    return id;
  };
  const encoded: EncodedOperation[] = [];
  for (const operation of operations) {
    const item = encodeOperation(operation, ownerId, unregisterKind);
    if (item !== undefined) encoded.push(item);
  }
  return { operations: encoded, ownerCount: owners.size };
}

function encodeOperation(operation: Operation, ownerId: (owner: string | null) => number, unregisterKind: number): EncodedOperation | undefined {
  if (operation.type === 'fail') return undefined;
  const known = operation.type === 'ok';
  const kind = operation.f === 'register' ? KIND_REGISTER : operation.f === 'unregister' ? unregisterKind : KIND_WHEREIS;
  if (kind === KIND_WHEREIS && !known) return undefined;
  const input = kind === KIND_WHEREIS ? 0 : ownerId(operation.input);
  const expected = known ? encodeResult(kind, operation.output, ownerId) : RESULT_UNKNOWN;
  const ret = known ? (operation.completeLine as number) : Infinity;
  const observer = known && (kind === KIND_WHEREIS || expected !== RESULT_OK);
  return { source: operation, kind, input, expected, call: operation.invokeLine, ret, observer };
}

function encodeResult(kind: number, output: unknown, ownerId: (owner: string | null) => number): number {
  if (kind === KIND_WHEREIS) return ownerId(output as string | null);
  if (output === 'ok') return RESULT_OK;
  const record = output as { taken?: string; not_owner?: string | null };
  return ownerId(kind === KIND_REGISTER ? (record.taken as string) : (record.not_owner as string | null));
}

// ---------------------------------------------------------------------------------------------
// The model, on encoded states.

function modelResult(kind: number, input: number, state: number): number {
  if (kind === KIND_REGISTER) return state === STATE_FREE || state === input ? RESULT_OK : state;
  if (kind === KIND_UNREGISTER) return state === input ? RESULT_OK : state;
  if (kind === KIND_UNREGISTER_FREE_OK) return state === input || state === STATE_FREE ? RESULT_OK : state;
  return state;
}

function modelNext(kind: number, input: number, state: number): number {
  if (kind === KIND_REGISTER) return state === STATE_FREE ? input : state;
  if (kind === KIND_UNREGISTER || kind === KIND_UNREGISTER_FREE_OK) return state === input ? STATE_FREE : state;
  return state;
}

// ---------------------------------------------------------------------------------------------
// Wing & Gong search with Lowe's memoization.

interface CacheEntry {
  readonly bits: Uint32Array;
  readonly state: number;
}

const ZOBRIST_SEED = 0x11ea7;
const TWO_POW_32 = 4_294_967_296;

/** The call entries in list order, as a doubly linked list over entry ids (call 2i, return 2i+1). */
function buildEntryList(operations: readonly SearchOperation[]): { next: Int32Array; previous: Int32Array; head: number } {
  const count = operations.length;
  const order: number[] = [];
  for (let index = 0; index < count; index++) order.push(2 * index, 2 * index + 1);
  const positionOf = (entry: number): number => {
    const operation = operations[entry >> 1] as SearchOperation;
    return (entry & 1) === 0 ? operation.call : operation.ret;
  };
  // By position; at equal positions calls before returns (as Porcupine), then by id.
  order.sort((a, b) => positionOf(a) - positionOf(b) || (a & 1) - (b & 1) || a - b);
  const head = 2 * count;
  const next = new Int32Array(2 * count + 1).fill(-1);
  const previous = new Int32Array(2 * count + 1).fill(-1);
  let last = head;
  for (const entry of order) {
    next[last] = entry;
    previous[entry] = last;
    last = entry;
  }
  return { next, previous, head };
}

/**
 * For each operation whose result is unknown, the previous one (by invoke) of its class — same
 * function and owner — or -1. Such operations are interchangeable except that an earlier invoke
 * allows more positions, so a search need only linearize the earliest ones of a class: one
 * linearized only after its predecessor. (If a linearization uses s operations of a class, the
 * s earliest invoked can take their places.) This turns 2^k subsets of k info writes into k+1.
 */
function unknownPredecessors(operations: readonly SearchOperation[]): Int32Array {
  const predecessors = new Int32Array(operations.length).fill(-1);
  const lastOfClass = new Map<number, number>();
  const unknown = operations
    .map((operation, index) => ({ operation, index }))
    .filter(({ operation }) => operation.expected === RESULT_UNKNOWN)
    .sort((a, b) => a.operation.call - b.operation.call || a.index - b.index);
  for (const { operation, index } of unknown) {
    const kind = operation.kind * 1_000_003 + operation.input;
    const previous = lastOfClass.get(kind);
    if (previous !== undefined) predecessors[index] = previous;
    lastOfClass.set(kind, index);
  }
  return predecessors;
}

function isLinearized(bits: Uint32Array, index: number): boolean {
  return ((bits[index >>> 5] as number) & (1 << (index & 31))) !== 0;
}

/**
 * Whether to try linearizing `operation` now. An operation with a known result must give it.
 * One with an unknown result is tried only if it changes the state (one that changes nothing
 * can be left out of any linearization) and only after the earlier one of its class.
 */
function isWorthLinearizing(
  operation: SearchOperation,
  state: number,
  nextState: number,
  predecessor: number,
  bits: Uint32Array,
): boolean {
  if (operation.expected !== RESULT_UNKNOWN) return operation.expected === modelResult(operation.kind, operation.input, state);
  return nextState !== state && (predecessor === -1 || isLinearized(bits, predecessor));
}

function searchLinearization(
  operations: readonly SearchOperation[],
  initialState: number,
  stepsMax: number,
): { outcome: SearchOutcome; steps: number } {
  return new WingGongSearch(operations, initialState).run(stepsMax);
}

/**
 * One search. The list holds the call and return entries not yet linearized; scanning from the
 * head, a call entry may be linearized (lifted with its return) if the model agrees and the
 * resulting (set, state) was never seen; reaching a return entry means its operation should
 * have been linearized already, so the last choice is undone and the scan resumes after it.
 *
 * Partial-order reduction: an operation whose known result shows it changes nothing in ANY state
 * (a read, a register refused with `taken`, an unregister refused with `not_owner` — not an
 * "ok" register, which changes a free name) is "eager": linearizing it as soon as it fits is
 * never worse than later (moving it earlier changes no state and its deadline goes away), so
 * when it fits, not linearizing it is not explored — undoing it undoes the choice before it.
 */
class WingGongSearch {
  readonly #operations: readonly SearchOperation[];
  readonly #next: Int32Array;
  readonly #previous: Int32Array;
  readonly #head: number;
  readonly #predecessors: Int32Array;
  readonly #zobristHigh: Int32Array;
  readonly #zobristLow: Int32Array;
  readonly #bits: Uint32Array;
  readonly #cache = new Map<number, CacheEntry[]>();
  readonly #stackCalls: number[] = [];
  readonly #stackStates: number[] = [];
  readonly #stackEager: boolean[] = [];
  #hashHigh = 0;
  #hashLow = 0;
  #state: number;
  #requiredDone = 0;
  readonly #requiredTotal: number;

  constructor(operations: readonly SearchOperation[], initialState: number) {
    this.#operations = operations;
    const list = buildEntryList(operations);
    this.#next = list.next;
    this.#previous = list.previous;
    this.#head = list.head;
    this.#predecessors = unknownPredecessors(operations);
    const rng = new Rng(ZOBRIST_SEED);
    this.#zobristHigh = new Int32Array(operations.length).map(() => rng.nextUint32() | 0);
    this.#zobristLow = new Int32Array(operations.length).map(() => rng.nextUint32() | 0);
    this.#bits = new Uint32Array(Math.ceil(operations.length / 32));
    this.#state = initialState;
    this.#requiredTotal = operations.filter((operation) => operation.expected !== RESULT_UNKNOWN).length;
  }

  run(stepsMax: number): { outcome: SearchOutcome; steps: number } {
    let steps = 0;
    let entry = this.#next[this.#head] as number;
    while (this.#requiredDone < this.#requiredTotal) {
      if (++steps > stepsMax) return { outcome: 'unknown', steps };
      if (entry !== -1 && (entry & 1) === 0) {
        entry = this.#tryCall(entry);
        continue;
      }
      // A return entry: the operation it closes was not linearized in time.
      const resumeAfter = this.#backtrack();
      if (resumeAfter === -1) return { outcome: 'impossible', steps };
      entry = this.#next[resumeAfter] as number;
    }
    return { outcome: 'linearizable', steps };
  }

  /** Tries to linearize the call entry; returns the entry to look at next (-1: backtrack). */
  #tryCall(entry: number): number {
    const index = entry >> 1;
    const operation = this.#operations[index] as SearchOperation;
    const state = this.#state;
    const nextState = modelNext(operation.kind, operation.input, state);
    if (!isWorthLinearizing(operation, state, nextState, this.#predecessors[index] as number, this.#bits)) {
      return this.#next[entry] as number;
    }
    const eager = isPureObserver(operation);
    this.#flip(index);
    if (!this.#remember(nextState)) {
      this.#flip(index);
      return eager ? -1 : (this.#next[entry] as number);
    }
    this.#stackCalls.push(entry);
    this.#stackStates.push(state);
    this.#stackEager.push(eager);
    this.#state = nextState;
    if (operation.expected !== RESULT_UNKNOWN) this.#requiredDone++;
    this.#lift(entry);
    return this.#next[this.#head] as number;
  }

  /** Undoes choices up to and including the last non-eager one; returns its call entry, or -1 if none is left. */
  #backtrack(): number {
    for (;;) {
      const call = this.#stackCalls.pop();
      if (call === undefined) return -1;
      const index = call >> 1;
      this.#state = this.#stackStates.pop() as number;
      const eager = this.#stackEager.pop() as boolean;
      this.#flip(index);
      if ((this.#operations[index] as SearchOperation).expected !== RESULT_UNKNOWN) this.#requiredDone--;
      this.#unlift(call);
      if (!eager) return call;
    }
  }

  /** Toggles an operation in the linearized set and in its Zobrist hash. */
  #flip(index: number): void {
    this.#bits[index >>> 5] = (this.#bits[index >>> 5] as number) ^ (1 << (index & 31));
    this.#hashHigh ^= this.#zobristHigh[index] as number;
    this.#hashLow ^= this.#zobristLow[index] as number;
  }

  /** Records (current set, state) in the cache; false if it was there already. */
  #remember(state: number): boolean {
    const key = ((this.#hashHigh ^ Math.imul(state + 1, 0x9e3779b1)) >>> 0) + (this.#hashLow & 0x1fffff) * TWO_POW_32;
    const bucket = this.#cache.get(key);
    if (bucket === undefined) {
      this.#cache.set(key, [{ bits: this.#bits.slice(), state }]);
      return true;
    }
    if (bucket.some((cached) => cached.state === state && equalBits(cached.bits, this.#bits))) return false;
    bucket.push({ bits: this.#bits.slice(), state });
    return true;
  }

  #lift(call: number): void {
    const next = this.#next;
    const previous = this.#previous;
    const ret = call + 1;
    next[previous[call] as number] = next[call] as number;
    previous[next[call] as number] = previous[call] as number;
    next[previous[ret] as number] = next[ret] as number;
    if (next[ret] !== -1) previous[next[ret] as number] = previous[ret] as number;
  }

  #unlift(call: number): void {
    const next = this.#next;
    const previous = this.#previous;
    const ret = call + 1;
    next[previous[ret] as number] = ret;
    if (next[ret] !== -1) previous[next[ret] as number] = ret;
    next[previous[call] as number] = call;
    previous[next[call] as number] = call;
  }
}

/** Known result, and a result that only a state-preserving step can give. */
function isPureObserver(operation: SearchOperation): boolean {
  if (operation.expected === RESULT_UNKNOWN) return false;
  return operation.kind === KIND_WHEREIS || operation.expected !== RESULT_OK;
}

function equalBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Explaining a failure: smallest failing prefix, then the latest self-contained window.

/**
 * The operations as seen in the slice of lines [start, end]. Operations invoked after `end`
 * are left out, and so are those completed before `start` (any starting state stands for
 * them). One still running at `end` (or never completed) may or may not have happened, as in
 * any prefix of a history. One invoked before `start` and completed inside is left out if its
 * result shows it changed nothing, and otherwise may or may not have happened, from `start`
 * on. Each of these steps only relaxes, so a slice with no linearization proves that the
 * whole history has none.
 */
function slice(operations: readonly EncodedOperation[], start: number, end: number): EncodedOperation[] {
  const kept: EncodedOperation[] = [];
  for (const operation of operations) {
    if (operation.call > end || operation.ret < start) continue;
    const pendingAtEnd = operation.ret > end;
    const startedBefore = operation.call < start;
    if (!pendingAtEnd && !startedBefore) {
      kept.push(operation);
      continue;
    }
    if (operation.kind === KIND_WHEREIS || (!pendingAtEnd && operation.observer)) continue;
    kept.push({
      ...operation,
      call: Math.max(operation.call, start),
      ret: Infinity,
      expected: RESULT_UNKNOWN,
      observer: false,
    });
  }
  return kept;
}

/** The steps an explanation may spend, shared by all its searches. */
class ExplanationBudget {
  #remaining: number;
  constructor(steps: number) {
    this.#remaining = steps;
  }
  get exhausted(): boolean {
    return this.#remaining <= 0;
  }
  search(operations: readonly SearchOperation[], state: number): SearchOutcome {
    if (this.exhausted) return 'unknown';
    const result = searchLinearization(operations, state, Math.min(this.#remaining, FAILURE_SEARCH_STEPS_MAX));
    this.#remaining -= result.steps;
    return result.outcome;
  }
  /** Impossible from every state (tried in order, stopping at the first that works). */
  impossibleFrom(operations: readonly SearchOperation[], states: readonly number[]): boolean {
    return states.every((state) => this.search(operations, state) === 'impossible');
  }
}

/**
 * Every starting state that makes a difference to a window: free, each owner it names, and one
 * owner it does not name — in that order, the cheap refutations first.
 */
function candidateStates(operations: readonly SearchOperation[], ownerCount: number): number[] {
  const states = new Set<number>([STATE_FREE]);
  for (const operation of operations) {
    if (operation.input > 0) states.add(operation.input);
    if (operation.expected > 0) states.add(operation.expected);
  }
  states.add(ownerCount + 1);
  return [...states];
}

function smallestFailingEnd(encoded: EncodedName, budget: ExplanationBudget): number {
  const ends = [...new Set(encoded.operations.map((operation) => operation.ret))]
    .filter((position) => Number.isFinite(position))
    .sort((a, b) => a - b);
  let low = 0;
  let high = ends.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (budget.search(slice(encoded.operations, 0, ends[middle] as number), STATE_FREE) === 'impossible') high = middle;
    else low = middle + 1;
  }
  return ends[low] as number;
}

function dropNeedlessObservers(
  window: EncodedOperation[],
  failing: EncodedOperation,
  states: (operations: readonly SearchOperation[]) => readonly number[],
  budget: ExplanationBudget,
): EncodedOperation[] {
  let kept = window;
  for (const operation of window) {
    if (budget.exhausted) break;
    if (!operation.observer || operation === failing || operation.expected === RESULT_UNKNOWN) continue;
    const without = kept.filter((candidate) => candidate !== operation);
    if (budget.impossibleFrom(without, states(without))) kept = without;
  }
  return kept;
}

function explainFailure(name: string, encoded: EncodedName, budget: ExplanationBudget): LinearizabilityFailure {
  const end = smallestFailingEnd(encoded, budget);
  const failing = encoded.operations.find((operation) => operation.ret === end) as EncodedOperation;
  const cuts = [...new Set(encoded.operations.map((operation) => operation.call))]
    .filter((position) => position <= failing.call)
    .sort((a, b) => b - a)
    .slice(0, FAILURE_WINDOW_CUTS_MAX);
  const anyState = (operations: readonly SearchOperation[]): number[] => candidateStates(operations, encoded.ownerCount);
  for (const cut of cuts) {
    if (budget.exhausted) break;
    const window = slice(encoded.operations, cut, end);
    if (!budget.impossibleFrom(window, anyState(window))) continue;
    const reduced = dropNeedlessObservers(window, failing, anyState, budget);
    return failureReport(name, failing, reduced, { from: 'any-state', start: cut, end });
  }
  const prefix = slice(encoded.operations, 0, end);
  const reduced = dropNeedlessObservers(prefix, failing, () => [STATE_FREE], budget);
  return failureReport(name, failing, reduced, { from: 'start', start: 1, end });
}

function failureReport(
  name: string,
  failing: EncodedOperation,
  window: readonly EncodedOperation[],
  slice: { readonly from: 'any-state' | 'start'; readonly start: number; readonly end: number },
): LinearizabilityFailure {
  const { from: windowFrom, start, end } = slice;
  const ordered = [...window].sort((a, b) => a.source.invokeLine - b.source.invokeLine);
  const describe = (operation: EncodedOperation): string => {
    const marker = operation === failing ? '*' : ' ';
    const note =
      operation.expected !== RESULT_UNKNOWN
        ? ''
        : operation.source.type === 'ok'
          ? ' (spans the window edge: counted as may or may not have happened)'
          : ' (may have happened at any time after its invoke)';
    return `  ${marker} ${describeOperation(operation.source)}${note}`;
  };
  const explanation = [
    `name ${JSON.stringify(name)} is not linearizable: nothing explains ${describeOperation(failing.source)}`,
    windowFrom === 'any-state'
      ? `these ${ordered.length} operations (lines ${start}–${end}) have no valid order from any earlier state:`
      : `these ${ordered.length} operations (lines ${start}–${end}) have no valid order from the start (name free):`,
    ...ordered.map(describe),
  ];
  return {
    name,
    failing: failing.source,
    window: ordered.map((operation) => operation.source),
    windowFrom,
    windowStartLine: start,
    windowEndLine: end,
    explanation,
  };
}

/** The failure's explanation as one printable block. */
export function formatLinearizabilityFailure(failure: LinearizabilityFailure): string {
  return failure.explanation.join('\n');
}
