import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  RevisionConflictError,
  StoreError,
} from './store.js';
import type {
  DeleteResult,
  GetResult,
  KeyValue,
  ListOptions,
  ListResult,
  Store,
  Watch,
  WatchEvent,
  WatchOptions,
  WriteResult,
} from './store.js';
import { SortedKeys } from './sorted-keys.js';
import { WatchHub } from './watch-hub.js';
import type { HistoryPage } from './watch-hub.js';

/** One write to a key: its value from `revision` on, or a tombstone (kv undefined) for a deletion. */
interface Version {
  revision: number;
  kv: KeyValue | undefined;
}

/**
 * The reference backend (`memory://`): full MVCC history in memory, nothing survives close().
 *
 * - `versions` holds every retained write per key, ascending, so a read at revision R binary-searches the key's
 *   versions for the last one <= R.
 * - `keys` is the sorted set of every key that has retained versions (live or deleted since the last
 *   compaction), so a prefix list is a binary search plus a forward scan.
 * - `log` holds the events with revision >= compact revision, ascending, for watch replay.
 *
 * Like etcd, an empty store is at revision 1 and the first write gets revision 2.
 */
export class MemoryStore implements Store {
  private rev = 1;
  private compactRev = 0;
  private readonly versions = new Map<string, Version[]>();
  private readonly keys = new SortedKeys();
  private log: WatchEvent[] = [];
  /** Keys that may hold versions compaction can drop (more than one version, or a tombstone). */
  private readonly compactable = new Set<string>();
  private readonly hub: WatchHub;
  private closed = false;

  constructor() {
    this.hub = new WatchHub({ readHistory: (prefix, after, limit) => this.readHistory(prefix, after, limit) });
  }

  async currentRevision(): Promise<number> {
    this.checkOpen();
    return this.rev;
  }

  async compactRevision(): Promise<number> {
    this.checkOpen();
    return this.compactRev;
  }

  async get(key: string, opts?: { revision?: number }): Promise<GetResult> {
    this.checkOpen();
    const revision = this.readRevision(opts?.revision);
    const kv = this.visible(key, revision);
    return { revision, kv: kv && { ...kv } };
  }

  async list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    this.checkOpen();
    const revision = this.readRevision(opts?.revision);
    const limit = opts?.limit ?? 0;
    const from = opts?.startKey !== undefined && opts.startKey > prefix ? opts.startKey : prefix;
    const kvs: KeyValue[] = [];
    let more = false;
    this.keys.scan(from, (key) => {
      if (!key.startsWith(prefix)) return false;
      const kv = this.visible(key, revision);
      if (!kv) return true;
      if (limit > 0 && kvs.length === limit) {
        more = true;
        return false;
      }
      kvs.push({ ...kv });
      return true;
    });
    return { revision, kvs, more };
  }

  async count(prefix: string): Promise<{ revision: number; count: number }> {
    this.checkOpen();
    let count = 0;
    this.keys.scan(prefix, (key) => {
      if (!key.startsWith(prefix)) return false;
      if (this.latest(key)) count++;
      return true;
    });
    return { revision: this.rev, count };
  }

  async create(key: string, value: string): Promise<WriteResult> {
    this.checkOpen();
    if (this.latest(key)) throw new KeyExistsError(key);
    const revision = this.rev + 1;
    const kv: KeyValue = { key, value, createRevision: revision, modRevision: revision };
    this.commit(key, { revision, kv }, { type: 'create', kv, revision });
    return { revision, kv: { ...kv } };
  }

  async update(key: string, value: string, expectedRevision: number): Promise<WriteResult> {
    this.checkOpen();
    const prev = this.latest(key);
    if (!prev) throw new KeyNotFoundError(key);
    if (prev.modRevision !== expectedRevision) throw new RevisionConflictError(key, { ...prev });
    const revision = this.rev + 1;
    const kv: KeyValue = { key, value, createRevision: prev.createRevision, modRevision: revision };
    this.commit(key, { revision, kv }, { type: 'update', kv, prevKv: prev, revision });
    return { revision, kv: { ...kv } };
  }

  async delete(key: string, expectedRevision?: number): Promise<DeleteResult> {
    this.checkOpen();
    const prev = this.latest(key);
    if (!prev) throw new KeyNotFoundError(key);
    if (expectedRevision !== undefined && prev.modRevision !== expectedRevision) {
      throw new RevisionConflictError(key, { ...prev });
    }
    const revision = this.rev + 1;
    const kv: KeyValue = { ...prev, modRevision: revision };
    this.commit(key, { revision, kv: undefined }, { type: 'delete', kv, prevKv: prev, revision });
    return { revision, kv: { ...kv } };
  }

  watch(prefix: string, opts: WatchOptions): Watch {
    this.checkOpen();
    return this.hub.watch(prefix, opts);
  }

  async compact(revision: number): Promise<void> {
    this.checkOpen();
    // etcd refuses a compaction at or below the current compact revision (ErrCompacted) and above the
    // current revision (ErrFutureRev); kube-apiserver's compactor treats the former as "someone else did it".
    if (revision <= this.compactRev) throw new CompactedError(revision, this.compactRev);
    if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
    this.compactRev = revision;

    // Events at the compact revision stay: a watch from afterRevision = compactRev - 1 is still valid.
    let drop = 0;
    while (drop < this.log.length && this.log[drop].revision < revision) drop++;
    if (drop > 0) this.log = this.log.slice(drop);

    let keysRemoved = false;
    for (const key of this.compactable) {
      const versions = this.versions.get(key)!;
      // The last version <= revision is the key's state at the compact revision; older ones are unreachable.
      let keepFrom = 0;
      while (keepFrom + 1 < versions.length && versions[keepFrom + 1].revision <= revision) keepFrom++;
      // A tombstone at or below the compact revision says nothing a missing version doesn't.
      if (versions[keepFrom].revision <= revision && versions[keepFrom].kv === undefined) keepFrom++;
      if (keepFrom > 0) versions.splice(0, keepFrom);
      if (versions.length === 0) {
        this.versions.delete(key);
        this.compactable.delete(key);
        keysRemoved = true;
      } else if (versions.length === 1 && versions[0].kv !== undefined) {
        this.compactable.delete(key);
      }
    }
    if (keysRemoved) this.keys.retain((k) => this.versions.has(k));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.closeAll(new StoreError('store is closed'));
  }

  private commit(key: string, version: Version, event: WatchEvent): void {
    this.rev = version.revision;
    let versions = this.versions.get(key);
    if (!versions) {
      versions = [];
      this.versions.set(key, versions);
      this.keys.insert(key);
    }
    versions.push(version);
    if (versions.length > 1 || version.kv === undefined) this.compactable.add(key);
    this.log.push(event);
    this.hub.publish([event]);
  }

  private latest(key: string): KeyValue | undefined {
    const versions = this.versions.get(key);
    return versions?.[versions.length - 1].kv;
  }

  private visible(key: string, revision: number): KeyValue | undefined {
    const versions = this.versions.get(key);
    if (!versions) return undefined;
    if (revision === this.rev) return versions[versions.length - 1].kv;
    let lo = 0;
    let hi = versions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (versions[mid].revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : versions[lo - 1].kv;
  }

  private readHistory(prefix: string, afterRevision: number, _limit: number): HistoryPage {
    if (this.closed) throw new StoreError('store is closed');
    if (afterRevision + 1 < this.compactRev) throw new CompactedError(afterRevision + 1, this.compactRev);
    // Everything is in memory: one page covers the whole history, read in the same turn as the check above.
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.log[mid].revision <= afterRevision) lo = mid + 1;
      else hi = mid;
    }
    const events: WatchEvent[] = [];
    for (let i = lo; i < this.log.length; i++) {
      if (this.log[i].kv.key.startsWith(prefix)) events.push(this.log[i]);
    }
    return { events, scannedTo: this.rev, done: true };
  }

  /** Resolves a requested read revision (0 or absent = current) or throws as etcd does. */
  private readRevision(revision: number | undefined): number {
    if (revision === undefined || revision === 0) return this.rev;
    if (!Number.isSafeInteger(revision) || revision < 0) throw new StoreError(`invalid revision: ${revision}`);
    if (revision < this.compactRev) throw new CompactedError(revision, this.compactRev);
    if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
    return revision;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('store is closed');
  }
}
