/**
 * The lost-registration checker: every name whose last acknowledged write was a successful
 * register must be found, held by that owner, by the final consistent reads — unless the
 * registry itself removed it from that owner (names die with their processes and nodes: the
 * cluster reports each such removal, see removals.ts) at a point that may come after the register.
 *
 * "Last acknowledged" is taken conservatively, so that a report is always a real loss: the
 * register R counts only if
 * - it is the successful ("ok") register of the name that completed last, and no successful
 *   unregister completed after it (else the last acknowledged write is not a register);
 * - no other successful write that could change the holder (an "ok" unregister, an "ok"
 *   register by another owner) completed after R was invoked — such a write may be ordered
 *   after R, so the name may rightly be free or held by someone else (counted as `ambiguous`);
 * - no unregister by R's owner ended as info or never completed (it may have taken effect at
 *   any time after its invoke; counted as `ambiguous`).
 * `fail` operations had no effect and are ignored; reads do not matter here.
 * A removal excuses the register if it took the name from the same owner and is not known to
 * have happened before the register was invoked (counted as `removed`).
 */
import { pairOperations, type HistoryEvent, type Operation, describeOperation } from '../history.js';
import type { Verdict } from './verdict.js';

export interface LostRegistrationOptions {
  /** Final consistent reads: name → holder (null when free). A name absent here was not read. */
  readonly finalReads: ReadonlyMap<string, string | null> | Readonly<Record<string, string | null>>;
  /** Changes the registry made by itself (removals.ts `removalOperations`). */
  readonly removals?: readonly Operation[];
}

export interface LostRegistration {
  readonly name: string;
  readonly owner: string;
  /** The acknowledged register that should still hold. */
  readonly registration: Operation;
  /** What the final read found; undefined if the name was not read. */
  readonly finalHolder: string | null | undefined;
  readonly message: string;
}

export interface LostRegistrationReport {
  readonly verdict: Verdict;
  /** Names whose last acknowledged write was a register by a live owner: the ones checked. */
  readonly namesChecked: number;
  readonly lost: readonly LostRegistration[];
  readonly excused: { readonly removed: number; readonly ambiguous: number };
}

export function checkLostRegistrations(events: readonly HistoryEvent[], options: LostRegistrationOptions): LostRegistrationReport {
  return checkLostRegistrationOperations(pairOperations(events), options);
}

export function checkLostRegistrationOperations(
  operations: readonly Operation[],
  options: LostRegistrationOptions,
): LostRegistrationReport {
  const reads = options.finalReads instanceof Map ? options.finalReads : new Map(Object.entries(options.finalReads));
  const removalsByName = new Map<string, Operation[]>();
  for (const removal of options.removals ?? []) {
    const list = removalsByName.get(removal.name) ?? [];
    list.push(removal);
    removalsByName.set(removal.name, list);
  }
  const byName = new Map<string, Operation[]>();
  for (const operation of operations) {
    if (operation.f !== 'register' && operation.f !== 'unregister') continue;
    const list = byName.get(operation.name) ?? [];
    list.push(operation);
    byName.set(operation.name, list);
  }
  const lost: LostRegistration[] = [];
  let namesChecked = 0;
  let removed = 0;
  let ambiguous = 0;
  for (const [name, writes] of byName) {
    const registration = lastAcknowledgedRegister(writes);
    if (registration === undefined || laterUnregister(registration, writes)) continue;
    const owner = registration.input as string;
    if (mayHaveBeenUndone(registration, writes)) {
      ambiguous++;
      continue;
    }
    if ((removalsByName.get(name) ?? []).some((removal) => removal.input === owner && (removal.completeLine as number) > registration.invokeLine)) {
      removed++;
      continue;
    }
    namesChecked++;
    const finalHolder = reads.has(name) ? (reads.get(name) as string | null) : undefined;
    if (finalHolder === owner) continue;
    const found = finalHolder === undefined ? 'was not read at the end' : `was found ${finalHolder === null ? 'free' : `held by ${finalHolder}`}`;
    lost.push({
      name,
      owner,
      registration,
      finalHolder,
      message: `name ${JSON.stringify(name)} acknowledged to ${owner} (${describeOperation(registration)}) ${found}`,
    });
  }
  return { verdict: lost.length === 0 ? 'pass' : 'fail', namesChecked, lost, excused: { removed, ambiguous } };
}

function isSuccessfulRegister(operation: Operation): boolean {
  return operation.f === 'register' && operation.type === 'ok' && operation.output === 'ok';
}

function lastAcknowledgedRegister(writes: readonly Operation[]): Operation | undefined {
  let last: Operation | undefined;
  for (const operation of writes) {
    if (!isSuccessfulRegister(operation)) continue;
    if (last === undefined || (operation.completeLine as number) > (last.completeLine as number)) last = operation;
  }
  return last;
}

/** An "ok" unregister that completed after the register: the last acknowledged write is not a register. */
function laterUnregister(registration: Operation, writes: readonly Operation[]): boolean {
  return writes.some(
    (operation) =>
      operation.f === 'unregister' &&
      operation.type === 'ok' &&
      operation.output === 'ok' &&
      (operation.completeLine as number) > (registration.completeLine as number),
  );
}

function mayHaveBeenUndone(registration: Operation, writes: readonly Operation[]): boolean {
  const owner = registration.input;
  return writes.some((operation) => {
    if (operation === registration) return false;
    if (operation.type === 'info' || operation.type === 'pending') return operation.f === 'unregister' && operation.input === owner;
    if (operation.type !== 'ok' || (operation.completeLine as number) < registration.invokeLine) return false;
    if (operation.f === 'unregister') return operation.output === 'ok';
    return isSuccessfulRegister(operation) && operation.input !== owner;
  });
}
