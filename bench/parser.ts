/**
 * Parser benchmark: prints one JSON object.
 *   events_per_sec   NDJSON lines of bench events through `createEventParser` (median of runs)
 *   ns_per_event     the same as a cost per line
 * The parser is on the hot path of every source, so its input checks must stay
 * cheap next to `JSON.parse` itself (`json_parse_events_per_sec`, the floor).
 * Run: npx tsx bench/parser.ts
 */
import { createEventParser } from '../src/events/index.js';
import { benchEvents } from './events.js';
import { median } from './stats.js';

const EVENTS = 200_000;
const RUNS = 7;

const lines = benchEvents({ count: EVENTS, keys: 1_000, disorderMs: 5_000 }).map((r) => JSON.stringify(r.value));
// As the default configuration builds it: the future-timestamp check on.
const parse = createEventParser({ timeField: 'timestamp', keyFields: ['model'], metricFields: [], maxFutureMs: 86_400_000 });

function rate(run: () => number): number {
  run(); // warm-up: JIT and inline caches
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    if (run() !== EVENTS) throw new Error('not every line parsed');
    rates.push(EVENTS / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

const parserRate = rate(() => {
  let records = 0;
  for (let i = 0; i < lines.length; i++) if (parse(lines[i]!).kind === 'record') records++;
  return records;
});
const jsonRate = rate(() => {
  let objects = 0;
  for (let i = 0; i < lines.length; i++) if (typeof JSON.parse(lines[i]!) === 'object') objects++;
  return objects;
});

console.log(
  JSON.stringify({
    events_per_sec: Math.round(parserRate),
    ns_per_event: Math.round(1e9 / parserRate),
    json_parse_events_per_sec: Math.round(jsonRate),
  }),
);
