/** The API objects the scheduler reads, as wire JSON (kubernetes-types) usable with the client's listers. */
import type { Namespace as NamespaceType, Node as NodeType, Pod as PodType } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget as PodDisruptionBudgetType } from 'kubernetes-types/policy/v1.js';
import type { PriorityClass as PriorityClassType } from 'kubernetes-types/scheduling/v1.js';
import type { KubeObject } from '../../api/object.js';
import { podKey } from '../../api/pod.js';

export type Pod = PodType & KubeObject;
export type Node = NodeType & KubeObject;
export type Namespace = NamespaceType & KubeObject;
export type PriorityClass = PriorityClassType & KubeObject;
export type PodDisruptionBudget = PodDisruptionBudgetType & KubeObject;

export const defaultSchedulerName = 'default-scheduler';

/** The identity the scheduler cache uses: the UID, or `namespace/name` for objects built without one (tests). */
export function podUid(pod: Pod): string {
  return pod.metadata.uid || podKey(pod);
}

/** corev1helpers.PodPriority: spec.priority, 0 when unset. */
export function podPriority(pod: Pod): number {
  return pod.spec?.priority ?? 0;
}
