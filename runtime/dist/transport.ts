/**
 * Transports: how bytes get between two nodes. Every transport offers the same small interface
 * (`listen`, `connect`, `close`) and hands out `ByteStream`s, a minimal duplex byte stream that
 * writes several buffers in one go (`writev` on TCP through cork/uncork) and reports data,
 * drain and close through plain callbacks. The handshake, sealing and lanes run above this
 * interface and never know which transport carries them.
 *
 * Contract: `listen` resolves to the address a peer passes to `connect`; `connect` rejects with
 * a FedError (`nodedown` if unreachable, `timeout`); `close` stops listening and destroys every
 * stream this transport created, and is idempotent. Addresses are strings whose form belongs to
 * the transport (`host:port` for tcp, a hex public key for hyperswarm).
 */
import net from 'node:net';
import { fedError } from '../kernel/errors.js';

/** The subset of a Node or streamx duplex that a `ByteStream` needs. */
export interface RawDuplex {
  write(chunk: Buffer): boolean;
  end(): unknown;
  destroy(error?: Error): unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  cork?: () => void;
  uncork?: () => void;
  readonly destroyed?: boolean;
  /** Bytes written but not yet handed on (a Node stream). */
  readonly writableLength?: number;
  /** The same for a streamx stream (hyperswarm), which has no `writableLength`. */
  readonly _writableState?: { readonly buffered?: number };
}

/** Below this size, a batch of buffers is copied into one write instead of a writev. */
const SMALL_WRITE_BYTES_MAX = 16 * 1024;

export interface ByteStreamHandlers {
  data(chunk: Buffer): void;
  drain(): void;
  /** Called once, when the stream is gone for any reason (error, end, destroy). */
  close(error: Error | undefined): void;
}

/** A duplex byte stream as the distribution layer sees it. */
export class ByteStream {
  readonly raw: RawDuplex;
  /** The remote host if the transport knows it (tcp), for the loopback-only plaintext check. */
  readonly remoteHost: string | undefined;
  #handlers: ByteStreamHandlers | undefined;
  #pending: Buffer[] = [];
  #closed = false;
  #closeError: Error | undefined;
  #closeReported = false;
  #endTimer: NodeJS.Timeout | undefined;

  constructor(raw: RawDuplex, remoteHost: string | undefined) {
    this.raw = raw;
    this.remoteHost = remoteHost;
    raw.on('data', (chunk: Buffer) => {
      if (this.#handlers === undefined) this.#pending.push(chunk);
      else this.#handlers.data(chunk);
    });
    raw.on('drain', () => this.#handlers?.drain());
    raw.on('error', (error: Error) => {
      this.#closeError ??= error;
      this.#markClosed();
    });
    raw.on('close', () => this.#markClosed());
    raw.on('end', () => {
      // The peer half-closed: we never keep half-open links.
      this.destroy();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes written to this stream that it still holds (not yet taken by the socket or the peer's window). */
  get bufferedBytes(): number {
    const raw = this.raw;
    return raw.writableLength ?? raw._writableState?.buffered ?? 0;
  }

  /** Attach the consumer; chunks that arrived before are replayed in order. */
  setHandlers(handlers: ByteStreamHandlers): void {
    this.#handlers = handlers;
    const pending = this.#pending;
    this.#pending = [];
    for (const chunk of pending) {
      if (this.#handlers !== handlers) break;
      handlers.data(chunk);
    }
    if (this.#closed) this.#reportClose();
  }

  /** Stop handing chunks out: they are kept (and a close deferred) until the next `setHandlers`. */
  detach(): void {
    this.#handlers = undefined;
  }

  /** Write buffers as one batch; returns false when the caller should wait for `drain`. */
  write(chunks: readonly Buffer[]): boolean {
    if (this.#closed) return false;
    const raw = this.raw;
    if (chunks.length === 1) return raw.write(chunks[0] as Buffer);
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    // Small batches: one copy is cheaper than a writev.
    if (bytes <= SMALL_WRITE_BYTES_MAX) return raw.write(Buffer.concat(chunks as Buffer[], bytes));
    if (raw.cork !== undefined && raw.uncork !== undefined) {
      raw.cork();
      let ok = true;
      for (const chunk of chunks) ok = raw.write(chunk);
      raw.uncork();
      return ok;
    }
    return raw.write(Buffer.concat(chunks as Buffer[]));
  }

  destroy(error?: Error): void {
    if (error !== undefined) this.#closeError ??= error;
    if (!this.raw.destroyed) this.raw.destroy();
    this.#markClosed();
  }

  /**
   * Close after what was written has gone out (a last error frame must reach the peer: some
   * streams, such as hyperswarm's, drop unsent bytes on destroy); destroyed anyway after
   * `graceMs` if the stream has not closed by then.
   */
  end(graceMs: number): void {
    if (this.#closed || this.#endTimer !== undefined) return;
    this.raw.end();
    this.#endTimer = setTimeout(() => this.destroy(), graceMs);
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#endTimer);
    if (!this.raw.destroyed) this.raw.destroy();
    if (this.#handlers !== undefined) this.#reportClose();
  }


  #reportClose(): void {
    if (this.#closeReported) return;
    this.#closeReported = true;
    this.#handlers?.close(this.#closeError);
  }
}

export interface ConnectOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Transport {
  readonly kind: string;
  /** The interface `listen` will bind, when the transport knows it beforehand (tcp). */
  readonly host?: string;
  /** Start accepting; resolves to this node's address as peers should dial it. */
  listen(onStream: (stream: ByteStream) => void): Promise<string>;
  connect(address: string, options?: ConnectOptions): Promise<ByteStream>;
  /** The address `listen` resolved to, once listening. */
  readonly address: string | undefined;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS_DEFAULT = 5_000;

export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  return host === '127.0.0.1' || host === '::1' || host === '::ffff:127.0.0.1' || host === 'localhost';
}

/** Parse `host:port` or `[v6]:port`. */
export function parseHostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(address);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || !(port >= 0 && port <= 65_535)) {
    throw fedError('badarg', `not a host:port address: ${JSON.stringify(address)}`);
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface TcpTransportOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 0 (any free port). */
  port?: number;
}

/** TCP: the default transport. Nagle is off (we batch ourselves). */
export class TcpTransport implements Transport {
  readonly kind = 'tcp';
  readonly #host: string;
  readonly #port: number;
  #server: net.Server | undefined;
  #address: string | undefined;
  readonly #streams = new Set<ByteStream>();
  #closed = false;

  constructor(options: TcpTransportOptions = {}) {
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
  }

  get address(): string | undefined {
    return this.#address;
  }

  get host(): string {
    return this.#host;
  }

  async listen(onStream: (stream: ByteStream) => void): Promise<string> {
    if (this.#closed) throw fedError('closed', 'transport is closed');
    if (this.#server !== undefined) throw fedError('badarg', 'transport is already listening');
    const server = net.createServer({ noDelay: true }, (socket) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      onStream(this.#track(socket));
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, this.#host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    const bound = server.address() as net.AddressInfo;
    this.#address = formatHostPort(this.#host, bound.port);
    return this.#address;
  }

  async connect(address: string, options: ConnectOptions = {}): Promise<ByteStream> {
    if (this.#closed) throw fedError('closed', 'transport is closed');
    const { host, port } = parseHostPort(address);
    const timeoutMs = options.timeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT;
    const socket = net.connect({ host, port, noDelay: true });
    return await new Promise<ByteStream>((resolve, reject) => {
      const fail = (error: Error): void => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onError = (error: Error): void =>
        fail(fedError('nodedown', `cannot connect to ${address}: ${error.message}`, { address }, error));
      const onAbort = (): void => fail(fedError('closed', `connect to ${address} aborted`, { address }));
      const timer = setTimeout(() => fail(fedError('timeout', `connect to ${address} timed out`, { address })), timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        options.signal?.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        cleanup();
        if (this.#closed) {
          socket.destroy();
          reject(fedError('closed', 'transport is closed'));
          return;
        }
        resolve(this.#track(socket));
      });
    });
  }

  #track(socket: net.Socket): ByteStream {
    socket.setNoDelay(true);
    const stream = new ByteStream(socket, socket.remoteAddress);
    this.#streams.add(stream);
    socket.once('close', () => this.#streams.delete(stream));
    return stream;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of this.#streams) stream.destroy();
    this.#streams.clear();
    const server = this.#server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
