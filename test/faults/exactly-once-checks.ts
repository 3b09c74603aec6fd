/**
 * The exactly-once checks of the fault suite: what a `read_committed` reader of the outputs
 * must see with `processing_guarantee: exactly_once`.
 *
 * The reader is not kafkajs's `read_committed` consumer: kafkajs 2.2.4 drops an aborted
 * transaction's records only once it has met the transaction's first offset, activating one
 * aborted transaction per record, so when several producers' aborted transactions overlap
 * the start of a fetch (four tasks killed mid-transaction write to the same result
 * partitions) records of the later ones get through. `CommittedTail` reads uncommitted and
 * does what the broker's markers say: a transactional record counts once its producer's
 * commit marker follows, and is dropped at its abort marker.
 */
import { createRequire } from 'node:module';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { expect } from 'vitest';
import { DEFAULT_SPECS, type Message, type ModelSpec, type Sent, checkRun, unique, waitUntil } from './harness.js';

/** What kafkajs decodes for each record of a fetch (its `Batch.rawMessages`, markers included). */
interface RawRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly isControlRecord?: boolean;
  readonly batchContext: { readonly producerId: string; readonly inTransaction: boolean };
}

// kafkajs hands `eachBatch` no batch whose records are all markers; this reader needs the markers.
const KafkaBatch = createRequire(import.meta.url)('kafkajs/src/consumer/batch') as { prototype: { isEmpty(): boolean; isEmptyDueToFiltering(): boolean } };
KafkaBatch.prototype.isEmpty = function (this: { rawMessages: readonly RawRecord[] }): boolean {
  return this.rawMessages.length === 0;
};
KafkaBatch.prototype.isEmptyDueToFiltering = (): boolean => false;

const readers: Consumer[] = [];

/** A topic read from the beginning with the broker's transaction markers applied; records keyed by (partition, offset). */
export class CommittedTail {
  readonly messages = new Map<string, Message>();
  /** Per partition and producer, the records of its open transaction. */
  private readonly open = new Map<string, Message[]>();
  private failed: unknown;

  static async start(brokers: string, topic: string): Promise<CommittedTail> {
    const tail = new CommittedTail();
    const consumer = new Kafka({ clientId: 'eos-tail', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).consumer({ groupId: unique('eos-tail'), readUncommitted: true, maxWaitTimeInMs: 100 });
    readers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          const { rawMessages, fetchedOffset } = batch as unknown as { rawMessages: readonly RawRecord[]; fetchedOffset: string };
          for (const record of rawMessages) if (Number(record.offset) >= Number(fetchedOffset)) tail.add(batch.partition, record);
        },
      })
      .catch((error: unknown) => (tail.failed = error));
    return tail;
  }

  private add(partition: number, record: RawRecord): void {
    const producer = `${partition}:${record.batchContext.producerId}`;
    if (record.isControlRecord === true) {
      // A marker's key: version (int16), then the type (int16): 0 abort, 1 commit.
      const committed = record.key !== null && record.key.readInt16BE(2) === 1;
      const records = this.open.get(producer) ?? [];
      this.open.delete(producer);
      if (committed) for (const m of records) this.messages.set(`${m.partition}:${m.offset}`, m);
      return;
    }
    const message: Message = { partition, offset: record.offset, value: record.value?.toString('utf8') ?? '' };
    if (!record.batchContext.inTransaction) this.messages.set(`${partition}:${record.offset}`, message);
    else this.open.set(producer, [...(this.open.get(producer) ?? []), message]);
  }

  values(): string[] {
    if (this.failed !== undefined) throw new Error(`reading committed records failed: ${String(this.failed)}`);
    return [...this.messages.values()].map((m) => m.value);
  }

  /**
   * Transactional records read so far whose producer has written no marker after them on their
   * partition (an open, or a hanging, transaction): where a failure's missing output may be.
   */
  uncommitted(): string[] {
    return [...this.open].filter(([, records]) => records.length > 0).map(([producer, records]) => `${producer}: ${records.length} record(s) from offset ${records[0]!.offset}, first ${records[0]!.value.slice(0, 160)}`);
  }
}

/** Committed readers of the result and dead-letter topics; stopped by `stopCommittedTails`. */
export async function committedOutputs(t: { brokers: string; results: string; deadLetters: string }): Promise<{ results: CommittedTail; deadLetters: CommittedTail }> {
  return { results: await CommittedTail.start(t.brokers, t.results), deadLetters: await CommittedTail.start(t.brokers, t.deadLetters) };
}

export async function stopCommittedTails(): Promise<void> {
  for (const consumer of readers.splice(0)) await consumer.disconnect();
}

type Tail = Pick<CommittedTail, 'messages' | 'values'> & Partial<Pick<CommittedTail, 'uncommitted'>>;

/** Each (key, window, revision) of the results and each dead letter's input position, counted. */
export function repeats(results: readonly string[], deadLetters: readonly string[]): string[] {
  const seen = new Map<string, number>();
  const count = (id: string): void => void seen.set(id, (seen.get(id) ?? 0) + 1);
  for (const value of results) {
    const r = JSON.parse(value) as { key: unknown; window: { type: string; spec?: string; start: number }; revision: number };
    count(`result ${r.window.spec ?? r.window.type} ${JSON.stringify(r.key)} @${r.window.start} rev ${r.revision}`);
  }
  for (const value of deadLetters) {
    const d = JSON.parse(value) as { partition?: number; offset?: string | number };
    count(`dead letter of ${d.partition}:${d.offset}`);
  }
  return [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id}: ${n} times`);
}

/** Waits until neither tail has read anything new for `quietMs` (transaction markers take offsets, so counts cannot tell). */
export async function settled(tails: readonly Tail[], quietMs = 3_000): Promise<void> {
  let last = -1;
  let since = Date.now();
  await waitUntil('the output topics to settle', () => {
    const size = tails.reduce((sum, tail) => sum + tail.messages.size, 0);
    if (size !== last) {
      last = size;
      since = Date.now();
    }
    return Date.now() - since >= quietMs;
  }, 60_000);
}

/** No repeats, then the harness's comparison with the brute-force model. */
export function expectExactlyOnce(label: string, sent: readonly Sent[], results: Tail, deadLetters: Tail, specs: readonly ModelSpec[] = DEFAULT_SPECS): void {
  const repeated = repeats(results.values(), deadLetters.values());
  expect(repeated, `${label}: output seen more than once by a read_committed reader`).toEqual([]);
  // On a failure, what the readers hold without a marker (partition:producer): told with every message.
  const open = [...(results.uncommitted?.() ?? []).map((o) => `results ${o}`), ...(deadLetters.uncommitted?.() ?? []).map((o) => `dead letters ${o}`)];
  checkRun(open.length === 0 ? label : `${label}\nuncommitted at the check: ${open.slice(0, 10).join('; ')}`, sent, results.values(), deadLetters.values(), specs);
}
