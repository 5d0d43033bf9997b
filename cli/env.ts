/**
 * `FEDCTL_*` environment variables for the flags commander cannot map itself: booleans (commander
 * sets a boolean flag whenever its variable is defined, so `FEDCTL_JSON=0` would turn JSON ON)
 * and repeatable flags (a comma-separated list). A flag given on the command line always wins.
 */
import { fedError } from '../runtime/index.js';

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

/** `1/true/yes/on` → true, `0/false/no/off` → false, unset or empty → undefined; else a usage error. */
export function envBoolean(name: string, env: NodeJS.ProcessEnv = process.env): boolean | undefined {
  const value = env[name];
  if (value === undefined || value.trim() === '') return undefined;
  if (TRUE.test(value.trim())) return true;
  if (FALSE.test(value.trim())) return false;
  throw fedError('config', `${name} wants 1 or 0 (true/false, yes/no, on/off), got ${JSON.stringify(value)}`);
}

/** The flag's value if given, else the variable's, else `fallback`. */
export function flagOrEnvBoolean(flag: boolean | undefined, name: string, fallback: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return flag ?? envBoolean(name, env) ?? fallback;
}

/** Repeated flag values if any were given, else the variable's comma-separated list. */
export function flagOrEnvList(flag: readonly string[] | undefined, name: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (flag !== undefined && flag.length > 0) return [...flag];
  const value = env[name];
  if (value === undefined) return [];
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
