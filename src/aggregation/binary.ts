/**
 * Minimal little-endian binary writer/reader for checkpoint blobs. Doubles are
 * written bit-exactly, which is what makes round trips exact.
 */
export class ByteWriter {
  private bytes = new Uint8Array(64);
  private view = new DataView(this.bytes.buffer);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
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

  f64s(values: ArrayLike<number>, start: number, end: number): this {
    this.reserve((end - start) * 8);
    for (let i = start; i < end; i++) {
      this.view.setFloat64(this.length, values[i] as number, true);
      this.length += 8;
    }
    return this;
  }

  /** Length-prefixed bytes. */
  blob(b: Uint8Array): this {
    this.u32(b.length);
    this.reserve(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
    return this;
  }

  /** Length-prefixed UTF-8 string. */
  str(s: string): this {
    return this.blob(textEncoder.encode(s));
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class ByteReader {
  private readonly view: DataView;
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private take(n: number): number {
    const at = this.offset;
    if (at + n > this.bytes.length) throw new RangeError('truncated checkpoint blob');
    this.offset = at + n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  f64(): number {
    return this.view.getFloat64(this.take(8), true);
  }

  f64s(into: Float64Array, start: number, count: number): void {
    const at = this.take(count * 8);
    for (let i = 0; i < count; i++) into[start + i] = this.view.getFloat64(at + i * 8, true);
  }

  blob(): Uint8Array {
    const n = this.u32();
    const at = this.take(n);
    return this.bytes.subarray(at, at + n);
  }

  str(): string {
    return textDecoder.decode(this.blob());
  }

  /** Throws unless every byte was consumed: trailing bytes mean a format mismatch. */
  end(): void {
    if (this.offset !== this.bytes.length) throw new RangeError('trailing bytes in checkpoint blob');
  }
}
