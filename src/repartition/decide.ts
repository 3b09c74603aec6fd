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
import type { ProcessorConfig } from '../config/index.js';
import { createKafka } from '../kafka/client.js';
import { kafkaConnection } from '../kafka/settings.js';
import { fetchCommittedOffsets, partitionCounts } from '../kafka/admin.js';
import { readRanges, type PartitionRange } from '../kafka/read-ranges.js';
import { configuredParser } from '../runner/parse-lines.js';

export const SAMPLE_PER_PARTITION = 100;
const SAMPLE_TIMEOUT_MS = 60_000;

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
  const connection = kafkaConnection(config.kafka);
  const { topics, group_id: groupId } = config.kafka.consumer;
  const counts = await partitionCounts(connection, [...topics, repartitionTopic]);
  if (counts.has(repartitionTopic)) return { repartition: true, reason: `${repartitionTopic} exists: an earlier run of group ${groupId} repartitioned` };
  if (await hasCommittedOffsets(config, topics)) return { repartition: false, reason: `group ${groupId} has committed offsets on the input: an earlier run read it directly` };
  const partitions = topics.reduce((sum, t) => sum + (counts.get(t) ?? 0), 0);
  if (partitions <= 1) return { repartition: false, reason: 'the input is one partition: every key is in it' };
  return judgeSample(await sample(config, topics), config);
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

async function hasCommittedOffsets(config: ProcessorConfig, topics: readonly string[]): Promise<boolean> {
  const groupId = config.kafka.consumer.group_id;
  const admin = createKafka({ clientId: `stream-processor-${groupId}`, ...kafkaConnection(config.kafka) }).admin();
  await admin.connect();
  try {
    const offsets = await fetchCommittedOffsets(admin, groupId, topics);
    return offsets.some((t) => t.partitions.some((p) => Number(p.offset) >= 0));
  } finally {
    await admin.disconnect();
  }
}

/** The first `SAMPLE_PER_PARTITION` messages of every partition of `topics`. */
async function sample(config: ProcessorConfig, topics: readonly string[]): Promise<SampledMessage[]> {
  const groupId = config.kafka.consumer.group_id;
  const connection = kafkaConnection(config.kafka);
  const admin = createKafka({ clientId: `stream-processor-${groupId}`, ...connection }).admin();
  await admin.connect();
  const ranges: PartitionRange[] = [];
  try {
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const low = Number(p.low);
        const high = Number(p.high);
        if (high > low) ranges.push({ topic, partition: p.partition, end: Math.min(high, low + SAMPLE_PER_PARTITION) });
      }
    }
  } finally {
    await admin.disconnect();
  }
  const out: SampledMessage[] = [];
  await readRanges({ ...connection, groupId, purpose: 'sample', timeoutMs: SAMPLE_TIMEOUT_MS }, ranges, (topic, partition, m) =>
    out.push({ topic, partition, offset: m.offset, key: m.key === null ? null : m.key.toString('utf8'), value: m.value === null ? '' : m.value.toString('utf8') }),
  );
  return out;
}
