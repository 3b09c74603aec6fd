/**
 * A parse worker of `processor.parallelism` with file or stdin input: splits and parses
 * the chunks of whole lines the pipeline thread sends (`parallel-parse.ts`) and answers
 * each with its compact form (`parsed-batch.ts`), in the order they arrive.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createEventParser } from '../events/index.js';
import { BatchEncoder, transferables } from './parsed-batch.js';
import type { ParseRequest, ParseWorkerStart } from './messages.js';

const port = parentPort;
if (port === null) throw new Error('parse-worker.ts runs in a worker thread (processor.parallelism)');
const { event } = workerData as ParseWorkerStart;
// The pipeline thread's clock, read when it sent the chunk: what `max_future_secs` compares with.
let chunkNow = 0;
const parse = createEventParser({ ...event, now: () => chunkNow });
const encoder = new BatchEncoder(parse, event.keyFields, event.metricFields);

port.on('message', (request: ParseRequest) => {
  chunkNow = request.now;
  const bytes = Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
  const parsed = encoder.encode(request.id, { bytes, start: request.start, final: request.final });
  port.postMessage(parsed, transferables(parsed));
});
