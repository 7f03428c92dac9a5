/**
 * The metrics.k8s.io API and the APIService list on a real API server (HTTPS on 127.0.0.1:0, RBAC on), with the
 * samples given (a fake store in place of the scraper): discovery, get and list with selectors, Tables, refusals,
 * authorization through the normal chain (the aggregated-metrics-reader ClusterRole, aggregated into view), and a
 * server without it (--disable metrics-server) that serves and lists none of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { RestClient } from '../src/client/rest-client.js';
import { Nodes, Pods } from '../src/client/resources.js';
import { MetricsApi } from '../src/metrics/metrics-api.js';
import { AGGREGATED_METRICS_READER } from '../src/metrics/metrics-server.js';
import type { PodUsage, Usage } from '../src/metrics/metrics-store.js';
import { startBareApiServer, type BareApiServer } from './helpers/api-server.js';
import https from 'node:https';

const T = Date.parse('2026-12-07T10:00:15Z');
const nodeUsage: Record<string, Usage> = { n1: { cpuNanoCores: 5e8, memoryBytes: 64 * 1024 * 1024, timestamp: T, windowMs: 15_012 } };
const podUsage: Record<string, PodUsage> = {
  'ns1/web': {
    namespace: 'ns1',
    name: 'web',
    timestamp: T,
    windowMs: 15_000,
    containers: [
      { name: 'app', cpuNanoCores: 250_000_000, memoryBytes: 1024 * 1024, timestamp: T, windowMs: 15_000 },
      { name: 'side', cpuNanoCores: 1000, memoryBytes: 2048, timestamp: T, windowMs: 15_000 },
    ],
  },
  'ns2/db': { namespace: 'ns2', name: 'db', timestamp: T, windowMs: 15_000, containers: [{ name: 'db', cpuNanoCores: 0, memoryBytes: 4096, timestamp: T, windowMs: 15_000 }] },
};

/** GET as alice (a bearer token; no rights of her own), or as the admin. */
function getAs(s: BareApiServer, path: string, token?: string, accept?: string): Promise<{ status: number; json: any }> {
  if (!token && !accept) return s.send('GET', path);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: s.api.port,
        path,
        ca: s.pki.caCertPem,
        ...(token ? { headers: { authorization: `Bearer ${token}`, ...(accept ? { accept } : {}) } } : { cert: s.pki.adminCertPem, key: s.pki.adminKeyPem, headers: { accept: accept! } }),
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('metrics.k8s.io served by skiff (fake samples)', () => {
  let s: BareApiServer;
  let plain: BareApiServer;
  before(async () => {
    let client: RestClient | undefined;
    const metrics = new MetricsApi({
      store: { node: (name) => nodeUsage[name], pod: (ns, name) => podUsage[`${ns}/${name}`] },
      listNodes: async (labelSelector) => (await client!.list(Nodes, '', { ...(labelSelector ? { labelSelector } : {}) })).items as unknown as Node[],
      listPods: async (ns, labelSelector, fieldSelector) => (await client!.list(Pods, ns, { ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) })).items as unknown as Pod[],
      now: () => new Date(T + 1000),
    });
    s = await startBareApiServer({
      authenticator: { tokenAuthenticators: [{ authenticateToken: (t: string) => (t === 'alice-token' ? { username: 'alice', groups: ['system:authenticated'] } : undefined) }] },
      server: { delegatedGroups: metrics.groups },
    });
    client = new RestClient(s.api.inProcessTransport({ username: 'system:kube-apiserver', groups: ['system:masters', 'system:authenticated'] }));
    plain = await startBareApiServer();
    for (const ns of ['ns1', 'ns2']) assert.equal((await s.send('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status, 201);
    for (const name of ['n1', 'n2']) assert.equal((await s.send('POST', '/api/v1/nodes', { metadata: { name, labels: { pool: name === 'n1' ? 'a' : 'b' } } })).status, 201);
    const pod = (ns: string, name: string, app: string) => ({ metadata: { name, namespace: ns, labels: { app } }, spec: { nodeName: 'n1', containers: [{ name: 'app', image: 'x' }] } });
    for (const [ns, name, app] of [['ns1', 'web', 'web'], ['ns1', 'cold', 'web'], ['ns2', 'db', 'db']] as const) {
      const r = await s.send('POST', `/api/v1/namespaces/${ns}/pods`, pod(ns, name, app));
      assert.equal(r.status, 201, r.text);
    }
  });
  after(async () => {
    await s?.stop();
    await plain?.stop();
  });

  it('is in discovery: /apis, the group, its resources, and aggregated discovery', async () => {
    const groups = (await s.send('GET', '/apis')).json.groups.map((g: any) => g.name);
    assert.ok(groups.includes('metrics.k8s.io') && groups.includes('apiregistration.k8s.io'), groups.join(' '));
    assert.equal((await s.send('GET', '/apis/metrics.k8s.io')).json.preferredVersion.groupVersion, 'metrics.k8s.io/v1beta1');
    const rl = (await s.send('GET', '/apis/metrics.k8s.io/v1beta1')).json;
    assert.deepEqual(rl.resources.map((r: any) => [r.name, r.kind, r.namespaced, r.verbs.join(',')]), [['nodes', 'NodeMetrics', false, 'get,list'], ['pods', 'PodMetrics', true, 'get,list']]);
    const agg = await getAs(s, '/apis', undefined, 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const m = agg.json.items.find((i: any) => i.metadata.name === 'metrics.k8s.io');
    assert.deepEqual(m.versions[0].resources.map((r: any) => `${r.resource}:${r.scope}:${r.responseKind.kind}`), ['nodes:Cluster:NodeMetrics', 'pods:Namespaced:PodMetrics']);
  });

  it('lists and gets NodeMetrics as metrics-server writes them; nodes without samples are left out', async () => {
    const list = (await s.send('GET', '/apis/metrics.k8s.io/v1beta1/nodes')).json;
    assert.equal(list.kind, 'NodeMetricsList');
    assert.deepEqual(list.items, [
      {
        kind: 'NodeMetrics',
        apiVersion: 'metrics.k8s.io/v1beta1',
        metadata: { name: 'n1', creationTimestamp: '2026-12-07T10:00:16Z', labels: { pool: 'a' } },
        timestamp: '2026-12-07T10:00:15Z',
        window: '15.012s',
        usage: { cpu: '500000000n', memory: '64Mi' },
      },
    ]);
    assert.equal((await s.send('GET', '/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=pool%3Db')).json.items.length, 0);
    assert.equal((await s.send('GET', '/apis/metrics.k8s.io/v1beta1/nodes/n1')).json.usage.cpu, '500000000n');
    const missing = await s.send('GET', '/apis/metrics.k8s.io/v1beta1/nodes/n2');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.message, 'nodemetrics.metrics.k8s.io "n2" not found');
  });

  it('lists PodMetrics per namespace and across all, by label and field selector; gets one', async () => {
    const ns1 = (await s.send('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods')).json;
    assert.equal(ns1.kind, 'PodMetricsList');
    assert.deepEqual(ns1.items.map((p: any) => p.metadata.name), ['web'], 'cold has no samples');
    assert.deepEqual(ns1.items[0].containers, [
      { name: 'app', usage: { cpu: '250000000n', memory: '1Mi' } },
      { name: 'side', usage: { cpu: '1000n', memory: '2Ki' } },
    ]);
    const all = (await s.send('GET', '/apis/metrics.k8s.io/v1beta1/pods')).json.items.map((p: any) => `${p.metadata.namespace}/${p.metadata.name}`);
    assert.deepEqual(all.sort(), ['ns1/web', 'ns2/db']);
    assert.deepEqual((await s.send('GET', '/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Ddb')).json.items.map((p: any) => p.metadata.name), ['db']);
    assert.deepEqual((await s.send('GET', '/apis/metrics.k8s.io/v1beta1/pods?fieldSelector=metadata.namespace%3Dns1')).json.items.map((p: any) => p.metadata.name), ['web']);
    assert.equal((await s.send('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods/web')).json.kind, 'PodMetrics');
    const cold = await s.send('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods/cold');
    assert.equal(cold.status, 404);
    assert.equal(cold.json.message, 'podmetrics.metrics.k8s.io "ns1/cold" not found');
  });

  it('answers Tables for kubectl get, and refuses what metrics-server refuses', async () => {
    const table = (await getAs(s, '/apis/metrics.k8s.io/v1beta1/pods', undefined, 'application/json;as=Table;v=v1;g=meta.k8s.io')).json;
    assert.equal(table.kind, 'Table');
    assert.deepEqual(table.columnDefinitions.map((c: any) => c.name), ['Name', 'CPU', 'Memory', 'Window']);
    const web = table.rows.find((r: any) => r.cells[0] === 'web');
    assert.deepEqual(web.cells, ['web', '250001000n', '1026Ki', '15s'], 'the pod row sums its containers');
    assert.equal((await s.send('GET', '/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3D%3D%3D')).status, 400, 'a bad selector');
    assert.equal((await s.send('GET', '/apis/metrics.k8s.io/v1beta1/pods?watch=true')).status, 405);
    assert.equal((await s.send('POST', '/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods', { metadata: { name: 'x' } })).status, 405);
    assert.equal((await s.send('GET', '/apis/metrics.k8s.io/v1beta1/things')).status, 404);
    assert.equal((await s.send('GET', '/apis/metrics.k8s.io/v1/nodes')).status, 404);
  });

  it('lists APIServices: the Local group versions and v1beta1.metrics.k8s.io, Available (the aggregator registers them)', async () => {
    const list = (await s.send('GET', '/apis/apiregistration.k8s.io/v1/apiservices')).json;
    const names = list.items.map((a: any) => a.metadata.name);
    for (const n of ['v1.', 'v1.apps', 'v1.apiregistration.k8s.io', 'v1beta1.metrics.k8s.io']) assert.ok(names.includes(n), n);
    const m = (await s.send('GET', '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io')).json;
    assert.deepEqual([m.spec.group, m.spec.version, m.status.conditions[0].type, m.status.conditions[0].status, m.status.conditions[0].reason], ['metrics.k8s.io', 'v1beta1', 'Available', 'True', 'Local']);
    const table = (await getAs(s, '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io', undefined, 'application/json;as=Table;v=v1;g=meta.k8s.io')).json;
    assert.deepEqual(table.rows.map((r: any) => r.cells.slice(0, 3).join(' ')), ['v1beta1.metrics.k8s.io Local True']);
  });

  it('is authorized through RBAC: a user with no rights gets 403, view (aggregating the metrics reader) lets her read', async () => {
    const denied = await getAs(s, '/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods', 'alice-token');
    assert.equal(denied.status, 403);
    assert.match(denied.json.message, /User "alice" cannot list resource "pods" in API group "metrics.k8s.io" in the namespace "ns1"/);
    assert.equal((await s.send('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', AGGREGATED_METRICS_READER)).status, 201);
    const binding = { metadata: { name: 'alice-view', namespace: 'ns1' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }] };
    assert.equal((await s.send('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/ns1/rolebindings', binding)).status, 201);
    let ok = { status: 0, json: {} as any };
    for (let i = 0; i < 50 && ok.status !== 200; i++) {
      ok = await getAs(s, '/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods', 'alice-token');
      if (ok.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(ok.json.items.map((p: any) => p.metadata.name), ['web']);
    assert.equal((await getAs(s, '/apis/metrics.k8s.io/v1beta1/namespaces/ns2/pods', 'alice-token')).status, 403, 'only where she views');
  });

  it('without it (--disable metrics-server) nothing of it is served or listed', async () => {
    const groups = (await plain.send('GET', '/apis')).json.groups.map((g: any) => g.name);
    assert.ok(!groups.includes('metrics.k8s.io'));
    assert.equal((await plain.send('GET', '/apis/metrics.k8s.io/v1beta1/nodes')).status, 404);
    assert.equal((await plain.send('GET', '/apis/metrics.k8s.io')).status, 404);
  });
});
