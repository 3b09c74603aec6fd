/**
 * Recovery benchmark (issue 4): prints one JSON object. With 100,000 open windows
 * (every aggregation incl. percentiles, 4 metrics, 50 events each):
 *   checkpoint_ms     one checkpoint: encode the window state at the barrier + the atomic LevelDB batch
 *   checkpoint_bytes  its size
 *   recovery_ms       a fresh `stream-processor` process (compiled, as deployed), from its start to "ready"
 *                     (state restored, about to read); recovery_ms_under_tsx: the same through `npm start`'s tsx
 *   throughput_drop   engine throughput lost with a checkpoint every second versus none (file job, level state)
 * With a Kafka broker at KAFKA_BROKERS (default 127.0.0.1:9092; the figures are null without one):
 *   state_topic_write_ms  encode every window as state topic records (a task's first checkpoint,
 *                         the worst case of an incremental one) and produce them, acknowledged
 *   task_restore_ms       restore that task from the state topic: read its partition, replay, decode
 * Run: npm run bench:recovery
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { aggregate, type AggregateState } from '../operators/aggregate.js';
import { tumblingWindow } from '../operators/tumblingWindow.js';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { encodePipelineState } from '../src/checkpoint/pipeline-codec.js';
import { ensureTopics, kafkaSink } from '../src/kafka/index.js';
import { changelogMessages, STATE_TOPIC_CONFIGS } from '../src/tasks/changelog.js';
import { readChangelog } from '../src/tasks/changelog-reader.js';
import { parseConfig, type ProcessorConfig } from '../src/config/index.js';
import type { FeedbackEvent } from '../src/events/index.js';
import { feedbackMetrics, type FeedbackAccumulator, type FeedbackResult } from '../src/pipeline/feedback-pipeline.js';
import { withKeyFields } from '../src/pipeline/keyed-aggregator.js';
import { runLineJob } from '../src/runner/file-job.js';
import { ChannelOutputs } from '../src/runner/outputs.js';
import { openStateStore } from '../src/state/index.js';
import type { StreamElement } from '../operators/stream/elements.js';
import { benchEvents } from './events.js';
import { buildCli } from './cli.js';
import { median } from './stats.js';

const WINDOWS = 100_000;
const VALUES = 50;
const dir = mkdtempSync(join(tmpdir(), 'bench-recovery-'));

const config = (overrides: Record<string, unknown>): ProcessorConfig =>
  parseConfig(
    {
      processor: {
        source: { type: 'file', path: join(dir, 'in.ndjson') },
        sink: { type: 'file', path: join(dir, 'out.ndjson') },
        dead_letter: { type: 'file', path: join(dir, 'dlq.ndjson') },
        state: { backend: 'level', path: join(dir, 'state') },
        windows: { default_type: 'tumbling', tumbling: { size_secs: 3600, allowed_lateness_secs: 0 } },
        metrics: { port: 0 },
        log: { level: 'info' },
        ...overrides,
      },
    },
    {},
  );


/** 100,000 windows (one per key) of 50 events each, held by a live `aggregate`. */
function openWindows(cfg: ProcessorConfig): AggregateState<FeedbackAccumulator, FeedbackResult> {
  const input = new Subject<StreamElement<FeedbackEvent>>();
  let state: AggregateState<FeedbackAccumulator, FeedbackResult> | undefined;
  input
    .pipe(
      tumblingWindow({ sizeMs: 3_600_000 }),
      aggregate({ aggregator: withKeyFields(feedbackMetrics(cfg), ['model']), onState: (s) => (state = s) }),
    )
    .subscribe();
  const events = benchEvents({ count: VALUES, keys: 1, disorderMs: 0, startMs: Date.UTC(2026, 10, 26, 10) });
  for (let k = 0; k < WINDOWS; k++) {
    const model = `model-${k}`;
    for (const e of events) input.next({ ...e, key: model, value: { ...e.value, model } });
  }
  return state!;
}

async function checkpointFigures(cfg: ProcessorConfig): Promise<{ checkpoint_ms: number; checkpoint_bytes: number }> {
  const state = openWindows(cfg);
  const store = await openStateStore(cfg.state);
  const metrics = feedbackMetrics(cfg);
  // The checkpoint records the (empty) output files it goes with: a resume checks them.
  const outputs = await ChannelOutputs.open(cfg);
  const sinks = outputs.positions();
  const identities = await outputs.identify(sinks);
  await outputs.close();
  const times: number[] = [];
  let bytes = 0;
  // The first checkpoint warms up the code; the figure is the median of the next three.
  for (let id = 1; id <= 4; id++) {
    const t0 = performance.now();
    const encoded = encodePipelineState(
      { watermarks: { watermark: -Infinity, partitions: [{ partition: 0, maxEventTime: Date.UTC(2026, 10, 26, 10) }] }, specs: [{ spec: 'tumbling', state: state.snapshot() }] },
      metrics,
    );
    await store.writeCheckpoint({ id, createdAt: Date.now(), positions: { 0: '0' }, sinks, outputs: identities, ...encoded });
    times.push(performance.now() - t0);
    bytes = Object.values(encoded.operators).reduce((n, b) => n + b.byteLength, 0);
  }
  await store.close();
  return { checkpoint_ms: Math.round(median(times.slice(1)) * 10) / 10, checkpoint_bytes: bytes };
}

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

function brokerReachable(): Promise<boolean> {
  const [host, port] = brokers.split(',')[0]!.split(':') as [string, string];
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    socket.setTimeout(1_000, () => (socket.destroy(), resolve(false)));
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** One task of 100,000 windows written to a fresh state topic, then restored from it (median of three restores). */
async function stateTopicFigures(cfg: ProcessorConfig): Promise<{ state_topic_write_ms: number | null; task_restore_ms: number | null }> {
  if (!(await brokerReachable())) return { state_topic_write_ms: null, task_restore_ms: null };
  const state = openWindows(cfg);
  const metrics = feedbackMetrics(cfg);
  const topic = `bench-state-${randomUUID().slice(0, 8)}`;
  await ensureTopics({ brokers }, [{ topic, numPartitions: 1, configs: STATE_TOPIC_CONFIGS }]);
  const sink = kafkaSink({ brokers, topic });
  const t0 = performance.now();
  const snapshot = state.snapshot();
  const spec = { spec: 'tumbling', windowType: snapshot.windowType };
  const commit = { checkpointId: 1, position: '0', maxEventTime: 0, watermark: -Infinity, specs: [{ ...spec, watermark: -Infinity }], nextId: snapshot.nextId ?? 0, sources: {} };
  for (const message of changelogMessages(0, 0, [{ ...spec, changes: { changed: snapshot.windows, removed: [] } }], commit, metrics)) void sink.write(message);
  await sink.flush();
  const writeMs = performance.now() - t0;
  await sink.close();
  const restores: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const restored = await readChangelog({ brokers, topic, groupId: 'bench-recovery' }, [0], new Set([0]), metrics);
    restores.push(performance.now() - started);
    if (restored.get(0)?.windows !== WINDOWS) throw new Error(`restored ${restored.get(0)?.windows} windows from the state topic`);
  }
  return { state_topic_write_ms: Math.round(writeMs), task_restore_ms: Math.round(median(restores)) };
}


/** Spawns the CLI on the stored checkpoint and times its start up to the "ready" log line. */
function recoveryMs(command: string[], configPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...command, '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((l) => l.includes('"ready: state restored'));
      if (line !== undefined) {
        const windows = (JSON.parse(line) as { windows: number }).windows;
        if (windows !== WINDOWS) reject(new Error(`restored ${windows} windows`));
        resolve(performance.now() - started);
        child.kill('SIGKILL');
      }
    });
    child.once('exit', () => reject(new Error(`exited before ready:\n${text}`)));
  });
}

/** Events of the throughput runs, in the 100,000 keys; written in chunks so no run holds them all. */
const THROUGHPUT_EVENTS = 1_500_000;
const CHUNK = 100_000;

function writeThroughputInput(path: string): void {
  writeFileSync(path, '');
  for (let from = 0; from < THROUGHPUT_EVENTS; from += CHUNK) {
    // One event per 1 ms of event time from 10:00: the run spans 25 minutes,
    // so every 1 h window stays open and each checkpoint holds all of them.
    const events = benchEvents({ count: CHUNK, keys: WINDOWS, disorderMs: 5_000, spacingMs: 1, startMs: Date.UTC(2026, 10, 26, 10) + from, seed: 42 + from });
    appendFileSync(path, events.map((e) => JSON.stringify(e.value)).join('\n') + '\n');
  }
}

/**
 * The file job over events spread across 100,000 keys with 1 h windows:
 * level state with a checkpoint every second versus memory state (no
 * checkpoints). Best of two runs each, against noise from other processes.
 */
async function throughputDrop(): Promise<number> {
  writeThroughputInput(join(dir, 'in.ndjson'));
  const rate = async (overrides: Record<string, unknown>): Promise<number> => {
    rmSync(join(dir, 'state'), { recursive: true, force: true });
    rmSync(join(dir, 'out.ndjson'), { force: true });
    const summary = await runLineJob({ config: config(overrides) });
    return summary.recordsIn / (summary.durationMs / 1000);
  };
  const without: number[] = [];
  const withCheckpoints: number[] = [];
  for (let i = 0; i < 2; i++) {
    without.push(await rate({ state: { backend: 'memory' } }));
    withCheckpoints.push(await rate({ checkpoint_interval_secs: 1 }));
  }
  return 1 - Math.max(...withCheckpoints) / Math.max(...without);
}

try {
  const cfg = config({});
  const figures = await checkpointFigures(cfg);
  const stateTopic = await stateTopicFigures(cfg);
  writeFileSync(join(dir, 'in.ndjson'), '');
  const configPath = join(dir, 'recovery.yaml');
  writeFileSync(configPath, JSON.stringify({ processor: { ...JSON.parse(JSON.stringify(cfg)), kafka: undefined } }));
  const compiled = buildCli();
  const recoveries: number[] = [];
  const recoveriesTsx: number[] = [];
  for (let i = 0; i < 3; i++) {
    recoveries.push(await recoveryMs(compiled, configPath));
    // The development path (`npm start`), which compiles TypeScript at start-up.
    recoveriesTsx.push(await recoveryMs(['--import', 'tsx', 'src/main.ts'], configPath));
  }
  const drop = await throughputDrop();
  console.log(
    JSON.stringify({
      windows: WINDOWS,
      values_per_window: VALUES,
      ...figures,
      ...stateTopic,
      recovery_ms: Math.round(median(recoveries)),
      recovery_ms_under_tsx: Math.round(median(recoveriesTsx)),
      throughput_drop: Math.round(drop * 1000) / 1000,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
