/**
 * A job over a custom `PartitionedSource` (`createPipeline().withSource(...)`): the Kafka job's
 * task runner (`task-job.ts`) with the local copy as the only state. Each checkpoint applies
 * every task's changes to the state folder (or memory) in one atomic batch, then tells the
 * source the positions it covers; a partition assigned again is restored from the copy and read
 * from its position, so assignment changes within the process lose and double nothing.
 */
import type { AggregateView } from '@llm-feedback/stream-operators';
import type { PartitionChange, PartitionedSource } from '../builder/plugins.js';
import type { ProcessorConfig } from '../config/index.js';
import { PartitionIds } from '../kafka/partition-ids.js';
import type { Logger, ProcessorMetrics } from '../observability/index.js';
import type { FeedbackResult } from '../pipeline/feedback-pipeline.js';
import { openKv } from '../state/index.js';
import { LocalTaskStore } from '../tasks/local-store.js';
import { JobStats, type JobSummary } from './job-stats.js';
import type { JobOutputs } from './outputs.js';
import { localProcessingMode } from './processing-mode.js';
import { runTaskJob, StopDeadline } from './task-job.js';

export interface PartitionedJobOptions {
  readonly config: ProcessorConfig;
  readonly source: PartitionedSource;
  readonly outputs: JobOutputs;
  /** Ends the job with a final checkpoint. */
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  readonly metrics?: ProcessorMetrics;
  readonly now?: () => number;
  readonly onReady?: () => void;
  readonly onWindows?: (view: AggregateView<FeedbackResult>) => void;
  readonly onAssignment?: (change: PartitionChange) => void;
  /** How long a stop may take (its final checkpoint three quarters of it). Default 20,000 ms. */
  readonly stopTimeoutMs?: number;
}

export async function runPartitionedJob(options: PartitionedJobOptions): Promise<JobSummary> {
  const { config, source, outputs, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const started = now();
  // Worker threads cannot share the source object: its tasks run on this thread.
  if (config.parallelism > 1) logger?.warn({ parallelism: config.parallelism }, 'a custom partitioned source runs its tasks on one thread: parallelism applies to the configured Kafka, file and stdin sources');
  const local = new LocalTaskStore(await openKv(config.state));
  const stats = new JobStats();
  try {
    await runTaskJob({
      config,
      signal: options.signal,
      deadline: new StopDeadline(options.signal, options.stopTimeoutMs),
      source,
      ids: new PartitionIds(source.topics),
      local,
      // Without a state topic, a task's records are keyed by the task alone.
      statePartitions: 1,
      mode: () => localProcessingMode({ outputs, local, source, logger, metrics }),
      stats,
      outputs,
      now,
      logger,
      metrics,
      onReady: options.onReady,
      onWindows: options.onWindows,
      onAssignment: options.onAssignment,
    });
    return stats.summary(now() - started);
  } finally {
    await local.close();
  }
}
