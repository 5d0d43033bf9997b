/**
 * Request/response over a distribution's control lane, for federation traffic: a member asking
 * its gateway, a gateway asking another group's gateway. One channel per `Rpc`.
 *
 * Contract:
 * - `call(node, method, body, timeoutMs)` resolves with the handler's value or rejects with a
 *   `FedError`: the handler's own typed error (code, message, details carried over), `nodedown`
 *   when the node is not connected (nothing was sent: definite), `timeout` when no answer came
 *   in time (the request may or may not have been served), `shutdown` after `close()`.
 * - A connection that drops fails the calls waiting on that node at once with `nodedown`
 *   (`definite: false`: the request may have been served).
 * - Handlers are async; a handler that throws a non-`FedError` answers `badarg` with its message.
 * - At most `pendingMax` calls wait at once (`overloaded` beyond).
 * Timers come from the injected `Clock`.
 */
import { type Clock, type Distribution, FedError, fedError, isFedError } from '../runtime/index.js';

export const RPC_PENDING_MAX_DEFAULT = 10_000;

export type RpcHandler = (from: string, body: unknown) => Promise<unknown>;

type RpcFrame =
  | { readonly type: 'req'; readonly id: number; readonly method: string; readonly body: unknown }
  | { readonly type: 'res'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'res'; readonly id: number; readonly ok: false; readonly code: string; readonly message: string; readonly details: unknown };

interface Waiting {
  readonly node: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: ReturnType<Clock['setTimeout']>;
}

export class Rpc {
  readonly #distribution: Distribution;
  readonly #channel: string;
  readonly #clock: Clock;
  readonly #handlers = new Map<string, RpcHandler>();
  readonly #waiting = new Map<number, Waiting>();
  readonly #pendingMax: number;
  readonly #unsubscribe: Array<() => void> = [];
  #nextId = 1;
  #closed = false;

  constructor(distribution: Distribution, channel: string, clock: Clock, pendingMax = RPC_PENDING_MAX_DEFAULT) {
    this.#distribution = distribution;
    this.#channel = channel;
    this.#clock = clock;
    this.#pendingMax = pendingMax;
    this.#unsubscribe.push(
      distribution.onControl(channel, (from, payload) => this.#onFrame(from, payload as RpcFrame)),
      distribution.onNodeEvent((event) => {
        if (event.type === 'nodedown') this.#failNode(event.node);
      }),
    );
  }

  handle(method: string, handler: RpcHandler): void {
    this.#handlers.set(method, handler);
  }

  call(node: string, method: string, body: unknown, timeoutMs: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(fedError('shutdown', 'federation rpc is closed'));
    if (this.#waiting.size >= this.#pendingMax) return Promise.reject(fedError('overloaded', `${this.#waiting.size} federation calls wait`, { retryAfterMs: 50 }));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        if (this.#waiting.delete(id)) reject(fedError('timeout', `${method} to ${node}: no answer in ${timeoutMs} ms`, { node }));
      }, timeoutMs);
      this.#waiting.set(id, { node, resolve, reject, timer });
      const frame: RpcFrame = { type: 'req', id, method, body };
      if (!this.#distribution.sendControl(node, this.#channel, frame)) {
        this.#waiting.delete(id);
        this.#clock.clearTimeout(timer);
        reject(fedError('nodedown', `${node} is not connected`, { node, definite: true }));
      }
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    const error = fedError('shutdown', 'federation rpc is closing');
    for (const waiting of this.#waiting.values()) {
      this.#clock.clearTimeout(waiting.timer);
      waiting.reject(error);
    }
    this.#waiting.clear();
  }

  #onFrame(from: string, frame: RpcFrame): void {
    if (typeof frame !== 'object' || frame === null || typeof frame.id !== 'number') return;
    if (frame.type === 'req') {
      void this.#serve(from, frame.id, frame.method, frame.body);
      return;
    }
    const waiting = this.#waiting.get(frame.id);
    if (waiting === undefined || waiting.node !== from) return;
    this.#waiting.delete(frame.id);
    this.#clock.clearTimeout(waiting.timer);
    if (frame.ok) waiting.resolve(frame.value);
    else waiting.reject(new FedError(frame.code as FedError['code'], frame.message, { details: (frame.details ?? undefined) as Record<string, unknown> | undefined }));
  }

  async #serve(from: string, id: number, method: string, body: unknown): Promise<void> {
    let reply: RpcFrame;
    try {
      const handler = this.#handlers.get(method);
      if (handler === undefined) throw fedError('badarg', `unknown federation method ${JSON.stringify(method)}`);
      reply = { type: 'res', id, ok: true, value: await handler(from, body) };
    } catch (error) {
      const typed = isFedError(error) ? error : fedError('badarg', (error as Error)?.message ?? String(error));
      reply = { type: 'res', id, ok: false, code: typed.code, message: typed.message, details: typed.details ?? null };
    }
    if (!this.#closed) this.#distribution.sendControl(from, this.#channel, reply);
  }

  #failNode(node: string): void {
    for (const [id, waiting] of this.#waiting) {
      if (waiting.node !== node) continue;
      this.#waiting.delete(id);
      this.#clock.clearTimeout(waiting.timer);
      waiting.reject(fedError('nodedown', `connection to ${node} lost`, { node, definite: false }));
    }
  }
}
