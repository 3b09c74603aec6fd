/**
 * When none of a kafkajs consumer's partitions can be fetched (all paused: held while their
 * tasks restore, or paused for backpressure), kafkajs 2.2.4 sleeps the consumer's
 * `maxWaitTime` before it builds its fetch again (consumerGroup.js, `sleep(this.maxWaitTime)`),
 * so a partition resumed or released meanwhile waited up to that long (100 ms here) for its
 * first fetch: after every assignment, the tasks' restore took ~15 ms and the first record
 * came ~100 ms after it. That sleep is the only user of kafkajs's `utils/sleep`; this module
 * puts a sleep in its place that `wakeIdleFetchers` ends early. It goes into Node's module
 * cache before kafkajs's consumer loads, as the record batch decoder does (`./kafkajs.ts`).
 */
import { replaceKafkajsModule } from './kafkajs-module-cache.js';

/** kafkajs's sleep, and the module that holds it from its load on. */
export const SLEEP_MODULE = 'kafkajs/src/utils/sleep.js';
export const SLEEP_HOLDER = 'kafkajs/src/consumer/consumerGroup.js';

const sleeping = new Set<() => void>();

/** kafkajs's `sleep(ms)`, which `wakeIdleFetchers` ends early. */
export function idleSleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const wake = (): void => {
      clearTimeout(timer);
      sleeping.delete(wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    sleeping.add(wake);
  });
}

/**
 * Ends the idle sleep of every consumer of this thread: each builds its fetch again at once,
 * and sleeps again if it still has nothing to fetch. Call after resuming partitions.
 */
export function wakeIdleFetchers(): void {
  for (const wake of sleeping) wake();
}

replaceKafkajsModule(SLEEP_MODULE, SLEEP_HOLDER, idleSleep);
