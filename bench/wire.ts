/**
 * `npm run bench -- wire`: what the link's encoding and decoding cost per data message, in one
 * process, without sockets or crypto: the part of a remote round trip's CPU that is ours.
 *
 * For each message shape, 16 senders take turns (as 16 calling processes do), so every message
 * starts a new run and pays for its header; the messages are packed into segments as a
 * connection packs them (`DataEncoder.header`, the direct `SimpleEncoder`, msgpackr for the
 * rest) and parsed back as the receiver parses a record (`parseRecord`). Prints µs per message
 * (best of several rounds) for encoding and for decoding, and the bytes per message.
 */
import { DataEncoder, DataSegment, SimpleEncoder, parseRecord } from '../runtime/dist/wire.js';
import { Pid, Ref } from '../runtime/pid.js';

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
}
