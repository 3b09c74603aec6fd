/**
 * Event-time timers: a binary min-heap ordered by (time, insertion order), so
 * that windows due at the same time fire in the order they were created and the
 * output is deterministic. Cancellation is lazy: the owner ignores entries it no
 * longer recognises when they come out (Flink's timer service works the same way).
 */
export class TimerQueue<P> {
  private readonly times: number[] = [];
  private readonly seqs: number[] = [];
  private readonly payloads: P[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.times.length;
  }

  push(time: number, payload: P): void {
    this.times.push(time);
    this.seqs.push(this.nextSeq++);
    this.payloads.push(payload);
    this.siftUp(this.times.length - 1);
  }

  /** Time of the earliest timer, or +∞ when empty. */
  peekTime(): number {
    return this.times.length === 0 ? Infinity : this.times[0]!;
  }

  /** Removes the earliest timer and returns its payload. Call only when `size > 0`. */
  pop(): P {
    const top = this.payloads[0]!;
    const last = this.times.length - 1;
    this.move(last, 0);
    this.times.pop();
    this.seqs.pop();
    this.payloads.pop();
    if (last > 0) this.siftDown(0);
    return top;
  }

  clear(): void {
    this.times.length = 0;
    this.seqs.length = 0;
    this.payloads.length = 0;
  }

  private before(i: number, j: number): boolean {
    const ti = this.times[i]!;
    const tj = this.times[j]!;
    return ti < tj || (ti === tj && this.seqs[i]! < this.seqs[j]!);
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from]!;
    this.seqs[to] = this.seqs[from]!;
    this.payloads[to] = this.payloads[from]!;
  }

  private swap(i: number, j: number): void {
    const t = this.times[i]!;
    const s = this.seqs[i]!;
    const p = this.payloads[i]!;
    this.move(j, i);
    this.times[j] = t;
    this.seqs[j] = s;
    this.payloads[j] = p;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.times.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.before(right, left) ? right : left;
      if (!this.before(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }
}
