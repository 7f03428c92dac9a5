import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Deployment, DeploymentCondition, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { Deployments, Pods, ReplicaSets } from '../../client/resources.js';
import { keyOf } from '../controller.js';
import { ReplicaSetController } from '../replicaset/replicaset-controller.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { isPodActive, isPodReady } from '../../api/pod.js';
import { DeploymentController } from './deployment-controller.js';
import { computePodTemplateHash } from './pod-template-hash.js';

type D = Mutable<Deployment> & KubeObject;
type RS = ReplicaSet & KubeObject;
const NS = 'default';
const KEY = 'default/web';

interface DeploymentOpts {
  replicas?: number;
  image?: string;
  strategy?: 'RollingUpdate' | 'Recreate';
  maxSurge?: number | string;
  maxUnavailable?: number | string;
  revisionHistoryLimit?: number;
  progressDeadlineSeconds?: number;
  paused?: boolean;
  minReadySeconds?: number;
}

function deployment(o: DeploymentOpts = {}): KubeObject {
  const strategy =
    o.strategy === 'Recreate'
      ? { type: 'Recreate' }
      : { type: 'RollingUpdate', rollingUpdate: { maxSurge: o.maxSurge ?? '25%', maxUnavailable: o.maxUnavailable ?? '25%' } };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: NS, annotations: { 'kubernetes.io/change-cause': 'initial' } },
    spec: {
      replicas: o.replicas ?? 3,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: o.image ?? 'nginx:1.26' }] } },
      strategy,
      minReadySeconds: o.minReadySeconds ?? 0,
      revisionHistoryLimit: o.revisionHistoryLimit ?? 10,
      progressDeadlineSeconds: o.progressDeadlineSeconds ?? 600,
      ...(o.paused ? { paused: true } : {}),
    },
  };
}

/** Both controllers over one fixture, and a kubelet that makes pods ready on demand. */
class Cluster {
  readonly f = new ControllerFixture();
  readonly dc = new DeploymentController(this.f.ctx);
  readonly rsc = new ReplicaSetController(this.f.ctx);

  constructor(d?: KubeObject) {
    this.dc.start();
    this.rsc.start();
    if (d) this.f.seed(Deployments, d);
  }

  get d(): D {
    return this.f.client.peek<D>(Deployments, NS, 'web')!;
  }

  replicaSets(): RS[] {
    return this.f.client.all<RS>(ReplicaSets).sort((a, b) => revision(a) - revision(b));
  }

  pods(): (Pod & KubeObject)[] {
    return this.f.client.all<Pod & KubeObject>(Pods).filter(isPodActive);
  }

  /** ReplicaSet syncs until they have nothing left to write (a created or deleted pod is seen by the next pass). */
  async syncReplicaSets(): Promise<void> {
    for (let pass = 0; pass < 5; pass++) {
      const before = this.f.client.actions.length;
      for (const rs of this.f.client.all(ReplicaSets)) await this.rsc.reconcile(keyOf(rs));
      this.f.sync(Deployments, ReplicaSets, Pods);
      if (this.f.client.actions.length === before) return;
    }
    assert.fail('ReplicaSets did not settle in 5 passes');
  }

  /** One Deployment sync, then the ReplicaSets act on it, with every cache caught up in between. */
  async step(): Promise<void> {
    this.f.sync(Deployments, ReplicaSets, Pods);
    await this.dc.reconcile(KEY);
    this.f.sync(Deployments, ReplicaSets, Pods);
    await this.syncReplicaSets();
  }

  /** The kubelet starts up to `max` pods that are not ready yet; the ReplicaSets report them. */
  async kubelet(max = Infinity): Promise<void> {
    let n = 0;
    for (const pod of this.pods()) {
      if (n >= max) break;
      if (isPodReady(pod)) continue;
      await this.f.markReady(pod);
      n++;
    }
    this.f.sync(Deployments, ReplicaSets, Pods);
    await this.syncReplicaSets();
  }

  async updateSpec(change: (d: D) => void): Promise<void> {
    const d = this.d;
    change(d);
    await this.f.client.update(Deployments, NS, d);
    this.f.sync(Deployments, ReplicaSets, Pods);
  }

  /** Steps with a fully working kubelet until the rollout is done. */
  async rollOut(maxSteps = 30): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      await this.step();
      await this.kubelet();
      await this.step();
      if (rolledOut(this.d)) return;
    }
    assert.fail(`not rolled out after ${maxSteps} steps: ${JSON.stringify(this.d.status)}`);
  }
}

function revision(o: KubeObject): number {
  return Number(o.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
}

function condition(d: Deployment, type: string): DeploymentCondition | undefined {
  return d.status?.conditions?.find((c) => c.type === type);
}

/** kubectl rollout status's success test. */
function rolledOut(d: Deployment): boolean {
  const s = d.status ?? {};
  const replicas = d.spec?.replicas ?? 1;
  return (
    (d.metadata?.generation ?? 0) <= (s.observedGeneration ?? 0) &&
    (s.updatedReplicas ?? 0) >= replicas &&
    (s.replicas ?? 0) <= (s.updatedReplicas ?? 0) &&
    (s.availableReplicas ?? 0) >= (s.updatedReplicas ?? 0)
  );
}

const HASH = /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/;

describe('DeploymentController', () => {
  it('a new Deployment gets a ReplicaSet web-<hash> at revision 1, scaled to spec.replicas', async () => {
    const c = new Cluster(deployment({ replicas: 3 }));
    c.f.client.clearActions();
    await c.dc.reconcile(KEY);

    const [rs, ...more] = c.replicaSets();
    assert.equal(more.length, 0);
    const hash = rs!.metadata.labels!['pod-template-hash']!;
    assert.match(hash, HASH);
    assert.equal(rs!.metadata.name, `web-${hash}`);
    assert.deepEqual(rs!.spec!.selector, { matchLabels: { app: 'web', 'pod-template-hash': hash } });
    assert.deepEqual(rs!.spec!.template!.metadata!.labels, { app: 'web', 'pod-template-hash': hash });
    assert.equal(rs!.spec!.replicas, 3);
    assert.deepEqual(rs!.metadata.annotations, {
      'kubernetes.io/change-cause': 'initial',
      'deployment.kubernetes.io/revision': '1',
      'deployment.kubernetes.io/desired-replicas': '3',
      'deployment.kubernetes.io/max-replicas': '4',
    });
    assert.deepEqual(rs!.metadata.ownerReferences, [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: c.d.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    assert.deepEqual(c.f.takeEvents(), [`Normal ScalingReplicaSet Scaled up replica set web-${hash} from 0 to 3`]);
    assert.equal(c.d.metadata.annotations?.['deployment.kubernetes.io/revision'], '1');
    assert.equal(c.d.metadata.generation, 1, 'the annotation is not a spec change');
    // The revision goes in a merge patch of the Deployment itself, not in the /status write (README: who writes which
    // annotation): skiff's /status keeps the stored metadata, so an annotation sent there would be dropped.
    const deploymentWrites = c.f.client.actions.filter((a) => a.resource === 'deployments' && a.verb !== 'get' && a.verb !== 'list');
    assert.deepEqual(
      deploymentWrites.filter((a) => a.verb === 'patch').map((a) => [a.patchType, a.subresource, a.object]),
      [['merge', undefined, { metadata: { annotations: { 'deployment.kubernetes.io/revision': '1' } } }]],
    );
    assert.ok(deploymentWrites.every((a) => a.verb === 'patch' || a.verb === 'updateStatus'), 'no other kind of Deployment write');
    const progressing = condition(c.d, 'Progressing')!;
    assert.equal(progressing.reason, 'NewReplicaSetCreated');
    assert.equal(progressing.message, `Created new replica set "web-${hash}"`);
    assert.equal(condition(c.d, 'Available')?.status, 'False');
    assert.equal(condition(c.d, 'Available')?.reason, 'MinimumReplicasUnavailable');
    assert.equal(c.d.status?.observedGeneration, 1);

    // The same template always hashes to the same name.
    const again = new Cluster(deployment({ replicas: 3 }));
    await again.dc.reconcile(KEY);
    assert.equal(again.replicaSets()[0]!.metadata.name, rs!.metadata.name);
  });

  it('reports complete status once every pod is available (what rollout status and wait --for=condition=Available read)', async () => {
    const c = new Cluster(deployment({ replicas: 3 }));
    await c.rollOut();
    const [rs] = c.replicaSets();
    assert.deepEqual(
      { ...c.d.status, conditions: undefined },
      { observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, conditions: undefined },
    );
    const available = condition(c.d, 'Available')!;
    assert.deepEqual([available.status, available.reason, available.message], ['True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.']);
    const progressing = condition(c.d, 'Progressing')!;
    assert.deepEqual(
      [progressing.status, progressing.reason, progressing.message],
      ['True', 'NewReplicaSetAvailable', `ReplicaSet "${rs!.metadata.name}" has successfully progressed.`],
    );
    // A resync of a finished rollout writes nothing.
    c.f.client.clearActions();
    await c.dc.reconcile(KEY);
    assert.deepEqual(c.f.client.actions, []);
  });

  const strategies: { maxSurge: number | string; maxUnavailable: number | string; surge: number; unavailable: number }[] = [
    { maxSurge: '25%', maxUnavailable: '25%', surge: 3, unavailable: 2 },
    { maxSurge: 0, maxUnavailable: 1, surge: 0, unavailable: 1 },
    { maxSurge: 1, maxUnavailable: 0, surge: 1, unavailable: 0 },
    { maxSurge: '50%', maxUnavailable: '10%', surge: 5, unavailable: 1 },
  ];
  for (const s of strategies) {
    it(`a template change rolls out revision 2 within maxSurge ${s.maxSurge} / maxUnavailable ${s.maxUnavailable} at every step`, async () => {
      const replicas = 10;
      const c = new Cluster(deployment({ replicas, maxSurge: s.maxSurge, maxUnavailable: s.maxUnavailable }));
      await c.rollOut();
      const [v1] = c.replicaSets();
      await c.updateSpec((d) => {
        d.spec!.template!.spec!.containers[0]!.image = 'nginx:1.27';
      });

      let maxPods = 0;
      let minAvailable = Infinity;
      const observe = (when: string) => {
        const pods = c.pods();
        const available = pods.filter(isPodReady).length;
        assert.ok(pods.length <= replicas + s.surge, `${when}: ${pods.length} pods > ${replicas} + maxSurge ${s.surge}`);
        assert.ok(available >= replicas - s.unavailable, `${when}: ${available} available < ${replicas} - maxUnavailable ${s.unavailable}`);
        maxPods = Math.max(maxPods, pods.length);
        minAvailable = Math.min(minAvailable, available);
      };
      let steps = 0;
      for (; steps < 60 && !rolledOut(c.d); steps++) {
        await c.step();
        observe(`step ${steps} after sync`);
        // A slow kubelet: one pod starts per step, so every intermediate state is visited.
        await c.kubelet(1);
        observe(`step ${steps} after kubelet`);
      }
      assert.ok(rolledOut(c.d), `rolled out within ${steps} steps`);
      // The budget is used, not just respected: upstream surges to the limit and drops to the floor.
      assert.equal(maxPods, replicas + s.surge);
      assert.equal(minAvailable, replicas - s.unavailable);

      const [old, v2] = c.replicaSets();
      assert.equal(old!.metadata.name, v1!.metadata.name);
      assert.equal(revision(v2!), 2);
      assert.notEqual(v2!.metadata.name, v1!.metadata.name);
      assert.equal(old!.spec!.replicas, 0);
      assert.equal(v2!.spec!.replicas, replicas);
      assert.ok(c.pods().every((p) => p.spec!.containers[0]!.image === 'nginx:1.27' && p.metadata.labels!['pod-template-hash'] === v2!.metadata.labels!['pod-template-hash']));
      assert.equal(c.d.status?.observedGeneration, 2);
      assert.equal(condition(c.d, 'Progressing')?.reason, 'NewReplicaSetAvailable');
    });
  }

  it('minReadySeconds: ready pods count as available only after it, and only then are old pods removed', async () => {
    const c = new Cluster(deployment({ replicas: 2, maxSurge: 1, maxUnavailable: 0, minReadySeconds: 30 }));
    await c.step();
    await c.kubelet();
    await c.step();
    assert.equal(c.replicaSets()[0]!.spec!.minReadySeconds, 30);
    assert.deepEqual([c.d.status?.readyReplicas, c.d.status?.availableReplicas ?? 0], [2, 0]);
    assert.equal(condition(c.d, 'Available')?.status, 'False');
    c.f.clock.advance(31_000);
    await c.syncReplicaSets();
    await c.step();
    assert.ok(rolledOut(c.d));
    assert.equal(condition(c.d, 'Available')?.status, 'True');

    await c.updateSpec((d) => {
      d.spec!.template!.spec!.containers[0]!.image = 'nginx:1.27';
    });
    await c.step();
    await c.kubelet();
    await c.step();
    const [old, cur] = c.replicaSets();
    assert.deepEqual([old!.spec!.replicas, cur!.spec!.replicas], [2, 1], 'the new pod is ready but not yet available: no old pod goes');
    c.f.clock.advance(31_000);
    await c.syncReplicaSets();
    await c.step();
    assert.equal(c.replicaSets()[0]!.spec!.replicas, 1);

    // A changed minReadySeconds reaches the current ReplicaSet.
    await c.updateSpec((d) => {
      d.spec!.minReadySeconds = 5;
    });
    await c.step();
    assert.equal(c.replicaSets()[1]!.spec!.minReadySeconds, 5);
  });

  it('Recreate scales the old ReplicaSet to 0 and creates the new one only when its pods are gone', async () => {
    const c = new Cluster(deployment({ replicas: 3, strategy: 'Recreate' }));
    await c.rollOut();
    const [v1] = c.replicaSets();
    await c.updateSpec((d) => {
      d.spec!.template!.spec!.containers[0]!.image = 'nginx:1.27';
    });
    c.f.takeEvents();
    // The Deployment scales down; the ReplicaSet has not deleted its pods yet.
    await c.dc.reconcile(KEY);
    c.f.sync(Deployments, ReplicaSets, Pods);
    assert.deepEqual(c.f.takeEvents(), [`Normal ScalingReplicaSet Scaled down replica set ${v1!.metadata.name} from 3 to 0`]);
    assert.equal(c.replicaSets().length, 1, 'no new ReplicaSet while old pods run');
    await c.dc.reconcile(KEY);
    assert.equal(c.replicaSets().length, 1, 'still none: the old ReplicaSet reports pods');
    await c.syncReplicaSets();
    assert.equal(c.pods().length, 0);
    c.f.takeEvents();
    await c.dc.reconcile(KEY);
    const [, v2] = c.replicaSets();
    assert.equal(v2!.spec!.replicas, 3, 'Recreate creates the new ReplicaSet at full size');
    assert.equal(revision(v2!), 2);
    assert.deepEqual(c.f.takeEvents(), [`Normal ScalingReplicaSet Scaled up replica set ${v2!.metadata.name} from 0 to 3`]);
    await c.rollOut();
    assert.ok(c.pods().every((p) => p.spec!.containers[0]!.image === 'nginx:1.27'));
  });

  it('rolling back to an old template reuses its ReplicaSet with a new revision and records the old one', async () => {
    const c = new Cluster(deployment({ replicas: 2 }));
    await c.rollOut();
    const v1Template = structuredClone(c.d.spec!.template);
    await c.updateSpec((d) => {
      d.spec!.template!.spec!.containers[0]!.image = 'nginx:1.27';
      d.metadata.annotations!['kubernetes.io/change-cause'] = 'upgrade';
    });
    await c.rollOut();
    const [v1, v2] = c.replicaSets();
    assert.deepEqual([revision(v1!), revision(v2!)], [1, 2]);

    // kubectl rollout undo: a JSON patch putting revision 1's template (minus the hash label) back.
    const template = structuredClone(v1!.spec!.template!) as Mutable<NonNullable<ReplicaSet['spec']>>['template'];
    delete template!.metadata!.labels!['pod-template-hash'];
    assert.deepEqual(template, v1Template);
    await c.f.client.patch(Deployments, NS, 'web', 'json', [{ op: 'replace', path: '/spec/template', value: template }]);
    c.f.client.clearActions();
    await c.rollOut();

    assert.equal(c.f.client.actions.filter((a) => a.verb === 'create' && a.resource === 'replicasets').length, 0, 'no new ReplicaSet');
    const rss = c.replicaSets();
    assert.equal(rss.length, 2);
    const back = rss.find((r) => r.metadata.name === v1!.metadata.name)!;
    assert.equal(revision(back), 3);
    assert.equal(back.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1');
    assert.equal(back.spec!.replicas, 2);
    assert.equal(rss.find((r) => r.metadata.name === v2!.metadata.name)!.spec!.replicas, 0);
    assert.equal(c.d.metadata.annotations?.['deployment.kubernetes.io/revision'], '3');
    assert.ok(c.pods().every((p) => p.spec!.containers[0]!.image === 'nginx:1.26'));
  });

  it('a paused Deployment makes no rollout progress and says so; resuming continues', async () => {
    const c = new Cluster(deployment({ replicas: 2 }));
    await c.rollOut();
    await c.updateSpec((d) => {
      d.spec!.paused = true;
      d.spec!.template!.spec!.containers[0]!.image = 'nginx:1.27';
    });
    c.f.client.clearActions();
    await c.step();
    await c.step();
    assert.equal(c.replicaSets().length, 1, 'no new ReplicaSet while paused');
    assert.deepEqual(
      c.f.client.actions.filter((a) => a.resource === 'replicasets' && a.verb !== 'updateStatus'),
      [],
    );
    const paused = condition(c.d, 'Progressing')!;
    assert.deepEqual([paused.status, paused.reason, paused.message], ['Unknown', 'DeploymentPaused', 'Deployment is paused']);
    assert.equal(c.d.status?.observedGeneration, 2);

    // Scaling still works while paused.
    await c.updateSpec((d) => {
      d.spec!.replicas = 4;
    });
    await c.step();
    assert.equal(c.replicaSets()[0]!.spec!.replicas, 4);
    assert.equal(c.replicaSets().length, 1);

    await c.updateSpec((d) => {
      delete d.spec!.paused;
    });
    await c.step();
    assert.equal(c.replicaSets().length, 2);
    await c.rollOut();
    assert.ok(c.pods().every((p) => p.spec!.containers[0]!.image === 'nginx:1.27'));
    assert.equal(c.pods().length, 4);
  });

  it('reports ProgressDeadlineExceeded when pods do not become ready within progressDeadlineSeconds', async () => {
    const c = new Cluster(deployment({ replicas: 2, progressDeadlineSeconds: 60 }));
    await c.rollOut();
    await c.updateSpec((d) => {
      d.spec!.template!.spec!.containers[0]!.image = 'nginx:broken';
    });
    await c.step();
    await c.step();
    await c.step();
    // Pods of the new revision never become ready; nothing moves any more.
    const stuck = condition(c.d, 'Progressing')!;
    assert.equal(stuck.status, 'True');
    assert.equal(stuck.reason, 'ReplicaSetUpdated');
    // The controller asked to look again when the deadline passes: 60 s after the last progress, plus 1 s.
    const lastUpdate = Date.parse(stuck.lastUpdateTime!);
    assert.equal(c.f.clock.nextTimerIn(), lastUpdate + 61_000 - c.f.clock.now().getTime());

    c.f.clock.advance(59_000);
    await c.step();
    assert.equal(condition(c.d, 'Progressing')!.reason, 'ReplicaSetUpdated', 'not yet');
    c.f.clock.advance(2_000);
    await c.step();
    const timedOut = condition(c.d, 'Progressing')!;
    const newRS = c.replicaSets()[1]!;
    assert.deepEqual(
      [timedOut.status, timedOut.reason, timedOut.message],
      ['False', 'ProgressDeadlineExceeded', `ReplicaSet "${newRS.metadata.name}" has timed out progressing.`],
    );
    // The old pods keep serving: availability is still met. 3 pods wanted (2 + surge 1), 2 available.
    assert.equal(condition(c.d, 'Available')?.status, 'True');
    assert.deepEqual(
      { ...c.d.status, conditions: undefined },
      { observedGeneration: 2, replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1, conditions: undefined },
    );
  });

  it('keeps revisionHistoryLimit old ReplicaSets and deletes the oldest scaled-down ones', async () => {
    const c = new Cluster(deployment({ replicas: 1, revisionHistoryLimit: 2 }));
    const names = new Map<number, string>();
    const remember = () => c.replicaSets().forEach((rs) => names.set(revision(rs), rs.metadata.name!));
    await c.rollOut();
    remember();
    for (const v of ['1.27', '1.28', '1.29', '1.30']) {
      await c.updateSpec((d) => {
        d.spec!.template!.spec!.containers[0]!.image = `nginx:${v}`;
      });
      await c.rollOut();
      remember();
      // One more sync once complete: cleanup runs when the rollout is complete as stored.
      await c.step();
    }
    const rss = c.replicaSets();
    assert.deepEqual(rss.map(revision), [3, 4, 5]);
    assert.deepEqual(rss.map((r) => r.spec!.replicas), [0, 0, 1]);
    assert.deepEqual(
      c.f.client.actions.filter((a) => a.verb === 'delete' && a.resource === 'replicasets').map((a) => a.name),
      [names.get(1), names.get(2)],
      'revisions 1 and 2 were deleted, oldest first, each once',
    );
  });

  it('scaling during a rollout spreads the change proportionally over the active ReplicaSets', async () => {
    const c = new Cluster(deployment({ replicas: 10 }));
    await c.rollOut();
    await c.updateSpec((d) => {
      d.spec!.template!.spec!.containers[0]!.image = 'nginx:1.27';
    });
    // The new pods never become ready. First sync: new 3 (13 = 10 + maxSurge 3), old 8 (8 = 10 - maxUnavailable 2);
    // second: new 5 (back up to 13 pods); then the rollout is stuck there.
    await c.step();
    await c.step();
    await c.step();
    const [old, cur] = c.replicaSets();
    assert.deepEqual([old!.spec!.replicas, cur!.spec!.replicas], [8, 5]);
    c.f.takeEvents();

    await c.updateSpec((d) => {
      d.spec!.replicas = 20;
    });
    await c.step();
    // Upstream's arithmetic: allowed 20 + 5 = 25, 12 to add; each ReplicaSet scales by 25/13 (the max-replicas
    // annotation recorded 13): old 8 -> 15.4 -> 15, new 5 -> 9.6 -> 10.
    const [old2, cur2] = c.replicaSets();
    assert.deepEqual([old2!.spec!.replicas, cur2!.spec!.replicas], [15, 10]);
    assert.deepEqual(c.f.takeEvents().filter((e) => e.includes('ScalingReplicaSet')), [
      `Normal ScalingReplicaSet Scaled up replica set ${old!.metadata.name} from 8 to 15`,
      `Normal ScalingReplicaSet Scaled up replica set ${cur!.metadata.name} from 5 to 10`,
    ]);
    for (const rs of [old2!, cur2!]) {
      assert.equal(rs.metadata.annotations!['deployment.kubernetes.io/desired-replicas'], '20');
      assert.equal(rs.metadata.annotations!['deployment.kubernetes.io/max-replicas'], '25');
    }
    await c.rollOut();
    assert.equal(c.pods().length, 20);
  });

  it('adopts an orphan ReplicaSet whose template matches instead of creating a new one', async () => {
    const c = new Cluster(deployment({ replicas: 2 }));
    await c.rollOut();
    const [rs] = c.replicaSets();
    // Orphan the ReplicaSet (what `kubectl delete deployment --cascade=orphan` leaves behind), then recreate the Deployment.
    const orphan = structuredClone(rs!) as Mutable<ReplicaSet> & KubeObject;
    orphan.metadata.ownerReferences = [];
    await c.f.client.update(ReplicaSets, NS, orphan);
    await c.f.client.delete(Deployments, NS, 'web');
    c.f.sync(Deployments, ReplicaSets, Pods);
    c.f.seed(Deployments, deployment({ replicas: 2 }));
    c.f.client.clearActions();
    await c.dc.reconcile(KEY);
    assert.deepEqual(
      c.f.client.actions.filter((a) => a.resource === 'replicasets').map((a) => `${a.verb} ${a.name}`),
      [`patch ${rs!.metadata.name}`],
      'adopted as it is: its template, revision and replica annotations are already right',
    );
    const adopted = c.replicaSets()[0]!;
    assert.equal(adopted.metadata.ownerReferences?.[0]?.uid, c.d.metadata.uid);
    // The recreated Deployment had no Progressing condition: it starts with FoundNewReplicaSet, and since the
    // adopted ReplicaSet is complete, ends the same sync at NewReplicaSetAvailable.
    const reasons = c.f.client.actions
      .filter((a) => a.verb === 'updateStatus')
      .map((a) => (a.object as D).status?.conditions?.find((x) => x.type === 'Progressing')?.reason);
    assert.deepEqual(reasons, ['FoundNewReplicaSet', 'NewReplicaSetAvailable']);
    assert.equal(condition(c.d, 'Progressing')?.message, `ReplicaSet "${rs!.metadata.name}" has successfully progressed.`);
  });

  it('a hash collision with a ReplicaSet of another template bumps collisionCount and picks another name', async () => {
    const d = deployment({ replicas: 1 });
    const template = (d.spec as Deployment['spec'])!.template;
    const hash = computePodTemplateHash(template);
    const c = new Cluster(d);
    // Someone else's ReplicaSet already has the name, with a different template.
    const [squatter] = c.f.seed<KubeObject>(ReplicaSets, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `web-${hash}`, namespace: NS, labels: { app: 'other' } },
      spec: { replicas: 0, selector: { matchLabels: { app: 'other' } }, template: { metadata: { labels: { app: 'other' } }, spec: { containers: [{ name: 'x', image: 'busybox' }] } } },
    });
    await assert.rejects(c.dc.reconcile(KEY), /already exists/);
    assert.equal(c.d.status?.collisionCount, 1);
    c.f.sync(Deployments, ReplicaSets, Pods);
    await c.dc.reconcile(KEY);
    const mine = c.replicaSets().find((rs) => rs.metadata.uid !== squatter!.metadata.uid)!;
    assert.equal(mine.metadata.name, `web-${computePodTemplateHash(template, 1)}`);
    assert.notEqual(mine.metadata.name, squatter!.metadata.name);
    assert.equal(mine.metadata.labels!['pod-template-hash'], computePodTemplateHash(template, 1));
  });
});

describe('DeploymentController and ReplicaSetController driven by events', () => {
  it('through their work queues and informer handlers alone, a Deployment rolls out and rolls over to a new template', async () => {
    const c = new Cluster(deployment({ replicas: 4 }));
    const running = Promise.all([c.dc.run(2), c.rsc.run(2)]);
    // The "API server" side: deliver writes to the caches (which fires the handlers), and a kubelet that starts
    // every pod it sees. No reconcile is called by hand.
    const pump = async (until: () => boolean, what: string) => {
      for (let i = 0; i < 500; i++) {
        await new Promise((r) => setImmediate(r));
        // Lets the retries of conflicting writes (rate-limited requeues on the fake clock) come due.
        c.f.clock.advance(100);
        c.f.sync(Deployments, ReplicaSets, Pods);
        for (const pod of c.pods()) if (!isPodReady(pod)) await c.f.markReady(pod);
        c.f.sync(Deployments, ReplicaSets, Pods);
        if (until()) return;
      }
      assert.fail(`${what}: not reached; status ${JSON.stringify(c.d.status)}`);
    };
    try {
      await pump(() => rolledOut(c.d) && c.pods().length === 4, 'first rollout');
      await c.updateSpec((d) => {
        d.spec!.template!.spec!.containers[0]!.image = 'nginx:1.27';
      });
      await pump(
        () => rolledOut(c.d) && c.pods().length === 4 && c.pods().every((p) => p.spec!.containers[0]!.image === 'nginx:1.27'),
        'second rollout',
      );
      assert.deepEqual(c.replicaSets().map((rs) => [revision(rs), rs.spec!.replicas]), [[1, 0], [2, 4]]);
      assert.equal(condition(c.d, 'Progressing')?.reason, 'NewReplicaSetAvailable');
    } finally {
      c.dc.stop();
      c.rsc.stop();
      await running;
    }
  });
});
