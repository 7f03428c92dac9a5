import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../../api/object.js';
import { isStatusError } from '../../../api/status.js';
import { MemoryStore } from '../../../storage/memory-store.js';
import type { ResourceDefinition } from '../../registry/types.js';
import type { AdmissionAttributes, Operation } from '../types.js';
import { ResourceQuotaAdmission } from './resource-quota-admission.js';

const key = (name: string, ns = 'apps') => `/registry/core/resourcequotas/${ns}/${name}`;

async function seedQuota(store: MemoryStore, name: string, hard: Record<string, string>, used: Record<string, string>, spec: Record<string, unknown> = {}): Promise<void> {
  const q = { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name, namespace: 'apps' }, spec: { hard, ...spec }, status: { hard, used } };
  await store.create(key(name), JSON.stringify(q));
}

async function usedOf(store: MemoryStore, name: string): Promise<Record<string, string>> {
  return JSON.parse((await store.get(key(name))).kv!.value).status.used;
}

function pod(name: string, resources: { requests?: Record<string, string>; limits?: Record<string, string> } = {}, extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'apps' }, spec: { containers: [{ name: 'app', image: 'x', resources }], ...extra } } as KubeObject;
}

async function admit(store: MemoryStore, plugin: ResourceQuotaAdmission, object: KubeObject, opts: { plural?: string; group?: string; operation?: Operation; oldObject?: KubeObject; dryRun?: boolean } = {}): Promise<string | undefined> {
  const attrs: AdmissionAttributes = {
    operation: opts.operation ?? 'CREATE',
    resource: { group: opts.group ?? '', plural: opts.plural ?? 'pods', namespaced: true } as ResourceDefinition,
    subresource: '',
    namespace: 'apps',
    name: object.metadata.name!,
    object,
    oldObject: opts.oldObject,
    user: { username: 'u', groups: [] },
    dryRun: opts.dryRun ?? false,
    onFinish: () => {},
    warn: () => {},
  };
  if (!plugin.handles(attrs)) return 'not handled';
  try {
    // The plugin looks at the store only in namespaces the watch cache knows quotas in: give it the store's view.
    const quotas = (await store.list('/registry/core/resourcequotas/')).kvs.map((kv) => JSON.parse(kv.value) as KubeObject);
    await plugin.validate(attrs, { list: (_g, plural) => (plural === 'resourcequotas' ? quotas : []), cached: () => undefined, get: async () => undefined });
    return undefined;
  } catch (err) {
    assert.ok(isStatusError(err));
    assert.equal(err.code, 403);
    return err.message;
  }
}

test('pods=2: the third pod is refused in upstream words, and each admitted pod is charged', async () => {
  const store = new MemoryStore();
  await seedQuota(store, 'pods', { pods: '2' }, { pods: '0' });
  const plugin = new ResourceQuotaAdmission({ store });
  assert.equal(await admit(store, plugin, pod('a')), undefined);
  assert.equal(await admit(store, plugin, pod('b')), undefined);
  assert.deepEqual(await usedOf(store, 'pods'), { pods: '2' });
  assert.equal(await admit(store, plugin, pod('c')), 'pods "c" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2');
  assert.deepEqual(await usedOf(store, 'pods'), { pods: '2' });
});

test('compute resources: requests and limits are summed, and only exceeded names are shown', async () => {
  const store = new MemoryStore();
  await seedQuota(store, 'compute', { 'requests.cpu': '1', 'limits.memory': '1Gi', pods: '10' }, { 'requests.cpu': '600m', 'limits.memory': '0', pods: '1' });
  const plugin = new ResourceQuotaAdmission({ store });
  const res = { requests: { cpu: '500m', memory: '100Mi' }, limits: { cpu: '1', memory: '512Mi' } };
  assert.equal(await admit(store, plugin, pod('big', res)), 'pods "big" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1');
  assert.equal(await admit(store, plugin, pod('ok', { ...res, requests: { cpu: '400m', memory: '100Mi' } })), undefined);
  assert.deepEqual(await usedOf(store, 'compute'), { 'limits.memory': '512Mi', pods: '2', 'requests.cpu': '1' });
});

test('a quota on cpu or memory requires every container to state it', async () => {
  const store = new MemoryStore();
  await seedQuota(store, 'compute', { 'limits.cpu': '2', 'requests.memory': '1Gi' }, { 'limits.cpu': '0', 'requests.memory': '0' });
  const plugin = new ResourceQuotaAdmission({ store });
  const p = pod('p', { requests: { memory: '10Mi' } });
  (p.spec as { containers: unknown[] }).containers.push({ name: 'side', image: 'x' });
  assert.equal(await admit(store, plugin, p), 'pods "p" is forbidden: failed quota: compute: must specify limits.cpu for: app,side; requests.memory for: side');
});

test('scopes: BestEffort, NotBestEffort, Terminating and PriorityClass select the pods they name', async () => {
  const store = new MemoryStore();
  await seedQuota(store, 'besteffort', { pods: '0' }, { pods: '0' }, { scopes: ['BestEffort'] });
  await seedQuota(store, 'terminating', { pods: '0' }, { pods: '0' }, { scopes: ['Terminating'] });
  await seedQuota(store, 'high', { pods: '0' }, { pods: '0' }, { scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }] } });
  const plugin = new ResourceQuotaAdmission({ store });
  assert.match((await admit(store, plugin, pod('be')))!, /exceeded quota: besteffort/);
  assert.equal(await admit(store, plugin, pod('burst', { requests: { cpu: '1' } })), undefined);
  assert.match((await admit(store, plugin, pod('job', { requests: { cpu: '1' } }, { activeDeadlineSeconds: 30 })))!, /exceeded quota: terminating/);
  assert.match((await admit(store, plugin, pod('vip', { requests: { cpu: '1' } }, { priorityClassName: 'high' })))!, /exceeded quota: high/);
  assert.equal(await admit(store, plugin, pod('low', { requests: { cpu: '1' } }, { priorityClassName: 'low' })), undefined);
});

test('object counts: services, node ports, load balancers, configmaps and count/<resource>.<group>', async () => {
  const store = new MemoryStore();
  await seedQuota(store, 'objects', { services: '5', 'services.nodeports': '1', 'services.loadbalancers': '0', configmaps: '1', 'count/deployments.apps': '0' }, { services: '0', 'services.nodeports': '0', 'services.loadbalancers': '0', configmaps: '1', 'count/deployments.apps': '0' });
  const plugin = new ResourceQuotaAdmission({ store });
  const svc = (name: string, type: string, ports: number) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'apps' }, spec: { type, ports: Array.from({ length: ports }, (_, i) => ({ port: 80 + i })) } }) as unknown as KubeObject;
  assert.equal(await admit(store, plugin, svc('one', 'NodePort', 2), { plural: 'services' }), 'services "one" is forbidden: exceeded quota: objects, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1');
  assert.equal(await admit(store, plugin, svc('lb', 'LoadBalancer', 1), { plural: 'services' }), 'services "lb" is forbidden: exceeded quota: objects, requested: services.loadbalancers=1, used: services.loadbalancers=0, limited: services.loadbalancers=0');
  assert.equal(await admit(store, plugin, svc('np', 'NodePort', 1), { plural: 'services' }), undefined);
  // An update that turns a ClusterIP service into a NodePort one is charged the difference.
  const cip = svc('cip', 'ClusterIP', 1);
  assert.equal(await admit(store, plugin, cip, { plural: 'services' }), undefined);
  assert.match((await admit(store, plugin, svc('cip', 'NodePort', 1), { plural: 'services', operation: 'UPDATE', oldObject: cip }))!, /exceeded quota: objects, requested: services.nodeports=1, used: services.nodeports=1/);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'apps' } } as KubeObject;
  assert.match((await admit(store, plugin, cm, { plural: 'configmaps' }))!, /^configmaps "cm" is forbidden: exceeded quota: objects, requested: configmaps=1, used: configmaps=1, limited: configmaps=1$/);
  const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'apps' } } as KubeObject;
  assert.equal(await admit(store, plugin, deploy, { plural: 'deployments', group: 'apps' }), 'deployments.apps "d" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=0, limited: count/deployments.apps=0');
  assert.deepEqual(await usedOf(store, 'objects'), { configmaps: '1', 'count/deployments.apps': '0', services: '2', 'services.loadbalancers': '0', 'services.nodeports': '1' });
});

test('a quota without status.hard is not enforced yet; one without usage for a tracked name refuses', async () => {
  const store = new MemoryStore();
  await store.create(key('fresh'), JSON.stringify({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'fresh', namespace: 'apps' }, spec: { hard: { pods: '0' } } }));
  const plugin = new ResourceQuotaAdmission({ store });
  assert.equal(await admit(store, plugin, pod('a')), undefined);
  await seedQuota(store, 'partial', { pods: '5' }, {});
  assert.equal(await admit(store, plugin, pod('b')), 'pods "b" is forbidden: status unknown for quota: partial, resources: pods');
});

test('dry runs check but charge nothing', async () => {
  const store = new MemoryStore();
  await seedQuota(store, 'pods', { pods: '1' }, { pods: '0' });
  const plugin = new ResourceQuotaAdmission({ store });
  assert.equal(await admit(store, plugin, pod('a'), { dryRun: true }), undefined);
  assert.deepEqual(await usedOf(store, 'pods'), { pods: '0' });
});

test('concurrent creates never overshoot, across two servers sharing one store', async () => {
  const store = new MemoryStore();
  await seedQuota(store, 'pods', { pods: '5' }, { pods: '0' });
  // Two plugin instances: the per-process chain cannot serialize them, only compare-and-swap can. Quota reads are
  // slowed so that both servers read the same usage before either writes: without the revision check the second
  // write would overwrite the first and admit more than 5.
  const slow = Object.create(store) as MemoryStore;
  slow.list = async (prefix, opts) => {
    const res = await store.list(prefix, opts);
    await new Promise((r) => setTimeout(r, 5));
    return res;
  };
  const a = new ResourceQuotaAdmission({ store: slow });
  const b = new ResourceQuotaAdmission({ store: slow });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => admit(store, i % 2 ? a : b, pod(`p${i}`))));
  assert.equal(results.filter((r) => r === undefined).length, 5);
  assert.equal(results.filter((r) => r?.includes('exceeded quota: pods, requested: pods=1, used: pods=5, limited: pods=5')).length, 15);
  assert.deepEqual(await usedOf(store, 'pods'), { pods: '5' });
});

test('terminal pods count nothing; a quota-free namespace is untouched', async () => {
  const store = new MemoryStore();
  const plugin = new ResourceQuotaAdmission({ store });
  assert.equal(await admit(store, plugin, pod('a')), undefined);
  await seedQuota(store, 'pods', { pods: '0' }, { pods: '0' });
  const done = pod('done');
  (done as { status?: unknown }).status = { phase: 'Succeeded' };
  assert.equal(await admit(store, plugin, done), undefined);
});
