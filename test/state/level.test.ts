import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateLockedError, openStateStore } from '../../src/state/index.js';
import { crashCheckpoint, sampleCheckpoint } from './harness.js';

const fixtures = join(import.meta.dirname, 'fixtures');

/** Starts a child process and resolves once it printed its first line. */
async function startChild(args: string[]): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, args, { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout! });
  reader.on('line', (line) => lines.push(line));
  await Promise.race([
    once(reader, 'line'),
    once(child, 'exit').then(([code]) => Promise.reject(new Error(`child exited early with ${String(code)}`))),
  ]);
  return { child, lines };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe('StateStore on LevelDB', () => {
  let dir: string;
  let path: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'state-level-'));
    path = join(dir, 'state');
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map(kill));
    await rm(dir, { recursive: true, force: true });
  });

  it('starts fresh on a missing folder, creating it with its parents', async () => {
    const store = await openStateStore({ backend: 'level', path: join(dir, 'not', 'yet', 'there') });
    expect(await store.latestCheckpoint()).toBeUndefined();
    await store.close();
  });

  it('reports a folder locked by another running process clearly', async () => {
    const { child } = await startChild([join(fixtures, 'hold-lock.mjs'), path]);
    children.push(child);
    const opening = openStateStore({ backend: 'level', path });
    await expect(opening).rejects.toThrow(StateLockedError);
    await expect(opening).rejects.toThrow(new RegExp(`^state folder ${path} is locked by another running process$`));

    await kill(child);
    const store = await openStateStore({ backend: 'level', path });
    await store.close();
  });

  it('says so when the folder is already open in this very process', async () => {
    const first = await openStateStore({ backend: 'level', path });
    await expect(openStateStore({ backend: 'level', path })).rejects.toThrow(`state folder ${path} is already open in this process`);
    await first.close();
  });

  it('falls back past a value damaged directly in LevelDB, with a warning', async () => {
    const writer = await openStateStore({ backend: 'level', path });
    await writer.writeCheckpoint(sampleCheckpoint(1));
    await writer.writeCheckpoint(sampleCheckpoint(2));
    await writer.close();

    // Raw keys show the layout: sublevel prefix, zero-padded id, operator, chunk.
    const db = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
    const key = '!partition!!0!0000000000000002!windows!000000';
    const value = await db.get(key);
    expect(value?.byteLength).toBe(5000); // one chunk at the default 1 MiB
    value![2500]! ^= 0xff;
    await db.put(key, value!);
    await db.close();

    const warnings: string[] = [];
    const store = await openStateStore({ backend: 'level', path }, { onWarning: (message) => warnings.push(message) });
    expect(await store.latestCheckpoint()).toEqual(sampleCheckpoint(1));
    expect(warnings).toEqual([
      `checkpoint 2 in ${path} is unusable (state "windows" of partition 0 checksum mismatch); falling back to checkpoint 1`,
    ]);
    await store.close();
  });

  it('gives the disk space of deleted checkpoints back, keeping the folder near its live size', async () => {
    const store = await openStateStore({ backend: 'level', path });
    for (let id = 1; id <= 12; id++) await store.writeCheckpoint(crashCheckpoint(id));
    await store.close(); // waits for the queued compaction
    const live = 2 * 3_000_000;
    const onDisk = Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
    // Without compaction of the deleted ranges this folder holds all 12 checkpoints, 36 MB.
    expect(onDisk).toBeLessThan(2 * live);
  });

  it('survives being killed mid-write, again and again, with a complete checkpoint and no warning', { timeout: 60_000 }, async () => {
    let next = 1;
    for (let round = 0; round < 5; round++) {
      const { child, lines } = await startChild(['--import', 'tsx', join(fixtures, 'checkpoint-writer.ts'), path, String(next)]);
      children.push(child);
      // Kill at an arbitrary moment after the first write, usually inside a later one.
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200));
      await kill(child);
      const lastReported = Number(lines.at(-1));

      const warnings: string[] = [];
      const store = await openStateStore({ backend: 'level', path }, { onWarning: (message) => warnings.push(message) });
      const latest = await store.latestCheckpoint();
      await store.close();
      expect(warnings).toEqual([]);
      // The write after the last reported one may have committed before the kill.
      expect([lastReported, lastReported + 1]).toContain(latest?.id);
      // Compared as Buffers: a deep equal element by element takes seconds on 3 MB.
      const { partitions, ...rest } = latest!;
      const { partitions: expectedPartitions, ...expectedRest } = crashCheckpoint(latest!.id);
      expect(rest).toEqual(expectedRest);
      expect(Object.keys(partitions)).toEqual(['0']);
      expect(Buffer.from(partitions['0']!.windows!).equals(expectedPartitions['0']!.windows!)).toBe(true);
      next = latest!.id + 1;
    }
  });
});
