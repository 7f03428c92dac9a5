import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DaemonSet } from 'kubernetes-types/apps/v1.js';
import type { Node, Pod, Taint } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { ControllerRevisions, DaemonSets, Nodes, Pods } from '../../client/resources.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { hashRevision, templatePatch, type RevisionObject } from '../util/controller-history.js';
import { DaemonSetController } from './daemonset-controller.js';

type DsObj = Mutable<DaemonSet> & KubeObject;
type PodObj = Mutable<Pod> & KubeObject;
type NodeObj = Mutable<Node> & KubeObject;

const dsUid = 'ds-uid';

function daemonSet(spec: Partial<Mutable<DaemonSet['spec']>> = {}, image = 'agent:1'): DsObj {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'kube-system', uid: dsUid, generation: 1 },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'agent', image }] } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      revisionHistoryLimit: 10,
      ...spec,
    },
  };
}

function node(name: string, labels: Record<string, string> = {}, taints: Taint[] = []): NodeObj {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } }, spec: { taints } };
}

let seq = 0;
function daemonPod(nodeName: string, hash: string, ready = true): PodObj {
  seq++;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `agent-p${seq}`,
      namespace: 'kube-system',
      uid: `pod-${seq}`,
      creationTimestamp: `2025-01-01T10:00:${String(seq % 60).padStart(2, '0')}Z`,
      labels: { app: 'agent', 'controller-revision-hash': hash },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: dsUid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { nodeName, containers: [{ name: 'agent', image: 'x' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: '2025-01-01T10:01:00Z' }] },
  };
}

/** The hash the controller gives the DaemonSet's current template. */
function currentHash(ds: DsObj): string {
  return hashRevision(templatePatch(ds.spec!.template));
}

function setup() {
  const f = new ControllerFixture();
  const c = new DaemonSetController(f.ctx);
  c.start();
  return { f, c };
}

function createdPods(f: ControllerFixture): PodObj[] {
  return f.actionsOf('create', 'pods').map((a) => a.object as PodObj);
}

function targetOf(p: PodObj): string | undefined {
  return p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0]?.matchFields?.[0]?.values?.[0];
}

describe('DaemonSetController', () => {
  it('creates one pod per eligible node: none on unselected or tainted nodes, cordoned ones included', async () => {
    const { f, c } = setup();
    f.seed(
      Nodes,
      node('n1', { disk: 'ssd' }),
      node('n2', { disk: 'ssd' }, [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }]),
      node('n3', { disk: 'hdd' }),
      node('n4', { disk: 'ssd' }, [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]),
      node('n5', { disk: 'ssd' }, [{ key: 'dedicated', value: 'db', effect: 'PreferNoSchedule' }]),
    );
    const [ds] = f.seed(DaemonSets, daemonSet({ template: { metadata: { labels: { app: 'agent' } }, spec: { nodeSelector: { disk: 'ssd' }, containers: [{ name: 'agent', image: 'agent:1' }] } } }));
    await c.reconcile('kube-system/agent');

    const pods = createdPods(f);
    assert.deepEqual(pods.map(targetOf).sort(), ['n1', 'n4', 'n5']);
    const hash = currentHash(ds!);
    for (const p of pods) {
      assert.equal(p.metadata.generateName, 'agent-');
      assert.equal(p.spec?.nodeName, undefined, 'bound by the scheduler, not by the controller');
      assert.deepEqual(p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution, {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [targetOf(p)!] }] }],
      });
      assert.equal(p.metadata.labels?.['controller-revision-hash'], hash);
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: dsUid, controller: true, blockOwnerDeletion: true }]);
      assert.deepEqual(
        p.spec?.tolerations?.map((t) => `${t.key}:${t.effect}`),
        [
          'node.kubernetes.io/not-ready:NoExecute',
          'node.kubernetes.io/unreachable:NoExecute',
          'node.kubernetes.io/disk-pressure:NoSchedule',
          'node.kubernetes.io/memory-pressure:NoSchedule',
          'node.kubernetes.io/pid-pressure:NoSchedule',
          'node.kubernetes.io/unschedulable:NoSchedule',
        ],
      );
    }
    // History: one ControllerRevision for the template.
    const revs = f.client.all<RevisionObject>(ControllerRevisions);
    assert.deepEqual(revs.map((r) => [r.metadata.name, r.revision, r.metadata.labels?.['controller-revision-hash']]), [[`agent-${hash}`, 1, hash]]);
    const st = f.client.peek<DsObj>(DaemonSets, 'kube-system', 'agent')!.status!;
    assert.equal(st.desiredNumberScheduled, 3);
    assert.equal(st.currentNumberScheduled, 0);
    assert.equal(st.numberUnavailable, 3);
    assert.equal(st.observedGeneration, 1);
  });

  it('a pod that tolerates the taint is placed; a node taint without toleration keeps it away', async () => {
    const { f, c } = setup();
    f.seed(Nodes, node('n1', {}, [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }]), node('n2', {}, [{ key: 'gpu', effect: 'NoExecute' }]));
    f.seed(
      DaemonSets,
      daemonSet({ template: { metadata: { labels: { app: 'agent' } }, spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }], containers: [{ name: 'agent', image: 'a' }] } } }),
    );
    await c.reconcile('kube-system/agent');
    assert.deepEqual(createdPods(f).map(targetOf), ['n1']);
  });

  it('reports status from the pods and deletes pods from nodes that no longer fit', async () => {
    const { f, c } = setup();
    f.seed(Nodes, node('n1', { disk: 'ssd' }), node('n2', { disk: 'hdd' }));
    const ds = daemonSet({ template: { metadata: { labels: { app: 'agent' } }, spec: { nodeSelector: { disk: 'ssd' }, containers: [{ name: 'agent', image: 'agent:1' }] } } });
    f.seed(DaemonSets, ds);
    const hash = currentHash(ds);
    const [, misplaced] = f.seed(Pods, daemonPod('n1', hash), daemonPod('n2', hash));
    await c.reconcile('kube-system/agent');

    assert.deepEqual(f.actionsOf('delete', 'pods').map((a) => a.name), [misplaced!.metadata.name]);
    assert.equal(createdPods(f).length, 0);
    const st = f.client.peek<DsObj>(DaemonSets, 'kube-system', 'agent')!.status!;
    assert.deepEqual(
      [st.desiredNumberScheduled, st.currentNumberScheduled, st.numberReady, st.numberAvailable, st.updatedNumberScheduled, st.numberMisscheduled],
      [1, 1, 1, 1, 1, 1],
    );
    assert.ok(f.recorder.lines().includes(`Normal SuccessfulDelete Deleted pod: ${misplaced!.metadata.name}`));
  });

  it('rolling update: deletes at most maxUnavailable old pods at a time', async () => {
    for (const [maxUnavailable, want] of [
      [1, 1],
      ['50%', 2],
      ['30%', 2],
    ] as const) {
      const { f, c } = setup();
      f.seed(Nodes, node('n1'), node('n2'), node('n3'), node('n4'));
      f.seed(DaemonSets, daemonSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable, maxSurge: 0 } } }, 'agent:2'));
      f.seed(Pods, daemonPod('n1', 'old'), daemonPod('n2', 'old'), daemonPod('n3', 'old'), daemonPod('n4', 'old'));
      await c.reconcile('kube-system/agent');
      assert.equal(f.actionsOf('delete', 'pods').length, want, `maxUnavailable ${maxUnavailable}`);
      assert.equal(createdPods(f).length, 0);
    }
  });

  it('rolling update: waits while an updated pod is not yet available', async () => {
    const { f, c } = setup();
    f.seed(Nodes, node('n1'), node('n2'), node('n3'));
    const ds = daemonSet({}, 'agent:2');
    f.seed(DaemonSets, ds);
    f.seed(Pods, daemonPod('n1', currentHash(ds), false), daemonPod('n2', 'old'), daemonPod('n3', 'old'));
    await c.reconcile('kube-system/agent');
    assert.equal(f.actionsOf('delete', 'pods').length, 0);

    // Once it is ready the next old pod goes.
    const { f: f2, c: c2 } = setup();
    f2.seed(Nodes, node('n1'), node('n2'), node('n3'));
    f2.seed(DaemonSets, ds);
    f2.seed(Pods, daemonPod('n1', currentHash(ds), true), daemonPod('n2', 'old'), daemonPod('n3', 'old'));
    await c2.reconcile('kube-system/agent');
    assert.equal(f2.actionsOf('delete', 'pods').length, 1);
  });

  it('rolling update with maxSurge: starts new pods beside old ones, deletes an old one once its replacement is available', async () => {
    const ds = daemonSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } }, 'agent:2');
    const hash = currentHash(ds);
    // n1 already runs an available new pod beside its old one: the old one goes (and nothing else this sync).
    let { f, c } = setup();
    f.seed(Nodes, node('n1'), node('n2'), node('n3'));
    f.seed(DaemonSets, ds);
    const [old1] = f.seed(Pods, daemonPod('n1', 'old'), daemonPod('n1', hash, true), daemonPod('n2', 'old'), daemonPod('n3', 'old'));
    await c.reconcile('kube-system/agent');
    assert.deepEqual(f.actionsOf('delete', 'pods').map((a) => a.name), [old1!.metadata.name]);
    assert.equal(createdPods(f).length, 0);

    // Then one more node (maxSurge 1) gets a new pod while its old pod keeps serving.
    ({ f, c } = setup());
    f.seed(Nodes, node('n1'), node('n2'), node('n3'));
    f.seed(DaemonSets, ds);
    f.seed(Pods, daemonPod('n1', hash, true), daemonPod('n2', 'old'), daemonPod('n3', 'old'));
    await c.reconcile('kube-system/agent');
    assert.equal(f.actionsOf('delete', 'pods').length, 0);
    assert.equal(createdPods(f).length, 1);
    assert.ok(['n2', 'n3'].includes(targetOf(createdPods(f)[0]!)!));

    // While that surge pod is not available, no further node is surged.
    ({ f, c } = setup());
    f.seed(Nodes, node('n1'), node('n2'), node('n3'));
    f.seed(DaemonSets, ds);
    f.seed(Pods, daemonPod('n1', hash, true), daemonPod('n2', 'old'), daemonPod('n2', hash, false), daemonPod('n3', 'old'));
    await c.reconcile('kube-system/agent');
    assert.deepEqual(f.writes().filter((w) => w.includes('pods')), []);
  });

  it('OnDelete leaves old pods alone', async () => {
    const { f, c } = setup();
    f.seed(Nodes, node('n1'), node('n2'));
    f.seed(DaemonSets, daemonSet({ updateStrategy: { type: 'OnDelete' } }, 'agent:2'));
    f.seed(Pods, daemonPod('n1', 'old'), daemonPod('n2', 'old'));
    await c.reconcile('kube-system/agent');
    assert.equal(f.actionsOf('delete', 'pods').length, 0);
    const st = f.client.peek<DsObj>(DaemonSets, 'kube-system', 'agent')!.status!;
    assert.equal(st.updatedNumberScheduled, undefined);
    assert.equal(st.currentNumberScheduled, 2);
  });

  it('replaces a failed daemon pod, with an event', async () => {
    const { f, c } = setup();
    f.seed(Nodes, node('n1'));
    const ds = daemonSet();
    f.seed(DaemonSets, ds);
    const failed = daemonPod('n1', currentHash(ds));
    failed.status!.phase = 'Failed';
    f.seed(Pods, failed);
    await c.reconcile('kube-system/agent');
    assert.deepEqual(f.actionsOf('delete', 'pods').map((a) => a.name), [failed.metadata.name]);
    assert.ok(f.recorder.lines().includes(`Warning FailedDaemonPod Found failed daemon pod kube-system/${failed.metadata.name} on node n1, will try to kill it`));
  });

  it('re-numbers an old revision on rollback instead of creating a new one', async () => {
    const { f, c } = setup();
    f.seed(Nodes, node('n1'));
    const v1 = daemonSet({}, 'agent:1');
    const v2 = daemonSet({}, 'agent:2');
    const rev = (ds: DsObj, n: number): RevisionObject => ({
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: {
        name: `agent-${currentHash(ds)}`,
        namespace: 'kube-system',
        labels: { 'controller-revision-hash': currentHash(ds) },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: dsUid, controller: true }],
      },
      data: templatePatch(ds.spec!.template),
      revision: n,
    });
    f.seed(ControllerRevisions, rev(v1, 1), rev(v2, 2));
    f.seed(DaemonSets, v1);
    await c.reconcile('kube-system/agent');
    assert.equal(f.actionsOf('create', 'controllerrevisions').length, 0);
    assert.equal(f.client.peek<RevisionObject>(ControllerRevisions, 'kube-system', `agent-${currentHash(v1)}`)!.revision, 3);
  });
});
