/**
 * Where the CLI's settings come from, highest first: flags, `FEDCTL_*` environment variables,
 * defaults. The cookie comes from `--cookie`, `FEDCTL_COOKIE`, or the cookie file
 * (`--cookie-file`, `FEDCTL_COOKIE_FILE`, default `~/.fedctl/cookie`), which `fedctl start`
 * creates with mode 0600 if absent, as Erlang does with `~/.erlang.cookie`.
 *
 * With `--transport hyperswarm` a node's address is its DHT public key: `--node` and `--seed`
 * take one, `--dht-bootstrap` (or FEDCTL_DHT_BOOTSTRAP) is required (fedctl never uses the
 * public DHT), and the key pair's seed is kept in the data directory (mode 0600) so that the
 * address survives restarts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fedError } from '../runtime/index.js';
import type { AdminLink } from './admin-client.js';
import { flagOrEnvList } from './env.js';

export const COOKIE_BYTES_MIN = 16;

export function defaultCookieFile(): string {
  return join(homedir(), '.fedctl', 'cookie');
}

/** `host:port` → parts; anything else is a usage error naming the flag. */
export function parseAddress(text: string, flag: string, options: { allowAnyPort?: boolean } = {}): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  const lowest = options.allowAnyPort === true ? 0 : 1;
  if (!match || !(port >= lowest && port < 65536)) {
    throw fedError('config', `${flag} wants host:port, got ${JSON.stringify(text)}`);
  }
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}

export interface CookieSource {
  cookie?: string | undefined;
  cookieFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Create the cookie file with a random cookie if it does not exist (for `fedctl start`). */
  create?: boolean;
}

export function resolveCookie(source: CookieSource): string {
  const env = source.env ?? process.env;
  const direct = source.cookie ?? env.FEDCTL_COOKIE;
  if (direct !== undefined && direct !== '') return checkCookie(direct, 'the --cookie value');
  // An empty variable counts as unset, as for FEDCTL_COOKIE.
  const file = (source.cookieFile || undefined) ?? (env.FEDCTL_COOKIE_FILE || undefined) ?? defaultCookieFile();
  if (!existsSync(file)) {
    if (!source.create) {
      throw fedError('config', `no cookie: ${file} does not exist; pass --cookie, set FEDCTL_COOKIE, or start a node first`);
    }
    createCookieFile(file);
  }
  checkPrivate(file, 'cookie file');
  return checkCookie(readFileSync(file, 'utf8').trim(), `the cookie in ${file}`);
}

function createCookieFile(file: string): void {
  createSecretFile(file, `${randomBytes(24).toString('base64url')}\n`);
}

/**
 * Write `content` to a new file of mode 0600, atomically: it goes to a private temporary file
 * that is then hard-linked to `file`, which fails if `file` exists. So two processes creating it
 * at the same moment never see a half-written file: the loser of the race reads the winner's.
 */
function createSecretFile(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
}

/** A secret file must not be readable by group or others (as ssh and Erlang insist). */
function checkPrivate(file: string, what: string): void {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw fedError('config', `${what} ${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 ${file}`);
  }
}

export type TransportKind = 'tcp' | 'hyperswarm';
export const TRANSPORT_KINDS: readonly TransportKind[] = ['tcp', 'hyperswarm'];

const PUBLIC_KEY_HEX = /^[0-9a-f]{64}$/i;

/**
 * A node's address in the transport's form: `host:port` for tcp, the node's DHT public key (64 hex
 * digits, printed in its `ready` line) for hyperswarm. Anything else is a usage error naming the flag.
 */
export function parseNodeAddress(text: string, flag: string, transport: TransportKind): string {
  const trimmed = text.trim();
  if (transport === 'hyperswarm') {
    if (!PUBLIC_KEY_HEX.test(trimmed)) {
      throw fedError('config', `${flag} wants a node's public key (64 hex digits, from its ready line) with --transport hyperswarm, got ${JSON.stringify(text)}`);
    }
    return trimmed.toLowerCase();
  }
  parseAddress(trimmed, flag);
  return trimmed;
}

/**
 * The DHT bootstrap list for hyperswarm (`--dht-bootstrap`, repeatable, or FEDCTL_DHT_BOOTSTRAP):
 * required and checked whenever hyperswarm is used, because fedctl never falls back to the public
 * bootstrap nodes. Empty for tcp.
 */
export function resolveDhtBootstrap(transport: TransportKind, flag: readonly string[] | undefined, what: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (transport !== 'hyperswarm') {
    // The flag is refused rather than ignored; the variable may be set for other commands.
    if (flag !== undefined && flag.length > 0) throw fedError('config', '--dht-bootstrap is only for hyperswarm (--transport hyperswarm)');
    return [];
  }
  const list = flagOrEnvList(flag, 'FEDCTL_DHT_BOOTSTRAP', env);
  if (list.length === 0) {
    throw fedError('config', `${what} needs --dht-bootstrap host:port (or FEDCTL_DHT_BOOTSTRAP): fedctl never uses the public DHT`);
  }
  return list.map((entry) => {
    const { host, port } = parseAddress(entry, '--dht-bootstrap');
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  });
}

/** The file in a data directory that holds the seed of the node's DHT key pair (its hyperswarm address). */
export const DHT_SEED_FILE = 'dht-seed';
const DHT_SEED_BYTES = 32;

/**
 * The seed of this node's DHT key pair, so that its hyperswarm address (the public key) is the
 * same across restarts: read from `<dataDir>/dht-seed`, created there (random, mode 0600) on the
 * first start. A seed that is readable by others, or not 64 hex digits, is refused.
 */
export function loadOrCreateDhtSeed(dataDir: string): Buffer {
  const file = join(dataDir, DHT_SEED_FILE);
  if (!existsSync(file)) createSecretFile(file, `${randomBytes(DHT_SEED_BYTES).toString('hex')}\n`);
  checkPrivate(file, 'DHT key seed');
  const text = readFileSync(file, 'utf8').trim();
  if (!new RegExp(`^[0-9a-f]{${DHT_SEED_BYTES * 2}}$`).test(text)) {
    throw fedError('config', `${file} is not a DHT key seed (${DHT_SEED_BYTES * 2} hex digits); remove it to make a new one (the node's hyperswarm address changes)`);
  }
  return Buffer.from(text, 'hex');
}

function checkCookie(cookie: string, what: string): string {
  if (cookie.length < COOKIE_BYTES_MIN) {
    throw fedError('config', `${what} is too short: at least ${COOKIE_BYTES_MIN} characters`);
  }
  return cookie;
}

/** The global flags that say which node a client command talks to, and over what. */
export interface NodeTargetSettings {
  readonly node: string;
  readonly transport?: TransportKind | undefined;
  /** `--dht-bootstrap` values; FEDCTL_DHT_BOOTSTRAP when none. */
  readonly dhtBootstrap?: readonly string[] | undefined;
}

/**
 * `--node` checked in the form of `--transport` (`host:port`, or a public key with hyperswarm),
 * and the link to reach it: with hyperswarm the DHT bootstrap list is required.
 */
export function resolveNodeTarget(settings: NodeTargetSettings, env: NodeJS.ProcessEnv = process.env): { address: string; link: AdminLink } {
  const transport = settings.transport ?? 'tcp';
  const dhtBootstrap = resolveDhtBootstrap(transport, settings.dhtBootstrap, '--transport hyperswarm', env);
  const address = parseNodeAddress(settings.node, '--node', transport);
  return { address, link: transport === 'hyperswarm' ? { transport, dhtBootstrap } : { transport } };
}

/** Discovery answers addresses in its transport's form: hyperswarm finds public keys, dns host:port. */
export function checkDiscoveryFitsTransport(discovery: 'static' | 'hyperswarm' | 'dns', transport: TransportKind): void {
  if (discovery === 'hyperswarm' && transport !== 'hyperswarm') {
    throw fedError('config', '--discovery hyperswarm needs --transport hyperswarm (the peers it finds are dialled by public key)');
  }
  if (discovery === 'dns' && transport !== 'tcp') {
    throw fedError('config', '--discovery dns needs --transport tcp (a DNS name resolves to host addresses, not public keys)');
  }
}
