/**
 * `processor.parallelism` for a Kafka source: that many worker threads in this process,
 * each running the Kafka job as a member of the consumer group (`kafka-worker.ts`), so the
 * group spreads the tasks over them as over instances. The main thread keeps what there is
 * one of per process: the HTTP endpoint, which this pool answers by asking every worker
 * (metrics merged, windows merged page by page), and the signal that stops them all.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import type { WindowPageQuery } from '@llm-feedback/stream-operators';
import { compareCursors } from '../pipeline/window-pages.js';
import type { ProcessorConfig } from '../config/index.js';
import type { HealthState, HttpServerOptions, Logger, WindowsPage } from '../observability/index.js';
import type { JobSummary } from '../runner/job-stats.js';
import type { FromWorker, PagedWindow, RegistryJson, ToWorker, WorkerStart } from './messages.js';
import { workerEntry } from './worker-entry.js';

/** How long an HTTP request waits for a worker's answer before it fails. */
const ANSWER_TIMEOUT_MS = 5_000;

interface Member {
  readonly worker: Worker;
  ready: boolean;
  reachable: boolean;
  /** Settles once the worker reported its end (or died). */
  readonly done: Promise<JobSummary>;
}

export interface WorkerPool {
  /** `/metrics`: every worker's registry merged (`AggregatorRegistry.aggregate`), plus this process's own metrics. */
  readonly registry: HttpServerOptions['metrics']['registry'];
  /** `/readyz`: ready once every worker is, and while every worker reaches the brokers. */
  health(): HealthState;
  /** `/windows`: the first `query.limit` windows after `query.after` across every worker. */
  windows(query: WindowPageQuery): Promise<WindowsPage>;
  /** Ends when every worker ended: their summaries added up; rejects with the first failure (the others are stopped). */
  readonly done: Promise<JobSummary>;
  /** Asks every worker to stop (final checkpoint, leave the group); `done` tells when they have. */
  stop(): void;
}

export function startWorkerPool(config: ProcessorConfig, logger?: Logger): WorkerPool {
  const entry = workerEntry('kafka-worker');
  const pending = new Map<number, (message: FromWorker) => void>();
  let nextId = 0;
  let failure: Error | undefined;
  const members: Member[] = [];
  let setUp = 0;
  const own = new Registry();
  collectDefaultMetrics({ register: own });

  const processToken = randomUUID();
  for (let index = 0; index < config.parallelism; index++) {
    const start: WorkerStart = { config, index, process: processToken };
    const worker = new Worker(entry.code, { eval: entry.eval, workerData: start });
    const done = new Promise<JobSummary>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'set-up':
            if (++setUp === config.parallelism) for (const m of members) m.worker.postMessage({ type: 'join' } satisfies ToWorker);
            break;
          case 'ready':
            member.ready = true;
            break;
          case 'reachable':
            member.reachable = message.up;
            break;
          case 'done':
            resolve(message.summary);
            break;
          case 'failed': {
            const error = new Error(`worker ${index}: ${message.message}`);
            if (message.stack !== undefined) error.stack = `${error.message}\n${message.stack}`;
            reject(error);
            break;
          }
          default:
            pending.get(message.id)?.(message);
        }
      });
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`worker ${index} exited (code ${code}) before its job ended`)));
    });
    const member: Member = { worker, ready: false, reachable: true, done };
    members.push(member);
    // A failed worker stops the others: the process fails as one, as a single-threaded run would.
    done.then(
      () => void worker.terminate(),
      (error: unknown) => {
        failure ??= error instanceof Error ? error : new Error(String(error));
        logger?.error({ err: failure, worker: index }, 'worker failed: stopping the others');
        stop();
        void worker.terminate();
      },
    );
  }

  function stop(): void {
    for (const { worker } of members) worker.postMessage({ type: 'stop' } satisfies ToWorker);
  }

  /** Asks one worker; its answer, or a timeout error. */
  function ask<T extends FromWorker>(member: Member, request: (id: number) => ToWorker): Promise<T> {
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`a worker did not answer within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      pending.set(id, (message) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(message as T);
      });
      member.worker.postMessage(request(id));
    });
  }

  const registry = {
    contentType: own.contentType,
    async metrics(): Promise<string> {
      const answers = await Promise.all(members.map((m) => ask<Extract<FromWorker, { type: 'metrics' }>>(m, (id) => ({ type: 'metrics', id }))));
      // process_* series describe the one process: this thread's, not a sum over the workers.
      const workers: RegistryJson[] = answers.map((a) => a.metrics.filter((metric) => !metric.name.startsWith('process_')));
      const mine = (await own.getMetricsAsJSON()).filter((metric) => metric.name.startsWith('process_'));
      return AggregatorRegistry.aggregate([mine, ...workers]).metrics();
    },
  };

  async function windows(query: WindowPageQuery): Promise<WindowsPage> {
    const pages = await Promise.all(members.map((m) => ask<Extract<FromWorker, { type: 'windows' }>>(m, (id) => ({ type: 'windows', id, query }))));
    // Each worker's page is in the order of pages (`compareCursors`): merge, keep `limit`.
    const merged: PagedWindow[] = pages.flatMap((p) => p.windows).sort((a, b) => compareCursors(a.at, b.at));
    const page = merged.slice(0, query.limit);
    const more = merged.length > query.limit || pages.some((p) => p.next !== undefined);
    return { windows: page.map((w) => w.output), next: more && page.length > 0 ? page[page.length - 1]!.at : undefined };
  }

  const done = Promise.allSettled(members.map((m) => m.done)).then((outcomes) => {
    if (failure !== undefined) throw failure;
    return addSummaries(outcomes.map((o) => (o as PromiseFulfilledResult<JobSummary>).value));
  });

  return {
    registry,
    health() {
      if (members.some((m) => !m.ready)) return { ready: false, reason: `restoring state, waiting for partitions (${members.filter((m) => m.ready).length} of ${members.length} workers ready)` };
      if (members.some((m) => !m.reachable)) return { ready: false, reason: 'Kafka brokers unreachable' };
      return { ready: true };
    },
    windows,
    done,
    stop,
  };
}


function addSummaries(summaries: readonly JobSummary[]): JobSummary {
  const sum = (field: keyof JobSummary): number => summaries.reduce((total, s) => total + s[field], 0);
  return {
    recordsIn: sum('recordsIn'),
    aggregated: sum('aggregated'),
    late: sum('late'),
    invalid: sum('invalid'),
    duplicates: sum('duplicates'),
    windowsEmitted: sum('windowsEmitted'),
    earlyResults: sum('earlyResults'),
    durationMs: Math.max(0, ...summaries.map((s) => s.durationMs)),
    resumedFrom: 0,
  };
}
