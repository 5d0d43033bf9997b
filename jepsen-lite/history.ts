/**
 * The records of a jepsen-lite run, as JSON lines: `history.jsonl` (what clients saw) and
 * `singletons.jsonl` (singleton instances starting and stopping with their fencing tokens).
 *
 * history.jsonl, one event per line, in the order the events happened (times never decrease):
 *   {"process": n, "type": "invoke"|"ok"|"fail"|"info", "f": "register"|"unregister"|"whereis"
 *    |"whereis_local", "name": "...", "value": …, "time": ns since start}
 * - invoke: `value` is the owner (a pid's printed form) for register/unregister, null for reads.
 * - ok: register → "ok" | {"taken": holder}; unregister → "ok" | {"not_owner": holder|null};
 *   whereis / whereis_local → the owner or null.
 * - fail: the operation definitely had no effect. info: it may or may not have taken effect; the
 *   process never completes another operation (the client continues under a fresh number).
 *   Their `value` is free-form (an error description, the invoke's value…).
 * - an ok register / unregister may also carry what the node answered with: `"revision"` (the
 *   registry revision — the Raft index — the node said the write has) and `"group"` (the group
 *   whose registry holds the name: in a federation, its home group). Fields beyond the issue's
 *   six; readers that do not know them can ignore them.
 *
 * singletons.jsonl: {"type": "start"|"stop", "key": "...", "node": "...", "token": revision,
 *   "time": ns since start, "reason"?: "..."}; lines may come in any order (several nodes report).
 *
 * Contract: readers validate every line and refuse bad input with one `FedError('badarg')`
 * whose message and `details.line` name the (1-based) line; blank lines are allowed only at
 * the end. Writers validate before writing, so a file they wrote always reads back.
 * `pairOperations` turns events into operations and checks the process discipline (one
 * operation at a time per process, completions match their invoke, no reuse after info).
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fedError } from '../runtime/index.js';

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
export type OperationFunction = 'register' | 'unregister' | 'whereis' | 'whereis_local';

export type RegisterResult = 'ok' | { readonly taken: string };
export type UnregisterResult = 'ok' | { readonly not_owner: string | null };
export type WhereisResult = string | null;

export interface HistoryEvent {
  readonly process: number;
  readonly type: EventType;
  readonly f: OperationFunction;
  readonly name: string;
  /** See the file comment: the owner on invoke, the result on ok, free-form on fail/info. */
  readonly value: unknown;
  /** Nanoseconds since the start of the run. */
  readonly time: number;
  /** On an ok register / unregister: the revision the node answered with. */
  readonly revision?: number;
  /** On an ok register / unregister: the group whose registry holds the name (its home group). */
  readonly group?: string;
}

export interface SingletonEvent {
  readonly type: 'start' | 'stop';
  readonly key: string;
  readonly node: string;
  /** The claim's revision: the fencing token of the instance. */
  readonly token: number;
  readonly time: number;
  /** Why it started or stopped, when the node said. */
  readonly reason?: string;
}

/**
 * One operation: an invoke and its completion (if any). Lines are 1-based lines of the file.
 * An operation with `removal` is not a client's: it is a change the registry itself made (it
 * removed the name from its holder, see registry-events.ts), placed among the history's lines
 * by what is known of when it happened (its lines may be fractional: between two lines).
 */
export interface Operation {
  readonly process: number;
  readonly f: OperationFunction;
  readonly name: string;
  /** The invoke's value: the owner for register/unregister, null for reads. */
  readonly input: string | null;
  /** 'pending': never completed before the history ended (treated like info). */
  readonly type: 'ok' | 'fail' | 'info' | 'pending';
  /** The completion's value (undefined while pending). */
  readonly output: unknown;
  readonly invokeLine: number;
  readonly completeLine: number | null;
  readonly invokeTime: number;
  readonly completeTime: number | null;
  /** Set on a change the registry made itself: why, and its revision. */
  readonly removal?: { readonly reason: string; readonly revision: number };
  /** An ok register / unregister: the revision and the group the node answered with (when recorded). */
  readonly revision?: number;
  readonly group?: string;
}

/** Longest line accepted, in characters (a guard against a runaway writer). */
export const HISTORY_LINE_LENGTH_MAX = 64 * 1024;

const EVENT_TYPES: readonly string[] = ['invoke', 'ok', 'fail', 'info'];
const FUNCTIONS: readonly string[] = ['register', 'unregister', 'whereis', 'whereis_local'];

function lineError(file: string, line: number, message: string): Error {
  return fedError('badarg', `${file} line ${line}: ${message}`, { file, line });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** Why an ok result does not fit its function, or undefined if it fits. */
function okValueProblem(f: OperationFunction, value: unknown): string | undefined {
  if (f === 'whereis' || f === 'whereis_local') {
    return value === null || typeof value === 'string' ? undefined : 'an ok read must have value owner or null';
  }
  if (value === 'ok') return undefined;
  const key = f === 'register' ? 'taken' : 'not_owner';
  const shapeOk =
    isRecord(value) &&
    Object.keys(value).length === 1 &&
    (typeof value[key] === 'string' || (f === 'unregister' && value[key] === null));
  return shapeOk ? undefined : `an ok ${f} must have value "ok" or {"${key}": ${f === 'register' ? 'holder' : 'holder or null'}}`;
}

function invokeValueProblem(f: OperationFunction, value: unknown): string | undefined {
  if (f === 'register' || f === 'unregister') {
    return typeof value === 'string' && value.length > 0 ? undefined : `an invoke of ${f} must have the owner as value`;
  }
  return value === null ? undefined : `an invoke of ${f} must have value null`;
}

/** Validates one parsed history line; returns the problem or undefined. */
export function historyEventProblem(event: unknown): string | undefined {
  if (!isRecord(event)) return 'not a JSON object';
  const { process, type, f, name, time } = event;
  if (typeof process !== 'number' || !Number.isInteger(process) || process < 0) return '"process" must be a non-negative integer';
  if (typeof type !== 'string' || !EVENT_TYPES.includes(type)) return '"type" must be invoke, ok, fail or info';
  if (typeof f !== 'string' || !FUNCTIONS.includes(f)) return '"f" must be register, unregister, whereis or whereis_local';
  if (typeof name !== 'string' || name.length === 0) return '"name" must be a non-empty string';
  if (!('value' in event)) return '"value" is missing';
  if (!isTime(time)) return '"time" must be a non-negative number of nanoseconds';
  const fn = f as OperationFunction;
  const answered = answerProblem(event, type, fn);
  if (answered !== undefined) return answered;
  if (type === 'invoke') return invokeValueProblem(fn, event.value);
  if (type === 'ok') return okValueProblem(fn, event.value);
  return undefined;
}

/** `revision` and `group` are allowed only on ok writes, as a revision and a group id. */
function answerProblem(event: Record<string, unknown>, type: string, f: OperationFunction): string | undefined {
  if (event.revision === undefined && event.group === undefined) return undefined;
  if (type !== 'ok' || (f !== 'register' && f !== 'unregister')) return '"revision" and "group" belong only to an ok register or unregister';
  const { revision, group } = event;
  if (revision !== undefined && !(typeof revision === 'number' && Number.isSafeInteger(revision) && revision >= 0)) return '"revision" must be a non-negative integer';
  if (group !== undefined && !(typeof group === 'string' && group.length > 0)) return '"group" must be a non-empty string';
  return undefined;
}

export function singletonEventProblem(event: unknown): string | undefined {
  if (!isRecord(event)) return 'not a JSON object';
  const { type, key, node, token, time } = event;
  if (type !== 'start' && type !== 'stop') return '"type" must be start or stop';
  if (typeof key !== 'string' || key.length === 0) return '"key" must be a non-empty string';
  if (typeof node !== 'string' || node.length === 0) return '"node" must be a non-empty string';
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 1) return '"token" must be a positive integer';
  if (!isTime(time)) return '"time" must be a non-negative number of nanoseconds';
  if (event.reason !== undefined && typeof event.reason !== 'string') return '"reason" must be a string when present';
  return undefined;
}

function parseLines<T>(text: string, file: string, problemOf: (event: unknown) => string | undefined): T[] {
  const lines = text.split('\n');
  while (lines.length > 0 && (lines[lines.length - 1] as string).trim() === '') lines.pop();
  return lines.map((raw, index) => {
    const line = index + 1;
    if (raw.length > HISTORY_LINE_LENGTH_MAX) throw lineError(file, line, `longer than ${HISTORY_LINE_LENGTH_MAX} characters`);
    if (raw.trim() === '') throw lineError(file, line, 'blank line');
    let event: unknown;
    try {
      event = JSON.parse(raw);
    } catch {
      throw lineError(file, line, 'not valid JSON');
    }
    const problem = problemOf(event);
    if (problem !== undefined) throw lineError(file, line, problem);
    return event as T;
  });
}

/** Parses history.jsonl text. Also refuses times that go backwards. */
export function parseHistory(text: string, file = 'history.jsonl'): HistoryEvent[] {
  const events = parseLines<HistoryEvent>(text, file, historyEventProblem);
  events.forEach((event, index) => {
    const previous = events[index - 1];
    if (previous !== undefined && event.time < previous.time) {
      throw lineError(file, index + 1, `time ${event.time} is before the previous line's ${previous.time}`);
    }
  });
  return events;
}

export function parseSingletonEvents(text: string, file = 'singletons.jsonl'): SingletonEvent[] {
  return parseLines<SingletonEvent>(text, file, singletonEventProblem);
}

export async function readHistory(path: string): Promise<HistoryEvent[]> {
  return parseHistory(await readFile(path, 'utf8'), path);
}

export async function readSingletonEvents(path: string): Promise<SingletonEvent[]> {
  return parseSingletonEvents(await readFile(path, 'utf8'), path);
}

/** One line (without newline), with the fields in the documented order. */
export function formatHistoryEvent(event: HistoryEvent): string {
  const problem = historyEventProblem(event);
  if (problem !== undefined) throw fedError('badarg', `bad history event: ${problem}`, { event });
  const { process, type, f, name, value, time, revision, group } = event;
  return JSON.stringify({ process, type, f, name, value, time, ...(revision !== undefined ? { revision } : {}), ...(group !== undefined ? { group } : {}) });
}

export function formatSingletonEvent(event: SingletonEvent): string {
  const problem = singletonEventProblem(event);
  if (problem !== undefined) throw fedError('badarg', `bad singleton event: ${problem}`, { event });
  const { type, key, node, token, time, reason } = event;
  return JSON.stringify(reason === undefined ? { type, key, node, token, time } : { type, key, node, token, time, reason });
}

/**
 * Appends JSON lines to a file. `append` validates (a bad event throws and nothing is written)
 * and buffers; `close` flushes and waits. Used for both files of a run.
 */
export class JsonLinesWriter<T> {
  readonly #stream: WriteStream;
  readonly #format: (event: T) => string;
  #closed = false;
  #failure: Error | undefined;

  constructor(path: string, format: (event: T) => string) {
    this.#format = format;
    this.#stream = createWriteStream(path, { flags: 'a' });
    this.#stream.on('error', (error) => {
      this.#failure = error;
    });
  }

  static history(path: string): JsonLinesWriter<HistoryEvent> {
    return new JsonLinesWriter(path, formatHistoryEvent);
  }

  static singletons(path: string): JsonLinesWriter<SingletonEvent> {
    return new JsonLinesWriter(path, formatSingletonEvent);
  }

  append(event: T): void {
    if (this.#closed) throw fedError('closed', 'the JSON-lines writer is closed');
    if (this.#failure !== undefined) throw this.#failure;
    this.#stream.write(`${this.#format(event)}\n`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const finished = once(this.#stream, 'close');
    this.#stream.end();
    await finished;
    if (this.#failure !== undefined) throw this.#failure;
  }
}

interface OpenOperation {
  readonly invoke: HistoryEvent;
  readonly line: number;
}

/**
 * Pairs each invoke with the next completion of the same process. Throws `badarg` naming the
 * line when a process invokes while busy, completes without an invoke, completes a different
 * function or name, or is used again after an info. Invokes left open at the end are 'pending'.
 * Operations come out in the order of their invokes.
 */
export function pairOperations(events: readonly HistoryEvent[], file = 'history.jsonl'): Operation[] {
  const open = new Map<number, OpenOperation>();
  const retired = new Map<number, number>();
  const slots: (Operation | OpenOperation)[] = [];
  const slotOf = new Map<number, number>();
  events.forEach((event, index) => {
    const line = index + 1;
    const retiredAt = retired.get(event.process);
    if (retiredAt !== undefined) {
      throw lineError(file, line, `process ${event.process} is used again after its info at line ${retiredAt}`);
    }
    if (event.type === 'invoke') {
      if (open.has(event.process)) {
        throw lineError(file, line, `process ${event.process} invokes while its operation from line ${open.get(event.process)?.line} is open`);
      }
      open.set(event.process, { invoke: event, line });
      slotOf.set(event.process, slots.length);
      slots.push({ invoke: event, line });
      return;
    }
    const started = open.get(event.process);
    if (started === undefined) throw lineError(file, line, `process ${event.process} completes an operation it never invoked`);
    if (started.invoke.f !== event.f || started.invoke.name !== event.name) {
      throw lineError(file, line, `completion ${event.f} ${JSON.stringify(event.name)} does not match the invoke at line ${started.line}`);
    }
    open.delete(event.process);
    if (event.type === 'info') retired.set(event.process, line);
    slots[slotOf.get(event.process) as number] = completed(started, event, line);
  });
  return slots.map((slot) => ('invoke' in slot ? pending(slot) : slot));
}

function completed(started: OpenOperation, event: HistoryEvent, line: number): Operation {
  return {
    process: event.process,
    f: event.f,
    name: event.name,
    input: started.invoke.value as string | null,
    type: event.type as 'ok' | 'fail' | 'info',
    output: event.value,
    invokeLine: started.line,
    completeLine: line,
    invokeTime: started.invoke.time,
    completeTime: event.time,
    ...(event.revision !== undefined ? { revision: event.revision } : {}),
    ...(event.group !== undefined ? { group: event.group } : {}),
  };
}

function pending(started: OpenOperation): Operation {
  const { invoke } = started;
  return {
    process: invoke.process,
    f: invoke.f,
    name: invoke.name,
    input: invoke.value as string | null,
    type: 'pending',
    output: undefined,
    invokeLine: started.line,
    completeLine: null,
    invokeTime: invoke.time,
    completeTime: null,
  };
}

/** A one-line human description of an operation, for failure reports. */
export function describeOperation(operation: Operation): string {
  if (operation.removal !== undefined) {
    const until = operation.completeLine === null ? 'the end' : `line ${Math.floor(operation.completeLine)}`;
    return `after line ${Math.floor(operation.invokeLine)}, before ${until}: the registry removed ${JSON.stringify(operation.name)} from ${operation.input} (${operation.removal.reason}, revision ${operation.removal.revision})`;
  }
  const lines = operation.completeLine === null ? `line ${operation.invokeLine}–` : `lines ${operation.invokeLine}–${operation.completeLine}`;
  const input = operation.input === null ? '' : ` ${operation.input}`;
  const answered = operation.revision === undefined ? '' : ` (revision ${operation.revision}${operation.group === undefined ? '' : ` in ${operation.group}`})`;
  const output = operation.type === 'ok' ? `${JSON.stringify(operation.output)}${answered}` : operation.type;
  return `${lines}: process ${operation.process} ${operation.f} ${JSON.stringify(operation.name)}${input} → ${output}`;
}
