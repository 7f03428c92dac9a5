import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { ConfigMaps, Deployments, Pods, ReplicaSets } from '../../client/resources.js';
import type { ResourceType } from '../../client/types.js';
import { defaultControllerOptions } from '../controller.js';
import { GarbageCollector } from './garbage-collector.js';

const TYPES = [Deployments, ReplicaSets, Pods, ConfigMaps];

/** A GC running with workers over a fake API whose writes reach the informers as a watch would deliver them. */
async function fixture(seed: (client: FakeClient) => void) {
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  const informers = new FakeInformerFactory();
  seed(client);
  for (const rt of TYPES) for (const obj of client.all(rt)) informers.informerFor(rt).add(obj);
  for (const rt of TYPES) mirror(client, informers, rt);
  const gc = new GarbageCollector({ client, informers, clock, recorder: () => new FakeRecorder(), options: defaultControllerOptions });
  gc.start();
  const running = gc.run(2);
  await settle();
  client.clearActions();
  const stop = async () => {
    gc.stop();
    await running;
  };
  const names = (rt: ResourceType) => client.all(rt).map((o) => o.metadata.name);
  return { clock, client, informers, gc, stop, names };
}

function mirror(client: FakeClient, informers: FakeInformerFactory, rt: ResourceType): void {
  const inf = informers.informerFor(rt);
  client.watch(rt, '', { resourceVersion: String(client.currentRevision) }, (ev) => {
    if (ev.type === 'DELETED') inf.delete(ev.object);
    else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') inf.update(ev.object);
  }, () => {});
}

async function settle(rounds = 60): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

const ref = (kind: string, name: string, uid: string, apiVersion = 'apps/v1', block = true) => ({
  apiVersion,
  kind,
  name,
  uid,
  controller: true,
  ...(block ? { blockOwnerDeletion: true } : {}),
});

/** deployment web -> replicaset web-1 -> pods web-1-a, web-1-b */
function seedTree(client: FakeClient, podFinalizer = false): void {
  client.seed(Deployments, { metadata: { name: 'web', namespace: 'default', uid: 'd1' }, spec: {} });
  client.seed(ReplicaSets, { metadata: { name: 'web-1', namespace: 'default', uid: 'rs1', ownerReferences: [ref('Deployment', 'web', 'd1')] }, spec: {} });
  for (const p of ['web-1-a', 'web-1-b']) {
    client.seed(Pods, {
      metadata: {
        name: p,
        namespace: 'default',
        uid: `pod-${p}`,
        ownerReferences: [ref('ReplicaSet', 'web-1', 'rs1')],
        ...(podFinalizer && p === 'web-1-a' ? { finalizers: ['test.skiff.dev/kubelet'] } : {}),
      },
      spec: {},
    });
  }
}

test('background: deleting the owner deletes its dependents, level by level, with uid preconditions', async () => {
  const f = await fixture((client) => {
    seedTree(client);
    // A pod with a second, living owner stays; it only loses the reference to the dead one.
    client.seed(ConfigMaps, { metadata: { name: 'keeper', namespace: 'default', uid: 'cm1' } });
    client.seed(Pods, {
      metadata: { name: 'shared', namespace: 'default', uid: 'pod-shared', ownerReferences: [ref('ReplicaSet', 'web-1', 'rs1'), ref('ConfigMap', 'keeper', 'cm1', 'v1', false)] },
      spec: {},
    });
  });
  await f.client.delete(Deployments, 'default', 'web');
  await settle();
  await f.stop();

  assert.deepEqual(f.names(ReplicaSets), []);
  assert.deepEqual(f.names(Pods), ['shared']);
  assert.deepEqual(f.client.peek(Pods, 'default', 'shared')!.metadata.ownerReferences!.map((r) => r.name), ['keeper']);
  const deletes = f.client.actions.filter((a) => a.verb === 'delete' && a.resource !== 'deployments');
  assert.deepEqual(
    deletes.map((a) => [a.resource, a.name, (a.object as { propagationPolicy: string }).propagationPolicy, (a.object as { preconditions: { uid: string } }).preconditions.uid]).sort(),
    [
      ['pods', 'web-1-a', 'Background', 'pod-web-1-a'],
      ['pods', 'web-1-b', 'Background', 'pod-web-1-b'],
      ['replicasets', 'web-1', 'Background', 'rs1'],
    ],
  );
});

test('foreground: the owner stays, with its finalizer, until every blocking dependent is gone', async () => {
  const f = await fixture((client) => {
    seedTree(client, true);
    // Not blocking: deleted too, but not waited for.
    client.seed(ConfigMaps, { metadata: { name: 'web-config', namespace: 'default', uid: 'cm2', ownerReferences: [ref('Deployment', 'web', 'd1', 'apps/v1', false)] } });
  });
  await f.client.delete(Deployments, 'default', 'web', { propagationPolicy: 'Foreground' });
  await settle();

  // web-1-a is held by its (kubelet-like) finalizer: the ReplicaSet and the Deployment wait for it.
  assert.deepEqual(f.names(Pods), ['web-1-a']);
  assert.deepEqual(f.names(ConfigMaps), []);
  assert.deepEqual(f.client.peek(ReplicaSets, 'default', 'web-1')!.metadata.finalizers, ['foregroundDeletion']);
  assert.deepEqual(f.client.peek(Deployments, 'default', 'web')!.metadata.finalizers, ['foregroundDeletion']);
  const rsDelete = f.client.actions.find((a) => a.verb === 'delete' && a.resource === 'replicasets')!;
  assert.equal((rsDelete.object as { propagationPolicy: string }).propagationPolicy, 'Foreground', 'a dependent with dependents goes in the foreground too');

  const pod = f.client.peek(Pods, 'default', 'web-1-a')!;
  pod.metadata.finalizers = [];
  await f.client.update(Pods, 'default', pod);
  await settle();
  await f.stop();
  assert.deepEqual([f.names(Deployments), f.names(ReplicaSets), f.names(Pods)], [[], [], []]);
});

test('orphan: dependents lose the reference and stay; then the owner goes', async () => {
  const f = await fixture((client) => seedTree(client));
  await f.client.delete(Deployments, 'default', 'web', { propagationPolicy: 'Orphan' });
  await settle();
  await f.stop();
  assert.deepEqual(f.names(Deployments), []);
  assert.deepEqual(f.names(ReplicaSets), ['web-1']);
  assert.equal(f.client.peek(ReplicaSets, 'default', 'web-1')!.metadata.ownerReferences, undefined);
  assert.deepEqual(f.names(Pods), ['web-1-a', 'web-1-b'], 'grandchildren keep their own owner');
  assert.deepEqual(
    f.client.actions.filter((a) => a.verb === 'patch').map((a) => [a.resource, a.name]),
    [['replicasets', 'web-1'], ['deployments', 'web']],
  );
});

test('a dependent whose owner name now belongs to another object (other uid) is garbage', async () => {
  const f = await fixture((client) => {
    // The ReplicaSet was deleted and re-created under the same name: a new uid.
    client.seed(ReplicaSets, { metadata: { name: 'web-1', namespace: 'default', uid: 'rs-new' }, spec: {} });
    client.seed(Pods, { metadata: { name: 'stale', namespace: 'default', uid: 'p-stale', ownerReferences: [ref('ReplicaSet', 'web-1', 'rs-old')] }, spec: {} });
    client.seed(Pods, { metadata: { name: 'current', namespace: 'default', uid: 'p-cur', ownerReferences: [ref('ReplicaSet', 'web-1', 'rs-new')] }, spec: {} });
  });
  await settle();
  await f.stop();
  assert.deepEqual(f.names(Pods), ['current']);
  assert.deepEqual(f.names(ReplicaSets), ['web-1']);
});

test('an owner the cache has not seen yet but the API has is not mistaken for a missing one', async () => {
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  const informers = new FakeInformerFactory();
  // The ReplicaSet exists on the server, but its informer is behind: only the pod is cached.
  client.seed(ReplicaSets, { metadata: { name: 'web-1', namespace: 'default', uid: 'rs1' }, spec: {} });
  client.seed(Pods, { metadata: { name: 'p', namespace: 'default', uid: 'p1', ownerReferences: [ref('ReplicaSet', 'web-1', 'rs1')] }, spec: {} });
  informers.informerFor(Pods).add(client.peek(Pods, 'default', 'p')!);
  const gc = new GarbageCollector({ client, informers, clock, recorder: () => new FakeRecorder(), options: defaultControllerOptions });
  gc.start();
  assert.equal(await gc.attemptToDelete('rs1'), 'requeue', 'a virtual node that exists is re-checked once observed');
  assert.equal(await gc.attemptToDelete('p1'), 'done');
  // One live read of the virtual owner, one of the pod's owner when judging the pod (the pod itself is cached).
  assert.deepEqual(client.actions.map((a) => [a.verb, a.resource, a.name]), [['get', 'replicasets', 'web-1'], ['get', 'replicasets', 'web-1']]);
  assert.deepEqual(client.all(Pods).map((p) => p.metadata.name), ['p']);
});
