import type { DeadLetterConfig, SinkConfig } from '../config/index.js';
import { fileSink, streamSink, type LineSink } from '../io/index.js';

/** The NDJSON line sink a `sink` or `dead_letter` section names (Kafka sinks are opened elsewhere). */
export function openLineSink(config: SinkConfig | DeadLetterConfig): LineSink {
  switch (config.type) {
    case 'file':
      return fileSink(config.path);
    case 'stdout':
      return streamSink(process.stdout);
    case 'stderr':
      return streamSink(process.stderr);
    case 'kafka':
      throw new Error('a Kafka sink is not a line sink');
  }
}
