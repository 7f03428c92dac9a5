import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { KubeObject } from '../../api/object.js';
import { conflict } from '../../api/status.js';
import { Deployments, PodDisruptionBudgets, Pods, ReplicaSets, StatefulSets } from '../../client/resources.js';
import { ControllerFixture, readyStatus } from '../util/controller-fixture.js';
import { DisruptionController, STALE_POD_DISRUPTION_TIMEOUT_MS, staleDisruptionWait } from './disruption-controller.js';
import { DELETION_TIMEOUT_MS } from './pdb-status.js';

const NS = 'default';

function setup() {
  const f = new ControllerFixture();
  const c = new DisruptionController(f.ctx);
  c.start();
  return { f, c };
}

function owner(obj: KubeObject, kind: string) {
  return [{ apiVersion: 'apps/v1', kind, name: obj.metadata.name!, uid: obj.metadata.uid!, controller: true }];
}

/** A Deployment `web` of `replicas`, its ReplicaSet, and `ready` ready pods of it (plus `unready` pods not ready). */
function seedDeployment(f: ControllerFixture, replicas: number, ready: number, unready = 0) {
  const [d] = f.seed(Deployments, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS }, spec: { replicas, selector: { matchLabels: { app: 'web' } } } });
  const [rs] = f.seed(ReplicaSets, { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-1', namespace: NS, ownerReferences: owner(d!, 'Deployment') }, spec: { replicas } });
  const pods = [];
  for (let i = 0; i < ready + unready; i++) {
    const status = i < ready ? readyStatus(f.clock.now()) : { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] };
    pods.push(...f.seed(Pods, { apiVersion: 'v1', kind: 'Pod', metadata: { name: `web-${i}`, namespace: NS, labels: { app: 'web' }, ownerReferences: owner(rs!, 'ReplicaSet') }, spec: { containers: [] }, status }));
  }
  return { d: d!, rs: rs!, pods };
}

function seedPdb(f: ControllerFixture, spec: Record<string, unknown>, name = 'web'): KubeObject {
  return f.seed(PodDisruptionBudgets, { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, namespace: NS, generation: 1 }, spec: { selector: { matchLabels: { app: 'web' } }, ...spec } })[0]!;
}

const statusOf = (f: ControllerFixture, name = 'web') => (f.client.peek<PodDisruptionBudget & KubeObject>(PodDisruptionBudgets, NS, name)!.status ?? {}) as Record<string, unknown>;
const counters = (s: Record<string, unknown>) => ({
  expectedPods: s.expectedPods,
  desiredHealthy: s.desiredHealthy,
  currentHealthy: s.currentHealthy,
  disruptionsAllowed: s.disruptionsAllowed,
  observedGeneration: s.observedGeneration,
});

describe('DisruptionController', () => {
  it('writes the status of a maxUnavailable budget over a Deployment through /status, and nothing when unchanged', async () => {
    const { f, c } = setup();
    seedDeployment(f, 3, 3);
    seedPdb(f, { maxUnavailable: 1 });
    await c.reconcile(`${NS}/web`);
    assert.deepEqual(f.writes(), ['updateStatus poddisruptionbudgets/status web']);
    const status = statusOf(f);
    assert.deepEqual(counters(status), { expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1, observedGeneration: 1 });
    assert.deepEqual(
      (status.conditions as { type: string; status: string; reason: string }[]).map((x) => `${x.type}=${x.status}/${x.reason}`),
      ['DisruptionAllowed=True/SufficientPods'],
    );

    f.sync(PodDisruptionBudgets);
    f.client.clearActions();
    await c.reconcile(`${NS}/web`);
    assert.deepEqual(f.writes(), [], 'an unchanged status is not written again');
  });

  it('a percentage minAvailable counts the Deployment scale, not the pods that exist', async () => {
    const { f, c } = setup();
    seedDeployment(f, 4, 2, 1);
    seedPdb(f, { minAvailable: '50%' });
    await c.reconcile(`${NS}/web`);
    assert.deepEqual(counters(statusOf(f)), { expectedPods: 4, desiredHealthy: 2, currentHealthy: 2, disruptionsAllowed: 0, observedGeneration: 1 });
  });

  it('a StatefulSet is its own controller', async () => {
    const { f, c } = setup();
    const [ss] = f.seed(StatefulSets, { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: NS }, spec: { replicas: 2 } });
    for (const name of ['db-0', 'db-1']) {
      f.seed(Pods, { metadata: { name, namespace: NS, labels: { app: 'web' }, ownerReferences: owner(ss!, 'StatefulSet') }, spec: { containers: [] }, status: readyStatus(f.clock.now()) });
    }
    seedPdb(f, { maxUnavailable: '50%' });
    await c.reconcile(`${NS}/web`);
    assert.deepEqual(counters(statusOf(f)), { expectedPods: 2, desiredHealthy: 1, currentHealthy: 2, disruptionsAllowed: 1, observedGeneration: 1 });
  });

  it('a pod whose controller is unknown fails safe: nothing allowed, SyncFailed, an event', async () => {
    const { f, c } = setup();
    f.seed(Pods, { metadata: { name: 'stray', namespace: NS, labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'gone', uid: 'nope', controller: true }] }, spec: { containers: [] }, status: readyStatus(f.clock.now()) });
    seedPdb(f, { maxUnavailable: 1 });
    await c.reconcile(`${NS}/web`);
    const status = statusOf(f);
    assert.equal(status.disruptionsAllowed, 0);
    assert.deepEqual(
      (status.conditions as { status: string; reason: string; message: string }[]).map((x) => [x.status, x.reason, x.message]),
      [['False', 'SyncFailed', 'found no controllers for pod "stray"']],
    );
    assert.deepEqual(f.takeEvents(), ['Warning CalculateExpectedPodCountFailed Failed to calculate the number of expected pods: found no controllers for pod "stray"']);
  });

  it('naked pods under a percentage budget: an UnmanagedPods warning, nothing allowed', async () => {
    const { f, c } = setup();
    f.seed(Pods, { metadata: { name: 'naked', namespace: NS, labels: { app: 'web' } }, spec: { containers: [] }, status: readyStatus(f.clock.now()) });
    seedPdb(f, { minAvailable: '50%' });
    await c.reconcile(`${NS}/web`);
    assert.deepEqual(counters(statusOf(f)), { expectedPods: 0, desiredHealthy: 0, currentHealthy: 1, disruptionsAllowed: 0, observedGeneration: 1 });
    assert.match(f.takeEvents().join('\n'), /^Warning UnmanagedPods Pods selected by this PodDisruptionBudget \(selector: app=web\) were found to be unmanaged/);
  });

  it('no matching pods: a NoPods event and a safe status', async () => {
    const { f, c } = setup();
    seedPdb(f, { minAvailable: 1 });
    await c.reconcile(`${NS}/web`);
    assert.deepEqual(f.takeEvents(), ['Normal NoPods No matching pods found']);
    assert.deepEqual(counters(statusOf(f)), { expectedPods: 0, desiredHealthy: 1, currentHealthy: 0, disruptionsAllowed: 0, observedGeneration: 1 });
  });

  it('a write conflict is returned for a retry, not turned into the fail-safe status', async () => {
    const { f, c } = setup();
    seedDeployment(f, 2, 2);
    seedPdb(f, { minAvailable: 1 });
    f.client.prependReactor('updateStatus', 'poddisruptionbudgets', () => {
      throw conflict({ group: 'policy', resource: 'poddisruptionbudgets', name: 'web' });
    });
    await assert.rejects(c.reconcile(`${NS}/web`), /Operation cannot be fulfilled/);
    assert.equal(f.actionsOf('updateStatus', 'poddisruptionbudgets').length, 1, 'no second, fail-safe write');
  });

  it('an eviction entry keeps its pod out of currentHealthy until it expires, then the PDB is synced again', async () => {
    const { f, c } = setup();
    seedDeployment(f, 3, 3);
    const pdb = seedPdb(f, { minAvailable: 2 });
    // What the eviction subresource writes before deleting web-0.
    const evicted = structuredClone(f.client.peek(PodDisruptionBudgets, NS, 'web')!) as KubeObject & { status: Record<string, unknown> };
    evicted.status = { disruptedPods: { 'web-0': f.clock.now().toISOString().replace(/\.\d{3}Z$/, 'Z') }, disruptionsAllowed: 0, currentHealthy: 3, desiredHealthy: 2, expectedPods: 3, observedGeneration: 1 };
    await f.client.updateStatus(PodDisruptionBudgets, NS, evicted);
    f.sync(PodDisruptionBudgets);
    assert.ok(pdb);
    while (c.queue.length) c.queue.done((await c.queue.get())!);

    await c.reconcile(`${NS}/web`);
    assert.equal(statusOf(f).currentHealthy, 2);
    assert.deepEqual(Object.keys(statusOf(f).disruptedPods as object), ['web-0']);
    assert.equal(c.queue.length, 0);
    f.clock.advance(DELETION_TIMEOUT_MS);
    assert.equal(c.queue.length, 1, 'requeued when the entry expires');

    // The pod was never deleted: the entry goes, the pod counts again, and the pod gets a NotDeleted warning.
    f.clock.advance(1000);
    f.sync(PodDisruptionBudgets);
    f.takeEvents();
    await c.reconcile(`${NS}/web`);
    assert.equal(statusOf(f).currentHealthy, 3);
    assert.equal(statusOf(f).disruptedPods, undefined);
    assert.deepEqual(f.takeEvents(), [`Warning NotDeleted Pod was expected by PDB ${NS}/${NS} to be deleted but it wasn't`]);
  });

  it('pod events enqueue the budgets selecting the pod, before and after a label change', async () => {
    const { f, c } = setup();
    seedPdb(f, { minAvailable: 1 }, 'web');
    f.seed(PodDisruptionBudgets, { metadata: { name: 'db', namespace: NS, generation: 1 }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'db' } } } });
    f.seed(PodDisruptionBudgets, { metadata: { name: 'other-ns', namespace: 'other', generation: 1 }, spec: { minAvailable: 1, selector: {} } });
    const drain = async () => {
      const keys: string[] = [];
      while (c.queue.length) {
        const k = (await c.queue.get())!;
        keys.push(k);
        c.queue.done(k);
      }
      return keys.sort();
    };
    await drain();
    f.seed(Pods, { metadata: { name: 'p', namespace: NS, labels: { app: 'web' } }, spec: { containers: [] } });
    assert.deepEqual(await drain(), [`${NS}/web`]);
    const p = f.client.peek(Pods, NS, 'p')!;
    p.metadata.labels = { app: 'db' };
    await f.client.update(Pods, NS, p);
    f.sync(Pods);
    assert.deepEqual(await drain(), [`${NS}/db`, `${NS}/web`]);
  });
});

describe('stale DisruptionTarget conditions', () => {
  const targeted = (f: ControllerFixture, name: string, o: { reason?: string; deleting?: boolean; phase?: string } = {}) => ({
    metadata: { name, namespace: NS, labels: { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2025-01-01T12:00:00Z', finalizers: ['x/y'] } : {}) },
    spec: { containers: [] },
    status: {
      phase: o.phase ?? 'Running',
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'DisruptionTarget', status: 'True', reason: o.reason ?? 'EvictionByEvictionAPI', message: 'Eviction API: evicting', lastTransitionTime: f.clock.now().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      ],
    },
  });

  it('which pods can go stale, and when', () => {
    const f = new ControllerFixture();
    const now = f.clock.now();
    assert.equal(staleDisruptionWait(targeted(f, 'a'), now), STALE_POD_DISRUPTION_TIMEOUT_MS);
    assert.equal(staleDisruptionWait(targeted(f, 'a'), new Date(now.getTime() + STALE_POD_DISRUPTION_TIMEOUT_MS + 5000)), 0);
    assert.equal(staleDisruptionWait(targeted(f, 'b', { deleting: true }), now), undefined, 'being deleted: the eviction happened');
    assert.equal(staleDisruptionWait(targeted(f, 'c', { reason: 'TerminationByKubelet' }), now), undefined, "the kubelet's own");
    assert.equal(staleDisruptionWait(targeted(f, 'd', { phase: 'Failed' }), now), undefined, 'finished');
  });

  it('a pod that was not deleted 2 minutes after its eviction gets DisruptionTarget=False', async () => {
    const { f, c } = setup();
    f.seed(Pods, targeted(f, 'a'));
    assert.equal(c.stalePodQueue.length, 0);
    f.clock.advance(STALE_POD_DISRUPTION_TIMEOUT_MS);
    assert.equal(c.stalePodQueue.length, 1);
    const key = (await c.stalePodQueue.get())!;
    await c.syncStalePodDisruption(key);
    c.stalePodQueue.done(key);
    assert.deepEqual(f.writes(), ['updateStatus pods/status a']);
    const conditions = (f.client.peek(Pods, NS, 'a')!.status as { conditions: unknown[] }).conditions;
    assert.deepEqual(conditions, [
      { type: 'Ready', status: 'True' },
      { type: 'DisruptionTarget', status: 'False', lastTransitionTime: f.clock.now().toISOString().replace(/\.\d{3}Z$/, 'Z') },
    ]);
  });

  it('a pod deleted meanwhile is left alone', async () => {
    const { f, c } = setup();
    f.seed(Pods, targeted(f, 'a'));
    f.clock.advance(STALE_POD_DISRUPTION_TIMEOUT_MS);
    const p = f.client.peek(Pods, NS, 'a')!;
    await f.client.delete(Pods, NS, 'a');
    f.sync(Pods);
    f.client.clearActions();
    await c.syncStalePodDisruption(`${NS}/${p.metadata.name}`);
    assert.deepEqual(f.writes(), []);
  });
});

describe('registration', () => {
  it('runs as `disruption` and `--disable disruption` leaves it out', async () => {
    const { controllerFactories } = await import('../all.js');
    const { ControllerManager } = await import('../manager.js');
    const f = new ControllerFixture();
    assert.ok(new ControllerManager(f.ctx, controllerFactories).names.includes('disruption'));
    const names = new ControllerManager(f.ctx, controllerFactories, ['disruption']).names;
    assert.ok(!names.includes('disruption'));
    assert.ok(names.includes('replicaset'));
  });
});
