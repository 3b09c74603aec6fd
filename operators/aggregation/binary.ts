/**
 * Little-endian binary writer/reader for checkpoint blobs. Doubles are
 * written bit-exactly, which is what makes round trips exact.
 *
 * Checkpoints hold millions of values and are encoded synchronously at the
 * barrier, so arrays of numbers are copied through typed-array views of the
 * buffer (one element store per value) instead of a DataView call per value.
 * Such an array is aligned to its element size, counted from the start of the
 * blob; the reader realigns a blob that starts at an odd address.
 */

// Typed arrays use the platform's byte order and the format is little-endian;
// every platform Node.js ships for but s390x is little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('checkpoint encoding needs a little-endian platform');

/** 10^k, exact as doubles, for the decimal encoding of `numbers`. */
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/** How `numbers` stored an array: raw doubles, or decimal mantissas of 16 or 32 bits. */
const RAW = 0;
const INT16 = 1;
const INT32 = 2;

// Scratch for mantissas: encoding is synchronous and single-threaded.
let mantissas = new Int32Array(256);

export class ByteWriter {
  private bytes: Uint8Array;
  private view: DataView;
  private i16: Int16Array;
  private i32: Int32Array;
  private f64s_: Float64Array;
  private length = 0;

  /** `capacity`: a size estimate; the buffer doubles when it is exceeded. */
  constructor(capacity = 64) {
    this.bytes = new Uint8Array(roundUp8(capacity));
    this.view = new DataView(this.bytes.buffer);
    this.i16 = new Int16Array(this.bytes.buffer);
    this.i32 = new Int32Array(this.bytes.buffer);
    this.f64s_ = new Float64Array(this.bytes.buffer);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const next = new Uint8Array(roundUp8(Math.max(this.bytes.length * 2, this.length + n)));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
    this.i16 = new Int16Array(next.buffer);
    this.i32 = new Int32Array(next.buffer);
    this.f64s_ = new Float64Array(next.buffer);
  }

  /** Zero bytes up to the next multiple of `size` (a power of two). */
  private align(size: number): void {
    const pad = -this.length & (size - 1);
    this.reserve(pad);
    for (let i = 0; i < pad; i++) this.bytes[this.length++] = 0;
  }

  u8(v: number): this {
    this.reserve(1);
    this.bytes[this.length++] = v;
    return this;
  }

  u32(v: number): this {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
    return this;
  }

  f64(v: number): this {
    this.reserve(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
    return this;
  }

  /** values[start..end) as raw doubles, 8-byte aligned; the reader must know the count. */
  f64s(values: ArrayLike<number>, start: number, end: number): this {
    this.align(8);
    this.reserve((end - start) * 8);
    const d = this.f64s_;
    let at = this.length >>> 3;
    for (let i = start; i < end; i++) d[at++] = values[i] as number;
    this.length = at * 8;
    return this;
  }

  /**
   * A counted array of finite numbers, bit-exact and compact. Metric values
   * are mostly decimals with few digits (latencies in 0.1 ms, costs in 1e-6
   * USD, token counts, ratings): such an array is stored as integers m with
   * x = m / 10^k for one k, which the reader computes back with the same
   * correctly rounded division. That holds exactly for a value parsed from a
   * decimal with k fraction digits, and it is checked value by value here;
   * anything else (−0, long fractions, huge values) is stored as raw doubles.
   * 2 bytes per value instead of 8 for typical metrics: a checkpoint's size
   * is what its write to LevelDB costs.
   */
  numbers(values: ArrayLike<number>, start: number, end: number): this {
    const n = end - start;
    this.u32(n);
    if (mantissas.length < n) mantissas = new Int32Array(Math.max(n, 2 * mantissas.length));
    const m = mantissas;
    let k = 0;
    let lo = 0;
    let hi = 0;
    let encoding = INT16;
    // Smallest k that fits every value: a value that needs more digits restarts the scan.
    scan: for (;;) {
      const p = POW10[k] as number;
      lo = 0;
      hi = 0;
      for (let i = 0; i < n; i++) {
        const x = values[start + i] as number;
        const q = Math.round(x * p);
        if (q / p !== x) {
          if (++k < POW10.length) continue scan;
          encoding = RAW;
          break scan;
        }
        // Beyond int32 (or −0, whose mantissa 0 would come back as +0): raw.
        if (q > 0x7fffffff || q < -0x80000000 || (q === 0 && 1 / x < 0)) {
          encoding = RAW;
          break scan;
        }
        m[i] = q;
        if (q < lo) lo = q;
        if (q > hi) hi = q;
      }
      break;
    }
    if (encoding === RAW) return this.u8(RAW).u8(0).f64s(values, start, end);
    if (lo < -0x8000 || hi > 0x7fff) encoding = INT32;
    this.u8(encoding).u8(k);
    if (encoding === INT16) {
      this.align(2);
      this.reserve(2 * n);
      const d = this.i16;
      const at = this.length >>> 1;
      for (let i = 0; i < n; i++) d[at + i] = m[i] as number;
      this.length += 2 * n;
    } else {
      this.align(4);
      this.reserve(4 * n);
      this.i32.set(m.subarray(0, n), this.length >>> 2);
      this.length += 4 * n;
    }
    return this;
  }

  /** Length-prefixed UTF-8 string. */
  str(s: string): this {
    const n = s.length;
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 for 2).
    this.reserve(4 + 3 * n);
    const at = this.length + 4;
    const b = this.bytes;
    // Keys and metric names are ASCII: copying the char codes spares an encoder call and a temporary array.
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[at + i] = c;
    }
    const written = i === n ? n : i + textEncoder.encodeInto(s.slice(i), b.subarray(at + i)).written;
    this.view.setUint32(this.length, written, true);
    this.length = at + written;
    return this;
  }

  /** The bytes written, as a view of the buffer (no copy: blobs are large and written once). */
  finish(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class ByteReader {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly i16: Int16Array;
  private readonly i32: Int32Array;
  private readonly f64s_: Float64Array;
  private offset = 0;

  constructor(bytes: Uint8Array) {
    // Typed-array views need the blob's start aligned: copy it once if it is not
    // (`new Uint8Array`, not `slice`: a Buffer's slice is a view, not a copy).
    this.bytes = bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
    const { buffer, byteOffset, byteLength } = this.bytes;
    this.view = new DataView(buffer, byteOffset, byteLength);
    this.i16 = new Int16Array(buffer, byteOffset, byteLength >>> 1);
    this.i32 = new Int32Array(buffer, byteOffset, byteLength >>> 2);
    this.f64s_ = new Float64Array(buffer, byteOffset, byteLength >>> 3);
  }

  private take(n: number): number {
    const at = this.offset;
    if (at + n > this.bytes.length) throw new RangeError('truncated checkpoint blob');
    this.offset = at + n;
    return at;
  }

  private align(size: number): void {
    this.take(-this.offset & (size - 1));
  }

  u8(): number {
    return this.bytes[this.take(1)] as number;
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  f64(): number {
    return this.view.getFloat64(this.take(8), true);
  }

  /** `count` doubles written by `ByteWriter.f64s`, into `into` from `start`. */
  f64s(into: Float64Array, start: number, count: number): void {
    this.align(8);
    const at = this.take(count * 8) >>> 3;
    into.set(this.f64s_.subarray(at, at + count), start);
  }

  /**
   * An array written by `ByteWriter.numbers`, as a plain array of its exact
   * length. Filled by index, not pushed: restoring a checkpoint creates
   * millions of these, and growing them by push doubles the memory the young
   * generation has to copy (the arrays are HOLEY_DOUBLE_ELEMENTS without any
   * hole, which reads and pushes as fast as packed ones).
   */
  numbers(): number[] {
    const n = this.u32();
    const encoding = this.u8();
    const k = this.u8();
    const out = new Array<number>(n);
    if (encoding === RAW) {
      this.align(8);
      const at = this.take(8 * n) >>> 3;
      const d = this.f64s_;
      for (let i = 0; i < n; i++) out[i] = d[at + i] as number;
      return out;
    }
    const p = POW10[k];
    if (p === undefined) throw new RangeError('corrupt number array: scale out of range');
    if (encoding === INT16) {
      this.align(2);
      const at = this.take(2 * n) >>> 1;
      const d = this.i16;
      for (let i = 0; i < n; i++) out[i] = (d[at + i] as number) / p;
    } else if (encoding === INT32) {
      this.align(4);
      const at = this.take(4 * n) >>> 2;
      const d = this.i32;
      for (let i = 0; i < n; i++) out[i] = (d[at + i] as number) / p;
    } else {
      throw new RangeError('corrupt number array: unknown encoding');
    }
    return out;
  }

  str(): string {
    const n = this.u32();
    const at = this.take(n);
    return textDecoder.decode(this.bytes.subarray(at, at + n));
  }

  /** Bytes not read yet (optional trailing fields of a layout that grew). */
  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Throws unless every byte was consumed: trailing bytes mean a format mismatch. */
  end(): void {
    if (this.offset !== this.bytes.length) throw new RangeError('trailing bytes in checkpoint blob');
  }
}
