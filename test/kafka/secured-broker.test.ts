/**
 * TLS and SASL/SCRAM against real listeners (issue 12). A broker of the test's own
 * (scripts/kafka-up.sh with KAFKA_SSL_PORT — client certificates required —,
 * KAFKA_SCRAM_PORT and KAFKA_SASL_SSL_PORT) serves the real job, whose every Kafka client
 * (consumer, producers, admin) connects through the secured listener; its results must
 * equal a brute-force model of the input. config/managed-kafka.yaml itself runs through the
 * CLI against the SASL_SSL listener. The test's own input and result reads use the
 * broker's PLAINTEXT listener. Wrong credentials fail with an error naming the cause.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/builder/create-pipeline.js';
import { parseConfig } from '../../src/config/index.js';
import { exited, startCli } from '../support/cli.js';
import { exactPercentile, statsOf } from '../support/oracle.js';
import { freePort, startOwnBroker, type OwnBroker } from '../support/own-broker.js';
import { tempDir } from '../support/temp-dir.js';
import { produce, readAll, unique } from './helpers.js';

/** The user config/managed-kafka.yaml names; the broker knows it for both SCRAM mechanisms. */
const USER = 'feedback-processor';
const PASSWORD = 'scr4m-s3cret';
const T0 = Date.UTC(2026, 10, 26, 10);
const MODELS = ['gpt-4o', 'claude-3-5-sonnet', 'mistral-large'];

let broker: OwnBroker | undefined;
const listener = { ssl: '', scram: '', saslSsl: '' };
/** The CA, client certificate and key that kafka-up.sh generated. */
let tls = '';

beforeAll(async () => {
  const [ssl, scram, saslSsl] = [await freePort(), await freePort(), await freePort()];
  broker = await startOwnBroker('secured-broker-', {
    KAFKA_SSL_PORT: String(ssl),
    KAFKA_SCRAM_PORT: String(scram),
    KAFKA_SASL_SSL_PORT: String(saslSsl),
    KAFKA_SCRAM_USERS: `${USER}:${PASSWORD}`,
  });
  Object.assign(listener, { ssl: `127.0.0.1:${ssl}`, scram: `127.0.0.1:${scram}`, saslSsl: `127.0.0.1:${saslSsl}` });
  tls = join(broker.kafkaDir, 'tls');
}, 240_000);

afterAll(async () => {
  await broker?.remove();
}, 120_000);

interface Output {
  key: { model: string };
  window: { start: number };
  early?: boolean;
  event_count: number;
  metrics: { latency_ms: { count: number; sum: number; min: number; max: number; avg: number; p50: number } };
}

/** Events of three models over twelve minutes in time order, then a far later one that closes every window. */
function input(): { key: string; value: string }[] {
  const events = Array.from({ length: 240 }, (_, i) => {
    const model = MODELS[(i * 7) % MODELS.length]!;
    return { key: model, value: JSON.stringify({ timestamp: T0 + i * 3_000, model, metrics: { latency_ms: 50 + ((i * 37) % 400) } }) };
  });
  return [...events, { key: 'sentinel', value: JSON.stringify({ timestamp: T0 + 86_400_000, model: 'sentinel', metrics: {} }) }];
}

type Row = Output['metrics']['latency_ms'];
/** The mean to 9 decimals: the engine's running mean and sum / count may differ in the last bits. */
const row = ({ count, sum, min, max, avg, p50 }: Row): Row => ({ count, sum, min, max, avg: Number(avg.toFixed(9)), p50 });

/** Brute force over the input: per model and window of `sizeMs`, the statistics the job must report. */
function model(messages: { value: string }[], sizeMs: number): Map<string, Row> {
  const windows = new Map<string, number[]>();
  for (const { value } of messages) {
    const e = JSON.parse(value) as { timestamp: number; model: string; metrics: { latency_ms?: number } };
    if (e.model === 'sentinel') continue;
    const id = `${e.model}@${e.timestamp - (e.timestamp % sizeMs)}`;
    windows.set(id, [...(windows.get(id) ?? []), e.metrics.latency_ms!]);
  }
  return new Map(
    [...windows].map(([id, values]) => {
      const s = statsOf(values);
      return [id, row({ ...s, p50: exactPercentile(s.sorted, 50) })];
    }),
  );
}

/** The job's final results as the model's shape (early results of open windows left out). */
function outcome(results: { value: string }[]): Map<string, Row> {
  const final = results.map((r) => JSON.parse(r.value) as Output).filter((o) => o.early !== true);
  return new Map(final.map((o) => [`${o.key.model}@${o.window.start}`, row(o.metrics.latency_ms)]));
}

/** Polls the result topic (PLAINTEXT listener) until it holds `count` final results, or `failed` says why not. */
async function results(topic: string, count: number, failed: () => unknown): Promise<{ value: string }[]> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (failed() !== undefined) throw failed();
    const got = await readAll(topic, broker!.brokers).catch(() => []);
    if (outcome(got).size >= count || Date.now() > deadline) return got;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** A one-minute tumbling Kafka job on `brokers` whose `kafka` section adds `security` (YAML). */
function job(brokers: string, security: string, env: Readonly<Record<string, string>> = {}): { config: ReturnType<typeof parseConfig>; input: string; output: string } {
  const [input, output] = [unique('secured-in'), unique('secured-out')];
  const config = parseConfig(
    `processor:
  source: { type: kafka }
  sink: { type: kafka }
  dead_letter: { type: kafka }
  state: { backend: memory }
  windows: { default_type: tumbling, tumbling: { size_secs: 60, allowed_lateness_secs: 0 } }
  watermark: { max_out_of_orderness_secs: 0, idle_timeout_secs: 600 }
  aggregation: { enabled: [count, sum, average, min, max, percentile], percentiles: [50] }
  metrics: { port: 0 }
  log: { level: silent }
  kafka:
    consumer: { group_id: ${unique('secured-group')}, topics: [${input}] }
    producer: { result_topic: ${output}, dead_letter_topic: ${unique('secured-dlq')} }
    topic_partitions: 1
    repartition: never
    client_id: secured-test
${security.replace(/^/gm, '    ')}
`,
    { PROCESSOR_KAFKA_BROKERS: brokers, ...env },
  );
  return { config, input, output };
}

/** Runs the job (the builder, as the service does) over `input()` and returns its results next to the model's. */
async function runJob(brokers: string, security: string, env: Readonly<Record<string, string>> = {}): Promise<{ got: Map<string, Row>; want: Map<string, Row> }> {
  const { config, input: topic, output } = job(brokers, security, env);
  const messages = input();
  await produce(topic, messages, broker!.brokers);
  const want = model(messages, 60_000);
  const stop = new AbortController();
  let failure: unknown;
  const running = createPipeline().withConfig(config).build().run({ signal: stop.signal }).catch((error: unknown) => (failure = error));
  try {
    return { got: outcome(await results(output, want.size, () => failure)), want };
  } finally {
    stop.abort();
    await running;
  }
}

/** The error a job fails with at start (it must fail). */
async function failure(brokers: string, security: string, env: Readonly<Record<string, string>> = {}): Promise<Error> {
  const { config } = job(brokers, security, env);
  const outcome = await createPipeline().withConfig(config).build().run({ signal: new AbortController().signal }).then(
    () => new Error('the job did not fail'),
    (error: unknown) => error as Error,
  );
  return outcome;
}

describe('TLS and SASL/SCRAM on real listeners', () => {
  it('mutual TLS: the CA, client certificate and key from file paths; results equal the model', async () => {
    const { got, want } = await runJob(listener.ssl, `ssl: { ca_file: ${tls}/ca.pem, cert_file: ${tls}/client.pem, key_file: ${tls}/client.key }`);
    expect(want.size).toBeGreaterThan(30);
    expect(got).toEqual(want);
  }, 150_000);

  it.each(['scram-sha-256', 'scram-sha-512'])('SASL %s: results equal the model', async (mechanism) => {
    const { got, want } = await runJob(listener.scram, `sasl: { mechanism: ${mechanism}, username: ${USER} }`, { PROCESSOR_KAFKA_SASL_PASSWORD: PASSWORD });
    expect(got).toEqual(want);
  }, 150_000);

  it('config/managed-kafka.yaml as shipped (TLS + SCRAM-SHA-512) runs through the CLI; results equal the model', async () => {
    const [topic, output] = [unique('managed-in'), unique('managed-out')];
    const messages = input();
    await produce(topic, messages, broker!.brokers);
    const want = model(messages, 300_000);
    // `ssl: true` trusts the system's CAs; Node adds the test CA to them, as a deployment would with its own.
    const cli = startCli(['--config', 'config/managed-kafka.yaml'], {
      NODE_EXTRA_CA_CERTS: join(tls, 'ca.pem'),
      PROCESSOR_KAFKA_BROKERS: listener.saslSsl,
      PROCESSOR_KAFKA_SASL_PASSWORD: PASSWORD,
      PROCESSOR_GROUP_ID: unique('managed-group'),
      PROCESSOR_STATE_PATH: join(tempDir('managed-state-'), 'state'),
      PROCESSOR_METRICS_PORT: '0',
      PROCESSOR_LOG_LEVEL: 'error',
      PROCESSOR__KAFKA__CONSUMER__TOPICS: `[${topic}]`,
      PROCESSOR__KAFKA__PRODUCER__RESULT_TOPIC: output,
      PROCESSOR__KAFKA__PRODUCER__DEAD_LETTER_TOPIC: unique('managed-dlq'),
    });
    let stderr = '';
    cli.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let exitCode: number | string | undefined;
    const exit = exited(cli).then((code) => (exitCode = code));
    try {
      const got = outcome(await results(output, want.size, () => (exitCode === undefined ? undefined : new Error(`the CLI exited (${exitCode}): ${stderr}`))));
      expect(got).toEqual(want);
    } finally {
      cli.kill('SIGTERM');
      await exit;
    }
    expect(stderr).not.toContain(PASSWORD);
  }, 180_000);

  it('a wrong SCRAM password fails the job with the authentication error, without the password', async () => {
    const wrong = 'wr0ng-scr4m';
    const error = await failure(listener.scram, `sasl: { mechanism: scram-sha-512, username: ${USER} }`, { PROCESSOR_KAFKA_SASL_PASSWORD: wrong });
    expect(error.message).toMatch(/SASL SCRAM SHA512 authentication failed/);
    expect(`${error.message} ${String(error.cause)} ${error.stack}`).not.toContain(wrong);
  }, 60_000);

  it('a CA that did not sign the broker certificate fails the job naming the certificate problem', async () => {
    const other = tempDir('other-ca-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=another CA', '-keyout', join(other, 'ca.key'), '-out', join(other, 'ca.pem')], { stdio: 'ignore' });
    const error = await failure(listener.ssl, `ssl: { ca_file: ${other}/ca.pem, cert_file: ${tls}/client.pem, key_file: ${tls}/client.key }`);
    expect(error.message).toMatch(new RegExp(`cannot connect to Kafka brokers ${listener.ssl}: .*self-signed certificate in certificate chain`));
  }, 60_000);

  it('without a client certificate the listener that requires one refuses the connection', async () => {
    const error = await failure(listener.ssl, `ssl: { ca_file: ${tls}/ca.pem }`);
    expect(error.message).toMatch(new RegExp(`cannot connect to Kafka brokers ${listener.ssl}: .*bad certificate`));
  }, 60_000);
});
