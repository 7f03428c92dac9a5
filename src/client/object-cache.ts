/**
 * The indexed local cache behind every Lister (client-go's thread-safe store + indexer, in one class): objects by
 * `namespace/name`, a built-in `namespace` index, and named index functions added before use. Real informers and
 * the test StaticInformer share it, so listers behave the same in unit tests and in the running system.
 */
import { matches, parseLabelSelector, type LabelSelector } from '../api/labels.js';
import type { KubeObject } from '../api/object.js';
import type { Lister } from './types.js';

export type IndexFunc<T> = (obj: T) => string[];

/** The built-in index every cache has: the object's namespace ('' for cluster-scoped objects). */
export const NAMESPACE_INDEX = 'namespace';

/** `namespace/name`, or `name` for cluster-scoped objects: the key queues and caches use. */
export function objectKey(obj: { metadata: { namespace?: string; name?: string } }): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name ?? ''}` : (obj.metadata.name ?? '');
}

export { deepFreeze } from '../api/deep-freeze.js';

const SELECTOR_CACHE_LIMIT = 256;

export class ObjectCache<T extends KubeObject = KubeObject> implements Lister<T> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  /** index name -> indexed value -> keys of the objects indexed under it */
  private readonly indices = new Map<string, Map<string, Set<string>>>();
  /** Controllers list with the same few selectors over and over; parse each once. */
  private readonly selectors = new Map<string, LabelSelector>();

  constructor() {
    this.addIndexer(NAMESPACE_INDEX, (obj) => [obj.metadata.namespace ?? '']);
  }

  /**
   * Adds an index; objects already cached are indexed at once. A name already registered keeps its first function, so
   * controllers sharing an informer may each declare the indexes they use (same name, same meaning).
   */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name)) return;
    this.indexers.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.indices.set(name, index);
    for (const [key, obj] of this.items) addToIndex(index, fn(obj), key);
  }

  get size(): number {
    return this.items.size;
  }

  get(namespace: string, name: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  getByKey(key: string): T | undefined {
    return this.items.get(key);
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  list(namespace = '', labelSelector = ''): T[] {
    const objs = namespace ? this.byIndex(NAMESPACE_INDEX, namespace) : [...this.items.values()];
    if (!labelSelector) return objs;
    const selector = this.selector(labelSelector);
    return objs.filter((o) => matches(selector, o.metadata.labels));
  }

  byIndex(indexName: string, value: string): T[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`ObjectCache: no index named ${JSON.stringify(indexName)}`);
    const keys = index.get(value);
    if (!keys) return [];
    const out: T[] = [];
    for (const key of keys) out.push(this.items.get(key)!);
    return out;
  }

  /** Stores obj under its key; returns the object it replaced, if any. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) addToIndex(this.indices.get(name)!, fn(obj), key);
    return old;
  }

  /** Removes the object with this key; returns it, if it was cached. */
  remove(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      for (const value of fn(obj)) {
        const keys = index.get(value);
        if (!keys) continue;
        keys.delete(key);
        if (keys.size === 0) index.delete(value);
      }
    }
  }

  private selector(s: string): LabelSelector {
    let sel = this.selectors.get(s);
    if (!sel) {
      sel = parseLabelSelector(s);
      if (this.selectors.size >= SELECTOR_CACHE_LIMIT) this.selectors.clear();
      this.selectors.set(s, sel);
    }
    return sel;
  }
}

function addToIndex(index: Map<string, Set<string>>, values: string[], key: string): void {
  for (const value of values) {
    let keys = index.get(value);
    if (!keys) index.set(value, (keys = new Set()));
    keys.add(key);
  }
}
