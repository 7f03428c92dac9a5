/**
 * Namespace deletion end to end, as kube-controller-manager's namespace deleter does it: a real server with its
 * controllers (in process, 127.0.0.1:0), the real kubectl, a CustomResourceDefinition and an aggregated APIService
 * (test/aggregator-openapi-backend.ts). The namespace controller finds every namespaced resource through discovery:
 * a custom object held by a finalizer keeps the namespace Terminating with upstream's conditions until the finalizer
 * goes; the aggregated group's objects are deleted through the aggregation layer (deletecollection on the backend);
 * while that backend is down the namespace stays, with NamespaceDeletionDiscoveryFailure, and goes once it is back.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { gizmoAvailable, GROUP, registerGizmoBackend, startGizmoBackend, VERSION, type GizmoBackend } from './aggregator-openapi-backend.js';

const CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

const skip = kubectlSkip();

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

describe('namespace deletion waits for custom and aggregated content', { skip, timeout: 110_000 }, () => {
  let s: TestServer;
  let k: Kubectl;
  let backend: GizmoBackend;

  const ok = async (args: string[], input?: string) => {
    const r = await k(args, input === undefined ? undefined : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const conditions = async (ns: string): Promise<Map<string, Condition> | undefined> => {
    const r = await s.request('GET', `/api/v1/namespaces/${ns}`);
    if (r.status === 404) return undefined;
    return new Map((r.json.status?.conditions ?? []).map((c: Condition) => [c.type, c]));
  };
  const gone = (ns: string) => eventually(`namespace ${ns} gone`, async () => (await s.request('GET', `/api/v1/namespaces/${ns}`)).status === 404, 60_000);

  before(async () => {
    s = await startTestServer({ datastore: 'memory' });
    k = kubectlFor(s.kubeconfig);
    await ok(['apply', '-f', '-'], JSON.stringify(CRD));
    await ok(['wait', '--for', 'condition=established', '--timeout=20s', 'crd/widgets.example.com']);
    backend = await startGizmoBackend('gizmo-api');
    await registerGizmoBackend(s, 'gizmo-api', backend);
    await eventually('the gizmo APIService Available', async () => (await gizmoAvailable(s)) === 'True');
  });

  after(async () => {
    await backend?.stop();
    await s?.stop();
    if (s) await rm(s.dataDir, { recursive: true, force: true });
  });

  it('a custom object held by a finalizer keeps the namespace Terminating with upstream conditions; aggregated objects are deleted', async () => {
    await ok(['create', 'namespace', 'held']);
    await ok(['apply', '-n', 'held', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'kept', finalizers: ['example.com/hold'] } },
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'plain' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } },
    ] }));
    backend.gizmos.set('held', new Set(['g1', 'g2']));
    backend.requests.length = 0;

    await ok(['delete', 'namespace', 'held', '--wait=false']);
    const held = await eventually('content conditions', async () => {
      const c = await conditions('held');
      return c?.get('NamespaceContentRemaining')?.status === 'True' ? c : undefined;
    });
    assert.deepEqual(
      ['NamespaceDeletionDiscoveryFailure', 'NamespaceDeletionGroupVersionParsingFailure', 'NamespaceDeletionContentFailure', 'NamespaceContentRemaining', 'NamespaceFinalizersRemaining'].map((t) => {
        const c = held.get(t)!;
        return [t, c.status, c.reason, c.message];
      }),
      [
        ['NamespaceDeletionDiscoveryFailure', 'False', 'ResourcesDiscovered', 'All resources successfully discovered'],
        ['NamespaceDeletionGroupVersionParsingFailure', 'False', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'],
        ['NamespaceDeletionContentFailure', 'False', 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'],
        ['NamespaceContentRemaining', 'True', 'SomeResourcesRemain', 'Some resources are remaining: widgets.example.com has 1 resource instances'],
        ['NamespaceFinalizersRemaining', 'True', 'SomeFinalizerRemain', 'Some finalizers are remaining: example.com/hold in 1 resource instances'],
      ],
    );
    const ns = JSON.parse(await ok(['get', 'namespace', 'held', '-o', 'json']));
    assert.equal(ns.status.phase, 'Terminating');
    // What could go went; the held widget is marked for deletion.
    const widgets = JSON.parse(await ok(['get', 'widgets', '-n', 'held', '-o', 'json'])).items;
    assert.deepEqual(widgets.map((w: { metadata: { name: string; deletionTimestamp?: string } }) => [w.metadata.name, Boolean(w.metadata.deletionTimestamp)]), [['kept', true]]);
    assert.equal((await k(['get', 'configmap', 'settings', '-n', 'held'])).code, 1);
    // The aggregated group was asked too, through the proxy: one deletecollection in the namespace.
    assert.ok(backend.requests.includes(`DELETE /apis/${GROUP}/${VERSION}/namespaces/held/gizmos`), backend.requests.join('\n'));
    assert.equal(backend.gizmos.get('held'), undefined);

    // Still there a few seconds later: nothing finalizes it while the widget is held.
    await new Promise((r) => setTimeout(r, 2_000));
    assert.ok(await conditions('held'), 'still Terminating while the finalizer holds its widget');

    await ok(['patch', 'widget', 'kept', '-n', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await gone('held');
  });

  it('while an aggregated backend is down the namespace stays with NamespaceDeletionDiscoveryFailure, and goes when it is back', async () => {
    await ok(['create', 'namespace', 'blocked']);
    backend.gizmos.set('blocked', new Set(['g3']));
    backend.up = false;
    try {
      await eventually('the gizmo APIService unavailable', async () => (await gizmoAvailable(s)) === 'False');
      // kubectl keeps working for the rest of the API (the unavailable group is left out of discovery).
      await ok(['delete', 'namespace', 'blocked', '--wait=false']);
      const failure = await eventually('the discovery failure condition', async () => {
        const c = (await conditions('blocked'))?.get('NamespaceDeletionDiscoveryFailure');
        return c?.status === 'True' ? c : undefined;
      });
      assert.equal(failure.reason, 'DiscoveryFailed');
      const gv = `${GROUP}/${VERSION}`;
      assert.equal(failure.message, `Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: ${gv}: stale GroupVersion discovery: ${gv}`);
      assert.equal(backend.gizmos.get('blocked')?.size, 1, 'the backend was not reachable');
      assert.ok(await conditions('blocked'), 'not finalized while a group cannot be asked');
    } finally {
      backend.up = true;
    }
    await gone('blocked');
    assert.equal(backend.gizmos.get('blocked'), undefined, 'its gizmos were deleted once the backend was back');
  });
});
