/**
 * Pages of open windows over several window states: the specs of one pipeline, the tasks of
 * one instance, the workers of one process. Each state pages in (key, start) order; a merged
 * page orders windows of one key and start (one per spec) by spec name, and its cursor names
 * the spec, so paging visits every window of every spec exactly once.
 */
import type { AggregateView, WindowCursor, WindowPage, WindowPageQuery } from '@llm-feedback/stream-operators';
import type { FeedbackResult, FeedbackWindowResult } from './feedback-pipeline.js';

/** The spec a result is of: a named spec's name, else its type (what an unnamed spec is named). */
export const specOf = (result: FeedbackWindowResult): string => result.result.spec ?? result.window.type;

/** Where `result` is in the order of pages. */
export const cursorOf = (result: FeedbackWindowResult): WindowCursor => ({ key: result.key, start: result.window.start, spec: specOf(result) });

/** The order of pages: keys by UTF-16 code units, then starts, then spec names (none first). */
export function compareCursors(a: WindowCursor, b: WindowCursor): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  if (a.start !== b.start) return a.start - b.start;
  const as = a.spec ?? '';
  const bs = b.spec ?? '';
  return as < bs ? -1 : as > bs ? 1 : 0;
}

/** One of the window states a view merges; `spec` names the spec it holds, where the parts are specs. */
export interface ViewPart {
  readonly view: AggregateView<FeedbackResult>;
  readonly spec?: string;
}

/** The largest double below `x`: "after (key, below(start))" is "at or after (key, start)", as no double lies between. */
function below(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  const bits = new Float64Array([x]);
  const n = new BigInt64Array(bits.buffer);
  n[0] = x > 0 ? n[0]! - 1n : n[0]! + 1n;
  return bits[0]!;
}

/**
 * One view over the window states `parts()` gives at each call (specs of a task, tasks of an
 * instance). A page is the first `limit` of every part's own page after the cursor, merged.
 */
export function mergedView(parts: () => readonly ViewPart[]): AggregateView<FeedbackResult> {
  return {
    get watermark() {
      const all = parts();
      return all.length === 0 ? -Infinity : Math.min(...all.map((p) => p.view.watermark));
    },
    get openWindows() {
      return parts().reduce((sum, p) => sum + p.view.openWindows, 0);
    },
    *peek(key?: string) {
      for (const p of parts()) yield* p.view.peek(key);
    },
    peekPage({ key, after, limit }: WindowPageQuery): WindowPage<FeedbackResult> {
      const pages = parts().map(({ view, spec }) => {
        // A spec named after the cursor's has not yet shown its window at the cursor's (key, start).
        const from = after === undefined || after.spec === undefined || spec === undefined || spec <= after.spec ? after : { key: after.key, start: below(after.start) };
        return view.peekPage({ ...(key === undefined ? {} : { key }), ...(from === undefined ? {} : { after: from }), limit });
      });
      const all = pages.flatMap((page) => [...page.windows]).sort((a, b) => compareCursors(cursorOf(a), cursorOf(b)));
      const windows = all.slice(0, limit);
      const last = windows[windows.length - 1];
      const more = all.length > limit || pages.some((page) => page.next !== undefined);
      return { windows, next: more && last !== undefined ? cursorOf(last) : undefined };
    },
  };
}

/** One view over the window states of several specs (each under its spec's name); one spec's state as it is. */
export function specsView(states: readonly { readonly name: string; readonly view: AggregateView<FeedbackResult> }[]): AggregateView<FeedbackResult> {
  if (states.length === 1) return states[0]!.view;
  const parts = states.map(({ name, view }) => ({ view, spec: name }));
  return mergedView(() => parts);
}
