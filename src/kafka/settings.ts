/**
 * The `kafka` section of the configuration as kafkajs options: one place where the
 * service's clients (consumers, producers, admin, restore readers) get their brokers,
 * client id, TLS and SASL, and its consumers their group settings.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import type { KafkaConfig, KafkaSaslConfig, KafkaTlsConfig } from '../config/types.js';
import type { KafkaConnectionOptions } from './client.js';
import type { KafkaSourceOptions } from './source.js';

/**
 * Brokers, client id, TLS and SASL. Without `client_id` the key is left out, so each
 * client keeps its own role id (`stream-processor-<group>`, `…-sink-<topic>`).
 * TLS files are read here, when a client is built: a rotated certificate is picked up
 * by the next client (a restart), and an unreadable one fails naming the key.
 */
export function kafkaConnection(kafka: KafkaConfig): KafkaConnectionOptions {
  return {
    brokers: kafka.consumer.bootstrap_servers,
    ...(kafka.client_id === undefined ? {} : { clientId: kafka.client_id }),
    ...(kafka.ssl === undefined ? {} : { ssl: tlsOptions(kafka.ssl) }),
    ...(kafka.sasl === undefined ? {} : { sasl: saslOptions(kafka.sasl) }),
  };
}

/** The consumer group settings every consumer of the service shares. */
export function consumerSettings(
  kafka: KafkaConfig,
): Pick<KafkaSourceOptions, 'sessionTimeoutMs' | 'heartbeatIntervalMs' | 'fromBeginning' | 'maxRecordsPerBatch'> {
  return {
    sessionTimeoutMs: kafka.session_timeout_ms,
    heartbeatIntervalMs: kafka.heartbeat_interval_ms,
    fromBeginning: kafka.auto_offset_reset === 'earliest',
    ...(kafka.max_poll_records === undefined ? {} : { maxRecordsPerBatch: kafka.max_poll_records }),
  };
}

export function tlsOptions(tls: KafkaTlsConfig): TlsOptions {
  const read = (key: string, file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`processor.kafka.ssl.${key}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
  };
  return {
    rejectUnauthorized: tls.reject_unauthorized,
    ...(tls.ca_file === undefined ? {} : { ca: [read('ca_file', tls.ca_file)] }),
    ...(tls.cert_file === undefined ? {} : { cert: read('cert_file', tls.cert_file) }),
    ...(tls.key_file === undefined ? {} : { key: read('key_file', tls.key_file) }),
  };
}

export function saslOptions(sasl: KafkaSaslConfig): SASLOptions {
  const { username, password } = sasl;
  return { mechanism: sasl.mechanism, username, password };
}
