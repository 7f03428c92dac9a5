import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { ConfigMaps, Deployments, Namespaces, Pods } from '../../client/resources.js';
import { StatusError } from '../../api/status.js';
import { defaultControllerOptions } from '../controller.js';
import { NamespaceController } from './namespace-controller.js';

async function fixture() {
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  const informers = new FakeInformerFactory();
  const controller = new NamespaceController({ client, informers, clock, recorder: () => new FakeRecorder(), options: defaultControllerOptions });
  controller.start();
  // As the API server does: create gives spec.finalizers [kubernetes]; delete only marks the namespace Terminating.
  await client.create(Namespaces, '', { metadata: { name: 'team-a' } });
  await client.delete(Namespaces, '', 'team-a');
  informers.informerFor(Namespaces).add(client.peek(Namespaces, '', 'team-a')!);
  client.clearActions();
  /** The finalize PUTs the controller made. */
  const finalizes = () =>
    client.actions
      .filter((a) => a.verb === 'update' && a.resource === 'namespaces')
      .map((a) => ({ subresource: a.subresource, finalizers: ((a.object as KubeObject).spec as { finalizers?: string[] }).finalizers }));
  return { clock, client, informers, controller, finalizes };
}

const cm = (ns: string, name: string, finalizers?: string[]): KubeObject => ({ metadata: { name, namespace: ns, ...(finalizers ? { finalizers } : {}) }, data: {} });

test('deleting a namespace deletes its content of every type, then finalizes it', async () => {
  const { client, controller, finalizes } = await fixture();
  client.seed(ConfigMaps, cm('team-a', 'settings'), cm('other', 'keep-me'));
  client.seed(Pods, { metadata: { name: 'web-1', namespace: 'team-a' }, spec: { containers: [] }, status: { phase: 'Running' } });
  client.seed(Deployments, { metadata: { name: 'web', namespace: 'team-a' }, spec: {} });

  await controller.syncNamespace('team-a');

  // One deletecollection per discovered namespaced resource, whether it has objects or not (as upstream).
  const collections = client.actions.filter((a) => a.verb === 'deleteCollection');
  assert.ok(collections.every((a) => a.namespace === 'team-a' && (a.object as { propagationPolicy?: string }).propagationPolicy === 'Background'));
  const emptied = new Set(collections.map((a) => a.resource));
  for (const r of ['configmaps', 'deployments', 'pods', 'roles', 'ingresses', 'networkpolicies', 'events']) assert.ok(emptied.has(r), `${r} emptied`);
  for (const r of ['nodes', 'namespaces', 'clusterroles', 'persistentvolumes']) assert.ok(!emptied.has(r), `${r} is not namespaced`);
  assert.deepEqual(client.actions.filter((a) => a.verb === 'delete'), [], 'no object-by-object deletes where deletecollection works');
  assert.deepEqual(client.all(ConfigMaps).map((c) => `${c.metadata.namespace}/${c.metadata.name}`), ['other/keep-me']);
  assert.deepEqual(finalizes(), [{ subresource: 'finalize', finalizers: [] }]);
  assert.equal(client.peek(Namespaces, '', 'team-a'), undefined, 'finalized: the namespace is gone');
  const lastStatus = client.actions.filter((a) => a.verb === 'updateStatus').at(-1)!.object as KubeObject;
  const conditions = (lastStatus.status as { conditions: { type: string; status: string; reason: string }[] }).conditions;
  assert.deepEqual(
    conditions.map((c) => [c.type, c.status, c.reason]),
    [
      ['NamespaceDeletionDiscoveryFailure', 'False', 'ResourcesDiscovered'],
      ['NamespaceDeletionGroupVersionParsingFailure', 'False', 'ParsedGroupVersions'],
      ['NamespaceDeletionContentFailure', 'False', 'ContentDeleted'],
      ['NamespaceContentRemaining', 'False', 'ContentRemoved'],
      ['NamespaceFinalizersRemaining', 'False', 'ContentRemoved'],
    ],
  );
});

test('content held by a finalizer keeps the namespace: conditions say why, the sync comes back after 15 s', async () => {
  const { clock, client, controller, finalizes } = await fixture();
  client.seed(ConfigMaps, cm('team-a', 'held', ['example.com/cleanup']), cm('team-a', 'plain'));
  // The informer's add of the terminating namespace queued it: the worker's first sync runs now.
  const running = controller.run(1);
  try {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(finalizes().length, 0, 'not finalized while content remains');
    const status = client.peek(Namespaces, '', 'team-a')!.status as { conditions: { type: string; status: string; reason: string; message: string }[] };
    const byType = Object.fromEntries(status.conditions.map((c) => [c.type, c]));
    assert.deepEqual(
      [byType.NamespaceContentRemaining.status, byType.NamespaceContentRemaining.reason, byType.NamespaceContentRemaining.message],
      ['True', 'SomeResourcesRemain', 'Some resources are remaining: configmaps. has 1 resource instances'],
    );
    assert.deepEqual(
      [byType.NamespaceFinalizersRemaining.status, byType.NamespaceFinalizersRemaining.reason, byType.NamespaceFinalizersRemaining.message],
      ['True', 'SomeFinalizerRemain', 'Some finalizers are remaining: example.com/cleanup in 1 resource instances'],
    );

    // The finalizer's owner finishes; the queued re-check 15 s later finds the namespace empty and finalizes it.
    const held = client.peek(ConfigMaps, 'team-a', 'held')!;
    held.metadata.finalizers = [];
    await client.update(ConfigMaps, 'team-a', held);
    await clock.advanceAsync(14_000);
    assert.equal(finalizes().length, 0);
    await clock.advanceAsync(1_000);
    for (let i = 0; i < 10 && finalizes().length === 0; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(finalizes(), [{ subresource: 'finalize', finalizers: [] }]);
    assert.equal(client.peek(Namespaces, '', 'team-a'), undefined);
  } finally {
    controller.stop();
    await running;
  }
});

test('the deletion of a terminating namespace\'s last object brings the re-check forward', async () => {
  const { clock, client, informers, controller, finalizes } = await fixture();
  // A pod being stopped gracefully by its kubelet: 30 s estimate.
  const pod: KubeObject = {
    metadata: { name: 'web-1', namespace: 'team-a', deletionTimestamp: '2025-01-01T00:00:30Z', finalizers: ['test.skiff.dev/kubelet'] },
    spec: { terminationGracePeriodSeconds: 30, containers: [] },
    status: { phase: 'Running' },
  };
  client.seed(Pods, pod);
  informers.informerFor(Pods).add(client.peek(Pods, 'team-a', 'web-1')!);
  const running = controller.run(1);
  try {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(finalizes().length, 0);
    // The kubelet is done after 2 s: the pod goes, the informer says so.
    await clock.advanceAsync(2_000);
    const gone = client.peek(Pods, 'team-a', 'web-1')!;
    gone.metadata.finalizers = [];
    await client.update(Pods, 'team-a', gone);
    informers.informerFor(Pods).delete('team-a/web-1');
    await clock.advanceAsync(1_000);
    for (let i = 0; i < 10 && finalizes().length === 0; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(finalizes().map((u) => u.subresource), ['finalize'], 'finalized 3 s in, not after the 30 s estimate');
  } finally {
    controller.stop();
    await running;
  }
});

const Widgets = { group: 'example.com', version: 'v1', resource: 'widgets', kind: 'Widget', namespaced: true };

test('custom resources found by discovery are emptied too; one held by a finalizer keeps the namespace', async () => {
  const { client, controller, finalizes } = await fixture();
  client.seed(Widgets, { metadata: { name: 'w1', namespace: 'team-a', finalizers: ['example.com/cleanup'] } }, { metadata: { name: 'w2', namespace: 'team-a' } });
  await controller.syncNamespace('team-a');
  assert.ok(client.actions.some((a) => a.verb === 'deleteCollection' && a.resource === 'widgets'));
  assert.deepEqual(client.all(Widgets).map((w) => [w.metadata.name, Boolean(w.metadata.deletionTimestamp)]), [['w1', true]]);
  assert.equal(finalizes().length, 0);
  const conditions = (client.peek(Namespaces, '', 'team-a')!.status as { conditions: { type: string; message: string }[] }).conditions;
  assert.equal(conditions.find((c) => c.type === 'NamespaceContentRemaining')?.message, 'Some resources are remaining: widgets.example.com has 1 resource instances');
  assert.equal(conditions.find((c) => c.type === 'NamespaceFinalizersRemaining')?.message, 'Some finalizers are remaining: example.com/cleanup in 1 resource instances');
});

test('a resource whose deletecollection answers 405 is emptied object by object, and not asked again', async () => {
  const { client, controller } = await fixture();
  client.seed(Widgets, { metadata: { name: 'w1', namespace: 'team-a' } }, { metadata: { name: 'w2', namespace: 'team-a' } });
  client.prependReactor('deleteCollection', 'widgets', () => {
    throw new StatusError({ message: 'the server does not allow this method on the requested resource', reason: 'MethodNotAllowed', code: 405 });
  });
  await controller.syncNamespace('team-a');
  assert.deepEqual(client.actions.filter((a) => a.verb === 'delete').map((a) => a.name).sort(), ['w1', 'w2']);
  assert.deepEqual(client.all(Widgets), []);
  assert.deepEqual(finalizesOf(client), ['finalize']);
  // The next namespace goes straight to object-by-object deletes for widgets.
  await client.create(Namespaces, '', { metadata: { name: 'team-b' } });
  await client.delete(Namespaces, '', 'team-b');
  client.clearActions();
  await controller.syncNamespace('team-b');
  assert.ok(!client.actions.some((a) => a.verb === 'deleteCollection' && a.resource === 'widgets'));
});

test('a group version whose discovery fails: the rest is emptied, the namespace stays with DiscoveryFailed, the sync fails (retried)', async () => {
  const { client, controller, finalizes } = await fixture();
  client.seed(ConfigMaps, cm('team-a', 'settings'));
  client.prependReactor('discovery', '/apis/metrics.k8s.io/v1beta1', () => {
    throw new StatusError({ message: 'the server is currently unable to handle the request', reason: 'ServiceUnavailable', code: 503 });
  });
  const real = await client.discovery<{ groups: unknown[] }>('/apis');
  client.prependReactor('discovery', '/apis', () => ({
    ...real,
    groups: [...real.groups, { name: 'metrics.k8s.io', versions: [{ groupVersion: 'metrics.k8s.io/v1beta1', version: 'v1beta1' }], preferredVersion: { groupVersion: 'metrics.k8s.io/v1beta1', version: 'v1beta1' } }],
  }));
  await assert.rejects(controller.syncNamespace('team-a'), /unable to retrieve the complete list of server APIs: metrics\.k8s\.io\/v1beta1/);
  assert.deepEqual(client.all(ConfigMaps), [], 'what was discovered is deleted');
  assert.equal(finalizes().length, 0, 'not finalized while a group cannot be asked');
  const conditions = (client.peek(Namespaces, '', 'team-a')!.status as { conditions: { type: string; status: string; reason: string; message: string }[] }).conditions;
  const failure = conditions.find((c) => c.type === 'NamespaceDeletionDiscoveryFailure')!;
  assert.deepEqual(
    [failure.status, failure.reason, failure.message],
    ['True', 'DiscoveryFailed', 'Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: metrics.k8s.io/v1beta1: the server is currently unable to handle the request'],
  );
});

function finalizesOf(client: FakeClient): (string | undefined)[] {
  return client.actions.filter((a) => a.verb === 'update' && a.resource === 'namespaces').map((a) => a.subresource);
}

test('a namespace that is not being deleted is left alone', async () => {
  const { client, controller } = await fixture();
  client.seed(Namespaces, { metadata: { name: 'live' }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
  client.seed(ConfigMaps, cm('live', 'settings'));
  client.clearActions();
  await controller.syncNamespace('live');
  assert.deepEqual(client.actions.map((a) => a.verb), ['get']);
});
