import type { Aggregator } from '../stream/aggregator.js';
import type { TimeWindow, WindowResult, WindowType, WindowedRecord } from '../stream/elements.js';
import { TimerQueue } from './timerQueue.js';

/** The state of one (key, window): an accumulator, never the raw records. */
interface WindowSlot<A> {
  /** Stable identity across merges and restores: what a changelog keys the window by. */
  readonly id: number;
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
  /** Changed since the last `takeChanges` (and listed in `changed`). */
  dirty: boolean;
  /** How it changed since the last `takeChanges` (see `WindowChangeKind`). */
  change: WindowChangeKind;
  /** `count` when the window last emitted an early result (0: never); not checkpointed. */
  earlyCount: number;
  /** The watermark at which the window comes within its preparation horizon (its live prepare timer). */
  prepareAt: number;
  /** Listed in `toPrepare`. */
  queuedToPrepare: boolean;
  /** `Aggregator.precompute` ran on its accumulator (once per window). */
  precomputed: boolean;
}

/** A plain copy of one window's state, for checkpoints. */
export interface WindowSnapshot<A> {
  /** The window's stable identity; absent in snapshots written before identities existed. */
  readonly id?: number;
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
  /**
   * The identity the next window gets. Kept so that a restored state numbers new windows
   * exactly as the run it came from did (a changelog keys windows by identity).
   */
  readonly nextId?: number;
}

/**
 * How a window changed since the previous `takeChanges`: `opened` (created, then only
 * accumulated records), `grown` (only accumulated records), `reshaped` (anything else:
 * fired, merged into, given new bounds, an add that threw, or a rewrite asked for). A
 * changelog can log an opened or grown window's added records instead of its state.
 */
export type WindowChangeKind = 'opened' | 'grown' | 'reshaped';

/** What changed since the previous `takeChanges`: an incremental checkpoint (a changelog). */
export interface WindowChanges<A> {
  /**
   * Windows created or updated (accumulated, fired, merged into), with their current state;
   * with an `onAccumulate` log, not those that only accumulated records (`grown`: the log
   * holds what changed).
   */
  readonly changed: readonly WindowSnapshot<A>[];
  /** Per window of `changed`, how it changed; absent: every one `reshaped`. */
  readonly kinds?: readonly WindowChangeKind[];
  /** Identities of windows purged or merged away. */
  readonly removed: readonly number[];
}

export type EmitResult<R> = (result: WindowResult<R>) => void;

/**
 * A position in the (key, start) order of windows: a page starts after it.
 * `(key, start)` names one window, since a key's windows never share a start
 * (sessions of a key neither overlap nor touch).
 */
export interface WindowCursor {
  readonly key: string;
  readonly start: number;
  /**
   * Where a view merges several window states (a `windowSet`'s branches, one per spec), the
   * name of the one the window is in: two specs can each hold a window of one key and start,
   * and pages order those by this name. One state's `peekPage` ignores it.
   */
  readonly spec?: string;
}

export interface WindowPageQuery {
  /** Only this key's windows. */
  readonly key?: string;
  /** Start after this window (the previous page's `next`). */
  readonly after?: WindowCursor;
  /** At most this many windows (≥ 1). */
  readonly limit: number;
}

export interface WindowPage<R> {
  /**
   * Current results in (key, start) order: keys by UTF-16 code units, then starts
   * ascending. Each result is computed as it is iterated (results are the costly
   * part), so a caller can spread a page over several turns of its event loop.
   */
  readonly windows: Iterable<WindowResult<R>>;
  /** Where the next page starts; undefined on the last page. */
  readonly next: WindowCursor | undefined;
}

/**
 * Where window identities come from. Each `aggregate` has its own, unless several share
 * one (a `windowSet`'s branches): then identities are unique across them, and a changelog
 * can key the windows of every branch by identity alone.
 */
export class WindowIdentities {
  /** The identity the next window gets. */
  next = 0;

  take(): number {
    return this.next++;
  }

  /** Restored identities (and those up to `next`) are never given again. */
  reserve(next: number): void {
    if (next > this.next) this.next = next;
  }
}

/** The (key, start) order of pages. */
const compareWindows = (a: WindowCursor, b: WindowCursor): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : a.start - b.start;

/** Empty per-key window maps kept for keys that will likely open a window again (see `purge`). */
const EMPTY_KEYS_KEPT = 10_000;

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
  /** Fixed-size windows: key → window start → slot. A key's map is kept a while once empty (see `purge`). */
  private readonly fixed = new Map<string, Map<number, WindowSlot<A>>>();
  /** How many of `fixed`'s maps are empty. */
  private emptyKeys = 0;
  /** Sessions: key → its live sessions (few per key). */
  private readonly sessions = new Map<string, WindowSlot<A>[]>();
  private readonly timers = new TimerQueue<WindowSlot<A>>();
  private openCount = 0;
  private timersSet = 0;
  private changed: WindowSlot<A>[] = [];
  private removed: number[] = [];
  /** With `tracksChanges`: the live windows by identity (for rewrites asked of `takeChanges`). */
  private readonly byId = new Map<number, WindowSlot<A>>();
  /** Windows not yet fired by the time the watermark comes within `prepareAhead` of their end. */
  private readonly prepareTimers = new TimerQueue<WindowSlot<A>>();
  /** Windows within the horizon whose accumulator changed since it was last prepared. */
  private toPrepare: WindowSlot<A>[] = [];

  constructor(
    private readonly aggregator: Aggregator<T, A, R>,
    private readonly allowedLateness: number,
    private readonly emit: EmitResult<R>,
    /** Record changes for `takeChanges` (incremental checkpoints); off, nothing is kept. */
    private readonly tracksChanges = false,
    /** Called with each record a window accumulated (its identity, the record's value): a changelog's log of additions. */
    private readonly onAccumulate?: (id: number, value: T) => void,
    private readonly identities = new WindowIdentities(),
    /** How far ahead of the watermark windows are prepared (`Aggregator.prepare`); NaN: never. */
    private readonly prepareAhead = NaN,
  ) {}

  /** Windows waiting for `prepareDue`. */
  get pendingPrepares(): number {
    return this.toPrepare.length;
  }

  /**
   * Prepares (`Aggregator.prepare`, or `precompute` for a busy window) up to `limit` windows
   * that will fire next and changed since they were last prepared (`pendingPrepares` tells how
   * many still wait). A `prepare` that throws leaves its window to be computed when it fires,
   * where the error belongs.
   */
  prepareDue(limit: number): void {
    const queue = this.toPrepare;
    let done = 0;
    while (queue.length > 0 && done < limit) {
      const slot = queue.pop()!;
      slot.queuedToPrepare = false;
      if (!slot.alive || slot.revision >= 0 || slot.count === 0) continue;
      try {
        if (!this.isBusy(slot)) this.aggregator.prepare?.(slot.accumulator);
        else if (!slot.precomputed) {
          slot.precomputed = true;
          this.aggregator.precompute?.(slot.accumulator);
        }
      } catch {
        // Firing calls `result`, which meets the same error in the stream's own order.
      }
      done++;
    }
  }

  /**
   * Lists `slot` to be prepared when it is within the horizon, else sets its prepare timer.
   * Only a window that has taken records less often than once per `prepareAhead` (event time
   * open per record) is prepared: it likely takes none before it fires. A busier one would be
   * prepared again after each record of the horizon, each time costing about what the record
   * itself costs, right before its end: at 50k events/s over 1,000 keys that was a quarter of
   * a window end's time, for results that were mostly stale when it fired. A busy window is
   * precomputed instead, once (`Aggregator.precompute`: work its later records do not undo).
   */
  private schedulePrepare(slot: WindowSlot<A>): void {
    const { prepare, precompute } = this.aggregator;
    if (slot.revision >= 0 || Number.isNaN(this.prepareAhead) || (prepare === undefined && precompute === undefined)) return;
    const at = slot.end - this.prepareAhead;
    if (this.watermark >= at) {
      if (this.isBusy(slot) ? slot.precomputed || precompute === undefined : prepare === undefined) return;
      if (!slot.queuedToPrepare) {
        slot.queuedToPrepare = true;
        this.toPrepare.push(slot);
      }
    } else if (at !== slot.prepareAt) {
      slot.prepareAt = at;
      this.prepareTimers.push(at, slot);
    }
  }

  /** Whether `slot` took records at least once per `prepareAhead` of event time so far. */
  private isBusy(slot: WindowSlot<A>): boolean {
    return slot.count > 0 && Math.max(0, this.watermark - slot.start) / slot.count < this.prepareAhead;
  }

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
    while (this.prepareTimers.size > 0 && this.prepareTimers.peekTime() <= time) {
      const at = this.prepareTimers.peekTime();
      const slot = this.prepareTimers.pop();
      if (slot.alive && slot.prepareAt === at) this.schedulePrepare(slot);
    }
    return true;
  }

  /**
   * Emits an early result (`early: true`, revision −1) of every window not yet fired that
   * took records since its last early result: the speculative partial aggregate that
   * dashboards show before the window closes. Changes no state a checkpoint holds.
   * Returns how many were emitted.
   */
  emitEarly(): number {
    let emitted = 0;
    for (const slot of this.slots()) {
      if (slot.revision >= 0 || slot.count === 0 || slot.count === slot.earlyCount) continue;
      slot.earlyCount = slot.count;
      this.emit(this.resultOf(slot, true));
      emitted++;
    }
    return emitted;
  }

  /** Every window's current results, for queryable state; not a firing. */
  *peek(key?: string): Generator<WindowResult<R>> {
    for (const slot of this.slots()) if (key === undefined || slot.key === key) yield this.resultOf(slot);
  }

  /**
   * One page of `peek`, for live queries over many windows. A window open for
   * the whole walk from page to page appears exactly once; one opened or purged
   * meanwhile may or may not. The cost is one pass over the open windows (or
   * over the key's) with a bounded sort (~2 ms for 20,000 windows); results are
   * computed for the page's windows only, as they are iterated.
   */
  peekPage({ key, after, limit }: WindowPageQuery): WindowPage<R> {
    if (!(Number.isSafeInteger(limit) && limit >= 1)) throw new RangeError(`peekPage limit must be an integer ≥ 1, got ${String(limit)}`);
    // The `limit + 1` first windows after `after`: one more than the page tells whether a next page exists.
    let page: WindowSlot<A>[] = [];
    // Once trimmed, the last kept window: anything after it cannot be among the first `limit + 1`.
    let bound: WindowSlot<A> | undefined;
    const visit = (slotKey: string, slots: Iterable<WindowSlot<A>>): void => {
      // Whole keys outside (after, bound] are skipped without looking at their windows.
      if ((after !== undefined && slotKey < after.key) || (bound !== undefined && slotKey > bound.key)) return;
      for (const slot of slots) {
        if ((after !== undefined && compareWindows(slot, after) <= 0) || (bound !== undefined && compareWindows(slot, bound) >= 0)) continue;
        page.push(slot);
        if (page.length > 2 * (limit + 1)) {
          page = page.sort(compareWindows).slice(0, limit + 1);
          bound = page[limit];
        }
      }
    };
    if (key !== undefined) {
      visit(key, this.fixed.get(key)?.values() ?? []);
      visit(key, this.sessions.get(key) ?? []);
    } else {
      for (const [slotKey, byStart] of this.fixed) visit(slotKey, byStart.values());
      for (const [slotKey, sessions] of this.sessions) visit(slotKey, sessions);
    }
    page.sort(compareWindows);
    const last = page.length > limit ? page[limit - 1] : undefined;
    const slots = page.slice(0, limit);
    const resultOf = (slot: WindowSlot<A>): WindowResult<R> => this.resultOf(slot);
    return {
      windows: { *[Symbol.iterator]() { for (const slot of slots) yield resultOf(slot); } },
      next: last === undefined ? undefined : { key: last.key, start: last.start },
    };
  }

  /** The watermark at which the next window fires or is purged (∞ when none); a stale timer may make it earlier, never later. */
  nextTimer(): number {
    return this.timers.peekTime();
  }

  /** The snapshot without its windows: what an incremental checkpoint records beside the changes. */
  header(): Omit<WindowStateSnapshot<A>, 'windows'> {
    return { watermark: this.watermark, windowType: this.windowType, nextId: this.identities.next };
  }

  snapshot(): WindowStateSnapshot<A> {
    const windows: WindowSnapshot<A>[] = [];
    for (const s of [...this.slots()].sort((a, b) => a.timerOrder - b.timerOrder)) windows.push(this.copyOf(s));
    return { watermark: this.watermark, windowType: this.windowType, windows, nextId: this.identities.next };
  }

  /**
   * The windows changed and removed since the previous call (or the restore), and resets
   * that record. The accumulators are the live ones: encode them before the next record.
   * The live windows of `rewrite` are reported `reshaped` (a changelog writes them whole).
   * The cost follows the windows reported, not the records added.
   */
  takeChanges(rewrite: Iterable<number> = []): WindowChanges<A> {
    for (const id of rewrite) {
      const slot = this.byId.get(id);
      if (slot === undefined) continue;
      this.markChanged(slot);
      slot.change = 'reshaped';
    }
    const changed: WindowSnapshot<A>[] = [];
    const kinds: WindowChangeKind[] = [];
    // With a log of additions, a window that only accumulated records is in the log already.
    const logged = this.onAccumulate !== undefined;
    for (const slot of this.changed) {
      slot.dirty = false;
      if (slot.alive && !(logged && slot.change === 'grown')) {
        changed.push(this.copyOf(slot));
        kinds.push(slot.change);
      }
      slot.change = 'grown';
    }
    const removed = this.removed;
    this.changed = [];
    this.removed = [];
    return { changed, kinds, removed };
  }

  restore(snapshot: WindowStateSnapshot<A>): void {
    this.clear();
    this.watermark = snapshot.watermark;
    this.windowType = snapshot.windowType;
    this.identities.reserve(snapshot.nextId ?? 0);
    for (const w of snapshot.windows) if (w.id !== undefined) this.identities.reserve(w.id + 1);
    for (const w of snapshot.windows) {
      const slot = this.createSlot(w.key, w.partition, w, w.accumulator, w.id);
      // Restored state is what the changelog holds already.
      slot.change = 'grown';
      slot.count = w.count;
      slot.revision = w.revision;
      if (this.windowType === 'session') this.sessionsOf(w.key).push(slot);
      else this.insertFixed(this.windowsOf(w.key), w.start, slot);
      this.scheduleOrPurge(slot);
      if (slot.alive) this.schedulePrepare(slot);
    }
    // A key's sessions are listed in creation (identity) order live, and a merge folds them in
    // that order (floating-point sums depend on it); a snapshot lists them in firing order.
    if (this.windowType === 'session') for (const sessions of this.sessions.values()) sessions.sort((a, b) => a.id - b.id);
  }

  clear(): void {
    this.fixed.clear();
    this.emptyKeys = 0;
    this.sessions.clear();
    this.timers.clear();
    this.prepareTimers.clear();
    this.toPrepare = [];
    this.byId.clear();
    this.openCount = 0;
    this.changed = [];
    this.removed = [];
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
        this.insertFixed(byStart, window.start, slot);
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
      this.markChanged(target);
      target.change = 'reshaped';
      this.retire(other);
      sessions.splice(sessions.indexOf(other), 1);
    }
    if (sameBounds === undefined) {
      // New bounds make a new window: its revisions start again when it fires.
      target.start = start;
      target.end = end;
      target.revision = -1;
      this.markChanged(target);
      target.change = 'reshaped';
      this.scheduleOrPurge(target);
    }
    return target;
  }

  private accumulate(slot: WindowSlot<A>, value: T): void {
    try {
      slot.accumulator = this.aggregator.add(slot.accumulator, value);
    } catch (error) {
      // The accumulator may be partly updated: no log of additions can replay that.
      this.markChanged(slot);
      slot.change = 'reshaped';
      throw error;
    }
    slot.count++;
    if (!slot.dirty) this.markChanged(slot);
    this.onAccumulate?.(slot.id, value);
    // Already due (late but accepted, or created after W passed its end): emit now.
    if (this.watermark >= slot.end) this.fire(slot);
    else this.schedulePrepare(slot);
  }

  private fire(slot: WindowSlot<A>): void {
    // A window whose only record threw in `add` (aggregate's onRecordError) holds nothing to report.
    if (slot.count === 0) return;
    slot.revision++;
    if (!slot.dirty) this.markChanged(slot);
    slot.change = 'reshaped';
    this.emit(this.resultOf(slot));
  }

  /**
   * The slot's result; `early` adds `early: true` last. Two literals rather than a spread
   * of the one into the other: V8 (Node 20) builds a spread followed by more properties in
   * the runtime, which costs more than the rest of a small result.
   */
  private resultOf(slot: WindowSlot<A>, early = false): WindowResult<R> {
    const window = { type: this.windowType ?? 'tumbling', start: slot.start, end: slot.end };
    const result = this.aggregator.result(slot.accumulator);
    return early
      ? { key: slot.key, window, revision: slot.revision, count: slot.count, result, early: true }
      : { key: slot.key, window, revision: slot.revision, count: slot.count, result };
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

  private createSlot(key: string, partition: number | undefined, window: TimeWindow, accumulator: A, id = this.identities.take()): WindowSlot<A> {
    this.openCount++;
    const slot: WindowSlot<A> = { id, key, partition, start: window.start, end: window.end, accumulator, count: 0, revision: -1, timerAt: NaN, timerOrder: -1, alive: true, dirty: false, change: 'opened', earlyCount: 0, prepareAt: NaN, queuedToPrepare: false, precomputed: false };
    if (this.tracksChanges) this.byId.set(id, slot);
    return slot;
  }

  private markChanged(slot: WindowSlot<A>): void {
    if (slot.dirty || !this.tracksChanges) return;
    slot.dirty = true;
    this.changed.push(slot);
  }

  private retire(slot: WindowSlot<A>): void {
    slot.alive = false;
    this.openCount--;
    if (this.tracksChanges) {
      this.removed.push(slot.id);
      this.byId.delete(slot.id);
    }
  }

  private copyOf(s: WindowSlot<A>): WindowSnapshot<A> {
    const window = { id: s.id, key: s.key, start: s.start, end: s.end, accumulator: s.accumulator, count: s.count, revision: s.revision };
    return s.partition === undefined ? window : { ...window, partition: s.partition };
  }

  private purge(slot: WindowSlot<A>): void {
    this.retire(slot);
    const byStart = this.fixed.get(slot.key);
    if (byStart !== undefined) {
      byStart.delete(slot.start);
      // A key whose window just ended usually opens the next one within moments: its empty map
      // stays, instead of every key's map being deleted from and added back to `fixed` around
      // each window end (a twentieth of a window end's time at 1,000 keys). Empty maps go once
      // they outnumber both EMPTY_KEYS_KEPT and twice the keys holding windows.
      if (byStart.size === 0 && ++this.emptyKeys > Math.max(EMPTY_KEYS_KEPT, 2 * (this.fixed.size - this.emptyKeys))) this.dropEmptyKeys();
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
      this.emptyKeys++;
    }
    return byStart;
  }

  private insertFixed(byStart: Map<number, WindowSlot<A>>, start: number, slot: WindowSlot<A>): void {
    if (byStart.size === 0) this.emptyKeys--;
    byStart.set(start, slot);
  }

  private dropEmptyKeys(): void {
    for (const [key, byStart] of this.fixed) if (byStart.size === 0) this.fixed.delete(key);
    this.emptyKeys = 0;
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
