/** End-to-end with the official JavaScript client (@kubernetes/client-node 1.4.0; 2.x needs Node 22). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startTestServer, type TestServer } from './helpers/test-server.js';

describe('@kubernetes/client-node', () => {
  let s: TestServer;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  before(async () => {
    s = await startTestServer();
    kc = new k8s.KubeConfig();
    kc.loadFromFile(s.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
  });
  after(async () => {
    await s?.stop();
  });

  it('lists, creates and patches', async () => {
    const ns = await core.listNamespace();
    assert.ok(ns.items.some((n) => n.metadata?.name === 'kube-system'));
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'js1' }, data: { a: '1' } } });
    assert.equal(created.metadata?.name, 'js1');
    assert.ok(created.metadata?.resourceVersion);
    const patched = await core.patchNamespacedConfigMap(
      { name: 'js1', namespace: 'default', body: [{ op: 'replace', path: '/data/a', value: '2' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    assert.equal(patched.data?.a, '2');
    const merged = await core.patchNamespacedConfigMap(
      { name: 'js1', namespace: 'default', body: { data: { b: '3' } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    assert.deepEqual(merged.data, { a: '2', b: '3' });
    await assert.rejects(core.readNamespacedConfigMap({ name: 'nope', namespace: 'default' }), (err: any) => err.code === 404);
  });

  it('watches', async () => {
    const watch = new k8s.Watch(kc);
    const seen: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const req = await watch.watch(
      '/api/v1/namespaces/default/configmaps',
      { allowWatchBookmarks: true, fieldSelector: 'metadata.name=js-watch' },
      (type, obj) => {
        seen.push(`${type}:${obj.metadata?.name}`);
        if (type === 'DELETED') done();
      },
      () => {},
    );
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'js-watch' } } });
    await core.deleteNamespacedConfigMap({ name: 'js-watch', namespace: 'default' });
    await Promise.race([finished, new Promise((_, rej) => setTimeout(() => rej(new Error(`timeout; saw ${seen}`)), 5000))]);
    req.abort();
    assert.deepEqual(seen, ['ADDED:js-watch', 'DELETED:js-watch']);
  });

  it('runs an informer that sees ADDED, MODIFIED and DELETED', async () => {
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/configmaps', () => core.listNamespacedConfigMap({ namespace: 'default' }));
    const events: string[] = [];
    const wait = (pred: () => boolean) =>
      new Promise<void>((resolve, reject) => {
        const t = setInterval(() => {
          if (pred()) {
            clearInterval(t);
            clearTimeout(to);
            resolve();
          }
        }, 20);
        const to = setTimeout(() => {
          clearInterval(t);
          reject(new Error(`timeout; events ${events}`));
        }, 5000);
      });
    informer.on('add', (o) => events.push(`add:${o.metadata?.name}`));
    informer.on('update', (o) => events.push(`update:${o.metadata?.name}`));
    informer.on('delete', (o) => events.push(`delete:${o.metadata?.name}`));
    await informer.start();
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'inf1' }, data: { v: '1' } } });
    await wait(() => events.includes('add:inf1'));
    await core.replaceNamespacedConfigMap({ name: 'inf1', namespace: 'default', body: { metadata: { name: 'inf1' }, data: { v: '2' } } });
    await wait(() => events.includes('update:inf1'));
    await core.deleteNamespacedConfigMap({ name: 'inf1', namespace: 'default' });
    await wait(() => events.includes('delete:inf1'));
    assert.equal(informer.get('inf1', 'default'), undefined);
    await informer.stop();
  });
});
