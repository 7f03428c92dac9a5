import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { Nodes, PersistentVolumeClaims, PersistentVolumes, Pods, StorageClasses } from '../../client/resources.js';
import type { ResourceType } from '../../client/types.js';
import { defaultControllerOptions } from '../controller.js';
import { LocalPathProvisioner } from '../localpath/local-path-provisioner.js';
import { PersistentVolumeController } from './persistentvolume-controller.js';
import { findMatchingVolume, type PV, type PVC } from './volume-util.js';

/** Controllers over a fake client whose writes reach the informers at once; `settle` syncs every object until nothing changes. */
function fixture() {
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  const informers = new FakeInformerFactory({ freeze: true });
  const recorder = new FakeRecorder();
  const ctx = { client, informers, clock, recorder: () => recorder, options: defaultControllerOptions };
  const binder = new PersistentVolumeController(ctx);
  const provisioner = new LocalPathProvisioner(ctx, { defaultStorageRoot: '/data/storage' });
  for (const rt of [PersistentVolumeClaims, PersistentVolumes, StorageClasses, Nodes, Pods]) {
    const inf = informers.informerFor(rt);
    client.watch(rt, '', { resourceVersion: '0' }, (ev) => {
      if (ev.type === 'DELETED') inf.delete(ev.object);
      else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') inf.update(ev.object);
    }, () => {});
  }
  const create = async (rt: ResourceType, obj: KubeObject) => client.create(rt, obj.metadata.namespace ?? '', obj);
  const settle = async () => {
    for (let round = 0; round < 20; round++) {
      const before = client.currentRevision;
      for (const c of informers.informerFor<PVC>(PersistentVolumeClaims).lister.list()) {
        await binder.syncClaim(c.metadata.namespace!, c.metadata.name!);
        await provisioner.syncClaim(`${c.metadata.namespace}/${c.metadata.name}`);
      }
      for (const v of informers.informerFor<PV>(PersistentVolumes).lister.list()) await binder.syncVolume(v.metadata.name!);
      if (client.currentRevision === before) return;
    }
    throw new Error('controllers did not settle');
  };
  const pvc = (name: string) => client.peek<PVC>(PersistentVolumeClaims, 'default', name)!;
  const pv = (name: string) => client.peek<PV>(PersistentVolumes, '', name);
  return { client, informers, recorder, binder, create, settle, pvc, pv, clock };
}

const claim = (name: string, spec: Record<string, unknown> = {}, annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem', ...spec },
  status: { phase: 'Pending' },
});

const volume = (name: string, storage: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name, ...(labels ? { labels } : {}) },
  spec: { capacity: { storage }, accessModes: ['ReadWriteOnce', 'ReadOnlyMany'], hostPath: { path: `/mnt/${name}` }, persistentVolumeReclaimPolicy: 'Retain', volumeMode: 'Filesystem', ...spec },
  status: { phase: 'Pending' },
});

const localPath: KubeObject = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
  provisioner: 'skiff.dev/local-path',
  volumeBindingMode: 'WaitForFirstConsumer',
  reclaimPolicy: 'Delete',
};

test('Immediate binding: the smallest fitting Available volume; annotations, claimRef, phases and finalizers', async () => {
  const f = fixture();
  await f.create(PersistentVolumes, volume('big', '10Gi'));
  await f.create(PersistentVolumes, volume('small', '2Gi'));
  await f.create(PersistentVolumes, volume('tiny', '500Mi'));
  await f.create(PersistentVolumes, volume('rwx-only', '1Gi', { accessModes: ['ReadWriteMany'] }));
  await f.create(PersistentVolumes, volume('other-class', '1Gi', { storageClassName: 'fast' }));
  await f.create(PersistentVolumeClaims, claim('data', { storageClassName: '' }));
  await f.settle();

  const c = f.pvc('data');
  assert.equal(c.spec?.volumeName, 'small');
  assert.deepEqual(c.status, { phase: 'Bound', accessModes: ['ReadWriteOnce', 'ReadOnlyMany'], capacity: { storage: '2Gi' } });
  assert.equal(c.metadata.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
  assert.equal(c.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
  assert.deepEqual(c.metadata.finalizers, ['kubernetes.io/pvc-protection']);
  const v = f.pv('small')!;
  assert.equal(v.status?.phase, 'Bound');
  assert.deepEqual([v.spec?.claimRef?.namespace, v.spec?.claimRef?.name, v.spec?.claimRef?.uid], ['default', 'data', c.metadata.uid]);
  assert.equal(v.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
  assert.deepEqual(v.metadata.finalizers, ['kubernetes.io/pv-protection']);
  for (const other of ['big', 'tiny', 'rwx-only', 'other-class']) assert.equal(f.pv(other)!.status?.phase, 'Available', other);
});

test('volume matching: selector, volume mode, pre-bound volumes, node affinity for a selected node', () => {
  const c = (spec: Record<string, unknown>) => ({ ...claim('c', spec), metadata: { name: 'c', namespace: 'default', uid: 'u1' } }) as PVC;
  const v = (name: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>) => ({ ...volume(name, '1Gi', spec, labels), status: { phase: 'Available' } }) as PV;
  const onNode = (n: string) => ({ nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [n] }] }] } } });
  const cases: { name: string; claim: PVC; volumes: PV[]; delay?: boolean; node?: string; want: string | undefined }[] = [
    { name: 'selector', claim: c({ selector: { matchLabels: { tier: 'gold' } } }), volumes: [v('a'), v('b', {}, { tier: 'gold' })], want: 'b' },
    { name: 'volume mode', claim: c({ volumeMode: 'Block' }), volumes: [v('a'), v('b', { volumeMode: 'Block' })], want: 'b' },
    { name: 'pre-bound wins', claim: c({}), volumes: [v('a'), v('b', { claimRef: { namespace: 'default', name: 'c' } })], want: 'b' },
    { name: 'bound to another claim', claim: c({}), volumes: [v('a', { claimRef: { namespace: 'default', name: 'x', uid: 'ux' } })], want: undefined },
    { name: 'delayed binding without node ignores free volumes', claim: c({}), volumes: [v('a')], delay: true, want: undefined },
    { name: 'delayed binding on a node', claim: c({}), volumes: [v('a', onNode('n2')), v('b', onNode('n1'))], delay: true, node: 'n1', want: 'b' },
  ];
  for (const k of cases) {
    const node = k.node ? { name: k.node, labels: { 'kubernetes.io/hostname': k.node } } : undefined;
    assert.equal(findMatchingVolume(k.claim, k.volumes, { className: '', delayBinding: !!k.delay, node })?.metadata.name, k.want, k.name);
  }
});

test('WaitForFirstConsumer with local-path: Pending until a node is selected, then provisioned on that node and bound', async () => {
  const f = fixture();
  await f.create(StorageClasses, localPath);
  await f.create(Nodes, { metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' }, annotations: { 'skiff.dev/local-path-storage-root': '/srv/storage/' } } });
  // No storageClassName: the default class applies.
  await f.create(PersistentVolumeClaims, claim('data'));
  await f.settle();
  assert.equal(f.pvc('data').status?.phase, 'Pending');
  assert.equal(f.client.all(PersistentVolumes).length, 0);
  assert.ok(f.recorder.events.some((e) => e.reason === 'WaitForFirstConsumer' && e.message === 'waiting for first consumer to be created before binding'));

  const selected = f.pvc('data');
  selected.metadata.annotations = { ...selected.metadata.annotations, 'volume.kubernetes.io/selected-node': 'node-1' };
  await f.client.update(PersistentVolumeClaims, 'default', selected);
  await f.settle();

  const c = f.pvc('data');
  const uid = c.metadata.uid!;
  assert.equal(c.metadata.annotations?.['volume.kubernetes.io/storage-provisioner'], 'skiff.dev/local-path');
  assert.equal(c.spec?.volumeName, `pvc-${uid}`);
  assert.equal(c.status?.phase, 'Bound');
  const v = f.pv(`pvc-${uid}`)!;
  assert.deepEqual(v.spec?.hostPath, { path: `/srv/storage/pvc-${uid}_default_data`, type: 'DirectoryOrCreate' });
  assert.deepEqual(v.spec?.capacity, { storage: '1Gi' });
  assert.equal(v.spec?.persistentVolumeReclaimPolicy, 'Delete');
  assert.equal(v.spec?.storageClassName, 'local-path');
  assert.deepEqual(v.spec?.nodeAffinity?.required?.nodeSelectorTerms, [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-1'] }] }]);
  assert.equal(v.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'skiff.dev/local-path');
  assert.deepEqual(v.metadata.finalizers?.sort(), ['kubernetes.io/pv-protection', 'skiff.dev/local-path-cleanup']);
  assert.equal(v.status?.phase, 'Bound');
  assert.ok(f.recorder.events.some((e) => e.reason === 'ProvisioningSucceeded' && e.message === `Successfully provisioned volume pvc-${uid}`));
});

test('claim deletion: held by pvc-protection while a pod uses it; then the volume is Released (Retain) or Failed (Delete without a deleter)', async () => {
  const f = fixture();
  await f.create(PersistentVolumes, volume('keep', '1Gi'));
  await f.create(PersistentVolumes, volume('gone', '1Gi', { persistentVolumeReclaimPolicy: 'Delete', storageClassName: 'x' }));
  await f.create(PersistentVolumeClaims, claim('a', { storageClassName: '' }));
  await f.create(PersistentVolumeClaims, claim('b', { storageClassName: 'x' }));
  await f.settle();
  assert.equal(f.pvc('a').spec?.volumeName, 'keep');
  assert.equal(f.pvc('b').spec?.volumeName, 'gone');

  await f.create(Pods, { metadata: { name: 'user', namespace: 'default' }, spec: { containers: [], volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'a' } }] }, status: { phase: 'Running' } });
  await f.client.delete(PersistentVolumeClaims, 'default', 'a');
  await f.settle();
  assert.ok(f.pvc('a').metadata.deletionTimestamp, 'still there, terminating');
  await f.client.delete(Pods, 'default', 'user');
  await f.settle();
  assert.equal(f.client.peek(PersistentVolumeClaims, 'default', 'a'), undefined);
  assert.equal(f.pv('keep')!.status?.phase, 'Released');

  await f.client.delete(PersistentVolumeClaims, 'default', 'b');
  await f.settle();
  const failed = f.pv('gone')!;
  assert.equal(failed.status?.phase, 'Failed');
  assert.match(failed.status?.message ?? '', /no deletable volume plugin matched/);

  // pv-protection lets a volume that is not Bound go.
  await f.client.delete(PersistentVolumes, '', 'keep');
  await f.settle();
  assert.equal(f.pv('keep'), undefined);
});

test('a bound claim whose volume is deleted becomes Lost; pv-protection holds a Bound volume', async () => {
  const f = fixture();
  await f.create(PersistentVolumes, volume('v1', '1Gi'));
  await f.create(PersistentVolumeClaims, claim('c', { storageClassName: '' }));
  await f.settle();
  await f.client.delete(PersistentVolumes, '', 'v1');
  await f.settle();
  assert.ok(f.pv('v1')?.metadata.deletionTimestamp, 'held while bound');
  assert.equal(f.pvc('c').status?.phase, 'Bound');
  // Force it away (finalizer removed by hand), as an administrator might.
  const v = f.pv('v1')!;
  v.metadata.finalizers = [];
  await f.client.update(PersistentVolumes, '', v);
  await f.settle();
  assert.equal(f.pvc('c').status?.phase, 'Lost');
  assert.ok(f.recorder.events.some((e) => e.reason === 'ClaimLost'));
});

test('no class and no volume: FailedBinding with upstream words; a missing class is named', async () => {
  const f = fixture();
  await f.create(PersistentVolumeClaims, claim('none', { storageClassName: '' }));
  await f.create(PersistentVolumeClaims, claim('missing', { storageClassName: 'gold' }));
  await f.settle();
  const msgs = f.recorder.events.map((e) => `${e.reason}: ${e.message}`).sort();
  assert.deepEqual(msgs, ['FailedBinding: no persistent volumes available for this claim and no storage class is set', 'ProvisioningFailed: storageclass.storage.k8s.io "gold" not found']);
});
