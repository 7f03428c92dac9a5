import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/object.js';
import { apiGroups, byGroupVersionKind, byGroupVersionResource, preferredDefinition, preferredVersion, printerFor, resources } from './index.js';

const now = new Date('2024-05-01T12:00:00Z');

function minimal(def: (typeof resources)[number]): KubeObject {
  const obj: KubeObject = {
    apiVersion: def.group ? `${def.group}/${def.version}` : def.version,
    kind: def.kind,
    metadata: { name: 'sample', uid: 'u-1', creationTimestamp: '2024-05-01T11:00:00Z', ...(def.namespaced ? { namespace: 'default' } : {}) },
  };
  def.strategy.prepareForCreate?.(obj);
  return obj;
}

test('every definition is complete and unique per group/version', () => {
  const plurals = new Set<string>();
  const kinds = new Set<string>();
  for (const def of resources) {
    const gv = `${def.group}/${def.version}`;
    assert.ok(!plurals.has(`${gv}/${def.plural}`), `duplicate plural ${gv}/${def.plural}`);
    assert.ok(!kinds.has(`${gv}/${def.kind}`), `duplicate kind ${gv}/${def.kind}`);
    plurals.add(`${gv}/${def.plural}`);
    kinds.add(`${gv}/${def.kind}`);
    assert.equal(def.listKind, `${def.kind}List`);
    assert.equal(def.singular, def.kind.toLowerCase());
    // APIService's schema is kube-aggregator's, CustomResourceDefinition's apiextensions-apiserver's, as upstream names them.
    const schemaPrefix = def.group === 'apiregistration.k8s.io' ? 'io\\.k8s\\.kube-aggregator\\.pkg\\.apis\\.apiregistration' : def.group === 'apiextensions.k8s.io' ? 'io\\.k8s\\.apiextensions-apiserver\\.pkg\\.apis\\.apiextensions' : 'io\\.k8s\\.api\\.[a-z]+';
    assert.match(def.schemaName, new RegExp(`^${schemaPrefix}\\.${def.version}\\.${def.kind}$`), def.plural);
    assert.ok(apiGroups.some((g) => g.group === def.group && g.versions.includes(def.version)), `${gv} not in apiGroups`);
    assert.equal(def.printer.columns.filter((c: { format: string }) => c.format === 'name').length >= 1 || def.plural === 'events', true, `${def.plural} has a name column`);
  }
  for (const g of apiGroups) for (const v of g.versions) assert.ok(resources.some((d) => d.group === g.group && d.version === v), `${g.group}/${v} serves nothing`);
  assert.equal(resources.length, 56);
});

test('printer rows have one cell per column, even for bare objects', () => {
  for (const def of resources) {
    const row = def.printer.row(minimal(def), now);
    assert.equal(row.length, def.printer.columns.length, `${def.group}/${def.plural}`);
    for (const cell of row) assert.ok(['string', 'number', 'boolean'].includes(typeof cell), `${def.plural}: cell ${String(cell)}`);
  }
});

test('names, short names and categories kubectl users type', () => {
  const expect: [string, string, string[], boolean][] = [
    ['', 'pods', ['po'], true],
    ['', 'services', ['svc'], true],
    ['', 'namespaces', ['ns'], false],
    ['', 'nodes', ['no'], false],
    ['', 'configmaps', ['cm'], false],
    ['', 'events', ['ev'], false],
    ['', 'persistentvolumeclaims', ['pvc'], false],
    ['', 'resourcequotas', ['quota'], false],
    ['', 'limitranges', ['limits'], false],
    ['apps', 'deployments', ['deploy'], true],
    ['apps', 'replicasets', ['rs'], true],
    ['apps', 'statefulsets', ['sts'], true],
    ['apps', 'daemonsets', ['ds'], true],
    ['batch', 'jobs', [], true],
    ['batch', 'cronjobs', ['cj'], true],
    ['autoscaling', 'horizontalpodautoscalers', ['hpa'], true],
    ['networking.k8s.io', 'ingresses', ['ing'], false],
    ['networking.k8s.io', 'networkpolicies', ['netpol'], false],
    ['policy', 'poddisruptionbudgets', ['pdb'], false],
    ['scheduling.k8s.io', 'priorityclasses', ['pc'], false],
    ['storage.k8s.io', 'storageclasses', ['sc'], false],
    ['', 'replicationcontrollers', ['rc'], true],
    ['', 'podtemplates', [], false],
    ['node.k8s.io', 'runtimeclasses', [], false],
    ['storage.k8s.io', 'csidrivers', [], false],
    ['storage.k8s.io', 'csinodes', [], false],
    ['storage.k8s.io', 'csistoragecapacities', [], false],
    ['storage.k8s.io', 'volumeattachments', [], false],
    ['flowcontrol.apiserver.k8s.io', 'flowschemas', [], false],
    ['flowcontrol.apiserver.k8s.io', 'prioritylevelconfigurations', [], false],
    ['apiregistration.k8s.io', 'apiservices', [], false],
  ];
  for (const [group, plural, shortNames, inAll] of expect) {
    const def = preferredDefinition(group, plural);
    assert.ok(def, `${group}/${plural}`);
    assert.deepEqual(def.shortNames ?? [], shortNames, plural);
    assert.equal(def.categories?.includes('all') ?? false, inAll, `${plural} in all`);
  }
  const all = resources.filter((d) => d.categories?.includes('all')).map((d) => `${d.group}/${d.version}/${d.plural}`);
  assert.deepEqual(all.sort(), [
    '/v1/pods',
    '/v1/replicationcontrollers',
    '/v1/services',
    'apps/v1/daemonsets',
    'apps/v1/deployments',
    'apps/v1/replicasets',
    'apps/v1/statefulsets',
    'autoscaling/v1/horizontalpodautoscalers',
    'autoscaling/v2/horizontalpodautoscalers',
    'batch/v1/cronjobs',
    'batch/v1/jobs',
  ]);
});

test('lookups and preferred versions', () => {
  assert.equal(byGroupVersionResource('apps', 'v1', 'deployments')?.kind, 'Deployment');
  assert.equal(byGroupVersionKind('', 'v1', 'Pod')?.plural, 'pods');
  assert.equal(byGroupVersionResource('apps', 'v1beta1', 'deployments'), undefined);
  assert.equal(preferredVersion('autoscaling'), 'v2');
  assert.equal(preferredDefinition('autoscaling', 'horizontalpodautoscalers')?.version, 'v2');
  assert.equal(byGroupVersionResource('autoscaling', 'v1', 'horizontalpodautoscalers')?.schemaName, 'io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler');
  assert.deepEqual(apiGroups.map((g) => g.group).slice(0, 7), ['', 'apiregistration.k8s.io', 'apps', 'events.k8s.io', 'authentication.k8s.io', 'authorization.k8s.io', 'autoscaling']);
  assert.deepEqual(printerFor(undefined).columns.map((c: { name: string }) => c.name), ['Name', 'Age']);
});

test('subresources: status and scale where upstream has them', () => {
  const withStatus = resources.filter((d) => d.hasStatus).map((d) => d.plural);
  for (const p of ['pods', 'services', 'nodes', 'namespaces', 'persistentvolumes', 'persistentvolumeclaims', 'resourcequotas', 'deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs', 'horizontalpodautoscalers', 'ingresses', 'poddisruptionbudgets']) {
    assert.ok(withStatus.includes(p), p);
  }
  for (const p of ['configmaps', 'secrets', 'roles', 'events', 'leases']) assert.ok(!withStatus.includes(p), p);
  const scaled = resources.filter((d) => d.scale).map((d) => d.plural).sort();
  assert.deepEqual(scaled, ['deployments', 'replicasets', 'replicationcontrollers', 'statefulsets']);
  const dep = byGroupVersionResource('apps', 'v1', 'deployments')!;
  const obj: KubeObject = { metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'nginx', tier: 'fe' } } } };
  assert.equal(dep.scale!.selector!(obj), 'app=nginx,tier=fe');
  assert.equal(byGroupVersionResource('', 'v1', 'pods')!.tracksGeneration, false);
  assert.equal(byGroupVersionResource('', 'v1', 'namespaces')!.verbs?.includes('deletecollection'), false);
  assert.equal(dep.tracksGeneration, true);
  assert.equal(byGroupVersionResource('', 'v1', 'configmaps')!.tracksGeneration, false);
});

test('field selectors per kind', () => {
  const pods = byGroupVersionResource('', 'v1', 'pods')!;
  const pod: KubeObject = { metadata: { name: 'p' }, spec: { nodeName: 'n1', hostNetwork: true, containers: [] }, status: { phase: 'Running', podIPs: [{ ip: '10.42.0.5' }] } };
  const f = pods.fieldSelectors!;
  assert.equal(f['spec.nodeName']!(pod), 'n1');
  assert.equal(f['spec.hostNetwork']!(pod), 'true');
  assert.equal(f['status.phase']!(pod), 'Running');
  assert.equal(f['status.podIP']!(pod), '10.42.0.5');
  const ev = byGroupVersionResource('', 'v1', 'events')!.fieldSelectors!;
  const event: KubeObject = { metadata: { name: 'e' }, involvedObject: { kind: 'Pod', name: 'w1', namespace: 'default', uid: 'u1' }, reason: 'Pulled', source: { component: 'kubelet' }, type: 'Normal' };
  assert.deepEqual(
    ['involvedObject.kind', 'involvedObject.name', 'involvedObject.uid', 'reason', 'source', 'type'].map((k) => ev[k]!(event)),
    ['Pod', 'w1', 'u1', 'Pulled', 'kubelet', 'Normal'],
  );
  assert.equal(byGroupVersionResource('', 'v1', 'secrets')!.fieldSelectors!.type!({ metadata: {}, type: 'kubernetes.io/tls' }), 'kubernetes.io/tls');
  assert.equal(byGroupVersionResource('', 'v1', 'nodes')!.fieldSelectors!['spec.unschedulable']!({ metadata: {}, spec: {} }), 'false');
  assert.equal(byGroupVersionResource('batch', 'v1', 'jobs')!.fieldSelectors!['status.successful']!({ metadata: {}, status: { succeeded: 2 } }), '2');
  assert.equal(byGroupVersionResource('apps', 'v1', 'deployments')!.fieldSelectors, undefined);
});

test('HPA versions convert both ways around the CPU target', async () => {
  const { hpaV1ToV2, hpaV2ToV1 } = await import('./index.js');
  const v1: KubeObject = {
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default' },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 60 },
    status: { currentReplicas: 2, desiredReplicas: 3, currentCPUUtilizationPercentage: 75 },
  };
  const v2 = hpaV1ToV2(v1);
  assert.equal(v2.apiVersion, 'autoscaling/v2');
  assert.deepEqual((v2.spec as any).metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }]);
  assert.deepEqual((v2.status as any).currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 75 } } }]);
  const back = hpaV2ToV1(v2);
  assert.deepEqual(back.spec, v1.spec);
  assert.deepEqual(back.status, v1.status);
});
