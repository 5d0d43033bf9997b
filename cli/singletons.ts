/**
 * The built-in probe singletons of `fedctl start --singleton KEY` and the instance log of
 * `--singleton-log FILE` (jepsen-lite checks "at most one live instance per key" from it).
 *
 * A probe instance is a process that does nothing but hold its fencing token: it answers
 * `{type: 'fedctl_probe', ref, from}` with `{type: 'fedctl_probe_reply', ref, key, token}`
 * and drops anything else, until the singleton manager stops it.
 *
 * The log contract (fixed; jepsen-lite reads it), one JSON object per line, appended:
 *   {"type":"start","key":KEY,"token":N,"node":"name@host","time":MS}
 *   {"type":"stop","key":KEY,"token":N,"node":"name@host","time":MS,"reason":WHY}
 * - `start` is written and fsynced inside the instance's init (`spec.start`, which runs with the
 *   token), before the process exists: no instance ever runs without its start line on disk.
 * - `stop` is written (and fsynced) once the instance's process is dead, whatever ended it:
 *   `reason` is the manager's (`moved`, `claim_lost`, `lease_expired`, `closed`, `drained`),
 *   `exited` when the process ended on its own, or the exit reason of the process otherwise.
 *   Exactly one `stop` follows each `start` while the node lives; a node that is killed
 *   (SIGKILL) writes no stop line: its instances ended with the process.
 * - `time` is milliseconds since the epoch on this host's clock (Date.now).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { type DownMessage, type Node, Pid, Ref, fedError, isDownMessage } from '../runtime/index.js';
import type { SingletonManager, SingletonSpec, SingletonStatus } from '../registry/index.js';

export interface SingletonRow {
  readonly key: string;
  readonly owner: string | null;
  readonly holder: string | null;
  readonly token: number | null;
  readonly running: boolean;
  readonly phase: string;
  readonly pid: string | null;
}

/** One line of `--singleton-log` (read back by jepsen-lite's singleton checker). */
export interface SingletonLogLine {
  readonly type: 'start' | 'stop';
  readonly key: string;
  readonly token: number;
  readonly node: string;
  /** ms since the epoch. */
  readonly time: number;
  readonly reason?: string;
}

/** Appends instance events to a file, one fsynced JSON line each. */
export class SingletonLog {
  readonly path: string;
  readonly #fd: number;
  #closed = false;

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = openSync(path, 'a', 0o644);
  }

  write(line: SingletonLogLine): void {
    if (this.#closed) return;
    writeSync(this.#fd, `${JSON.stringify(line)}\n`);
    fsyncSync(this.#fd);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}

interface Instance {
  readonly key: string;
  readonly token: number;
  /** The manager's reason, when it stopped the instance (set before the process's DOWN arrives). */
  why: string | undefined;
  stopped: boolean;
}

/** Probe instances of this node, their start/stop lines, and the watcher of each. */
export class ProbeSingletons {
  readonly #node: Node;
  readonly #manager: SingletonManager;
  readonly #log: SingletonLog | undefined;
  readonly #instances = new Map<string, Instance>();
  readonly #unsubscribe: () => void;
  readonly #keys: string[] = [];

  constructor(node: Node, manager: SingletonManager, log: SingletonLog | undefined) {
    this.#node = node;
    this.#manager = manager;
    this.#log = log;
    this.#unsubscribe = manager.onEvent((event) => {
      if (event.type === 'started') return;
      const instance = this.#instances.get(event.pid.key);
      if (instance === undefined) return;
      instance.why ??= event.type === 'stopped' ? event.why : 'exited';
      // `stopped` and `exited` are emitted once the process is dead (kill is synchronous; a
      // planned stop waits for the exit), so the stop line can be written now.
      if (!this.#node.isAlive(event.pid)) this.#stop(event.pid, instance.why);
    });
  }

  /** Declare probe singleton `key` on this member. */
  declare(key: string): void {
    this.#manager.declare(key, this.#spec());
    this.#keys.push(key);
  }

  get keys(): readonly string[] {
    return this.#keys;
  }

  /** Stop watching; write `stop` for any instance still open (after the manager closed). */
  close(): void {
    this.#unsubscribe();
    for (const [pidKey, instance] of this.#instances) {
      if (!instance.stopped) this.#write('stop', instance, instance.why ?? 'closed');
      this.#instances.delete(pidKey);
    }
  }

  /**
   * What `fedctl singletons` and `fedctl status` show for each declared key: the member that
   * should run it (`owner`, the ring's choice as this member sees it), the member whose claim
   * is committed (`holder`) with its fencing `token`, and whether an instance runs here.
   */
  status(): SingletonRow[] {
    return this.#manager.status().map((status: SingletonStatus) => {
      const running = this.#manager.running(status.key);
      return {
        key: status.key,
        owner: status.owner ?? null,
        holder: status.claim?.node ?? null,
        token: running?.token ?? status.claim?.revision ?? null,
        running: running !== undefined,
        phase: status.phase,
        pid: running?.pid.toString() ?? null,
      };
    });
  }

  #spec(): SingletonSpec {
    return {
      start: (init) => {
        const instance: Instance = { key: init.key, token: init.token, why: undefined, stopped: false };
        this.#write('start', instance);
        let pid: Pid;
        try {
          pid = init.node.spawn(async (ctx) => {
            for (;;) {
              const msg = (await ctx.receive()) as { type?: unknown; ref?: unknown; from?: unknown } | null;
              if (msg !== null && typeof msg === 'object' && msg.type === 'fedctl_probe' && msg.ref instanceof Ref && msg.from instanceof Pid) {
                ctx.send(msg.from, { type: 'fedctl_probe_reply', ref: msg.ref, key: init.key, token: init.token });
              }
            }
          });
        } catch (error) {
          this.#write('stop', instance, 'start_failed');
          throw error;
        }
        this.#instances.set(pid.key, instance);
        this.#watch(pid);
        return pid;
      },
    };
  }

  /** Whatever ends the process (including a kill the manager does not report), write its stop. */
  #watch(pid: Pid): void {
    try {
      this.#node.spawn(async (ctx) => {
        ctx.monitor(pid);
        const down = (await ctx.receive((msg): msg is DownMessage => isDownMessage(msg) && msg.pid instanceof Pid && msg.pid.equals(pid))) as DownMessage;
        const reason = typeof down.reason === 'string' ? down.reason : JSON.stringify(down.reason);
        this.#stop(pid, this.#instances.get(pid.key)?.why ?? reason);
      });
    } catch (error) {
      throw fedError('shutdown', `cannot watch singleton instance ${pid.toString()}: ${(error as Error).message}`);
    }
  }

  #stop(pid: Pid, reason: string): void {
    const instance = this.#instances.get(pid.key);
    if (instance === undefined || instance.stopped) return;
    instance.stopped = true;
    this.#instances.delete(pid.key);
    this.#write('stop', instance, reason);
  }

  #write(type: 'start' | 'stop', instance: Instance, reason?: string): void {
    this.#log?.write({ type, key: instance.key, token: instance.token, node: this.#node.name, time: Date.now(), ...(reason !== undefined ? { reason } : {}) });
  }
}
