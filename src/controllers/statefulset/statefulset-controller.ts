/**
 * The StatefulSet controller (pkg/controller/statefulset, stateful_set_control.go): pods with stable names
 * `<set>-<ordinal>`, each with its own PersistentVolumeClaims (created before the pod, never deleted by scaling).
 *
 * OrderedReady (the default) is monotonic: a pod is created only when every lower ordinal is Running and Ready,
 * and scale-down removes the highest ordinal first, one at a time, only while the others are healthy. Parallel
 * creates and deletes all at once. RollingUpdate replaces pods from the highest ordinal down to
 * spec.updateStrategy.rollingUpdate.partition, one at a time, waiting for each to be healthy again; ordinals below
 * the partition stay at the current revision. Revisions are ControllerRevisions, and pods carry the revision's
 * name in `controller-revision-hash`; status.currentRevision becomes updateRevision once all pods are updated.
 */
import type { StatefulSetStatus } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../api/status.js';
import { ControllerRevisions, PersistentVolumeClaims, Pods, StatefulSets } from '../../client/resources.js';
import type { Client, Clock, EventRecorder, Informer, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import {
  createControllerRevision,
  equalRevisionData,
  newControllerRevision,
  nextRevisionNumber,
  ownedRevisions,
  renumberRevision,
  sortRevisions,
  templateOfRevision,
  type RevisionObject,
} from '../util/controller-history.js';
import { controllerRefOf, isControlledBy, resolveControllerRef } from '../util/owner-references.js';
import type { MutablePod } from '../util/pod-control.js';
import { slowStartBatch } from '../util/slow-start.js';
import {
  claimsFor,
  identityMatches,
  inOrdinalRange,
  isFailed,
  isHealthy,
  isMemberOf,
  isPending,
  isRunningAndReady,
  isSucceeded,
  isTerminating,
  newStatefulSetPod,
  ordinalOf,
  podRevision,
  replicasOf,
  runningAndAvailable,
  startOrdinal,
  storageMatches,
  updateIdentity,
  updateStorage,
  type ClaimObject,
  type PodObject,
  type StatefulSetObject,
} from './statefulset-util.js';

type SetState = Mutable<StatefulSetObject> & KubeObject;
type Status = Mutable<StatefulSetStatus>;

/** What processing one pod decided: stop here (monotonic mode waits), or go on. */
type Step = { exit: boolean };

export class StatefulSetController implements Controller {
  readonly name = 'statefulset';
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly queue: WorkQueue;
  private readonly sets: Informer<StatefulSetObject>;
  private readonly pods: Informer<PodObject>;
  private readonly claims: Informer<ClaimObject>;
  private readonly revisions: Informer<RevisionObject>;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.recorder = ctx.recorder('statefulset-controller');
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.sets = ctx.informers.informerFor<StatefulSetObject>(StatefulSets);
    this.pods = ctx.informers.informerFor<PodObject>(Pods);
    this.claims = ctx.informers.informerFor<ClaimObject>(PersistentVolumeClaims);
    this.revisions = ctx.informers.informerFor<RevisionObject>(ControllerRevisions);
  }

  start(): void {
    this.sets.addEventHandler({
      add: (s) => this.queue.add(keyOf(s)),
      update: (_o, s) => this.queue.add(keyOf(s)),
      delete: (s) => this.queue.add(keyOf(s)),
    });
    this.pods.addEventHandler({
      add: (p) => this.enqueueOwner(p),
      update: (old, cur) => {
        if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
        if (controllerRefOf(old)?.uid !== controllerRefOf(cur)?.uid) this.enqueueOwner(old);
        this.enqueueOwner(cur);
      },
      delete: (p) => this.enqueueOwner(p),
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  private enqueueOwner(pod: PodObject): void {
    const set = resolveControllerRef(this.sets.lister, 'StatefulSet', pod.metadata.namespace ?? '', controllerRefOf(pod));
    if (set) this.queue.add(keyOf(set));
  }

  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const cached = this.sets.lister.get(namespace, name);
    if (!cached) return;
    const set = structuredClone(cached) as SetState;
    const pods = this.pods.lister.list(namespace).filter((p) => isControlledBy(p, set) && isMemberOf(set, p));
    const revisions = sortRevisions(ownedRevisions(this.revisions.lister, set));
    const { current, update, collisionCount } = await this.getRevisions(set, revisions);

    const { status, error } = await this.updateStatefulSet(key, set, current, update, collisionCount, pods);
    let statusError: unknown;
    try {
      await this.writeStatus(set, status);
    } catch (err) {
      statusError = err;
    }
    const all = revisions.some((r) => r.metadata.name === update.metadata.name) ? revisions : sortRevisions([...revisions, update]);
    await this.truncateHistory(set, pods, all, current, update);
    const minReady = set.spec?.minReadySeconds ?? 0;
    if (minReady > 0 && (status.availableReplicas ?? 0) !== replicasOf(set)) this.queue.addAfter(key, minReady * 1000);
    if (error) throw error;
    if (statusError) throw statusError;
  }

  /**
   * The current revision (status.currentRevision, or the update revision for a new set) and the update revision:
   * the template now, as an existing equal revision (re-numbered if it is not the latest, i.e. a rollback) or a
   * new one (getStatefulSetRevisions).
   */
  private async getRevisions(set: SetState, revisions: RevisionObject[]): Promise<{ current: RevisionObject; update: RevisionObject; collisionCount: number }> {
    const collision = { count: set.status?.collisionCount ?? 0 };
    const next = nextRevisionNumber(revisions);
    const probe = newControllerRevision(set, 'apps/v1', 'StatefulSet', set.spec?.template, next, collision.count);
    const equal = revisions.filter((r) => equalRevisionData(r, probe));
    let update: RevisionObject;
    const latest = revisions[revisions.length - 1];
    if (latest && equalRevisionData(latest, probe)) update = latest;
    else if (equal.length > 0) update = await renumberRevision(this.client, equal[equal.length - 1]!, next);
    else update = await createControllerRevision(this.client, set, 'apps/v1', 'StatefulSet', set.spec?.template, next, collision);
    const current = revisions.find((r) => r.metadata.name === set.status?.currentRevision) ?? update;
    return { current, update, collisionCount: collision.count };
  }

  /** The core loop (updateStatefulSet); returns the status to write and the first error, if any. */
  private async updateStatefulSet(
    key: string,
    set: SetState,
    currentRevision: RevisionObject,
    updateRevision: RevisionObject,
    collisionCount: number,
    pods: PodObject[],
  ): Promise<{ status: Status; error?: unknown }> {
    const currentSet = withTemplateOf(set, currentRevision);
    const updateSet = withTemplateOf(set, updateRevision);
    const start = startOrdinal(set);
    const replicaCount = replicasOf(set);
    const replicas: (PodObject | undefined)[] = new Array(replicaCount).fill(undefined);
    const condemned: PodObject[] = [];
    for (const pod of pods) {
      if (inOrdinalRange(set, pod)) replicas[ordinalOf(pod) - start] = pod;
      else if (ordinalOf(pod) >= 0) condemned.push(pod);
    }
    condemned.sort((a, b) => ordinalOf(b) - ordinalOf(a));
    const statusOf = () => computeStatus(set, currentRevision, updateRevision, collisionCount, [...replicas, ...condemned], this.clock.now());

    // The first unhealthy pod (a missing one counts) is the one scale-down may remove even though it is unhealthy.
    let firstUnhealthy: PodObject | 'missing' | undefined;
    for (const p of replicas) {
      if (!p || !isHealthy(p)) {
        firstUnhealthy = p ?? 'missing';
        break;
      }
    }
    if (!firstUnhealthy) {
      for (let i = condemned.length - 1; i >= 0; i--) {
        if (!isHealthy(condemned[i]!)) {
          firstUnhealthy = condemned[i];
          break;
        }
      }
    }
    if (set.metadata.deletionTimestamp) return { status: statusOf() };

    const monotonic = set.spec?.podManagementPolicy !== 'Parallel';
    try {
      const processReplica = async (i: number): Promise<Step> => {
        const ordinal = start + i;
        const pod = replicas[i];
        if (pod && (isFailed(pod) || isSucceeded(pod))) {
          // A pod that ended (evicted, node rebooted) is deleted and re-created under the same name.
          if (!pod.metadata.deletionTimestamp) await this.deleteStatefulPod(set, pod);
          return { exit: true };
        }
        if (!pod) {
          await this.createStatefulPod(set, newVersionedPod(currentSet, updateSet, currentRevision, updateRevision, ordinal));
          return { exit: monotonic };
        }
        if (isPending(pod)) await this.createMissingClaims(set, pod);
        if (isTerminating(pod) && monotonic) return { exit: true };
        if (!isRunningAndReady(pod) && monotonic) return { exit: true };
        const { available, waitMs } = runningAndAvailable(pod, set.spec?.minReadySeconds ?? 0, this.clock.now());
        if (!available && monotonic) {
          if (waitMs > 0) this.queue.addAfter(key, waitMs);
          return { exit: true };
        }
        if (!identityMatches(updateSet, pod) || !storageMatches(updateSet, pod)) await this.updateStatefulPod(updateSet, pod);
        return { exit: false };
      };
      if (await runForAll(replicas.length, processReplica, monotonic)) return { status: statusOf() };

      // Scale down: highest ordinal first; in monotonic mode only while every other pod is healthy.
      const processCondemned = async (i: number): Promise<Step> => {
        const pod = condemned[i]!;
        if (isTerminating(pod)) return { exit: monotonic };
        const isFirstUnhealthy = pod === firstUnhealthy;
        if (!isRunningAndReady(pod) && monotonic && !isFirstUnhealthy) return { exit: true };
        const { available, waitMs } = runningAndAvailable(pod, set.spec?.minReadySeconds ?? 0, this.clock.now());
        if (!available && monotonic && !isFirstUnhealthy) {
          if (waitMs > 0) this.queue.addAfter(key, waitMs);
          return { exit: true };
        }
        await this.deleteStatefulPod(set, pod);
        return { exit: true };
      };
      if (await runForAll(condemned.length, processCondemned, monotonic)) return { status: statusOf() };

      const status = statusOf();
      if (set.spec?.updateStrategy?.type === 'OnDelete') return { status };
      // Rolling update: delete the highest-ordinal pod not at the update revision, down to the partition, one at a time.
      const partition = set.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
      for (let target = replicas.length - 1; target >= partition; target--) {
        const pod = replicas[target];
        if (!pod) return { status };
        if (podRevision(pod) !== updateRevision.metadata.name && !isTerminating(pod)) {
          await this.deleteStatefulPod(set, pod);
          status.currentReplicas = Math.max(0, (status.currentReplicas ?? 0) - 1);
          return { status };
        }
        if (!isHealthy(pod)) return { status };
      }
      return { status };
    } catch (error) {
      return { status: statusOf(), error };
    }
  }

  /** Claims first (a pod must never start without its storage), then the pod (CreateStatefulPod). */
  private async createStatefulPod(set: SetState, pod: MutablePod): Promise<void> {
    try {
      await this.createMissingClaims(set, pod);
    } catch (err) {
      this.recordPodEvent('create', set, pod, err);
      throw err;
    }
    try {
      await this.client.create(Pods, set.metadata.namespace ?? '', pod as PodObject);
    } catch (err) {
      // Already there: the cache is behind; the next sync sees it.
      if (!isAlreadyExists(err)) this.recordPodEvent('create', set, pod, err);
      throw err;
    }
    this.recordPodEvent('create', set, pod);
  }

  /** Creates the pod's claims that do not exist yet (createPersistentVolumeClaims). */
  private async createMissingClaims(set: SetState, pod: Pod): Promise<void> {
    const errors: string[] = [];
    for (const claim of claimsFor(set, ordinalOf(pod)).values()) {
      const existing = this.claims.lister.get(claim.metadata.namespace ?? '', claim.metadata.name ?? '');
      if (existing) {
        if (existing.metadata.deletionTimestamp) errors.push(`pvc ${claim.metadata.name} is being deleted`);
        continue;
      }
      try {
        await this.client.create(PersistentVolumeClaims, claim.metadata.namespace ?? '', claim);
        this.recordClaimEvent(set, pod, claim);
      } catch (err) {
        if (isAlreadyExists(err)) continue;
        errors.push(`failed to create PVC ${claim.metadata.name}: ${(err as Error).message}`);
        this.recordClaimEvent(set, pod, claim, err);
      }
    }
    if (errors.length > 0) throw new Error(errors.join('; '));
  }

  /** Restores identity labels and claim volumes of a pod that drifted (UpdateStatefulPod). */
  private async updateStatefulPod(set: SetState, pod: PodObject): Promise<void> {
    const copy = structuredClone(pod) as MutablePod & KubeObject;
    const ordinal = ordinalOf(pod);
    if (!identityMatches(set, copy)) updateIdentity(set, copy, ordinal);
    if (!storageMatches(set, copy)) {
      updateStorage(set, copy, ordinal);
      await this.createMissingClaims(set, copy);
    }
    try {
      await this.client.update(Pods, set.metadata.namespace ?? '', copy);
    } catch (err) {
      this.recordPodEvent('update', set, copy, err);
      throw err;
    }
    this.recordPodEvent('update', set, copy);
  }

  private async deleteStatefulPod(set: SetState, pod: PodObject): Promise<void> {
    try {
      await this.client.delete(Pods, pod.metadata.namespace ?? '', pod.metadata.name ?? '');
    } catch (err) {
      if (isNotFound(err)) return;
      this.recordPodEvent('delete', set, pod, err);
      throw err;
    }
    this.recordPodEvent('delete', set, pod);
  }

  /** Events worded as upstream's recordPodEvent: "create Pod web-0 in StatefulSet web successful". */
  private recordPodEvent(verb: 'create' | 'update' | 'delete', set: SetState, pod: Pod, err?: unknown): void {
    const title = verb[0]!.toUpperCase() + verb.slice(1);
    const name = pod.metadata?.name;
    if (err === undefined) this.recorder.event(set, 'Normal', `Successful${title}`, `${verb} Pod ${name} in StatefulSet ${set.metadata.name} successful`);
    else this.recorder.event(set, 'Warning', `Failed${title}`, `${verb} Pod ${name} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`);
  }

  private recordClaimEvent(set: SetState, pod: Pod, claim: ClaimObject, err?: unknown): void {
    const head = `create Claim ${claim.metadata.name} Pod ${pod.metadata?.name} in StatefulSet ${set.metadata.name}`;
    if (err === undefined) this.recorder.event(set, 'Normal', 'SuccessfulCreate', `${head} success`);
    else this.recorder.event(set, 'Warning', 'FailedCreate', `${head} failed error: ${(err as Error).message}`);
  }

  /** Writes status when it differs from what the set shows (updateStatefulSetStatus), finishing a completed rollout. */
  private async writeStatus(set: SetState, status: Status): Promise<void> {
    // All pods updated and ready: the update revision becomes the current one.
    if (
      (set.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate' &&
      (status.updatedReplicas ?? 0) === status.replicas &&
      (status.readyReplicas ?? 0) === status.replicas
    ) {
      status.currentReplicas = status.updatedReplicas;
      status.currentRevision = status.updateRevision;
    }
    const s = set.status;
    const same =
      s &&
      (status.observedGeneration ?? 0) <= (s.observedGeneration ?? 0) &&
      status.replicas === s.replicas &&
      (status.currentReplicas ?? 0) === (s.currentReplicas ?? 0) &&
      (status.readyReplicas ?? 0) === (s.readyReplicas ?? 0) &&
      (status.updatedReplicas ?? 0) === (s.updatedReplicas ?? 0) &&
      (status.availableReplicas ?? 0) === (s.availableReplicas ?? 0) &&
      status.currentRevision === s.currentRevision &&
      status.updateRevision === s.updateRevision &&
      (status.collisionCount ?? 0) === (s.collisionCount ?? 0);
    if (same) return;
    for (const f of ['readyReplicas', 'currentReplicas', 'updatedReplicas'] as const) if (!status[f]) delete status[f];
    let target = set;
    for (let attempt = 0; ; attempt++) {
      target.status = { ...status, ...(target.status?.conditions ? { conditions: target.status.conditions } : {}) };
      try {
        await this.client.updateStatus(StatefulSets, set.metadata.namespace ?? '', target);
        return;
      } catch (err) {
        // One retry on a fresh copy; after that the key is requeued with backoff.
        if (!isConflict(err) || attempt >= 1) throw err;
        target = await this.client.get<SetState>(StatefulSets, set.metadata.namespace ?? '', set.metadata.name ?? '');
      }
    }
  }

  /** Deletes the oldest revisions beyond revisionHistoryLimit that no pod, nor current/update, uses (truncateHistory). */
  private async truncateHistory(set: SetState, pods: PodObject[], revisions: RevisionObject[], current: RevisionObject, update: RevisionObject): Promise<void> {
    const live = new Set([current.metadata.name, update.metadata.name, ...pods.map(podRevision)]);
    const history = revisions.filter((r) => !live.has(r.metadata.name));
    const excess = history.length - (set.spec?.revisionHistoryLimit ?? 10);
    for (const r of history.slice(0, Math.max(0, excess))) {
      try {
        await this.client.delete(ControllerRevisions, r.metadata.namespace ?? '', r.metadata.name ?? '');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}

/** The set with the template stored in a revision (ApplyRevision). */
function withTemplateOf(set: SetState, rev: RevisionObject): SetState {
  const copy = structuredClone(set) as SetState;
  copy.spec = { ...copy.spec!, template: templateOfRevision(rev) as NonNullable<SetState['spec']>['template'] };
  return copy;
}

/**
 * A missing pod is created at the current revision below the partition and at the update revision from it up
 * (newVersionedStatefulSetPod), so re-creating a deleted pod never moves it across the partition.
 */
function newVersionedPod(currentSet: SetState, updateSet: SetState, current: RevisionObject, update: RevisionObject, ordinal: number): MutablePod {
  const strategy = currentSet.spec?.updateStrategy;
  const start = startOrdinal(currentSet);
  const atCurrent =
    (strategy?.type !== 'OnDelete' && !strategy?.rollingUpdate && ordinal < start + (currentSet.status?.currentReplicas ?? 0)) ||
    (!!strategy?.rollingUpdate && ordinal < start + (strategy.rollingUpdate.partition ?? 0));
  return atCurrent ? newStatefulSetPod(currentSet, ordinal, current.metadata.name ?? '') : newStatefulSetPod(updateSet, ordinal, update.metadata.name ?? '');
}

/**
 * Runs fn over 0..n-1: in order, stopping at the first `exit`, when monotonic; otherwise all of them in slow-start
 * batches. Returns whether processing stopped early. Errors propagate.
 */
async function runForAll(n: number, fn: (i: number) => Promise<Step>, monotonic: boolean): Promise<boolean> {
  if (monotonic) {
    for (let i = 0; i < n; i++) if ((await fn(i)).exit) return true;
    return false;
  }
  const r = await slowStartBatch(n, 1, async (i) => {
    await fn(i);
  });
  if (r.error) throw r.error;
  return false;
}

/** Counts from the pods that exist (computeReplicaStatus over replicas and condemned). */
function computeStatus(
  set: SetState,
  current: RevisionObject,
  update: RevisionObject,
  collisionCount: number,
  pods: (PodObject | undefined)[],
  now: Date,
): Status {
  const status: Status = {
    observedGeneration: set.metadata.generation,
    replicas: 0,
    readyReplicas: 0,
    currentReplicas: 0,
    updatedReplicas: 0,
    availableReplicas: 0,
    currentRevision: current.metadata.name,
    updateRevision: update.metadata.name,
    collisionCount,
  };
  const minReady = set.spec?.minReadySeconds ?? 0;
  for (const pod of pods) {
    if (!pod) continue;
    status.replicas++;
    if (isRunningAndReady(pod)) {
      status.readyReplicas!++;
      if (runningAndAvailable(pod, minReady, now).available) status.availableReplicas!++;
    }
    if (!isTerminating(pod)) {
      if (podRevision(pod) === current.metadata.name) status.currentReplicas!++;
      if (podRevision(pod) === update.metadata.name) status.updatedReplicas!++;
    }
  }
  return status;
}
