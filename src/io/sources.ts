/**
 * Line sources: an NDJSON file or a byte stream (stdin) as an Observable of line
 * batches.
 *
 * Why batches (`LineBatch`: the lines of one read chunk) rather than one emission
 * per line: measured through RxJS on 1M events of 187 bytes, one `next` per line
 * and per-batch emission run at the same rate once parsing is included (both
 * ~0.72 M events/s; `JSON.parse` dominates, an RxJS hop costs ~0.1 µs), so the
 * choice rests on the consumer's needs: a batch carries the offset up to which the
 * input is consumed (`end`, the checkpoint position), gives one natural point per
 * chunk for backpressure, and lets the runner parse in a plain loop. Consumers that
 * want single lines can `mergeMap(batch => batch.lines)`.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Observable } from 'rxjs';
import { LineSplitter, type LineBatch } from './line-splitter.js';

export interface SourceOptions {
  /**
   * Backpressure hook, called after each emitted batch: when it returns a promise,
   * the source reads nothing more until it settles (e.g. "wait while the sink has
   * more than `buffer_size` lines in flight").
   */
  readonly backpressure?: () => PromiseLike<unknown> | undefined;
}

export interface FileSourceOptions extends SourceOptions {
  /** Byte offset to start at (resume from a checkpoint); must be 0 or just after a newline. */
  readonly start?: number;
  /**
   * Bytes per read. Measured on 187-byte events: 64 KiB–1 MiB all split about
   * 5 M lines/s, 4 MiB is ~20% slower (large strings leave the young generation).
   * Default 256 KiB.
   */
  readonly chunkSize?: number;
}

const DEFAULT_CHUNK = 256 << 10;

/**
 * The lines of the NDJSON file at `path` from byte `start`, in batches, then
 * completes at the end of the file. The file is opened on subscription and closed
 * on completion, error or unsubscription.
 */
export function fileSource(path: string, options: FileSourceOptions = {}): Observable<LineBatch> {
  const start = options.start ?? 0;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`start must be a byte offset ≥ 0, got ${start}`);
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);

  return new Observable<LineBatch>((subscriber) => {
    let handle: FileHandle | undefined;
    let closing: Promise<void> | undefined;
    let stopped = false;
    // Idempotent; FileHandle.close waits for a read in flight, so teardown may call it at any time.
    const release = (): Promise<void> => (closing ??= handle?.close() ?? Promise.resolve());

    const run = async (): Promise<void> => {
      handle = await open(path, 'r');
      if (stopped) return;
      const buffer = Buffer.allocUnsafe(chunkSize);
      if (start > 0) await checkStart(handle, path, start, buffer);
      const splitter = new LineSplitter(start);
      let position = start;
      while (!stopped) {
        const { bytesRead } = await handle.read(buffer, 0, chunkSize, position);
        if (stopped) return;
        if (bytesRead === 0) break;
        position += bytesRead;
        const batch = splitter.push(buffer.subarray(0, bytesRead));
        if (batch.lines.length > 0) subscriber.next(batch);
        const wait = options.backpressure?.();
        if (wait !== undefined) await wait;
      }
      if (stopped) return;
      const last = splitter.finish();
      if (last.lines.length > 0) subscriber.next(last);
      await release();
      subscriber.complete();
    };

    run().then(
      // After an unsubscription nobody is left to hear of a failed close.
      () => release().catch(() => undefined),
      (error: unknown) => {
        release().catch(() => undefined); // the read error is the one worth reporting
        subscriber.error(error);
      },
    );
    return () => {
      stopped = true;
      // Before `open` resolves there is no handle yet; `run` sees `stopped` and `then` releases it.
      if (handle !== undefined) release().catch(() => undefined);
    };
  });
}

/**
 * A resume offset must be where a line starts: the byte before it is a newline,
 * or it is the end of the file (the end offset of a last line without newline).
 */
async function checkStart(handle: FileHandle, path: string, start: number, buffer: Buffer): Promise<void> {
  const { size } = await handle.stat();
  if (start > size) throw new RangeError(`${path}: start offset ${start} is beyond the end of the file (${size} bytes)`);
  if (start === size) return;
  const { bytesRead } = await handle.read(buffer, 0, 1, start - 1);
  if (bytesRead !== 1 || buffer[0] !== 10) throw new RangeError(`${path}: start offset ${start} is not at the start of a line`);
}

/**
 * The lines of a byte stream (e.g. `process.stdin`) in batches; `ends` count bytes
 * from the start of the stream. Unsubscribing detaches from and pauses the stream
 * without destroying it (stdin belongs to the process).
 */
export function streamSource(input: NodeJS.ReadableStream, options: SourceOptions = {}): Observable<LineBatch> {
  return new Observable<LineBatch>((subscriber) => {
    const splitter = new LineSplitter(0);
    let stopped = false;
    const onData = (chunk: Buffer | string): void => {
      const batch = splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (batch.lines.length > 0) subscriber.next(batch);
      const wait = stopped ? undefined : options.backpressure?.();
      if (wait !== undefined) {
        input.pause();
        const resume = (): void => {
          if (!stopped) input.resume();
        };
        wait.then(resume, (error: unknown) => subscriber.error(error));
      }
    };
    const onEnd = (): void => {
      const last = splitter.finish();
      if (last.lines.length > 0) subscriber.next(last);
      subscriber.complete();
    };
    const onError = (error: unknown): void => subscriber.error(error);
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
    input.resume();
    return () => {
      stopped = true;
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
    };
  });
}

/** `streamSource(process.stdin)`. */
export const stdinSource = (options: SourceOptions = {}): Observable<LineBatch> => streamSource(process.stdin, options);
