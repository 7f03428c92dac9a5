import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../storage/memory-store.js';
import { decodeWithJson } from './object-codec.js';
import { resourcePrefixOf, WatchCache, type CacheEvent } from './watch-cache.js';

const cm = (name: string, v: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v } });
const key = (name: string) => `/registry/core/configmaps/default/${name}`;

describe('WatchCache', () => {
  it('maps keys to resource prefixes', () => {
    assert.equal(resourcePrefixOf('/registry/apps/deployments/ns/x'), '/registry/apps/deployments/');
    assert.equal(resourcePrefixOf('/registry/core/nodes/n1'), '/registry/core/nodes/');
    assert.equal(resourcePrefixOf('/registry/x'), undefined);
  });

  it('loads existing objects, then follows writes in key order with resourceVersions', async () => {
    const store = new MemoryStore();
    await store.create(key('b'), cm('b', '1'));
    const cache = new WatchCache(store, decodeWithJson);
    await cache.start();
    const rc = cache.resourceFor('/registry/core/configmaps/');
    assert.deepEqual(rc.sorted().map((i) => i.obj.metadata.name), ['b']);
    await store.create(key('a'), cm('a', '1'));
    const c = await store.create(key('c'), cm('c', '1'));
    const got = await store.get(key('b'));
    await store.update(key('b'), cm('b', '2'), got.kv!.modRevision);
    await cache.sync();
    const sorted = rc.sorted();
    assert.deepEqual(sorted.map((i) => i.obj.metadata.name), ['a', 'b', 'c']);
    assert.equal((sorted[1].obj.data as { v: string }).v, '2', 'a modification replaces its entry in the sorted view');
    assert.equal(sorted[2].obj.metadata.resourceVersion, String(c.revision));
    assert.equal(JSON.parse(sorted[2].json).metadata.resourceVersion, String(c.revision));
    await store.delete(key('a'));
    await cache.sync();
    assert.deepEqual(rc.sorted().map((i) => i.obj.metadata.name), ['b', 'c']);
    cache.stop();
    await store.close();
  });

  it('replays events after a revision and reports when its history no longer reaches back', async () => {
    const store = new MemoryStore();
    const cache = new WatchCache(store, decodeWithJson, { historyLimit: 3 });
    await cache.start();
    const start = cache.revision;
    const revs: number[] = [];
    for (const n of ['a', 'b', 'c', 'd', 'e']) revs.push((await store.create(key(n), cm(n, '1'))).revision);
    await cache.sync();
    const rc = cache.resourceFor('/registry/core/configmaps/');
    assert.equal(rc.eventsAfter(start), undefined, 'history holds only the last 3 events');
    const tail = rc.eventsAfter(revs[2])!;
    assert.deepEqual(tail.map((e) => e.obj.metadata.name), ['d', 'e']);
    assert.deepEqual(rc.eventsAfter(revs[4]), []);
    cache.stop();
    await store.close();
  });

  it('dispatches MODIFIED with the previous object, and drops a sink that returns false', async () => {
    const store = new MemoryStore();
    const cache = new WatchCache(store, decodeWithJson);
    await cache.start();
    const rc = cache.resourceFor('/registry/core/configmaps/');
    const seen: CacheEvent[] = [];
    let calls = 0;
    rc.subscribe((evs) => {
      seen.push(...evs);
      return true;
    });
    rc.subscribe(() => {
      calls++;
      return false;
    });
    const created = await store.create(key('x'), cm('x', '1'));
    await store.update(key('x'), cm('x', '2'), created.revision);
    await store.delete(key('x'));
    await cache.sync();
    assert.deepEqual(seen.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
    assert.equal((seen[1].prev?.data as { v: string }).v, '1');
    assert.equal(calls, 1);
    assert.equal(rc.watcherCount, 1);
    cache.stop();
    await store.close();
  });

  it('waitForRevision rejects when the revision never arrives', async () => {
    const store = new MemoryStore();
    const cache = new WatchCache(store, decodeWithJson);
    await cache.start();
    await assert.rejects(cache.waitForRevision(cache.revision + 100, 50), /did not reach revision/);
    cache.stop();
    await store.close();
  });

  it('rebuilds itself when the store watch fails: watchers are reset, reads wait, then fresh data flows', async () => {
    const store = new MemoryStore();
    let failWatch: ((err: Error) => void) | undefined;
    const watchOnce = store.watch.bind(store);
    // The store's watch fails on demand (an etcd outage); later watches behave.
    store.watch = (prefix, opts) => {
      const w = watchOnce(prefix, opts);
      failWatch = (err) => {
        w.cancel();
        opts.onError(err);
      };
      return w;
    };
    await store.create(key('a'), cm('a', '1'));
    const cache = new WatchCache(store, decodeWithJson);
    await cache.start();
    const rc = cache.resourceFor('/registry/core/configmaps/');
    let reset = 0;
    rc.subscribe(() => true, () => reset++);
    failWatch!(new Error('etcd unavailable'));
    assert.ok(cache.failed);
    await assert.rejects(cache.sync(), (err: { code?: number }) => err.code === 503);
    // Written while the cache is down: the rebuild must pick it up.
    await store.create(key('b'), cm('b', '1'));
    await eventuallyTrue(() => !cache.failed);
    assert.equal(reset, 1, 'the watcher was told to start over');
    await cache.sync();
    assert.deepEqual(rc.sorted().map((i) => i.obj.metadata.name), ['a', 'b']);
    await store.create(key('c'), cm('c', '1'));
    await cache.sync();
    assert.deepEqual(rc.sorted().map((i) => i.obj.metadata.name), ['a', 'b', 'c']);
    cache.stop();
    await store.close();
  });
});

async function eventuallyTrue(fn: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}
