/**
 * Deterministic synthetic feedback events for the benchmarks: `count` events,
 * `keys` models, one event per `spacingMs` of event time, with uniform disorder
 * of ±`disorderMs`.
 */
import { createRandom } from '../scripts/generate-sample.js';
import type { FeedbackEvent } from '../src/events/index.js';
import type { StreamRecord } from '../operators/stream/elements.js';

export interface BenchEventsOptions {
  count: number;
  keys: number;
  disorderMs: number;
  spacingMs?: number;
  startMs?: number;
  seed?: number;
}

/** One realistic event: lognormal latency, cost from tokens, a rating on 30% of events. */
export function benchEvent(id: string, timestamp: number, model: string, random: () => number): FeedbackEvent {
  const tokens = 50 + Math.floor(random() * 1500);
  const metrics: Record<string, number> = {
    latency_ms: Math.round(Math.exp(6.2 + 0.6 * (random() + random() + random() - 1.5)) * 10) / 10,
    cost_usd: Math.round(tokens * 4e-6 * 1e6) / 1e6,
    tokens,
  };
  if (random() < 0.3) metrics['rating'] = 1 + Math.floor(random() * 5);
  return { event_id: id, timestamp: new Date(timestamp).toISOString(), event_type: 'inference', model, variant: random() < 0.5 ? 'a' : 'b', metrics };
}

export function benchEvents(options: BenchEventsOptions): StreamRecord<FeedbackEvent>[] {
  const { count, keys, disorderMs } = options;
  const spacing = options.spacingMs ?? 1;
  const start = options.startMs ?? Date.UTC(2026, 10, 26, 10);
  const random = createRandom(options.seed ?? 42);
  const models = Array.from({ length: keys }, (_, i) => `model-${i}`);
  const records: StreamRecord<FeedbackEvent>[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const model = models[Math.floor(random() * keys)]!;
    const timestamp = Math.round(start + i * spacing + (random() * 2 - 1) * disorderMs);
    records[i] = { kind: 'record', value: benchEvent(`e-${i}`, timestamp, model, random), timestamp, key: model, offset: String(i) };
  }
  return records;
}
