import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECKPOINTS, OPERATORS, checkpointKey, partitionSpace, pieceKey } from '../../src/state/keys.js';
import type { KvBackend } from '../../src/state/kv.js';
import type { CheckpointStore } from '../../src/state/checkpoint-store.js';
import { type Backend, backends, bytes, noise, sampleCheckpoint } from './harness.js';

describe.each(backends)('StateStore on $name', ({ create }) => {
  let backend: Backend;
  let warnings: string[];
  const open = (): Promise<{ store: CheckpointStore; kv: KvBackend }> =>
    backend.open({ onWarning: (message) => warnings.push(message), chunkBytes: 1000 });

  /** Writes checkpoints 1..n and closes, as a process that stopped after them. */
  async function writeThrough(n: number): Promise<void> {
    const { store } = await open();
    for (let id = 1; id <= n; id++) await store.writeCheckpoint(sampleCheckpoint(id));
    await store.close();
  }

  /** Runs `damage` on the raw key-value data, as a crash or a bad disk would. */
  async function tamper(damage: (kv: KvBackend) => Promise<void>): Promise<void> {
    const { store, kv } = await open();
    await damage(kv);
    await store.close();
  }

  beforeEach(async () => {
    backend = await create();
    warnings = [];
  });
  afterEach(() => backend.dispose());

  it('starts fresh when nothing was ever written', async () => {
    const { store } = await open();
    expect(await store.latestCheckpoint()).toBeUndefined();
    expect(await store.loadPartition('0')).toBeUndefined();
    await store.close();
    expect(warnings).toEqual([]);
  });

  it('measures what it holds: more after a checkpoint, and the same again after a restart', async () => {
    const { store } = await open();
    const empty = await store.sizeBytes();
    await store.writeCheckpoint(sampleCheckpoint(1));
    const one = await store.sizeBytes();
    // The sample's states alone (the manifest and keys come on top).
    expect(one - empty).toBeGreaterThan(sampleCheckpoint(1).partitions['0']!['windows']!.byteLength);
    await store.close();
    if (backend.name === 'level') {
      const { store: reopened } = await open();
      expect(await reopened.sizeBytes()).toBeGreaterThan(empty);
      await reopened.close();
    }
  });

  it('gives a checkpoint back unchanged after a restart, states split into chunks', async () => {
    await writeThrough(1);
    const { store } = await open();
    expect(await store.latestCheckpoint()).toEqual(sampleCheckpoint(1));
    await store.close();
    expect(warnings).toEqual([]);
  });

  it('round-trips output identities, and reads checkpoints written without them', async () => {
    const outputs = { results: { path: '/out/metrics.ndjson', tailBytes: 4096, tailCrc32: 0xdeadbeef } };
    const { store } = await open();
    await store.writeCheckpoint({ ...sampleCheckpoint(1), outputs });
    expect((await store.latestCheckpoint())?.outputs).toEqual(outputs);
    await store.writeCheckpoint(sampleCheckpoint(2));
    const older = await store.latestCheckpoint();
    expect(older).toEqual(sampleCheckpoint(2));
    expect(older).not.toHaveProperty('outputs');
    await expect(store.writeCheckpoint({ ...sampleCheckpoint(3), outputs: { results: { ...outputs.results, tailBytes: -1 } } })).rejects.toThrow('tailBytes');
    await store.close();
  });

  it('round-trips odd names, empty records and a state of an exact chunk multiple', async () => {
    const checkpoint = {
      id: 0,
      createdAt: 0,
      // Computed keys: a literal `'__proto__':` would set the prototype instead of a property.
      positions: { 'a!b "c"': '0', ['__proto__']: 'x', 'ü/é': '12' },
      sinks: {},
      operators: { 'op!1': noise(3000, 3) },
      partitions: { 'a!b "c"': { ['__proto__']: bytes(1) }, 'ü/é': {} },
    };
    const { store } = await open();
    await store.writeCheckpoint(checkpoint);
    const loaded = await store.latestCheckpoint();
    // An empty partition record stores nothing, so it comes back absent.
    expect(loaded).toEqual({ ...checkpoint, partitions: { 'a!b "c"': checkpoint.partitions['a!b "c"'] } });
    expect(Object.getPrototypeOf(loaded?.partitions['a!b "c"'])).toBe(Object.prototype);
    expect(Object.keys(loaded?.positions ?? {})).toContain('__proto__');
    await store.close();
  });

  it('keeps its own copy: changing a buffer after writing does not change the checkpoint', async () => {
    const checkpoint = sampleCheckpoint(1);
    const { store } = await open();
    await store.writeCheckpoint(checkpoint);
    checkpoint.operators.watermarks![0] = 99;
    const loaded = await store.latestCheckpoint();
    expect(loaded?.operators.watermarks).toEqual(bytes(1, 1, 2));
    loaded!.operators.watermarks![0] = 42;
    expect((await store.latestCheckpoint())?.operators.watermarks).toEqual(bytes(1, 1, 2));
    await store.close();
  });

  it('keeps the last two checkpoints and deletes older ones with every piece', async () => {
    await writeThrough(4);
    const { store, kv } = await open();
    expect(await kv.keys(CHECKPOINTS)).toEqual([checkpointKey(3), checkpointKey(4)]);
    for (const space of [OPERATORS, partitionSpace('0'), partitionSpace('feedback/1')]) {
      const ids = new Set((await kv.keys(space)).map((key) => Number(key.slice(0, 16))));
      expect([...ids]).toEqual([3, 4]);
    }
    expect(await store.latestCheckpoint()).toEqual(sampleCheckpoint(4));
    await store.close();
  });

  it('refuses an id that does not follow the last one it wrote, and keeps the stored ones', async () => {
    const { store } = await open();
    await store.writeCheckpoint(sampleCheckpoint(2));
    await expect(store.writeCheckpoint(sampleCheckpoint(2))).rejects.toThrow(/does not follow 2/);
    await expect(store.writeCheckpoint({ ...sampleCheckpoint(3), id: -1 })).rejects.toThrow(/non-negative safe integer/);
    await expect(
      store.writeCheckpoint({ ...sampleCheckpoint(3), partitions: { '': {} } }),
    ).rejects.toThrow(/empty name/);
    expect(await store.latestCheckpoint()).toEqual(sampleCheckpoint(2));
    const writing = store.writeCheckpoint(sampleCheckpoint(3));
    await store.close();
    await writing; // a write queued before close completes
    await expect(store.latestCheckpoint()).rejects.toThrow(/closed/);
    expect(warnings).toEqual([]);
  });

  describe('damage and interrupted writes', () => {
    it('ignores pieces written without their completion marker, with a warning', async () => {
      await writeThrough(2);
      // A writer that died between pieces and marker (never ours: our batch is atomic).
      await tamper((kv) =>
        kv.batch([
          { type: 'put', space: OPERATORS, key: pieceKey(3, 'watermarks', 0), value: bytes(3) },
          { type: 'put', space: partitionSpace('0'), key: pieceKey(3, 'windows', 0), value: bytes(3) },
        ]),
      );
      const { store, kv } = await open();
      expect(await store.latestCheckpoint()).toEqual(sampleCheckpoint(2));
      expect(warnings).toEqual([expect.stringMatching(/checkpoint 3 .*no completion marker/)]);

      // Writing checkpoint 3 for real replaces the leftovers.
      await store.writeCheckpoint(sampleCheckpoint(3));
      expect(await store.latestCheckpoint()).toEqual(sampleCheckpoint(3));
      expect(await kv.get(OPERATORS, pieceKey(3, 'watermarks', 0))).toEqual(bytes(3, 1, 2));
      await store.close();
      expect(warnings).toHaveLength(1);
    });

    const damages: ReadonlyArray<[string, (kv: KvBackend) => Promise<void>, RegExp]> = [
      [
        'a state chunk with changed bytes',
        (kv) => kv.batch([{ type: 'put', space: partitionSpace('0'), key: pieceKey(2, 'windows', 3), value: noise(1000, 7) }]),
        /checksum mismatch/,
      ],
      [
        'a missing state chunk',
        (kv) => kv.batch([{ type: 'del', space: partitionSpace('feedback/1'), key: pieceKey(2, 'windows', 1) }]),
        /#1 is missing/,
      ],
      [
        'a truncated state chunk',
        (kv) => kv.batch([{ type: 'put', space: OPERATORS, key: pieceKey(2, 'watermarks', 0), value: bytes(2, 1) }]),
        /shorter than recorded/,
      ],
      [
        'a manifest with a flipped bit',
        async (kv) => {
          const manifest = (await kv.get(CHECKPOINTS, checkpointKey(2)))!;
          manifest[manifest.length - 5]! ^= 0x04;
          await kv.batch([{ type: 'put', space: CHECKPOINTS, key: checkpointKey(2), value: manifest }]);
        },
        /manifest checksum mismatch/,
      ],
      [
        'an undecodable manifest',
        (kv) => kv.batch([{ type: 'put', space: CHECKPOINTS, key: checkpointKey(2), value: bytes(0xff, 0xfe) }]),
        /manifest is not in the expected format/,
      ],
    ];

    it.each(damages)('falls back to the previous checkpoint past %s, with a warning', async (_, damage, reason) => {
      await writeThrough(2);
      await tamper(damage);
      const { store } = await open();
      expect(await store.latestCheckpoint()).toEqual(sampleCheckpoint(1));
      expect(warnings).toEqual([expect.stringMatching(/^checkpoint 2 in .* is unusable .*falling back to checkpoint 1$/)]);
      expect(warnings[0]).toMatch(reason);

      // Recovery resumes barrier ids after the restored checkpoint: checkpoint 2 is written anew.
      await store.writeCheckpoint(sampleCheckpoint(2));
      expect(await store.latestCheckpoint()).toEqual(sampleCheckpoint(2));
      await store.close();
      expect(warnings).toHaveLength(1);
    });

    it('fails loudly when checkpoints exist but none is usable', async () => {
      await writeThrough(2);
      await tamper((kv) =>
        kv.batch([
          { type: 'del', space: OPERATORS, key: pieceKey(1, 'watermarks', 0) },
          { type: 'del', space: OPERATORS, key: pieceKey(2, 'watermarks', 0) },
        ]),
      );
      const { store } = await open();
      await expect(store.latestCheckpoint()).rejects.toThrow(/no usable checkpoint in .*checkpoint 2: .*checkpoint 1: /);
      expect(warnings).toEqual([
        expect.stringMatching(/checkpoint 2 .*falling back to checkpoint 1/),
        expect.stringMatching(/checkpoint 1 .*no older checkpoint/),
      ]);
      await store.close();
    });
  });

  describe('per-partition namespacing', () => {
    it('keeps each partition in its own sublevel and loads one partition alone', async () => {
      await writeThrough(2);
      const { store, kv } = await open();
      const keysOf0 = await kv.keys(partitionSpace('0'));
      expect(keysOf0.filter((key) => key.includes('sessions'))).toEqual([pieceKey(1, 'sessions', 0), pieceKey(2, 'sessions', 0)]);
      expect(keysOf0.every((key) => /!(windows|sessions)!/.test(key))).toBe(true);

      expect(await store.loadPartition('0')).toEqual({
        checkpointId: 2,
        createdAt: sampleCheckpoint(2).createdAt,
        position: '200',
        operators: sampleCheckpoint(2).partitions['0'],
      });
      expect(await store.loadPartition('unknown')).toBeUndefined();
      expect(await store.loadPartition('toString')).toBeUndefined();
      await store.close();
      expect(warnings).toEqual([]);
    });

    it('loads an intact partition from the newest checkpoint even if another partition there is damaged', async () => {
      await writeThrough(2);
      await tamper((kv) => kv.batch([{ type: 'del', space: partitionSpace('feedback/1'), key: pieceKey(2, 'windows', 0) }]));
      const { store } = await open();
      expect((await store.loadPartition('0'))?.checkpointId).toBe(2);
      expect(warnings).toEqual([]);
      expect(await store.loadPartition('feedback/1')).toEqual({
        checkpointId: 1,
        createdAt: sampleCheckpoint(1).createdAt,
        position: '7',
        operators: sampleCheckpoint(1).partitions['feedback/1'],
      });
      expect(warnings).toEqual([expect.stringMatching(/partition feedback\/1 of checkpoint 2 .*#0 is missing/)]);
      await store.close();
    });

    it('gives a partition with a position but no operator state an empty state', async () => {
      const { store } = await open();
      await store.writeCheckpoint({ ...sampleCheckpoint(1), partitions: {} });
      expect(await store.loadPartition('0')).toEqual({ checkpointId: 1, createdAt: sampleCheckpoint(1).createdAt, position: '100', operators: {} });
      await store.close();
    });
  });
});
