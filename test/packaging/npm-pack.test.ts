/**
 * The package as a new user gets it (issue 12): `npm pack`, installed into a fresh
 * ESM TypeScript app next to rxjs 7.8.1, type-checked and run there; `./operators`
 * must not load the service's dependencies, and the installed command must run
 * from the app's folder. npm's cache makes repeat runs work without the registry.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unexportedPublicTypes } from './public-types.js';

const root = join(import.meta.dirname, '..', '..');
const app = mkdtempSync(join(tmpdir(), 'sp-pack-'));
const run = (command: string, args: readonly string[], cwd = app): string => {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // tsc reports on stdout: without it a failed type-check says nothing.
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`.slice(0, 4_000), { cause: error });
  }
};
const files = (entries: Readonly<Record<string, string>>): void => {
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(app, name), text);
};

/** Packages of the service side that the operators entry must never load. */
const SERVICE_DEPENDENCIES = /\/node_modules\/(kafkajs|level|classic-level|abstract-level|prom-client|pino|js-yaml|tdigest)\//;

const USER_CODE = `
import { from, lastValueFrom, toArray } from 'rxjs';
import {
  aggregate, assignWatermarks, checkpoint, decodeWindowState, encodeWindowState, metricsAggregator,
  record, results, tumblingWindow, type StreamElement, type WindowStateSnapshot, type MetricsAccumulator,
} from 'llm-feedback-stream-processor/operators';

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

/** The builder from the main entry, with a custom source and sink (issue 12's "done when"). */
const BUILDER_CODE = `
import { Observable } from 'rxjs';
import { createPipeline, type LineBatch, type Sink, type Source } from 'llm-feedback-stream-processor';

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
console.log(JSON.stringify({ recordsIn: summary.recordsIn, counts: written.map((line) => (JSON.parse(line) as { event_count: number }).event_count) }));
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

const PROBE = `
import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);
const started = performance.now();
await import('llm-feedback-stream-processor/operators');
console.log(JSON.stringify({ importMs: performance.now() - started }));
`;

/** The @types/node the project itself builds with (in npm's cache already). */
const NODE_TYPES = (JSON.parse(readFileSync(join(root, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string }).version;

let packed: { readonly files: readonly { readonly path: string }[] };

beforeAll(() => {
  run('npm', ['run', 'build'], root);
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', app], root)) as [{ filename: string; files: { path: string }[] }];
  packed = info;
  files({
    'package.json': JSON.stringify({ name: 'app', private: true, type: 'module' }),
    'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: [], outDir: 'out' }, include: ['index.ts'] }),
    'index.ts': USER_CODE,
    // The main entry's types (kafkajs's among them) use Node's, as any Node service does.
    'builder.ts': BUILDER_CODE,
    'tsconfig.builder.json': JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], outDir: 'out' }, include: ['builder.ts'] }),
    'hooks.mjs': HOOKS,
    'probe.mjs': PROBE,
  });
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', `./${info.filename}`, 'rxjs@7.8.1', `@types/node@${NODE_TYPES}`]);
}, 240_000);

afterAll(() => rmSync(app, { recursive: true, force: true }));

describe('the packed package', () => {
  it('ships compiled code and declarations, no source maps', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('dist/operators/index.js');
    expect(paths).toContain('dist/operators/index.d.ts');
    expect(paths.filter((p) => p.endsWith('.map'))).toEqual([]);
    expect(paths.filter((p) => p.startsWith('dist/') && !/^dist\/(src|operators)\//.test(p))).toEqual([]);
  });

  it('shares the app’s rxjs 7.8.1 instead of installing its own', () => {
    expect(existsSync(join(app, 'node_modules/llm-feedback-stream-processor/node_modules/rxjs'))).toBe(false);
    expect((JSON.parse(readFileSync(join(app, 'node_modules/rxjs/package.json'), 'utf8')) as { version: string }).version).toBe('7.8.1');
  });

  it('type-checks and runs a pipeline of the operators in a strict ESM TypeScript app', () => {
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.']);
    const output = JSON.parse(run(process.execPath, ['out/index.js'])) as unknown;
    expect(output).toEqual({ results: [['m', 3, 200]], checkpointed: true });
  });

  it('type-checks and runs a job built with createPipeline() from a custom source and sink', () => {
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.builder.json']);
    expect(JSON.parse(run(process.execPath, ['out/builder.js'])) as unknown).toEqual({ recordsIn: 3, counts: [3] });
  });

  it('names every type of its public signatures', () => {
    const installed = join(app, 'node_modules/llm-feedback-stream-processor');
    expect(unexportedPublicTypes(join(installed, 'dist/operators/index.d.ts'), installed)).toEqual([]);
    expect(unexportedPublicTypes(join(installed, 'dist/src/index.d.ts'), installed)).toEqual([]);
  });

  it('loads the operators without the Kafka client, LevelDB, prom-client or pino', () => {
    const log = join(app, 'resolved.log');
    const { importMs } = JSON.parse(execFileSync(process.execPath, ['probe.mjs'], { cwd: app, encoding: 'utf8', env: { ...process.env, RESOLVED_LOG: log } })) as { importMs: number };
    const resolved = readFileSync(log, 'utf8').trim().split('\n');
    expect(resolved.some((url) => url.includes('/node_modules/rxjs/'))).toBe(true); // the hook saw the imports
    expect(resolved.filter((url) => SERVICE_DEPENDENCIES.test(url))).toEqual([]);
    console.log(`import of llm-feedback-stream-processor/operators (rxjs included): ${importMs.toFixed(0)} ms`);
  });

  it('installs a stream-processor command that works from the app folder', () => {
    const command = join(app, 'node_modules/.bin/stream-processor');
    expect(run(command, ['--help'])).toContain('Usage: stream-processor');
    files({ 'job.yaml': readFileSync(join(root, 'config/default.yaml'), 'utf8') });
    expect(run(command, ['--validate', '--config', 'job.yaml'])).toContain('source');
  });
});
