/**
 * The DaemonSet controller (pkg/controller/daemon): one pod on every node the DaemonSet's pod fits (nodeSelector,
 * required node affinity, taints against its tolerations plus the DaemonSet defaults). Pods are created unbound
 * with required node affinity `metadata.name In [node]` and bound by the scheduler, as upstream does since 1.12.
 * Template history lives in ControllerRevisions `<ds>-<hash>`; pods carry the hash in `controller-revision-hash`.
 * RollingUpdate replaces old pods within maxUnavailable (or, with maxSurge, starts new ones beside old ones first);
 * OnDelete leaves old pods until someone deletes them.
 *
 * Each sync: history -> manage (create missing, delete misplaced/failed/extra) -> rolling update -> history
 * cleanup -> status (recomputed from the cache every time, written only when it changed).
 */
import type { DaemonSet, DaemonSetStatus } from 'kubernetes-types/apps/v1.js';
import type { Node, Pod, PodSpec } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isConflict } from '../../api/status.js';
import { ControllerRevisions, DaemonSets, Nodes, Pods } from '../../client/resources.js';
import type { Client, Clock, EventRecorder, Informer, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import {
  controllerRevisionHashLabel,
  createControllerRevision,
  equalRevisionData,
  nextRevisionNumber,
  ownedRevisions,
  renumberRevision,
  sortRevisions,
  templatePatch,
  type RevisionObject,
} from '../util/controller-history.js';
import { ControllerExpectations } from '../util/expectations.js';
import { controllerRefOf, isControlledBy, newControllerRef, resolveControllerRef } from '../util/owner-references.js';
import { createPodFor, deletePodFor, podFromTemplate } from '../util/pod-control.js';
import { isPodAvailable, isPodReady, isPodTerminal } from '../../api/pod.js';
import { slowStartBatch } from '../util/slow-start.js';
import { addDaemonPodTolerations, nodeNameAffinity, nodeShouldRunDaemonPod, targetNodeName } from './node-eligibility.js';

type DaemonSetObject = DaemonSet & KubeObject;
type PodObject = Pod & KubeObject;
type NodeObject = Node & KubeObject;

/** Creates and deletes per sync are capped (BurstReplicas); the rest happen in later syncs. */
const burstReplicas = 250;
/** Failed daemon pods are replaced with a per-node backoff: 1 s doubling up to 15 min (failedPodsBackoff). */
const failedPodBackoffInitialMs = 1000;
const failedPodBackoffMaxMs = 15 * 60_000;

export class DaemonSetController implements Controller {
  readonly name = 'daemonset';
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly queue: WorkQueue;
  private readonly daemonSets: Informer<DaemonSetObject>;
  private readonly pods: Informer<PodObject>;
  private readonly nodes: Informer<NodeObject>;
  private readonly revisions: Informer<RevisionObject>;
  private readonly expectations: ControllerExpectations;
  /** `<ds key>/<node>` -> the current backoff for replacing a failed pod there. */
  private readonly failedPodsBackoff = new Map<string, { delayMs: number; lastUpdate: number }>();

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.recorder = ctx.recorder('daemonset-controller');
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.daemonSets = ctx.informers.informerFor<DaemonSetObject>(DaemonSets);
    this.pods = ctx.informers.informerFor<PodObject>(Pods);
    this.nodes = ctx.informers.informerFor<NodeObject>(Nodes);
    this.revisions = ctx.informers.informerFor<RevisionObject>(ControllerRevisions);
    this.expectations = new ControllerExpectations(ctx.clock);
  }

  start(): void {
    this.daemonSets.addEventHandler({
      add: (ds) => this.queue.add(keyOf(ds)),
      update: (_old, cur) => this.queue.add(keyOf(cur)),
      delete: (ds) => this.queue.add(keyOf(ds)),
    });
    this.pods.addEventHandler({
      add: (pod) => {
        const ds = this.ownerOf(pod);
        if (!ds) return;
        if (pod.metadata.deletionTimestamp) this.expectations.deletionObserved(keyOf(ds));
        else this.expectations.creationObserved(keyOf(ds));
        this.queue.add(keyOf(ds));
      },
      update: (old, cur) => {
        if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
        const oldDs = this.ownerOf(old);
        const curDs = this.ownerOf(cur);
        // A graceful deletion has begun: count it now, so the replacement need not wait for the pod to be gone.
        if (curDs && cur.metadata.deletionTimestamp && !old.metadata.deletionTimestamp) this.expectations.deletionObserved(keyOf(curDs));
        if (oldDs && oldDs !== curDs) this.queue.add(keyOf(oldDs));
        if (curDs) this.queue.add(keyOf(curDs));
      },
      delete: (pod) => {
        const ds = this.ownerOf(pod);
        if (!ds) return;
        this.expectations.deletionObserved(keyOf(ds));
        this.queue.add(keyOf(ds));
      },
    });
    // Any node change that can change where daemon pods belong concerns every DaemonSet.
    this.nodes.addEventHandler({
      add: () => this.enqueueAll(),
      update: (old, cur) => {
        if (nodeChangeMatters(old, cur)) this.enqueueAll();
      },
      delete: () => this.enqueueAll(),
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  private enqueueAll(): void {
    for (const ds of this.daemonSets.lister.list()) this.queue.add(keyOf(ds));
  }

  private ownerOf(pod: PodObject): DaemonSetObject | undefined {
    return resolveControllerRef(this.daemonSets.lister, 'DaemonSet', pod.metadata.namespace ?? '', controllerRefOf(pod));
  }

  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const ds = this.daemonSets.lister.get(namespace, name);
    if (!ds) {
      this.expectations.delete(key);
      return;
    }
    const sel = ds.spec?.selector;
    if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)) {
      this.recorder.event(ds, 'Warning', 'SelectingAll', 'This daemon set is selecting all pods. A non-empty selector is required.');
      return;
    }
    const nodes = this.nodes.lister.list();
    const { current, old } = await this.constructHistory(ds);
    const hash = current.metadata.labels?.[controllerRevisionHashLabel] ?? '';
    if (!this.expectations.satisfied(key) || ds.metadata.deletionTimestamp) {
      // Only status: the cache is not settled, and observedGeneration must not claim this generation was handled.
      await this.updateStatus(ds, nodes, hash, false);
      return;
    }
    let syncError: unknown;
    try {
      await this.manage(key, ds, nodes, hash);
      if (this.expectations.satisfied(key) && (ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
        await this.rollingUpdate(key, ds, nodes, hash);
      }
      await this.cleanupHistory(ds, old);
    } catch (err) {
      syncError = err;
    }
    await this.updateStatus(ds, nodes, hash, true);
    if (syncError) throw syncError;
  }

  /** Pods controlled by the DaemonSet, by target node; terminal pods already being deleted are left out. */
  private nodesToDaemonPods(ds: DaemonSetObject): Map<string, PodObject[]> {
    const map = new Map<string, PodObject[]>();
    for (const pod of this.pods.lister.list(ds.metadata.namespace ?? '')) {
      if (!isControlledBy(pod, ds)) continue;
      if (isPodTerminal(pod) && pod.metadata.deletionTimestamp) continue;
      const node = targetNodeName(pod);
      if (!node) continue;
      map.set(node, [...(map.get(node) ?? []), pod]);
    }
    return map;
  }

  /**
   * The current revision (created or re-numbered as needed) and the old ones (constructHistory). The current one
   * is the revision whose data equals the template now.
   */
  private async constructHistory(ds: DaemonSetObject): Promise<{ current: RevisionObject; old: RevisionObject[] }> {
    const all = ownedRevisions(this.revisions.lister, ds);
    const probe = { data: templatePatch(ds.spec?.template) } as unknown as RevisionObject;
    const matching = all.filter((r) => equalRevisionData(r, probe));
    const old = all.filter((r) => !equalRevisionData(r, probe));
    const next = nextRevisionNumber(old);
    let current: RevisionObject;
    if (matching.length === 0) {
      const collision = { count: ds.status?.collisionCount ?? 0 };
      current = await createControllerRevision(this.client, ds, 'apps/v1', 'DaemonSet', ds.spec?.template, next, collision);
      if (collision.count !== (ds.status?.collisionCount ?? 0)) await this.writeCollisionCount(ds, collision.count);
    } else {
      // Duplicates (same data twice) are rare leftovers; the newest one is the current revision.
      current = sortRevisions(matching)[matching.length - 1]!;
      if (current.revision < next) current = await renumberRevision(this.client, current, next);
    }
    return { current, old };
  }

  private async writeCollisionCount(ds: DaemonSetObject, count: number): Promise<void> {
    const copy = structuredClone(ds) as Mutable<DaemonSet> & KubeObject;
    (copy.status ??= { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 }).collisionCount = count;
    await this.client.updateStatus(DaemonSets, ds.metadata.namespace ?? '', copy);
  }

  /** Decides per node what to create and delete, then does it (manage + podsShouldBeOnNode). */
  private async manage(key: string, ds: DaemonSetObject, nodes: NodeObject[], hash: string): Promise<void> {
    const byNode = this.nodesToDaemonPods(ds);
    const nodesNeeding: string[] = [];
    const toDelete: PodObject[] = [];
    const surge = surgeAllowed(ds);
    const now = this.clock.now();
    for (const node of nodes) {
      const nodeName = node.metadata.name ?? '';
      const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
      const pods = byNode.get(nodeName) ?? [];
      const exists = pods.length > 0;
      if (shouldRun && !exists) {
        nodesNeeding.push(nodeName);
      } else if (shouldContinueRunning) {
        const running: PodObject[] = [];
        for (const pod of pods) {
          if (pod.metadata.deletionTimestamp) continue;
          if (isPodTerminal(pod)) {
            // Kubelets may keep rejecting a pod: replace failed ones with a per-node backoff, not in a hot loop.
            const backoffKey = `${key}/${nodeName}`;
            const wait = this.backoffRemaining(backoffKey, now.getTime());
            if (wait > 0) {
              this.queue.addAfter(key, wait);
              continue;
            }
            this.nextBackoff(backoffKey, now.getTime());
            if (pod.status?.phase === 'Failed') {
              this.recorder.event(ds, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${pod.metadata.namespace}/${pod.metadata.name} on node ${nodeName}, will try to kill it`);
            }
            toDelete.push(pod);
          } else {
            running.push(pod);
          }
        }
        if (running.length <= 1) continue;
        const sorted = [...running].sort(byCreationAndPhase);
        if (!surge) {
          // More than one pod on a node: keep the oldest.
          toDelete.push(...sorted.slice(1));
          continue;
        }
        // With surge, a node may run the oldest old pod and the oldest new pod together, only while the new one
        // is not yet available and the old one is ready; every other pod goes.
        let oldestNew: PodObject | undefined;
        let oldestOld: PodObject | undefined;
        for (const pod of sorted) {
          if (pod.metadata.labels?.[controllerRevisionHashLabel] === hash) {
            if (!oldestNew) {
              oldestNew = pod;
              continue;
            }
          } else if (!oldestOld) {
            oldestOld = pod;
            continue;
          }
          toDelete.push(pod);
        }
        if (oldestNew && oldestOld && (!isPodReady(oldestOld) || isPodAvailable(oldestNew, ds.spec?.minReadySeconds ?? 0, now))) {
          toDelete.push(oldestOld);
        }
      } else if (exists) {
        // Not wanted here any more (labels, affinity or an untolerated NoExecute taint).
        for (const pod of pods) if (!pod.metadata.deletionTimestamp) toDelete.push(pod);
      }
    }
    // Unbound pods aimed at nodes that no longer exist would never be scheduled, nor collected by pod GC.
    const known = new Set(nodes.map((n) => n.metadata.name ?? ''));
    for (const [nodeName, pods] of byNode) {
      if (known.has(nodeName)) continue;
      for (const pod of pods) if (!pod.spec?.nodeName && !pod.metadata.deletionTimestamp) toDelete.push(pod);
    }
    await this.syncNodes(key, ds, toDelete, nodesNeeding, hash);
  }

  private backoffRemaining(key: string, now: number): number {
    const b = this.failedPodsBackoff.get(key);
    if (!b) return 0;
    return Math.max(0, b.lastUpdate + b.delayMs - now);
  }

  private nextBackoff(key: string, now: number): void {
    const b = this.failedPodsBackoff.get(key);
    const delayMs = b ? Math.min(b.delayMs * 2, failedPodBackoffMaxMs) : failedPodBackoffInitialMs;
    this.failedPodsBackoff.set(key, { delayMs, lastUpdate: now });
  }

  /** Creates pods for nodes (slow-start batches) and deletes pods, within the burst cap, under expectations. */
  private async syncNodes(key: string, ds: DaemonSetObject, podsToDelete: PodObject[], nodesNeeding: string[], hash: string): Promise<void> {
    const creates = nodesNeeding.slice(0, burstReplicas);
    const deletes = podsToDelete.slice(0, burstReplicas);
    if (creates.length === 0 && deletes.length === 0) return;
    this.expectations.set(key, creates.length, deletes.length);

    const template = structuredClone((ds.spec?.template ?? {}) as Mutable<NonNullable<DaemonSet['spec']>>['template']);
    template.spec ??= { containers: [] };
    addDaemonPodTolerations(template.spec as Mutable<PodSpec>);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [controllerRevisionHashLabel]: hash } };
    const ref = newControllerRef(ds, 'apps/v1', 'DaemonSet');
    const created = await slowStartBatch(creates.length, 1, async (i) => {
      const t = structuredClone(template);
      t.spec!.affinity = nodeNameAffinity(t.spec!.affinity, creates[i]!);
      try {
        await createPodFor(this.client, this.recorder, ds, podFromTemplate(t, ds.metadata.namespace ?? '', `${ds.metadata.name}-`, ref));
      } catch (err) {
        this.expectations.creationObserved(key);
        throw err;
      }
    });
    for (let i = created.attempted; i < creates.length; i++) this.expectations.creationObserved(key);

    let deleteError: unknown;
    await Promise.all(
      deletes.map(async (pod) => {
        try {
          const deleted = await deletePodFor(this.client, this.recorder, ds, pod);
          if (!deleted) this.expectations.deletionObserved(key);
        } catch (err) {
          this.expectations.deletionObserved(key);
          deleteError ??= err;
        }
      }),
    );
    if (created.error) throw created.error;
    if (deleteError) throw deleteError;
  }

  /**
   * RollingUpdate (update.go rollingUpdate). Without surge: delete old pods while the number of unavailable pods
   * stays within maxUnavailable (old pods that are unavailable anyway may always go); manage then creates their
   * replacements. With surge: start a new pod beside an old one on up to maxSurge nodes (on any node whose old pod
   * is unavailable, at once), and delete an old pod once the new one beside it is available.
   */
  private async rollingUpdate(key: string, ds: DaemonSetObject, nodes: NodeObject[], hash: string): Promise<void> {
    const byNode = this.nodesToDaemonPods(ds);
    const { maxSurge, maxUnavailable, desired } = desiredNodeCounts(ds, nodes, byNode);
    const minReady = ds.spec?.minReadySeconds ?? 0;
    const now = this.clock.now();
    const available = (p: PodObject) => isPodAvailable(p, minReady, now);

    if (maxSurge === 0) {
      let numUnavailable = 0;
      const allowedReplacements: PodObject[] = [];
      const candidates: PodObject[] = [];
      for (const pods of byNode.values()) {
        const found = findUpdatedPodsOnNode(pods, hash);
        if (!found) {
          // Excess pods on the node: manage cleans up; count it as unavailable meanwhile.
          numUnavailable++;
          continue;
        }
        const { newPod, oldPod } = found;
        if ((!oldPod && !newPod) || (oldPod && newPod)) {
          numUnavailable++;
        } else if (newPod) {
          if (!available(newPod)) numUnavailable++;
        } else if (oldPod) {
          if (!available(oldPod)) {
            allowedReplacements.push(oldPod);
            numUnavailable++;
          } else if (numUnavailable < maxUnavailable) {
            candidates.push(oldPod);
          }
        }
      }
      const remaining = Math.min(Math.max(0, maxUnavailable - numUnavailable), candidates.length);
      await this.syncNodes(key, ds, [...allowedReplacements, ...candidates.slice(0, remaining)], [], hash);
      return;
    }

    const oldPodsToDelete: PodObject[] = [];
    const shouldNotRun: PodObject[] = [];
    const candidateNodes: string[] = [];
    const allowedNodes: string[] = [];
    let numSurge = 0;
    let numAvailable = 0;
    const nodeByName = new Map(nodes.map((n) => [n.metadata.name ?? '', n]));
    for (const [nodeName, pods] of byNode) {
      const found = findUpdatedPodsOnNode(pods, hash);
      if (!found) {
        numSurge++;
        continue;
      }
      const { newPod, oldPod } = found;
      if (oldPod ? available(oldPod) : newPod && available(newPod)) numAvailable++;
      if (!oldPod) continue;
      if (!newPod) {
        const node = nodeByName.get(nodeName);
        const shouldRun = node ? nodeShouldRunDaemonPod(node, ds).shouldRun : false;
        if (!available(oldPod)) {
          if (!shouldRun) oldPodsToDelete.push(oldPod);
          else allowedNodes.push(nodeName);
        } else if (!shouldRun) {
          shouldNotRun.push(oldPod);
        } else if (numSurge < maxSurge) {
          candidateNodes.push(nodeName);
        }
        continue;
      }
      // Already surged here: once the new pod is available the old one goes.
      if (!available(newPod)) {
        numSurge++;
        continue;
      }
      oldPodsToDelete.push(oldPod);
    }
    // With surge the owner expects full availability: pods on nodes they no longer fit leave only when enough
    // pods elsewhere are available.
    const deletable = Math.min(numAvailable - desired, shouldNotRun.length);
    if (deletable > 0) oldPodsToDelete.push(...shouldNotRun.slice(0, deletable));
    const remainingSurge = Math.min(Math.max(0, maxSurge - numSurge), candidateNodes.length);
    await this.syncNodes(key, ds, oldPodsToDelete, [...allowedNodes, ...candidateNodes.slice(0, remainingSurge)], hash);
  }

  /** Keeps revisionHistoryLimit old revisions, never deleting one that live pods still use (cleanupHistory). */
  private async cleanupHistory(ds: DaemonSetObject, old: RevisionObject[]): Promise<void> {
    const toKill = old.length - (ds.spec?.revisionHistoryLimit ?? 10);
    if (toKill <= 0) return;
    const live = new Set<string>();
    for (const pods of this.nodesToDaemonPods(ds).values()) {
      for (const p of pods) {
        const h = p.metadata.labels?.[controllerRevisionHashLabel];
        if (h) live.add(h);
      }
    }
    let left = toKill;
    for (const rev of sortRevisions(old)) {
      if (left <= 0) break;
      if (live.has(rev.metadata.labels?.[controllerRevisionHashLabel] ?? '')) continue;
      await this.client.delete(ControllerRevisions, rev.metadata.namespace ?? '', rev.metadata.name ?? '');
      left--;
    }
  }

  /** Recomputes status from nodes and pods (updateDaemonSetStatus) and writes it if anything changed. */
  private async updateStatus(ds: DaemonSetObject, nodes: NodeObject[], hash: string, updateObservedGen: boolean): Promise<void> {
    const byNode = this.nodesToDaemonPods(ds);
    const now = this.clock.now();
    const minReady = ds.spec?.minReadySeconds ?? 0;
    let desired = 0;
    let current = 0;
    let misscheduled = 0;
    let ready = 0;
    let available = 0;
    let updated = 0;
    for (const node of nodes) {
      const { shouldRun } = nodeShouldRunDaemonPod(node, ds);
      const pods = byNode.get(node.metadata.name ?? '') ?? [];
      if (!shouldRun) {
        if (pods.length > 0) misscheduled++;
        continue;
      }
      desired++;
      if (pods.length === 0) continue;
      current++;
      const pod = [...pods].sort(byCreationAndPhase)[0]!;
      if (isPodReady(pod)) {
        ready++;
        if (isPodAvailable(pod, minReady, now)) available++;
      }
      if (hash && pod.metadata.labels?.[controllerRevisionHashLabel] === hash) updated++;
    }
    const next: Mutable<DaemonSetStatus> = {
      ...(structuredClone(ds.status ?? {}) as Mutable<DaemonSetStatus>),
      desiredNumberScheduled: desired,
      currentNumberScheduled: current,
      numberMisscheduled: misscheduled,
      numberReady: ready,
      updatedNumberScheduled: updated,
      numberAvailable: available,
      numberUnavailable: desired - available,
    };
    if (updateObservedGen) next.observedGeneration = ds.metadata.generation;
    // These are omitempty on the wire.
    for (const f of ['updatedNumberScheduled', 'numberAvailable', 'numberUnavailable', 'observedGeneration'] as const) if (!next[f]) delete next[f];
    // A last line of defence against clock skew: look again once pods may have become available.
    if (minReady > 0 && ready !== available) this.queue.addAfter(keyOf(ds), minReady * 1000);
    const s = ds.status;
    if (
      s &&
      s.desiredNumberScheduled === desired &&
      s.currentNumberScheduled === current &&
      s.numberMisscheduled === misscheduled &&
      s.numberReady === ready &&
      (s.updatedNumberScheduled ?? 0) === updated &&
      (s.numberAvailable ?? 0) === available &&
      (s.numberUnavailable ?? 0) === desired - available &&
      (s.observedGeneration ?? 0) >= (ds.metadata.generation ?? 0)
    ) {
      return;
    }
    let target = structuredClone(ds) as Mutable<DaemonSet> & KubeObject;
    for (let attempt = 0; ; attempt++) {
      target.status = { ...next, ...(target.status?.collisionCount !== undefined ? { collisionCount: target.status.collisionCount } : {}) };
      try {
        await this.client.updateStatus(DaemonSets, ds.metadata.namespace ?? '', target);
        return;
      } catch (err) {
        // One retry on a fresh copy (StatusUpdateRetries); after that the key is requeued with backoff.
        if (!isConflict(err) || attempt >= 1) throw err;
        target = await this.client.get<Mutable<DaemonSet> & KubeObject>(DaemonSets, ds.metadata.namespace ?? '', ds.metadata.name ?? '');
      }
    }
  }
}

/** maxSurge and maxUnavailable as pod counts for the desired node count (updatedDesiredNodeCounts). */
export function desiredNodeCounts(ds: DaemonSet, nodes: NodeObject[], byNode: Map<string, PodObject[]>): { maxSurge: number; maxUnavailable: number; desired: number } {
  let desired = 0;
  for (const node of nodes) {
    if (!nodeShouldRunDaemonPod(node, ds).shouldRun) continue;
    desired++;
    // Nodes that should run a pod but have none take part in the update as "no pod" nodes.
    if (!byNode.has(node.metadata.name ?? '')) byNode.set(node.metadata.name ?? '', []);
  }
  const ru = ds.spec?.updateStrategy?.type === 'OnDelete' ? undefined : ds.spec?.updateStrategy?.rollingUpdate;
  let maxUnavailable = scaledValue(ru?.maxUnavailable, desired);
  const maxSurge = scaledValue(ru?.maxSurge, desired);
  // An impossible 0/0 configuration falls back to the default of one unavailable pod.
  if (desired > 0 && maxUnavailable === 0 && maxSurge === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable, desired };
}

/** An int-or-percent as a count of `total`, percentages rounded up (GetScaledValueFromIntOrPercent with roundUp). */
export function scaledValue(v: number | string | undefined, total: number): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) return Number(v) || 0;
  return Math.ceil((Number(m[1]) * total) / 100);
}

function surgeAllowed(ds: DaemonSet): boolean {
  const ru = ds.spec?.updateStrategy?.rollingUpdate;
  if (ds.spec?.updateStrategy?.type === 'OnDelete' || !ru) return false;
  return scaledValue(ru.maxSurge, 1) > 0;
}

/** The node's new and old pod, or undefined when it has more than one of either (findUpdatedPodsOnNode). */
function findUpdatedPodsOnNode(pods: PodObject[], hash: string): { newPod?: PodObject; oldPod?: PodObject } | undefined {
  let newPod: PodObject | undefined;
  let oldPod: PodObject | undefined;
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    if (pod.metadata.labels?.[controllerRevisionHashLabel] === hash) {
      if (newPod) return undefined;
      newPod = pod;
    } else {
      if (oldPod) return undefined;
      oldPod = pod;
    }
  }
  return { newPod, oldPod };
}

/** Oldest first; among equal creation times, Running before others (podByCreationTimestampAndPhase). */
function byCreationAndPhase(a: Pod, b: Pod): number {
  const ta = a.metadata?.creationTimestamp ?? '';
  const tb = b.metadata?.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ra = a.status?.phase === 'Running' ? 0 : 1;
  const rb = b.status?.phase === 'Running' ? 0 : 1;
  if (ra !== rb) return ra - rb;
  const na = a.metadata?.name ?? '';
  const nb = b.metadata?.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** Labels, taints and the name decide where daemon pods go. */
function nodeChangeMatters(old: Node, cur: Node): boolean {
  return (
    JSON.stringify(old.metadata?.labels ?? {}) !== JSON.stringify(cur.metadata?.labels ?? {}) ||
    JSON.stringify(old.spec?.taints ?? []) !== JSON.stringify(cur.spec?.taints ?? [])
  );
}
