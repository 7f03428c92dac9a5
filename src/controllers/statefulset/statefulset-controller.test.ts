import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { ControllerRevisions, PersistentVolumeClaims, Pods, StatefulSets } from '../../client/resources.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { newControllerRevision, type RevisionObject } from '../util/controller-history.js';
import { StatefulSetController } from './statefulset-controller.js';

type SetObj = Mutable<StatefulSet> & KubeObject;
type PodObj = Mutable<Pod> & KubeObject;

const setUid = 'sts-uid';

function statefulSet(spec: Partial<Mutable<StatefulSet['spec']>> = {}, image = 'nginx:1', status?: Mutable<StatefulSet['status']>): SetObj {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'default', uid: setUid, generation: 1 },
    spec: {
      replicas: 3,
      serviceName: 'nginx',
      selector: { matchLabels: { app: 'nginx' } },
      template: { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image, volumeMounts: [{ name: 'www', mountPath: '/usr/share/nginx/html' }] }] } },
      volumeClaimTemplates: [{ metadata: { name: 'www' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      podManagementPolicy: 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      revisionHistoryLimit: 10,
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

/** The revision the controller derives from a set's template. */
function revisionOf(set: SetObj, n = 1): RevisionObject {
  return newControllerRevision(set, 'apps/v1', 'StatefulSet', set.spec!.template, n, 0);
}

function statefulPod(ordinal: number, revision: string, state: 'ready' | 'pending' | 'running' = 'ready'): PodObj {
  const name = `web-${ordinal}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `pod-${ordinal}-${revision}`,
      labels: { app: 'nginx', 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(ordinal), 'controller-revision-hash': revision },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: setUid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { hostname: name, subdomain: 'nginx', containers: [{ name: 'nginx', image: 'x' }], volumes: [{ name: 'www', persistentVolumeClaim: { claimName: `www-web-${ordinal}` } }] },
    status: { phase: state === 'pending' ? 'Pending' : 'Running', conditions: [{ type: 'Ready', status: state === 'ready' ? 'True' : 'False' }] },
  };
}

function setup() {
  const f = new ControllerFixture();
  const c = new StatefulSetController(f.ctx);
  c.start();
  return { f, c };
}

const podWrites = (f: ControllerFixture) => f.writes().filter((w) => / (pods|persistentvolumeclaims) /.test(w));

describe('StatefulSetController', () => {
  it('OrderedReady: creates web-0 first, its claim before it, with identity and storage', async () => {
    const { f, c } = setup();
    const [set] = f.seed(StatefulSets, statefulSet());
    await c.reconcile('default/web');

    assert.deepEqual(podWrites(f), ['create persistentvolumeclaims www-web-0', 'create pods web-0']);
    const rev = revisionOf(set!);
    const pod = f.actionsOf('create', 'pods')[0]!.object as PodObj;
    assert.equal(pod.spec?.hostname, 'web-0');
    assert.equal(pod.spec?.subdomain, 'nginx');
    assert.deepEqual(pod.metadata.labels, {
      app: 'nginx',
      'statefulset.kubernetes.io/pod-name': 'web-0',
      'apps.kubernetes.io/pod-index': '0',
      'controller-revision-hash': rev.metadata.name,
    });
    assert.deepEqual(pod.spec?.volumes, [{ name: 'www', persistentVolumeClaim: { claimName: 'www-web-0' } }]);
    assert.deepEqual(pod.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: setUid, controller: true, blockOwnerDeletion: true }]);
    const claim = f.actionsOf('create', 'persistentvolumeclaims')[0]!.object as KubeObject;
    assert.deepEqual(claim.metadata.labels, { app: 'nginx' });
    assert.deepEqual((claim.spec as { resources: unknown }).resources, { requests: { storage: '1Gi' } });
    assert.deepEqual(f.recorder.lines(), [
      'Normal SuccessfulCreate create Claim www-web-0 Pod web-0 in StatefulSet web success',
      'Normal SuccessfulCreate create Pod web-0 in StatefulSet web successful',
    ]);
    // The revision exists and the status names it.
    assert.deepEqual(f.client.all<RevisionObject>(ControllerRevisions).map((r) => [r.metadata.name, r.revision]), [[rev.metadata.name, 1]]);
    const st = f.client.peek<SetObj>(StatefulSets, 'default', 'web')!.status!;
    assert.equal(st.currentRevision, rev.metadata.name);
    assert.equal(st.updateRevision, rev.metadata.name);
    assert.equal(st.replicas, 0);
  });

  it('OrderedReady: waits for web-0 to be Running and Ready, then creates web-1 (only)', async () => {
    const set = statefulSet();
    const rev = revisionOf(set).metadata.name!;
    for (const [state, want] of [
      ['pending', []],
      ['running', []],
      ['ready', ['create persistentvolumeclaims www-web-1', 'create pods web-1']],
    ] as const) {
      const { f, c } = setup();
      f.seed(StatefulSets, set);
      f.seed(PersistentVolumeClaims, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'www-web-0', namespace: 'default' } });
      f.seed(Pods, statefulPod(0, rev, state));
      await c.reconcile('default/web');
      assert.deepEqual(podWrites(f), want, `web-0 ${state}`);
    }
  });

  it('Parallel: creates all missing pods at once', async () => {
    const { f, c } = setup();
    f.seed(StatefulSets, statefulSet({ podManagementPolicy: 'Parallel', volumeClaimTemplates: [] }));
    await c.reconcile('default/web');
    assert.deepEqual(
      f.actionsOf('create', 'pods').map((a) => (a.object as PodObj).metadata.name).sort(),
      ['web-0', 'web-1', 'web-2'],
    );
  });

  it('scale down removes the highest ordinal first, one at a time', async () => {
    const set = statefulSet({ replicas: 1 });
    const rev = revisionOf(set).metadata.name!;
    const { f, c } = setup();
    f.seed(StatefulSets, set);
    f.seed(Pods, statefulPod(0, rev), statefulPod(1, rev), statefulPod(2, rev));
    await c.reconcile('default/web');
    assert.deepEqual(podWrites(f), ['delete pods web-2']);
    assert.ok(f.recorder.lines().includes('Normal SuccessfulDelete delete Pod web-2 in StatefulSet web successful'));
    // Claims are kept (persistentVolumeClaimRetentionPolicy Retain).
    assert.equal(f.actionsOf('delete', 'persistentvolumeclaims').length, 0);
  });

  it('OrderedReady scale down waits while a remaining pod is unhealthy', async () => {
    const set = statefulSet({ replicas: 2 });
    const rev = revisionOf(set).metadata.name!;
    const { f, c } = setup();
    f.seed(StatefulSets, set);
    f.seed(Pods, statefulPod(0, rev), statefulPod(1, rev, 'running'), statefulPod(2, rev));
    await c.reconcile('default/web');
    assert.deepEqual(podWrites(f), []);
  });

  it('re-creates a failed pod under the same name: deletes it first', async () => {
    const set = statefulSet({ replicas: 1 });
    const rev = revisionOf(set).metadata.name!;
    const { f, c } = setup();
    f.seed(StatefulSets, set);
    const failed = statefulPod(0, rev);
    failed.status!.phase = 'Failed';
    f.seed(Pods, failed);
    await c.reconcile('default/web');
    assert.deepEqual(podWrites(f), ['delete pods web-0']);
  });

  it('rolling update with partition: replaces from the highest ordinal down to the partition, one at a time', async () => {
    const oldSet = statefulSet({}, 'nginx:1');
    const oldRev = revisionOf(oldSet, 1);
    const oldName = oldRev.metadata.name!;
    const newSet = statefulSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }, 'nginx:2', {
      replicas: 3,
      currentRevision: oldName,
      updateRevision: oldName,
      observedGeneration: 1,
    });
    const newName = revisionOf(newSet, 2).metadata.name!;
    assert.notEqual(newName, oldName);

    // Step 1: a new revision, and web-2 goes.
    let { f, c } = setup();
    f.seed(ControllerRevisions, oldRev);
    f.seed(StatefulSets, newSet);
    f.seed(Pods, statefulPod(0, oldName), statefulPod(1, oldName), statefulPod(2, oldName));
    await c.reconcile('default/web');
    assert.deepEqual(podWrites(f), ['delete pods web-2']);
    const revs = f.client.all<RevisionObject>(ControllerRevisions);
    assert.deepEqual(revs.map((r) => [r.metadata.name, r.revision]).sort(), [[oldName, 1], [newName, 2]].sort());
    let st = f.client.peek<SetObj>(StatefulSets, 'default', 'web')!.status!;
    assert.equal(st.currentRevision, oldName);
    assert.equal(st.updateRevision, newName);

    // Step 2: web-2 is missing: re-created at the update revision.
    ({ f, c } = setup());
    f.seed(ControllerRevisions, oldRev, revisionOf(newSet, 2));
    f.seed(StatefulSets, newSet);
    f.seed(Pods, statefulPod(0, oldName), statefulPod(1, oldName));
    await c.reconcile('default/web');
    const created = f.actionsOf('create', 'pods').map((a) => a.object as PodObj);
    assert.deepEqual(created.map((p) => [p.metadata.name, p.metadata.labels?.['controller-revision-hash'], p.spec?.containers[0]!.image]), [['web-2', newName, 'nginx:2']]);

    // Step 3: web-2 updated and healthy: web-1 goes; web-0 is below the partition and stays.
    ({ f, c } = setup());
    f.seed(ControllerRevisions, oldRev, revisionOf(newSet, 2));
    f.seed(StatefulSets, newSet);
    f.seed(Pods, statefulPod(0, oldName), statefulPod(1, oldName), statefulPod(2, newName));
    await c.reconcile('default/web');
    assert.deepEqual(podWrites(f), ['delete pods web-1']);

    // Step 4: web-1 and web-2 updated: nothing more to do at partition 1.
    ({ f, c } = setup());
    f.seed(ControllerRevisions, oldRev, revisionOf(newSet, 2));
    f.seed(StatefulSets, newSet);
    f.seed(Pods, statefulPod(0, oldName), statefulPod(1, newName), statefulPod(2, newName));
    await c.reconcile('default/web');
    assert.deepEqual(podWrites(f), []);
    st = f.client.peek<SetObj>(StatefulSets, 'default', 'web')!.status!;
    assert.deepEqual([st.replicas, st.readyReplicas, st.currentReplicas, st.updatedReplicas, st.availableReplicas], [3, 3, 1, 2, 3]);
    assert.equal(st.currentRevision, oldName);

    // A deleted web-0 (below the partition) comes back at the current revision.
    ({ f, c } = setup());
    f.seed(ControllerRevisions, oldRev, revisionOf(newSet, 2));
    f.seed(StatefulSets, newSet);
    f.seed(Pods, statefulPod(1, newName), statefulPod(2, newName));
    await c.reconcile('default/web');
    const recreated = f.actionsOf('create', 'pods').map((a) => a.object as PodObj);
    assert.deepEqual(recreated.map((p) => [p.metadata.name, p.metadata.labels?.['controller-revision-hash'], p.spec?.containers[0]!.image]), [['web-0', oldName, 'nginx:1']]);
  });

  it('makes the update revision current once every pod runs it', async () => {
    const oldSet = statefulSet({}, 'nginx:1');
    const oldRev = revisionOf(oldSet, 1);
    const newSet = statefulSet({}, 'nginx:2', { replicas: 3, currentRevision: oldRev.metadata.name, updateRevision: oldRev.metadata.name });
    const newRev = revisionOf(newSet, 2);
    const { f, c } = setup();
    f.seed(ControllerRevisions, oldRev, newRev);
    f.seed(StatefulSets, newSet);
    f.seed(Pods, statefulPod(0, newRev.metadata.name!), statefulPod(1, newRev.metadata.name!), statefulPod(2, newRev.metadata.name!));
    await c.reconcile('default/web');
    const st = f.client.peek<SetObj>(StatefulSets, 'default', 'web')!.status!;
    assert.equal(st.currentRevision, newRev.metadata.name);
    assert.equal(st.currentReplicas, 3);
    assert.equal(st.updatedReplicas, 3);
  });
});
