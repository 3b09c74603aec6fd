/**
 * One task's side of the state topic (changelog.ts): logs the metric values each window
 * accumulates as they are added, and turns them into a checkpoint's records, so that a
 * checkpoint costs in proportion to the events since the previous one, not to the windows
 * they touched. Per checkpoint:
 * - the interval's events, packed into a few records (`<task>/o/<seq>`, ≤ ~500 KB each);
 * - the headers of windows opened in the interval (key, bounds, key fields; ≤ ~400 KB per record);
 * - a whole window record for each window fired, merged, re-bounded, purged-and-tombstoned,
 *   or with more than `MAX_LOGGED_EVENTS` events logged since its base (a fresh base);
 * - tombstones for windows removed and for operations records no live window needs;
 * - the commit record, last.
 *
 * Restore stays bounded: a window replays at most `MAX_LOGGED_EVENTS` events, and the
 * windows that keep a record older than `MAX_RECORD_AGE` sequence numbers alive are
 * rewritten whole, `REWRITE_BUDGET` per checkpoint (`dueForRewrite`), so old records die.
 */
import type { MetricsAggregator } from '@llm-feedback/stream-operators';
import type { FeedbackEvent } from '../events/index.js';
import {
  commitMessage,
  eventsRecord,
  openedRecords,
  operationsKey,
  windowKey,
  windowMessage,
  type ChangelogLineage,
  type ChangelogMessage,
  type SpecChanges,
  type SpecWindow,
  type TaskCommit,
  type WindowLineage,
} from './changelog.js';

/** Events logged for a window before it is written whole again. */
export const MAX_LOGGED_EVENTS = 64;
/** Records further back than this (in sequence numbers) get their windows rewritten. */
export const MAX_RECORD_AGE = 256;
/** Windows rewritten per checkpoint to free old records. */
export const REWRITE_BUDGET = 2_000;
/**
 * Numbers per events record: its encoding takes 2–8 bytes each, so a record stays under
 * ~500 KB, and a sink batch (≤ 1,000,000 bytes, see src/kafka/sink.ts) under the broker's `message.max.bytes`.
 */
const RECORD_NUMBERS = 60_000;
/**
 * Numbers a task logs between checkpoints at most (32 MB): past it (checkpoints far apart
 * under heavy input) the log is dropped and the windows it touched are written whole.
 */
const MAX_LOG_NUMBERS = 4_000_000;
/** Bytes of opened headers per record (a record ends after the window that passes it). */
const OPENED_RECORD_BYTES = 400_000;

/** A growable array of doubles. */
class DoubleLog {
  values = new Float64Array(4096);
  length = 0;

  push(v: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = v;
  }

  clear(): void {
    this.length = 0;
  }
}

export interface TaskChangelogOptions {
  readonly task: number;
  /** The configured metric fields (`event.metric_fields`); empty: every numeric field, in event order. */
  readonly metricFields: readonly string[];
  /** Where the restored state's records stand; none for a task starting empty. */
  readonly lineage?: ChangelogLineage;
  /**
   * Restored windows of specs the task no longer runs (removed from the configuration):
   * their window records are deleted at the next checkpoint, and the operations records
   * only they needed one checkpoint later (as any record released).
   */
  readonly dropped?: readonly number[];
}

export class TaskChangelog {
  private readonly task: number;
  /** Sequence number of the interval's first events record. */
  private nextRecord: number;
  private readonly windows = new Map<number, WindowLineage>();
  /** Per written (or being written) operations record: the live windows that need it. */
  private readonly dependents = new Map<number, Set<number>>();
  /** Records no window needs that are still in the topic (from a restore). */
  private orphans: number[] = [];
  private forced: number[];
  /** Window records an interrupted tail wrote for windows the restored state lacks (deleted at the first checkpoint). */
  private stale: readonly number[];
  private readonly fixed: readonly string[] | undefined;
  private names: string[] = [];
  private nameIndex = new Map<string, number>();
  private readonly structure = new DoubleLog();
  private readonly values = new DoubleLog();
  /** Ends (structure, values) of the interval's full events records. */
  private cuts: { structure: number; values: number }[] = [];
  private cutStructure = 0;
  private cutValues = 0;

  constructor(options: TaskChangelogOptions) {
    this.task = options.task;
    this.fixed = options.metricFields.length > 0 ? options.metricFields : undefined;
    if (this.fixed !== undefined) this.names = [...this.fixed];
    const lineage = options.lineage;
    this.nextRecord = lineage?.nextRecord ?? 0;
    this.forced = [...(lineage?.rewrite ?? [])];
    this.stale = lineage?.stale ?? [];
    for (const seq of [...(lineage?.records ?? [])].sort((a, b) => a - b)) this.dependents.set(seq, new Set());
    const dropped = new Set(options.dropped);
    for (const [id, w] of lineage?.windows ?? []) {
      if (dropped.has(id)) continue;
      this.windows.set(id, { records: [...w.records], events: w.events, based: w.based });
      for (const seq of w.records) this.dependents.get(seq)?.add(id);
    }
    if (dropped.size > 0) this.stale = [...this.stale, ...dropped];
    for (const [seq, ids] of this.dependents) {
      if (ids.size > 0) continue;
      this.orphans.push(seq);
      this.dependents.delete(seq);
    }
  }

  /** Windows touched since the log was dropped (`spill`): the next checkpoint writes them whole. */
  private spilled: Set<number> | undefined;

  /** Logs `event`, just accumulated by window `id` (mirrors what the metrics aggregator reads of it). */
  record(id: number, event: FeedbackEvent): void {
    if (this.spilled !== undefined) {
      this.spilled.add(id);
      return;
    }
    let w = this.windows.get(id);
    // A restored window has a window record; a new one is `based: false` once reported opened.
    if (w === undefined) this.windows.set(id, (w = { records: [], events: 0, based: true }));
    const seq = this.nextRecord + this.cuts.length;
    if (w.records[w.records.length - 1] !== seq) {
      w.records.push(seq);
      let ids = this.dependents.get(seq);
      if (ids === undefined) this.dependents.set(seq, (ids = new Set()));
      ids.add(id);
    }
    // Past the limit, the window gets a fresh base at the next checkpoint.
    if (++w.events === MAX_LOGGED_EVENTS + 1) this.forced.push(id);
    const structure = this.structure;
    const values = this.values;
    structure.push(id);
    const countAt = structure.length;
    structure.push(0);
    let m = 0;
    const metrics = event.metrics as Readonly<Record<string, unknown>> | null | undefined;
    if (metrics !== null && metrics !== undefined) {
      const fixed = this.fixed;
      if (fixed !== undefined) {
        for (let i = 0; i < fixed.length; i++) {
          const v = metrics[fixed[i]!];
          if (typeof v !== 'number' || !Number.isFinite(v)) continue;
          structure.push(i);
          values.push(v);
          m++;
        }
      } else {
        const names = this.names;
        let hint = 0;
        for (const field in metrics) {
          const v = metrics[field];
          if (typeof v !== 'number' || !Number.isFinite(v)) continue;
          // Events mostly list their metrics in one order: try the next name first.
          const i = names[hint] === field ? hint : this.nameOf(field);
          structure.push(i);
          values.push(v);
          hint = i + 1;
          m++;
        }
      }
    }
    structure.values[countAt] = m;
    if (structure.length - this.cutStructure + values.length - this.cutValues >= RECORD_NUMBERS) {
      this.cut();
      if (structure.length + values.length >= MAX_LOG_NUMBERS) this.spill();
    }
  }

  /** Drops the interval's log: every window it holds events of gets written whole instead. */
  private spill(): void {
    const spilled = new Set<number>();
    for (let seq = this.nextRecord; seq < this.nextRecord + this.cuts.length; seq++) for (const id of this.dependents.get(seq) ?? []) spilled.add(id);
    this.spilled = spilled;
    this.resetLog();
  }

  /** Windows to write whole at the next checkpoint (`takeChanges`' rewrite): those an old record lives for. */
  dueForRewrite(): number[] {
    const due = this.forced;
    this.forced = [];
    for (const id of this.spilled ?? []) due.push(id);
    this.spilled = undefined;
    const horizon = this.nextRecord - MAX_RECORD_AGE;
    for (const [seq, ids] of this.dependents) {
      if (seq >= horizon || due.length >= REWRITE_BUDGET) break;
      for (const id of ids) {
        due.push(id);
        if (due.length >= REWRITE_BUDGET) break;
      }
    }
    return due;
  }

  /**
   * The task's checkpoint records: every spec's `changes` (from
   * `takeChanges(dueForRewrite())`), then the commit record (`commit` gets the next
   * sequence number).
   */
  messages(statePartition: number, specs: readonly SpecChanges[], commit: TaskCommit, metrics: MetricsAggregator<FeedbackEvent>): ChangelogMessage[] {
    if (this.structure.length > this.cutStructure) this.cut();
    const first = this.nextRecord;
    const eventRecords = this.cuts.length;
    const opened: SpecWindow[] = [];
    const whole: SpecWindow[] = [];
    for (const { spec, windowType, changes } of specs) {
      changes.changed.forEach((window, i) => {
        const kind = changes.kinds?.[i] ?? 'reshaped';
        const id = window.id ?? -1;
        const events = this.windows.get(id)?.events ?? 0;
        // Sessions merge: a merged-away session must not come back from its opened header.
        if (kind === 'opened' && windowType !== 'session' && events <= MAX_LOGGED_EVENTS) opened.push({ spec, window });
        else if (kind !== 'grown' || events > MAX_LOGGED_EVENTS) whole.push({ spec, window });
      });
    }
    const removedIds = specs.flatMap(({ changes }) => changes.removed);
    const openings = openedRecords(first + eventRecords, first, opened, OPENED_RECORD_BYTES);
    const next = first + eventRecords + openings.length;
    // Records released now are deleted at the next checkpoint, once this one is committed:
    // an interrupted checkpoint then deletes no record a committed state needs.
    const deleted: number[] = this.orphans;
    const released: number[] = [];
    /** This interval's numbers no window needs: not written, but deleted (an interrupted checkpoint may have written them). */
    const unneeded: number[] = [];
    const release = (id: number, w: WindowLineage): void => {
      for (const seq of w.records) {
        const ids = this.dependents.get(seq);
        if (ids === undefined) continue;
        ids.delete(id);
        if (ids.size > 0) continue;
        this.dependents.delete(seq);
        if (seq < first) released.push(seq);
      }
      w.records.length = 0;
      w.events = 0;
    };
    for (const { window } of whole) {
      const id = window.id ?? -1;
      let w = this.windows.get(id);
      if (w === undefined) this.windows.set(id, (w = { records: [], events: 0, based: true }));
      release(id, w);
      w.based = true;
    }
    // First, so that this checkpoint's own record of such a window (same identity: the task is deterministic) follows.
    const messages: ChangelogMessage[] = this.stale.map((id) => ({ partition: statePartition, key: windowKey(this.task, id), value: null }));
    const staleCount = messages.length;
    this.stale = [];
    for (const id of removedIds) {
      const w = this.windows.get(id);
      if (w !== undefined) {
        release(id, w);
        this.windows.delete(id);
      }
      // A window without a lineage was restored from its window record.
      if (w?.based ?? true) messages.push({ partition: statePartition, key: windowKey(this.task, id), value: null });
    }
    const records: ChangelogMessage[] = [];
    let from = { structure: 0, values: 0 };
    this.cuts.forEach((to, i) => {
      const seq = first + i;
      if (!this.dependents.has(seq)) unneeded.push(seq);
      else {
        const bytes = eventsRecord(seq, this.names, this.structure.values.subarray(from.structure, to.structure), this.values.values.subarray(from.values, to.values));
        records.push({ partition: statePartition, key: operationsKey(this.task, seq), value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
      }
      from = to;
    });
    for (const { seq, bytes, ids } of openings) {
      for (const id of ids) {
        let w = this.windows.get(id);
        if (w === undefined) this.windows.set(id, (w = { records: [], events: 0, based: false }));
        w.based = false;
        w.records.push(seq);
      }
      this.dependents.set(seq, new Set(ids));
      records.push({ partition: statePartition, key: operationsKey(this.task, seq), value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
    }
    for (const window of whole) records.push(windowMessage(this.task, statePartition, window, next, metrics));
    for (const seq of [...deleted, ...unneeded]) records.push({ partition: statePartition, key: operationsKey(this.task, seq), value: null });
    this.orphans = released;
    this.nextRecord = next;
    this.resetLog();
    return [...messages.slice(0, staleCount), ...records, ...messages.slice(staleCount), commitMessage(this.task, statePartition, { ...commit, nextRecord: next })];
  }

  /** Live operations records (for tests and metrics). */
  get liveRecords(): number {
    return this.dependents.size;
  }

  private nameOf(field: string): number {
    let i = this.nameIndex.get(field);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(field);
      this.nameIndex.set(field, i);
    }
    return i;
  }

  /** Ends the current events record. */
  private cut(): void {
    this.cutStructure = this.structure.length;
    this.cutValues = this.values.length;
    this.cuts.push({ structure: this.cutStructure, values: this.cutValues });
  }

  private resetLog(): void {
    this.structure.clear();
    this.values.clear();
    this.cuts = [];
    this.cutStructure = 0;
    this.cutValues = 0;
    if (this.fixed === undefined) {
      this.names = [];
      this.nameIndex = new Map();
    }
  }
}
