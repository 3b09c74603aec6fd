/**
 * Kafka benchmark (issue 3): prints one JSON object. Needs the local broker (`npm run kafka:up`).
 *   raw_consume_events_per_sec  a bare kafkajs consumer (eachBatch, JSON.parse, discard) over the preloaded topic, plain
 *                               kafkajs in a process of its own (bench/bare-consumer.ts)
 *   raw_consume_one_pass_events_per_sec
 *                               the same bare consumer with this project's one-pass record batch decoder under kafkajs
 *   events_per_sec              runKafkaJob over the same topic, Kafka to Kafka, 60 s tumbling windows with
 *                               every aggregation: from the job's start until every message is handed over
 *                               and processed (acknowledged to the source)
 *   ratio                       the second over the first
 *   p50/p99_latency_ms          processing latency: the broker append time of a result (LogAppendTime result
 *                               topic) − its window's end, while a separate process produces events timed by
 *                               the wall clock at 5,000 events/s (1 s windows, 1,000 keys, no disorder bound)
 *   p50/p99_latency_ms_half     the same at half of events_per_sec
 *   p50/p99_latency_ms_parallelism_2
 *                               the same at 5,000 events/s with the compiled CLI at `parallelism: 2` (two worker
 *                               threads share the window ends' work)
 *   p50/p99_event_after_end_ms, p50/p99_in_job_ms (and _half)
 *                               where that latency goes: the append time of the first event of a partition at or
 *                               past a window's end − that end (the load producer and the broker: the watermark
 *                               cannot pass the end earlier), and the job's share, from the hand-over of that
 *                               record to the broker's ack of the result; the rest is the consumer's fetch
 *   checkpoint_ms, throughput_drop
 *                               the job over 1,000,000 events in 100,000 keys with 1 h windows (100,000 open
 *                               windows): median duration of a checkpoint (state topic + local copy, incremental)
 *                               with one every second, and the throughput lost against one per hour (best of two each)
 *   events_per_sec_one_instance, events_per_sec_two_instances, scale_out_speedup
 *                               CLI processes (compiled) in one group over the 1,000-key preload, level state,
 *                               checkpoints every second: from their start until the group's committed offsets
 *                               reach the end (the broker shares the 2 cores)
 *   events_per_sec_parallelism_2, parallel_speedup
 *                               one CLI process with `parallelism: 2` (two worker threads in the group), the same
 *                               way, and its rate over events_per_sec_one_instance (`parallelism: 1`)
 *   cores_one_instance, cores_main_thread_one_instance, cores_broker_one_instance, cores_parallelism_2,
 *   cores_broker_parallelism_2
 *                               cores kept busy on average during those runs (CPU time from Linux's /proc over the
 *                               run's wall time): the CLI process (all its threads), its main thread alone, the
 *                               local broker; absent where /proc has no such figures
 *   eos_events_per_sec_100ms, eos_ratio_100ms, eos_events_per_sec_1s, eos_ratio_1s
 *                               runKafkaJob with processing_guarantee exactly_once at a 100 ms and a 1 s
 *                               checkpoint interval, from its start until every message is processed and the
 *                               stop's final transaction committed, over the same timing of at_least_once at the
 *                               same interval (alo_events_per_sec_*); median of RUNS interleaved pairs.
 *                               BENCH_KAFKA_ONLY=eos runs the preload and this phase alone.
 * Rates are medians of RUNS interleaved runs (raw, raw one-pass, job, raw, …; one instance, parallelism 2, one
 * instance, …, the cores figures those of the median run) over one preload of 1,000,000 events; two instances run once.
 * Run: npm run bench:kafka
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { KafkaMessage, Message } from 'kafkajs';
import { CompressionTypes, Kafka, logLevel, Partitioners } from '../src/kafka/kafkajs.js';
import { parseConfig, type ProcessorConfig } from '../src/config/index.js';
import { ensureTopics, type KafkaSource } from '../src/kafka/index.js';
import { createProcessorMetrics, type ProcessorMetrics } from '../src/observability/index.js';
import { installProduceRequestEncoder } from '../src/kafka/produce-encoding/kafkajs-produce-request.js';
import { runKafkaJob } from '../src/runner/kafka-job.js';
import { createRandom } from '../scripts/generate-sample.js';
import { benchEvent, benchEvents } from './events.js';
import { buildCli } from './cli.js';
import { localBrokerPid, processCpuSeconds, threadCpuSeconds } from './proc-cpu.js';
import { median } from './stats.js';

const EVENTS = 1_000_000;
const KEYS = 1_000;
const PARTITIONS = 4;
const DISORDER_MS = 5_000;
const RUNS = 3;
const CHUNK = 100_000;
const LATENCY_SECS = 20;
/** The fixed load for `p50/p99_latency_ms`; the `_half` pair runs at half of `events_per_sec`. */
const LATENCY_RATE = 5_000;
/** Latencies of the first seconds (JIT warm-up, the first windows) are left out. */
const LATENCY_WARMUP_SECS = 4;
const BROKERS = process.env['PROCESSOR_KAFKA_BROKERS'] ?? '127.0.0.1:9092';

const runId = randomUUID().slice(0, 8);
const name = (what: string): string => `bench-kafka-${what}-${runId}`;
const kafka = (): Kafka => new Kafka({ clientId: 'bench-kafka', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The load generator of the latency phase runs in its own process, so that producing does not share the job's event loop. */
if (process.argv[2] === '--load-producer') {
  await loadProducer(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
  process.exit(0);
}

const created: string[] = [];
async function topic(what: string, configs?: Record<string, string>): Promise<string> {
  const t = name(what);
  await ensureTopics({ brokers: BROKERS }, [{ topic: t, numPartitions: PARTITIONS, configs }]);
  created.push(t);
  return t;
}

/** Preloads the events in chunks (bounded memory), keyed by model: acks 1, no compression, several large sends in flight. */
async function preload(input: string, keys = KEYS): Promise<number> {
  const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const t0 = performance.now();
  try {
    for (let c = 0; c < EVENTS / CHUNK; c++) {
      const records = benchEvents({ count: CHUNK, keys, disorderMs: DISORDER_MS, startMs: Date.UTC(2026, 10, 26, 10) + c * CHUNK, seed: 42 + c });
      const messages: Message[] = records.map((r, i) => ({ key: r.key!, value: JSON.stringify({ ...r.value, event_id: `e-${c * CHUNK + i}` }) }));
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < messages.length; i += 10_000) {
        sends.push(producer.send({ topic: input, acks: 1, compression: CompressionTypes.None, messages: messages.slice(i, i + 10_000) }));
      }
      await Promise.all(sends);
    }
  } finally {
    await producer.disconnect();
  }
  return EVENTS / ((performance.now() - t0) / 1000);
}

/**
 * The bare consumer (bench/bare-consumer.ts) over `input`, in a child process: plain kafkajs,
 * or with `onePass` kafkajs with this project's record batch decoder, as the job loads it.
 */
function rawConsume(input: string, onePass = false): number {
  const args = ['--import', 'tsx', fileURLToPath(new URL('./bare-consumer.ts', import.meta.url)), BROKERS, input, String(EVENTS), ...(onePass ? ['--one-pass-decoder'] : [])];
  return Number(execFileSync(process.execPath, args, { encoding: 'utf8' }).trim());
}

function jobConfig(input: string, output: string, deadLetters: string, windowSecs: number, outOfOrdernessSecs: number, checkpointSecs = 60): ProcessorConfig {
  const config = parseConfig(jobSettings(input, output, deadLetters, windowSecs, Math.ceil(outOfOrdernessSecs), checkpointSecs), {});
  // The config takes whole seconds; the latency phase wants a sub-second bound (the pipeline multiplies by 1,000).
  return { ...config, watermark: { ...config.watermark, max_out_of_orderness_secs: outOfOrdernessSecs } };
}

/** The benchmarked job's YAML settings (as an object). */
function jobSettings(input: string, output: string, deadLetters: string, windowSecs: number, outOfOrdernessSecs: number, checkpointSecs: number, parallelism = 1): Record<string, unknown> {
  return {
    processor: {
      parallelism,
      source: { type: 'kafka' },
      sink: { type: 'kafka' },
      dead_letter: { type: 'kafka' },
      state: { backend: 'memory' },
      checkpoint_interval_secs: checkpointSecs,
      windows: { default_type: 'tumbling', tumbling: { size_secs: windowSecs, allowed_lateness_secs: 0 } },
      watermark: { max_out_of_orderness_secs: outOfOrdernessSecs, idle_timeout_secs: 60 },
      aggregation: { enabled: ['count', 'sum', 'average', 'min', 'max', 'percentile', 'stddev'], percentiles: [50, 95, 99] },
      metrics: { port: 0 },
      log: { level: 'silent' },
      kafka: {
        consumer: { bootstrap_servers: BROKERS, group_id: name(`job-${randomUUID().slice(0, 4)}`), topics: [input] },
        producer: { result_topic: output, dead_letter_topic: deadLetters },
      },
    },
  };
}

/**
 * runKafkaJob over the preloaded topic, timed from its start until every message is handed over
 * and acknowledged (with `untilStopped`, until the stop after that, its final checkpoint included).
 */
async function jobThroughput(input: string, output: string, deadLetters: string, config = jobConfig(input, output, deadLetters, 60, DISORDER_MS / 1000), metrics?: ProcessorMetrics, untilStopped = false): Promise<number> {
  const stop = new AbortController();
  let source: KafkaSource | undefined;
  const t0 = performance.now();
  const job = runKafkaJob({ config, metrics, signal: stop.signal, onSource: (s) => (source = s) });
  const failed = job.then(() => Promise.reject(new Error('job ended early')));
  const done = new Promise<number>((resolve) => {
    const poll = setInterval(() => {
      const stats = source?.stats();
      if (stats !== undefined && stats.handedOver >= EVENTS && stats.acked >= EVENTS) {
        clearInterval(poll);
        resolve(performance.now() - t0);
      }
    }, 5);
  });
  const elapsed = await Promise.race([done, failed]);
  stop.abort();
  await job;
  return EVENTS / ((untilStopped ? performance.now() - t0 : elapsed) / 1000);
}

/**
 * The job with `guarantee` at a `checkpointSecs` interval, timed from its start until every
 * message is processed and its stop has committed the final checkpoint (exactly-once: the
 * final transactions), so that output still buffered or unsent counts against both guarantees.
 */
async function guaranteeThroughput(input: string, guarantee: ProcessorConfig['processing_guarantee'], checkpointSecs: number): Promise<number> {
  const base = jobConfig(input, await topic(`g-results-${randomUUID().slice(0, 4)}`), await topic(`g-dlq-${randomUUID().slice(0, 4)}`), 60, DISORDER_MS / 1000, checkpointSecs);
  // The preload is keyed by the key field: exactly-once needs no repartitioning, and neither run does it.
  const config: ProcessorConfig = { ...base, processing_guarantee: guarantee, kafka: { ...base.kafka, repartition: 'never' } };
  return jobThroughput(input, base.kafka.producer.result_topic, base.kafka.producer.dead_letter_topic, config, undefined, true);
}

/** Exactly-once against at-least-once at a 100 ms and a 1 s checkpoint interval (interleaved pairs, medians). */
async function exactlyOnceCost(input: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [label, secs] of [['100ms', 0.1], ['1s', 1]] as const) {
    const alo: number[] = [];
    const eos: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      alo.push(await guaranteeThroughput(input, 'at_least_once', secs));
      eos.push(await guaranteeThroughput(input, 'exactly_once', secs));
    }
    out[`alo_events_per_sec_${label}`] = Math.round(median(alo));
    out[`eos_events_per_sec_${label}`] = Math.round(median(eos));
    out[`eos_ratio_${label}`] = round(median(eos) / median(alo), 2);
  }
  return out;
}

/**
 * Incremental checkpoints with 100,000 open windows: the job with a checkpoint every second
 * against one per hour (the final one only), best of two each; and the median checkpoint.
 */
async function checkpointCost(input: string): Promise<{ checkpoint_ms: number; throughput_drop: number; checkpoints: number }> {
  const run = async (checkpointSecs: number): Promise<{ rate: number; metrics: ProcessorMetrics }> => {
    const metrics = createProcessorMetrics();
    const config = jobConfig(input, await topic(`cp-results-${checkpointSecs}-${randomUUID().slice(0, 4)}`), await topic(`cp-dlq-${randomUUID().slice(0, 4)}`), 3_600, DISORDER_MS / 1000, checkpointSecs);
    return { rate: await jobThroughput(input, config.kafka.producer.result_topic, config.kafka.producer.dead_letter_topic, config, metrics), metrics };
  };
  const rare: number[] = [];
  const often: { rate: number; metrics: ProcessorMetrics }[] = [];
  for (let i = 0; i < 2; i++) {
    rare.push((await run(3_600)).rate);
    often.push(await run(1));
  }
  const best = often.reduce((a, b) => (b.rate > a.rate ? b : a));
  const histogram = (await best.metrics.checkpointDuration.get()).values;
  const sum = histogram.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
  const count = histogram.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  return { checkpoint_ms: round(count === 0 ? 0 : (sum / count) * 1000, 1), throughput_drop: round(1 - best.rate / Math.max(...rare), 3), checkpoints: count };
}

/** Where the cores went during a scale run: cores busy on average, from `/proc` (undefined where it has no such figures). */
interface CoresUsed {
  /** The CLI processes, all their threads (JavaScript threads, V8's garbage collection and compiler threads, libuv). */
  readonly job?: number;
  /** The processes' main threads alone (with `parallelism: 1`, the one thread that runs JavaScript). */
  readonly mainThreads?: number;
  /** The local broker (`npm run kafka:up`'s). */
  readonly broker?: number;
}

interface GroupRun {
  readonly rate: number;
  readonly cores: CoresUsed;
}

/** The run of median rate (its cores with it). */
const medianRun = (group: readonly GroupRun[]): GroupRun => [...group].sort((a, b) => a.rate - b.rate)[(group.length - 1) >> 1]!;

/**
 * `instances` CLI processes (compiled) in one group: events per second from their start until
 * the group committed every input offset, and the cores they and the broker kept busy meanwhile.
 */
async function groupThroughput(input: string, instances: number, command: string[], parallelism = 1): Promise<GroupRun> {
  const group = name(`group-${instances}-${parallelism}-${randomUUID().slice(0, 4)}`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-kafka-'));
  const configs = Array.from({ length: instances }, (_, i) => {
    const path = join(dir, `instance-${i}.yaml`);
    writeFileSync(
      path,
      JSON.stringify({
        processor: {
          source: { type: 'kafka' },
          sink: { type: 'kafka' },
          dead_letter: { type: 'kafka' },
          state: { backend: 'level', path: join(dir, `state-${i}`) },
          checkpoint_interval_secs: 1,
          parallelism,
          windows: { default_type: 'tumbling', tumbling: { size_secs: 60, allowed_lateness_secs: 0 } },
          watermark: { max_out_of_orderness_secs: DISORDER_MS / 1000, idle_timeout_secs: 60 },
          metrics: { port: 0 },
          log: { level: 'warn' },
          kafka: {
            consumer: { bootstrap_servers: BROKERS, group_id: group, topics: [input] },
            producer: { result_topic: name('scale-results'), dead_letter_topic: name('scale-dlq') },
          },
        },
      }),
    );
    return path;
  });
  const admin = kafka().admin();
  await admin.connect();
  const broker = localBrokerPid();
  const brokerBefore = broker === undefined ? undefined : processCpuSeconds(broker);
  const t0 = performance.now();
  const children = configs.map((path) => spawn(process.execPath, [...command, '--config', path], { stdio: 'ignore' }));
  try {
    for (;;) {
      const [entry] = await admin.fetchOffsets({ groupId: group, topics: [input] }).catch(() => [undefined]);
      const committed = entry?.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0) ?? 0;
      if (committed >= EVENTS) {
        const seconds = (performance.now() - t0) / 1000;
        return { rate: EVENTS / seconds, cores: coresUsed(children.map((c) => c.pid!), broker, brokerBefore, seconds) };
      }
      if (performance.now() - t0 > 300_000) throw new Error(`${instances} instance(s) committed ${committed} of ${EVENTS} in 300 s`);
      await sleep(100);
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}


/** The cores `pids` (and the broker, since `brokerBefore`) kept busy over the last `seconds`. */
function coresUsed(pids: readonly number[], broker: number | undefined, brokerBefore: number | undefined, seconds: number): CoresUsed {
  const sum = (xs: readonly (number | undefined)[]): number | undefined => (xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((a, x) => a + x!, 0));
  const cores = (cpu: number | undefined): number | undefined => (cpu === undefined ? undefined : round(cpu / seconds, 2));
  const brokerNow = broker === undefined ? undefined : processCpuSeconds(broker);
  return {
    job: cores(sum(pids.map(processCpuSeconds))),
    mainThreads: cores(sum(pids.map((pid) => threadCpuSeconds(pid)?.get(pid)))),
    broker: cores(brokerNow === undefined || brokerBefore === undefined ? undefined : brokerNow - brokerBefore),
  };
}

/**
 * The job on 1 s windows, no disorder bound, while a child process produces wall-clock events at `rate`:
 * the latency of each result, its broker append time (the result topic uses `LogAppendTime`) minus its
 * window's end, read back from the result topic. Windows that end in the first seconds are left out.
 */
async function latencies(rate: number, what: string, parallelism = 1): Promise<LatencyPhase> {
  // Both topics stamp records with the broker's append time: the input's says when the event that
  // moved the watermark past a window's end was there to be fetched.
  const input = await topic(`${what}-events`, { 'message.timestamp.type': 'LogAppendTime' });
  const output = await topic(`${what}-results`, { 'message.timestamp.type': 'LogAppendTime' });
  const deadLetters = await topic(`${what}-dlq`);
  const values: number[] = [];
  const inJob: number[] = [];
  let measuring = false;
  // The job's own share: from the hand-over of the record that fired a window to the broker's ack of its result.
  const onLatency = (ms: number): void => void (measuring && inJob.push(ms));
  const stopJob = parallelism === 1 ? await jobInProcess(jobConfig(input, output, deadLetters, 1, 0), onLatency) : await jobProcess(jobSettings(input, output, deadLetters, 1, 0, 60, parallelism), parallelism);
  const firstWindowEnd = Date.now() + LATENCY_WARMUP_SECS * 1000;
  setTimeout(() => (measuring = true), LATENCY_WARMUP_SECS * 1000);
  const child = fork(fileURLToPath(import.meta.url), ['--load-producer', input, String(Math.round(rate)), String(LATENCY_SECS)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let produced = 0;
  child.stdout!.on('data', (chunk: Buffer) => (produced = Number(chunk.toString().trim().split('\n').pop())));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  // The last results on their way to the broker.
  await sleep(500);
  await stopJob();
  if (code !== 0) throw new Error(`load producer exited with ${code}`);
  // Read back once the job is over: a reader in this process during the phase would share the job's event
  // loop exactly when a window end's results leave (the broker's append times do not depend on when they are read).
  await readBack(output, (_, message) => {
    const end = (JSON.parse(message.value!.toString('utf8')) as { window: { end: number } }).window.end;
    if (end >= firstWindowEnd) values.push(Number(message.timestamp) - end);
  });
  return { values, inJob, eventAfterEnd: await firstEventsAfterWindowEnds(input, firstWindowEnd), produced };
}

/** runKafkaJob in this process, once its tasks are ready; resolves with how to stop it. */
async function jobInProcess(config: ProcessorConfig, onLatency: (ms: number) => void): Promise<() => Promise<unknown>> {
  const stop = new AbortController();
  let ready = false;
  const job = runKafkaJob({ config, signal: stop.signal, onReady: () => (ready = true), onLatency });
  while (!ready) await sleep(10);
  return () => (stop.abort(), job);
}

/** The compiled CLI with `settings`, once its `members` threads have their partitions; resolves with how to stop it. */
async function jobProcess(settings: Record<string, unknown>, members: number): Promise<() => Promise<unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-kafka-'));
  const path = join(dir, 'job.yaml');
  writeFileSync(path, JSON.stringify(settings));
  const group = (settings['processor'] as { kafka: { consumer: { group_id: string } } }).kafka.consumer.group_id;
  const child = spawn(process.execPath, [...cli(), '--config', path], { stdio: 'ignore' });
  let code: number | null | undefined;
  const exited = new Promise((resolve) => child.once('exit', (c) => resolve((code = c))));
  const admin = kafka().admin();
  await admin.connect();
  try {
    for (const until = Date.now() + 60_000; ; await sleep(100)) {
      if (code !== undefined) throw new Error(`the job exited with ${code} before its ${members} threads joined`);
      if (Date.now() > until) throw new Error(`the job's ${members} threads did not join group ${group} within 60 s`);
      const { groups } = await admin.describeGroups([group]);
      if (groups[0]?.state === 'Stable' && groups[0].members.length === members) break;
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    await admin.disconnect();
  }
  return async () => {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
}

let compiledCli: string[] | undefined;
/** The CLI compiled once per bench run. */
const cli = (): string[] => (compiledCli ??= buildCli());

interface LatencyPhase {
  /** Each result's broker append time − its window's end. */
  readonly values: number[];
  /** The job's share of it: hand-over of the record that fired the window → the broker's ack of the result. */
  readonly inJob: number[];
  /** Per input partition and window: the append time of the first event at or past the window's end − that end. */
  readonly eventAfterEnd: number[];
  readonly produced: number;
}

/** `eventAfterEnd` of a latency phase: reads the input back (its append times), windows from `fromEnd` on. */
async function firstEventsAfterWindowEnds(input: string, fromEnd: number): Promise<number[]> {
  const first = new Map<string, number>();
  await readBack(input, (partition, message) => {
    const eventTime = Date.parse((JSON.parse(message.value!.toString('utf8')) as { timestamp: string }).timestamp);
    const windowEnd = Math.floor(eventTime / 1000) * 1000;
    const key = `${partition}/${windowEnd}`;
    if (windowEnd >= fromEnd && !first.has(key)) first.set(key, Number(message.timestamp) - windowEnd);
  });
  return [...first.values()];
}

/** Reads `topic` from its start to its end as it stands now, each partition in offset order. */
async function readBack(topic: string, each: (partition: number, message: KafkaMessage) => void): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).filter((o) => Number(o.high) > 0).map((o) => [o.partition, Number(o.high)]));
  await admin.disconnect();
  const reader = kafka().consumer({ groupId: name(`read-back-${randomUUID().slice(0, 4)}`), maxWaitTimeInMs: 100 });
  await reader.connect();
  await reader.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise<void>((resolve) => {
    if (ends.size === 0) resolve();
    void reader.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) each(batch.partition, message);
        if (Number(batch.lastOffset()) + 1 >= ends.get(batch.partition)!) ends.delete(batch.partition);
        if (ends.size === 0) resolve();
      },
    });
  });
  await reader.disconnect();
}

/** Child process: `rate` events/s for `secs` seconds, event time = wall-clock time, keyed by model; prints the count. */
async function loadProducer(input: string, rate: number, secs: number): Promise<void> {
  // This process shares the 2 cores with the job: kafkajs's own encoding took ~0.7 of a core at 40k events/s.
  installProduceRequestEncoder();
  const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const random = createRandom(7);
  const models = Array.from({ length: KEYS }, (_, i) => `model-${i}`);
  const event = (i: number, now: number): Message => {
    const model = models[Math.floor(random() * KEYS)]!;
    return { key: model, value: JSON.stringify(benchEvent(`l-${i}`, now, model, random)) };
  };
  const t0 = Date.now();
  let sent = 0;
  // Every millisecond or so (a timer turn after the previous send's ack), send what the rate owes so far:
  // the first event past a window's end leaves about 2 ms after it, as from a continuous producer,
  // rather than up to a 5 ms polling period later.
  while (Date.now() - t0 < secs * 1000) {
    const now = Date.now();
    // Capped: one request per partition must stay under the broker's message.max.bytes (1 MB).
    const due = Math.min(2_000, Math.floor(((now - t0) / 1000) * rate) - sent);
    if (due > 0) {
      const messages = Array.from({ length: due }, (_, k) => event(sent + k, now));
      await producer.send({ topic: input, acks: 1, compression: CompressionTypes.None, messages });
      sent += due;
    }
    await sleep(1);
  }
  await producer.disconnect();
  process.stdout.write(`${sent}\n`);
}

const percentile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))]!;
const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** p50 and p99 of a latency phase, under `suffix`, with the rate the load producer reached. */
function latencyFigures(phase: LatencyPhase, target: number, suffix: string): Record<string, number> {
  if (phase.values.length === 0) throw new Error(`no window results in the latency phase${suffix}`);
  const sorted = [...phase.values].sort((a, b) => a - b);
  const inJob = [...phase.inJob].sort((a, b) => a - b);
  const eventAfterEnd = [...phase.eventAfterEnd].sort((a, b) => a - b);
  return {
    [`p50_latency_ms${suffix}`]: round(percentile(sorted, 50), 1),
    [`p99_latency_ms${suffix}`]: round(percentile(sorted, 99), 1),
    // Where it goes: the input's share (the load producer and the broker), the job's, and the rest is the fetch.
    [`p50_event_after_end_ms${suffix}`]: round(percentile(eventAfterEnd, 50), 1),
    [`p99_event_after_end_ms${suffix}`]: round(percentile(eventAfterEnd, 99), 1),
    // Measured in this process only (a job in another process has no hand-over times here).
    ...(inJob.length === 0 ? {} : { [`p50_in_job_ms${suffix}`]: round(percentile(inJob, 50), 1), [`p99_in_job_ms${suffix}`]: round(percentile(inJob, 99), 1) }),
    // What the load producer reached (it shares the 2 cores with the broker and the job) versus asked for.
    [`latency_rate_events_per_sec${suffix}`]: Math.round(phase.produced / LATENCY_SECS),
    [`latency_target_rate_events_per_sec${suffix}`]: Math.round(target),
    [`latency_results${suffix}`]: sorted.length,
  };
}

/** `BENCH_KAFKA_ONLY=throughput,scale,latency,eos` (any of them) runs those phases alone (while tuning); the figures then omit the rest. */
const only = process.env['BENCH_KAFKA_ONLY'];
const runs = (phase: 'throughput' | 'latency' | 'scale' | 'eos'): boolean => only === undefined || only.split(',').includes(phase);

try {
  const figures: Record<string, unknown> = { events: EVENTS, partitions: PARTITIONS, keys: KEYS };
  // The preloaded input, shared by the phases that read it.
  let input: string | undefined;
  const preloaded = async (): Promise<string> => {
    if (input === undefined) {
      input = await topic('events');
      figures['preload_events_per_sec'] = Math.round(await preload(input));
    }
    return input;
  };
  const raw: number[] = [];
  const rawOnePass: number[] = [];
  const job: number[] = [];
  const oneInstanceRuns: number[] = [];
  const parallelism2Runs: number[] = [];
  if (runs('throughput')) {
    const input = await preloaded();
    for (let i = 0; i < RUNS; i++) {
      raw.push(rawConsume(input));
      rawOnePass.push(rawConsume(input, true));
      job.push(await jobThroughput(input, await topic(`results-${i}`), await topic(`dlq-${i}`)));
    }
    const rawRate = median(raw);
    const jobRate = median(job);
    Object.assign(figures, {
      raw_consume_events_per_sec: Math.round(rawRate),
      events_per_sec: Math.round(jobRate),
      ratio: round(jobRate / rawRate, 2),
      // The same bare consumer over this project's one-pass record batch decoder.
      raw_consume_one_pass_events_per_sec: Math.round(median(rawOnePass)),
    });
    if (runs('scale')) {
      await topic('scale-results');
      await topic('scale-dlq');
      // One instance and `parallelism: 2` interleaved, RUNS each: single runs of either moved 10–20% between runs.
      const ones: GroupRun[] = [];
      const twos: GroupRun[] = [];
      for (let i = 0; i < RUNS; i++) {
        ones.push(await groupThroughput(input, 1, cli()));
        twos.push(await groupThroughput(input, 1, cli(), 2));
      }
      const oneInstance = medianRun(ones);
      const twoThreads = medianRun(twos);
      oneInstanceRuns.push(...ones.map((r) => r.rate));
      parallelism2Runs.push(...twos.map((r) => r.rate));
      const twoInstances = await groupThroughput(input, 2, cli());
      Object.assign(figures, {
        events_per_sec_parallelism_2: Math.round(twoThreads.rate),
        parallel_speedup: round(twoThreads.rate / oneInstance.rate, 2),
        events_per_sec_one_instance: Math.round(oneInstance.rate),
        events_per_sec_two_instances: Math.round(twoInstances.rate),
        scale_out_speedup: round(twoInstances.rate / oneInstance.rate, 2),
        // Where the two cores went: with one thread of JavaScript, V8's collector and compiler threads already use part of the second.
        cores_one_instance: oneInstance.cores.job,
        cores_main_thread_one_instance: oneInstance.cores.mainThreads,
        cores_broker_one_instance: oneInstance.cores.broker,
        cores_parallelism_2: twoThreads.cores.job,
        cores_broker_parallelism_2: twoThreads.cores.broker,
      });
      const wide = await topic('wide');
      await preload(wide, 100_000);
      Object.assign(figures, await checkpointCost(wide));
    }
  }
  if (runs('latency')) {
    Object.assign(figures, latencyFigures(await latencies(LATENCY_RATE, 'live'), LATENCY_RATE, ''));
    // Half of the measured maximum: the job's throughput when measured in this run.
    const half = job.length > 0 ? median(job) / 2 : Number(process.env['BENCH_KAFKA_HALF_RATE'] ?? 50_000);
    Object.assign(figures, latencyFigures(await latencies(half, 'live-half'), half, '_half'));
    // The same 5k events/s with the window ends' work shared by two worker threads (the compiled CLI).
    Object.assign(figures, latencyFigures(await latencies(LATENCY_RATE, 'live-parallel', 2), LATENCY_RATE, '_parallelism_2'));
  }
  if (runs('eos')) Object.assign(figures, await exactlyOnceCost(await preloaded()));
  figures['raw_runs'] = raw.map((x) => Math.round(x));
  figures['raw_one_pass_runs'] = rawOnePass.map((x) => Math.round(x));
  figures['job_runs'] = job.map((x) => Math.round(x));
  figures['one_instance_runs'] = oneInstanceRuns.map((x) => Math.round(x));
  figures['parallelism_2_runs'] = parallelism2Runs.map((x) => Math.round(x));
  console.log(JSON.stringify(figures));
} finally {
  // The bench's topics hold ~250 MB; drop them rather than fill the broker's disk run after run.
  const admin = kafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: created }).catch(() => undefined);
  await admin.disconnect();
}
