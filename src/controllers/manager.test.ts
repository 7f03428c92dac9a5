import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClient } from '../client/testing/fake-client.js';
import { FakeClock } from '../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../client/testing/fake-recorder.js';
import { controllerFactories } from './all.js';
import { defaultControllerOptions, type ControllerContext } from './controller.js';
import { bootstrapClusterRoleBindings, bootstrapRoleBindings } from '../apiserver/auth/rbac/bootstrap-policy.js';
import { CONTROLLER_SERVICE_ACCOUNTS, ControllerManager } from './manager.js';

const ctx = (): ControllerContext => ({
  client: new FakeClient(),
  informers: new FakeInformerFactory(),
  recorder: () => new FakeRecorder(),
  clock: new FakeClock(),
  options: defaultControllerOptions,
});

test('the manager builds every controller but the disabled ones', () => {
  const all = new ControllerManager(ctx(), controllerFactories).names;
  for (const name of ['replicaset', 'deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'garbage-collector', 'namespace', 'serviceaccount', 'endpoints', 'endpointslice', 'pod-garbage-collector', 'node-lifecycle']) {
    assert.ok(all.includes(name), name);
  }
  const some = new ControllerManager(ctx(), controllerFactories, ['deployment', 'scheduler']).names;
  assert.ok(!some.includes('deployment'));
  assert.ok(some.includes('replicaset'));
  assert.equal(some.length, all.length - 1);
});

test('--disable with an unknown name is an error naming the known ones', () => {
  assert.throws(() => new ControllerManager(ctx(), controllerFactories, ['deploymnet']), /--disable "deploymnet": no such controller; known: .*deployment/);
});

test('every controller but the legacy token controller gets its own service account, each mapped to a known controller', () => {
  const asked: string[] = [];
  const manager = new ControllerManager(ctx(), controllerFactories, [], (sa) => {
    asked.push(sa);
    return { client: new FakeClient(), recorder: () => new FakeRecorder() };
  });
  const names = controllerFactories.map((f) => f.name);
  for (const name of Object.keys(CONTROLLER_SERVICE_ACCOUNTS)) assert.ok(names.includes(name), `${name} is a controller`);
  // A new controller must be given an identity here (and a role in the bootstrap policy), not the shared one.
  assert.deepEqual(names.filter((n) => !CONTROLLER_SERVICE_ACCOUNTS[n]), ['serviceaccount-token']);
  assert.equal(asked.length, manager.names.length - 1);
  assert.equal(asked.filter((sa) => sa === 'certificate-controller').length, 3);
  assert.ok(asked.includes('daemon-set-controller') && asked.includes('generic-garbage-collector') && asked.includes('node-controller'));
});

test('the service accounts are bound to their roles by the bootstrap policy', () => {
  for (const sa of new Set(Object.values(CONTROLLER_SERVICE_ACCOUNTS))) {
    const bound = [...bootstrapClusterRoleBindings, ...bootstrapRoleBindings].filter((b) => b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.namespace === 'kube-system' && s.name === sa));
    assert.ok(bound.length > 0, `${sa} has a binding`);
  }
});
