/**
 * The two packages as new users get them (issue 12): `npm pack` of each, installed into
 * fresh ESM TypeScript apps next to rxjs 7.8.1, type-checked and run there.
 * - `@llm-feedback/stream-operators` (operators/) installed alone: nothing but itself and
 *   rxjs (with its tslib) arrives; its size and import time are printed.
 * - `llm-feedback-stream-processor` (the service) installed with it: the builder runs a
 *   job, and the installed command runs from the app's folder.
 * npm's cache makes repeat runs work without the registry.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unexportedPublicTypes } from './public-types.js';

const root = join(import.meta.dirname, '..', '..');
/** The operators-only app, and the service app. */
const opsApp = mkdtempSync(join(tmpdir(), 'sp-pack-ops-'));
const app = mkdtempSync(join(tmpdir(), 'sp-pack-'));
const OPERATORS = '@llm-feedback/stream-operators';
const SERVICE = 'llm-feedback-stream-processor';
const run = (command: string, args: readonly string[], cwd = app): string => {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // tsc reports on stdout: without it a failed type-check says nothing.
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`.slice(0, 4_000), { cause: error });
  }
};
const files = (entries: Readonly<Record<string, string>>, dir = app): void => {
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(dir, name), text);
};

/** Bytes of every file under `dir` (apparent size, as `du -sb`). */
const bytesUnder = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => {
    const path = join(dir, entry.name);
    return sum + (entry.isDirectory() ? bytesUnder(path) : entry.isFile() ? statSync(path).size : 0);
  }, 0);

/** The packages npm installed in `dir` (its node_modules/.package-lock.json), by name. */
const installedPackages = (dir: string): string[] =>
  Object.keys((JSON.parse(readFileSync(join(dir, 'node_modules/.package-lock.json'), 'utf8')) as { packages: Record<string, unknown> }).packages)
    .map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length))
    .sort();

const MB = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;

const USER_CODE = `
import { from, lastValueFrom, toArray } from 'rxjs';
import {
  aggregate, assignWatermarks, checkpoint, decodeWindowState, encodeWindowState, metricsAggregator,
  record, results, tumblingWindow, type StreamElement, type WindowStateSnapshot, type MetricsAccumulator,
} from '@llm-feedback/stream-operators';

interface Reading { readonly model: string; readonly latencyMs: number }
const metrics = metricsAggregator<Reading>({ metrics: (r) => ({ latency_ms: r.latencyMs }) });
const input: StreamElement<Reading>[] = [1, 2, 3].map((i) => record({ model: 'm', latencyMs: i * 100 }, i * 1000, { partition: 0, offset: String(i) }));
let saved: WindowStateSnapshot<MetricsAccumulator> | undefined;
const out = await lastValueFrom(
  from(input).pipe(
    checkpoint({ intervalMs: 60_000, trigger: from([0]) }),
    assignWatermarks({ maxOutOfOrdernessMs: 0 }),
    tumblingWindow({ sizeMs: 10_000, key: (r) => r.model }),
    aggregate({ aggregator: metrics, onBarrier: (_, s) => (saved = decodeWindowState(encodeWindowState(s, metrics), metrics)) }),
    results(),
    toArray(),
  ),
);
console.log(JSON.stringify({ results: out.map((r) => [r.key, r.count, r.result.metrics['latency_ms']?.avg]), checkpointed: saved !== undefined }));
`;

/** The builder from the main entry, with a custom source and sink, and a custom partitioned source (issue 12's "done when"). */
const BUILDER_CODE = `
import { Observable, Subject } from 'rxjs';
import { createPipeline, type LineBatch, type PartitionChange, type PartitionedRecord, type PartitionedSource, type Sink, type Source, type SourcePartition, type SourcePartitionOffset } from 'llm-feedback-stream-processor';

const events = [1, 2, 3].map((i) => JSON.stringify({ timestamp: i * 1000, model: 'm', metrics: { latency_ms: i * 100 } }));
const source: Source = {
  bounded: true,
  replayable: true,
  read: (from) => new Observable<LineBatch>((subscriber) => {
    const lines = events.slice(from);
    subscriber.next({ lines, ends: lines.map((_, i) => from + i + 1), end: events.length });
    subscriber.complete();
  }),
};
const written: string[] = [];
const sink: Sink = { write: (line) => { written.push(line); return undefined; }, inFlight: 0, flush: async () => {}, close: async () => {} };
const summary = await createPipeline()
  .withSource(source)
  .withTumblingWindow({ sizeSecs: 10 })
  .withStateBackend({ backend: 'memory' })
  .withSink(sink)
  .withDeadLetterSink({ type: 'stderr' })
  .build()
  .run();

// A partitioned source: a task per partition, checkpoints told to the source.
class Partitions implements PartitionedSource {
  readonly topics = ['clicks'];
  private readonly changes = new Subject<PartitionChange>();
  readonly assignments = this.changes.asObservable();
  assignment: SourcePartition[] = [];
  private readonly from = new Map<number, number>();
  committed: string[] = [];
  constructor(private readonly data: string[][]) {}
  readonly records = new Observable<PartitionedRecord>((subscriber) => {
    this.assignment = this.data.map((_, partition) => ({ topic: 'clicks', partition }));
    this.changes.next({ assigned: this.assignment, revoked: [], current: this.assignment });
    const timer = setInterval(() => {
      if (this.from.size < this.data.length) return;
      clearInterval(timer);
      for (const [partition, offset] of this.from) {
        this.data[partition]!.slice(offset).forEach((value, i) => subscriber.next({ kind: 'record', topic: 'clicks', partition, offset: String(offset + i), value, timestamp: Date.now() }));
      }
      subscriber.complete();
    }, 5);
    return () => clearInterval(timer);
  });
  caughtUp(): boolean { return false; }
  hold(): void {}
  release(tp: SourcePartition, offset: string | undefined): void { this.from.set(tp.partition, Number(offset ?? 0)); }
  ack(): void {}
  async commitOffsets(offsets: readonly SourcePartitionOffset[]): Promise<void> { this.committed = offsets.map((o) => \`\${o.partition}:\${o.offset}\`); }
  async stop(): Promise<void> {}
}
const event = (t: number, model: string): string => JSON.stringify({ timestamp: t, model, metrics: { latency_ms: 1 } });
const partitioned = new Partitions([[event(1000, 'a'), event(2000, 'a'), event(60_000, 'a')], [event(3000, 'b'), event(60_000, 'b')]]);
const perPartition: string[] = [];
await createPipeline()
  .withSource(partitioned)
  .withTumblingWindow({ sizeSecs: 10 })
  .withStateBackend({ backend: 'memory' })
  .withSink({ write: (line) => { perPartition.push(line); return undefined; }, inFlight: 0, flush: async () => {}, close: async () => {} })
  .withDeadLetterSink({ type: 'stderr' })
  .build()
  .run();
const counts = (lines: string[]): number[] => lines.map((line) => (JSON.parse(line) as { event_count: number }).event_count);
console.log(JSON.stringify({ recordsIn: summary.recordsIn, counts: counts(written), partitioned: { counts: counts(perPartition).sort(), committed: partitioned.committed.sort() } }));
`;

/** Records every module URL that the ESM loader resolves (hooks run in their own thread: a file collects them). */
const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.RESOLVED_LOG, result.url + '\\n');
  return result;
}
`;

/** Import time of rxjs alone, then of the operators on top of it (one fresh process). */
const PROBE = `
import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);
const started = performance.now();
await import('rxjs');
const rxjsLoaded = performance.now();
await import('@llm-feedback/stream-operators');
console.log(JSON.stringify({ rxjsMs: rxjsLoaded - started, operatorsMs: performance.now() - rxjsLoaded }));
`;

/** The @types/node the project itself builds with (in npm's cache already). */
const NODE_TYPES = (JSON.parse(readFileSync(join(root, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string }).version;

let packed: { readonly operators: readonly string[]; readonly service: readonly string[] };

const pack = (...args: string[]): { filename: string; files: string[] } => {
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', app, ...args], root)) as [{ filename: string; files: { path: string }[] }];
  return { filename: join(app, info.filename), files: info.files.map((f) => f.path) };
};
const install = (cwd: string, ...specs: string[]): void => {
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...specs], cwd);
};
const tsconfig = (include: string, types: string[]): string =>
  JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types, outDir: 'out' }, include: [include] });
const manifest = JSON.stringify({ name: 'app', private: true, type: 'module' });

beforeAll(() => {
  run('npm', ['run', 'build'], root);
  const operators = pack('--workspace', 'operators');
  const service = pack();
  packed = { operators: operators.files, service: service.files };
  files({ 'package.json': manifest, 'tsconfig.json': tsconfig('index.ts', []), 'index.ts': USER_CODE, 'hooks.mjs': HOOKS, 'probe.mjs': PROBE }, opsApp);
  install(opsApp, operators.filename, 'rxjs@7.8.1');
  files({
    'package.json': manifest,
    // The service's types (kafkajs's among them) use Node's, as any Node service does.
    'tsconfig.json': tsconfig('builder.ts', ['node']),
    'builder.ts': BUILDER_CODE,
  });
  // The service's dependency on the operators package is met by its tarball, as the registry would.
  install(app, operators.filename, service.filename, 'rxjs@7.8.1', `@types/node@${NODE_TYPES}`);
}, 240_000);

afterAll(() => {
  rmSync(app, { recursive: true, force: true });
  rmSync(opsApp, { recursive: true, force: true });
});

describe('the operators package, installed alone', () => {
  it('ships compiled code and declarations, no sources, no source maps', () => {
    expect(packed.operators).toContain('dist/index.js');
    expect(packed.operators).toContain('dist/index.d.ts');
    expect(packed.operators.filter((p) => p !== 'package.json' && !/^dist\/.*\.(js|d\.ts)$/.test(p))).toEqual([]);
  });

  it('installs itself and rxjs, nothing else: no Kafka client, LevelDB, prom-client, pino or YAML parser', () => {
    expect(installedPackages(opsApp)).toEqual([OPERATORS, 'rxjs', 'tslib']);
    const own = bytesUnder(join(opsApp, 'node_modules', OPERATORS));
    const all = bytesUnder(join(opsApp, 'node_modules'));
    expect(own).toBeLessThan(500_000);
    console.log(`installed: ${OPERATORS} ${MB(own)}; with rxjs 7.8.1 and tslib ${MB(all)}, 3 packages`);
  });

  it('shares the app’s rxjs 7.8.1 instead of installing its own', () => {
    expect(existsSync(join(opsApp, 'node_modules', OPERATORS, 'node_modules'))).toBe(false);
    expect((JSON.parse(readFileSync(join(opsApp, 'node_modules/rxjs/package.json'), 'utf8')) as { version: string }).version).toBe('7.8.1');
  });

  it('type-checks (without Node types) and runs a pipeline of the operators in a strict ESM TypeScript app', () => {
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], opsApp);
    const output = JSON.parse(run(process.execPath, ['out/index.js'], opsApp)) as unknown;
    expect(output).toEqual({ results: [['m', 3, 200]], checkpointed: true });
  });

  it('names every type of its public signatures', () => {
    const installed = join(opsApp, 'node_modules', OPERATORS);
    expect(unexportedPublicTypes(join(installed, 'dist/index.d.ts'), installed)).toEqual([]);
  });

  it('loads nothing but itself and rxjs', () => {
    const log = join(opsApp, 'resolved.log');
    const times = JSON.parse(execFileSync(process.execPath, ['probe.mjs'], { cwd: opsApp, encoding: 'utf8', env: { ...process.env, RESOLVED_LOG: log } })) as { rxjsMs: number; operatorsMs: number };
    const resolved = readFileSync(log, 'utf8').trim().split('\n');
    expect(resolved.some((url) => url.includes(`/node_modules/${OPERATORS}/`))).toBe(true); // the hook saw the imports
    expect(resolved.filter((url) => url.startsWith('file:') && !/\/node_modules\/(@llm-feedback\/stream-operators|rxjs|tslib)\//.test(url) && !url.endsWith('/probe.mjs'))).toEqual([]);
    console.log(`import: rxjs ${times.rxjsMs.toFixed(0)} ms, then ${OPERATORS} ${times.operatorsMs.toFixed(0)} ms`);
  });
});

describe('the service package', () => {
  it('ships its compiled code and depends on the operators package instead of a copy of it', () => {
    expect(packed.service).toContain('dist/src/index.js');
    expect(packed.service.filter((p) => p.endsWith('.map'))).toEqual([]);
    expect(packed.service.filter((p) => p.startsWith('dist/') && !p.startsWith('dist/src/'))).toEqual([]);
    expect(existsSync(join(app, 'node_modules', SERVICE, 'node_modules'))).toBe(false); // one operators package, one rxjs
    console.log(`installed with the service: ${installedPackages(app).length} packages, ${MB(bytesUnder(join(app, 'node_modules')))} (@types/node included)`);
  });

  it('type-checks and runs a job built with createPipeline() from a custom source and sink', () => {
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.']);
    expect(JSON.parse(run(process.execPath, ['out/builder.js'])) as unknown).toEqual({ recordsIn: 3, counts: [3], partitioned: { counts: [1, 2], committed: ['0:3', '1:2'] } });
  });

  it('names every type of its public signatures', () => {
    const installed = join(app, 'node_modules', SERVICE);
    expect(unexportedPublicTypes(join(installed, 'dist/src/index.d.ts'), installed)).toEqual([]);
  });

  it('installs a stream-processor command that works from the app folder', () => {
    const command = join(app, 'node_modules/.bin/stream-processor');
    expect(run(command, ['--help'])).toContain('Usage: stream-processor');
    files({ 'job.yaml': readFileSync(join(root, 'config/default.yaml'), 'utf8') });
    expect(run(command, ['--validate', '--config', 'job.yaml'])).toContain('source');
  });
});
