/**
 * The Deployment controller (upstream pkg/controller/deployment): rolls a Deployment's pod template out through
 * ReplicaSets named `<deployment>-<pod-template-hash>`, one per template revision.
 *
 * Flow: events on Deployments, their ReplicaSets and (for Recreate) their pods enqueue the Deployment's key; a worker
 * runs reconcile(key), a dispatcher in upstream's order:
 *   gone → done; selector selects everything → refuse (event); claim ReplicaSets (adopt/release);
 *   being deleted → status only; pause/resume → Progressing condition;
 *   paused, or spec.replicas changed → scale only (sync.ts);
 *   otherwise → rolloutRolling (rolling.ts) or rolloutRecreate (recreate.ts), which end with the Progressing and
 *   Available conditions (progress.ts).
 * Reads come from listers; the cached Deployment is copied before anything is changed.
 */
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import { labelSelectorFromObject, selectorToString, type LabelSelector } from '../../api/labels.js';
import type { KubeObject } from '../../api/object.js';
import { selects, tryLabelSelector } from '../../api/selects.js';
import { Deployments, Pods, ReplicaSets } from '../../client/resources.js';
import type { Client, Clock, EventRecorder, Informer, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import type { PodObject } from '../replicaset/replicaset-controller.js';
import { ControllerRefManager, recheckOwner } from '../util/controller-ref-manager.js';
import { controllerRefOf, resolveControllerRef } from '../util/owner-references.js';
import type { DeploymentObject, MutableDeployment, ReplicaSetObject } from './deployment-util.js';
import { rolloutRecreate, type PodMap } from './recreate.js';
import { rolloutRolling } from './rolling.js';
import { checkPausedConditions, isScalingEvent, syncScaleOrPause, syncStatusOnly, writeDeploymentStatus } from './sync.js';
import type { SyncContext } from './sync-context.js';

/** Component name on the Events this controller records. */
export const DEPLOYMENT_CONTROLLER_COMPONENT = 'deployment-controller';

/** ReplicaSets by controller: the controller's uid, or `orphan:<namespace>` for ReplicaSets without one. */
export const REPLICASETS_BY_CONTROLLER_INDEX = 'deployment-controller:replicasets-by-controller';

export interface DeploymentControllerOptions {
  queue?: WorkQueue;
}

export class DeploymentController implements Controller {
  readonly name = 'deployment';
  readonly queue: WorkQueue;
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly dInformer: Informer<DeploymentObject>;
  private readonly rsInformer: Informer<ReplicaSetObject>;
  private readonly podInformer: Informer<PodObject>;
  private readonly syncCtx: SyncContext;

  constructor(ctx: ControllerContext, opts: DeploymentControllerOptions = {}) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.recorder = ctx.recorder(DEPLOYMENT_CONTROLLER_COMPONENT);
    this.dInformer = ctx.informers.informerFor<DeploymentObject>(Deployments);
    this.rsInformer = ctx.informers.informerFor<ReplicaSetObject>(ReplicaSets);
    this.podInformer = ctx.informers.informerFor<PodObject>(Pods);
    this.queue = opts.queue ?? createWorkQueue({ clock: ctx.clock });
    this.syncCtx = {
      client: this.client,
      recorder: this.recorder,
      clock: this.clock,
      replicaSets: this.rsInformer.lister,
      enqueueAfter: (d, ms) => this.queue.addAfter(keyOf(d as KubeObject), ms),
      enqueueRateLimited: (d) => this.queue.addRateLimited(keyOf(d as KubeObject)),
    };
  }

  start(): void {
    this.rsInformer.addIndexer(REPLICASETS_BY_CONTROLLER_INDEX, (rs) => {
      const ref = controllerRefOf(rs);
      return [ref ? ref.uid : `orphan:${rs.metadata.namespace ?? ''}`];
    });
    this.dInformer.addEventHandler({
      add: (d) => this.queue.add(keyOf(d)),
      update: (_old, cur) => this.queue.add(keyOf(cur)),
      delete: (d) => this.queue.add(keyOf(d)),
    });
    this.rsInformer.addEventHandler({
      add: (rs) => this.onReplicaSetAdded(rs),
      update: (old, cur) => this.onReplicaSetUpdated(old, cur),
      delete: (rs) => this.onReplicaSetDeleted(rs),
    });
    this.podInformer.addEventHandler({ delete: (pod) => this.onPodDeleted(pod) });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  private onReplicaSetAdded(rs: ReplicaSetObject): void {
    // Seen for the first time while already being deleted (e.g. after a restart): treat as the deletion.
    if (rs.metadata.deletionTimestamp) {
      this.onReplicaSetDeleted(rs);
      return;
    }
    const ref = controllerRefOf(rs);
    if (ref) {
      const d = resolveControllerRef(this.dInformer.lister, 'Deployment', rs.metadata.namespace ?? '', ref);
      if (d) this.queue.add(keyOf(d));
      return;
    }
    // An orphan: every Deployment that selects it may want to adopt it.
    for (const d of this.deploymentsSelecting(rs)) this.queue.add(keyOf(d));
  }

  private onReplicaSetUpdated(old: ReplicaSetObject, cur: ReplicaSetObject): void {
    // Resyncs of unchanged objects: the Deployments get their own resync.
    if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
    const curRef = controllerRefOf(cur);
    const oldRef = controllerRefOf(old);
    const refChanged = JSON.stringify(curRef ?? null) !== JSON.stringify(oldRef ?? null);
    if (refChanged && oldRef) {
      const d = resolveControllerRef(this.dInformer.lister, 'Deployment', old.metadata.namespace ?? '', oldRef);
      if (d) this.queue.add(keyOf(d));
    }
    if (curRef) {
      const d = resolveControllerRef(this.dInformer.lister, 'Deployment', cur.metadata.namespace ?? '', curRef);
      if (d) this.queue.add(keyOf(d));
      return;
    }
    const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
    if (labelsChanged || refChanged) {
      for (const d of this.deploymentsSelecting(cur)) this.queue.add(keyOf(d));
    }
  }

  private onReplicaSetDeleted(rs: ReplicaSetObject): void {
    const ref = controllerRefOf(rs);
    if (!ref) return;
    const d = resolveControllerRef(this.dInformer.lister, 'Deployment', rs.metadata.namespace ?? '', ref);
    if (d) this.queue.add(keyOf(d));
  }

  /** Recreate waits for old pods to be gone; the last one going away is the signal to scale up the new ReplicaSet. */
  private onPodDeleted(pod: PodObject): void {
    const namespace = pod.metadata.namespace ?? '';
    const rs = resolveControllerRef(this.rsInformer.lister, 'ReplicaSet', namespace, controllerRefOf(pod));
    if (!rs) return;
    const dRef = controllerRefOf(rs);
    if (!dRef) return;
    const d = resolveControllerRef(this.dInformer.lister, 'Deployment', namespace, dRef);
    if (!d || d.spec?.strategy?.type !== 'Recreate') return;
    const selector = tryLabelSelector(d.spec?.selector);
    if (!selector) return;
    const podMap = this.podMapForDeployment(d, selector, this.rsInformer.lister.byIndex(REPLICASETS_BY_CONTROLLER_INDEX, d.metadata.uid ?? ''));
    let pods = 0;
    for (const list of podMap.values()) pods += list.length;
    if (pods === 0) this.queue.add(keyOf(d));
  }

  /** Deployments whose selector matches the ReplicaSet; an empty selector matches nothing here, as upstream. */
  private deploymentsSelecting(rs: ReplicaSetObject): DeploymentObject[] {
    const out: DeploymentObject[] = [];
    for (const d of this.dInformer.lister.list(rs.metadata.namespace ?? '')) {
      if (selects(d.spec?.selector, rs.metadata.labels)) out.push(d);
    }
    return out;
  }

  /** Level-based sync of one Deployment; throws to have the key retried with backoff. */
  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const cached = this.dInformer.lister.get(namespace, name);
    if (!cached) return;
    const d = structuredClone(cached) as MutableDeployment;

    const sel = d.spec?.selector;
    if (sel && Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0) {
      // Selecting every pod of the namespace would adopt everything in it: refuse, but say that we saw the spec.
      this.recorder.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        d.status = { ...(d.status ?? {}), observedGeneration: d.metadata.generation };
        await writeDeploymentStatus(this.syncCtx, d);
      }
      return;
    }
    let selector: LabelSelector;
    try {
      selector = labelSelectorFromObject(sel);
    } catch (err) {
      throw new Error(`deployment ${key} has invalid label selector: ${(err as Error).message}`);
    }

    const rsList = await this.claimReplicaSets(d, selector);
    if (d.metadata.deletionTimestamp) {
      await syncStatusOnly(this.syncCtx, d, rsList);
      return;
    }
    await checkPausedConditions(this.syncCtx, d);
    if (d.spec?.paused || (await isScalingEvent(this.syncCtx, d, rsList))) {
      await syncScaleOrPause(this.syncCtx, d, rsList);
      return;
    }
    const strategy = d.spec?.strategy?.type ?? 'RollingUpdate';
    switch (strategy) {
      case 'Recreate':
        await rolloutRecreate(this.syncCtx, d, rsList, this.podMapForDeployment(d, selector, rsList));
        return;
      case 'RollingUpdate':
        await rolloutRolling(this.syncCtx, d, rsList);
        return;
      default:
        throw new Error(`unexpected deployment strategy type: ${strategy}`);
    }
  }

  /** The Deployment's ReplicaSets after adopting matching orphans and releasing those that stopped matching. */
  private async claimReplicaSets(d: MutableDeployment, selector: LabelSelector): Promise<ReplicaSetObject[]> {
    const namespace = d.metadata.namespace ?? '';
    const candidates = [
      ...this.rsInformer.lister.byIndex(REPLICASETS_BY_CONTROLLER_INDEX, d.metadata.uid ?? ''),
      ...this.rsInformer.lister.byIndex(REPLICASETS_BY_CONTROLLER_INDEX, `orphan:${namespace}`),
    ];
    const manager = new ControllerRefManager<ReplicaSetObject>({
      client: this.client,
      owned: ReplicaSets,
      owner: d,
      ownerApiVersion: 'apps/v1',
      ownerKind: 'Deployment',
      selector,
      canAdopt: () => recheckOwner(this.client, Deployments, d),
    });
    return manager.claim(candidates);
  }

  /** The Deployment's pods (by selector) grouped by the uid of the claimed ReplicaSet controlling them. */
  private podMapForDeployment(d: Deployment, selector: LabelSelector, rsList: readonly ReplicaSetObject[]): PodMap {
    const map = new Map<string, PodObject[]>();
    for (const rs of rsList) map.set(rs.metadata.uid ?? '', []);
    for (const pod of this.podInformer.lister.list(d.metadata?.namespace ?? '', selectorToString(selector))) {
      const ref = controllerRefOf(pod);
      if (ref) map.get(ref.uid)?.push(pod);
    }
    return map;
  }
}
