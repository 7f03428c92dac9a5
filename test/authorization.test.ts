/**
 * Every route passes through the authorizer: with one that denies everything, every resource verb, subresource,
 * watch, connect and non-resource path answers 403 Forbidden in kube-apiserver's words, and only the health
 * endpoints and /cacerts answer. A recording authorizer sees the attributes Kubernetes' RBAC decides on.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Authenticator } from '../src/apiserver/auth/authenticator.js';
import type { AuthorizationAttributes, Authorizer } from '../src/apiserver/auth/authorizer.js';
import { ensurePki, type Pki } from '../src/apiserver/auth/pki.js';
import { subresourcesOf } from '../src/apiserver/discovery.js';
import { defaultExtensions } from '../src/apiserver/extensions.js';
import { resources } from '../src/apiserver/registry/index.js';
import { startApiServer, type ApiServer } from '../src/apiserver/server.js';
import { openStore } from '../src/storage/open-store.js';
import type { Store } from '../src/storage/store.js';

interface Reply {
  status: number;
  json: any;
}

let deny = true;
const seen: AuthorizationAttributes[] = [];
const authorizer: Authorizer = {
  authorize(attrs) {
    seen.push(attrs);
    return deny ? { decision: 'deny', reason: 'test says no' } : { decision: 'allow' };
  },
};

describe('authorization on every route', () => {
  let dir: string;
  let store: Store;
  let api: ApiServer;
  let pki: Pki;

  const send = (method: string, path: string, body?: unknown): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        {
          host: '127.0.0.1',
          port: api.port,
          method,
          path,
          ca: pki.caCertPem,
          cert: pki.adminCertPem,
          key: pki.adminKeyPem,
          headers: payload ? { 'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {},
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = text;
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-authz-'));
    pki = await ensurePki(dir, { hostnames: [], ips: [] });
    store = await openStore('memory://');
    api = await startApiServer({
      store,
      resources,
      authenticator: new Authenticator({ caCertPem: pki.caCertPem, clusterToken: 'test-token' }),
      authorizer,
      tls: { cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem },
      port: 0,
      host: '127.0.0.1',
      extensions: defaultExtensions(resources),
    });
  });

  after(async () => {
    await api.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
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
