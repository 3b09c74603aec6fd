import type { KeyRange, KvBackend, KvOperation, SpacePath } from './kv.js';

/**
 * In-memory backend with LevelDB's observable behaviour: values are copied in
 * and out (callers never share buffers with the store), keys scan in order,
 * and a batch is validated before anything is applied, so it is all-or-nothing.
 */
export class MemoryKv implements KvBackend {
  readonly location = 'memory';
  readonly #spaces = new Map<string, Map<string, Uint8Array>>();

  async get(space: SpacePath, key: string): Promise<Uint8Array | undefined> {
    const value = this.#spaces.get(spaceId(space))?.get(key);
    return value === undefined ? undefined : value.slice();
  }

  async getMany(space: SpacePath, keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return Promise.all(keys.map((key) => this.get(space, key)));
  }

  async keys(space: SpacePath, range: KeyRange = {}): Promise<string[]> {
    const entries = this.#spaces.get(spaceId(space));
    if (entries === undefined) return [];
    return [...entries.keys()]
      .filter((key) => (range.gt === undefined || key > range.gt) && (range.lt === undefined || key < range.lt))
      .sort();
  }

  async batch(operations: readonly KvOperation[]): Promise<void> {
    for (const op of operations) {
      if (op.type === 'put' && !(op.value instanceof Uint8Array)) throw new TypeError(`value of ${op.key} is not a Uint8Array`);
    }
    for (const op of operations) {
      const id = spaceId(op.space);
      if (op.type === 'put') {
        let entries = this.#spaces.get(id);
        if (entries === undefined) this.#spaces.set(id, (entries = new Map()));
        entries.set(op.key, op.value.slice());
      } else {
        this.#spaces.get(id)?.delete(op.key);
      }
    }
  }

  /** Deleted entries are gone from memory already. */
  async reclaim(): Promise<void> {}

  async sizeBytes(): Promise<number> {
    let bytes = 0;
    for (const entries of this.#spaces.values()) for (const [key, value] of entries) bytes += key.length + value.byteLength;
    return bytes;
  }

  async close(): Promise<void> {
    this.#spaces.clear();
  }
}

// Sublevel names cannot contain '!', so joining on it cannot mix two paths up.
const spaceId = (space: SpacePath): string => space.join('!');
