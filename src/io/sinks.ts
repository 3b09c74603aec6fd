/**
 * Line sinks: NDJSON to a file or a stream (stdout), usable from the synchronous
 * hot path of an RxJS pipeline. `write` only appends to an in-memory string;
 * once `highWaterMark` characters are buffered they are encoded and written in one
 * call, in the background and in order. `flush` writes the rest and waits for it.
 * Write errors are kept: the next `write` throws them and `flush` rejects with them.
 *
 * Backpressure (DESIGN.md): a source can wait while `linesInFlight` is above its
 * limit, e.g. `fileSource(path, { backpressure: () => sink.linesInFlight > 10_000 ? sink.flush() : undefined })`.
 */
import { fdatasync, fstatSync, ftruncate, mkdirSync, openSync, write as fsWrite, close as fsClose } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const writeFd = promisify(fsWrite);
const datasyncFd = promisify(fdatasync);
const truncateFd = promisify(ftruncate);
const closeFd = promisify(fsClose);

export interface LineSink {
  /** Buffers `line` (which must not contain a newline) and a newline. Throws if the sink is closed or an earlier write failed. */
  write(line: string): void;
  /** Resolves once every line written so far has reached the file or stream (see `FileSinkOptions.fsync`). */
  flush(): Promise<void>;
  /** Byte length of the output once every line written so far is flushed (a file sink counts what the file held before). */
  position(): number;
  /** Lines written but not yet confirmed by the OS. */
  readonly linesInFlight: number;
  /** Bytes of those lines (characters for lines not yet encoded: equal for ASCII). */
  readonly bytesInFlight: number;
  /** Flushes, then releases the file (or detaches from the stream). Idempotent. */
  close(): Promise<void>;
}

export interface SinkOptions {
  /** Buffered characters that trigger a background write. */
  readonly highWaterMark?: number;
}

/** What the file and stream sinks share: batching lines into writes, flush, close. */
export abstract class BufferedLineSink implements LineSink {
  private pending = '';
  private pendingLines = 0;
  private encodedLines = 0;
  private encodedBytes = 0;
  /** Bytes handed to `writeChunk` (written or queued) since `base`. */
  private queuedBytes = 0;
  /** The chain of chunk writes; it never rejects (failures land in `failure`). */
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown;
  private closing: Promise<void> | undefined;
  private sealOnNextTurn: NodeJS.Immediate | undefined;

  protected constructor(
    /** Output length before the first write (or after the last truncation). */
    protected base: number,
    private readonly highWaterMark: number,
    /**
     * Also write what is buffered on the next turn of the event loop after a
     * line arrives, instead of waiting for `highWaterMark` or a flush (as the
     * Kafka sink does with linger 0). Lines written in one synchronous burst
     * still leave as one write, so batching holds under load.
     */
    private readonly writeOnNextTurn: boolean,
  ) {}

  protected abstract writeChunk(chunk: Buffer): Promise<void>;
  protected abstract afterFlush(): Promise<void>;
  protected abstract release(): Promise<void>;

  get linesInFlight(): number {
    return this.encodedLines + this.pendingLines;
  }

  get bytesInFlight(): number {
    return this.encodedBytes + this.pending.length;
  }

  write(line: string): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closing !== undefined) throw new Error('write after close');
    this.pending += line + '\n';
    this.pendingLines++;
    if (this.pending.length >= this.highWaterMark) this.seal();
    else if (this.writeOnNextTurn) this.sealOnNextTurn ??= setImmediate(() => this.seal());
  }

  async flush(): Promise<void> {
    this.seal();
    await this.writing;
    if (this.failure !== undefined) throw this.failure;
    await this.afterFlush();
  }

  position(): number {
    return this.base + this.queuedBytes + Buffer.byteLength(this.pending);
  }

  close(): Promise<void> {
    return (this.closing ??= this.flush().finally(() => this.release()));
  }

  /** Positions restart from `base` (after the output was cut back to that length). */
  protected resetPosition(base: number): void {
    this.base = base;
    this.queuedBytes = 0;
  }

  /** Encodes the buffered lines and queues them behind the writes already started. */
  private seal(): void {
    if (this.sealOnNextTurn !== undefined) {
      clearImmediate(this.sealOnNextTurn);
      this.sealOnNextTurn = undefined;
    }
    if (this.pendingLines === 0) return;
    const chunk = Buffer.from(this.pending, 'utf8');
    const lines = this.pendingLines;
    this.pending = '';
    this.pendingLines = 0;
    this.queuedBytes += chunk.length;
    this.encodedBytes += chunk.length;
    this.encodedLines += lines;
    this.writing = this.writing
      .then(() => (this.failure === undefined ? this.writeChunk(chunk) : undefined))
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        this.encodedBytes -= chunk.length;
        this.encodedLines -= lines;
      });
  }
}

export interface FileSinkOptions extends SinkOptions {
  /**
   * `flush` also calls `fdatasync`, so flushed data survives a power loss, not
   * only a process crash (the page cache already covers a crash). Default false.
   */
  readonly fsync?: boolean;
}

/** An NDJSON file opened for appending; see `fileSink`. */
export class FileSink extends BufferedLineSink {
  private readonly fd: number;

  constructor(readonly path: string, private readonly options: FileSinkOptions = {}) {
    mkdirSync(dirname(path), { recursive: true });
    // Append mode: every write lands at the current end, including after `truncateTo`.
    const fd = openSync(path, 'a');
    // Files are read once the job ends or from a checkpoint: large writes matter more than latency.
    super(fstatSync(fd).size, options.highWaterMark ?? 1 << 20, false);
    this.fd = fd;
  }

  /**
   * Cuts the file back to `bytes` (a position recorded in a complete checkpoint),
   * after writing what is buffered: the recovery step that keeps file output
   * exactly-once (issue 4). Meant for recovery, before the pipeline writes; growing
   * the file is refused, as it would add zeros.
   */
  async truncateTo(bytes: number): Promise<void> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`truncateTo: bad length ${bytes}`);
    await this.flush();
    // A write racing the truncation would land on either side of it.
    if (this.linesInFlight > 0) throw new Error(`${this.path}: truncateTo while lines are being written`);
    const size = fstatSync(this.fd).size;
    if (bytes > size) throw new RangeError(`${this.path}: cannot truncate to ${bytes} bytes, the file has ${size}`);
    await truncateFd(this.fd, bytes);
    if (this.options.fsync === true) await datasyncFd(this.fd);
    this.resetPosition(bytes);
  }

  protected async writeChunk(chunk: Buffer): Promise<void> {
    // A write may be partial: loop until the whole chunk is in.
    for (let done = 0; done < chunk.length; ) {
      const { bytesWritten } = await writeFd(this.fd, chunk, done, chunk.length - done, null);
      done += bytesWritten;
    }
  }

  protected afterFlush(): Promise<void> {
    return this.options.fsync === true ? datasyncFd(this.fd) : Promise.resolve();
  }

  protected release(): Promise<void> {
    return closeFd(this.fd);
  }
}

/**
 * Opens (creating it and its parent folders) the NDJSON file at `path` for
 * appending. Synchronous so that a bad path fails at start-up, where the
 * configuration is checked; writing is asynchronous.
 */
export const fileSink = (path: string, options: FileSinkOptions = {}): FileSink => new FileSink(path, options);

/**
 * A writable stream (stdout); positions count bytes since the sink was created.
 * Lines leave on the next turn of the event loop, or earlier at `highWaterMark`.
 */
class StreamSink extends BufferedLineSink {
  private readonly onError = (error: unknown): void => {
    this.streamFailure ??= error;
  };
  private streamFailure: unknown;

  constructor(private readonly output: NodeJS.WritableStream, options: SinkOptions) {
    // A stream feeds a live consumer (a shell pipeline): a result must not wait for more input.
    super(0, options.highWaterMark ?? 64 << 10, true);
    // Without a listener an EPIPE (e.g. piping into `head`) would crash the process.
    output.on('error', this.onError);
  }

  protected writeChunk(chunk: Buffer): Promise<void> {
    if (this.streamFailure !== undefined) return Promise.reject(this.streamFailure);
    return new Promise((resolve, reject) => {
      this.output.write(chunk, (error) => (error ? reject(error) : resolve()));
    });
  }

  protected afterFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected release(): Promise<void> {
    this.output.off('error', this.onError);
    return Promise.resolve();
  }
}

/** Lines to a writable stream; `close` detaches without ending the stream. */
export const streamSink = (output: NodeJS.WritableStream, options: SinkOptions = {}): LineSink => new StreamSink(output, options);

/** Lines to `process.stdout`. */
export const stdoutSink = (options: SinkOptions = {}): LineSink => streamSink(process.stdout, options);
