/**
 * What the registry itself did to the run's names, as the runner saw it: `registry-events.jsonl`,
 * written by a watch on the group (the admin `watch_poll` request, which reads the committed
 * changes a member has applied). The checkers take the cluster's word for which names it
 * removed and why (a name dies with its holder's node: when the leader declares the node down
 * it removes every name the node held; a restarted node's older pids lose theirs), instead of
 * the runner guessing what a fault "may have" removed.
 *
 * registry-events.jsonl, one change per line, in revision order:
 *   {"type": "put", "name": …, "pid": …, "revision": n, "time": ns}
 *   {"type": "delete", "name": …, "pid": …, "reason": "unregister"|"process_exit"|"node_down"
 *    |"stale_incarnation", "revision": n, "time": ns}
 *   {"type": "gap", "afterRevision": n, "revision": m, "time": ns} — changes in (n, m] were lost
 *    to the watch (the member had compacted them); the record is incomplete.
 * `revision` is the Raft index that made the change (one total order over all names); `time`
 * is when the runner saw it (the change was committed before then).
 *
 * Contract of `RegistryWatcher`: it polls one running member at a time from the last revision
 * it holds, moves to another member when one stops answering or has been silent for a while,
 * keeps every change once and in revision order (a lagging member may answer changes at or
 * below the asked revision; they are skipped), and `drain(target)` waits until it has seen
 * every change up to `target`. All polling stops at `stop()`.
 *
 * Two limits of `watch_poll` it works around (see the notes in the report to fedctl):
 * - one poll answers ONE change, and resumes strictly after a revision — but one command can
 *   make several changes at one revision (a node declared down loses all its names at once).
 *   So after a removal at revision R, the watch asks about each of the run's names on its own
 *   (the names never prefix one another) for its first change from R on, and keeps those at R.
 *   Every revision that removes names starts with a removal (a register by a node's new
 *   incarnation first drops the older pids' names), so no removal is missed; a put at the same
 *   revision as removals may be (that only loosens the checker's bounds, see removals.ts).
 * - a long poll that times out as a change lands answers no change but an applied index past
 *   it. So an empty answer is trusted only after a second poll that does not wait (it answers
 *   any change applied before it was asked) also comes back empty.
 *
 * A federated node's watch (`federated: true`) is its group's share of the global namespace: one
 * watch per group (revisions are per group). Its answers carry every change after the asked
 * revision (so no change of a revision is missed: `wholeRevisions`), its deletes say no reason
 * (recorded as `released`: unregistered, its process exited or its node went down — the checkers
 * take one that an acknowledged unregister answered with its revision as that unregister, and
 * the others as removals), and an empty answer says nothing about how far the member applied:
 * the watch asks the member's applied index first, then polls without waiting, and only if that
 * is empty too counts every revision up to that index as seen. Such a feed starts when the
 * member's process starts, after its replica re-applied what it had on disk: a restarted member
 * silently lacks those changes (it answers a poll from before them with what came later). So
 * the watch reads a member that was not running (in the same incarnation, `incarnation`) when
 * the watch began only once its feed shows the latest change the watch saw — then its feed
 * began before it, and holds every later change; it checks again whenever it has seen a newer
 * change. When no member that has run since the watch began is left (running, or paused or
 * killed and still in the same incarnation: it may come back) and no other passes that check,
 * what the others applied before their feeds began is lost to the watch: it records a gap up
 * to where a member's feed begins (the lowest revision a poll from is not refused `compacted`)
 * and goes on from there with that member (every later change is in its feed), so the record
 * says it is incomplete — or, when that feed began no later than what the watch covered,
 * nothing was lost and it just goes on.
 */
import type { AdminClient } from '../cli/admin-client.js';
import { connectAdmin } from '../cli/admin-client.js';
import { fedError, isFedError } from '../runtime/index.js';
import { sleep } from './cluster.js';
import { JsonLinesWriter } from './history.js';
import { requestWithin } from './workload.js';

/** `released`: a delete whose cause the node did not say (a federated node's feed). */
export type RemovalReason = 'process_exit' | 'node_down' | 'stale_incarnation' | 'released';
export type DeleteReason = 'unregister' | RemovalReason;

export type RegistryEvent =
  | { readonly type: 'put'; readonly name: string; readonly pid: string; readonly revision: number; readonly time: number }
  | { readonly type: 'delete'; readonly name: string; readonly pid: string; readonly reason: DeleteReason; readonly revision: number; readonly time: number }
  | { readonly type: 'gap'; readonly afterRevision: number; readonly revision: number; readonly time: number };

const DELETE_REASONS: readonly string[] = ['unregister', 'process_exit', 'node_down', 'stale_incarnation', 'released'];

/** Longest wait of one poll on the member. */
export const WATCH_POLL_WAIT_MS = 500;
/** Empty polls in a row after which the watch moves to another member (it may be cut off and lagging). */
const EMPTY_POLLS_BEFORE_MOVING = 4;
const WATCH_CONNECT_TIMEOUT_MS = 2_000;
const WATCH_ANSWER_MARGIN_MS = 3_000;
const WATCH_RETRY_MS = 250;

function isRemovalEvent(event: RegistryEvent): boolean {
  return event.type === 'delete' && event.reason !== 'unregister';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Why a parsed line is not a registry event, or undefined. */
export function registryEventProblem(event: unknown): string | undefined {
  if (!isRecord(event)) return 'not a JSON object';
  if (!isCount(event.revision)) return '"revision" must be a non-negative integer';
  if (typeof event.time !== 'number' || !Number.isFinite(event.time) || event.time < 0) return '"time" must be a non-negative number of nanoseconds';
  if (event.type === 'gap') return isCount(event.afterRevision) && event.afterRevision <= event.revision ? undefined : '"afterRevision" must be an integer at most "revision"';
  if (event.type !== 'put' && event.type !== 'delete') return '"type" must be put, delete or gap';
  if (typeof event.name !== 'string' || event.name.length === 0) return '"name" must be a non-empty string';
  if (typeof event.pid !== 'string' || event.pid.length === 0) return '"pid" must be a non-empty string';
  if (event.type === 'delete' && (typeof event.reason !== 'string' || !DELETE_REASONS.includes(event.reason))) {
    return `"reason" must be one of ${DELETE_REASONS.join(', ')}`;
  }
  return undefined;
}

export function formatRegistryEvent(event: RegistryEvent): string {
  const problem = registryEventProblem(event);
  if (problem !== undefined) throw fedError('badarg', `bad registry event: ${problem}`, { event });
  return JSON.stringify(event);
}

/** Parses registry-events.jsonl; refuses a bad line, or revisions that go backwards, naming the line. */
export function parseRegistryEvents(text: string, file = 'registry-events.jsonl'): RegistryEvent[] {
  const lines = text.split('\n');
  while (lines.length > 0 && (lines[lines.length - 1] as string).trim() === '') lines.pop();
  let revision = -1;
  return lines.map((raw, index) => {
    const line = index + 1;
    let event: unknown;
    try {
      event = JSON.parse(raw);
    } catch {
      throw fedError('badarg', `${file} line ${line}: not valid JSON`, { file, line });
    }
    const problem = registryEventProblem(event);
    if (problem !== undefined) throw fedError('badarg', `${file} line ${line}: ${problem}`, { file, line });
    const parsed = event as RegistryEvent;
    if (parsed.revision < revision) throw fedError('badarg', `${file} line ${line}: revision ${parsed.revision} is before the previous line's ${revision}`, { file, line });
    revision = parsed.revision;
    return parsed;
  });
}

interface WatchReply {
  readonly events: readonly Record<string, unknown>[];
  readonly revision: number;
}

export interface RegistryWatcherOptions {
  readonly path: string;
  readonly cookie: string;
  /** Names under this prefix are watched. */
  readonly prefix: string;
  /** Every name the run has used so far (none is a prefix of another). */
  readonly names: () => Iterable<string>;
  readonly running: () => readonly { name: string; address: string }[];
  readonly nowNs: () => number;
  readonly log: (line: string) => void;
  /** How to reach a member (default: a hidden admin connection, `connectAdmin`). */
  readonly connect?: (address: string, cookie: string, timeoutMs: number) => Promise<AdminClient>;
  /** The members are federated: their watch is the group's share of the global namespace (see the file comment). */
  readonly federated?: boolean;
  /** A member's incarnation (how many processes it has run under): a federated member restarted since the watch began is verified first. */
  readonly incarnation?: (node: string) => number;
  /** Every member, running or not (paused, killed): federated, one in its first incarnation may still come back. */
  readonly members?: () => readonly string[];
}

/** What a watch saw, for the checkers (checker/acknowledged.ts). */
export interface WatchHistory {
  readonly events: readonly RegistryEvent[];
  readonly coveredRevision: number;
  /** Whether each answer carried every change of its revisions. */
  readonly wholeRevisions: boolean;
}

export class RegistryWatcher {
  readonly events: RegistryEvent[] = [];
  readonly #options: RegistryWatcherOptions;
  readonly #writer: JsonLinesWriter<RegistryEvent>;
  /** Every change with a revision up to this one has been seen (or declared lost in a gap). */
  #coveredRevision = 0;
  #connection: AdminClient | undefined;
  #member = 0;
  #emptyPolls = 0;
  #stopped = false;
  /** Changes already kept, as `revision type name` (one revision may be asked about more than once). */
  readonly #kept = new Set<string>();
  /** Members in a row that no longer had the changes after the covered revision. */
  #compactedAnswers = 0;
  #loop: Promise<void> | undefined;
  #gaps = 0;
  /** Federated: each running member's incarnation when the watch began (their feeds hold every change since). */
  readonly #original = new Map<string, number>();
  /**
   * Federated: members (as `node#incarnation`) started since the watch began, and whether their
   * feed holds the change it was checked against (the watch's latest then): then it holds every
   * later one. A failed check is tried again once the watch has seen a newer change.
   */
  readonly #verified = new Map<string, { readonly complete: boolean; readonly against: number }>();

  constructor(options: RegistryWatcherOptions) {
    this.#options = options;
    this.#writer = new JsonLinesWriter(options.path, formatRegistryEvent);
  }

  /** Whether every change was seen (no gap). */
  get complete(): boolean {
    return this.#gaps === 0;
  }

  get coveredRevision(): number {
    return this.#coveredRevision;
  }

  /** The changes and gaps seen so far, and how far they go. */
  history(): WatchHistory {
    return { events: [...this.events], coveredRevision: this.#coveredRevision, wholeRevisions: this.#options.federated === true };
  }

  start(): void {
    const incarnation = this.#options.incarnation;
    if (this.#loop === undefined && incarnation !== undefined) for (const member of this.#options.running()) this.#original.set(member.name, incarnation(member.name));
    this.#loop ??= this.#run();
  }

  /** Waits until every change up to `revision` was seen; false after `timeoutMs`. */
  async drain(revision: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.#coveredRevision < revision) {
      if (performance.now() > deadline || this.#stopped) return false;
      await sleep(WATCH_RETRY_MS);
    }
    return true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await this.#disconnect();
    await this.#writer.close();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      if (this.#connection === undefined && !(await this.#connect())) {
        await sleep(WATCH_RETRY_MS);
        continue;
      }
      if (this.#options.federated === true) await this.#pollFederated(this.#connection as AdminClient);
      else await this.#poll(this.#connection as AdminClient);
    }
  }

  /** Members the watch may read: every running one, but (federated) not one whose feed is known to miss changes. */
  #readable(): { name: string; address: string }[] {
    return this.#options.running().filter((member) => {
      const key = this.#feedKey(member.name);
      const checked = key === undefined ? undefined : this.#verified.get(key);
      return checked === undefined || checked.complete || checked.against !== this.#latestChange()?.revision;
    });
  }

  /** `node#incarnation`, or undefined for a member whose feed holds every change since the watch began. */
  #feedKey(node: string): string | undefined {
    const incarnation = this.#options.incarnation;
    if (this.#options.federated !== true || incarnation === undefined) return undefined;
    const now = incarnation(node);
    return this.#original.get(node) === now ? undefined : `${node}#${now}`;
  }

  async #connect(): Promise<boolean> {
    const running = this.#readable();
    if (running.length === 0) return this.#resumeAfterLoss();
    const target = running[this.#member++ % running.length] as { name: string; address: string };
    try {
      const connection = await (this.#options.connect ?? connectAdmin)(target.address, this.#options.cookie, WATCH_CONNECT_TIMEOUT_MS);
      if (!(await this.#feedComplete(connection, target.name))) {
        await connection.close().catch(() => undefined);
        return false;
      }
      this.#connection = connection;
      this.#emptyPolls = 0;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Federated, no readable member: if no member that has run since the watch began can come
   * back either, record what the running ones applied before their feeds began as lost (a gap
   * up to one's applied index) and read that one from there on.
   */
  async #resumeAfterLoss(): Promise<boolean> {
    const members = this.#options.members;
    const running = this.#options.running();
    if (this.#options.federated !== true || members === undefined || running.length === 0) return false;
    if (members().some((node) => this.#feedKey(node) === undefined)) return false;
    const target = running[this.#member++ % running.length] as { name: string; address: string };
    let connection: AdminClient | undefined;
    try {
      connection = await (this.#options.connect ?? connectAdmin)(target.address, this.#options.cookie, WATCH_CONNECT_TIMEOUT_MS);
      const status = (await requestWithin(connection, { op: 'status' }, WATCH_ANSWER_MARGIN_MS)) as { applied: number };
      const afterRevision = this.#coveredRevision;
      const floor = status.applied > afterRevision ? await this.#feedFloor(connection, afterRevision, status.applied) : afterRevision;
      if (floor > afterRevision) {
        const gap: RegistryEvent = { type: 'gap', afterRevision, revision: floor, time: this.#options.nowNs() };
        this.#writer.append(gap);
        this.events.push(gap);
        this.#gaps++;
        this.#coveredRevision = floor;
        this.#options.log(`registry watch: every member restarted since the watch began; changes after revision ${afterRevision} up to ${floor} are lost to it`);
      }
      // Every change after its applied index is in its feed.
      this.#verified.set(this.#feedKey(target.name) as string, { complete: true, against: this.#coveredRevision });
      this.#connection = connection;
      this.#emptyPolls = 0;
      return true;
    } catch {
      await connection?.close().catch(() => undefined);
      return false;
    }
  }

  /**
   * Where a member's feed begins: the lowest revision in [from, upTo] that a poll from is not
   * refused `compacted` (fedctl's feed never skips silently: answered from r, it holds every
   * change after r; the applied index `upTo` always answers). Binary search, so at most
   * log2(upTo - from) + 1 polls. Only the changes up to it are lost to the watch: the gap was
   * recorded up to the applied index, some 125 revisions of changes the feed held (seed 3042).
   */
  async #feedFloor(connection: AdminClient, from: number, upTo: number): Promise<number> {
    let low = from;
    let high = upTo;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      let answered: boolean;
      try {
        await this.#watchPoll(connection, this.#options.prefix, middle, 0);
        answered = true;
      } catch (error) {
        if (!(isFedError(error, 'badarg') && error.details?.compacted === true)) throw error;
        answered = false;
      }
      if (answered) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** The latest change the watch saw (not a gap), if any. */
  #latestChange(): Exclude<RegistryEvent, { type: 'gap' }> | undefined {
    for (let index = this.events.length - 1; index >= 0; index--) {
      const event = this.events[index] as RegistryEvent;
      if (event.type !== 'gap') return event;
    }
    return undefined;
  }

  /**
   * Whether a member's feed holds every change the watch has yet to see: always for a member
   * running since the watch began; for one started since, if its feed shows the latest change
   * the watch saw (then it began before it). Not before the watch saw a change. A feed that
   * began after that change answers the poll from before it `compacted` (fedctl's feed never
   * skips silently): that member lacks it too — recorded as such, so that once every member is
   * known to lack it the watch records the gap and goes on (taken as a failed connection, the
   * check was asked again forever and the watch never got past it: seed 3032, all three
   * members of g1 killed at once).
   */
  async #feedComplete(connection: AdminClient, node: string): Promise<boolean> {
    const key = this.#feedKey(node);
    if (key === undefined) return true;
    if (this.#verified.get(key)?.complete === true) return true;
    const latest = this.#latestChange();
    if (latest === undefined) return false;
    let complete: boolean;
    try {
      const reply = await this.#watchPoll(connection, this.#options.prefix, latest.revision - 1, 0);
      complete = reply.events.some((event) => event.revision === latest.revision && event.type === latest.type && event.name === latest.name);
    } catch (error) {
      if (!(isFedError(error, 'badarg') && error.details?.compacted === true)) throw error;
      complete = false;
    }
    this.#verified.set(key, { complete, against: latest.revision });
    if (!complete) this.#options.log(`registry watch: ${node} restarted and its feed lacks the latest change the watch saw (revision ${latest.revision}); not read for now`);
    return complete;
  }

  async #watchPoll(connection: AdminClient, prefix: string, afterRevision: number, waitMs: number): Promise<WatchReply> {
    const reply = (await requestWithin(connection, { op: 'watch_poll', prefix, afterRevision, waitMs }, waitMs + WATCH_ANSWER_MARGIN_MS)) as WatchReply;
    return { events: reply.events.filter((event) => typeof event.revision === 'number' && event.revision > afterRevision), revision: reply.revision };
  }

  async #poll(connection: AdminClient): Promise<void> {
    const afterRevision = this.#coveredRevision;
    try {
      let reply = await this.#watchPoll(connection, this.#options.prefix, afterRevision, WATCH_POLL_WAIT_MS);
      if (reply.events.length === 0 && reply.revision > afterRevision) {
        const confirmed = await this.#watchPoll(connection, this.#options.prefix, afterRevision, 0);
        if (confirmed.events.length > 0) reply = confirmed;
      }
      this.#compactedAnswers = 0;
      const [first] = reply.events;
      if (first === undefined) {
        if (reply.revision > this.#coveredRevision) this.#coveredRevision = reply.revision;
        this.#emptyPolls++;
        if (this.#emptyPolls >= EMPTY_POLLS_BEFORE_MOVING) await this.#disconnect();
        return;
      }
      this.#emptyPolls = 0;
      const event = this.#record(first);
      if (isRemovalEvent(event)) await this.#sameRevision(connection, event);
      this.#coveredRevision = event.revision;
    } catch (error) {
      if (isFedError(error, 'badarg') && error.details?.compacted === true) {
        // Another member may still have them (a restarted one restores from a snapshot): ask
        // each running member before declaring the changes lost.
        this.#compactedAnswers++;
        if (this.#compactedAnswers >= this.#options.running().length) await this.#skipCompacted(connection, afterRevision);
      }
      await this.#disconnect();
      await sleep(WATCH_RETRY_MS);
    }
  }

  /** One poll of a federated member's feed: every change after the covered revision (see the file comment). */
  async #pollFederated(connection: AdminClient): Promise<void> {
    const afterRevision = this.#coveredRevision;
    try {
      let reply = await this.#watchPoll(connection, this.#options.prefix, afterRevision, WATCH_POLL_WAIT_MS);
      let applied = -1;
      if (reply.events.length === 0) {
        const status = (await requestWithin(connection, { op: 'status' }, WATCH_ANSWER_MARGIN_MS)) as { applied: number };
        applied = status.applied;
        reply = await this.#watchPoll(connection, this.#options.prefix, afterRevision, 0);
      }
      this.#compactedAnswers = 0;
      const changes = [...reply.events].sort((a, b) => (a.revision as number) - (b.revision as number));
      for (const change of changes) this.#record(change);
      const last = changes.at(-1);
      if (last !== undefined) {
        this.#emptyPolls = 0;
        this.#coveredRevision = Math.max(this.#coveredRevision, last.revision as number);
        return;
      }
      if (applied > this.#coveredRevision) this.#coveredRevision = applied;
      this.#emptyPolls++;
      if (this.#emptyPolls >= EMPTY_POLLS_BEFORE_MOVING) await this.#disconnect();
    } catch (error) {
      if (isFedError(error, 'badarg') && error.details?.compacted === true) {
        this.#compactedAnswers++;
        if (this.#compactedAnswers >= this.#readable().length) await this.#skipCompacted(connection, afterRevision);
      }
      await this.#disconnect();
      await sleep(WATCH_RETRY_MS);
    }
  }

  /** The other changes at the revision of `removal`: each name's first change from that revision on. */
  async #sameRevision(connection: AdminClient, removal: RegistryEvent): Promise<void> {
    for (const name of [...this.#options.names()].sort()) {
      if (name === (removal as { name: string }).name) continue;
      const reply = await this.#watchPoll(connection, name, removal.revision - 1, 0);
      const [first] = reply.events;
      if (first !== undefined && first.revision === removal.revision && first.name === name) this.#record(first);
    }
  }

  #record(raw: Record<string, unknown>): RegistryEvent {
    const time = this.#options.nowNs();
    const revision = raw.revision as number;
    // A delete without a reason the checkers know (a federated node's) is `released`.
    const reason = (typeof raw.reason === 'string' && DELETE_REASONS.includes(raw.reason) ? raw.reason : 'released') as DeleteReason;
    const event: RegistryEvent =
      raw.type === 'put'
        ? { type: 'put', name: String(raw.name), pid: String(raw.pid), revision, time }
        : { type: 'delete', name: String(raw.name), pid: String(raw.pid), reason, revision, time };
    const key = `${revision} ${event.type} ${String(raw.name)}`;
    if (this.#kept.has(key)) return event;
    this.#kept.add(key);
    this.#writer.append(event);
    this.events.push(event);
    return event;
  }

  /** The member no longer has the changes after `afterRevision`: record the gap and go on from what it has applied. */
  async #skipCompacted(connection: AdminClient, afterRevision: number): Promise<void> {
    try {
      const status = (await requestWithin(connection, { op: 'status' }, WATCH_ANSWER_MARGIN_MS)) as { applied: number };
      if (status.applied <= afterRevision) return;
      const gap: RegistryEvent = { type: 'gap', afterRevision, revision: status.applied, time: this.#options.nowNs() };
      this.#writer.append(gap);
      this.events.push(gap);
      this.#gaps++;
      this.#compactedAnswers = 0;
      this.#coveredRevision = status.applied;
      this.#options.log(`registry watch: changes after revision ${afterRevision} up to ${status.applied} were compacted before the watch saw them`);
    } catch {
      // Try again on the next member.
    }
  }

  async #disconnect(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection !== undefined) await connection.close().catch(() => undefined);
  }
}
