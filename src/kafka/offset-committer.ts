/**
 * Commits the source offsets of complete checkpoints to the consumer group.
 *
 * A checkpoint is complete once it is durable in the state store; the commit that follows
 * only tells the group (and a member that takes a partition over) where that checkpoint
 * stands. So a failed commit is never a failed checkpoint: a commit rejected because a
 * rebalance moved the group to a new generation, or because the broker is unreachable,
 * is kept and tried again after the rejoin (for the partitions this member still owns)
 * and with every later checkpoint, which supersedes it. Nothing here ever rejects.
 */
import type { Logger, ProcessorMetrics } from '../observability/index.js';
import type { SourcePositions } from '@llm-feedback/stream-operators';
import type { KafkaSource, TopicPartitionOffset } from './source.js';

export type CommitTarget = Pick<KafkaSource, 'assignment' | 'commitOffsets'>;

/** `topic:partition` → next offset, the form checkpoints keep their Kafka positions in. */
export const positionKey = (topic: string, partition: number): string => `${topic}:${partition}`;

export class OffsetCommitter {
  /** The newest positions not yet committed (undefined once they are). */
  private pending: SourcePositions | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly source: CommitTarget,
    private readonly logger?: Logger,
    private readonly metrics?: ProcessorMetrics,
  ) {}

  /** Commits `positions` for the partitions owned now; on failure keeps them for `retry`. Never rejects. */
  commit(positions: SourcePositions): Promise<void> {
    this.pending = positions;
    return this.flush();
  }

  /** Commits what an earlier commit left pending (call after a rejoin, or on reconnection). */
  retry(): Promise<void> {
    return this.pending === undefined ? this.running : this.flush();
  }

  /** Serialised: a commit started while one runs goes after it, with the newest positions. */
  private flush(): Promise<void> {
    this.running = this.running.then(async () => {
      const positions = this.pending;
      if (positions === undefined) return;
      const offsets = this.owned(positions);
      try {
        await this.source.commitOffsets(offsets);
        if (this.pending === positions) this.pending = undefined;
      } catch (error) {
        this.metrics?.errors.commit_failed.inc();
        this.logger?.warn({ err: error, partitions: offsets.length }, 'offset commit failed: retried after the rejoin and with the next checkpoint');
      }
    });
    return this.running;
  }

  private owned(positions: SourcePositions): TopicPartitionOffset[] {
    const owned = new Set(this.source.assignment.map((tp) => positionKey(tp.topic, tp.partition)));
    const offsets: TopicPartitionOffset[] = [];
    for (const [key, offset] of Object.entries(positions)) {
      if (!owned.has(key)) continue;
      const at = key.lastIndexOf(':');
      offsets.push({ topic: key.slice(0, at), partition: Number(key.slice(at + 1)), offset });
    }
    return offsets;
  }
}
