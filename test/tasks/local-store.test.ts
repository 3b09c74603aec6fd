/**
 * The tasks' local copy (src/tasks/local-store.ts): checkpoints apply changes atomically,
 * a restore reads the task's state as of its last commit, a replace drops what was there.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import type { FeedbackEvent } from '../../src/events/index.js';
import { feedbackMetrics, type FeedbackAccumulator } from '../../src/pipeline/feedback-pipeline.js';
import { withKeyFields } from '../../src/pipeline/keyed-aggregator.js';
import { MemoryKv } from '../../src/state/memory-kv.js';
import { changelogMessages, type SpecChanges, type TaskCommit } from '../../src/tasks/changelog.js';
import { LocalTaskStore, localChanges } from '../../src/tasks/local-store.js';
import type { WindowChanges, WindowSnapshot } from '../../operators/internal/windowState.js';

/** One tumbling spec's changes (what a task with `windows.default_type: tumbling` checkpoints). */
const tumbling = (changes: WindowChanges<FeedbackAccumulator>): SpecChanges[] => [{ spec: 'tumbling', windowType: 'tumbling', changes }];

const metrics = feedbackMetrics(parseConfig({ processor: {} }, {}));
const keyed = withKeyFields(metrics, ['model']);

function window(id: number, values: number[]): WindowSnapshot<FeedbackAccumulator> {
  let acc = keyed.create();
  for (const v of values) acc = keyed.add(acc, { model: 'm', metrics: { x: v } } as FeedbackEvent);
  return { id, key: 'm', start: id * 10, end: id * 10 + 10, accumulator: acc, count: values.length, revision: -1 };
}

const commit = (position: string): TaskCommit => ({
  checkpointId: 1, position, maxEventTime: 50, watermark: 45, specs: [{ spec: 'tumbling', windowType: 'tumbling', watermark: 45 }], nextId: 9, sources: {},
});
const counts = (restored: Awaited<ReturnType<LocalTaskStore['load']>>) => restored?.snapshot.specs[0]!.state.windows.map((w) => [w.id, w.count]);

describe('the tasks’ local copy', () => {
  it('applies each checkpoint’s changes and restores the state as of the last one', async () => {
    const store = new LocalTaskStore(new MemoryKv());
    expect(await store.load(3, metrics)).toBeUndefined();
    await store.apply(localChanges(changelogMessages(3, 3, tumbling({ changed: [window(1, [1]), window(2, [2, 2])], removed: [] }), commit('10'), metrics)));
    await store.apply(localChanges(changelogMessages(3, 3, tumbling({ changed: [window(2, [2, 2, 2])], removed: [1] }), commit('20'), metrics)));
    expect((await store.commit(3))?.position).toBe('20');
    const restored = await store.load(3, metrics);
    expect(counts(restored)).toEqual([[2, 3]]);
    expect(restored?.snapshot.specs[0]!.state.nextId).toBe(9);
  });

  it('merged changes of two checkpoints give what applying both gives', async () => {
    const first = localChanges(changelogMessages(4, 0, tumbling({ changed: [window(1, [1]), window(5, [5])], removed: [] }), commit('1'), metrics));
    const second = localChanges(changelogMessages(4, 0, tumbling({ changed: [window(5, [5, 6])], removed: [1] }), commit('2'), metrics));
    const merged: typeof first = { '4': { ...first['4'], ...second['4'] } };
    const a = new LocalTaskStore(new MemoryKv());
    await a.apply(first);
    await a.apply(second);
    const b = new LocalTaskStore(new MemoryKv());
    await b.apply(merged);
    expect(counts(await b.load(4, metrics))).toEqual(counts(await a.load(4, metrics)));
  });

  it('replace drops the windows a task restored from elsewhere does not have', async () => {
    const store = new LocalTaskStore(new MemoryKv());
    await store.apply(localChanges(changelogMessages(3, 3, tumbling({ changed: [window(1, [1]), window(7, [7])], removed: [] }), commit('10'), metrics)));
    await store.replace(3, changelogMessages(3, 3, tumbling({ changed: [window(2, [2])], removed: [] }), commit('30'), metrics));
    expect(counts(await store.load(3, metrics))).toEqual([[2, 1]]);
    expect((await store.commit(3))?.position).toBe('30');
  });
});
