/**
 * Incremental changelog records (src/tasks/task-changelog.ts, changelog.ts): a task's
 * logged events, opened headers, window records and tombstones, replayed from a topic as
 * compaction leaves it (or from the local copy), give back exactly the live state, and a
 * task started from them goes on emitting exactly what the uninterrupted one emits.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type ProcessorConfig } from '../../src/config/index.js';
import type { FeedbackEvent } from '../../src/events/index.js';
import { feedbackMetrics, type FeedbackWindowResult } from '../../src/pipeline/feedback-pipeline.js';
import type { PipelineWriter } from '../../src/runner/run-pipeline.js';
import { MemoryKv } from '../../src/state/memory-kv.js';
import { ChangelogReplay, changeKey, windowMessage, type ChangelogMessage, type RestoredTask, type TaskCommit } from '../../src/tasks/changelog.js';
import { LocalTaskStore, localChanges } from '../../src/tasks/local-store.js';
import { setField } from '../../operators/stream/fields.js';
import { StreamTask } from '../../src/tasks/stream-task.js';
import { MAX_LOGGED_EVENTS } from '../../src/tasks/task-changelog.js';
import { createRandom } from '../../scripts/generate-sample.js';

const TASK = 5;

function configOf(windows: Record<string, unknown>, metricFields: string[]): ProcessorConfig {
  return parseConfig(
    { processor: { windows, event: { metric_fields: metricFields }, watermark: { max_out_of_orderness_secs: 2, idle_timeout_secs: 60 }, aggregation: { percentiles: [50, 90, 99] } } },
    {},
  );
}

/** A task whose results are collected. */
function task(config: ProcessorConfig, restored?: RestoredTask): { task: StreamTask; results: FeedbackWindowResult[] } {
  const results: FeedbackWindowResult[] = [];
  const writer: PipelineWriter = { late: () => undefined, recordError: () => undefined, element: (e) => void (e.kind === 'record' && results.push(e.value)) };
  const t = new StreamTask(TASK, {
    config,
    writer,
    restored: restored?.snapshot,
    restoredLineage: restored?.lineage,
    caughtUp: () => false,
    onError: (error) => {
      throw error;
    },
  });
  return { task: t, results };
}

/** Seeded events: `keys` models, times moving forward with disorder, metric values with few decimals, some missing. */
function* events(seed: number, count: number, keys: number, spreadMs: number): Generator<{ key: string; timestamp: number; value: FeedbackEvent }> {
  const random = createRandom(seed);
  for (let i = 0; i < count; i++) {
    const model = `m${Math.floor(random() * random() * keys)}`;
    const timestamp = 1_000_000 + Math.floor((i / count) * spreadMs - random() * 1_500);
    const metrics: Record<string, number | null> = { latency_ms: Math.round(random() * 50_000) / 10, cost: Math.round(random() * 1e6) / 1e6 };
    if (random() < 0.3) metrics['tokens'] = Math.floor(random() * 4_000);
    if (random() < 0.1) metrics['rating'] = null;
    if (random() < 0.05) metrics['7'] = random();
    // Metric names are arbitrary strings.
    if (random() < 0.05) for (const name of ['__proto__', 'constructor', '🚀']) setField(metrics, name, Math.round(random() * 1e4) / 10);
    yield { key: model, timestamp, value: { model, metrics } };
  }
}

const commitOf = (t: StreamTask, cut: ReturnType<StreamTask['checkpoint']>, id: number): TaskCommit => ({
  checkpointId: id,
  position: String(id),
  maxEventTime: cut.watermarks.partitions.find((p) => p.partition === TASK)?.maxEventTime ?? -Infinity,
  watermark: cut.watermarks.watermark,
  specs: cut.specs.map(({ spec, windowType, header }) => ({ spec, windowType, watermark: header.watermark })),
  nextId: Math.max(0, ...cut.specs.map(({ header }) => header.nextId ?? 0)),
  sources: {},
});

/** The topic after compaction: the last record per key, tombstones gone, in the order of those last records. */
function compacted(topic: readonly ChangelogMessage[]): ChangelogMessage[] {
  const last = new Map<string, number>();
  topic.forEach((m, i) => last.set(String(m.key), i));
  return topic.filter((m, i) => last.get(String(m.key)) === i && m.value !== null);
}

function replayed(topic: readonly ChangelogMessage[], config: ProcessorConfig): RestoredTask | undefined {
  const replay = new ChangelogReplay();
  for (const m of topic) replay.add(String(m.key), m.value === null ? null : (m.value as Buffer));
  return replay.restore(feedbackMetrics(config)).get(TASK);
}

/** A task's windows of every spec, bit for bit (spec and accumulators encoded), in identity order. */
function encoded(t: StreamTask, config: ProcessorConfig): string[] {
  const metrics = feedbackMetrics(config);
  const windows = t.specWindows.flatMap(({ spec, state }) => state.snapshot().windows.map((window) => ({ spec: spec.name, window })));
  return windows
    .sort((a, b) => (a.window.id ?? 0) - (b.window.id ?? 0))
    .map(({ spec, window }) => Buffer.from(windowMessage(TASK, 0, { spec, window: { ...window, partition: TASK } }, 0, metrics).value as Buffer).toString('base64'));
}

/**
 * Runs `count` events through a task with a checkpoint every `every` events; at each
 * checkpoint a task restored from the compacted topic (and one from the local copy) holds
 * the live windows exactly, and at a few checkpoints it is run on to the end beside the
 * live task: their results are identical.
 */
async function roundTrip(config: ProcessorConfig, count: number, every: number, keys: number, spreadMs: number): Promise<ChangelogMessage[]> {
  const input = [...events(11, count, keys, spreadMs)];
  const live = task(config);
  const topic: ChangelogMessage[] = [];
  const local = new LocalTaskStore(new MemoryKv());
  const metrics = feedbackMetrics(config);
  const forks: { at: number; emitted: number; restored: RestoredTask }[] = [];
  for (let i = 0; i < input.length; i++) {
    const e = input[i]!;
    live.task.process({ kind: 'record', key: e.key, timestamp: e.timestamp, value: e.value, partition: TASK });
    if ((i + 1) % every !== 0) continue;
    const cut = live.task.checkpoint();
    const messages = live.task.changelog.messages(0, cut.specs, commitOf(live.task, cut, i), metrics);
    topic.push(...messages);
    await local.apply(localChanges(messages));
    const restored = replayed(compacted(topic), config)!;
    const fromLocal = (await local.load(TASK, metrics))!;
    const liveWindows = encoded(live.task, config);
    // Windows purged live can come back from an opened header; the restore purges them again.
    for (const from of [restored, fromLocal]) expect(encoded(task(config, from).task, config)).toEqual(liveWindows);
    if (forks.length < 3 && (i + 1) % (every * 4) === 0) forks.push({ at: i + 1, emitted: live.results.length, restored });
  }
  expect(forks.length).toBeGreaterThan(0);
  for (const { at, emitted, restored } of forks) {
    const resumed = task(config, restored);
    for (const e of input.slice(at)) resumed.task.process({ kind: 'record', key: e.key, timestamp: e.timestamp, value: e.value, partition: TASK });
    // What the live task emitted after the fork point, the resumed one emits: percentiles included.
    expect(JSON.stringify(resumed.results)).toBe(JSON.stringify(live.results.slice(emitted)));
  }
  return topic;
}

describe('incremental changelog records', () => {
  it('restore tumbling windows exactly from logged events and opened headers (configured metric fields)', async () => {
    const config = configOf({ default_type: 'tumbling', tumbling: { size_secs: 60, allowed_lateness_secs: 5 } }, ['latency_ms', 'cost', 'tokens']);
    const topic = await roundTrip(config, 6_000, 250, 80, 400_000);
    const kinds = topic.map((m) => changeKey(String(m.key))!.kind);
    expect(kinds.filter((k) => k === 'operations').length).toBeGreaterThan(0);
  });

  it('restore windows exactly without configured metric fields (names in event order, numeric names first, `__proto__`)', async () => {
    const config = configOf({ default_type: 'sliding', sliding: { size_secs: 30, slide_secs: 10, allowed_lateness_secs: 0 } }, []);
    await roundTrip(config, 4_000, 300, 40, 300_000);
  });

  it('restore merged sessions exactly', async () => {
    const config = configOf({ default_type: 'session', session: { gap_secs: 3, allowed_lateness_secs: 2 } }, ['latency_ms', 'cost']);
    const topic = await roundTrip(config, 4_000, 200, 30, 200_000);
    expect(topic.some((m) => changeKey(String(m.key))!.kind === 'window' && m.value === null)).toBe(true);
  });

  it('rewrite a window whole once it logged more than the limit, and tombstone the records no window needs', async () => {
    const config = configOf({ default_type: 'tumbling', tumbling: { size_secs: 3_600, allowed_lateness_secs: 0 } }, ['latency_ms', 'cost']);
    const topic = await roundTrip(config, 5_000, 100, 10, 100_000);
    // 10 keys, one window each: each passes the limit several times.
    const windowRecords = topic.filter((m) => changeKey(String(m.key))!.kind === 'window' && m.value !== null).length;
    expect(windowRecords).toBeGreaterThanOrEqual(10 * Math.floor(5_000 / 10 / (MAX_LOGGED_EVENTS + 100)));
    const deletedRecords = topic.filter((m) => changeKey(String(m.key))!.kind === 'operations' && m.value === null).length;
    expect(deletedRecords).toBeGreaterThan(0);
    // Compaction leaves only records a live window needs.
    const restored = replayed(compacted(topic), config)!;
    const needed = new Set([...restored.lineage.windows.values()].flatMap((w) => w.records));
    expect(restored.lineage.records.length).toBeGreaterThan(0);
    expect(restored.lineage.records.filter((seq) => !needed.has(seq))).toEqual([]);
  });

  it('write the touched windows whole when the log between two checkpoints passes its limit (32 MB), then log again', () => {
    const config = configOf({ default_type: 'tumbling', tumbling: { size_secs: 3_600, allowed_lateness_secs: 0 } }, ['latency_ms', 'cost']);
    const metrics = feedbackMetrics(config);
    const live = task(config);
    const topic: ChangelogMessage[] = [];
    const kinds = (messages: readonly ChangelogMessage[]): string[] => messages.filter((m) => m.value !== null).map((m) => changeKey(String(m.key))!.kind);
    const checkpoint = (i: number): ChangelogMessage[] => {
      const cut = live.task.checkpoint();
      const messages = live.task.changelog.messages(0, cut.specs, commitOf(live.task, cut, i), metrics);
      topic.push(...messages);
      return messages;
    };
    // 6 logged numbers per event (id, count, 2 × name index; 2 values): 700,000 events pass 4 M.
    for (const e of events(5, 700_000, 200, 1_000_000)) live.task.process({ kind: 'record', key: e.key, timestamp: e.timestamp, value: e.value, partition: TASK });
    const spilled = kinds(checkpoint(1));
    expect(spilled.filter((k) => k === 'operations')).toEqual([]);
    expect(spilled.filter((k) => k === 'window').length).toBe(live.task.windows!.openWindows);
    for (const e of events(6, 1_000, 200, 1_000)) live.task.process({ kind: 'record', key: e.key, timestamp: e.timestamp + 1_000_000, value: e.value, partition: TASK });
    expect(kinds(checkpoint(2))).toContain('operations');
    expect(encoded(task(config, replayed(compacted(topic), config)).task, config)).toEqual(encoded(live.task, config));
  });

  it('ignore a checkpoint cut off before its commit record, also once a new owner commits after it', () => {
    const config = configOf({ default_type: 'tumbling', tumbling: { size_secs: 20, allowed_lateness_secs: 0 } }, ['latency_ms']);
    const metrics = feedbackMetrics(config);
    const input = [...events(3, 14_000, 8, 700_000)];
    const feed = (t: StreamTask, e: (typeof input)[number]): void => t.process({ kind: 'record', key: e.key, timestamp: e.timestamp, value: e.value, partition: TASK });
    // The first owner checkpoints every 100 events, then once after 12,000 more (several
    // events records), which is cut off before its commit record.
    const first = task(config);
    const topic: ChangelogMessage[] = [];
    const committedAt = 2_000;
    for (let i = 0; i < input.length; i++) {
      feed(first.task, input[i]!);
      if ((i + 1) % 100 !== 0 || (i + 1 > committedAt && i + 1 < input.length)) continue;
      const cut = first.task.checkpoint();
      const messages = first.task.changelog.messages(0, cut.specs, commitOf(first.task, cut, i), metrics);
      topic.push(...(i + 1 <= committedAt ? messages : messages.slice(0, -1)));
    }
    expect(topic.filter((m) => changeKey(String(m.key))!.kind === 'operations' && m.value !== null).length).toBeGreaterThan(2_000 / 100 + 2);
    const restored = replayed(topic, config)!;
    expect(restored.commit.position).toBe(String(committedAt - 1));
    // The tail rewrote windows whole: the new owner writes them again.
    expect(restored.lineage.rewrite.length).toBeGreaterThan(0);
    // The new owner re-reads from the committed position, checkpointing every 70 events.
    const second = task(config, restored);
    for (let i = committedAt; i < input.length; i++) {
      feed(second.task, input[i]!);
      if ((i + 1 - committedAt) % 700 !== 0) continue;
      const cut = second.task.checkpoint();
      topic.push(...second.task.changelog.messages(0, cut.specs, commitOf(second.task, cut, i), metrics));
      const live = encoded(second.task, config);
      for (const from of [replayed(topic, config)!, replayed(compacted(topic), config)!]) expect(encoded(task(config, from).task, config)).toEqual(live);
    }
    // And it ends where one uninterrupted owner does.
    const alone = task(config);
    input.forEach((e) => feed(alone.task, e));
    expect(encoded(second.task, config)).toEqual(encoded(alone.task, config));
  });
});

describe('several window specs in one task', () => {
  const windows = {
    tumbling: { size_secs: 20, allowed_lateness_secs: 5 },
    sliding: { size_secs: 30, slide_secs: 10, allowed_lateness_secs: 5 },
    session: { gap_secs: 3, allowed_lateness_secs: 2 },
  };

  it('restore every spec exactly (identities unique across specs), and a restored task emits what the live one does', async () => {
    const config = configOf({ ...windows, types: ['tumbling', 'sliding', 'session'] }, ['latency_ms', 'cost']);
    const topic = await roundTrip(config, 4_000, 250, 30, 300_000);
    const restored = replayed(compacted(topic), config)!;
    expect(restored.snapshot.specs.map((s) => s.spec)).toEqual(['tumbling', 'sliding', 'session']);
    const ids = restored.snapshot.specs.flatMap((s) => s.state.windows.map((w) => w.id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a spec removed from the job is not restored and its records are deleted at the next checkpoint; a spec added starts at the restored watermark', () => {
    const before = configOf({ ...windows, types: ['tumbling', 'session'] }, ['latency_ms']);
    const after = configOf({ ...windows, types: ['tumbling', 'sliding'] }, ['latency_ms']);
    const metrics = feedbackMetrics(before);
    const input = [...events(7, 3_000, 10, 200_000)];
    const feed = (t: StreamTask, from: number, to: number): void => {
      for (const e of input.slice(from, to)) t.process({ kind: 'record', key: e.key, timestamp: e.timestamp, value: e.value, partition: TASK });
    };
    const first = task(before);
    const topic: ChangelogMessage[] = [];
    for (let i = 500; i <= 1_500; i += 500) {
      feed(first.task, i - 500, i);
      const cut = first.task.checkpoint();
      topic.push(...first.task.changelog.messages(0, cut.specs, commitOf(first.task, cut, i), metrics));
    }
    const sessionIds = new Set(first.task.specWindows[1]!.state.snapshot().windows.map((w) => w.id));
    expect(sessionIds.size).toBeGreaterThan(0);
    const restored = replayed(compacted(topic), after)!;
    const second = task(after, restored);
    expect(second.task.specWindows.map(({ spec }) => spec.name)).toEqual(['tumbling', 'sliding']);
    const watermark = restored.snapshot.watermarks.watermark;
    expect(second.task.specWindows[1]!.state.watermark).toBe(watermark);
    feed(second.task, 1_500, 2_000);
    const cut = second.task.checkpoint();
    topic.push(...second.task.changelog.messages(0, cut.specs, commitOf(second.task, cut, 2_000), metrics));
    const live = compacted(topic);
    const liveWindowIds = live.flatMap((m) => {
      const key = changeKey(String(m.key))!;
      return key.kind === 'window' ? [key.n] : [];
    });
    expect(liveWindowIds.filter((id) => sessionIds.has(id))).toEqual([]);
    const again = replayed(live, after)!;
    expect(again.snapshot.specs.map((s) => s.spec)).toEqual(['tumbling', 'sliding']);
    expect(encoded(task(after, again).task, after)).toEqual(encoded(second.task, after));
    // The added spec's windows are those its records opened on time after the restore.
    expect(second.results.filter((r) => r.window.type === 'sliding').every((r) => r.window.end > watermark)).toBe(true);
    expect(second.results.some((r) => r.window.type === 'sliding')).toBe(true);
  });
});
