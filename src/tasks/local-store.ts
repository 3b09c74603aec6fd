/**
 * The tasks' local copy (Kafka Streams keeps its state stores in RocksDB beside the
 * changelog): per task, one key per window and the task's commit record, in the same
 * encoding as the state topic. A checkpoint applies only what changed, as one atomic
 * batch, so its cost follows the changes, not the state's size, and a restore on the same
 * disk reads the task's keys instead of the whole state topic partition.
 *
 * Layout: space `tasks/<task>`, keys `c` (commit record), `w/<window id, 16 digits>` and
 * `o/<operations record sequence number, 16 digits>`. Keys come back sorted, not in the
 * order written: the replay orders records by their sequence numbers (see changelog.ts).
 */
import type { MetricsAggregator } from '@llm-feedback/stream-operators';
import type { FeedbackEvent } from '../events/index.js';
import type { KvBackend, KvOperation } from '../state/kv.js';
import { ChangelogReplay, changeKey, decodeCommit, type ChangelogMessage, type RestoredTask, type TaskCommit } from './changelog.js';

const COMMIT = 'c';
const space = (task: number): readonly string[] => ['tasks', String(task)];
const localKey = (kind: 'w' | 'o', n: number): string => `${kind}/${String(n).padStart(16, '0')}`;

/** A checkpoint's changes for the local copy: per task, key → value, an empty value deleting the key. */
export type LocalChanges = Record<string, Record<string, Uint8Array>>;

const DELETE = new Uint8Array(0);

/**
 * The state topic messages of one checkpoint as local changes. The checkpoint coordinator
 * carries them as its per-partition state; merging two checkpoints' changes key by key
 * (the newer wins) gives what applying both would.
 */
export function localChanges(messages: readonly ChangelogMessage[]): LocalChanges {
  const out: LocalChanges = {};
  for (const m of messages) {
    const parsed = changeKey(String(m.key));
    if (parsed === undefined) continue;
    const value = m.value === null ? DELETE : typeof m.value === 'string' ? Buffer.from(m.value) : m.value;
    (out[String(parsed.task)] ??= {})[parsed.kind === 'commit' ? COMMIT : localKey(parsed.kind === 'window' ? 'w' : 'o', parsed.n)] = value;
  }
  return out;
}

export class LocalTaskStore {
  constructor(private readonly kv: KvBackend) {}

  get location(): string {
    return this.kv.location;
  }

  /** Applies one checkpoint's changes to every task, atomically. */
  async apply(changes: LocalChanges): Promise<void> {
    const operations: KvOperation[] = [];
    for (const [task, keys] of Object.entries(changes)) {
      const at = space(Number(task));
      for (const [key, value] of Object.entries(keys)) {
        operations.push(value.byteLength === 0 ? { type: 'del', space: at, key } : { type: 'put', space: at, key, value });
      }
    }
    if (operations.length > 0) await this.kv.batch(operations);
  }

  /** Replaces a task's copy with `messages` (its live state topic records: a task restored from elsewhere). */
  async replace(task: number, messages: readonly ChangelogMessage[]): Promise<void> {
    const at = space(task);
    const stale: KvOperation[] = (await this.kv.keys(at)).map((key) => ({ type: 'del', space: at, key }));
    const fresh = localChanges(messages)[String(task)] ?? {};
    await this.kv.batch([...stale, ...Object.entries(fresh).map(([key, value]): KvOperation => ({ type: 'put', space: at, key, value }))]);
  }

  /** The task's last commit record here (where its copy stands), or undefined if it has none. */
  async commit(task: number): Promise<TaskCommit | undefined> {
    const bytes = await this.kv.get(space(task), COMMIT);
    return bytes === undefined ? undefined : decodeCommit(bytes);
  }

  /** The task's state as of its last checkpoint here, or undefined if it has none. */
  async load(task: number, metrics: MetricsAggregator<FeedbackEvent>): Promise<RestoredTask | undefined> {
    const at = space(task);
    const commit = await this.kv.get(at, COMMIT);
    if (commit === undefined) return undefined;
    const keys = (await this.kv.keys(at)).filter((key) => key !== COMMIT);
    const values = await this.kv.getMany(at, keys);
    const replay = new ChangelogReplay();
    keys.forEach((key, i) => replay.add(`${task}/${key}`, values[i] ?? null));
    replay.add(`${task}/${COMMIT}`, commit);
    return replay.restore(metrics).get(task);
  }

  /** What the copy takes on disk (LevelDB's files) or in memory. */
  sizeBytes(): Promise<number> {
    return this.kv.sizeBytes();
  }

  close(): Promise<void> {
    return this.kv.close();
  }
}
