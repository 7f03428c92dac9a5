import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClient } from '../client/testing/fake-client.js';
import { FakeClock } from '../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../client/testing/fake-recorder.js';
import { controllerFactories } from './all.js';
import { defaultControllerOptions, type ControllerContext } from './controller.js';
import { ControllerManager } from './manager.js';

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
