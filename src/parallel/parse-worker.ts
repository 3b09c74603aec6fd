/**
 * A parse worker of `processor.parallelism` with file or stdin input: parses the line
 * batches the pipeline thread sends (`parallel-parse.ts`) and answers each with its
 * compact form (`parsed-batch.ts`). Batches are answered in the order they arrive.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createEventParser } from '../events/index.js';
import { BatchEncoder, transferables } from './parsed-batch.js';
import type { ParseRequest, ParseWorkerStart } from './messages.js';

const port = parentPort;
if (port === null) throw new Error('parse-worker.ts runs in a worker thread (processor.parallelism)');
const { event } = workerData as ParseWorkerStart;
// The pipeline thread's clock, read when it sent the batch: what `max_future_secs` compares with.
let batchNow = 0;
const parse = createEventParser({ ...event, now: () => batchNow });
const encoder = new BatchEncoder(parse, event.keyFields, event.metricFields);

port.on('message', (request: ParseRequest) => {
  batchNow = request.now;
  const parsed = encoder.encode(request.id, request.text.split('\n'));
  port.postMessage(parsed, transferables(parsed));
});
