import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { EndpointSlices, Nodes, Pods, Services } from '../../client/resources.js';
import type { ResourceType } from '../../client/types.js';
import { defaultControllerOptions } from '../controller.js';
import type { EndpointSlice } from './compute-slices.js';
import { EndpointSliceController } from './endpointslice-controller.js';

function fixture() {
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  const informers = new FakeInformerFactory();
  const controller = new EndpointSliceController({ client, informers, clock, recorder: () => new FakeRecorder(), options: defaultControllerOptions });
  controller.start();
  return { client, informers, controller };
}

/** Delivers the client's writes of one type to the test informer, as a real informer's watch would. */
function mirror(client: FakeClient, informers: FakeInformerFactory, rt: ResourceType): void {
  const inf = informers.informerFor(rt);
  client.watch(rt, '', { resourceVersion: String(client.currentRevision) }, (ev) => {
    if (ev.type === 'DELETED') inf.delete(ev.object);
    else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') inf.update(ev.object);
  }, () => {});
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

const web = (extra: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'web', namespace: 'default', uid: 'uid-web', labels: { app: 'web' } },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], ...extra },
});

function pod(name: string, ip: string | undefined, o: { ready?: boolean; deleting?: boolean; node?: string } = {}): KubeObject {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}) },
    spec: { nodeName: o.node ?? 'node-1', containers: [{ name: 'c', image: 'nginx', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: { phase: 'Running', ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}), conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

const ipOf = (i: number) => `10.42.${Math.floor(i / 250)}.${(i % 250) + 2}`;

test('one slice per service: labels, owner, address type, ports, and endpoint conditions', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Services).add(web());
  informers.informerFor(Nodes).add({ metadata: { name: 'node-2', labels: { 'topology.kubernetes.io/zone': 'z2' } } });
  informers.informerFor(Pods).add(pod('a', '10.42.0.2'));
  informers.informerFor(Pods).add(pod('b', '10.42.0.3', { ready: false, node: 'node-2' }));
  informers.informerFor(Pods).add(pod('c', '10.42.0.4', { deleting: true }));
  informers.informerFor(Pods).add(pod('no-ip', undefined));

  await controller.syncService('default/web');

  assert.deepEqual(client.actions.map((a) => [a.verb, a.resource]), [['create', 'endpointslices']]);
  const [slice] = client.all<EndpointSlice>(EndpointSlices);
  assert.match(slice.metadata.name!, /^web-[a-z0-9]{5}$/);
  assert.deepEqual(slice.metadata.labels, {
    app: 'web',
    'kubernetes.io/service-name': 'web',
    'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
  });
  assert.deepEqual(slice.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'uid-web', controller: true, blockOwnerDeletion: true }]);
  assert.equal(slice.addressType, 'IPv4');
  assert.deepEqual(slice.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  const ref = (name: string) => ({ kind: 'Pod', namespace: 'default', name, uid: `uid-${name}` });
  assert.deepEqual(slice.endpoints, [
    { addresses: ['10.42.0.2'], conditions: { ready: true, serving: true, terminating: false }, targetRef: ref('a'), nodeName: 'node-1' },
    { addresses: ['10.42.0.3'], conditions: { ready: false, serving: false, terminating: false }, targetRef: ref('b'), nodeName: 'node-2', zone: 'z2' },
    // Terminating: kept so proxies can drain it, but never ready.
    { addresses: ['10.42.0.4'], conditions: { ready: false, serving: true, terminating: true }, targetRef: ref('c'), nodeName: 'node-1' },
  ]);
});

test('250 pods make slices of 100, 100 and 50; churn is absorbed by updates without new slices', async () => {
  const { client, informers, controller } = fixture();
  mirror(client, informers, EndpointSlices);
  informers.informerFor(Services).add(web());
  for (let i = 0; i < 250; i++) informers.informerFor(Pods).add(pod(`p${String(i).padStart(3, '0')}`, ipOf(i)));
  await controller.syncService('default/web');
  await settle();
  const sizes = () => client.all<EndpointSlice>(EndpointSlices).map((s) => s.endpoints.length).sort((a, b) => b - a);
  assert.deepEqual(sizes(), [100, 100, 50]);
  assert.deepEqual(client.actions.map((a) => a.verb), ['create', 'create', 'create']);

  // Ten pods go, five come: the five fill the gap left in the slice that is written anyway.
  client.clearActions();
  for (let i = 0; i < 10; i++) informers.informerFor(Pods).delete(`default/p${String(i).padStart(3, '0')}`);
  for (let i = 250; i < 255; i++) informers.informerFor(Pods).add(pod(`p${i}`, ipOf(i)));
  await controller.syncService('default/web');
  await settle();
  assert.deepEqual(client.actions.map((a) => a.verb), ['update']);
  assert.deepEqual(sizes(), [100, 95, 50]);
  const all = client.all<EndpointSlice>(EndpointSlices).flatMap((s) => s.endpoints.map((e) => e.targetRef!.name));
  assert.equal(new Set(all).size, 245, 'every pod listed exactly once');

  // Nothing changed: nothing is written.
  client.clearActions();
  await controller.syncService('default/web');
  assert.equal(client.actions.length, 0);
});

test('a service without pods gets one empty placeholder slice, written once', async () => {
  const { client, informers, controller } = fixture();
  mirror(client, informers, EndpointSlices);
  informers.informerFor(Services).add(web());
  await controller.syncService('default/web');
  await settle();
  const slices = client.all<EndpointSlice>(EndpointSlices);
  assert.deepEqual(slices.map((s) => [s.endpoints, s.ports]), [[[], []]]);
  client.clearActions();
  await controller.syncService('default/web');
  assert.equal(client.actions.length, 0);

  // The first pod goes into the placeholder's stead: one update (the placeholder is reused), no create/delete pair.
  informers.informerFor(Pods).add(pod('a', '10.42.0.2'));
  await controller.syncService('default/web');
  await settle();
  assert.deepEqual(client.actions.map((a) => a.verb), ['update']);
  assert.deepEqual(client.all<EndpointSlice>(EndpointSlices).map((s) => [s.metadata.name, s.endpoints.length, s.ports]), [
    [slices[0].metadata.name, 1, [{ name: 'http', port: 8080, protocol: 'TCP' }]],
  ]);
});

test('no slices for services without a selector or of type ExternalName', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Services).add({ metadata: { name: 'manual', namespace: 'default', uid: 'u1' }, spec: { ports: [{ port: 80 }] } });
  informers.informerFor(Services).add({ metadata: { name: 'ext', namespace: 'default', uid: 'u2' }, spec: { type: 'ExternalName', externalName: 'example.com', selector: { app: 'web' } } });
  informers.informerFor(Pods).add(pod('a', '10.42.0.2'));
  await controller.syncService('default/manual');
  await controller.syncService('default/ext');
  assert.equal(client.actions.length, 0);
});

test('a cache that has not seen our last create is not planned from (no duplicate slices)', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Services).add(web());
  informers.informerFor(Pods).add(pod('a', '10.42.0.2'));
  await controller.syncService('default/web');
  assert.equal(client.actions.length, 1);
  // The informer is not fed here, so the created slice is still missing from the cache.
  await assert.rejects(controller.syncService('default/web'), /informer cache is out of date/);
  assert.equal(client.all(EndpointSlices).length, 1);
  // Once the cache catches up the sync goes through and finds nothing to do.
  informers.informerFor(EndpointSlices).add(client.all(EndpointSlices)[0]);
  client.clearActions();
  await controller.syncService('default/web');
  assert.equal(client.actions.length, 0);
});

test('slices of an earlier service with the same name are deleted, not reused', async () => {
  const { client, informers, controller } = fixture();
  const old = {
    metadata: {
      name: 'web-old12',
      namespace: 'default',
      uid: 'uid-old-slice',
      labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'uid-previous-web', controller: true }],
    },
    addressType: 'IPv4',
    endpoints: [],
    ports: [],
  };
  client.seed(EndpointSlices, old);
  informers.informerFor(EndpointSlices).add(old);
  informers.informerFor(Services).add(web());
  informers.informerFor(Pods).add(pod('a', '10.42.0.2'));
  await controller.syncService('default/web');
  assert.deepEqual(client.actions.map((a) => [a.verb, a.name ?? '']), [['create', ''], ['delete', 'web-old12']]);
});
