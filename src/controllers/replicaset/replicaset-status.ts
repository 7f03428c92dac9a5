/**
 * The status a ReplicaSet reports, recomputed from its claimed pods on every sync (upstream calculateStatus).
 * Written in the shape the API serializes (omitempty counters left out when zero), so comparing it with the stored
 * status tells whether a write is needed.
 */
import type { ReplicaSet, ReplicaSetCondition, ReplicaSetStatus } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { labelSelectorFromSet, matches } from '../../api/labels.js';
import type { Mutable } from '../../api/object.js';
import { errorMessage } from '../util/error-message.js';
import { rfc3339 } from '../../api/time.js';
import { isPodAvailable, isPodReady } from '../../api/pod.js';
import { semanticEqual } from '../util/semantic-equal.js';

export type MutableReplicaSetStatus = Mutable<ReplicaSetStatus>;

/**
 * `pods` are the active pods the ReplicaSet controls. `manageError` is the error of this sync's create/delete round:
 * it raises the ReplicaFailure condition (reason FailedCreate when pods were missing, FailedDelete when there were too
 * many), and a round without error clears it.
 */
export function computeReplicaSetStatus(rs: ReplicaSet, pods: readonly Pod[], manageError: unknown, now: Date): MutableReplicaSetStatus {
  const templateLabels = labelSelectorFromSet(rs.spec?.template?.metadata?.labels);
  const minReadySeconds = rs.spec?.minReadySeconds ?? 0;
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  for (const pod of pods) {
    if (matches(templateLabels, pod.metadata?.labels)) fullyLabeled++;
    if (isPodReady(pod)) ready++;
    if (isPodAvailable(pod, minReadySeconds, now)) available++;
  }
  const status: MutableReplicaSetStatus = { replicas: pods.length };
  if (fullyLabeled) status.fullyLabeledReplicas = fullyLabeled;
  if (ready) status.readyReplicas = ready;
  if (available) status.availableReplicas = available;
  if (rs.status?.observedGeneration) status.observedGeneration = rs.status.observedGeneration;
  let conditions: Mutable<ReplicaSetCondition>[] = structuredClone((rs.status?.conditions ?? []) as Mutable<ReplicaSetCondition>[]);
  const failure = conditions.find((c) => c.type === 'ReplicaFailure');
  if (manageError !== undefined && !failure) {
    const reason = pods.length - (rs.spec?.replicas ?? 1) < 0 ? 'FailedCreate' : 'FailedDelete';
    conditions.push({ type: 'ReplicaFailure', status: 'True', lastTransitionTime: rfc3339(now), reason, message: errorMessage(manageError) });
  } else if (manageError === undefined && failure) {
    conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');
  }
  if (conditions.length > 0) status.conditions = conditions;
  return status;
}

/** True when `a` and `b` say the same (upstream compares the counters, observedGeneration and conditions). */
export function replicaSetStatusEqual(a: ReplicaSetStatus | undefined, b: ReplicaSetStatus | undefined): boolean {
  return (
    (a?.replicas ?? 0) === (b?.replicas ?? 0) &&
    (a?.fullyLabeledReplicas ?? 0) === (b?.fullyLabeledReplicas ?? 0) &&
    (a?.readyReplicas ?? 0) === (b?.readyReplicas ?? 0) &&
    (a?.availableReplicas ?? 0) === (b?.availableReplicas ?? 0) &&
    (a?.observedGeneration ?? 0) === (b?.observedGeneration ?? 0) &&
    semanticEqual(a?.conditions, b?.conditions)
  );
}
