/**
 * A test's OWN Kafka broker (KAFKA_DIR in a temp folder, free ports; scripts/kafka-up.sh and
 * kafka-down.sh), for tests that stop it or need listeners the shared one lacks.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './cli.js';

const run = promisify(execFile);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface OwnBroker {
  /** `127.0.0.1:<port>` of its PLAINTEXT listener. */
  readonly brokers: string;
  readonly kafkaDir: string;
  /** Runs scripts/<name> for this broker (`kafka-down.sh` stops it, `kafka-up.sh` starts it again). */
  script(name: 'kafka-up.sh' | 'kafka-down.sh', ...args: string[]): Promise<void>;
  /** Stops it and deletes its folder. */
  remove(): Promise<void>;
}

/** Starts a broker of its own; `extraEnv` configures more of it (e.g. KAFKA_SASL_PORT). */
export async function startOwnBroker(prefix: string, extraEnv: Readonly<Record<string, string>> = {}): Promise<OwnBroker> {
  const kafkaDir = mkdtempSync(join(tmpdir(), prefix));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const env = { ...process.env, ...extraEnv, KAFKA_DIR: kafkaDir, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controllerPort) };
  const script = async (name: 'kafka-up.sh' | 'kafka-down.sh', ...args: string[]): Promise<void> => {
    try {
      await run('bash', [join(REPO, 'scripts', name), ...args], { cwd: REPO, env, timeout: 180_000 });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`scripts/${name} (KAFKA_DIR=${kafkaDir}) failed: ${e.message}\n${(e.stderr ?? '').slice(-2_000)}`);
    }
  };
  const broker: OwnBroker = {
    brokers: `127.0.0.1:${port}`,
    kafkaDir,
    script,
    remove: async () => {
      await script('kafka-down.sh', '--clean').catch(() => undefined);
      rmSync(kafkaDir, { recursive: true, force: true });
    },
  };
  try {
    await script('kafka-up.sh');
  } catch (error) {
    await broker.remove();
    throw error;
  }
  return broker;
}
