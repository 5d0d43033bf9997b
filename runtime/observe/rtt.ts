/**
 * Heartbeat round-trip times. The distribution's heartbeats are one-way (each side only checks
 * that it hears the other), so this probe measures the same path: every `intervalMs` it sends a
 * ping on the control lane (the lane heartbeats use, never queued behind bulk data) to each
 * visible peer, and the peer's probe echoes it. Peers that do not run a probe never answer and
 * simply have no RTT.
 *
 * Contract: one probe per distribution (it owns the control channel `observe:rtt`). The timer
 * is unref'd; `close()` stops it and the handler. RTTs are kept per peer as the last sample
 * and a moving average; a peer's figures are dropped when it disconnects.
 */
import { performance } from 'node:perf_hooks';
import type { Distribution } from '../dist/index.js';

export const RTT_CHANNEL = 'observe:rtt';
export const RTT_PROBE_INTERVAL_MS_DEFAULT = 1_000;
/** Weight of the newest sample in the moving average. */
const RTT_AVERAGE_WEIGHT = 0.2;

interface RttMessage {
  readonly kind: 'ping' | 'pong';
  readonly sentMs: number;
}

export interface PeerRtt {
  readonly lastMs: number;
  readonly averageMs: number;
  readonly samples: number;
}

export class RttProbe {
  readonly #distribution: Distribution;
  readonly #rtts = new Map<string, { lastMs: number; averageMs: number; samples: number }>();
  readonly #unsubscribe: Array<() => void> = [];
  readonly #timer: NodeJS.Timeout;

  constructor(distribution: Distribution, options: { intervalMs?: number } = {}) {
    this.#distribution = distribution;
    this.#unsubscribe.push(
      distribution.onControl(RTT_CHANNEL, (from, payload) => this.#onMessage(from, payload)),
      distribution.onNodeEvent((event) => {
        if (event.type === 'nodedown') this.#rtts.delete(event.node);
      }),
    );
    this.#timer = setInterval(() => this.probe(), options.intervalMs ?? RTT_PROBE_INTERVAL_MS_DEFAULT);
    this.#timer.unref();
  }

  /** Ping every visible peer now (also done every interval). */
  probe(): void {
    const message: RttMessage = { kind: 'ping', sentMs: performance.now() };
    for (const peer of this.#distribution.peers({ hidden: false })) this.#distribution.sendControl(peer, RTT_CHANNEL, message);
  }

  rtt(peer: string): PeerRtt | undefined {
    const entry = this.#rtts.get(peer);
    return entry === undefined ? undefined : { ...entry };
  }

  close(): void {
    clearInterval(this.#timer);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }

  #onMessage(from: string, payload: unknown): void {
    const message = payload as Partial<RttMessage> | null;
    if (typeof message !== 'object' || message === null || typeof message.sentMs !== 'number') return;
    if (message.kind === 'ping') {
      this.#distribution.sendControl(from, RTT_CHANNEL, { kind: 'pong', sentMs: message.sentMs } satisfies RttMessage);
      return;
    }
    if (message.kind !== 'pong') return;
    const sampleMs = performance.now() - message.sentMs;
    if (!(sampleMs >= 0)) return;
    const entry = this.#rtts.get(from);
    if (entry === undefined) {
      this.#rtts.set(from, { lastMs: sampleMs, averageMs: sampleMs, samples: 1 });
    } else {
      entry.lastMs = sampleMs;
      entry.averageMs += (sampleMs - entry.averageMs) * RTT_AVERAGE_WEIGHT;
      entry.samples++;
    }
  }
}
