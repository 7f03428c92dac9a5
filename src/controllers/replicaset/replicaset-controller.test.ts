import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { StatusError } from '../../api/status.js';
import { Pods, ReplicaSets } from '../../client/resources.js';
import { ControllerFixture, readyStatus } from '../util/controller-fixture.js';
import { rfc3339 } from '../../api/time.js';
import { ReplicaSetController } from './replicaset-controller.js';

const NS = 'default';

function replicaSet(name: string, replicas: number, extra: { minReadySeconds?: number; deletionTimestamp?: string } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: NS, generation: 2, ...(extra.deletionTimestamp ? { deletionTimestamp: extra.deletionTimestamp, finalizers: ['foregroundDeletion'] } : {}) },
    spec: {
      replicas,
      minReadySeconds: extra.minReadySeconds ?? 0,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web', tier: 'frontend' }, annotations: { note: 'copied' } },
        spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] },
      },
    },
    status: { replicas: 0 },
  };
}

interface PodOpts {
  labels?: Record<string, string>;
  owner?: KubeObject;
  ownerKind?: string;
  node?: string;
  phase?: string;
  readyAt?: Date;
  created?: Date;
  restarts?: number;
  cost?: string;
  uid?: string;
}

function pod(name: string, o: PodOpts = {}): KubeObject {
  const status: Record<string, unknown> = o.readyAt ? { ...readyStatus(o.readyAt) } : { phase: o.phase ?? 'Pending' };
  if (o.phase) status.phase = o.phase;
  if (o.restarts !== undefined) status.containerStatuses = [{ name: 'nginx', restartCount: o.restarts, ready: !!o.readyAt, image: 'nginx', imageID: '' }];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: NS,
      labels: o.labels ?? { app: 'web', tier: 'frontend' },
      ...(o.uid ? { uid: o.uid } : {}),
      ...(o.created ? { creationTimestamp: rfc3339(o.created) } : {}),
      ...(o.cost !== undefined ? { annotations: { 'controller.kubernetes.io/pod-deletion-cost': o.cost } } : {}),
      ...(o.owner
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: o.ownerKind ?? 'ReplicaSet', name: o.owner.metadata.name!, uid: o.owner.metadata.uid!, controller: true, blockOwnerDeletion: true },
            ],
          }
        : {}),
    },
    spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }], ...(o.node ? { nodeName: o.node } : {}) },
    status,
  };
}

function setup() {
  const f = new ControllerFixture();
  const c = new ReplicaSetController(f.ctx);
  c.start();
  return { f, c };
}

const verbs = (f: ControllerFixture) => f.client.actions.map((a) => `${a.verb} ${a.resource}${a.subresource ? '/' + a.subresource : ''}${a.name ? ' ' + a.name : ''}`);

describe('ReplicaSetController', () => {
  it('scales up from 0: creates pods from the template in slow-start batches and reports status', async () => {
    const { f, c } = setup();
    const [rs] = f.seed(ReplicaSets, replicaSet('web', 10));
    // Record, for each create, how many creates had completed when it was sent: one batch shares one value.
    const completedAtStart: number[] = [];
    let completed = 0;
    const create = f.client.create.bind(f.client);
    f.client.create = (async (...args: Parameters<typeof create>) => {
      completedAtStart.push(completed);
      try {
        return await create(...args);
      } finally {
        completed++;
      }
    }) as typeof create;

    await c.reconcile('default/web');

    const batches = [...new Set(completedAtStart)].map((v) => completedAtStart.filter((x) => x === v).length);
    assert.deepEqual(batches, [1, 2, 4, 3]);
    const pods = f.client.all<Pod & KubeObject>(Pods);
    assert.equal(pods.length, 10);
    for (const p of pods) {
      assert.match(p.metadata.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.equal(p.metadata.generateName, 'web-');
      assert.deepEqual(p.metadata.labels, { app: 'web', tier: 'frontend' });
      assert.deepEqual(p.metadata.annotations, { note: 'copied' });
      assert.deepEqual(p.metadata.ownerReferences, [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs!.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      assert.equal(p.spec?.containers[0]?.image, 'nginx:1.27');
    }
    const events = f.takeEvents();
    assert.equal(events.length, 10);
    assert.deepEqual(events[0], `Normal SuccessfulCreate Created pod: ${pods.map((p) => p.metadata.name).sort()[0]}`);
    const stored = f.client.peek<ReplicaSet & KubeObject>(ReplicaSets, NS, 'web')!;
    // The pods are not in the cache yet, so status still counts what the cache shows.
    assert.deepEqual(stored.status, { replicas: 0, observedGeneration: 2 });
    assert.deepEqual(c.expectations.get('default/web'), { adds: 10, dels: 0 });

    f.sync(ReplicaSets, Pods);
    assert.deepEqual(c.expectations.get('default/web'), { adds: 0, dels: 0 });
    f.client.clearActions();
    await c.reconcile('default/web');
    assert.deepEqual(verbs(f), ['updateStatus replicasets/status web']);
    assert.deepEqual(f.client.peek<ReplicaSet & KubeObject>(ReplicaSets, NS, 'web')!.status, { replicas: 10, fullyLabeledReplicas: 10, observedGeneration: 2 });
  });

  it('expectations keep a lagging cache from causing a second round of creates, until they expire', async () => {
    const { f, c } = setup();
    f.seed(ReplicaSets, replicaSet('web', 3));
    await c.reconcile('default/web');
    assert.equal(f.client.all(Pods).length, 3);

    // The ReplicaSet's status write reached the cache, the 3 new pods did not: the cache still shows none.
    f.sync(ReplicaSets);
    f.client.clearActions();
    await c.reconcile('default/web');
    assert.deepEqual(verbs(f), [], 'no creates while the created pods are unobserved');
    assert.equal(f.client.all(Pods).length, 3);

    // One pod arrives; still 2 expected.
    const [first] = f.client.all(Pods);
    f.informers.informerFor(Pods).add(first!);
    await c.reconcile('default/web');
    assert.equal(f.client.all(Pods).length, 3);
    assert.deepEqual(c.expectations.get('default/web'), { adds: 2, dels: 0 });

    // If those events are lost, the expectations expire after 5 minutes and the controller acts on what it sees.
    f.clock.advance(5 * 60 * 1000 + 1000);
    await c.reconcile('default/web');
    assert.equal(f.client.all(Pods).length, 5, 'the cache showed 1 of 3, so 2 more were created');
  });

  it('scales down the cheapest pods first: unassigned, pending, not ready, then by deletion cost', async () => {
    const { f, c } = setup();
    const [rs] = f.seed(ReplicaSets, replicaSet('web', 3));
    const now = f.clock.now().getTime();
    const t = (minutesAgo: number) => new Date(now - minutesAgo * 60_000);
    f.seed(
      Pods,
      pod('ready-cheap', { owner: rs, node: 'n1', readyAt: t(60), created: t(61), cost: '-5' }),
      pod('ready-a', { owner: rs, node: 'n1', readyAt: t(60), created: t(61) }),
      pod('unassigned', { owner: rs, created: t(1) }),
      pod('ready-b', { owner: rs, node: 'n2', readyAt: t(60), created: t(61) }),
      pod('running-not-ready', { owner: rs, node: 'n2', phase: 'Running', created: t(30) }),
      pod('pending', { owner: rs, node: 'n1', phase: 'Pending', created: t(30) }),
    );
    f.client.clearActions();
    await c.reconcile('default/web');
    const deleted = f.client.actions.filter((a) => a.verb === 'delete').map((a) => a.name);
    assert.deepEqual(deleted, ['unassigned', 'pending', 'running-not-ready']);
    assert.deepEqual(f.client.all(Pods).map((p) => p.metadata.name).sort(), ['ready-a', 'ready-b', 'ready-cheap']);
    assert.deepEqual(f.takeEvents(), ['Normal SuccessfulDelete Deleted pod: unassigned', 'Normal SuccessfulDelete Deleted pod: pending', 'Normal SuccessfulDelete Deleted pod: running-not-ready']);
    assert.deepEqual(c.expectations.get('default/web'), { adds: 0, dels: 3 });

    // Deleting again before the cache shows the deletions would pick the same pods twice: the sync waits.
    f.client.clearActions();
    await c.reconcile('default/web');
    assert.deepEqual(f.client.actions.filter((a) => a.verb === 'delete'), []);

    f.sync(ReplicaSets, Pods);
    assert.deepEqual(c.expectations.get('default/web'), { adds: 0, dels: 0 });
    // Scaling to 2: among equally ready pods the negative deletion cost goes first.
    const stored = f.client.peek<KubeObject>(ReplicaSets, NS, 'web')!;
    (stored.spec as { replicas: number }).replicas = 2;
    await f.client.update(ReplicaSets, NS, stored);
    f.sync(ReplicaSets, Pods);
    f.client.clearActions();
    await c.reconcile('default/web');
    assert.deepEqual(f.client.actions.filter((a) => a.verb === 'delete').map((a) => a.name), ['ready-cheap']);
  });

  it('scales down newer and more restarted pods before older ones among ready pods', async () => {
    const { f, c } = setup();
    const [rs] = f.seed(ReplicaSets, replicaSet('web', 2));
    const now = f.clock.now().getTime();
    const t = (minutesAgo: number) => new Date(now - minutesAgo * 60_000);
    f.seed(
      Pods,
      pod('old', { owner: rs, node: 'n1', readyAt: t(600), created: t(601), restarts: 0 }),
      pod('young', { owner: rs, node: 'n2', readyAt: t(2), created: t(3), restarts: 0 }),
      pod('restarty', { owner: rs, node: 'n3', readyAt: t(600), created: t(601), restarts: 7 }),
      pod('old-2', { owner: rs, node: 'n4', readyAt: t(600), created: t(601), restarts: 0 }),
    );
    await c.reconcile('default/web');
    // Ready for 2 minutes is younger than 10 hours on the log scale: 'young' goes; then the restarts decide.
    assert.deepEqual(f.client.actions.filter((a) => a.verb === 'delete').map((a) => a.name), ['young', 'restarty']);
  });

  it('adopts matching orphans, releases pods that stopped matching, ignores pods of other controllers', async () => {
    const { f, c } = setup();
    const [rs] = f.seed(ReplicaSets, replicaSet('web', 3));
    const [other] = f.seed(ReplicaSets, { ...replicaSet('other', 0), spec: { ...(replicaSet('other', 0).spec as object), selector: { matchLabels: { app: 'other' } } } });
    f.seed(
      Pods,
      pod('orphan', { readyAt: f.clock.now(), node: 'n1' }),
      pod('relabelled', { owner: rs, labels: { app: 'debug' } }),
      pod('owned', { owner: rs }),
      pod('foreign', { owner: other }),
      pod('unrelated-orphan', { labels: { app: 'db' } }),
    );
    f.client.clearActions();
    await c.reconcile('default/web');

    // The fresh read of the ReplicaSet happens once, before the first adoption.
    assert.deepEqual(
      verbs(f).filter((v) => !v.startsWith('create')),
      ['patch pods relabelled', 'get replicasets web', 'patch pods orphan', 'updateStatus replicasets/status web'],
    );
    const adopted = f.client.peek<KubeObject>(Pods, NS, 'orphan')!;
    assert.deepEqual(adopted.metadata.ownerReferences, [
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs!.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    assert.deepEqual(f.client.peek<KubeObject>(Pods, NS, 'relabelled')!.metadata.ownerReferences, []);
    assert.equal(f.client.peek<KubeObject>(Pods, NS, 'foreign')!.metadata.ownerReferences![0]!.name, 'other');
    assert.equal(f.client.peek<KubeObject>(Pods, NS, 'unrelated-orphan')!.metadata.ownerReferences, undefined);
    // Claimed: orphan + owned = 2 of 3, so one pod is created; the released one no longer counts.
    assert.equal(f.client.actions.filter((a) => a.verb === 'create').length, 1);
    const status = f.client.peek<ReplicaSet & KubeObject>(ReplicaSets, NS, 'web')!.status!;
    assert.equal(status.replicas, 2);
    assert.equal(status.readyReplicas, 1);
  });

  it('does not adopt when a fresh read shows the ReplicaSet is being deleted', async () => {
    const { f, c } = setup();
    f.seed(ReplicaSets, replicaSet('web', 1));
    f.seed(Pods, pod('orphan'));
    // The cache still shows the ReplicaSet alive, the server knows it is being deleted.
    const fresh = f.client.peek<KubeObject>(ReplicaSets, NS, 'web')!;
    fresh.metadata.finalizers = ['foregroundDeletion'];
    await f.client.update(ReplicaSets, NS, fresh);
    await f.client.delete(ReplicaSets, NS, 'web', { propagationPolicy: 'Foreground' });
    f.client.clearActions();
    await assert.rejects(c.reconcile('default/web'), /can't adopt Pod default\/orphan .*has just been deleted/);
    assert.equal(f.client.peek<KubeObject>(Pods, NS, 'orphan')!.metadata.ownerReferences, undefined);
    assert.deepEqual(verbs(f), ['get replicasets web']);
  });

  it('counts ready, available (minReadySeconds) and fully labelled pods, and requeues when only time is missing', async () => {
    const { f, c } = setup();
    const [rs] = f.seed(ReplicaSets, replicaSet('web', 3, { minReadySeconds: 30 }));
    const now = f.clock.now().getTime();
    f.seed(
      Pods,
      pod('long-ready', { owner: rs, node: 'n1', readyAt: new Date(now - 60_000) }),
      pod('just-ready', { owner: rs, node: 'n1', readyAt: new Date(now - 10_000) }),
      pod('partly-labelled', { owner: rs, node: 'n1', readyAt: new Date(now - 60_000), labels: { app: 'web' } }),
      pod('finished', { owner: rs, node: 'n1', phase: 'Succeeded' }),
    );
    f.client.clearActions();
    await c.reconcile('default/web');
    assert.deepEqual(verbs(f), ['updateStatus replicasets/status web'], 'the Succeeded pod does not count, so 3 of 3 exist');
    const status = f.client.peek<ReplicaSet & KubeObject>(ReplicaSets, NS, 'web')!.status;
    assert.deepEqual(status, { replicas: 3, fullyLabeledReplicas: 2, readyReplicas: 3, availableReplicas: 2, observedGeneration: 2 });
    // All ready, one not yet available: the controller must look again after minReadySeconds.
    while (c.queue.length > 0) c.queue.done((await c.queue.get())!);
    assert.equal(f.clock.nextTimerIn(), 30_000);
    f.clock.advance(30_000);
    assert.equal(c.queue.length, 1);

    // Nothing changed: a second sync writes nothing.
    f.sync(ReplicaSets, Pods);
    f.clock.set(now);
    f.client.clearActions();
    await c.reconcile('default/web');
    assert.deepEqual(verbs(f), []);
  });

  it('reports a failed create as a FailedCreate event and ReplicaFailure condition, cleared by the next good sync', async () => {
    const { f, c } = setup();
    f.seed(ReplicaSets, replicaSet('web', 4));
    const quota = new StatusError({ message: 'pods "web-x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2', reason: 'Forbidden', code: 403 });
    let creates = 0;
    f.client.prependReactor('create', 'pods', () => {
      creates++;
      if (creates >= 2) throw quota;
      return undefined;
    });
    await assert.rejects(c.reconcile('default/web'), /exceeded quota/);
    // Batches 1 then 2: the second batch fails, so the fourth pod is never attempted.
    assert.equal(creates, 3);
    assert.equal(f.client.all(Pods).length, 1);
    const events = f.takeEvents();
    assert.equal(events.filter((e) => e.startsWith('Warning FailedCreate Error creating: pods "web-x" is forbidden: exceeded quota')).length, 2);
    const status = f.client.peek<ReplicaSet & KubeObject>(ReplicaSets, NS, 'web')!.status!;
    assert.equal(status.conditions?.length, 1);
    assert.deepEqual({ ...status.conditions![0], lastTransitionTime: undefined }, {
      type: 'ReplicaFailure',
      status: 'True',
      reason: 'FailedCreate',
      message: quota.message,
      lastTransitionTime: undefined,
    });
    // The two failed creates will never be observed, so only the one success is still expected.
    assert.deepEqual(c.expectations.get('default/web'), { adds: 1, dels: 0 });

    creates = -100;
    f.sync(ReplicaSets, Pods);
    await c.reconcile('default/web');
    assert.equal(f.client.all(Pods).length, 4);
    assert.equal(f.client.peek<ReplicaSet & KubeObject>(ReplicaSets, NS, 'web')!.status!.conditions, undefined);
  });

  it('does not create or delete pods for a ReplicaSet being deleted, but still reports status', async () => {
    const { f, c } = setup();
    f.seed(ReplicaSets, replicaSet('web', 3, { deletionTimestamp: '2025-01-01T00:00:00Z' }));
    f.client.clearActions();
    await c.reconcile('default/web');
    assert.deepEqual(verbs(f), ['updateStatus replicasets/status web']);
  });

  it('a deleted ReplicaSet is done and its expectations are forgotten', async () => {
    const { f, c } = setup();
    f.seed(ReplicaSets, replicaSet('web', 2));
    await c.reconcile('default/web');
    assert.ok(c.expectations.get('default/web'));
    f.informers.informerFor(ReplicaSets).delete('default/web');
    f.client.clearActions();
    await c.reconcile('default/web');
    assert.deepEqual(verbs(f), []);
    assert.equal(c.expectations.get('default/web'), undefined);
  });

  it('pod events enqueue the owning ReplicaSet, orphans wake the ReplicaSets that select them', async () => {
    const { f, c } = setup();
    const [rs] = f.seed(ReplicaSets, replicaSet('web', 1));
    while (c.queue.length > 0) c.queue.done((await c.queue.get())!);
    f.informers.informerFor(Pods).add(pod('orphan'));
    assert.equal(await c.queue.get(), 'default/web');
    c.queue.done('default/web');
    f.informers.informerFor(Pods).add(pod('owned', { owner: rs }));
    assert.equal(await c.queue.get(), 'default/web');
    c.queue.done('default/web');
    f.informers.informerFor(Pods).add(pod('elsewhere', { labels: { app: 'db' } }));
    assert.equal(c.queue.length, 0);
  });
});
