/**
 * The state topic's records (DESIGN.md "Scale-out"; Kafka Streams' changelog topics). Each
 * checkpoint appends, per task, what happened since the previous one, then a commit record
 * with the task's watermark and source position. The topic is compacted (one live record
 * per key), co-partitioned with the input: a task's records go to the state partition of
 * its input partition.
 *
 * Keys (`<task>` is the task's partition id, so several input topics share one topic):
 * - `<task>/w/<window id>`: a window's whole state (its base), written when it fired,
 *   merged, got new bounds, or logged too many additions; a tombstone once it is purged.
 * - `<task>/o/<seq>`: an operations record, numbered per task: either the events windows
 *   accumulated in one interval (window id and metric values, in arrival order; ≤ ~500 KB
 *   each), or the headers of windows opened in it (key, bounds, key fields). A window's
 *   state is its latest base plus the events logged for it from the base's `since` on,
 *   replayed through the same aggregator: the result is bit-identical (accumulators are
 *   deterministic given the values added in order). A record is tombstoned once no live
 *   window needs it (`TaskChangelog` counts), so compaction removes it.
 * - `<task>/c`: the commit record.
 *
 * Atomicity without transactions: a restore reads the partition in order and applies the
 * records written before a task's commit record only when that commit record comes; the
 * tail of a checkpoint interrupted by a crash has none and is ignored. A later commit
 * record takes the records before it, a tail included: a tail's operations records are
 * numbered at or past the restored commit's next number, which every later checkpoint
 * writes or deletes before its commit record (and which a commit record's own next number
 * excludes); operations records are deleted one checkpoint after the last window needing
 * them was rewritten, so a tail deletes none a committed state needs; and the next owner
 * rewrites every window whose record the tail wrote or deleted at its first checkpoint
 * (`ChangelogLineage.rewrite`, and deletes those of windows it does not have), before compaction (`min.compaction.lag.ms`, a day) could
 * act. A restore from the local copy, which never holds a tail, does not know a tail in
 * the state topic: there the window-record case stays open (as before version 3). The order of records is carried by their sequence numbers (a base's
 * `since`), so the local copy, whose keys come back sorted, replays the same way.
 *
 * Version 3 added the operations records, `since` in window records and the next sequence
 * number in commit records; versions 1 and 2 (per-window records only) are read too.
 * Version 4 files windows under their window spec (several specs per task): window records
 * and opened headers name each window's spec, and the commit record holds every spec's
 * type and watermark instead of the one window type and watermark. Window identities are
 * unique across a task's specs, so keys are unchanged. Records of versions 1–3 hold one
 * spec, named after the commit record's window type. Which commit record a restore takes
 * (the last one of the task in the partition, see `ChangelogReplay`) does not depend on
 * the version.
 */
import { ByteReader, ByteWriter, type MetricsAggregator, setField, type WindowChanges, type WindowSnapshot, type WindowType } from '@llm-feedback/stream-operators';
import { readSources, readWindow, writeSources, writeWindow } from '../checkpoint/pipeline-codec.js';
import type { FeedbackEvent } from '../events/index.js';
import type { SinkMessage } from '../kafka/sink.js';
import type { FeedbackAccumulator, PipelineSnapshot, SpecSnapshot } from '../pipeline/feedback-pipeline.js';
import type { KeyFields } from '../pipeline/keyed-aggregator.js';

const VERSION = 4;
const OLDEST_READABLE_VERSION = 1;
const COMMIT = 'c';
/** Operations record kinds. */
const EVENTS = 1;
const OPENED = 2;

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
  /** Every window spec's own watermark and window type. */
  readonly specs: readonly SpecCommit[];
  /** The identity the task's next window gets (identities are shared by the task's specs). */
  readonly nextId: number;
  /** Repartitioned input: per source partition, the highest offset the task took (see `SourceHighWater`). */
  readonly sources: Readonly<Record<string, number>>;
  /** The sequence number of the task's next operations record (absent: 0, as in version-2 records). */
  readonly nextRecord?: number;
}

/** A window spec's part of a commit record. */
export interface SpecCommit {
  readonly spec: string;
  readonly windowType: WindowType | undefined;
  /** The spec's window operator's own watermark. */
  readonly watermark: number;
}

/** A window and the spec it belongs to. */
export interface SpecWindow {
  readonly spec: string;
  readonly window: WindowSnapshot<FeedbackAccumulator>;
}

/** A spec's window changes since the previous checkpoint. */
export interface SpecChanges {
  readonly spec: string;
  readonly windowType: WindowType | undefined;
  readonly changes: WindowChanges<FeedbackAccumulator>;
}

/** One message on its way to the state topic. */
export interface ChangelogMessage extends SinkMessage {
  readonly partition: number;
}

/** What a state topic key names. */
export type ChangeKey = { readonly task: number; readonly kind: 'commit' } | { readonly task: number; readonly kind: 'window' | 'operations'; readonly n: number };

export const windowKey = (task: number, id: number): string => `${task}/w/${id}`;
export const operationsKey = (task: number, seq: number): string => `${task}/o/${seq}`;
const commitKey = (task: number): string => `${task}/${COMMIT}`;

/** A window's whole state, filed under its spec; the events logged from `since` on apply to it. */
export function windowMessage(task: number, statePartition: number, { spec, window }: SpecWindow, since: number, metrics: MetricsAggregator<FeedbackEvent>): ChangelogMessage {
  if (window.id === undefined) throw new Error('a task window has no identity');
  const w = new ByteWriter(256).u8(VERSION).f64(since).str(spec);
  metrics.writeFormat(w);
  writeWindow(w, window, metrics);
  return { partition: statePartition, key: windowKey(task, window.id), value: Buffer.from(w.finish()) };
}

export function commitMessage(task: number, statePartition: number, commit: TaskCommit): ChangelogMessage {
  const c = new ByteWriter(64).u8(VERSION).f64(commit.checkpointId).str(commit.position ?? '');
  c.f64(commit.maxEventTime).f64(commit.watermark).f64(commit.nextId);
  writeSources(c, commit.sources);
  c.f64(commit.nextRecord ?? 0).u32(commit.specs.length);
  for (const spec of commit.specs) c.str(spec.spec).str(spec.windowType ?? '').f64(spec.watermark);
  return { partition: statePartition, key: commitKey(task), value: Buffer.from(c.finish()) };
}

/**
 * An events record: per event, in arrival order, `structure` holds the window id, the
 * number of metric values m and their m name indexes (into `names`); `values` the m values.
 */
export function eventsRecord(seq: number, names: readonly string[], structure: ArrayLike<number>, values: ArrayLike<number>): Uint8Array {
  const w = new ByteWriter(64 + 4 * structure.length + 8 * values.length).u8(VERSION).u8(EVENTS).f64(seq).u32(names.length);
  for (const name of names) w.str(name);
  w.numbers(structure, 0, structure.length).numbers(values, 0, values.length);
  return w.finish();
}

/** A record of opened windows' headers (`openedRecords`). */
export interface OpenedRecord {
  readonly seq: number;
  readonly bytes: Uint8Array;
  /** The windows it opens. */
  readonly ids: readonly number[];
}

/**
 * The headers of windows opened in an interval (spec, key, bounds, key fields; they hold
 * nothing but the events logged from record `since` on), as records numbered from
 * `firstSeq`, each ending after the window that takes it past `maxBytes`.
 */
export function openedRecords(firstSeq: number, since: number, windows: readonly SpecWindow[], maxBytes: number): OpenedRecord[] {
  const out: OpenedRecord[] = [];
  let from = 0;
  while (from < windows.length) {
    let to = from;
    const fields: string[] = [];
    for (let bytes = 0; to < windows.length && bytes < maxBytes; to++) {
      const { spec, window } = windows[to]!;
      fields.push(JSON.stringify(window.accumulator.keyFields ?? null));
      bytes += 32 + 3 * (spec.length + window.key.length + fields[fields.length - 1]!.length);
    }
    const seq = firstSeq + out.length;
    const w = new ByteWriter(maxBytes + 1024).u8(VERSION).u8(OPENED).f64(seq).f64(since).u32(to - from);
    const ids: number[] = [];
    for (let i = from; i < to; i++) {
      const { spec, window } = windows[i]!;
      if (window.id === undefined) throw new Error('a task window has no identity');
      ids.push(window.id);
      w.f64(window.id).str(spec).str(window.key).f64(window.start).f64(window.end).str(fields[i - from]!);
    }
    out.push({ seq, bytes: w.finish(), ids });
    from = to;
  }
  return out;
}

/**
 * The messages of a task's checkpoint that writes every changed window whole (a full
 * snapshot, or a state restored from elsewhere): the windows, tombstones for removed ones,
 * then the commit record. `statePartition` is the task's partition of the state topic.
 */
export function changelogMessages(
  task: number,
  statePartition: number,
  specs: readonly SpecChanges[],
  commit: TaskCommit,
  metrics: MetricsAggregator<FeedbackEvent>,
): ChangelogMessage[] {
  const messages = specs.flatMap(({ spec, changes }) => changes.changed.map((window) => windowMessage(task, statePartition, { spec, window }, commit.nextRecord ?? 0, metrics)));
  for (const { changes } of specs) for (const id of changes.removed) messages.push({ partition: statePartition, key: windowKey(task, id), value: null });
  messages.push(commitMessage(task, statePartition, commit));
  return messages;
}

/**
 * Per live window that needs operations records: which, and how many events they log for
 * it. A restored window without one is held whole by its window record.
 */
export interface WindowLineage {
  /** Sequence numbers of the operations records it needs (its opened header, its events). */
  readonly records: number[];
  /** Events logged since its base. */
  events: number;
  /** Whether a window record (`<task>/w/<id>`) holds a base of it. */
  based: boolean;
}

/** What a task's changelog bookkeeping starts from after a restore (`TaskChangelog`). */
export interface ChangelogLineage {
  readonly nextRecord: number;
  readonly windows: ReadonlyMap<number, WindowLineage>;
  /** Operations records in the topic, live or not (those no window needs get tombstoned). */
  readonly records: readonly number[];
  /** Windows to write whole at the next checkpoint: an interrupted tail wrote or deleted their window records. */
  readonly rewrite: readonly number[];
  /** Windows the state lacks whose window records an interrupted tail wrote: to delete at the next checkpoint. */
  readonly stale: readonly number[];
}

/** A task's state as the state topic holds it after its last complete checkpoint. */
export interface RestoredTask {
  readonly commit: TaskCommit;
  readonly snapshot: PipelineSnapshot;
  /** Windows restored (for logs and metrics). */
  readonly windows: number;
  readonly lineage: ChangelogLineage;
  /** The live records the state came from, by key (what a local copy holds; deleted keys map to null). */
  readonly records: ReadonlyMap<string, Uint8Array | null>;
}

interface TaskRecords {
  applied: Map<string, Uint8Array | null>;
  pending: Map<string, Uint8Array | null>;
  commit: Uint8Array | undefined;
}

type MutableWindow = { -readonly [K in keyof WindowSnapshot<FeedbackAccumulator>]: WindowSnapshot<FeedbackAccumulator>[K] };

/** A window under reconstruction: its base, then its events; a lineage once it needs operations records. */
interface Rebuilt {
  since: number;
  spec: string;
  window: MutableWindow;
  lineage: WindowLineage | undefined;
}

/**
 * Replays one state partition's records in offset order; `restore` then decodes each task's
 * state as of its last commit record (records after it belong to an interrupted checkpoint).
 */
export class ChangelogReplay {
  private readonly tasks = new Map<number, TaskRecords>();

  add(key: string, value: Uint8Array | null): void {
    const parsed = changeKey(key);
    if (parsed === undefined) return;
    const { task } = parsed;
    let state = this.tasks.get(task);
    if (state === undefined) this.tasks.set(task, (state = { applied: new Map(), pending: new Map(), commit: undefined }));
    if (parsed.kind === 'commit') {
      if (value === null) return;
      // An operations record numbered at or past the commit's next one belongs to an
      // interrupted checkpoint (a checkpoint writes or deletes every number below it).
      const next = decodeCommit(value).nextRecord ?? 0;
      for (const [k, v] of state.pending) {
        const pendingKey = changeKey(k);
        if (v === null || pendingKey?.kind !== 'operations' || pendingKey.n < next) state.applied.set(k, v);
      }
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
      out.set(task, restoreTask(task, state, state.commit, metrics));
    }
    return out;
  }
}

function restoreTask(task: number, state: TaskRecords, commitBytes: Uint8Array, metrics: MetricsAggregator<FeedbackEvent>): RestoredTask {
  const commit = decodeCommit(commitBytes);
  // Records before version 4 hold the one spec the commit record names.
  const legacySpec = commit.specs[0]?.spec ?? '';
  const windows = new Map<number, Rebuilt>();
  const operations: { seq: number; bytes: Uint8Array }[] = [];
  for (const [key, bytes] of state.applied) {
    if (bytes === null) continue;
    const parsed = changeKey(key);
    if (parsed === undefined || parsed.kind === 'commit') continue;
    if (parsed.kind === 'operations') {
      operations.push({ seq: parsed.n, bytes });
      continue;
    }
    const r = new ByteReader(bytes);
    const version = checkVersion(r);
    const since = version >= 3 ? r.f64() : 0;
    const spec = version >= 4 ? r.str() : legacySpec;
    metrics.readFormat(r);
    const window: MutableWindow = readWindow(r, metrics);
    r.end();
    window.partition = task;
    windows.set(parsed.n, { since, spec, window, lineage: undefined });
  }
  state.applied.set(commitKey(task), commitBytes);
  operations.sort((a, b) => a.seq - b.seq);
  // Opened headers first (a base for windows without a newer window record), then every event in order.
  const decoded = operations.map(({ seq, bytes }) => ({ seq, r: new ByteReader(bytes) }));
  const events: { seq: number; r: ByteReader }[] = [];
  for (const op of decoded) {
    const version = checkVersion(op.r);
    const kind = op.r.u8();
    if (op.r.f64() !== op.seq) throw new RangeError(`operations record ${task}/o/${op.seq} holds another sequence number`);
    if (kind === EVENTS) events.push(op);
    else if (kind === OPENED) readOpened(task, op.seq, op.r, version >= 4 ? undefined : legacySpec, windows, metrics);
    else throw new RangeError(`unknown operations record kind ${kind}`);
  }
  for (const { seq, r } of events) replayEvents(seq, r, windows, metrics);
  // Windows without a lineage need no operations record: their window record holds them whole.
  const lineage = new Map<number, WindowLineage>();
  const restored: Rebuilt[] = [];
  for (const [id, w] of windows) {
    if (w.lineage !== undefined) lineage.set(id, w.lineage);
    restored.push(w);
  }
  // Identities follow creation order: restored ties fire in the order they were opened.
  restored.sort((a, b) => (a.window.id ?? 0) - (b.window.id ?? 0));
  return {
    commit,
    windows: restored.length,
    records: state.applied,
    lineage: { nextRecord: commit.nextRecord ?? 0, windows: lineage, records: operations.map((o) => o.seq), ...tailWindows(task, state.pending, windows) },
    snapshot: {
      watermarks: { watermark: commit.watermark, partitions: commit.maxEventTime === -Infinity ? [] : [{ partition: task, maxEventTime: commit.maxEventTime }] },
      specs: specSnapshots(commit, restored),
    },
  };
}

/**
 * The restored windows by spec: every spec of the commit record, with its watermark and
 * type, and a spec only windows name (not in a committed state; kept so that its windows
 * are seen, and deleted by a task that does not run it) at the task's watermark.
 */
function specSnapshots(commit: TaskCommit, restored: readonly Rebuilt[]): SpecSnapshot[] {
  const specs = new Map<string, { commit: SpecCommit | undefined; windows: WindowSnapshot<FeedbackAccumulator>[] }>();
  for (const spec of commit.specs) specs.set(spec.spec, { commit: spec, windows: [] });
  for (const { spec, window } of restored) {
    let entry = specs.get(spec);
    if (entry === undefined) specs.set(spec, (entry = { commit: undefined, windows: [] }));
    entry.windows.push(window);
  }
  return [...specs].map(([spec, { commit: c, windows }]) => ({
    spec,
    state: { watermark: c?.watermark ?? commit.watermark, windowType: c?.windowType, windows, nextId: commit.nextId },
  }));
}

/** An opened record's headers; `legacySpec` for records before version 4, whose headers name no spec. */
function readOpened(task: number, seq: number, r: ByteReader, legacySpec: string | undefined, windows: Map<number, Rebuilt>, metrics: MetricsAggregator<FeedbackEvent>): void {
  const since = r.f64();
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const id = r.f64();
    const spec = legacySpec ?? r.str();
    const key = r.str();
    const start = r.f64();
    const end = r.f64();
    const keyFields = JSON.parse(r.str()) as KeyFields | null;
    const current = windows.get(id);
    if (current !== undefined && current.since >= since) continue;
    // A window record older than the header (cannot happen: windows open before they are written whole) would still need deleting.
    const based = current !== undefined;
    const window: MutableWindow = { id, key, partition: task, start, end, accumulator: { keyFields: keyFields ?? undefined, inner: metrics.create() }, count: 0, revision: -1 };
    windows.set(id, { since, spec, window, lineage: { records: [seq], events: 0, based } });
  }
  r.end();
}

/** Adds an events record's events to the windows whose base they follow. */
function replayEvents(seq: number, r: ByteReader, windows: Map<number, Rebuilt>, metrics: MetricsAggregator<FeedbackEvent>): void {
  const names: string[] = [];
  for (let n = r.u32(); n > 0; n--) names.push(r.str());
  const structure = r.numbers();
  const values = r.numbers();
  r.end();
  let v = 0;
  for (let i = 0; i < structure.length; ) {
    const w = windows.get(structure[i++]!);
    const m = structure[i++]!;
    if (w === undefined || seq < w.since) {
      i += m;
      v += m;
      continue;
    }
    // Metric names are arbitrary (`__proto__` included): set them as own fields, in the logged order.
    const logged: Record<string, number> = {};
    for (let j = 0; j < m; j++) setField(logged, names[structure[i++]!]!, values[v++]!);
    const window = w.window;
    window.accumulator.inner = metrics.add(window.accumulator.inner, { metrics: logged });
    window.count++;
    const lineage = (w.lineage ??= { records: [], events: 0, based: true });
    lineage.events++;
    if (lineage.records[lineage.records.length - 1] !== seq) lineage.records.push(seq);
  }
}

/**
 * The windows whose window record an interrupted tail wrote or deleted: the next commit
 * record would take the tail's version (and compaction may drop the committed one a day
 * on), so the live ones are written whole again and the others' records deleted. (The
 * tail's operations records are dropped by number, and its deletions of them are
 * harmless: see `TaskChangelog`.)
 */
function tailWindows(task: number, pending: ReadonlyMap<string, Uint8Array | null>, live: ReadonlyMap<number, unknown>): { rewrite: number[]; stale: number[] } {
  const rewrite: number[] = [];
  const stale: number[] = [];
  for (const [key, value] of pending) {
    const parsed = changeKey(key);
    if (parsed?.task !== task || parsed.kind !== 'window') continue;
    if (live.has(parsed.n)) rewrite.push(parsed.n);
    else if (value !== null) stale.push(parsed.n);
  }
  return { rewrite, stale };
}

/** What a state topic key names; undefined for another key. */
export function changeKey(key: string): ChangeKey | undefined {
  const slash = key.indexOf('/');
  const task = Number(key.slice(0, slash));
  if (slash < 0 || !Number.isInteger(task)) return undefined;
  const rest = key.slice(slash + 1);
  if (rest === COMMIT) return { task, kind: 'commit' };
  const n = Number(rest.slice(2));
  if (!Number.isInteger(n)) return undefined;
  return rest.startsWith('w/') ? { task, kind: 'window', n } : rest.startsWith('o/') ? { task, kind: 'operations', n } : undefined;
}

export function decodeCommit(bytes: Uint8Array): TaskCommit {
  const r = new ByteReader(bytes);
  const version = checkVersion(r);
  const checkpointId = r.f64();
  const position = r.str();
  const maxEventTime = r.f64();
  const watermark = r.f64();
  // Versions 1–3: the one window operator's watermark and type, before the next identity.
  const legacy = version < 4 ? { watermark: r.f64(), type: r.str() } : undefined;
  const nextId = r.f64();
  const sources = version >= 2 ? readSources(r) : {};
  const nextRecord = version >= 3 ? r.f64() : 0;
  const specs: SpecCommit[] = [];
  if (legacy !== undefined) specs.push({ spec: legacy.type, windowType: windowTypeOf(legacy.type), watermark: legacy.watermark });
  else for (let n = r.u32(); n > 0; n--) specs.push({ spec: r.str(), windowType: windowTypeOf(r.str()), watermark: r.f64() });
  r.end();
  return { checkpointId, position: position === '' ? undefined : position, maxEventTime, watermark, specs, nextId, sources, nextRecord };
}

const windowTypeOf = (type: string): WindowType | undefined => (type === '' ? undefined : (type as WindowType));

function checkVersion(r: ByteReader): number {
  const version = r.u8();
  if (version < OLDEST_READABLE_VERSION || version > VERSION) throw new RangeError(`unknown state topic record version ${version}`);
  return version;
}
