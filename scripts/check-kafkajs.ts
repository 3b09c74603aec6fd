/**
 * Checks that kafkajs (2.2.4) works against the local broker (Apache Kafka 3.9, KRaft):
 * admin, produce with acks -1, consume in a group with manual commits, and transactions
 * (idempotent producer, sendOffsets, commit and abort seen through read_committed).
 *
 *   npm run kafka:up && npx tsx scripts/check-kafkajs.ts [brokers]
 *
 * Prints one line per check and exits non-zero on the first failure.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Consumer, type KafkaMessage } from 'kafkajs';

const brokers = (process.argv[2] ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({ clientId: 'check-kafkajs', brokers, logLevel: logLevel.WARN });
const run = randomUUID().slice(0, 8);
const topic = `check-kafkajs-${run}`;
const txTopic = `check-kafkajs-tx-${run}`;

async function check(name: string, body: () => Promise<string | void>): Promise<void> {
  const started = Date.now();
  const detail = await body();
  console.log(`ok   ${name} (${Date.now() - started} ms)${detail ? `: ${detail}` : ''}`);
}

/** Consumes from the beginning until `count` messages arrived; returns them. */
async function consume(consumer: Consumer, topics: string[], count: number, autoCommit: boolean): Promise<KafkaMessage[]> {
  const seen: KafkaMessage[] = [];
  await consumer.subscribe({ topics, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with ${seen.length}/${count} messages`)), 30_000);
    consumer
      .run({
        autoCommit,
        eachMessage: async ({ message }) => {
          seen.push(message);
          if (seen.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  return seen;
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await check('admin: describe cluster, create topics', async () => {
    const cluster = await admin.describeCluster();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }, { topic: txTopic, numPartitions: 1 }] });
    const versions = await admin.fetchTopicMetadata({ topics: [topic] });
    return `controller ${cluster.controller}, ${cluster.brokers.length} broker(s), ${versions.topics[0]!.partitions.length} partitions`;
  });

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await check('produce 30 messages, acks -1', async () => {
    const records = await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 5}`, value: `v${i}` })),
    });
    return `${records.length} partition(s) acknowledged`;
  });
  await producer.disconnect();

  const groupId = `check-kafkajs-group-${run}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await check('consume in a group, then commit offsets manually', async () => {
    const messages = await consume(consumer, [topic], 30, false);
    const offsets = await admin.fetchTopicOffsets(topic);
    await consumer.commitOffsets(offsets.map((p) => ({ topic, partition: p.partition, offset: p.high })));
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const total = committed[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    if (total !== 30) throw new Error(`committed offsets add up to ${total}, expected 30`);
    return `${messages.length} messages, committed offsets sum ${total}`;
  });
  await consumer.disconnect();

  await check('transactions: commit with sendOffsets, abort invisible to read_committed', async () => {
    const txProducer = kafka.producer({
      transactionalId: `check-kafkajs-tx-${run}`,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await txProducer.connect();
    const committedTx = await txProducer.transaction();
    await committedTx.send({ topic: txTopic, messages: [{ value: 'committed-1' }, { value: 'committed-2' }] });
    await committedTx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: '0' }] }] });
    await committedTx.commit();
    const abortedTx = await txProducer.transaction();
    await abortedTx.send({ topic: txTopic, messages: [{ value: 'aborted' }] });
    await abortedTx.abort();
    const lastTx = await txProducer.transaction();
    await lastTx.send({ topic: txTopic, messages: [{ value: 'committed-3' }] });
    await lastTx.commit();
    await txProducer.disconnect();

    const groupOffsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    const p0 = groupOffsets[0]!.partitions.find((p) => p.partition === 0);
    if (p0?.offset !== '0') throw new Error(`sendOffsets did not commit offset 0 on partition 0 (got ${p0?.offset})`);

    const reader = kafka.consumer({ groupId: `check-kafkajs-reader-${run}`, maxWaitTimeInMs: 500, readUncommitted: false });
    await reader.connect();
    // 3 committed messages; the aborted one and the transaction markers must stay invisible.
    const values = (await consume(reader, [txTopic], 3, true)).map((m) => m.value?.toString());
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // time for a stray aborted message to show up
    await reader.disconnect();
    if (values.join(',') !== 'committed-1,committed-2,committed-3') throw new Error(`read_committed saw ${values.join(',')}`);
    return values.join(', ');
  });

  await admin.deleteTopics({ topics: [topic, txTopic] });
  await admin.disconnect();
}

main().catch((error: unknown) => {
  console.error('FAIL', error);
  process.exit(1);
});
