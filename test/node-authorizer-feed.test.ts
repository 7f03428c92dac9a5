/**
 * The Node authorizer's graph kept from a real watch cache over a real store: objects stored before the cache starts
 * are in the graph once it has loaded, later writes and deletions follow, and Ingress TLS edges follow IngressClasses.
 *   node --import tsx --test test/node-authorizer-feed.test.ts
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { feedNodeGraph } from '../src/apiserver/auth/node/graph-feeder.js';
import { decodeWithJson } from '../src/apiserver/object-codec.js';
import { WatchCache } from '../src/apiserver/watch-cache.js';
import { MemoryStore } from '../src/storage/memory-store.js';

const podKey = (name: string) => `/registry/core/pods/app/${name}`;
const pod = (name: string, nodeName: string, secret: string) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'app' }, spec: { nodeName, containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 's', secret: { secretName: secret } }] } });

test('the graph follows the watch cache: loaded objects, then writes and deletions', async () => {
  const store = new MemoryStore();
  await store.create(podKey('before'), pod('before', 'n1', 'early'));
  const cache = new WatchCache(store, decodeWithJson);
  // Fed before the cache starts, as startApiServer does: the first load arrives as a start-over.
  const fed = feedNodeGraph(cache);
  try {
    await cache.start();
    await Promise.resolve();
    assert.equal(fed.graph.reaches('n1', 'secret', 'app', 'early'), true, 'loaded at start');
    assert.equal(fed.graph.reaches('n2', 'secret', 'app', 'early'), false);

    const created = await store.create(podKey('later'), pod('later', 'n2', 'late'));
    await cache.sync();
    assert.equal(fed.graph.reaches('n2', 'secret', 'app', 'late'), true, 'a created pod');
    await store.update(podKey('later'), pod('later', 'n2', 'other'), created.revision);
    await cache.sync();
    assert.equal(fed.graph.reaches('n2', 'secret', 'app', 'late'), false, 'an updated pod drops its old reference');
    assert.equal(fed.graph.reaches('n2', 'secret', 'app', 'other'), true);
    await store.delete(podKey('before'));
    await cache.sync();
    assert.equal(fed.graph.reaches('n1', 'secret', 'app', 'early'), false, 'a deleted pod');

    await store.create('/registry/networking.k8s.io/ingresses/web/site', JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'site', namespace: 'web' }, spec: { ingressClassName: 'skiff', tls: [{ secretName: 'site-tls' }] } }));
    await cache.sync();
    assert.equal(fed.graph.reaches('n1', 'secret', 'web', 'site-tls'), false, 'no IngressClass skiff yet');
    await store.create('/registry/networking.k8s.io/ingressclasses/skiff', JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'skiff' }, spec: { controller: 'skiff.dev/ingress' } }));
    await cache.sync();
    assert.equal(fed.graph.reaches('n1', 'secret', 'web', 'site-tls'), true, 'served by skiff: every node');

    fed.stop();
    await store.create(podKey('after-stop'), pod('after-stop', 'n3', 'x'));
    await cache.sync();
    assert.equal(fed.graph.reaches('n3', 'secret', 'app', 'x'), false, 'a stopped feed follows nothing');
  } finally {
    fed.stop();
    cache.stop();
    await store.close();
  }
});
