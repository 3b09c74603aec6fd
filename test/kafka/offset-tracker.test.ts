import { describe, expect, it } from 'vitest';
import { PartitionOffsets } from '../../src/kafka/offset-tracker.js';

describe('PartitionOffsets', () => {
  it('commits only past the highest contiguously acknowledged offset', () => {
    const offsets = new PartitionOffsets();
    for (const o of ['5', '6', '7', '8']) offsets.handOver(o);
    expect(offsets.toCommit()).toBeUndefined();
    offsets.ack('7');
    expect(offsets.toCommit()).toBeUndefined();
    offsets.ack('5');
    expect(offsets.toCommit()).toBe('6');
    offsets.ack('6');
    expect(offsets.toCommit()).toBe('8');
    offsets.markCommitted('8');
    expect(offsets.toCommit()).toBeUndefined();
    offsets.ack('8');
    expect(offsets.toCommit()).toBe('9');
    expect(offsets.pendingCount).toBe(0);
  });

  it('ignores acknowledgements of offsets it does not hold, and repeated ones', () => {
    const offsets = new PartitionOffsets();
    offsets.handOver('10');
    offsets.handOver('11');
    offsets.ack('3');
    offsets.ack('12');
    expect(offsets.toCommit()).toBeUndefined();
    offsets.ack('10');
    offsets.ack('10');
    expect(offsets.toCommit()).toBe('11');
    expect(offsets.pendingCount).toBe(1);
  });

  it('handles offsets beyond 2^53', () => {
    const offsets = new PartitionOffsets();
    offsets.handOver('9007199254740993');
    offsets.ack('9007199254740993');
    expect(offsets.toCommit()).toBe('9007199254740994');
  });
});
