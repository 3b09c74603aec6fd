/**
 * kafkajs's values, as this project loads them: the linear grouping of a send's messages, the
 * one-pass record batch decoder, the fetched batch's offset filter on numbers and the
 * consumer's wakeable idle sleep go into Node's module cache before kafkajs loads (ES modules
 * evaluate their imports in order), so every module imports kafkajs's values from here (types
 * may come from kafkajs itself).
 */
import './produce-encoding/linear-grouping.js';
import './fetch-decoding/record-batch-decoder.js';
import './fetch-decoding/fetched-batch.js';
import './idle-fetch-wake.js';

export { AssignerProtocol, CompressionTypes, Kafka, logLevel, PartitionAssigners, Partitioners } from 'kafkajs';
