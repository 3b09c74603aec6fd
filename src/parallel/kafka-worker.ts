/**
 * A worker thread of `processor.parallelism` with a Kafka source: one Kafka job, a member
 * of the configured consumer group like any other instance, owning the tasks the group
 * gives it. Its metrics registry, its open windows and its readiness are answered to the
 * main thread, which runs the one HTTP endpoint (`worker-pool.ts`).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AggregateView } from '@llm-feedback/stream-operators';
import { toWindowOutput } from '../events/index.js';
import { createLogger, createProcessorMetrics } from '../observability/index.js';
import type { FeedbackResult } from '../pipeline/feedback-pipeline.js';
import { cursorOf } from '../pipeline/window-pages.js';
import { runKafkaJob } from '../runner/kafka-job.js';
import type { FromWorker, ToWorker, WorkerStart } from './messages.js';
import { workerConfig } from './worker-config.js';

const port = parentPort;
if (port === null) throw new Error('kafka-worker.ts runs in a worker thread (processor.parallelism)');
const { config: shared, index, process: processToken } = workerData as WorkerStart;
const config = workerConfig(shared, index);
const send = (message: FromWorker): void => port.postMessage(message);
const logger = createLogger({ level: config.log.level }).child({ worker: index });
const metrics = createProcessorMetrics();
const stop = new AbortController();
let windows: AggregateView<FeedbackResult> | undefined;
let join: () => void = () => undefined;
const joining = new Promise<void>((resolve) => (join = resolve));

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'join':
      join();
      break;
    case 'stop':
      stop.abort();
      join();
      break;
    case 'metrics':
      void metrics.registry.getMetricsAsJSON().then((json) => send({ type: 'metrics', id: message.id, metrics: json }));
      break;
    case 'windows': {
      const page = windows?.peekPage(message.query);
      const now = Date.now();
      const paged = page === undefined ? [] : [...page.windows].map((result) => ({ at: cursorOf(result), output: toWindowOutput(result, now) }));
      send({ type: 'windows', id: message.id, windows: paged, next: page?.next });
      break;
    }
  }
});

// The gauge the service refreshes for a single-threaded job, refreshed here for this worker's tasks.
const refresh = setInterval(() => {
  if (windows !== undefined) metrics.windowsOpen.set(windows.openWindows);
}, 1000);
refresh.unref();

try {
  const summary = await runKafkaJob({
    config,
    metrics,
    logger,
    signal: stop.signal,
    together: {
      token: processToken,
      count: shared.parallelism,
      barrier: () => {
        send({ type: 'set-up' });
        return joining;
      },
    },
    onWindows: (view) => (windows = view),
    onReady: () => send({ type: 'ready' }),
    onBrokerReachable: (up) => send({ type: 'reachable', up }),
  });
  send({ type: 'done', summary });
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  send({ type: 'failed', message: e.message, stack: e.stack });
} finally {
  clearInterval(refresh);
}

// The job is over; what may still hold this thread's event loop (a client's reconnect timers) must not keep it.
port.close();
