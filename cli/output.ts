/**
 * Output for people (aligned tables) and scripts (`--json`, one JSON document on stdout).
 * Errors go to stderr as one line; stack traces only with `--debug`.
 */
import { isFedError, maxOf } from '../runtime/index.js';
import { CliError } from './exit-codes.js';

export interface Output {
  json: boolean;
  debug: boolean;
  write(line: string): void;
  writeError(line: string): void;
}

export function consoleOutput(json: boolean, debug: boolean): Output {
  return {
    json,
    debug,
    write: (line) => process.stdout.write(`${line}\n`),
    writeError: (line) => process.stderr.write(`${line}\n`),
  };
}

/** Render rows as columns separated by two spaces, headers upper-cased, as etcdctl and consul do. */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<unknown>>): string {
  const cells = [headers.map((header) => header.toUpperCase()), ...rows.map((row) => row.map(cellText))];
  const widths = headers.map((_, column) => maxOf(cells.map((row) => (row[column] ?? '').length), 0));
  return cells
    .map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

function cellText(value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && !Array.isArray(value) && value.constructor === Object) {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, inner]) => `${key}=${String(inner)}`)
      .join(',');
  }
  return String(value);
}

/** Print either the JSON document or the human rendering. */
export function emit(output: Output, value: unknown, human: () => string): void {
  if (output.json) output.write(JSON.stringify(value, jsonReplacer));
  else {
    const text = human();
    if (text.length > 0) output.write(text);
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** One line on stderr: `fedctl: <code>: <message>` plus a hint; the stack only with --debug. */
export function reportError(output: Output, error: unknown, hint?: string): void {
  const code = isFedError(error) || error instanceof CliError ? error.code : 'error';
  const message = error instanceof Error ? error.message : String(error);
  if (output.json) {
    output.writeError(JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } }));
  } else {
    output.writeError(`fedctl: ${code}: ${message}${hint ? ` (${hint})` : ''}`);
  }
  if (output.debug && error instanceof Error && error.stack) output.writeError(error.stack);
}
