/**
 * The parts of a Deployment sync shared by every path (upstream sync.go): finding or creating the new ReplicaSet and
 * keeping revisions, scaling (including proportional scaling during a rollout), cleaning up old ReplicaSets, and
 * writing status.
 *
 * `d` is the sync's own copy of the Deployment: functions update its status, annotations and resourceVersion in place
 * as they write, so later writes in the same sync do not conflict with earlier ones. `rsList` is the sync's own array
 * of the Deployment's ReplicaSets; a ReplicaSet written here is replaced in it by what the server returned.
 */
import type { ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { Mutable } from '../../api/object.js';
import { isAlreadyExists, isNotFound } from '../../api/status.js';
import { Deployments, ReplicaSets } from '../../client/resources.js';
import { errorMessage } from '../util/error-message.js';
import { hasStatusCause } from '../util/has-status-cause.js';
import { controllerRefOf, newControllerRef } from '../util/owner-references.js';
import {
  activeReplicaSets,
  byRevision,
  bySizeNewer,
  bySizeOlder,
  computeDeploymentStatus,
  deploymentReplicas,
  deploymentStatusEqual,
  desiredReplicasAnnotation,
  equalIgnoreHash,
  findActiveOrLatest,
  findNewReplicaSet,
  findOldReplicaSets,
  getCondition,
  hasProgressDeadline,
  hasRevisionHistoryLimit,
  isRollingUpdate,
  isSaturated,
  maxRevision,
  maxSurge,
  newCondition,
  newRSNewReplicas,
  POD_TEMPLATE_HASH_LABEL,
  proportion,
  Reasons,
  replicaCount,
  replicasAnnotationsNeedUpdate,
  REVISION_ANNOTATION,
  rsReplicas,
  setCondition,
  setDeploymentRevision,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  type MutableDeployment,
  type MutableReplicaSet,
  type ReplicaSetObject,
} from './deployment-util.js';
import { computePodTemplateHash } from './pod-template-hash.js';
import type { SyncContext } from './sync-context.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('deployment-controller');

/** Writes d.status through /status and adopts the new resourceVersion. */
export async function writeDeploymentStatus(ctx: SyncContext, d: MutableDeployment): Promise<void> {
  const stored = await ctx.client.updateStatus(Deployments, d.metadata.namespace ?? '', d);
  d.metadata.resourceVersion = stored.metadata.resourceVersion;
}

/**
 * Sets the Deployment's revision annotation (what `kubectl describe` and `rollout status --revision` read) if it
 * differs. Upstream (sync.go getNewReplicaSet) puts it on its copy of the Deployment and sends it in the UpdateStatus
 * that also carries the Progressing condition; kube-apiserver keeps it because the Deployment status strategy resets
 * only spec and metadata.labels. skiff's /status keeps all stored metadata, so the annotation goes in a merge patch of
 * the main resource instead (metadata only, so generation does not move), which both servers apply. Returns true if
 * it wrote.
 */
export async function syncDeploymentRevision(ctx: SyncContext, d: MutableDeployment, revision: string): Promise<boolean> {
  if (!setDeploymentRevision(d, revision)) return false;
  const patch = { metadata: { annotations: { [REVISION_ANNOTATION]: revision } } };
  const stored = await ctx.client.patch(Deployments, d.metadata.namespace ?? '', d.metadata.name ?? '', 'merge', patch);
  d.metadata.resourceVersion = stored.metadata.resourceVersion;
  return true;
}

/**
 * The new ReplicaSet (created if `create` and missing) and all old ones (getAllReplicaSetsAndSyncRevision). Also
 * brings the new ReplicaSet's annotations and the Deployment's revision up to date.
 */
export async function getAllReplicaSetsAndSyncRevision(
  ctx: SyncContext,
  d: MutableDeployment,
  rsList: ReplicaSetObject[],
  create: boolean,
): Promise<{ newRS: ReplicaSetObject | undefined; oldRSs: ReplicaSetObject[] }> {
  const oldRSs = findOldReplicaSets(d, rsList);
  const newRS = await getNewReplicaSet(ctx, d, rsList, oldRSs, create);
  return { newRS, oldRSs };
}

async function getNewReplicaSet(
  ctx: SyncContext,
  d: MutableDeployment,
  rsList: ReplicaSetObject[],
  oldRSs: ReplicaSetObject[],
  create: boolean,
): Promise<ReplicaSetObject | undefined> {
  const existing = findNewReplicaSet(d, rsList);
  // The new ReplicaSet's revision is one past every old one: a template that comes back (rollback) gets a new number.
  const newRevision = maxRevision(oldRSs) + 1;
  const namespace = d.metadata.namespace ?? '';

  if (existing) {
    const copy = structuredClone(existing) as MutableReplicaSet;
    const annotationsUpdated = setNewReplicaSetAnnotations(d, copy, newRevision, true);
    const minReadySecondsChanged = (copy.spec?.minReadySeconds ?? 0) !== (d.spec?.minReadySeconds ?? 0);
    if (annotationsUpdated || minReadySecondsChanged) {
      copy.spec = { ...copy.spec!, minReadySeconds: d.spec?.minReadySeconds ?? 0 };
      const updated = await ctx.client.update<ReplicaSetObject>(ReplicaSets, namespace, copy);
      replaceIn(rsList, updated);
      return updated;
    }
    // The ReplicaSet's revision is the reliable one (the Deployment's write may have failed earlier).
    await syncDeploymentRevision(ctx, d, copy.metadata.annotations?.[REVISION_ANNOTATION] ?? '');
    // A Deployment that never had a Progressing condition (a deadline was added later): start the clock now.
    if (hasProgressDeadline(d) && !getCondition(d.status, 'Progressing')) {
      d.status ??= {};
      setCondition(d.status, newCondition('Progressing', 'True', Reasons.FoundNewReplicaSet, `Found new replica set "${copy.metadata.name}"`, ctx.clock.now()));
      await writeDeploymentStatus(ctx, d);
    }
    return existing;
  }
  if (!create) return undefined;

  const collisionCount = d.status?.collisionCount;
  const hash = computePodTemplateHash(d.spec?.template, collisionCount);
  const template = structuredClone(d.spec!.template) as Mutable<PodTemplateSpec>;
  template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash } };
  const selector = structuredClone(d.spec!.selector) as Mutable<NonNullable<ReplicaSet['spec']>>['selector'];
  selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
  const newRS: MutableReplicaSet = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      // Deterministic, so a retry after a lost response finds the ReplicaSet instead of creating a second one.
      name: `${d.metadata.name}-${hash}`,
      namespace,
      ownerReferences: [newControllerRef(d, 'apps/v1', 'Deployment')],
      labels: { ...template.metadata.labels },
    },
    spec: { replicas: 0, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector, template },
  };
  const replicas = newRSNewReplicas(d, [...oldRSs, newRS], newRS);
  newRS.spec!.replicas = replicas;
  setNewReplicaSetAnnotations(d, newRS, newRevision, false);

  let created: ReplicaSetObject;
  let alreadyExisted = false;
  try {
    created = await ctx.client.create<ReplicaSetObject>(ReplicaSets, namespace, newRS);
  } catch (err) {
    if (isAlreadyExists(err)) {
      // Usually our own ReplicaSet, created by a sync whose result the cache has not shown yet.
      const found = ctx.replicaSets.get(namespace, newRS.metadata.name ?? '');
      if (!found) throw err;
      if (controllerRefOf(found)?.uid === d.metadata.uid && equalIgnoreHash(d.spec?.template, found.spec?.template)) {
        created = found;
        alreadyExisted = true;
      } else {
        // A different template hashed to the same name: bump collisionCount so the next sync computes another name.
        d.status ??= {};
        d.status.collisionCount = (d.status.collisionCount ?? 0) + 1;
        await writeDeploymentStatus(ctx, d);
        throw err;
      }
    } else if (hasStatusCause(err, 'NamespaceTerminating')) {
      throw err;
    } else {
      const msg = `Failed to create new replica set "${newRS.metadata.name}": ${errorMessage(err)}`;
      if (hasProgressDeadline(d)) {
        d.status ??= {};
        setCondition(d.status, newCondition('Progressing', 'False', Reasons.FailedRSCreate, msg, ctx.clock.now()));
        // The create failure is the error to report; a failed status write on top of it adds nothing.
        await writeDeploymentStatus(ctx, d).catch((e: unknown) => log.error('status update after a failed create failed', { key: `${namespace}/${d.metadata.name}`, err: e }));
      }
      ctx.recorder.event(d, 'Warning', Reasons.FailedRSCreate, msg);
      throw err;
    }
  }
  if (!alreadyExisted) {
    rsList.push(created);
    if (replicas > 0) ctx.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} from 0 to ${replicas}`);
  }
  await syncDeploymentRevision(ctx, d, String(newRevision));
  if (!alreadyExisted && hasProgressDeadline(d)) {
    d.status ??= {};
    setCondition(d.status, newCondition('Progressing', 'True', Reasons.NewReplicaSetCreated, `Created new replica set "${created.metadata.name}"`, ctx.clock.now()));
    await writeDeploymentStatus(ctx, d);
  }
  return created;
}

function replaceIn(rsList: ReplicaSetObject[], rs: ReplicaSetObject): void {
  const i = rsList.findIndex((r) => r.metadata.uid === rs.metadata.uid);
  if (i >= 0) rsList[i] = rs;
}

/** Scales one ReplicaSet, with a ScalingReplicaSet event when its size changed; returns whether it did and the result. */
export async function scaleReplicaSetAndRecordEvent(
  ctx: SyncContext,
  rs: ReplicaSetObject,
  newScale: number,
  d: MutableDeployment,
): Promise<{ scaled: boolean; rs: ReplicaSetObject }> {
  if (rsReplicas(rs) === newScale) return { scaled: false, rs };
  return scaleReplicaSet(ctx, rs, newScale, d, rsReplicas(rs) < newScale ? 'up' : 'down');
}

/** Sets spec.replicas and the desired/max-replicas annotations (the latter drive proportional scaling later). */
export async function scaleReplicaSet(
  ctx: SyncContext,
  rs: ReplicaSetObject,
  newScale: number,
  d: MutableDeployment,
  operation: string,
): Promise<{ scaled: boolean; rs: ReplicaSetObject }> {
  const sizeChanged = rsReplicas(rs) !== newScale;
  const desired = deploymentReplicas(d);
  const max = desired + maxSurge(d);
  if (!sizeChanged && !replicasAnnotationsNeedUpdate(rs, desired, max)) return { scaled: false, rs };
  const oldScale = rsReplicas(rs);
  const copy = structuredClone(rs) as MutableReplicaSet;
  copy.spec = { ...copy.spec!, replicas: newScale };
  setReplicasAnnotations(copy, desired, max);
  const updated = await ctx.client.update<ReplicaSetObject>(ReplicaSets, rs.metadata.namespace ?? '', copy);
  if (sizeChanged) {
    ctx.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${operation} replica set ${updated.metadata.name} from ${oldScale} to ${newScale}`);
  }
  return { scaled: sizeChanged, rs: updated };
}

/**
 * Brings the total to spec.replicas when the Deployment was scaled (upstream scale): with one active ReplicaSet,
 * that one; with a saturated new one, old ones go to 0; during a rolling update, every active ReplicaSet takes its
 * proportional share of the change, leftovers to the largest.
 */
export async function scale(ctx: SyncContext, d: MutableDeployment, newRS: ReplicaSetObject | undefined, oldRSs: ReplicaSetObject[]): Promise<void> {
  const replicas = deploymentReplicas(d);
  const target = findActiveOrLatest(newRS, oldRSs);
  if (target) {
    if (rsReplicas(target) === replicas) return;
    await scaleReplicaSetAndRecordEvent(ctx, target, replicas, d);
    return;
  }
  if (isSaturated(d, newRS)) {
    for (const old of activeReplicaSets(oldRSs)) await scaleReplicaSetAndRecordEvent(ctx, old, 0, d);
    return;
  }
  if (!isRollingUpdate(d)) return;
  const all = activeReplicaSets([...oldRSs, newRS]);
  const allowed = replicas > 0 ? replicas + maxSurge(d) : 0;
  // Replicas to add (or, negative, to remove) across the active ReplicaSets.
  const toAdd = allowed - replicaCount(all);
  let operation = '';
  if (toAdd > 0) {
    all.sort(bySizeNewer);
    operation = 'up';
  } else if (toAdd < 0) {
    all.sort(bySizeOlder);
    operation = 'down';
  }
  let added = 0;
  const sizes = new Map<string, number>();
  for (const rs of all) {
    const name = rs.metadata.name ?? '';
    if (toAdd !== 0) {
      const p = proportion(rs, d, toAdd, added);
      sizes.set(name, rsReplicas(rs) + p);
      added += p;
    } else {
      sizes.set(name, rsReplicas(rs));
    }
  }
  for (let i = 0; i < all.length; i++) {
    const rs = all[i]!;
    const name = rs.metadata.name ?? '';
    // Rounding leaves a remainder: it goes to the largest ReplicaSet (first after sorting).
    if (i === 0 && toAdd !== 0) sizes.set(name, Math.max(0, sizes.get(name)! + toAdd - added));
    await scaleReplicaSet(ctx, rs, sizes.get(name)!, d, operation);
  }
}

/**
 * Deletes the oldest old ReplicaSets beyond revisionHistoryLimit (cleanupDeployment); only fully scaled-down ones
 * whose status caught up, never one being deleted.
 */
export async function cleanupDeployment(ctx: SyncContext, oldRSs: readonly ReplicaSetObject[], d: MutableDeployment): Promise<void> {
  if (!hasRevisionHistoryLimit(d)) return;
  const cleanable = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
  const diff = cleanable.length - (d.spec?.revisionHistoryLimit ?? 0);
  if (diff <= 0) return;
  cleanable.sort(byRevision);
  for (const rs of cleanable.slice(0, diff)) {
    if ((rs.status?.replicas ?? 0) !== 0 || rsReplicas(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
    try {
      await ctx.client.delete(ReplicaSets, rs.metadata.namespace ?? '', rs.metadata.name ?? '');
    } catch (err) {
      // Stop at the first real failure rather than pressing an apiserver that may be overloaded.
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Writes the computed status when it differs from the stored one (syncDeploymentStatus). */
export async function syncDeploymentStatus(ctx: SyncContext, allRSs: readonly (ReplicaSetObject | undefined)[], newRS: ReplicaSetObject | undefined, d: MutableDeployment): Promise<void> {
  const status = computeDeploymentStatus(allRSs, newRS, d, ctx.clock.now());
  if (deploymentStatusEqual(d.status, status)) return;
  d.status = status;
  await writeDeploymentStatus(ctx, d);
}

/** For a Deployment being deleted: status only, no new ReplicaSet and no scaling. */
export async function syncStatusOnly(ctx: SyncContext, d: MutableDeployment, rsList: ReplicaSetObject[]): Promise<void> {
  const { newRS, oldRSs } = await getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false);
  await syncDeploymentStatus(ctx, [...oldRSs, newRS], newRS, d);
}

/**
 * For a paused Deployment or a scaling event (upstream sync): scale, and for a paused one clean up old
 * ReplicaSets, but make no rollout progress.
 */
export async function syncScaleOrPause(ctx: SyncContext, d: MutableDeployment, rsList: ReplicaSetObject[]): Promise<void> {
  const { newRS, oldRSs } = await getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false);
  await scale(ctx, d, newRS, oldRSs);
  if (d.spec?.paused) await cleanupDeployment(ctx, oldRSs, d);
  await syncDeploymentStatus(ctx, [...oldRSs, newRS], newRS, d);
}

/** spec.replicas differs from what an active ReplicaSet was last scaled for (isScalingEvent). */
export async function isScalingEvent(ctx: SyncContext, d: MutableDeployment, rsList: ReplicaSetObject[]): Promise<boolean> {
  const { newRS, oldRSs } = await getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false);
  for (const rs of activeReplicaSets([...oldRSs, newRS])) {
    const desired = desiredReplicasAnnotation(rs);
    if (desired !== undefined && desired !== deploymentReplicas(d)) return true;
  }
  return false;
}

/**
 * Pausing and resuming show in the Progressing condition (Unknown, DeploymentPaused / DeploymentResumed), which also
 * restarts the progress deadline on resume. A reported ProgressDeadlineExceeded is not overwritten.
 */
export async function checkPausedConditions(ctx: SyncContext, d: MutableDeployment): Promise<void> {
  if (!hasProgressDeadline(d)) return;
  const cond = getCondition(d.status, 'Progressing');
  if (cond?.reason === Reasons.ProgressDeadlineExceeded) return;
  const pausedCondExists = cond?.reason === Reasons.DeploymentPaused;
  d.status ??= {};
  if (d.spec?.paused && !pausedCondExists) {
    setCondition(d.status, newCondition('Progressing', 'Unknown', Reasons.DeploymentPaused, 'Deployment is paused', ctx.clock.now()));
  } else if (!d.spec?.paused && pausedCondExists) {
    setCondition(d.status, newCondition('Progressing', 'Unknown', Reasons.DeploymentResumed, 'Deployment is resumed', ctx.clock.now()));
  } else {
    return;
  }
  await writeDeploymentStatus(ctx, d);
}
