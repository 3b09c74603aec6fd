/**
 * What the main thread and its worker threads say to each other (`processor.parallelism`):
 * plain objects, structured-cloned by `postMessage`.
 */
import type { Registry } from 'prom-client';
import type { WindowCursor, WindowPageQuery } from '@llm-feedback/stream-operators';
import type { ProcessorConfig } from '../config/index.js';
import type { EventParserOptions } from '../events/index.js';
import type { JobSummary } from '../runner/job-stats.js';

/** A registry as `getMetricsAsJSON()` gives it: what `AggregatorRegistry.aggregate` merges. */
export type RegistryJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** What a worker starts with (`workerData`). */
export interface WorkerStart {
  readonly config: ProcessorConfig;
  /** 0 … parallelism − 1: names the worker in logs and its local state directory. */
  readonly index: number;
  /** The same for every worker of the process and no other consumer: how the group leader tells its siblings (`JoinTogether`). */
  readonly process: string;
}

/** Main → worker. */
export type ToWorker =
  /**
   * Every worker is set up: join the group now, together (`JoinTogether`). A thread joining
   * after the others' generation formed would cost a rebalance that the members already
   * reading notice only at their next heartbeat (3 s by default).
   */
  | { readonly type: 'join' }
  | { readonly type: 'stop' }
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'windows'; readonly id: number; readonly query: WindowPageQuery };

/** One window of a `/windows` page: its (key, start) position and its output record. */
export interface PagedWindow {
  readonly at: WindowCursor;
  readonly output: unknown;
}

/** Worker → main. */
export type FromWorker =
  /** Set up (topics, state, outputs), waiting for `join`. */
  | { readonly type: 'set-up' }
  | { readonly type: 'ready' }
  | { readonly type: 'reachable'; readonly up: boolean }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: RegistryJson }
  | { readonly type: 'windows'; readonly id: number; readonly windows: readonly PagedWindow[]; readonly next: WindowCursor | undefined }
  | { readonly type: 'done'; readonly summary: JobSummary }
  | { readonly type: 'failed'; readonly message: string; readonly stack?: string };

/** What a parse worker starts with (`workerData`): the parser's options, without the clock. */
export interface ParseWorkerStart {
  readonly event: Omit<EventParserOptions, 'now'>;
}

/** Pipeline thread → parse worker: a chunk of whole lines (`LineChunk`, its bytes transferred), and the clock. */
export interface ParseRequest {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly final: boolean;
  /** `now()` of the pipeline thread when it sent the chunk (epoch ms). */
  readonly now: number;
}
