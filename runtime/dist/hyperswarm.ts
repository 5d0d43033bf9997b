/**
 * The hyperswarm transport and discovery: Noise-encrypted streams over HyperDHT, with peers
 * found on a DHT topic derived from the cluster id and a hash of the cookie. A node's address is
 * its DHT public key in hex. The cookie handshake still runs over the Noise stream: knowing the
 * topic (or a public key) is not membership.
 *
 * Safety: a DHT is never created without an explicit, non-empty `bootstrap` list, so the project
 * never falls back to the public bootstrap nodes; tests use `hyperdht/testnet` on 127.0.0.1.
 *
 * Contract: as `Transport` (transport.ts) and `Discovery` (discovery.ts). The DHT node is created
 * on first use (listen, connect, discovery), so a transport that is built and never used (say,
 * handed to a `Distribution` whose options are refused) holds no socket or timer. `close`
 * destroys every stream, the server and the DHT node this transport created.
 */
import { createHash } from 'node:crypto';
import HyperDHT from 'hyperdht';
import { fedError } from '../kernel/errors.js';
import type { Discovery } from './discovery.js';
import { ByteStream, type ConnectOptions, type RawDuplex, type Transport } from './transport.js';

const CONNECT_TIMEOUT_MS_DEFAULT = 10_000;
/** Announcements expire in the DHT; refresh at most this often (on `discover`). */
const REANNOUNCE_INTERVAL_MS = 60_000;
const PUBLIC_KEY_HEX = /^[0-9a-f]{64}$/;

export interface BootstrapNode {
  readonly host: string;
  readonly port: number;
}

export interface HyperswarmTransportOptions {
  /** Required: the DHT bootstrap nodes (e.g. `testnet.bootstrap`). */
  readonly bootstrap: readonly (BootstrapNode | string)[];
  /** Interface the DHT node binds to; default 127.0.0.1. */
  readonly host?: string;
  /** 32-byte seed for a stable public key (address) across restarts. */
  readonly seed?: Buffer;
}

/** The topic on which a cluster's nodes announce themselves. */
export function clusterTopic(cluster: string, cookie: string): Buffer {
  const cookieHash = createHash('sha256').update(cookie, 'utf8').digest('hex');
  return createHash('sha256').update(`fedctl-topic-v1\0${cluster}\0${cookieHash}`, 'utf8').digest();
}

interface KeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
}

export class HyperswarmTransport implements Transport {
  readonly kind = 'hyperswarm';
  readonly keyPair: KeyPair;
  readonly #bootstrap: readonly (BootstrapNode | string)[];
  readonly #host: string;
  #dht: any;
  #server: any;
  #address: string | undefined;
  readonly #streams = new Set<ByteStream>();
  #closed = false;

  constructor(options: HyperswarmTransportOptions) {
    if (!Array.isArray(options?.bootstrap) || options.bootstrap.length === 0) {
      throw fedError('config', 'hyperswarm transport refuses to start without an explicit bootstrap list');
    }
    this.keyPair = HyperDHT.keyPair(options.seed);
    this.#bootstrap = [...options.bootstrap];
    this.#host = options.host ?? '127.0.0.1';
  }

  /** The DHT node, created on first use; `closed` once the transport is closed. */
  get dht(): any {
    if (this.#dht === undefined) {
      if (this.#closed) throw fedError('closed', 'transport is closed');
      this.#dht = new HyperDHT({ bootstrap: [...this.#bootstrap], host: this.#host, ephemeral: true });
    }
    return this.#dht;
  }

  get address(): string | undefined {
    return this.#address;
  }

  get publicKeyHex(): string {
    return this.keyPair.publicKey.toString('hex');
  }

  async listen(onStream: (stream: ByteStream) => void): Promise<string> {
    if (this.#closed) throw fedError('closed', 'transport is closed');
    if (this.#server !== undefined) throw fedError('badarg', 'transport is already listening');
    this.#server = this.dht.createServer((connection: RawDuplex) => {
      if (this.#closed) {
        connection.on('error', () => undefined);
        connection.destroy();
        return;
      }
      onStream(this.#track(connection));
    });
    await this.#server.listen(this.keyPair);
    this.#address = this.publicKeyHex;
    return this.#address;
  }

  async connect(address: string, options: ConnectOptions = {}): Promise<ByteStream> {
    if (this.#closed) throw fedError('closed', 'transport is closed');
    if (!PUBLIC_KEY_HEX.test(address)) throw fedError('badarg', `not a hyperswarm address (64 hex digits): ${JSON.stringify(address)}`);
    const connection = this.dht.connect(Buffer.from(address, 'hex'), { keyPair: this.keyPair }) as RawDuplex;
    const stream = this.#track(connection);
    const timeoutMs = options.timeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else {
          stream.destroy();
          reject(error);
        }
      };
      const onAbort = (): void => finish(fedError('closed', `connect to ${address} aborted`));
      const timer = setTimeout(() => finish(fedError('timeout', `connect to ${address} timed out`, { address })), timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      connection.on('open', () => finish());
      connection.on('error', (error: Error) => finish(fedError('nodedown', `cannot connect to ${address}: ${error.message}`, { address }, error)));
      connection.on('close', () => finish(fedError('nodedown', `connection to ${address} closed while opening`, { address })));
    });
    return stream;
  }

  #track(connection: RawDuplex): ByteStream {
    const stream = new ByteStream(connection, undefined);
    this.#streams.add(stream);
    connection.on('close', () => this.#streams.delete(stream));
    return stream;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of this.#streams) stream.destroy();
    this.#streams.clear();
    if (this.#server !== undefined) await this.#server.close();
    if (this.#dht !== undefined) await this.#dht.destroy();
  }
}

/** Announces this node on the cluster topic and finds the others there. */
export class HyperswarmDiscovery implements Discovery {
  readonly kind = 'hyperswarm';
  readonly #transport: HyperswarmTransport;
  readonly #topic: Buffer;
  #announcedAtMs = -Infinity;
  #started = false;
  #closed = false;

  constructor(transport: HyperswarmTransport, cluster: string, cookie: string) {
    this.#transport = transport;
    this.#topic = clusterTopic(cluster, cookie);
  }

  async start(): Promise<void> {
    this.#started = true;
    await this.#announce();
  }

  async discover(): Promise<string[]> {
    if (this.#closed) return [];
    if (this.#started && performance.now() - this.#announcedAtMs > REANNOUNCE_INTERVAL_MS) await this.#announce();
    const self = this.#transport.publicKeyHex;
    const found = new Set<string>();
    try {
      const query = this.#transport.dht.lookup(this.#topic);
      for await (const reply of query) {
        for (const peer of reply.peers ?? []) {
          const key = Buffer.from(peer.publicKey).toString('hex');
          if (key !== self) found.add(key);
        }
      }
    } catch {
      // A failed lookup is transient; we answer with what we found.
    }
    return [...found].sort();
  }

  async #announce(): Promise<void> {
    try {
      await this.#transport.dht.announce(this.#topic, this.#transport.keyPair).finished();
      this.#announcedAtMs = performance.now();
    } catch {
      // Retried on the next discover.
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#started) return;
    try {
      await this.#transport.dht.unannounce(this.#topic, this.#transport.keyPair);
    } catch {
      // The DHT is going away; announcements expire on their own.
    }
  }
}
