/**
 * `processor.parallelism` for file and stdin input: the parse (`JSON.parse` and the input
 * checks, the largest cost of a file job) runs in worker threads, the pipeline in the
 * calling thread.
 *
 * Why the pipeline stays in one thread: a file or stdin input is one task (DESIGN.md), and
 * its output is defined by one watermark over the records in input order. Every decision
 * (which record is late, when a window fires, the order of results and dead letters) is
 * taken by the unchanged pipeline over the same records in the same order, so the output
 * is the single-threaded one by construction, checkpoints and idle timeouts included.
 * Chunks of whole lines go to the workers in turn as bytes (the workers split them, so
 * this thread never decodes a line) and come back in the order they were read.
 */
import { Worker } from 'node:worker_threads';
import { Observable, type OperatorFunction } from 'rxjs';
import type { DeadLetter, FeedbackEvent } from '../events/index.js';
import type { LineChunk } from '../io/index.js';
import type { BatchDone } from '../runner/parse-lines.js';
import type { StreamElement } from '@llm-feedback/stream-operators';
import type { ParseRequest, ParseWorkerStart } from './messages.js';
import { BatchDecoder, type ParsedBatch } from './parsed-batch.js';
import { workerEntry } from './worker-entry.js';

export interface ParallelParseOptions {
  /** Worker threads. */
  readonly workers: number;
  /** The parser's options (`configuredParser`'s, without the clock). */
  readonly event: ParseWorkerStart['event'];
  /** The clock of `max_future_secs`, read as each batch is sent. */
  readonly now: () => number;
  /** Chunks read and not yet through the pipeline beyond which the source waits. Default: 8 per worker (512 KiB), so a worker descheduled for a while on a busy machine does not stall the pipeline at once. */
  readonly maxInFlight?: number;
}

export interface ParallelParse {
  /**
   * `parseLines` in worker threads, over chunks of whole lines: records and dead letters in
   * input order, `onBatch` after each chunk's. The workers start on subscription and are
   * terminated when the input ends, on an error and on unsubscription. One subscription
   * at a time.
   *
   * ```text
   * chunks:   -a--b--c---|          a, b, c go to the workers in turn
   * answers:  ------b-a-----c       as each worker finishes (b before a here)
   * output:   --------(AB)--C|      a chunk's records once every earlier chunk's are out
   * ```
   */
  readonly parseLines: (
    onDeadLetter: (deadLetter: DeadLetter) => void,
    onBatch?: (done: BatchDone) => void,
  ) => OperatorFunction<LineChunk, StreamElement<FeedbackEvent>>;
  /** For the source's backpressure hook: a promise while `maxInFlight` chunks are in the workers. */
  backpressure(): Promise<void> | undefined;
}

interface Pending {
  readonly chunk: Pick<LineChunk, 'start' | 'final'>;
  readonly worker: number;
  parsed?: ParsedBatch;
}

export function parallelParse(options: ParallelParseOptions): ParallelParse {
  const maxInFlight = options.maxInFlight ?? 8 * options.workers;
  const queue: Pending[] = [];
  let waiting: { promise: Promise<void>; release: () => void } | undefined;
  const release = (): void => {
    const w = waiting;
    waiting = undefined;
    w?.release();
  };

  const parseLines: ParallelParse['parseLines'] = (onDeadLetter, onBatch) => (source) =>
    new Observable<StreamElement<FeedbackEvent>>((subscriber) => {
      const entry = workerEntry('parse-worker');
      const start: ParseWorkerStart = { event: options.event };
      const decoders = Array.from({ length: options.workers }, () => new BatchDecoder(options.event.keyFields));
      let firstId = 0;
      let nextId = 0;
      let inputEnded = false;
      queue.length = 0;

      const drain = (): void => {
        while (queue[0]?.parsed !== undefined && !subscriber.closed) {
          const { chunk, worker, parsed } = queue.shift()!;
          firstId++;
          decoders[worker]!.decode(parsed!, chunk, (record) => subscriber.next(record), onDeadLetter, () => subscriber.closed);
          onBatch?.({ lineCount: parsed!.lineCount, end: parsed!.end });
        }
        if (queue.length < maxInFlight) release();
        if (inputEnded && queue.length === 0) subscriber.complete();
      };

      const workers = decoders.map((_, index) => {
        const worker = new Worker(entry.code, { eval: entry.eval, workerData: start });
        worker.on('message', (parsed: ParsedBatch) => {
          const pending = queue[parsed.id - firstId];
          if (pending === undefined) return; // after a teardown
          pending.parsed = parsed;
          try {
            drain();
          } catch (error) {
            subscriber.error(error);
          }
        });
        worker.on('error', (error) => subscriber.error(error));
        worker.on('exit', (code) => {
          if (!subscriber.closed) subscriber.error(new Error(`parse worker ${index} exited (code ${code}) while the input was read`));
        });
        return worker;
      });

      const subscription = source.subscribe({
        next: ({ bytes, start, final }) => {
          const id = nextId++;
          const worker = id % workers.length;
          queue.push({ chunk: { start, final }, worker });
          // Transferred, not copied: the worker hands the bytes back with its answer.
          workers[worker]!.postMessage({ id, bytes, start, final, now: options.now() } satisfies ParseRequest, [bytes.buffer as ArrayBuffer]);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          inputEnded = true;
          drain();
        },
      });

      return () => {
        subscription.unsubscribe();
        queue.length = 0;
        release();
        for (const worker of workers) {
          worker.removeAllListeners('exit');
          void worker.terminate();
        }
      };
    });

  return {
    parseLines,
    backpressure() {
      if (queue.length < maxInFlight) return undefined;
      if (waiting === undefined) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        waiting = { promise, release: resolve };
      }
      return waiting.promise;
    },
  };
}
