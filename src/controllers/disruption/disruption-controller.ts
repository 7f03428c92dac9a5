/**
 * The disruption controller (upstream pkg/controller/disruption): keeps every PodDisruptionBudget's status, which
 * the eviction subresource reads to decide whether a pod may go.
 *
 * Flow: PDB events, and pod events (for every PDB selecting the pod, before and after the change), enqueue the
 * PDB's key; a worker runs reconcile(key), which
 *   1. reads the PDB from the cache (gone: nothing to do);
 *   2. lists the pods of its namespace that its selector matches;
 *   3. computes expectedPods and desiredHealthy (for percentages and maxUnavailable from the scale of the pods'
 *      controllers: Deployment via ReplicaSet, ReplicaSet, StatefulSet);
 *   4. computes currentHealthy, disruptionsAllowed, the live disruptedPods and the DisruptionAllowed condition, and
 *      writes status through /status when it changed; re-queues itself when a disruptedPods entry will expire;
 *   5. on any failure but a write conflict, writes the fail-safe status (disruptionsAllowed 0, SyncFailed).
 * A second queue of pod keys resets a DisruptionTarget=True condition to False when the pod it announced an eviction
 * for is still not being deleted STALE_POD_DISRUPTION_TIMEOUT_MS later (the eviction's delete failed).
 * Reads come only from listers; cached objects are never mutated.
 */
import type { Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { formatLabelSelector, labelSelectorFromObject, matches } from '../../api/labels.js';
import { parseApiVersion, type KubeObject, type Mutable } from '../../api/object.js';
import { isConflict } from '../../api/status.js';
import { parseTime, rfc3339 } from '../../api/time.js';
import { createLogger } from '../../log/logger.js';
import { Deployments, PodDisruptionBudgets, Pods, ReplicaSets, StatefulSets } from '../../client/resources.js';
import type { Client, Clock, EventRecorder, Informer, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { errorMessage } from '../util/error-message.js';
import { controllerRefOf } from '../util/owner-references.js';
import { computeExpectedPodCount, type ControllerScale } from './expected-pod-count.js';
import { computePdbStatus, failSafePdbStatus, pdbStatusNeedsWrite, type MutablePdbStatus } from './pdb-status.js';

export type PdbObject = PodDisruptionBudget & KubeObject;
type PodObject = Pod & KubeObject;
type ReplicaSetObject = ReplicaSet & KubeObject;
type DeploymentObject = Deployment & KubeObject;
type StatefulSetObject = StatefulSet & KubeObject;

/** Component name on the Events this controller records (kube-controller-manager's disruption controller uses this). */
export const DISRUPTION_CONTROLLER_COMPONENT = 'controllermanager';

const log = createLogger('disruption-controller');

/** How long a DisruptionTarget=True condition may stand on a pod that is not being deleted (upstream, 2 min). */
export const STALE_POD_DISRUPTION_TIMEOUT_MS = 2 * 60 * 1000;

export interface DisruptionControllerOptions {
  queue?: WorkQueue;
  stalePodQueue?: WorkQueue;
}

export class DisruptionController implements Controller {
  readonly name = 'disruption';
  readonly queue: WorkQueue;
  /** Pod keys whose DisruptionTarget condition may go stale. */
  readonly stalePodQueue: WorkQueue;
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly pdbs: Informer<PdbObject>;
  private readonly pods: Informer<PodObject>;
  private readonly replicaSets: Informer<ReplicaSetObject>;
  private readonly deployments: Informer<DeploymentObject>;
  private readonly statefulSets: Informer<StatefulSetObject>;

  constructor(ctx: ControllerContext, opts: DisruptionControllerOptions = {}) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.recorder = ctx.recorder(DISRUPTION_CONTROLLER_COMPONENT);
    this.queue = opts.queue ?? createWorkQueue({ clock: ctx.clock });
    this.stalePodQueue = opts.stalePodQueue ?? createWorkQueue({ clock: ctx.clock });
    this.pdbs = ctx.informers.informerFor<PdbObject>(PodDisruptionBudgets);
    this.pods = ctx.informers.informerFor<PodObject>(Pods);
    this.replicaSets = ctx.informers.informerFor<ReplicaSetObject>(ReplicaSets);
    this.deployments = ctx.informers.informerFor<DeploymentObject>(Deployments);
    this.statefulSets = ctx.informers.informerFor<StatefulSetObject>(StatefulSets);
  }

  start(): void {
    const enqueue = (pdb: PdbObject) => this.queue.add(keyOf(pdb));
    this.pdbs.addEventHandler({ add: enqueue, update: (_old, cur) => enqueue(cur), delete: enqueue });
    this.pods.addEventHandler({
      add: (pod) => {
        this.enqueueFor(pod, true);
        this.enqueueIfStale(pod);
      },
      update: (old, cur) => {
        if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
        this.enqueueIfStale(cur);
        // Most namespaces have no budget: skip the label comparison for the pods of those.
        if (this.pdbs.lister.list(cur.metadata.namespace ?? '').length === 0) return;
        this.enqueueFor(cur, true);
        // A pod whose labels changed may have left a budget; that one must recount too (upstream waits for a resync).
        if (JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {})) this.enqueueFor(old, false);
      },
      delete: (pod) => this.enqueueFor(pod, false),
    });
  }

  async run(workers: number): Promise<void> {
    // Upstream runs one worker per queue.
    await Promise.all([
      runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key)),
      runWorkers(`${this.name} stale pod disruption`, this.stalePodQueue, 1, (key) => this.syncStalePodDisruption(key)),
    ]);
  }

  stop(): void {
    this.queue.shutDown();
    this.stalePodQueue.shutDown();
  }

  private enqueueIfStale(pod: PodObject): void {
    const waitMs = staleDisruptionWait(pod, this.clock.now());
    if (waitMs !== undefined) this.stalePodQueue.addAfter(keyOf(pod), waitMs);
  }

  /** Resets the pod's DisruptionTarget condition to False once it has stood too long without a deletion. */
  async syncStalePodDisruption(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const pod = this.pods.lister.get(namespace, name);
    if (!pod) return;
    const waitMs = staleDisruptionWait(pod, this.clock.now());
    if (waitMs === undefined) return;
    if (waitMs > 0) {
      this.stalePodQueue.addAfter(key, waitMs);
      return;
    }
    const copy = structuredClone(pod) as Mutable<Pod> & KubeObject;
    const conditions = copy.status?.conditions ?? [];
    // Replaced whole, as upstream's UpdatePodCondition does: the eviction's reason and message go with it.
    copy.status = { ...copy.status, conditions: conditions.map((c) => (c.type === 'DisruptionTarget' ? { type: 'DisruptionTarget', status: 'False', lastTransitionTime: rfc3339(this.clock.now()) } : c)) };
    await this.client.updateStatus(Pods, namespace, copy);
    log.info('reset stale DisruptionTarget condition to False', { pod: key });
  }

  /** Enqueues every PDB selecting the pod; warns on the pod when there are several, as upstream does. */
  private enqueueFor(pod: PodObject, warn: boolean): void {
    const pdbs = this.pdbsSelecting(pod);
    if (warn && pdbs.length > 1) {
      this.recorder.event(
        pod,
        'Warning',
        'MultiplePodDisruptionBudgets',
        `Pod ${JSON.stringify(pod.metadata.namespace ?? '')}/${JSON.stringify(pod.metadata.name ?? '')} matches multiple PodDisruptionBudgets.  Chose ${JSON.stringify(pdbs[0]!.metadata.name ?? '')} arbitrarily.`,
      );
    }
    for (const pdb of pdbs) this.queue.add(keyOf(pdb));
  }

  /** policy/v1: a missing selector matches nothing, an empty one every pod of the namespace; a pod without labels none. */
  private pdbsSelecting(pod: PodObject): PdbObject[] {
    if (Object.keys(pod.metadata.labels ?? {}).length === 0) return [];
    const out: PdbObject[] = [];
    for (const pdb of this.pdbs.lister.list(pod.metadata.namespace ?? '')) {
      try {
        if (matches(labelSelectorFromObject(pdb.spec?.selector), pod.metadata.labels)) out.push(pdb);
      } catch {
        // An unparsable selector matches no pod; the PDB's own sync reports it.
      }
    }
    return out;
  }

  /** Level-based sync of one PDB; throws to have the key retried with backoff. */
  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const pdb = this.pdbs.lister.get(namespace, name);
    if (!pdb) return;
    try {
      await this.trySync(key, pdb);
    } catch (err) {
      // A conflict only means our cache is behind; the retry recomputes from fresher data.
      if (isConflict(err)) throw err;
      log.error('failed to sync PDB', { key, err });
      await this.writeStatus(pdb, failSafePdbStatus(pdb, errorMessage(err), this.clock.now()));
    }
  }

  private async trySync(key: string, pdb: PdbObject): Promise<void> {
    let pods: PodObject[];
    try {
      const selector = labelSelectorFromObject(pdb.spec?.selector);
      pods = this.pods.lister.list(pdb.metadata.namespace ?? '').filter((p) => matches(selector, p.metadata.labels));
    } catch (err) {
      this.recorder.event(pdb, 'Warning', 'NoPods', `Failed to get pods: ${errorMessage(err)}`);
      throw err;
    }
    if (pods.length === 0) this.recorder.event(pdb, 'Normal', 'NoPods', 'No matching pods found');

    let counts;
    try {
      counts = computeExpectedPodCount(pdb, pods, (ref, ns) => this.findScale(ref, ns));
    } catch (err) {
      this.recorder.event(pdb, 'Warning', 'CalculateExpectedPodCountFailed', `Failed to calculate the number of expected pods: ${errorMessage(err)}`);
      throw err;
    }
    if (counts.unmanagedPods.length > 0) {
      // Upstream prints the selector as a Go struct; the label-selector string says the same more readably.
      this.recorder.event(
        pdb,
        'Warning',
        'UnmanagedPods',
        `Pods selected by this PodDisruptionBudget (selector: ${formatLabelSelector(pdb.spec?.selector)}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`,
      );
    }

    const now = this.clock.now();
    const { status, recheckAtMs, notDeleted } = computePdbStatus(pdb, pods, counts.expectedCount, counts.desiredHealthy, now);
    for (const pod of notDeleted as PodObject[]) {
      // Upstream's message names the namespace twice; kept as users and tools see it.
      this.recorder.event(pod, 'Warning', 'NotDeleted', `Pod was expected by PDB ${pdb.metadata.namespace}/${pdb.metadata.namespace} to be deleted but it wasn't`);
    }
    if (pdbStatusNeedsWrite(pdb, status)) await this.writeStatus(pdb, status);
    if (recheckAtMs !== undefined) this.queue.addAfter(key, Math.max(0, recheckAtMs - now.getTime()));
  }

  /**
   * The workload whose scale a pod's controller reference stands for, from the caches (upstream's finders): a
   * ReplicaSet owned by a Deployment counts as the Deployment, else as itself; a StatefulSet as itself. Kinds skiff
   * does not serve (ReplicationController) or that only offer a scale subresource are not found.
   */
  private findScale(ref: OwnerReference, namespace: string): ControllerScale | undefined {
    const group = parseApiVersion(ref.apiVersion).group;
    if (ref.kind === 'ReplicaSet' && (group === 'apps' || group === 'extensions')) {
      const rs = this.replicaSets.lister.get(namespace, ref.name);
      if (!rs || rs.metadata.uid !== ref.uid) return undefined;
      const owner = controllerRefOf(rs);
      const ownerGroup = owner ? parseApiVersion(owner.apiVersion).group : '';
      if (owner?.kind === 'Deployment' && (ownerGroup === 'apps' || ownerGroup === 'extensions')) {
        const d = this.deployments.lister.get(namespace, owner.name);
        if (d && d.metadata.uid === owner.uid) return { uid: d.metadata.uid ?? '', scale: d.spec?.replicas ?? 1 };
      }
      // Upstream falls back to the ReplicaSet's own scale subresource when its Deployment is not (or no longer) there.
      return { uid: rs.metadata.uid ?? '', scale: rs.spec?.replicas ?? 1 };
    }
    if (ref.kind === 'StatefulSet' && group === 'apps') {
      const ss = this.statefulSets.lister.get(namespace, ref.name);
      if (!ss || ss.metadata.uid !== ref.uid) return undefined;
      return { uid: ss.metadata.uid ?? '', scale: ss.spec?.replicas ?? 1 };
    }
    return undefined;
  }

  /** One write through /status with the cached resourceVersion; a conflict is retried by the queue (upstream too). */
  private async writeStatus(pdb: PdbObject, status: MutablePdbStatus): Promise<void> {
    const copy = structuredClone(pdb) as Mutable<PodDisruptionBudget> & KubeObject;
    copy.status = status;
    await this.client.updateStatus(PodDisruptionBudgets, pdb.metadata.namespace ?? '', copy);
  }
}

/**
 * Milliseconds until the pod's DisruptionTarget=True condition counts as stale (0: already), or undefined when it
 * cannot go stale: the pod is being deleted or has finished, the condition is absent or not True, or the kubelet set
 * it (a kubelet-initiated termination may take arbitrarily long to start).
 */
export function staleDisruptionWait(pod: Pod, now: Date): number | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const cond = pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget');
  if (cond?.status !== 'True' || cond.reason === 'TerminationByKubelet') return undefined;
  const since = parseTime(cond.lastTransitionTime) ?? 0;
  return Math.max(0, since + STALE_POD_DISRUPTION_TIMEOUT_MS - now.getTime());
}
