/**
 * ResourceQuota under concurrency, on the real request path: two API servers share one datastore (as several
 * kube-apiservers share etcd) and 30 pod creates race through both over HTTPS against a quota of pods=7. Exactly 7 are
 * created, every other answer is the exact 403, and status.used matches what the store holds: the per-process
 * serialization cannot order the two servers, so only the compare-and-swap on the quota keeps them from overshooting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openStore } from '../src/storage/open-store.js';
import type { Store } from '../src/storage/store.js';
import { startBareApiServer, type BareApiServer } from './helpers/api-server.js';
import { eventually } from './helpers/eventually.js';

describe('ResourceQuota: concurrent creates through two API servers on one store', () => {
  let store: Store;
  let a: BareApiServer;
  let b: BareApiServer;

  before(async () => {
    store = await openStore('memory://');
    // Quota reads are slowed so that the two servers' checks overlap (both read the same usage before either
    // writes); without the revision check on the quota the later write would overwrite the earlier one.
    const slow = Object.create(store) as Store;
    slow.list = async (prefix, opts) => {
      const res = await store.list(prefix, opts);
      if (prefix.startsWith('/registry/core/resourcequotas/')) await new Promise((r) => setTimeout(r, 20));
      return res;
    };
    a = await startBareApiServer({ store: slow });
    b = await startBareApiServer({ store: slow });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await store?.close();
  });

  test('pods=7: 30 racing creates admit exactly 7 and charge exactly 7', async () => {
    const base = '/api/v1/namespaces/default/resourcequotas';
    const created = await a.send('POST', base, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'pods' }, spec: { hard: { pods: '7' } } });
    assert.equal(created.status, 201, created.text);
    // No controllers run here: set the status the quota controller would.
    const status = await a.send('PUT', `${base}/pods/status`, { ...created.json, status: { hard: { pods: '7' }, used: { pods: '0' } } });
    assert.equal(status.status, 200, status.text);
    // Both servers' watch caches must know the quota (a namespace without one is not checked).
    for (const s of [a, b]) await eventually('the quota in the cache', async () => (await s.send('GET', `${base}/pods`)).json?.status?.hard?.pods === '7');

    const pod = (i: number) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}` }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).send('POST', '/api/v1/namespaces/default/pods', pod(i))));
    const ok = replies.filter((r) => r.status === 201);
    const refused = replies.filter((r) => r.status === 403);
    assert.equal(ok.length, 7, replies.map((r) => `${r.status} ${r.json?.message ?? ''}`).join('\n'));
    assert.equal(refused.length, 23);
    for (const r of refused) {
      assert.equal(r.json.reason, 'Forbidden');
      assert.equal(r.json.message, `pods "${r.json.details.name}" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=7, limited: pods=7`);
    }
    assert.equal((await store.count('/registry/core/pods/default/')).count, 7);
    assert.deepEqual((await a.send('GET', `${base}/pods`)).json.status.used, { pods: '7' });
  });
});
