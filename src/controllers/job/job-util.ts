/**
 * Pure helpers of the Job controller: the well-known names, conditions, the completed-indexes text format of
 * Indexed Jobs ("1,3-5,7"), and the pod-failure backoff (pkg/controller/job/{indexed_job_utils,backoff_utils}.go).
 */
import type { Job, JobCondition } from 'kubernetes-types/batch/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Mutable } from '../../api/object.js';
import { rfc3339 } from '../../api/time.js';

/** Finalizer that keeps a finished pod around until the controller has counted it (KEP-2307). */
export const jobTrackingFinalizer = 'batch.kubernetes.io/job-tracking';
export const jobControllerUidLabel = 'batch.kubernetes.io/controller-uid';
export const jobNameLabel = 'batch.kubernetes.io/job-name';
export const legacyControllerUidLabel = 'controller-uid';
export const legacyJobNameLabel = 'job-name';
/** Annotation (and, with PodIndexLabel, label) carrying an Indexed Job pod's completion index. */
export const jobCompletionIndexAnnotation = 'batch.kubernetes.io/job-completion-index';
export const jobCompletionIndexEnv = 'JOB_COMPLETION_INDEX';

/** Backoff before re-creating pods after failures: 10 s doubling per failure up to 6 min (DefaultJobPodFailureBackOff). */
export const defaultPodFailureBackoffMs = 10_000;
export const maxPodFailureBackoffMs = 6 * 60_000;

export type MutableJob = Mutable<Job>;
export type MutableJobCondition = Mutable<JobCondition>;

export function findCondition(job: Job, type: string): JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === type);
}

function conditionTrue(job: Job, type: string): boolean {
  return findCondition(job, type)?.status === 'True';
}

/** The terminal condition type (Complete or Failed) if the Job has finished (util.FinishedCondition). */
export function finishedConditionType(job: Job): 'Complete' | 'Failed' | undefined {
  if (conditionTrue(job, 'Complete')) return 'Complete';
  if (conditionTrue(job, 'Failed')) return 'Failed';
  return undefined;
}

export function isJobFinished(job: Job): boolean {
  return finishedConditionType(job) !== undefined;
}

export function isIndexedJob(job: Job): boolean {
  return job.spec?.completionMode === 'Indexed';
}

export function isJobSuspended(job: Job): boolean {
  return job.spec?.suspend === true;
}

export function newCondition(type: string, status: 'True' | 'False', reason: string, message: string, now: Date): MutableJobCondition {
  const t = rfc3339(now);
  return { type, status, lastProbeTime: t, lastTransitionTime: t, reason, message };
}

/**
 * ensureJobConditionStatus: sets the condition of that type to (status, reason, message), replacing one that
 * differs; a False condition is not added where none existed. Returns whether anything changed.
 */
export function ensureCondition(job: MutableJob, type: string, status: 'True' | 'False', reason: string, message: string, now: Date): boolean {
  job.status ??= {};
  const list = (job.status.conditions ??= []);
  const i = list.findIndex((c) => c.type === type);
  if (i >= 0) {
    const c = list[i]!;
    if (c.status === status && c.reason === reason && c.message === message) return false;
    list[i] = newCondition(type, status, reason, message, now);
    return true;
  }
  if (status === 'False') return false;
  list.push(newCondition(type, status, reason, message, now));
  return true;
}

/** The pod's completion index from its annotation, or -1 when missing or malformed (getCompletionIndex). */
export function completionIndexOf(pod: Pod): number {
  const v = pod.metadata?.annotations?.[jobCompletionIndexAnnotation];
  if (v === undefined || !/^\d+$/.test(v)) return -1;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : -1;
}

/**
 * Parses status.completedIndexes ("1,3-5,7") into a sorted list of indexes below `completions`; malformed parts
 * are skipped, as upstream logs and skips them.
 */
export function parseIndexes(text: string | undefined, completions: number): number[] {
  const out = new Set<number>();
  for (const part of (text ?? '').split(',')) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) continue;
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    for (let i = first; i <= Math.min(last, completions - 1); i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

/** Formats sorted indexes as Kubernetes does: runs of three or more as "a-b", pairs as "a,b". */
export function formatIndexes(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    const first = sorted[i]!;
    const last = sorted[j]!;
    if (last === first) parts.push(String(first));
    else if (last === first + 1) parts.push(`${first},${last}`);
    else parts.push(`${first}-${last}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * OnFailure pods restart in place, so their failures show as container restarts: the Job has failed once the
 * restarts of its running and pending pods reach backoffLimit (pastBackoffLimitOnFailure).
 */
export function pastBackoffLimitOnFailure(job: Job, pods: readonly Pod[]): boolean {
  if (job.spec?.template?.spec?.restartPolicy !== 'OnFailure') return false;
  let restarts = 0;
  for (const p of pods) {
    if (p.status?.phase !== 'Running' && p.status?.phase !== 'Pending') continue;
    for (const s of p.status?.initContainerStatuses ?? []) restarts += s.restartCount ?? 0;
    for (const s of p.status?.containerStatuses ?? []) restarts += s.restartCount ?? 0;
  }
  const limit = job.spec?.backoffLimit ?? 6;
  return limit === 0 ? restarts > 0 : restarts >= limit;
}

/** When a finished pod finished: its last container termination, else the Ready=False transition, else creation. */
export function podFinishTime(pod: Pod): number {
  let latest = 0;
  for (const s of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
    const t = s.state?.terminated?.finishedAt;
    if (t) latest = Math.max(latest, Date.parse(t));
  }
  if (latest) return latest;
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False')?.lastTransitionTime;
  if (ready) return Date.parse(ready);
  if (pod.metadata?.deletionTimestamp) return Date.parse(pod.metadata.deletionTimestamp);
  return pod.metadata?.creationTimestamp ? Date.parse(pod.metadata.creationTimestamp) : 0;
}

/** Failures since the last success and when the latest happened (backoffRecord). */
export interface BackoffRecord {
  failuresAfterLastSuccess: number;
  lastFailureTime?: number;
}

/** The record after counting newly finished pods into it (newBackoffRecord). */
export function nextBackoffRecord(old: BackoffRecord, newSucceeded: readonly Pod[], newFailed: readonly Pod[]): BackoffRecord {
  const failedTimes = newFailed.map(podFinishTime).sort((a, b) => a - b);
  if (newSucceeded.length === 0) {
    if (failedTimes.length === 0) return old;
    const last = failedTimes[failedTimes.length - 1]!;
    return { failuresAfterLastSuccess: old.failuresAfterLastSuccess + failedTimes.length, lastFailureTime: Math.max(last, old.lastFailureTime ?? 0) };
  }
  const lastSuccess = Math.max(...newSucceeded.map(podFinishTime));
  const after = failedTimes.filter((t) => t > lastSuccess);
  if (after.length === 0) return { failuresAfterLastSuccess: 0 };
  return { failuresAfterLastSuccess: after.length, lastFailureTime: after[after.length - 1] };
}

/** How long pod creation must still wait: 10 s * 2^(failures-1), capped at 6 min, counted from the last failure. */
export function backoffRemainingMs(record: BackoffRecord, now: number): number {
  if (record.failuresAfterLastSuccess === 0 || record.lastFailureTime === undefined) return 0;
  let backoff = defaultPodFailureBackoffMs;
  for (let i = 1; i < record.failuresAfterLastSuccess; i++) {
    backoff *= 2;
    if (backoff >= maxPodFailureBackoffMs) {
      backoff = maxPodFailureBackoffMs;
      break;
    }
  }
  const elapsed = now - record.lastFailureTime;
  return backoff < elapsed ? 0 : backoff - elapsed;
}
