/**
 * Pod predicates and keys every component shares: the API server's rules, controllers, the scheduler and the
 * agents all ask "is this pod finished / ready / available" the same way (upstream: k8s.io/kubernetes/pkg/api/v1/pod
 * IsPodReady / IsPodAvailable, pkg/controller IsPodActive, corev1 helpers IsPodTerminal).
 * Times are metav1.Time strings (RFC 3339, seconds).
 */
import type { Pod, PodCondition } from 'kubernetes-types/core/v1.js';
import { parseTime } from './time.js';

/** `namespace/name`, the key queues, caches, expectations and log lines use for a pod (pods are always namespaced). */
export function podKey(pod: { metadata?: { namespace?: string; name?: string } }): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

/** The pod's Ready condition, if it reports one (the first, as GetPodCondition finds it). */
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
 * the Ready condition's lastTransitionTime + minReadySeconds must lie strictly before now (Go's Time.Before), and a
 * Ready condition without a transition time never counts.
 */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: Date): boolean {
  if (!isPodReady(pod)) return false;
  if (!minReadySeconds) return true;
  const since = podReadyTime(pod);
  return since !== undefined && since + minReadySeconds * 1000 < now.getTime();
}

/** Finished: phase Succeeded or Failed. A finished pod never runs again and holds no node resources. */
export function isPodTerminal(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Neither finished nor being deleted (controller.IsPodActive): the pods a workload controller counts. */
export function isPodActive(pod: Pod): boolean {
  return !isPodTerminal(pod) && !pod.metadata?.deletionTimestamp;
}

/** Being deleted but not yet finished (controller.CountTerminatingPods counts these). */
export function isPodTerminating(pod: Pod): boolean {
  return !!pod.metadata?.deletionTimestamp && !isPodTerminal(pod);
}
