/**
 * The lower-level key-value API the checkpoint logic runs on. Both backends
 * implement it, so layout, checksums and fallback are written once and behave
 * identically. A space is a sublevel path (LevelDB `sublevel([...])`); its names
 * must already be valid sublevel names (see keys.ts).
 */
export type SpacePath = readonly string[];

export type KvOperation =
  | { readonly type: 'put'; readonly space: SpacePath; readonly key: string; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly space: SpacePath; readonly key: string };

/** Key bounds of a scan; keys compare as strings (the layout keeps them ASCII). */
export interface KeyRange {
  readonly gt?: string;
  readonly lt?: string;
}

export interface KvBackend {
  /** Names the store in messages: its folder, or "memory". */
  readonly location: string;
  get(space: SpacePath, key: string): Promise<Uint8Array | undefined>;
  getMany(space: SpacePath, keys: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  /** Keys of a space in ascending order. */
  keys(space: SpacePath, range?: KeyRange): Promise<string[]>;
  /** Applies every operation or none; a later operation on the same key wins. */
  batch(operations: readonly KvOperation[]): Promise<void>;
  /**
   * Hints that keys `first..last` (inclusive) of a space are deleted, so their
   * disk space can be reclaimed now rather than whenever the engine gets to it.
   */
  reclaim(space: SpacePath, first: string, last: string): Promise<void>;
  /** Bytes the store takes where it keeps its data: its folder's files on disk, or its keys and values in memory. */
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}
