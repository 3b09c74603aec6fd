/**
 * How far a consumer has read each assigned partition, and whether the brokers answer:
 * what "caught up" and "reachable" mean for the Kafka source (DESIGN.md "Time semantics":
 * a task is quiet only while its source is connected and has read everything there is).
 *
 * The fetch loop alone cannot tell: kafkajs never hands an empty batch to `eachBatch`, so
 * a partition with nothing (left) to read is never reported, and a consumer cut off from
 * its broker simply stops reporting. A poll of the brokers' offsets every `pollIntervalMs`
 * (`ListOffsets` for the high watermarks, `OffsetFetch` for the group's committed offsets:
 * two small requests) gives each partition's end and the consumer's start, and doubles as
 * the reachability probe behind `/readyz`.
 */
import type { Admin } from 'kafkajs';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { createKafka, type KafkaConnectionOptions } from './client.js';

export interface PartitionProgressOptions extends KafkaConnectionOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a partition without a committed offset starts: its low (true) or high watermark. */
  readonly fromBeginning: boolean;
  /** Default 1,000 ms. */
  readonly pollIntervalMs?: number;
}

interface Progress {
  /** Next offset the consumer hands over, as of its last hand-over or seek in this generation. */
  position: number | undefined;
  /** Sought to the partition's start (true) or end (false) rather than to an offset. */
  fromStart: boolean | undefined;
  high: number | undefined;
  low: number | undefined;
  committed: number | undefined;
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
/** kafkajs's special seek offsets. */
const EARLIEST = -2;
const LATEST = -1;
const DEFAULT_POLL_MS = 1_000;

export class PartitionProgress {
  private readonly partitions = new Map<string, Progress>();
  private readonly reachableState = new BehaviorSubject<boolean>(true);
  private readonly admin: Admin;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private connected = false;

  constructor(private readonly options: PartitionProgressOptions) {
    // No retries of its own: a failed poll says "unreachable" now, the next one tries again.
    this.admin = createKafka({
      clientId: `stream-processor-progress-${options.groupId}`,
      ...options,
      requestTimeoutMs: options.requestTimeoutMs ?? 2_000,
      retry: { retries: 0 },
    }).admin();
  }

  /** Whether the last poll of the brokers succeeded (hot, current value first, changes only). */
  get reachable(): Observable<boolean> {
    return this.reachableState.pipe(distinctUntilChanged());
  }

  get isReachable(): boolean {
    return this.reachableState.value;
  }

  start(): void {
    if (this.timer !== undefined) return;
    const tick = (): void => {
      this.polling ??= this.poll().finally(() => (this.polling = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.options.pollIntervalMs ?? DEFAULT_POLL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
    this.connected = false;
  }

  /** The partitions assigned now; a new generation forgets earlier positions (`seek` sets them again). */
  assign(current: readonly { topic: string; partition: number }[]): void {
    const keep = new Set(current.map((tp) => key(tp.topic, tp.partition)));
    for (const k of this.partitions.keys()) if (!keep.has(k)) this.partitions.delete(k);
    for (const tp of current) {
      const progress = this.of(tp.topic, tp.partition);
      progress.position = undefined;
      progress.fromStart = undefined;
    }
  }

  /** The consumer will read `partition` from `offset` on (a seek; a negative offset is kafkajs's earliest or latest). */
  seek(topic: string, partition: number, offset: string): void {
    const progress = this.of(topic, partition);
    const at = Number(offset);
    progress.position = at >= 0 ? at : undefined;
    progress.fromStart = at === EARLIEST ? true : at === LATEST ? false : undefined;
  }

  /** A hand-over up to `lastOffset`, from a batch that saw the partition end at `highWatermark`. */
  handedOver(topic: string, partition: number, lastOffset: string, highWatermark: string): void {
    const progress = this.of(topic, partition);
    progress.position = Number(lastOffset) + 1;
    const high = Number(highWatermark);
    if (progress.high === undefined || high > progress.high) progress.high = high;
  }

  /** Whether everything up to the partition's last known end has been handed over. */
  caughtUp(topic: string, partition: number): boolean {
    const progress = this.partitions.get(key(topic, partition));
    if (progress === undefined || progress.high === undefined) return false;
    const position = this.positionOf(progress);
    return position !== undefined && position >= progress.high;
  }

  /** Messages after the consumer's position, per partition with a known end. */
  lag(): { topic: string; partition: number; lag: number }[] {
    const out: { topic: string; partition: number; lag: number }[] = [];
    for (const [k, progress] of this.partitions) {
      const position = this.positionOf(progress);
      if (progress.high === undefined || position === undefined) continue;
      const [topic, partition] = k.split('\u0000') as [string, string];
      out.push({ topic, partition: Number(partition), lag: Math.max(0, progress.high - position) });
    }
    return out;
  }

  private positionOf(progress: Progress): number | undefined {
    if (progress.position !== undefined) return progress.position;
    if (progress.fromStart !== undefined) return progress.fromStart ? progress.low : progress.high;
    // Nothing handed over or sought in this generation: the consumer starts at the committed offset.
    if (progress.committed !== undefined && progress.committed >= 0) return progress.committed;
    return this.options.fromBeginning ? progress.low : progress.high;
  }

  private of(topic: string, partition: number): Progress {
    const k = key(topic, partition);
    let progress = this.partitions.get(k);
    if (progress === undefined) {
      progress = { position: undefined, fromStart: undefined, high: undefined, low: undefined, committed: undefined };
      this.partitions.set(k, progress);
    }
    return progress;
  }

  private async poll(): Promise<void> {
    try {
      if (!this.connected) {
        await this.admin.connect();
        this.connected = true;
      }
      const topics = [...this.options.topics];
      // The committed offsets are the fallback position only; the group coordinator may be
      // loading or moving, which says nothing about whether the brokers answer.
      const committed = this.admin.fetchOffsets({ groupId: this.options.groupId, topics }).catch(() => []);
      const ends = await Promise.all(topics.map(async (topic) => ({ topic, partitions: await this.admin.fetchTopicOffsets(topic) })));
      for (const { topic, partitions } of ends) {
        for (const p of partitions) {
          const progress = this.partitions.get(key(topic, p.partition));
          if (progress === undefined) continue;
          progress.high = Math.max(progress.high ?? 0, Number(p.high));
          progress.low = Number(p.low);
        }
      }
      for (const { topic, partitions } of await committed) {
        for (const p of partitions) {
          const progress = this.partitions.get(key(topic, p.partition));
          if (progress !== undefined) progress.committed = Number(p.offset);
        }
      }
      this.reachableState.next(true);
    } catch {
      this.reachableState.next(false);
      // Reconnect from scratch next time: a broken connection may not recover by itself.
      if (this.connected) await this.admin.disconnect().catch(() => undefined);
      this.connected = false;
    }
  }
}
