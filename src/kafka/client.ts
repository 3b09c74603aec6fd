/**
 * Shared kafkajs client construction for the source, the sink and the admin helper.
 *
 * The defaults favour failing fast over waiting: a broker that is unreachable at start
 * surfaces as an error within about ten seconds instead of kafkajs's default retry
 * schedule (which, with reconnects, can take minutes).
 */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { logCreator, RetryOptions, SASLOptions } from 'kafkajs';
import { Kafka, logLevel as KafkaLogLevel } from './kafkajs.js';
import { installProduceRequestEncoder } from './produce-encoding/kafkajs-produce-request.js';

export interface KafkaConnectionOptions {
  /** Bootstrap brokers, `host:port` each (a comma-separated string is accepted too). */
  readonly brokers: readonly string[] | string;
  /** Client id the broker logs and quotas see. Default `stream-processor`. */
  readonly clientId?: string;
  /** TCP connect timeout per attempt, ms. Default 1,000. */
  readonly connectionTimeoutMs?: number;
  /** Timeout of one request, ms. Default 30,000 (kafkajs's default). */
  readonly requestTimeoutMs?: number;
  /**
   * kafkajs retry schedule for connecting and retriable request errors.
   * Default `{ retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 }`: about 6 s of retries.
   */
  readonly retry?: RetryOptions;
  /**
   * kafkajs log level. Default `NOTHING`: kafkajs logs retriable errors (a coordinator
   * still loading, a rebalance) at ERROR level, which is noise; real failures reach the
   * caller as errors. Raise it, or pass `logCreator`, to see the client's own log.
   */
  readonly logLevel?: KafkaLogLevel;
  readonly logCreator?: logCreator;
  /** TLS to the brokers: `true` with the system's CAs, or Node's TLS options (ca, cert, key…). */
  readonly ssl?: TlsOptions | boolean;
  /** SASL authentication (PLAIN, SCRAM-SHA-256/512 here; kafkajs accepts more). */
  readonly sasl?: SASLOptions;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 };

export function parseBrokers(brokers: readonly string[] | string): string[] {
  const list = (typeof brokers === 'string' ? brokers.split(',') : [...brokers]).map((b) => b.trim()).filter((b) => b !== '');
  if (list.length === 0) throw new Error('Kafka: no brokers given');
  return list;
}

export function createKafka(options: KafkaConnectionOptions): Kafka {
  // Our producers' Produce requests are encoded in one pass (src/kafka/produce-encoding).
  installProduceRequestEncoder();
  return new Kafka({
    clientId: options.clientId ?? 'stream-processor',
    brokers: parseBrokers(options.brokers),
    connectionTimeout: options.connectionTimeoutMs ?? 1_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    retry: options.retry ?? DEFAULT_RETRY,
    logLevel: options.logLevel ?? KafkaLogLevel.NOTHING,
    ...(options.logCreator === undefined ? {} : { logCreator: options.logCreator }),
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
  });
}

/** Wraps a connection failure so that the message names the brokers and what was connecting. */
export function connectError(what: string, brokers: readonly string[] | string, cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new Error(`${what}: cannot connect to Kafka brokers ${parseBrokers(brokers).join(',')}: ${reason}`, { cause });
}

/**
 * Whether a kafkajs error is worth retrying: kafkajs's own rule for restarting a crashed
 * consumer (retries exhausted on a retriable error, or a retriable root cause). Connection
 * losses and leader moves are; a message too large or an authorisation failure is not.
 */
export function isTransientKafkaError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'KafkaJSNumberOfRetriesExceeded') return true;
  let root: unknown = error;
  for (let depth = 0; depth < 10 && root instanceof Error && root.cause !== undefined; depth++) root = root.cause;
  return (root as { retriable?: unknown }).retriable === true;
}

/** kafkajs errors that it does not call retriable but that only say the brokers are not there (yet). */
const UNAVAILABLE = new Set(['KafkaJSGroupCoordinatorNotFound', 'KafkaJSBrokerNotFound', 'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError']);

/** Whether `error` says the brokers were unreachable (transient, or one of `UNAVAILABLE` anywhere in its causes). */
export function brokersUnavailable(error: unknown): boolean {
  if (isTransientKafkaError(error)) return true;
  for (let e = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) if (UNAVAILABLE.has(e.name)) return true;
  return false;
}
