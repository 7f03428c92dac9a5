/**
 * The API server's /metrics (src/observability): authorization as upstream (no credentials 401, a ServiceAccount
 * without a binding 403, bound to system:monitoring 200), and the series a Kubernetes dashboard reads, with upstream's
 * names, labels and values, after real requests: creates, dry runs, gets, lists, a watch, an apply, a 404;
 * apiserver_storage_objects against a list, etcd_request_duration_seconds, the controllers' workqueues and the
 * scheduler's attempts (a simulated node).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { find, parseExposition, type Exposition } from '../src/observability/parse-exposition.js';
import { eventually } from './helpers/eventually.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

describe('API server /metrics', { timeout: 90_000 }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ simulateNodes: 1 });
  });
  after(async () => {
    await s?.stop();
  });

  const scrape = async (): Promise<Exposition> => {
    const r = await s.request('GET', '/metrics');
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return parseExposition(r.text);
  };
  const total = (e: Exposition, labels: Record<string, string>) => find(e, 'apiserver_request_total', { component: 'apiserver', ...labels }).reduce((a, x) => a + x.value, 0);

  it('refuses the anonymous (401) and a ServiceAccount without a binding (403), serves one bound to system:monitoring', async () => {
    assert.equal((await s.anonymous('GET', '/metrics')).status, 401);
    await s.request('POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'prometheus' } });
    const tr = await s.request('POST', '/api/v1/namespaces/default/serviceaccounts/prometheus/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} });
    assert.equal(tr.status, 201, tr.text);
    const bearer = { Authorization: `Bearer ${tr.json.status.token}` };
    const anonymousAgent = async (path: string) => {
      // The admin agent presents a client certificate; a bearer token alone must decide here.
      const { request } = await import('node:https');
      const { readFile } = await import('node:fs/promises');
      const { join } = await import('node:path');
      const ca = await readFile(join(s.dataDir, 'server', 'tls', 'server-ca.crt'), 'utf8');
      return new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: s.port, path, ca, agent: false, headers: bearer }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end();
      });
    };
    const denied = await anonymousAgent('/metrics');
    assert.equal(denied.status, 403, denied.text);
    assert.match(denied.text, /cannot get path \\"\/metrics\\"/);
    const crb = await s.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      metadata: { name: 'prometheus-monitoring' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:monitoring' },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: 'default' }],
    });
    assert.equal(crb.status, 201, crb.text);
    await eventually('the binding to take effect', async () => {
      const ok = await anonymousAgent('/metrics');
      assert.equal(ok.status, 200);
      assert.match(ok.text, /^# HELP apiserver_request_total /m);
      return true;
    }, 15_000);
  });

  it('counts requests by verb, scope, dry run and code, with upstream buckets', async () => {
    const before = await scrape();
    const base = { group: '', version: 'v1', resource: 'configmaps', subresource: '' };
    const count = (e: Exposition, l: Record<string, string>) => total(e, { ...base, ...l });
    const cm = (name: string) => ({ metadata: { name }, data: { a: '1' } });
    assert.equal((await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('m1'))).status, 201);
    assert.equal((await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('m1'))).status, 409);
    assert.equal((await s.request('POST', '/api/v1/namespaces/default/configmaps?dryRun=All', cm('m2'))).status, 201);
    assert.equal((await s.request('GET', '/api/v1/namespaces/default/configmaps/m1')).status, 200);
    assert.equal((await s.request('GET', '/api/v1/namespaces/default/configmaps/nope')).status, 404);
    assert.equal((await s.request('GET', '/api/v1/namespaces/default/configmaps')).status, 200);
    assert.equal((await s.request('GET', '/api/v1/configmaps')).status, 200);
    assert.equal((await s.request('GET', '/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1')).status, 200);
    const apply = await s.request('PATCH', '/api/v1/namespaces/default/configmaps/m3?fieldManager=test', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm3' } }, { 'Content-Type': 'application/apply-patch+yaml' });
    assert.equal(apply.status, 201, apply.text);
    assert.equal((await s.request('GET', '/api/v1/namespaces/default/nosuchthings')).status, 404);
    const e = await scrape();
    const delta = (l: Record<string, string>) => count(e, l) - count(before, l);
    assert.equal(delta({ verb: 'POST', scope: 'resource', dry_run: '', code: '201' }), 1);
    assert.equal(delta({ verb: 'POST', scope: 'resource', dry_run: '', code: '409' }), 1);
    assert.equal(delta({ verb: 'POST', scope: 'resource', dry_run: 'All', code: '201' }), 1);
    assert.equal(delta({ verb: 'GET', scope: 'resource', code: '200' }), 1);
    assert.equal(delta({ verb: 'GET', scope: 'resource', code: '404' }), 1);
    assert.equal(delta({ verb: 'LIST', scope: 'namespace', code: '200' }), 1);
    assert.ok(delta({ verb: 'LIST', scope: 'cluster', code: '200' }) >= 1);
    assert.equal(delta({ verb: 'WATCH', scope: 'namespace', code: '200' }), 1);
    // The watch ended (timeoutSeconds=1): it is no longer open.
    assert.equal(find(e, 'apiserver_longrunning_requests', { ...base, verb: 'WATCH', scope: 'namespace' })[0]?.value, 0);
    assert.equal(delta({ verb: 'APPLY', scope: 'resource', code: '201' }), 1);
    // A path that names no served resource mints no series (label values stay a closed set).
    assert.deepEqual(find(e, 'apiserver_request_total', { resource: 'nosuchthings' }), []);
    assert.equal(e.types.get('apiserver_request_total'), 'counter');
    assert.equal(e.types.get('apiserver_request_duration_seconds'), 'histogram');
    const buckets = find(e, 'apiserver_request_duration_seconds_bucket', { ...base, verb: 'POST', dry_run: '', scope: 'resource', component: 'apiserver' });
    assert.deepEqual(buckets.map((b) => b.labels.le), ['0.005', '0.025', '0.05', '0.1', '0.2', '0.4', '0.6', '0.8', '1', '1.25', '1.5', '2', '3', '4', '5', '6', '8', '10', '15', '20', '30', '45', '60', '+Inf']);
    const [countSample] = find(e, 'apiserver_request_duration_seconds_count', { ...base, verb: 'POST', dry_run: '', scope: 'resource' });
    // The SLI histogram (kube-prometheus' API SLO rules): no dry_run label, upstream's buckets from 50 ms.
    const sli = find(e, 'apiserver_request_sli_duration_seconds_bucket', { ...base, verb: 'POST', scope: 'resource', component: 'apiserver' });
    assert.equal(sli[0]!.labels.le, '0.05');
    assert.equal(sli.length, 22);
    assert.equal('dry_run' in sli[0]!.labels, false);
    assert.ok(sli.at(-1)!.value >= 3, 'the three creates (one dry run) and the conflict');
    assert.equal(buckets.at(-1)!.value, countSample!.value);
    // Each POST took at least some time, and far less than a minute.
    const [sum] = find(e, 'apiserver_request_duration_seconds_sum', { ...base, verb: 'POST', dry_run: '', scope: 'resource' });
    assert.ok(sum!.value > 0 && sum!.value < countSample!.value * 60);
  });

  it('reports stored objects per resource, store latency per operation, workqueues and scheduling attempts', async () => {
    const dep = {
      metadata: { name: 'web' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    };
    assert.equal((await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', dep)).status, 201);
    await eventually('the workload series', async () => {
      const e = await scrape();
      const listed = (await s.request('GET', '/api/v1/configmaps')).json.items.length;
      assert.equal(find(e, 'apiserver_storage_objects', { resource: 'configmaps' })[0]?.value, listed);
      assert.equal(find(e, 'apiserver_storage_objects', { resource: 'deployments.apps' })[0]?.value, 1);
      assert.ok(find(e, 'etcd_request_duration_seconds_count', { operation: 'create', type: 'configmaps' })[0]!.value >= 1);
      assert.ok(find(e, 'etcd_request_duration_seconds_count', { operation: 'create', type: 'deployments.apps' })[0]!.value >= 1);
      assert.ok(find(e, 'workqueue_adds_total', { name: 'deployment' })[0]!.value >= 1);
      assert.ok(find(e, 'workqueue_work_duration_seconds_count', { name: 'replicaset' })[0]!.value >= 1);
      assert.ok(find(e, 'workqueue_depth', { name: 'deployment' })[0]!.value >= 0);
      assert.ok(find(e, 'scheduler_schedule_attempts_total', { result: 'scheduled', profile: 'default-scheduler' })[0]!.value >= 2);
      assert.ok(find(e, 'scheduler_scheduling_attempt_duration_seconds_count', { result: 'scheduled', profile: 'default-scheduler' })[0]!.value >= 2);
      // The controllers' and the scheduler's informers keep watches on pods open.
      assert.ok(find(e, 'apiserver_longrunning_requests', { verb: 'WATCH', group: '', resource: 'pods', scope: 'cluster' })[0]!.value >= 1, JSON.stringify(find(e, 'apiserver_longrunning_requests').filter((x) => x.value > 0)));
      assert.ok(find(e, 'process_cpu_seconds_total')[0]!.value > 0);
      return true;
    }, 30_000);
  });
});
