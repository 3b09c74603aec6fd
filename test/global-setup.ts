/**
 * vitest globalSetup: makes sure a Kafka broker is reachable before any test runs.
 *
 * - If the broker address (env `KAFKA_BROKERS`, default `127.0.0.1:9092`; the first of a
 *   comma-separated list is probed) accepts TCP connections, it is used as is.
 * - Otherwise, for a local address, `scripts/kafka-up.sh` starts one, and the teardown
 *   stops it again with `scripts/kafka-down.sh` (only a broker this setup started).
 * - A broker that cannot be reached or started fails the whole run with the reason.
 * - `KAFKA_SKIP_START=1` never starts a broker (for runs without Kafka tests); Kafka tests
 *   then fail on their own if no broker is there.
 *
 * Tests read the address with `inject('kafkaBrokers')`.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Comma-separated `host:port` list of the broker the tests use. */
    kafkaBrokers: string;
  }
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost']);

function canConnect(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function runScript(script: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(repoRoot, 'scripts', script)], { cwd: repoRoot, env, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`scripts/${script} failed (${signal ?? `exit code ${code}`}); see its output above and .cache/kafka/logs/`)),
    );
  });
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  project.provide('kafkaBrokers', brokers);

  const first = brokers.split(',')[0]!.trim();
  const separator = first.lastIndexOf(':');
  const host = first.slice(0, separator);
  const port = Number(first.slice(separator + 1));
  if (separator <= 0 || !Number.isInteger(port)) {
    throw new Error(`KAFKA_BROKERS must be host:port[,host:port...], got "${brokers}"`);
  }

  if (await canConnect(host, port)) return undefined;
  if (process.env.KAFKA_SKIP_START === '1') return undefined;
  if (!LOCAL_HOSTS.has(host)) {
    throw new Error(`Kafka broker ${first} (KAFKA_BROKERS) is not reachable, and only a local broker can be started`);
  }

  await runScript('kafka-up.sh', { ...process.env, KAFKA_PORT: String(port) });
  if (!(await canConnect(host, port))) {
    throw new Error(`scripts/kafka-up.sh reported success but ${first} does not accept connections`);
  }
  return () => runScript('kafka-down.sh', process.env);
}
