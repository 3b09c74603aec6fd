import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type HealthState, type HttpServer } from '../../src/observability/http-server.js';
import { createLogger } from '../../src/observability/logger.js';
import { createProcessorMetrics } from '../../src/observability/metrics.js';

const windows = [
  { key: 'gpt-4o', window: { start: 0, end: 300_000 }, count: 3 },
  { key: 'claude', window: { start: 0, end: 300_000 }, count: 1 },
];

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(overrides: { health?: () => HealthState; queryWindows?: (key?: string) => readonly unknown[] } = {}) {
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
    queryWindows: overrides.queryWindows ?? ((key) => windows.filter((w) => key === undefined || w.key === key)),
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
    expect(await (await get('/windows')).json()).toEqual(windows);
    expect(await (await get('/windows?key=')).json()).toEqual(windows);
    expect(await (await get('/windows?key=gpt-4o')).json()).toEqual([windows[0]]);
    expect(await (await get('/windows?key=none')).json()).toEqual([]);
  });

  it('passes a URL-encoded key through decoded', async () => {
    const keys: (string | undefined)[] = [];
    const { get } = await start({ queryWindows: (key) => { keys.push(key); return []; } });
    await get(`/windows?key=${encodeURIComponent('gpt-4o|a b')}`);
    expect(keys).toEqual(['gpt-4o|a b']);
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
    await expect(startHttpServer({ port: server!.port, host: '127.0.0.1', metrics: createProcessorMetrics(), health: () => ({ ready: true }), queryWindows: () => [] }))
      .rejects.toThrow(/EADDRINUSE/);
  });
});
