/**
 * The pod garbage collector (upstream pkg/controller/podgc/gc_controller.go). Every 20 s it force-deletes (grace 0):
 * - terminated pods (Succeeded/Failed) beyond --terminated-pod-gc-threshold, evicted ones first, then oldest first;
 * - terminating pods on a NotReady node tainted node.kubernetes.io/out-of-service (the node is known to be down);
 * - orphaned pods bound to a node that no longer exists: a node missing from the cache is quarantined for 40 s
 *   and then checked with a live GET, so a cache that is merely behind does not cost anyone their pods;
 * - terminating pods that were never scheduled (no kubelet will ever finish them).
 * A pod that has not finished is first marked Failed (with a DisruptionTarget condition for orphans), so that its
 * Job sees a failure and no kubelet-less pod stays Running forever.
 */
import type { Node, Pod as K8sPod, PodCondition } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isPodTerminal } from '../../api/pod.js';
import { isNotFound } from '../../api/status.js';
import { rfc3339 } from '../../api/time.js';
import { Nodes, Pods } from '../../client/resources.js';
import type { Lister } from '../../client/types.js';
import { keyOf, type Controller, type ControllerContext } from '../controller.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('pod-garbage-collector-controller');

type Pod = K8sPod & KubeObject;
type NodeObj = Node & KubeObject;

/** How often the collector runs (upstream gcCheckPeriod). */
export const GC_CHECK_PERIOD_MS = 20_000;
/** How long a node may be missing from the cache before a live GET decides (upstream quarantineTime). */
export const QUARANTINE_MS = 40_000;
export const OUT_OF_SERVICE_TAINT = 'node.kubernetes.io/out-of-service';
const DELETE_CONCURRENCY = 50;

export class PodGCController implements Controller {
  readonly name = 'pod-garbage-collector';
  private readonly pods: Lister<Pod>;
  private readonly nodes: Lister<NodeObj>;
  /** node name -> when a pod bound to it was first seen while the node was missing from the cache */
  private readonly missingSince = new Map<string, number>();
  private timer: { cancel(): void } | undefined;
  private stopped = false;
  private finish: (() => void) | undefined;

  constructor(private readonly ctx: ControllerContext) {
    this.pods = ctx.informers.informerFor<Pod>(Pods).lister;
    this.nodes = ctx.informers.informerFor<NodeObj>(Nodes).lister;
  }

  /** Nothing to register: the collector polls its listers instead of reacting to events (as upstream). */
  start(): void {}

  /** Runs gc() now and then every GC_CHECK_PERIOD_MS after each pass ends, until stop(). `workers` is unused. */
  run(_workers: number): Promise<void> {
    return new Promise((resolve) => {
      this.finish = resolve;
      const tick = async () => {
        if (this.stopped) return;
        await this.gc();
        if (this.stopped) return;
        this.timer = this.ctx.clock.setTimeout(() => void tick(), GC_CHECK_PERIOD_MS);
      };
      void tick();
    });
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.finish?.();
  }

  /** One pass. Failures are logged per pod and retried on the next pass; a pass never throws. */
  async gc(): Promise<void> {
    const pods = this.pods.list();
    const nodeNames = new Set(this.nodes.list().map((n) => n.metadata.name ?? ''));
    const threshold = this.ctx.options.terminatedPodGCThreshold;
    if (threshold > 0) await this.gcTerminated(pods, threshold);
    await this.gcTerminatingOutOfService(pods);
    await this.gcOrphaned(pods, nodeNames);
    await this.gcUnscheduledTerminating(pods);
  }

  private async gcTerminated(pods: Pod[], threshold: number): Promise<void> {
    const terminated = pods.filter(isPodTerminated);
    const excess = terminated.length - threshold;
    if (excess <= 0) return;
    terminated.sort(byEvictionAndCreationTimestamp);
    await this.forEach(terminated.slice(0, excess), (pod) => this.markFailedAndDelete(pod));
  }

  private async gcTerminatingOutOfService(pods: Pod[]): Promise<void> {
    const victims = pods.filter((pod) => {
      if (!pod.metadata.deletionTimestamp || !pod.spec?.nodeName) return false;
      const node = this.nodes.get('', pod.spec.nodeName);
      return !!node && !isNodeReady(node) && (node.spec?.taints ?? []).some((t) => t.key === OUT_OF_SERVICE_TAINT);
    });
    victims.sort(byEvictionAndCreationTimestamp);
    await this.forEach(victims, (pod) => this.markFailedAndDelete(pod));
  }

  private async gcOrphaned(pods: Pod[], nodeNames: Set<string>): Promise<void> {
    const now = this.ctx.clock.now().getTime();
    for (const pod of pods) {
      const node = pod.spec?.nodeName;
      if (node && !nodeNames.has(node) && !this.missingSince.has(node)) this.missingSince.set(node, now);
    }
    const deleted = new Set<string>();
    for (const [node, since] of [...this.missingSince]) {
      if (now - since < QUARANTINE_MS) continue;
      this.missingSince.delete(node);
      if (nodeNames.has(node)) continue;
      try {
        await this.ctx.client.get(Nodes, '', node);
      } catch (err) {
        if (isNotFound(err)) deleted.add(node);
        else log.error('cannot check whether the node exists', { node, err });
      }
    }
    if (deleted.size === 0) return;
    const condition: Mutable<PodCondition> = { type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC', message: 'PodGC: node no longer exists' };
    await this.forEach(
      pods.filter((p) => deleted.has(p.spec?.nodeName ?? '')),
      (pod) => this.markFailedAndDelete(pod, condition),
    );
  }

  private async gcUnscheduledTerminating(pods: Pod[]): Promise<void> {
    await this.forEach(
      pods.filter((p) => p.metadata.deletionTimestamp && !p.spec?.nodeName),
      (pod) => this.markFailedAndDelete(pod),
    );
  }

  /** Runs fn for every pod, DELETE_CONCURRENCY at a time (upstream: a goroutine each). */
  private async forEach(pods: Pod[], fn: (pod: Pod) => Promise<void>): Promise<void> {
    for (let i = 0; i < pods.length; i += DELETE_CONCURRENCY) {
      await Promise.all(
        pods.slice(i, i + DELETE_CONCURRENCY).map(async (pod) => {
          try {
            await fn(pod);
          } catch (err) {
            if (isNotFound(err)) return; // someone else finished the job
            log.error('failed to delete pod', { pod: keyOf(pod), err });
          }
        }),
      );
    }
  }

  private async markFailedAndDelete(pod: Pod, condition?: Mutable<PodCondition>): Promise<void> {
    const ns = pod.metadata.namespace ?? '';
    const name = pod.metadata.name ?? '';
    if (!isPodTerminal(pod)) {
      const status: Record<string, unknown> = { phase: 'Failed' };
      if (condition) status.conditions = [{ ...condition, lastTransitionTime: rfc3339(this.ctx.clock.now()) }];
      // Strategic merge: conditions merge by type on the server, so the kubelet's conditions are kept.
      await this.ctx.client.patch(Pods, ns, name, 'strategic', { status }, { subresource: 'status' });
    }
    await this.ctx.client.delete(Pods, ns, name, { gracePeriodSeconds: 0 });
  }
}

/** Upstream isPodTerminated: any phase but Pending, Running and Unknown. */
function isPodTerminated(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== undefined && phase !== 'Pending' && phase !== 'Running' && phase !== 'Unknown';
}

function isPodEvicted(pod: Pod): boolean {
  return pod.status?.phase === 'Failed' && pod.status.reason === 'Evicted';
}

/** Evicted pods first (they are the least likely to be looked at), then oldest first, then by name. */
function byEvictionAndCreationTimestamp(a: Pod, b: Pod): number {
  const ea = isPodEvicted(a);
  const eb = isPodEvicted(b);
  if (ea !== eb) return ea ? -1 : 1;
  const ta = Date.parse(a.metadata.creationTimestamp ?? '') || 0;
  const tb = Date.parse(b.metadata.creationTimestamp ?? '') || 0;
  if (ta !== tb) return ta - tb;
  return (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

function isNodeReady(node: NodeObj): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}
