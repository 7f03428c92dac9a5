import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Toleration } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { rfc3339 } from '../../api/time.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { Leases, Nodes, Pods } from '../../client/resources.js';
import type { ResourceType } from '../../client/types.js';
import { defaultControllerOptions } from '../controller.js';
import { NodeLifecycleController } from './node-lifecycle-controller.js';

interface NodeLike extends KubeObject {
  spec?: { taints?: { key: string; effect: string; timeAdded?: string; value?: string }[]; unschedulable?: boolean };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string; lastHeartbeatTime?: string }[] };
}

function fixture() {
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  const informers = new FakeInformerFactory();
  const recorders = new Map<string, FakeRecorder>();
  const recorder = (component: string) => {
    if (!recorders.has(component)) recorders.set(component, new FakeRecorder());
    return recorders.get(component)!;
  };
  const controller = new NodeLifecycleController({ client, informers, clock, recorder, options: defaultControllerOptions });
  controller.start();
  for (const rt of [Nodes, Pods]) mirror(client, informers, rt);

  const now = () => rfc3339(clock.now());
  const add = (rt: ResourceType, obj: KubeObject) => {
    client.seed(rt, obj);
    informers.informerFor(rt).add(client.peek(rt, obj.metadata.namespace ?? '', obj.metadata.name!)!);
  };
  const addNode = (name: string, extra: { labels?: Record<string, string>; taints?: unknown[]; conditions?: unknown[]; unschedulable?: boolean } = {}) => {
    add(Nodes, {
      metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}) },
      spec: { ...(extra.taints ? { taints: extra.taints } : {}), ...(extra.unschedulable ? { unschedulable: true } : {}) },
      status: { conditions: extra.conditions ?? [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now() }] },
    });
    renew(name);
  };
  /** A kubelet heartbeat: the node's Lease renewTime moves to now. */
  const renew = (name: string) => {
    const lease = { metadata: { name, namespace: 'kube-node-lease' }, spec: { holderIdentity: name, renewTime: clock.now().toISOString() } };
    client.seed(Leases, lease);
    informers.informerFor(Leases).update(lease);
  };
  const addPod = (name: string, node: string, tolerations?: unknown[]) =>
    add(Pods, {
      metadata: { name, namespace: 'default' },
      spec: { nodeName: node, containers: [{ name: 'c', image: 'nginx' }], ...(tolerations ? { tolerations } : {}) },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const node = (name: string) => client.peek<NodeLike>(Nodes, '', name)!;
  const podNames = () => client.all(Pods).map((p) => p.metadata.name);
  return { clock, client, informers, recorder, controller, addNode, renew, addPod, settle, node, podNames };
}

/** Delivers the client's writes of one type to the test informer, as a real informer's watch would. */
function mirror(client: FakeClient, informers: FakeInformerFactory, rt: ResourceType): void {
  const inf = informers.informerFor(rt);
  client.watch(rt, '', { resourceVersion: String(client.currentRevision) }, (ev) => {
    if (ev.type === 'DELETED') inf.delete(ev.object);
    else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') inf.update(ev.object);
  }, () => {});
}

const tol = (key: string, seconds?: number) => ({ key, operator: 'Exists', effect: 'NoExecute', ...(seconds === undefined ? {} : { tolerationSeconds: seconds }) });
const UNREACHABLE = 'node.kubernetes.io/unreachable';

test('a node whose lease goes stale becomes Unknown, is tainted unreachable, and its pods leave as their tolerations run out', async () => {
  const f = fixture();
  const { clock, client, controller } = f;
  for (const n of ['n1', 'n2', 'n3']) f.addNode(n);
  f.addPod('no-toleration', 'n1');
  f.addPod('tolerates-30s', 'n1', [tol(UNREACHABLE, 30)]);
  f.addPod('tolerates-forever', 'n1', [tol(UNREACHABLE)]);
  f.addPod('elsewhere', 'n2');

  await controller.monitorNodeHealth();
  assert.equal(client.actions.length, 0, 'fresh leases: nothing to do');

  // n2 and n3 keep renewing their leases; n1 stops.
  clock.advance(20_000);
  f.renew('n2');
  f.renew('n3');
  await controller.monitorNodeHealth();
  clock.advance(20_000);
  f.renew('n2');
  f.renew('n3');
  await controller.monitorNodeHealth();
  assert.equal(client.actions.length, 0, '40 s is still within the grace period');

  clock.advance(1_000);
  await controller.monitorNodeHealth();
  await f.settle();
  const ready = f.node('n1').status!.conditions!.find((c) => c.type === 'Ready')!;
  assert.deepEqual([ready.status, ready.reason, ready.message], ['Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.']);
  assert.deepEqual(f.node('n1').spec!.taints, [{ key: UNREACHABLE, effect: 'NoExecute', timeAdded: '2025-01-01T00:00:41Z' }]);
  assert.equal(f.node('n2').spec!.taints, undefined);
  assert.deepEqual(f.recorder('node-controller').lines(), ['Normal NodeNotReady Node n1 status is now: NodeNotReady']);
  // The silent kubelet cannot report its pods: the controller marks them not Ready, so endpoints drop them.
  const podReady = (name: string) => (client.peek(Pods, 'default', name)!.status as { conditions: { type: string; status: string }[] }).conditions[0].status;
  assert.deepEqual(['no-toleration', 'tolerates-30s', 'elsewhere'].map(podReady), ['False', 'False', 'True']);

  // The per-node sync adds the NoSchedule twin and evicts what does not tolerate the taint at once.
  await controller.syncNode('n1');
  await f.settle();
  assert.deepEqual(
    f.node('n1').spec!.taints!.map((t) => `${t.key}:${t.effect}`),
    [`${UNREACHABLE}:NoExecute`, `${UNREACHABLE}:NoSchedule`],
  );
  assert.deepEqual(f.podNames(), ['elsewhere', 'tolerates-30s', 'tolerates-forever']);
  assert.deepEqual(f.recorder('taint-eviction-controller').lines().filter((l) => l.includes('TaintManagerEviction')), [
    'Normal TaintManagerEviction Marking for deletion Pod default/no-toleration',
  ]);
  const marked = client.actions.find((a) => a.verb === 'patch' && a.name === 'no-toleration')!;
  assert.deepEqual((marked.object as { status: { conditions: { reason: string }[] } }).status.conditions.map((c) => c.reason), ['DeletionByTaintManager']);

  // tolerationSeconds count from the taint's timeAdded (0:41): not at 1:10, at 1:11.
  clock.advance(29_000);
  await controller.syncNode('n1');
  assert.deepEqual(f.podNames(), ['elsewhere', 'tolerates-30s', 'tolerates-forever']);
  clock.advance(1_000);
  await controller.syncNode('n1');
  assert.deepEqual(f.podNames(), ['elsewhere', 'tolerates-forever']);
});

test('the eviction of a tolerating pod fires from the queue when its time comes (run with workers)', async () => {
  const f = fixture();
  const { clock, controller } = f;
  for (const n of ['n1', 'n2', 'n3']) f.addNode(n);
  f.addPod('tolerates-30s', 'n1', [tol(UNREACHABLE, 30)]);
  // What the API server's DefaultTolerationSeconds admission gives a pod (here with 60 s for unreachable).
  f.addPod('default', 'n1', [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 },
  ]);
  // The kubelets of n2 and n3 keep renewing every 10 s.
  const heartbeat = () => {
    f.renew('n2');
    f.renew('n3');
    clock.setTimeout(heartbeat, 10_000);
  };
  heartbeat();
  const running = controller.run(1);
  const seen: Record<string, number> = {};
  for (let t = 0; t <= 120_000; t += 1_000) {
    await clock.advanceAsync(1_000);
    await f.settle();
    const names = f.podNames();
    for (const p of ['tolerates-30s', 'default']) if (!names.includes(p) && seen[p] === undefined) seen[p] = clock.now().getTime() - Date.UTC(2025, 0, 1);
  }
  controller.stop();
  await running;
  // The monitor runs every 5 s: at 45 s it finds n1 silent for more than 40 s and taints it.
  assert.equal(f.node('n1').spec!.taints!.find((t) => t.effect === 'NoExecute')!.timeAdded, '2025-01-01T00:00:45Z');
  assert.deepEqual(seen, { 'tolerates-30s': 75_000, default: 105_000 });
});

test('a node that reports Ready again loses the taints; its tolerating pods stay', async () => {
  const f = fixture();
  const { clock, client, controller } = f;
  for (const n of ['n1', 'n2', 'n3']) f.addNode(n);
  f.addPod('tolerates-forever', 'n1', [tol(UNREACHABLE)]);
  await controller.monitorNodeHealth();
  clock.advance(41_000);
  f.renew('n2');
  f.renew('n3');
  await controller.monitorNodeHealth();
  await f.settle();
  await controller.syncNode('n1');
  await f.settle();
  assert.equal(f.node('n1').spec!.taints!.length, 2);

  // The kubelet is back: it renews its lease and posts Ready=True.
  clock.advance(5_000);
  for (const n of ['n1', 'n2', 'n3']) f.renew(n);
  const back = f.node('n1');
  back.status!.conditions = [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: rfc3339(clock.now()) }];
  await client.updateStatus(Nodes, '', back);
  await f.settle();
  await controller.monitorNodeHealth();
  await f.settle();
  assert.deepEqual(f.node('n1').spec!.taints!.map((t) => `${t.key}:${t.effect}`), [`${UNREACHABLE}:NoSchedule`]);
  await controller.syncNode('n1');
  await f.settle();
  assert.equal(f.node('n1').spec!.taints, undefined);
  assert.equal(f.node('n1').status!.conditions![0].status, 'True', 'the controller does not touch a Ready the kubelet posted');
  assert.deepEqual(f.podNames(), ['tolerates-forever']);
});

test('a kubelet that reports Ready=False gets not-ready taints, not unreachable ones', async () => {
  const f = fixture();
  const { controller } = f;
  f.addNode('n1', { conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady', lastHeartbeatTime: '2025-01-01T00:00:00Z' }] });
  for (const n of ['n2', 'n3']) f.addNode(n);
  await controller.monitorNodeHealth();
  await f.settle();
  await controller.syncNode('n1');
  await f.settle();
  assert.deepEqual(
    f.node('n1').spec!.taints!.map((t) => `${t.key}:${t.effect}`),
    ['node.kubernetes.io/not-ready:NoExecute', 'node.kubernetes.io/not-ready:NoSchedule'],
  );
  assert.equal(f.node('n1').status!.conditions![0].status, 'False');
});

test('when no node at all is Ready, nodes are not tainted and no pod is evicted', async () => {
  const f = fixture();
  const { clock, controller } = f;
  f.addNode('only');
  f.addPod('p', 'only');
  await controller.monitorNodeHealth();
  clock.advance(41_000);
  await controller.monitorNodeHealth();
  await f.settle();
  await controller.monitorNodeHealth();
  await f.settle();
  assert.equal(f.node('only').status!.conditions![0].status, 'Unknown');
  assert.deepEqual((f.node('only').spec!.taints ?? []).filter((t) => t.effect === 'NoExecute'), []);
  await controller.syncNode('only');
  await f.settle();
  assert.deepEqual(f.podNames(), ['p']);
});

test('NoSchedule taints follow node conditions and spec.unschedulable; other taints are kept', async () => {
  const f = fixture();
  const { controller } = f;
  f.addNode('n1', {
    unschedulable: true,
    taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' }],
    conditions: [
      { type: 'Ready', status: 'True', lastHeartbeatTime: '2025-01-01T00:00:00Z' },
      { type: 'MemoryPressure', status: 'True' },
      { type: 'DiskPressure', status: 'False' },
    ],
  });
  await controller.syncNode('n1');
  assert.deepEqual(f.node('n1').spec!.taints!.map((t) => `${t.key}:${t.effect}`), [
    'dedicated:NoSchedule',
    'node.kubernetes.io/memory-pressure:NoSchedule',
    'node.kubernetes.io/unschedulable:NoSchedule',
  ]);
});
