/**
 * The watch cache: every resource's current objects and recent events, in memory, fed by ONE store watch on
 * `/registry/`. Lists (resourceVersion unset, "0" or NotOlderThan) and watches are served from here, so a
 * thousand watchers cost one store watch and one JSON serialization per event.
 *
 * Because the single store watch sees every revision in order, the cache knows exactly which global revision it
 * reflects (`revision`); a consistent read asks the store for its current revision and waits until the cache
 * has caught up (the "consistent reads from cache" design of KEP-2340).
 */
import type { KubeObject } from '../api/object.js';
import { expired, serviceUnavailable } from '../api/status.js';
import type { Store, Watch, WatchEvent } from '../storage/store.js';
import { CompactedError } from '../storage/store.js';
import { createLogger } from '../log/logger.js';
import { resourcePrefix } from './object-codec.js';

const log = createLogger('watch-cache');

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CachedObject {
  key: string;
  obj: KubeObject;
  /** JSON of obj (resourceVersion included), serialized once. */
  json: string;
  revision: number;
}

export interface CacheEvent {
  type: EventType;
  key: string;
  obj: KubeObject;
  json: string;
  /** The object before this event (MODIFIED and DELETED), for selector transitions. */
  prev?: KubeObject;
  revision: number;
}

/** A stored value as an object and its JSON text, resourceVersion included (object-codec's decodeWithJson). */
export type Decoder = (key: string, value: string, revision: number) => { obj: KubeObject; json: string };

/** Receives events in revision order. Returning false asks the cache to drop this watcher (e.g. a slow client). */
export type EventSink = (events: CacheEvent[]) => boolean;

export interface CacheWatcher {
  stop(): void;
}

/** Events kept per resource for watch resumption; older resumptions fall back to the store's history. */
const DEFAULT_HISTORY = 10_000;

/** Extracts the resource prefix `/registry/<group>/<resource>/` from a key. */
export function resourcePrefixOf(key: string): string | undefined {
  // key = /registry/<group>/<resource>/...
  let slashes = 0;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) === 47 && ++slashes === 4) return key.slice(0, i + 1);
  }
  return undefined;
}

export class ResourceCache {
  readonly items = new Map<string, CachedObject>();
  private sortedItems: CachedObject[] | undefined;
  /** Ring of recent events (oldest first). */
  private history: CacheEvent[] = [];
  private historyStart = 0;
  /** Every event of this resource with revision > historyFloor is in `history`. */
  historyFloor: number;
  private readonly watchers = new Map<EventSink, (() => void) | undefined>();

  constructor(readonly prefix: string, startRevision: number, private readonly historyLimit: number) {
    this.historyFloor = startRevision;
  }

  /**
   * Items sorted by key (the order lists are served in, like etcd). The array is shared and rebuilt only after
   * adds and deletes; modifications replace their entry in place, so status churn does not cost a re-sort.
   * Callers must not mutate it, and must read it synchronously (it changes with the next event).
   */
  sorted(): CachedObject[] {
    if (!this.sortedItems) {
      const keys = [...this.items.keys()].sort();
      this.sortedItems = keys.map((k) => this.items.get(k)!);
    }
    return this.sortedItems;
  }

  apply(ev: CacheEvent): void {
    if (ev.type === 'DELETED') {
      this.items.delete(ev.key);
      this.sortedItems = undefined;
    } else {
      const item: CachedObject = { key: ev.key, obj: ev.obj, json: ev.json, revision: ev.revision };
      const existed = this.items.has(ev.key);
      this.items.set(ev.key, item);
      if (!existed) this.sortedItems = undefined;
      else if (this.sortedItems) {
        this.sortedItems[lowerBoundKey(this.sortedItems, ev.key)] = item;
      }
    }
    this.history.push(ev);
    if (this.history.length - this.historyStart > this.historyLimit) {
      this.historyFloor = this.history[this.historyStart].revision;
      this.historyStart++;
      if (this.historyStart > 4096 && this.historyStart * 2 > this.history.length) {
        this.history = this.history.slice(this.historyStart);
        this.historyStart = 0;
      }
    }
  }

  dispatch(events: CacheEvent[]): void {
    for (const sink of this.watchers.keys()) {
      if (!sink(events)) this.watchers.delete(sink);
    }
  }

  /**
   * Starts over from a fresh list at `revision` (after the store watch failed): the history is gone, so every watcher
   * is told (onReset) and dropped; resumptions from older revisions then go to the store's history.
   */
  resetTo(revision: number): void {
    this.items.clear();
    this.sortedItems = undefined;
    this.history = [];
    this.historyStart = 0;
    this.historyFloor = revision;
    const watchers = [...this.watchers.values()];
    this.watchers.clear();
    for (const onReset of watchers) onReset?.();
  }

  /** Events with revision > after, or undefined when the history no longer reaches back that far. */
  eventsAfter(after: number): CacheEvent[] | undefined {
    if (after < this.historyFloor) return undefined;
    // Binary search the first event with revision > after.
    let lo = this.historyStart;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid].revision <= after) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo);
  }

  /** Delivers later events to sink; onReset is called (and the subscription ends) if the cache has to start over. */
  subscribe(sink: EventSink, onReset?: () => void): CacheWatcher {
    this.watchers.set(sink, onReset);
    return { stop: () => this.watchers.delete(sink) };
  }

  get watcherCount(): number {
    return this.watchers.size;
  }
}

/** Index of the first item whose key is >= key (items sorted by key). */
export function lowerBoundKey(items: CachedObject[], key: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class WatchCache {
  private readonly resources = new Map<string, ResourceCache>();
  /** The global revision the cache reflects: every event up to it has been applied. */
  revision = 0;
  private storeWatch: Watch | undefined;
  private waiters: { revision: number; resolve: () => void }[] = [];
  private failure: Error | undefined;
  private stopped = false;
  private readonly historyLimit: number;

  constructor(
    private readonly store: Store,
    private readonly decode: Decoder,
    opts: { historyLimit?: number } = {},
  ) {
    this.historyLimit = opts.historyLimit ?? DEFAULT_HISTORY;
  }

  /** Loads every object and starts the single store watch. */
  async start(): Promise<void> {
    const { revision, loaded } = await this.loadAll();
    this.install(revision, loaded);
  }

  /** Lists every object under /registry/ at one revision. */
  private async loadAll(): Promise<{ revision: number; loaded: CacheEvent[] }> {
    const page = 5000;
    let startKey: string | undefined;
    let revision = 0;
    const loaded: CacheEvent[] = [];
    for (;;) {
      const res = await this.store.list('/registry/', { revision: revision || undefined, startKey, limit: page });
      revision = res.revision;
      for (const kv of res.kvs) {
        const { obj, json } = this.decode(kv.key, kv.value, kv.modRevision);
        loaded.push({ type: 'ADDED', key: kv.key, obj, json, revision: kv.modRevision });
      }
      if (!res.more || res.kvs.length === 0) break;
      startKey = res.kvs[res.kvs.length - 1].key + '\x00';
    }
    return { revision, loaded };
  }

  /** Makes `loaded` (listed at `revision`) the cache's state and watches the store from there. */
  private install(revision: number, loaded: CacheEvent[]): void {
    // Stopped while listing (a server whose start failed meanwhile): no store watch to leak.
    if (this.stopped) return;
    for (const rc of this.resources.values()) rc.resetTo(revision);
    this.revision = revision;
    for (const ev of loaded) {
      const prefix = resourcePrefixOf(ev.key);
      if (!prefix) continue;
      this.resourceFor(prefix).items.set(ev.key, { key: ev.key, obj: ev.obj, json: ev.json, revision: ev.revision });
    }
    this.failure = undefined;
    this.storeWatch = this.store.watch('/registry/', {
      afterRevision: revision,
      onEvents: (events) => this.onStoreEvents(events),
      onError: (err) => this.onStoreError(err),
    });
    this.resolveWaiters();
  }

  stop(): void {
    this.stopped = true;
    this.storeWatch?.cancel();
    this.storeWatch = undefined;
  }

  /** How many objects each resource prefix holds now (apiserver_storage_objects). */
  *objectCounts(): Iterable<[prefix: string, count: number]> {
    for (const [prefix, rc] of this.resources) yield [prefix, rc.items.size];
  }

  /**
   * The cache of group/plural, without building its prefix: admission and the write path ask several times per
   * request, and hashing a freshly built key string costs more than two lookups of interned ones.
   */
  resourceOf(group: string, plural: string): ResourceCache {
    let byPlural = this.byGroup.get(group);
    if (!byPlural) this.byGroup.set(group, (byPlural = new Map()));
    let rc = byPlural.get(plural);
    if (!rc) byPlural.set(plural, (rc = this.resourceFor(resourcePrefix({ group, plural }))));
    return rc;
  }

  private readonly byGroup = new Map<string, Map<string, ResourceCache>>();

  /** The cache of one resource, e.g. prefix `/registry/apps/deployments/`. */
  resourceFor(prefix: string): ResourceCache {
    let rc = this.resources.get(prefix);
    if (!rc) {
      rc = new ResourceCache(prefix, this.revision, this.historyLimit);
      this.resources.set(prefix, rc);
    }
    return rc;
  }

  /** Resolves once the cache reflects at least `revision` (rejects after timeoutMs, or if the store watch failed). */
  waitForRevision(revision: number, timeoutMs = 3000): Promise<void> {
    if (this.failure) return Promise.reject(serviceUnavailable(`the watch cache is being rebuilt after the datastore watch failed: ${this.failure.message}`));
    if (this.revision >= revision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { revision, resolve: () => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`watch cache did not reach revision ${revision} within ${timeoutMs}ms (at ${this.revision})`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Waits until the cache holds everything the store has committed: a consistent read. */
  async sync(): Promise<number> {
    const rev = await this.store.currentRevision();
    await this.waitForRevision(rev);
    return this.revision;
  }

  private onStoreEvents(events: WatchEvent[]): void {
    const byResource = new Map<ResourceCache, CacheEvent[]>();
    for (const ev of events) {
      const prefix = resourcePrefixOf(ev.kv.key);
      if (prefix) {
        const rc = this.resourceFor(prefix);
        const prev = rc.items.get(ev.kv.key)?.obj;
        let decoded: { obj: KubeObject; json: string };
        try {
          decoded = this.decode(ev.kv.key, ev.kv.value, ev.revision);
        } catch (err) {
          log.error('cannot decode a stored object; skipping it', { key: ev.kv.key, revision: ev.revision, err });
          this.revision = ev.revision;
          continue;
        }
        const type: EventType = ev.type === 'delete' ? 'DELETED' : prev ? 'MODIFIED' : 'ADDED';
        const cev: CacheEvent = { type, key: ev.kv.key, obj: decoded.obj, json: decoded.json, prev, revision: ev.revision };
        rc.apply(cev);
        let list = byResource.get(rc);
        if (!list) byResource.set(rc, (list = []));
        list.push(cev);
      }
      this.revision = ev.revision;
    }
    for (const [rc, list] of byResource) rc.dispatch(list);
    this.resolveWaiters();
  }

  private resolveWaiters(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.revision <= this.revision);
    this.waiters = this.waiters.filter((w) => w.revision > this.revision);
    for (const w of ready) w.resolve();
  }

  private onStoreError(err: Error): void {
    // The single store watch ended (an etcd outage, say): until the cache is rebuilt it cannot promise freshness, so
    // consistent reads wait (and time out) rather than serve stale data; /readyz reports it. Rebuild with backoff.
    log.error('store watch failed; rebuilding from a fresh list', { err });
    this.failure = err;
    this.storeWatch = undefined;
    this.scheduleRecovery(500);
  }

  private scheduleRecovery(delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.loadAll().then(
        ({ revision, loaded }) => {
          if (this.stopped) return;
          this.install(revision, loaded);
          log.info('rebuilt', { revision });
        },
        (e: Error) => {
          log.error('rebuilding failed; retrying', { err: e });
          this.scheduleRecovery(Math.min(delayMs * 2, 30_000));
        },
      );
    }, delayMs);
    timer.unref();
  }

  get failed(): Error | undefined {
    return this.failure;
  }
}

/** Translates a store-level compaction into the 410 the API promises (reason Expired, as the watch cache words it). */
export function tooOldResourceVersion(requested: number, oldest: number) {
  return expired(`too old resource version: ${requested} (${oldest})`);
}

export function isCompacted(err: unknown): err is CompactedError {
  return err instanceof CompactedError;
}
