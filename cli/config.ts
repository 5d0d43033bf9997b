/**
 * Where the CLI's settings come from, highest first: flags, `FEDCTL_*` environment variables,
 * defaults. The cookie comes from `--cookie`, `FEDCTL_COOKIE`, or the cookie file
 * (`--cookie-file`, `FEDCTL_COOKIE_FILE`, default `~/.fedctl/cookie`), which `fedctl start`
 * creates with mode 0600 if absent, as Erlang does with `~/.erlang.cookie`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fedError } from '../runtime/index.js';

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
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw fedError('config', `cookie file ${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 ${file}`);
  }
  return checkCookie(readFileSync(file, 'utf8').trim(), `the cookie in ${file}`);
}

/**
 * Write a new random cookie to `file`, atomically: the cookie goes to a private temporary file
 * that is then hard-linked to `file`, which fails if `file` exists. So two nodes started at the
 * same moment never see a half-written file: the loser of the race reads the winner's cookie.
 */
function createCookieFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
}

function checkCookie(cookie: string, what: string): string {
  if (cookie.length < COOKIE_BYTES_MIN) {
    throw fedError('config', `${what} is too short: at least ${COOKIE_BYTES_MIN} characters`);
  }
  return cookie;
}

