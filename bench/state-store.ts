/**
 * State store checkpoint cost (issue 4 goals: checkpoint_ms < 500 and
 * recovery_ms < 1,000 with 100,000 open windows). Prints one JSON object.
 *   npx tsx bench/state-store.ts
 * Not a timed test: figures vary ±15% between runs; disk cache is warm.
 * Checkpoints are written one second apart, as with `checkpoint_interval_secs: 1`:
 * after each write the LevelDB store compacts the deleted range of old checkpoints
 * in the background, and back-to-back writes would wait for that.
 *
 * The state is 100,000 window entries of 200–600 random bytes (random, so
 * LevelDB's Snappy compression gains nothing: a worst case), laid out as one
 * opaque blob per partition. Variants compare how a large blob is stored: chunk
 * sizes from 64 KiB to one single value, and, for reference, one LevelDB key per
 * window (what a store that knew window boundaries could do).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Level } from 'level';
import { type Checkpoint, openStateStore, type StateBackendConfig } from '../src/state/index.js';
import { median } from './stats.js';

const WINDOWS = 100_000;
const CHECKPOINTS = 6; // enough for retention to delete older checkpoints in steady state
const entries = Array.from({ length: WINDOWS }, () => randomBytes(200 + Math.floor(Math.random() * 401)));
const stateBytes = entries.reduce((sum, entry) => sum + entry.byteLength, 0);

/** The windows spread evenly over `partitions` partitions, one blob each. */
function checkpoint(id: number, partitions: number): Checkpoint {
  const per = Math.ceil(WINDOWS / partitions);
  const blobs = Array.from({ length: partitions }, (_, p) => [String(p), { windows: Buffer.concat(entries.slice(p * per, (p + 1) * per)) }]);
  return {
    id,
    createdAt: Date.now(),
    positions: Object.fromEntries(blobs.map(([p]) => [p, String(id * 1000)])),
    sinks: { results: id },
    operators: { watermarks: new Uint8Array(64) },
    partitions: Object.fromEntries(blobs),
  };
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

async function measureStore(config: StateBackendConfig, chunkBytes: number, partitions: number) {
  const writes: number[] = [];
  const store = await openStateStore(config, { chunkBytes });
  const checkpoints = Array.from({ length: CHECKPOINTS }, (_, i) => checkpoint(i + 1, partitions));
  for (const cp of checkpoints) {
    const start = performance.now();
    await store.writeCheckpoint(cp);
    writes.push(performance.now() - start);
    await sleep(1000);
  }
  let recovery: number;
  if (config.backend === 'level') {
    await store.close();
    const start = performance.now();
    const reopened = await openStateStore(config);
    const latest = await reopened.latestCheckpoint();
    recovery = performance.now() - start;
    if (latest?.id !== CHECKPOINTS) throw new Error('bench: wrong checkpoint loaded');
    await reopened.close();
  } else {
    const start = performance.now();
    await store.latestCheckpoint();
    recovery = performance.now() - start;
    await store.close();
  }
  return {
    backend: config.backend,
    chunk_bytes: chunkBytes === Number.MAX_SAFE_INTEGER ? 'single value' : chunkBytes,
    partitions,
    checkpoint_ms_median: round(median(writes)),
    checkpoint_ms_max: round(Math.max(...writes)),
    recovery_ms: round(recovery),
    disk_bytes: config.backend === 'level' ? diskBytes(config.path) : undefined,
  };
}

/** Reference: every window its own key, written in one batch and loaded with an iterator. */
async function measureKeyPerWindow(path: string) {
  const writes: number[] = [];
  const db = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  for (let id = 1; id <= CHECKPOINTS; id++) {
    const start = performance.now();
    const stale = id > 2 ? await db.keys({ lt: `${id - 1}`.padStart(8, '0') }).all() : [];
    await db.batch([
      ...stale.map((key) => ({ type: 'del' as const, key })),
      ...entries.map((value, i) => ({ type: 'put' as const, key: `${String(id).padStart(8, '0')}!${String(i).padStart(8, '0')}`, value })),
    ]);
    writes.push(performance.now() - start);
  }
  await db.close();
  const start = performance.now();
  const reopened = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  const loaded = await reopened.values({ gte: String(CHECKPOINTS).padStart(8, '0') }).all();
  const recovery = performance.now() - start;
  if (loaded.length !== WINDOWS) throw new Error('bench: wrong entry count');
  await reopened.close();
  return {
    backend: 'level',
    chunk_bytes: 'key per window',
    partitions: 1,
    checkpoint_ms_median: round(median(writes)),
    checkpoint_ms_max: round(Math.max(...writes)),
    recovery_ms: round(recovery),
    disk_bytes: diskBytes(path),
  };
}

const diskBytes = (path: string): number => Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);

const dir = await mkdtemp(join(tmpdir(), 'bench-state-'));
const results = [];
try {
  let run = 0;
  const level = (): StateBackendConfig => ({ backend: 'level', path: join(dir, `run-${run++}`) });
  for (const chunkBytes of [64 << 10, 256 << 10, 1 << 20, 4 << 20, Number.MAX_SAFE_INTEGER]) {
    results.push(await measureStore(level(), chunkBytes, 1));
  }
  results.push(await measureStore(level(), 1 << 20, 16));
  results.push(await measureStore({ backend: 'memory' }, 1 << 20, 1));
  results.push(await measureKeyPerWindow(join(dir, `run-${run++}`)));
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(JSON.stringify({ windows: WINDOWS, state_bytes: stateBytes, checkpoints_written: CHECKPOINTS, results }, null, 2));
