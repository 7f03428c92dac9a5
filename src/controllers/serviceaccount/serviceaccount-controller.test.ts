import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { Namespaces, ServiceAccounts } from '../../client/resources.js';
import { defaultControllerOptions } from '../controller.js';
import { ServiceAccountController } from './serviceaccount-controller.js';

function fixture() {
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  const informers = new FakeInformerFactory();
  const controller = new ServiceAccountController({ client, informers, clock, recorder: () => new FakeRecorder(), options: defaultControllerOptions });
  controller.start();
  return { client, informers, controller };
}

const ns = (name: string, extra: Partial<KubeObject> = {}): KubeObject => ({ metadata: { name }, status: { phase: 'Active' }, ...extra });

test('a new namespace gets a default ServiceAccount', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Namespaces).add(ns('team-a'));
  await controller.syncNamespace('team-a');
  assert.deepEqual(
    client.actions.map((a) => [a.verb, a.resource, a.namespace, (a.object as KubeObject).metadata.name]),
    [['create', 'serviceaccounts', 'team-a', 'default']],
  );
  assert.ok(client.peek(ServiceAccounts, 'team-a', 'default'));
});

test('an existing default ServiceAccount is left alone', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Namespaces).add(ns('team-a'));
  informers.informerFor(ServiceAccounts).add({ metadata: { name: 'default', namespace: 'team-a' } });
  await controller.syncNamespace('team-a');
  assert.deepEqual(client.actions, []);
});

test('a terminating namespace gets no ServiceAccount', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Namespaces).add(ns('going', { metadata: { name: 'going', deletionTimestamp: '2025-01-01T00:00:00Z' }, status: { phase: 'Terminating' } }));
  await controller.syncNamespace('going');
  assert.deepEqual(client.actions, []);
});

test('deleting the default ServiceAccount queues its namespace, and the sync recreates it', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Namespaces).add(ns('team-a'));
  informers.informerFor(ServiceAccounts).add({ metadata: { name: 'default', namespace: 'team-a' } });
  const run = controller.run(1);
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };
  await settle();
  assert.equal(client.actions.length, 0, 'the account exists: nothing to do');
  informers.informerFor(ServiceAccounts).delete('team-a/default');
  await settle();
  controller.stop();
  await run;
  assert.deepEqual(client.actions.map((a) => [a.verb, a.namespace, (a.object as KubeObject).metadata.name]), [['create', 'team-a', 'default']]);
});

test('AlreadyExists from a stale cache is not an error', async () => {
  const { client, informers, controller } = fixture();
  informers.informerFor(Namespaces).add(ns('team-a'));
  client.seed(ServiceAccounts, { metadata: { name: 'default', namespace: 'team-a' } });
  await controller.syncNamespace('team-a');
  assert.equal(client.actions.length, 1);
});
