import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { KubeObject } from '../../../api/object.js';
import { FakeClient } from '../../../client/testing/fake-client.js';
import { FakeInformerFactory } from '../../../client/testing/fake-informer-factory.js';
import { PersistentVolumeClaims, PersistentVolumes, StorageClasses } from '../../../client/resources.js';
import { CycleState } from '../../framework/cycle-state.js';
import { Code } from '../../framework/status.js';
import type { Pod } from '../../framework/types.js';
import { describe, frameworkFor, makeNode, makePod, runFilter, snapshotOf } from '../../testing/wrappers.js';
import { newInTreeRegistry } from '../registry.js';
import { errReasonBindConflict, errReasonNodeConflict, errReasonUnboundImmediate } from './volume-binding.js';

const onNode = (n: string) => ({ nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [n] }] }] } } });

function world() {
  const informers = new FakeInformerFactory();
  const add = (rt: typeof PersistentVolumes, o: KubeObject) => informers.informerFor(rt).add(o);
  add(StorageClasses, { metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'skiff.dev/local-path', volumeBindingMode: 'WaitForFirstConsumer' });
  add(StorageClasses, { metadata: { name: 'local' }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer' });
  add(StorageClasses, { metadata: { name: 'immediate' }, provisioner: 'example.com/x', volumeBindingMode: 'Immediate' });
  const claim = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) =>
    add(PersistentVolumeClaims, { metadata: { name, namespace: 'default', uid: `uid-${name}`, ...(annotations ? { annotations } : {}) }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec } });
  claim('bound-n1', { volumeName: 'pv-n1', storageClassName: 'local' });
  claim('bound-free', { volumeName: 'pv-anywhere', storageClassName: '' });
  claim('wffc-default', {});
  claim('wffc-static', { storageClassName: 'local' });
  claim('wffc-selected', {}, { 'volume.kubernetes.io/selected-node': 'n2' });
  claim('immediate', { storageClassName: 'immediate' });
  const pv = (name: string, spec: Record<string, unknown>, phase = 'Available') =>
    add(PersistentVolumes, { metadata: { name }, spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/x' }, ...spec }, status: { phase } });
  pv('pv-n1', { ...onNode('n1'), storageClassName: 'local', claimRef: { namespace: 'default', name: 'bound-n1', uid: 'uid-bound-n1' } }, 'Bound');
  pv('pv-anywhere', { claimRef: { namespace: 'default', name: 'bound-free', uid: 'uid-bound-free' } }, 'Bound');
  pv('local-n2', { ...onNode('n2'), storageClassName: 'local' });
  const snap = snapshotOf([makeNode('n1', { labels: { 'kubernetes.io/hostname': 'n1' } }), makeNode('n2', { labels: { 'kubernetes.io/hostname': 'n2' } })]);
  const client = new FakeClient();
  const fwk = frameworkFor(['VolumeBinding'], snap, { registry: newInTreeRegistry(informers), client });
  return { informers, snap, fwk, client };
}

const podWith = (...claims: string[]): Pod => {
  const p = makePod('p');
  return { ...p, spec: { ...p.spec!, volumes: claims.map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } })) } };
};

const cases: { name: string; claims: string[]; want: Record<string, string[]> }[] = [
  { name: 'no claims: every node', claims: [], want: { n1: ['Success'], n2: ['Success'] } },
  { name: "a bound PV's node affinity", claims: ['bound-n1'], want: { n1: ['Success'], n2: ['UnschedulableAndUnresolvable', errReasonNodeConflict] } },
  { name: 'a bound PV without affinity', claims: ['bound-free'], want: { n1: ['Success'], n2: ['Success'] } },
  { name: 'WaitForFirstConsumer with a provisioner (default class): any node', claims: ['wffc-default'], want: { n1: ['Success'], n2: ['Success'] } },
  { name: 'WaitForFirstConsumer without provisioner: nodes with a matching PV', claims: ['wffc-static'], want: { n1: ['UnschedulableAndUnresolvable', errReasonBindConflict], n2: ['Success'] } },
  { name: 'a claim already promised to a node', claims: ['wffc-selected'], want: { n1: ['UnschedulableAndUnresolvable', errReasonBindConflict], n2: ['Success'] } },
  { name: 'both constraints together', claims: ['bound-n1', 'wffc-static'], want: { n1: ['UnschedulableAndUnresolvable', errReasonBindConflict], n2: ['UnschedulableAndUnresolvable', errReasonNodeConflict] } },
  { name: 'an unbound Immediate claim', claims: ['immediate'], want: { n1: ['UnschedulableAndUnresolvable', errReasonUnboundImmediate], n2: ['UnschedulableAndUnresolvable', errReasonUnboundImmediate] } },
  { name: 'a missing claim', claims: ['nope'], want: { n1: ['UnschedulableAndUnresolvable', 'persistentvolumeclaim "nope" not found'], n2: ['UnschedulableAndUnresolvable', 'persistentvolumeclaim "nope" not found'] } },
];
for (const tc of cases) {
  it(`VolumeBinding: ${tc.name}`, () => {
    const { fwk, snap } = world();
    const got = Object.fromEntries(['n1', 'n2'].map((n) => [n, describe(runFilter(fwk, podWith(...tc.claims), snap.get(n)!))]));
    assert.deepEqual(got, tc.want);
  });
}

it('VolumeBinding: Reserve steers the next pod sharing the claim; Bind writes selected-node and skips to the next binder', async () => {
  const { fwk, snap, client, informers } = world();
  client.seed(PersistentVolumeClaims, informers.informerFor(PersistentVolumeClaims).lister.get('default', 'wffc-default')!);
  const state = new CycleState();
  const pod = podWith('wffc-default');
  fwk.runPreFilterPlugins(state, pod, snap.list());
  assert.equal(fwk.runReservePluginsReserve(state, pod, 'n2'), undefined);
  assert.deepEqual(describe(runFilter(fwk, podWith('wffc-default'), snap.get('n1')!)), ['UnschedulableAndUnresolvable', errReasonBindConflict]);
  const plugin = fwk.bindPlugins.find((p) => p.name === 'VolumeBinding')!;
  const s = await plugin.bind(state, pod, 'n2');
  assert.equal(s?.code, Code.Skip);
  assert.equal(client.peek(PersistentVolumeClaims, 'default', 'wffc-default')!.metadata.annotations?.['volume.kubernetes.io/selected-node'], 'n2');
});

it('VolumeBinding: without listers (no informer factory) it skips every pod', () => {
  const snap = snapshotOf([makeNode('n1')]);
  const fwk = frameworkFor(['VolumeBinding'], snap);
  assert.deepEqual(describe(runFilter(fwk, podWith('anything'), snap.get('n1')!)), ['Success']);
});
