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
 * - `GET /windows[?key=…][&limit=…][&cursor=…]`: the current aggregates of open
 *   windows, a page at a time: `{"windows":[…],"next":"<cursor>"}`, ordered by
 *   key, window start, then spec name (with several specs). `limit` is 1…10,000 (default 1,000); `next` is null
 *   on the last page, else the opaque `cursor` of the next page (also given as
 *   a `Link: <…>; rel="next"` header). `key`, when not empty, keeps one key's
 *   windows. A bad `limit` or `cursor` is a 400. Paging keeps each request to a
 *   few ms of event loop: serialising 20,000 windows at once took 0.3–0.5 s
 *   and held up /healthz behind it.
 *
 * Any other path is 404; a known path with a method other than GET or HEAD is
 * 405 (HEAD is answered like GET without a body, as HTTP requires of GET resources).
 * A callback that throws or rejects gives a 500 and an error log line.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { WindowCursor, WindowPageQuery } from '@llm-feedback/stream-operators';

/** What `/readyz` reports; `reason` says what is still missing (e.g. "restoring state"). */
export type HealthState = { readonly ready: true } | { readonly ready: false; readonly reason: string };

export interface HttpServerOptions {
  /** 0 lets the OS pick a free port; the chosen one is in the result's `port`. */
  readonly port: number;
  /** Interface to bind; all interfaces by default (a container's port must be reachable from outside it). */
  readonly host?: string;
  /** The exposition: a registry, or one that merges several (the worker threads of `processor.parallelism`). */
  readonly metrics: { readonly registry: { readonly contentType: string; metrics(): Promise<string> } };
  readonly health: () => HealthState;
  /** A page of the current aggregates of the open windows; may be asynchronous (a state store read). */
  readonly queryWindows: (query: WindowPageQuery) => WindowsPage | PromiseLike<WindowsPage>;
  readonly logger?: Logger;
}

/**
 * What `queryWindows` answers: the page's windows as JSON values, and where the
 * next page starts. `windows` may compute each value as it is iterated: the
 * server iterates and serialises it in slices, yielding to the event loop.
 */
export interface WindowsPage {
  readonly windows: Iterable<unknown>;
  readonly next: WindowCursor | undefined;
}

export const DEFAULT_WINDOWS_LIMIT = 1_000;
/** Pages are computed in slices, but a page is still held in memory whole (~700 B per window). */
export const MAX_WINDOWS_LIMIT = 10_000;

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

/** Windows computed and serialised between two yields to the event loop: about 1–2 ms of work with every aggregation. */
const WINDOWS_PER_TURN = 100;

/**
 * Each window as JSON, yielding to the event loop every `WINDOWS_PER_TURN`:
 * a page of 1,000 windows costs ~15 ms to compute and serialise, which in one
 * block would hold /healthz, /metrics and the pipeline behind it.
 */
async function serialiseInSlices(windows: Iterable<unknown>): Promise<string[]> {
  const items: string[] = [];
  for (const window of windows) {
    items.push(JSON.stringify(window));
    if (items.length % WINDOWS_PER_TURN === 0) await yieldTurn();
  }
  return items;
}

/** The `/windows` query, or what is wrong with it. */
function windowsQuery(params: URLSearchParams): WindowPageQuery | string {
  const limitText = params.get('limit');
  // Digits only: Number() would also take '', '1e3', ' 5' and '0x10'.
  const limit = limitText === null ? DEFAULT_WINDOWS_LIMIT : /^\d{1,9}$/.test(limitText) ? Number(limitText) : NaN;
  if (!(limit >= 1 && limit <= MAX_WINDOWS_LIMIT)) return `limit must be an integer from 1 to ${MAX_WINDOWS_LIMIT}`;
  const cursorText = params.get('cursor');
  const after = cursorText === null || cursorText === '' ? undefined : decodeCursor(cursorText);
  if (after === null) return 'cursor is not one this endpoint gave out (use the previous page\'s "next")';
  const key = params.get('key');
  return { limit, ...(key === null || key === '' ? {} : { key }), ...(after === undefined ? {} : { after }) };
}

// Opaque to clients (base64url of JSON), so the position's form may change without breaking them.
// With several window specs the position names the spec too: [key, start, spec].
const encodeCursor = ({ key, start, spec }: WindowCursor): string =>
  Buffer.from(JSON.stringify(spec === undefined ? [key, start] : [key, start, spec]), 'utf8').toString('base64url');

function decodeCursor(text: string): WindowCursor | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && (value.length === 2 || (value.length === 3 && typeof value[2] === 'string')) && typeof value[0] === 'string' && Number.isFinite(value[1])) {
      return { key: value[0], start: value[1] as number, ...(value.length === 3 ? { spec: value[2] as string } : {}) };
    }
  } catch {
    // Not base64url JSON: as foreign as a cursor of the wrong shape.
  }
  return null;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { registry } = options.metrics;
  let pagesInTurn: Promise<unknown> = Promise.resolve();
  const routes: ReadonlyMap<string, Route> = new Map<string, Route>([
    ['/metrics', async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() })],
    ['/healthz', async () => json(200, { status: 'ok' })],
    ['/readyz', async () => {
      const state = options.health();
      return state.ready ? json(200, { status: 'ready' }) : json(503, { status: 'not_ready', reason: state.reason });
    }],
    ['/windows', async (url) => {
      const query = windowsQuery(url.searchParams);
      if (typeof query === 'string') return json(400, { error: query });
      // One page at a time: concurrent pages would each run a slice per event-loop
      // turn, and the turn (what /healthz waits behind) would grow with their number.
      const page = pagesInTurn.then(() => options.queryWindows(query)).then(async ({ windows, next }) => ({ items: await serialiseInSlices(windows), next }));
      pagesInTurn = page.catch(() => undefined);
      const { items, next } = await page;
      const cursor = next === undefined ? null : encodeCursor(next);
      const body = `{"windows":[${items.join(',')}],"next":${JSON.stringify(cursor)}}`;
      const link = new URLSearchParams(url.searchParams);
      if (cursor !== null) link.set('cursor', cursor);
      return { status: 200, contentType: JSON_TYPE, body, ...(cursor === null ? {} : { headers: { link: `</windows?${link}>; rel="next"` } }) };
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
