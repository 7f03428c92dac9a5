/**
 * The Progressing condition during a rollout (upstream progress.go): NewReplicaSetAvailable when complete,
 * ReplicaSetUpdated (with a fresh lastUpdateTime) whenever pods moved, ProgressDeadlineExceeded when nothing moved for
 * progressDeadlineSeconds. `kubectl rollout status` fails on the latter. A Deployment that may still time out is
 * re-queued for the moment its deadline passes, since no event would wake it.
 */
import type { DeploymentStatus } from 'kubernetes-types/apps/v1.js';
import {
  computeDeploymentStatus,
  deploymentComplete,
  deploymentProgressing,
  deploymentStatusEqual,
  deploymentTimedOut,
  getCondition,
  hasProgressDeadline,
  newCondition,
  parseTimeOrZero,
  Reasons,
  removeCondition,
  setCondition,
  type MutableDeployment,
  type MutableDeploymentCondition,
  type ReplicaSetObject,
} from './deployment-util.js';
import { writeDeploymentStatus } from './sync.js';
import type { SyncContext } from './sync-context.js';

export async function syncRolloutStatus(ctx: SyncContext, allRSs: readonly (ReplicaSetObject | undefined)[], newRS: ReplicaSetObject | undefined, d: MutableDeployment): Promise<void> {
  const now = ctx.clock.now();
  const status = computeDeploymentStatus(allRSs, newRS, d, now);
  if (!hasProgressDeadline(d)) removeCondition(status, 'Progressing');

  // One active ReplicaSet that already completed: a resync, not a rollout; there is no progress to estimate.
  const current = getCondition(d.status, 'Progressing');
  const isCompleteDeployment = (status.replicas ?? 0) === (status.updatedReplicas ?? 0) && current?.reason === Reasons.NewReplicaSetAvailable;
  if (hasProgressDeadline(d) && !isCompleteDeployment) {
    if (deploymentComplete(d, status)) {
      const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has successfully progressed.` : `Deployment "${d.metadata.name}" has successfully progressed.`;
      setCondition(status, newCondition('Progressing', 'True', Reasons.NewReplicaSetAvailable, msg, now));
    } else if (deploymentProgressing(d, status)) {
      const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" is progressing.` : `Deployment "${d.metadata.name}" is progressing.`;
      const cond = newCondition('Progressing', 'True', Reasons.ReplicaSetUpdated, msg, now);
      // Progress refreshes lastUpdateTime even when the reason stays ReplicaSetUpdated (setCondition alone would keep
      // the old condition); lastTransitionTime stays while the status stays True.
      if (current) {
        if (current.status === 'True') cond.lastTransitionTime = current.lastTransitionTime;
        removeCondition(status, 'Progressing');
      }
      setCondition(status, cond);
    } else if (deploymentTimedOut(d, status, now)) {
      const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has timed out progressing.` : `Deployment "${d.metadata.name}" has timed out progressing.`;
      setCondition(status, newCondition('Progressing', 'False', Reasons.ProgressDeadlineExceeded, msg, now));
    }
  }

  // ReplicaSets' ReplicaFailure conditions (quota, admission) surface on the Deployment; the new one's first.
  const failure = replicaFailure(allRSs, newRS);
  if (failure) setCondition(status, failure);
  else removeCondition(status, 'ReplicaFailure');

  if (deploymentStatusEqual(d.status, status)) {
    requeueStuckDeployment(ctx, d, status);
    return;
  }
  d.status = status;
  await writeDeploymentStatus(ctx, d);
}

function replicaFailure(allRSs: readonly (ReplicaSetObject | undefined)[], newRS: ReplicaSetObject | undefined): MutableDeploymentCondition | undefined {
  for (const rs of [newRS, ...allRSs]) {
    const c = rs?.status?.conditions?.find((x) => x.type === 'ReplicaFailure');
    if (c) {
      return {
        type: 'ReplicaFailure',
        status: c.status,
        lastUpdateTime: c.lastTransitionTime,
        lastTransitionTime: c.lastTransitionTime,
        reason: c.reason,
        message: c.message,
      };
    }
  }
  return undefined;
}

/**
 * Re-queues a Deployment whose rollout may still exceed its deadline for the moment it would (lastUpdateTime +
 * progressDeadlineSeconds, plus a second of slack for clock rounding); at once (rate-limited) if that moment is less
 * than a second away. Returns the delay in ms, or -1 when no check is due.
 */
export function requeueStuckDeployment(ctx: SyncContext, d: MutableDeployment, status: DeploymentStatus): number {
  const current = getCondition(d.status, 'Progressing');
  if (!hasProgressDeadline(d) || !current) return -1;
  if (deploymentComplete(d, status) || current.reason === Reasons.ProgressDeadlineExceeded) return -1;
  const after = parseTimeOrZero(current.lastUpdateTime) + (d.spec?.progressDeadlineSeconds ?? 0) * 1000 - ctx.clock.now().getTime();
  if (after < 1000) {
    ctx.enqueueRateLimited(d);
    return 0;
  }
  ctx.enqueueAfter(d, after + 1000);
  return after;
}
