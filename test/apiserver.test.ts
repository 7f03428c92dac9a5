/** API integration tests: a real skiff API server on 127.0.0.1:0 (SQLite store in a temp dir), real HTTPS. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
const AGG = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';

function cm(name: string, data: Record<string, string> = { a: '1' }, labels?: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(labels ? { labels } : {}) }, data };
}

function deployment(name: string, image = 'nginx:1.25') {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image, env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] } },
    },
  };
}

describe('API server', () => {
  let s: TestServer;
  before(async () => {
    // API semantics only: no controller may act on the objects these tests create.
    s = await startTestServer({ controlPlane: false });
  });
  after(async () => {
    await s?.stop();
  });

  describe('health, version, auth', () => {
    it('reports a Kubernetes 1.32 version', async () => {
      const r = await s.request('GET', '/version');
      assert.equal(r.status, 200);
      assert.equal(r.json.major, '1');
      assert.equal(r.json.minor, '32');
      assert.match(r.json.gitVersion, /^v1\.32\.\d+\+skiff$/);
    });
    it('answers /healthz /livez /readyz with ok, and verbose checks', async () => {
      for (const p of ['/healthz', '/livez', '/readyz']) {
        const r = await s.request('GET', p);
        assert.equal(r.status, 200, p);
        assert.equal(r.text, 'ok');
      }
      const v = await s.request('GET', '/readyz?verbose');
      assert.match(v.text, /\[\+\]watch-cache-ready ok/);
    });
    it('serves each check on its own path (/readyz/etcd), 404 for a check that does not exist', async () => {
      for (const p of ['/readyz/etcd', '/readyz/watch-cache-ready', '/livez/ping', '/healthz/etcd']) {
        const r = await s.request('GET', p);
        assert.equal(r.status, 200, p);
        assert.equal(r.text, 'ok', p);
      }
      assert.equal((await s.request('GET', '/readyz/nonexistent')).status, 404);
      assert.equal((await s.anonymous('GET', '/readyz/etcd')).status, 200, 'health checks answer without credentials');
    });
    it('rejects anonymous API requests with 401 Unauthorized', async () => {
      const r = await s.anonymous('GET', '/api/v1/namespaces');
      assert.equal(r.status, 401);
      assert.equal(r.json.kind, 'Status');
      assert.equal(r.json.reason, 'Unauthorized');
    });
    it('refuses the cluster token as a bearer token: it joins nodes, it is no identity (k3s)', async () => {
      const { readFile } = await import('node:fs/promises');
      const token = (await readFile(`${s.dataDir}/server/token`, 'utf8')).trim();
      const r = await s.anonymous('GET', '/api/v1/namespaces');
      assert.equal(r.status, 401);
      const https = await import('node:https');
      const { ensurePki } = await import('../src/apiserver/auth/pki.js');
      const pki = await ensurePki(s.dataDir);
      const status = await new Promise<number>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: s.port, path: '/api/v1/namespaces', ca: pki.caCertPem, headers: { Authorization: `Bearer ${token}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
      assert.equal(status, 401);
    });
  });

  describe('bootstrap objects', () => {
    it('has the system namespaces, the kubernetes Service and default ServiceAccounts', async () => {
      const ns = await s.request('GET', '/api/v1/namespaces');
      const names = ns.json.items.map((n: any) => n.metadata.name).sort();
      assert.deepEqual(names, ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
      assert.equal(ns.json.items[0].status.phase, 'Active');
      const svc = await s.request('GET', '/api/v1/namespaces/default/services/kubernetes');
      assert.equal(svc.json.spec.clusterIP, '10.43.0.1');
      assert.equal(svc.json.spec.ports[0].port, 443);
      for (const n of names) {
        const sa = await s.request('GET', `/api/v1/namespaces/${n}/serviceaccounts/default`);
        assert.equal(sa.status, 200, n);
      }
    });
  });

  describe('discovery', () => {
    it('serves legacy discovery', async () => {
      const api = await s.request('GET', '/api');
      assert.deepEqual(api.json.versions, ['v1']);
      const v1 = await s.request('GET', '/api/v1');
      const pods = v1.json.resources.find((r: any) => r.name === 'pods');
      assert.equal(pods.kind, 'Pod');
      assert.equal(pods.namespaced, true);
      assert.ok(pods.shortNames.includes('po'));
      assert.ok(v1.json.resources.some((r: any) => r.name === 'pods/status'));
      const apps = await s.request('GET', '/apis/apps/v1');
      const scale = apps.json.resources.find((r: any) => r.name === 'deployments/scale');
      assert.deepEqual([scale.group, scale.version, scale.kind], ['autoscaling', 'v1', 'Scale']);
      const groups = await s.request('GET', '/apis');
      assert.ok(groups.json.groups.some((g: any) => g.name === 'apps'));
    });
    it('negotiates aggregated discovery v2 and v2beta1 by Accept order', async () => {
      const v2 = await s.request('GET', '/apis', undefined, { Accept: AGG });
      assert.equal(v2.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
      assert.equal(v2.json.apiVersion, 'apidiscovery.k8s.io/v2');
      const apps = v2.json.items.find((i: any) => i.metadata.name === 'apps');
      const deploy = apps.versions[0].resources.find((r: any) => r.resource === 'deployments');
      assert.equal(deploy.scope, 'Namespaced');
      assert.ok(deploy.subresources.some((x: any) => x.subresource === 'scale'));
      const beta = await s.request('GET', '/api', undefined, { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json' });
      assert.equal(beta.json.apiVersion, 'apidiscovery.k8s.io/v2beta1');
      assert.equal(beta.json.items.length, 1);
      const legacy = await s.request('GET', '/api', undefined, { Accept: 'application/json' });
      assert.equal(legacy.json.kind, 'APIVersions');
    });
  });

  describe('CRUD', () => {
    it('creates with uid, creationTimestamp and resourceVersion; 409 AlreadyExists on duplicates', async () => {
      const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('crud1'));
      assert.equal(r.status, 201);
      assert.match(r.json.metadata.uid, /^[0-9a-f-]{36}$/);
      assert.ok(r.json.metadata.creationTimestamp);
      assert.match(r.json.metadata.resourceVersion, /^\d+$/);
      const dup = await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('crud1'));
      assert.equal(dup.status, 409);
      assert.equal(dup.json.reason, 'AlreadyExists');
      assert.equal(dup.json.message, 'configmaps "crud1" already exists');
      assert.equal(dup.json.details.kind, 'configmaps');
    });
    it('generates names from generateName', async () => {
      const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { generateName: 'gen-' }, data: {} });
      assert.equal(r.status, 201);
      assert.match(r.json.metadata.name, /^gen-[a-z0-9]{5}$/);
    });
    it('bumps generation on spec changes only', async () => {
      const c = await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', deployment('gen1'));
      assert.equal(c.status, 201, c.text);
      assert.equal(c.json.metadata.generation, 1);
      const l = await s.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/gen1', { metadata: { labels: { x: 'y' } } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(l.json.metadata.generation, 1);
      const sp = await s.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/gen1', { spec: { replicas: 5 } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(sp.json.metadata.generation, 2);
    });
    it('PUT with a stale resourceVersion gets 409 Conflict', async () => {
      const c = await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('rv1'));
      const u1 = await s.request('PUT', '/api/v1/namespaces/default/configmaps/rv1', { ...c.json, data: { a: '2' } });
      assert.equal(u1.status, 200);
      assert.notEqual(u1.json.metadata.resourceVersion, c.json.metadata.resourceVersion);
      const stale = await s.request('PUT', '/api/v1/namespaces/default/configmaps/rv1', { ...c.json, data: { a: '3' } });
      assert.equal(stale.status, 409);
      assert.equal(stale.json.reason, 'Conflict');
      assert.match(stale.json.message, /the object has been modified/);
    });
    it('GET of a missing object is 404 NotFound worded like kubectl expects', async () => {
      const r = await s.request('GET', '/apis/apps/v1/namespaces/default/deployments/nope');
      assert.equal(r.status, 404);
      assert.equal(r.json.message, 'deployments.apps "nope" not found');
      assert.equal(r.json.details.group, 'apps');
    });
    it('refuses to create in a missing namespace', async () => {
      const r = await s.request('POST', '/api/v1/namespaces/missing/configmaps', cm('x'));
      assert.equal(r.status, 404);
      assert.equal(r.json.message, 'namespaces "missing" not found');
    });
    it('deletes with a Status answer, then 404', async () => {
      await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('del1'));
      const d = await s.request('DELETE', '/api/v1/namespaces/default/configmaps/del1', { propagationPolicy: 'Background' });
      assert.equal(d.status, 200);
      assert.equal(d.json.status, 'Success');
      assert.equal(d.json.details.name, 'del1');
      assert.equal((await s.request('GET', '/api/v1/namespaces/default/configmaps/del1')).status, 404);
    });
    it('honours delete preconditions and dryRun', async () => {
      const c = await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('del2'));
      const bad = await s.request('DELETE', '/api/v1/namespaces/default/configmaps/del2', { preconditions: { uid: 'other' } });
      assert.equal(bad.status, 409);
      const dry = await s.request('DELETE', '/api/v1/namespaces/default/configmaps/del2?dryRun=All', {});
      assert.equal(dry.status, 200);
      assert.equal((await s.request('GET', '/api/v1/namespaces/default/configmaps/del2')).status, 200);
      const ok = await s.request('DELETE', '/api/v1/namespaces/default/configmaps/del2', { preconditions: { uid: c.json.metadata.uid } });
      assert.equal(ok.status, 200);
    });
    it('keeps objects with finalizers until the last one is removed', async () => {
      const c = await s.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'fin1', finalizers: ['example.com/hold'] }, data: {} });
      assert.equal(c.status, 201);
      const d = await s.request('DELETE', '/api/v1/namespaces/default/configmaps/fin1');
      assert.equal(d.status, 202);
      const g = await s.request('GET', '/api/v1/namespaces/default/configmaps/fin1');
      assert.ok(g.json.metadata.deletionTimestamp);
      const p = await s.request('PATCH', '/api/v1/namespaces/default/configmaps/fin1', { metadata: { finalizers: null } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(p.status, 200, p.text);
      assert.equal((await s.request('GET', '/api/v1/namespaces/default/configmaps/fin1')).status, 404);
    });
  });

  describe('lists', () => {
    before(async () => {
      for (let i = 0; i < 7; i++) {
        await s.request('POST', '/api/v1/namespaces/default/configmaps', cm(`page-${i}`, { i: String(i) }, { group: i % 2 ? 'odd' : 'even', tier: 'list' }));
      }
    });
    it('filters by label selectors (equality and set-based)', async () => {
      const even = await s.request('GET', '/api/v1/namespaces/default/configmaps?labelSelector=' + encodeURIComponent('tier=list,group=even'));
      assert.deepEqual(even.json.items.map((c: any) => c.metadata.name), ['page-0', 'page-2', 'page-4', 'page-6']);
      const set = await s.request('GET', '/api/v1/namespaces/default/configmaps?labelSelector=' + encodeURIComponent('group in (odd),tier'));
      assert.equal(set.json.items.length, 3);
      const bad = await s.request('GET', '/api/v1/namespaces/default/configmaps?labelSelector=' + encodeURIComponent('a in (b'));
      assert.equal(bad.status, 400);
    });
    it('filters by field selectors and rejects unknown fields with 400', async () => {
      const one = await s.request('GET', '/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dpage-3');
      assert.deepEqual(one.json.items.map((c: any) => c.metadata.name), ['page-3']);
      const bad = await s.request('GET', '/api/v1/namespaces/default/configmaps?fieldSelector=spec.foo%3Dx');
      assert.equal(bad.status, 400);
      assert.equal(bad.json.reason, 'BadRequest');
    });
    it('paginates with limit/continue at one resourceVersion, even across writes', async () => {
      const sel = 'labelSelector=tier%3Dlist';
      const p1 = await s.request('GET', `/api/v1/namespaces/default/configmaps?${sel}&limit=3`);
      assert.equal(p1.json.items.length, 3);
      assert.ok(p1.json.metadata.continue);
      // A write between pages must not show up in later pages of the same list.
      await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('page-5a', {}, { tier: 'list' }));
      const names = p1.json.items.map((c: any) => c.metadata.name);
      let token = p1.json.metadata.continue;
      while (token) {
        const p = await s.request('GET', `/api/v1/namespaces/default/configmaps?${sel}&limit=3&continue=${encodeURIComponent(token)}`);
        assert.equal(p.status, 200, p.text);
        assert.equal(p.json.metadata.resourceVersion, p1.json.metadata.resourceVersion);
        names.push(...p.json.items.map((c: any) => c.metadata.name));
        token = p.json.metadata.continue;
      }
      assert.deepEqual(names, ['page-0', 'page-1', 'page-2', 'page-3', 'page-4', 'page-5', 'page-6']);
      const bad = await s.request('GET', `/api/v1/namespaces/default/configmaps?limit=3&continue=garbage`);
      assert.equal(bad.status, 400);
    });
    it('lists exactly one namespace, even beside namespaces whose names extend it', async () => {
      for (const ns of ['nsa', 'nsa-b', 'nsa0']) {
        await s.request('POST', '/api/v1/namespaces', { metadata: { name: ns } });
        await s.request('POST', `/api/v1/namespaces/${ns}/configmaps`, cm(`in-${ns}`));
      }
      for (const ns of ['nsa', 'nsa-b', 'nsa0']) {
        const r = await s.request('GET', `/api/v1/namespaces/${ns}/configmaps`);
        assert.deepEqual(r.json.items.map((c: any) => c.metadata.name), [`in-${ns}`], ns);
      }
    });

    it('lists across namespaces', async () => {
      const all = await s.request('GET', '/api/v1/serviceaccounts');
      assert.ok(all.json.items.length >= 4);
      assert.equal(all.json.kind, 'ServiceAccountList');
    });
    it('serves server-side Tables with the columns kubectl prints', async () => {
      const t = await s.request('GET', '/api/v1/namespaces/default/configmaps?limit=500', undefined, { Accept: TABLE });
      assert.equal(t.json.kind, 'Table');
      assert.deepEqual(t.json.columnDefinitions.slice(0, 1).map((c: any) => c.name), ['Name']);
      const row = t.json.rows.find((r: any) => r.cells[0] === 'page-0');
      assert.equal(row.object.kind, 'PartialObjectMetadata');
      assert.equal(row.object.metadata.labels.tier, 'list');
      const d = await s.request('GET', '/apis/apps/v1/namespaces/default/deployments', undefined, { Accept: TABLE });
      assert.deepEqual(d.json.columnDefinitions.map((c: any) => c.name).slice(0, 5), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age']);
    });
  });

  describe('watch', () => {
    it('streams ADDED, MODIFIED, DELETED from a resourceVersion, one JSON per line', async () => {
      const list = await s.request('GET', '/api/v1/namespaces/default/configmaps');
      const rv = list.json.metadata.resourceVersion;
      const w = await s.stream(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}`);
      assert.equal(w.status, 200);
      await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('w1'));
      await s.request('PATCH', '/api/v1/namespaces/default/configmaps/w1', { data: { a: '2' } }, { 'Content-Type': 'application/merge-patch+json' });
      await s.request('DELETE', '/api/v1/namespaces/default/configmaps/w1');
      const events = await w.waitFor(3);
      w.close();
      assert.deepEqual(events.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
      const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
      assert.ok(rvs[0] < rvs[1] && rvs[1] < rvs[2], `increasing RVs ${rvs}`);
      assert.ok(rvs[0] > Number(rv));
    });
    it('resumes from a past resourceVersion without gaps or duplicates', async () => {
      const c = await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('w2'));
      const rv = c.json.metadata.resourceVersion;
      await s.request('PATCH', '/api/v1/namespaces/default/configmaps/w2', { data: { a: '5' } }, { 'Content-Type': 'application/merge-patch+json' });
      const w = await s.stream(`/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}&fieldSelector=metadata.name%3Dw2`);
      const events = await w.waitFor(1);
      await new Promise((r) => setTimeout(r, 100));
      w.close();
      assert.equal(events.length, 1);
      assert.equal(events[0].type, 'MODIFIED');
      assert.equal(events[0].object.data.a, '5');
    });
    it('sends synthetic ADDED events when no resourceVersion is given', async () => {
      const w = await s.stream('/api/v1/namespaces?watch=true');
      const events = await w.waitFor(4);
      w.close();
      assert.ok(events.every((e) => e.type === 'ADDED'));
    });
    it('answers a compacted resourceVersion with a 410 Expired ERROR event', async () => {
      const c = await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('w3'));
      const old = Number(c.json.metadata.resourceVersion) - 1;
      for (let i = 0; i < 3; i++) await s.request('PATCH', '/api/v1/namespaces/default/configmaps/w3', { data: { a: String(i) } }, { 'Content-Type': 'application/merge-patch+json' });
      const current = await s.running.store.currentRevision();
      await s.running.store.compact(current);
      // The watch cache still has recent history; ask for something the cache cannot serve either.
      const w = await s.stream(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1`);
      const events = await w.waitFor(1);
      await w.ended;
      assert.equal(events[0].type, 'ERROR');
      assert.equal(events[0].object.code, 410);
      assert.equal(events[0].object.reason, 'Expired');
      assert.ok(old > 1);
    });
    it('ends the stream after timeoutSeconds', async () => {
      const w = await s.stream('/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&resourceVersion=0');
      const start = Date.now();
      await w.ended;
      assert.ok(Date.now() - start < 3000);
    });
    it('sends bookmarks with sendInitialEvents and marks the end of initial events', async () => {
      const w = await s.stream('/api/v1/namespaces?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true');
      const events = await w.waitFor(5);
      w.close();
      const bm = events.find((e) => e.type === 'BOOKMARK');
      assert.ok(bm, 'a bookmark');
      assert.equal(bm.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    });
    it('watches as Tables with column definitions only in the first event', async () => {
      const list = await s.request('GET', '/api/v1/namespaces/default/configmaps');
      const w = await s.stream(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${list.json.metadata.resourceVersion}`, { Accept: TABLE });
      await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('wt1'));
      await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('wt2'));
      const events = await w.waitFor(2);
      w.close();
      assert.equal(events[0].object.kind, 'Table');
      assert.ok(events[0].object.columnDefinitions);
      assert.equal(events[1].object.columnDefinitions, undefined);
      assert.equal(events[1].object.rows[0].cells[0], 'wt2');
    });
  });

  describe('patches', () => {
    it('applies strategic merge patches with merge keys and directives', async () => {
      await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', deployment('smp1'));
      const p = await s.request(
        'PATCH',
        '/apis/apps/v1/namespaces/default/deployments/smp1',
        { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.26', env: [{ name: 'A', $patch: 'delete' }] }] } } } },
        { 'Content-Type': 'application/strategic-merge-patch+json' },
      );
      assert.equal(p.status, 200, p.text);
      const c = p.json.spec.template.spec.containers[0];
      assert.equal(c.image, 'nginx:1.26');
      assert.deepEqual(c.env, [{ name: 'B', value: '2' }]);
    });
    it('applies JSON patches and refuses a failed test op', async () => {
      await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('jp1'));
      const ok = await s.request('PATCH', '/api/v1/namespaces/default/configmaps/jp1', [{ op: 'add', path: '/data/b', value: '2' }], { 'Content-Type': 'application/json-patch+json' });
      assert.deepEqual(ok.json.data, { a: '1', b: '2' });
      const bad = await s.request('PATCH', '/api/v1/namespaces/default/configmaps/jp1', [{ op: 'test', path: '/data/a', value: 'x' }], { 'Content-Type': 'application/json-patch+json' });
      assert.ok(bad.status === 422 || bad.status === 400, `status ${bad.status}`);
    });
    it('uses a resourceVersion inside a patch as a precondition', async () => {
      await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('jp2'));
      const r = await s.request('PATCH', '/api/v1/namespaces/default/configmaps/jp2', { metadata: { resourceVersion: '1' }, data: { a: '9' } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(r.status, 409);
    });
    it('refuses unknown patch types with 415', async () => {
      const r = await s.request('PATCH', '/api/v1/namespaces/default/configmaps/jp2', '{}', { 'Content-Type': 'text/plain' });
      assert.equal(r.status, 415);
      assert.equal(r.json.reason, 'UnsupportedMediaType');
    });
  });

  describe('subresources', () => {
    it('scales through /scale and keeps status out of main-resource writes', async () => {
      await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', deployment('sc1'));
      const g = await s.request('GET', '/apis/apps/v1/namespaces/default/deployments/sc1/scale');
      assert.equal(g.json.kind, 'Scale');
      assert.equal(g.json.spec.replicas, 2);
      assert.equal(g.json.status.selector, 'app=sc1');
      const p = await s.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/sc1/scale', { spec: { replicas: 4 } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(p.json.spec.replicas, 4);
      const d = await s.request('GET', '/apis/apps/v1/namespaces/default/deployments/sc1');
      assert.equal(d.json.spec.replicas, 4);
      const put = await s.request('PUT', '/apis/apps/v1/namespaces/default/deployments/sc1/scale', { ...g.json, spec: { replicas: 1 } });
      assert.equal(put.status, 409, 'stale resourceVersion in a Scale PUT');
    });
    it('writes status only through /status', async () => {
      const d = await s.request('GET', '/apis/apps/v1/namespaces/default/deployments/sc1');
      const main = await s.request('PUT', '/apis/apps/v1/namespaces/default/deployments/sc1', { ...d.json, status: { replicas: 9 } });
      assert.equal(main.json.status?.replicas, undefined);
      const st = await s.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/sc1/status', { status: { replicas: 3 }, spec: { replicas: 100 } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(st.status, 200, st.text);
      assert.equal(st.json.status.replicas, 3);
      assert.equal(st.json.spec.replicas, 4);
    });
    it('writes pod status through /status with the pod status strategy (spec kept, metadata still validated)', async () => {
      const c = await s.request('POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'st1' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
      assert.equal(c.status, 201, c.text);
      const st = await s.request('PATCH', '/api/v1/namespaces/default/pods/st1/status', { status: { phase: 'Running', podIP: '10.42.0.9' }, spec: { containers: [{ name: 'c', image: 'other' }] } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(st.status, 200, st.text);
      assert.equal(st.json.status.phase, 'Running');
      assert.equal(st.json.spec.containers[0].image, 'busybox');
      const bad = await s.request('PATCH', '/api/v1/namespaces/default/pods/st1/status', { metadata: { annotations: { 'not a key!': 'x' } } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(bad.status, 422, bad.text);
      assert.match(bad.json.message, /metadata\.annotations/);
      const spec = await s.request('PATCH', '/api/v1/namespaces/default/pods/st1', { spec: { restartPolicy: 'Never' } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(spec.status, 422, 'the main resource still refuses spec changes');
      assert.match(spec.json.message, /pod updates may not change fields/);
    });
    it('binds a pod to a node once', async () => {
      const pod = { metadata: { name: 'bind1' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
      const c = await s.request('POST', '/api/v1/namespaces/default/pods', pod);
      assert.equal(c.status, 201, c.text);
      const b = await s.request('POST', '/api/v1/namespaces/default/pods/bind1/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'bind1' }, target: { kind: 'Node', name: 'n1' } });
      assert.equal(b.status, 201, b.text);
      const p = await s.request('GET', '/api/v1/namespaces/default/pods/bind1');
      assert.equal(p.json.spec.nodeName, 'n1');
      assert.ok(p.json.status.conditions.some((x: any) => x.type === 'PodScheduled' && x.status === 'True'));
      const again = await s.request('POST', '/api/v1/namespaces/default/pods/bind1/binding', { target: { kind: 'Node', name: 'n2' } });
      assert.equal(again.status, 409);
    });
  });

  describe('bad input', () => {
    it('400 for malformed JSON and YAML', async () => {
      const j = await s.request('POST', '/api/v1/namespaces/default/configmaps', '{"metadata":', { 'Content-Type': 'application/json' });
      assert.equal(j.status, 400);
      assert.equal(j.json.reason, 'BadRequest');
      const y = await s.request('POST', '/api/v1/namespaces/default/configmaps', 'metadata: [unclosed', { 'Content-Type': 'application/yaml' });
      assert.equal(y.status, 400);
    });
    it('accepts YAML bodies', async () => {
      const y = await s.request('POST', '/api/v1/namespaces/default/configmaps', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml1\ndata:\n  k: v\n', { 'Content-Type': 'application/yaml' });
      assert.equal(y.status, 201, y.text);
      assert.equal(y.json.data.k, 'v');
    });
    it('400 when apiVersion or kind does not match the URL', async () => {
      const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'apps/v1', kind: 'ConfigMap', metadata: { name: 'x' } });
      assert.equal(r.status, 400);
      const k = await s.request('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } });
      assert.equal(k.status, 400);
    });
    it('413 for a body over 3 MiB', async () => {
      const big = { metadata: { name: 'big' }, data: { x: 'a'.repeat(3 * 1024 * 1024 + 10) } };
      const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', big);
      assert.equal(r.status, 413);
    });
    it('422 Invalid with causes for bad names and missing fields', async () => {
      const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('Bad_Name'));
      assert.equal(r.status, 422);
      assert.equal(r.json.reason, 'Invalid');
      assert.equal(r.json.details.causes[0].field, 'metadata.name');
      const pod = await s.request('POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'nocontainers' }, spec: {} });
      assert.equal(pod.status, 422);
      assert.ok(pod.json.details.causes.some((c: any) => c.field === 'spec.containers'));
    });
    it('404 for unknown resources, 415 for unknown media types', async () => {
      assert.equal((await s.request('GET', '/api/v1/widgets')).status, 404);
      assert.equal((await s.request('GET', '/apis/nope.example.com/v1/things')).status, 404);
      const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', 'x', { 'Content-Type': 'text/plain' });
      assert.equal(r.status, 415);
    });
    it('400 for unknown fields under fieldValidation=Strict', async () => {
      const r = await s.request('POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Strict', { metadata: { name: 'strict1' }, data: {}, bogus: 1 });
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.message, /unknown field "bogus"/);
      const ok = await s.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'strict1' }, data: {}, bogus: 1 });
      assert.equal(ok.status, 201);
      assert.equal(ok.json.bogus, undefined, 'dropped');
      assert.equal(ok.headers.warning, '299 - "unknown field \\"bogus\\""', 'the default fieldValidation=Warn tells the client');
    });
  });

  describe('services', () => {
    it('allocates ClusterIPs and NodePorts, and refuses taken ones', async () => {
      const a = await s.request('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'svc-a' }, spec: { selector: { app: 'a' }, ports: [{ port: 80 }] } });
      assert.equal(a.status, 201, a.text);
      assert.match(a.json.spec.clusterIP, /^10\.43\.\d+\.\d+$/);
      assert.notEqual(a.json.spec.clusterIP, '10.43.0.1');
      assert.deepEqual(a.json.spec.clusterIPs, [a.json.spec.clusterIP]);
      const np = await s.request('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'svc-np' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } });
      assert.equal(np.status, 201, np.text);
      const port = np.json.spec.ports[0].nodePort;
      assert.ok(port >= 30000 && port <= 32767, `nodePort ${port}`);
      const taken = await s.request('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'svc-b' }, spec: { clusterIP: a.json.spec.clusterIP, ports: [{ port: 80 }] } });
      assert.equal(taken.status, 422);
      assert.match(taken.json.message, /already allocated/);
      const headless = await s.request('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'svc-h' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } });
      assert.equal(headless.json.spec.clusterIP, 'None');
    });
  });

  describe('one object, two versions', () => {
    it('serves an autoscaling/v1 HPA as v2 and back', async () => {
      const v1 = await s.request('POST', '/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers', {
        apiVersion: 'autoscaling/v1',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'hpa1' },
        spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, maxReplicas: 5, targetCPUUtilizationPercentage: 60 },
      });
      assert.equal(v1.status, 201, v1.text);
      assert.equal(v1.json.apiVersion, 'autoscaling/v1');
      assert.equal(v1.json.spec.targetCPUUtilizationPercentage, 60);
      const v2 = await s.request('GET', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/hpa1');
      assert.equal(v2.json.apiVersion, 'autoscaling/v2');
      assert.deepEqual(v2.json.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }]);
      const list = await s.request('GET', '/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers');
      assert.equal(list.json.items[0].spec.targetCPUUtilizationPercentage, 60);
      const p = await s.request('PATCH', '/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/hpa1', { spec: { maxReplicas: 7 } }, { 'Content-Type': 'application/merge-patch+json' });
      assert.equal(p.json.spec.maxReplicas, 7);
      assert.equal((await s.request('GET', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/hpa1')).json.spec.maxReplicas, 7);
    });
    it('shows a core Event as an events.k8s.io Event', async () => {
      const now = new Date().toISOString();
      await s.request('POST', '/api/v1/namespaces/default/events', {
        metadata: { name: 'both1' },
        involvedObject: { kind: 'Pod', name: 'p', namespace: 'default' },
        reason: 'Pulled',
        message: 'pulled it',
        type: 'Normal',
        source: { component: 'kubelet' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 2,
      });
      const e = await s.request('GET', '/apis/events.k8s.io/v1/namespaces/default/events/both1');
      assert.equal(e.status, 200, e.text);
      assert.equal(e.json.apiVersion, 'events.k8s.io/v1');
      assert.equal(e.json.note, 'pulled it');
      assert.equal(e.json.regarding.name, 'p');
      assert.equal(e.json.deprecatedCount, 2);
    });
  });

  describe('pod admission', () => {
    it('adds the default not-ready/unreachable tolerations and resolves priority from PriorityClasses', async () => {
      const pc = await s.request('POST', '/apis/scheduling.k8s.io/v1/priorityclasses', { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'high' }, value: 1000 });
      assert.equal(pc.status, 201, pc.text);
      const pod = await s.request('POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'adm1' }, spec: { priorityClassName: 'high', containers: [{ name: 'c', image: 'busybox' }] } });
      assert.equal(pod.status, 201, pod.text);
      assert.equal(pod.json.spec.priority, 1000);
      assert.equal(pod.json.spec.preemptionPolicy, 'PreemptLowerPriority');
      const tol = pod.json.spec.tolerations;
      assert.deepEqual(
        tol.map((t: any) => [t.key, t.effect, t.tolerationSeconds]),
        [
          ['node.kubernetes.io/not-ready', 'NoExecute', 300],
          ['node.kubernetes.io/unreachable', 'NoExecute', 300],
        ],
      );
      const own = await s.request('POST', '/api/v1/namespaces/default/pods', {
        metadata: { name: 'adm2' },
        spec: { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }], containers: [{ name: 'c', image: 'busybox' }] },
      });
      assert.equal(own.json.spec.priority, 0);
      assert.deepEqual(own.json.spec.tolerations.map((t: any) => [t.key, t.tolerationSeconds]), [
        ['node.kubernetes.io/unreachable', 5],
        ['node.kubernetes.io/not-ready', 300],
      ]);
      const bad = await s.request('POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'adm3' }, spec: { priorityClassName: 'nope', containers: [{ name: 'c', image: 'busybox' }] } });
      assert.equal(bad.status, 403);
      assert.match(bad.json.message, /no PriorityClass with name nope was found/);
    });
  });

  describe('access reviews', () => {
    it('answers SelfSubjectAccessReview and SelfSubjectReview for the admin', async () => {
      const r = await s.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { verb: 'create', resource: 'pods', namespace: 'default' } },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.status.allowed, true);
      const who = await s.request('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
      assert.equal(who.json.status.userInfo.username, 'system:admin');
      assert.ok(who.json.status.userInfo.groups.includes('system:masters'));
      assert.equal((await s.request('GET', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')).status, 405);
    });
  });

  describe('namespaces', () => {
    it('refuses creation in a terminating namespace', async () => {
      await s.request('POST', '/api/v1/namespaces', { metadata: { name: 'term1' } });
      const d = await s.request('DELETE', '/api/v1/namespaces/term1');
      assert.ok(d.status === 200 || d.status === 202, d.text);
      const ns = await s.request('GET', '/api/v1/namespaces/term1');
      assert.equal(ns.json.status.phase, 'Terminating');
      const r = await s.request('POST', '/api/v1/namespaces/term1/configmaps', cm('x'));
      assert.equal(r.status, 403);
      assert.match(r.json.message, /being terminated/);
      // Finalizing the namespace completes its deletion.
      const fin = await s.request('PUT', '/api/v1/namespaces/term1/finalize', { ...ns.json, spec: { finalizers: [] } });
      assert.equal(fin.status, 200, fin.text);
      assert.equal((await s.request('GET', '/api/v1/namespaces/term1')).status, 404);
    });
  });

  describe('events', () => {
    it('selects events by involvedObject fields', async () => {
      const ev = (name: string, obj: string) => ({
        metadata: { name },
        involvedObject: { kind: 'Pod', name: obj, namespace: 'default', uid: `uid-${obj}` },
        reason: 'Test',
        message: `about ${obj}`,
        type: 'Normal',
        firstTimestamp: new Date().toISOString(),
        lastTimestamp: new Date().toISOString(),
        count: 1,
      });
      await s.request('POST', '/api/v1/namespaces/default/events', ev('e1', 'p1'));
      await s.request('POST', '/api/v1/namespaces/default/events', ev('e2', 'p2'));
      const r = await s.request('GET', '/api/v1/namespaces/default/events?fieldSelector=' + encodeURIComponent('involvedObject.name=p1,involvedObject.namespace=default,involvedObject.uid=uid-p1'));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.items.map((e: any) => e.metadata.name), ['e1']);
    });
  });
  describe('list resourceVersion semantics', () => {
    it('resourceVersionMatch=Exact at a revision the store has not reached is a 504 with a retry hint', async () => {
      const cur = await s.request('GET', '/api/v1/namespaces/default/configmaps');
      const future = Number(cur.json.metadata.resourceVersion) + 1_000_000;
      const r = await s.request('GET', `/api/v1/namespaces/default/configmaps?resourceVersion=${future}&resourceVersionMatch=Exact`);
      assert.equal(r.status, 504, r.text);
      assert.equal(r.json.reason, 'Timeout');
      assert.equal(r.json.details.causes[0].reason, 'ResourceVersionTooLarge');
      assert.equal(r.headers['retry-after'], '1');
      const exact = await s.request('GET', `/api/v1/namespaces/default/configmaps?resourceVersion=${cur.json.metadata.resourceVersion}&resourceVersionMatch=Exact`);
      assert.equal(exact.status, 200, exact.text);
    });
  });
});
