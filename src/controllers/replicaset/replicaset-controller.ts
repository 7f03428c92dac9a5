/**
 * The ReplicaSet controller (upstream pkg/controller/replicaset): keeps `spec.replicas` pods running that match the
 * selector and are controlled by the ReplicaSet.
 *
 * Flow: informer events on ReplicaSets and Pods enqueue the ReplicaSet's key; a worker runs reconcile(key), which
 *   1. reads the ReplicaSet from the cache (gone: forget its expectations, done);
 *   2. claims pods: keeps those it controls, adopts matching orphans, releases controlled pods that stopped matching;
 *   3. if its expectations are satisfied (the cache has caught up with its last creates and deletes), creates the
 *      missing pods in slow-start batches or deletes the surplus, cheapest pods first;
 *   4. recomputes status from the claimed pods and writes it through /status when it changed.
 * Reads come only from listers; cached objects are never mutated (copies are written).
 */
import type { ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { LabelSelector as LabelSelectorObject } from 'kubernetes-types/meta/v1.js';
import { labelSelectorFromObject, type LabelSelector } from '../../api/labels.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { selects } from '../../api/selects.js';
import { Pods, ReplicaSets } from '../../client/resources.js';
import type { Client, Clock, EventRecorder, Informer, ResourceType, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { ControllerRefManager, recheckOwner } from '../util/controller-ref-manager.js';
import { UIDTrackingControllerExpectations } from '../util/expectations.js';
import { hasStatusCause } from '../util/has-status-cause.js';
import { controllerRefOf, newControllerRef, resolveControllerRef } from '../util/owner-references.js';
import { createPodFor, deletePodFor, podFromTemplate } from '../util/pod-control.js';
import { isPodActive, isPodReady } from '../../api/pod.js';
import { slowStartBatch, SLOW_START_INITIAL_BATCH_SIZE } from '../util/slow-start.js';
import { podsToDelete } from './pod-deletion-ranking.js';
import { computeReplicaSetStatus, replicaSetStatusEqual, type MutableReplicaSetStatus } from './replicaset-status.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('replicaset-controller');

export type ReplicaSetObject = ReplicaSet & KubeObject;
export type PodObject = Pod & KubeObject;

/** At most this many creates or deletes per sync (kube-controller-manager's BurstReplicas). */
export const BURST_REPLICAS = 500;

/** Component name on the Events this controller records. */
export const REPLICASET_CONTROLLER_COMPONENT = 'replicaset-controller';

/**
 * Pods by controller: the controller's uid for controlled pods, `orphan:<namespace>` for pods without one. A sync
 * then looks at its own pods and the orphans of its namespace instead of every pod of the namespace; these are
 * exactly the pods upstream's claim can keep, adopt or release.
 */
export const PODS_BY_CONTROLLER_INDEX = 'replicaset-controller:pods-by-controller';

export function podsByControllerIndex(pod: KubeObject): string[] {
  const ref = controllerRefOf(pod);
  return [ref ? ref.uid : `orphan:${pod.metadata.namespace ?? ''}`];
}

/**
 * The kind a controller of this shape manages: ReplicaSets, or ReplicationControllers (upstream runs the same
 * controller for both, NewBaseController with the kind's GroupVersionKind; ../replicationcontroller/).
 */
export interface ReplicatedKind {
  /** Controller name (`--disable`, logs). */
  name: string;
  resource: ResourceType;
  apiVersion: string;
  /** The kind's pod selector as a LabelSelector (an RC's map becomes matchLabels). */
  selectorOf(obj: KubeObject): LabelSelectorObject | undefined;
  /** Component name on Events. */
  component: string;
}

const replicaSetKind: ReplicatedKind = {
  name: 'replicaset',
  resource: ReplicaSets,
  apiVersion: 'apps/v1',
  selectorOf: (obj) => (obj as ReplicaSetObject).spec?.selector,
  component: REPLICASET_CONTROLLER_COMPONENT,
};

export interface ReplicaSetControllerOptions {
  /** The queue to use (default: a rate-limited queue on the context's clock). */
  queue?: WorkQueue;
  burstReplicas?: number;
  /** The kind managed (default ReplicaSets). */
  kind?: ReplicatedKind;
}

export class ReplicaSetController implements Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly expectations: UIDTrackingControllerExpectations;
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly rsInformer: Informer<ReplicaSetObject>;
  private readonly podInformer: Informer<PodObject>;
  private readonly burstReplicas: number;
  private readonly kind: ReplicatedKind;

  constructor(ctx: ControllerContext, opts: ReplicaSetControllerOptions = {}) {
    this.kind = opts.kind ?? replicaSetKind;
    this.name = this.kind.name;
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.recorder = ctx.recorder(this.kind.component);
    this.rsInformer = ctx.informers.informerFor<ReplicaSetObject>(this.kind.resource);
    this.podInformer = ctx.informers.informerFor<PodObject>(Pods);
    this.queue = opts.queue ?? createWorkQueue({ clock: ctx.clock });
    this.expectations = new UIDTrackingControllerExpectations(ctx.clock);
    this.burstReplicas = opts.burstReplicas ?? BURST_REPLICAS;
  }

  start(): void {
    this.podInformer.addIndexer(PODS_BY_CONTROLLER_INDEX, podsByControllerIndex);
    this.rsInformer.addEventHandler({
      add: (rs) => this.queue.add(keyOf(rs)),
      update: (old, cur) => {
        // A delete and re-create under the same name can reach us as one update; the old object's expectations
        // must not be inherited by the new one.
        if (old.metadata.uid !== cur.metadata.uid) this.expectations.delete(keyOf(old));
        // Enqueue on every update, not only spec changes: a periodic resync is what recovers from a missed pod event.
        this.queue.add(keyOf(cur));
      },
      delete: (rs) => {
        const key = keyOf(rs);
        this.expectations.delete(key);
        this.queue.add(key);
      },
    });
    this.podInformer.addEventHandler({
      add: (pod) => this.onPodAdded(pod),
      update: (old, cur) => this.onPodUpdated(old, cur),
      delete: (pod) => this.onPodDeleted(pod),
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  private onPodAdded(pod: PodObject): void {
    // A pod that is already being deleted when we first see it (e.g. after a controller restart) must not count as
    // an observed creation.
    if (pod.metadata.deletionTimestamp) {
      this.onPodDeleted(pod);
      return;
    }
    const ref = controllerRefOf(pod);
    if (ref) {
      const rs = resolveControllerRef(this.rsInformer.lister, this.kind.resource.kind, pod.metadata.namespace ?? '', ref);
      if (!rs) return;
      const key = keyOf(rs);
      this.expectations.creationObserved(key);
      this.queue.add(key);
      return;
    }
    // An orphan: wake every ReplicaSet that selects it, one of them may adopt it. No creation is observed, no
    // controller waits for an orphan.
    for (const rs of this.replicaSetsSelecting(pod)) this.queue.add(keyOf(rs));
  }

  private onPodUpdated(old: PodObject, cur: PodObject): void {
    // Periodic resyncs deliver updates of unchanged objects; the ReplicaSets get their own resync.
    if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
    const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
    if (cur.metadata.deletionTimestamp) {
      // Graceful deletion sets deletionTimestamp long before the pod is gone: count it as deleted now so the
      // ReplicaSet creates a replacement without waiting out the grace period. If the labels changed too, the
      // ReplicaSet that selected the old labels must hear about it as well.
      this.onPodDeleted(cur);
      if (labelsChanged) this.onPodDeleted(old);
      return;
    }
    const curRef = controllerRefOf(cur);
    const oldRef = controllerRefOf(old);
    const refChanged = JSON.stringify(curRef ?? null) !== JSON.stringify(oldRef ?? null);
    if (refChanged && oldRef) {
      const rs = resolveControllerRef(this.rsInformer.lister, this.kind.resource.kind, old.metadata.namespace ?? '', oldRef);
      if (rs) this.queue.add(keyOf(rs));
    }
    if (curRef) {
      const rs = resolveControllerRef(this.rsInformer.lister, this.kind.resource.kind, cur.metadata.namespace ?? '', curRef);
      if (!rs) return;
      this.queue.add(keyOf(rs));
      // A pod that just became ready turns available minReadySeconds later, with no event to tell us: look again then.
      const minReady = rs.spec?.minReadySeconds ?? 0;
      if (!isPodReady(old) && isPodReady(cur) && minReady > 0) this.queue.addAfter(keyOf(rs), minReady * 1000);
      return;
    }
    if (labelsChanged || refChanged) {
      for (const rs of this.replicaSetsSelecting(cur)) this.queue.add(keyOf(rs));
    }
  }

  private onPodDeleted(pod: PodObject): void {
    const ref = controllerRefOf(pod);
    if (!ref) return;
    const rs = resolveControllerRef(this.rsInformer.lister, this.kind.resource.kind, pod.metadata.namespace ?? '', ref);
    if (!rs) return;
    const key = keyOf(rs);
    this.expectations.deletionObserved(key, keyOf(pod));
    this.queue.add(key);
  }

  /** ReplicaSets whose selector matches the pod; an empty selector matches nothing here, as upstream. */
  private replicaSetsSelecting(pod: PodObject): ReplicaSetObject[] {
    if (Object.keys(pod.metadata.labels ?? {}).length === 0) return [];
    const out: ReplicaSetObject[] = [];
    for (const rs of this.rsInformer.lister.list(pod.metadata.namespace ?? '')) {
      const selector = this.kind.selectorOf(rs);
      if (selector && selects(selector, pod.metadata.labels)) out.push(rs);
    }
    return out;
  }

  /** Level-based sync of one ReplicaSet; throws to have the key retried with backoff. */
  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const rs = this.rsInformer.lister.get(namespace, name);
    if (!rs) {
      this.expectations.delete(key);
      return;
    }
    // Read the expectations before listing pods: if they are satisfied now, the pods they waited for are already in
    // the cache we are about to read.
    const needsSync = this.expectations.satisfied(key);
    let selector: LabelSelector;
    try {
      selector = labelSelectorFromObject(this.kind.selectorOf(rs));
    } catch (err) {
      // Validation refuses such selectors, so only legacy data gets here; retrying cannot help (upstream logs too).
      log.error('error converting pod selector to selector', { key, err });
      return;
    }
    const uid = rs.metadata.uid ?? '';
    const candidates = [
      ...this.podInformer.lister.byIndex(PODS_BY_CONTROLLER_INDEX, uid),
      ...this.podInformer.lister.byIndex(PODS_BY_CONTROLLER_INDEX, `orphan:${namespace}`),
    ].filter(isPodActive);
    const manager = new ControllerRefManager<PodObject>({
      client: this.client,
      owned: Pods,
      owner: rs,
      ownerApiVersion: this.kind.apiVersion,
      ownerKind: this.kind.resource.kind,
      selector,
      canAdopt: () => recheckOwner(this.client, this.kind.resource, rs),
    });
    const pods = await manager.claim(candidates);

    let manageError: unknown;
    if (needsSync && !rs.metadata.deletionTimestamp) {
      try {
        await this.manageReplicas(key, rs, pods);
      } catch (err) {
        manageError = err;
      }
    }
    const status = computeReplicaSetStatus(rs, pods, manageError, this.clock.now());
    const updated = await this.writeStatus(rs, status);
    const replicas = rs.spec?.replicas ?? 1;
    const minReady = updated.spec?.minReadySeconds ?? 0;
    // All ready but not all available yet: nothing else will wake us when minReadySeconds have passed.
    if (manageError === undefined && minReady > 0 && (updated.status?.readyReplicas ?? 0) === replicas && (updated.status?.availableReplicas ?? 0) !== replicas) {
      this.queue.addAfter(key, minReady * 1000);
    }
    if (manageError !== undefined) throw manageError;
  }

  /** Creates or deletes pods so that `pods.length` moves toward spec.replicas, at most burstReplicas at a time. */
  private async manageReplicas(key: string, rs: ReplicaSetObject, pods: PodObject[]): Promise<void> {
    const diff = pods.length - (rs.spec?.replicas ?? 1);
    if (diff < 0) {
      const want = Math.min(-diff, this.burstReplicas);
      // Recorded before the first request: the informer may deliver a created pod before create() returns.
      this.expectations.expectCreations(key, want);
      const ref = newControllerRef(rs, this.kind.apiVersion, this.kind.resource.kind);
      const { successes, error } = await slowStartBatch(want, SLOW_START_INITIAL_BATCH_SIZE, () => this.createPod(rs, ref, key));
      // Pods that were never created will never be observed; stop waiting for them so the next sync retries at once.
      for (let i = successes; i < want; i++) this.expectations.creationObserved(key);
      if (error !== undefined) throw error;
    } else if (diff > 0) {
      const count = Math.min(diff, this.burstReplicas);
      const victims = podsToDelete(pods, this.relatedPods(rs), count, this.clock.now());
      this.expectations.expectDeletions(key, victims.map((p) => keyOf(p)));
      const results = await Promise.allSettled(victims.map((pod) => this.deletePod(rs, pod, key)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  private async createPod(rs: ReplicaSetObject, ref: OwnerReference, key: string): Promise<void> {
    const pod = podFromTemplate(rs.spec?.template, rs.metadata.namespace ?? '', `${rs.metadata.name}-`, ref);
    try {
      await createPodFor(this.client, this.recorder, rs, pod);
    } catch (err) {
      // Every create in a terminating namespace fails; that is not this ReplicaSet's failure (upstream ignores it).
      if (hasStatusCause(err, 'NamespaceTerminating')) {
        this.expectations.creationObserved(key);
        return;
      }
      throw err;
    }
  }

  private async deletePod(rs: ReplicaSetObject, pod: PodObject, key: string): Promise<void> {
    let deleted: boolean;
    try {
      deleted = await deletePodFor(this.client, this.recorder, rs, pod);
    } catch (err) {
      // The informer will not report a deletion that did not happen.
      this.expectations.deletionObserved(key, keyOf(pod));
      throw err;
    }
    // Already gone: its deletion may have been observed before we asked, or never will be.
    if (!deleted) this.expectations.deletionObserved(key, keyOf(pod));
  }

  /**
   * Pods of the ReplicaSets that share this one's controller (the other ReplicaSets of its Deployment), including
   * its own: scale-down prefers pods on nodes crowded with them.
   */
  private relatedPods(rs: ReplicaSetObject): PodObject[] {
    const owner = controllerRefOf(rs);
    if (!owner) return [];
    const out: PodObject[] = [];
    for (const sibling of this.rsInformer.lister.list(rs.metadata.namespace ?? '')) {
      if (controllerRefOf(sibling)?.uid !== owner.uid) continue;
      out.push(...this.podInformer.lister.byIndex(PODS_BY_CONTROLLER_INDEX, sibling.metadata.uid ?? ''));
    }
    return out;
  }

  /**
   * Writes status when it differs from what is stored (or observedGeneration lags), retrying once after a fresh
   * read, as upstream does. Returns the stored ReplicaSet.
   */
  private async writeStatus(rs: ReplicaSetObject, status: MutableReplicaSetStatus): Promise<ReplicaSetObject> {
    const generation = rs.metadata.generation ?? 0;
    if (generation) status.observedGeneration = generation;
    else delete status.observedGeneration;
    if (replicaSetStatusEqual(rs.status, status)) return rs;
    let current: ReplicaSetObject = rs;
    for (let attempt = 0; ; attempt++) {
      const copy = structuredClone(current) as Mutable<ReplicaSet> & KubeObject;
      copy.status = status;
      try {
        return await this.client.updateStatus<ReplicaSetObject>(this.kind.resource, rs.metadata.namespace ?? '', copy);
      } catch (err) {
        if (attempt >= 1) throw err;
        current = await this.client.get<ReplicaSetObject>(this.kind.resource, rs.metadata.namespace ?? '', rs.metadata.name ?? '');
      }
    }
  }
}

