import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { feedbackMetrics, type FeedbackAccumulator } from '../../src/pipeline/feedback-pipeline.js';
import { SourceHighWater } from '../../src/repartition/high-water.js';
import { sourceHeaders, sourceOffset } from '../../src/repartition/source-position.js';
import { ChangelogReplay, changelogMessages, type SpecChanges } from '../../src/tasks/changelog.js';
import type { WindowChanges } from '../../operators/internal/windowState.js';

/** One tumbling spec's changes (what a task with `windows.default_type: tumbling` checkpoints). */
const tumbling = (changes: WindowChanges<FeedbackAccumulator>): SpecChanges[] => [{ spec: 'tumbling', windowType: 'tumbling', changes }];

const metrics = feedbackMetrics(parseConfig({ processor: {} }, {}));

describe('source high-water marks of repartitioned input', () => {
  it('admit each source offset once, per source partition, and carry on from a snapshot', () => {
    const marks = new SourceHighWater();
    const at = (source: string, offset: number) => ({ source, offset });
    expect([marks.admit(at('in:0', 0)), marks.admit(at('in:0', 1)), marks.admit(at('in:1', 0)), marks.admit(at('in:0', 1)), marks.admit(at('in:0', 0))]).toEqual([true, true, true, false, false]);
    const restored = new SourceHighWater(marks.snapshot());
    expect([restored.admit(at('in:1', 0)), restored.admit(at('in:1', 1)), restored.admit(at('in:0', 2))]).toEqual([false, true, true]);
  });

  it('round-trip through message headers', () => {
    const headers = Object.fromEntries(Object.entries(sourceHeaders('in', 3, '42')).map(([k, v]) => [k, Buffer.from(v)]));
    expect(sourceOffset(headers)).toEqual({ source: 'in:3', offset: 42 });
    expect(sourceOffset({})).toBeUndefined();
    expect(sourceOffset(undefined)).toBeUndefined();
  });

  it('are part of the task commit record (state topic and local copy)', () => {
    const sources = { 'in:0': 17, 'in:3': 9_007_199_254 };
    const commit = { checkpointId: 4, position: '12', maxEventTime: 5, watermark: 1, specs: [{ spec: 'tumbling', windowType: undefined, watermark: 1 }], nextId: 0, sources };
    const replay = new ChangelogReplay();
    for (const m of changelogMessages(7, 0, tumbling({ changed: [], removed: [] }), commit, metrics)) replay.add(String(m.key), m.value === null ? null : new Uint8Array(m.value as Buffer));
    expect(replay.restore(metrics).get(7)?.commit.sources).toEqual(sources);
  });
});
