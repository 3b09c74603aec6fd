import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { WindowPageQuery } from '../../operators/index.js';
import { startHttpServer, type HealthState, type HttpServer, type WindowsPage } from '../../src/observability/http-server.js';
import { createLogger } from '../../src/observability/logger.js';
import { createProcessorMetrics } from '../../src/observability/metrics.js';

const windows = [
  { key: 'claude', window: { start: 0, end: 300_000 }, count: 1 },
  { key: 'gpt-4o', window: { start: 0, end: 300_000 }, count: 3 },
  { key: 'gpt-4o', window: { start: 300_000, end: 600_000 }, count: 2 },
];

/** The paging contract of `AggregateState.peekPage`, over the list above (already in (key, start) order). */
const pageOf = ({ key, after, limit }: WindowPageQuery): WindowsPage => {
  const rest = windows.filter(
    (w) => (key === undefined || w.key === key) && (after === undefined || w.key > after.key || (w.key === after.key && w.window.start > after.start)),
  );
  const last = rest.length > limit ? rest[limit - 1]! : undefined;
  return { windows: rest.slice(0, limit), next: last && { key: last.key, start: last.window.start } };
};

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(overrides: { health?: () => HealthState; queryWindows?: (query: WindowPageQuery) => WindowsPage } = {}) {
  const metrics = createProcessorMetrics();
  const logLines: string[] = [];
  const logger = createLogger({
    level: 'info',
    destination: new Writable({ write: (chunk: Buffer, _enc, done) => { logLines.push(chunk.toString()); done(); } }),
  });
  server = await startHttpServer({
    port: 0,
    host: '127.0.0.1',
    metrics,
    health: overrides.health ?? (() => ({ ready: true })),
    queryWindows: overrides.queryWindows ?? pageOf,
    logger,
  });
  const base = `http://127.0.0.1:${server.port}`;
  return { metrics, logLines, get: (path: string, init?: RequestInit) => fetch(base + path, init) };
}

describe('startHttpServer', () => {
  it('binds a free port when asked for port 0', async () => {
    await start();
    expect(server?.port).toBeGreaterThan(0);
  });

  it('serves the registry on /metrics after instruments change', async () => {
    const { metrics, get } = await start();
    metrics.recordsIn.aggregated.inc(1000);
    metrics.recordsIn.late.inc(3);
    metrics.recordsIn.dead_letter.inc(2);
    metrics.deadLetters.invalid_json.inc(2);
    metrics.deadLetters.too_late.inc(3);
    metrics.windowsOpen.set(17);
    metrics.windowsFired.first.inc(12);
    metrics.windowsFired.update.inc(1);
    metrics.inFlight.set(250);
    metrics.paused.set(1);
    metrics.checkpointSize.set(4096);
    metrics.lastCheckpointId.set(9);
    metrics.stateSize.set(1 << 20);
    metrics.outputRecords.results.inc(13);

    const response = await get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    for (const line of [
      'stream_processor_records_in_total{outcome="aggregated"} 1000',
      'stream_processor_records_in_total{outcome="late"} 3',
      'stream_processor_records_in_total{outcome="dead_letter"} 2',
      'stream_processor_dead_letters_total{reason="invalid_json"} 2',
      'stream_processor_dead_letters_total{reason="too_late"} 3',
      'stream_processor_windows_open 17',
      'stream_processor_windows_fired_total{revision_kind="first"} 12',
      'stream_processor_windows_fired_total{revision_kind="update"} 1',
      'stream_processor_in_flight_records 250',
      'stream_processor_paused 1',
      'stream_processor_checkpoint_size_bytes 4096',
      'stream_processor_last_checkpoint_id 9',
      'stream_processor_state_size_bytes 1048576',
      'stream_processor_output_records_total{sink="results"} 13',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    expect(text).toContain('# TYPE stream_processor_processing_latency_seconds histogram');
    expect(text).toContain('# TYPE stream_processor_watermark_lag_seconds gauge');
  });

  it('answers /healthz with 200', async () => {
    const { get } = await start({ health: () => ({ ready: false, reason: 'restoring state' }) });
    const response = await get('/healthz');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 503 and the reason until the service is ready, then 200', async () => {
    let state: HealthState = { ready: false, reason: 'waiting for partition assignment' };
    const { get } = await start({ health: () => state });
    const before = await get('/readyz');
    expect(before.status).toBe(503);
    expect(await before.json()).toEqual({ status: 'not_ready', reason: 'waiting for partition assignment' });
    state = { ready: true };
    const after = await get('/readyz');
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ status: 'ready' });
  });

  it('lists open windows on /windows, filtered by key when given', async () => {
    const { get } = await start();
    expect(await (await get('/windows')).json()).toEqual({ windows, next: null });
    expect(await (await get('/windows?key=')).json()).toEqual({ windows, next: null });
    expect(await (await get('/windows?key=gpt-4o')).json()).toEqual({ windows: windows.slice(1), next: null });
    expect(await (await get('/windows?key=none')).json()).toEqual({ windows: [], next: null });
  });

  it('pages with limit and an opaque cursor, also given as a Link header', async () => {
    const { get } = await start();
    const first = await get('/windows?limit=2');
    const body = (await first.json()) as { windows: unknown[]; next: string };
    expect(body.windows).toEqual(windows.slice(0, 2));
    expect(body.next).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(first.headers.get('link')).toBe(`</windows?limit=2&cursor=${body.next}>; rel="next"`);
    const second = await get(`/windows?limit=2&cursor=${body.next}`);
    expect(await second.json()).toEqual({ windows: windows.slice(2), next: null });
    expect(second.headers.get('link')).toBeNull();

    const byKey = (await (await get('/windows?key=gpt-4o&limit=1')).json()) as { windows: unknown[]; next: string };
    expect(byKey.windows).toEqual([windows[1]]);
    expect(await (await get(`/windows?key=gpt-4o&limit=1&cursor=${byKey.next}`)).json()).toEqual({ windows: [windows[2]], next: null });
  });

  it('passes the query through: a URL-encoded key decoded, limit 1,000 by default', async () => {
    const queries: WindowPageQuery[] = [];
    const { get } = await start({ queryWindows: (query) => { queries.push(query); return { windows: [], next: undefined }; } });
    await get(`/windows?key=${encodeURIComponent('gpt-4o|a b')}`);
    await get('/windows?limit=10000');
    expect(queries).toEqual([{ key: 'gpt-4o|a b', limit: 1000 }, { limit: 10_000 }]);
  });

  it("gives a position's spec back with the cursor (several window specs)", async () => {
    const queries: WindowPageQuery[] = [];
    const { get } = await start({
      queryWindows: (query) => {
        queries.push(query);
        return { windows: [], next: query.after === undefined ? { key: 'gpt-4o', start: 60_000, spec: '1h' } : undefined };
      },
    });
    const { next } = (await (await get('/windows?limit=1')).json()) as { next: string };
    await get(`/windows?limit=1&cursor=${next}`);
    expect(queries[1]).toEqual({ limit: 1, after: { key: 'gpt-4o', start: 60_000, spec: '1h' } });
  });

  it('answers 400 for a bad limit or a cursor it did not give out', async () => {
    const { get } = await start();
    for (const query of ['limit=0', 'limit=10001', 'limit=abc', 'limit=1.5', 'limit=-1', 'limit=', 'limit=1e3', 'limit=0x10']) {
      const response = await get(`/windows?${query}`);
      expect(response.status, query).toBe(400);
      expect(await response.json()).toEqual({ error: 'limit must be an integer from 1 to 10000' });
    }
    for (const cursor of ['%%%', 'bm90IGpzb24', Buffer.from('{"key":"a"}').toString('base64url'), Buffer.from('["a","0"]').toString('base64url')]) {
      const response = await get(`/windows?cursor=${cursor}`);
      expect(response.status, cursor).toBe(400);
      expect(((await response.json()) as { error: string }).error).toMatch(/^cursor is not one this endpoint gave out/);
    }
  });

  it('answers 404 for unknown paths and 405 for other methods on known ones', async () => {
    const { get } = await start();
    expect((await get('/nope')).status).toBe(404);
    const post = await get('/metrics', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await get('/windows', { method: 'DELETE' })).status).toBe(405);
    const head = await get('/healthz', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('answers 500 and logs when a callback fails', async () => {
    const { get, logLines } = await start({
      health: () => { throw new Error('state store closed'); },
      queryWindows: () => { throw new Error('query failed'); },
    });
    expect((await get('/readyz')).status).toBe(500);
    const windowsResponse = await get('/windows');
    expect(windowsResponse.status).toBe(500);
    expect(await windowsResponse.json()).toEqual({ error: 'internal error' });
    const errors = logLines.map((l) => JSON.parse(l) as { level: string; path?: string; err?: { message: string } }).filter((l) => l.level === 'error');
    expect(errors.map((e) => [e.path, e.err?.message])).toEqual([['/readyz', 'state store closed'], ['/windows', 'query failed']]);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('closes while a client keeps its connection alive', async () => {
    const { get } = await start();
    await (await get('/healthz')).text();
    await server?.close();
    server = undefined;
  });

  it('rejects when the port is taken', async () => {
    await start();
    await expect(startHttpServer({ port: server!.port, host: '127.0.0.1', metrics: createProcessorMetrics(), health: () => ({ ready: true }), queryWindows: () => ({ windows: [], next: undefined }) }))
      .rejects.toThrow(/EADDRINUSE/);
  });
});
