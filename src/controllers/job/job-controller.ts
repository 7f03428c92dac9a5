/**
 * The Job controller (pkg/controller/job/job_controller.go, Kubernetes 1.32 behaviour): runs pods until
 * spec.completions of them succeeded (or, without completions, until one succeeded and the rest finished), at most
 * spec.parallelism at a time, replacing failed pods after an exponential backoff until spec.backoffLimit failures,
 * and fails the Job past spec.activeDeadlineSeconds. Indexed Jobs give each pod a completion index.
 *
 * Finished pods are counted with the `batch.kubernetes.io/job-tracking` finalizer (KEP-2307): a pod keeps it until
 * the controller has recorded the pod's UID in status.uncountedTerminatedPods; then the finalizer comes off and the
 * UID moves into the succeeded/failed counters. So a pod deleted right after finishing is still counted once.
 *
 * Terminal conditions are two-step as in 1.31+: first the interim SuccessCriteriaMet or FailureTarget condition,
 * then, once no pod is still terminating, Complete or Failed (with completionTime for Complete).
 */
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { Container, Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isNotFound } from '../../api/status.js';
import { Jobs, Pods } from '../../client/resources.js';
import type { Client, Clock, EventRecorder, Informer, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import {
  backoffRemainingMs,
  completionIndexOf,
  ensureCondition,
  findCondition,
  formatIndexes,
  isIndexedJob,
  isJobFinished,
  isJobSuspended,
  jobCompletionIndexAnnotation,
  jobCompletionIndexEnv,
  jobTrackingFinalizer,
  newCondition,
  nextBackoffRecord,
  parseIndexes,
  pastBackoffLimitOnFailure,
  type BackoffRecord,
  type MutableJob,
  type MutableJobCondition,
} from './job-util.js';
import { ControllerExpectations } from '../util/expectations.js';
import { rfc3339 } from '../../api/time.js';
import { controllerRefOf, isControlledBy, newControllerRef, resolveControllerRef } from '../util/owner-references.js';
import { createPodFor, podFromTemplate } from '../util/pod-control.js';
import { isPodActive, isPodReady, isPodTerminating } from '../../api/pod.js';
import { slowStartBatch } from '../util/slow-start.js';
import { compareActivePodsForDeletion } from './active-pods.js';

type JobObject = Job & KubeObject;
type PodObject = Pod & KubeObject;
type JobState = MutableJob & KubeObject;

/** Upstream MaxPodCreateDeletePerSync and MaxUncountedPods. */
const maxPodCreateDeletePerSync = 500;
const maxUncountedPods = 500;
/** Pod events are batched: a Job is synced at most once per second for them (syncJobBatchPeriod). */
const syncJobBatchPeriodMs = 1000;
/** Queue keys for pods whose tracking finalizer may need removing although no live Job syncs them. */
const orphanPodKeyPrefix = 'orphan-pod:';

/** What one sync of a Job computes as it goes (syncJobCtx). */
interface SyncContext {
  job: JobState;
  pods: PodObject[];
  activePods: PodObject[];
  ready: number;
  terminating: number;
  succeeded: number;
  failed: number;
  /** UIDs already in status.uncountedTerminatedPods when the sync started. */
  uncountedSucceeded: Set<string>;
  uncountedFailed: Set<string>;
  /** Pods whose finalizer removal was issued but not yet observed: neither counted again nor patched again. */
  expectedRemovals: Set<string>;
  /** The terminal (or interim) condition this sync has decided on, if any. */
  finished?: MutableJobCondition;
  prevSucceededIndexes: number[];
  succeededIndexes: number[];
  backoff: BackoffRecord;
}

export class JobController implements Controller {
  readonly name = 'job';
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly queue: WorkQueue;
  private readonly jobs: Informer<JobObject>;
  private readonly pods: Informer<PodObject>;
  private readonly expectations: ControllerExpectations;
  /** Job key -> UIDs of pods whose finalizer removal is in flight (upstream finalizerExpectations). */
  private readonly finalizerExpectations = new Map<string, Set<string>>();
  /** Job key -> pod failures since the last success, for the creation backoff (upstream podBackoffStore). */
  private readonly backoffs = new Map<string, BackoffRecord>();

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.recorder = ctx.recorder('job-controller');
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.jobs = ctx.informers.informerFor<JobObject>(Jobs);
    this.pods = ctx.informers.informerFor<PodObject>(Pods);
    this.expectations = new ControllerExpectations(ctx.clock);
  }

  start(): void {
    this.jobs.addEventHandler({
      add: (job) => this.queue.add(keyOf(job)),
      update: (old, cur) => this.updateJob(old, cur),
      delete: (job) => this.deleteJob(job),
    });
    this.pods.addEventHandler({
      add: (pod) => this.addPod(pod),
      update: (old, cur) => this.updatePod(old, cur),
      delete: (pod) => this.deletePod(pod, true),
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  /** Syncs one Job (`namespace/name`), or removes a leftover tracking finalizer (an orphan-pod key). */
  async reconcile(key: string): Promise<void> {
    if (key.startsWith(orphanPodKeyPrefix)) return this.syncOrphanPod(key.slice(orphanPodKeyPrefix.length));
    return this.syncJob(key);
  }

  // ---- event handlers: they only map events to keys ----

  private updateJob(old: JobObject, cur: JobObject): void {
    const key = keyOf(cur);
    this.queue.add(key);
    // A changed activeDeadlineSeconds moves the time the deadline check must run.
    const ads = cur.spec?.activeDeadlineSeconds;
    const start = cur.status?.startTime;
    if (ads != null && start && old.spec?.activeDeadlineSeconds !== ads) {
      this.queue.addAfter(key, Math.max(0, ads * 1000 - (this.clock.now().getTime() - Date.parse(start))));
    }
  }

  private deleteJob(job: JobObject): void {
    this.queue.add(keyOf(job));
    // Pods still holding the finalizer would otherwise never go away: nothing syncs a deleted Job.
    for (const pod of this.pods.lister.list(job.metadata.namespace ?? '')) {
      if (isControlledBy(pod, job) && hasTrackingFinalizer(pod)) this.queue.add(orphanPodKeyPrefix + keyOf(pod));
    }
  }

  private addPod(pod: PodObject): void {
    if (pod.metadata.deletionTimestamp) {
      // A pod already being deleted when first seen (e.g. after a restart) is not one of our creations.
      this.deletePod(pod, false);
      return;
    }
    const job = resolveControllerRef(this.jobs.lister, 'Job', pod.metadata.namespace ?? '', controllerRefOf(pod));
    if (!job) {
      if (hasTrackingFinalizer(pod)) this.queue.add(orphanPodKeyPrefix + keyOf(pod));
      return;
    }
    const key = keyOf(job);
    this.expectations.creationObserved(key);
    this.queue.addAfter(key, syncJobBatchPeriodMs);
  }

  private updatePod(old: PodObject, cur: PodObject): void {
    if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
    // A graceful deletion starts with a deletionTimestamp: the Job may replace the pod now rather than later.
    if (cur.metadata.deletionTimestamp) this.deletePod(cur, false);
    const finalizerRemoved = !hasTrackingFinalizer(cur);
    const oldRef = controllerRefOf(old);
    const curRef = controllerRefOf(cur);
    if (oldRef && oldRef.uid !== curRef?.uid) {
      const oldJob = resolveControllerRef(this.jobs.lister, 'Job', old.metadata.namespace ?? '', oldRef);
      if (oldJob) {
        if (finalizerRemoved) this.finalizerRemovalObserved(keyOf(oldJob), cur.metadata.uid ?? '');
        this.queue.addAfter(keyOf(oldJob), syncJobBatchPeriodMs);
      }
    }
    const job = resolveControllerRef(this.jobs.lister, 'Job', cur.metadata.namespace ?? '', curRef);
    if (!job) {
      if (hasTrackingFinalizer(cur)) this.queue.add(orphanPodKeyPrefix + keyOf(cur));
      return;
    }
    if (finalizerRemoved) this.finalizerRemovalObserved(keyOf(job), cur.metadata.uid ?? '');
    this.queue.addAfter(keyOf(job), syncJobBatchPeriodMs);
  }

  /** `final` is true for the informer's delete event, false for a pod that only got its deletionTimestamp. */
  private deletePod(pod: PodObject, final: boolean): void {
    const hasFinalizer = hasTrackingFinalizer(pod);
    const job = resolveControllerRef(this.jobs.lister, 'Job', pod.metadata.namespace ?? '', controllerRefOf(pod));
    if (!job || isJobFinished(job)) {
      // syncJob will not remove this finalizer.
      if (hasFinalizer && !final) this.queue.add(orphanPodKeyPrefix + keyOf(pod));
      return;
    }
    const key = keyOf(job);
    this.expectations.deletionObserved(key);
    if (final || !hasFinalizer) this.finalizerRemovalObserved(key, pod.metadata.uid ?? '');
    this.queue.addAfter(key, syncJobBatchPeriodMs);
  }

  private finalizerRemovalObserved(jobKey: string, uid: string): void {
    const set = this.finalizerExpectations.get(jobKey);
    if (!set) return;
    set.delete(uid);
    if (set.size === 0) this.finalizerExpectations.delete(jobKey);
  }

  // ---- sync ----

  private async syncOrphanPod(podKey: string): Promise<void> {
    const { namespace, name } = splitKey(podKey);
    const pod = this.pods.lister.get(namespace, name);
    if (!pod || !hasTrackingFinalizer(pod)) return;
    const ref = controllerRefOf(pod);
    if (ref) {
      // Another kind of owner may have its own reasons for the finalizer; a live unfinished Job counts it itself.
      if (ref.kind !== 'Job' || ref.apiVersion !== 'batch/v1') return;
      const job = resolveControllerRef(this.jobs.lister, 'Job', namespace, ref);
      if (job && !isJobFinished(job)) return;
    }
    await this.removeTrackingFinalizer(pod);
  }

  private async syncJob(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const shared = this.jobs.lister.get(namespace, name);
    if (!shared) {
      this.expectations.delete(key);
      this.finalizerExpectations.delete(key);
      this.backoffs.delete(key);
      return;
    }
    if (isJobFinished(shared)) {
      // Nothing more to do for a finished Job, except letting go of pods that still hold the finalizer.
      this.backoffs.delete(key);
      const expected = this.finalizerExpectations.get(key);
      for (const pod of this.podsForJob(shared)) {
        if (hasTrackingFinalizer(pod) && !expected?.has(pod.metadata.uid ?? '')) this.queue.add(orphanPodKeyPrefix + keyOf(pod));
      }
      return;
    }
    const mode = shared.spec?.completionMode ?? 'NonIndexed';
    if (mode !== 'NonIndexed' && mode !== 'Indexed') {
      this.recorder.event(shared, 'Warning', 'UnknownCompletionMode', 'Skipped Job sync because completion mode is unknown');
      return;
    }

    // Never mutate the cached object: everything below edits a copy.
    const job = structuredClone(shared) as JobState;
    const status = (job.status ??= {});
    status.uncountedTerminatedPods ??= {};
    // Check expectations before listing pods: a pod created after this check is seen by the next sync.
    const satisfied = this.expectations.satisfied(key);
    const pods = this.podsForJob(job);
    const activePods = pods.filter(isPodActive);
    const now = this.clock.now();
    const ctx: SyncContext = {
      job,
      pods,
      activePods,
      ready: activePods.filter(isPodReady).length,
      terminating: pods.filter(isPodTerminating).length,
      succeeded: 0,
      failed: 0,
      uncountedSucceeded: new Set(status.uncountedTerminatedPods.succeeded ?? []),
      uncountedFailed: new Set(status.uncountedTerminatedPods.failed ?? []),
      expectedRemovals: new Set(this.finalizerExpectations.get(key) ?? []),
      prevSucceededIndexes: [],
      succeededIndexes: [],
      backoff: { failuresAfterLastSuccess: 0 },
    };
    let active = activePods.length;
    const newSucceeded = this.newFinishedPods(ctx, (p) => p.status?.phase === 'Succeeded', ctx.uncountedSucceeded);
    const newFailed = this.newFinishedPods(ctx, (p) => isPodFailed(p, job), ctx.uncountedFailed);
    ctx.succeeded = (status.succeeded ?? 0) + newSucceeded.length + ctx.uncountedSucceeded.size;
    ctx.failed = (status.failed ?? 0) + newFailed.length + ctx.uncountedFailed.size;

    let startTimeSet = false;
    if (!status.startTime && !isJobSuspended(job)) {
      status.startTime = rfc3339(now);
      startTimeSet = true;
    }
    ctx.backoff = nextBackoffRecord(this.backoffs.get(key) ?? { failuresAfterLastSuccess: 0 }, newSucceeded, newFailed);

    const met = findCondition(job, 'SuccessCriteriaMet');
    if (met?.status === 'True') ctx.finished = { ...met };
    if (!ctx.finished) {
      const target = findCondition(job, 'FailureTarget');
      if (target?.status === 'True') ctx.finished = newCondition('Failed', 'True', target.reason ?? '', target.message ?? '', now);
    }
    if (!ctx.finished) {
      const ads = job.spec?.activeDeadlineSeconds;
      if (ctx.failed > (job.spec?.backoffLimit ?? 6) || pastBackoffLimitOnFailure(job, pods)) {
        ctx.finished = newCondition('FailureTarget', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now);
      } else if (this.pastActiveDeadline(job, now)) {
        ctx.finished = newCondition('FailureTarget', 'True', 'DeadlineExceeded', 'Job was active longer than specified deadline', now);
      } else if (ads != null && !isJobSuspended(job) && status.startTime) {
        this.queue.addAfter(key, Math.max(0, ads * 1000 - (now.getTime() - Date.parse(status.startTime))));
      }
    }

    if (isIndexedJob(job)) {
      const completions = job.spec?.completions ?? 0;
      ctx.prevSucceededIndexes = parseIndexes(status.completedIndexes, completions);
      const set = new Set(ctx.prevSucceededIndexes);
      for (const p of pods) {
        const ix = completionIndexOf(p);
        // A succeeded pod that still has the finalizer is not counted yet: its index is what records it.
        if (p.status?.phase === 'Succeeded' && ix >= 0 && ix < completions && hasTrackingFinalizer(p)) set.add(ix);
      }
      ctx.succeededIndexes = [...set].sort((a, b) => a - b);
      ctx.succeeded = ctx.succeededIndexes.length;
    }

    let manageError: unknown;
    let suspendChanged = false;
    if (ctx.finished) {
      // The Job has failed (or met its success criteria): its remaining pods have to go.
      const { deleted, deletedReady, error } = await this.deleteActivePods(ctx.activePods);
      if (deleted !== active || !satisfied) {
        // Pods may remain (or be missing from the cache): the terminal condition has to wait.
        ctx.finished = undefined;
      }
      active -= deleted;
      ctx.terminating += deleted;
      ctx.ready -= deletedReady;
      manageError = error;
    } else {
      let manageCalled = false;
      if (satisfied && !job.metadata.deletionTimestamp) {
        const r = await this.manageJob(key, ctx);
        active = r.active;
        manageError = r.error;
        manageCalled = true;
      }
      const completions = job.spec?.completions;
      // Without completions, any success means every pod could tell the work is done: wait for the rest to end.
      const complete = completions == null ? ctx.succeeded > 0 && active === 0 : ctx.succeeded >= completions && active === 0;
      if (complete) {
        ctx.finished = newCondition('SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
      } else if (manageCalled) {
        // Conditions and events only when manageJob ran, i.e. when this sync saw a settled cache.
        if (isJobSuspended(job)) {
          suspendChanged = ensureCondition(job, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now);
          if (suspendChanged) this.recorder.event(shared, 'Normal', 'Suspended', 'Job suspended');
        } else {
          suspendChanged = ensureCondition(job, 'Suspended', 'False', 'JobResumed', 'Job resumed', now);
          if (suspendChanged) {
            this.recorder.event(shared, 'Normal', 'Resumed', 'Job resumed');
            // activeDeadlineSeconds counts continuous activity, so a resumed Job starts its clock again.
            status.startTime = rfc3339(now);
          }
        }
      }
    }

    const needsStatusUpdate =
      startTimeSet || suspendChanged || active !== (status.active ?? 0) || ctx.ready !== status.ready || ctx.terminating !== status.terminating;
    status.active = active;
    status.ready = ctx.ready;
    status.terminating = ctx.terminating;
    await this.trackJobStatusAndRemoveFinalizers(key, ctx, needsStatusUpdate);
    if (manageError) throw manageError;
  }

  /** Pods this Job controls (by controller reference uid). Adoption of orphans matching the selector is not done. */
  private podsForJob(job: JobObject | JobState): PodObject[] {
    return this.pods.lister.list(job.metadata.namespace ?? '').filter((p) => isControlledBy(p, job));
  }

  /** Finished pods not yet counted anywhere (getNewFinishedPods): they hold the finalizer and are not in uncounted. */
  private newFinishedPods(ctx: SyncContext, filter: (p: PodObject) => boolean, uncounted: Set<string>): PodObject[] {
    const completions = ctx.job.spec?.completions ?? 0;
    return ctx.pods.filter((p) => {
      const uid = p.metadata.uid ?? '';
      if (!hasTrackingFinalizer(p) || uncounted.has(uid) || ctx.expectedRemovals.has(uid)) return false;
      if (isIndexedJob(ctx.job)) {
        const ix = completionIndexOf(p);
        if (ix < 0 || ix >= completions) return false;
      }
      return filter(p);
    });
  }

  private pastActiveDeadline(job: Job, now: Date): boolean {
    const ads = job.spec?.activeDeadlineSeconds;
    const start = job.status?.startTime;
    if (ads == null || !start || isJobSuspended(job)) return false;
    return now.getTime() - Date.parse(start) >= ads * 1000;
  }

  /**
   * Brings the number of active pods to what the Job wants (manageJob): deletes surplus pods (the least advanced
   * first) or creates missing ones in slow-start batches, unless the failure backoff says to wait. Either deletes or
   * creates in one sync, never both.
   */
  private async manageJob(key: string, ctx: SyncContext): Promise<{ active: number; error?: unknown }> {
    const job = ctx.job;
    let active = ctx.activePods.length;
    const parallelism = job.spec?.parallelism ?? 1;

    if (isJobSuspended(job)) {
      const toDelete = activePodsForRemoval(job, ctx.activePods, active);
      this.expectations.expectDeletions(key, toDelete.length);
      const r = await this.deleteJobPods(key, toDelete);
      ctx.terminating += r.deleted;
      ctx.ready -= r.deletedReady;
      return { active: active - r.deleted, error: r.error };
    }

    let wantActive: number;
    const completions = job.spec?.completions;
    if (completions == null) {
      // After one success the Job only waits for the running pods: it starts no new ones.
      wantActive = ctx.succeeded > 0 ? active : parallelism;
    } else {
      wantActive = Math.max(0, Math.min(completions - ctx.succeeded, parallelism));
    }

    const rmAtLeast = Math.max(0, active - wantActive);
    const toDelete = activePodsForRemoval(job, ctx.activePods, rmAtLeast).slice(0, maxPodCreateDeletePerSync);
    if (toDelete.length > 0) {
      this.expectations.expectDeletions(key, toDelete.length);
      const r = await this.deleteJobPods(key, toDelete);
      ctx.terminating += r.deleted;
      ctx.ready -= r.deletedReady;
      return { active: active - r.deleted, error: r.error };
    }

    // With podReplacementPolicy Failed, a terminating pod is replaced only once it has fully failed.
    const terminatingToWaitFor = job.spec?.podReplacementPolicy === 'Failed' ? ctx.terminating : 0;
    let diff = wantActive - terminatingToWaitFor - active;
    if (diff <= 0) return { active };

    const remaining = backoffRemainingMs(ctx.backoff, this.clock.now().getTime());
    if (remaining > 0) {
      this.queue.addAfter(key, Math.max(remaining, syncJobBatchPeriodMs));
      return { active };
    }
    diff = Math.min(diff, maxPodCreateDeletePerSync);
    let indexes: number[] = [];
    if (isIndexedJob(job)) {
      indexes = firstPendingIndexes(ctx, diff, completions ?? 0);
      diff = indexes.length;
      if (diff === 0) return { active };
    }

    this.expectations.expectCreations(key, diff);
    const template = structuredClone((job.spec?.template ?? {}) as Mutable<PodTemplateSpec>);
    template.metadata ??= {};
    if (isIndexedJob(job)) addCompletionIndexEnv(template);
    if (!(template.metadata.finalizers ?? []).includes(jobTrackingFinalizer)) {
      template.metadata.finalizers = [...(template.metadata.finalizers ?? []), jobTrackingFinalizer];
    }
    const ref = newControllerRef(job, 'batch/v1', 'Job');
    const jobName = job.metadata.name ?? '';
    const result = await slowStartBatch(diff, 1, async (i) => {
      let t = template;
      let generateName = `${jobName}-`;
      const ix = indexes[i];
      if (ix !== undefined) {
        t = structuredClone(template);
        t.metadata!.annotations = { ...(t.metadata!.annotations ?? {}), [jobCompletionIndexAnnotation]: String(ix) };
        // PodIndexLabel (beta, on by default since 1.28) puts the index in a label too.
        t.metadata!.labels = { ...(t.metadata!.labels ?? {}), [jobCompletionIndexAnnotation]: String(ix) };
        t.spec ??= { containers: [] };
        t.spec.hostname = `${jobName}-${ix}`;
        generateName = generateNameWithIndex(jobName, ix);
      }
      const pod = podFromTemplate(t, job.metadata.namespace ?? '', generateName, ref);
      try {
        await createPodFor(this.client, this.recorder, job, pod);
      } catch (err) {
        // The informer will never see this pod.
        this.expectations.creationObserved(key);
        throw err;
      }
    });
    // Pods never attempted after a failed batch will not be seen either.
    for (let i = result.attempted; i < diff; i++) this.expectations.creationObserved(key);
    return { active: active + result.successes, error: result.error };
  }

  /** Deletes active pods of a finished Job, keeping their finalizers: tracking counts and releases them. */
  private async deleteActivePods(pods: PodObject[]): Promise<{ deleted: number; deletedReady: number; error?: unknown }> {
    let deleted = 0;
    let deletedReady = 0;
    let error: unknown;
    await Promise.all(
      pods.map(async (pod) => {
        try {
          await this.client.delete(Pods, pod.metadata.namespace ?? '', pod.metadata.name ?? '');
        } catch (err) {
          if (!isNotFound(err)) {
            error ??= err;
            return;
          }
        }
        deleted++;
        if (isPodReady(pod)) deletedReady++;
      }),
    );
    return { deleted, deletedReady, error };
  }

  /** Removes surplus pods of a running Job: the finalizer first (they will not be counted), then the pod. */
  private async deleteJobPods(key: string, pods: PodObject[]): Promise<{ deleted: number; deletedReady: number; error?: unknown }> {
    let deleted = 0;
    let deletedReady = 0;
    let error: unknown;
    const job = this.jobs.lister.get(splitKey(key).namespace, splitKey(key).name);
    await Promise.all(
      pods.map(async (pod) => {
        try {
          if (hasTrackingFinalizer(pod)) await this.removeTrackingFinalizer(pod);
          await this.client.delete(Pods, pod.metadata.namespace ?? '', pod.metadata.name ?? '');
          if (job) this.recorder.event(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
        } catch (err) {
          this.expectations.deletionObserved(key);
          if (!isNotFound(err)) {
            if (job) this.recorder.event(job, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
            error ??= err;
            return;
          }
        }
        deleted++;
        if (isPodReady(pod)) deletedReady++;
      }),
    );
    return { deleted, deletedReady, error };
  }

  /**
   * The counting protocol (trackJobStatusAndRemoveFinalizers):
   * 1. add newly finished pods to status.uncountedTerminatedPods (and interim conditions) and write status;
   * 2. remove the finalizers of those pods;
   * 3. move the UIDs whose finalizer is gone into the succeeded/failed counters;
   * 4. add Complete/Failed once nothing is uncounted or terminating, and write status again.
   */
  private async trackJobStatusAndRemoveFinalizers(key: string, ctx: SyncContext, needsFlush: boolean): Promise<void> {
    const job = ctx.job;
    const status = job.status!;
    const indexed = isIndexedJob(job);
    const completions = job.spec?.completions ?? 0;
    const uncounted = status.uncountedTerminatedPods!;
    uncounted.succeeded ??= [];
    uncounted.failed ??= [];
    const podsToRelease: PodObject[] = [];
    const newSucceededIndexes: number[] = [];
    const pods = indexed ? [...ctx.pods].sort((a, b) => completionIndexOf(a) - completionIndexOf(b)) : ctx.pods;

    const uidsWithFinalizer = new Set<string>();
    for (const p of pods) {
      const uid = p.metadata.uid ?? '';
      if (hasTrackingFinalizer(p) && !ctx.expectedRemovals.has(uid)) uidsWithFinalizer.add(uid);
    }
    if (countUncountedWithoutFinalizers(job, uidsWithFinalizer)) needsFlush = true;

    let reachedMaxUncounted = false;
    for (const pod of pods) {
      const uid = pod.metadata.uid ?? '';
      if (!hasTrackingFinalizer(pod) || ctx.expectedRemovals.has(uid)) continue;
      const consideredFailed = isPodFailed(pod, job);
      if (!(job.metadata.deletionTimestamp || ctx.finished || pod.status?.phase === 'Succeeded' || consideredFailed)) continue;
      podsToRelease.push(pod);
      if (pod.status?.phase === 'Succeeded' && !ctx.uncountedFailed.has(uid)) {
        if (indexed) {
          const ix = completionIndexOf(pod);
          if (ix >= 0 && ix < completions && !ctx.prevSucceededIndexes.includes(ix)) {
            newSucceededIndexes.push(ix);
            needsFlush = true;
          }
        } else if (!ctx.uncountedSucceeded.has(uid)) {
          uncounted.succeeded.push(uid);
          needsFlush = true;
        }
      } else if (consideredFailed || (ctx.finished && ctx.finished.type !== 'SuccessCriteriaMet')) {
        // Once the Job has failed, every pod that did not succeed counts as failed.
        const ix = completionIndexOf(pod);
        if (!ctx.uncountedFailed.has(uid) && (!indexed || (ix >= 0 && ix < completions))) {
          uncounted.failed.push(uid);
          needsFlush = true;
        }
      }
      if (newSucceededIndexes.length + uncounted.succeeded.length + uncounted.failed.length >= maxUncountedPods) {
        // Keeps the status small and this sync short; the status write requeues the Job for the rest.
        reachedMaxUncounted = true;
        break;
      }
    }
    if (indexed) {
      const all = [...new Set([...ctx.succeededIndexes, ...newSucceededIndexes])].sort((a, b) => a - b);
      const text = formatIndexes(all);
      if (text !== (status.completedIndexes ?? '')) needsFlush = true;
      status.succeeded = all.length;
      status.completedIndexes = text;
    }
    if (ctx.finished?.type === 'FailureTarget') {
      // The interim condition is recorded before the finalizers come off, so the reason survives the pods.
      (status.conditions ??= []).push(ctx.finished);
      needsFlush = true;
      ctx.finished = newCondition('Failed', 'True', ctx.finished.reason ?? '', ctx.finished.message ?? '', this.clock.now());
    }
    if (ctx.finished?.type === 'SuccessCriteriaMet') {
      if (findCondition(job, 'SuccessCriteriaMet')?.status !== 'True') {
        (status.conditions ??= []).push(ctx.finished);
        needsFlush = true;
      }
      ctx.finished = newCondition('Complete', 'True', ctx.finished.reason ?? '', ctx.finished.message ?? '', this.clock.now());
    }

    needsFlush = await this.flushUncountedAndRemoveFinalizers(key, ctx, podsToRelease, uidsWithFinalizer, needsFlush);
    const finished = !reachedMaxUncounted && this.enactJobFinished(ctx);
    if (finished) needsFlush = true;
    if (needsFlush) {
      ctx.job = await this.writeStatus(ctx.job);
      if (finished) this.recordJobFinished(ctx.job, ctx.finished!);
    }
  }

  /** Steps 1-3 of the counting protocol; returns whether status changes are still unwritten. */
  private async flushUncountedAndRemoveFinalizers(
    key: string,
    ctx: SyncContext,
    podsToRelease: PodObject[],
    uidsWithFinalizer: Set<string>,
    needsFlush: boolean,
  ): Promise<boolean> {
    if (needsFlush) {
      ctx.job = await this.writeStatus(ctx.job);
      // The backoff remembers failures only once they are recorded in the Job.
      this.backoffs.set(key, ctx.backoff);
      needsFlush = false;
    }
    let removeError: unknown;
    if (podsToRelease.length > 0) {
      const expected = this.finalizerExpectations.get(key) ?? new Set<string>();
      for (const p of podsToRelease) expected.add(p.metadata.uid ?? '');
      this.finalizerExpectations.set(key, expected);
      await Promise.all(
        podsToRelease.map(async (pod) => {
          const uid = pod.metadata.uid ?? '';
          try {
            await this.removeTrackingFinalizer(pod);
          } catch (err) {
            // No pod update will report this removal.
            this.finalizerRemovalObserved(key, uid);
            removeError ??= err;
            return;
          }
          uidsWithFinalizer.delete(uid);
        }),
      );
    }
    if (countUncountedWithoutFinalizers(ctx.job, uidsWithFinalizer)) needsFlush = true;
    if (removeError) {
      // Record the partial progress before reporting the failure.
      if (needsFlush) ctx.job = await this.writeStatus(ctx.job);
      throw removeError;
    }
    return needsFlush;
  }

  /** Adds Complete or Failed when every pod is counted and none is terminating (enactJobFinished). */
  private enactJobFinished(ctx: SyncContext): boolean {
    const cond = ctx.finished;
    if (!cond) return false;
    const uncounted = ctx.job.status?.uncountedTerminatedPods;
    if ((uncounted?.succeeded?.length ?? 0) + (uncounted?.failed?.length ?? 0) > 0) return false;
    if (ctx.terminating > 0) return false;
    const now = this.clock.now();
    ensureCondition(ctx.job, cond.type, 'True', cond.reason ?? '', cond.message ?? '', now);
    if (cond.type === 'Complete') ctx.job.status!.completionTime = rfc3339(now);
    return true;
  }

  private recordJobFinished(job: JobState, cond: MutableJobCondition): void {
    if (cond.type === 'Complete') {
      const completions = job.spec?.completions;
      if (completions != null && (job.status?.succeeded ?? 0) > completions) {
        this.recorder.event(job, 'Warning', 'TooManySucceededPods', 'Too many succeeded pods running after completion count reached');
      }
      this.recorder.event(job, 'Normal', 'Completed', 'Job completed');
    } else {
      this.recorder.event(job, 'Warning', cond.reason ?? 'Failed', cond.message ?? '');
    }
  }

  /** PUT /status with the Job's resourceVersion, so a sync that worked from a stale Job fails with a Conflict. */
  private async writeStatus(job: JobState): Promise<JobState> {
    const s = job.status ?? {};
    // active, succeeded and failed are omitempty on the wire.
    for (const f of ['active', 'succeeded', 'failed'] as const) if (!s[f]) delete s[f];
    if (s.uncountedTerminatedPods) {
      if (!s.uncountedTerminatedPods.succeeded?.length) delete s.uncountedTerminatedPods.succeeded;
      if (!s.uncountedTerminatedPods.failed?.length) delete s.uncountedTerminatedPods.failed;
    }
    if (s.completedIndexes === '') delete s.completedIndexes;
    return (await this.client.updateStatus(Jobs, job.metadata.namespace ?? '', job)) as JobState;
  }

  /**
   * JSON patch that removes exactly our finalizer, guarded by a test of its position, so a concurrent change of
   * the list fails the patch instead of removing someone else's finalizer.
   */
  private async removeTrackingFinalizer(pod: PodObject): Promise<void> {
    const i = (pod.metadata.finalizers ?? []).indexOf(jobTrackingFinalizer);
    if (i < 0) return;
    const path = `/metadata/finalizers/${i}`;
    try {
      await this.client.patch(Pods, pod.metadata.namespace ?? '', pod.metadata.name ?? '', 'json', [
        { op: 'test', path, value: jobTrackingFinalizer },
        { op: 'remove', path },
      ]);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

export function hasTrackingFinalizer(pod: Pod): boolean {
  return (pod.metadata?.finalizers ?? []).includes(jobTrackingFinalizer);
}

/**
 * A pod that failed, or (unless only failed pods are replaced) one deleted before it succeeded: an orphaned pod
 * may never reach the Failed phase (isPodFailed).
 */
function isPodFailed(pod: Pod, job: Job): boolean {
  if (pod.status?.phase === 'Failed') return true;
  if (job.spec?.podReplacementPolicy === 'Failed') return false;
  return !!pod.metadata?.deletionTimestamp && pod.status?.phase !== 'Succeeded';
}

/** Moves UIDs whose pod no longer holds the finalizer from uncountedTerminatedPods into the counters. */
function countUncountedWithoutFinalizers(job: JobState, uidsWithFinalizer: Set<string>): boolean {
  const status = job.status!;
  const u = (status.uncountedTerminatedPods ??= {});
  let changed = false;
  const keepS = (u.succeeded ?? []).filter((uid) => uidsWithFinalizer.has(uid));
  if (keepS.length !== (u.succeeded ?? []).length) {
    status.succeeded = (status.succeeded ?? 0) + (u.succeeded!.length - keepS.length);
    u.succeeded = keepS;
    changed = true;
  }
  const keepF = (u.failed ?? []).filter((uid) => uidsWithFinalizer.has(uid));
  if (keepF.length !== (u.failed ?? []).length) {
    status.failed = (status.failed ?? 0) + (u.failed!.length - keepF.length);
    u.failed = keepF;
    changed = true;
  }
  return changed;
}

/**
 * Which active pods to delete (activePodsForRemoval): for Indexed Jobs first those with an invalid index and the
 * extra pods of a duplicated index; then, if more must go, the least advanced pods.
 */
function activePodsForRemoval(job: Job, pods: PodObject[], rmAtLeast: number): PodObject[] {
  const rm: PodObject[] = [];
  let left = pods;
  if (isIndexedJob(job)) {
    const completions = job.spec?.completions ?? 0;
    left = [];
    const byIndex = new Map<number, PodObject[]>();
    for (const p of pods) {
      const ix = completionIndexOf(p);
      if (ix < 0 || ix >= completions) rm.push(p);
      else byIndex.set(ix, [...(byIndex.get(ix) ?? []), p]);
    }
    for (const group of byIndex.values()) {
      // Keep the most advanced pod of the index.
      const sorted = [...group].sort(compareActivePodsForDeletion);
      rm.push(...sorted.slice(0, -1));
      left.push(sorted[sorted.length - 1]!);
    }
  }
  if (rm.length < rmAtLeast) {
    const sorted = [...left].sort(compareActivePodsForDeletion);
    rm.push(...sorted.slice(0, rmAtLeast - rm.length));
  }
  return rm;
}

/** The lowest indexes that neither succeeded nor have an active pod (firstPendingIndexes). */
function firstPendingIndexes(ctx: SyncContext, count: number, completions: number): number[] {
  const taken = new Set(ctx.succeededIndexes);
  for (const p of ctx.activePods) {
    const ix = completionIndexOf(p);
    if (ix >= 0 && ix < completions) taken.add(ix);
  }
  const out: number[] = [];
  for (let i = 0; i < completions && out.length < count; i++) if (!taken.has(i)) out.push(i);
  return out;
}

/** JOB_COMPLETION_INDEX from the annotation through the downward API, in every container that lacks it. */
function addCompletionIndexEnv(template: Mutable<PodTemplateSpec>): void {
  const spec = (template.spec ??= { containers: [] });
  const add = (c: Mutable<Container>) => {
    if ((c.env ?? []).some((e) => e.name === jobCompletionIndexEnv)) return;
    c.env = [...(c.env ?? []), { name: jobCompletionIndexEnv, valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${jobCompletionIndexAnnotation}']` } } }];
  };
  for (const c of spec.initContainers ?? []) add(c);
  for (const c of spec.containers ?? []) add(c);
}

/** `<job>-<index>-`, with the Job name shortened so the generated name stays within 63 characters. */
function generateNameWithIndex(jobName: string, index: number): string {
  const suffix = `-${index}-`;
  const maxGenerated = 63 - 5;
  const prefix = jobName + suffix;
  return prefix.length > maxGenerated ? jobName.slice(0, maxGenerated - suffix.length) + suffix : prefix;
}
