/**
 * The alert rules (monitoring/alerts.yaml, k8s/prometheus-rule.yaml) and the Grafana
 * dashboard against the real thing: Debian's `promtool` checks the rules and runs their
 * unit tests (monitoring/alerts.test.yaml), and a real `prometheus` scrapes a running
 * Kafka-mode service (consumer lag and processing latency exist only there) and must
 * find at least one series for every alert expression and every dashboard query: a
 * renamed metric or label would otherwise leave an alert that can never fire.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEvents } from '../../scripts/generate-sample.js';
import { ensureTopics } from '../../src/kafka/index.js';
import { exited, onStderrLine, REPO, startCli } from '../support/cli.js';
import { brokers, produce, unique } from '../kafka/helpers.js';

const run = promisify(execFile);

interface RuleFile {
  readonly groups: readonly { readonly name: string; readonly rules: readonly { readonly alert: string; readonly expr: string }[] }[];
}

const read = (path: string): string => readFileSync(join(REPO, path), 'utf8');
const alerts = yaml.load(read('monitoring/alerts.yaml')) as RuleFile;
const rules = alerts.groups.flatMap((g) => g.rules);

/** Fails (never skips) without the binary: the alerts would otherwise go untested. */
function requireBinary(name: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${name} not found: install Debian's prometheus package (apt-get install -y --no-install-recommends prometheus), as .ci/run does`);
  }
}

/**
 * The figure an alert compares: its expression without the trailing threshold (every rule
 * ends with one, see monitoring/alerts.yaml), so that the query returns a series whether
 * or not the alert would fire. The dashboard's `> 0` (hiding idle series) goes the same way.
 */
const withoutThreshold = (expr: string): string => expr.replace(/\s*(?:[<>]=?|==|!=)\s*[-+.\deE]+\s*$/, '');

describe('alert rules (promtool)', () => {
  it('pass `promtool check rules`', async () => {
    requireBinary('promtool');
    const { stdout } = await run('promtool', ['check', 'rules', 'monitoring/alerts.yaml'], { cwd: REPO });
    expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'StreamProcessorConsumerLagHigh',
      'StreamProcessorErrorRateHigh',
      'StreamProcessorLatencyHigh',
      'StreamProcessorStateSizeHigh',
    ]);
  });

  it('pass their unit tests, a firing and a not-firing case per alert (`promtool test rules`)', async () => {
    requireBinary('promtool');
    const { stdout } = await run('promtool', ['test', 'rules', 'monitoring/alerts.test.yaml'], { cwd: REPO });
    expect(stdout).toContain('SUCCESS');
    const tests = yaml.load(read('monitoring/alerts.test.yaml')) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    for (const { alert } of rules) {
      expect(cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0), `${alert} fires in a test`).toBe(true);
      expect(cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0), `${alert} stays quiet in a test`).toBe(true);
    }
  });

  it('are the same in the PrometheusRule of k8s/', () => {
    const resource = yaml.load(read('k8s/prometheus-rule.yaml')) as { kind: string; spec: RuleFile };
    expect(resource.kind).toBe('PrometheusRule');
    expect(resource.spec).toEqual(alerts);
    expect(read('k8s/kustomization.yaml')).toMatch(/^\s*- prometheus-rule\.yaml$/m);
  });
});

/** A port free now (the OS picks it); Prometheus takes it a moment later. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Stops a child with SIGTERM, then SIGKILL if it is still there after `ms`. */
async function stop(child: ChildProcess, ms = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await gone;
  clearTimeout(timer);
}

describe('a real Prometheus scraping the running service', () => {
  let dir: string;
  let service: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let api: string;
  const logs: string[] = [];

  beforeAll(async () => {
    requireBinary('prometheus');
    dir = mkdtempSync(join(tmpdir(), 'alerts-e2e-'));
    const input = unique('alerts-in');
    await ensureTopics({ brokers: brokers() }, [{ topic: input, numPartitions: 2 }]);
    // An hour of event time ending now, with invalid lines: windows fire (latency), dead
    // letters and checkpoints happen, and every counter moves.
    const lines = generateEvents({ count: 5_000, seed: 7, startMs: Date.now() - 3_600_000, durationMs: 3_540_000, invalidPerKind: 3 });
    await produce(input, lines.map((value) => ({ value })));
    const config = join(dir, 'service.yaml');
    writeFileSync(
      config,
      `processor:
  source: { type: kafka }
  sink: { type: kafka }
  dead_letter: { type: kafka }
  state: { backend: level, path: ${join(dir, 'state')} }
  checkpoint_interval_secs: 1
  windows: { default_type: tumbling, tumbling: { size_secs: 60, allowed_lateness_secs: 10 } }
  kafka:
    consumer: { bootstrap_servers: "${brokers()}", group_id: ${unique('alerts-group')}, topics: [${input}] }
    producer: { result_topic: ${unique('alerts-results')}, dead_letter_topic: ${unique('alerts-dead')} }
  metrics: { port: 0, host: 127.0.0.1 }
  log: { level: info }
`,
    );
    service = startCli(['--config', config]);
    const metricsPort = new Promise<number>((resolve) => {
      onStderrLine(service!, (line) => {
        logs.push(line);
        if (line.includes('http endpoint listening')) resolve((JSON.parse(line) as { port: number }).port);
      });
    });
    const port = await Promise.race([
      metricsPort,
      exited(service).then((code) => Promise.reject(new Error(`service exited (${code}):\n${logs.join('\n')}`))),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no 'http endpoint listening' line:\n${logs.join('\n')}`)), 30_000)),
    ]);

    const promPort = await freePort();
    api = `http://127.0.0.1:${promPort}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [${join(REPO, 'monitoring/alerts.yaml')}]
scrape_configs:
  - job_name: stream-processor
    static_configs: [{ targets: ['127.0.0.1:${port}'] }]
`,
    );
    const promLog: string[] = [];
    prometheus = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr?.on('data', (chunk: Buffer) => promLog.push(chunk.toString('utf8')));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (prometheus.exitCode !== null) throw new Error(`prometheus exited (${prometheus.exitCode}): ${promLog.join('')}`);
      const ready = await fetch(`${api}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`prometheus not ready after 30 s: ${promLog.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  afterAll(async () => {
    await Promise.all([prometheus, service].map((child) => child && stop(child)));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function query(expr: string): Promise<unknown[]> {
    const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? response.status}`);
    return body.data!.result;
  }

  /** Polls (bounded) until every expression returns a series; returns the ones still empty. */
  async function emptyAfterWaiting(exprs: readonly string[], timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const empty: string[] = [];
      for (const expr of exprs) if ((await query(expr)).length === 0) empty.push(expr);
      if (empty.length === 0 || Date.now() > deadline) return empty;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  it('loads the rules and returns a series for every alert expression', { timeout: 90_000 }, async () => {
    const exprs = rules.map((r) => withoutThreshold(r.expr));
    expect(exprs.every((e, i) => e !== rules[i]!.expr), 'every rule ends with its threshold').toBe(true);
    expect(await emptyAfterWaiting(exprs, 60_000)).toEqual([]);
    // Evaluated without error by Prometheus itself.
    const loaded = (await (await fetch(`${api}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const health = loaded.data.groups.flatMap((g) => g.rules).map((r) => ({ name: r.name, health: r.health, error: r.lastError ?? '' }));
    expect(health.map((h) => h.name).sort()).toEqual(rules.map((r) => r.alert).sort());
    expect(health.filter((h) => h.health !== 'ok')).toEqual([]);
  });

  it('returns a series for every Grafana panel query', { timeout: 90_000 }, async () => {
    const dashboard = JSON.parse(read('grafana/dashboard.json')) as { panels: { targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels
      .flatMap((p) => p.targets ?? [])
      // Grafana's variables as the dashboard resolves them: every instance, a rate window
      // of a few scrapes.
      .map((t) => withoutThreshold(t.expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '1m')));
    expect(exprs.length).toBeGreaterThan(20);
    expect(await emptyAfterWaiting(exprs, 60_000)).toEqual([]);
  });
});
