/**
 * The node lifecycle controller (upstream pkg/controller/nodelifecycle/node_lifecycle_controller.go, with the
 * taint-based eviction of pkg/controller/tainteviction). Three loops share it:
 *
 * - monitorNodeHealth, every 5 s of the clock (monitorPeriodMs): a node is alive while its kube-node-lease Lease is renewed (or its
 *   Ready condition's heartbeat moves). Both are judged by when *this controller saw them change*, on its own clock,
 *   as upstream does, so skewed node clocks do not matter and a restarted controller gives every node a fresh grace
 *   period. A node silent for longer than --node-monitor-grace-period gets Ready (and the pressure conditions)
 *   Unknown, "Kubelet stopped posting node status.", and its pods are marked not Ready. Unhealthy nodes are then
 *   tainted NoExecute (unreachable for Unknown, not-ready for False) at a rate limited per zone; see zone-state.ts.
 *   A node whose kubelet reports Ready=True again loses those taints. The controller never sets Ready=True itself.
 * - syncNode, per node from the work queue (node and pod events): the NoSchedule taints that the node's conditions
 *   and spec.unschedulable call for, and eviction of the node's pods that do not tolerate its NoExecute taints, or
 *   whose tolerationSeconds have run out, counted from the taint's timeAdded.
 */
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Node, Pod as K8sPod, PodCondition, Taint } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isConflict, isNotFound } from '../../api/status.js';
import { podReadyCondition } from '../../api/pod.js';
import { rfc3339 } from '../../api/time.js';
import { Leases, Nodes, Pods } from '../../client/resources.js';
import type { EventRecorder, Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, type Controller, type ControllerContext } from '../controller.js';
import {
  computeConditionTaints,
  computeSwappedTaints,
  getMatchingTolerations,
  getMinTolerationSeconds,
  getNodeCondition,
  hasTaint,
  NOT_READY_NO_EXECUTE,
  UNREACHABLE_NO_EXECUTE,
} from './taints.js';
import { computeZoneState, EXCLUDE_DISRUPTION_LABEL, tainterQps, TokenBucket, zoneKeyOf, type ZoneState } from './zone-state.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('node-lifecycle-controller');

type NodeObj = Node & KubeObject;
type Pod = K8sPod & KubeObject;
type LeaseObj = Lease & KubeObject;

/** --node-monitor-period. */
export const NODE_MONITOR_PERIOD_MS = 5_000;
/** --node-startup-grace-period: for nodes that never posted a Ready condition. */
export const NODE_STARTUP_GRACE_MS = 60_000;
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** Conditions set to Unknown when a node goes silent (upstream tryUpdateNodeHealth). */
const SILENCED_CONDITIONS = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];
const POD_NODE_INDEX = 'node-lifecycle/spec.nodeName';
const MAX_TAINT_ATTEMPTS = 3;

interface NodeHealth {
  /** Clock time (ms) when we last saw the node alive: a lease renewal or a new Ready heartbeat. */
  probeTimestamp: number;
  readyHeartbeat?: string;
  leaseRenewTime?: number;
}

/** The NoExecute tainting queue of one zone (upstream RateLimitedTimedQueue + zone state). */
interface ZoneTainter {
  /** Nodes waiting to be tainted, first come first served. */
  queue: string[];
  /** Nodes queued or already tainted in this unhealthy episode: they are not queued again until reachable. */
  members: Set<string>;
  limiter: TokenBucket;
  state: ZoneState;
}

export interface NodeLifecycleControllerOptions {
  /**
   * How often node health is checked (--node-monitor-period). Default NODE_MONITOR_PERIOD_MS, or a quarter of the
   * grace period when that is shorter (tests with a grace of a few seconds), so a silent node is noticed in time.
   */
  monitorPeriodMs?: number;
}

export class NodeLifecycleController implements Controller {
  readonly name = 'node-lifecycle';
  private readonly queue: WorkQueue;
  private readonly nodes: Lister<NodeObj>;
  private readonly leases: Lister<LeaseObj>;
  private readonly pods: Lister<Pod>;
  private readonly nodeEvents: EventRecorder;
  private readonly evictionEvents: EventRecorder;
  private readonly health = new Map<string, NodeHealth>();
  private readonly zones = new Map<string, ZoneTainter>();
  /** pod key -> clock time (ms) its toleration countdown started; kept while the node stays tainted. */
  private readonly evictionStart = new Map<string, number>();
  /**
   * node|key|effect|timeAdded -> the exact clock time (ms) we added that taint. timeAdded has whole seconds only;
   * countdowns of taints we added start at the exact time, so a short tolerationSeconds is not cut short.
   */
  private readonly taintAddedAt = new Map<string, number>();
  /** Nodes whose pods could not all be marked not Ready: retried on the next monitor pass. */
  private readonly nodesToRetry = new Set<string>();
  private monitorTimer: { cancel(): void } | undefined;
  private stopped = false;

  private readonly monitorPeriodMs: number;

  constructor(
    private readonly ctx: ControllerContext,
    opts: NodeLifecycleControllerOptions = {},
  ) {
    this.monitorPeriodMs = opts.monitorPeriodMs ?? Math.min(NODE_MONITOR_PERIOD_MS, Math.max(100, Math.floor(ctx.options.nodeMonitorGracePeriodMs / 4)));
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.nodes = ctx.informers.informerFor<NodeObj>(Nodes).lister;
    this.leases = ctx.informers.informerFor<LeaseObj>(Leases).lister;
    this.pods = ctx.informers.informerFor<Pod>(Pods).lister;
    this.nodeEvents = ctx.recorder('node-controller');
    this.evictionEvents = ctx.recorder('taint-eviction-controller');
  }

  start(): void {
    const podInformer = this.ctx.informers.informerFor<Pod>(Pods);
    podInformer.addIndexer(POD_NODE_INDEX, (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []));
    podInformer.addEventHandler({
      add: (pod) => this.enqueueNodeOf(pod),
      update: (oldPod, pod) => {
        // Only binding and toleration changes alter a pod's eviction; status churn does not.
        if (oldPod.spec?.nodeName === pod.spec?.nodeName && JSON.stringify(oldPod.spec?.tolerations ?? []) === JSON.stringify(pod.spec?.tolerations ?? [])) return;
        this.enqueueNodeOf(pod);
      },
      delete: (pod) => this.evictionStart.delete(keyOf(pod)),
    });
    this.ctx.informers.informerFor<NodeObj>(Nodes).addEventHandler({
      add: (node) => this.queue.add(node.metadata.name ?? ''),
      update: (oldNode, node) => {
        if (nodeTaintInputs(oldNode) !== nodeTaintInputs(node)) this.queue.add(node.metadata.name ?? '');
      },
      delete: (node) => this.forgetNode(node.metadata.name ?? ''),
    });
  }

  /** Starts the monitor loop and `workers` node workers; resolves after stop(). */
  async run(workers: number): Promise<void> {
    const loop = async () => {
      if (this.stopped) return;
      await this.monitorNodeHealth();
      if (!this.stopped) this.monitorTimer = this.ctx.clock.setTimeout(() => void loop(), this.monitorPeriodMs);
    };
    void loop();
    await runWorkers(this.name, this.queue, workers, (key) => this.syncNode(key));
  }

  stop(): void {
    this.stopped = true;
    this.monitorTimer?.cancel();
    this.queue.shutDown();
  }

  private enqueueNodeOf(pod: Pod): void {
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) return;
    const node = this.nodes.get('', nodeName);
    if (node && (node.spec?.taints ?? []).some((t) => t.effect === 'NoExecute')) this.queue.add(nodeName);
  }

  private forgetNode(name: string): void {
    this.forgetTaintTimes(name);
    this.health.delete(name);
    this.nodesToRetry.delete(name);
    for (const z of this.zones.values()) {
      z.members.delete(name);
      z.queue = z.queue.filter((n) => n !== name);
    }
  }

  // ---- health monitoring -------------------------------------------------------------------------------------

  /** One monitor pass over every node. Failures are logged per node and retried on the next pass; never throws. */
  async monitorNodeHealth(): Promise<void> {
    const now = this.ctx.clock.now().getTime();
    const nodes = this.nodes.list();
    const names = new Set(nodes.map((n) => n.metadata.name ?? ''));
    for (const name of [...this.health.keys()]) if (!names.has(name)) this.forgetNode(name);

    const zoneStatuses = new Map<string, (string | undefined)[]>();
    const latest = new Map<string, { node: NodeObj; ready: string | undefined }>();
    for (const cached of nodes) {
      const name = cached.metadata.name ?? '';
      try {
        const { node, observed, current } = await this.updateNodeHealth(cached, now);
        latest.set(name, { node, ready: current });
        const zone = zoneKeyOf(node);
        if (node.metadata.labels?.[EXCLUDE_DISRUPTION_LABEL] === undefined) {
          const statuses = zoneStatuses.get(zone);
          if (statuses) statuses.push(current);
          else zoneStatuses.set(zone, [current]);
        }
        if (current === undefined) continue;
        latest.set(name, { node: await this.processTaintBaseEviction(node, current, zone, now), ready: current });
        if (current !== 'True' && observed === 'True') {
          this.nodeEvents.event(node, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
          await this.markPodsNotReady(name, now);
        } else if (this.nodesToRetry.has(name) && observed !== 'True') {
          await this.markPodsNotReady(name, now);
        }
      } catch (err) {
        log.error('error monitoring node', { node: name, err });
      }
    }
    await this.handleDisruption(zoneStatuses, nodes, now);
    await this.doNoExecuteTaintingPass(latest, now);
  }

  /**
   * Updates what we know of the node's liveness and, if it has been silent for longer than its grace period, sets
   * its conditions Unknown. Returns the node as it now is, and its Ready status before (observed; 'Unknown' when
   * the node never posted one) and after (current; undefined while a new node has not posted one and is in grace).
   */
  private async updateNodeHealth(cached: NodeObj, now: number): Promise<{ node: NodeObj; observed: string; current: string | undefined }> {
    const name = cached.metadata.name ?? '';
    let node = cached;
    for (let attempt = 0; ; attempt++) {
      const ready = getNodeCondition(node, 'Ready');
      let h = this.health.get(name);
      let grace: number;
      if (!ready) {
        grace = NODE_STARTUP_GRACE_MS;
        h ??= { probeTimestamp: Date.parse(node.metadata.creationTimestamp ?? '') || now };
      } else {
        grace = this.ctx.options.nodeMonitorGracePeriodMs;
        if (!h) {
          // First sight (or a restarted controller): assume alive now, so every node gets a full grace period.
          h = { probeTimestamp: now, readyHeartbeat: ready.lastHeartbeatTime };
        } else if (h.readyHeartbeat !== ready.lastHeartbeatTime) {
          h.probeTimestamp = now;
          h.readyHeartbeat = ready.lastHeartbeatTime;
        }
      }
      const renew = Date.parse(this.leases.get(NODE_LEASE_NAMESPACE, name)?.spec?.renewTime ?? '');
      if (!Number.isNaN(renew) && (h.leaseRenewTime === undefined || renew > h.leaseRenewTime)) {
        h.leaseRenewTime = renew;
        h.probeTimestamp = now;
      }
      this.health.set(name, h);

      const observed = ready?.status ?? 'Unknown';
      if (now <= h.probeTimestamp + grace) return { node, observed, current: ready?.status };

      const copy = structuredClone(node) as Mutable<NodeObj>;
      const status = (copy.status ??= {});
      const conditions = (status.conditions ??= []);
      const stamp = rfc3339(now);
      for (const type of SILENCED_CONDITIONS) {
        const c = conditions.find((x) => x.type === type);
        if (!c) {
          conditions.push({
            type,
            status: 'Unknown',
            reason: 'NodeStatusNeverUpdated',
            message: 'Kubelet never posted node status.',
            lastHeartbeatTime: node.metadata.creationTimestamp,
            lastTransitionTime: stamp,
          });
        } else if (c.status !== 'Unknown') {
          Object.assign(c, { status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: stamp });
        }
      }
      // Like upstream, write only when Ready itself changes; the other conditions ride along.
      if (ready && ready.status === 'Unknown') return { node, observed, current: 'Unknown' };
      try {
        node = await this.ctx.client.updateStatus<NodeObj>(Nodes, '', copy as NodeObj);
        return { node, observed, current: 'Unknown' };
      } catch (err) {
        if (!isConflict(err) || attempt + 1 >= MAX_TAINT_ATTEMPTS) throw err;
        node = await this.ctx.client.get<NodeObj>(Nodes, '', name);
      }
    }
  }

  /** Upstream MarkPodsNotReady: the kubelet of a silent node cannot report its pods, so we do (Ready=False). */
  private async markPodsNotReady(nodeName: string, now: number): Promise<void> {
    let failed = false;
    for (const pod of this.pods.byIndex(POD_NODE_INDEX, nodeName)) {
      const ready = podReadyCondition(pod);
      if (!ready || ready.status === 'False') continue;
      const copy = structuredClone(pod) as Mutable<Pod>;
      const c = copy.status!.conditions!.find((x) => x.type === 'Ready')!;
      c.status = 'False';
      c.lastTransitionTime = rfc3339(now);
      try {
        await this.ctx.client.updateStatus(Pods, pod.metadata.namespace ?? '', copy as Pod);
        this.evictionEvents.event(pod, 'Warning', 'NodeNotReady', 'Node is not ready');
      } catch (err) {
        if (isNotFound(err)) continue;
        failed = true;
        log.error('cannot mark pod not ready', { pod: keyOf(pod), err });
      }
    }
    if (failed) this.nodesToRetry.add(nodeName);
    else this.nodesToRetry.delete(nodeName);
  }

  // ---- NoExecute tainting ------------------------------------------------------------------------------------

  /** Decides the NoExecute taint for the node's Ready status; returns the node as it now is. */
  private async processTaintBaseEviction(node: NodeObj, ready: string, zone: string, now: number): Promise<NodeObj> {
    const name = node.metadata.name ?? '';
    switch (ready) {
      case 'False':
        // not-ready and unreachable mirror Ready=False/Unknown and exclude each other; switching is not rate limited.
        if (hasTaint(node, UNREACHABLE_NO_EXECUTE)) return this.swapTaints(node, [NOT_READY_NO_EXECUTE], [UNREACHABLE_NO_EXECUTE], now);
        this.markNodeForTainting(name, zone, now);
        return node;
      case 'True':
        return this.markNodeAsReachable(node, now);
      default:
        if (hasTaint(node, NOT_READY_NO_EXECUTE)) return this.swapTaints(node, [UNREACHABLE_NO_EXECUTE], [NOT_READY_NO_EXECUTE], now);
        this.markNodeForTainting(name, zone, now);
        return node;
    }
  }

  private tainterFor(zone: string, now: number): ZoneTainter {
    let z = this.zones.get(zone);
    if (!z) this.zones.set(zone, (z = { queue: [], members: new Set(), limiter: new TokenBucket(tainterQps('Normal', 0), now), state: 'Initial' }));
    return z;
  }

  private markNodeForTainting(name: string, zone: string, now: number): void {
    const z = this.tainterFor(zone, now);
    if (z.members.has(name)) return;
    z.members.add(name);
    z.queue.push(name);
  }

  private async markNodeAsReachable(node: NodeObj, now: number): Promise<NodeObj> {
    const name = node.metadata.name ?? '';
    for (const z of this.zones.values()) {
      if (!z.members.delete(name)) continue;
      z.queue = z.queue.filter((n) => n !== name);
    }
    return this.swapTaints(node, [], [UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE], now);
  }

  /** Taints queued nodes, as many per zone as the zone's limiter admits (upstream doNoExecuteTaintingPass). */
  private async doNoExecuteTaintingPass(latest: Map<string, { node: NodeObj; ready: string | undefined }>, now: number): Promise<void> {
    for (const z of this.zones.values()) {
      const retry: string[] = [];
      while (z.queue.length > 0 && z.limiter.tryAccept(now)) {
        const name = z.queue.shift()!;
        const seen = latest.get(name);
        const node = seen?.node ?? this.nodes.get('', name);
        if (!node) {
          z.members.delete(name);
          continue;
        }
        const ready = seen ? seen.ready : getNodeCondition(node, 'Ready')?.status;
        if (ready === undefined) {
          retry.push(name);
          continue;
        }
        if (ready === 'True') continue; // recovered while waiting
        const [add, remove] = ready === 'False' ? [NOT_READY_NO_EXECUTE, UNREACHABLE_NO_EXECUTE] : [UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE];
        try {
          const updated = await this.swapTaints(node, [add], [remove], now);
          latest.set(name, { node: updated, ready });
        } catch (err) {
          log.error('cannot taint node', { node: name, err });
          retry.push(name);
        }
      }
      z.queue.push(...retry);
    }
  }

  private async handleDisruption(zoneStatuses: Map<string, (string | undefined)[]>, nodes: NodeObj[], now: number): Promise<void> {
    const newStates = new Map<string, ZoneState>();
    let allAreFullyDisrupted = true;
    for (const [zone, statuses] of zoneStatuses) {
      const { state } = computeZoneState(statuses);
      if (state !== 'FullDisruption') allAreFullyDisrupted = false;
      newStates.set(zone, state);
      this.tainterFor(zone, now);
    }
    let allWereFullyDisrupted = true;
    for (const [zone, z] of [...this.zones]) {
      if (!zoneStatuses.has(zone)) {
        this.zones.delete(zone);
        continue;
      }
      if (z.state !== 'FullDisruption') allWereFullyDisrupted = false;
    }
    if (allAreFullyDisrupted && allWereFullyDisrupted) return;

    if (allAreFullyDisrupted) {
      // Every node looks down: more likely our view is broken than every node at once. Stop evicting everywhere
      // and take the NoExecute taints back.
      log.warn('no node is Ready; entering master disruption mode, evictions stop');
      for (const node of nodes) {
        try {
          await this.markNodeAsReachable(node, now);
        } catch (err) {
          log.error('cannot untaint node', { node: node.metadata.name, err });
        }
      }
      for (const z of this.zones.values()) {
        z.limiter = new TokenBucket(0, now);
        z.state = 'FullDisruption';
      }
      return;
    }
    if (allWereFullyDisrupted) {
      // Leaving disruption mode: give every node a fresh grace period before judging it again.
      for (const node of nodes) {
        const h = this.health.get(node.metadata.name ?? '');
        if (h) h.probeTimestamp = now;
      }
    }
    for (const [zone, z] of this.zones) {
      const state = newStates.get(zone)!;
      if (z.state === state && !allWereFullyDisrupted) continue;
      z.limiter = new TokenBucket(tainterQps(state, zoneStatuses.get(zone)!.length), now);
      z.state = state;
    }
  }

  // ---- per-node sync: condition taints and evictions ------------------------------------------------------

  /** Syncs one node's NoSchedule condition taints and evicts (or schedules the eviction of) its pods. */
  async syncNode(name: string): Promise<void> {
    let node = this.nodes.get('', name);
    if (!node) return;
    const { add, remove } = computeConditionTaints(node);
    if (add.length > 0 || remove.length > 0) node = await this.swapTaints(node, add, remove, this.ctx.clock.now().getTime());
    await this.processPodsOnNode(node);
  }

  private async processPodsOnNode(node: NodeObj): Promise<void> {
    const name = node.metadata.name ?? '';
    const pods = this.pods.byIndex(POD_NODE_INDEX, name);
    const taints = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute');
    if (taints.length === 0) {
      for (const pod of pods) this.evictionStart.delete(keyOf(pod));
      this.forgetTaintTimes(name);
      return;
    }
    const now = this.ctx.clock.now().getTime();
    let nextDue = Infinity;
    const errors: string[] = [];
    for (const pod of pods) {
      const key = keyOf(pod);
      if (pod.metadata.deletionTimestamp) {
        this.evictionStart.delete(key);
        continue;
      }
      const { allTolerated, used } = getMatchingTolerations(taints, pod.spec?.tolerations ?? []);
      let due = now;
      if (allTolerated) {
        const seconds = getMinTolerationSeconds(used);
        if (seconds < 0) {
          this.evictionStart.delete(key);
          continue;
        }
        let start = this.evictionStart.get(key);
        if (start === undefined) this.evictionStart.set(key, (start = this.evictionStartTime(name, taints, pod, now)));
        due = start + seconds * 1000;
      }
      if (due > now) {
        nextDue = Math.min(nextDue, due);
        continue;
      }
      try {
        await this.evict(pod, now);
      } catch (err) {
        errors.push(`${key}: ${(err as Error).message}`);
      }
    }
    if (nextDue < Infinity) this.queue.addAfter(name, nextDue - now);
    if (errors.length) throw new Error(`cannot evict pods from node ${JSON.stringify(name)}: ${errors.join('; ')}`);
  }

  private async evict(pod: Pod, now: number): Promise<void> {
    const ns = pod.metadata.namespace ?? '';
    const name = pod.metadata.name ?? '';
    this.evictionEvents.event(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${ns}/${name}`);
    try {
      const marked = (pod.status?.conditions ?? []).some((c) => c.type === 'DisruptionTarget' && c.status === 'True');
      if (!marked) {
        const condition: Mutable<PodCondition> = {
          type: 'DisruptionTarget',
          status: 'True',
          reason: 'DeletionByTaintManager',
          message: 'Taint manager: deleting due to NoExecute taint',
          lastTransitionTime: rfc3339(now),
        };
        // Strategic merge: conditions merge by type, the kubelet's own conditions stay.
        await this.ctx.client.patch(Pods, ns, name, 'strategic', { status: { conditions: [condition] } }, { subresource: 'status' });
      }
      await this.ctx.client.delete(Pods, ns, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.evictionStart.delete(keyOf(pod));
  }

  /**
   * When a pod's toleration countdown starts: when the node's NoExecute taints were added (the earliest timeAdded,
   * to the millisecond for taints we added ourselves), or when the pod was created if that is later (a pod that
   * arrives on a tainted node gets its full toleration), never in the future.
   */
  private evictionStartTime(node: string, taints: Taint[], pod: Pod, now: number): number {
    const added = taints
      .map((t) => this.taintAddedAt.get(taintTimeKey(node, t)) ?? Date.parse(t.timeAdded ?? ''))
      .filter((t) => !Number.isNaN(t));
    let start = added.length ? Math.min(...added) : now;
    const created = Date.parse(pod.metadata.creationTimestamp ?? '');
    if (!Number.isNaN(created)) start = Math.max(start, created);
    return Math.min(start, now);
  }

  private forgetTaintTimes(node: string): void {
    for (const k of [...this.taintAddedAt.keys()]) if (k.startsWith(`${node}|`)) this.taintAddedAt.delete(k);
  }

  /**
   * Adds and removes taints on the node (a merge patch of spec.taints with the node's resourceVersion as a
   * precondition, re-read and retried on conflict). Returns the node as written, or as given when nothing changes.
   */
  private async swapTaints(node: NodeObj, add: Taint[], remove: Taint[], now: number): Promise<NodeObj> {
    const name = node.metadata.name ?? '';
    for (let attempt = 0; ; attempt++) {
      const taints = computeSwappedTaints(node, add, remove, rfc3339(now));
      if (!taints) return node;
      try {
        const written = await this.ctx.client.patch<NodeObj>(Nodes, '', name, 'merge', {
          metadata: { resourceVersion: node.metadata.resourceVersion },
          spec: { taints: taints.length > 0 ? taints : null },
        });
        for (const t of taints) {
          const k = taintTimeKey(name, t);
          if (t.timeAdded === rfc3339(now) && add.some((a) => a.key === t.key && a.effect === t.effect) && !this.taintAddedAt.has(k)) this.taintAddedAt.set(k, now);
        }
        return written;
      } catch (err) {
        if (!isConflict(err) || attempt + 1 >= MAX_TAINT_ATTEMPTS) throw err;
        node = await this.ctx.client.get<NodeObj>(Nodes, '', name);
      }
    }
  }
}

/** The key of taintAddedAt. */
function taintTimeKey(node: string, t: Taint): string {
  return `${node}|${t.key}|${t.effect}|${t.timeAdded ?? ''}`;
}

/** What a node update must change for the per-node sync to have something new to do. */
function nodeTaintInputs(node: NodeObj): string {
  return JSON.stringify([
    node.spec?.taints ?? [],
    node.spec?.unschedulable ?? false,
    (node.status?.conditions ?? []).map((c) => [c.type, c.status]),
  ]);
}
