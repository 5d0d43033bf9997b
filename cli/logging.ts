/**
 * Logs of a running node (`fedctl start`), one line per event on stderr.
 *
 * Two formats: `text` (default, for people: `time level node [component] message`) and `json`
 * (pino: one JSON object per line with `time`, `level` as a word, `pid` (the OS process), `node`,
 * `group`, `component` and `msg`, plus the event's own fields) — etcd's structured logs.
 * The level (`debug` < `info` < `warn` < `error`, or `silent`) comes from `--log-level` or
 * `FEDCTL_LOG_LEVEL`; lines below it are not written. Every line carries node, group and
 * component: callers name the component in `extra.component` (default `node`).
 * Lines are written synchronously, so a line logged before a crash or exit is never lost.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import { fedError } from '../runtime/index.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'text' | 'json';
export type LineLevel = Exclude<LogLevel, 'silent'>;

/** What node code calls: `log('info', 'ready', { address })`. */
export type LogFunction = (level: LineLevel, msg: string, extra?: Record<string, unknown>) => void;

export interface LoggerOptions {
  readonly node: string;
  readonly group: string;
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** Where each line goes (without its newline); default stderr. */
  readonly writeLine?: (line: string) => void;
}

const RANK: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: Infinity };

export function parseLogLevel(text: string | undefined): LogLevel {
  const level = (text ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw fedError('config', `--log-level wants one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return level as LogLevel;
}

export function createLogger(options: LoggerOptions): LogFunction {
  const writeLine = options.writeLine ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (options.format === 'json') return jsonLogger(options, writeLine);
  const threshold = RANK[options.level];
  return (level, msg, extra = {}) => {
    if (RANK[level] < threshold) return;
    const component = typeof extra.component === 'string' ? extra.component : 'node';
    writeLine(`${new Date().toISOString()} ${level.padEnd(5)} ${options.node} [${component}] ${msg}`);
  };
}

function jsonLogger(options: LoggerOptions, writeLine: (line: string) => void): LogFunction {
  const logger: PinoLogger = pino(
    {
      level: options.level,
      base: { pid: process.pid, node: options.node, group: options.group },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      messageKey: 'msg',
    },
    { write: (line: string) => writeLine(line.endsWith('\n') ? line.slice(0, -1) : line) },
  );
  return (level, msg, extra = {}) => {
    const component = typeof extra.component === 'string' ? extra.component : 'node';
    logger[level]({ ...withoutUndefined(extra), component }, msg);
  };
}

function withoutUndefined(extra: Record<string, unknown>): Record<string, unknown> {
  const clean: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) clean[key] = value;
  return clean;
}
