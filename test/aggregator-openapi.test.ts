/**
 * OpenAPI of aggregated APIServices, end to end: a real API server (in process, 127.0.0.1:0) and the gizmo extension
 * server (test/aggregator-openapi-backend.ts) behind an APIService. Its group version joins /openapi/v3 (index entry,
 * document fetched from the backend) and /openapi/v2 (its paths and the definitions they reach, a conflicting
 * definition renamed `_v2`), so the real kubectl 1.32 (v3) and 1.27 (v2 protobuf) explain the aggregated kind (and the
 * built-in metrics.k8s.io, whose document skiff carries itself); a
 * changed APIService brings the backend's new spec; a backend that goes down leaves the documents of the rest whole.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { gizmoAvailable, GROUP, registerGizmoBackend, startGizmoBackend, VERSION, type GizmoBackend } from './aggregator-openapi-backend.js';

const KEY = `apis/${GROUP}/${VERSION}`;
const LIST_PATH = `/apis/${GROUP}/${VERSION}/namespaces/{namespace}/gizmos`;
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

const skip = kubectlSkip() || kubectlSkip('27');

describe('OpenAPI of an aggregated APIService', { skip, timeout: 110_000 }, () => {
  let s: TestServer;
  let k: Kubectl;
  let k27: Kubectl;
  let backend: GizmoBackend;

  const v2 = async () => {
    const r = await s.request('GET', '/openapi/v2', undefined, { Accept: 'application/json' });
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  const v3Index = async () => {
    const r = await s.request('GET', '/openapi/v3');
    assert.equal(r.status, 200, r.text);
    return r.json.paths as Record<string, { serverRelativeURL: string }>;
  };

  before(async () => {
    s = await startTestServer({ controlPlane: false, datastore: 'memory' });
    k = kubectlFor(s.kubeconfig);
    k27 = kubectlFor(s.kubeconfig, '27');
    // Read once before the APIService exists: what is cached must follow the change.
    assert.equal((await v3Index())[KEY], undefined);
    backend = await startGizmoBackend('gizmo-openapi');
    await registerGizmoBackend(s, 'gizmo-openapi', backend);
    await eventually('the gizmo APIService Available', async () => (await gizmoAvailable(s)) === 'True');
  });

  after(async () => {
    await backend?.stop();
    await s?.stop();
    if (s) await rm(s.dataDir, { recursive: true, force: true });
  });

  it('lists the group version in /openapi/v3 and serves its document from the backend, cached by hash', async () => {
    const entry = await eventually('the gizmo group version in /openapi/v3', async () => (await v3Index())[KEY]);
    assert.match(entry.serverRelativeURL, new RegExp(`^/openapi/v3/${KEY.replace(/\./g, '\\.')}\\?hash=[0-9A-F]{128}$`));
    const index = await v3Index();
    assert.ok(index['api/v1'] && index['apis/apps/v1'], 'the built-in group versions stay');
    assert.equal(index.version, undefined, 'only the APIService\'s own group version is taken from the backend');

    const before = backend.requests.filter((r) => r.startsWith(`GET /openapi/v3/${KEY}`)).length;
    const doc = await s.request('GET', entry.serverRelativeURL);
    assert.equal(doc.status, 200, doc.text);
    assert.equal(doc.headers['cache-control'], 'public, immutable');
    assert.deepEqual(doc.json.components.schemas['com.example.gizmos.v1.Gizmo']['x-kubernetes-group-version-kind'], [{ group: GROUP, version: VERSION, kind: 'Gizmo' }]);
    const again = await s.request('GET', entry.serverRelativeURL);
    assert.equal(again.text, doc.text);
    assert.equal(backend.requests.filter((r) => r.startsWith(`GET /openapi/v3/${KEY}`)).length, before + 1, 'the second read came from the cache');
  });

  it('merges the group version\'s paths and reachable definitions into /openapi/v2, renaming a conflicting definition', async () => {
    const doc = await eventually('the gizmo paths in /openapi/v2', async () => {
      const d = await v2();
      return d.paths[LIST_PATH] ? d : undefined;
    });
    assert.ok(doc.paths['/api/v1/namespaces/{namespace}/pods'], 'the built-in paths stay');
    assert.ok(!Object.values(doc.paths).some((p: any) => p.get?.operationId === 'getGizmoVersion'), 'paths outside the group version are not merged');
    const gizmo = doc.definitions['com.example.gizmos.v1.Gizmo'];
    assert.equal(gizmo.properties.metadata.$ref, `#/definitions/${OBJECT_META}_v2`);
    assert.equal(doc.definitions[`${OBJECT_META}_v2`].description, 'The gizmo server has its own, shorter ObjectMeta.');
    assert.notEqual(doc.definitions[OBJECT_META].description, 'The gizmo server has its own, shorter ObjectMeta.', 'this server\'s definition is kept');
    assert.equal(doc.definitions['com.example.gizmos.v1.Unused'], undefined, 'unreachable definitions are left out');
  });

  it('kubectl 1.32 (OpenAPI v3) and 1.27 (v2 protobuf) explain the aggregated kind', async () => {
    const explained = await eventually('kubectl explain gizmos.spec', async () => {
      const r = await k(['explain', 'gizmos.spec']);
      return r.code === 0 ? r.stdout : undefined;
    });
    assert.match(explained, /KIND:\s+Gizmo/);
    assert.match(explained, /teeth\s+<integer>/);
    assert.match(explained, /How many teeth the gizmo has\./);
    const old = await k27(['explain', 'gizmos.spec']);
    assert.equal(old.code, 0, old.stderr);
    assert.match(old.stdout, /teeth\s+<integer>/);
    assert.match(old.stdout, /How many teeth the gizmo has\./);
    const pods = await k27(['explain', 'pods.spec.containers.name']);
    assert.equal(pods.code, 0, pods.stderr);
  });

  it('the built-in metrics.k8s.io (served in process, no backend) is explainable too', async () => {
    const index = await v3Index();
    assert.match(index['apis/metrics.k8s.io/v1beta1']?.serverRelativeURL ?? '', /^\/openapi\/v3\/apis\/metrics\.k8s\.io\/v1beta1\?hash=/);
    const nodes = await k(['explain', 'nodemetrics.usage']);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout, /KIND:\s+NodeMetrics/);
    assert.match(nodes.stdout, /The memory usage is the memory working set/);
    const pods = await k27(['explain', 'podmetrics.containers']);
    assert.equal(pods.code, 0, pods.stderr);
    assert.match(pods.stdout, /Metrics for all containers are collected within the same time window/);
  });

  it('a changed APIService brings the backend\'s new spec', async () => {
    backend.description = 'A gizmo, version two.';
    const patched = await s.request('PATCH', `/apis/apiregistration.k8s.io/v1/apiservices/${VERSION}.${GROUP}`, { metadata: { labels: { revision: '2' } } }, { 'Content-Type': 'application/merge-patch+json' });
    assert.equal(patched.status, 200, patched.text);
    await eventually('the new description in /openapi/v2', async () => (await v2()).definitions['com.example.gizmos.v1.Gizmo']?.description === 'A gizmo, version two.');
    const url = (await v3Index())[KEY]!.serverRelativeURL;
    const doc = await s.request('GET', url);
    assert.equal(doc.json.components.schemas['com.example.gizmos.v1.Gizmo'].description, 'A gizmo, version two.');
  });

  it('a backend that goes down leaves the rest of both documents whole', async () => {
    backend.up = false;
    try {
      await eventually('the gizmo APIService unavailable', async () => (await gizmoAvailable(s)) === 'False');
      await eventually('the gizmo paths gone from /openapi/v2', async () => !(await v2()).paths[LIST_PATH]);
      const doc = await v2();
      assert.ok(doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments']);
      assert.equal(doc.definitions[`${OBJECT_META}_v2`], undefined);
      assert.equal((await v3Index())[KEY], undefined);
      const proto = await s.request('GET', '/openapi/v2', undefined, { Accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' });
      assert.equal(proto.status, 200);
      const explain = await k(['explain', 'deployments.spec.replicas']);
      assert.equal(explain.code, 0, explain.stderr);
    } finally {
      backend.up = true;
    }
    await eventually('the gizmo paths back in /openapi/v2', async () => Boolean((await v2()).paths[LIST_PATH]));
  });
});
