/**
 * A virtual network for the federation scale simulator: a `Transport` per simulated node whose
 * streams are in-process pairs, so the real `Distribution` (handshake, sealing, lanes,
 * heartbeats) runs unchanged above it. Never imported by product code.
 *
 * Delivery is in order per stream, batched on `setImmediate` (zero simulated latency: see
 * virtual-time.ts). The network counts what a real one would show: streams opened and open per
 * address, and bytes and chunks written. `activity` grows with every write, which is what
 * `VirtualTime.settle()` waits to see stop.
 */
import { ByteStream, type ConnectOptions, type RawDuplex, type Transport, fedError } from '../../runtime/index.js';

type Listener = (...args: any[]) => void;

/** One end of an in-process stream pair. */
class VirtualDuplex implements RawDuplex {
  destroyed = false;
  peer: VirtualDuplex | undefined;
  readonly #listeners = new Map<string, Listener[]>();

  constructor(
    readonly network: VirtualNetwork,
    readonly owner: string,
  ) {}

  /** Chunks that arrived before anyone read this end (a socket buffers them too). */
  #unread: Buffer[] = [];

  on(event: string, listener: Listener): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener);
    this.#listeners.set(event, list);
    if (event === 'data' && this.#unread.length > 0) {
      const unread = this.#unread;
      this.#unread = [];
      for (const chunk of unread) listener(chunk);
    }
    return this;
  }

  emit(event: string, ...args: unknown[]): void {
    const list = this.#listeners.get(event);
    if (event === 'data' && (list === undefined || list.length === 0)) {
      this.#unread.push(args[0] as Buffer);
      return;
    }
    for (const listener of list ?? []) listener(...args);
  }

  write(chunk: Buffer): boolean {
    if (this.destroyed || this.peer === undefined) return false;
    this.network.deliver(this.peer, Buffer.from(chunk));
    return true;
  }

  end(): void {
    this.destroy();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.network.closed(this);
    const peer = this.peer;
    setImmediate(() => this.emit('close'));
    if (peer !== undefined && !peer.destroyed) this.network.deliverClose(peer);
  }
}

export class VirtualNetwork {
  readonly #listeners = new Map<string, (stream: ByteStream) => void>();
  readonly #queue: Array<[VirtualDuplex, Buffer | null]> = [];
  #flushScheduled = false;
  /** Open stream ends per owner address. */
  readonly #open = new Map<string, number>();
  activity = 0;
  bytesWritten = 0;
  chunksWritten = 0;
  streamsOpened = 0;

  transport(address: string): VirtualTransport {
    return new VirtualTransport(this, address);
  }

  /** Stream ends open at `address` now. */
  openAt(address: string): number {
    return this.#open.get(address) ?? 0;
  }

  listen(address: string, onStream: (stream: ByteStream) => void): void {
    if (this.#listeners.has(address)) throw fedError('badarg', `${address} is already listening`);
    this.#listeners.set(address, onStream);
  }

  unlisten(address: string): void {
    this.#listeners.delete(address);
  }

  /** A stream pair from `from` to the listener at `to`: the dialler's end, or undefined if nobody listens. */
  connect(from: string, to: string): VirtualDuplex | undefined {
    const accept = this.#listeners.get(to);
    if (accept === undefined) return undefined;
    const dialler = new VirtualDuplex(this, from);
    const acceptor = new VirtualDuplex(this, to);
    dialler.peer = acceptor;
    acceptor.peer = dialler;
    this.#opened(from);
    this.#opened(to);
    this.streamsOpened++;
    this.activity++;
    setImmediate(() => {
      if (!acceptor.destroyed) accept(new ByteStream(acceptor, undefined));
    });
    return dialler;
  }

  deliver(to: VirtualDuplex, chunk: Buffer): void {
    this.activity++;
    this.bytesWritten += chunk.length;
    this.chunksWritten++;
    this.#queue.push([to, chunk]);
    this.#schedule();
  }

  deliverClose(to: VirtualDuplex): void {
    this.activity++;
    this.#queue.push([to, null]);
    this.#schedule();
  }

  closed(end: VirtualDuplex): void {
    const count = (this.#open.get(end.owner) ?? 1) - 1;
    if (count > 0) this.#open.set(end.owner, count);
    else this.#open.delete(end.owner);
    this.activity++;
  }

  #opened(address: string): void {
    this.#open.set(address, (this.#open.get(address) ?? 0) + 1);
  }

  #schedule(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#queue.splice(0);
    for (const [to, chunk] of batch) {
      if (to.destroyed) continue;
      if (chunk === null) to.destroy();
      else to.emit('data', chunk);
    }
  }
}

export class VirtualTransport implements Transport {
  readonly kind = 'virtual';
  readonly #network: VirtualNetwork;
  readonly #address: string;
  readonly #streams = new Set<ByteStream>();
  #listening = false;
  #closed = false;

  constructor(network: VirtualNetwork, address: string) {
    this.#network = network;
    this.#address = address;
  }

  get address(): string | undefined {
    return this.#listening ? this.#address : undefined;
  }

  async listen(onStream: (stream: ByteStream) => void): Promise<string> {
    if (this.#closed) throw fedError('closed', 'transport is closed');
    this.#network.listen(this.#address, (stream) => {
      if (this.#closed) return stream.destroy();
      this.#track(stream);
      onStream(stream);
    });
    this.#listening = true;
    return this.#address;
  }

  async connect(address: string, _options: ConnectOptions = {}): Promise<ByteStream> {
    if (this.#closed) throw fedError('closed', 'transport is closed');
    const end = this.#network.connect(this.#address, address);
    if (end === undefined) throw fedError('nodedown', `cannot connect to ${address}: nobody listens there`, { address });
    return this.#track(new ByteStream(end, undefined));
  }

  #track(stream: ByteStream): ByteStream {
    this.#streams.add(stream);
    stream.raw.on('close', () => this.#streams.delete(stream));
    return stream;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#network.unlisten(this.#address);
    for (const stream of this.#streams) stream.destroy();
    this.#streams.clear();
  }
}
