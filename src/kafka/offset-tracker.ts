/**
 * Which offset of one partition may be committed, given records handed downstream in
 * offset order and acknowledged in any order: the one after the highest offset below
 * which every handed-over record is acknowledged (at-least-once: a commit never skips a
 * record whose effects are not yet safely in the sink).
 */
export class PartitionOffsets {
  /**
   * Handed-over offsets in hand-over order → acknowledged yet. A Map keeps insertion
   * order, so its first entries are the oldest pending records.
   */
  private readonly pending = new Map<string, boolean>();
  /** Next offset to commit (last contiguous acknowledged + 1), or undefined if none yet. */
  private committable: string | undefined;
  private committed: string | undefined;

  /** Records a hand-over; offsets must arrive in increasing order. */
  handOver(offset: string): void {
    this.pending.set(offset, false);
  }

  /**
   * Records an acknowledgement. An offset that is not pending (already committed, or
   * handed over before a rebalance reset this tracker) is ignored: acknowledging it once
   * is enough, and it carries no information about the records still pending.
   */
  ack(offset: string): void {
    if (!this.pending.has(offset)) return;
    this.pending.set(offset, true);
    for (const [head, acked] of this.pending) {
      if (!acked) break;
      this.pending.delete(head);
      this.committable = head;
    }
  }

  /** The offset to commit now (Kafka's convention: the next record to read), or undefined if nothing new. */
  toCommit(): string | undefined {
    if (this.committable === undefined) return undefined;
    const next = (BigInt(this.committable) + 1n).toString();
    return next === this.committed ? undefined : next;
  }

  /** Notes that `offset` (a value `toCommit` returned) was committed. */
  markCommitted(offset: string): void {
    this.committed = offset;
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}
