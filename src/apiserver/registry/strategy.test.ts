import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/object.js';
import type { FieldError } from '../../api/status.js';
import { byGroupVersionResource } from './index.js';
import type { ResourceDefinition } from './types.js';

function def(group: string, plural: string, version = 'v1'): ResourceDefinition {
  const d = byGroupVersionResource(group, version, plural);
  assert.ok(d, plural);
  return d;
}

/** What the API server does on create: defaults, then validation. */
function create(d: ResourceDefinition, obj: KubeObject): { obj: KubeObject; errors: string[] } {
  const o = structuredClone(obj);
  o.metadata.uid ??= 'uid-1';
  d.strategy.prepareForCreate?.(o);
  return { obj: o, errors: d.strategy.validate(o).map(show) };
}

/** What the API server does on update: identity from the stored object, defaults, validation. */
function update(d: ResourceDefinition, old: KubeObject, next: KubeObject): string[] {
  const n = structuredClone(next);
  n.metadata = { ...n.metadata, uid: old.metadata.uid, creationTimestamp: old.metadata.creationTimestamp };
  d.strategy.prepareForUpdate?.(n, old);
  return [...d.strategy.validate(n), ...(d.strategy.validateUpdate?.(n, old) ?? [])].map(show);
}

function show(e: FieldError): string {
  return `${e.field}: ${e.detail}`;
}

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'default', ...extra });
const container = (name: string, image: string) => ({ name, image });

test('pod defaults as `kubectl get pod -o yaml` shows them', () => {
  const { obj, errors } = create(def('', 'pods'), {
    metadata: meta('web'),
    spec: { containers: [{ ...container('nginx', 'nginx'), ports: [{ containerPort: 80 }] }, container('side', 'busybox:1.36')] },
  });
  assert.deepEqual(errors, []);
  const spec = obj.spec as Record<string, any>;
  assert.equal(spec.restartPolicy, 'Always');
  assert.equal(spec.dnsPolicy, 'ClusterFirst');
  assert.equal(spec.schedulerName, 'default-scheduler');
  assert.equal(spec.terminationGracePeriodSeconds, 30);
  assert.equal(spec.containers[0].imagePullPolicy, 'Always');
  assert.equal(spec.containers[1].imagePullPolicy, 'IfNotPresent');
  assert.equal(spec.containers[0].terminationMessagePath, '/dev/termination-log');
  assert.equal(spec.containers[0].terminationMessagePolicy, 'File');
  assert.equal(spec.containers[0].ports[0].protocol, 'TCP');
  assert.deepEqual(obj.status, { phase: 'Pending', qosClass: 'BestEffort' });
});

test('pod QoS class follows requests and limits', () => {
  const qos = (resources: unknown[]) =>
    (create(def('', 'pods'), { metadata: meta('p'), spec: { containers: resources.map((r, i) => ({ ...container(`c${i}`, 'x:1'), resources: r })) } }).obj.status as { qosClass: string }).qosClass;
  assert.equal(qos([{ limits: { cpu: '500m', memory: '128Mi' } }]), 'Guaranteed');
  assert.equal(qos([{ requests: { cpu: '100m' } }]), 'Burstable');
  assert.equal(qos([{ limits: { cpu: '1', memory: '1Gi' } }, {}]), 'Burstable');
  assert.equal(qos([{}]), 'BestEffort');
});

test('pod validation names the offending fields', () => {
  const pods = def('', 'pods');
  assert.deepEqual(create(pods, { metadata: meta('web'), spec: {} }).errors, ['spec.containers: Required value']);
  assert.deepEqual(create(pods, { metadata: meta('web'), spec: { containers: [container('a', 'x'), container('a', '')] } }).errors, [
    'spec.containers[1].name: Duplicate value: "a"',
    'spec.containers[1].image: Required value',
  ]);
  const bad = create(pods, { metadata: meta('Web_1'), spec: { containers: [{ ...container('App', 'x'), ports: [{ containerPort: 70000, protocol: 'XTP' }] }], restartPolicy: 'Sometimes' } }).errors;
  assert.deepEqual(
    bad.map((e) => e.split(': ').slice(0, 2).join(': ')),
    [
      'metadata.name: Invalid value',
      'spec.containers[0].name: Invalid value',
      'spec.containers[0].ports[0].containerPort: Invalid value',
      'spec.containers[0].ports[0].protocol: Unsupported value',
      'spec.restartPolicy: Unsupported value',
    ],
  );
  assert.match(bad[2]!, /Invalid value: 70000: must be between 1 and 65535, inclusive$/);
  assert.match(bad[4]!, /supported values: "Always", "OnFailure", "Never"$/);
  assert.deepEqual(create(pods, { metadata: { name: 'x' }, spec: { containers: [container('a', 'x')] } }).errors, ['metadata.namespace: Required value']);
  assert.deepEqual(
    create(pods, { metadata: meta('x'), spec: { containers: [{ ...container('a', 'x'), resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }] } }).errors,
    ['spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1'],
  );
});

test('pod updates may change images but not the rest of the spec', () => {
  const pods = def('', 'pods');
  const { obj: old } = create(pods, { metadata: meta('web'), spec: { containers: [container('a', 'nginx:1.25')] } });
  const newImage = structuredClone(old);
  (newImage.spec as any).containers[0].image = 'nginx:1.26';
  assert.deepEqual(update(pods, old, newImage), []);
  const newCommand = structuredClone(old);
  (newCommand.spec as any).containers[0].command = ['sh'];
  const errs = update(pods, old, newCommand);
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /^spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`/);
  const bound = structuredClone(old);
  (bound.spec as any).nodeName = 'node-1';
  assert.equal(update(pods, old, bound).length, 1, 'only pods/binding sets nodeName, never an update of the pod');
});

test('deployment defaults and selector rules', () => {
  const deps = def('apps', 'deployments');
  const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [container('web', 'nginx:1.25')] } };
  const { obj, errors } = create(deps, { metadata: meta('web'), spec: { selector: { matchLabels: { app: 'web' } }, template } });
  assert.deepEqual(errors, []);
  const spec = obj.spec as any;
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  assert.equal(spec.revisionHistoryLimit, 10);
  assert.equal(spec.progressDeadlineSeconds, 600);
  assert.equal(spec.template.spec.restartPolicy, 'Always');
  assert.equal(spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent');

  assert.deepEqual(create(deps, { metadata: meta('web'), spec: { selector: { matchLabels: { app: 'db' } }, template } }).errors, [
    'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
  ]);
  assert.deepEqual(create(deps, { metadata: meta('web'), spec: { template } }).errors, ['spec.selector: Required value']);
  assert.deepEqual(create(deps, { metadata: meta('web'), spec: { selector: {}, template } }).errors, ['spec.selector: Invalid value: {}: empty selector is invalid for deployment']);
  const onFailure = structuredClone(template) as any;
  onFailure.spec.restartPolicy = 'OnFailure';
  assert.deepEqual(create(deps, { metadata: meta('web'), spec: { selector: { matchLabels: { app: 'web' } }, template: onFailure } }).errors, [
    'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"',
  ]);
  const moved = structuredClone(obj);
  (moved.spec as any).selector = { matchLabels: { app: 'web', v: '2' } };
  (moved.spec as any).template.metadata.labels.v = '2';
  assert.deepEqual(update(deps, obj, moved), ['spec.selector: Invalid value: {"matchLabels":{"app":"web","v":"2"}}: field is immutable']);
});

test('jobs generate their selector and insist on a terminating restart policy', () => {
  const jobs = def('batch', 'jobs');
  const template = { spec: { containers: [container('pi', 'perl:5.34')] } };
  assert.deepEqual(create(jobs, { metadata: meta('pi'), spec: { template } }).errors, [
    'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
  ]);
  const { obj, errors } = create(jobs, { metadata: meta('pi', { uid: 'abc-123' }), spec: { template: { spec: { ...template.spec, restartPolicy: 'Never' } } } });
  assert.deepEqual(errors, []);
  const spec = obj.spec as any;
  assert.deepEqual(spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': 'abc-123' } });
  assert.equal(spec.template.metadata.labels['job-name'], 'pi');
  assert.equal(spec.backoffLimit, 6);
  assert.equal(spec.completions, 1);
  const changed = structuredClone(obj);
  (changed.spec as any).template.spec.containers[0].image = 'perl:5.36';
  assert.match(update(jobs, obj, changed)[0]!, /^spec\.template: Invalid value: .*: field is immutable$/);
});

test('cron jobs need a schedule', () => {
  const cj = def('batch', 'cronjobs');
  const jobTemplate = { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [container('c', 'busybox')] } } } };
  assert.deepEqual(create(cj, { metadata: meta('tick'), spec: { jobTemplate } }).errors, ['spec.schedule: Required value']);
  assert.deepEqual(create(cj, { metadata: meta('tick'), spec: { schedule: '* * *', jobTemplate } }).errors, ['spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]']);
  const { obj, errors } = create(cj, { metadata: meta('tick'), spec: { schedule: '*/5 * * * *', jobTemplate } });
  assert.deepEqual(errors, []);
  assert.equal((obj.spec as any).concurrencyPolicy, 'Allow');
});

test('service defaults, port rules, DNS-1035 names and a fixed cluster IP', () => {
  const svcs = def('', 'services');
  const { obj, errors } = create(svcs, { metadata: meta('web'), spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
  assert.deepEqual(errors, []);
  const spec = obj.spec as any;
  assert.equal(spec.type, 'ClusterIP');
  assert.equal(spec.sessionAffinity, 'None');
  assert.deepEqual(spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
  assert.deepEqual(create(svcs, { metadata: meta('web'), spec: { selector: { app: 'web' } } }).errors, ['spec.ports: Required value']);
  assert.deepEqual(create(svcs, { metadata: meta('db'), spec: { clusterIP: 'None' } }).errors, [], 'headless services need no ports');
  assert.deepEqual(create(svcs, { metadata: meta('ext'), spec: { type: 'ExternalName', externalName: 'db.example.com' } }).errors, []);
  assert.deepEqual(create(svcs, { metadata: meta('web'), spec: { ports: [{ port: 80 }, { port: 443 }] } }).errors, ['spec.ports[0].name: Required value', 'spec.ports[1].name: Required value']);
  assert.match(create(svcs, { metadata: meta('1web'), spec: { ports: [{ port: 80 }] } }).errors[0]!, /^metadata\.name: Invalid value: "1web": a DNS-1035 label must consist of/);

  const stored = structuredClone(obj);
  (stored.spec as any).clusterIP = '10.43.0.20';
  (stored.spec as any).clusterIPs = ['10.43.0.20'];
  const resent = { metadata: meta('web'), spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } };
  assert.deepEqual(update(svcs, stored, resent), [], 'a PUT without clusterIP keeps the allocated one');
  const moved = { metadata: meta('web'), spec: { clusterIP: '10.43.0.99', ports: [{ port: 80 }] } };
  assert.deepEqual(update(svcs, stored, moved), ['spec.clusterIPs[0]: Invalid value: ["10.43.0.99"]: may not change once set']);
});

test('an update with a bad label reports it once', () => {
  const cms = def('', 'configmaps');
  const { obj } = create(cms, { metadata: meta('c'), data: {} });
  assert.deepEqual(update(cms, obj, { ...obj, metadata: { ...obj.metadata, labels: { app: '-x' } } }).map((e) => e.split(':')[0]), ['metadata.labels']);
  assert.deepEqual(update(cms, obj, { ...obj, metadata: { ...obj.metadata, name: 'other' } }), ['metadata.name: Invalid value: "other": field is immutable']);
});

test('namespaces: DNS labels, kubernetes finalizer, Active phase', () => {
  const ns = def('', 'namespaces');
  const { obj, errors } = create(ns, { metadata: { name: 'team-a' } });
  assert.deepEqual(errors, []);
  assert.deepEqual(obj.spec, { finalizers: ['kubernetes'] });
  assert.deepEqual(obj.status, { phase: 'Active' });
  // kubernetes.io/metadata.name is always the name, whatever the client wrote (on create and on update).
  assert.deepEqual(obj.metadata.labels, { 'kubernetes.io/metadata.name': 'team-a' });
  const forged = create(ns, { metadata: { name: 'team-b', labels: { 'kubernetes.io/metadata.name': 'kube-system', tier: 'x' } } }).obj;
  assert.deepEqual(forged.metadata.labels, { 'kubernetes.io/metadata.name': 'team-b', tier: 'x' });
  const next = structuredClone(obj);
  next.metadata.labels = { tier: 'y' };
  ns.strategy.prepareForUpdate!(next, obj);
  assert.deepEqual(next.metadata.labels, { tier: 'y', 'kubernetes.io/metadata.name': 'team-a' });
  assert.deepEqual(create(ns, { metadata: { name: 'team.a' } }).errors, ['metadata.name: Invalid value: "team.a": must not contain dots']);
  assert.deepEqual(create(ns, { metadata: { name: 'x', namespace: 'y' } }).errors, ['metadata.namespace: Forbidden: not allowed on this type']);
});

test('config maps and secrets: keys, stringData, immutability', () => {
  const cms = def('', 'configmaps');
  assert.match(create(cms, { metadata: meta('c'), data: { 'a/b': 'x' } }).errors[0]!, /^data\[a\/b\]: Invalid value: "a\/b": a valid config key must consist of/);
  const frozen = create(cms, { metadata: meta('c'), data: { a: '1' }, immutable: true }).obj;
  assert.deepEqual(update(cms, frozen, { ...frozen, data: { a: '2' } }), ['data: Forbidden: field is immutable when `immutable` is set']);
  const secrets = def('', 'secrets');
  const { obj } = create(secrets, { metadata: meta('s'), stringData: { password: 'hunter2' } });
  assert.equal(obj.type, 'Opaque');
  assert.deepEqual(obj.data, { password: Buffer.from('hunter2').toString('base64') });
  assert.equal(obj.stringData, undefined);
  assert.deepEqual(create(secrets, { metadata: meta('t'), type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==' } }).errors, ['data[tls.key]: Required value']);
  assert.deepEqual(update(secrets, obj, { ...obj, type: 'kubernetes.io/tls' }).filter((e) => e.startsWith('type')), ['type: Invalid value: "kubernetes.io/tls": field is immutable']);
});

test('RBAC: path-segment names, roleRef required and immutable', () => {
  const rb = def('rbac.authorization.k8s.io', 'rolebindings');
  const binding = { metadata: meta('read'), roleRef: { kind: 'Role', name: 'reader' }, subjects: [{ kind: 'User', name: 'alice' }, { kind: 'ServiceAccount', name: 'default', namespace: 'default' }] };
  const { obj, errors } = create(rb, binding);
  assert.deepEqual(errors, []);
  assert.equal((obj.roleRef as any).apiGroup, 'rbac.authorization.k8s.io');
  assert.deepEqual(create(rb, { metadata: meta('x') }).errors, ['roleRef.name: Required value', 'roleRef.kind: Required value']);
  assert.deepEqual(update(rb, obj, { ...obj, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'writer' } }), [
    'roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"writer"}: cannot change roleRef',
  ]);
  const crb = def('rbac.authorization.k8s.io', 'clusterrolebindings');
  assert.deepEqual(create(crb, { metadata: { name: 'system:x' }, roleRef: { kind: 'Role', name: 'r' } }).errors, ['roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"']);
  const roles = def('rbac.authorization.k8s.io', 'roles');
  assert.deepEqual(create(roles, { metadata: meta('r'), rules: [{ verbs: ['get'], resources: ['pods'] }] }).errors, [
    'rules[0].apiGroups: Required value: resource rules must supply at least one api group',
  ]);
  assert.deepEqual(create(roles, { metadata: meta('a/b'), rules: [] }).errors, ['metadata.name: Invalid value: "a/b": may not contain \'/\'']);
});

test('storage classes: qualified-name provisioners, frozen provisioning fields', () => {
  const scs = def('storage.k8s.io', 'storageclasses');
  const { obj, errors } = create(scs, { metadata: { name: 'local' }, provisioner: 'rancher.io/local-path' });
  assert.deepEqual(errors, []);
  assert.equal(obj.reclaimPolicy, 'Delete');
  assert.equal(obj.volumeBindingMode, 'Immediate');
  assert.deepEqual(create(scs, { metadata: { name: 'x' } }).errors, ['provisioner: Required value']);
  assert.deepEqual(update(scs, obj, { ...obj, reclaimPolicy: 'Retain' }), ['reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.']);
});

test('persistent volume claims: required request, immutable spec except resources', () => {
  const pvcs = def('', 'persistentvolumeclaims');
  assert.deepEqual(create(pvcs, { metadata: meta('data'), spec: { accessModes: ['ReadWriteOnce'] } }).errors, ['spec.resources[storage]: Required value']);
  const { obj } = create(pvcs, { metadata: meta('data'), spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
  assert.equal((obj.status as any).phase, 'Pending');
  const grown = structuredClone(obj);
  (grown.spec as any).resources.requests.storage = '2Gi';
  assert.deepEqual(update(pvcs, obj, grown), []);
  const remoded = structuredClone(obj);
  (remoded.spec as any).accessModes = ['ReadWriteMany'];
  assert.deepEqual(update(pvcs, obj, remoded), ['spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims']);
});

test('immutable node and persistent volume fields are refused on update', () => {
  const nodes = def('', 'nodes');
  const node = { metadata: { name: 'n1' }, spec: { podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'], providerID: 'skiff://n1' } };
  assert.deepEqual(update(nodes, { metadata: { name: 'n1' }, spec: {} }, node), [], 'set once from empty');
  assert.equal(update(nodes, node, { ...node, spec: { ...node.spec, podCIDR: '10.42.1.0/24', podCIDRs: ['10.42.1.0/24'] } }).length, 1);
  assert.equal(update(nodes, node, { ...node, spec: { ...node.spec, providerID: 'other' } }).length, 1);
  const pvs = def('', 'persistentvolumes');
  const pv = { metadata: { name: 'pv1' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/data' }, volumeMode: 'Filesystem' } };
  assert.deepEqual(update(pvs, pv, { ...pv, spec: { ...pv.spec, capacity: { storage: '2Gi' } } }), []);
  assert.match(update(pvs, pv, { ...pv, spec: { ...pv.spec, hostPath: { path: '/other' } } })[0]!, /spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation/);
  assert.match(update(pvs, pv, { ...pv, spec: { ...pv.spec, volumeMode: 'Block' } })[0]!, /spec.volumeMode: Invalid value: "Block": field is immutable/);
});
