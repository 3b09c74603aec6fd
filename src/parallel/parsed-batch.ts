/**
 * Parsed chunks in a compact form, for handing them from a parse worker to the thread
 * that runs the pipeline (`processor.parallelism` with file and stdin input).
 *
 * Why not the parsed events themselves: `postMessage` structured-clones objects, which
 * costs about as much as the `JSON.parse` the worker saves (an earlier session measured
 * it: +12%). The pipeline reads three things of an event: its time, its key fields
 * (`keyObject`) and the usable (finite) values of its metrics, in their order (see
 * `metricsAggregator`'s `add`). So a chunk's parse travels as typed arrays (times, line
 * ends, key ids, metric-list ids, values), transferred rather than copied, plus the keys
 * and metric-name lists it uses for the first time (dictionaries that each side grows in
 * step). The receiving side rebuilds a *slim* event holding exactly what is read, and
 * where its line is, for the rare `too_late` or `processing_error` dead letter that
 * re-serialises the event (`serialisedEvent`).
 */
import type { DeadLetter, EventParser, FeedbackEvent } from '../events/index.js';
import { LineSplitter, linesOf, type LineChunk } from '../io/index.js';
import { ownField, setField, type StreamRecord } from '@llm-feedback/stream-operators';

/** A line the parser rejected: its index among the chunk's lines, the line, where it ends, and why. */
export interface RejectedLine {
  readonly line: number;
  readonly raw: string;
  readonly end: number;
  readonly reason: DeadLetter['reason'];
  readonly field?: string;
  readonly error?: string;
}

/** A key seen for the first time: its joined form and its fields as `keyObject` gives them. */
export interface NewKey {
  readonly joined: string;
  readonly fields: readonly (string | null)[];
}

/** One chunk's parse, as it crosses threads. Records are the lines not rejected, in order. */
export interface ParsedBatch {
  readonly id: number;
  /** The chunk's bytes, handed back (transferred) for `serialisedEvent`. */
  readonly bytes: Uint8Array;
  /** Lines in the chunk (blank lines aside): records and rejected ones. */
  readonly lineCount: number;
  /** Byte offset just after the chunk: what a checkpoint records once it is processed. */
  readonly end: number;
  readonly timestamps: Float64Array;
  /** Byte offset just after each record's line: the record's `offset`. */
  readonly ends: Float64Array;
  readonly keyIds: Int32Array;
  readonly shapeIds: Int32Array;
  /** The usable metric values of every record, record after record, in its shape's order. */
  readonly values: Float64Array;
  readonly rejected: readonly RejectedLine[];
  readonly newKeys: readonly NewKey[];
  /** Metric-name lists seen for the first time, in id order. */
  readonly newShapes: readonly (readonly string[])[];
}

/** The buffers of a batch, for `postMessage`'s transfer list. */
export const transferables = (batch: ParsedBatch): ArrayBuffer[] =>
  [batch.bytes, batch.timestamps, batch.ends, batch.keyIds, batch.shapeIds, batch.values].map((array) => array.buffer as ArrayBuffer);

interface ShapeNode {
  readonly id: number;
  readonly next: Map<string, ShapeNode>;
}

/** Finite numbers only: what `metricsAggregator` counts (null and the rest are skipped). */
const usable = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The parse worker's side: lines → `ParsedBatch`. Keeps the dictionaries of keys and
 * metric-name lists already sent, so steady input sends only numbers.
 */
export class BatchEncoder {
  private readonly keys = new Map<string, { readonly id: number; readonly fields: readonly (string | null)[] }[]>();
  private keyCount = 0;
  /** Metric-name lists as a trie: a record's list is the node its names walk to from the root. */
  private readonly shapeRoot: ShapeNode = { id: 0, next: new Map() };
  private readonly shapeNames: (readonly string[])[] = [[]];
  private values: Float64Array = new Float64Array(1 << 14);
  private valueCount = 0;

  constructor(
    private readonly parse: EventParser,
    private readonly keyFields: readonly string[],
    /** `event.metric_fields`; empty: every field of `metrics`. */
    private readonly metricFields: readonly string[],
  ) {}

  /** Splits and parses `chunk` (its bytes are handed back in the result). */
  encode(id: number, chunk: LineChunk): ParsedBatch {
    const { lines, ends: lineEnds, end } = linesOf(chunk, new LineSplitter(chunk.start));
    const timestamps = new Float64Array(lines.length);
    const ends = new Float64Array(lines.length);
    const keyIds = new Int32Array(lines.length);
    const shapeIds = new Int32Array(lines.length);
    const rejected: RejectedLine[] = [];
    const newKeys: NewKey[] = [];
    const newShapes: (readonly string[])[] = [];
    let records = 0;
    this.valueCount = 0;
    for (let i = 0; i < lines.length; i++) {
      const parsed = this.parse(lines[i]!);
      if (parsed.kind === 'dead_letter') {
        rejected.push({ line: i, raw: parsed.raw, end: lineEnds[i]!, reason: parsed.reason, field: parsed.field, error: parsed.error });
        continue;
      }
      timestamps[records] = parsed.timestamp;
      ends[records] = lineEnds[i]!;
      keyIds[records] = this.keyId(parsed.key!, parsed.value, newKeys);
      shapeIds[records] = this.shapeOf(parsed.value.metrics, newShapes);
      records++;
    }
    return {
      id,
      bytes: chunk.bytes,
      lineCount: lines.length,
      end,
      timestamps: timestamps.slice(0, records),
      ends: ends.slice(0, records),
      keyIds: keyIds.slice(0, records),
      shapeIds: shapeIds.slice(0, records),
      values: this.values.slice(0, this.valueCount),
      rejected,
      newKeys,
      newShapes,
    };
  }

  /** Appends the usable metric values to `values` and returns the id of their names' list. */
  private shapeOf(metrics: FeedbackEvent['metrics'], newShapes: (readonly string[])[]): number {
    let shape = this.shapeRoot;
    // The aggregator's own walk: every field in enumeration order, or the configured ones.
    if (this.metricFields.length === 0) {
      for (const name in metrics) {
        const value = metrics[name];
        if (usable(value)) shape = this.append(shape, name, value, newShapes);
      }
    } else {
      for (const name of this.metricFields) {
        const value = metrics[name];
        if (usable(value)) shape = this.append(shape, name, value, newShapes);
      }
    }
    return shape.id;
  }

  /** Appends one value; the shape that adds its name to `shape`. */
  private append(shape: ShapeNode, name: string, value: number, newShapes: (readonly string[])[]): ShapeNode {
    if (this.valueCount === this.values.length) this.values = grow(this.values);
    this.values[this.valueCount++] = value;
    const known = shape.next.get(name);
    if (known !== undefined) return known;
    const names = [...this.shapeNames[shape.id]!, name];
    const next: ShapeNode = { id: this.shapeNames.length, next: new Map() };
    this.shapeNames.push(names);
    newShapes.push(names);
    shape.next.set(name, next);
    return next;
  }

  /** The id of the event's key (joined key and key-field values), added to `newKeys` when new. */
  private keyId(joined: string, event: FeedbackEvent, newKeys: NewKey[]): number {
    const { keyFields } = this;
    let known = this.keys.get(joined);
    if (known !== undefined) {
      // Usually one entry per joined key; `a|b`+`c` and `a`+`b|c`, or "" and null, share one.
      for (let k = 0; k < known.length; k++) {
        const entry = known[k]!;
        let same = true;
        for (let f = 0; f < keyFields.length && same; f++) same = entry.fields[f] === keyPart(event, keyFields[f]!);
        if (same) return entry.id;
      }
    } else {
      known = [];
      this.keys.set(joined, known);
    }
    const fields = keyFields.map((field) => keyPart(event, field));
    const id = this.keyCount++;
    known.push({ id, fields });
    newKeys.push({ joined, fields });
    return id;
  }
}

/** A key field as `keyObject` gives it: `String(value)`, or null when absent or null. */
function keyPart(event: FeedbackEvent, field: string): string | null {
  const value = ownField(event, field);
  return value === undefined || value === null ? null : String(value);
}

function grow(values: Float64Array): Float64Array {
  const bigger = new Float64Array(values.length * 2);
  bigger.set(values);
  return bigger;
}

/** A chunk's lines, split again only if one of its events is re-serialised. */
class ChunkLines {
  private lines: { readonly lines: string[]; readonly ends: number[] } | undefined;

  constructor(private readonly chunk: LineChunk) {}

  /** The line that ends at byte offset `end`. */
  lineEndingAt(end: number): string {
    // The worker's split, redone here: the same bytes and rules give the same lines.
    const { lines, ends } = (this.lines ??= linesOf(this.chunk, new LineSplitter(this.chunk.start)));
    let lo = 0;
    let hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid]! < end) lo = mid + 1;
      else hi = mid;
    }
    if (ends[lo] !== end) throw new Error(`no line ends at byte ${end} of the chunk at ${this.chunk.start}`);
    return lines[lo]!;
  }
}

/** Where a slim event's line is: symbols, so no enumeration or `JSON.stringify` sees them. */
const SOURCE_CHUNK = Symbol('source chunk');
const SOURCE_END = Symbol('source line end');

/**
 * What the pipeline reads of an event, and where its line is. A class rather than an
 * object literal with symbol keys: one hidden class, and the key fields (arbitrary
 * names) are added in the same order to every instance.
 */
class SlimEvent {
  readonly [field: string]: unknown;
  readonly [SOURCE_CHUNK]: ChunkLines;
  readonly [SOURCE_END]: number;

  constructor(
    readonly metrics: Readonly<Record<string, number>>,
    chunk: ChunkLines,
    end: number,
  ) {
    this[SOURCE_CHUNK] = chunk;
    this[SOURCE_END] = end;
  }
}

/** A metric-name list, and whether plain assignment can build its object (no `__proto__`, see `setField`). */
interface Shape {
  readonly names: readonly string[];
  readonly plain: boolean;
}

const shapeOf = (names: readonly string[]): Shape => ({ names, plain: !names.includes('__proto__') });

/**
 * An event as its dead letter shows it (`too_late`, `processing_error`). A slim event is
 * re-parsed from its line: `JSON.parse` of the same line gives an equal value, so the text
 * equals what the single-threaded job writes.
 */
export function serialisedEvent(event: FeedbackEvent): string {
  return JSON.stringify(event instanceof SlimEvent ? JSON.parse(event[SOURCE_CHUNK].lineEndingAt(event[SOURCE_END])) : event);
}

/**
 * The pipeline thread's side of one worker: `ParsedBatch` → the records and dead letters
 * `parseLines` would have produced from the same lines, in the same order.
 */
export class BatchDecoder {
  private readonly keys: NewKey[] = [];
  private readonly shapes: Shape[] = [shapeOf([])];

  /**
   * The key fields the slim event carries: all but one named `metrics`, whose `keyObject`
   * value is `String()` of the metrics object in the slim event as in the parsed one.
   */
  private readonly keySlots: readonly number[];

  constructor(private readonly keyFields: readonly string[]) {
    this.keySlots = keyFields.flatMap((field, i) => (field === 'metrics' ? [] : [i]));
  }

  decode(
    parsed: ParsedBatch,
    chunk: Pick<LineChunk, 'start' | 'final'>,
    onRecord: (record: StreamRecord<FeedbackEvent>) => void,
    onDeadLetter: (deadLetter: DeadLetter) => void,
    isClosed: () => boolean,
  ): void {
    for (const key of parsed.newKeys) this.keys.push(key);
    for (const names of parsed.newShapes) this.shapes.push(shapeOf(names));
    const source = new ChunkLines({ bytes: Buffer.from(parsed.bytes.buffer, parsed.bytes.byteOffset, parsed.bytes.byteLength), start: chunk.start, final: chunk.final });
    const { timestamps, ends, keyIds, shapeIds, values, rejected } = parsed;
    let record = 0;
    let value = 0;
    let nextRejected = 0;
    for (let i = 0; i < parsed.lineCount && !isClosed(); i++) {
      const reject = rejected[nextRejected];
      if (reject !== undefined && reject.line === i) {
        nextRejected++;
        const { raw, reason, field, error } = reject;
        onDeadLetter({ kind: 'dead_letter', reason, raw, field, error, partition: undefined, offset: String(reject.end) });
        continue;
      }
      const key = this.keys[keyIds[record]!]!;
      const { names, plain } = this.shapes[shapeIds[record]!]!;
      const metrics: Record<string, number> = {};
      if (plain) for (let m = 0; m < names.length; m++) metrics[names[m]!] = values[value++]!;
      else for (let m = 0; m < names.length; m++) setField(metrics, names[m]!, values[value++]!);
      const end = ends[record]!;
      const event = new SlimEvent(metrics, source, end);
      for (const f of this.keySlots) setField(event as Record<string, unknown>, this.keyFields[f]!, key.fields[f]);
      // The parser's record shape: same fields, same order.
      onRecord({ kind: 'record', value: event as unknown as FeedbackEvent, timestamp: timestamps[record]!, key: key.joined, partition: undefined, offset: String(end) });
      record++;
    }
  }
}
