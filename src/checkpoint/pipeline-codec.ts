import { type AccumulatorCodec, ByteReader, ByteWriter, type MetricsAggregator, readWindowSnapshot, type WatermarkSnapshot, type WindowSnapshot, type WindowType, writeWindowSnapshot } from '@llm-feedback/stream-operators';
import type { FeedbackEvent } from '../events/index.js';
import type { FeedbackAccumulator, PipelineSnapshot, SpecSnapshot } from '../pipeline/feedback-pipeline.js';
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

/**
 * 5: one blob of windows per window spec (`windows/<spec>`, its header naming the spec),
 * so a checkpoint holds several specs. 4 (windows carry their identity, changelog key) and
 * 3 hold one spec's windows under `windows`; they are read too, as the spec named after
 * their window type.
 */
const FORMAT_VERSION = 5;
const OLDEST_READABLE_VERSION = 3;
/**
 * Initial buffer size per open window: about what a window of 4 metrics × 50
 * values takes. An underestimate costs a few doublings, an overestimate only
 * untouched (lazily committed) memory.
 */
const BYTES_PER_WINDOW = 512;
/** Versions 3 and 4: the one spec's windows. */
const LEGACY_WINDOWS = 'windows';
const SPEC_WINDOWS = 'windows/';
const WATERMARK = 'watermark';

/**
 * Encodes a pipeline snapshot. Runs synchronously at the barrier (Flink's
 * synchronous snapshot phase): the accumulators are live objects that the next
 * record would change, so their bytes are taken now. Per spec and partition, every
 * window goes into one buffer, sized up front from the window count, with the
 * accumulator layout versions written once in its header rather than per window.
 */
export function encodePipelineState(snapshot: PipelineSnapshot, metrics: MetricsAggregator<FeedbackEvent>): EncodedPipelineState {
  const partitions: Record<string, Record<string, Uint8Array>> = {};
  const of = (partition: number): Record<string, Uint8Array> => (partitions[String(partition)] ??= {});
  for (const { partition, maxEventTime } of snapshot.watermarks.partitions) {
    of(partition)[WATERMARK] = new ByteWriter().u8(FORMAT_VERSION).f64(maxEventTime).finish();
  }
  const operators: Record<string, Uint8Array> = {
    [WATERMARK]: new ByteWriter().u8(FORMAT_VERSION).f64(snapshot.watermarks.watermark).finish(),
  };
  for (const spec of snapshot.specs) {
    const { windows } = spec.state;
    // Group by partition, remembering each window's place in the snapshot: that order is
    // the order ties fire in, and a restore must keep it (see KeyedWindowState.snapshot).
    const byPartition = new Map<number | undefined, number[]>();
    for (let i = 0; i < windows.length; i++) {
      const partition = windows[i]!.partition;
      let indexes = byPartition.get(partition);
      if (indexes === undefined) byPartition.set(partition, (indexes = []));
      indexes.push(i);
    }
    const name = SPEC_WINDOWS + spec.spec;
    // Always present, even empty: it carries the spec's own watermark and type.
    operators[name] = encodeWindowList(spec, byPartition.get(undefined) ?? [], metrics);
    for (const [partition, indexes] of byPartition) if (partition !== undefined) of(partition)[name] = encodeWindowList(spec, indexes, metrics);
  }
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
  const watermarkBytes = encoded.operators[WATERMARK];
  const names = Object.keys(encoded.operators).filter((name) => name === LEGACY_WINDOWS || name.startsWith(SPEC_WINDOWS));
  if (watermarkBytes === undefined || names.length === 0) throw new RangeError('checkpoint lacks the pipeline state');
  const specs = names.map((name): SpecSnapshot => {
    const placed: { order: number; window: WindowSnapshot<FeedbackAccumulator> }[] = [];
    const header = decodeWindows(encoded.operators[name]!, undefined, metrics, placed);
    for (const [partition, states] of Object.entries(encoded.partitions)) {
      const windowBytes = states[name];
      if (windowBytes !== undefined) decodeWindows(windowBytes, Number(partition), metrics, placed);
    }
    placed.sort((a, b) => a.order - b.order);
    return {
      spec: header.spec,
      state: { watermark: header.watermark, windowType: header.windowType, windows: placed.map((p) => p.window), nextId: header.nextId },
    };
  });
  const partitions: { partition: number; maxEventTime: number }[] = [];
  for (const [name, states] of Object.entries(encoded.partitions)) {
    const bytes = states[WATERMARK];
    if (bytes === undefined) continue;
    const pr = new ByteReader(bytes);
    checkVersion(pr);
    partitions.push({ partition: Number(name), maxEventTime: pr.f64() });
    pr.end();
  }
  const wr = new ByteReader(watermarkBytes);
  checkVersion(wr);
  const watermark: WatermarkSnapshot = { watermark: wr.f64(), partitions };
  wr.end();
  return { watermarks: watermark, specs };
}

/** The windows at `indexes` of a spec's snapshot as one blob, with the spec's header. */
function encodeWindowList(spec: SpecSnapshot, indexes: readonly number[], metrics: MetricsAggregator<FeedbackEvent>): Uint8Array {
  const { windows } = spec.state;
  const w = new ByteWriter(64 + indexes.length * BYTES_PER_WINDOW).u8(FORMAT_VERSION);
  metrics.writeFormat(w);
  w.str(spec.spec).f64(spec.state.watermark).str(spec.state.windowType ?? '').f64(spec.state.nextId ?? 0).u32(indexes.length);
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

/** The window `writeWindow` wrote; checkpoints of version 3 wrote none `withIdentity`. */
export function readWindow(r: ByteReader, metrics: MetricsAggregator<FeedbackEvent>, withIdentity = true): WindowSnapshot<FeedbackAccumulator> {
  return readWindowSnapshot(r, feedbackCodec(metrics), withIdentity);
}

/**
 * Decodes one blob of windows into `placed`; returns the spec's header (the same in every
 * blob of the spec). Versions 3 and 4 name no spec: theirs is named after their window type.
 */
function decodeWindows(
  bytes: Uint8Array,
  partition: number | undefined,
  metrics: MetricsAggregator<FeedbackEvent>,
  placed: { order: number; window: WindowSnapshot<FeedbackAccumulator> }[],
): { spec: string; watermark: number; windowType: WindowType | undefined; nextId: number } {
  const r = new ByteReader(bytes);
  const version = checkVersion(r);
  metrics.readFormat(r);
  const named = version >= 5 ? r.str() : undefined;
  const watermark = r.f64();
  const type = r.str();
  const nextId = version >= 4 ? r.f64() : 0;
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const order = r.u32();
    const window = readWindow(r, metrics, version >= 4);
    placed.push({ order, window: partition === undefined ? window : { ...window, partition } });
  }
  r.end();
  return { spec: named ?? type, watermark, windowType: type === '' ? undefined : (type as WindowType), nextId };
}

function checkVersion(r: ByteReader): number {
  const version = r.u8();
  if (version < OLDEST_READABLE_VERSION || version > FORMAT_VERSION) throw new RangeError(`unknown pipeline state format version ${version}`);
  return version;
}
