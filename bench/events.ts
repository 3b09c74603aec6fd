/**
 * Deterministic synthetic feedback events for the benchmarks: `count` events,
 * `keys` models, one event per `spacingMs` of event time, with uniform disorder
 * of ±`disorderMs`.
 */
import type { FeedbackEvent } from '../src/events/index.js';
import type { StreamRecord } from '../src/stream/elements.js';

export interface BenchEventsOptions {
  count: number;
  keys: number;
  disorderMs: number;
  spacingMs?: number;
  startMs?: number;
  seed?: number;
}

/** mulberry32: small, fast, and good enough to spread benchmark data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function benchEvents(options: BenchEventsOptions): StreamRecord<FeedbackEvent>[] {
  const { count, keys, disorderMs } = options;
  const spacing = options.spacingMs ?? 1;
  const start = options.startMs ?? Date.UTC(2026, 10, 26, 10);
  const random = prng(options.seed ?? 42);
  const models = Array.from({ length: keys }, (_, i) => `model-${i}`);
  const records: StreamRecord<FeedbackEvent>[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const model = models[Math.floor(random() * keys)]!;
    const timestamp = Math.round(start + i * spacing + (random() * 2 - 1) * disorderMs);
    const tokens = 50 + Math.floor(random() * 1500);
    const metrics: Record<string, number> = {
      latency_ms: Math.round(Math.exp(6.2 + 0.6 * (random() + random() + random() - 1.5)) * 10) / 10,
      cost_usd: Math.round(tokens * 4e-6 * 1e6) / 1e6,
      tokens,
    };
    if (random() < 0.3) metrics['rating'] = 1 + Math.floor(random() * 5);
    const value: FeedbackEvent = {
      event_id: `e-${i}`,
      timestamp: new Date(timestamp).toISOString(),
      event_type: 'inference',
      model,
      variant: random() < 0.5 ? 'a' : 'b',
      metrics,
    };
    records[i] = { kind: 'record', value, timestamp, key: model, offset: String(i) };
  }
  return records;
}
