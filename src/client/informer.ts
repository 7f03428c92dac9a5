/**
 * Informers: list+watch of one resource type into an indexed local cache, with event handlers (client-go's
 * reflector + shared informer, in one class).
 *
 * - The initial list is paginated (limit 500) and delivered to handlers as adds; then a watch starts from the
 *   list's resourceVersion with bookmarks, so the resourceVersion keeps advancing even when nothing changes.
 * - When a watch ends (server timeout, connection loss) the informer watches again from the last resourceVersion it
 *   saw; after a failure it waits first (800 ms doubling to 30 s, as client-go's reflector backoff).
 * - A 410 (an ERROR event with code 410, or a 410 answer) means the history is gone: the informer lists again and
 *   delivers only the differences to its cache: adds, updates (resourceVersion changed) and deletes (keys no longer
 *   listed; the delete handler gets the last cached state).
 * - Optional periodic resync calls update(obj, obj) for every cached object, so level-based controllers recheck.
 *
 * Cached objects are shared by every handler and lister caller and must not be mutated (copy first);
 * `freezeObjects: true` deep-freezes them, which tests use to catch mutation. waitForSync() of an informer stopped
 * before its first list never resolves (as client-go's WaitForCacheSync, it is for components that keep running).
 */
import type { KubeObject } from '../api/object.js';
import { isStatusError } from '../api/status.js';
import { deepFreeze, ObjectCache, objectKey } from './object-cache.js';
import { realClock, type Client, type Clock, type EventHandlers, type Informer, type InformerFactory, type InformerSelector, type ResourceType, type WatchEvent } from './types.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('informer');

export interface SharedInformerOptions {
  /** Period of update(obj, obj) calls for every cached object; 0 or absent = never. */
  resyncMs?: number;
  clock?: Clock;
  /** Items per list page (default 500, as client-go's reflector). */
  pageSize?: number;
  /** Deep-freeze cached objects (default false: the cost is a walk of every object). */
  freezeObjects?: boolean;
  /** Where failures are reported (default: a warning of the `informer` logger); each distinct failure is reported once until recovery. */
  log?: (line: string) => void;
}

const BACKOFF_INITIAL_MS = 800;
const BACKOFF_MAX_MS = 30_000;
/** client-go's reflector asks for watch timeouts between 5 and 10 minutes, so streams rotate across servers. */
const MIN_WATCH_TIMEOUT_S = 300;

/** The factory's key for an informer: resource type plus selector. */
export function informerKey(rt: ResourceType, selector: InformerSelector = {}): string {
  return [rt.group, rt.version, rt.resource, selector.namespace ?? '', selector.labelSelector ?? '', selector.fieldSelector ?? ''].join('|');
}

export class SharedInformer<T extends KubeObject = KubeObject> implements Informer<T> {
  readonly lister = new ObjectCache<T>();
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly clock: Clock;
  private readonly pageSize: number;
  private readonly resyncMs: number;
  private readonly freeze: boolean;
  private readonly log: (line: string) => void;
  private readonly what: string;
  private started = false;
  private stopped = false;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private lastRV = '';
  private watcher: { stop(): void } | undefined;
  private retryTimer: { cancel(): void } | undefined;
  private resyncTimer: { cancel(): void } | undefined;
  private backoffMs = BACKOFF_INITIAL_MS;
  private lastReported = '';

  constructor(
    private readonly client: Client,
    private readonly rt: ResourceType,
    private readonly selector: InformerSelector = {},
    opts: SharedInformerOptions = {},
  ) {
    this.clock = opts.clock ?? realClock;
    this.pageSize = opts.pageSize ?? 500;
    this.resyncMs = opts.resyncMs ?? 0;
    this.freeze = opts.freezeObjects ?? false;
    this.log = opts.log ?? ((line) => log.warn(line));
    const sel = [selector.namespace && `namespace=${selector.namespace}`, selector.labelSelector, selector.fieldSelector].filter(Boolean).join(' ');
    this.what = `informer ${rt.group ? `${rt.resource}.${rt.group}` : rt.resource}${sel ? ` (${sel})` : ''}`;
  }

  /** The resourceVersion of the last list, event or bookmark seen ('' before the first list). */
  get lastSyncResourceVersion(): string {
    return this.lastRV;
  }

  /** Handlers added after objects arrived get a synthetic add for each cached object first. */
  addEventHandler(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
    for (const obj of this.lister.list()) this.call(handlers, 'add', obj);
  }

  /** Best called before start; added later, it indexes the objects already cached. A taken name keeps its first function. */
  addIndexer(name: string, fn: (obj: T) => string[]): void {
    this.lister.addIndexer(name, fn);
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    void this.listAndWatch();
    if (this.resyncMs > 0) this.scheduleResync();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.watcher?.stop();
    this.watcher = undefined;
    this.retryTimer?.cancel();
    this.resyncTimer?.cancel();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private async listAndWatch(): Promise<void> {
    let items: T[];
    let rv: string;
    try {
      ({ items, rv } = await this.listAll());
    } catch (err) {
      if (this.stopped) return;
      this.report(`list failed: ${message(err)}`);
      this.retry(() => this.listAndWatch());
      return;
    }
    if (this.stopped) return;
    this.recovered();
    this.replace(items);
    this.lastRV = rv;
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
    this.watch();
  }

  /** Every page of a list, at one resourceVersion (the continue token pins it). */
  private async listAll(): Promise<{ items: T[]; rv: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.client.list<T>(this.rt, this.selector.namespace ?? '', {
        labelSelector: this.selector.labelSelector,
        fieldSelector: this.selector.fieldSelector,
        limit: this.pageSize,
        continue: cont,
      });
      if (this.stopped) return { items, rv };
      for (const item of page.items) items.push(item);
      rv = page.resourceVersion;
      cont = page.continue;
    } while (cont);
    return { items, rv };
  }

  /** Makes the cache equal to a fresh list, telling handlers only what changed. */
  private replace(items: T[]): void {
    const listed = new Set<string>();
    for (const item of items) {
      const obj = this.own(item);
      const key = objectKey(obj);
      listed.add(key);
      const old = this.lister.getByKey(key);
      if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) continue;
      this.lister.upsert(obj);
      this.notify(old, obj);
    }
    for (const key of this.lister.keys()) {
      if (listed.has(key)) continue;
      const gone = this.lister.remove(key)!;
      for (const h of this.handlers) this.call(h, 'delete', gone);
    }
  }

  private watch(): void {
    if (this.stopped) return;
    let relist = false;
    let sawEvent = false;
    const startedAt = this.clock.now().getTime();
    const timeoutSeconds = Math.floor(MIN_WATCH_TIMEOUT_S * (1 + Math.random()));
    const onEvent = (ev: WatchEvent<T>) => {
      if (this.stopped) return;
      sawEvent = true;
      switch (ev.type) {
        case 'ADDED':
        case 'MODIFIED': {
          const obj = this.own(ev.object);
          const old = this.lister.upsert(obj);
          this.lastRV = obj.metadata.resourceVersion ?? this.lastRV;
          this.notify(old, obj);
          break;
        }
        case 'DELETED': {
          const obj = this.own(ev.object);
          this.lister.remove(objectKey(obj));
          this.lastRV = obj.metadata.resourceVersion ?? this.lastRV;
          for (const h of this.handlers) this.call(h, 'delete', obj);
          break;
        }
        case 'BOOKMARK':
          this.lastRV = ev.object.metadata?.resourceVersion ?? this.lastRV;
          break;
        case 'ERROR': {
          const status = ev.object as unknown as { code?: number; message?: string };
          if (status.code === 410) relist = true;
          else this.report(`watch error ${status.code ?? '?'}: ${status.message ?? JSON.stringify(status)}`);
          break;
        }
      }
    };
    const onClose = (err?: Error) => {
      if (this.stopped) return;
      this.watcher = undefined;
      if (relist || (isStatusError(err) && err.code === 410)) {
        // The server no longer has history from our resourceVersion: start over with a list.
        void this.listAndWatch();
      } else if (err) {
        this.report(`watch failed: ${message(err)}`);
        this.retry(() => this.watch());
      } else if (!sawEvent && this.clock.now().getTime() - startedAt < 1000) {
        // Closed within a second with nothing delivered (client-go's "very short watch"): back off rather than spin
        // against a server that keeps ending watches.
        this.retry(() => this.watch());
      } else {
        this.recovered();
        this.watch();
      }
    };
    this.watcher = this.client.watch<T>(
      this.rt,
      this.selector.namespace ?? '',
      {
        resourceVersion: this.lastRV,
        labelSelector: this.selector.labelSelector,
        fieldSelector: this.selector.fieldSelector,
        allowWatchBookmarks: true,
        timeoutSeconds,
      },
      onEvent,
      onClose,
    );
  }

  private retry(fn: () => void | Promise<void>): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) void fn();
    }, delay);
  }

  private recovered(): void {
    this.backoffMs = BACKOFF_INITIAL_MS;
    this.lastReported = '';
  }

  /** Logs a failure once; the same failure again (a retry loop) is not repeated until something succeeds. */
  private report(what: string): void {
    if (what === this.lastReported) return;
    this.lastReported = what;
    this.log(`${this.what}: ${what}`);
  }

  private scheduleResync(): void {
    this.resyncTimer = this.clock.setTimeout(() => {
      if (this.stopped) return;
      if (this.synced) for (const obj of this.lister.list()) for (const h of this.handlers) this.call(h, 'update', obj, obj);
      this.scheduleResync();
    }, this.resyncMs);
  }

  private notify(old: T | undefined, obj: T): void {
    for (const h of this.handlers) {
      if (old) this.call(h, 'update', old, obj);
      else this.call(h, 'add', obj);
    }
  }

  /** A handler that throws must not starve the others or break the informer: report it with the object's key. */
  private call(h: EventHandlers<T>, kind: 'add' | 'update' | 'delete', obj: T, newObj?: T): void {
    try {
      if (kind === 'add') h.add?.(obj);
      else if (kind === 'update') h.update?.(obj, newObj!);
      else h.delete?.(obj);
    } catch (err) {
      this.log(`${this.what}: ${kind} handler failed for ${objectKey(newObj ?? obj)}: ${message(err)}`);
    }
  }

  private own(obj: T): T {
    return this.freeze ? deepFreeze(obj) : obj;
  }
}

/**
 * Hands out one informer per resource type and selector; every controller in the process shares them, so each type
 * is listed and watched once.
 */
export class SharedInformerFactory implements InformerFactory {
  private readonly informers = new Map<string, SharedInformer<KubeObject>>();
  private started = false;
  private stopped = false;

  constructor(
    private readonly client: Client,
    private readonly opts: SharedInformerOptions = {},
  ) {}

  /** Informers asked for after start() are started at once. */
  informerFor<T extends KubeObject = KubeObject>(rt: ResourceType, selector: InformerSelector = {}): SharedInformer<T> {
    const key = informerKey(rt, selector);
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new SharedInformer(this.client, rt, selector, this.opts);
      this.informers.set(key, inf);
      if (this.started && !this.stopped) inf.start();
    }
    return inf as unknown as SharedInformer<T>;
  }

  start(): void {
    if (this.stopped) return;
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
  }

  stop(): void {
    this.stopped = true;
    for (const inf of this.informers.values()) inf.stop();
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
