/**
 * Deterministic sample of feedback events (DESIGN.md input format), written to
 * data/sample-events.ndjson by `npm run generate:sample`. `generateEvents` is
 * exported so tests and benchmarks can make other sizes from a seed.
 *
 * What the sample exercises, with the default configuration in mind (watermark
 * out-of-orderness 30 s, allowed lateness 60 s, 5-minute windows):
 * - lines arrive in a Poisson process; an event's time trails its arrival by
 *   0–20 s, so most disorder stays within the watermark bound;
 * - `lateFraction` of events trail by 35–85 s: past the watermark, so some land in
 *   windows that already fired (revisions), but never more than 90 s behind
 *   (30 s + 60 s), so none is too late;
 * - `tooLateFraction` trail by 7–12 min: beyond 30 s + 300 s + 60 s, too late for
 *   every tumbling or sliding window of the default sizes;
 * - `invalidPerKind` lines of each dead-letter reason the parser knows.
 * Metrics per model: lognormal latency, lognormal token counts (integers), cost
 * from tokens at list prices, ratings 1–5 on separate `rating` events; a few
 * `null` costs (self-hosted llama with unknown cost).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** sfc32 seeded through splitmix32: small, fast, and good enough for test data (no Math.random). */
export function createRandom(seed: number): () => number {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

interface ModelProfile {
  /** Median latency (ms) and log-space spread. */
  readonly latencyMs: number;
  readonly latencySigma: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** USD per million prompt / completion tokens. */
  readonly inputPrice: number;
  readonly outputPrice: number;
  /** Probabilities of ratings 1..5. */
  readonly ratings: readonly number[];
  /** Share of inference events whose cost is unknown (null). */
  readonly unknownCost: number;
}

const PROFILES: Readonly<Record<string, ModelProfile>> = {
  'gpt-4o': { latencyMs: 850, latencySigma: 0.45, promptTokens: 650, completionTokens: 260, inputPrice: 2.5, outputPrice: 10, ratings: [0.03, 0.05, 0.17, 0.4, 0.35], unknownCost: 0 },
  'gpt-4o-mini': { latencyMs: 430, latencySigma: 0.4, promptTokens: 600, completionTokens: 220, inputPrice: 0.15, outputPrice: 0.6, ratings: [0.05, 0.1, 0.25, 0.38, 0.22], unknownCost: 0 },
  'claude-3-5-sonnet': { latencyMs: 1100, latencySigma: 0.5, promptTokens: 700, completionTokens: 320, inputPrice: 3, outputPrice: 15, ratings: [0.02, 0.05, 0.15, 0.38, 0.4], unknownCost: 0 },
  'llama-3.1-70b': { latencyMs: 700, latencySigma: 0.6, promptTokens: 550, completionTokens: 240, inputPrice: 0.88, outputPrice: 0.88, ratings: [0.07, 0.12, 0.28, 0.35, 0.18], unknownCost: 0.05 },
  'mistral-large': { latencyMs: 950, latencySigma: 0.5, promptTokens: 600, completionTokens: 250, inputPrice: 2, outputPrice: 6, ratings: [0.05, 0.09, 0.24, 0.37, 0.25], unknownCost: 0 },
};

export const DEFAULT_MODELS: readonly string[] = Object.keys(PROFILES);
/** Traffic share of each default model. */
const DEFAULT_WEIGHTS = [0.3, 0.25, 0.2, 0.15, 0.1];

export interface GenerateOptions {
  /** Valid events to generate (invalid lines come on top). */
  readonly count: number;
  readonly seed: number;
  /** Event time of the first arrivals, epoch ms. */
  readonly startMs: number;
  /** Event-time span of the arrivals. Default 2 hours. */
  readonly durationMs?: number;
  /** Model names; unknown names reuse the built-in profiles in turn. Default: the five built-in models, weighted. */
  readonly models?: readonly string[];
  readonly variants?: readonly string[];
  /** Event times trail arrival by up to this. Default 20 s. */
  readonly maxDisorderMs?: number;
  /** Default 0.03. */
  readonly lateFraction?: number;
  /** Default 0.003. */
  readonly tooLateFraction?: number;
  /** Share of timestamps written as epoch ms instead of ISO strings. Default 0.15. */
  readonly epochFraction?: number;
  /** Share of `rating` events. Default 0.2. */
  readonly ratingFraction?: number;
  /** Invalid lines of each kind. Default 0. */
  readonly invalidPerKind?: number;
}

/** The bundled sample: data/sample-events.ndjson. */
export const SAMPLE_OPTIONS: GenerateOptions = {
  count: 20_000,
  seed: 20261126,
  startMs: Date.UTC(2026, 10, 26, 10),
  durationMs: 2 * 3_600_000,
  invalidPerKind: 10,
};

const round = (value: number, digits: number): number => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};

/** NDJSON lines (without newlines), in arrival order. Same options, same lines. */
export function generateEvents(options: GenerateOptions): string[] {
  const random = createRandom(options.seed);
  const durationMs = options.durationMs ?? 2 * 3_600_000;
  const models = options.models ?? DEFAULT_MODELS;
  const weights = options.models === undefined ? DEFAULT_WEIGHTS : models.map(() => 1 / models.length);
  const variants = options.variants ?? ['a', 'b'];
  const maxDisorderMs = options.maxDisorderMs ?? 20_000;
  const lateFraction = options.lateFraction ?? 0.03;
  const tooLateFraction = options.tooLateFraction ?? 0.003;
  const epochFraction = options.epochFraction ?? 0.15;
  const ratingFraction = options.ratingFraction ?? 0.2;
  const builtIn = Object.values(PROFILES);

  const uniform = (low: number, high: number): number => low + (high - low) * random();
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const lognormal = (median: number, sigma: number): number => median * Math.exp(sigma * normal());
  const pick = (probabilities: readonly number[]): number => {
    let u = random();
    for (let i = 0; i < probabilities.length - 1; i++) {
      u -= probabilities[i]!;
      if (u < 0) return i;
    }
    return probabilities.length - 1;
  };

  // Arrivals: a Poisson process, scaled to fill the span exactly.
  const gaps = Array.from({ length: options.count }, () => -Math.log(1 - random()));
  const total = gaps.reduce((sum, gap) => sum + gap, 0);
  let arrival = options.startMs + maxDisorderMs;
  const lines: string[] = [];
  for (let i = 0; i < options.count; i++) {
    arrival += (gaps[i]! / total) * (durationMs - maxDisorderMs);
    const kind = random();
    let delay = uniform(0, maxDisorderMs);
    if (kind < tooLateFraction) delay = uniform(7 * 60_000, 12 * 60_000);
    else if (kind < tooLateFraction + lateFraction) delay = uniform(35_000, 85_000);
    // Early in the stream there is nothing to be late against: keep times ≥ start.
    const time = Math.floor(arrival - delay < options.startMs ? arrival - uniform(0, maxDisorderMs) : arrival - delay);

    const modelIndex = pick(weights);
    const model = models[modelIndex]!;
    const profile = PROFILES[model] ?? builtIn[modelIndex % builtIn.length]!;
    const variant = variants[Math.floor(random() * variants.length)]!;
    const rating = random() < ratingFraction;
    let metrics: Record<string, number | null>;
    if (rating) {
      metrics = { rating: pick(profile.ratings) + 1 };
    } else {
      // Variant b of every model sends longer prompts: more tokens, a little slower.
      const variantFactor = variant === 'b' ? 1.15 : 1;
      const prompt = Math.max(1, Math.round(lognormal(profile.promptTokens * variantFactor, 0.5)));
      const completion = Math.max(1, Math.round(lognormal(profile.completionTokens, 0.6)));
      const latency = lognormal(profile.latencyMs * variantFactor, profile.latencySigma) + completion * 2;
      const cost = (prompt * profile.inputPrice + completion * profile.outputPrice) / 1e6;
      metrics = {
        latency_ms: round(latency, 1),
        cost_usd: random() < profile.unknownCost ? null : round(cost, 7),
        tokens: prompt + completion,
      };
    }
    const timestamp = random() < epochFraction ? time : new Date(time).toISOString();
    lines.push(
      JSON.stringify({
        event_id: `e-${String(i + 1).padStart(6, '0')}`,
        timestamp,
        event_type: rating ? 'rating' : 'inference',
        model,
        variant,
        metrics,
      }),
    );
  }

  const invalid = invalidLines(options.invalidPerKind ?? 0, lines, random);
  for (const line of invalid) lines.splice(Math.floor(random() * (lines.length + 1)), 0, line);
  return lines;
}

/** `perKind` broken lines of each dead-letter reason, derived from real ones. */
function invalidLines(perKind: number, valid: readonly string[], random: () => number): string[] {
  if (perKind === 0 || valid.length === 0) return [];
  const sample = (): Record<string, unknown> => JSON.parse(valid[Math.floor(random() * valid.length)]!) as Record<string, unknown>;
  const nth = <T>(choices: readonly T[], i: number): T => choices[i % choices.length]!;
  const out: string[] = [];
  for (let i = 0; i < perKind; i++) {
    // invalid_json: cut mid-line, or not JSON at all
    const whole = JSON.stringify(sample());
    out.push(nth([whole.slice(0, Math.floor(whole.length / 2)), "{'model': 'gpt-4o'}", 'GET /healthz HTTP/1.1', `${whole},`], i));
    // not_an_object
    out.push(nth(['[1,2,3]', '"gpt-4o"', '42', 'null', `[${whole}]`], i));
    // missing_timestamp
    const noTime = sample();
    delete noTime['timestamp'];
    out.push(JSON.stringify(noTime));
    // invalid_timestamp
    out.push(JSON.stringify({ ...sample(), timestamp: nth(['yesterday', '2026-11-31T10:00:00Z', '26/11/2026 10:00:00', true, '', '2026-11-26T25:00:00Z'], i) }));
    // invalid_metrics
    out.push(JSON.stringify({ ...sample(), metrics: nth(['n/a', [812.5, 512], null, 0], i) }));
    // invalid_metric
    const event = sample();
    const metrics = event['metrics'] as Record<string, unknown>;
    const field = Object.keys(metrics)[0]!;
    metrics[field] = nth([`${String(metrics[field])} ms`, '512', true, { value: 1 }], i);
    out.push(JSON.stringify(event));
  }
  return out;
}

function main(): void {
  const path = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'data', 'sample-events.ndjson');
  const lines = generateEvents(SAMPLE_OPTIONS);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, lines.join('\n') + '\n');
  console.log(`wrote ${lines.length} lines to ${path}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
