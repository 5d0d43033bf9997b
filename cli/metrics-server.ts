/**
 * The HTTP endpoint of `fedctl start --metrics host:port` (off by default), as etcd serves its own:
 * - `GET /metrics` — Prometheus text exposition of `NodeMetrics` (all `fedctl_*`);
 * - `GET /livez`  — 200 `ok` while the node runs (the process answers at all);
 * - `GET /readyz` — 200 `ok` when the node is a member of its group and knows a leader (it can
 *   serve registrations), else 503 with the reason;
 * - anything else 404, a method other than GET/HEAD 405.
 *
 * Contract: binds only where told (127.0.0.1 in tests; port 0 picks a free port, see
 * `address`); `close()` stops listening and ends open keep-alive sockets. A failing scrape
 * answers 500 and never crashes the node.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fedError } from '../runtime/index.js';
import type { NodeMetrics } from '../runtime/observe/index.js';

export interface Readiness {
  readonly ready: boolean;
  readonly reason: string;
}

export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: NodeMetrics;
  readonly live: () => boolean;
  readonly ready: () => Readiness;
}

export interface MetricsServer {
  /** `host:port` actually bound. */
  readonly address: string;
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`error: ${(error as Error).message}\n`);
    });
  });
  await listen(server, options.host, options.port);
  const bound = server.address() as AddressInfo;
  return {
    address: `${bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(fedError('config', `--metrics: cannot listen on ${host}:${port}: ${error.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function handle(options: MetricsServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  switch (path) {
    case '/metrics': {
      const body = await options.metrics.render();
      response.writeHead(200, { 'content-type': options.metrics.contentType }).end(body);
      return;
    }
    case '/livez': {
      const live = options.live();
      response.writeHead(live ? 200 : 503, { 'content-type': 'text/plain' }).end(live ? 'ok\n' : 'not live: the node is stopping\n');
      return;
    }
    case '/readyz': {
      const readiness = options.ready();
      response.writeHead(readiness.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(readiness.ready ? 'ok\n' : `not ready: ${readiness.reason}\n`);
      return;
    }
    default:
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /livez or /readyz\n');
  }
}
