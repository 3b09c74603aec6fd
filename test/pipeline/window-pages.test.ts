/**
 * Pages over several window specs: two specs can each hold a window of one key and start
 * (here two identical 1-minute tumbling specs and a session spec whose sessions start where
 * the minutes do), and paging must still visit every window of every spec exactly once.
 */
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { AggregateView, StreamElement, WindowCursor } from '@llm-feedback/stream-operators';
import { parseConfig } from '../../src/config/index.js';
import type { FeedbackEvent } from '../../src/events/index.js';
import { feedbackPipeline, type FeedbackResult } from '../../src/pipeline/feedback-pipeline.js';
import { compareCursors, cursorOf } from '../../src/pipeline/window-pages.js';

const T0 = Date.UTC(2026, 10, 26, 10);

function openWindows(): AggregateView<FeedbackResult> {
  const config = parseConfig(
    {
      processor: {
        state: { backend: 'memory' },
        // Nothing fires: every window stays open.
        watermark: { max_out_of_orderness_secs: 3600 },
        windows: {
          specs: [
            { name: 'b', type: 'tumbling', size_secs: 60, allowed_lateness_secs: 0 },
            { name: 'a', type: 'tumbling', size_secs: 60, allowed_lateness_secs: 0 },
            { name: 'visits', type: 'session', gap_secs: 600, allowed_lateness_secs: 0 },
          ],
        },
      },
    },
    {},
  );
  let view: AggregateView<FeedbackResult> | undefined;
  const input = new Subject<StreamElement<FeedbackEvent>>();
  input.pipe(feedbackPipeline(config, { idleness: false, onWindowState: (v) => (view = v) })).subscribe();
  // Keys whose names sort around each other, events at the start of three minutes each.
  for (const model of ['m1', 'm10', 'm2', 'x']) {
    for (const minute of [0, 1, 2]) {
      const timestamp = T0 + minute * 60_000;
      input.next({ kind: 'record', value: { event_id: `${model}-${minute}`, timestamp, model, metrics: { latency_ms: 100 + minute } } as FeedbackEvent, timestamp, key: model });
    }
  }
  return view!;
}

const label = (c: WindowCursor): string => `${c.key}@${c.start - T0}/${c.spec}`;

describe('pages over several window specs', () => {
  it('visit every window of every spec exactly once, in (key, start, spec) order, whatever the page size', () => {
    const view = openWindows();
    const every = [...view.peek()].map(cursorOf).sort(compareCursors).map(label);
    // 4 keys × (3 minutes × 2 tumbling specs + 1 session).
    expect(every).toHaveLength(28);
    expect(view.openWindows).toBe(28);
    expect(every.filter((w) => w.startsWith('m1@0/'))).toEqual(['m1@0/a', 'm1@0/b', 'm1@0/visits']);
    for (const limit of [1, 2, 3, 5, 28, 1000]) {
      const seen: string[] = [];
      let after: WindowCursor | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = view.peekPage({ limit, ...(after === undefined ? {} : { after }) });
        const windows = [...page.windows];
        expect(windows.length, `limit ${limit}`).toBeLessThanOrEqual(limit);
        seen.push(...windows.map((w) => label(cursorOf(w))));
        if (page.next === undefined) break;
        after = page.next;
      }
      expect(seen, `limit ${limit}`).toEqual(every);
    }
    // One key's windows, a page at a time.
    const m1: string[] = [];
    let after: WindowCursor | undefined;
    do {
      const page = view.peekPage({ key: 'm1', limit: 2, ...(after === undefined ? {} : { after }) });
      m1.push(...[...page.windows].map((w) => label(cursorOf(w))));
      after = page.next;
    } while (after !== undefined);
    expect(m1).toEqual(every.filter((w) => w.startsWith('m1@')));
  });
});
