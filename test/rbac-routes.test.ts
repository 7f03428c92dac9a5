/**
 * No path bypasses authorization: every route the server serves (each resource's verbs, watch in both forms, status,
 * scale, every declared subresource, the streaming and proxy ones included) is asked as a user RBAC grants nothing,
 * who must get kube-apiserver's 403 naming the verb and resource; the admin asking the same route must not get 403
 * (so the route exists and the check is not vacuous). Built from the registry, so a new route is covered the day
 * it is added.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { resources } from '../src/apiserver/registry/index.js';
import type { ResourceDefinition } from '../src/apiserver/registry/types.js';
import { startBareApiServer, type BareApiServer } from './helpers/api-server.js';
import { issueClientCert, type ClientCert } from './rbac-client-cert.js';

/** kube-apiserver's RequestInfo: the verb of a request on one object or subresource, by HTTP method. */
const VERB_OF_METHOD: Record<string, string> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

interface Route {
  method: string;
  path: string;
  /** The verb and resource the 403 must name. */
  verb: string;
  resource: string;
}

/** Every request form of a resource, with the verb kube-apiserver's RequestInfo gives it. */
function routesOf(def: ResourceDefinition): Route[] {
  const base = def.group ? `/apis/${def.group}/${def.version}` : `/api/${def.version}`;
  const scope = def.namespaced ? `/namespaces/ns1` : '';
  const collection = `${base}${scope}/${def.plural}`;
  const one = `${collection}/x`;
  const verbs = def.verbs ?? ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
  const out: Route[] = [];
  const add = (method: string, path: string, verb: string, resource = def.plural) => out.push({ method, path, verb, resource });
  if (verbs.includes('list')) add('GET', collection, 'list');
  if (verbs.includes('watch')) {
    add('GET', `${collection}?watch=true`, 'watch');
    add('GET', `${base}/watch${scope}/${def.plural}`, 'watch');
    if (verbs.includes('get')) add('GET', `${collection}?watch=true&fieldSelector=metadata.name%3Dx`, 'watch');
  }
  if (verbs.includes('get')) add('GET', one, 'get');
  if (verbs.includes('create')) add('POST', collection, 'create');
  if (verbs.includes('update')) add('PUT', one, 'update');
  if (verbs.includes('patch')) add('PATCH', one, 'patch');
  if (verbs.includes('delete')) add('DELETE', one, 'delete');
  // A selector that matches nothing: the admin's pass must not empty the collection (the bootstrap policy included).
  if (verbs.includes('deletecollection')) add('DELETE', `${collection}?labelSelector=rbac-routes-test%3Dnone`, 'deletecollection');
  const sub = (name: string, methods: string[]) => {
    for (const m of methods) add(m, `${one}/${name}`, VERB_OF_METHOD[m] ?? m.toLowerCase(), `${def.plural}/${name}`);
  };
  if (def.hasStatus) sub('status', ['GET', 'PUT', 'PATCH']);
  if (def.scale) sub('scale', ['GET', 'PUT', 'PATCH']);
  for (const s of def.subresources ?? []) {
    if (s.connect) {
      sub(s.name, s.connect.methods);
      // Proxy subresources take a path after them; it must be authorized as the same subresource.
      if (s.name === 'proxy') for (const m of s.connect.methods) add(m, `${one}/proxy/some/path`, VERB_OF_METHOD[m] ?? m.toLowerCase(), `${def.plural}/proxy`);
    } else {
      sub(s.name, s.verbs.map((v) => ({ get: 'GET', create: 'POST', update: 'PUT', patch: 'PATCH', delete: 'DELETE' })[v as string] ?? 'GET').filter((m, i, a) => a.indexOf(m) === i));
    }
  }
  return out;
}

function send(port: number, ca: string, cert: { certPem: string; keyPem: string }, route: Route): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? '{}' : undefined;
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method: route.method,
        path: route.path,
        ca,
        cert: cert.certPem,
        key: cert.keyPem,
        agent: false,
        headers: body ? { 'Content-Type': route.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json', 'Content-Length': Buffer.byteLength(body) } : {},
        timeout: 10_000,
      },
      (res) => {
        // A watch the admin is allowed stays open: its status is all the test needs.
        if (route.verb === 'watch' && res.statusCode === 200) {
          resolve({ status: 200, json: undefined });
          res.destroy();
          return;
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${route.method} ${route.path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** What every authenticated user may do by the bootstrap policy (system:basic-user): the self reviews. */
const OPEN_TO_ALL = new Set(['selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'selfsubjectreviews']);

describe('authorization covers every route', () => {
  let api: BareApiServer;
  let nobody: ClientCert;
  let admin: { certPem: string; keyPem: string };

  before(async () => {
    api = await startBareApiServer();
    nobody = issueClientCert(api.pki.paths.caCert, api.pki.paths.caKey, api.pki.paths.dir, 'nobody', ['nogroup']);
    admin = { certPem: api.pki.adminCertPem, keyPem: api.pki.adminKeyPem };
  });
  after(async () => {
    await api?.stop();
  });

  it('refuses a user without bindings on every resource route, in upstream words', async () => {
    let checked = 0;
    const failures: string[] = [];
    for (const def of resources) {
      if (OPEN_TO_ALL.has(def.plural)) continue;
      for (const route of routesOf(def)) {
        const r = await send(api.api.port, api.pki.caCertPem, nobody, route);
        // A named namespace is its own namespace in RequestInfo (upstream's 403 says `in the namespace "x"` too).
        const named = /\/namespaces\/x(\/|$)/.test(route.path);
        const where = def.namespaced ? 'in the namespace "ns1"' : def.plural === 'namespaces' && named ? 'in the namespace "x"' : 'at the cluster scope';
        const want = `User "nobody" cannot ${route.verb} resource "${route.resource}" in API group "${def.group}" ${where}`;
        // A HEAD answer has no body: its status is what can be checked.
        if (r.status !== 403 || (route.method !== 'HEAD' && (r.json?.reason !== 'Forbidden' || !String(r.json?.message).includes(want)))) {
          failures.push(`${route.method} ${route.path}: ${r.status} ${r.json?.message ?? ''} (wanted 403 "${want}")`);
        }
        const a = await send(api.api.port, api.pki.caCertPem, admin, route);
        if (a.status === 403) failures.push(`${route.method} ${route.path}: the admin got 403 too (${a.json?.message})`);
        checked++;
      }
    }
    assert.deepEqual(failures, []);
    // Guard against a registry walk that found nothing to walk.
    assert.ok(checked > 400, `only ${checked} routes checked`);
  });

  it('the self reviews are open to every authenticated user, other reviews are not', async () => {
    const r = await send(api.api.port, api.pki.caCertPem, nobody, { method: 'POST', path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', verb: 'create', resource: '' });
    assert.equal(r.status, 422, 'allowed through authorization; the empty review is then invalid');
    const sar = await send(api.api.port, api.pki.caCertPem, nobody, { method: 'POST', path: '/apis/authorization.k8s.io/v1/subjectaccessreviews', verb: 'create', resource: '' });
    assert.equal(sar.status, 403);
  });

  it('non-resource paths: discovery and version for everyone authenticated, anything else refused', async () => {
    for (const path of ['/api', '/apis', '/apis/apps/v1', '/version', '/openapi/v2']) {
      const r = await send(api.api.port, api.pki.caCertPem, nobody, { method: 'GET', path, verb: 'get', resource: '' });
      assert.equal(r.status, 200, `${path}: ${r.status}`);
    }
    // OIDC discovery is for service accounts (system:service-account-issuer-discovery), not every user.
    for (const path of ['/metrics', '/logs/', '/debug/pprof/', '/nonexistent', '/.well-known/openid-configuration', '/openid/v1/jwks']) {
      const r = await send(api.api.port, api.pki.caCertPem, nobody, { method: 'GET', path, verb: 'get', resource: '' });
      assert.equal(r.status, 403, path);
      assert.equal(r.json?.message, `forbidden: User "nobody" cannot get path "${path}"`);
    }
  });
});
