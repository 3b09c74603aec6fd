/**
 * What connects the tasks' output to the source's acknowledgements (Kafka Streams'
 * RecordCollector): backpressure through acknowledgements, and the processing latency
 * of each result.
 */
import type { ProcessorMetrics } from '../observability/index.js';
import type { JobOutputs } from './outputs.js';

/** A failed send is the job's to report (it fails the next write); its latency is not observed. */
const ignore = (): void => undefined;

/**
 * Processing latency of each result: from the hand-over of the record that made it (the
 * one that moved the watermark past the window's end) to the broker's acknowledgement.
 */
export function resultLatency(
  metrics: ProcessorMetrics | undefined,
  onLatency: ((ms: number) => void) | undefined,
  handedOverAt: () => number,
): (result: unknown, acknowledged: Promise<void> | undefined) => void {
  return (_result, acknowledged) => {
    const from = handedOverAt();
    const observe = (): void => {
      const ms = performance.now() - from;
      metrics?.processingLatency.observe(ms / 1000);
      onLatency?.(ms);
    };
    if (acknowledged === undefined) observe();
    else acknowledged.then(observe, ignore);
  };
}

/**
 * Acknowledges each record at once while the outputs keep up; once they hold more
 * than `limit` unacknowledged messages, acknowledgements wait for the next flush.
 */
export function releaseWhenFlushed<R>(outputs: Pick<JobOutputs, 'inFlight' | 'flush'>, limit: number, ack: (record: R) => void): (record: R) => void {
  let held: R[] = [];
  let flushing = false;
  return (record) => {
    if (!flushing && outputs.inFlight <= limit) {
      ack(record);
      return;
    }
    held.push(record);
    if (flushing) return;
    flushing = true;
    const release = (): void => {
      flushing = false;
      const batch = held;
      held = [];
      for (const r of batch) ack(r);
    };
    // A failed flush surfaces on the next write; the held records stay unacknowledged.
    outputs.flush().then(release, () => undefined);
  };
}
