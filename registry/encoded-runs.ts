/**
 * `EncodedRuns`: the encodings of recent runs of log entries, so that a batch of entries is
 * encoded once. The leader encodes what it appends, sends those bytes to every follower and
 * writes the same bytes to its disk; a follower keeps the bytes it received and writes them as
 * they are. (Encoding entries with msgpackr was, before this, three times per entry on the
 * leader and once more on each follower: a large share of the CPU a registration costs.) Runs
 * are encoded as `encodeRecords` encodes them (each entry shape once per run, not its keys once
 * per entry), by `encodeEntries` (entry-writer.ts: the same bytes, written by hand in about half
 * the time).
 *
 * A run is known by its entry objects, not their indexes: the core keeps the very objects it
 * was given, and a log suffix that is replaced comes back as new objects, so a lookup never
 * takes other entries at the same indexes for a known run. Bounded: past `ENCODED_RUNS_MAX` runs
 * or `ENCODED_RUN_BYTES_MAX` bytes the oldest are forgotten (their entries are encoded again if
 * they are needed again: a retransmission to a lagging follower).

 */
import { encodeEntries } from './entry-writer.js';
import type { Entry } from './raft/index.js';
import type { EncodedRun } from './raft-store.js';

export const ENCODED_RUNS_MAX = 256;
export const ENCODED_RUN_BYTES_MAX = 4 * 1024 * 1024;

interface Run {
  readonly entries: readonly Entry[];
  readonly bytes: Uint8Array;
}

export class EncodedRuns {
  /** By the first entry object of each run; insertion order is age. */
  readonly #byFirst = new Map<Entry, Run>();
  #bytes = 0;

  get size(): number {
    return this.#byFirst.size;
  }

  /** Remember that `bytes` encode exactly `entries` (as received from the leader, or encoded here). */
  remember(entries: readonly Entry[], bytes: Uint8Array): void {
    const first = entries[0];
    if (first === undefined) return;
    const known = this.#byFirst.get(first);
    if (known !== undefined) {
      this.#byFirst.delete(first);
      this.#bytes -= known.bytes.length;
    }
    this.#byFirst.set(first, { entries, bytes });
    this.#bytes += bytes.length;
    while (this.#byFirst.size > ENCODED_RUNS_MAX || (this.#bytes > ENCODED_RUN_BYTES_MAX && this.#byFirst.size > 1)) {
      const [oldest, run] = this.#byFirst.entries().next().value as [Entry, Run];
      this.#byFirst.delete(oldest);
      this.#bytes -= run.bytes.length;
    }
  }

  /**
   * `entries` as consecutive runs with their bytes: known runs as they are, each stretch
   * between them encoded now (and remembered). Their counts add up to `entries.length`.
   */
  runsOf(entries: readonly Entry[]): EncodedRun[] {
    const runs: EncodedRun[] = [];
    let unknownFrom = 0;
    let at = 0;
    while (at < entries.length) {
      const run = this.#byFirst.get(entries[at] as Entry);
      if (run === undefined || !startsWith(entries, at, run.entries)) {
        at++;
        continue;
      }
      if (unknownFrom < at) runs.push(this.#encodeNow(entries.slice(unknownFrom, at)));
      runs.push({ count: run.entries.length, bytes: run.bytes });
      at += run.entries.length;
      unknownFrom = at;
    }
    if (unknownFrom < entries.length) runs.push(this.#encodeNow(unknownFrom === 0 ? entries : entries.slice(unknownFrom)));
    return runs;
  }

  /**
   * The bytes of exactly `entries`: a known run's, else encoded now (and remembered). Entries
   * that span several known runs (a retransmission to a lagging follower) are encoded again:
   * the runs' bytes each define their shapes, and are not put together.
   */
  encodingOf(entries: readonly Entry[]): Uint8Array {
    const run = entries.length > 0 ? this.#byFirst.get(entries[0] as Entry) : undefined;
    if (run !== undefined && run.entries.length === entries.length && startsWith(entries, 0, run.entries)) return run.bytes;
    return this.#encodeNow(entries).bytes;
  }

  #encodeNow(entries: readonly Entry[]): EncodedRun {
    const bytes = encodeEntries(entries);
    this.remember(entries, bytes);
    return { count: entries.length, bytes };
  }
}

function startsWith(entries: readonly Entry[], at: number, run: readonly Entry[]): boolean {
  if (at + run.length > entries.length) return false;
  for (let offset = 0; offset < run.length; offset++) if (entries[at + offset] !== run[offset]) return false;
  return true;
}
