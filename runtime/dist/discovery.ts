/**
 * Discovery: where to find the other nodes of the group. Every strategy answers the same
 * question — "which addresses should I dial?" — through `discover()`, polled by the
 * `Distribution` at start and every `discoveryIntervalMs`. Addresses are in the transport's
 * form (`host:port` for tcp, a hex public key for hyperswarm).
 *
 * - `StaticDiscovery`: a fixed seed list.
 * - `DnsDiscovery`: a DNS name that resolves to many addresses (a Kubernetes headless service)
 *   plus a port; the resolver is injectable (default `dns.promises` A and AAAA lookups).
 * - `HyperswarmDiscovery` (hyperswarm.ts): peers announced on a DHT topic.
 *
 * Contract: `discover` never throws for a transient failure (it logs nothing and returns what it
 * has, possibly nothing); `close` is idempotent.
 */
import { promises as dns } from 'node:dns';
import { fedError } from '../kernel/errors.js';
import { formatHostPort } from './transport.js';

export interface Discovery {
  readonly kind: string;
  /** Called once with this node's own address, before the first `discover`. */
  start?(selfAddress: string): Promise<void>;
  discover(): Promise<string[]>;
  close(): Promise<void>;
}

export class StaticDiscovery implements Discovery {
  readonly kind = 'static';
  readonly #seeds: readonly string[];

  constructor(seeds: readonly string[]) {
    this.#seeds = [...seeds];
  }

  async discover(): Promise<string[]> {
    return [...this.#seeds];
  }

  async close(): Promise<void> {}
}

/** Resolves a host name to IP addresses. */
export type HostResolver = (hostname: string) => Promise<string[]>;

export async function resolveAllAddresses(hostname: string): Promise<string[]> {
  const [v4, v6] = await Promise.allSettled([dns.resolve4(hostname), dns.resolve6(hostname)]);
  const addresses: string[] = [];
  if (v4.status === 'fulfilled') addresses.push(...v4.value);
  if (v6.status === 'fulfilled') addresses.push(...v6.value);
  return addresses;
}

export interface DnsDiscoveryOptions {
  /** The name to resolve, e.g. `fedctl.default.svc.cluster.local`. */
  readonly hostname: string;
  /** The port every node listens on. */
  readonly port: number;
  readonly resolve?: HostResolver;
}

export class DnsDiscovery implements Discovery {
  readonly kind = 'dns';
  readonly #hostname: string;
  readonly #port: number;
  readonly #resolve: HostResolver;

  constructor(options: DnsDiscoveryOptions) {
    if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65_535) {
      throw fedError('config', `dns discovery: invalid port ${String(options.port)}`);
    }
    this.#hostname = options.hostname;
    this.#port = options.port;
    this.#resolve = options.resolve ?? resolveAllAddresses;
  }

  async discover(): Promise<string[]> {
    let hosts: string[];
    try {
      hosts = await this.#resolve(this.#hostname);
    } catch {
      return [];
    }
    return [...new Set(hosts)].sort().map((host) => formatHostPort(host, this.#port));
  }

  async close(): Promise<void> {}
}
