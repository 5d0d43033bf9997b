/**
 * The singleton workload: the nodes run built-in probe singletons and log their instances; the
 * runner merges the logs and the singleton checker (checker/singletons.ts) judges them.
 *
 * fedctl's side (the contract): `fedctl start --singleton KEY` (repeatable) declares a probe
 * singleton for KEY, and `--singleton-log FILE` appends one JSON line per instance event:
 *   {"type": "start"|"stop", "key": KEY, "token": <fencing token>, "node": "name@host",
 *    "time": <ms since the epoch>, "reason"?: "..."}
 * The runner gives each node its own log file (`nodes/<n>/singletons.log`, appended across
 * restarts), turns the lines into singletons.jsonl (times in ns since the run started, sorted),
 * and tells the checker when it SIGKILLed a node: a process killed that way writes no stop
 * line, so its instances end at the kill. A SIGSTOPped node is NOT such a window: a paused
 * instance is alive, resumes with its token, and is excused only if a higher token fenced it.
 *
 * The workload turns itself on only where `fedctl start --help` lists both flags
 * (`detectSingletonSupport`), so a fedctl without singletons gives a run whose singleton
 * checker is "not-run" (said so, never counted as a pass) rather than a failure to start.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fedError } from '../runtime/index.js';
import type { SingletonEvent } from './history.js';
import type { SingletonLogLine } from '../cli/singletons.js';

export const SINGLETON_KEY_PREFIX = 'jl-singleton-';
export const SINGLETON_LOG_FILE = 'singletons.log';
/** How long `fedctl start --help` may take to answer. */
export const HELP_TIMEOUT_MS = 15_000;
const HELP_OUTPUT_CHARS_MAX = 256 * 1024;
const LOG_LINE_LENGTH_MAX = 16 * 1024;

/**
 * The keys of a run with `count` singletons (`jl-singleton-1` …). In a federation each group runs
 * its own keys (a singleton is one per group): `group` names them (`jl-singleton-g2-1` …).
 */
export function singletonKeys(count: number, group?: string): string[] {
  return Array.from({ length: count }, (_, index) => `${SINGLETON_KEY_PREFIX}${group === undefined ? '' : `${group}-`}${index + 1}`);
}

/** The `fedctl start` arguments that declare the keys and where the node logs its instances. */
export function singletonStartArgs(keys: readonly string[], logPath: string): string[] {
  return [...keys.flatMap((key) => ['--singleton', key]), '--singleton-log', logPath];
}

/** Whether a `fedctl start --help` text offers both singleton flags. */
export function helpOffersSingletons(help: string): boolean {
  return /(^|\s)--singleton[\s=<]/m.test(help) && /(^|\s)--singleton-log[\s=<]/m.test(help);
}

/** Runs `<fedctl> start --help` and says whether this fedctl has the singleton flags. */
export function detectSingletonSupport(fedctlCommand: readonly string[], cwd: string): Promise<boolean> {
  const [command, ...leading] = fedctlCommand;
  if (command === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(command, [...leading, 'start', '--help'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (chunk: Buffer): void => {
      if (output.length < HELP_OUTPUT_CHARS_MAX) output += chunk.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => child.kill('SIGKILL'), HELP_TIMEOUT_MS);
    child.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.once('close', () => {
      clearTimeout(timer);
      resolve(helpOffersSingletons(output));
    });
  });
}

/** One line of a node's `--singleton-log`: the format `fedctl start` writes (cli/singletons.ts). */
export type { SingletonLogLine };

function logLineProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const line = value as Record<string, unknown>;
  if (line.type !== 'start' && line.type !== 'stop') return '"type" must be start or stop';
  if (typeof line.key !== 'string' || line.key.length === 0) return '"key" must be a non-empty string';
  if (typeof line.token !== 'number' || !Number.isSafeInteger(line.token) || line.token < 1) return '"token" must be a positive integer';
  if (typeof line.node !== 'string' || line.node.length === 0) return '"node" must be a non-empty string';
  if (typeof line.time !== 'number' || !Number.isFinite(line.time) || line.time < 0) return '"time" must be ms since the epoch';
  if (line.reason !== undefined && typeof line.reason !== 'string') return '"reason" must be a string when present';
  return undefined;
}

/**
 * Parses one node's singleton log. A last line without its newline is a write cut short by a
 * kill -9 and is left out; any other bad line is refused (`badarg`, naming file and line).
 */
export function parseSingletonLog(text: string, file: string): SingletonLogLine[] {
  const lines = text.split('\n');
  const cutShort = lines.pop();
  if (cutShort !== undefined && cutShort.trim() !== '') {
    try {
      if (logLineProblem(JSON.parse(cutShort)) === undefined) lines.push(cutShort);
    } catch {
      // An unfinished line of a killed process: it never happened as far as anyone can tell.
    }
  }
  return lines.flatMap((raw, index) => {
    if (raw.trim() === '') return [];
    const where = `${file} line ${index + 1}`;
    if (raw.length > LOG_LINE_LENGTH_MAX) throw fedError('badarg', `${where}: longer than ${LOG_LINE_LENGTH_MAX} characters`, { file, line: index + 1 });
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw fedError('badarg', `${where}: not valid JSON`, { file, line: index + 1 });
    }
    const problem = logLineProblem(value);
    if (problem !== undefined) throw fedError('badarg', `${where}: ${problem}`, { file, line: index + 1 });
    return [value as SingletonLogLine];
  });
}

/**
 * The nodes' logs as singletons.jsonl events: times in ns since `runStartMs` (ms since the
 * epoch), sorted by time (stops before starts at one instant, as the checker orders them).
 */
export function mergeSingletonLogs(logs: readonly { readonly file: string; readonly text: string }[], runStartMs: number): SingletonEvent[] {
  const events = logs.flatMap(({ file, text }) =>
    parseSingletonLog(text, file).map((line): SingletonEvent => {
      const time = Math.max(0, Math.round((line.time - runStartMs) * 1e6));
      const base = { type: line.type, key: line.key, node: line.node, token: line.token, time };
      return line.reason === undefined ? base : { ...base, reason: line.reason };
    }),
  );
  return events.sort((a, b) => a.time - b.time || (a.type === b.type ? 0 : a.type === 'stop' ? -1 : 1));
}

/** Reads the nodes' log files (a node that never logged has none). */
export function readSingletonLogs(paths: readonly string[]): { file: string; text: string }[] {
  return paths.filter((path) => existsSync(path)).map((file) => ({ file, text: readFileSync(file, 'utf8') }));
}
