/**
 * The state topic's record format and replay (src/tasks/changelog.ts): what a restore makes
 * of a task's records, including a checkpoint interrupted before its commit record.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import type { FeedbackEvent } from '../../src/events/index.js';
import { feedbackMetrics, type FeedbackAccumulator } from '../../src/pipeline/feedback-pipeline.js';
import { withKeyFields } from '../../src/pipeline/keyed-aggregator.js';
import { ChangelogReplay, changelogMessages, type SpecChanges, type TaskCommit } from '../../src/tasks/changelog.js';
import type { WindowChanges, WindowSnapshot } from '../../operators/internal/windowState.js';

/** One tumbling spec's changes (what a task with `windows.default_type: tumbling` checkpoints). */
const tumbling = (changes: WindowChanges<FeedbackAccumulator>): SpecChanges[] => [{ spec: 'tumbling', windowType: 'tumbling', changes }];

const config = parseConfig({ processor: {} }, {});
const metrics = feedbackMetrics(config);
const keyed = withKeyFields(metrics, ['model']);

/** A window of `values` latency readings with identity `id`. */
function window(id: number, start: number, values: number[]): WindowSnapshot<FeedbackAccumulator> {
  let acc = keyed.create();
  for (const v of values) acc = keyed.add(acc, { model: 'm', metrics: { latency_ms: v } } as FeedbackEvent);
  return { id, key: 'm', start, end: start + 10, accumulator: acc, count: values.length, revision: -1 };
}

const commit = (checkpointId: number, position: string): TaskCommit => ({
  checkpointId, position, maxEventTime: 100 * checkpointId, watermark: 100 * checkpointId - 5,
  specs: [{ spec: 'tumbling', windowType: 'tumbling', watermark: 100 * checkpointId - 5 }], nextId: 10, sources: {},
});

/** Feeds messages into a replay as a consumer of the state partition would see them. */
function replay(...batches: ReturnType<typeof changelogMessages>[]): ReturnType<ChangelogReplay['restore']> {
  const r = new ChangelogReplay();
  for (const batch of batches) for (const m of batch) r.add(m.key as string, m.value === null ? null : (m.value as Buffer));
  return r.restore(metrics);
}

const summary = (w: WindowSnapshot<FeedbackAccumulator>) => [w.id, w.start, w.count, keyed.result(w.accumulator).metrics['latency_ms']?.sum];

describe('state topic records', () => {
  it('restore the state as of the last commit record: changes applied in order, tombstones delete', () => {
    const first = changelogMessages(7, 3, tumbling({ changed: [window(1, 0, [1, 2]), window(2, 10, [5])], removed: [] }), commit(1, '40'), metrics);
    const second = changelogMessages(7, 3, tumbling({ changed: [window(2, 10, [5, 6])], removed: [1] }), commit(2, '55'), metrics);
    expect(first.every((m) => m.partition === 3)).toBe(true);
    const restored = replay(first, second).get(7)!;
    expect(restored.commit).toMatchObject({ checkpointId: 2, position: '55', maxEventTime: 200, watermark: 195, nextId: 10 });
    expect(restored.snapshot.specs[0]!.state.windows.map(summary)).toEqual([[2, 10, 2, 11]]);
    expect(restored.snapshot.watermarks.partitions).toEqual([{ partition: 7, maxEventTime: 200 }]);
  });

  it('ignore a checkpoint cut off before its commit record (a crash mid-write)', () => {
    const first = changelogMessages(7, 3, tumbling({ changed: [window(1, 0, [1, 2])], removed: [] }), commit(1, '40'), metrics);
    const cut = changelogMessages(7, 3, tumbling({ changed: [window(1, 0, [1, 2, 3]), window(2, 10, [9])], removed: [] }), commit(2, '60'), metrics).slice(0, -1);
    const restored = replay(first, cut).get(7)!;
    expect(restored.commit.position).toBe('40');
    expect(restored.snapshot.specs[0]!.state.windows.map(summary)).toEqual([[1, 0, 2, 3]]);
  });

  it('keep tasks sharing a state partition apart, and restore nothing for a task without a commit record', () => {
    const a = changelogMessages(1, 0, tumbling({ changed: [window(1, 0, [1])], removed: [] }), commit(1, '5'), metrics);
    const b = changelogMessages(1_000_001, 0, tumbling({ changed: [window(1, 0, [4, 4])], removed: [] }), commit(3, '9'), metrics);
    const orphan = changelogMessages(2, 0, tumbling({ changed: [window(1, 0, [8])], removed: [] }), commit(1, '1'), metrics).slice(0, -1);
    const restored = replay(a, b, orphan);
    expect([...restored.keys()].sort()).toEqual([1, 1_000_001]);
    expect(restored.get(1_000_001)!.snapshot.specs[0]!.state.windows.map(summary)).toEqual([[1, 0, 2, 8]]);
  });
});
