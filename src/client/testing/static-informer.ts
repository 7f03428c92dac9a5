/**
 * An Informer whose cache tests fill by hand (the fixture style of client-go controller tests: seed the listers,
 * reconcile once, assert the client's actions). add/update/delete change the cache and call the handlers at once,
 * synchronously, so a test controls exactly which events a controller sees. It always reports synced.
 *
 * Objects are copied and deep-frozen when they enter the cache (unless `freeze: false`), so a controller that
 * mutates a cached object instead of copying it throws a TypeError in its tests.
 */
import type { KubeObject } from '../../api/object.js';
import { deepFreeze, ObjectCache, objectKey } from '../object-cache.js';
import type { EventHandlers, Informer } from '../types.js';

export interface StaticInformerOptions {
  /** Deep-freeze cached objects (default true). */
  freeze?: boolean;
}

export class StaticInformer<T extends KubeObject = KubeObject> implements Informer<T> {
  readonly lister = new ObjectCache<T>();
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly freeze: boolean;
  private running = false;

  constructor(opts: StaticInformerOptions = {}) {
    this.freeze = opts.freeze ?? true;
  }

  /** Handlers added after objects were seeded get a synthetic add for each, as with a real informer. */
  addEventHandler(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
    for (const obj of this.lister.list()) handlers.add?.(obj);
  }

  addIndexer(name: string, fn: (obj: T) => string[]): void {
    this.lister.addIndexer(name, fn);
  }

  start(): void {
    this.running = true;
  }

  stop(): void {
    this.running = false;
  }

  get started(): boolean {
    return this.running;
  }

  hasSynced(): boolean {
    return true;
  }

  async waitForSync(): Promise<void> {}

  /** Caches obj (a frozen copy) and calls add handlers; an object already cached under its key is an update instead. */
  add(obj: T): T {
    return this.put(obj);
  }

  /** Replaces the cached object and calls update handlers with (old, new); an object not yet cached is an add. */
  update(obj: T): T {
    return this.put(obj);
  }

  /**
   * Removes the object (given as an object or a `namespace/name` key) and calls delete handlers with the last cached
   * state; an object that was not cached is passed to the handlers as given (a deletion the cache never saw).
   */
  delete(objOrKey: T | string): void {
    const k = typeof objOrKey === 'string' ? objOrKey : objectKey(objOrKey);
    const old = this.lister.remove(k);
    const last = old ?? (typeof objOrKey === 'string' ? undefined : this.stored(objOrKey));
    if (!last) return;
    for (const h of this.handlers) h.delete?.(last);
  }

  private put(obj: T): T {
    const stored = this.stored(obj);
    const old = this.lister.upsert(stored);
    for (const h of this.handlers) {
      if (old) h.update?.(old, stored);
      else h.add?.(stored);
    }
    return stored;
  }

  private stored(obj: T): T {
    const copy = structuredClone(obj);
    return this.freeze ? deepFreeze(copy) : copy;
  }
}
