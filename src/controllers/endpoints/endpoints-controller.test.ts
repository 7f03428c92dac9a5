import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { Endpoints, Pods, Services } from '../../client/resources.js';
import { defaultControllerOptions } from '../controller.js';
import { EndpointsController } from './endpoints-controller.js';

function fixture() {
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  const informers = new FakeInformerFactory();
  const controller = new EndpointsController({ client, informers, clock, recorder: () => new FakeRecorder(), options: defaultControllerOptions });
  controller.start();
  return { clock, client, informers, controller };
}

function service(name: string, spec: Record<string, unknown>, labels?: Record<string, string>): KubeObject {
  return { metadata: { name, namespace: 'default', uid: `uid-${name}`, ...(labels ? { labels } : {}) }, spec };
}

interface PodOpts {
  ip?: string;
  ready?: boolean;
  labels?: Record<string, string>;
  node?: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  deleting?: boolean;
  phase?: string;
}

function pod(name: string, o: PodOpts = {}): KubeObject {
  return {
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      labels: o.labels ?? { app: 'web' },
      ...(o.deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}),
    },
    spec: { nodeName: o.node ?? 'node-1', containers: [{ name: 'c', image: 'nginx', ports: o.ports ?? [{ name: 'http', containerPort: 8080 }] }] },
    status: {
      phase: o.phase ?? 'Running',
      ...(o.ip === undefined ? {} : { podIP: o.ip, podIPs: [{ ip: o.ip }] }),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

/** The same JSON value with every object's keys in reverse order. */
function reversedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reversedKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversedKeys(x)]));
}

/** Delivers the client's writes of one type to the test informer, as a real informer's watch would. */
function mirror(client: FakeClient, informers: FakeInformerFactory, rt: typeof Endpoints): void {
  const inf = informers.informerFor(rt);
  client.watch(rt, '', { resourceVersion: String(client.currentRevision) }, (ev) => {
    if (ev.type === 'DELETED') inf.delete(ev.object);
    else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') inf.update(ev.object);
  }, () => {});
}

const ref = (name: string) => ({ kind: 'Pod', namespace: 'default', name, uid: `uid-${name}` });

test('ready and not-ready pods; a named targetPort resolves to each pod container port of that name', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Services).add(
    service('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] }, { tier: 'front' }),
  );
  informers.informerFor(Pods).add(pod('a', { ip: '10.42.0.2' }));
  informers.informerFor(Pods).add(pod('b', { ip: '10.42.0.3', ready: false, node: 'node-2' }));
  // Same name, other number: a pod of a newer version during a rollout.
  informers.informerFor(Pods).add(pod('c', { ip: '10.42.0.4', ports: [{ name: 'http', containerPort: 9090 }] }));
  informers.informerFor(Pods).add(pod('no-ip'));
  informers.informerFor(Pods).add(pod('other', { ip: '10.42.0.9', labels: { app: 'db' } }));
  informers.informerFor(Pods).add(pod('done', { ip: '10.42.0.10', phase: 'Succeeded' }));
  informers.informerFor(Pods).add(pod('gone', { ip: '10.42.0.11', deleting: true }));

  await controller.syncService('default/web');

  assert.deepEqual(
    client.actions.map((a) => [a.verb, a.resource, a.namespace]),
    [['create', 'endpoints', 'default']],
  );
  const ep = client.peek(Endpoints, 'default', 'web')!;
  assert.deepEqual(ep.metadata.labels, { tier: 'front' });
  assert.deepEqual(ep.subsets, [
    {
      addresses: [{ ip: '10.42.0.2', nodeName: 'node-1', targetRef: ref('a') }],
      notReadyAddresses: [{ ip: '10.42.0.3', nodeName: 'node-2', targetRef: ref('b') }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
    {
      addresses: [{ ip: '10.42.0.4', nodeName: 'node-1', targetRef: ref('c') }],
      ports: [{ name: 'http', port: 9090, protocol: 'TCP' }],
    },
  ]);
});

test('a pod without the named port is left out; numeric targetPorts and unset ones (= port) need no lookup', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Services).add(
    service('multi', {
      selector: { app: 'web' },
      ports: [
        { name: 'metrics', port: 9100, targetPort: 'metrics' },
        { name: 'http', port: 80, targetPort: 8080 },
        { name: 'raw', port: 7000 },
      ],
    }),
  );
  informers.informerFor(Pods).add(pod('a', { ip: '10.42.0.2' }));
  await controller.syncService('default/multi');
  const ep = client.peek(Endpoints, 'default', 'multi')!;
  assert.deepEqual(ep.subsets, [
    {
      addresses: [{ ip: '10.42.0.2', nodeName: 'node-1', targetRef: ref('a') }],
      ports: [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'raw', port: 7000, protocol: 'TCP' },
      ],
    },
  ]);
});

test('publishNotReadyAddresses lists unready and terminating pods as ready', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Services).add(service('db', { selector: { app: 'web' }, clusterIP: 'None', publishNotReadyAddresses: true, ports: [{ port: 5432 }] }));
  informers.informerFor(Pods).add(pod('a', { ip: '10.42.0.2', ready: false }));
  informers.informerFor(Pods).add(pod('b', { ip: '10.42.0.3', deleting: true }));
  await controller.syncService('default/db');
  const ep = client.peek(Endpoints, 'default', 'db')!;
  assert.deepEqual(ep.metadata.labels, { 'service.kubernetes.io/headless': '' });
  assert.deepEqual(
    (ep.subsets as { addresses: { ip: string }[] }[]).map((s) => s.addresses.map((a) => a.ip)),
    [['10.42.0.2', '10.42.0.3']],
  );
});

test('an up-to-date Endpoints object is not written again; a change is an update', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Services).add(service('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }));
  informers.informerFor(Pods).add(pod('a', { ip: '10.42.0.2' }));
  await controller.syncService('default/web');
  // Feed what the server stored back into the cache, with keys in another order, as a watch would deliver it.
  const stored = client.peek(Endpoints, 'default', 'web')!;
  informers.informerFor(Endpoints).add(reversedKeys(stored) as KubeObject);
  client.clearActions();
  await controller.syncService('default/web');
  assert.equal(client.actions.length, 0);

  informers.informerFor(Pods).update(pod('a', { ip: '10.42.0.2', ready: false }));
  await controller.syncService('default/web');
  assert.deepEqual(client.actions.map((a) => a.verb), ['update']);
  assert.deepEqual(client.peek(Endpoints, 'default', 'web')!.subsets, [
    { notReadyAddresses: [{ ip: '10.42.0.2', nodeName: 'node-1', targetRef: ref('a') }], ports: [{ port: 8080, protocol: 'TCP' }] },
  ]);
});

test('a service without a selector is left alone; a deleted service takes its Endpoints along', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Services).add(service('manual', { ports: [{ port: 80 }] }));
  informers.informerFor(Endpoints).add({ metadata: { name: 'manual', namespace: 'default' }, subsets: [{ addresses: [{ ip: '192.168.1.1' }] }] });
  await controller.syncService('default/manual');
  assert.equal(client.actions.length, 0);

  client.seed(Endpoints, { metadata: { name: 'web', namespace: 'default' } });
  informers.informerFor(Endpoints).add({ metadata: { name: 'web', namespace: 'default' } });
  await controller.syncService('default/web');
  assert.deepEqual(client.actions.map((a) => [a.verb, a.resource, a.name]), [['delete', 'endpoints', 'web']]);
  assert.equal(client.peek(Endpoints, 'default', 'web'), undefined);
});

test('pod events queue the services that select the pod, batched for 100 ms', async () => {
  const { clock, client, informers, controller } = fixture();
  informers.informerFor(Services).add(service('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
  informers.informerFor(Services).add(service('db', { selector: { app: 'db' }, ports: [{ port: 80 }] }));
  mirror(client, informers, Endpoints);
  const run = controller.run(1);
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  await settle();
  assert.deepEqual(client.all(Endpoints).map((e) => [e.metadata.name, e.subsets ?? []]), [['db', []], ['web', []]]);
  // The pod moves from web to db by a label change: both services must be synced.
  const ipsOf = (name: string) =>
    ((client.peek(Endpoints, 'default', name)!.subsets ?? []) as { addresses?: { ip: string }[] }[]).flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
  informers.informerFor(Pods).add(pod('a', { ip: '10.42.0.2', labels: { app: 'web' } }));
  await settle();
  assert.deepEqual(ipsOf('web'), [], 'not before the batch period is over');
  await clock.advanceAsync(100);
  await settle();
  assert.deepEqual([ipsOf('web'), ipsOf('db')], [['10.42.0.2'], []]);
  informers.informerFor(Pods).update(pod('a', { ip: '10.42.0.2', labels: { app: 'db' } }));
  await clock.advanceAsync(100);
  await settle();
  controller.stop();
  await run;
  assert.deepEqual([ipsOf('web'), ipsOf('db')], [[], ['10.42.0.2']]);
});
