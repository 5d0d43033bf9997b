/**
 * Proves the connection layer over a real sealed TCP link on 127.0.0.1: signals, subsystem
 * control messages and peer lists arrive; a control signal never overtakes data sent before it
 * (the receiver holds it); the outbound bound drops data with a counter and keeps memory
 * bounded while `sendDataAsync` waits for drain or fails `buffer_full`; heartbeats flow and a
 * silent peer is declared down; a tampered record or a forged signal closes the link.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../runtime/codec.js';
import { CONTROL_AHEAD_STREAM_BYTES_MAX, Connection, type ConnectionHandlers, RECORD_BYTES_TARGET_DEFAULT } from '../../runtime/dist/connection.js';
import { frameHeader } from '../../runtime/dist/frame.js';
import type { FedError } from '../../runtime/kernel/errors.js';
import { LIMITS } from '../../runtime/kernel/limits.js';
import { Pid, Ref } from '../../runtime/pid.js';
import type { Signal } from '../../runtime/signals.js';
import { type HandshakePair, handshakePair, identity, sleep, waitFor } from './fixtures/helpers.js';

const A = 'a@127.0.0.1';
const B = 'b@127.0.0.1';

interface Recorder {
  readonly events: Array<{ kind: string; value: unknown }>;
  closedWith: FedError | undefined;
  closed: boolean;
  readonly handlers: ConnectionHandlers;
}

function recorder(): Recorder {
  const rec: Recorder = {
    events: [],
    closedWith: undefined,
    closed: false,
    handlers: {
      signal: (signal) => rec.events.push({ kind: signal.kind, value: signal }),
      control: (channel, payload) => rec.events.push({ kind: `control:${channel}`, value: payload }),
      peers: (peers) => rec.events.push({ kind: 'peers', value: peers }),
      closed: (reason) => {
        rec.closed = true;
        rec.closedWith = reason;
      },
    },
  };
  return rec;
}

let pair: HandshakePair | undefined;
const connections: Connection[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.close();
  await pair?.close();
  pair = undefined;
});

async function linked(options: { tickMs?: number; timeoutMs?: number; outboundBytesMax?: number; startB?: boolean } = {}) {
  pair = await handshakePair();
  const common = { tickMs: options.tickMs ?? 1_000, timeoutMs: options.timeoutMs ?? 5_000, outboundBytesMax: options.outboundBytesMax };
  const a = new Connection(pair.client, pair.initiator, { local: identity(A), ...common });
  const b = new Connection(pair.server, pair.responder, { local: identity(B), ...common });
  connections.push(a, b);
  const recA = recorder();
  const recB = recorder();
  a.start(recA.handlers);
  if (options.startB !== false) b.start(recB.handlers);
  return { a, b, recA, recB };
}

describe('connection', () => {
  it('connection — signals, control messages and peer lists arrive in order', async () => {
    const { a, recB } = await linked();
    const from = new Pid(A, 1, 1);
    const to = new Pid(B, 2, 1);
    a.sendSignal({ kind: 'send', from, to, msg: { hello: 'world', n: 1 } });
    a.sendSignal({ kind: 'reg_send', from: undefined, to: { name: 'echo', node: B }, msg: 'x' });
    a.sendControl('raft', { term: 3 });
    a.sendPeers([{ name: 'c@127.0.0.1', address: '127.0.0.1:9' }]);
    await waitFor(() => recB.events.length === 4);
    const kinds = recB.events.map((event) => event.kind).sort();
    expect(kinds).toEqual(['control:raft', 'peers', 'reg_send', 'send']);
    const send = recB.events.find((event) => event.kind === 'send')!.value as Signal & { kind: 'send' };
    expect(send.from?.equals(from)).toBe(true);
    expect(send.to.equals(to)).toBe(true);
    expect(send.msg).toEqual({ hello: 'world', n: 1 });
    expect(recB.events.find((event) => event.kind === 'control:raft')!.value).toEqual({ term: 3 });
  });

  it('connection — an exit signal never overtakes data sent before it', async () => {
    const { a, b, recB } = await linked();
    const from = new Pid(A, 1, 1);
    const to = new Pid(B, 2, 1);
    for (let index = 0; index < 100; index++) a.sendSignal({ kind: 'send', from, to, msg: index });
    a.sendSignal({ kind: 'exit', from, to, reason: 'boom' });
    a.sendSignal({ kind: 'send', from, to, msg: 100 });
    await waitFor(() => recB.events.length === 102);
    const order = recB.events.map((event) => (event.kind === 'send' ? (event.value as { msg: number }).msg : event.kind));
    expect(order).toEqual([...Array.from({ length: 100 }, (_, index) => index), 'exit', 100]);
    // The exit travelled ahead on the control lane and was held until the data caught up.
    expect(b.stats.signalsHeld).toBeGreaterThanOrEqual(1);
  });

  it('connection — data over the outbound bound is dropped and counted; memory stays bounded', async () => {
    const boundBytes = 256 * 1024;
    const { a, b, recB } = await linked({ outboundBytesMax: boundBytes, startB: false });
    (pair!.server.raw as unknown as { pause(): void }).pause();
    const from = new Pid(A, 1, 1);
    const to = new Pid(B, 2, 1);
    const payload = Buffer.alloc(8 * 1024, 1);
    let accepted = 0;
    for (let round = 0; round < 40; round++) {
      for (let index = 0; index < 100; index++) if (a.sendSignal({ kind: 'send', from, to, msg: payload })) accepted++;
      await sleep(2);
    }
    expect(a.stats.dataDropped).toBe(4_000 - accepted);
    expect(a.stats.dataDropped).toBeGreaterThan(0);
    expect(a.outboundBytes).toBeLessThanOrEqual(boundBytes);
    expect(a.stats.outboundBytesPeak).toBeLessThanOrEqual(boundBytes);
    // The awaiting API refuses after its timeout instead of growing the buffer.
    await expect(a.sendDataAsync({ kind: 'send', from, to, msg: payload }, 50)).rejects.toMatchObject({ code: 'buffer_full' });
    // Once the reader drains, a waiting sender gets in and everything accepted arrives.
    const waiting = a.sendDataAsync({ kind: 'send', from, to, msg: 'last' }, 10_000);
    (pair!.server.raw as unknown as { resume(): void }).resume();
    b.start(recB.handlers);
    await waiting;
    await waitFor(() => recB.events.length === accepted + 1, 10_000, 'all accepted data');
    expect(recB.events.at(-1)?.value).toMatchObject({ msg: 'last' });
    expect(a.closed).toBe(false);
  });

  it('connection — a control signal from another process is not held behind queued data', async () => {
    const { a, b, recB } = await linked();
    const flooder = new Pid(A, 1, 1);
    const other = new Pid(A, 2, 1);
    const to = new Pid(B, 3, 1);
    for (let index = 0; index < 100; index++) a.sendSignal({ kind: 'send', from: flooder, to, msg: index });
    a.sendSignal({ kind: 'link', from: other, to });
    await waitFor(() => recB.events.length === 101);
    // The link travelled ahead on the control lane and, being from another sender, went straight in.
    expect(recB.events[0]?.kind).toBe('link');
    expect(b.stats.signalsHeld).toBe(0);
  });

  it('connection — a peer that stops reading while signals are spammed is cut off with buffer_full; memory stays bounded', async () => {
    const boundBytes = 256 * 1024;
    const { a, recA } = await linked({ outboundBytesMax: boundBytes, startB: false });
    (pair!.server.raw as unknown as { pause(): void }).pause();
    const from = new Pid(A, 1, 1);
    const to = new Pid(B, 2, 1);
    const roundsMax = 2_000;
    let rounds = 0;
    // Spam monitors in small batches, letting every batch be flushed into the stream.
    for (; rounds < roundsMax && !a.closed; rounds++) {
      for (let index = 0; index < 500; index++) a.sendSignal({ kind: 'monitor', from, to, ref: new Ref(A, rounds * 500 + index, 1) });
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(a.closed).toBe(true);
    expect(rounds).toBeLessThan(roundsMax);
    expect(recA.closedWith?.code).toBe('buffer_full');
    // What this node held for the peer never went past the bound plus what the stream may hold ahead.
    expect(a.stats.outboundBytesPeak).toBeLessThanOrEqual(boundBytes + CONTROL_AHEAD_STREAM_BYTES_MAX + RECORD_BYTES_TARGET_DEFAULT);
  });

  it('connection — sendDataAsync resolves only once its message is queued, even one larger than the bound', async () => {
    const boundBytes = 64 * 1024;
    const { a, recB } = await linked({ outboundBytesMax: boundBytes });
    const from = new Pid(A, 1, 1);
    const to = new Pid(B, 2, 1);
    expect(a.sendSignal({ kind: 'send', from, to, msg: Buffer.alloc(60 * 1024, 1) })).toBe(true);
    // Over the bound with the buffer busy: it waits, then goes once nothing else is queued.
    await a.sendDataAsync({ kind: 'send', from, to, msg: Buffer.alloc(100 * 1024, 2) }, 5_000);
    await waitFor(() => recB.events.length === 2, 5_000, 'both messages');
    expect((recB.events[1]?.value as { msg: Buffer }).msg.length).toBe(100 * 1024);
    expect(a.stats.dataDropped).toBe(0);
  });

  /** Pause the peer's reading and send 32 KiB messages until the bound refuses one (the kernel's buffers fill first). */
  async function fillUntilRefused(a: Connection, from: Pid, to: Pid): Promise<number> {
    (pair!.server.raw as unknown as { pause(): void }).pause();
    let accepted = 0;
    for (let round = 0; round < 2_000 && a.sendSignal({ kind: 'send', from, to, msg: Buffer.alloc(32 * 1024) }); round++) {
      accepted++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(a.stats.dataDropped).toBe(1);
    return accepted;
  }

  it('connection — a process\'s plain sends and signals never overtake its own waiting sendDataAsync', async () => {
    const { a, b, recB } = await linked({ outboundBytesMax: 128 * 1024, startB: false });
    const filler = new Pid(A, 1, 1);
    const waiter = new Pid(A, 2, 1);
    const bystander = new Pid(A, 3, 1);
    const to = new Pid(B, 9, 1);
    const filled = await fillUntilRefused(a, filler, to);
    const first = a.sendDataAsync({ kind: 'send', from: waiter, to, msg: { n: 'first', pad: Buffer.alloc(40 * 1024) } }, 10_000);
    // These would fit at once, but they must follow `first`.
    expect(a.sendSignal({ kind: 'send', from: waiter, to, msg: { n: 'second' } })).toBe(true);
    expect(a.sendSignal({ kind: 'exit', from: waiter, to, reason: 'third' })).toBe(true);
    // Another process is not held up by the waiting one.
    expect(a.sendSignal({ kind: 'send', from: bystander, to, msg: { n: 'bystander' } })).toBe(true);
    (pair!.server.raw as unknown as { resume(): void }).resume();
    b.start(recB.handlers);
    await first;
    await waitFor(() => recB.events.length === filled + 4, 10_000, 'everything accepted');
    const fromWaiter = recB.events
      .filter((event) => (event.value as { from?: Pid }).from?.equals(waiter) === true)
      .map((event) => (event.kind === 'exit' ? (event.value as { reason: string }).reason : (event.value as { msg: { n: string } }).msg.n));
    expect(fromWaiter).toEqual(['first', 'second', 'third']);
    const order = recB.events.map((event) => (event.value as { from: Pid }).from.id);
    expect(order.indexOf(bystander.id)).toBeLessThan(order.indexOf(waiter.id));
    expect(a.stats.dataDropped).toBe(1);
  });

  it('connection — an awaited send that times out is refused buffer_full; the signals behind it still go', async () => {
    const { a, b, recB } = await linked({ outboundBytesMax: 64 * 1024, startB: false });
    const filler = new Pid(A, 1, 1);
    const waiter = new Pid(A, 2, 1);
    const to = new Pid(B, 9, 1);
    await fillUntilRefused(a, filler, to);
    const refused = a.sendDataAsync({ kind: 'send', from: waiter, to, msg: { n: 'never', pad: Buffer.alloc(40 * 1024) } }, 50);
    a.sendSignal({ kind: 'exit', from: waiter, to, reason: 'after' });
    await expect(refused).rejects.toMatchObject({ code: 'buffer_full' });
    (pair!.server.raw as unknown as { resume(): void }).resume();
    b.start(recB.handlers);
    await waitFor(() => recB.events.some((event) => event.kind === 'exit'), 10_000, 'the exit');
    expect(recB.events.some((event) => (event.value as { msg?: { n?: string } }).msg?.n === 'never')).toBe(false);
    expect(a.closed).toBe(false);
  });

  it('connection — a message larger than the frame limit is dropped, and refused by sendDataAsync', async () => {
    pair = await handshakePair({ frameBytesMax: 1024 }, { frameBytesMax: 1024 });
    const a = new Connection(pair.client, pair.initiator, { local: identity(A) });
    connections.push(a);
    a.start(recorder().handlers);
    const signal: Signal = { kind: 'send', from: undefined, to: new Pid(B, 2, 1), msg: Buffer.alloc(2048) };
    expect(a.sendSignal(signal)).toBe(false);
    expect(a.stats.dataDropped).toBe(1);
    await expect(a.sendDataAsync(signal)).rejects.toMatchObject({ code: 'frame_too_large' });
  });

  it('connection — oversized control messages are refused at the sender, never sent', async () => {
    pair = await handshakePair({ frameBytesMax: 1024 }, { frameBytesMax: 1024 });
    const a = new Connection(pair.client, pair.initiator, { local: identity(A) });
    const b = new Connection(pair.server, pair.responder, { local: identity(B) });
    connections.push(a, b);
    const recB = recorder();
    a.start(recorder().handlers);
    b.start(recB.handlers);
    expect(() => a.sendControl('raft', Buffer.alloc(2048))).toThrow(expect.objectContaining({ code: 'frame_too_large' }));
    const huge = { kind: 'exit', from: new Pid(A, 1, 1), to: new Pid(B, 2, 1), reason: 'x'.repeat(2048) } as const;
    expect(a.sendSignal(huge)).toBe(false);
    expect(a.stats.controlDropped).toBe(1);
    a.sendControl('raft', 'small');
    await waitFor(() => recB.events.length === 1);
    expect(recB.events[0]).toEqual({ kind: 'control:raft', value: 'small' });
    expect(a.closed || b.closed).toBe(false);
  });

  it('connection — heartbeats flow both ways while the link is idle', async () => {
    const { a, b } = await linked({ tickMs: 10, timeoutMs: 1_000 });
    await waitFor(() => a.stats.heartbeatsReceived >= 5 && b.stats.heartbeatsReceived >= 5);
    expect(a.closed || b.closed).toBe(false);
  });

  it('connection — a silent peer is declared down after the heartbeat timeout', async () => {
    const { a, recA } = await linked({ tickMs: 10, timeoutMs: 100, startB: false });
    await waitFor(() => recA.closed, 3_000, 'heartbeat timeout');
    expect(recA.closedWith?.code).toBe('nodedown');
    expect(recA.closedWith?.message).toMatch(/silent/);
    expect(a.closed).toBe(true);
  });

  it('connection — a tampered record closes the link with bad_frame', async () => {
    const { recA } = await linked({ startB: false });
    const [ciphertext, tag] = pair!.responder.sealer!.seal(encode([0]));
    tag[0] = (tag[0] as number) ^ 0xff;
    pair!.server.write([frameHeader(ciphertext.length + tag.length), ciphertext, tag]);
    await waitFor(() => recA.closed);
    expect(recA.closedWith?.code).toBe('bad_frame');
  });

  it('connection — a replayed record closes the link', async () => {
    const { recA } = await linked({ startB: false });
    const [ciphertext, tag] = pair!.responder.sealer!.seal(encode([0]));
    const record = [frameHeader(ciphertext.length + tag.length), ciphertext, tag];
    pair!.server.write(record);
    pair!.server.write(record);
    await waitFor(() => recA.closed);
    expect(recA.closedWith?.code).toBe('bad_frame');
  });

  for (const [what, message] of [
    ['a send to a pid of a third node', [1, null, new Pid('c@127.0.0.1', 1, 1), 'x']],
    ['a link forged from a third node', [3, 0, 'link', new Pid('c@127.0.0.1', 1, 1), new Pid(A, 1, 1), null, null]],
    ['an unknown message type', [99, 'x']],
    ['an unknown signal kind', [3, 0, 'explode', new Pid(B, 1, 1), new Pid(A, 1, 1), null, null]],
    ['a monitor without a ref', [3, 0, 'monitor', new Pid(B, 1, 1), new Pid(A, 1, 1), 'not-a-ref', null]],
  ] as const) {
    it(`connection — ${what} closes the link and reaches nobody`, async () => {
      const { recA } = await linked({ startB: false });
      const [ciphertext, tag] = pair!.responder.sealer!.seal(encode(message));
      pair!.server.write([frameHeader(ciphertext.length + tag.length), ciphertext, tag]);
      await waitFor(() => recA.closed);
      expect(recA.closedWith?.code).toBe('bad_frame');
      expect(recA.events).toEqual([]);
    });
  }

  it('connection — a frame header over the frame limit after the handshake closes the link with frame_too_large', async () => {
    const { a, recA } = await linked({ startB: false });
    // The declared length alone is refused: nothing of the body is waited for or buffered.
    pair!.server.write([frameHeader(LIMITS.frameBytesMax + 1)]);
    await waitFor(() => recA.closed);
    expect(recA.closedWith?.code).toBe('frame_too_large');
    expect(recA.events).toEqual([]);
    expect(a.closed).toBe(true);
  });

  it('connection — a record with a bad message after good ones is refused whole: nothing of it is delivered', async () => {
    const { recA } = await linked({ startB: false });
    const good = encode([1, null, new Pid(A, 1, 1), 'delivered?']);
    const signal = encode([3, 0, 'monitor', new Pid(B, 1, 1), new Pid(A, 1, 1), new Ref(B, 5, 1), null]);
    const [ciphertext, tag] = pair!.responder.sealer!.seal(Buffer.concat([good, signal, encode([99, 'x'])]));
    pair!.server.write([frameHeader(ciphertext.length + tag.length), ciphertext, tag]);
    await waitFor(() => recA.closed);
    expect(recA.closedWith?.code).toBe('bad_frame');
    expect(recA.events).toEqual([]);
  });

  it('connection — a record of several good messages delivers them all, in order', async () => {
    const { recA } = await linked({ startB: false });
    const sends = [0, 1, 2].map((k) => encode([1, null, new Pid(A, 1, 1), `m${k}`]));
    const [ciphertext, tag] = pair!.responder.sealer!.seal(Buffer.concat([...sends, encode([0])]));
    pair!.server.write([frameHeader(ciphertext.length + tag.length), ciphertext, tag]);
    await waitFor(() => recA.events.length === 3);
    expect(recA.events.map((event) => (event.value as { msg: unknown }).msg)).toEqual(['m0', 'm1', 'm2']);
    expect(recA.closed).toBe(false);
  });

  it('connection — a stream that ends inside a record closes the link with bad_frame, not as a lost connection', async () => {
    const { recA } = await linked({ startB: false });
    const [ciphertext, tag] = pair!.responder.sealer!.seal(encode([0]));
    const record = Buffer.concat([frameHeader(ciphertext.length + tag.length), ciphertext, tag]);
    pair!.server.write([record.subarray(0, record.length - 3)]);
    pair!.server.raw.end();
    await waitFor(() => recA.closed);
    expect(recA.closedWith?.code).toBe('bad_frame');
    expect(recA.closedWith?.message).toMatch(/ended inside a frame/);
  });

  it('connection — a valid monitor signal from the peer is accepted', async () => {
    const { recA } = await linked({ startB: false });
    const signal = [3, 0, 'monitor', new Pid(B, 1, 1), new Pid(A, 1, 1), new Ref(B, 5, 1), null];
    const [ciphertext, tag] = pair!.responder.sealer!.seal(encode(signal));
    pair!.server.write([frameHeader(ciphertext.length + tag.length), ciphertext, tag]);
    await waitFor(() => recA.events.length === 1);
    expect(recA.events[0]?.kind).toBe('monitor');
    expect(recA.closed).toBe(false);
  });
});
