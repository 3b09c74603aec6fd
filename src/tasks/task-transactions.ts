/**
 * Exactly-once checkpoints (`processing_guarantee: exactly_once`; Kafka Streams' EOS commit
 * path in its TaskExecutor): each task's checkpoint is one Kafka transaction of the task's
 * own transactional producer (`StreamsProducer`) holding the results and dead letters the
 * task wrote since its previous checkpoint, its state-topic records, and its input offset.
 *
 * Output is buffered per task and sent when the checkpoint is cut: a `read_committed`
 * consumer sees results at commits only, so sending earlier would not make them visible
 * sooner, and a checkpoint's transaction then stays open for its sends alone (a crashed
 * instance's open transaction holds back every `read_committed` reader of its partitions
 * until the task's next owner aborts it). Tasks restore from the state topic alone
 * (`TaskManagerOptions.restoreLocally`), so no local copy is kept up to date here.
 *
 * Fencing: before a task restores, its producer is initialised (`fencing`), which fences
 * the previous owner and completes its open transaction; only then are the committed offset
 * and the state topic read. A transaction fenced while this instance still holds the
 * task (it was presumed dead, and resumed), or failed for a transient reason (a broker
 * outage longer than the producer's retries), is aborted, and the task's uncommitted output
 * discarded: the task is restored anew from what is committed (`restoreAnew`), which is
 * right whatever became of the failed transaction (the restore's fencing completes it
 * first). A transaction the broker refuses for good fails the job.
 */
import type { ProcessorConfig } from '../config/index.js';
import { formatDeadLetter, formatWindowResult, toWindowOutput } from '../events/index.js';
import { positionKey } from '../kafka/offset-committer.js';
import type { PartitionIds } from '../kafka/partition-ids.js';
import type { Logger, ProcessorMetrics } from '../observability/index.js';
import type { FeedbackWindowResult } from '../pipeline/feedback-pipeline.js';
import type { DeadLetterOut, JobOutputs } from '../runner/outputs.js';
import type { ChangelogMessage } from './changelog.js';
import { brokersUnavailable } from '../kafka/client.js';
import { kafkaConnection } from '../kafka/settings.js';
import { StreamsProducer, TaskMigratedError, type TransactionMessage, type TransactionOffset } from './streams-producer.js';
import type { RemoteState } from './task-manager.js';

export interface TaskTransactionsOptions {
  readonly config: ProcessorConfig;
  readonly stateTopic: string;
  readonly ids: PartitionIds;
  readonly logger?: Logger;
  readonly metrics?: ProcessorMetrics;
  /**
   * A task's transaction was fenced (another instance took the task) or failed transiently
   * (brokers unreachable): its uncommitted output is gone and its state is ahead of what
   * is committed, so it must be restored anew from what is.
   */
  readonly restoreAnew: (partition: number) => void;
  /** A transaction failed for good (the broker refused it as such): the job must stop. */
  readonly onError: (error: unknown) => void;
}

/** A promise with its resolver: the commit that makes a task's buffered output visible. */
interface Commit {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function commitPromise(): Commit {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** One task's output since its last cut: what its next transaction sends. */
class TaskOutput implements JobOutputs {
  messages: TransactionMessage[] = [];
  /** Resolves when `messages` are committed, or dropped with the task. */
  commit = commitPromise();

  constructor(
    private readonly config: ProcessorConfig,
    private readonly owner: TaskTransactions,
  ) {}

  writeResult(result: FeedbackWindowResult, emittedAt: number): Promise<void> {
    // The Kafka message key is the joined key fields, so one key's results share a partition.
    this.messages.push({ topic: this.config.kafka.producer.result_topic, key: result.key, value: formatWindowResult(toWindowOutput(result, emittedAt), result.result.texts) });
    return this.commit.promise;
  }

  writeDeadLetter({ reason, raw, extra }: DeadLetterOut): void {
    const maxRawBytes = this.config.dead_letter.type === 'kafka' ? this.config.dead_letter.max_raw_bytes : undefined;
    this.messages.push({ topic: this.config.kafka.producer.dead_letter_topic, key: null, value: formatDeadLetter(reason, raw, extra, maxRawBytes) });
  }

  /** Takes the buffered output for a transaction; later writes go to the next one. */
  take(): { messages: TransactionMessage[]; commit: Commit } {
    const taken = { messages: this.messages, commit: this.commit };
    this.messages = [];
    this.commit = commitPromise();
    return taken;
  }

  get inFlight(): number {
    return this.owner.inFlight;
  }

  positions(): Record<string, number> {
    return {};
  }

  identify(): Promise<Record<string, never>> {
    return Promise.resolve({});
  }

  /** Kafka output is never rewound: aborted transactions are what undoes it. */
  rewindTo(): Promise<void> {
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return this.owner.flush();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A checkpoint of one task waiting for its turn (merged with a newer one while it waits). */
interface QueuedTransaction {
  id: number;
  messages: TransactionMessage[];
  /** How many of `messages` are state-topic records. */
  stateRecords: number;
  offsets: TransactionOffset[];
  commits: Commit[];
}

interface TaskEntry {
  readonly partition: number;
  readonly producer: StreamsProducer;
  readonly output: TaskOutput;
  chain: Promise<void>;
  queued: QueuedTransaction | undefined;
  /** Messages handed to a transaction not yet committed. */
  committing: number;
  dropped: boolean;
}

export class TaskTransactions {
  private readonly tasks = new Map<number, TaskEntry>();
  private failure: unknown;
  private lastCompleted: number | undefined;

  constructor(private readonly options: TaskTransactionsOptions) {}

  /** The newest checkpoint every task of which committed. */
  get latest(): number | undefined {
    return this.lastCompleted;
  }

  /** `remote`, with each task's producer initialised (the previous owner fenced) before its committed offset is read. */
  fencing(remote: RemoteState): RemoteState {
    return {
      committed: async (partitions) => {
        await this.fence(partitions);
        return remote.committed(partitions);
      },
      restore: remote.restore,
      ends: remote.ends,
    };
  }

  /** Creates and initialises the producers of tasks about to restore; a producer the task had is closed. */
  async fence(partitions: readonly number[]): Promise<void> {
    const { config, ids } = this.options;
    await Promise.all(
      partitions.map(async (partition) => {
        this.drop(partition);
        const tp = ids.topicPartition(partition);
        const producer = new StreamsProducer({
          ...kafkaConnection(config.kafka),
          transactionalId: `${config.kafka.consumer.group_id}-${tp.topic}-${tp.partition}`,
          groupId: config.kafka.consumer.group_id,
        });
        const entry: TaskEntry = { partition, producer, output: new TaskOutput(config, this), chain: Promise.resolve(), queued: undefined, committing: 0, dropped: false };
        this.tasks.set(partition, entry);
        try {
          await producer.init();
        } catch (error) {
          if (this.tasks.get(partition) === entry) this.tasks.delete(partition);
          await producer.close().catch(() => undefined);
          throw error;
        }
      }),
    );
  }

  /** Where task `partition` writes its results and dead letters. */
  outputs(partition: number): JobOutputs {
    const entry = this.tasks.get(partition);
    if (entry === undefined) throw new Error(`exactly_once: task ${partition} has no transactional producer (written before its restore?)`);
    return entry.output;
  }

  /**
   * Cuts every task in `changes` (synchronously, at the barrier): its buffered output, its
   * state-topic records and its position become one transaction, run after the task's
   * previous one.
   */
  checkpoint(id: number, changes: ReadonlyMap<number, ChangelogMessage[]>, positions: Readonly<Record<string, string>>): void {
    const started = performance.now();
    const done: Promise<void>[] = [];
    for (const [partition, records] of changes) {
      const entry = this.tasks.get(partition);
      if (entry === undefined) continue;
      const tp = this.options.ids.topicPartition(partition);
      const position = positions[positionKey(tp.topic, tp.partition)];
      const offsets = position === undefined ? [] : [{ topic: tp.topic, partition: tp.partition, offset: position }];
      const { messages, commit } = entry.output.take();
      const stateMessages = records.map((m): TransactionMessage => ({ topic: this.options.stateTopic, key: m.key ?? null, value: m.value, partition: m.partition }));
      entry.committing += messages.length;
      done.push(commit.promise);
      if (entry.queued !== undefined) {
        // Still waiting for the previous transaction: one transaction carries both.
        const queued = entry.queued;
        queued.id = id;
        queued.messages.push(...messages, ...stateMessages);
        queued.stateRecords += records.length;
        queued.offsets = offsets;
        queued.commits.push(commit);
        continue;
      }
      entry.queued = { id, messages: [...messages, ...stateMessages], stateRecords: records.length, offsets, commits: [commit] };
      entry.chain = entry.chain.then(() => this.run(entry));
    }
    void Promise.all(done).then(() => {
      if (this.failure !== undefined) return;
      this.lastCompleted = Math.max(this.lastCompleted ?? 0, id);
      this.options.metrics?.checkpointDuration.observe((performance.now() - started) / 1000);
      this.options.metrics?.lastCheckpointId.set(this.lastCompleted);
    });
  }

  private async run(entry: TaskEntry): Promise<void> {
    const transaction = entry.queued;
    entry.queued = undefined;
    if (transaction === undefined) return;
    const count = transaction.messages.length - transaction.stateRecords;
    try {
      if (entry.dropped || this.failure !== undefined) return;
      await entry.producer.commit(transaction.messages, transaction.offsets);
      this.options.logger?.debug({ task: entry.partition, checkpoint: transaction.id, messages: transaction.messages.length }, 'transaction committed');
    } catch (error) {
      if (error instanceof TaskMigratedError || brokersUnavailable(error)) {
        if (!entry.dropped) {
          const why = error instanceof TaskMigratedError ? 'task fenced by another instance' : 'transaction failed transiently';
          this.options.logger?.warn({ task: entry.partition, checkpoint: transaction.id, err: error }, `${why}: its uncommitted output is discarded and it is restored anew`);
          this.drop(entry.partition);
          this.options.restoreAnew(entry.partition);
        }
        return;
      }
      this.failure ??= error;
      this.options.metrics?.errors.checkpoint_failed.inc();
      this.options.logger?.error({ err: error, task: entry.partition, checkpoint: transaction.id }, 'transaction aborted: the job stops, a restart resumes from the last committed transaction');
      this.options.onError(error);
    } finally {
      entry.committing -= count;
      for (const commit of transaction.commits) commit.resolve();
    }
  }

  /** A task revoked (or fenced): its unsent output is discarded, its producer closed once its running transaction ends. */
  drop(partition: number): void {
    const entry = this.tasks.get(partition);
    if (entry === undefined) return;
    this.tasks.delete(partition);
    entry.dropped = true;
    entry.output.take().commit.resolve();
    const closing = entry.chain.then(() => entry.producer.close());
    closing.catch((error: unknown) => this.options.logger?.warn({ err: error, task: partition }, 'closing a transactional producer'));
  }

  /** Output written by every task since its last cut. */
  get buffered(): number {
    let count = 0;
    for (const entry of this.tasks.values()) count += entry.output.messages.length;
    return count;
  }

  /** Output written and not yet committed, by every task: what backpressure watches. */
  get inFlight(): number {
    let count = 0;
    for (const entry of this.tasks.values()) count += entry.output.messages.length + entry.committing;
    return count;
  }

  /** Resolves once what every task has written so far is committed (at the next checkpoint) or dropped. */
  async flush(): Promise<void> {
    await Promise.all([...this.tasks.values()].map((entry) => (entry.output.messages.length > 0 ? entry.output.commit.promise : entry.chain)));
    if (this.failure !== undefined) throw this.failure;
  }

  /** Resolves when every transaction cut so far has ended; rejects with the first failure. */
  async drain(): Promise<void> {
    await Promise.all([...this.tasks.values()].map((entry) => entry.chain));
    if (this.failure !== undefined) throw this.failure;
  }

  /** Closes every producer once its transactions have ended. */
  async close(): Promise<void> {
    const entries = [...this.tasks.values()];
    this.tasks.clear();
    await Promise.allSettled(entries.map((entry) => entry.chain.then(() => entry.producer.close())));
  }
}
