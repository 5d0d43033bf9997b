/**
 * The registry's own removals — the deletes in registry-events.jsonl whose reason is not
 * `unregister` (the leader declared the holder's node down, a restarted node's older pid lost
 * its names, a holder process exited) — as operations the checkers take, each placed among the
 * history's lines by what is known of when it happened. Nothing here is a guess about what a
 * fault may have done: each operation is a change the cluster committed and reported.
 *
 * Where a removal goes (positions are history lines; the removal is linearized between them):
 * - before the first history line recorded after the runner saw it (it was committed by then);
 * - the registry's changes are totally ordered by revision (the Raft index), and in a
 *   linearizable registry that is the order of their linearization points: a removal comes
 *   after every change of a lower revision and before every change of a higher one (changes of
 *   one revision are one command, not ordered among themselves). A change a client's operation
 *   made happened within that operation: after its invoke, and before its completion if it
 *   completed ok. Several client operations may have made one change (a retry after a timeout,
 *   the same owner trying twice), so the earliest invoke and the latest completion of those
 *   that could have (none, if one of them never completed) bound it. The bounds are sound: a
 *   correct registry always fits in them; they only rule out orders the revisions forbid.
 * Each removal then acts as an unregister by the holder with a known result: the holder held
 * the name at that point (the model requires it) and the name became free.
 */
import { partitionPoint } from '../../runtime/index.js';
import type { HistoryEvent, Operation } from '../history.js';
import type { RegistryEvent } from '../registry-events.js';

const REMOVAL_PROCESS = -1;

/**
 * A federated node's deletes say no reason (`released`). One that an acknowledged unregister of
 * `group` answered with its revision (same name, same owner) is that unregister; the others stay
 * `released` and are taken as removals (an unregister whose answer was lost, a holder that
 * exited, a node declared down). Taking a client's unregister as a removal as well is sound only
 * where an unregister of a free name is "ok" — a federation's namespace, where this is used.
 */
export function labelAcknowledgedUnregisters(events: readonly RegistryEvent[], operations: readonly Operation[], group: string): RegistryEvent[] {
  const acknowledged = new Set<string>();
  for (const operation of operations) {
    if (operation.f !== 'unregister' || operation.type !== 'ok' || operation.output !== 'ok' || operation.group !== group || operation.revision === undefined) continue;
    acknowledged.add(`${operation.revision}\u0000${operation.name}\u0000${operation.input}`);
  }
  return events.map((event) =>
    event.type === 'delete' && event.reason === 'released' && acknowledged.has(`${event.revision}\u0000${event.name}\u0000${event.pid}`) ? { ...event, reason: 'unregister' } : event,
  );
}

/** Whether a registry event is a removal the registry made by itself. */
export function isRemoval(event: RegistryEvent): event is Extract<RegistryEvent, { type: 'delete' }> {
  return event.type === 'delete' && event.reason !== 'unregister';
}

export function removalOperations(history: readonly HistoryEvent[], operations: readonly Operation[], registry: readonly RegistryEvent[]): Operation[] {
  const changes = registry.filter((event): event is Exclude<RegistryEvent, { type: 'gap' }> => event.type !== 'gap').sort((a, b) => a.revision - b.revision);
  const candidates = clientWrites(operations);
  const afterOf = new Map<Exclude<RegistryEvent, { type: 'gap' }>, number>();
  const beforeOf = new Map<Exclude<RegistryEvent, { type: 'gap' }>, number>();
  for (const change of changes) {
    const makers = isRemoval(change) ? [] : (candidates.get(writeKey(change.type === 'put' ? 'register' : 'unregister', change.name, change.pid)) ?? []);
    let earliestInvoke = Infinity;
    let latestCompletion = -Infinity;
    for (const operation of makers) {
      earliestInvoke = Math.min(earliestInvoke, operation.invokeLine);
      latestCompletion = Math.max(latestCompletion, completionBound(operation));
    }
    afterOf.set(change, makers.length === 0 ? 0 : earliestInvoke);
    const seenBefore = linesUpTo(history, change.time) + 0.5;
    const completedBy = makers.length === 0 ? Infinity : latestCompletion;
    beforeOf.set(change, isRemoval(change) ? seenBefore : Math.min(seenBefore, completedBy));
  }
  // Forward: the latest "after" of any lower revision; backward: the earliest "before" of any higher one.
  const lowerBound = new Map<Exclude<RegistryEvent, { type: 'gap' }>, number>();
  let running = 0;
  let index = 0;
  while (index < changes.length) {
    const revision = (changes[index] as RegistryEvent).revision;
    let end = index;
    while (end < changes.length && (changes[end] as RegistryEvent).revision === revision) end++;
    for (let at = index; at < end; at++) lowerBound.set(changes[at] as Exclude<RegistryEvent, { type: 'gap' }>, running);
    for (let at = index; at < end; at++) running = Math.max(running, afterOf.get(changes[at] as Exclude<RegistryEvent, { type: 'gap' }>) as number);
    index = end;
  }
  const upperBound = new Map<Exclude<RegistryEvent, { type: 'gap' }>, number>();
  running = Infinity;
  index = changes.length - 1;
  while (index >= 0) {
    const revision = (changes[index] as RegistryEvent).revision;
    let start = index;
    while (start >= 0 && (changes[start] as RegistryEvent).revision === revision) start--;
    for (let at = index; at > start; at--) upperBound.set(changes[at] as Exclude<RegistryEvent, { type: 'gap' }>, running);
    for (let at = index; at > start; at--) running = Math.min(running, beforeOf.get(changes[at] as Exclude<RegistryEvent, { type: 'gap' }>) as number);
    index = start;
  }
  const removals: Operation[] = [];
  for (const change of changes) {
    if (!isRemoval(change)) continue;
    const invokeLine = lowerBound.get(change) as number;
    const completeLine = Math.min(upperBound.get(change) as number, beforeOf.get(change) as number);
    removals.push({
      process: REMOVAL_PROCESS,
      f: 'unregister',
      name: change.name,
      input: change.pid,
      type: 'ok',
      output: 'ok',
      invokeLine,
      completeLine,
      invokeTime: timeOfLine(history, invokeLine),
      completeTime: change.time,
      removal: { reason: change.reason, revision: change.revision },
    });
  }
  return removals;
}

function writeKey(f: 'register' | 'unregister', name: string, owner: string): string {
  return `${f}\u0000${name}\u0000${owner}`;
}

/**
 * Client registers and unregisters that may have made a change, by function, name and owner:
 * those acknowledged "ok" and those of unknown outcome (info, pending). A `fail`, a register
 * answered `taken` and an unregister answered `not_owner` changed nothing.
 */
function clientWrites(operations: readonly Operation[]): Map<string, Operation[]> {
  const byKey = new Map<string, Operation[]>();
  for (const operation of operations) {
    if (operation.removal !== undefined || operation.type === 'fail') continue;
    if (operation.type === 'ok' && operation.output !== 'ok') continue;
    if (operation.f !== 'register' && operation.f !== 'unregister') continue;
    const key = writeKey(operation.f, operation.name, operation.input as string);
    const list = byKey.get(key) ?? [];
    list.push(operation);
    byKey.set(key, list);
  }
  return byKey;
}

/** The latest point an operation's effect can have: its completion if it completed ok, else never bounded. */
function completionBound(operation: Operation): number {
  return operation.type === 'ok' && operation.completeLine !== null ? operation.completeLine : Infinity;
}

/** How many history lines were recorded at or before `time` (times never decrease). */
function linesUpTo(history: readonly HistoryEvent[], time: number): number {
  return partitionPoint(history, 0, (event) => event.time <= time);
}

function timeOfLine(history: readonly HistoryEvent[], line: number): number {
  const event = history[Math.floor(line) - 1];
  return event === undefined ? 0 : event.time;
}
