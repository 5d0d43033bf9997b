/**
 * Test harness for the built CLI: runs `node dist/cli/main.js` as child processes, with a
 * private HOME and cookie file, and starts `fedctl start` nodes that it stops (SIGTERM, then
 * SIGKILL) when asked. Every child is tracked so a test file can end them all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually as eventuallyEvery } from '../support/eventually.js';

export const CLI = resolve('dist/cli/main.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class CliHarness {
  readonly root = mkdtempSync(join(tmpdir(), 'fedctl-cli-'));
  readonly cookieFile = join(this.root, 'cookie');
  readonly #children = new Set<ChildProcess>();

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: this.root, FEDCTL_COOKIE_FILE: this.cookieFile, ...extra };
    return env;
  }

  /** Run one CLI command to completion. */
  run(args: readonly string[], extraEnv: Record<string, string> = {}, timeoutMs = 20_000): Promise<CliResult> {
    return this.runCommand(process.execPath, [CLI, ...args], extraEnv, timeoutMs);
  }

  /** Run any command to completion (with the harness's environment). */
  runCommand(command: string, args: readonly string[], extraEnv: Record<string, string> = {}, timeoutMs = 20_000): Promise<CliResult> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(command, [...args], { env: this.env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
      this.#children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${command} ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        this.#children.delete(child);
        resolvePromise({ code: code ?? -1, stdout, stderr });
      });
    });
  }

  /** Run one CLI command with `--json`; resolves with the parsed stdout (throws on a non-zero exit). */
  async json<T>(args: readonly string[], extraEnv: Record<string, string> = {}): Promise<T> {
    const result = await this.run(['--json', ...args], extraEnv);
    if (result.code !== 0) throw new Error(`fedctl ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  }

  /**
   * Start a node with `fedctl start` (group g1 unless `options.group`); resolves with its
   * address once it logs `ready`.
   */
  startNode(name: string, args: readonly string[] = [], timeoutMs = 20_000, options: { group?: string; env?: Record<string, string> } = {}): Promise<StartedNode> {
    const dataDir = join(this.root, 'data', name);
    const child = spawn(
      process.execPath,
      [CLI, 'start', '--name', `${name}@127.0.0.1`, '--listen', '127.0.0.1:0', '--data', dataDir, '--group', options.group ?? 'g1', ...args],
      { env: this.env(options.env), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#children.add(child);
    const node = new StartedNode(name, child, dataDir);
    child.on('close', () => this.#children.delete(child));
    return node.ready(timeoutMs);
  }

  /** End every child still running (SIGKILL) and remove the temporary directory. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.#children].map(
        (child) =>
          new Promise<void>((resolvePromise) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolvePromise();
            child.once('close', () => resolvePromise());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(this.root, { recursive: true, force: true });
  }
}

export class StartedNode {
  address = '';
  stderr = '';
  readonly #exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly dataDir: string,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    child.stdout?.resume();
    this.#exited = new Promise((resolvePromise) => child.on('close', (code) => resolvePromise(code)));
  }

  ready(timeoutMs: number): Promise<StartedNode> {
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} not ready in ${timeoutMs} ms: ${this.stderr}`)), timeoutMs);
      const check = (): void => {
        const match = /ready: listening on (\S+),/.exec(this.stderr);
        if (match) {
          clearTimeout(timer);
          this.child.stderr?.off('data', check);
          this.address = match[1] as string;
          resolvePromise(this);
        }
      };
      this.child.stderr?.on('data', check);
      this.child.once('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited with ${code} before ready: ${this.stderr}`));
      });
    });
  }

  /** SIGTERM (or `signal`) and wait for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.#exited;
  }

  /** The `host:port` of its metrics endpoint (started with `--metrics`). */
  metricsAddress(): string {
    const match = /metrics: listening on http:\/\/(\S+)\/metrics/.exec(this.stderr);
    if (match === null) throw new Error(`${this.name} logged no metrics address: ${this.stderr}`);
    return match[1] as string;
  }

  exited(): Promise<number | null> {
    return this.#exited;
  }
}

/** `eventually` polling every 100 ms: a CLI probe starts a process each time. */
export function eventually<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  return eventuallyEvery(what, probe, timeoutMs, 100);
}

export function removeDir(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
