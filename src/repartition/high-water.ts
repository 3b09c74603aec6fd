/**
 * Duplicate detection for repartitioned input. The repartition stage is at-least-once: after
 * a crash it produces again what it produced since its last committed input offset. The
 * records of one source partition reach a repartition partition in source-offset order (one
 * in-order producer), so a task that remembers, per source partition, the highest source
 * offset it aggregated knows that a record at or below it is a copy. The map is part of the
 * task's checkpointed state: it rolls back with the windows it describes.
 */
import type { SourceOffset } from './source-position.js';

export class SourceHighWater {
  private readonly highest: Map<string, number>;

  constructor(restored: Readonly<Record<string, number>> = {}) {
    this.highest = new Map(Object.entries(restored));
  }

  /** Whether the record at `at` is new; if it is, it becomes its source's high water. */
  admit(at: SourceOffset): boolean {
    const high = this.highest.get(at.source);
    if (high !== undefined && at.offset <= high) return false;
    this.highest.set(at.source, at.offset);
    return true;
  }

  /** Per source partition (`topic:partition`), the highest offset admitted. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.highest);
  }
}
