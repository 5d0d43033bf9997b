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
 * - every stop matches a running instance (`unmatched_stop`);
 * - a paused owner stops before it acts (`ran_after_resume`): an instance whose node was
 *   SIGSTOPped while it ran, and that was superseded during the pause (an instance of its key
 *   with a higher token started before the resume) or whose node stayed paused longer than any
 *   lease it held (`leaseNs`: the product stops an owner's instance before its lease could have
 *   expired by anyone else's clock; not for a node that was its group's only member, which is
 *   its own quorum and whose lease no other clock measures), must be stopped within
 *   `resumeStopGraceNs` of the SIGCONT.
 *   A paused instance is alive while stopped (it keeps its token; only a higher token fences
 *   it), so this is the only check that sees a fenced instance that runs on after it resumes.
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
  /**
   * Nodes SIGSTOPped during the run: from the SIGSTOP to the SIGCONT (`to` Infinity if never
   * resumed); `alone`: the node was then its group's only member, its own quorum, so no lease of
   * its could run out (only supersession counts).
   */
  readonly nodePauses?: readonly { readonly node: string; readonly from: number; readonly to: number; readonly alone?: boolean }[];
  /** A pause this long outlasts any lease an owner held (the product's lease plus its clock-drift budget); default: only supersession counts. */
  readonly leaseNs?: number;
  /** How soon after the SIGCONT a paused instance that must stop has to be stopped (default `RESUME_STOP_GRACE_NS`). */
  readonly resumeStopGraceNs?: number;
}

/**
 * Default time a resumed owner has to stop an instance it must not keep: its overdue lease
 * timer fires once the event loop has handled what arrived during the pause, and the stop line
 * is written (fsynced) once the instance is dead.
 */
export const RESUME_STOP_GRACE_NS = 1_000_000_000;
/**
 * How far before the recorded resume an event's logged time may fall and still have happened
 * after it: nodes log whole milliseconds (`Date.now()`), the runner reads a nanosecond clock.
 */
export const LOG_CLOCK_SLACK_NS = 2_000_000;

export interface SingletonInstance {
  readonly key: string;
  readonly node: string;
  readonly token: number;
  readonly start: number;
  /** When it stopped or its node was killed; Infinity while running. */
  readonly end: number;
  readonly endedBy: 'stop' | 'kill' | 'running';
  /** Why it stopped, when its node said (`lease_expired`, `claim_lost`, `moved`, …). */
  readonly stopReason?: string;
  /** End of its valid-token period: its end, or the start of a higher token, whichever is first. */
  readonly validEnd: number;
}

/** An instance alive when its node was SIGSTOPped, and what became of it after the SIGCONT. */
export interface PausedInstance {
  readonly instance: SingletonInstance;
  readonly pausedAt: number;
  readonly resumedAt: number;
  /** A higher token of its key started before the resume. */
  readonly superseded: boolean;
  /** The pause lasted at least `leaseNs`, and the node was not its group's only member. */
  readonly outlivedLease: boolean;
  /** It had to stop within the grace after the resume (superseded or outlived its lease). */
  readonly mustStop: boolean;
  /** ns from the resume to its end (stop or kill); null if it ended during the pause or still runs. */
  readonly endedAfterResumeNs: number | null;
}

export type SingletonViolationKind = 'overlap' | 'token_order' | 'unmatched_stop' | 'not_running' | 'late_recovery' | 'ran_after_resume';

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
  /** Instances whose node was paused while they ran, in pause order. */
  readonly pausedInstances: readonly PausedInstance[];
}

interface MutableInstance {
  key: string;
  node: string;
  token: number;
  start: number;
  end: number;
  endedBy: 'stop' | 'kill' | 'running';
  stopReason?: string;
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
  const pausedInstances = checkPauses(byKey, options, violations);
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
    pausedInstances,
  };
}

/** Each instance alive at a SIGSTOP of its node: superseded or past its lease by the SIGCONT, it must stop right after. */
function checkPauses(byKey: ReadonlyMap<string, readonly MutableInstance[]>, options: SingletonCheckOptions, violations: SingletonViolation[]): PausedInstance[] {
  const grace = options.resumeStopGraceNs ?? RESUME_STOP_GRACE_NS;
  const paused: PausedInstance[] = [];
  const pauses = [...(options.nodePauses ?? [])].sort((a, b) => a.from - b.from);
  for (const pause of pauses) {
    for (const [key, instances] of byKey) {
      for (const instance of instances) {
        if (instance.node !== pause.node || instance.start > pause.from || instance.end <= pause.from) continue;
        const superseded = instances.some((other) => other.token > instance.token && other.start < pause.to);
        // A lone member is its own quorum: it never loses contact with it, so its lease does not
        // run out while it is stopped (nobody else could claim the key anyway).
        const outlivedLease = options.leaseNs !== undefined && pause.alone !== true && pause.to - pause.from >= options.leaseNs;
        const mustStop = Number.isFinite(pause.to) && (superseded || outlivedLease);
        // A stopped node does nothing, so a stop it logged in the resume's last moments came after
        // it: the node logs whole milliseconds, the runner reads its own clock (LOG_CLOCK_SLACK_NS).
        // A kill is the runner's own record, on its clock.
        const slack = instance.endedBy === 'stop' ? LOG_CLOCK_SLACK_NS : 0;
        const endedAfterResumeNs = instance.end > pause.to - slack && Number.isFinite(instance.end) ? Math.max(0, instance.end - pause.to) : null;
        paused.push({ instance, pausedAt: pause.from, resumedAt: pause.to, superseded, outlivedLease, mustStop, endedAfterResumeNs });
        if (mustStop && instance.end > pause.to + grace) {
          const why = superseded ? 'a higher token of its key started while it was paused' : `its node was paused ${pause.to - pause.from} ns, past its lease of ${options.leaseNs} ns`;
          const ran = Number.isFinite(instance.end) ? `ran ${instance.end - pause.to} ns after the resume` : 'still ran at the end';
          violations.push({
            kind: 'ran_after_resume',
            key,
            message: `key ${JSON.stringify(key)}: ${describeInstance(instance)} was paused from ${pause.from} to ${pause.to}; ${why}, yet it ${ran} (it must stop within ${grace} ns)`,
            instances: [instance],
          });
        }
      }
    }
  }
  return paused;
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
      if (event.reason !== undefined) running.stopReason = event.reason;
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
