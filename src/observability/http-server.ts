/**
 * The operations endpoint on `processor.metrics.port`, on plain node:http (four
 * read-only routes need no framework):
 *
 * - `GET /metrics`: the processor's registry in the Prometheus text format.
 * - `GET /healthz`: 200 `{"status":"ok"}` while the process answers. Liveness
 *   deliberately ignores dependencies (Kafka down, state still loading): a
 *   restart would not fix those, and restarting during a long state restore
 *   would never let it finish.
 * - `GET /readyz`: 200 `{"status":"ready"}` once the service says it is ready
 *   (state restored and source assigned), else 503 `{"status":"not_ready","reason":…}`.
 * - `GET /windows[?key=…]`: the current aggregates of open windows, as a JSON
 *   array, for one key when `key` is given and not empty.
 *
 * Any other path is 404; a known path with a method other than GET or HEAD is
 * 405 (HEAD is answered like GET without a body, as HTTP requires of GET resources).
 * A callback that throws or rejects gives a 500 and an error log line.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ProcessorMetrics } from './metrics.js';

/** What `/readyz` reports; `reason` says what is still missing (e.g. "restoring state"). */
export type HealthState = { readonly ready: true } | { readonly ready: false; readonly reason: string };

export interface HttpServerOptions {
  /** 0 lets the OS pick a free port; the chosen one is in the result's `port`. */
  readonly port: number;
  /** Interface to bind; all interfaces by default (a container's port must be reachable from outside it). */
  readonly host?: string;
  readonly metrics: Pick<ProcessorMetrics, 'registry'>;
  readonly health: () => HealthState;
  /** Current aggregates of the open windows, of one key when given; may be asynchronous (a state store read). */
  readonly queryWindows: (key?: string) => readonly unknown[] | PromiseLike<readonly unknown[]>;
  readonly logger?: Logger;
}

export interface HttpServer {
  /** The port actually bound. */
  readonly port: number;
  /** Stops accepting connections and closes the open ones (Prometheus keeps its scrape connection alive). */
  close(): Promise<void>;
}

type Route = (url: URL) => Promise<Reply>;

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const json = (status: number, value: unknown, headers?: Readonly<Record<string, string>>): Reply =>
  ({ status, contentType: JSON_TYPE, body: JSON.stringify(value), ...(headers === undefined ? {} : { headers }) });

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { registry } = options.metrics;
  const routes: ReadonlyMap<string, Route> = new Map<string, Route>([
    ['/metrics', async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() })],
    ['/healthz', async () => json(200, { status: 'ok' })],
    ['/readyz', async () => {
      const state = options.health();
      return state.ready ? json(200, { status: 'ready' }) : json(503, { status: 'not_ready', reason: state.reason });
    }],
    ['/windows', async (url) => {
      const key = url.searchParams.get('key');
      return json(200, await options.queryWindows(key === null || key === '' ? undefined : key));
    }],
  ]);

  const reply = async (request: IncomingMessage): Promise<Reply> => {
    // The base only serves to parse the request target; the host header is not trusted for anything.
    const url = new URL(request.url ?? '/', 'http://localhost');
    const route = routes.get(url.pathname);
    if (route === undefined) return json(404, { error: 'not found' });
    if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    try {
      return await route(url);
    } catch (error) {
      options.logger?.error({ err: error, path: url.pathname }, 'HTTP handler failed');
      return json(500, { error: 'internal error' });
    }
  };

  const send = (response: ServerResponse, { status, contentType, body, headers }: Reply): void => {
    response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', ...headers });
    response.end(body);
  };

  const server = createServer((request, response) => {
    // `reply` catches the callbacks' errors; this catch covers a URL that does not parse.
    reply(request).then(
      (result) => send(response, result),
      () => send(response, json(400, { error: 'bad request' })),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  options.logger?.info({ port, host: options.host ?? '(all interfaces)' }, 'HTTP server listening');

  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
}
