import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { Nodes, Secrets } from '../../client/resources.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { NodePasswordController } from './node-password-controller.js';

const node = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
const passwordSecret = (nodeName: string, namespace = 'kube-system'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: `${nodeName}.node-password.skiff`, namespace, labels: { 'skiff.dev/node': nodeName } },
  type: 'skiff.dev/node-password',
  data: { hash: 'c2NyeXB0JHgkeQ==' },
} as KubeObject);

function fixture() {
  const f = new ControllerFixture();
  const controller = new NodePasswordController(f.ctx);
  controller.start();
  return { f, controller };
}

test('deleting a Node deletes its password Secret, and only that one', async () => {
  const { f, controller } = fixture();
  f.seed(Nodes, node('worker-1'), node('worker-2'));
  f.seed(Secrets, passwordSecret('worker-1'), passwordSecret('worker-2'), passwordSecret('worker-1', 'default'));
  await f.client.delete(Nodes, '', 'worker-1');
  f.sync(Nodes);
  const run = controller.run(1);
  await waitFor(() => f.client.peek(Secrets, 'kube-system', 'worker-1.node-password.skiff') === undefined);
  controller.stop();
  await run;
  assert.deepEqual(f.writes().filter((w) => w.startsWith('delete secrets')), ['delete secrets worker-1.node-password.skiff']);
  assert.ok(f.client.peek(Secrets, 'kube-system', 'worker-2.node-password.skiff'), "another node's Secret stays");
  assert.ok(f.client.peek(Secrets, 'default', 'worker-1.node-password.skiff'), 'a look-alike outside kube-system is not ours');
});

test('a node re-created under the same name before the sync keeps its Secret', async () => {
  const { f, controller } = fixture();
  const [n] = f.seed(Nodes, node('worker-1'));
  f.seed(Secrets, passwordSecret('worker-1'));
  f.informers.informerFor(Nodes).delete(n!);
  f.informers.informerFor(Nodes).add(n!);
  await controller.syncNode('worker-1');
  assert.deepEqual(f.writes(), []);
  assert.ok(f.client.peek(Secrets, 'kube-system', 'worker-1.node-password.skiff'));
});

test('a deleted node without a password Secret (a simulated node) is fine', async () => {
  const { f, controller } = fixture();
  await controller.syncNode('sim-node-3');
  assert.deepEqual(f.writes(), ['delete secrets sim-node-3.node-password.skiff']);
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise<void>((r) => setImmediate(r));
  assert.ok(cond(), 'condition not reached');
}
