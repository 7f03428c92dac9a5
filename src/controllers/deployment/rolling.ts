/**
 * RollingUpdate (upstream rolling.go). Each sync does one step: scale the new ReplicaSet up as far as maxSurge allows;
 * if it did not move, scale old ReplicaSets down as far as maxUnavailable allows (unhealthy pods first); once the
 * rollout is complete, clean up old ReplicaSets. Then update status and the Progressing condition.
 */
import {
  availableReplicaCount,
  byCreationTimestamp,
  deploymentComplete,
  deploymentReplicas,
  maxUnavailable,
  newRSNewReplicas,
  replicaCount,
  rsReplicas,
  activeReplicaSets,
  type MutableDeployment,
  type ReplicaSetObject,
} from './deployment-util.js';
import { syncRolloutStatus } from './progress.js';
import { cleanupDeployment, getAllReplicaSetsAndSyncRevision, scaleReplicaSetAndRecordEvent } from './sync.js';
import type { SyncContext } from './sync-context.js';

export async function rolloutRolling(ctx: SyncContext, d: MutableDeployment, rsList: ReplicaSetObject[]): Promise<void> {
  const { newRS, oldRSs } = await getAllReplicaSetsAndSyncRevision(ctx, d, rsList, true);
  const allRSs = [...oldRSs, newRS!];
  if (await reconcileNewReplicaSet(ctx, allRSs, newRS!, d)) {
    await syncRolloutStatus(ctx, allRSs, newRS, d);
    return;
  }
  if (await reconcileOldReplicaSets(ctx, allRSs, activeReplicaSets(oldRSs), newRS!, d)) {
    await syncRolloutStatus(ctx, allRSs, newRS, d);
    return;
  }
  if (deploymentComplete(d, d.status ?? {})) await cleanupDeployment(ctx, oldRSs, d);
  await syncRolloutStatus(ctx, allRSs, newRS, d);
}

/** Scales the new ReplicaSet toward spec.replicas within the surge budget; true if it changed. */
async function reconcileNewReplicaSet(ctx: SyncContext, allRSs: ReplicaSetObject[], newRS: ReplicaSetObject, d: MutableDeployment): Promise<boolean> {
  const replicas = deploymentReplicas(d);
  if (rsReplicas(newRS) === replicas) return false;
  if (rsReplicas(newRS) > replicas) return (await scaleReplicaSetAndRecordEvent(ctx, newRS, replicas, d)).scaled;
  return (await scaleReplicaSetAndRecordEvent(ctx, newRS, newRSNewReplicas(d, allRSs, newRS), d)).scaled;
}

/**
 * Scales old ReplicaSets down while at least spec.replicas - maxUnavailable pods stay available, counting the new
 * ReplicaSet's not-yet-available pods as unavailable. True if anything was scaled down.
 */
async function reconcileOldReplicaSets(ctx: SyncContext, allRSs: ReplicaSetObject[], oldRSs: ReplicaSetObject[], newRS: ReplicaSetObject, d: MutableDeployment): Promise<boolean> {
  if (replicaCount(oldRSs) === 0) return false;
  const minAvailable = deploymentReplicas(d) - maxUnavailable(d);
  const newRSUnavailable = rsReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
  const maxScaledDown = replicaCount(allRSs) - minAvailable - newRSUnavailable;
  if (maxScaledDown <= 0) return false;
  // Unhealthy old pods first: removing them costs no availability, and left alone they would block the rollout.
  const { rss: cleaned, scaledDown: cleanupCount } = await cleanupUnhealthyReplicas(ctx, oldRSs, d, maxScaledDown);
  const scaledDownCount = await scaleDownOldReplicaSetsForRollingUpdate(ctx, [...cleaned, newRS], cleaned, d);
  return cleanupCount + scaledDownCount > 0;
}

/** Scales old ReplicaSets down by their unavailable replicas, oldest first, at most maxCleanupCount in total. */
async function cleanupUnhealthyReplicas(ctx: SyncContext, oldRSs: ReplicaSetObject[], d: MutableDeployment, maxCleanupCount: number): Promise<{ rss: ReplicaSetObject[]; scaledDown: number }> {
  const rss = [...oldRSs].sort(byCreationTimestamp);
  let total = 0;
  for (let i = 0; i < rss.length; i++) {
    if (total >= maxCleanupCount) break;
    const rs = rss[i]!;
    const replicas = rsReplicas(rs);
    const available = rs.status?.availableReplicas ?? 0;
    if (replicas === 0 || replicas === available) continue;
    const count = Math.min(maxCleanupCount - total, replicas - available);
    const result = await scaleReplicaSetAndRecordEvent(ctx, rs, replicas - count, d);
    total += count;
    rss[i] = result.rs;
  }
  return { rss, scaledDown: total };
}

/** Scales old ReplicaSets down, oldest first, by as many pods as are available beyond spec.replicas - maxUnavailable. */
async function scaleDownOldReplicaSetsForRollingUpdate(ctx: SyncContext, allRSs: ReplicaSetObject[], oldRSs: ReplicaSetObject[], d: MutableDeployment): Promise<number> {
  const minAvailable = deploymentReplicas(d) - maxUnavailable(d);
  const available = availableReplicaCount(allRSs);
  if (available <= minAvailable) return 0;
  const totalToScaleDown = available - minAvailable;
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreationTimestamp)) {
    if (total >= totalToScaleDown) break;
    if (rsReplicas(rs) === 0) continue;
    const count = Math.min(rsReplicas(rs), totalToScaleDown - total);
    await scaleReplicaSetAndRecordEvent(ctx, rs, rsReplicas(rs) - count, d);
    total += count;
  }
  return total;
}
