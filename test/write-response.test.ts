/**
 * The answer to a write is the object as stored, byte for byte what a GET of it returns at once (the server may hand
 * out the watch cache's JSON of the new revision instead of serializing the object again: this holds it to that).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStore } from '../src/storage/open-store.js';
import type { Store } from '../src/storage/store.js';
import { startBareApiServer, type BareApiServer } from './helpers/api-server.js';

for (const backend of ['sqlite', 'memory'] as const) {
  describe(`write answers are the stored object (${backend} store)`, () => {
    let server: BareApiServer;
    let store: Store;
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'skiff-write-response-'));
      store = await openStore(backend === 'sqlite' ? `sqlite://${join(dir, 'state.db')}` : 'memory://');
      server = await startBareApiServer({ store });
    });
    after(async () => {
      await server.stop();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    const same = async (path: string, write: { status: number; text: string }) => {
      const got = await server.send('GET', path);
      assert.equal(got.status, 200, got.text);
      assert.equal(write.text, got.text, 'the write answered with what a GET returns');
    };

    test('create, update, merge patch, status and apply of a ConfigMap and a Pod', async () => {
      const cmPath = '/api/v1/namespaces/default/configmaps/answer';
      // Integer-like keys and unicode: JSON key order and escaping must survive the round trip.
      const created = await server.send('POST', '/api/v1/namespaces/default/configmaps?fieldManager=t', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'answer', labels: { b: '2', a: '1' } }, data: { z: 'x', '10': 'ten', '2': 'two', u: '\u00e9\u2028' } });
      assert.equal(created.status, 201, created.text);
      await same(cmPath, created);
      const updated = await server.send('PUT', cmPath, { ...created.json, data: { y: 'new' } });
      assert.equal(updated.status, 200, updated.text);
      assert.notEqual(updated.json.metadata.resourceVersion, created.json.metadata.resourceVersion);
      await same(cmPath, updated);
      const patched = await server.send('PATCH', cmPath, { data: { w: 'patched' } }, { contentType: 'application/merge-patch+json' });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.json.data.w, 'patched');
      await same(cmPath, patched);
      const applied = await server.send('PATCH', `${cmPath}?fieldManager=applier`, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'answer' }, data: { v: 'applied' } }), { contentType: 'application/apply-patch+yaml' });
      assert.equal(applied.status, 200, applied.text);
      await same(cmPath, applied);

      const podPath = '/api/v1/namespaces/default/pods/answer';
      const pod = await server.send('POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'answer' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
      assert.equal(pod.status, 201, pod.text);
      await same(podPath, pod);
      const status = await server.send('PATCH', `${podPath}/status`, { status: { phase: 'Running' } }, { contentType: 'application/merge-patch+json' });
      assert.equal(status.status, 200, status.text);
      assert.equal(status.json.status.phase, 'Running');
      await same(podPath, status);
    });
  });
}
