/**
 * End-to-end: CustomResourceDefinitions driven by the real kubectl (1.32, and 1.27 which reads /openapi/v2) and by an
 * operator-style controller written with @kubernetes/client-node, against a real skiff server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { customResourceDefinition } from './helpers/crd.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip() || kubectlSkip('27');

const SCHEMA = `
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: string, enum: [S, M, L], description: How big the widget is.}
                replicas: {type: integer, minimum: 0, default: 1}
                selector: {type: string}
                color: {type: string, pattern: '^[a-z]+$'}
                ports:
                  type: array
                  x-kubernetes-list-type: map
                  x-kubernetes-list-map-keys: [name]
                  items:
                    type: object
                    required: [name]
                    properties:
                      name: {type: string}
                      port: {type: integer, default: 80}
            status:
              type: object
              properties:
                replicas: {type: integer}
                phase: {type: string}`;

const WIDGET_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:${SCHEMA}
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas, labelSelectorPath: .spec.selector}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Phase, type: string, jsonPath: .status.phase}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    selectableFields:
    - {jsonPath: .spec.size}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:${SCHEMA}
`;

const widget = (name: string, size: string, extra = '') => `apiVersion: example.com/v1
kind: Widget
metadata:
  name: ${name}
  labels: {tier: ${size === 'S' ? 'small' : 'big'}}
spec:
  size: ${size}
  selector: app=${name}
${extra}`;

describe('CustomResourceDefinitions end-to-end', { skip }, () => {
  let s: TestServer;
  let k: Kubectl;
  let k127: Kubectl;
  let dir: string;
  const file = async (name: string, text: string) => {
    const p = join(dir, name);
    await writeFile(p, text);
    return p;
  };
  const ok = async (args: string[], input?: string) => {
    const r = await k(args, input !== undefined ? { input } : {});
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    s = await startTestServer({ datastore: 'memory' });
    k = kubectlFor(s.kubeconfig);
    k127 = kubectlFor(s.kubeconfig, '27');
    dir = await mkdtemp(join(tmpdir(), 'skiff-crd-'));
  });
  after(async () => {
    await s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a new CRD is Established and served within a second', async () => {
    const started = Date.now();
    await ok(['apply', '-f', await file('crd.yaml', WIDGET_CRD)]);
    await ok(['wait', '--for', 'condition=established', '--timeout=10s', 'crd/widgets.example.com']);
    const crd = await k.json(['get', 'crd', 'widgets.example.com']);
    const established = crd.status.conditions.find((c: { type: string }) => c.type === 'Established');
    assert.equal(established.status, 'True');
    assert.deepEqual(crd.status.storedVersions, ['v1']);
    assert.equal(crd.status.acceptedNames.kind, 'Widget');
    // Served: the first create right after succeeds (kubectl reads discovery and OpenAPI for it).
    await ok(['apply', '-f', await file('w1.yaml', widget('w1', 'S', '  ports:\n  - name: http\n'))]);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    const w1 = await k.json(['get', 'wd', 'w1']);
    assert.equal(w1.spec.replicas, 1, 'defaulted');
    assert.deepEqual(w1.spec.ports, [{ name: 'http', port: 80 }], 'defaulted inside list items');
  });

  it('get by short name and category, printer columns, explain', async () => {
    await ok(['apply', '-f', await file('w2.yaml', widget('w2', 'L'))]);
    const table = await ok(['get', 'wd']);
    const [header, ...rows] = table.trim().split('\n');
    assert.deepEqual(header.split(/\s+/), ['NAME', 'SIZE', 'REPLICAS', 'PHASE', 'AGE']);
    // A column whose path finds nothing prints empty, as kubectl shows custom resources' missing values.
    assert.match(rows.find((r) => r.startsWith('w1'))!, /^w1\s+S\s+1\s+\d+s$/);
    const all = await ok(['get', 'all', '-o', 'name']);
    assert.ok(all.includes('widget.example.com/w1'), all);
    assert.match(await ok(['explain', 'crd.spec.versions.subresources.scale']), /specReplicasPath\s+<string> -required-/);
    const typo = await k(['apply', '-f', '-'], { input: WIDGET_CRD.replace('  scope: Namespaced', '  scope: Namespaced\n  scoep: Cluster') });
    assert.notEqual(typo.code, 0);
    assert.match(typo.stderr, /unknown field "spec\.scoep"/);
    const explain = await ok(['explain', 'widgets.spec']);
    assert.match(explain, /size\s+<string> -required-/);
    assert.match(explain, /How big the widget is/);
    assert.match(explain, /replicas\s+<integer>/);
  });

  it('list with label and field selectors, pagination, other versions', async () => {
    const big = await k.json(['get', 'wd', '-l', 'tier=big']);
    assert.deepEqual(big.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['w2']);
    const small = await k.json(['get', 'wd', '--field-selector', 'spec.size=S']);
    assert.deepEqual(small.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['w1']);
    const bad = await k(['get', 'wd', '--field-selector', 'spec.color=red']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /field label not supported: spec\.color|not a known field selector/);
    const page = JSON.parse(await ok(['get', '--raw', '/apis/example.com/v1/namespaces/default/widgets?limit=1']));
    assert.equal(page.items.length, 1);
    assert.ok(page.metadata.continue);
    const rest = JSON.parse(await ok(['get', '--raw', `/apis/example.com/v1/namespaces/default/widgets?limit=1&continue=${encodeURIComponent(page.metadata.continue)}`]));
    assert.equal(rest.items.length, 1);
    assert.notEqual(rest.items[0].metadata.name, page.items[0].metadata.name);
    const beta = await k.json(['get', 'widgets.v1beta1.example.com', 'w1']);
    assert.equal(beta.apiVersion, 'example.com/v1beta1');
    assert.equal(beta.spec.size, 'S');
  });

  it('watch, merge/JSON patch, 415 for strategic merge patch, server-side apply', async () => {
    const watcher = k.spawn(['get', 'wd', 'w1', '--watch-only', '--output-watch-events', '-o', 'json']);
    let out = '';
    watcher.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await new Promise((r) => setTimeout(r, 700));
      await ok(['patch', 'wd', 'w1', '--type=merge', '-p', '{"spec":{"color":"blue"}}']);
      for (let i = 0; i < 50 && !out.includes('"blue"'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, /"type":\s?"MODIFIED"/);
      assert.match(out, /"color":\s?"blue"/);
    } finally {
      watcher.kill();
    }
    await ok(['patch', 'wd', 'w1', '--type=json', '-p', '[{"op":"replace","path":"/spec/color","value":"green"}]']);
    assert.equal((await k.json(['get', 'wd', 'w1'])).spec.color, 'green');
    const smp = await k(['patch', 'wd', 'w1', '-p', '{"spec":{"color":"red"}}']);
    assert.notEqual(smp.code, 0);
    assert.match(smp.stderr, /the body of the request was in an unknown format - accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/apply-patch\+yaml/);
    await ok(['apply', '--server-side', '--field-manager=team-a', '-f', await file('w3.yaml', widget('w3', 'M'))]);
    const w3 = await k.json(['get', 'wd', 'w3', '--show-managed-fields']);
    assert.ok(w3.metadata.managedFields.some((m: { manager: string; operation: string }) => m.manager === 'team-a' && m.operation === 'Apply'));
    const conflict = await k(['apply', '--server-side', '--field-manager=team-b', '-f', await file('w3b.yaml', widget('w3', 'L'))]);
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /conflict/i);
  });

  it('status and scale subresources (kubectl scale)', async () => {
    await ok(['patch', 'wd', 'w1', '--subresource=status', '--type=merge', '-p', '{"status":{"replicas":1,"phase":"Running"}}']);
    await ok(['scale', 'wd', 'w1', '--replicas=3']);
    const w1 = await k.json(['get', 'wd', 'w1']);
    assert.equal(w1.spec.replicas, 3);
    assert.equal(w1.status.phase, 'Running');
    const scale = JSON.parse(await ok(['get', '--raw', '/apis/example.com/v1/namespaces/default/widgets/w1/scale']));
    assert.deepEqual([scale.spec.replicas, scale.status.replicas, scale.status.selector], [3, 1, 'app=w1']);
    // A main-resource write does not change status.
    await ok(['patch', 'wd', 'w1', '--type=merge', '-p', '{"status":{"phase":"Lost"}}']);
    assert.equal((await k.json(['get', 'wd', 'w1'])).status.phase, 'Running');
  });

  it('an HPA scales a custom resource through its scale subresource', async () => {
    await ok(['apply', '-f', '-'], `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: w1}
spec:
  scaleTargetRef: {apiVersion: example.com/v1, kind: Widget, name: w1}
  minReplicas: 4
  maxReplicas: 6
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
`);
    let replicas = 0;
    for (let i = 0; i < 100 && replicas !== 4; i++) {
      await new Promise((r) => setTimeout(r, 100));
      replicas = (await k.json(['get', 'wd', 'w1'])).spec.replicas;
    }
    assert.equal(replicas, 4, 'raised to minReplicas through widgets/scale');
    const hpa = await k.json(['get', 'hpa', 'w1']);
    const able = hpa.status.conditions?.find((c: { type: string }) => c.type === 'AbleToScale');
    assert.equal(able?.status, 'True', JSON.stringify(hpa.status));
    await ok(['delete', 'hpa', 'w1']);
  });

  it('schema violations are 422 with the field path; unknown fields fail strict validation', async () => {
    const bad = await k(['apply', '-f', await file('bad.yaml', widget('bad', 'XL', '  replicas: -1\n'))]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /The Widget "bad" is invalid/);
    assert.match(bad.stderr, /spec\.size: Unsupported value: "XL": supported values: "S", "M", "L"/);
    assert.match(bad.stderr, /spec\.replicas: Invalid value: -1: spec\.replicas in body should be greater than or equal to 0/);
    const raw = await s.request('POST', '/apis/example.com/v1/namespaces/default/widgets', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'bad' }, spec: { size: 'M', color: 'R3D' } });
    assert.equal(raw.status, 422);
    assert.equal(raw.json.details.causes[0].field, 'spec.color');
    const unknown = await k(['apply', '-f', await file('junk.yaml', widget('junk', 'S', '  junk: 1\n'))]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /unknown field "spec\.junk"/);
    const warned = await k(['apply', '--validate=warn', '-f', join(dir, 'junk.yaml')]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /unknown field "spec\.junk"/);
    assert.equal((await k.json(['get', 'wd', 'junk'])).spec.junk, undefined, 'pruned');
  });

  it('a non-structural CRD is refused with 422 and upstream causes', async () => {
    const crd = WIDGET_CRD.replace(/widgets/g, 'blobs').replace(/Widget/g, 'Blob').replace(/\[wd\]/, '[bl]').replace('            spec:\n              type: object\n', '            spec:\n');
    const r = await k(['apply', '-f', await file('blob.yaml', crd)]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /The CustomResourceDefinition "blobs\.example\.com" is invalid/);
    assert.match(r.stderr, /spec\.versions\[0\]\.schema\.openAPIV3Schema\.properties\[spec\]\.type: Required value: must not be empty for specified object fields/);
  });

  it('cluster-scoped custom resources', async () => {
    const crd = customResourceDefinition({ group: 'example.com', kind: 'Gizmo', scope: 'Cluster', versions: [{ name: 'v1', schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }] });
    await ok(['apply', '-f', await file('gizmo-crd.yaml', JSON.stringify(crd))]);
    await ok(['wait', '--for', 'condition=established', '--timeout=10s', 'crd/gizmos.example.com']);
    await ok(['apply', '-f', '-'], 'apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g1}\nanything: {goes: here}\n');
    const g = await k.json(['get', 'gizmo', 'g1']);
    assert.equal(g.metadata.namespace, undefined);
    assert.deepEqual(g.anything, { goes: 'here' });
    const table = await ok(['get', 'gizmos']);
    assert.match(table, /^NAME\s+AGE\ng1\s+\d+s/);
  });

  it('RBAC: custom resources are authorized by group/resource, and aggregate-to-view roles reach them', async () => {
    await ok(['apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widget-viewer
  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-view, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
`);
    let can = '';
    for (let i = 0; i < 50; i++) {
      can = (await k(['auth', 'can-i', 'list', 'widgets.example.com', '--as=alice', '-n', 'default'])).stdout.trim();
      if (can === 'yes') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(can, 'yes');
    assert.equal((await k(['auth', 'can-i', 'delete', 'widgets.example.com', '--as=alice', '-n', 'default'])).stdout.trim(), 'no');
    const list = await k(['get', 'wd', '--as=alice', '-o', 'name']);
    assert.equal(list.code, 0, list.stderr);
    const denied = await k(['delete', 'wd', 'w2', '--as=alice']);
    assert.match(denied.stderr, /widgets\.example\.com "w2" is forbidden: User "alice" cannot delete resource "widgets" in API group "example\.com"/);
  });

  it('an operator written with @kubernetes/client-node watches widgets and writes their status', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.kubeconfig);
    const api = kc.makeApiClient(k8s.CustomObjectsApi);
    const watch = new k8s.Watch(kc);
    const reconciled = new Set<string>();
    const req = await watch.watch(
      '/apis/example.com/v1/namespaces/default/widgets',
      {},
      (type, obj: { metadata: { name: string }; spec: { size: string }; status?: { phase?: string } }) => {
        if (type === 'DELETED' || obj.status?.phase === `Ready-${obj.spec.size}`) return;
        void api
          .patchNamespacedCustomObjectStatus(
            { group: 'example.com', version: 'v1', namespace: 'default', plural: 'widgets', name: obj.metadata.name, body: { status: { phase: `Ready-${obj.spec.size}` } } },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
          )
          .then(() => reconciled.add(obj.metadata.name), () => {});
      },
      () => {},
    );
    try {
      await api.createNamespacedCustomObject({ group: 'example.com', version: 'v1', namespace: 'default', plural: 'widgets', body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'op1' }, spec: { size: 'M' } } });
      let phase: string | undefined;
      for (let i = 0; i < 50 && phase !== 'Ready-M'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        phase = ((await api.getNamespacedCustomObject({ group: 'example.com', version: 'v1', namespace: 'default', plural: 'widgets', name: 'op1' })) as { status?: { phase?: string } }).status?.phase;
      }
      assert.equal(phase, 'Ready-M');
      await api.patchNamespacedCustomObject(
        { group: 'example.com', version: 'v1', namespace: 'default', plural: 'widgets', name: 'op1', body: { spec: { size: 'L' } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      for (let i = 0; i < 50 && phase !== 'Ready-L'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        phase = ((await api.getNamespacedCustomObject({ group: 'example.com', version: 'v1', namespace: 'default', plural: 'widgets', name: 'op1' })) as { status?: { phase?: string } }).status?.phase;
      }
      assert.equal(phase, 'Ready-L');
      assert.ok(reconciled.has('w1'), 'existing widgets were reconciled from the initial list');
    } finally {
      req.abort();
    }
  });

  it('kubectl 1.27 (OpenAPI v2): apply, get by short name, explain, scale', async () => {
    const crd = WIDGET_CRD.replace(/widgets/g, 'gadgets').replace(/Widget/g, 'Gadget').replace('[wd]', '[gd]').replace('example.com', 'example.org').replace('group: example.com', 'group: example.org');
    const r = await k127(['apply', '-f', await file('gadget-crd.yaml', crd.replace(/example\.com/g, 'example.org'))]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await k127(['wait', '--for', 'condition=established', '--timeout=10s', 'crd/gadgets.example.org'])).code, 0);
    const created = await k127(['apply', '-f', '-'], { input: 'apiVersion: example.org/v1\nkind: Gadget\nmetadata: {name: g1}\nspec: {size: M, selector: app=g1}\n' });
    assert.equal(created.code, 0, created.stderr);
    const got = await k127.json(['get', 'gd', 'g1']);
    assert.equal(got.spec.replicas, 1);
    const explain = await k127(['explain', 'gadgets.spec.size']);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /How big the widget is/);
    assert.equal((await k127(['scale', 'gd', 'g1', '--replicas=2'])).code, 0);
    assert.equal((await k127.json(['get', 'gd', 'g1'])).spec.replicas, 2);
    const bad = await k127(['apply', '-f', '-'], { input: 'apiVersion: example.org/v1\nkind: Gadget\nmetadata: {name: g2}\nspec: {size: XXL}\n' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.size: Unsupported value: "XXL"/);
  });

  it('garbage collection: objects owned by a custom object go with it, and custom objects owned by others go too', async () => {
    await ok(['apply', '-f', await file('gc-owner.yaml', widget('gc-owner', 'M'))]);
    const owner = await k.json(['get', 'wd', 'gc-owner']);
    const ref = (o: { apiVersion: string; kind: string; metadata: { name: string; uid: string } }) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid });
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gc-dependent', ownerReferences: [ref(owner)] } }));
    await ok(['create', 'configmap', 'gc-cm-owner']);
    const cmOwner = await k.json(['get', 'configmap', 'gc-cm-owner']);
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'gc-owned', ownerReferences: [ref(cmOwner)] }, spec: { size: 'S' } }));

    await ok(['delete', 'wd', 'gc-owner']);
    await ok(['delete', 'configmap', 'gc-cm-owner']);
    const gone = async (path: string) => {
      for (let i = 0; i < 100; i++) {
        if ((await s.request('GET', path)).status === 404) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    assert.ok(await gone('/api/v1/namespaces/default/configmaps/gc-dependent'), 'the ConfigMap owned by a deleted Widget is collected');
    assert.ok(await gone('/apis/example.com/v1/namespaces/default/widgets/gc-owned'), 'the Widget owned by a deleted ConfigMap is collected');
  });

  it('deleting a CRD deletes its objects, then the CRD', async () => {
    const before = await k.json(['get', 'wd']);
    assert.ok(before.items.length >= 3);
    await ok(['delete', 'crd', 'widgets.example.com', '--timeout=20s']);
    const gone = await s.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com');
    assert.equal(gone.status, 404);
    const listed = await s.request('GET', '/apis/example.com/v1/namespaces/default/widgets');
    assert.equal(listed.status, 404);
    // Nothing of the objects is left in the store: a new CRD of the same name starts empty.
    await ok(['apply', '-f', join(dir, 'crd.yaml')]);
    await ok(['wait', '--for', 'condition=established', '--timeout=10s', 'crd/widgets.example.com']);
    assert.equal((await k.json(['get', 'wd'])).items.length, 0);
  });
});
