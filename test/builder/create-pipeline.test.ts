/**
 * `createPipeline()` with a custom in-memory source and sink (issue 12): the same results as
 * the file job over the same events, backpressure from the sink reaching the source, and a
 * stop and resume through a checkpoint giving the output of one uninterrupted run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../scripts/generate-sample.js';
import { ConfigError, createPipeline, type LineBatch, type PipelineBuilder, type Sink, type Source } from '../../src/index.js';
import { tempDir } from '../support/temp-dir.js';

const BATCH = 50;

/** Events from an array; a position is an index. Stops itself after `stopAfter` batches by calling `onStop`. */
class ArraySource implements Source {
  readonly bounded = true;
  readonly replayable = true;
  waits = 0;
  reads: number[] = [];
  constructor(
    private readonly lines: readonly string[],
    private readonly stopAfter?: { batches: number; stop: () => void },
  ) {}

  read(from: number, backpressure: () => PromiseLike<unknown> | undefined): Observable<LineBatch> {
    this.reads.push(from);
    return new Observable<LineBatch>((subscriber) => {
      let stopped = false;
      void (async () => {
        let batches = 0;
        for (let at = from; at < this.lines.length && !stopped; at += BATCH) {
          const wait = backpressure();
          if (wait !== undefined) {
            this.waits++;
            await wait;
          }
          await new Promise((resolve) => setImmediate(resolve));
          if (stopped) return;
          const lines = this.lines.slice(at, at + BATCH);
          subscriber.next({ lines, ends: lines.map((_, i) => at + i + 1), end: at + lines.length });
          if (++batches === this.stopAfter?.batches) this.stopAfter.stop();
        }
        if (!stopped) subscriber.complete();
      })();
      return () => {
        stopped = true;
      };
    });
  }
}

/** Lines kept in memory, acknowledged only by `flush` (so `inFlight` grows until the runner flushes). */
class MemorySink implements Sink {
  readonly lines: string[] = [];
  private pending: string[] = [];
  maxInFlight = 0;
  write(line: string): undefined {
    this.pending.push(line);
    this.maxInFlight = Math.max(this.maxInFlight, this.pending.length);
    return undefined;
  }
  get inFlight(): number {
    return this.pending.length;
  }
  async flush(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    this.lines.push(...this.pending);
    this.pending = [];
  }
  close(): Promise<void> {
    return this.flush();
  }
}

/** Output lines without `emitted_at` (processing time), for comparing runs. */
const comparable = (lines: readonly string[]): string[] => lines.map((l) => JSON.stringify({ ...(JSON.parse(l) as object), emitted_at: 0 }));

const events = generateEvents({ count: 3000, seed: 3, startMs: Date.UTC(2026, 10, 26, 10), durationMs: 20 * 60_000, invalidPerKind: 2 });

const seedLike = (): PipelineBuilder =>
  createPipeline()
    .withEvents({ keyFields: ['model'] })
    .withWatermarkGenerator({ maxOutOfOrdernessSecs: 20 })
    .withTumblingWindow({ sizeSecs: 60, allowedLatenessSecs: 30 })
    .withSettings({ buffer_size: 20, log: { level: 'silent' } });

describe('createPipeline', () => {
  it('a custom source and sinks give the file job\'s results, with backpressure from the sink', async () => {
    const dir = tempDir('builder-');
    writeFileSync(join(dir, 'in.ndjson'), events.join('\n') + '\n');
    const fileSummary = await seedLike()
      .withFileSource(join(dir, 'in.ndjson'))
      .withStateBackend({ backend: 'memory' })
      .withSink({ type: 'file', path: join(dir, 'out.ndjson') })
      .withDeadLetterSink({ type: 'file', path: join(dir, 'dlq.ndjson') })
      .build()
      .run();

    const source = new ArraySource(events);
    const results = new MemorySink();
    const deadLetters = new MemorySink();
    const summary = await seedLike().withSource(source).withStateBackend({ backend: 'memory' }).withSink(results).withDeadLetterSink(deadLetters).build().run();

    expect(summary).toMatchObject({ recordsIn: events.length, aggregated: fileSummary.aggregated, late: fileSummary.late, invalid: fileSummary.invalid });
    const read = (name: string): string[] => readFileSync(join(dir, name), 'utf8').split('\n').filter((l) => l !== '');
    expect(comparable(results.lines)).toEqual(comparable(read('out.ndjson')));
    // Dead letters say where they were read: a byte offset in the file, an index in the array.
    const withoutOffset = (lines: readonly string[]): unknown[] => lines.map((l) => ({ ...(JSON.parse(l) as object), offset: undefined }));
    expect(withoutOffset(deadLetters.lines)).toEqual(withoutOffset(read('dlq.ndjson')));
    // buffer_size 20: the source waited for the sinks, which never held more than a batch's worth beyond it.
    expect(source.waits).toBeGreaterThan(0);
    expect(results.maxInFlight + deadLetters.maxInFlight).toBeLessThanOrEqual(20 + BATCH);
  });

  it('stops with a checkpoint and resumes from it: the two runs write what one run writes', async () => {
    const dir = tempDir('builder-resume-');
    const build = (source: Source, sink: Sink): ReturnType<PipelineBuilder['build']> =>
      seedLike()
        .withSource(source)
        .withStateBackend({ backend: 'level', path: join(dir, 'state') })
        .withSink(sink)
        .withDeadLetterSink(new MemorySink())
        .build();
    const whole = new MemorySink();
    await seedLike().withSource(new ArraySource(events)).withStateBackend({ backend: 'memory' }).withSink(whole).withDeadLetterSink(new MemorySink()).build().run();

    const stop = new AbortController();
    const first = new MemorySink();
    const firstSource = new ArraySource(events, { batches: 20, stop: () => stop.abort() });
    const firstSummary = await build(firstSource, first).run({ signal: stop.signal });
    expect(firstSummary.recordsIn).toBeLessThan(events.length);
    const second = new MemorySink();
    const secondSource = new ArraySource(events);
    await build(secondSource, second).run();
    // The second run read from where the checkpoint of the first stood, not from the start.
    expect(secondSource.reads[0]).toBe(firstSummary.recordsIn);
    expect(comparable([...first.lines, ...second.lines])).toEqual(comparable(whole.lines));
  });

  it('build() validates like a config file, naming the key, and refuses durable state for a source that cannot replay', () => {
    expect(() => createPipeline().withTumblingWindow({ sizeSecs: 0 }).build()).toThrow(ConfigError);
    expect(() => createPipeline().withTumblingWindow({ sizeSecs: 0 }).build()).toThrow('processor.windows.tumbling.size_secs: expected an integer ≥ 1, got 0');
    const live: Source = { bounded: false, replayable: false, read: () => new Observable<LineBatch>() };
    expect(() => createPipeline().withSource(live).withStateBackend({ backend: 'level', path: 'x' }).build()).toThrow('not replayable');
    const seed = createPipeline()
      .withKafkaSource({ brokers: 'localhost:9092', topics: ['feedback-events'], groupId: 'processor-group' })
      .withWatermarkGenerator({ maxOutOfOrdernessSecs: 30 })
      .withTumblingWindow({ sizeSecs: 300, allowedLatenessSecs: 60 })
      .withStateBackend({ backend: 'level', path: '/tmp/state' })
      .withKafkaSink({ topic: 'aggregated-metrics' })
      .build();
    expect(seed.config).toMatchObject({
      source: { type: 'kafka' },
      sink: { type: 'kafka' },
      windows: { default_type: 'tumbling', tumbling: { size_secs: 300, allowed_lateness_secs: 60 } },
      kafka: { consumer: { bootstrap_servers: ['localhost:9092'], topics: ['feedback-events'], group_id: 'processor-group' }, producer: { result_topic: 'aggregated-metrics' } },
    });
    expect(createPipeline().withTumblingWindow({ sizeSecs: 60 }).withSlidingWindow({ sizeSecs: 120, slideSecs: 30 }).withStateBackend({ backend: 'memory' }).build().config.windows.types).toEqual(['tumbling', 'sliding']);
  });

  it('named windows are named specs (windows.specs); named and unnamed ones together are refused', () => {
    const named = createPipeline()
      .withTumblingWindow({ name: '1m', sizeSecs: 60, allowedLatenessSecs: 10 })
      .withTumblingWindow({ name: '1h', sizeSecs: 3_600, allowedLatenessSecs: 60 })
      .withSessionWindow({ name: 'visits', gapSecs: 30, allowedLatenessSecs: 0 })
      .build();
    expect(named.config.windows.specs).toEqual([
      { name: '1m', type: 'tumbling', size_secs: 60, allowed_lateness_secs: 10 },
      { name: '1h', type: 'tumbling', size_secs: 3_600, allowed_lateness_secs: 60 },
      { name: 'visits', type: 'session', gap_secs: 30, allowed_lateness_secs: 0 },
    ]);
    expect(named.config.windows.types).toBeUndefined();
    expect(() => createPipeline().withTumblingWindow({ name: '1m', sizeSecs: 60, allowedLatenessSecs: 0 }).withSlidingWindow({ sizeSecs: 60, slideSecs: 30 }).build()).toThrow(
      'processor.windows.types: expected no types together with specs',
    );
  });
});
