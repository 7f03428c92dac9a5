/**
 * Pod predicates every workload controller shares (upstream podutil.IsPodReady / IsPodAvailable and
 * controller.IsPodActive). Times are metav1.Time strings (RFC 3339, seconds).
 */
import type { Pod, PodCondition } from 'kubernetes-types/core/v1.js';

/** Not finished (phase Succeeded/Failed) and not being deleted: the pods a ReplicaSet counts. */
export function isPodActive(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata?.deletionTimestamp;
}

export function podReadyCondition(pod: Pod): PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

export function isPodReady(pod: Pod): boolean {
  return podReadyCondition(pod)?.status === 'True';
}

/** When the pod last became Ready, in ms; undefined when it is not ready or the time is unknown. */
export function podReadyTime(pod: Pod): number | undefined {
  const c = podReadyCondition(pod);
  if (c?.status !== 'True' || !c.lastTransitionTime) return undefined;
  return parseTime(c.lastTransitionTime);
}

/**
 * Ready for at least minReadySeconds (IsPodAvailable): with minReadySeconds 0 every ready pod is available; otherwise
 * the Ready condition's lastTransitionTime + minReadySeconds must lie strictly before now.
 */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: Date): boolean {
  if (!isPodReady(pod)) return false;
  if (minReadySeconds === 0) return true;
  const since = podReadyTime(pod);
  return since !== undefined && since + minReadySeconds * 1000 < now.getTime();
}

/** Milliseconds since the epoch of a metav1.Time string; undefined for a missing or unparsable value. */
export function parseTime(value: string | undefined | null): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** metav1.Time as the API serializes it: RFC 3339 in UTC with whole seconds. */
export function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
