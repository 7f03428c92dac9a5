/**
 * The Store: a revisioned key-value store with the semantics of etcd v3 (the kine shape).
 *
 * - Every successful write gets a new global revision (strictly increasing by 1 across all keys).
 * - Every call returns the revision it observed, so callers can order reads against writes.
 * - Keys look like `/registry/<group>/<resource>/<namespace>/<name>`; values are opaque strings (JSON text).
 * - History is kept from the compact revision on; asking for anything older throws CompactedError.
 *
 * Backends are chosen by URL (`memory://`, `sqlite:///path/to/db`) with `openStore(url)`.
 * Every backend passes `runStoreConformance` (src/storage/conformance.ts).
 */

export interface KeyValue {
  key: string;
  value: string;
  /** Revision that created this key (since its last deletion). */
  createRevision: number;
  /** Revision of the last write to this key. */
  modRevision: number;
}

export type WatchEventType = 'create' | 'update' | 'delete';

export interface WatchEvent {
  type: WatchEventType;
  /** The key's value after the event; for `delete` the last value, with modRevision = the deletion revision. */
  kv: KeyValue;
  /** The value before the event (absent for `create`). */
  prevKv?: KeyValue;
  /** Revision of this event (equals kv.modRevision). */
  revision: number;
}

export interface ListOptions {
  /** Read as of this revision (0 or absent = current). Older than the compact revision throws CompactedError. */
  revision?: number;
  /** Start from this key (inclusive), for pagination. */
  startKey?: string;
  /** At most this many keys (0 or absent = all). */
  limit?: number;
}

export interface ListResult {
  /** The revision the list was read at. */
  revision: number;
  /** Keys in ascending byte order. */
  kvs: KeyValue[];
  /** True when more keys exist after the last one returned. */
  more: boolean;
}

export interface GetResult {
  revision: number;
  kv?: KeyValue;
}

export interface WriteResult {
  revision: number;
  kv: KeyValue;
}

export interface DeleteResult {
  revision: number;
  /** The deleted value, with modRevision = the deletion revision. */
  kv: KeyValue;
}

export interface WatchOptions {
  /** Deliver every event with revision > afterRevision (replay from history, then live), with no gap and no duplicate. */
  afterRevision: number;
  /** Receives events in revision order, possibly several per call. */
  onEvents(events: WatchEvent[]): void;
  /** Called once if the watch cannot continue (e.g. CompactedError when afterRevision is too old); no more events follow. */
  onError(err: Error): void;
}

export interface Watch {
  /** Stops delivery; idempotent. */
  cancel(): void;
}

export interface Store {
  /** The latest revision. */
  currentRevision(): Promise<number>;

  get(key: string, opts?: { revision?: number }): Promise<GetResult>;

  list(prefix: string, opts?: ListOptions): Promise<ListResult>;

  /** Number of live keys under prefix at the current revision. */
  count(prefix: string): Promise<{ revision: number; count: number }>;

  /** Creates key only if absent; throws KeyExistsError otherwise. Resolves once durable. */
  create(key: string, value: string): Promise<WriteResult>;

  /**
   * Compare-and-swap: writes only if the key's modRevision equals expectedRevision.
   * Throws KeyNotFoundError if the key is absent, RevisionConflictError (carrying the current kv) on mismatch.
   */
  update(key: string, value: string, expectedRevision: number): Promise<WriteResult>;

  /**
   * Deletes key; with expectedRevision, only if it matches (RevisionConflictError otherwise).
   * Throws KeyNotFoundError if absent.
   */
  delete(key: string, expectedRevision?: number): Promise<DeleteResult>;

  /** Watches every key under prefix. See WatchOptions for the contract. */
  watch(prefix: string, opts: WatchOptions): Watch;

  /** Drops history older than revision (keeping the latest value of every live key); gives disk back. */
  compact(revision: number): Promise<void>;

  /** The oldest revision still readable (history before it is compacted away). */
  compactRevision(): Promise<number>;

  close(): Promise<void>;
}

export class StoreError extends Error {}

export class KeyExistsError extends StoreError {
  constructor(readonly key: string) {
    super(`key exists: ${key}`);
    this.name = 'KeyExistsError';
  }
}

export class KeyNotFoundError extends StoreError {
  constructor(readonly key: string) {
    super(`key not found: ${key}`);
    this.name = 'KeyNotFoundError';
  }
}

export class RevisionConflictError extends StoreError {
  constructor(readonly key: string, readonly current: KeyValue) {
    super(`revision conflict on ${key}: current modRevision is ${current.modRevision}`);
    this.name = 'RevisionConflictError';
  }
}

export class CompactedError extends StoreError {
  constructor(readonly requested: number, readonly compactRevision: number) {
    super(`required revision ${requested} has been compacted (compact revision ${compactRevision})`);
    this.name = 'CompactedError';
  }
}

export class FutureRevisionError extends StoreError {
  constructor(readonly requested: number, readonly current: number) {
    super(`required revision ${requested} is a future revision (current ${current})`);
    this.name = 'FutureRevisionError';
  }
}

/**
 * A write refused because the datastore has no space left: SQLite's SQLITE_FULL (the disk or file system is full) or
 * etcd's "mvcc: database space exceeded" (its backend quota, raised as a NOSPACE alarm). Nothing of the write is
 * stored; reads keep working. The API server reports it to clients and marks itself not ready until a write succeeds.
 */
export class StoreFullError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreFullError';
  }
}
