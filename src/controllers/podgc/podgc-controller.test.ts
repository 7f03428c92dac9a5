import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { Nodes, Pods } from '../../client/resources.js';
import { defaultControllerOptions } from '../controller.js';
import { PodGCController, QUARANTINE_MS } from './podgc-controller.js';

function fixture(terminatedPodGCThreshold = defaultControllerOptions.terminatedPodGCThreshold) {
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  const informers = new FakeInformerFactory();
  const options = { ...defaultControllerOptions, terminatedPodGCThreshold };
  const controller = new PodGCController({ client, informers, clock, recorder: () => new FakeRecorder(), options });
  controller.start();
  /** Puts a pod in both the cache and the server. */
  const addPod = (p: KubeObject) => {
    client.seed(Pods, p);
    informers.informerFor(Pods).add(p);
  };
  const addNode = (name: string, extra: Partial<KubeObject> = {}) => {
    const n = { metadata: { name }, status: { conditions: [{ type: 'Ready', status: 'True' }] }, ...extra };
    client.seed(Nodes, n);
    informers.informerFor(Nodes).add(n);
  };
  return { clock, client, informers, controller, addPod, addNode };
}

function pod(name: string, o: { phase?: string; created?: string; node?: string; deleting?: boolean; reason?: string } = {}): KubeObject {
  return {
    metadata: {
      name,
      namespace: 'default',
      creationTimestamp: o.created ?? '2025-01-01T00:00:00Z',
      ...(o.deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z', finalizers: ['example.com/keep'] } : {}),
    },
    spec: { ...(o.node === '' ? {} : { nodeName: o.node ?? 'node-1' }), containers: [{ name: 'c', image: 'busybox' }] },
    status: { phase: o.phase ?? 'Running', ...(o.reason ? { reason: o.reason } : {}) },
  };
}

const actions = (client: FakeClient) =>
  client.actions.map((a) => [a.verb, a.resource, a.name ?? '', a.subresource ?? '', JSON.stringify(a.object ?? null)].join(' '));

test('terminated pods beyond the threshold are deleted, evicted first, then oldest first', async () => {
  const { client, controller, addPod, addNode } = fixture(2);
  addNode('node-1');
  addPod(pod('done-new', { phase: 'Succeeded', created: '2025-01-01T00:05:00Z' }));
  addPod(pod('done-old', { phase: 'Succeeded', created: '2025-01-01T00:01:00Z' }));
  addPod(pod('failed-mid', { phase: 'Failed', created: '2025-01-01T00:03:00Z' }));
  addPod(pod('evicted-newest', { phase: 'Failed', reason: 'Evicted', created: '2025-01-01T00:09:00Z' }));
  addPod(pod('done-older', { phase: 'Succeeded', created: '2025-01-01T00:00:30Z' }));
  addPod(pod('running', { created: '2024-12-31T00:00:00Z' }));
  addPod(pod('pending', { phase: 'Pending', created: '2024-12-31T00:00:00Z' }));

  await controller.gc();

  // 5 terminated, threshold 2: three go, with no status patch since they have finished already.
  assert.deepEqual(actions(client).sort(), [
    'delete pods done-old  {"gracePeriodSeconds":0}',
    'delete pods done-older  {"gracePeriodSeconds":0}',
    'delete pods evicted-newest  {"gracePeriodSeconds":0}',
  ]);
  assert.deepEqual(client.all(Pods).map((p) => p.metadata.name), ['done-new', 'failed-mid', 'pending', 'running']);
});

test('a threshold of 0 turns terminated-pod collection off', async () => {
  const { client, controller, addPod, addNode } = fixture(0);
  addNode('node-1');
  addPod(pod('done', { phase: 'Succeeded' }));
  await controller.gc();
  assert.equal(client.actions.length, 0);
});

test('pods on a node that is gone are deleted after the quarantine, once a live GET confirms it', async () => {
  const { clock, client, controller, addPod, addNode } = fixture();
  addNode('node-1');
  addPod(pod('orphan', { node: 'gone-node' }));
  addPod(pod('done-orphan', { node: 'gone-node', phase: 'Succeeded' }));
  addPod(pod('lagging', { node: 'new-node' }));
  // new-node exists on the server, but the cache has not seen it yet.
  client.seed(Nodes, { metadata: { name: 'new-node' } });
  addPod(pod('fine', { node: 'node-1' }));

  await controller.gc();
  assert.equal(client.actions.length, 0, 'nothing happens during the quarantine');

  clock.advance(QUARANTINE_MS);
  await controller.gc();

  const got = actions(client).sort();
  const patch = client.actions.find((a) => a.verb === 'patch')!;
  assert.equal(patch.patchType, 'strategic');
  assert.deepEqual(patch.object, {
    status: {
      phase: 'Failed',
      conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC', message: 'PodGC: node no longer exists', lastTransitionTime: '2025-01-01T00:00:40Z' }],
    },
  });
  assert.deepEqual(got, [
    'delete pods done-orphan  {"gracePeriodSeconds":0}',
    'delete pods orphan  {"gracePeriodSeconds":0}',
    'get nodes gone-node  null',
    'get nodes new-node  null',
    `patch pods orphan status ${JSON.stringify(patch.object)}`,
  ]);
  assert.deepEqual(client.all(Pods).map((p) => p.metadata.name), ['fine', 'lagging']);
});

test('terminating pods that were never scheduled are force-deleted', async () => {
  const { client, controller, addPod, addNode } = fixture();
  addNode('node-1');
  addPod(pod('stuck', { node: '', phase: 'Pending', deleting: true }));
  addPod(pod('leaving', { node: 'node-1', deleting: true }));
  await controller.gc();
  assert.deepEqual(actions(client), ['patch pods stuck status {"status":{"phase":"Failed"}}', 'delete pods stuck  {"gracePeriodSeconds":0}']);
});

test('terminating pods on a NotReady node tainted out-of-service are force-deleted', async () => {
  const { client, controller, addPod, addNode } = fixture();
  addNode('down', {
    spec: { taints: [{ key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' }] },
    status: { conditions: [{ type: 'Ready', status: 'Unknown' }] },
  });
  addPod(pod('stuck', { node: 'down', deleting: true }));
  addPod(pod('still-running', { node: 'down' }));
  await controller.gc();
  assert.deepEqual(actions(client), ['patch pods stuck status {"status":{"phase":"Failed"}}', 'delete pods stuck  {"gracePeriodSeconds":0}']);
});

test('run() collects every 20 seconds of the clock until stopped', async () => {
  const { clock, client, controller, addPod, addNode } = fixture(1);
  addNode('node-1');
  const running = controller.run(1);
  await new Promise((r) => setImmediate(r));
  addPod(pod('a', { phase: 'Succeeded', created: '2025-01-01T00:00:01Z' }));
  addPod(pod('b', { phase: 'Succeeded', created: '2025-01-01T00:00:02Z' }));
  assert.equal(client.actions.length, 0);
  await clock.advanceAsync(20_000);
  assert.deepEqual(actions(client), ['delete pods a  {"gracePeriodSeconds":0}']);
  controller.stop();
  await running;
  assert.equal(clock.pendingTimers, 0);
});
