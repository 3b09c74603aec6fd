/**
 * `/windows` with 20,000 open windows (every aggregation, four metrics, 5 values
 * each), server and client in this process: the client discards bodies, so the
 * event-loop figures are the server's. Prints one JSON object:
 * - `page_ms`: median time to serve a page of 1,000 (request to last byte);
 * - `longest_block_ms`: the longest the event loop was blocked while walking every page;
 * - `healthz_ms_*`: /healthz latency while ten pages are requested at once;
 * - `unpaged_block_ms`: what one request for every window blocked the loop for before paging.
 */
import { request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Subject } from 'rxjs';
import type { AggregateView } from '../operators/index.js';
import { parseConfig } from '../src/config/index.js';
import { toWindowOutput, type FeedbackEvent } from '../src/events/index.js';
import { createProcessorMetrics, startHttpServer } from '../src/observability/index.js';
import { feedbackPipeline, type FeedbackResult } from '../src/pipeline/feedback-pipeline.js';
import { windowsPage } from '../src/service/service.js';
import type { StreamElement } from '../operators/stream/elements.js';
import { median } from './stats.js';

const KEYS = 20_000;
const VALUES_PER_WINDOW = 5;

let state: AggregateView<FeedbackResult> | undefined;
const input = new Subject<StreamElement<FeedbackEvent>>();
input.pipe(feedbackPipeline(parseConfig({ processor: { state: { backend: 'memory' } } }, {}), { idleness: false, onWindowState: (s) => (state = s) })).subscribe();
const start = Date.UTC(2026, 10, 26, 10);
for (let v = 0; v < VALUES_PER_WINDOW; v++) {
  for (let k = 0; k < KEYS; k++) {
    const model = `model-${k}`;
    const metrics = { latency_ms: 100 + v * 17 + (k % 13), cost_usd: 0.001 * v, tokens: 500 + v, rating: v % 5 };
    input.next({ kind: 'record', value: { event_id: `e-${v}-${k}`, timestamp: start + v, model, metrics }, timestamp: start + v, key: model });
  }
}
const windows = state!;

const server = await startHttpServer({
  port: 0,
  host: '127.0.0.1',
  metrics: createProcessorMetrics(),
  health: () => ({ ready: true }),
  queryWindows: (query) => windowsPage(windows, query),
});

/** GETs `path`, discarding the body; resolves with the elapsed ms and the Link header. */
const get = (path: string): Promise<{ ms: number; link: string | undefined }> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    request({ host: '127.0.0.1', port: server.port, path }, (response) => {
      response.resume();
      const { link } = response.headers;
      response.on('end', () => resolve({ ms: performance.now() - started, link: Array.isArray(link) ? link[0] : link }));
    }).on('error', reject).end();
  });

const delay = monitorEventLoopDelay({ resolution: 1 });
const pageMs: number[] = [];
delay.enable();
for (let path: string | undefined = '/windows'; path !== undefined; ) {
  const { ms, link } = await get(path);
  pageMs.push(ms);
  path = link === undefined ? undefined : /^<([^>]+)>/.exec(link)?.[1];
}
delay.disable();

const concurrent = Array.from({ length: 10 }, () => get('/windows'));
const healthMs: number[] = [];
for (let i = 0; i < 20; i++) {
  healthMs.push((await get('/healthz')).ms);
  await new Promise((resolve) => setTimeout(resolve, 5));
}
await Promise.all(concurrent);

const unpagedStarted = performance.now();
JSON.stringify([...windows.peek()].map((result) => toWindowOutput(result, Date.now())));
const unpagedBlockMs = performance.now() - unpagedStarted;
await server.close();

const round = (ms: number): number => Math.round(ms * 10) / 10;
console.log(JSON.stringify({
  windows: windows.openWindows,
  pages: pageMs.length,
  page_ms: round(median(pageMs)),
  longest_block_ms: round(delay.max / 1e6),
  healthz_ms_median: round(median(healthMs)),
  healthz_ms_max: round(Math.max(...healthMs)),
  unpaged_block_ms: round(unpagedBlockMs),
}));
