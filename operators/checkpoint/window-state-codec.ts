/**
 * Checkpoint encodings of the operators' own snapshots, for applications that run
 * the operators themselves: `aggregate`'s `WindowStateSnapshot` and
 * `assignWatermarks`' `WatermarkSnapshot`, as bytes that a store of their choice
 * keeps. The service's pipeline codec lays its windows out with the same per-window
 * encoding. Pure code: the operators package exports it.
 */
import type { WatermarkSnapshot } from '../assignWatermarks.js';
import type { WindowSnapshot, WindowStateSnapshot } from '../internal/windowState.js';
import { ByteReader, ByteWriter } from '../aggregation/binary.js';
import type { WindowType } from '../stream/elements.js';

/**
 * How one accumulator type is written into a checkpoint. `MetricsAggregator`
 * is one; `jsonAccumulatorCodec()` serves small accumulators of plain data.
 */
export interface AccumulatorCodec<A> {
  /** Written once per blob, before the accumulators (layout versions, configuration). */
  writeFormat?(writer: ByteWriter): void;
  /** Checks what `writeFormat` wrote, e.g. throws when the configuration changed. */
  readFormat?(reader: ByteReader): void;
  serialiseInto(accumulator: A, writer: ByteWriter): void;
  deserialiseFrom(reader: ByteReader): A;
}

/**
 * Accumulators of plain JSON data (numbers, strings, arrays, objects). JSON has
 * no NaN or ±Infinity: an accumulator that holds them needs a codec of its own.
 */
export function jsonAccumulatorCodec<A>(): AccumulatorCodec<A> {
  return {
    serialiseInto: (accumulator, writer) => void writer.str(JSON.stringify(accumulator)),
    deserialiseFrom: (reader) => JSON.parse(reader.str()) as A,
  };
}

const WINDOW_STATE_VERSION = 1;
const WATERMARK_STATE_VERSION = 1;
/** Partition numbers are ≥ 0: this marks a window opened by a record without one. */
const NO_PARTITION = -1;

/** One window: identity, bounds, counters, accumulator (no partition, no header). */
export function writeWindowSnapshot<A>(w: ByteWriter, win: WindowSnapshot<A>, codec: AccumulatorCodec<A>): ByteWriter {
  w.f64(win.id ?? -1).str(win.key).f64(win.start).f64(win.end).f64(win.count).f64(win.revision);
  codec.serialiseInto(win.accumulator, w);
  return w;
}

/** The window `writeWindowSnapshot` wrote; `withId: false` reads a layout that had no identity. */
export function readWindowSnapshot<A>(r: ByteReader, codec: AccumulatorCodec<A>, withId = true): WindowSnapshot<A> {
  const id = withId ? r.f64() : -1;
  const key = r.str();
  const start = r.f64();
  const end = r.f64();
  const count = r.f64();
  const revision = r.f64();
  const window = { key, start, end, count, revision, accumulator: codec.deserialiseFrom(r) };
  return id < 0 ? window : { id, ...window };
}

/** `aggregate`'s state (from `onBarrier` or `AggregateState.snapshot()`) as one blob. */
export function encodeWindowState<A>(snapshot: WindowStateSnapshot<A>, codec: AccumulatorCodec<A>): Uint8Array {
  const w = new ByteWriter().u8(WINDOW_STATE_VERSION);
  codec.writeFormat?.(w);
  w.f64(snapshot.watermark).str(snapshot.windowType ?? '').f64(snapshot.nextId ?? 0).u32(snapshot.windows.length);
  for (const win of snapshot.windows) writeWindowSnapshot(w.f64(win.partition ?? NO_PARTITION), win, codec);
  return w.finish();
}

/** The state `encodeWindowState` wrote, for `aggregate({ initialState })`. */
export function decodeWindowState<A>(bytes: Uint8Array, codec: AccumulatorCodec<A>): WindowStateSnapshot<A> {
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (version !== WINDOW_STATE_VERSION) throw new RangeError(`unknown window state format version ${version}`);
  codec.readFormat?.(r);
  const watermark = r.f64();
  const type = r.str();
  const nextId = r.f64();
  const windows: WindowSnapshot<A>[] = [];
  for (let n = r.u32(); n > 0; n--) {
    const partition = r.f64();
    const window = readWindowSnapshot(r, codec);
    windows.push(partition === NO_PARTITION ? window : { ...window, partition });
  }
  r.end();
  return { watermark, windowType: type === '' ? undefined : (type as WindowType), windows, nextId };
}

/** `assignWatermarks`' state as bytes (its −∞ does not survive JSON). */
export function encodeWatermarkState(snapshot: WatermarkSnapshot): Uint8Array {
  const w = new ByteWriter().u8(WATERMARK_STATE_VERSION).f64(snapshot.watermark).u32(snapshot.partitions.length);
  for (const { partition, maxEventTime } of snapshot.partitions) w.f64(partition).f64(maxEventTime);
  return w.finish();
}

/** The state `encodeWatermarkState` wrote, for `assignWatermarks({ initialState })`. */
export function decodeWatermarkState(bytes: Uint8Array): WatermarkSnapshot {
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (version !== WATERMARK_STATE_VERSION) throw new RangeError(`unknown watermark state format version ${version}`);
  const watermark = r.f64();
  const partitions: { partition: number; maxEventTime: number }[] = [];
  for (let n = r.u32(); n > 0; n--) partitions.push({ partition: r.f64(), maxEventTime: r.f64() });
  r.end();
  return { watermark, partitions };
}
