/**
 * bench:kafka's bare consumer, in a process of its own so that it runs plain kafkajs: a
 * kafkajs consumer (eachBatch) that parses every message (`JSON.parse`) and drops it, timed
 * from connect to the last message. This project replaces kafkajs's record batch decoder in
 * Node's module cache before kafkajs loads (src/kafka/kafkajs.ts), for every kafkajs consumer
 * of the process; with `--one-pass-decoder` it loads kafkajs that way, as the job does.
 * Usage: tsx bench/bare-consumer.ts <brokers> <topic> <events> [--one-pass-decoder];
 * prints events per second.
 */
import { randomUUID } from 'node:crypto';

const [brokers, topic, count, variant] = process.argv.slice(2);
const events = Number(count);
const { Kafka, logLevel } = variant === '--one-pass-decoder' ? await import('../src/kafka/kafkajs.js') : await import('kafkajs');

const kafka = new Kafka({ clientId: 'bench-kafka', brokers: brokers!.split(','), logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: `bench-kafka-raw-${randomUUID().slice(0, 8)}`, maxWaitTimeInMs: 100 });
const t0 = performance.now();
await consumer.connect();
await consumer.subscribe({ topics: [topic!], fromBeginning: true });
let seen = 0;
let parsedBytes = 0;
const elapsed = await new Promise<number>((resolve, reject) => {
  consumer
    .run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          // Keep the parse observable so it cannot be optimised away.
          parsedBytes += (JSON.parse(message.value!.toString('utf8')) as { model: string }).model.length;
        }
        seen += batch.messages.length;
        if (seen >= events) resolve(performance.now() - t0);
      },
    })
    .catch(reject);
});
await consumer.disconnect();
if (parsedBytes === 0) throw new Error('nothing parsed');
console.log(Math.round(events / (elapsed / 1000)));
