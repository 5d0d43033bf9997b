/**
 * `npm run bench -- wire`: what the link's encoding and decoding cost per data message, in one
 * process, without sockets or crypto: the part of a remote round trip's CPU that is ours.
 *
 * For each message shape, 16 senders take turns (as 16 calling processes do), so every message
 * starts a new run and pays for its header; the messages are packed into segments as a
 * connection packs them (`DataEncoder.header`, the direct `SimpleEncoder`, msgpackr for the
 * rest) and parsed back as the receiver parses a record (`parseRecord`). Prints µs per message
 * (best of several rounds) for encoding and for decoding, and the bytes per message.
 *
 * Then the Raft leader's encoding of a batch of log entries (64 registrations, as a group's
 * leader appends under load): µs per entry for `encodeRecords` (msgpackr) and for
 * `encodeEntries` (registry/entry-writer.ts, the same bytes), alone and with msgpackr encoding
 * link messages between batches (as on a leader).
 */
import { encode, encodeRecords } from '../runtime/codec.js';
import { DataEncoder, DataSegment, SimpleEncoder, parseRecord } from '../runtime/dist/wire.js';
import { Pid, Ref } from '../runtime/pid.js';
import { encodeEntries } from '../registry/entry-writer.js';

const LOCAL = 'bench-b@127.0.0.1';
const PEER = 'bench-a@127.0.0.1';
const SENDERS = 16;
const MESSAGES_PER_SEGMENT = 160;
const ROUNDS = 7;
const SEGMENTS_PER_ROUND = 1_000;
const WARMUP_SEGMENTS = 2_000;

const senders = Array.from({ length: SENDERS }, (_, index) => new Pid(PEER, 100 + index, 1));
const refs = senders.map((_, index) => new Ref(PEER, 5_000 + index, 1));
const target = new Pid(LOCAL, 7, 1);

const SHAPES: ReadonlyArray<readonly [string, (index: number) => unknown]> = [
  ["['ping', n]", (index) => ['ping', index]],
  ['{from, ref, body} (a request)', (index) => ({ from: senders[index % SENDERS], ref: refs[index % SENDERS], body: index })],
  ['{ref, body} (a reply)', (index) => ({ ref: refs[index % SENDERS], body: index })],
];

function encodeSegment(encoder: DataEncoder, simple: SimpleEncoder, message: (index: number) => unknown): Buffer {
  const segment = new DataSegment(Buffer.allocUnsafe(256 * 1024));
  for (let index = 0; index < MESSAGES_PER_SEGMENT; index++) {
    const from = senders[index % SENDERS] as Pid;
    const msg = message(index);
    const header = encoder.header('send', from, target);
    const start = segment.bodyOffset('send', from, target, header);
    const end = simple.write(msg, segment.buffer, start, segment.buffer.length);
    if (end >= 0) {
      segment.appendInPlace('send', from, target, header, end - start);
      continue;
    }
    const body = encoder.body(msg);
    segment.append('send', from, target, header, body, body.start, body.end);
  }
  return segment.finish();
}

/** Best µs per message over ROUNDS rounds of `run` (which handles one segment). */
function best(run: () => unknown): number {
  let fastest = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    for (let segment = 0; segment < SEGMENTS_PER_ROUND; segment++) run();
    fastest = Math.min(fastest, ((performance.now() - started) * 1_000) / (SEGMENTS_PER_ROUND * MESSAGES_PER_SEGMENT));
  }
  return fastest;
}

const ENTRIES_PER_BATCH = 64;
const ENTRY_BATCHES = 100;
const ENTRY_ROUNDS = 60;
const ENTRY_WARMUP_ROUNDS = 20;
const holder = new Pid(LOCAL, 42, 1);

/** Batches of registrations as the leader appends them: ids of the proposer's requests, names of 64 clients, one holder. */
function registrationBatches(): Array<Array<Record<string, unknown>>> {
  let index = 1_000;
  return Array.from({ length: ENTRY_BATCHES }, () =>
    Array.from({ length: ENTRIES_PER_BATCH }, (_, client) => {
      index++;
      return { term: 3, index, type: 'normal', data: { id: `${LOCAL}/1/${index}`, cmd: { op: 'register', name: `in-64/${client}/${index}`, pid: holder } } };
    }),
  );
}

/** µs per entry of one round: every batch encoded with `encodeBatch`, and `between` after each. */
function perEntry(batches: ReadonlyArray<ReadonlyArray<unknown>>, encodeBatch: (entries: readonly unknown[]) => unknown, between: () => void): number {
  const started = performance.now();
  for (const entries of batches) {
    encodeBatch(entries);
    between();
  }
  return ((performance.now() - started) * 1_000) / (batches.length * ENTRIES_PER_BATCH);
}

function entryEncoding(): void {
  const batches = registrationBatches();
  for (const entries of batches) {
    if (!Buffer.from(encodeEntries(entries)).equals(encodeRecords(entries))) throw new Error('encodeEntries and encodeRecords differ');
  }
  const messages = SHAPES.map(([, message], index) => message(index));
  const nothing = (): void => undefined;
  const linkMessages = (): void => {
    for (const message of messages) encode(message);
  };
  const bytes = encodeEntries(batches[0] as unknown[]).length / ENTRIES_PER_BATCH;
  console.log(`entries: batches of ${ENTRIES_PER_BATCH} registrations as the leader encodes them, ${bytes.toFixed(1)} bytes per entry`);
  for (const [label, between] of [['alone', nothing], ['with link messages between batches', linkMessages]] as const) {
    for (let warm = 0; warm < ENTRY_WARMUP_ROUNDS; warm++) {
      perEntry(batches, encodeRecords, between);
      perEntry(batches, encodeEntries, between);
    }
    // Rounds of each in turn (so both see the machine alike), the best of each; less what `between` costs alone.
    let betweenUs = between === nothing ? 0 : Infinity;
    let msgpackrUs = Infinity;
    let writerUs = Infinity;
    for (let round = 0; round < ENTRY_ROUNDS; round++) {
      if (between !== nothing) betweenUs = Math.min(betweenUs, perEntry(batches, nothing, between));
      msgpackrUs = Math.min(msgpackrUs, perEntry(batches, encodeRecords, between));
      writerUs = Math.min(writerUs, perEntry(batches, encodeEntries, between));
    }
    msgpackrUs -= betweenUs;
    writerUs -= betweenUs;
    console.log(`  ${label.padEnd(36)} encodeRecords ${msgpackrUs.toFixed(2)} µs  encodeEntries ${writerUs.toFixed(2)} µs  per entry (${(msgpackrUs / writerUs).toFixed(1)}×)`);
  }
}

export default async function (_args: string[]): Promise<void> {
  console.log(`wire: ${MESSAGES_PER_SEGMENT} data messages per segment from ${SENDERS} senders taking turns (a new run header each), node ${process.version}`);
  for (const [label, message] of SHAPES) {
    const encoder = new DataEncoder();
    const simple = new SimpleEncoder();
    const sample = encodeSegment(encoder, simple, message);
    if (parseRecord(sample, LOCAL, PEER).length !== MESSAGES_PER_SEGMENT) throw new Error(`${label}: the segment does not parse back`);
    for (let warm = 0; warm < WARMUP_SEGMENTS; warm++) parseRecord(encodeSegment(encoder, simple, message), LOCAL, PEER);
    const encodeUs = best(() => encodeSegment(encoder, simple, message));
    const decodeUs = best(() => parseRecord(sample, LOCAL, PEER));
    console.log(`  ${label.padEnd(32)} encode ${encodeUs.toFixed(2)} µs  decode ${decodeUs.toFixed(2)} µs  per message; ${(sample.length / MESSAGES_PER_SEGMENT).toFixed(1)} bytes each`);
  }
  entryEncoding();
}
