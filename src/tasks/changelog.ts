/**
 * The state topic's records (DESIGN.md "Scale-out"; Kafka Streams' changelog topics): each
 * checkpoint appends, per task, the windows changed since the previous one, a tombstone per
 * window purged or merged away, and last a commit record with the task's watermark and
 * source position. The topic is compacted (one live record per key), co-partitioned with
 * the input: a task's records go to the state partition of its input partition.
 *
 * Keys: `<task>/w/<window id>` for a window, `<task>/c` for the commit record (`<task>` is
 * the task's partition id, so several input topics can share one state topic).
 *
 * Atomicity without transactions: a restore reads the partition in order and applies the
 * records written before a task's commit record only when that commit record comes; the
 * tail of a checkpoint interrupted by a crash has none and is ignored. Compaction could
 * only hide an older version of a key behind such a tail once the tail is older than the
 * topic's `min.compaction.lag.ms` (a day), and the next owner rewrites every window the
 * tail touched at its first checkpoint (it re-reads the same records), long before that.
 */
import type { WindowChanges, WindowSnapshot } from '../../operators/internal/windowState.js';
import { ByteReader, ByteWriter } from '../aggregation/binary.js';
import type { MetricsAggregator } from '../aggregation/index.js';
import { readSources, readWindow, writeSources, writeWindow } from '../checkpoint/pipeline-codec.js';
import type { FeedbackEvent } from '../events/index.js';
import type { SinkMessage } from '../kafka/sink.js';
import type { FeedbackAccumulator, PipelineSnapshot } from '../pipeline/feedback-pipeline.js';
import type { WindowType } from '../stream/elements.js';

/** 2: commit records carry the source high-water marks (version 1 is read too, as none). */
const VERSION = 2;
const OLDEST_READABLE_VERSION = 1;
const COMMIT = 'c';

/** Topic configuration of a state topic: compacted, with the lag that keeps interrupted tails harmless. */
export const STATE_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'min.compaction.lag.ms': String(24 * 3_600_000),
};

/** What a task's commit record says. */
export interface TaskCommit {
  readonly checkpointId: number;
  /** Where the task's input partition resumes. */
  readonly position: string | undefined;
  readonly maxEventTime: number;
  readonly watermark: number;
  /** The window operator's own watermark and window type. */
  readonly windowWatermark: number;
  readonly windowType: WindowType | undefined;
  /** The identity the task's next window gets. */
  readonly nextId: number;
  /** Repartitioned input: per source partition, the highest offset the task took (see `SourceHighWater`). */
  readonly sources: Readonly<Record<string, number>>;
}

/** One message on its way to the state topic. */
export interface ChangelogMessage extends SinkMessage {
  readonly partition: number;
}

/**
 * The messages of one task's checkpoint: its changed windows, tombstones for removed ones,
 * then the commit record. `statePartition` is the task's partition of the state topic.
 */
export function changelogMessages(
  task: number,
  statePartition: number,
  changes: WindowChanges<FeedbackAccumulator>,
  commit: TaskCommit,
  metrics: MetricsAggregator<FeedbackEvent>,
): ChangelogMessage[] {
  const messages: ChangelogMessage[] = [];
  for (const window of changes.changed) {
    const w = new ByteWriter(256).u8(VERSION);
    metrics.writeFormat(w);
    writeWindow(w, window, metrics);
    messages.push({ partition: statePartition, key: `${task}/w/${window.id}`, value: Buffer.from(w.finish()) });
  }
  for (const id of changes.removed) messages.push({ partition: statePartition, key: `${task}/w/${id}`, value: null });
  const c = new ByteWriter(64).u8(VERSION).f64(commit.checkpointId).str(commit.position ?? '');
  c.f64(commit.maxEventTime).f64(commit.watermark).f64(commit.windowWatermark).str(commit.windowType ?? '').f64(commit.nextId);
  writeSources(c, commit.sources);
  messages.push({ partition: statePartition, key: `${task}/${COMMIT}`, value: Buffer.from(c.finish()) });
  return messages;
}

/** A task's state as the state topic holds it after its last complete checkpoint. */
export interface RestoredTask {
  readonly commit: TaskCommit;
  readonly snapshot: PipelineSnapshot;
  /** Windows restored (for logs and metrics). */
  readonly windows: number;
}

/**
 * Replays one state partition's records in offset order; `restore` then decodes each task's
 * state as of its last commit record (records after it belong to an interrupted checkpoint).
 */
export class ChangelogReplay {
  private readonly tasks = new Map<number, { applied: Map<string, Uint8Array | null>; pending: Map<string, Uint8Array | null>; commit: Uint8Array | undefined }>();

  add(key: string, value: Uint8Array | null): void {
    const parsed = changeKey(key);
    if (parsed === undefined) return;
    const { task } = parsed;
    let state = this.tasks.get(task);
    if (state === undefined) this.tasks.set(task, (state = { applied: new Map(), pending: new Map(), commit: undefined }));
    if (parsed.window === undefined) {
      if (value === null) return;
      for (const [k, v] of state.pending) state.applied.set(k, v);
      state.pending.clear();
      state.commit = value;
    } else {
      state.pending.set(key, value);
    }
  }

  /** The tasks with a complete checkpoint, decoded. */
  restore(metrics: MetricsAggregator<FeedbackEvent>): Map<number, RestoredTask> {
    const out = new Map<number, RestoredTask>();
    for (const [task, state] of this.tasks) {
      if (state.commit === undefined) continue;
      const commit = decodeCommit(state.commit);
      const windows: WindowSnapshot<FeedbackAccumulator>[] = [];
      for (const bytes of state.applied.values()) {
        if (bytes === null) continue;
        const r = new ByteReader(bytes);
        checkVersion(r);
        metrics.readFormat(r);
        windows.push({ ...readWindow(r, metrics), partition: task });
        r.end();
      }
      // Identities follow creation order: restored ties fire in the order they were opened.
      windows.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
      out.set(task, {
        commit,
        windows: windows.length,
        snapshot: {
          watermarks: { watermark: commit.watermark, partitions: commit.maxEventTime === -Infinity ? [] : [{ partition: task, maxEventTime: commit.maxEventTime }] },
          windows: { watermark: commit.windowWatermark, windowType: commit.windowType, windows, nextId: commit.nextId },
        },
      });
    }
    return out;
  }
}

/** The task and window (none: the commit record) a state topic key names; undefined for another key. */
export function changeKey(key: string): { task: number; window?: number } | undefined {
  const slash = key.indexOf('/');
  const task = Number(key.slice(0, slash));
  if (slash < 0 || !Number.isInteger(task)) return undefined;
  const rest = key.slice(slash + 1);
  if (rest === COMMIT) return { task };
  const window = Number(rest.slice(2));
  return rest.startsWith('w/') && Number.isInteger(window) ? { task, window } : undefined;
}

export function decodeCommit(bytes: Uint8Array): TaskCommit {
  const r = new ByteReader(bytes);
  const version = checkVersion(r);
  const checkpointId = r.f64();
  const position = r.str();
  const maxEventTime = r.f64();
  const watermark = r.f64();
  const windowWatermark = r.f64();
  const windowType = r.str();
  const nextId = r.f64();
  const sources = version >= 2 ? readSources(r) : {};
  r.end();
  return {
    checkpointId,
    position: position === '' ? undefined : position,
    maxEventTime,
    watermark,
    windowWatermark,
    windowType: windowType === '' ? undefined : (windowType as WindowType),
    nextId,
    sources,
  };
}

function checkVersion(r: ByteReader): number {
  const version = r.u8();
  if (version < OLDEST_READABLE_VERSION || version > VERSION) throw new RangeError(`unknown state topic record version ${version}`);
  return version;
}
