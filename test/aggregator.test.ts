/**
 * The aggregation layer end to end: a real API server (in process, 127.0.0.1:0) and a small HTTPS extension API server
 * started here, registered with an APIService through a Service and a hand-made EndpointSlice. The real kubectl (1.32
 * and 1.27) sees the group in discovery, reads through the proxy (the backend sees the user in X-Remote-* headers and
 * the front-proxy client certificate, never the client's credentials), and when the backend stops, that group answers
 * 503 and its APIService turns Available=False while the rest of the API keeps working.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { controllerFactories } from '../src/controllers/all.js';
import { selfSignedServingCert } from './helpers/serving-cert.js';

const GROUP = 'wardle.example.com';
const VERSION = 'v1alpha1';

const servingCert = (dnsName: string) => selfSignedServingCert(dnsName, '01');

interface Seen {
  path: string;
  user?: string;
  groups?: string[];
  authorization?: string;
  clientCN?: string;
}

function startBackend(tls: { cert: string; key: string }, seen: Seen[]): Promise<https.Server> {
  const server = https.createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    seen.push({ path: (req.url ?? '').split('?')[0]!, user: req.headers['x-remote-user'] as string | undefined, groups: req.headers['x-remote-group'] ? String(req.headers['x-remote-group']).split(', ') : [], authorization: req.headers.authorization as string | undefined, clientCN: peer?.subject?.CN as string | undefined });
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? '').split('?')[0];
    if (path === `/apis/${GROUP}/${VERSION}`) {
      return send(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${GROUP}/${VERSION}`, resources: [{ name: 'flunders', singularName: 'flunder', namespaced: true, kind: 'Flunder', verbs: ['get', 'list'], shortNames: ['fl'] }] });
    }
    const m = /^\/apis\/wardle\.example\.com\/v1alpha1\/namespaces\/([^/]+)\/flunders(?:\/([^/]+))?$/.exec(path ?? '');
    if (m) {
      const flunder = (name: string) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'Flunder', metadata: { name, namespace: m[1], creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { servedTo: req.headers['x-remote-user'] } });
      if (m[2]) return send(200, flunder(m[2]));
      return send(200, { apiVersion: `${GROUP}/${VERSION}`, kind: 'FlunderList', metadata: {}, items: [flunder('a'), flunder('b')] });
    }
    send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const skip = kubectlSkip() || kubectlSkip('27');

describe('aggregated APIService backed by an HTTPS server', { skip, timeout: 110_000 }, () => {
  let s: TestServer;
  let k: Kubectl;
  let k27: Kubectl;
  let backend: https.Server;
  const seen: Seen[] = [];
  let tls: { cert: string; key: string };

  before(async () => {
    s = await startTestServer({ controlPlane: false, datastore: 'memory' });
    k = kubectlFor(s.kubeconfig);
    k27 = kubectlFor(s.kubeconfig, '27');
    tls = await servingCert('sample-api.default.svc');
    backend = await startBackend(tls, seen);
    const port = (backend.address() as AddressInfo).port;
    const svc = await s.request('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'sample-api' }, spec: { ports: [{ name: 'https', port: 443, targetPort: port }] } });
    assert.equal(svc.status, 201, svc.text);
    const slice = await s.request('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'sample-api-1', labels: { 'kubernetes.io/service-name': 'sample-api' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
      ports: [{ name: 'https', port, protocol: 'TCP' }],
    });
    assert.equal(slice.status, 201, slice.text);
  });

  after(async () => {
    backend?.closeAllConnections();
    await new Promise((r) => backend?.close(r));
    await s?.stop();
    if (s) await rm(s.dataDir, { recursive: true, force: true });
  });

  it('lists Local APIServices for the built-in groups, Available (kubectl 1.32 and 1.27)', async () => {
    const list = await k.json(['get', 'apiservices']);
    const byName = new Map(list.items.map((a: any) => [a.metadata.name, a]));
    for (const n of ['v1.', 'v1.apps', 'v2.autoscaling', 'v1.flowcontrol.apiserver.k8s.io', 'v1.apiregistration.k8s.io']) {
      const a: any = byName.get(n);
      assert.ok(a, n);
      assert.equal(a.spec.service, undefined);
      assert.deepEqual([a.status.conditions[0].type, a.status.conditions[0].status, a.status.conditions[0].reason], ['Available', 'True', 'Local']);
    }
    // What extension servers read to trust the front proxy (upstream's cluster-authentication-info), and the Role to read it.
    const auth = await k.json(['get', 'configmap', '-n', 'kube-system', 'extension-apiserver-authentication']);
    assert.deepEqual(JSON.parse(auth.data['requestheader-allowed-names']), ['system:auth-proxy']);
    assert.deepEqual(JSON.parse(auth.data['requestheader-username-headers']), ['X-Remote-User']);
    assert.match(auth.data['requestheader-client-ca-file'], /^-----BEGIN CERTIFICATE-----/);
    assert.match(auth.data['client-ca-file'], /^-----BEGIN CERTIFICATE-----/);
    assert.notEqual(auth.data['client-ca-file'], auth.data['requestheader-client-ca-file']);
    const reader = await k.json(['get', 'role', '-n', 'kube-system', 'extension-apiserver-authentication-reader']);
    assert.deepEqual(reader.rules[0].resourceNames, ['extension-apiserver-authentication']);
    const table = await k27(['get', 'apiservice', 'v1.apps', '--no-headers']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^v1\.apps\s+Local\s+True\s+/);
  });

  it('registers the group: Available=True, merged into discovery, reads proxied with the user in X-Remote-* headers', async () => {
    const apiService = {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: `${VERSION}.${GROUP}` },
      spec: { group: GROUP, version: VERSION, service: { namespace: 'default', name: 'sample-api' }, caBundle: Buffer.from(tls.cert).toString('base64'), groupPriorityMinimum: 1000, versionPriority: 15 },
    };
    const applied = await k(['apply', '-f', '-'], { input: JSON.stringify(apiService) });
    assert.equal(applied.code, 0, applied.stderr);
    const available = await eventually('APIService Available', async () => {
      const a = await k.json(['get', 'apiservice', `${VERSION}.${GROUP}`]);
      const c = a.status?.conditions?.find((x: any) => x.type === 'Available');
      return c?.status === 'True' ? c : undefined;
    });
    assert.deepEqual([available.reason, available.message], ['Passed', 'all checks passed']);
    assert.equal(apiService.spec.service.namespace, 'default');
    const row = await k(['get', 'apiservice', `${VERSION}.${GROUP}`, '--no-headers']);
    assert.match(row.stdout, /^v1alpha1\.wardle\.example\.com\s+default\/sample-api\s+True\s+/);

    const resources = await k(['api-resources', '--api-group', GROUP, '--no-headers']);
    assert.equal(resources.code, 0, resources.stderr);
    assert.match(resources.stdout, /^flunders\s+fl\s+wardle\.example\.com\/v1alpha1\s+true\s+Flunder/m);
    const groups = JSON.parse((await k(['get', '--raw', '/apis'])).stdout);
    assert.ok(groups.groups.some((g: any) => g.name === GROUP));

    seen.length = 0;
    const one = await k.json(['get', 'flunders', 'f1', '-n', 'default']);
    assert.deepEqual([one.kind, one.metadata.name, one.spec.servedTo], ['Flunder', 'f1', 'system:admin']);
    const list = await k27.json(['get', 'fl', '-n', 'default']);
    assert.deepEqual(list.items.map((i: any) => i.metadata.name), ['a', 'b']);
    // The aggregator's own OpenAPI downloads come as system:aggregator (as upstream's); the rest are the proxied requests.
    assert.ok(seen.filter((x) => x.path.startsWith('/openapi/')).every((x) => x.user === 'system:aggregator'));
    const proxied = seen.filter((x) => x.user !== undefined && !x.path.startsWith('/openapi/'));
    assert.ok(proxied.length >= 2, 'the backend saw the proxied requests');
    for (const x of proxied) {
      assert.equal(x.user, 'system:admin');
      assert.ok(x.groups!.includes('system:masters'));
      assert.equal(x.clientCN, 'system:auth-proxy', 'the front-proxy client certificate');
      assert.equal(x.authorization, undefined, "the client's credentials stay with the API server");
    }
  });

  it('a stopped backend: 503 for its group only, Available=False, kubectl get pods still works', async () => {
    backend.closeAllConnections();
    await new Promise((r) => backend.close(r));
    const r = await s.request('GET', `/apis/${GROUP}/${VERSION}/namespaces/default/flunders/f1`);
    assert.equal(r.status, 503);
    assert.equal(r.json.reason, 'ServiceUnavailable');
    const got = await k(['get', 'flunders', '-n', 'default']);
    assert.notEqual(got.code, 0);
    const cond = await eventually('APIService not Available', async () => {
      const a = await k.json(['get', 'apiservice', `${VERSION}.${GROUP}`]);
      const c = a.status?.conditions?.find((x: any) => x.type === 'Available');
      return c?.status === 'False' ? c : undefined;
    });
    assert.equal(cond.reason, 'FailedDiscoveryCheck');
    assert.match(cond.message, /^failing or missing response from https:\/\/127\.0\.0\.1:\d+\/apis\/wardle\.example\.com\/v1alpha1: /);
    const started = Date.now();
    const pods = await k(['get', 'pods', '-A']);
    assert.equal(pods.code, 0, pods.stderr);
    const resources = await k(['api-resources']);
    assert.equal(resources.code, 0, resources.stderr);
    assert.doesNotMatch(resources.stdout, /flunders/);
    assert.ok(Date.now() - started < 20_000, 'nothing waited on the dead backend');
  });

  it('conditions for a missing Service, a port it does not serve, and no endpoints, in upstream words', async () => {
    const mk = (name: string, group: string, service: Record<string, unknown>) => ({
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: `v1.${group}` },
      spec: { group, version: 'v1', service, insecureSkipTLSVerify: true, groupPriorityMinimum: 1000, versionPriority: 15 },
    });
    assert.equal((await s.request('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'empty' }, spec: { ports: [{ name: 'https', port: 443 }] } })).status, 201);
    for (const a of [mk('a', 'missing.example.com', { namespace: 'default', name: 'nope' }), mk('b', 'port.example.com', { namespace: 'default', name: 'empty', port: 8443 }), mk('c', 'empty.example.com', { namespace: 'default', name: 'empty' })]) {
      const r = await s.request('POST', '/apis/apiregistration.k8s.io/v1/apiservices', a);
      assert.equal(r.status, 201, r.text);
    }
    const reasonOf = (name: string) =>
      eventually(`condition of ${name}`, async () => {
        const a = (await s.request('GET', `/apis/apiregistration.k8s.io/v1/apiservices/${name}`)).json;
        const c = a.status?.conditions?.find((x: any) => x.type === 'Available');
        return c?.status === 'False' ? `${c.reason}: ${c.message}` : undefined;
      });
    assert.equal(await reasonOf('v1.missing.example.com'), 'ServiceNotFound: service/nope in "default" is not present');
    assert.equal(await reasonOf('v1.port.example.com'), 'ServicePortError: service/empty in "default" is not listening on port 8443');
    assert.equal(await reasonOf('v1.empty.example.com'), 'MissingEndpoints: endpoints for service/empty in "default" have no addresses with port name "https"');
    const bad = await s.request('POST', '/apis/apiregistration.k8s.io/v1/apiservices', { ...mk('d', 'x.example.com', { namespace: 'default', name: 'a' }), metadata: { name: 'v2.x.example.com' } });
    assert.equal(bad.status, 422);
    assert.match(bad.json.message, /metadata.name: Invalid value: "v2.x.example.com": must be `spec.version\+"."\+spec.group`: "v1.x.example.com"/);
  });
});

describe('--disable metrics-server: a user-registered v1beta1.metrics.k8s.io is proxied', { skip, timeout: 60_000 }, () => {
  let s: TestServer;
  let backend: https.Server;

  before(async () => {
    s = await startTestServer({ datastore: 'memory', disable: ['metrics-server', 'scheduler', ...controllerFactories.map((f) => f.name)] });
    const tls = await servingCert('metrics-server.kube-system.svc');
    backend = https.createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (req.url === '/apis/metrics.k8s.io/v1beta1') {
        res.end(JSON.stringify({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'metrics.k8s.io/v1beta1', resources: [{ name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] }, { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] }] }));
      } else {
        res.end(JSON.stringify({ kind: 'NodeMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items: [{ metadata: { name: 'from-the-real-metrics-server' }, timestamp: '2026-01-01T00:00:00Z', window: '15s', usage: { cpu: '1m', memory: '1Ki' } }] }));
      }
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const port = (backend.address() as AddressInfo).port;
    const post = async (path: string, body: unknown) => assert.equal((await s.request('POST', path, body)).status, 201);
    await post('/api/v1/namespaces/kube-system/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'metrics-server' }, spec: { ports: [{ name: 'https', port: 443, targetPort: port }] } });
    await post('/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices', { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'metrics-server-1', labels: { 'kubernetes.io/service-name': 'metrics-server' } }, addressType: 'IPv4', endpoints: [{ addresses: ['127.0.0.1'] }], ports: [{ name: 'https', port }] });
  });

  after(async () => {
    backend?.closeAllConnections();
    await new Promise((r) => backend?.close(r));
    await s?.stop();
    if (s) await rm(s.dataDir, { recursive: true, force: true });
  });

  it('no Local metrics APIService; the registered one becomes Available and serves the group', async () => {
    const k = kubectlFor(s.kubeconfig);
    assert.equal((await s.request('GET', '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io')).status, 404);
    // metrics-server's own manifest (insecureSkipTLSVerify, as its components.yaml has it).
    const r = await s.request('POST', '/apis/apiregistration.k8s.io/v1/apiservices', {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1beta1.metrics.k8s.io', labels: { 'k8s-app': 'metrics-server' } },
      spec: { group: 'metrics.k8s.io', version: 'v1beta1', service: { name: 'metrics-server', namespace: 'kube-system' }, insecureSkipTLSVerify: true, groupPriorityMinimum: 100, versionPriority: 100 },
    });
    assert.equal(r.status, 201, r.text);
    await eventually('metrics APIService Available', async () => {
      const a = (await s.request('GET', '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io')).json;
      return a.status?.conditions?.find((c: any) => c.type === 'Available' && c.status === 'True');
    });
    const row = await k(['get', 'apiservice', 'v1beta1.metrics.k8s.io', '--no-headers']);
    assert.match(row.stdout, /^v1beta1\.metrics\.k8s\.io\s+kube-system\/metrics-server\s+True\s+/);
    const nodes = JSON.parse((await k(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/nodes'])).stdout);
    assert.deepEqual(nodes.items.map((n: any) => n.metadata.name), ['from-the-real-metrics-server']);
  });
});
