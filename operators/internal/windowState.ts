import type { Aggregator } from '../../src/stream/aggregator.js';
import type { TimeWindow, WindowResult, WindowType, WindowedRecord } from '../../src/stream/elements.js';
import { TimerQueue } from './timerQueue.js';

/** The state of one (key, window): an accumulator, never the raw records. */
interface WindowSlot<A> {
  readonly key: string;
  /** Source partition of the record that opened the window (keyed input keeps a key in one partition). */
  readonly partition: number | undefined;
  start: number;
  end: number;
  accumulator: A;
  count: number;
  /** Emissions so far under the current bounds, minus one: −1 until the window fires. */
  revision: number;
  /** Time of the slot's one live timer; older heap entries for it are stale. */
  timerAt: number;
  /** When that timer was set, relative to the others: snapshots keep this order so a restore fires ties alike. */
  timerOrder: number;
  alive: boolean;
}

/** A plain copy of one window's state, for checkpoints. */
export interface WindowSnapshot<A> {
  readonly key: string;
  /** Source partition of the record that opened the window, where records carry one. */
  readonly partition?: number;
  readonly start: number;
  readonly end: number;
  readonly accumulator: A;
  readonly count: number;
  readonly revision: number;
}

export interface WindowStateSnapshot<A> {
  readonly watermark: number;
  readonly windowType: WindowType | undefined;
  readonly windows: readonly WindowSnapshot<A>[];
}

export type EmitResult<R> = (result: WindowResult<R>) => void;

/**
 * Keyed window state, fired by watermarks (Flink's WindowOperator without the
 * assigner). Window `[s, e)` fires when `W ≥ e`; a record for it while
 * `W < e + allowedLateness` updates it and re-emits with the next revision; at
 * `W ≥ e + allowedLateness` its state is purged. Merging assignments (sessions)
 * merge the windows of a key that overlap or touch.
 */
export class KeyedWindowState<T, A, R> {
  private watermark = -Infinity;
  private windowType: WindowType | undefined;
  /** Fixed-size windows: key → window start → slot. */
  private readonly fixed = new Map<string, Map<number, WindowSlot<A>>>();
  /** Sessions: key → its live sessions (few per key). */
  private readonly sessions = new Map<string, WindowSlot<A>[]>();
  private readonly timers = new TimerQueue<WindowSlot<A>>();
  private openCount = 0;
  private timersSet = 0;

  constructor(
    private readonly aggregator: Aggregator<T, A, R>,
    private readonly allowedLateness: number,
    private readonly emit: EmitResult<R>,
  ) {}

  get currentWatermark(): number {
    return this.watermark;
  }

  /** Windows holding state (fired or not, until purged). */
  get openWindows(): number {
    return this.openCount;
  }

  /** Adds a record to its windows; returns false when it was too late for all of them. */
  add(record: WindowedRecord<T>): boolean {
    this.windowType = record.assignment.type;
    return record.assignment.merging ? this.addToSession(record) : this.addToFixed(record);
  }

  /** Advances event time: fires and purges what is due. Returns false if `time` is not an advance. */
  advanceWatermark(time: number): boolean {
    if (time <= this.watermark) return false;
    this.watermark = time;
    while (this.timers.size > 0 && this.timers.peekTime() <= time) {
      const dueAt = this.timers.peekTime();
      const slot = this.timers.pop();
      if (!slot.alive || slot.timerAt !== dueAt) continue;
      if (slot.revision < 0) this.fire(slot);
      this.scheduleOrPurge(slot);
    }
    return true;
  }

  /** Every window's current results, for queryable state; not a firing. */
  *peek(key?: string): Generator<WindowResult<R>> {
    for (const slot of this.slots()) if (key === undefined || slot.key === key) yield this.resultOf(slot);
  }

  snapshot(): WindowStateSnapshot<A> {
    const windows: WindowSnapshot<A>[] = [];
    for (const s of [...this.slots()].sort((a, b) => a.timerOrder - b.timerOrder)) {
      const window = { key: s.key, start: s.start, end: s.end, accumulator: s.accumulator, count: s.count, revision: s.revision };
      windows.push(s.partition === undefined ? window : { ...window, partition: s.partition });
    }
    return { watermark: this.watermark, windowType: this.windowType, windows };
  }

  restore(snapshot: WindowStateSnapshot<A>): void {
    this.clear();
    this.watermark = snapshot.watermark;
    this.windowType = snapshot.windowType;
    for (const w of snapshot.windows) {
      const slot = this.createSlot(w.key, w.partition, w, w.accumulator);
      slot.count = w.count;
      slot.revision = w.revision;
      if (this.windowType === 'session') this.sessionsOf(w.key).push(slot);
      else this.windowsOf(w.key).set(w.start, slot);
      this.scheduleOrPurge(slot);
    }
  }

  clear(): void {
    this.fixed.clear();
    this.sessions.clear();
    this.timers.clear();
    this.openCount = 0;
  }

  private addToFixed(record: WindowedRecord<T>): boolean {
    let accepted = false;
    const windows = record.windows;
    let byStart: Map<number, WindowSlot<A>> | undefined;
    for (let i = 0; i < windows.length; i++) {
      const window = windows[i]!;
      if (this.isTooLate(window.end)) continue;
      byStart ??= this.windowsOf(record.key);
      let slot = byStart.get(window.start);
      if (slot === undefined) {
        slot = this.createSlot(record.key, record.partition, window, this.aggregator.create());
        byStart.set(window.start, slot);
        this.scheduleOrPurge(slot);
      }
      this.accumulate(slot, record.value);
      accepted = true;
    }
    return accepted;
  }

  private addToSession(record: WindowedRecord<T>): boolean {
    const proto = record.windows[0];
    if (proto === undefined) return false;
    const sessions = this.sessionsOf(record.key);
    let start = proto.start;
    let end = proto.end;
    const overlapping: WindowSlot<A>[] = [];
    for (const s of sessions) {
      if (s.start <= proto.end && proto.start <= s.end) {
        overlapping.push(s);
        start = Math.min(start, s.start);
        end = Math.max(end, s.end);
      }
    }
    // A live session always ends after W − allowedLateness, so a merge is never too late.
    if (overlapping.length === 0 && this.isTooLate(end)) {
      if (sessions.length === 0) this.sessions.delete(record.key);
      return false;
    }
    const slot = this.mergeSessions(record.key, record.partition, sessions, overlapping, start, end);
    this.accumulate(slot, record.value);
    return true;
  }

  /** The slot for `[start, end)`: one of `overlapping` with the others merged in, or a new one. */
  private mergeSessions(
    key: string,
    partition: number | undefined,
    sessions: WindowSlot<A>[],
    overlapping: WindowSlot<A>[],
    start: number,
    end: number,
  ): WindowSlot<A> {
    const sameBounds = overlapping.find((s) => s.start === start && s.end === end);
    const target = sameBounds ?? overlapping[0];
    if (target === undefined) {
      const created = this.createSlot(key, partition, { start, end }, this.aggregator.create());
      sessions.push(created);
      this.scheduleOrPurge(created);
      return created;
    }
    for (const other of overlapping) {
      if (other === target) continue;
      target.accumulator = this.aggregator.merge(target.accumulator, other.accumulator);
      target.count += other.count;
      this.retire(other);
      sessions.splice(sessions.indexOf(other), 1);
    }
    if (sameBounds === undefined) {
      // New bounds make a new window: its revisions start again when it fires.
      target.start = start;
      target.end = end;
      target.revision = -1;
      this.scheduleOrPurge(target);
    }
    return target;
  }

  private accumulate(slot: WindowSlot<A>, value: T): void {
    slot.accumulator = this.aggregator.add(slot.accumulator, value);
    slot.count++;
    // Already due (late but accepted, or created after W passed its end): emit now.
    if (this.watermark >= slot.end) this.fire(slot);
  }

  private fire(slot: WindowSlot<A>): void {
    // A window whose only record threw in `add` (aggregate's onRecordError) holds nothing to report.
    if (slot.count === 0) return;
    slot.revision++;
    this.emit(this.resultOf(slot));
  }

  private resultOf(slot: WindowSlot<A>): WindowResult<R> {
    return {
      key: slot.key,
      window: { type: this.windowType ?? 'tumbling', start: slot.start, end: slot.end },
      revision: slot.revision,
      count: slot.count,
      result: this.aggregator.result(slot.accumulator),
    };
  }

  /** Sets the slot's next timer: its end while unfired, then its purge time. */
  private scheduleOrPurge(slot: WindowSlot<A>): void {
    const purgeAt = slot.end + this.allowedLateness;
    if (this.watermark >= purgeAt) {
      this.purge(slot);
      return;
    }
    const next = slot.revision < 0 && this.watermark < slot.end ? slot.end : purgeAt;
    if (next !== slot.timerAt) {
      slot.timerAt = next;
      slot.timerOrder = this.timersSet++;
      this.timers.push(next, slot);
    }
  }

  private isTooLate(end: number): boolean {
    return this.watermark >= end + this.allowedLateness;
  }

  private createSlot(key: string, partition: number | undefined, window: TimeWindow, accumulator: A): WindowSlot<A> {
    this.openCount++;
    return { key, partition, start: window.start, end: window.end, accumulator, count: 0, revision: -1, timerAt: NaN, timerOrder: -1, alive: true };
  }

  private retire(slot: WindowSlot<A>): void {
    slot.alive = false;
    this.openCount--;
  }

  private purge(slot: WindowSlot<A>): void {
    this.retire(slot);
    const byStart = this.fixed.get(slot.key);
    if (byStart !== undefined) {
      byStart.delete(slot.start);
      if (byStart.size === 0) this.fixed.delete(slot.key);
      return;
    }
    const sessions = this.sessions.get(slot.key);
    if (sessions !== undefined) {
      sessions.splice(sessions.indexOf(slot), 1);
      if (sessions.length === 0) this.sessions.delete(slot.key);
    }
  }

  private windowsOf(key: string): Map<number, WindowSlot<A>> {
    let byStart = this.fixed.get(key);
    if (byStart === undefined) {
      byStart = new Map();
      this.fixed.set(key, byStart);
    }
    return byStart;
  }

  private sessionsOf(key: string): WindowSlot<A>[] {
    let list = this.sessions.get(key);
    if (list === undefined) {
      list = [];
      this.sessions.set(key, list);
    }
    return list;
  }

  private *slots(): Generator<WindowSlot<A>> {
    for (const byStart of this.fixed.values()) yield* byStart.values();
    for (const list of this.sessions.values()) yield* list;
  }
}
