import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRandom, generateEvents } from '../../scripts/generate-sample.js';
import { exited, onStderrLine, startCli } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';

const withoutEmittedAt = (path: string): string[] =>
  readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.replace(/"emitted_at":\d+,/, ''));

function writeConfig(dir: string, name: string, parallelism = 1): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `processor:
  source: { type: file, path: ${join(dir, 'in.ndjson')} }
  sink: { type: file, path: ${join(dir, `${name}-out.ndjson`)} }
  dead_letter: { type: file, path: ${join(dir, `${name}-dlq.ndjson`)} }
  state: { backend: level, path: ${join(dir, `${name}-state`)} }
  checkpoint_interval_secs: 1
  parallelism: ${parallelism}
  windows: { default_type: tumbling, tumbling: { size_secs: 60, allowed_lateness_secs: 60 } }
  metrics: { port: 0 }
  log: { level: debug }
`,
  );
  return path;
}

/** Runs the CLI; when `killAfterCheckpoint` is set, SIGKILLs it that many ms after its first complete checkpoint. */
async function run(config: string, killAfterCheckpoint?: number): Promise<{ code: number | string; resumed: boolean; checkpoints: number }> {
  const child = startCli(['--config', config]);
  let checkpoints = 0;
  let resumed = false;
  onStderrLine(child, (line) => {
    if (line.includes('"resuming from checkpoint"')) resumed = true;
    if (line.includes('"checkpoint complete"') && ++checkpoints === 1 && killAfterCheckpoint !== undefined) {
      setTimeout(() => child.kill('SIGKILL'), killAfterCheckpoint);
    }
  });
  return { code: await exited(child), resumed, checkpoints };
}

describe('file mode crash recovery', () => {
  // The crashed runs parse in 2 worker threads (parallelism 3, issue 10): their output must still be the single-threaded one.
  it('output after SIGKILLs at random points (parallelism 3) equals an uninterrupted run (parallelism 1), line for line', async () => {
    const dir = tempDir('crash-');
    const lines = generateEvents({ count: 1_000_000, seed: 11, startMs: Date.UTC(2026, 10, 26, 10), durationMs: 12 * 3_600_000, invalidPerKind: 20 });
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');

    const reference = await run(writeConfig(dir, 'reference'));
    expect(reference.code).toBe(0);

    const config = writeConfig(dir, 'crashed', 3);
    const seed = Date.now() % 100_000;
    const random = createRandom(seed);
    let kills = 0;
    let resumes = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      const outcome = await run(config, Math.floor(random() * 700));
      if (outcome.resumed) resumes++;
      if (outcome.code === 'SIGKILL') kills++;
      else {
        expect(outcome.code, `seed ${seed}`).toBe(0);
        break;
      }
    }
    const final = await run(config);
    expect(final.code, `seed ${seed}`).toBe(0);
    expect(kills, `seed ${seed}`).toBeGreaterThanOrEqual(1);
    expect(resumes, `seed ${seed}`).toBeGreaterThanOrEqual(1);

    expect(withoutEmittedAt(join(dir, 'crashed-out.ndjson'))).toEqual(withoutEmittedAt(join(dir, 'reference-out.ndjson')));
    expect(readFileSync(join(dir, 'crashed-dlq.ndjson'), 'utf8')).toBe(readFileSync(join(dir, 'reference-dlq.ndjson'), 'utf8'));
  }, 120_000);
});
