import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { Jobs, Pods } from '../../client/resources.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { JobController } from './job-controller.js';
import { jobTrackingFinalizer } from './job-util.js';
import { rfc3339 } from '../../api/time.js';

type JobObj = Mutable<Job> & KubeObject;
type PodObj = Mutable<Pod> & KubeObject;

const uid = 'job-uid-1';

/** A Job as the API server stores it: defaults applied and the selector generated from the uid. */
function job(name: string, spec: Partial<Mutable<Job['spec']>> = {}, status: Mutable<Job['status']> = {}): JobObj {
  const labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default', uid, resourceVersion: '5' },
    spec: {
      completions: 1,
      parallelism: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      suspend: false,
      podReplacementPolicy: 'TerminatingOrFailed',
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } },
      template: {
        metadata: { labels },
        spec: { restartPolicy: 'Never', containers: [{ name: 'work', image: 'busybox' }] },
      },
      ...spec,
    },
    status,
  };
}

let podSeq = 0;
function pod(jobName: string, phase: string, extra: { ready?: boolean; finishedAt?: string; index?: number; finalizer?: boolean; node?: string } = {}): PodObj {
  const name = extra.index !== undefined ? `${jobName}-${extra.index}-p${++podSeq}` : `${jobName}-p${++podSeq}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `pod-uid-${podSeq}`,
      labels: { 'batch.kubernetes.io/controller-uid': uid },
      ...(extra.index !== undefined ? { annotations: { 'batch.kubernetes.io/job-completion-index': String(extra.index) } } : {}),
      ...(extra.finalizer === false ? {} : { finalizers: [jobTrackingFinalizer] }),
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { containers: [{ name: 'work', image: 'busybox' }], ...(extra.node ? { nodeName: extra.node } : {}) },
    status: {
      phase,
      conditions: [{ type: 'Ready', status: extra.ready ? 'True' : 'False' }],
      ...(extra.finishedAt
        ? { containerStatuses: [{ name: 'work', image: 'busybox', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: phase === 'Failed' ? 1 : 0, finishedAt: extra.finishedAt } } }] }
        : {}),
    },
  };
}

function setup() {
  const f = new ControllerFixture();
  const c = new JobController(f.ctx);
  c.start();
  return { f, c };
}

function stored(f: ControllerFixture, name = 'pi'): JobObj {
  return f.client.peek<JobObj>(Jobs, 'default', name)!;
}

function conditionTypes(j: JobObj): string[] {
  return (j.status?.conditions ?? []).filter((c) => c.status === 'True').map((c) => c.type);
}

describe('JobController', () => {
  it('starts parallelism pods for a new Job, labelled, owned and holding the tracking finalizer', async () => {
    const { f, c } = setup();
    f.seed(Jobs, job('pi', { completions: 5, parallelism: 2 }));
    await c.reconcile('default/pi');

    const creates = f.actionsOf('create', 'pods').map((a) => a.object as PodObj);
    assert.equal(creates.length, 2);
    for (const p of creates) {
      assert.equal(p.metadata.generateName, 'pi-');
      assert.equal(p.metadata.labels?.['batch.kubernetes.io/job-name'], 'pi');
      assert.equal(p.metadata.labels?.['controller-uid'], uid);
      assert.deepEqual(p.metadata.finalizers, [jobTrackingFinalizer]);
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: 'pi', uid, controller: true, blockOwnerDeletion: true }]);
    }
    // Names are <job>-<5 characters> from generateName.
    for (const p of f.client.all<PodObj>(Pods)) assert.match(p.metadata.name!, /^pi-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const st = stored(f).status!;
    assert.equal(st.active, 2);
    assert.equal(st.ready, 0);
    assert.equal(st.startTime, rfc3339(f.clock.now()));
    assert.deepEqual(f.recorder.lines().map((l) => l.replace(/pi-\w{5}$/, 'pi-XXXXX')), ['Normal SuccessfulCreate Created pod: pi-XXXXX', 'Normal SuccessfulCreate Created pod: pi-XXXXX']);
  });

  it('does not create again while its creations are unobserved (expectations)', async () => {
    const { f, c } = setup();
    f.seed(Jobs, job('pi', { completions: 5, parallelism: 2 }));
    await c.reconcile('default/pi');
    f.informers.informerFor(Jobs).update(stored(f));
    f.client.clearActions();
    await c.reconcile('default/pi');
    assert.equal(f.actionsOf('create', 'pods').length, 0);
  });

  it('counts a succeeded pod through uncountedTerminatedPods, releases its finalizer, and replaces it', async () => {
    const { f, c } = setup();
    f.seed(Jobs, job('pi', { completions: 3, parallelism: 2 }, { startTime: '2025-01-01T11:00:00Z', active: 2, ready: 1, terminating: 0 }));
    const [done] = f.seed(Pods, pod('pi', 'Succeeded', { finishedAt: '2025-01-01T11:59:00Z' }), pod('pi', 'Running', { ready: true }));
    await c.reconcile('default/pi');

    const statusWrites = f.actionsOf('updateStatus', 'jobs').map((a) => (a.object as JobObj).status!);
    assert.equal(statusWrites.length, 2);
    // First write: the pod is recorded as uncounted before its finalizer comes off.
    assert.deepEqual(statusWrites[0]!.uncountedTerminatedPods, { succeeded: [done!.metadata.uid] });
    assert.equal(statusWrites[0]!.succeeded ?? 0, 0);
    // Then counted.
    assert.deepEqual(statusWrites[1]!.uncountedTerminatedPods, {});
    assert.equal(statusWrites[1]!.succeeded, 1);
    assert.equal(statusWrites[1]!.active, 2);
    const patch = f.actionsOf('patch', 'pods')[0]!;
    assert.equal(patch.name, done!.metadata.name);
    assert.deepEqual(f.client.peek<PodObj>(Pods, 'default', done!.metadata.name!)!.metadata.finalizers ?? [], []);
    // One more pod runs (2 remaining completions, parallelism 2, one running).
    assert.equal(f.actionsOf('create', 'pods').length, 1);
  });

  it('completes: SuccessCriteriaMet then Complete with completionTime, and a Completed event', async () => {
    const { f, c } = setup();
    f.seed(Jobs, job('pi', { completions: 2, parallelism: 1 }, { startTime: '2025-01-01T11:00:00Z', succeeded: 1, active: 1, ready: 0, terminating: 0 }));
    f.seed(Pods, pod('pi', 'Succeeded', { finishedAt: '2025-01-01T11:59:00Z' }));
    await c.reconcile('default/pi');

    const j = stored(f);
    assert.deepEqual(conditionTypes(j), ['SuccessCriteriaMet', 'Complete']);
    const complete = j.status!.conditions!.find((x) => x.type === 'Complete')!;
    assert.equal(complete.reason, 'CompletionsReached');
    assert.equal(complete.message, 'Reached expected number of succeeded pods');
    assert.equal(j.status!.succeeded, 2);
    assert.equal(j.status!.active, undefined);
    assert.equal(j.status!.completionTime, rfc3339(f.clock.now()));
    assert.equal(f.actionsOf('create', 'pods').length, 0);
    assert.deepEqual(f.recorder.lines(), ['Normal Completed Job completed']);
  });

  it('a Job without completions is complete once one pod succeeded and the others ended', async () => {
    const { f, c } = setup();
    f.seed(Jobs, job('q', { completions: null as unknown as number, parallelism: 2 }, { startTime: '2025-01-01T11:00:00Z', active: 2 }));
    f.seed(Pods, pod('q', 'Succeeded', { finishedAt: '2025-01-01T11:59:00Z' }), pod('q', 'Running', { ready: true }));
    await c.reconcile('default/q');
    // Still one running: no new pods, not complete.
    assert.equal(f.actionsOf('create', 'pods').length, 0);
    assert.deepEqual(conditionTypes(stored(f, 'q')), []);
    assert.equal(stored(f, 'q').status!.succeeded, 1);
  });

  it('replaces a failed pod only after the backoff (10 s after the failure)', async () => {
    const { f, c } = setup();
    const now = f.clock.now().getTime();
    f.seed(Jobs, job('pi', {}, { startTime: '2025-01-01T11:00:00Z', active: 1 }));
    f.seed(Pods, pod('pi', 'Failed', { finishedAt: rfc3339(new Date(now - 2000)) }));
    await c.reconcile('default/pi');
    assert.equal(f.actionsOf('create', 'pods').length, 0);
    assert.equal(stored(f).status!.failed, 1);
    assert.deepEqual(conditionTypes(stored(f)), []);

    f.clock.advance(8_000);
    f.sync(Jobs, Pods);
    f.client.clearActions();
    await c.reconcile('default/pi');
    assert.equal(f.actionsOf('create', 'pods').length, 1);
  });

  it('fails with BackoffLimitExceeded once failures pass backoffLimit, deleting the remaining pods first', async () => {
    const { f, c } = setup();
    f.seed(Jobs, job('pi', { completions: 3, parallelism: 2, backoffLimit: 1 }, { startTime: '2025-01-01T11:00:00Z', failed: 1, active: 2 }));
    const [, running] = f.seed(Pods, pod('pi', 'Failed', { finishedAt: '2025-01-01T11:59:00Z' }), pod('pi', 'Running', { ready: true }));
    await c.reconcile('default/pi');

    assert.deepEqual(
      f.actionsOf('delete', 'pods').map((a) => a.name),
      [running!.metadata.name],
    );
    let j = stored(f);
    // The interim condition first; Failed waits until no pod is terminating.
    assert.deepEqual(conditionTypes(j), ['FailureTarget']);
    assert.equal(j.status!.conditions![0]!.reason, 'BackoffLimitExceeded');
    // Both the failed pod and the deleted running one count as failed.
    assert.equal(j.status!.failed, 3);
    assert.equal(j.status!.terminating, 1);
    // The deleted pod went away once released; the failed one stays (pod GC's business), without the finalizer.
    const left = f.client.all<PodObj>(Pods);
    assert.deepEqual(left.map((p) => [p.status?.phase, p.metadata.finalizers ?? []]), [['Failed', []]]);

    f.sync(Jobs, Pods);
    await c.reconcile('default/pi');
    j = stored(f);
    assert.deepEqual(conditionTypes(j), ['FailureTarget', 'Failed']);
    const failed = j.status!.conditions!.find((x) => x.type === 'Failed')!;
    assert.equal(failed.reason, 'BackoffLimitExceeded');
    assert.equal(failed.message, 'Job has reached the specified backoff limit');
    assert.equal(j.status!.completionTime, undefined);
    assert.ok(f.recorder.lines().includes('Warning BackoffLimitExceeded Job has reached the specified backoff limit'));
  });

  it('fails in one sync when the last failure passes the limit and nothing else runs', async () => {
    const { f, c } = setup();
    f.seed(Jobs, job('pi', { backoffLimit: 0 }, { startTime: '2025-01-01T11:00:00Z', active: 1 }));
    f.seed(Pods, pod('pi', 'Failed', { finishedAt: '2025-01-01T11:59:00Z' }));
    await c.reconcile('default/pi');
    assert.deepEqual(conditionTypes(stored(f)), ['FailureTarget', 'Failed']);
    assert.equal(f.actionsOf('create', 'pods').length, 0);
  });

  it('fails with DeadlineExceeded past activeDeadlineSeconds', async () => {
    const { f, c } = setup();
    const started = new Date(f.clock.now().getTime() - 61_000);
    f.seed(Jobs, job('pi', { activeDeadlineSeconds: 60 }, { startTime: rfc3339(started), active: 1 }));
    const [running] = f.seed(Pods, pod('pi', 'Running', { ready: true }));
    await c.reconcile('default/pi');
    assert.deepEqual(f.actionsOf('delete', 'pods').map((a) => a.name), [running!.metadata.name]);
    assert.equal(stored(f).status!.conditions![0]!.reason, 'DeadlineExceeded');

    f.sync(Jobs, Pods);
    await c.reconcile('default/pi');
    const failed = stored(f).status!.conditions!.find((x) => x.type === 'Failed')!;
    assert.equal(failed.reason, 'DeadlineExceeded');
    assert.equal(failed.message, 'Job was active longer than specified deadline');
    assert.ok(f.recorder.lines().includes('Warning DeadlineExceeded Job was active longer than specified deadline'));
  });

  it('does not fail before the deadline', async () => {
    const { f, c } = setup();
    const started = new Date(f.clock.now().getTime() - 59_000);
    f.seed(Jobs, job('pi', { activeDeadlineSeconds: 60 }, { startTime: rfc3339(started), active: 1, ready: 1, terminating: 0 }));
    f.seed(Pods, pod('pi', 'Running', { ready: true }));
    await c.reconcile('default/pi');
    assert.deepEqual(f.writes(), []);
  });

  it('Indexed: one pod per pending index, named <job>-<index>-, with the index annotation, label, hostname and env', async () => {
    const { f, c } = setup();
    f.seed(Jobs, job('ix', { completionMode: 'Indexed', completions: 4, parallelism: 3 }, { startTime: '2025-01-01T11:00:00Z', completedIndexes: '0', succeeded: 1 }));
    f.seed(Pods, pod('ix', 'Running', { index: 1 }));
    await c.reconcile('default/ix');

    const creates = f.actionsOf('create', 'pods').map((a) => a.object as PodObj);
    assert.deepEqual(creates.map((p) => p.metadata.generateName), ['ix-2-', 'ix-3-']);
    for (const [i, p] of creates.entries()) {
      const ix = String(i + 2);
      assert.equal(p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'], ix);
      assert.equal(p.metadata.labels?.['batch.kubernetes.io/job-completion-index'], ix);
      assert.equal(p.spec?.hostname, `ix-${ix}`);
      assert.deepEqual(p.spec?.containers[0]!.env, [
        { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
      ]);
    }
  });

  it('Indexed: records completed indexes in the compact form and completes when all are done', async () => {
    const { f, c } = setup();
    f.seed(Jobs, job('ix', { completionMode: 'Indexed', completions: 4, parallelism: 4 }, { startTime: '2025-01-01T11:00:00Z', completedIndexes: '0', succeeded: 1, active: 3 }));
    f.seed(Pods, pod('ix', 'Succeeded', { index: 1 }), pod('ix', 'Succeeded', { index: 3 }), pod('ix', 'Running', { index: 2 }));
    await c.reconcile('default/ix');
    let j = stored(f, 'ix');
    assert.equal(j.status!.completedIndexes, '0,1,3');
    assert.equal(j.status!.succeeded, 3);
    assert.equal(f.actionsOf('create', 'pods').length, 0);

    f.sync(Jobs, Pods);
    const two = f.client.all<PodObj>(Pods).find((p) => p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'] === '2')!;
    f.informers.informerFor(Pods).update({ ...two, status: { ...two.status, phase: 'Succeeded' } });
    await c.reconcile('default/ix');
    j = stored(f, 'ix');
    assert.equal(j.status!.completedIndexes, '0-3');
    assert.deepEqual(conditionTypes(j), ['SuccessCriteriaMet', 'Complete']);
  });

  it('suspending deletes the active pods and sets Suspended', async () => {
    const { f, c } = setup();
    f.seed(Jobs, job('pi', { suspend: true, parallelism: 1 }, { startTime: '2025-01-01T11:00:00Z', active: 1 }));
    const [running] = f.seed(Pods, pod('pi', 'Running'));
    await c.reconcile('default/pi');
    assert.deepEqual(f.actionsOf('delete', 'pods').map((a) => a.name), [running!.metadata.name]);
    assert.deepEqual(conditionTypes(stored(f)), ['Suspended']);
    assert.ok(f.recorder.lines().includes('Normal Suspended Job suspended'));
  });

  it('removes the tracking finalizer from a pod whose Job is gone', async () => {
    const { f, c } = setup();
    const [orphan] = f.seed(Pods, pod('gone', 'Running'));
    await c.reconcile(`orphan-pod:default/${orphan!.metadata.name}`);
    assert.deepEqual(f.writes(), [`patch pods ${orphan!.metadata.name}`]);
    assert.deepEqual(f.client.peek<PodObj>(Pods, 'default', orphan!.metadata.name!)!.metadata.finalizers ?? [], []);
  });

  it('leaves a finished Job alone', async () => {
    const { f, c } = setup();
    f.seed(
      Jobs,
      job('pi', {}, { succeeded: 1, conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: '2025-01-01T11:00:00Z' }] }),
    );
    await c.reconcile('default/pi');
    assert.deepEqual(f.writes(), []);
  });
});
