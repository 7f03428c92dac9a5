/**
 * ResourceOps.update starts from the watch cache's copy (no store read) and must behave exactly as a store read
 * would when that copy is behind the store: no lost write, no false 409, a deleted object is 404.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../api/object.js';
import { isStatusError } from '../api/status.js';
import { openStore } from '../storage/open-store.js';
import type { Store, WatchEvent, WatchOptions } from '../storage/store.js';
import { decodeWithJson, encodeForStore, objectKey } from './object-codec.js';
import { resources } from './registry/index.js';
import { ResourceOps } from './resource-ops.js';
import { WatchCache } from './watch-cache.js';

/** A store whose watch deliveries can be held back, so the watch cache falls behind the store on demand. */
function holdableWatch(store: Store): { store: Store; hold(): void; release(): void } {
  let held = false;
  const waiting: (() => void)[] = [];
  const watch = (prefix: string, opts: WatchOptions) =>
    store.watch(prefix, {
      ...opts,
      onEvents: (events: WatchEvent[]) => {
        if (held) waiting.push(() => opts.onEvents(events));
        else opts.onEvents(events);
      },
    });
  const wrapped = new Proxy(store, {
    get: (target, prop) => {
      if (prop === 'watch') return watch;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store: wrapped,
    hold: () => (held = true),
    release: () => {
      held = false;
      for (const deliver of waiting.splice(0)) deliver();
    },
  };
}

describe('update from the watch cache', () => {
  let store: Store;
  let cache: WatchCache;
  let ops: ResourceOps;
  let feed: ReturnType<typeof holdableWatch>;
  const def = resources.find((r) => r.plural === 'configmaps' && r.group === '')!;
  const opts = { dryRun: false };

  before(async () => {
    store = await openStore('memory://');
    feed = holdableWatch(store);
    cache = new WatchCache(feed.store, decodeWithJson);
    await cache.start();
    ops = new ResourceOps(feed.store, cache);
  });
  after(async () => {
    feed.release();
    cache.stop();
    await store.close();
  });

  async function make(name: string): Promise<KubeObject> {
    const made = await ops.create(def, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: {} }, opts);
    await cache.sync();
    assert.ok(cache.resourceOf('', 'configmaps').items.has(objectKey(def, 'default', name)), 'the cache holds the object before it is held back');
    return made;
  }
  const addKey = (k: string) => (obj: KubeObject) => ({ ...obj, data: { ...(obj.data as object), [k]: 'x' } });

  test('a cache behind the store loses no write: the compare-and-swap fails and the update retries from the store', async () => {
    await make('a');
    feed.hold();
    try {
      await ops.update(def, 'default', 'a', addKey('one'), opts);
      await ops.update(def, 'default', 'a', addKey('two'), opts);
      const third = await ops.update(def, 'default', 'a', addKey('three'), opts);
      assert.deepEqual(Object.keys(third.data as object).sort(), ['one', 'three', 'two']);
      const stored = await store.get(objectKey(def, 'default', 'a'));
      assert.equal(String(stored.kv!.modRevision), third.metadata.resourceVersion);
    } finally {
      feed.release();
    }
  });

  test('a precondition on a resourceVersion newer than the cached copy is checked against the store, not refused', async () => {
    await make('b');
    feed.hold();
    try {
      const first = await ops.update(def, 'default', 'b', addKey('one'), opts);
      const second = await ops.update(def, 'default', 'b', (obj) => ({ ...addKey('two')(obj), metadata: { ...obj.metadata, resourceVersion: first.metadata.resourceVersion } }), opts);
      assert.deepEqual(Object.keys(second.data as object).sort(), ['one', 'two']);
      // A really stale precondition is still a conflict.
      await assert.rejects(
        ops.update(def, 'default', 'b', (obj) => ({ ...obj, metadata: { ...obj.metadata, resourceVersion: first.metadata.resourceVersion } }), opts),
        (err: unknown) => isStatusError(err) && err.code === 409,
      );
    } finally {
      feed.release();
    }
  });

  test('an object deleted behind the cache is 404', async () => {
    await make('c');
    feed.hold();
    try {
      await store.delete(objectKey(def, 'default', 'c'));
      await assert.rejects(ops.update(def, 'default', 'c', addKey('one'), opts), (err: unknown) => isStatusError(err) && err.code === 404);
    } finally {
      feed.release();
    }
  });

  test('an update that changes nothing writes nothing', async () => {
    const made = await make('d');
    const before = await store.currentRevision();
    const same = await ops.update(def, 'default', 'd', (obj) => obj, opts);
    assert.equal(same.metadata.resourceVersion, made.metadata.resourceVersion);
    assert.equal(await store.currentRevision(), before);
    // Stored text in another key order (an older release) is compared by content, and still is a no-op.
    const key = objectKey(def, 'default', 'd');
    const got = await store.get(key);
    const reordered = JSON.stringify({ data: {}, metadata: JSON.parse(got.kv!.value).metadata, kind: 'ConfigMap', apiVersion: 'v1' });
    await store.update(key, reordered, got.kv!.modRevision);
    const rev = await store.currentRevision();
    await ops.update(def, 'default', 'd', (obj) => obj, opts);
    assert.equal(await store.currentRevision(), rev + 1, 'rewritten once in the stored order');
    await ops.update(def, 'default', 'd', (obj) => obj, opts);
    assert.equal(await store.currentRevision(), rev + 1);
    assert.equal((await store.get(key)).kv!.value, encodeForStore(JSON.parse(reordered)));
  });
});
