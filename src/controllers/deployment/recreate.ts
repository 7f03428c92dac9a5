/**
 * Recreate (upstream recreate.go): scale every old ReplicaSet to 0, wait until none of their pods is left running,
 * only then create (or scale up) the new ReplicaSet. Old and new pods never run together.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import { isPodTerminal } from '../../api/pod.js';
import { actualReplicaCount, activeReplicaSets, deploymentComplete, deploymentReplicas, type MutableDeployment, type ReplicaSetObject } from './deployment-util.js';
import { syncRolloutStatus } from './progress.js';
import { cleanupDeployment, getAllReplicaSetsAndSyncRevision, scaleReplicaSetAndRecordEvent } from './sync.js';
import type { SyncContext } from './sync-context.js';

/** Pods of the Deployment by the uid of the ReplicaSet that controls them. */
export type PodMap = Map<string, readonly Pod[]>;

export async function rolloutRecreate(ctx: SyncContext, d: MutableDeployment, rsList: ReplicaSetObject[], podMap: PodMap): Promise<void> {
  // No new ReplicaSet yet: creating it now would scale up before the old pods are gone.
  let { newRS, oldRSs } = await getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false);
  let allRSs = [...oldRSs, newRS];
  let scaledDown = false;
  for (const rs of activeReplicaSets(oldRSs)) {
    if ((await scaleReplicaSetAndRecordEvent(ctx, rs, 0, d)).scaled) scaledDown = true;
  }
  if (scaledDown || oldPodsRunning(newRS, oldRSs, podMap)) {
    await syncRolloutStatus(ctx, allRSs, newRS, d);
    return;
  }
  if (!newRS) {
    ({ newRS, oldRSs } = await getAllReplicaSetsAndSyncRevision(ctx, d, rsList, true));
    allRSs = [...oldRSs, newRS];
  }
  await scaleReplicaSetAndRecordEvent(ctx, newRS!, deploymentReplicas(d), d);
  if (deploymentComplete(d, d.status ?? {})) await cleanupDeployment(ctx, oldRSs, d);
  await syncRolloutStatus(ctx, allRSs, newRS, d);
}

/**
 * Whether old pods may still run: an old ReplicaSet reports pods, or the cache holds a pod of an old ReplicaSet that
 * has not finished (Unknown counts as running: its node may just be unreachable).
 */
export function oldPodsRunning(newRS: ReplicaSetObject | undefined, oldRSs: readonly ReplicaSetObject[], podMap: PodMap): boolean {
  if (actualReplicaCount(oldRSs) > 0) return true;
  for (const [rsUid, pods] of podMap) {
    if (newRS && newRS.metadata.uid === rsUid) continue;
    for (const pod of pods) {
      if (isPodTerminal(pod)) continue;
      return true;
    }
  }
  return false;
}
