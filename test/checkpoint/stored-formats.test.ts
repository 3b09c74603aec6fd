/**
 * State written by older code is restored by this one (stored formats only gain versions):
 * `test/fixtures/stored-formats-main.json` holds, per window type, a pipeline checkpoint
 * (version 4) and a task's state-topic records (version 3) as `main` at a1a506d wrote them
 * after the first 200 events of `storedFormatEvents` (its generator is in commit 2c96c3f).
 * Restored here and run on over the rest of the input, each emits exactly what an
 * uninterrupted run of this code emits after that point, also as one spec of several
 * (`windows.types`), and later checkpoints of this code (version 4 records) written over the
 * old ones restore to the live state.
 */
import { readFileSync } from 'node:fs';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { StreamElement, WindowType } from '../../operators/stream/elements.js';
import { decodePipelineState, type EncodedPipelineState } from '../../src/checkpoint/pipeline-codec.js';
import { parseConfig, type ProcessorConfig } from '../../src/config/index.js';
import type { FeedbackEvent } from '../../src/events/index.js';
import { feedbackMetrics, feedbackPipeline, type FeedbackWindowResult, type PipelineSnapshot } from '../../src/pipeline/feedback-pipeline.js';
import { ChangelogReplay, type ChangelogMessage, type RestoredTask } from '../../src/tasks/changelog.js';
import { StreamTask } from '../../src/tasks/stream-task.js';
import { storedFormatEvents, storedFormatWindows, STORED_FORMAT_CUT, STORED_FORMAT_TASK } from '../fixtures/stored-format-input.js';

type Blobs = Record<string, string>;
interface Fixture {
  cut: number;
  pipeline: Record<WindowType, { operators: Blobs; partitions: Record<string, Blobs> }>;
  stateTopic: Record<WindowType, { key: string; value: string | null }[]>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/stored-formats-main.json', import.meta.url), 'utf8')) as Fixture;
const input = storedFormatEvents();
const TYPES = ['tumbling', 'sliding', 'session'] as const;
const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));
const decodeBlobs = (blobs: Blobs): Record<string, Uint8Array> => Object.fromEntries(Object.entries(blobs).map(([k, v]) => [k, bytes(v)]));

const configOf = (windows: Record<string, unknown>): ProcessorConfig =>
  parseConfig({ processor: { state: { backend: 'memory' }, windows: { ...storedFormatWindows, ...windows } } }, {});

/** A file job's pipeline over `events` (from `initialState`), then the end of input: its results, and how many came before `mark` events. */
function runPipeline(config: ProcessorConfig, events: typeof input, initialState?: PipelineSnapshot, mark = 0): { results: FeedbackWindowResult[]; beforeMark: number } {
  const results: FeedbackWindowResult[] = [];
  const source = new Subject<StreamElement<FeedbackEvent>>();
  source.pipe(feedbackPipeline(config, { idleness: false, initialState })).subscribe((e) => void (e.kind === 'record' && results.push(e.value)));
  let beforeMark = 0;
  events.forEach((e, i) => {
    if (i === mark) beforeMark = results.length;
    source.next({ kind: 'record', ...e });
  });
  source.complete();
  return { results, beforeMark };
}

/** A Kafka task over `events` (restored from `restored`): its results, and how many came before `mark` events. */
function runTask(config: ProcessorConfig, events: typeof input, restored?: RestoredTask, mark = 0): { task: StreamTask; results: FeedbackWindowResult[]; beforeMark: number } {
  const results: FeedbackWindowResult[] = [];
  const task = new StreamTask(STORED_FORMAT_TASK, {
    config,
    writer: { late: () => undefined, recordError: () => undefined, element: (e) => void (e.kind === 'record' && results.push(e.value)) },
    restored: restored?.snapshot,
    restoredLineage: restored?.lineage,
    caughtUp: () => false,
    onError: (error) => {
      throw error;
    },
  });
  let beforeMark = 0;
  events.forEach((e, i) => {
    if (i === mark) beforeMark = results.length;
    task.process({ kind: 'record', ...e, partition: STORED_FORMAT_TASK });
  });
  return { task, results, beforeMark };
}

function replay(messages: readonly ChangelogMessage[], config: ProcessorConfig): RestoredTask {
  const r = new ChangelogReplay();
  for (const m of messages) r.add(String(m.key), m.value === null ? null : (m.value as Uint8Array));
  return r.restore(feedbackMetrics(config)).get(STORED_FORMAT_TASK)!;
}

const ofType = (results: readonly FeedbackWindowResult[], type: WindowType): string => JSON.stringify(results.filter((r) => r.window.type === type));

describe('state written by main (a1a506d) is restored', () => {
  it('the fixture was cut where the input module says', () => expect(fixture.cut).toBe(STORED_FORMAT_CUT));

  it.each(TYPES)('pipeline checkpoint version 4 (%s): alone, and as one spec of several', (type) => {
    const encoded: EncodedPipelineState = {
      operators: decodeBlobs(fixture.pipeline[type].operators),
      partitions: Object.fromEntries(Object.entries(fixture.pipeline[type].partitions).map(([p, blobs]) => [p, decodeBlobs(blobs)])),
    };
    const single = configOf({ default_type: type });
    // A run takes the restored accumulators over: each run decodes its own.
    const decode = (): PipelineSnapshot => decodePipelineState(encoded, feedbackMetrics(single));
    const restored = decode();
    expect(restored.specs.map((s) => s.spec)).toEqual([type]);
    expect(restored.specs[0]!.state.windows.length).toBeGreaterThan(0);
    const uninterrupted = runPipeline(single, input, undefined, STORED_FORMAT_CUT);
    const resumed = runPipeline(single, input.slice(STORED_FORMAT_CUT), restored);
    expect(resumed.results.length).toBeGreaterThan(0);
    expect(JSON.stringify(resumed.results)).toBe(JSON.stringify(uninterrupted.results.slice(uninterrupted.beforeMark)));

    // The stored spec goes on as before beside specs added to the job, which start at the restored watermark.
    const several = runPipeline(configOf({ types: TYPES }), input.slice(STORED_FORMAT_CUT), decode());
    expect(ofType(several.results, type)).toBe(JSON.stringify(resumed.results));
    for (const added of TYPES.filter((t) => t !== type)) {
      const results = several.results.filter((r) => r.window.type === added);
      expect(results.length).toBeGreaterThan(0);
      expect(results.every((r) => r.window.end > restored.watermarks.watermark)).toBe(true);
    }
  });

  it.each(TYPES)('state-topic records version 3 (%s): restored, run on, and checkpointed over with version 4', (type) => {
    const old: ChangelogMessage[] = fixture.stateTopic[type].map((m) => ({ partition: 0, key: m.key, value: m.value === null ? null : Buffer.from(m.value, 'base64') }));
    const config = configOf({ default_type: type });
    const restored = replay(old, config);
    expect(restored.commit.position).toBe(String(STORED_FORMAT_CUT));
    expect(restored.snapshot.specs.map((s) => s.spec)).toEqual([type]);
    const uninterrupted = runTask(config, input, undefined, STORED_FORMAT_CUT);
    const resumed = runTask(config, input.slice(STORED_FORMAT_CUT), restored, 100);
    expect(resumed.results.length).toBeGreaterThan(0);
    expect(JSON.stringify(resumed.results)).toBe(JSON.stringify(uninterrupted.results.slice(uninterrupted.beforeMark)));

    // A checkpoint of this code over the old records: the topic restores to the live state.
    const cut = resumed.task.checkpoint();
    const commit = {
      checkpointId: 1_000,
      position: String(input.length),
      maxEventTime: cut.watermarks.partitions.find((p) => p.partition === STORED_FORMAT_TASK)?.maxEventTime ?? -Infinity,
      watermark: cut.watermarks.watermark,
      specs: cut.specs.map(({ spec, windowType, header }) => ({ spec, windowType, watermark: header.watermark })),
      nextId: Math.max(...cut.specs.map(({ header }) => header.nextId ?? 0)),
      sources: {},
    };
    const metrics = feedbackMetrics(config);
    const topic = [...old, ...resumed.task.changelog.messages(0, cut.specs, commit, metrics)];
    const again = runTask(config, [], replay(topic, config));
    const live = resumed.task.specWindows[0]!.state.snapshot();
    const back = again.task.specWindows[0]!.state.snapshot();
    // In identity order (a snapshot lists windows in firing order, which ties leave open).
    const summary = (windows: typeof live.windows): unknown[] =>
      [...windows].sort((a, b) => (a.id ?? 0) - (b.id ?? 0)).map((w) => [w.id, w.key, w.start, w.end, w.count, w.revision, JSON.stringify(metrics.result(w.accumulator.inner))]);
    expect(summary(back.windows)).toEqual(summary(live.windows));
    expect(back.watermark).toBe(live.watermark);
  });
});
