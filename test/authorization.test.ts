/**
 * Every route passes through the authorizer: with one that denies everything, every resource verb, subresource,
 * watch, connect and non-resource path answers 403 Forbidden in kube-apiserver's words, and only the health
 * endpoints and /cacerts answer. A recording authorizer sees the attributes Kubernetes' RBAC decides on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuthorizationAttributes, Authorizer } from '../src/apiserver/auth/authorizer.js';
import { subresourcesOf } from '../src/apiserver/discovery.js';
import { resources } from '../src/apiserver/registry/index.js';
import { startBareApiServer, type BareApiServer } from './helpers/api-server.js';

let deny = true;
const seen: AuthorizationAttributes[] = [];
const authorizer: Authorizer = {
  authorize(attrs) {
    seen.push(attrs);
    return deny ? { decision: 'deny', reason: 'test says no' } : { decision: 'allow' };
  },
};

describe('authorization on every route', () => {
  let s: BareApiServer;
  const send = (method: string, path: string, body?: unknown) => s.send(method, path, body, { contentType: method === 'PATCH' ? 'application/merge-patch+json' : undefined });

  before(async () => {
    s = await startBareApiServer({ server: { authorizer } });
  });

  after(async () => {
    await s.stop();
  });

  test('a deny-all authorizer gets 403 on every resource route', async () => {
    deny = true;
    const routes: [string, string][] = [];
    for (const def of resources) {
      const base = `${def.group ? `/apis/${def.group}` : '/api'}/${def.version}`;
      const collection = def.namespaced ? `${base}/namespaces/default/${def.plural}` : `${base}/${def.plural}`;
      const item = `${collection}/x`;
      routes.push(['GET', collection], ['GET', `${collection}?watch=true`], ['GET', `${base}/watch/${def.plural}`], ['POST', collection], ['DELETE', collection]);
      if (def.namespaced) routes.push(['GET', `${base}/${def.plural}`]);
      for (const m of ['GET', 'PUT', 'PATCH', 'DELETE']) routes.push([m, item]);
      for (const sub of subresourcesOf(def)) {
        for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) routes.push([m, `${item}/${sub.name}`]);
        if (sub.connect) routes.push(['GET', `${item}/${sub.name}/some/path`]);
        // pods/proxy and services/proxy name their target "scheme:name:port"; OPTIONS is proxied too.
        if (sub.connect) for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) routes.push([m, `${collection}/https:x:443/${sub.name}/some/path`]);
      }
    }
    const allowed: string[] = [];
    for (const [method, path] of routes) {
      const r = await send(method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
      if (r.status !== 403 || r.json?.reason !== 'Forbidden' || r.json?.kind !== 'Status') allowed.push(`${method} ${path} -> ${r.status}`);
    }
    assert.deepEqual(allowed, []);
    assert.ok(routes.length > 500, `walked ${routes.length} routes`);
  });

  test('a deny-all authorizer gets 403 on every non-resource path but the health endpoints', async () => {
    deny = true;
    for (const path of ['/version', '/version/', '/api', '/api/v1', '/apis', '/apis/apps', '/apis/apps/v1', '/openapi/v3', '/openapi/v3/api/v1', '/openapi/v2', '/metrics', '/nonexistent']) {
      const r = await send('GET', path);
      assert.equal(r.status, 403, `GET ${path}`);
      assert.equal(r.json.message, `forbidden: User "system:admin" cannot get path "${path}": test says no`);
    }
    for (const path of ['/healthz', '/livez', '/readyz', '/cacerts']) {
      assert.equal((await send('GET', path)).status, 200, `GET ${path}`);
    }
  });

  test('the refusal names user, verb, resource, group and scope as kube-apiserver does', async () => {
    deny = true;
    const r = await send('GET', '/apis/apps/v1/namespaces/default/deployments/web');
    assert.equal(r.json.message, 'deployments.apps "web" is forbidden: User "system:admin" cannot get resource "deployments" in API group "apps" in the namespace "default": test says no');
    assert.deepEqual(r.json.details, { name: 'web', group: 'apps', kind: 'deployments' });
    const n = await send('GET', '/api/v1/nodes');
    assert.equal(n.json.message, 'nodes is forbidden: User "system:admin" cannot list resource "nodes" in API group "" at the cluster scope: test says no');
  });

  test('the authorizer sees the request attributes Kubernetes uses', async () => {
    deny = false;
    const cases: [string, string, Partial<AuthorizationAttributes>][] = [
      ['GET', '/api/v1/namespaces/default/pods', { verb: 'list', resource: 'pods', namespace: 'default', name: '' }],
      ['GET', '/api/v1/pods?watch=1&timeoutSeconds=1', { verb: 'watch', resource: 'pods', namespace: '' }],
      ['GET', '/api/v1/namespaces/default/pods/p1', { verb: 'get', name: 'p1' }],
      ['POST', '/api/v1/namespaces/default/pods/p1/eviction', { verb: 'create', subresource: 'eviction', name: 'p1' }],
      ['GET', '/api/v1/namespaces/default/pods/p1/log', { verb: 'get', subresource: 'log' }],
      ['DELETE', '/apis/apps/v1/namespaces/default/deployments', { verb: 'deletecollection', apiGroup: 'apps', apiVersion: 'v1' }],
      ['PATCH', '/apis/apps/v1/namespaces/default/deployments/web/scale', { verb: 'patch', subresource: 'scale' }],
      ['PUT', '/api/v1/namespaces/kube-system/finalize', { verb: 'update', resource: 'namespaces', name: 'kube-system', namespace: 'kube-system', subresource: 'finalize' }],
      ['GET', '/apis/apps/v1', { verb: 'get', isResourceRequest: false, path: '/apis/apps/v1' }],
    ];
    for (const [method, path, want] of cases) {
      seen.length = 0;
      await send(method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
      const got = seen[0];
      assert.ok(got, `${method} ${path} was authorized`);
      assert.equal(got.user.username, 'system:admin');
      for (const [k, v] of Object.entries(want)) assert.deepEqual((got as unknown as Record<string, unknown>)[k], v, `${method} ${path}: ${k}`);
    }
  });
});
