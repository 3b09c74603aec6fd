/**
 * Where a repartitioned record came from, carried in its message headers: the repartition
 * stage writes it, and the task that reads the record uses it to drop the copies a
 * restarted stage produces again (`SourceHighWater`).
 */
import type { IHeaders } from 'kafkajs';

const TOPIC = 'source-topic';
const PARTITION = 'source-partition';
const OFFSET = 'source-offset';

/** A record's input partition (`topic:partition`) and offset there. */
export interface SourceOffset {
  readonly source: string;
  readonly offset: number;
}

/** The headers of a record repartitioned from `offset` of `topic`'s `partition`. */
export function sourceHeaders(topic: string, partition: number, offset: string): Record<string, string> {
  return { [TOPIC]: topic, [PARTITION]: String(partition), [OFFSET]: offset };
}

/** The source position in `headers`, or undefined for a message the repartition stage did not write. */
export function sourceOffset(headers: IHeaders | undefined): SourceOffset | undefined {
  const topic = headers?.[TOPIC];
  const partition = headers?.[PARTITION];
  const offset = headers?.[OFFSET];
  if (topic === undefined || partition === undefined || offset === undefined) return undefined;
  return { source: `${String(topic)}:${String(partition)}`, offset: Number(String(offset)) };
}
