import { describe, expect, it } from 'vitest';
import { createProcessorMetrics } from '../../src/observability/metrics.js';

/** The value of one sample line of the text format, e.g. `name{a="b"}`. */
async function sample(text: Promise<string>, series: string): Promise<number | undefined> {
  const line = (await text).split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createProcessorMetrics', () => {
  it('exposes every labelled series at 0 before anything is counted', async () => {
    const { registry } = createProcessorMetrics();
    const text = registry.metrics();
    for (const outcome of ['aggregated', 'late', 'dead_letter']) {
      expect(await sample(text, `stream_processor_records_in_total{outcome="${outcome}"}`)).toBe(0);
    }
    expect(await sample(text, 'stream_processor_windows_fired_total{revision_kind="first"}')).toBe(0);
    expect(await sample(text, 'stream_processor_dead_letters_total{reason="too_late"}')).toBe(0);
    expect(await sample(text, 'stream_processor_output_records_total{sink="dead_letter"}')).toBe(0);
    for (const kind of ['processing_error', 'checkpoint_failed', 'commit_failed', 'dead_letter_dropped', 'send_failed']) {
      expect(await sample(text, `stream_processor_errors_total{kind="${kind}"}`)).toBe(0);
    }
  });

  it('keeps registries apart and includes the default process metrics', async () => {
    const a = createProcessorMetrics();
    const b = createProcessorMetrics();
    a.recordsIn.aggregated.inc(5);
    expect(await sample(b.registry.metrics(), 'stream_processor_records_in_total{outcome="aggregated"}')).toBe(0);
    expect(await a.registry.metrics()).toMatch(/^process_cpu_user_seconds_total /m);
    expect(await a.registry.metrics()).toMatch(/^nodejs_heap_size_used_bytes /m);
  });

  it('computes the watermark lag at scrape time', async () => {
    let clock = 1_000_000;
    const metrics = createProcessorMetrics({ now: () => clock });
    const lag = () => sample(metrics.registry.metrics(), 'stream_processor_watermark_lag_seconds');
    expect(await lag()).toBeNaN();
    metrics.observeWatermark(990_000);
    expect(await lag()).toBe(10);
    clock += 5_000; // the watermark stalls: the lag grows
    expect(await lag()).toBe(15);
    metrics.observeWatermark(Number.POSITIVE_INFINITY);
    expect(await lag()).toBe(0);
  });

  it('records latency, checkpoints and per-partition consumer lag', async () => {
    const metrics = createProcessorMetrics();
    metrics.processingLatency.observe(0.0003);
    metrics.checkpointDuration.observe(0.2);
    metrics.consumerLag.set({ topic: 'feedback-events', partition: 2 }, 42);
    metrics.consumerLag.set({ topic: 'feedback-events', partition: 3 }, 7);
    metrics.consumerLag.remove({ topic: 'feedback-events', partition: 3 });
    const text = metrics.registry.metrics();
    expect(await sample(text, 'stream_processor_processing_latency_seconds_bucket{le="0.0001"}')).toBe(0);
    expect(await sample(text, 'stream_processor_processing_latency_seconds_bucket{le="0.0005"}')).toBe(1);
    expect(await sample(text, 'stream_processor_processing_latency_seconds_bucket{le="10"}')).toBe(1);
    expect(await sample(text, 'stream_processor_checkpoint_duration_seconds_count')).toBe(1);
    expect(await sample(text, 'stream_processor_consumer_lag{topic="feedback-events",partition="2"}')).toBe(42);
    expect(await sample(text, 'stream_processor_consumer_lag{topic="feedback-events",partition="3"}')).toBeUndefined();
  });

  it('keeps per-task series until the task is removed', async () => {
    const metrics = createProcessorMetrics();
    const { tasks } = metrics;
    tasks.restored('in:0', 'empty', 0.01);
    tasks.restored('in:1', 'local', 0.02);
    tasks.observe('in:0', Number.NEGATIVE_INFINITY, 0);
    tasks.observe('in:1', 1_700_000_000_500, 12);
    let text = metrics.registry.metrics();
    expect(await text).toContain('stream_processor_task_watermark_seconds{task="in:0"} -Inf');
    expect(await sample(text, 'stream_processor_task_watermark_seconds{task="in:1"}')).toBe(1_700_000_000.5);
    expect(await sample(text, 'stream_processor_task_windows_open{task="in:1"}')).toBe(12);
    expect(await sample(text, 'stream_processor_task_restore_seconds{task="in:0",source="empty"}')).toBe(0.01);
    expect(await sample(text, 'stream_processor_task_restore_seconds{task="in:1",source="local"}')).toBe(0.02);

    // Revoked, then back from the state topic: one restore series per task, the latest.
    tasks.remove('in:1');
    text = metrics.registry.metrics();
    expect(await text).not.toContain('task="in:1"');
    tasks.restored('in:0', 'state_topic', 0.3);
    text = metrics.registry.metrics();
    expect(await sample(text, 'stream_processor_task_restore_seconds{task="in:0",source="empty"}')).toBeUndefined();
    expect(await sample(text, 'stream_processor_task_restore_seconds{task="in:0",source="state_topic"}')).toBe(0.3);
  });
});
