import { from } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import type { FeedbackEvent } from '../../src/events/index.js';
import { createProcessorMetrics } from '../../src/observability/index.js';
import { JobStats } from '../../src/runner/job-stats.js';
import type { DeadLetterOut, JobOutputs } from '../../src/runner/outputs.js';
import { runPipeline } from '../../src/runner/run-pipeline.js';
import type { StreamRecord } from '../../operators/stream/elements.js';

/** Outputs that keep what is written. */
function memoryOutputs(): JobOutputs & { results: unknown[]; deadLetters: DeadLetterOut[] } {
  const results: unknown[] = [];
  const deadLetters: DeadLetterOut[] = [];
  return {
    results,
    deadLetters,
    writeResult: (result) => void results.push(result),
    writeDeadLetter: (deadLetter) => void deadLetters.push(deadLetter),
    inFlight: 0,
    positions: () => ({}),
    identify: async () => ({}),
    rewindTo: async () => undefined,
    flush: async () => undefined,
    close: async () => undefined,
  };
}

const record = (timestamp: number, model: unknown, offset: string): StreamRecord<FeedbackEvent> => ({
  kind: 'record',
  value: { model: model as string, metrics: { latency_ms: 1 } },
  timestamp,
  key: `key-${offset}`,
  partition: 0,
  offset,
});

describe('runPipeline', () => {
  it('sends a record whose aggregation throws to the dead letter as processing_error and goes on', async () => {
    const config = parseConfig({ processor: { state: { backend: 'memory' } } }, {});
    const outputs = memoryOutputs();
    const stats = new JobStats();
    // A library caller's record the parser never saw: its key field cannot become a
    // string, and the key object is built from the first record of a window.
    const unprintable = { toString: 1, valueOf: 1 };
    const records = [record(1_000, 'a', '1'), record(2_000, unprintable, '2'), record(3_000, 'a', '3')];
    stats.recordsIn = records.length;
    await runPipeline(from(records), { config, outputs, stats });

    expect(outputs.deadLetters).toEqual([
      {
        reason: 'processing_error',
        raw: '{"model":{"toString":1,"valueOf":1},"metrics":{"latency_ms":1}}',
        extra: { error: 'Cannot convert object to primitive value', partition: 0, offset: '2' },
      },
    ]);
    expect(outputs.results).toHaveLength(2);
    expect(stats.summary(0)).toMatchObject({ recordsIn: 3, aggregated: 2, invalid: 1, late: 0 });
    expect(stats.invalidByReason.get('processing_error')).toBe(1);
    // Counted as an error as well as a dead letter (the error rate's numerator).
    const metrics = createProcessorMetrics();
    stats.publish(metrics);
    const text = await metrics.registry.metrics();
    expect(text).toContain('stream_processor_errors_total{kind="processing_error"} 1\n');
    expect(text).toContain('stream_processor_dead_letters_total{reason="processing_error"} 1\n');
  });
});
