/**
 * How a Kafka job delivers its output and completes its checkpoints: the processing
 * guarantee, chosen once per job (Kafka Streams' ProcessingMode, with the record collector
 * and commit path that go with each).
 *
 * - `at_least_once`: every task writes to the job's shared outputs as results are computed;
 *   a checkpoint appends the tasks' changes to the state topic, applies them to the local
 *   copy once the outputs and the state topic are flushed (`CheckpointCoordinator`), then
 *   commits the offsets (`OffsetCommitter`).
 * - `exactly_once`: every task writes to its own transactions (`TaskTransactions`): a
 *   checkpoint is one transaction per task of its output, state-topic records and offset.
 */
import { EMPTY, filter, interval, map, type Observable } from 'rxjs';
import type { Barrier, SourcePositions } from '@llm-feedback/stream-operators';
import { CheckpointCoordinator } from '../checkpoint/coordinator.js';
import { kafkaConnection, kafkaSink, type KafkaSink, type KafkaSource } from '../kafka/index.js';
import { OffsetCommitter, type CommitTarget } from '../kafka/offset-committer.js';
import type { Logger, ProcessorMetrics } from '../observability/index.js';
import { type LocalTaskStore, localChanges } from '../tasks/local-store.js';
import type { RemoteState, TaskManager } from '../tasks/task-manager.js';
import { TaskTransactions, type TaskTransactionsOptions } from '../tasks/task-transactions.js';
import type { JobOutputs } from './outputs.js';

export interface ProcessingMode {
  /** Where task `partition` writes its results and dead letters. */
  outputs(partition: number): JobOutputs;
  /** Output written and not yet safe (acknowledged, or committed): what backpressure watches. */
  readonly backlog: Pick<JobOutputs, 'inFlight' | 'flush'>;
  /** Whether a task may restore from the local copy (`TaskManagerOptions.restoreLocally`). */
  readonly restoreLocally: boolean;
  /** What tasks restore from, given the state topic and the group's committed offsets. */
  remoteState(shared: RemoteState): RemoteState;
  /** Barriers on top of the interval's (output waiting to be committed without input to carry a barrier). */
  readonly extraBarriers: Observable<void>;
  /** The first assignment's tasks are restored and stand at `positions`. */
  restored(positions: SourcePositions): void;
  /** The group has a new generation, or the brokers answer again: what waited for it goes on. */
  resumed(): void;
  /** Task `partition` left this member. */
  revoked(partition: number): void;
  /** Checkpoint `barrier`: every task is cut now, synchronously, between two records. */
  checkpoint(barrier: Barrier, tasks: Pick<TaskManager, 'checkpoint' | 'checkpointTasks'>): void;
  /** Resolves when every checkpoint cut so far is complete; rejects with the first failure. */
  drain(): Promise<void>;
  /** The newest checkpoint complete in this run. */
  readonly latest: number | undefined;
  /** Closes the producers it opened, waiting at most `timeoutMs` for what they still send. */
  close(timeoutMs: number): Promise<void>;
}

/** What both modes need: the exactly-once one's `TaskTransactions` options, and the at-least-once one's outputs, local copy and consumer. */
export interface ProcessingModeOptions extends TaskTransactionsOptions {
  /** The job's outputs (the configured sink and dead-letter channels). */
  readonly outputs: JobOutputs;
  readonly local: LocalTaskStore;
  /** The consumer whose offsets at-least-once commits. */
  readonly source: KafkaSource;
}

/** The mode `config.processing_guarantee` names. */
export function processingMode(options: ProcessingModeOptions): ProcessingMode {
  switch (options.config.processing_guarantee) {
    case 'at_least_once': {
      const { config, stateTopic } = options;
      return new AtLeastOnce({ ...options, changelog: kafkaSink({ ...kafkaConnection(config.kafka), topic: stateTopic }) });
    }
    case 'exactly_once':
      return new ExactlyOnce(options);
  }
}

/**
 * At-least-once over the local copy alone, for a custom partitioned source: no state topic,
 * so a task restores from this process's state folder (or memory), and the source is told
 * each complete checkpoint's positions (`commitOffsets`).
 */
export function localProcessingMode(options: LocalModeOptions): ProcessingMode {
  return new AtLeastOnce(options);
}

export interface LocalModeOptions {
  readonly outputs: JobOutputs;
  readonly local: LocalTaskStore;
  /** Told the positions of each complete checkpoint. */
  readonly source: CommitTarget;
  readonly logger?: Logger;
  readonly metrics?: ProcessorMetrics;
}

/** Shared outputs, a state-topic producer (if any), the local copy, and offsets committed after both are safe. */
class AtLeastOnce implements ProcessingMode {
  readonly restoreLocally = true;
  readonly extraBarriers: Observable<void> = EMPTY;
  private readonly shared: JobOutputs;
  private readonly changelog: KafkaSink | undefined;
  private readonly committer: OffsetCommitter;
  private readonly coordinator: CheckpointCoordinator;

  constructor({ outputs, local, source, changelog, logger, metrics }: LocalModeOptions & { readonly changelog?: KafkaSink }) {
    this.shared = outputs;
    this.changelog = changelog;
    this.committer = new OffsetCommitter(source, logger, metrics);
    const committer = this.committer;
    this.coordinator = new CheckpointCoordinator({
      // The local copy applies each checkpoint's changes, carried as its per-partition state.
      store: { writeCheckpoint: (cp) => local.apply(cp.partitions), sizeBytes: () => local.sizeBytes() },
      outputs,
      logger,
      metrics,
      changelog: this.changelog,
      onComplete: (cp) => committer.commit(cp.positions),
    });
  }

  outputs(): JobOutputs {
    return this.shared;
  }

  get backlog(): JobOutputs {
    return this.shared;
  }

  remoteState(shared: RemoteState): RemoteState {
    return shared;
  }

  restored(positions: SourcePositions): void {
    // The restored checkpoint is complete, but a crash may have come between its write and
    // its commit: commit it now, or the group would lag behind until new input arrives.
    void this.committer.commit({ ...positions });
  }

  resumed(): void {
    // A commit that a rebalance rejected (stale generation), or the brokers did, goes through now.
    void this.committer.retry();
  }

  revoked(): void {
    // The committer commits owned partitions only; nothing else is per task.
  }

  checkpoint(barrier: Barrier, tasks: Pick<TaskManager, 'checkpoint'>): void {
    const messages = tasks.checkpoint(barrier.id, barrier.positions ?? {});
    // Failures surface when the coordinator flushes the changelog.
    if (this.changelog !== undefined) for (const message of messages) this.changelog.write(message).catch(() => undefined);
    this.coordinator.snapshot(barrier.id, { operators: {}, partitions: localChanges(messages) });
    this.coordinator.barrierAtSink(barrier);
  }

  drain(): Promise<void> {
    return this.coordinator.drain();
  }

  get latest(): number | undefined {
    return this.coordinator.latest?.id;
  }

  close(timeoutMs: number): Promise<void> {
    // Bounded: with the brokers gone, what is unsent stays covered by the last complete checkpoint.
    return this.changelog?.close(timeoutMs) ?? Promise.resolve();
  }
}

/** One transactional producer per task; its checkpoint is one transaction (`TaskTransactions`). */
class ExactlyOnce implements ProcessingMode {
  readonly restoreLocally = false;
  readonly extraBarriers: Observable<void>;
  private readonly transactions: TaskTransactions;

  constructor(options: ProcessingModeOptions) {
    const { config } = options;
    this.transactions = new TaskTransactions(options);
    // Output a task produced without input (windows fired by idleness) is committed at the
    // next interval too; without a record no barrier would come.
    this.extraBarriers = interval(config.checkpoint_interval_secs * 1000).pipe(
      filter(() => this.transactions.buffered > 0),
      map(() => undefined),
    );
  }

  outputs(partition: number): JobOutputs {
    return this.transactions.outputs(partition);
  }

  get backlog(): TaskTransactions {
    return this.transactions;
  }

  remoteState(shared: RemoteState): RemoteState {
    // Each task's producer fences the previous owner before its committed offset is read.
    return this.transactions.fencing(shared);
  }

  restored(): void {
    // The offsets are committed by the transactions alone, never ahead of them.
  }

  resumed(): void {
    // A transaction that failed meanwhile restored its task already (`restoreAnew`).
  }

  revoked(partition: number): void {
    this.transactions.drop(partition);
  }

  checkpoint(barrier: Barrier, tasks: Pick<TaskManager, 'checkpointTasks'>): void {
    const positions = barrier.positions ?? {};
    this.transactions.checkpoint(barrier.id, tasks.checkpointTasks(barrier.id, positions), positions);
  }

  drain(): Promise<void> {
    return this.transactions.drain();
  }

  get latest(): number | undefined {
    return this.transactions.latest;
  }

  close(): Promise<void> {
    return this.transactions.close();
  }
}
