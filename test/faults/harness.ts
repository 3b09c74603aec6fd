/**
 * Fault-suite harness (issue 8): input generator with bounded disorder, a producer that
 * records every record's (partition, offset), the CLI as a child process, a tailing reader
 * of the output topics, and the check against a brute-force model.
 *
 * The contract checked (DESIGN.md, "Time semantics"): per partition the input's disorder is
 * strictly below max_out_of_orderness, so NO record is ever late; the final revision of every
 * (key, window) must equal the brute-force aggregate of its records, every poison pill must be
 * dead-lettered once with its reason, and nothing else may be dead-lettered.
 */
import { type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, Partitioners, logLevel, type Consumer, type Producer } from 'kafkajs';
import { expect } from 'vitest';
import { createRandom } from '../../scripts/generate-sample.js';
import { exited, onStderrLine, startCli } from '../support/cli.js';
import { bruteQuantile, bruteStats, type BruteStats } from '../support/brute-force.js';
import { unique } from '../kafka/helpers.js';
import { tempDir } from '../support/temp-dir.js';

export { unique };

/** Event times start here (a fixed past time); ~200 ms apart per partition. */
export const T0 = Date.UTC(2026, 10, 26, 10);
export const WINDOW_MS = 10_000;
export const PARTITIONS = 4;
export const STEP_MS = 200;
/** Per-partition disorder is below this (max_out_of_orderness is 5 s). */
export const MAX_JITTER_MS = 2_000;
export const IDLE_TIMEOUT_MS = 2_000;
const KEYS_PER_PARTITION = 3;
const SENTINEL_MS = 86_400_000;

/**
 * A window spec of a scenario: what the job's `windows` runs and what the model computes.
 * With `name`, the job runs named specs (`windows.specs`) and results carry `window.spec`.
 */
export type ModelSpec =
  | { readonly type: 'tumbling'; readonly sizeMs: number; readonly name?: string }
  | { readonly type: 'sliding'; readonly sizeMs: number; readonly slideMs: number; readonly name?: string }
  | { readonly type: 'session'; readonly gapMs: number; readonly name?: string };

/** The suite's usual window: tumbling, 10 s. */
export const DEFAULT_SPECS: readonly ModelSpec[] = [{ type: 'tumbling', sizeMs: WINDOW_MS }];

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every `everyMs`; rejects after `timeoutMs` with `what` and `detail()`. */
export async function waitUntil(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs: number, detail: () => string = () => '', everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail() ? `\n${detail()}` : ''}`);
    await sleep(everyMs);
  }
}

/**
 * Waits `delayMs` from now, or less if `job` logs its first partition assignment before that:
 * a start-up kill then lands before "ready" (the restore after the assignment ends in it),
 * however fast a quiet machine starts the job. The clock alone came after "ready" there.
 */
export async function startUpMoment(job: Job, delayMs: number): Promise<void> {
  const until = Date.now() + delayMs;
  const assigned = (): boolean => job.lines.some((line) => line.includes('"msg":"partition assignment"'));
  await waitUntil(`${job.name}'s start-up moment`, () => Date.now() >= until || assigned() || !job.running, delayMs + 1_000, () => job.tail(), 5);
}

// ---------------------------------------------------------------------------------------
// Kafka plumbing (every function takes the brokers: broker-outage.test.ts has its own)

const kafkaOf = (brokers: string): Kafka =>
  new Kafka({ clientId: 'fault-tests', brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200 } });

export interface Topics {
  readonly brokers: string;
  readonly input: string;
  readonly results: string;
  readonly deadLetters: string;
  readonly group: string;
}

/** Unique input (`partitions` of them), result and dead-letter topics and group for one scenario. */
export async function createTopics(brokers: string, prefix: string, partitions = PARTITIONS): Promise<Topics> {
  const t: Topics = { brokers, input: unique(`${prefix}-in`), results: unique(`${prefix}-out`), deadLetters: unique(`${prefix}-dlq`), group: unique(`${prefix}-group`) };
  const admin = kafkaOf(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [t.input, t.results, t.deadLetters].map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
  return t;
}

/** Sum over partitions of the group's committed offsets on `topic` (default: the input topic). */
export async function committedTotal(t: Topics, topic = t.input): Promise<number> {
  const admin = kafkaOf(t.brokers).admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId: t.group, topics: [topic] });
    return entry!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

// ---------------------------------------------------------------------------------------
// Input

export interface ValidEvent {
  readonly key: string;
  readonly t: number;
  /** Metric name → value; names may be "__proto__" etc., hence a null-prototype object. */
  readonly metrics: Record<string, number>;
}

/** A record to produce, with what the suite expects to become of it. */
export interface Planned {
  readonly partition: number;
  readonly key: string;
  readonly value: string | Buffer;
  readonly kind: 'valid' | 'poison' | 'sentinel';
  readonly event?: ValidEvent;
  /** For poison: the dead-letter reason expected. */
  readonly reason?: string;
  readonly label?: string;
  /** Produced with a null message key (unkeyed input: `key` is only the model's). */
  readonly unkeyed?: true;
}

/** A record as produced: where it landed, without its payload (the model needs `event` alone). */
export type Sent = Omit<Planned, 'value'> & { readonly offset: string };

/** Unkeyed input: event time moves on by this much per event, across the whole input. */
export const UNKEYED_STEP_MS = 1;
/**
 * Unkeyed input: keys, whatever the partition count. 10 s windows of 1 ms events hold 10,000
 * events, ~100 per key (binomial: the fullest of 1M events' 10,000 windows holds ~140): below
 * the 256 values up to which the percentile sketch is exact (above, its t-digest depends on
 * arrival order, which repartitioning interleaves).
 */
const UNKEYED_KEYS = 100;

/**
 * Input modes. `keyed`: message key = the key fields (`p<partition>-k<j>`, each key in one
 * partition), event time per partition `T0 + i·200 ms + jitter`, jitter in [0, 2 s): the
 * disorder is < 2 s < max_out_of_orderness. `unkeyed`: null message keys, keys `k<j>` on every
 * partition (whichever `next(partition)` is asked for: `batch` goes round-robin), event time
 * `T0 + n·UNKEYED_STEP_MS` for the n-th event of the whole input, strictly increasing, no
 * jitter. After repartitioning, the records of one key arrive in any interleaving of the input
 * partitions, so an unkeyed run is on time only while the input spans less than
 * max_out_of_orderness + allowed_lateness (`span()`); `skip` does not apply to it.
 */
export type InputMode = 'keyed' | 'unkeyed';

export class InputGenerator {
  readonly random: () => number;
  private readonly base: number[];
  /** Unkeyed: the next event time. */
  private clock = T0;

  /** `partitions`: the input topic's partition count (every partition gets events). */
  constructor(readonly seed: number, readonly partitions = PARTITIONS, readonly mode: InputMode = 'keyed') {
    this.random = createRandom(seed);
    this.base = Array.from({ length: partitions }, () => T0);
  }

  /** Event time spanned by the valid events so far (unkeyed: first to last). */
  span(): number {
    return this.mode === 'unkeyed' ? this.clock - UNKEYED_STEP_MS - T0 : Math.max(...this.base) - STEP_MS + MAX_JITTER_MS - T0;
  }

  /** The next valid event of `partition`. */
  next(partition: number, extraMetrics?: Record<string, number>): Planned {
    const r = this.random;
    const unkeyed = this.mode === 'unkeyed';
    const key = unkeyed ? `k${Math.floor(r() * UNKEYED_KEYS)}` : `p${partition}-k${Math.floor(r() * KEYS_PER_PARTITION)}`;
    let t: number;
    if (unkeyed) {
      t = this.clock;
      this.clock += UNKEYED_STEP_MS;
    } else {
      t = this.base[partition]! + Math.floor(r() * MAX_JITTER_MS);
      this.base[partition]! += STEP_MS;
    }
    const metrics: Record<string, number> = Object.create(null) as Record<string, number>;
    metrics.latency_ms = Math.round(r() * 5_000_000) / 1_000;
    if (r() < 0.8) metrics.tokens = Math.floor(r() * 4_000);
    if (r() < 0.5) metrics.cost_usd = Math.round(r() * 1e6) / 1e8;
    for (const name of Object.keys(extraMetrics ?? {})) metrics[name] = extraMetrics![name]!;
    // ISO and epoch-ms timestamps alike.
    const timestamp = r() < 0.5 ? new Date(t).toISOString() : t;
    const value = JSON.stringify({ event_id: `e-${partition}-${t}-${Math.floor(r() * 1e9)}`, timestamp, event_type: 'inference', model: key, metrics });
    return { partition, key, value, kind: 'valid', event: { key, t, metrics }, ...(unkeyed ? { unkeyed: true as const } : {}) };
  }

  /** `perPartition` events on every partition, interleaved. */
  batch(perPartition: number): Planned[] {
    const out: Planned[] = [];
    for (let i = 0; i < perPartition; i++) for (let p = 0; p < this.partitions; p++) out.push(this.next(p));
    return out;
  }

  /**
   * Continues the sequence after `wallMs` of silence: event time moves on by the silence
   * (plus a margin), as a real producer's would. Under the quiet-input rule the watermark may
   * advance by at most the silence, so the following events are on time whatever happened.
   */
  skip(wallMs: number): void {
    for (let p = 0; p < this.partitions; p++) this.base[p]! += wallMs + 2 * MAX_JITTER_MS;
  }

  /**
   * Events at +1 day event time that fire every window of the run: keyed, one per partition;
   * unkeyed, round-robin, with keys chosen so that every partition of the repartition topic
   * (as many as the input's) gets one under the Java partitioner (murmur2) the stage uses.
   */
  sentinels(): Planned[] {
    const sentinel = (partition: number, key: string): Planned => ({
      partition, key, kind: 'sentinel', value: JSON.stringify({ timestamp: T0 + SENTINEL_MS, model: key, metrics: { latency_ms: 1 } }), ...(this.mode === 'unkeyed' ? { unkeyed: true as const } : {}),
    });
    if (this.mode === 'keyed') return Array.from({ length: this.partitions }, (_, p) => sentinel(p, `sentinel-p${p}`));
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: this.partitions }, (_, p) => ({ partitionId: p, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
    const covered = new Set<number>();
    const out: Planned[] = [];
    for (let i = 0; covered.size < this.partitions; i++) {
      const key = `sentinel-${i}`;
      const target = partitioner({ topic: 'repartition', partitionMetadata, message: { key, value: null } });
      if (covered.has(target)) continue;
      covered.add(target);
      out.push(sentinel(out.length % this.partitions, key));
    }
    return out;
  }
}

/**
 * Produces `planned` in order (idempotent producer, acks from all replicas) and returns them
 * with their offsets, taken from the broker's reply (base offset + position in the batch).
 */
export async function produce(brokers: string, topic: string, planned: Planned[], chunkSize = 1_000): Promise<Sent[]> {
  const producer = idempotentProducer(brokers);
  await producer.connect();
  const out: Sent[] = [];
  try {
    for (let i = 0; i < planned.length; i += chunkSize) await sendChunk(producer, topic, planned.slice(i, i + chunkSize), out);
  } finally {
    await producer.disconnect();
  }
  return out;
}

const idempotentProducer = (brokers: string): Producer => kafkaOf(brokers).producer({ idempotent: true, maxInFlightRequests: 1 });

/** Sends `chunk` as one request and appends its records to `out` with their offsets. */
async function sendChunk(producer: Producer, topic: string, chunk: readonly Planned[], out: Sent[]): Promise<void> {
  const meta = await producer.send({ topic, acks: -1, messages: chunk.map((m) => ({ key: m.unkeyed ? null : m.key, value: m.value, partition: m.partition })) });
  const next = new Map(meta.map((m) => [m.partition, BigInt(m.baseOffset ?? '0')]));
  for (const m of chunk) {
    const offset = next.get(m.partition);
    if (offset === undefined) throw new Error(`no offset for partition ${m.partition} in the broker's reply`);
    next.set(m.partition, offset + 1n);
    const { value: _payload, ...record } = m;
    out.push({ ...record, offset: offset.toString() });
  }
}

/**
 * Input flowing in the background: `count` events of `gen`, at most `perSec` a second, in
 * requests of `perRequest` (rounded to whole rounds over the partitions), appended to `sent`
 * as their offsets come back. `produced` says how far it is; `done` settles when it ends.
 */
export class Flow {
  produced = 0;
  readonly done: Promise<void>;
  private failed: unknown;
  /** Hold points not reached yet, ascending. */
  private readonly holds: number[] = [];
  /** Set while the flow stands at a hold point. */
  private resumeFlow: (() => void) | undefined;

  /**
   * `holdAt`: counts of events at which the flow stops until `resume()`, so that what a
   * test does there (a kill) comes while input is still to come, however long the test
   * took over what it did before (on a loaded machine a kill and a restart can outlast
   * the rest of a flow).
   */
  constructor(brokers: string, topic: string, gen: InputGenerator, readonly count: number, perSec: number, sent: Sent[], perRequest = 6_000, holdAt: readonly number[] = []) {
    const perPartition = Math.max(1, Math.floor(perRequest / gen.partitions));
    this.holds.push(...[...holdAt].sort((x, y) => x - y));
    this.done = (async () => {
      const producer = idempotentProducer(brokers);
      await producer.connect();
      const began = Date.now();
      try {
        while (this.produced < this.count) {
          if (this.holds.length > 0 && this.produced >= this.holds[0]!) {
            this.holds.shift();
            await new Promise<void>((resolve) => (this.resumeFlow = resolve));
            continue;
          }
          const chunk = gen.batch(Math.min(perPartition, Math.ceil((this.count - this.produced) / gen.partitions))).slice(0, this.count - this.produced);
          await sendChunk(producer, topic, chunk, sent);
          this.produced += chunk.length;
          const due = began + (this.produced / perSec) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
        }
      } finally {
        await producer.disconnect();
      }
    })();
    this.done.catch((error: unknown) => (this.failed = error));
  }

  /** Resolves once the flow stands at its next hold point (see `holdAt`). */
  async held(timeoutMs = 120_000): Promise<void> {
    await waitUntil('the input flow to stand at its next hold point', () => {
      if (this.failed !== undefined) throw new Error(`producing the input failed: ${String(this.failed)}`);
      return this.resumeFlow !== undefined;
    }, timeoutMs, () => `produced ${this.produced}`);
  }

  /** Lets a held flow go on. */
  resume(): void {
    const resume = this.resumeFlow;
    this.resumeFlow = undefined;
    resume?.();
  }

  /** Resolves once `n` events are produced (rejects if the flow fails or ends before). */
  async reached(n: number, timeoutMs = 120_000): Promise<void> {
    await waitUntil(`the input flow to reach ${n} events`, () => {
      if (this.failed !== undefined) throw new Error(`producing the input failed: ${String(this.failed)}`);
      return this.produced >= n;
    }, timeoutMs, () => `produced ${this.produced}`);
  }
}

/** Produces `perPartition` events per partition in small batches spread over `ms`. */
export async function produceSpread(brokers: string, topic: string, gen: InputGenerator, perPartition: number, batches: number, ms: number): Promise<Sent[]> {
  const out: Sent[] = [];
  const size = Math.ceil(perPartition / batches);
  for (let done = 0; done < perPartition; done += size) {
    out.push(...(await produce(brokers, topic, gen.batch(Math.min(size, perPartition - done)))));
    await sleep(ms / batches);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The CLI

export interface ConfigOptions {
  readonly bufferSize?: number;
  /** `kafka.repartition` (default: the config's default, auto). */
  readonly repartition?: 'auto' | 'always' | 'never';
  /** Time settings (defaults: 5 s out-of-orderness, 10 s lateness, 2 s idle timeout). */
  readonly maxOutOfOrdernessSecs?: number;
  readonly allowedLatenessSecs?: number;
  readonly idleTimeoutSecs?: number;
  /** `processing_guarantee` (default at_least_once). */
  readonly processingGuarantee?: 'at_least_once' | 'exactly_once';
  /** Default 1. */
  readonly checkpointSecs?: number;
  /** `kafka.session_timeout_ms` (default 30 s; the heartbeat goes every third of it). */
  readonly sessionTimeoutMs?: number;
  /** `parallelism`: worker threads (default 1). */
  readonly parallelism?: number;
  /** The window specs (default `DEFAULT_SPECS`). */
  readonly specs?: readonly ModelSpec[];
}

/** The `windows:` line of a job's YAML for `specs`, each with `lateness` seconds of allowed lateness. */
function windowsYaml(specs: readonly ModelSpec[], lateness: number): string {
  const sizes = (spec: ModelSpec): string =>
    spec.type === 'session' ? `gap_secs: ${spec.gapMs / 1000}` : spec.type === 'sliding' ? `size_secs: ${spec.sizeMs / 1000}, slide_secs: ${spec.slideMs / 1000}` : `size_secs: ${spec.sizeMs / 1000}`;
  if (specs.every((spec) => spec.name !== undefined)) {
    return `windows: { specs: [${specs.map((spec) => `{ name: ${spec.name}, type: ${spec.type}, ${sizes(spec)}, allowed_lateness_secs: ${lateness} }`).join(', ')}] }`;
  }
  const sections = specs.map((spec) => `${spec.type}: { ${sizes(spec)}, allowed_lateness_secs: ${lateness} }`);
  return specs.length === 1 ? `windows: { default_type: ${specs[0]!.type}, ${sections[0]} }` : `windows: { types: [${specs.map((spec) => spec.type).join(', ')}], ${sections.join(', ')} }`;
}

/** The job's YAML config; runs sharing `stateDir` share the LevelDB folder. */
export function writeConfig(dir: string, name: string, stateDir: string, t: Topics, options: ConfigOptions = {}): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `processor:
  source: { type: kafka }
  sink: { type: kafka }
  dead_letter: { type: kafka }
  state: { backend: level, path: ${stateDir} }
  checkpoint_interval_secs: ${options.checkpointSecs ?? 1}
${options.processingGuarantee !== undefined ? `  processing_guarantee: ${options.processingGuarantee}\n` : ''}${options.parallelism !== undefined ? `  parallelism: ${options.parallelism}\n` : ''}${options.bufferSize !== undefined ? `  buffer_size: ${options.bufferSize}\n` : ''}  ${windowsYaml(options.specs ?? DEFAULT_SPECS, options.allowedLatenessSecs ?? 10)}
  watermark: { max_out_of_orderness_secs: ${options.maxOutOfOrdernessSecs ?? 5}, idle_timeout_secs: ${options.idleTimeoutSecs ?? IDLE_TIMEOUT_MS / 1000} }
  aggregation: { enabled: [count, sum, average, min, max, percentile, stddev], percentiles: [50, 95, 99] }
  kafka:
    consumer: { bootstrap_servers: "${t.brokers}", group_id: ${t.group}, topics: [${t.input}] }
    producer: { result_topic: ${t.results}, dead_letter_topic: ${t.deadLetters} }
${options.repartition !== undefined ? `    repartition: ${options.repartition}\n` : ''}${options.sessionTimeoutMs !== undefined ? `    session_timeout_ms: ${options.sessionTimeoutMs}\n    heartbeat_interval_ms: ${Math.floor(options.sessionTimeoutMs / 3)}\n` : ''}  metrics: { port: 0 }
  log: { level: info }
`,
  );
  return path;
}

/** One CLI process: its stderr (JSON logs), readiness, HTTP port and exit. */
export class Job {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exit: Promise<number | string>;
  exitCode: number | string | undefined;
  ready = false;
  port: number | undefined;
  readonly startedAt = Date.now();

  constructor(readonly name: string, config: string) {
    this.child = startCli(['--config', config]);
    onStderrLine(this.child, (line) => {
      this.lines.push(line);
      if (this.lines.length > 400) this.lines.splice(0, 200);
      if (line.includes('ready: state restored')) this.ready = true;
      if (line.includes('http endpoint listening')) {
        try {
          this.port = (JSON.parse(line) as { port?: number }).port;
        } catch {
          /* not JSON */
        }
      }
    });
    this.exit = exited(this.child).then((code) => (this.exitCode = code));
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  tail(n = 15): string {
    return `${this.name} stderr tail:\n${this.lines.slice(-n).map((l) => (l.length > 500 ? `${l.slice(0, 500)}…` : l)).join('\n')}`;
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    await waitUntil(`${this.name} to log 'ready: state restored'`, () => {
      if (!this.running) throw new Error(`${this.name} exited (${this.exitCode}) before it was ready\n${this.tail()}`);
      return this.ready && this.port !== undefined;
    }, timeoutMs, () => this.tail());
  }

  /** HTTP status of `path` on the job's endpoint (0 when it does not answer within 2 s). */
  async status(path: string): Promise<number> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.text();
      return res.status;
    } catch {
      return 0;
    }
  }

  /** Sends `signal` and waits for the exit (at most `timeoutMs`, then SIGKILL and throw). */
  async stop(signal: NodeJS.Signals, timeoutMs = 30_000): Promise<{ code: number | string; ms: number }> {
    const t0 = Date.now();
    if (this.running) this.child.kill(signal);
    const timer = sleep(timeoutMs).then(() => 'timeout' as const);
    const code = await Promise.race([this.exit, timer]);
    if (code === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exit;
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms of ${signal}\n${this.tail()}`);
    }
    return { code, ms: Date.now() - t0 };
  }

  /** Last resort for afterEach/finally: never leave a process behind. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------
// Output

export interface Message {
  readonly partition: number;
  readonly offset: string;
  readonly value: string;
}

/** Reads a topic from the beginning and keeps following it; messages keyed by (partition, offset). */
export class Tail {
  readonly messages = new Map<string, Message>();
  private consumer: Consumer | undefined;
  private failed: unknown;

  private constructor(readonly brokers: string, readonly topic: string) {}

  static async start(brokers: string, topic: string): Promise<Tail> {
    const tail = new Tail(brokers, topic);
    const consumer = kafkaOf(brokers).consumer({ groupId: unique('fault-tail'), maxWaitTimeInMs: 100 });
    tail.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          tail.messages.set(`${partition}:${message.offset}`, { partition, offset: message.offset, value: message.value?.toString('utf8') ?? '' });
        },
      })
      .catch((error: unknown) => (tail.failed = error));
    return tail;
  }

  values(): string[] {
    if (this.failed !== undefined) throw new Error(`reading ${this.topic} failed: ${String(this.failed)}`);
    return [...this.messages.values()].map((m) => m.value);
  }

  /** Waits until every message up to the topic's current end has been read. */
  async caughtUp(timeoutMs = 30_000): Promise<void> {
    const admin = kafkaOf(this.brokers).admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(this.topic);
    await admin.disconnect();
    const want = ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    await waitUntil(`reading ${want} messages of ${this.topic}`, () => this.messages.size >= want, timeoutMs, () => `read ${this.messages.size}`);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

// ---------------------------------------------------------------------------------------
// The brute-force model and the comparison

interface Stats extends BruteStats {
  p50: number;
  p95: number;
  p99: number;
}

interface ModelWindow {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  count: number;
  readonly values: Map<string, number[]>;
}

/** A window's identity: spec (its name, else its type), key, start. */
const windowId = (spec: string, key: string, start: number): string => `${spec} ${key}@${new Date(start).toISOString()}`;
const specLabel = (spec: ModelSpec): string => spec.name ?? spec.type;

/** Per input array and spec list, the model of its first `upTo` records: inputs only grow, so polls extend it. */
const models = new WeakMap<readonly Sent[], Map<readonly ModelSpec[], { upTo: number; model: Map<string, ModelWindow> }>>();

function addTo(model: Map<string, ModelWindow>, spec: string, e: ValidEvent, start: number, end: number): void {
  const id = windowId(spec, e.key, start);
  let w = model.get(id);
  if (w === undefined) model.set(id, (w = { key: e.key, start, end, count: 0, values: new Map() }));
  w.count++;
  for (const name of Object.keys(e.metrics)) {
    const list = w.values.get(name) ?? [];
    list.push(e.metrics[name]!);
    w.values.set(name, list);
  }
}

/**
 * Every valid event grouped by key and window of each spec: tumbling and sliding windows by
 * their definition (DESIGN.md), sessions by merging, per key, the events at most the gap apart.
 */
export function bruteForceModel(sent: readonly Sent[], specs: readonly ModelSpec[] = DEFAULT_SPECS): Map<string, ModelWindow> {
  let bySpecs = models.get(sent);
  if (bySpecs === undefined) models.set(sent, (bySpecs = new Map()));
  let cached = bySpecs.get(specs);
  if (cached === undefined || cached.upTo > sent.length) bySpecs.set(specs, (cached = { upTo: 0, model: new Map() }));
  const model = cached.model;
  const fixed = specs.filter((spec) => spec.type !== 'session');
  for (; cached.upTo < sent.length; cached.upTo++) {
    const s = sent[cached.upTo]!;
    if (s.kind !== 'valid') continue;
    const e = s.event!;
    for (const spec of fixed) {
      if (spec.type === 'tumbling') addTo(model, specLabel(spec), e, e.t - (e.t % spec.sizeMs), e.t - (e.t % spec.sizeMs) + spec.sizeMs);
      else if (spec.type === 'sliding') for (let start = e.t - (e.t % spec.slideMs); start > e.t - spec.sizeMs; start -= spec.slideMs) addTo(model, specLabel(spec), e, start, start + spec.sizeMs);
    }
  }
  const sessions = specs.filter((spec) => spec.type === 'session');
  if (sessions.length === 0) return model;
  // Sessions are not incremental (a late event can bridge two): computed afresh beside the cached windows.
  const all = new Map(model);
  const byKey = new Map<string, ValidEvent[]>();
  for (const s of sent) if (s.kind === 'valid') byKey.set(s.event!.key, [...(byKey.get(s.event!.key) ?? []), s.event!]);
  for (const spec of sessions) {
    if (spec.type !== 'session') continue;
    for (const events of byKey.values()) {
      const sorted = [...events].sort((a, b) => a.t - b.t);
      let i = 0;
      while (i < sorted.length) {
        const start = sorted[i]!.t;
        let end = start + spec.gapMs;
        let j = i + 1;
        // Sessions that overlap or touch merge: an event at most the gap after the last one joins.
        while (j < sorted.length && sorted[j]!.t <= end) end = Math.max(end, sorted[j++]!.t + spec.gapMs);
        for (let k = i; k < j; k++) addTo(all, specLabel(spec), sorted[k]!, start, end);
        i = j;
      }
    }
  }
  return all;
}

function expectedStats(values: number[]): Stats {
  const s = bruteStats(values);
  return { ...s, p50: bruteQuantile(values, 0.5), p95: bruteQuantile(values, 0.95), p99: bruteQuantile(values, 0.99) };
}

const close = (a: unknown, b: number): boolean => typeof a === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

interface ResultRecord {
  key: { model: string };
  window: { type: string; spec?: string; start: number; end: number };
  revision: number;
  event_count: number;
  emitted_at?: number;
  metrics: Record<string, Record<string, unknown>>;
}

/** Results de-duplicated by (key, window, revision) and the final revision of each (key, window). */
export function finalResults(values: readonly string[]): { final: Map<string, ResultRecord>; conflicts: string[]; total: number } {
  const byRevision = new Map<string, string>();
  const final = new Map<string, ResultRecord>();
  const conflicts: string[] = [];
  for (const value of values) {
    const r = JSON.parse(value) as ResultRecord;
    if (r.key.model.startsWith('sentinel')) continue;
    delete r.emitted_at;
    const body = JSON.stringify(r);
    const id = windowId(r.window.spec ?? r.window.type, r.key.model, r.window.start);
    const rid = `${id}#${r.revision}`;
    const previous = byRevision.get(rid);
    if (previous !== undefined && previous !== body) conflicts.push(`${rid}:\n    ${previous}\n    ${body}`);
    byRevision.set(rid, body);
    const f = final.get(id);
    if (f === undefined || f.revision < r.revision) final.set(id, r);
  }
  return { final, conflicts, total: values.length };
}

/** True when every model window has a result with the model's count (the run is complete). */
export function resultsComplete(sent: readonly Sent[], values: readonly string[], specs: readonly ModelSpec[] = DEFAULT_SPECS): boolean {
  const model = bruteForceModel(sent, specs);
  if (values.length < model.size) return false;
  const { final } = finalResults(values);
  for (const [id, w] of model) if (final.get(id)?.event_count !== w.count) return false;
  return true;
}

/** Compares one result with its model window; returns the differences (empty when equal). */
function diffWindow(w: ModelWindow, r: ResultRecord): string[] {
  const out: string[] = [];
  if (r.window.end !== w.end) out.push(`window end ${r.window.end} ≠ ${w.end}`);
  if (r.event_count !== w.count) out.push(`event_count ${r.event_count} ≠ ${w.count}`);
  const got = r.metrics ?? {};
  for (const [name, values] of w.values) {
    const m = Object.prototype.hasOwnProperty.call(got, name) ? got[name] : undefined;
    if (m === undefined) {
      out.push(`metric ${JSON.stringify(name)} missing`);
      continue;
    }
    const want = expectedStats(values);
    for (const stat of Object.keys(want) as (keyof Stats)[]) {
      if (!close(m[stat], want[stat])) out.push(`${name}.${stat} ${String(m[stat])} ≠ ${want[stat]}`);
    }
  }
  for (const name of Object.keys(got)) if (!w.values.has(name)) out.push(`metric ${JSON.stringify(name)} not in the input`);
  return out;
}

interface DeadLetterRecord {
  reason: string;
  partition?: number;
  offset?: string | number;
}

export interface Verdict {
  readonly valid: number;
  readonly windows: number;
  readonly deadLetters: Map<string, number>;
}

/**
 * The whole check: results against the model (first 10 mismatches), repeats identical,
 * every record accounted for exactly once (valid → aggregated; poison → one dead letter with
 * its reason; nothing else dead-lettered, in particular zero `too_late`).
 */
export function checkRun(label: string, sent: readonly Sent[], resultValues: readonly string[], deadLetterValues: readonly string[], specs: readonly ModelSpec[] = DEFAULT_SPECS): Verdict {
  const model = bruteForceModel(sent, specs);
  const { final, conflicts } = finalResults(resultValues);
  const valid = sent.filter((s) => s.kind === 'valid').length;

  // Dead letters, de-duplicated by (partition, offset).
  const byPosition = new Map<string, DeadLetterRecord>();
  const reasons = new Map<string, number>();
  const dlProblems: string[] = [];
  for (const value of deadLetterValues) {
    const d = JSON.parse(value) as DeadLetterRecord;
    reasons.set(d.reason, (reasons.get(d.reason) ?? 0) + 1);
    if (d.partition === undefined || d.offset === undefined) {
      dlProblems.push(`dead letter without partition/offset: ${value.slice(0, 200)}`);
      continue;
    }
    const pos = `${d.partition}:${d.offset}`;
    const previous = byPosition.get(pos);
    if (previous !== undefined && previous.reason !== d.reason) dlProblems.push(`${pos}: dead-lettered as ${previous.reason} and as ${d.reason}`);
    byPosition.set(pos, d);
  }
  const distinctReasons = new Map<string, number>();
  for (const d of byPosition.values()) distinctReasons.set(d.reason, (distinctReasons.get(d.reason) ?? 0) + 1);
  const sentAt = new Map(sent.map((s) => [`${s.partition}:${s.offset}`, s]));
  for (const [pos, d] of byPosition) {
    const s = sentAt.get(pos);
    if (s === undefined) dlProblems.push(`${pos}: dead letter (${d.reason}) for no record of the input`);
    else if (s.kind !== 'poison') dlProblems.push(`${pos}: ${s.kind} record (${s.key}) dead-lettered as ${d.reason}`);
    else if (s.reason !== d.reason) dlProblems.push(`${pos}: ${s.label ?? 'poison'} dead-lettered as ${d.reason}, expected ${s.reason}`);
  }
  for (const s of sent) {
    if (s.kind === 'poison' && !byPosition.has(`${s.partition}:${s.offset}`)) dlProblems.push(`${s.partition}:${s.offset}: ${s.label ?? 'poison'} (expected ${s.reason}) has no dead letter`);
  }

  // Results against the model.
  const missing: string[] = [];
  const wrong: string[] = [];
  let aggregated = 0;
  for (const [id, w] of model) {
    const r = final.get(id);
    if (r === undefined) {
      missing.push(`${id}: no result (model: ${w.count} events)`);
      continue;
    }
    aggregated += Math.min(r.event_count, w.count);
    const d = diffWindow(w, r);
    if (d.length > 0) wrong.push(`${id} rev ${r.revision}: ${d.slice(0, 4).join('; ')}`);
  }
  const extra = [...final.keys()].filter((id) => !model.has(id)).map((id) => `${id}: result for a window the input does not have`);
  const tooLate = distinctReasons.get('too_late') ?? 0;

  const summary =
    `${label}: ${valid} valid events in ${model.size} windows; final results ${final.size}; ` +
    `missing ${missing.length}, wrong ${wrong.length}, extra ${extra.length}; valid events in correct-count windows ≤ ${aggregated}; ` +
    `too_late ${tooLate}; dead letters by reason (distinct positions) ${JSON.stringify(Object.fromEntries(distinctReasons))}; ` +
    `conflicting repeats ${conflicts.length}`;
  const first10 = (xs: string[]): string => (xs.length === 0 ? '' : `\n  ${xs.slice(0, 10).join('\n  ')}${xs.length > 10 ? `\n  … and ${xs.length - 10} more` : ''}`);

  expect(tooLate, `${summary}\non-time records dead-lettered as too_late`).toBe(0);
  expect(conflicts.length, `${summary}\nrepeats of one (key, window, revision) that differ (apart from emitted_at):${first10(conflicts)}`).toBe(0);
  expect(missing.length + wrong.length + extra.length, `${summary}\nresults ≠ brute-force model:${first10([...missing, ...wrong, ...extra])}`).toBe(0);
  expect(dlProblems.length, `${summary}\ndead letters ≠ expectation:${first10(dlProblems)}`).toBe(0);
  return { valid, windows: model.size, deadLetters: distinctReasons };
}

/**
 * The common end of every scenario: sentinels, then wait (bounded) until every window's
 * result is there, and return the outputs. Does not throw when the wait runs out: the
 * comparison then reports what is missing or wrong.
 */
export async function finish(t: Topics, sent: Sent[], gen: InputGenerator, results: Pick<Tail, 'values'>, timeoutMs = 45_000, specs: readonly ModelSpec[] = DEFAULT_SPECS): Promise<void> {
  sent.push(...(await produce(t.brokers, t.input, gen.sentinels())));
  try {
    await waitUntil('every window to have its result', () => resultsComplete(sent, results.values(), specs), timeoutMs, () => '', 1_000);
  } catch {
    /* reported by checkRun */
  }
}

// ---------------------------------------------------------------------------------------
// Scenario set-up and clean-up (each test file: `afterEach(cleanUp)`)

const running: { jobs: Job[]; tails: Tail[] } = { jobs: [], tails: [] };

/** Registers a job to be killed after the test, if it is still running. */
export function track(job: Job): Job {
  running.jobs.push(job);
  return job;
}

/** Kills the test's jobs and stops its tails. */
export async function cleanUp(): Promise<void> {
  for (const job of running.jobs.splice(0)) job.kill();
  for (const tail of running.tails.splice(0)) await tail.stop();
}

export interface Scenario {
  readonly seed: number;
  /** `<name> (seed <n>)`: starts every failure message, so a failure can be replayed with FAULT_SEED. */
  readonly label: string;
  readonly gen: InputGenerator;
  readonly t: Topics;
  /** A temporary folder, deleted when the test file ends. */
  readonly dir: string;
}

/** A scenario's seed (`FAULT_SEED` replays one), input generator, unique topics and folder. */
export async function scenario(name: string, brokers: string, partitions = PARTITIONS, mode: InputMode = 'keyed'): Promise<Scenario> {
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
  const t = await createTopics(brokers, `fault-${name}`, partitions);
  return { seed, label: `${name} (seed ${seed})`, gen: new InputGenerator(seed, partitions, mode), t, dir: tempDir(`fault-${name}-`) };
}

/** Tails of the result and dead-letter topics, stopped after the test. */
export async function outputs(t: Topics): Promise<{ results: Tail; deadLetters: Tail }> {
  const results = await Tail.start(t.brokers, t.results);
  const deadLetters = await Tail.start(t.brokers, t.deadLetters);
  running.tails.push(results, deadLetters);
  return { results, deadLetters };
}
