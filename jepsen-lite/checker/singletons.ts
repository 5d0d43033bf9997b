/**
 * The singleton checker, over singletons.jsonl (instances starting and stopping with their
 * fencing token, the revision of their claim).
 *
 * An instance of a key lives from its start until its stop (or until its node was killed, from
 * `nodeKills`, or forever if neither). It holds a VALID token from its start until it stops or
 * an instance of the same key with a higher token starts (the later token fences the earlier).
 * Safety:
 * - never two instances of one key whose valid periods overlap (`overlap`);
 * - tokens strictly increase per key over starts, in time order (`token_order`);
 * - every stop matches a running instance (`unmatched_stop`).
 * Liveness: at `checkTime` (after the final heal) every expected key has a running instance
 * with a valid token (`not_running`), started by `finalHealTime + recoveryBoundNs` when a bound
 * is given (`late_recovery`).
 * Also reported, not failed: how long fenced instances kept running beside a newer one.
 * Events are ordered by time (several nodes report; file order is not trusted); at equal times
 * stops come before starts, so a handover at the same instant is not an overlap.
 */
import { fedError } from '../../runtime/index.js';
import type { SingletonEvent } from '../history.js';
import type { Verdict } from './verdict.js';

export interface SingletonCheckOptions {
  /** Keys that must be running after the final heal. */
  readonly expectedKeys: readonly string[];
  /** When the last fault was healed (ns since start). */
  readonly finalHealTime: number;
  /** When every expected key must be running; default the latest event time or the heal, whichever is later. */
  readonly checkTime?: number;
  /** If given, the instance running at `checkTime` must have started by `finalHealTime + recoveryBoundNs`. */
  readonly recoveryBoundNs?: number;
  /** Nodes killed during the run: their instances ended at the kill even without a stop event. */
  readonly nodeKills?: readonly { readonly node: string; readonly time: number }[];
}

export interface SingletonInstance {
  readonly key: string;
  readonly node: string;
  readonly token: number;
  readonly start: number;
  /** When it stopped or its node was killed; Infinity while running. */
  readonly end: number;
  readonly endedBy: 'stop' | 'kill' | 'running';
  /** End of its valid-token period: its end, or the start of a higher token, whichever is first. */
  readonly validEnd: number;
}

export type SingletonViolationKind = 'overlap' | 'token_order' | 'unmatched_stop' | 'not_running' | 'late_recovery';

export interface SingletonViolation {
  readonly kind: SingletonViolationKind;
  readonly key: string;
  readonly message: string;
  readonly instances: readonly SingletonInstance[];
}

export interface SingletonReport {
  readonly verdict: Verdict;
  readonly keysSeen: number;
  readonly instances: readonly SingletonInstance[];
  readonly violations: readonly SingletonViolation[];
  /** Per expected key: ns from the final heal to the start of the instance running at the check (0 if it ran through), null if none. */
  readonly recoveryNs: Readonly<Record<string, number | null>>;
  /** Pairs where an instance kept running after a higher token of its key started (allowed: it was fenced). */
  readonly fencedOverlaps: number;
  readonly fencedOverlapNsMax: number;
}

interface MutableInstance {
  key: string;
  node: string;
  token: number;
  start: number;
  end: number;
  endedBy: 'stop' | 'kill' | 'running';
  validEnd: number;
}

function describeInstance(instance: SingletonInstance): string {
  const end = Number.isFinite(instance.end) ? String(instance.end) : '…';
  return `token ${instance.token} on ${instance.node} [${instance.start}, ${end})`;
}

export function checkSingletons(events: readonly SingletonEvent[], options: SingletonCheckOptions): SingletonReport {
  const latest = events.reduce((max, event) => Math.max(max, event.time), options.finalHealTime);
  const checkTime = options.checkTime ?? latest;
  if (checkTime < options.finalHealTime) {
    throw fedError('badarg', `checkTime ${checkTime} is before finalHealTime ${options.finalHealTime}`);
  }
  const violations: SingletonViolation[] = [];
  const byKey = buildInstances(events, violations);
  for (const kill of options.nodeKills ?? []) applyKill(byKey, kill);
  for (const instances of byKey.values()) computeValidity(instances);
  let fencedOverlaps = 0;
  let fencedOverlapNsMax = 0;
  for (const [key, instances] of byKey) {
    const result = checkOverlaps(key, instances, violations);
    fencedOverlaps += result.fencedOverlaps;
    fencedOverlapNsMax = Math.max(fencedOverlapNsMax, result.fencedOverlapNsMax);
  }
  const recoveryNs = checkLiveness(byKey, options, checkTime, violations);
  const instances = [...byKey.values()].flat();
  return {
    verdict: violations.length === 0 ? 'pass' : 'fail',
    keysSeen: byKey.size,
    instances,
    violations,
    recoveryNs,
    fencedOverlaps,
    fencedOverlapNsMax,
  };
}

function buildInstances(events: readonly SingletonEvent[], violations: SingletonViolation[]): Map<string, MutableInstance[]> {
  const ordered = events
    .map((event, index) => ({ event, index }))
    .sort((a, b) => a.event.time - b.event.time || order(a.event) - order(b.event) || a.index - b.index);
  const byKey = new Map<string, MutableInstance[]>();
  const highestToken = new Map<string, MutableInstance>();
  for (const { event } of ordered) {
    const instances = byKey.get(event.key) ?? [];
    byKey.set(event.key, instances);
    if (event.type === 'stop') {
      const running = instances.find(
        (instance) => instance.endedBy === 'running' && instance.node === event.node && instance.token === event.token,
      );
      if (running === undefined) {
        violations.push({
          kind: 'unmatched_stop',
          key: event.key,
          message: `key ${JSON.stringify(event.key)}: stop of token ${event.token} on ${event.node} at ${event.time} matches no running instance`,
          instances: [],
        });
        continue;
      }
      running.end = event.time;
      running.endedBy = 'stop';
      continue;
    }
    const instance: MutableInstance = { ...pick(event), end: Infinity, endedBy: 'running', validEnd: Infinity };
    const previous = highestToken.get(event.key);
    if (previous !== undefined && event.token <= previous.token) {
      violations.push({
        kind: 'token_order',
        key: event.key,
        message: `key ${JSON.stringify(event.key)}: ${describeInstance(instance)} started after ${describeInstance(previous)}; tokens must increase`,
        instances: [previous, instance],
      });
    }
    if (previous === undefined || event.token > previous.token) highestToken.set(event.key, instance);
    instances.push(instance);
  }
  return byKey;
}

function order(event: SingletonEvent): number {
  return event.type === 'stop' ? 0 : 1;
}

function pick(event: SingletonEvent): { key: string; node: string; token: number; start: number } {
  return { key: event.key, node: event.node, token: event.token, start: event.time };
}

function applyKill(byKey: Map<string, MutableInstance[]>, kill: { readonly node: string; readonly time: number }): void {
  for (const instances of byKey.values()) {
    for (const instance of instances) {
      if (instance.node !== kill.node || instance.start > kill.time || instance.end <= kill.time) continue;
      instance.end = kill.time;
      instance.endedBy = 'kill';
    }
  }
}

function computeValidity(instances: MutableInstance[]): void {
  for (const instance of instances) {
    let validEnd = instance.end;
    for (const other of instances) {
      if (other.token > instance.token) validEnd = Math.min(validEnd, Math.max(other.start, instance.start));
    }
    instance.validEnd = validEnd;
  }
}

function checkOverlaps(
  key: string,
  instances: readonly MutableInstance[],
  violations: SingletonViolation[],
): { fencedOverlaps: number; fencedOverlapNsMax: number } {
  let fencedOverlaps = 0;
  let fencedOverlapNsMax = 0;
  for (let first = 0; first < instances.length; first++) {
    for (let second = first + 1; second < instances.length; second++) {
      const a = instances[first] as MutableInstance;
      const b = instances[second] as MutableInstance;
      const from = Math.max(a.start, b.start);
      if (from < Math.min(a.validEnd, b.validEnd)) {
        violations.push({
          kind: 'overlap',
          key,
          message: `key ${JSON.stringify(key)}: ${describeInstance(a)} and ${describeInstance(b)} both held a valid token from ${from}`,
          instances: [a, b],
        });
        continue;
      }
      const livedTogether = Math.min(a.end, b.end) - from;
      if (a.token !== b.token && livedTogether > 0) {
        fencedOverlaps++;
        if (Number.isFinite(livedTogether)) fencedOverlapNsMax = Math.max(fencedOverlapNsMax, livedTogether);
      }
    }
  }
  return { fencedOverlaps, fencedOverlapNsMax };
}

function checkLiveness(
  byKey: ReadonlyMap<string, readonly MutableInstance[]>,
  options: SingletonCheckOptions,
  checkTime: number,
  violations: SingletonViolation[],
): Record<string, number | null> {
  const recoveryNs: Record<string, number | null> = {};
  for (const key of options.expectedKeys) {
    const live = (byKey.get(key) ?? []).find((instance) => instance.start <= checkTime && checkTime < instance.validEnd);
    if (live === undefined) {
      recoveryNs[key] = null;
      violations.push({ kind: 'not_running', key, message: `key ${JSON.stringify(key)}: no instance with a valid token runs at ${checkTime}, after the final heal at ${options.finalHealTime}`, instances: [] });
      continue;
    }
    recoveryNs[key] = Math.max(0, live.start - options.finalHealTime);
    const bound = options.recoveryBoundNs;
    if (bound !== undefined && live.start > options.finalHealTime + bound) {
      violations.push({ kind: 'late_recovery', key, message: `key ${JSON.stringify(key)}: ${describeInstance(live)} started ${live.start - options.finalHealTime} ns after the final heal, over the bound of ${bound} ns`, instances: [live] });
    }
  }
  return recoveryNs;
}

/** The violations as printable lines. */
export function formatSingletonViolations(report: SingletonReport): string {
  return report.violations.map((violation) => `${violation.kind}: ${violation.message}`).join('\n');
}
