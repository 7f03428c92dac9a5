import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod, ReplicationController } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { Pods } from '../../client/resources.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { newReplicationManager, ReplicationControllers } from './replication-manager.js';

const NS = 'default';

function rc(name: string, replicas: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name, namespace: NS, generation: 3 },
    spec: { replicas, selector: { app: 'web' }, template: { metadata: { labels: { app: 'web', tier: 'fe' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } } },
    status: { replicas: 0 },
  };
}

function orphan(name: string, labels: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, uid: `uid-${name}`, labels }, spec: { containers: [{ name: 'c', image: 'x' }] }, status: { phase: 'Pending' } };
}

function setup() {
  const f = new ControllerFixture();
  const c = newReplicationManager(f.ctx);
  c.start();
  return { f, c };
}

describe('replication manager (the ReplicaSet controller over ReplicationControllers)', () => {
  it('creates the pods with a v1 ReplicationController controller reference and writes RC status', async () => {
    const { f, c } = setup();
    assert.equal(c.name, 'replicationcontroller');
    const [owner] = f.seed(ReplicationControllers, rc('web', 3));
    await c.reconcile('default/web');
    const pods = f.client.all<Pod & KubeObject>(Pods);
    assert.equal(pods.length, 3);
    for (const p of pods) {
      assert.equal(p.metadata.generateName, 'web-');
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'ReplicationController', name: 'web', uid: owner!.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    }
    assert.match(f.takeEvents()[0]!, /^Normal SuccessfulCreate Created pod: web-/);
    f.sync(ReplicationControllers, Pods);
    await c.reconcile('default/web');
    const stored = f.client.peek<ReplicationController & KubeObject>(ReplicationControllers, NS, 'web')!;
    assert.deepEqual(stored.status, { replicas: 3, fullyLabeledReplicas: 3, observedGeneration: 3 });
  });

  it('scales down to the new spec.replicas and adopts only orphans its map selector matches', async () => {
    const { f, c } = setup();
    f.seed(Pods, orphan('stray', { app: 'web', tier: 'fe' }), orphan('other', { app: 'db' }));
    f.seed(ReplicationControllers, rc('web', 2));
    await c.reconcile('default/web');
    const adopted = f.client.peek<Pod & KubeObject>(Pods, NS, 'stray')!;
    assert.equal(adopted.metadata.ownerReferences?.[0]?.kind, 'ReplicationController');
    assert.equal(f.client.peek<Pod & KubeObject>(Pods, NS, 'other')!.metadata.ownerReferences, undefined);
    assert.equal(f.client.all(Pods).length, 3, 'one adopted + one created + the unrelated pod');
    f.sync(ReplicationControllers, Pods);
    const scaled = structuredClone(f.client.peek<KubeObject>(ReplicationControllers, NS, 'web')!);
    (scaled.spec as { replicas: number }).replicas = 0;
    f.seed(ReplicationControllers, scaled);
    f.sync(ReplicationControllers);
    await c.reconcile('default/web');
    const left = f.client.all<Pod & KubeObject>(Pods).map((p) => p.metadata.name);
    assert.deepEqual(left, ['other']);
  });
});
