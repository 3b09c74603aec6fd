/**
 * The Dockerfile, the Kubernetes manifests and the Grafana dashboard cannot run
 * here (no Docker engine, no cluster, no Grafana); these tests check what ties
 * them to the code: the config they ship validates, paths and ports agree with
 * each other and with the HTTP server, and the dashboard only queries metrics
 * the processor exports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import * as yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { startHttpServer } from '../../src/observability/http-server.js';
import { createProcessorMetrics } from '../../src/observability/metrics.js';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

interface Probe { readonly httpGet: { readonly path: string; readonly port: string } }
interface Container {
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly ports: readonly { readonly name: string; readonly containerPort: number }[];
  readonly livenessProbe: Probe;
  readonly readinessProbe: Probe;
  readonly startupProbe: Probe;
  readonly volumeMounts: readonly { readonly name: string; readonly mountPath: string }[];
}
interface StatefulSet {
  readonly spec: {
    readonly serviceName: string;
    readonly template: { readonly spec: { readonly terminationGracePeriodSeconds: number; readonly containers: readonly Container[] } };
    readonly volumeClaimTemplates: readonly { readonly metadata: { readonly name: string } }[];
  };
}

const statefulSet = yaml.load(read('k8s/statefulset.yaml')) as StatefulSet;
const container = statefulSet.spec.template.spec.containers[0]!;
const configMap = yaml.load(read('k8s/configmap.yaml')) as { readonly metadata: { readonly name: string }; readonly data: Readonly<Record<string, string>> };
const service = yaml.load(read('k8s/service.yaml')) as {
  readonly metadata: { readonly name: string; readonly annotations: Readonly<Record<string, string>> };
  readonly spec: { readonly ports: readonly { readonly port: number }[] };
};

/** The Dockerfile's instructions of one kind, in order, as their argument text. */
const dockerfile = read('Dockerfile').split('\n').filter((line) => /^[A-Z]+ /.test(line));
const instruction = (name: string): string[] => dockerfile.filter((l) => l.startsWith(name + ' ')).map((l) => l.slice(name.length + 1).trim());
const execForm = (text: string): string[] => JSON.parse(text) as string[];

describe('Kubernetes manifests', () => {
  const configPath = container.args[container.args.indexOf('--config') + 1]!;
  const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
  const config = parseConfig(configMap.data[posix.basename(configPath)]!, env);

  it('ship a configuration that validates with the pod environment applied', () => {
    expect(config.kafka.consumer.bootstrap_servers).toEqual([env.PROCESSOR_KAFKA_BROKERS]);
    expect(config.source.type).toBe('kafka');
  });

  it('mount the state volume at the configured state path and the config where --config points', () => {
    const mounts = Object.fromEntries(container.volumeMounts.map((m) => [m.name, m.mountPath]));
    expect(config.state).toEqual({ backend: 'level', path: mounts.state });
    expect(statefulSet.spec.volumeClaimTemplates.map((t) => t.metadata.name)).toContain('state');
    expect(posix.dirname(configPath)).toBe(mounts.config);
  });

  it('probe, expose and scrape the configured metrics port', () => {
    const metricsPort = container.ports.find((p) => p.name === 'metrics')!;
    expect(metricsPort.containerPort).toBe(config.metrics.port);
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) expect(probe.httpGet.port).toBe('metrics');
    expect(service.metadata.name).toBe(statefulSet.spec.serviceName);
    expect(service.spec.ports[0]?.port).toBe(config.metrics.port);
    expect(service.metadata.annotations['prometheus.io/port']).toBe(String(config.metrics.port));
  });

  it('probe paths that the HTTP server answers', async () => {
    const server = await startHttpServer({
      port: 0, host: '127.0.0.1', metrics: createProcessorMetrics(), health: () => ({ ready: false, reason: 'restoring state' }), queryWindows: () => ({ windows: [], next: undefined }),
    });
    try {
      const status = async (path: string): Promise<number> => (await fetch(`http://127.0.0.1:${server.port}${path}`)).status;
      expect(await status(container.livenessProbe.httpGet.path)).toBe(200);
      expect(await status(container.startupProbe.httpGet.path)).toBe(200);
      expect(await status(container.readinessProbe.httpGet.path)).toBe(503);
      expect(await status(service.metadata.annotations['prometheus.io/path']!)).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('leave time for a final checkpoint', () => {
    expect(statefulSet.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
  });
});

describe('Dockerfile', () => {
  const pkg = JSON.parse(read('package.json')) as { readonly bin: Readonly<Record<string, string>> };
  const [command, ...entryArgs] = execForm(instruction('ENTRYPOINT')[0]!);
  const cmd = execForm(instruction('CMD')[0]!);

  it('runs the package CLI with the bundled Kafka config, as a non-root user', () => {
    expect(command).toBe('node');
    expect(entryArgs).toEqual([posix.normalize(pkg.bin['stream-processor']!)]);
    expect(cmd[0]).toBe('--config');
    expect(cmd[1]).toMatch(/^\/app\//);
    expect(existsSync(join(root, cmd[1]!.slice('/app/'.length)))).toBe(true);
    expect(instruction('WORKDIR').at(-1)).toBe('/app');
    expect(instruction('USER').at(-1)).toBe('node');
  });

  it('declares the state volume where the bundled config keeps its state, and the metrics port', () => {
    const config = parseConfig(read(cmd[1]!.slice('/app/'.length)), {}, { cwd: '/app' });
    expect(execForm(instruction('VOLUME').at(-1)!)).toEqual([config.state.backend === 'level' ? config.state.path : '']);
    expect(instruction('EXPOSE')).toEqual([String(config.metrics.port)]);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(read('grafana/dashboard.json')) as {
    readonly uid: string;
    readonly panels: readonly { readonly type: string; readonly title: string; readonly targets?: readonly { readonly expr: string }[] }[];
  };
  const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);

  it('queries only metrics that the processor exports', async () => {
    const exported = new Set((await createProcessorMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    const queried = new Set(exprs.flatMap((e) => e.match(/\b(?:stream_processor|process|nodejs)_[a-z_]+/g) ?? []));
    const missing = [...queried].filter((name) => !exported.has(name) && !exported.has(name.replace(/_bucket$/, '')));
    expect(missing).toEqual([]);
  });

  it('covers every processor metric', async () => {
    const ours = (await createProcessorMetrics().registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('stream_processor_'));
    const text = exprs.join('\n');
    expect(ours.filter((name) => !text.includes(name))).toEqual([]);
  });

  it('computes latency quantiles from the histogram buckets', () => {
    expect(exprs).toContain('histogram_quantile(0.99, sum by (le) (rate(stream_processor_processing_latency_seconds_bucket{instance=~"$instance"}[$__rate_interval])))');
  });
});
