/**
 * Fault suite, poison pills (issue 8, items 4–6): mixed into valid input on several partitions,
 * with a SIGKILL and a restart in between. Each must become one dead letter with its reason
 * (a ~900 KB binary blob and plain invalid JSON: invalid_json; 10,000 levels of nesting:
 * too_deep; timestamps 1e16 and 1e300: future_timestamp; a metric 1e999: invalid_metric);
 * metrics named "__proto__", "constructor" and an emoji are valid and aggregated. The process
 * never exits by itself and comes back after the kill (no crash loop).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  InputGenerator, Job, type Planned, type Sent, T0, checkRun, finish, produce, sleep, writeConfig, cleanUp, outputs, scenario, track,
} from './harness.js';

afterEach(cleanUp);

const poison = (partition: number, value: string | Buffer, reason: string, label: string): Planned => ({ partition, key: `poison-${label}`, value, kind: 'poison', reason, label });

/** Every poison pill once, spread over the partitions (`round` varies where each goes). */
function poisonPills(gen: InputGenerator, round: number): Planned[] {
  const p = (i: number): number => (i + round) % 4;
  const blob = randomBytes(900 * 1024);
  blob[0] = 0x00; // never valid JSON
  for (let i = 1; i < blob.length; i += 97) blob[i] = i % 32; // control bytes throughout
  const deep = `{"timestamp":${T0 - 3_600_000},"model":"p${p(1)}-k0","metrics":{"latency_ms":1},"nested":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
  const infinite = gen.next(p(3)).value.toString().replace(/"latency_ms":[^,}]+/, '"latency_ms":1e999');
  if (!infinite.includes('1e999')) throw new Error('test bug: no latency_ms to replace');
  return [
    poison(p(0), blob, 'invalid_json', 'binary blob'),
    poison(p(1), deep, 'too_deep', '10,000 levels of nesting'),
    poison(p(2), `{"timestamp":1e16,"model":"p${p(2)}-k1","metrics":{"latency_ms":1}}`, 'future_timestamp', 'timestamp 1e16'),
    poison(p(2), `{"timestamp":1e300,"model":"p${p(2)}-k2","metrics":{"latency_ms":1}}`, 'future_timestamp', 'timestamp 1e300'),
    poison(p(3), infinite, 'invalid_metric', 'metric 1e999'),
    poison(p(0), '{"timestamp": 1, "model": ', 'invalid_json', 'invalid JSON'),
  ];
}

/** Valid events, about one in ten with the metrics "__proto__", "constructor" and "🚀". */
function withOddNames(gen: InputGenerator, perPartition: number): Planned[] {
  const out: Planned[] = [];
  for (let i = 0; i < perPartition; i++) {
    for (let p = 0; p < 4; p++) {
      if (gen.random() < 0.1) {
        const extra = Object.create(null) as Record<string, number>;
        extra['__proto__'] = Math.round(gen.random() * 1e5) / 100;
        extra['constructor'] = Math.floor(gen.random() * 100);
        extra['🚀'] = Math.round(gen.random() * 1e4) / 10;
        out.push(gen.next(p, extra));
      } else out.push(gen.next(p));
    }
  }
  return out;
}

describe('fault suite: poison pills', () => {
  it('every pill becomes one dead letter with its reason; the rest is aggregated; no crash loop', async () => {
    const { label, gen, t, dir } = await scenario('poison', inject('kafkaBrokers'));
    const config = writeConfig(dir, 'job', join(dir, 'state'), t);
    const { results, deadLetters } = await outputs(t);
    const sent: Sent[] = [];
    // One record per produce request: the blob must not share a batch (1 MB limit).
    const addPoison = async (round: number): Promise<void> => {
      sent.push(...(await produce(t.brokers, t.input, poisonPills(gen, round), 1)));
    };

    const first = new Job(`${label} run 1`, config);
    track(first);
    await first.waitReady();
    sent.push(...(await produce(t.brokers, t.input, withOddNames(gen, 1_500))));
    await addPoison(0);
    sent.push(...(await produce(t.brokers, t.input, withOddNames(gen, 1_500))));
    await sleep(1_500 + Math.floor(gen.random() * 1_500));
    expect(first.running, `${label}: run 1 exited by itself\n${first.tail()}`).toBe(true);
    expect((await first.stop('SIGKILL')).code).toBe('SIGKILL');

    // The restart replays from the last checkpoint, pills included: it must come back.
    const second = new Job(`${label} run 2`, config);
    track(second);
    await second.waitReady(90_000);
    await addPoison(1);
    sent.push(...(await produce(t.brokers, t.input, withOddNames(gen, 1_500))));
    await finish(t, sent, gen, results, 75_000);
    expect(second.running, `${label}: run 2 exited by itself (crash loop?)\n${second.tail()}`).toBe(true);
    expect(await second.status('/healthz'), `${label}: /healthz of run 2`).toBe(200);
    const stopped = await second.stop('SIGTERM');
    expect(stopped.code, `${label}: exit code after SIGTERM\n${second.tail()}`).toBe(0);

    await results.caughtUp();
    await deadLetters.caughtUp();
    const verdict = checkRun(label, sent, results.values(), deadLetters.values());
    expect(verdict.deadLetters.get('invalid_json')).toBe(4);
  }, 240_000);
});
