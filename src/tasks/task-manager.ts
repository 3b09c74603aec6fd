/**
 * Turns partition assignments into tasks (Kafka Streams' TaskManager): a task for every
 * assigned partition, restored before it reads anything, and closed when the partition
 * is revoked. Checkpoints cut every task at one barrier.
 *
 * Where a task starts: its state and its source position always come from the same
 * complete checkpoint, or, with none, an empty state at the partition's first offset.
 * Candidates, newest first by position: the local copy (this run's checkpoints, or the
 * state folder's), when it is where the group's committed offset says the partition
 * stands; otherwise the state topic (`restoreRemote`), which holds every owner's
 * checkpoints. Because a task is deterministic (see `StreamTask`), starting from an older
 * complete checkpoint than the previous owner's last only repeats results, identically.
 */
import type { AggregateView, MetricsAggregator, WatermarkSnapshot } from '@llm-feedback/stream-operators';
import type { ProcessorConfig } from '../config/index.js';
import type { FeedbackEvent } from '../events/index.js';
import type { AssignmentChange, TopicPartition } from '../kafka/index.js';
import { positionKey } from '../kafka/offset-committer.js';
import type { PartitionIds } from '../kafka/partition-ids.js';
import { windowCount, type FeedbackResult, type PipelineSnapshot } from '../pipeline/feedback-pipeline.js';
import { mergedView } from '../pipeline/window-pages.js';
import type { PipelineWriter } from '../runner/run-pipeline.js';
import { commitMessage, type ChangelogLineage, type ChangelogMessage, type RestoredTask, type SpecCommit, type TaskCommit } from './changelog.js';
import type { LocalTaskStore } from './local-store.js';
import { StreamTask, type TaskCheckpoint } from './stream-task.js';

export interface TaskManagerOptions {
  readonly config: ProcessorConfig;
  /** Where results and too-late records go: shared, or per task (exactly-once: each task's own transaction). */
  readonly writer: PipelineWriter | ((partition: number) => PipelineWriter);
  readonly metrics: MetricsAggregator<FeedbackEvent>;
  /** Whether the source has read everything partition `id` holds. */
  readonly caughtUp: (partition: number) => boolean;
  readonly onError: (error: unknown) => void;
  /** The tasks' local copy (LevelDB, or memory: then it only lasts the process). */
  readonly local: LocalTaskStore;
  /** Partition ids of the topics the tasks read. */
  readonly ids: PartitionIds;
  /** The state topic's partition count (task of input partition n: state partition n). */
  readonly statePartitions: number;
  /** A task dropped a repartitioned record it had aggregated before. */
  readonly onDuplicate?: () => void;
  /**
   * Whether a local copy at the group's committed position holds the committed state (default
   * true). Not with exactly-once: another owner's idle task can fire windows and commit them
   * without moving the position, and a repeat of those results would be committed output; the
   * state topic, read committed, always tells.
   */
  readonly restoreLocally?: boolean;
  /** Where the tasks' positions are kept (default: a new record), for a caller that reads them too. */
  readonly positions?: Record<string, string>;
}

/** Where a new task starts: its state (none: empty) and the source position that goes with it (none: the start). */
export interface TaskStart {
  readonly snapshot: PipelineSnapshot | undefined;
  /** With the snapshot: the source high-water marks of repartitioned input. */
  readonly sources?: Readonly<Record<string, number>>;
  /** With the snapshot: where its state topic records stand, and those records (commit record last). */
  readonly lineage?: ChangelogLineage;
  readonly records?: RestoredTask['records'];
  readonly position: string | undefined;
  /** Where the state came from, for the log. */
  readonly from: 'local' | 'state topic' | 'empty';
}

/** Reads the state topic for these tasks; the committed offsets of their partitions (undefined: none). */
export interface RemoteState {
  readonly committed: (partitions: readonly number[]) => Promise<ReadonlyMap<number, string | undefined>>;
  readonly restore: (partitions: readonly number[]) => Promise<ReadonlyMap<number, RestoredTask>>;
  /** The end offsets of these input partitions: where a task without state starts with `auto_offset_reset: latest`. */
  readonly ends: (partitions: readonly number[]) => Promise<ReadonlyMap<number, string>>;
}

/** The consumer side of the tasks: partitions held while their tasks restore, then read from the task's position. */
export interface TaskInput {
  readonly assignment: readonly TopicPartition[];
  hold(partitions: readonly TopicPartition[]): void;
  /** Reads a held partition from `offset` (undefined: the partition's start). */
  release(partition: TopicPartition, offset: string | undefined): void;
}

/** A task that started after an assignment, for logs and metrics. */
export interface StartedTask {
  readonly partition: number;
  readonly from: TaskStart['from'];
  readonly position: string | undefined;
  readonly windows: number;
}

export class TaskManager {
  private readonly tasks = new Map<number, StreamTask>();
  /** Where each task stands: the next offset to read, per position key (what a checkpoint records). */
  readonly positions: Record<string, string>;
  /** Per partition, the restore started last: an older one that ends later is ignored. */
  private readonly restoring = new Map<number, number>();
  private restores = 0;

  constructor(private readonly options: TaskManagerOptions) {
    this.positions = options.positions ?? {};
  }

  private positionKey(partition: number): string {
    const tp = this.options.ids.topicPartition(partition);
    return positionKey(tp.topic, tp.partition);
  }

  has(partition: number): boolean {
    return this.tasks.has(partition);
  }

  get(partition: number): StreamTask | undefined {
    return this.tasks.get(partition);
  }

  /**
   * An assignment change (Kafka Streams' TaskManager.handleAssignment): revoked tasks are
   * closed (their state goes; the new owner restores it), partitions kept go on where they
   * stand, and new ones are held until their tasks are restored (`plan`), then read from
   * the position that goes with the state. Resolves with the tasks started.
   */
  async assign(change: AssignmentChange, input: TaskInput, remote: RemoteState | undefined): Promise<StartedTask[]> {
    const { ids } = this.options;
    for (const tp of change.revoked) {
      const partition = ids.id(tp.topic, tp.partition);
      this.tasks.get(partition)?.close();
      this.tasks.delete(partition);
      // A restore still running for it is void: if the partition comes back, it restores anew.
      this.restoring.delete(partition);
      delete this.positions[positionKey(tp.topic, tp.partition)];
    }
    const fresh = change.current.filter((tp) => {
      const partition = ids.id(tp.topic, tp.partition);
      return !this.tasks.has(partition) && !this.restoring.has(partition);
    });
    input.hold(fresh);
    const generation = ++this.restores;
    const partitions = fresh.map((tp) => ids.id(tp.topic, tp.partition));
    for (const partition of partitions) this.restoring.set(partition, generation);
    const plans = await this.plan(partitions, remote).catch((error: unknown) => {
      // A later assign may try these again (exactly-once retries a restore the brokers failed).
      for (const partition of partitions) if (this.restoring.get(partition) === generation) this.restoring.delete(partition);
      throw error;
    });
    const owned = new Set(input.assignment.map((tp) => ids.id(tp.topic, tp.partition)));
    const started: StartedTask[] = [];
    for (const [partition, plan] of plans) {
      if (this.restoring.get(partition) !== generation) continue;
      if (!owned.has(partition)) {
        this.restoring.delete(partition);
        continue;
      }
      // Checkpoints apply changes to the local copy: it must hold the state they start from.
      if (plan.from !== 'local') await this.options.local.replace(partition, this.fullState(partition, plan));
      if (this.restoring.get(partition) !== generation) continue;
      this.restoring.delete(partition);
      this.start(partition, plan);
      const tp = ids.topicPartition(partition);
      if (plan.position !== undefined) this.positions[positionKey(tp.topic, tp.partition)] = plan.position;
      input.release(tp, plan.position);
      started.push({ partition, from: plan.from, position: plan.position, windows: plan.snapshot === undefined ? 0 : windowCount(plan.snapshot) });
    }
    return started;
  }

  /** Decides where each of `partitions` starts (see the module comment). */
  async plan(partitions: readonly number[], remote: RemoteState | undefined): Promise<Map<number, TaskStart>> {
    const { local, metrics } = this.options;
    const fromTask = (task: RestoredTask, from: TaskStart['from']): TaskStart => ({
      snapshot: task.snapshot,
      sources: task.commit.sources,
      lineage: task.lineage,
      records: task.records,
      position: task.commit.position,
      from,
    });
    const committed = remote === undefined ? new Map<number, string | undefined>() : await remote.committed(partitions);
    const localPositions = new Map(await Promise.all(partitions.map(async (p) => [p, (await local.commit(p))?.position] as const)));
    // The local copy is current when the group committed exactly its position: no owner went further.
    const locally = this.options.restoreLocally ?? true;
    const current = (p: number): boolean => locally && localPositions.get(p) !== undefined && localPositions.get(p) === committed.get(p);
    const stale = partitions.filter((p) => remote !== undefined && !current(p));
    const fetched = stale.length === 0 || remote === undefined ? new Map<number, RestoredTask>() : await remote.restore(stale);
    const plans = new Map<number, TaskStart>();
    // `latest`: a task without state starts at the group's committed offset, else at the partition's
    // end (`earliest` rebuilds it from the start). kafkajs cannot seek to "latest" without
    // auto-commit (a negative offset reads from 0), hence the actual end offsets.
    const fresh = partitions.filter((p) => localPositions.get(p) === undefined && fetched.get(p) === undefined);
    const latest = remote !== undefined && this.options.config.kafka.auto_offset_reset === 'latest' && fresh.length > 0;
    const ends = latest ? await remote.ends(fresh) : new Map<number, string>();
    const emptyStart = (p: number): string | undefined => (latest ? committed.get(p) ?? ends.get(p) : undefined);
    for (const partition of partitions) {
      const theirs = fetched.get(partition);
      const mine = !locally || localPositions.get(partition) === undefined || Number(localPositions.get(partition)) < Number(theirs?.commit.position ?? -1) ? undefined : await local.load(partition, metrics);
      // Newest first: the one furthest in the input, the local copy on a tie (nothing to rewrite).
      const candidates = [mine && fromTask(mine, 'local'), theirs && fromTask(theirs, 'state topic')].filter((c): c is TaskStart => c !== undefined);
      candidates.sort((a, b) => Number(b.position ?? -1) - Number(a.position ?? -1));
      plans.set(partition, candidates[0] ?? { snapshot: undefined, position: emptyStart(partition), from: 'empty' });
    }
    return plans;
  }

  /** Creates the task of `partition` from its plan. */
  start(partition: number, start: TaskStart): StreamTask {
    this.tasks.get(partition)?.close();
    const task = new StreamTask(partition, {
      config: this.options.config,
      writer: typeof this.options.writer === 'function' ? this.options.writer(partition) : this.options.writer,
      restored: start.snapshot,
      restoredSources: start.sources,
      restoredLineage: start.lineage,
      caughtUp: () => this.options.caughtUp(partition),
      onError: this.options.onError,
      onDuplicate: this.options.onDuplicate,
    });
    this.tasks.set(partition, task);
    return task;
  }

  /**
   * Every task's checkpoint for barrier `id`: its changes since the previous one as state
   * topic messages, which the local copy applies as well (`localChanges`).
   */
  checkpoint(id: number, positions: Readonly<Record<string, string>>): ChangelogMessage[] {
    return [...this.checkpointTasks(id, positions).values()].flat();
  }

  /** `checkpoint`, by task (partition id): what each task's transaction carries with exactly-once. */
  checkpointTasks(id: number, positions: Readonly<Record<string, string>>): Map<number, ChangelogMessage[]> {
    const messages = new Map<number, ChangelogMessage[]>();
    for (const [partition, task] of this.tasks) {
      const cut = task.checkpoint();
      const commit = this.commitOf(partition, id, positions[this.positionKey(partition)], cut.watermarks, cut.specs, cut.sources);
      messages.set(partition, task.changelog.messages(this.statePartition(partition), cut.specs, commit, this.options.metrics));
    }
    return messages;
  }

  /** A task's whole state as messages: the records it was restored from, or an empty state's commit record. */
  private fullState(partition: number, plan: TaskStart): ChangelogMessage[] {
    const statePartition = this.statePartition(partition);
    if (plan.records !== undefined) {
      const messages: ChangelogMessage[] = [];
      for (const [key, value] of plan.records) if (value !== null) messages.push({ partition: statePartition, key, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) });
      return messages;
    }
    const commit = this.commitOf(partition, 0, plan.position, { watermark: -Infinity, partitions: [] }, [], plan.sources ?? {});
    return [commitMessage(partition, statePartition, commit)];
  }

  private commitOf(
    partition: number,
    checkpointId: number,
    position: string | undefined,
    watermarks: WatermarkSnapshot,
    specs: TaskCheckpoint['specs'],
    sources: Readonly<Record<string, number>>,
  ): TaskCommit {
    const maxEventTime = watermarks.partitions.filter((p) => p.partition === partition).reduce((max, p) => Math.max(max, p.maxEventTime), -Infinity);
    return {
      checkpointId,
      position,
      maxEventTime,
      watermark: watermarks.watermark,
      specs: specs.map(({ spec, windowType, header }): SpecCommit => ({ spec, windowType, watermark: header.watermark })),
      // The specs share their identities: every header holds the same next one.
      nextId: Math.max(0, ...specs.map(({ header }) => header.nextId ?? 0)),
      sources,
    };
  }

  private statePartition(partition: number): number {
    return this.options.ids.topicPartition(partition).partition % this.options.statePartitions;
  }

  /** One view over every task's windows (queries, the open-windows gauge). */
  windowState(): AggregateView<FeedbackResult> {
    return mergedView(() => [...this.tasks.values()].flatMap((task) => (task.windows === undefined ? [] : [{ view: task.windows }])));
  }

  close(): void {
    for (const task of this.tasks.values()) task.close();
    this.tasks.clear();
  }
}
