import type { WatermarkSnapshot } from '../../operators/assignWatermarks.js';
import type { WindowSnapshot } from '../../operators/internal/windowState.js';
import type { MetricsAggregator } from '../aggregation/index.js';
import { ByteReader, ByteWriter } from '../aggregation/binary.js';
import type { FeedbackEvent } from '../events/index.js';
import type { FeedbackAccumulator, PipelineSnapshot } from '../pipeline/feedback-pipeline.js';
import type { KeyFields } from '../pipeline/keyed-aggregator.js';
import type { WindowType } from '../stream/elements.js';

/** How a pipeline snapshot is laid out in a checkpoint: operator name → bytes. */
export interface EncodedPipelineState {
  /** Global state: the window operator's windows and the combined watermark. */
  readonly operators: Record<string, Uint8Array>;
  /** Per source partition: that partition's watermark clock. */
  readonly partitions: Record<string, Record<string, Uint8Array>>;
}

const FORMAT_VERSION = 2;
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
  const w = new ByteWriter(64 + windows.length * BYTES_PER_WINDOW).u8(FORMAT_VERSION);
  metrics.writeFormat(w);
  w.f64(snapshot.windows.watermark).str(snapshot.windows.windowType ?? '').u32(windows.length);
  for (const win of windows) {
    w.str(win.key).f64(win.start).f64(win.end).f64(win.count).f64(win.revision);
    w.str(JSON.stringify(win.accumulator.keyFields ?? null));
    metrics.serialiseInto(win.accumulator.inner, w);
  }
  const partitions: Record<string, Record<string, Uint8Array>> = {};
  for (const { partition, maxEventTime } of snapshot.watermarks.partitions) {
    partitions[String(partition)] = { [WATERMARK]: new ByteWriter().u8(FORMAT_VERSION).f64(maxEventTime).finish() };
  }
  return {
    operators: { [WINDOWS]: w.finish(), [WATERMARK]: new ByteWriter().u8(FORMAT_VERSION).f64(snapshot.watermarks.watermark).finish() },
    partitions,
  };
}

export function decodePipelineState(encoded: EncodedPipelineState, metrics: MetricsAggregator<FeedbackEvent>): PipelineSnapshot {
  const windowBytes = encoded.operators[WINDOWS];
  const watermarkBytes = encoded.operators[WATERMARK];
  if (windowBytes === undefined || watermarkBytes === undefined) throw new RangeError('checkpoint lacks the pipeline state');
  const r = new ByteReader(windowBytes);
  checkVersion(r);
  metrics.readFormat(r);
  const windowWatermark = r.f64();
  const type = r.str();
  const count = r.u32();
  const windows: WindowSnapshot<FeedbackAccumulator>[] = [];
  for (let i = 0; i < count; i++) {
    const key = r.str();
    const start = r.f64();
    const end = r.f64();
    const windowCount = r.f64();
    const revision = r.f64();
    const keyFields = JSON.parse(r.str()) as KeyFields | null;
    const inner = metrics.deserialiseFrom(r);
    windows.push({ key, start, end, count: windowCount, revision, accumulator: { keyFields: keyFields ?? undefined, inner } });
  }
  r.end();

  const partitions: { partition: number; maxEventTime: number }[] = [];
  for (const [partition, states] of Object.entries(encoded.partitions)) {
    const bytes = states[WATERMARK];
    if (bytes === undefined) continue;
    const pr = new ByteReader(bytes);
    checkVersion(pr);
    partitions.push({ partition: Number(partition), maxEventTime: pr.f64() });
    pr.end();
  }
  const wr = new ByteReader(watermarkBytes);
  checkVersion(wr);
  const watermark: WatermarkSnapshot = { watermark: wr.f64(), partitions };
  wr.end();
  return {
    watermarks: watermark,
    windows: { watermark: windowWatermark, windowType: type === '' ? undefined : (type as WindowType), windows },
  };
}

function checkVersion(r: ByteReader): void {
  const version = r.u8();
  if (version !== FORMAT_VERSION) throw new RangeError(`unknown pipeline state format version ${version}`);
}
