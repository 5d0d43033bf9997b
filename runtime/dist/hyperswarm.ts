/**
 * The hyperswarm transport and discovery: Noise-encrypted streams over HyperDHT, with peers
 * found on a DHT topic derived from the cluster id and a hash of the cookie. A node's address is
 * its DHT public key in hex. The cookie handshake still runs over the Noise stream: knowing the
 * topic (or a public key) is not membership.
 *
 * Safety: a DHT is never created without an explicit, non-empty, well-formed `bootstrap` list
 * (`parseBootstrap`, checked in the constructor; `createDht` is the only place a DHT node is made),
 * so the project never falls back to the public bootstrap nodes; tests use `hyperdht/testnet` on
 * 127.0.0.1. A node bound to loopback is declared reachable, so that peers dial it directly
 * (see `createDht` for the hyperdht race this avoids).
 *
 * Contract: as `Transport` (transport.ts) and `Discovery` (discovery.ts). The DHT node is created
 * on first use (listen, connect, discovery), so a transport that is built and never used (say,
 * handed to a `Distribution` whose options are refused) holds no socket or timer. `close`
 * destroys every stream, the server and the DHT node this transport created.
 */
import { createHash } from 'node:crypto';
import HyperDHT from 'hyperdht';
import { assert } from '../kernel/assert.js';
import { fedError } from '../kernel/errors.js';
import type { Discovery } from './discovery.js';
import { ByteStream, type ConnectOptions, type RawDuplex, type Transport, isLoopbackHost, parseHostPort } from './transport.js';

const CONNECT_TIMEOUT_MS_DEFAULT = 10_000;
/** Length of the seed of a stable key pair. */
export const SEED_BYTES = 32;
/** Announcements expire in the DHT; refresh at most this often (on `discover`). */
const REANNOUNCE_INTERVAL_MS = 60_000;
const PUBLIC_KEY_HEX = /^[0-9a-f]{64}$/;
/** A bootstrap list longer than this is a mistake (hyperdht needs one reachable node). */
const BOOTSTRAP_NODES_MAX = 64;

/** Is `text` a hyperswarm address (a DHT public key, 64 lowercase hex digits)? */
function isHyperswarmAddress(text: string): boolean {
  return PUBLIC_KEY_HEX.test(text);
}

export interface BootstrapNode {
  readonly host: string;
  readonly port: number;
}

export interface HyperswarmTransportOptions {
  /** Required: the DHT bootstrap nodes (e.g. `testnet.bootstrap`), `{host, port}` or `host:port`. */
  readonly bootstrap: readonly (BootstrapNode | string)[];
  /** Interface the DHT node binds to; default 127.0.0.1. */
  readonly host?: string;
  /** UDP port the DHT node tries first (then the next few, then any free one); 0 or absent: hyperdht's 49737. */
  readonly port?: number;
  /** 32-byte seed for a stable public key (address) across restarts. */
  readonly seed?: Buffer;
}

/**
 * The bootstrap list, checked: non-empty, every entry a host and a port in 1..65535. This is the
 * only gate to `createDht`, so no DHT node of ours can fall back to the public bootstrap nodes
 * (hyperdht uses them when its `bootstrap` option is missing).
 */
function parseBootstrap(bootstrap: unknown): BootstrapNode[] {
  if (!Array.isArray(bootstrap) || bootstrap.length === 0) {
    throw fedError('config', 'hyperswarm refuses to start without an explicit DHT bootstrap list (it never uses the public bootstrap nodes)');
  }
  if (bootstrap.length > BOOTSTRAP_NODES_MAX) throw fedError('config', `hyperswarm: at most ${BOOTSTRAP_NODES_MAX} bootstrap nodes, got ${bootstrap.length}`);
  return bootstrap.map((entry: unknown) => {
    let node: { host?: unknown; port?: unknown };
    if (typeof entry === 'string') {
      try {
        node = parseHostPort(entry.trim());
      } catch {
        throw fedError('config', `hyperswarm: a bootstrap node is host:port, got ${JSON.stringify(entry)}`);
      }
    } else {
      node = (entry ?? {}) as { host?: unknown; port?: unknown };
    }
    const { host, port } = node;
    if (typeof host !== 'string' || host === '' || !Number.isInteger(port) || (port as number) < 1 || (port as number) > 65_535) {
      throw fedError('config', `hyperswarm: a bootstrap node is host:port, got ${JSON.stringify(entry)}`);
    }
    return { host, port: port as number };
  });
}

/** The topic on which a cluster's nodes announce themselves. */
export function clusterTopic(cluster: string, cookie: string): Buffer {
  const cookieHash = createHash('sha256').update(cookie, 'utf8').digest('hex');
  return createHash('sha256').update(`fedctl-topic-v1\0${cluster}\0${cookieHash}`, 'utf8').digest();
}

/**
 * The one place a DHT node is made; `bootstrap` has passed `parseBootstrap`.
 *
 * A node bound to loopback is declared reachable (`firewalled: false`): nothing stands between
 * it and its peers, which all run on this host. Left to find that out itself, hyperdht starts
 * such a node as firewalled, and then every connection to it goes through hyperdht's same-host
 * path, which (6.33–6.34) races a LAN ping against a holepunch: the client takes the LAN route
 * and sees its stream open while the server, whose holepunch NAT analysis is unstable on
 * loopback, aborts the handshake and destroys the raw stream that route needed. The server never
 * sees the connection and the client's stream dies silently ~13 s later (reported upstream as
 * holepunchto/hyperdht#304). The server wins the race only when the client's first packet beats
 * the abort, which a client in a fresh process (every CLI command) mostly does not: short-lived
 * connections failed after the first. A reachable server answers `firewall: OPEN` and every
 * client dials it directly: no holepunch, no race (test/dist/transport.test.ts, "short-lived
 * connections"). On any other interface hyperdht's own reachability detection stays in charge.
 */
function createDht(bootstrap: readonly BootstrapNode[], host: string, port: number): any {
  assert(bootstrap.length > 0, 'a DHT node needs an explicit bootstrap list');
  return new HyperDHT({
    bootstrap: bootstrap.map((node) => ({ ...node })),
    host,
    port,
    ephemeral: true,
    ...(isLoopbackHost(host) ? { firewalled: false } : {}),
  });
}

interface KeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
}

export class HyperswarmTransport implements Transport {
  readonly kind = 'hyperswarm';
  readonly keyPair: KeyPair;
  readonly #bootstrap: readonly BootstrapNode[];
  readonly #host: string;
  readonly #port: number;
  #dht: any;
  #server: any;
  #address: string | undefined;
  readonly #streams = new Set<ByteStream>();
  #closed = false;

  constructor(options: HyperswarmTransportOptions) {
    this.#bootstrap = parseBootstrap(options?.bootstrap);
    if (options.seed !== undefined && !(Buffer.isBuffer(options.seed) && options.seed.length === SEED_BYTES)) {
      throw fedError('config', `hyperswarm: the key pair seed is ${SEED_BYTES} bytes`);
    }
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw fedError('config', `hyperswarm: invalid DHT port ${String(options.port)}`);
    this.keyPair = HyperDHT.keyPair(options.seed);
    this.#host = options.host ?? '127.0.0.1';
    this.#port = port;
  }

  /** The DHT node, created on first use; `closed` once the transport is closed. */
  get dht(): any {
    if (this.#dht === undefined) {
      if (this.#closed) throw fedError('closed', 'transport is closed');
      this.#dht = createDht(this.#bootstrap, this.#host, this.#port);
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
    const dht = this.dht;
    // Known its own address before it answers a handshake, a reachable node says so to the
    // first client already (see createDht).
    await dht.fullyBootstrapped();
    if (this.#closed) throw fedError('closed', 'transport is closed');
    this.#server = dht.createServer((connection: RawDuplex) => {
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
    if (!isHyperswarmAddress(address)) throw fedError('badarg', `not a hyperswarm address (64 hex digits): ${JSON.stringify(address)}`);
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
