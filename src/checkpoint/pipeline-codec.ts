import { type AccumulatorCodec, ByteReader, ByteWriter, type MetricsAggregator, readWindowSnapshot, type WatermarkSnapshot, type WindowSnapshot, type WindowType, writeWindowSnapshot } from '@llm-feedback/stream-operators';
import type { FeedbackEvent } from '../events/index.js';
import type { FeedbackAccumulator, PipelineSnapshot } from '../pipeline/feedback-pipeline.js';
import type { KeyFields } from '../pipeline/keyed-aggregator.js';

/** How a pipeline snapshot is laid out in a checkpoint: operator name → bytes. */
export interface EncodedPipelineState {
  /** Global state: the combined watermark, and windows opened by records without a partition. */
  readonly operators: Record<string, Uint8Array>;
  /**
   * Per source partition (DESIGN.md: state organised per partition, so that it can
   * move): that partition's watermark clock and the windows its records opened.
   * With input keyed by the key fields a key lives in one partition, and so do its windows.
   */
  readonly partitions: Record<string, Record<string, Uint8Array>>;
}

/** 4: windows carry their identity (changelog key). 3 is read too. */
const FORMAT_VERSION = 4;
const OLDEST_READABLE_VERSION = 3;
/**
 * Initial buffer size per open window: about what a window of 4 metrics × 50
 * values takes. An underestimate costs a few doublings, an overestimate only
 * untouched (lazily committed) memory.
 */
const BYTES_PER_WINDOW = 512;
const WINDOWS = 'windows';
const WATERMARK = 'watermark';

/**
 * Encodes a pipeline snapshot. Runs synchronously at the barrier (Flink's
 * synchronous snapshot phase): the accumulators are live objects that the next
 * record would change, so their bytes are taken now. Every window goes into
 * one buffer, sized up front from the window count, with the accumulator
 * layout versions written once in its header rather than per window.
 */
export function encodePipelineState(snapshot: PipelineSnapshot, metrics: MetricsAggregator<FeedbackEvent>): EncodedPipelineState {
  const { windows } = snapshot.windows;
  // Group by partition, remembering each window's place in the snapshot: that order is
  // the order ties fire in, and a restore must keep it (see KeyedWindowState.snapshot).
  const byPartition = new Map<number | undefined, number[]>();
  for (let i = 0; i < windows.length; i++) {
    const partition = windows[i]!.partition;
    let indexes = byPartition.get(partition);
    if (indexes === undefined) byPartition.set(partition, (indexes = []));
    indexes.push(i);
  }
  const encodeWindows = (indexes: readonly number[]): Uint8Array => encodeWindowList(snapshot, indexes, metrics);

  const partitions: Record<string, Record<string, Uint8Array>> = {};
  const of = (partition: number): Record<string, Uint8Array> => (partitions[String(partition)] ??= {});
  for (const { partition, maxEventTime } of snapshot.watermarks.partitions) {
    of(partition)[WATERMARK] = new ByteWriter().u8(FORMAT_VERSION).f64(maxEventTime).finish();
  }
  const operators: Record<string, Uint8Array> = {
    [WATERMARK]: new ByteWriter().u8(FORMAT_VERSION).f64(snapshot.watermarks.watermark).finish(),
    // Always present, even empty: it carries the window operator's own watermark and type.
    [WINDOWS]: encodeWindows(byPartition.get(undefined) ?? []),
  };
  for (const [partition, indexes] of byPartition) if (partition !== undefined) of(partition)[WINDOWS] = encodeWindows(indexes);
  return { operators, partitions };
}

/** Source high-water marks: a count, then `topic:partition` and offset pairs (shared with the state topic's commit record). */
export function writeSources(w: ByteWriter, sources: Readonly<Record<string, number>>): ByteWriter {
  const entries = Object.entries(sources);
  w.u32(entries.length);
  for (const [source, offset] of entries) w.str(source).f64(offset);
  return w;
}

export function readSources(r: ByteReader): Record<string, number> {
  const sources: Record<string, number> = {};
  for (let n = r.u32(); n > 0; n--) {
    const source = r.str();
    sources[source] = r.f64();
  }
  return sources;
}

export function decodePipelineState(encoded: EncodedPipelineState, metrics: MetricsAggregator<FeedbackEvent>): PipelineSnapshot {
  const globalWindows = encoded.operators[WINDOWS];
  const watermarkBytes = encoded.operators[WATERMARK];
  if (globalWindows === undefined || watermarkBytes === undefined) throw new RangeError('checkpoint lacks the pipeline state');
  const placed: { order: number; window: WindowSnapshot<FeedbackAccumulator> }[] = [];
  const header = decodeWindows(globalWindows, undefined, metrics, placed);

  const partitions: { partition: number; maxEventTime: number }[] = [];
  for (const [name, states] of Object.entries(encoded.partitions)) {
    const partition = Number(name);
    const windowBytes = states[WINDOWS];
    if (windowBytes !== undefined) decodeWindows(windowBytes, partition, metrics, placed);
    const bytes = states[WATERMARK];
    if (bytes === undefined) continue;
    const pr = new ByteReader(bytes);
    checkVersion(pr);
    partitions.push({ partition, maxEventTime: pr.f64() });
    pr.end();
  }
  placed.sort((a, b) => a.order - b.order);
  const wr = new ByteReader(watermarkBytes);
  checkVersion(wr);
  const watermark: WatermarkSnapshot = { watermark: wr.f64(), partitions };
  wr.end();
  return {
    watermarks: watermark,
    windows: { watermark: header.watermark, windowType: header.windowType, windows: placed.map((p) => p.window), nextId: header.nextId },
  };
}

/** The windows at `indexes` of the snapshot as one blob, with the window operator's header. */
function encodeWindowList(snapshot: PipelineSnapshot, indexes: readonly number[], metrics: MetricsAggregator<FeedbackEvent>): Uint8Array {
  const { windows } = snapshot.windows;
  const w = new ByteWriter(64 + indexes.length * BYTES_PER_WINDOW).u8(FORMAT_VERSION);
  metrics.writeFormat(w);
  w.f64(snapshot.windows.watermark).str(snapshot.windows.windowType ?? '').f64(snapshot.windows.nextId ?? 0).u32(indexes.length);
  for (const i of indexes) writeWindow(w.u32(i), windows[i]!, metrics);
  return w.finish();
}

/** Codecs by metrics aggregator: checkpoints and changelogs write windows one by one. */
const feedbackCodecs = new WeakMap<MetricsAggregator<FeedbackEvent>, AccumulatorCodec<FeedbackAccumulator>>();

/** A feedback window's accumulator: its key fields (JSON), then the metrics. */
function feedbackCodec(metrics: MetricsAggregator<FeedbackEvent>): AccumulatorCodec<FeedbackAccumulator> {
  let codec = feedbackCodecs.get(metrics);
  if (codec === undefined) {
    codec = {
      serialiseInto: (accumulator, w) => {
        w.str(JSON.stringify(accumulator.keyFields ?? null));
        metrics.serialiseInto(accumulator.inner, w);
      },
      deserialiseFrom: (r) => {
        const keyFields = JSON.parse(r.str()) as KeyFields | null;
        return { keyFields: keyFields ?? undefined, inner: metrics.deserialiseFrom(r) };
      },
    };
    feedbackCodecs.set(metrics, codec);
  }
  return codec;
}

/** One window: identity, bounds, counters, key fields and accumulator (no header). */
export function writeWindow(w: ByteWriter, win: WindowSnapshot<FeedbackAccumulator>, metrics: MetricsAggregator<FeedbackEvent>): ByteWriter {
  return writeWindowSnapshot(w, win, feedbackCodec(metrics));
}

/** The window `writeWindow` wrote; `version` 3 had no identity. */
export function readWindow(r: ByteReader, metrics: MetricsAggregator<FeedbackEvent>, version = FORMAT_VERSION): WindowSnapshot<FeedbackAccumulator> {
  return readWindowSnapshot(r, feedbackCodec(metrics), version >= 4);
}

/** Decodes one blob of windows into `placed`; returns the window operator's header (the same in every blob). */
function decodeWindows(
  bytes: Uint8Array,
  partition: number | undefined,
  metrics: MetricsAggregator<FeedbackEvent>,
  placed: { order: number; window: WindowSnapshot<FeedbackAccumulator> }[],
): { watermark: number; windowType: WindowType | undefined; nextId: number } {
  const r = new ByteReader(bytes);
  const version = checkVersion(r);
  metrics.readFormat(r);
  const watermark = r.f64();
  const type = r.str();
  const nextId = version >= 4 ? r.f64() : 0;
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const order = r.u32();
    const window = readWindow(r, metrics, version);
    placed.push({ order, window: partition === undefined ? window : { ...window, partition } });
  }
  r.end();
  return { watermark, windowType: type === '' ? undefined : (type as WindowType), nextId };
}

function checkVersion(r: ByteReader): number {
  const version = r.u8();
  if (version < OLDEST_READABLE_VERSION || version > FORMAT_VERSION) throw new RangeError(`unknown pipeline state format version ${version}`);
  return version;
}
