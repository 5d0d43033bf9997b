/**
 * `Distribution`: the mesh of one node — its connections to other nodes by name, and the
 * `SignalRouter` that carries the node's signals over them.
 *
 * Contract:
 * - One connection per peer name. A second one is refused with `name_clash`, unless it comes
 *   from a newer incarnation (higher creation: the old one is dead, its connection is closed) or
 *   in a simultaneous connect, where the connection initiated by the node with the smaller name
 *   wins (both sides decide alike; an already established connection always wins).
 * - Visible connections are transitive: on connecting, two visible nodes send each other their
 *   visible peers and each dials those it lacks. A `hidden` node (gateways, the CLI, test
 *   clients) connects only where told, is never put in a peer list, and gets none.
 * - Reconnect: addresses given to `connect()` or found by discovery are redialled forever, and
 *   visible mesh peers up to `LEARNED_RECONNECT_ATTEMPTS_MAX` times, with capped exponential
 *   backoff and jitter (`backoffMinMs` doubling to `backoffMaxMs`, then a random 50–100 %).
 * - Routing (`route`, called by the node for signals to other nodes) never throws or blocks.
 *   To an unconnected node: data is dropped (counted), `link` is answered with an `exit`
 *   `noconnection` and `monitor` with a `down` `noconnection`. A pid of another incarnation
 *   (creation differs from the connected peer's) is dead: `link`/`monitor` are answered with
 *   `noproc`, data is dropped. Data over a peer's outbound bound is dropped (see connection.ts).
 * - When a connection ends, `node.nodeDown(peer)` fires `noconnection` for every link and
 *   monitor across it, node monitors get `{type:'nodedown', node}`, one log line says why.
 * - Subsystems (Raft) exchange their own messages on the control lane: `onControl(channel, fn)`
 *   and `sendControl(node, channel, payload)`. Delivery is in order per connection and best
 *   effort (lost if the connection drops), like any message.
 * - `close()` is idempotent: it stops discovery and reconnects, closes every connection
 *   (firing nodeDown for each) and the transport, and detaches from the node.
 *
 * Only per-pair message order is promised, as in Erlang; nothing else.
 */
import { fedError, FedError, type ErrorCode } from '../kernel/errors.js';
import { LIMITS } from '../kernel/limits.js';
import { Rng, randomSeed } from '../kernel/rng.js';
import { Pid } from '../pid.js';
import type { NameAtNode, Signal, SignalRouter } from '../signals.js';
import { BusyWait, type BusyWaitClocks } from './busy-wait.js';
import { Connection, type ConnectionStats } from './connection.js';
import type { Discovery } from './discovery.js';
import { handshake, type NodeIdentity, type Role } from './handshake.js';
import { type ByteStream, type Transport, TcpTransport, isLoopbackHost, parseHostPort } from './transport.js';
import type { PeerAddress } from './wire.js';

/** Mesh-learned peers are redialled this many times before being forgotten. */
export const LEARNED_RECONNECT_ATTEMPTS_MAX = 10;
export const DISCOVERY_INTERVAL_MS_DEFAULT = 5_000;
export const CLUSTER_DEFAULT = 'fedctl';
/** Incoming connections still in their handshake; more are closed at once (slow-handshake floods). */
export const PENDING_HANDSHAKES_MAX = 256;

/** What the distribution needs from a node (the runtime's `Node` has all of it). */
export interface DistributionHost {
  readonly name: string;
  readonly creation: number;
  setSignalRouter(router: SignalRouter | undefined): void;
  deliverSignal(signal: Signal): void;
  nodeDown(nodeName: string): void;
  isAlive?(pid: Pid): boolean;
  /** Runs the hook when the node stops (after its processes): the distribution closes with it. */
  onStop?(hook: () => Promise<void>): () => void;
}

export interface LogEntry {
  readonly level: 'info' | 'warn';
  readonly event: string;
  readonly node: string;
  readonly peer?: string;
  readonly code?: string;
  readonly msg: string;
}

export type Logger = (entry: LogEntry) => void;

export const stderrLogger: Logger = (entry) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'dist', ...entry })}\n`);
};

export interface DistributionOptions {
  readonly node: DistributionHost;
  /** The shared secret; never sent. */
  readonly cookie: string;
  /** Cluster id: nodes of different clusters never link. Default `fedctl`. */
  readonly cluster?: string;
  readonly hidden?: boolean;
  /** Default: tcp on 127.0.0.1, any port. */
  readonly transport?: Transport;
  /** Accept connections (default true). A non-listening node can still dial. */
  readonly listen?: boolean;
  readonly discovery?: readonly Discovery[];
  readonly discoveryIntervalMs?: number;
  /** Seal records (default true). `false` is for loopback benchmarks and refused elsewhere. */
  readonly sealed?: boolean;
  readonly tickMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly frameBytesMax?: number;
  readonly outboundBytesMax?: number;
  readonly recordBytesTarget?: number;
  /**
   * After a link's activity, keep the event loop turning this long (µs) so an answer is read at
   * once, as BEAM schedulers busy-wait before sleeping (busy-wait.ts). Default
   * `LIMITS.busyWaitUs`; 0 turns it off; at most `LIMITS.busyWaitUsMax`.
   */
  readonly busyWaitUs?: number;
  /** The busy-wait's clocks (tests make its contention check deterministic with these). */
  readonly busyWaitClocks?: BusyWaitClocks;
  readonly reconnect?: boolean;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  readonly rng?: Rng;
  readonly logger?: Logger;
  /** The protocol versions offered in handshakes (default: all this build speaks; tests pin older ones). */
  readonly versionMin?: number;
  readonly versionMax?: number;
}

export type NodeEvent = { readonly type: 'nodeup' | 'nodedown'; readonly node: string; readonly hidden: boolean };
export type ControlHandler = (fromNode: string, payload: unknown) => void;

export interface PeerInfo {
  readonly name: string;
  readonly creation: number;
  readonly hidden: boolean;
  readonly address: string;
  /** The link protocol version agreed with it in the handshake. */
  readonly version: number;
}

export interface DistributionStats {
  connectionsOpened: number;
  connectionsClosed: number;
  handshakesFailed: number;
  /** Incoming connections closed unheard because `PENDING_HANDSHAKES_MAX` handshakes were under way. */
  handshakesRefused: number;
  /** Handshakes under way now (incoming and outgoing), at most `PENDING_HANDSHAKES_MAX`. */
  handshakesPending: number;
  /** Data to nodes we have no connection to (dropped, as Erlang does). */
  dataDroppedUnconnected: number;
  /** Control messages for a channel nobody handles here. */
  controlUnhandled: number;
  /** Event-loop turns spent busy-waiting after link activity (`busyWaitUs`; 0 when off). */
  busyWaitTurns: number;
  /** Times busy-waiting paused because the process was not getting the CPU it spun on (busy-wait.ts). */
  busyWaitPauses: number;
  /** Per connected peer. */
  peers: Record<string, ConnectionStats>;
  /** Totals over connections that have closed. */
  closedTotals: { dataDropped: number; dataSent: number; dataReceived: number };
}

interface Target {
  readonly address: string;
  /** Given by the user or discovery (redialled forever) or learned from the mesh. */
  persistent: boolean;
  name: string | undefined;
  failures: number;
  timer: NodeJS.Timeout | undefined;
  dialing: Promise<string> | undefined;
}

/** A handshake admitted for a peer name but not yet registered as a connection. */
interface Claim {
  readonly initiator: string;
  readonly stream: ByteStream;
}

/**
 * The wait before the next dial after `failures` failed ones in a row: a cap doubling from
 * `minMs` to at most `maxMs`, and of that a random 50–100 % (so peers that lost a node at the
 * same moment do not all redial it at the same moments).
 */
export function backoffDelayMs(failures: number, minMs: number, maxMs: number, rng: Rng): number {
  const capMs = Math.min(maxMs, minMs * 2 ** Math.min(failures, 30));
  return capMs / 2 + rng.next() * (capMs / 2);
}

export class Distribution implements SignalRouter {
  #blocked = new Set<string>();
  readonly node: DistributionHost;
  readonly hidden: boolean;
  readonly cluster: string;
  readonly #cookie: string;
  readonly #transport: Transport;
  readonly #options: DistributionOptions;
  readonly #rng: Rng;
  readonly #log: Logger;
  readonly #sealed: boolean;
  readonly #connections = new Map<string, Connection>();
  /** Handshakes admitted but not yet registered, by peer name. */
  readonly #claims = new Map<string, Claim>();
  readonly #targets = new Map<string, Target>();
  readonly #pendingStreams = new Set<ByteStream>();
  readonly #controlHandlers = new Map<string, ControlHandler>();
  readonly #nodeWatchers = new Map<string, Map<string, Pid>>();
  readonly #allNodesWatchers = new Map<string, Pid>();
  readonly #listeners = new Set<(event: NodeEvent) => void>();
  readonly #stats: Omit<DistributionStats, 'peers' | 'handshakesPending' | 'busyWaitTurns' | 'busyWaitPauses'> = {
    connectionsOpened: 0,
    connectionsClosed: 0,
    handshakesFailed: 0,
    handshakesRefused: 0,
    dataDroppedUnconnected: 0,
    controlUnhandled: 0,
    closedTotals: { dataDropped: 0, dataSent: 0, dataReceived: 0 },
  };
  #state: 'new' | 'starting' | 'started' | 'closed' = 'new';
  /** Unregisters the node's stop hook (closing us first, then stopping the node, runs it once). */
  #unhookStop: (() => void) | undefined;
  #starting: Promise<void> | undefined;
  #address = '';
  #discoveryTimer: NodeJS.Timeout | undefined;
  readonly #busyWait: BusyWait;

  constructor(options: DistributionOptions) {
    if (typeof options.cookie !== 'string' || options.cookie.length === 0) throw fedError('config', 'a cookie is required');
    this.node = options.node;
    this.hidden = options.hidden ?? false;
    this.cluster = options.cluster ?? CLUSTER_DEFAULT;
    this.#cookie = options.cookie;
    this.#options = options;
    this.#transport = options.transport ?? new TcpTransport();
    this.#sealed = options.sealed ?? true;
    if (!this.#sealed && this.#transport.kind !== 'tcp') throw fedError('config', 'plaintext links are only allowed over tcp on loopback');
    // Refused before anything is bound: a plaintext node never listens on another interface, not even briefly.
    const host = this.#transport.host;
    if (!this.#sealed && options.listen !== false && host !== undefined && !isLoopbackHost(host)) {
      throw fedError('config', `plaintext links refused: ${host} is not a loopback interface`);
    }
    this.#rng = options.rng ?? new Rng(randomSeed());
    this.#log = options.logger ?? stderrLogger;
    const busyWaitUs = options.busyWaitUs ?? LIMITS.busyWaitUs;
    if (!(Number.isFinite(busyWaitUs) && busyWaitUs >= 0 && busyWaitUs <= LIMITS.busyWaitUsMax)) {
      throw fedError('config', `busyWaitUs must be from 0 to ${LIMITS.busyWaitUsMax} microseconds, not ${busyWaitUs}`);
    }
    this.#busyWait = new BusyWait(busyWaitUs, options.busyWaitClocks);
  }

  /** Create, start and attach to `options.node`. */
  static async start(options: DistributionOptions): Promise<Distribution> {
    const distribution = new Distribution(options);
    await distribution.start();
    return distribution;
  }

  /** Where peers dial this node ('' if it does not listen). */
  get address(): string {
    return this.#address;
  }

  get identity(): NodeIdentity {
    return {
      name: this.node.name,
      creation: this.node.creation,
      cluster: this.cluster,
      hidden: this.hidden,
      listenAddress: this.#address,
      sealed: this.#sealed,
    };
  }

  /** Listen (unless `listen: false`), attach to the node as its router, start discovery. Idempotent. */
  start(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(fedError('closed', 'distribution is closed'));
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#state = 'starting';
    if (this.#options.listen !== false) {
      this.#address = await this.#transport.listen((stream) => this.#accept(stream));
      if (!this.#sealed && !isLoopbackHost(parseHostPort(this.#address).host)) {
        await this.#transport.close();
        throw fedError('config', `plaintext links refused: ${this.#address} is not a loopback address`);
      }
    }
    if (this.#state !== 'starting') return;
    this.#state = 'started';
    this.node.setSignalRouter(this);
    this.#unhookStop = this.node.onStop?.(() => this.close());
    for (const discovery of this.#options.discovery ?? []) await discovery.start?.(this.#address);
    if ((this.#options.discovery ?? []).length > 0) void this.#discover();
  }

  // ---- connections -------------------------------------------------------------------------

  /** Connect to a node's address (and keep reconnecting to it); resolves to the peer's name. */
  connect(address: string): Promise<string> {
    if (this.#state === 'closed') return Promise.reject(fedError('closed', 'distribution is closed'));
    const target = this.#target(address, true);
    const connected = target.name === undefined ? undefined : this.#connections.get(target.name);
    if (connected !== undefined) return Promise.resolve(connected.peer.name);
    return this.#dial(target);
  }

  /** Close the connection to `nodeName` and stop redialling it (Erlang's disconnect_node). */
  disconnect(nodeName: string): boolean {
    for (const [address, target] of this.#targets) {
      if (target.name === nodeName) this.#dropTarget(address);
    }
    const connection = this.#connections.get(nodeName);
    if (connection === undefined) return false;
    connection.close(fedError('closed', `disconnected from ${nodeName} on request`, { peer: nodeName }));
    return true;
  }

  /**
   * Stop dialling `address` (given to `connect` or found by discovery), whether or not a peer
   * ever answered there, and close the connection to the node last seen at it. Returns whether
   * anything was dropped.
   */
  forgetAddress(address: string): boolean {
    const target = this.#targets.get(address);
    if (target === undefined) return false;
    this.#dropTarget(address);
    const connection = target.name === undefined ? undefined : this.#connections.get(target.name);
    connection?.close(fedError('closed', `stopped dialling ${address} on request`, { peer: target.name, address }));
    return true;
  }

  /**
   * Fault injection (jepsen-lite; off unless the node was started with it): cut the links to
   * `nodes` and refuse them, both ways, until a later call leaves them out. Targets are kept, so
   * healing redials at once. Replaces the previous block list.
   */
  setBlocked(nodes: readonly string[]): void {
    const previous = this.#blocked;
    this.#blocked = new Set(nodes);
    for (const name of this.#blocked) {
      this.#connections.get(name)?.close(fedError('unavailable', `link to ${name} cut by fault injection`, { peer: name }));
    }
    for (const target of this.#targets.values()) {
      if (target.name === undefined || !previous.has(target.name) || this.#blocked.has(target.name)) continue;
      if (this.#connections.has(target.name) || target.dialing !== undefined) continue;
      if (target.timer !== undefined) clearTimeout(target.timer);
      target.timer = undefined;
      target.failures = 0;
      this.#dial(target).catch(() => undefined);
    }
  }

  blocked(): string[] {
    return [...this.#blocked].sort();
  }

  /** Names of connected nodes (visible and hidden unless asked otherwise). */
  peers(options: { hidden?: boolean } = {}): string[] {
    const names: string[] = [];
    for (const [name, connection] of this.#connections) {
      if (options.hidden === undefined || connection.peer.hidden === options.hidden) names.push(name);
    }
    return names.sort();
  }

  peerInfo(nodeName: string): PeerInfo | undefined {
    const connection = this.#connections.get(nodeName);
    if (connection === undefined) return undefined;
    const peer = connection.peer;
    return { name: peer.name, creation: peer.creation, hidden: peer.hidden, address: peer.listenAddress, version: connection.version };
  }

  isConnected(nodeName: string): boolean {
    return this.#connections.has(nodeName);
  }

  stats(): DistributionStats {
    const peers: Record<string, ConnectionStats> = {};
    for (const [name, connection] of this.#connections) peers[name] = connection.snapshot();
    return { ...this.#stats, handshakesPending: this.#pendingStreams.size, busyWaitTurns: this.#busyWait.turns, busyWaitPauses: this.#busyWait.pauses, closedTotals: { ...this.#stats.closedTotals }, peers };
  }

  // ---- routing -----------------------------------------------------------------------------

  /** SignalRouter: carry a signal of the node to another node. Never throws. */
  route(signal: Signal): void {
    const connection = this.#connections.get(signal.to.node);
    if (connection === undefined) {
      this.#answerUnreachable(signal, 'noconnection');
      return;
    }
    if (signal.to instanceof Pid && signal.to.creation !== connection.peer.creation) {
      this.#answerUnreachable(signal, 'noproc');
      return;
    }
    connection.sendSignal(signal);
  }

  /**
   * Send a user message to a process on another node, waiting for room in the outbound buffer.
   * Rejects with `nodedown` (not connected), `buffer_full` (no room within `timeoutMs`) or
   * `frame_too_large`. A pid of another incarnation resolves (the message is dropped, as to a
   * dead process).
   */
  sendAsync(to: Pid | NameAtNode, msg: unknown, options: { from?: Pid; timeoutMs?: number } = {}): Promise<void> {
    const connection = this.#connections.get(to.node);
    if (connection === undefined) return Promise.reject(fedError('nodedown', `not connected to ${to.node}`, { node: to.node }));
    if (to instanceof Pid && to.creation !== connection.peer.creation) return Promise.resolve();
    const signal: Signal = to instanceof Pid ? { kind: 'send', from: options.from, to, msg } : { kind: 'reg_send', from: options.from, to, msg };
    return connection.sendDataAsync(signal, options.timeoutMs);
  }

  #answerUnreachable(signal: Signal, reason: 'noconnection' | 'noproc'): void {
    if (signal.kind === 'link') {
      this.node.deliverSignal({ kind: 'exit', from: signal.to, to: signal.from, reason });
    } else if (signal.kind === 'monitor') {
      this.node.deliverSignal({ kind: 'down', from: signal.to, to: signal.from, ref: signal.ref, reason });
    } else if (signal.kind === 'send' || signal.kind === 'reg_send') {
      this.#stats.dataDroppedUnconnected++;
    }
  }

  // ---- subsystems' control messages --------------------------------------------------------

  /** Handle control messages on `channel` (one handler per channel); returns an unsubscribe. */
  onControl(channel: string, handler: ControlHandler): () => void {
    if (this.#controlHandlers.has(channel)) throw fedError('badarg', `control channel ${JSON.stringify(channel)} already has a handler`);
    this.#controlHandlers.set(channel, handler);
    return () => {
      if (this.#controlHandlers.get(channel) === handler) this.#controlHandlers.delete(channel);
    };
  }

  /**
   * Send a control message to a connected node; false if not connected (nothing sent). Throws
   * `frame_too_large` for a payload over the frame limit and `badarg` for an invalid channel.
   */
  sendControl(nodeName: string, channel: string, payload: unknown): boolean {
    const connection = this.#connections.get(nodeName);
    if (connection === undefined) return false;
    connection.sendControl(channel, payload);
    return true;
  }

  // ---- node monitoring ---------------------------------------------------------------------

  /**
   * `pid` gets `{type:'nodeup'|'nodedown', node}` for `nodeName` until `demonitorNode`; if the
   * node is not connected now it gets a `nodedown` at once (as Erlang's monitor_node).
   */
  monitorNode(pid: Pid, nodeName: string): void {
    let watchers = this.#nodeWatchers.get(nodeName);
    if (watchers === undefined) {
      watchers = new Map();
      this.#nodeWatchers.set(nodeName, watchers);
    }
    watchers.set(pid.key, pid);
    if (!this.#connections.has(nodeName)) this.#tell(pid, { type: 'nodedown', node: nodeName });
  }

  demonitorNode(pid: Pid, nodeName: string): void {
    const watchers = this.#nodeWatchers.get(nodeName);
    watchers?.delete(pid.key);
    if (watchers?.size === 0) this.#nodeWatchers.delete(nodeName);
  }

  /** `pid` gets nodeup/nodedown for every node (as net_kernel:monitor_nodes). */
  monitorNodes(pid: Pid): void {
    this.#allNodesWatchers.set(pid.key, pid);
  }

  demonitorNodes(pid: Pid): void {
    this.#allNodesWatchers.delete(pid.key);
  }

  /** A plain callback for every nodeup/nodedown; returns an unsubscribe. */
  onNodeEvent(listener: (event: NodeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #tell(pid: Pid, msg: { type: 'nodeup' | 'nodedown'; node: string }): boolean {
    if (pid.node !== this.node.name) return false;
    if (this.node.isAlive !== undefined && !this.node.isAlive(pid)) return false;
    this.node.deliverSignal({ kind: 'send', from: undefined, to: pid, msg });
    return true;
  }

  #emit(event: NodeEvent): void {
    const msg = { type: event.type, node: event.node };
    for (const [key, pid] of this.#allNodesWatchers) if (!this.#tell(pid, msg)) this.#allNodesWatchers.delete(key);
    const watchers = this.#nodeWatchers.get(event.node);
    if (watchers !== undefined) for (const [key, pid] of watchers) if (!this.#tell(pid, msg)) watchers.delete(key);
    for (const listener of this.#listeners) listener(event);
  }

  // ---- shutdown ----------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const starting = this.#starting;
    this.#state = 'closed';
    this.#unhookStop?.();
    await starting?.catch(() => undefined);
    clearTimeout(this.#discoveryTimer);
    for (const address of [...this.#targets.keys()]) this.#dropTarget(address);
    for (const stream of this.#pendingStreams) stream.destroy();
    this.#pendingStreams.clear();
    for (const claim of [...this.#claims.values()]) claim.stream.destroy();
    this.#claims.clear();
    for (const connection of [...this.#connections.values()]) {
      connection.close(fedError('shutdown', `node ${this.node.name} is closing its distribution`));
    }
    this.#busyWait.close();
    this.node.setSignalRouter(undefined);
    await Promise.allSettled((this.#options.discovery ?? []).map((discovery) => discovery.close()));
    await this.#transport.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- internals: establishing connections -------------------------------------------------

  #accept(stream: ByteStream): void {
    if (this.#state === 'closed') {
      stream.destroy();
      return;
    }
    if (this.#pendingStreams.size >= PENDING_HANDSHAKES_MAX) {
      this.#stats.handshakesRefused++;
      stream.destroy();
      return;
    }
    if (!this.#sealed && !isLoopbackHost(stream.remoteHost)) {
      this.#logWarn('refused', undefined, 'config', `plaintext link refused from non-loopback ${String(stream.remoteHost)}`);
      stream.destroy();
      return;
    }
    void this.#handshake(stream, 'responder').catch(() => undefined);
  }

  #target(address: string, persistent: boolean): Target {
    let target = this.#targets.get(address);
    if (target === undefined) {
      target = { address, persistent, name: undefined, failures: 0, timer: undefined, dialing: undefined };
      this.#targets.set(address, target);
    } else if (persistent) {
      target.persistent = true;
    }
    return target;
  }

  #dropTarget(address: string): void {
    const target = this.#targets.get(address);
    if (target === undefined) return;
    clearTimeout(target.timer);
    this.#targets.delete(address);
  }

  #dial(target: Target): Promise<string> {
    if (target.dialing !== undefined) return target.dialing;
    clearTimeout(target.timer);
    target.timer = undefined;
    const dialing = this.#dialOnce(target).finally(() => {
      target.dialing = undefined;
    });
    target.dialing = dialing;
    dialing.then(
      () => {
        target.failures = 0;
      },
      () => {
        target.failures++;
        this.#scheduleRedial(target);
      },
    );
    return dialing;
  }

  async #dialOnce(target: Target): Promise<string> {
    if (this.#state !== 'started') throw fedError('closed', 'distribution is not started');
    if (target.name !== undefined && this.#connections.has(target.name)) return target.name;
    if (!this.#sealed && !isLoopbackHost(parseHostPort(target.address).host)) {
      throw fedError('config', `plaintext links refused: ${target.address} is not a loopback address`);
    }
    const stream = await this.#transport.connect(target.address, { timeoutMs: this.#options.connectTimeoutMs });
    if (this.#state !== 'started') {
      stream.destroy();
      throw fedError('closed', 'distribution is closed');
    }
    const connection = await this.#handshake(stream, 'initiator', target);
    return connection.peer.name;
  }

  #scheduleRedial(target: Target): void {
    if (this.#state !== 'started' || this.#options.reconnect === false || this.#targets.get(target.address) !== target) return;
    if (target.name !== undefined && this.#connections.has(target.name)) return;
    if (!target.persistent && target.failures > LEARNED_RECONNECT_ATTEMPTS_MAX) {
      this.#dropTarget(target.address);
      return;
    }
    clearTimeout(target.timer);
    target.timer = setTimeout(() => {
      target.timer = undefined;
      void this.#dial(target).catch(() => undefined);
    }, this.#backoffMs(target.failures));
  }

  #backoffMs(failures: number): number {
    return backoffDelayMs(failures, this.#options.backoffMinMs ?? LIMITS.reconnectBackoffMinMs, this.#options.backoffMaxMs ?? LIMITS.reconnectBackoffMaxMs, this.#rng);
  }

  async #handshake(stream: ByteStream, role: Role, target?: Target): Promise<Connection> {
    this.#pendingStreams.add(stream);
    let claimed: string | undefined;
    try {
      const result = await handshake(stream, {
        role,
        local: this.identity,
        cookie: this.#cookie,
        timeoutMs: this.#options.handshakeTimeoutMs,
        frameBytesMax: this.#options.frameBytesMax,
        versionMin: this.#options.versionMin,
        versionMax: this.#options.versionMax,
        admit: (peer) => {
          const refusal = this.#admit(peer, role, stream);
          if (refusal === undefined) claimed = peer.name;
          return refusal;
        },
      });
      this.#pendingStreams.delete(stream);
      const name = result.peer.name;
      if (this.#state !== 'started' || claimed !== name || this.#claims.get(name)?.stream !== stream) {
        stream.destroy();
        throw fedError('closed', 'connection superseded or distribution closed');
      }
      if (target !== undefined) target.name = name;
      const connection = new Connection(stream, result, {
        local: this.identity,
        tickMs: this.#options.tickMs,
        timeoutMs: this.#options.heartbeatTimeoutMs,
        outboundBytesMax: this.#options.outboundBytesMax,
        recordBytesTarget: this.#options.recordBytesTarget,
        busyWait: this.#busyWait,
      });
      this.#claims.delete(name);
      this.#register(connection);
      return connection;
    } catch (error) {
      this.#pendingStreams.delete(stream);
      if (claimed !== undefined && this.#claims.get(claimed)?.stream === stream) this.#claims.delete(claimed);
      const failure = error instanceof FedError ? error : fedError('bad_frame', String(error));
      this.#stats.handshakesFailed++;
      if (this.#state !== 'closed' && failure.code !== 'closed') {
        this.#logWarn('handshake_failed', failure.details?.peer as string | undefined, failure.code, `${role} handshake ${target ? `with ${target.address} ` : ''}failed: ${failure.message}`);
      }
      throw failure;
    }
  }

  /** Admission: one connection per name; simultaneous connects resolved by initiator name. */
  #admit(peer: NodeIdentity, role: Role, stream: ByteStream): ErrorCode | undefined {
    if (this.#state !== 'started') return 'shutdown';
    if (this.#blocked.has(peer.name)) return 'unavailable';
    const established = this.#connections.get(peer.name);
    if (established !== undefined) {
      // A newer incarnation proves the old one dead (its link just has not timed out yet).
      if (peer.creation <= established.peer.creation) return 'name_clash';
      established.close(fedError('nodedown', `node ${peer.name} restarted (creation ${established.peer.creation} → ${peer.creation})`, { peer: peer.name }));
    }
    const initiator = role === 'initiator' ? this.node.name : peer.name;
    const existing = this.#claims.get(peer.name);
    if (existing !== undefined) {
      if (existing.initiator === initiator || initiator > existing.initiator) return 'name_clash';
      existing.stream.destroy();
    }
    this.#claims.set(peer.name, { initiator, stream });
    return undefined;
  }

  #register(connection: Connection): void {
    const peer = connection.peer;
    this.#connections.set(peer.name, connection);
    this.#stats.connectionsOpened++;
    connection.start({
      signal: (signal) => this.node.deliverSignal(signal),
      control: (channel, payload) => this.#onControl(peer.name, channel, payload),
      peers: (peers) => this.#onPeers(connection, peers),
      closed: (reason) => this.#onClosed(connection, reason),
    });
    if (connection.closed) return;
    if (peer.listenAddress !== '' && !peer.hidden && !this.hidden) {
      const target = this.#target(peer.listenAddress, false);
      target.name = peer.name;
      target.failures = 0;
      clearTimeout(target.timer);
      target.timer = undefined;
    }
    this.#log({ level: 'info', event: 'nodeup', node: this.node.name, peer: peer.name, msg: `connected to ${peer.name}${peer.hidden ? ' (hidden)' : ''}` });
    this.#emit({ type: 'nodeup', node: peer.name, hidden: peer.hidden });
    if (!this.hidden && !peer.hidden) connection.sendPeers(this.#visiblePeers(peer.name));
  }

  #visiblePeers(except: string): PeerAddress[] {
    const peers: PeerAddress[] = [];
    for (const [name, connection] of this.#connections) {
      if (name === except || connection.peer.hidden || connection.peer.listenAddress === '') continue;
      peers.push({ name, address: connection.peer.listenAddress });
    }
    return peers;
  }

  #onPeers(from: Connection, peers: PeerAddress[]): void {
    if (this.hidden || from.peer.hidden || this.#state !== 'started') return;
    for (const peer of peers) {
      if (peer.name === this.node.name || this.#connections.has(peer.name) || this.#claims.has(peer.name)) continue;
      const target = this.#target(peer.address, false);
      target.name ??= peer.name;
      void this.#dial(target).catch(() => undefined);
    }
  }

  #onControl(fromNode: string, channel: string, payload: unknown): void {
    const handler = this.#controlHandlers.get(channel);
    if (handler === undefined) {
      this.#stats.controlUnhandled++;
      return;
    }
    handler(fromNode, payload);
  }

  #onClosed(connection: Connection, reason: FedError | undefined): void {
    const name = connection.peer.name;
    if (this.#connections.get(name) !== connection) return;
    this.#connections.delete(name);
    this.#stats.connectionsClosed++;
    const totals = this.#stats.closedTotals;
    totals.dataDropped += connection.stats.dataDropped;
    totals.dataSent += connection.stats.dataSent;
    totals.dataReceived += connection.stats.dataReceived;
    // A hidden peer that dialled us (the CLI, a test client) going away is routine; a peer we
    // dial ourselves, or any visible one, going away is worth a warning.
    const dialledByUs = [...this.#targets.values()].some((target) => target.name === name);
    const routine = reason?.code === 'shutdown' || (connection.peer.hidden && !dialledByUs);
    this.#log({
      level: routine ? 'info' : 'warn',
      event: 'nodedown',
      node: this.node.name,
      peer: name,
      code: reason?.code,
      msg: `connection to ${name} closed: ${reason?.message ?? 'closed'}`,
    });
    this.node.nodeDown(name);
    this.#emit({ type: 'nodedown', node: name, hidden: connection.peer.hidden });
    for (const target of this.#targets.values()) {
      if (target.name === name) this.#scheduleRedial(target);
    }
  }

  async #discover(): Promise<void> {
    if (this.#state !== 'started') return;
    for (const discovery of this.#options.discovery ?? []) {
      let addresses: string[] = [];
      try {
        addresses = await discovery.discover();
      } catch {
        addresses = [];
      }
      if (this.#state !== 'started') return;
      for (const address of addresses) {
        if (address === this.#address) continue;
        const target = this.#target(address, true);
        if (target.dialing !== undefined || target.timer !== undefined) continue;
        if (target.name !== undefined && this.#connections.has(target.name)) continue;
        void this.#dial(target).catch(() => undefined);
      }
    }
    this.#discoveryTimer = setTimeout(() => void this.#discover(), this.#options.discoveryIntervalMs ?? DISCOVERY_INTERVAL_MS_DEFAULT);
  }

  #logWarn(event: string, peer: string | undefined, code: string, msg: string): void {
    this.#log({ level: 'warn', event, node: this.node.name, peer, code, msg });
  }
}
