/**
 * Whether the tasks read the input directly or through the repartition topic
 * (`kafka.repartition`). `always` and `never` are taken as they are. `auto` decides at
 * start, in this order:
 *
 * 1. The repartition topic exists: an earlier run of this group repartitioned, so this one
 *    does too (its tasks' state and offsets are those of the repartition topic).
 * 2. The group has committed offsets on the input: an earlier run read it directly, so this
 *    one does too (for the same reason).
 * 3. The input is one partition: every key is in it already.
 * 4. Otherwise the first `SAMPLE_PER_PARTITION` messages of every input partition are
 *    parsed: if any valid record's message key is not its joined key fields (src/events/key.ts;
 *    a null key included), the input is repartitioned. Invalid messages say nothing.
 * 5. No valid record to judge from (empty input): not repartitioned. Input that will arrive
 *    unkeyed then needs `always`: the log line says so.
 *
 * Sampling is deterministic as long as the first messages are retained, and rules 1–2 make
 * the decision stick once a run has acted on it; changing it for a group means a new group.
 */
import type { Admin } from 'kafkajs';
import type { ProcessorConfig } from '../config/index.js';
import { kafkaConnection } from '../kafka/settings.js';
import { fetchCommittedOffsets, partitionCountsOf, withAdmin } from '../kafka/admin.js';
import { readRanges, type PartitionRange } from '../kafka/read-ranges.js';
import { configuredParser } from '../runner/parse-lines.js';

export const SAMPLE_PER_PARTITION = 100;
const SAMPLE_TIMEOUT_MS = 60_000;
/**
 * A fetch's share of each sampled partition: the first records and little more (the broker still
 * returns a first batch larger than this whole). Asking the default 8 MiB decoded ~50,000 records
 * to judge 400: 3 s of a loaded 2-core machine's start-up instead of 0.1 s.
 */
const SAMPLE_FETCH_BYTES = 128 << 10;

export interface RepartitionDecision {
  readonly repartition: boolean;
  /** Why, for the log. */
  readonly reason: string;
}

/** One sampled input message. */
export interface SampledMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: string;
}

/** The decision for `config` (see the module comment); `repartitionTopic` is the internal topic's name. */
export async function decideRepartition(config: ProcessorConfig, repartitionTopic: string): Promise<RepartitionDecision> {
  const mode = config.kafka.repartition;
  if (mode !== 'auto') return { repartition: mode === 'always', reason: `kafka.repartition is ${mode}` };
  const { topics, group_id: groupId } = config.kafka.consumer;
  // Rules 1–3 and the sample's offsets through one admin client (each connection costs a metadata round trip).
  const decided = await withAdmin(kafkaConnection(config.kafka), 'kafka.repartition: auto', async (admin): Promise<RepartitionDecision | PartitionRange[]> => {
    const counts = await partitionCountsOf(admin, [...topics, repartitionTopic]);
    if (counts.has(repartitionTopic)) return { repartition: true, reason: `${repartitionTopic} exists: an earlier run of group ${groupId} repartitioned` };
    const offsets = await fetchCommittedOffsets(admin, groupId, topics);
    if (offsets.some((t) => t.partitions.some((p) => Number(p.offset) >= 0))) {
      return { repartition: false, reason: `group ${groupId} has committed offsets on the input: an earlier run read it directly` };
    }
    const partitions = topics.reduce((sum, t) => sum + (counts.get(t) ?? 0), 0);
    if (partitions <= 1) return { repartition: false, reason: 'the input is one partition: every key is in it' };
    return sampleRanges(admin, topics);
  });
  return Array.isArray(decided) ? judgeSample(await sample(config, decided), config) : decided;
}

/** Rules 4 and 5 of the module comment over sampled messages. */
export function judgeSample(messages: Iterable<SampledMessage>, config: ProcessorConfig): RepartitionDecision {
  const parse = configuredParser(config);
  const fields = config.event.key_fields.join(', ');
  let judged = 0;
  for (const m of messages) {
    const parsed = parse(m.value);
    if (parsed.kind !== 'record') continue;
    if (m.key !== parsed.key) {
      const key = m.key === null ? 'null' : JSON.stringify(m.key);
      return { repartition: true, reason: `message ${m.topic}:${m.partition}@${m.offset} has key ${key}, not its key fields (${fields}) ${JSON.stringify(parsed.key)}` };
    }
    judged++;
  }
  return judged === 0
    ? { repartition: false, reason: 'no valid input to sample yet: read directly (set kafka.repartition: always if it will not be keyed by the key fields)' }
    : { repartition: false, reason: `the first ${judged} valid records sampled are keyed by their key fields (${fields})` };
}

/** The first `SAMPLE_PER_PARTITION` offsets of every non-empty partition of `topics`. */
async function sampleRanges(admin: Admin, topics: readonly string[]): Promise<PartitionRange[]> {
  const ranges: PartitionRange[] = [];
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const low = Number(p.low);
      const high = Number(p.high);
      if (high > low) ranges.push({ topic, partition: p.partition, end: Math.min(high, low + SAMPLE_PER_PARTITION) });
    }
  }
  return ranges;
}

/** The messages of `ranges`, read with small fetches: kafkajs decodes every record a fetch returns. */
async function sample(config: ProcessorConfig, ranges: readonly PartitionRange[]): Promise<SampledMessage[]> {
  const out: SampledMessage[] = [];
  const options = { ...kafkaConnection(config.kafka), groupId: config.kafka.consumer.group_id, purpose: 'sample', timeoutMs: SAMPLE_TIMEOUT_MS, maxBytesPerPartition: SAMPLE_FETCH_BYTES };
  await readRanges(options, ranges, (topic, partition, m) =>
    out.push({ topic, partition, offset: m.offset, key: m.key === null ? null : m.key.toString('utf8'), value: m.value === null ? '' : m.value.toString('utf8') }),
  );
  return out;
}
