/**
 * The CronJob controller (pkg/controller/cronjob/cronjob_controllerv2.go): creates a Job for each scheduled time
 * of spec.schedule (in spec.timeZone), named `<cronjob>-<scheduled time in minutes since the epoch>` so that a time
 * is never started twice; honours suspend, startingDeadlineSeconds and concurrencyPolicy (Allow, Forbid, Replace);
 * keeps status.active, lastScheduleTime and lastSuccessfulTime; deletes finished Jobs beyond the history limits;
 * and requeues itself for the next scheduled time using the injected Clock instead of polling.
 */
import type { CronJob, Job, JobTemplateSpec } from 'kubernetes-types/batch/v1.js';
import type { ObjectReference } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isAlreadyExists, isNotFound } from '../../api/status.js';
import { CronJobs, Jobs } from '../../client/resources.js';
import type { Client, Clock, EventRecorder, Informer, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { rfc3339 } from '../../api/time.js';
import { controllerRefOf, newControllerRef, resolveControllerRef } from '../util/owner-references.js';
import { checkTimeZone, formatRFC3339InZone, parseCronSchedule, type CronSchedule } from './cron-schedule.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('cronjob-controller');

type CronJobObject = CronJob & KubeObject;
type JobObject = Job & KubeObject;
type CronJobState = Mutable<CronJob> & KubeObject;

/** Annotation on each Job: the time it was scheduled for, RFC 3339 in the CronJob's time zone. */
export const cronJobScheduledTimestampAnnotation = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** Requeues land this long after the scheduled time, so the clock has surely passed it (nextScheduleDelta). */
const nextScheduleDeltaMs = 100;

export class CronJobController implements Controller {
  readonly name = 'cronjob';
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly queue: WorkQueue;
  private readonly cronJobs: Informer<CronJobObject>;
  private readonly jobs: Informer<JobObject>;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.recorder = ctx.recorder('cronjob-controller');
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.cronJobs = ctx.informers.informerFor<CronJobObject>(CronJobs);
    this.jobs = ctx.informers.informerFor<JobObject>(Jobs);
  }

  start(): void {
    this.jobs.addEventHandler({
      add: (job) => this.enqueueOwner(job),
      update: (old, cur) => {
        const o = controllerRefOf(old);
        if (o && o.uid !== controllerRefOf(cur)?.uid) this.enqueueOwner(old);
        this.enqueueOwner(cur);
      },
      delete: (job) => this.enqueueOwner(job),
    });
    this.cronJobs.addEventHandler({
      add: (cj) => this.queue.add(keyOf(cj)),
      update: (old, cur) => this.updateCronJob(old, cur),
      delete: (cj) => this.queue.add(keyOf(cj)),
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  private enqueueOwner(job: JobObject): void {
    const cj = resolveControllerRef(this.cronJobs.lister, 'CronJob', job.metadata.namespace ?? '', controllerRefOf(job));
    if (cj) this.queue.add(keyOf(cj));
  }

  private updateCronJob(old: CronJobObject, cur: CronJobObject): void {
    if (old.spec?.schedule !== cur.spec?.schedule || old.spec?.timeZone !== cur.spec?.timeZone) {
      // A new schedule moves the next wake-up; sooner than the pending one takes effect, later is a no-op sync.
      let sched: CronSchedule | undefined;
      try {
        sched = parseCronSchedule(cur.spec?.schedule ?? '', cur.spec?.timeZone);
      } catch {
        // The sync reports an unparseable schedule as an event.
      }
      if (sched) {
        const after = this.nextScheduleDuration(cur, this.clock.now(), sched);
        if (after !== undefined) {
          this.queue.addAfter(keyOf(cur), after);
          return;
        }
      }
    }
    this.queue.add(keyOf(cur));
  }

  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const cached = this.cronJobs.lister.get(namespace, name);
    if (!cached) return;
    // Jobs may no longer match the template's labels but still name this CronJob as controller: that is what counts.
    const jobs = this.jobs.lister.list(namespace).filter((j) => {
      const ref = controllerRefOf(j);
      return ref?.kind === 'CronJob' && ref.name === name;
    });
    const r = await this.syncCronJob(structuredClone(cached) as CronJobState, jobs);
    const cj = r.cj;
    let updateStatus = r.updateStatus;
    if (await this.cleanupFinishedJobs(cj, jobs)) updateStatus = true;
    if (updateStatus) await this.client.updateStatus(CronJobs, namespace, cj);
    if (r.requeueAfterMs !== undefined) this.queue.addAfter(key, r.requeueAfterMs);
    if (r.error) throw r.error;
  }

  /**
   * syncCronJob: reconciles status.active with the Jobs, then starts the Job for the latest unmet schedule time.
   * Returns the CronJob it worked on: a fresh copy from the API when the cache had not yet seen our last status write.
   */
  private async syncCronJob(cj: CronJobState, jobs: JobObject[]): Promise<{ cj: CronJobState; updateStatus: boolean; requeueAfterMs?: number; error?: unknown }> {
    const now = this.clock.now();
    let status = (cj.status ??= {});
    let updateStatus = false;
    const children = new Set<string>();
    for (const j of jobs) {
      const uid = j.metadata.uid ?? '';
      children.add(uid);
      const found = inActiveList(cj, uid);
      const finished = finishedCondition(j);
      if (!found && !finished) {
        // Usually our own new Job, seen before the status write that lists it: check the live CronJob first.
        let fresh: CronJobState;
        try {
          fresh = await this.client.get<CronJobState>(CronJobs, cj.metadata.namespace ?? '', cj.metadata.name ?? '');
        } catch (err) {
          return { cj, updateStatus, error: err };
        }
        if (inActiveList(fresh, uid)) {
          cj = fresh;
          status = (cj.status ??= {});
          continue;
        }
        // Created by us just before a crash, or someone wants it adopted: say so.
        this.recorder.event(cj, 'Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${j.metadata.name}`);
      } else if (found && finished) {
        deleteFromActiveList(cj, uid);
        this.recorder.event(cj, 'Normal', 'SawCompletedJob', `Saw completed job: ${j.metadata.name}, condition: ${finished}`);
        updateStatus = true;
      }
      if (finished === 'Complete' && j.status?.completionTime) {
        // A Job need not be active to record its success time.
        const t = j.status.completionTime;
        if (!status.lastSuccessfulTime || Date.parse(t) > Date.parse(status.lastSuccessfulTime)) {
          status.lastSuccessfulTime = t;
          updateStatus = true;
        }
      }
    }
    // Active Jobs the cache does not know: ask the API, a watch may just be slow.
    for (const ref of [...(status.active ?? [])]) {
      if (children.has(ref.uid ?? '')) continue;
      try {
        await this.client.get(Jobs, ref.namespace ?? cj.metadata.namespace ?? '', ref.name ?? '');
      } catch (err) {
        if (!isNotFound(err)) return { cj, updateStatus, error: err };
        this.recorder.event(cj, 'Normal', 'MissingJob', `Active job went missing: ${ref.name}`);
        deleteFromActiveList(cj, ref.uid ?? '');
        updateStatus = true;
      }
    }

    if (cj.metadata.deletionTimestamp) return { cj, updateStatus };
    const tz = cj.spec?.timeZone;
    if (tz != null) {
      const problem = checkTimeZone(tz);
      if (problem) {
        this.recorder.event(cj, 'Warning', 'UnknownTimeZone', `invalid timeZone: ${JSON.stringify(tz)}: ${problem}`);
        return { cj, updateStatus };
      }
    }
    if (cj.spec?.suspend) return { cj, updateStatus };
    const schedule = cj.spec?.schedule ?? '';
    if (schedule.includes('TZ')) {
      this.recorder.event(
        cj,
        'Warning',
        'UnsupportedSchedule',
        `CRON_TZ or TZ used in schedule ${JSON.stringify(schedule)} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details`,
      );
    }
    let sched: CronSchedule;
    try {
      sched = parseCronSchedule(schedule, tz ?? undefined);
    } catch (err) {
      // A user error in the spec: nothing to retry until the CronJob changes.
      this.recorder.event(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(schedule)} : ${(err as Error).message}`);
      return { cj, updateStatus };
    }
    let scheduled: number | undefined;
    try {
      scheduled = this.nextScheduleTime(cj, now, sched);
    } catch (err) {
      this.recorder.event(cj, 'Warning', 'InvalidSchedule', `invalid schedule: ${schedule} : ${(err as Error).message}`);
      return { cj, updateStatus };
    }
    const requeueAfterMs = () => this.nextScheduleDuration(cj, now, sched);
    if (scheduled === undefined) {
      // Nothing due (the usual case after a restart fills the queue): wait for the next time.
      return { cj, updateStatus, requeueAfterMs: requeueAfterMs() };
    }

    const sds = cj.spec?.startingDeadlineSeconds;
    if (sds != null && scheduled + sds * 1000 < now.getTime()) {
      this.recorder.event(cj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${formatRFC1123Z(new Date(scheduled))}`);
      return { cj, updateStatus, requeueAfterMs: requeueAfterMs() };
    }
    const jobName = jobNameFor(cj, scheduled);
    if ((status.active ?? []).some((r) => r.name === jobName) || (status.lastScheduleTime && Date.parse(status.lastScheduleTime) === scheduled)) {
      // This time was already started.
      return { cj, updateStatus, requeueAfterMs: requeueAfterMs() };
    }
    const policy = cj.spec?.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && (status.active ?? []).length > 0) {
      // The active list may lag reality either way, so Forbid is best effort, as upstream documents.
      this.recorder.event(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      return { cj, updateStatus, requeueAfterMs: requeueAfterMs() };
    }
    if (policy === 'Replace') {
      for (const ref of [...(status.active ?? [])]) {
        let job: JobObject;
        try {
          job = await this.client.get<JobObject>(Jobs, ref.namespace ?? cj.metadata.namespace ?? '', ref.name ?? '');
        } catch (err) {
          this.recorder.event(cj, 'Warning', 'FailedGet', `Get job: ${(err as Error).message}`);
          return { cj, updateStatus, error: err };
        }
        if (!(await this.deleteJob(cj, job))) return { cj, updateStatus, error: new Error(`could not replace job ${job.metadata.namespace}/${job.metadata.name}`) };
        updateStatus = true;
      }
    }

    const request = jobFromTemplate(cj, scheduled);
    let created: JobObject;
    try {
      created = await this.client.create<JobObject>(Jobs, cj.metadata.namespace ?? '', request);
      this.recorder.event(cj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name}`);
    } catch (err) {
      if (!isAlreadyExists(err)) {
        this.recorder.event(cj, 'Warning', 'FailedCreate', `Error creating job: ${(err as Error).message}`);
        return { cj, updateStatus, error: err };
      }
      // Ours from an earlier sync whose status write was lost: record it rather than fail on every retry.
      const existing = await this.client.get<JobObject>(Jobs, cj.metadata.namespace ?? '', jobName);
      if (controllerRefOf(existing)?.uid !== cj.metadata.uid) return { cj, updateStatus, error: err };
      created = existing;
    }
    // The deterministic name is the lock against starting this time twice if this status write is lost.
    if (!inActiveList(cj, created.metadata.uid ?? '')) (status.active ??= []).push(jobRef(created));
    status.lastScheduleTime = rfc3339(new Date(scheduled));
    return { cj, updateStatus: true, requeueAfterMs: requeueAfterMs() };
  }

  /** Deletes the oldest finished Jobs beyond successfulJobsHistoryLimit and failedJobsHistoryLimit. */
  private async cleanupFinishedJobs(cj: CronJobState, jobs: JobObject[]): Promise<boolean> {
    const successLimit = cj.spec?.successfulJobsHistoryLimit;
    const failedLimit = cj.spec?.failedJobsHistoryLimit;
    if (successLimit == null && failedLimit == null) return false;
    const succeeded = jobs.filter((j) => finishedCondition(j) === 'Complete');
    const failed = jobs.filter((j) => finishedCondition(j) === 'Failed');
    let updated = false;
    if (successLimit != null && (await this.removeOldestJobs(cj, succeeded, successLimit))) updated = true;
    if (failedLimit != null && (await this.removeOldestJobs(cj, failed, failedLimit))) updated = true;
    return updated;
  }

  private async removeOldestJobs(cj: CronJobState, jobs: JobObject[], max: number): Promise<boolean> {
    const excess = jobs.length - max;
    if (excess <= 0) return false;
    const sorted = [...jobs].sort(byStartTime);
    let updated = false;
    for (const job of sorted.slice(0, excess)) if (await this.deleteJob(cj, job)) updated = true;
    return updated;
  }

  /** Deletes a Job (background propagation: the garbage collector removes its pods) and drops it from active. */
  private async deleteJob(cj: CronJobState, job: JobObject): Promise<boolean> {
    try {
      await this.client.delete(Jobs, job.metadata.namespace ?? '', job.metadata.name ?? '', { propagationPolicy: 'Background' });
    } catch (err) {
      if (!isNotFound(err)) {
        this.recorder.event(cj, 'Warning', 'FailedDelete', `Deleted job: ${(err as Error).message}`);
        log.error('cannot delete job', { key: keyOf(cj), job: keyOf(job), err });
        return false;
      }
    }
    deleteFromActiveList(cj, job.metadata.uid ?? '');
    this.recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${job.metadata.name}`);
    return true;
  }

  /** The latest unmet scheduled time not older than the starting deadline, or undefined (nextScheduleTime). */
  private nextScheduleTime(cj: CronJob, now: Date, sched: CronSchedule): number | undefined {
    const r = mostRecentScheduleTime(cj, now, sched, true);
    if (r.mostRecent === undefined || r.mostRecent > now.getTime()) return undefined;
    if (r.tooManyMissed) {
      this.recorder.event(
        cj as CronJobObject,
        'Warning',
        'TooManyMissedTimes',
        'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew',
      );
    }
    return r.mostRecent;
  }

  /** How long until the schedule's next time after the most recent one (nextScheduleTimeDuration). */
  private nextScheduleDuration(cj: CronJob, now: Date, sched: CronSchedule): number | undefined {
    let from: number;
    try {
      const r = mostRecentScheduleTime(cj, now, sched, false);
      from = r.mostRecent ?? r.earliest;
    } catch {
      // Still come back at some point: aim for the next slot from now.
      from = now.getTime();
    }
    const next = sched.next(new Date(from));
    return next ? Math.max(0, next.getTime() + nextScheduleDeltaMs - now.getTime()) : undefined;
  }
}

/**
 * The most recent scheduled time in (earliest, now], where earliest is the last schedule time (or creation), moved
 * up to now - startingDeadlineSeconds when asked (mostRecentScheduleTime). Missed times are estimated from the
 * interval between two consecutive times, so a CronJob that missed years of minutes costs two lookups, not millions.
 */
export function mostRecentScheduleTime(
  cj: CronJob,
  now: Date,
  sched: CronSchedule,
  includeStartingDeadline: boolean,
): { earliest: number; mostRecent?: number; tooManyMissed: boolean } {
  let earliest = Date.parse(cj.status?.lastScheduleTime ?? cj.metadata?.creationTimestamp ?? now.toISOString());
  const sds = cj.spec?.startingDeadlineSeconds;
  if (includeStartingDeadline && sds != null) earliest = Math.max(earliest, now.getTime() - sds * 1000);
  const t1 = sched.next(new Date(earliest))?.getTime();
  if (t1 === undefined) throw new Error('no schedule time within five years');
  if (now.getTime() < t1) return { earliest, tooManyMissed: false };
  const t2 = sched.next(new Date(t1))?.getTime();
  if (t2 === undefined || now.getTime() < t2) return { earliest, mostRecent: t1, tooManyMissed: false };
  const between = Math.round((t2 - t1) / 1000);
  if (between < 1) throw new Error('time difference between two schedules is less than 1 second');
  const elapsed = Math.floor((now.getTime() - t1) / 1000);
  const missed = Math.floor(elapsed / between) + 1;
  // Start one interval before the estimate, so irregular schedules (e.g. "30 6-16/4 * * 1-5") still land right.
  const potentialEarliest = t1 + (missed - 2) * between * 1000;
  let mostRecent: number | undefined;
  for (let t = sched.next(new Date(potentialEarliest))?.getTime(); t !== undefined && t <= now.getTime(); t = sched.next(new Date(t))?.getTime()) {
    mostRecent = t;
  }
  // More than 100 (more than the 80-odd of an hourly job over a long weekend, less than "lots").
  return { earliest, mostRecent, tooManyMissed: missed > 100 };
}

/** `<cronjob>-<minutes since the epoch>`: the same time always gets the same name. */
export function jobNameFor(cj: CronJob, scheduled: number): string {
  return `${cj.metadata?.name}-${Math.floor(scheduled / 60_000)}`;
}

/** The Job for one scheduled time (getJobFromTemplate2): the template's labels, annotations and spec, owned by the CronJob. */
function jobFromTemplate(cj: CronJobObject | CronJobState, scheduled: number): JobObject {
  const template = structuredClone(cj.spec?.jobTemplate ?? {}) as Mutable<JobTemplateSpec>;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobNameFor(cj, scheduled),
      namespace: cj.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}) },
      annotations: {
        ...(template.metadata?.annotations ?? {}),
        // time.LoadLocation("") is UTC: without spec.timeZone the annotation is in UTC.
        [cronJobScheduledTimestampAnnotation]: formatRFC3339InZone(new Date(scheduled), cj.spec?.timeZone ?? 'UTC'),
      },
      ownerReferences: [newControllerRef(cj, 'batch/v1', 'CronJob')],
    },
    spec: template.spec ?? { template: { spec: { containers: [] } } },
  } as JobObject;
}

function finishedCondition(job: Job): 'Complete' | 'Failed' | undefined {
  for (const c of job.status?.conditions ?? []) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.type;
  }
  return undefined;
}

function inActiveList(cj: CronJobState, uid: string): boolean {
  return (cj.status?.active ?? []).some((r) => r.uid === uid);
}

function deleteFromActiveList(cj: CronJobState, uid: string): void {
  if (!cj.status?.active) return;
  cj.status.active = cj.status.active.filter((r) => r.uid !== uid);
}

function jobRef(job: JobObject): Mutable<ObjectReference> {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    name: job.metadata.name,
    namespace: job.metadata.namespace,
    uid: job.metadata.uid,
    resourceVersion: job.metadata.resourceVersion,
  };
}

/** Oldest first; Jobs without a start time last; ties by name (byJobStartTime). */
function byStartTime(a: Job, b: Job): number {
  const sa = a.status?.startTime;
  const sb = b.status?.startTime;
  if (!sa && sb) return 1;
  if (sa && !sb) return -1;
  if (sa && sb && sa !== sb) return Date.parse(sa) - Date.parse(sb);
  return (a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : (a.metadata?.name ?? '') > (b.metadata?.name ?? '') ? 1 : 0;
}

const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const monthNames = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's time.RFC1123Z of a UTC time: "Mon, 02 Jan 2006 15:04:05 +0000". */
function formatRFC1123Z(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${weekdays[d.getUTCDay()]}, ${p(d.getUTCDate())} ${monthNames[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
