/**
 * A custom `PartitionedSource` through `createPipeline().withSource` (issue 12): partitions
 * assigned, revoked and assigned again while records flow, backpressure reaching the source,
 * and a stop and resume through the local copy. Every run's final results must equal the
 * brute-force model (the fault suite's), repeats identical, every invalid record one dead letter.
 */
import { join } from 'node:path';
import { Observable, Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipeline, type PartitionChange, type PartitionedRecord, type PartitionedSource, type PipelineBuilder, type Sink, type SourcePartition, type SourcePartitionOffset } from '../../src/index.js';
import { checkRun, InputGenerator, resultsComplete, waitUntil, type Planned, type Sent } from '../faults/harness.js';
import { tempDir } from '../support/temp-dir.js';

const TOPIC = 'feedback';
const PARTITIONS = 4;
/** Records a partition hands over per turn of the event loop. */
const CHUNK = 25;
/** `buffer_size`, and where the source pauses. */
const BUFFER = 10;

/** Partitions of NDJSON lines in memory; offsets are indexes. Pauses itself at `bufferSize` records unacknowledged. */
class MemoryPartitionedSource implements PartitionedSource {
  readonly topics = [TOPIC];
  private readonly changes = new Subject<PartitionChange>();
  readonly assignments = this.changes.asObservable();
  assignment: readonly SourcePartition[] = [];
  /** Next offset to hand over, per partition. */
  private readonly next = new Map<number, number>();
  private readonly held = new Set<number>();
  private inFlight = 0;
  maxInFlight = 0;
  /** Turns on which the source waited for acknowledgements. */
  pauses = 0;
  /** Each partition's offset as the last commit gave it; every release. */
  readonly committed = new Map<number, number>();
  readonly releases: { partition: number; offset: string | undefined }[] = [];
  stopped = false;

  constructor(
    private readonly lines: readonly (readonly string[])[],
    private readonly bufferSize: number,
    /** Assigned when reading starts (as a consumer joins its group). */
    private readonly initial: readonly number[],
    /** Records handed over in all, after which the source waits (the test moves it on). */
    public atMost = Infinity,
    /** Complete `records` once every partition is handed over and acknowledged (a bounded input). */
    private readonly completeAtEnd = false,
  ) {}
  handedOver = 0;

  /** Changes the assignment to `partitions` (a rebalance). */
  assign(partitions: readonly number[]): void {
    const before = new Set(this.assignment.map((tp) => tp.partition));
    const now = new Set(partitions);
    const tp = (partition: number): SourcePartition => ({ topic: TOPIC, partition });
    this.assignment = partitions.map(tp);
    for (const p of partitions) if (!before.has(p)) this.next.set(p, 0);
    this.changes.next({ assigned: partitions.filter((p) => !before.has(p)).map(tp), revoked: [...before].filter((p) => !now.has(p)).map(tp), current: this.assignment });
  }

  /** Whether every assigned partition has been handed over to its end. */
  get drained(): boolean {
    return this.assignment.every((tp) => !this.held.has(tp.partition) && (this.next.get(tp.partition) ?? 0) >= this.lines[tp.partition]!.length);
  }

  readonly records = new Observable<PartitionedRecord>((subscriber) => {
    let running = true;
    this.assign(this.initial);
    const turn = (): void => {
      if (!running) return;
      if (this.completeAtEnd && this.drained && this.inFlight === 0) return subscriber.complete();
      if (this.inFlight >= this.bufferSize) this.pauses++;
      else {
        for (const { partition } of this.assignment) {
          if (this.held.has(partition)) continue;
          const lines = this.lines[partition]!;
          for (let i = 0; i < CHUNK && this.inFlight < this.bufferSize && this.handedOver < this.atMost; i++) {
            const offset = this.next.get(partition) ?? 0;
            if (offset >= lines.length) break;
            this.next.set(partition, offset + 1);
            this.inFlight++;
            this.handedOver++;
            this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
            subscriber.next({ kind: 'record', topic: TOPIC, partition, offset: String(offset), value: lines[offset]!, timestamp: Date.now() });
          }
        }
      }
      setImmediate(turn);
    };
    setImmediate(turn);
    return () => {
      running = false;
    };
  });

  caughtUp(tp: SourcePartition): boolean {
    return !this.held.has(tp.partition) && (this.next.get(tp.partition) ?? 0) >= this.lines[tp.partition]!.length;
  }

  hold(partitions: readonly SourcePartition[]): void {
    for (const tp of partitions) this.held.add(tp.partition);
  }

  release(tp: SourcePartition, offset: string | undefined): void {
    this.releases.push({ partition: tp.partition, offset });
    this.held.delete(tp.partition);
    this.next.set(tp.partition, offset === undefined ? 0 : Number(offset));
  }

  ack(): void {
    this.inFlight--;
  }

  async commitOffsets(offsets: readonly SourcePartitionOffset[]): Promise<void> {
    for (const { partition, offset } of offsets) this.committed.set(partition, Number(offset));
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

/** Lines kept in memory, acknowledged only by `flush`. */
class MemorySink implements Sink {
  readonly lines: string[] = [];
  private pending: string[] = [];
  write(line: string): undefined {
    this.pending.push(line);
    return undefined;
  }
  get inFlight(): number {
    return this.pending.length;
  }
  async flush(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    this.lines.push(...this.pending.splice(0));
  }
  close(): Promise<void> {
    return this.flush();
  }
}

/** The fault suite's keyed input (`perPartition` events a partition, invalid records among them, sentinels last) as lines per partition. */
function input(seed: number, perPartition: number): { lines: string[][]; sent: Sent[] } {
  const gen = new InputGenerator(seed, PARTITIONS);
  const planned: Planned[] = gen.batch(perPartition);
  const poison = (partition: number, value: string, reason: string): Planned => ({ partition, key: `poison-${partition}`, value, kind: 'poison', reason });
  planned.splice(perPartition, 0, poison(1, '{"timestamp": 1, "model": ', 'invalid_json'), poison(2, `{"timestamp":1e16,"model":"p2-k1","metrics":{"latency_ms":1}}`, 'future_timestamp'));
  planned.push(...gen.sentinels());
  const lines: string[][] = Array.from({ length: PARTITIONS }, () => []);
  const sent: Sent[] = planned.map(({ value, ...rest }) => {
    const partition = lines[rest.partition]!;
    partition.push(String(value));
    return { ...rest, offset: String(partition.length - 1) };
  });
  return { lines, sent };
}

const builder = (source: PartitionedSource, results: Sink, deadLetters: Sink): PipelineBuilder =>
  createPipeline()
    .withSource(source)
    .withEvents({ keyFields: ['model'] })
    .withWatermarkGenerator({ maxOutOfOrdernessSecs: 5, idleTimeoutSecs: 2 })
    .withTumblingWindow({ sizeSecs: 10, allowedLatenessSecs: 10 })
    .withAggregations({ enabled: ['count', 'sum', 'average', 'min', 'max', 'percentile', 'stddev'], percentiles: [50, 95, 99] })
    .withCheckpointInterval(1)
    .withSink(results)
    .withDeadLetterSink(deadLetters)
    .withSettings({ buffer_size: BUFFER, log: { level: 'silent' } });

const stops: AbortController[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop.abort();
});

describe('createPipeline().withSource(partitioned source)', () => {
  it('partitions assigned, revoked and assigned again mid-stream: results equal the brute-force model', async () => {
    const { lines, sent } = input(41, 1_500);
    const source = new MemoryPartitionedSource(lines, BUFFER, [0, 1], 1_000);
    const results = new MemorySink();
    const deadLetters = new MemorySink();
    const stop = new AbortController();
    stops.push(stop);
    let ready = false;
    const run = builder(source, results, deadLetters).withStateBackend({ backend: 'memory' }).build().run({ signal: stop.signal, onReady: () => (ready = true) });
    let ended = 'running';
    run.then(() => (ended = 'ended early'), (error: unknown) => (ended = String(error)));
    await waitUntil('the first tasks to be ready', () => ready, 10_000);
    await waitUntil('1,000 records of partitions 0 and 1', () => source.handedOver === 1_000, 20_000);
    source.assign([0, 1, 2, 3]);
    source.atMost = 3_000;
    await waitUntil('a checkpoint of partition 1 and 2,000 more records', () => source.handedOver === 3_000 && (source.committed.get(1) ?? 0) > 0, 20_000);
    // Partition 1 leaves (its task and windows go) and comes back: restored from the local copy.
    source.assign([0, 2, 3]);
    source.atMost = 4_000;
    await waitUntil('1,000 records without partition 1', () => source.handedOver === 4_000, 20_000);
    source.assign([0, 1, 2, 3]);
    source.atMost = Infinity;
    await waitUntil('every window to have its result', () => source.drained && resultsComplete(sent, results.lines), 60_000, () => `results ${results.lines.length}; job ${ended}`);
    stop.abort();
    const summary = await run;

    const verdict = checkRun('partitioned source', sent, results.lines, deadLetters.lines);
    expect(verdict.deadLetters).toEqual(new Map([['invalid_json', 1], ['future_timestamp', 1]]));
    expect(summary.recordsIn).toBeGreaterThanOrEqual(sent.length);
    // Partition 1 was restored where a checkpoint of it stood, not from its start.
    const again = source.releases.filter((r) => r.partition === 1);
    expect(again).toHaveLength(2);
    expect(Number(again[1]!.offset)).toBeGreaterThan(0);
    // Backpressure: the source paused at its limit; the final checkpoint told it where every partition ends.
    expect(source.pauses).toBeGreaterThan(0);
    expect(source.maxInFlight).toBeLessThanOrEqual(BUFFER);
    expect([...source.committed].sort(([a], [b]) => a - b)).toEqual(lines.map((l, p) => [p, l.length]));
    expect(source.stopped).toBe(true);
  }, 120_000);

  it('stops with a checkpoint and resumes from the state folder, to the input\'s end: the two runs give the model', async () => {
    const { lines, sent } = input(42, 1_000);
    const state = join(tempDir('partitioned-'), 'state');
    const results = new MemorySink();
    const deadLetters = new MemorySink();
    const start = (source: MemoryPartitionedSource, signal: AbortSignal): Promise<unknown> =>
      builder(source, results, deadLetters).withStateBackend({ backend: 'level', path: state }).build().run({ signal });

    // Nothing is read until every task is restored: on a loaded machine a partition still
    // restoring while the others read half of the input would have nothing to checkpoint.
    const first = new MemoryPartitionedSource(lines, BUFFER, [0, 1, 2, 3], 0);
    const stop = new AbortController();
    stops.push(stop);
    const run = start(first, stop.signal);
    await waitUntil('every task restored', () => first.releases.length === PARTITIONS, 20_000);
    first.atMost = 1_500;
    await waitUntil('half of the input', () => first.handedOver === 1_500, 20_000);
    stop.abort();
    await run;
    const stoppedAt = [...first.committed].sort(([a], [b]) => a - b);
    expect(stoppedAt).toHaveLength(PARTITIONS);
    expect(stoppedAt.some(([p, offset]) => offset < lines[p]!.length)).toBe(true);

    // The second source ends when it has handed everything over: the job stops by itself, with a final checkpoint.
    const second = new MemoryPartitionedSource(lines, BUFFER, [0, 1, 2, 3], Infinity, true);
    await start(second, new AbortController().signal);
    expect(second.stopped).toBe(true);
    expect([...second.committed].sort(([a], [b]) => a - b)).toEqual(lines.map((l, p) => [p, l.length]));
    // The second run read every partition from where the first one's final checkpoint stood.
    expect(second.releases.map((r) => [r.partition, Number(r.offset ?? 0)]).sort(([a], [b]) => a! - b!)).toEqual(stoppedAt);
    checkRun('partitioned source, resumed', sent, results.lines, deadLetters.lines);
  }, 120_000);

  it('a stop that came before the run (during a caller\'s set-up) ends it with a final checkpoint instead of hanging', async () => {
    const { lines } = input(43, 100);
    const source = new MemoryPartitionedSource(lines, BUFFER, [0, 1, 2, 3]);
    const stop = new AbortController();
    stop.abort();
    const summary = await builder(source, new MemorySink(), new MemorySink()).withStateBackend({ backend: 'memory' }).build().run({ signal: stop.signal });
    expect(source.stopped).toBe(true);
    // What it read while the final checkpoint completed is covered by it: nothing past its positions.
    expect(summary.recordsIn).toBeLessThan(400);
  }, 20_000);

  it('refuses exactly-once: its transactions are Kafka\'s', () => {
    const source = new MemoryPartitionedSource([[]], 10, [0]);
    expect(() => builder(source, new MemorySink(), new MemorySink()).withStateBackend({ backend: 'memory' }).withSettings({ processing_guarantee: 'exactly_once' }).build()).toThrow(
      'createPipeline: processing_guarantee exactly_once needs the Kafka source',
    );
  });
});
