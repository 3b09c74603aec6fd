/**
 * Turns partition assignments into tasks (Kafka Streams' TaskManager): a task for every
 * assigned partition, restored from the newest complete state this process knows for it,
 * and closed when the partition is revoked. Checkpoints cut every task at one barrier.
 *
 * Where a task starts: its state and its source position always come from the same
 * complete checkpoint (the newest one known here: this run's, or the one restored at
 * start), or, with none, an empty state at the partition's first offset. Because a task
 * is deterministic (see `StreamTask`), re-reading from an older checkpoint than the
 * previous owner's last one only repeats results it already emitted, identically.
 */
import type { AggregateState, AggregateView } from '../../operators/aggregate.js';
import type { MetricsAggregator } from '../aggregation/index.js';
import { decodeTaskState, encodeTaskState } from '../checkpoint/pipeline-codec.js';
import type { ProcessorConfig } from '../config/index.js';
import type { FeedbackEvent } from '../events/index.js';
import type { FeedbackAccumulator, FeedbackResult } from '../pipeline/feedback-pipeline.js';
import type { PipelineWriter } from '../runner/run-pipeline.js';
import type { Checkpoint } from '../state/index.js';
import type { WindowResult } from '../stream/elements.js';
import { StreamTask } from './stream-task.js';

export interface TaskManagerOptions {
  readonly config: ProcessorConfig;
  readonly writer: PipelineWriter;
  readonly metrics: MetricsAggregator<FeedbackEvent>;
  /** Whether the source has read everything partition `id` holds. */
  readonly caughtUp: (partition: number) => boolean;
  readonly onError: (error: unknown) => void;
  /** The checkpoint restored at start, if any. */
  readonly restored?: Checkpoint;
  /** The checkpoint position key of partition `id` (e.g. `topic:partition`). */
  readonly positionKey: (partition: number) => string;
}

/** A partition's newest complete state known here: its operator states and its source position. */
interface KnownState {
  readonly operators: Readonly<Record<string, Uint8Array>>;
  readonly position: string | undefined;
}

export class TaskManager {
  private readonly tasks = new Map<number, StreamTask>();
  private readonly known = new Map<number, KnownState>();

  constructor(private readonly options: TaskManagerOptions) {
    if (options.restored !== undefined) this.completed(options.restored);
  }

  get size(): number {
    return this.tasks.size;
  }

  /**
   * Where partition `id` resumes if a task is created for it now: the position of its
   * newest known checkpoint, or undefined for the partition's start (no state known).
   */
  startPosition(partition: number): string | undefined {
    return this.known.get(partition)?.position;
  }

  /** The current assignment: tasks for new partitions, revoked ones closed. */
  assign(current: readonly number[]): void {
    const keep = new Set(current);
    for (const [partition, task] of this.tasks) {
      if (keep.has(partition)) continue;
      task.close();
      this.tasks.delete(partition);
    }
    for (const partition of current) this.task(partition);
  }

  /** The task of `partition`, created (and restored) on first use. */
  task(partition: number): StreamTask {
    let task = this.tasks.get(partition);
    if (task === undefined) {
      const known = this.known.get(partition);
      const { config, metrics } = this.options;
      const restored = known === undefined ? undefined : decodeTaskState(known.operators, partition, config.watermark.max_out_of_orderness_secs * 1000, metrics);
      task = new StreamTask(partition, {
        config,
        writer: this.options.writer,
        restored,
        caughtUp: () => this.options.caughtUp(partition),
        onError: this.options.onError,
      });
      this.tasks.set(partition, task);
    }
    return task;
  }

  /** Every task's state at barrier `id`, encoded per partition for the checkpoint. */
  snapshot(id: number): Record<string, Record<string, Uint8Array>> {
    const partitions: Record<string, Record<string, Uint8Array>> = {};
    for (const [partition, task] of this.tasks) partitions[String(partition)] = encodeTaskState(task.snapshot(id), this.options.metrics);
    return partitions;
  }

  /** A checkpoint is complete: its partitions' states become the newest known ones. */
  completed(checkpoint: Checkpoint): void {
    for (const [name, operators] of Object.entries(checkpoint.partitions)) {
      const partition = Number(name);
      if (!Number.isInteger(partition)) continue;
      this.known.set(partition, { operators, position: checkpoint.positions[this.options.positionKey(partition)] });
    }
  }

  /** One view over every task's windows (queries, the open-windows gauge). */
  windowState(): AggregateView<FeedbackResult> {
    const states = (): AggregateState<FeedbackAccumulator, FeedbackResult>[] =>
      [...this.tasks.values()].flatMap((task) => (task.windows === undefined ? [] : [task.windows]));
    return {
      get watermark() {
        const all = states();
        return all.length === 0 ? -Infinity : Math.min(...all.map((s) => s.watermark));
      },
      get openWindows() {
        return states().reduce((sum, s) => sum + s.openWindows, 0);
      },
      *peek(key?: string): Generator<WindowResult<FeedbackResult>> {
        for (const state of states()) yield* state.peek(key);
      },
    };
  }

  close(): void {
    for (const task of this.tasks.values()) task.close();
    this.tasks.clear();
  }
}
