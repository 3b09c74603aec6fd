/**
 * Structured logs (pino), one JSON object per line on stderr by default: stdout
 * belongs to the `stdout` sink, which writes results there so the processor can
 * sit in a shell pipeline (`producer | stream-processor … | consumer`); a log
 * line on stdout would corrupt the results.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/types.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** `processor.log.level` (or `PROCESSOR_LOG_LEVEL`); `silent` logs nothing. */
  readonly level: LogLevel;
  /** Where the JSON lines go; stderr by default. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      // Added to pino's default `pid` and `hostname` (the pod name under Kubernetes).
      name: 'stream-processor',
      // The level as its name rather than pino's number: log collectors (Loki,
      // Elasticsearch, kubectl logs | jq) then need no pino-specific mapping.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Synchronous writes: logs are rare (start, checkpoints, errors), and a log
    // written just before an exit on a fatal error must not be lost in a buffer.
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/** A child logger whose lines carry `component` (e.g. `kafka-source`, `checkpoint`, `http`). */
export const componentLogger = (parent: Logger, component: string): Logger => parent.child({ component });
