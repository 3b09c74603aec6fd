/**
 * The task manager on assignment changes (src/tasks/task-manager.ts): a revoked task's state
 * goes (windows, position, checkpoints), and a partition revoked while its task was still
 * restoring is restored again when it comes back.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import type { FeedbackEvent } from '../../src/events/index.js';
import type { AssignmentChange, TopicPartition } from '../../src/kafka/index.js';
import { PartitionIds } from '../../src/kafka/partition-ids.js';
import { feedbackMetrics } from '../../src/pipeline/feedback-pipeline.js';
import type { PipelineWriter } from '../../src/runner/run-pipeline.js';
import { MemoryKv } from '../../src/state/memory-kv.js';
import { LocalTaskStore } from '../../src/tasks/local-store.js';
import { TaskManager, type TaskInput } from '../../src/tasks/task-manager.js';

const TOPIC = 'in';
const tp = (partition: number): TopicPartition => ({ topic: TOPIC, partition });

/** The consumer side as the task manager sees it: what is assigned, held and released where. */
class Input implements TaskInput {
  assignment: TopicPartition[] = [];
  readonly held = new Set<number>();
  /** Where each partition was released: an offset, or 'start' (its first record). */
  readonly released = new Map<number, string>();

  hold(partitions: readonly TopicPartition[]): void {
    for (const p of partitions) this.held.add(p.partition);
  }

  release(partition: TopicPartition, offset: string | undefined): void {
    this.held.delete(partition.partition);
    this.released.set(partition.partition, offset ?? 'start');
  }

  /** The change from the current assignment to `partitions`, which becomes the assignment. */
  moveTo(...partitions: number[]): AssignmentChange {
    const before = new Set(this.assignment.map((p) => p.partition));
    const change = { assigned: partitions.filter((p) => !before.has(p)).map(tp), revoked: [...before].filter((p) => !partitions.includes(p)).map(tp), current: partitions.map(tp) };
    this.assignment = partitions.map(tp);
    return change;
  }
}

function manager(): TaskManager {
  const config = parseConfig({ processor: {} }, {});
  const writer: PipelineWriter = { late: () => undefined, recordError: () => undefined, element: () => undefined };
  return new TaskManager({
    config,
    writer,
    metrics: feedbackMetrics(config),
    caughtUp: () => false,
    onError: (error) => {
      throw error;
    },
    local: new LocalTaskStore(new MemoryKv()),
    ids: new PartitionIds([TOPIC]),
    statePartitions: 4,
  });
}

const record = (partition: number, offset: number): { kind: 'record'; value: FeedbackEvent; timestamp: number; partition: number; offset: string } => ({
  kind: 'record', value: { model: `m${partition}`, metrics: { x: offset } }, timestamp: partition * 3_600_000 + offset, partition, offset: String(offset),
});

describe('task manager: assignment changes', () => {
  it('drops a revoked task: its windows, its position and its checkpoints', async () => {
    const tasks = manager();
    const input = new Input();
    await tasks.assign(input.moveTo(0, 1), input, undefined);
    for (const p of [0, 1]) {
      tasks.get(p)!.process(record(p, 0));
      tasks.positions[`${TOPIC}:${p}`] = '1';
    }
    expect(tasks.windowState().openWindows).toBe(2);
    const task1 = tasks.get(1)!;

    await tasks.assign(input.moveTo(0), input, undefined);
    expect(tasks.has(1)).toBe(false);
    expect(task1.windows, 'the revoked task’s windows are released').toBeUndefined();
    expect(Object.keys(tasks.positions)).toEqual([`${TOPIC}:0`]);
    expect(tasks.windowState().openWindows).toBe(1);
    expect([...tasks.windowState().peek()].map((w) => w.window.start), 'partition 0’s window alone').toEqual([0]);
    const keys = tasks.checkpoint(1, { ...tasks.positions }).map((m) => String(m.key));
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((key) => !key.includes(`${TOPIC}:1`) && !key.startsWith('1/')), keys.join(', ')).toBe(true);
  });

  it('restores a partition revoked while its task was restoring once it comes back', async () => {
    const tasks = manager();
    const input = new Input();
    // Partitions 0 and 1 assigned; before their restore completes, 1 is revoked.
    const first = tasks.assign(input.moveTo(0, 1), input, undefined);
    const second = tasks.assign(input.moveTo(0), input, undefined);
    await Promise.all([first, second]);
    expect(tasks.has(0)).toBe(true);
    expect(tasks.has(1)).toBe(false);

    // 1 comes back: its task is restored and its partition released, not left held or unread.
    const started = await tasks.assign(input.moveTo(0, 1), input, undefined);
    expect(started.map((s) => s.partition)).toEqual([1]);
    expect(tasks.has(1)).toBe(true);
    expect(input.held.has(1)).toBe(false);
    expect(input.released.get(1)).toBe('start');
  });
});
