/**
 * The CLI's side of the admin protocol: a hidden node (it connects only where told and is never
 * propagated) that dials `--node`, authenticates with the cookie, and asks the node's
 * `fedctl_admin` process. A request is sent with a fresh ref and a monitor on the server, so a
 * node that dies mid-request answers `noconnection` at once rather than a timeout.
 * `request` retries an `overloaded` answer with capped, jittered exponential backoff (see
 * retry.ts; the refused request was never proposed, so the retry cannot duplicate it);
 * `requestOnce` does not.
 *
 * The link is TCP (`host:port`) by default; with `link: {transport: 'hyperswarm', dhtBootstrap}`
 * the client joins the given DHT with a fresh key pair of its own and dials the node's public
 * key, the cookie handshake and sealing running over the Noise stream as between nodes.
 */
import { randomBytes } from 'node:crypto';
import { Distribution, HyperswarmTransport, Node, TIMEOUT, TcpTransport, type Transport, appendAll, fedError, isDownMessage, isFedError, type ProcessContext } from '../runtime/index.js';
import { ADMIN_SERVER_NAME, type AdminReply, type AdminRequest, type NameInfo, type NamesPage } from './admin-protocol.js';
import type { AdminReplyEnvelope } from './admin-server.js';
import { type RetryOptions, withOverloadRetry } from './retry.js';

export interface AdminClient {
  readonly peer: string;
  request(request: AdminRequest, timeoutMs?: number): Promise<unknown>;
  /** One attempt: an `overloaded` answer rejects at once. */
  requestOnce(request: AdminRequest, timeoutMs?: number): Promise<unknown>;
  close(): Promise<void>;
}

/** How the client reaches the node: the node's own transport. */
export type AdminLink = { readonly transport: 'tcp' } | { readonly transport: 'hyperswarm'; readonly dhtBootstrap: readonly string[] };

export interface ConnectAdminOptions extends RetryOptions {
  /** Default tcp. */
  readonly link?: AdminLink;
}

export async function connectAdmin(address: string, cookie: string, timeoutMs: number, options: ConnectAdminOptions = {}): Promise<AdminClient> {
  const { link, ...retry } = options;
  // Built before the node starts: a bad bootstrap list is refused with nothing to undo.
  const transport: Transport = link?.transport === 'hyperswarm' ? new HyperswarmTransport({ bootstrap: link.dhtBootstrap }) : new TcpTransport();
  const node = new Node({ name: `fedctl-cli-${randomBytes(4).toString('hex')}@127.0.0.1` });
  await node.start();
  const distribution = new Distribution({ node, cookie, transport, hidden: true, listen: false, reconnect: false, logger: () => undefined, connectTimeoutMs: timeoutMs, handshakeTimeoutMs: timeoutMs });
  const close = async (): Promise<void> => {
    await distribution.close();
    await node.stop();
  };
  try {
    await distribution.start();
    const peer = await withTimeout(distribution.connect(address), timeoutMs, `no answer from ${address}`);
    const requestOnce = (request: AdminRequest, requestTimeoutMs = timeoutMs): Promise<unknown> => node.run((ctx) => ask(ctx, peer, request, requestTimeoutMs));
    return {
      peer,
      // The whole request, retries of `overloaded` included, ends within its timeout.
      request: (request, requestTimeoutMs = timeoutMs) => {
        const deadlineMs = performance.now() + requestTimeoutMs;
        return withOverloadRetry(() => requestOnce(request, Math.max(1, Math.round(deadlineMs - performance.now()))), { ...retry, deadlineMs });
      },
      requestOnce,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function ask(ctx: ProcessContext, peer: string, request: AdminRequest, timeoutMs: number): Promise<unknown> {
  const server = { name: ADMIN_SERVER_NAME, node: peer };
  const monitor = ctx.monitor(server);
  const ref = ctx.makeRef();
  ctx.send(server, { type: 'fedctl_admin', ref, from: ctx.self, request });
  const answer = await ctx.receive(
    (msg) => (isReply(msg) && msg.ref.equals(ref)) || (isDownMessage(msg) && msg.ref.equals(monitor)),
    timeoutMs,
  );
  ctx.demonitor(monitor, { flush: true });
  if (answer === TIMEOUT) throw fedError('timeout', `${peer} did not answer ${request.op} in ${timeoutMs} ms`);
  if (isDownMessage(answer)) {
    const reason = typeof answer.reason === 'string' ? answer.reason : JSON.stringify(answer.reason);
    throw fedError(reason === 'noproc' ? 'noproc' : 'nodedown', `${peer} is not serving admin requests (${reason})`);
  }
  return unwrap((answer as AdminReplyEnvelope).reply);
}

/**
 * Every name starting with `prefix`, read page by page (`names_page`), so a registry of any size
 * lists (one `names` answer over the frame limit could not be sent); with `all`, a federation's
 * names homed in every group. A node from before paging answers `badarg` to `names_page`: then
 * one `names` request, as before. `once`: without retrying an overloaded answer (requestOnce).
 */
export async function namesInPages(client: AdminClient, prefix: string, timeoutMs: number, options: { readonly all?: boolean; readonly once?: boolean } = {}): Promise<NameInfo[]> {
  const all = options.all === true ? { all: true } : {};
  const ask = (request: AdminRequest): Promise<unknown> => (options.once === true ? client.requestOnce(request, timeoutMs) : client.request(request, timeoutMs));
  const names: NameInfo[] = [];
  let after: string | undefined;
  for (;;) {
    let page: NamesPage;
    try {
      page = (await ask({ op: 'names_page', prefix, ...all, ...(after === undefined ? {} : { after }) })) as NamesPage;
    } catch (error) {
      // "unknown admin request" (a node), "answers only group_info and names" (a gateway).
      if (after === undefined && isFedError(error, 'badarg') && /unknown admin request|answers only group_info and names,/.test(error.message)) {
        return (await ask({ op: 'names', prefix, ...all })) as NameInfo[];
      }
      throw error;
    }
    // A node that pages but predates `all` answered for its own group only: ask the old way.
    if (options.all === true && after === undefined && page.all !== true) return (await ask({ op: 'names', prefix, all: true })) as NameInfo[];
    appendAll(names, page.names);
    // Each page's cursor sorts after the previous one: the loop ends with the names.
    if (page.next === null || (after !== undefined && !(page.next > after))) return names;
    after = page.next;
  }
}

function isReply(msg: unknown): msg is AdminReplyEnvelope {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'fedctl_admin_reply';
}

function unwrap(reply: AdminReply): unknown {
  if (reply.ok) return reply.value;
  throw fedError(reply.code as Parameters<typeof fedError>[0], reply.message, reply.details);
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(fedError('timeout', message)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}
