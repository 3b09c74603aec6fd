/**
 * Topic administration: create the processor's topics if they are missing, so that a
 * fresh broker (or one with auto-creation off) works without manual steps.
 */
import type { Admin } from 'kafkajs';
import { connectError, createKafka, isTransientKafkaError, type KafkaConnectionOptions } from './client.js';

/** Runs `use` with a connected admin client, disconnected after; a failed connection names the brokers and `what`. */
export async function withAdmin<T>(connection: KafkaConnectionOptions, what: string, use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = createKafka({ clientId: 'stream-processor-admin', ...connection }).admin();
  try {
    await admin.connect();
  } catch (error) {
    throw connectError(what, connection.brokers, error);
  }
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The group's committed offsets on `topics`. kafkajs's `admin.fetchOffsets` does not retry, and
 * a broker that has just started (or moved the group's coordinator) answers NOT_COORDINATOR or
 * COORDINATOR_LOAD_IN_PROGRESS for a moment: transient errors are retried for about 10 s.
 *
 * The topics' metadata is asked first: a kafkajs admin client learns the brokers from its first
 * Metadata response, and `fetchOffsets` looks for the group's coordinator before it asks for any,
 * so on a new client it finds no broker and sleeps a retry (~270 ms measured, kafkajs's 300 ms
 * first retry) before asking again. Every task assignment and the repartition decision paid that.
 */
export async function fetchCommittedOffsets(admin: Admin, groupId: string, topics: readonly string[]): ReturnType<Admin['fetchOffsets']> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.fetchTopicMetadata({ topics: [...topics] });
      return await admin.fetchOffsets({ groupId, topics: [...topics] });
    } catch (error) {
      if (attempt >= 8 || !isTransientKafkaError(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)));
    }
  }
}

export interface TopicSpec {
  readonly topic: string;
  /** Default 1. */
  readonly numPartitions?: number;
  /** Default -1: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  /** Topic configs, e.g. `{ 'retention.ms': '86400000' }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

export interface EnsureTopicsResult {
  readonly created: readonly string[];
  /** Topics that already existed, with their partition count (which is left unchanged). */
  readonly existing: readonly { readonly topic: string; readonly partitions: number }[];
}

/** Creates each topic of `topics` that does not exist yet and waits for its partition leaders. */
export function ensureTopics(connection: KafkaConnectionOptions, topics: readonly TopicSpec[]): Promise<EnsureTopicsResult> {
  return withAdmin(connection, 'ensureTopics', async (admin) => {
    const present = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !present.has(t.topic));
    if (missing.length > 0) await createAndWaitForLeaders(admin, missing);
    const existingNames = topics.filter((t) => present.has(t.topic)).map((t) => t.topic);
    const metadata = existingNames.length === 0 ? { topics: [] } : await admin.fetchTopicMetadata({ topics: existingNames });
    return {
      created: missing.map((t) => t.topic),
      existing: metadata.topics.map((t) => ({ topic: t.name, partitions: t.partitions.length })),
    };
  });
}

/**
 * Creates `topics` and waits for their partition leaders. kafkajs's `waitForLeaders` waits out
 * LEADER_NOT_AVAILABLE only; a broker that has just started answers the metadata request after
 * the creation with UNKNOWN_TOPIC_OR_PARTITION for a moment (the new topics are not in its
 * metadata yet), which kafkajs throws although the topics were created: the first job on a
 * fresh broker exited 1 this way. Such an answer is waited out here (about 10 s at most).
 * kafkajs's wait sleeps 100 ms once the first metadata answer lacks the leaders (a creation
 * takes ~150 ms); asking every 10 ms instead was tried and dropped: the metadata names a leader
 * before its partition serves requests, and in a CI rehearsal a job's first ListOffsets got
 * NOT_LEADER_FOR_PARTITION and a test's first produce was retried into duplicates.
 */
async function createAndWaitForLeaders(admin: Admin, topics: readonly TopicSpec[]): Promise<void> {
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({
        topic: t.topic,
        numPartitions: t.numPartitions ?? 1,
        replicationFactor: t.replicationFactor ?? -1,
        configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  } catch (error) {
    if ((error as { type?: unknown }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
    const names = topics.map((t) => t.topic);
    for (let attempt = 1; ; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)));
      try {
        const { topics: created } = await admin.fetchTopicMetadata({ topics: names });
        if (created.length === names.length && created.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      } catch (retry) {
        if (!isTransientKafkaError(retry)) throw retry;
      }
      if (attempt >= 8) throw new Error(`created topics ${names.join(', ')}, but their partition leaders did not appear within about 10 s`, { cause: error });
    }
  }
}

/** The partition count of each of `topics` that exists (missing ones are left out). */
export function partitionCounts(connection: KafkaConnectionOptions, topics: readonly string[]): Promise<Map<string, number>> {
  return withAdmin(connection, 'partitionCounts', (admin) => partitionCountsOf(admin, topics));
}

/** `partitionCounts` through an admin client already connected. */
export async function partitionCountsOf(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const present = new Set(await admin.listTopics());
  const wanted = topics.filter((t) => present.has(t));
  const metadata = wanted.length === 0 ? { topics: [] } : await admin.fetchTopicMetadata({ topics: wanted });
  return new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
}
