import type { Logger } from '../observability/index.js';
import type { ProcessorMetrics } from '../observability/index.js';
import type { Barrier, SourcePositions } from '@llm-feedback/stream-operators';
import type { Checkpoint, StateStore } from '../state/index.js';
import type { JobOutputs } from '../runner/outputs.js';
import type { EncodedPipelineState } from './pipeline-codec.js';

export interface CoordinatorOptions {
  /** Where a complete checkpoint is written (atomically). */
  readonly store: Pick<StateStore, 'writeCheckpoint' | 'sizeBytes'>;
  readonly outputs: JobOutputs;
  readonly logger?: Logger;
  readonly metrics?: ProcessorMetrics;
  /** After a checkpoint is durable: e.g. commit Kafka offsets up to its positions. */
  readonly onComplete?: (checkpoint: Checkpoint) => Promise<void>;
  /** Written at each barrier beside the outputs (a state topic): flushed before the checkpoint completes. */
  readonly changelog?: { flush(): Promise<void> };
}

/**
 * Completes checkpoints (DESIGN.md "Checkpoints and recovery"): the pipeline's
 * state is taken when the barrier passes the window operator (`snapshot`);
 * when the barrier reaches the outputs (`barrierAtSink`) every result before it
 * has been written, so the output positions belong to the same cut. The
 * checkpoint is complete once the outputs are flushed and the store's atomic
 * batch is written; only then does the source commit. Checkpoints complete in
 * barrier order, one at a time. A checkpoint still waiting for the one before it
 * when a newer one arrives is superseded (skipped): while the outputs cannot flush
 * (a broker outage) the queue holds one encoded state, not one per interval.
 */
export class CheckpointCoordinator {
  private readonly states = new Map<number, EncodedPipelineState>();
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private lastCompleted: Checkpoint | undefined;
  /** The newest checkpoint that waits for the running one; the chain takes it when its turn comes. */
  private queued: { id: number; positions: SourcePositions; sinks: Record<string, number>; state: EncodedPipelineState } | undefined;

  constructor(private readonly options: CoordinatorOptions) {}

  /** The newest checkpoint that completed in this run. */
  get latest(): Checkpoint | undefined {
    return this.lastCompleted;
  }

  /** Pipeline hook, synchronous at the barrier: the encoded operator state for `barrierId`. */
  snapshot(barrierId: number, state: EncodedPipelineState): void {
    this.states.set(barrierId, state);
  }

  /** The barrier reached the outputs: everything before it is written (buffered). */
  barrierAtSink(barrier: Barrier): void {
    const state = this.states.get(barrier.id);
    this.states.delete(barrier.id);
    if (state === undefined) throw new Error(`barrier ${barrier.id} reached the outputs without a state snapshot`);
    this.enqueue(barrier.id, barrier.positions ?? {}, state);
  }

  /** A checkpoint outside the barrier flow: the end of a bounded input, whose state is known. */
  complete(id: number, positions: SourcePositions, state: EncodedPipelineState): Promise<void> {
    this.enqueue(id, positions, state);
    return this.drain();
  }

  /** Resolves when every checkpoint queued so far is complete; rejects with the first failure. */
  async drain(): Promise<void> {
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
  }

  private enqueue(id: number, positions: SourcePositions, state: EncodedPipelineState): void {
    const { store, outputs, logger, metrics } = this.options;
    // Positions now, synchronously: later results must not count in this checkpoint.
    const sinks = outputs.positions();
    const superseded = this.queued;
    // A superseded checkpoint's partition states merge into the newer one, key by key (the
    // newer wins): full snapshots are simply replaced, incremental changes add up.
    const merged = superseded === undefined ? state : { operators: { ...superseded.state.operators, ...state.operators }, partitions: mergePartitions(superseded.state.partitions, state.partitions) };
    this.queued = { id, positions, sinks, state: merged };
    if (superseded !== undefined) {
      logger?.debug({ checkpoint: superseded.id, by: id }, 'checkpoint superseded while the previous one completes');
      return;
    }
    this.chain = this.chain.then(async () => {
      const { id, positions, sinks, state } = this.queued!;
      this.queued = undefined;
      if (this.failure !== undefined) return;
      const started = performance.now();
      try {
        await outputs.flush();
        await this.options.changelog?.flush();
        // Read once flushed: the identities checksum the bytes just before each position.
        const identities = await outputs.identify(sinks);
        const checkpoint: Checkpoint = {
          id,
          createdAt: Date.now(),
          positions,
          sinks,
          outputs: identities,
          operators: state.operators,
          partitions: state.partitions,
        };
        await store.writeCheckpoint(checkpoint);
        await this.options.onComplete?.(checkpoint);
        this.lastCompleted = checkpoint;
        const seconds = (performance.now() - started) / 1000;
        const bytes = stateBytes(state);
        metrics?.checkpointDuration.observe(seconds);
        metrics?.checkpointSize.set(bytes);
        metrics?.lastCheckpointId.set(id);
        // Not awaited: measuring the folder must not hold up the next checkpoint.
        if (metrics !== undefined) {
          store.sizeBytes().then(
            (size) => metrics.stateSize.set(size),
            (error: unknown) => logger?.warn({ err: error }, 'could not measure the state size'),
          );
        }
        logger?.debug({ checkpoint: id, positions, sinks, bytes, ms: Math.round(seconds * 1000) }, 'checkpoint complete');
      } catch (error) {
        this.failure = error;
        metrics?.errors.checkpoint_failed.inc();
        logger?.error({ err: error, checkpoint: id }, 'checkpoint failed');
      }
    });
  }
}

function mergePartitions(
  older: EncodedPipelineState['partitions'],
  newer: EncodedPipelineState['partitions'],
): EncodedPipelineState['partitions'] {
  const out: Record<string, Record<string, Uint8Array>> = { ...older };
  for (const [partition, states] of Object.entries(newer)) out[partition] = { ...older[partition], ...states };
  return out;
}

function stateBytes(state: EncodedPipelineState): number {
  let bytes = 0;
  for (const b of Object.values(state.operators)) bytes += b.byteLength;
  for (const p of Object.values(state.partitions)) for (const b of Object.values(p)) bytes += b.byteLength;
  return bytes;
}
