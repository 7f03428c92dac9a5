import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CronJob, Job } from 'kubernetes-types/batch/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { CronJobs, Jobs } from '../../client/resources.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { CronJobController } from './cronjob-controller.js';

type CronJobObj = Mutable<CronJob> & KubeObject;
type JobObj = Mutable<Job> & KubeObject;

const cjUid = 'cj-uid';

function cronJob(spec: Partial<Mutable<CronJob['spec']>> = {}, status: Mutable<CronJob['status']> = {}): CronJobObj {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'hello', namespace: 'default', uid: cjUid, creationTimestamp: '2025-01-01T00:00:00Z' },
    spec: {
      schedule: '*/5 * * * *',
      concurrencyPolicy: 'Allow',
      suspend: false,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        metadata: { labels: { app: 'hello' }, annotations: { team: 'a' } },
        spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox' }] } } },
      },
      ...spec,
    },
    status,
  };
}

function minutes(iso: string): number {
  return Math.floor(Date.parse(iso) / 60_000);
}

function childJob(name: string, opts: { finished?: 'Complete' | 'Failed'; startTime?: string; completionTime?: string } = {}): JobObj {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'hello', uid: cjUid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { template: { spec: { containers: [] } } },
    status: {
      ...(opts.startTime ? { startTime: opts.startTime } : {}),
      ...(opts.completionTime ? { completionTime: opts.completionTime } : {}),
      ...(opts.finished ? { conditions: [{ type: opts.finished, status: 'True' }] } : {}),
    },
  };
}

function ref(name: string) {
  return { apiVersion: 'batch/v1', kind: 'Job', name, namespace: 'default', uid: `uid-${name}` };
}

function setup(now: string) {
  const f = new ControllerFixture(Date.parse(now));
  const c = new CronJobController(f.ctx);
  c.start();
  return { f, c };
}

const stored = (f: ControllerFixture) => f.client.peek<CronJobObj>(CronJobs, 'default', 'hello')!;

describe('CronJobController', () => {
  it('fires at the scheduled minute of its time zone: named by minutes since the epoch, annotated, owned', async () => {
    // 09:00 in New York on 2025-01-01 is 14:00 UTC.
    const { f, c } = setup('2025-01-01T14:00:20Z');
    f.seed(CronJobs, cronJob({ schedule: '0 9 * * *', timeZone: 'America/New_York' }));
    await c.reconcile('default/hello');

    const name = `hello-${minutes('2025-01-01T14:00:00Z')}`;
    assert.equal(name, 'hello-28929000');
    const creates = f.actionsOf('create', 'jobs').map((a) => a.object as JobObj);
    assert.equal(creates.length, 1);
    const job = creates[0]!;
    assert.equal(job.metadata.name, name);
    assert.deepEqual(job.metadata.labels, { app: 'hello' });
    assert.deepEqual(job.metadata.annotations, { team: 'a', 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2025-01-01T09:00:00-05:00' });
    assert.deepEqual(job.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'hello', uid: cjUid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(job.spec?.template.spec?.restartPolicy, 'OnFailure');

    const st = stored(f).status!;
    assert.equal(st.lastScheduleTime, '2025-01-01T14:00:00Z');
    assert.deepEqual(st.active?.map((r) => [r.kind, r.name]), [['Job', name]]);
    assert.deepEqual(f.recorder.lines(), [`Normal SuccessfulCreate Created job ${name}`]);
    // Next wake-up: 09:00 New York the next day, plus the 100 ms margin.
    assert.equal(f.clock.nextTimerIn(), 24 * 3600_000 - 20_000 + 100);
  });

  it('does nothing before the time and requeues for it', async () => {
    const { f, c } = setup('2025-01-01T13:59:30Z');
    f.seed(CronJobs, cronJob({ schedule: '0 9 * * *', timeZone: 'America/New_York' }));
    await c.reconcile('default/hello');
    assert.deepEqual(f.writes(), []);
    assert.equal(f.clock.nextTimerIn(), 30_100);
  });

  it('does not start the same scheduled time twice', async () => {
    const { f, c } = setup('2025-01-01T12:05:30Z');
    f.seed(CronJobs, cronJob({}, { lastScheduleTime: '2025-01-01T12:05:00Z' }));
    await c.reconcile('default/hello');
    assert.deepEqual(f.writes(), []);
  });

  it('Forbid: skips the time while a Job is still active', async () => {
    const { f, c } = setup('2025-01-01T12:05:30Z');
    f.seed(Jobs, childJob('hello-old', { startTime: '2025-01-01T12:00:00Z' }));
    f.seed(CronJobs, cronJob({ concurrencyPolicy: 'Forbid' }, { lastScheduleTime: '2025-01-01T12:00:00Z', active: [ref('hello-old')] }));
    await c.reconcile('default/hello');
    assert.deepEqual(f.writes(), []);
    assert.deepEqual(f.recorder.lines(), ['Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid']);
  });

  it('Allow: starts the next Job alongside the running one', async () => {
    const { f, c } = setup('2025-01-01T12:05:30Z');
    f.seed(Jobs, childJob('hello-old', { startTime: '2025-01-01T12:00:00Z' }));
    f.seed(CronJobs, cronJob({}, { lastScheduleTime: '2025-01-01T12:00:00Z', active: [ref('hello-old')] }));
    await c.reconcile('default/hello');
    const name = `hello-${minutes('2025-01-01T12:05:00Z')}`;
    assert.deepEqual(f.writes(), [`create jobs ${name}`, 'updateStatus cronjobs/status hello']);
    assert.deepEqual(stored(f).status!.active!.map((r) => r.name), ['hello-old', name]);
  });

  it('Replace: deletes the running Job, then starts the new one', async () => {
    const { f, c } = setup('2025-01-01T12:05:30Z');
    f.seed(Jobs, childJob('hello-old', { startTime: '2025-01-01T12:00:00Z' }));
    f.seed(CronJobs, cronJob({ concurrencyPolicy: 'Replace' }, { lastScheduleTime: '2025-01-01T12:00:00Z', active: [ref('hello-old')] }));
    await c.reconcile('default/hello');
    const name = `hello-${minutes('2025-01-01T12:05:00Z')}`;
    assert.deepEqual(f.writes(), ['delete jobs hello-old', `create jobs ${name}`, 'updateStatus cronjobs/status hello']);
    assert.deepEqual(f.actionsOf('delete', 'jobs')[0]!.object, { propagationPolicy: 'Background' });
    assert.deepEqual(stored(f).status!.active!.map((r) => r.name), [name]);
    assert.deepEqual(f.recorder.lines(), ['Normal SuccessfulDelete Deleted job hello-old', `Normal SuccessfulCreate Created job ${name}`]);
  });

  it('suspend: starts nothing', async () => {
    const { f, c } = setup('2025-01-01T12:05:30Z');
    f.seed(CronJobs, cronJob({ suspend: true }, { lastScheduleTime: '2025-01-01T12:00:00Z' }));
    await c.reconcile('default/hello');
    assert.deepEqual(f.writes(), []);
  });

  it('startingDeadlineSeconds: a time older than the deadline is not started; one within it is', async () => {
    let { f, c } = setup('2025-01-01T12:07:30Z');
    f.seed(CronJobs, cronJob({ startingDeadlineSeconds: 60 }, { lastScheduleTime: '2025-01-01T12:00:00Z' }));
    await c.reconcile('default/hello');
    assert.deepEqual(f.writes(), []);
    // Next chance: 12:10.
    assert.equal(f.clock.nextTimerIn(), 150_100);

    ({ f, c } = setup('2025-01-01T12:05:40Z'));
    f.seed(CronJobs, cronJob({ startingDeadlineSeconds: 60 }, { lastScheduleTime: '2025-01-01T12:00:00Z' }));
    await c.reconcile('default/hello');
    assert.deepEqual(f.actionsOf('create', 'jobs').map((a) => (a.object as JobObj).metadata.name), [`hello-${minutes('2025-01-01T12:05:00Z')}`]);
  });

  it('after missed times, starts only the most recent one', async () => {
    const { f, c } = setup('2025-01-01T13:02:00Z');
    f.seed(CronJobs, cronJob({}, { lastScheduleTime: '2025-01-01T12:00:00Z' }));
    await c.reconcile('default/hello');
    assert.deepEqual(f.actionsOf('create', 'jobs').map((a) => (a.object as JobObj).metadata.name), [`hello-${minutes('2025-01-01T13:00:00Z')}`]);
  });

  it('notices finished Jobs: drops them from active and records lastSuccessfulTime', async () => {
    const { f, c } = setup('2025-01-01T12:03:00Z');
    f.seed(Jobs, childJob('hello-a', { finished: 'Complete', startTime: '2025-01-01T12:00:00Z', completionTime: '2025-01-01T12:01:00Z' }));
    f.seed(CronJobs, cronJob({}, { lastScheduleTime: '2025-01-01T12:00:00Z', active: [ref('hello-a')] }));
    await c.reconcile('default/hello');
    const st = stored(f).status!;
    assert.deepEqual(st.active ?? [], []);
    assert.equal(st.lastSuccessfulTime, '2025-01-01T12:01:00Z');
    assert.deepEqual(f.recorder.lines(), ['Normal SawCompletedJob Saw completed job: hello-a, condition: Complete']);
  });

  it('keeps successfulJobsHistoryLimit and failedJobsHistoryLimit, deleting the oldest', async () => {
    const { f, c } = setup('2025-01-01T12:03:00Z');
    f.seed(
      Jobs,
      childJob('hello-s1', { finished: 'Complete', startTime: '2025-01-01T10:00:00Z', completionTime: '2025-01-01T10:01:00Z' }),
      childJob('hello-s2', { finished: 'Complete', startTime: '2025-01-01T11:00:00Z', completionTime: '2025-01-01T11:01:00Z' }),
      childJob('hello-s3', { finished: 'Complete', startTime: '2025-01-01T12:00:00Z', completionTime: '2025-01-01T12:01:00Z' }),
      childJob('hello-f1', { finished: 'Failed', startTime: '2025-01-01T09:00:00Z' }),
      childJob('hello-f2', { finished: 'Failed', startTime: '2025-01-01T09:30:00Z' }),
      childJob('hello-running', { startTime: '2025-01-01T09:30:00Z' }),
    );
    f.seed(CronJobs, cronJob({ successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1 }, { lastScheduleTime: '2025-01-01T12:00:00Z', active: [ref('hello-running')] }));
    await c.reconcile('default/hello');
    assert.deepEqual(
      f.actionsOf('delete', 'jobs').map((a) => a.name),
      ['hello-s1', 'hello-s2', 'hello-f1'],
    );
    assert.deepEqual(
      f.client.all<JobObj>(Jobs).map((j) => j.metadata.name),
      ['hello-f2', 'hello-running', 'hello-s3'],
    );
  });

  it('a Job missing from the cached active list is checked against the live CronJob before calling it unexpected', async () => {
    const { f, c } = setup('2025-01-01T12:01:00Z');
    f.seed(Jobs, childJob('hello-new', { startTime: '2025-01-01T12:00:00Z' }));
    f.seed(CronJobs, cronJob({}, { lastScheduleTime: '2025-01-01T12:00:00Z', active: [ref('hello-new')] }));
    // The cache still holds the CronJob from before the status write that listed the Job.
    f.informers.informerFor(CronJobs).update({ ...stored(f), status: {} });
    await c.reconcile('default/hello');
    assert.deepEqual(f.recorder.lines(), []);
    assert.deepEqual(f.writes(), []);

    // A Job the CronJob really does not list is reported.
    const live = stored(f);
    live.status = { lastScheduleTime: '2025-01-01T12:00:00Z' };
    await f.client.updateStatus(CronJobs, 'default', live);
    f.sync(CronJobs);
    await c.reconcile('default/hello');
    assert.deepEqual(f.recorder.lines(), ['Warning UnexpectedJob Saw a job that the controller did not create or forgot: hello-new']);
  });

  it('reports an unknown time zone and starts nothing', async () => {
    const { f, c } = setup('2025-01-01T12:05:30Z');
    f.seed(CronJobs, cronJob({ timeZone: 'Mars/Olympus' }));
    await c.reconcile('default/hello');
    assert.deepEqual(f.writes(), []);
    assert.deepEqual(f.recorder.lines(), ['Warning UnknownTimeZone invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus']);
  });
});
