/**
 * The namespace controller (upstream pkg/controller/namespace, deletion/namespaced_resources_deleter.go). Deleting a
 * namespace only marks it (deletionTimestamp, status.phase Terminating, spec.finalizers [kubernetes]); this
 * controller then finds every namespaced resource through discovery (built-in, custom, aggregated), deletes each
 * one's objects in the namespace (deletecollection, or one by one where that is not supported), waits until they are
 * all gone, and removes the `kubernetes` finalizer through PUT namespaces/NAME/finalize, after which the API server
 * deletes the namespace. A group version whose discovery fails keeps the namespace (its objects could not be
 * deleted), as upstream: NamespaceDeletionDiscoveryFailure says which.
 *
 * Reads are live (client.list), not from caches, as upstream: finalizing on a stale cache would orphan objects.
 * While content remains the namespace is synced again after an estimate (the longest pod grace period, or 15 s
 * for objects held by finalizers), and sooner when the informers report its content being deleted.
 */
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isConflict, isNotFound, isStatusError } from '../../api/status.js';
import { isPodTerminal } from '../../api/pod.js';
import { rfc3339 } from '../../api/time.js';
import { allResourceTypes, Events, Namespaces } from '../../client/resources.js';
import type { Lister, ResourceType, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { runWorkers, type Controller, type ControllerContext } from '../controller.js';
import { computeNamespaceConditions, type DeletionOutcome } from './namespace-conditions.js';
import { discoverDeletableNamespacedResources, groupDiscoveryFailedMessage, type DiscoveredResource } from './resource-discovery.js';

type NamespaceObj = Namespace & KubeObject;

/** The finalizer token the API server puts in spec.finalizers and this controller removes. */
export const FINALIZER_KUBERNETES = 'kubernetes';
/** How long objects held by finalizers are assumed to take (upstream finalizerEstimateSeconds). */
export const FINALIZER_ESTIMATE_SECONDS = 15;
/** Delay between the deletion of a terminating namespace's object and the next look at the namespace. */
export const CONTENT_GONE_NUDGE_MS = 1_000;
/** Deletes in flight at once while emptying a resource that has no deletecollection. */
const DELETE_CONCURRENCY = 32;
/** Resources emptied at once (upstream goes one by one; in-process calls are cheap, a slow backend should not stall the rest). */
const RESOURCE_CONCURRENCY = 8;
/** Upstream's namespace queue retries failures with backoff up to 60 s (nsControllerRateLimiter). */
const MAX_RETRY_DELAY_MS = 60_000;

export interface NamespaceControllerOptions {
  /**
   * The namespaced types whose informers bring a re-check forward when a terminating namespace's object goes (default:
   * the namespaced members of allResourceTypes but Events). What is deleted is found by discovery, whatever this says.
   */
  nudgeTypes?: ResourceType[];
}

export class NamespaceController implements Controller {
  readonly name = 'namespace';
  private readonly queue: WorkQueue;
  private readonly namespaces: Lister<NamespaceObj>;
  private readonly nudgeTypes: ResourceType[];
  /** Namespaces with a pending early re-check: one timer per namespace however many objects go. */
  private readonly nudged = new Set<string>();
  /**
   * `<verb> <group>/<resource>` the server answered 405 or 404 to although discovery listed it (upstream's
   * operationNotSupportedCache): asked no more, the fallback is used instead.
   */
  private readonly notSupported = new Set<string>();

  constructor(
    private readonly ctx: ControllerContext,
    opts: NamespaceControllerOptions = {},
  ) {
    this.queue = createWorkQueue({ clock: ctx.clock, maxDelayMs: MAX_RETRY_DELAY_MS });
    this.namespaces = ctx.informers.informerFor<NamespaceObj>(Namespaces).lister;
    this.nudgeTypes = (opts.nudgeTypes ?? allResourceTypes.filter((rt) => rt !== Events)).filter((rt) => rt.namespaced);
  }

  start(): void {
    const enqueue = (ns: NamespaceObj) => {
      if (ns.metadata.deletionTimestamp) this.queue.add(ns.metadata.name ?? '');
    };
    this.ctx.informers.informerFor<NamespaceObj>(Namespaces).addEventHandler({ add: enqueue, update: (_old, ns) => enqueue(ns) });
    for (const rt of this.nudgeTypes) {
      this.ctx.informers.informerFor(rt).addEventHandler({ delete: (obj) => this.nudge(obj.metadata.namespace ?? '') });
    }
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.syncNamespace(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  /** Content of a terminating namespace went away: look again soon, maybe it is empty now. */
  private nudge(namespace: string): void {
    if (!namespace || this.nudged.has(namespace)) return;
    if (!this.namespaces.get('', namespace)?.metadata.deletionTimestamp) return;
    this.nudged.add(namespace);
    this.queue.addAfter(namespace, CONTENT_GONE_NUDGE_MS);
  }

  async syncNamespace(name: string): Promise<void> {
    this.nudged.delete(name);
    let ns: NamespaceObj;
    try {
      // Several writers edit a terminating namespace: start from its latest state.
      ns = await this.ctx.client.get<NamespaceObj>(Namespaces, '', name);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (!ns.metadata.deletionTimestamp) return;
    ns = await this.ensureTerminating(ns);
    // Finalized by us already; the namespace now waits for other finalizers (or is about to vanish).
    if (!(ns.spec?.finalizers ?? []).includes(FINALIZER_KUBERNETES)) return;

    const deletedAt = Date.parse(ns.metadata.deletionTimestamp ?? '');
    const { outcome, estimateSeconds } = await this.deleteAllContent(name, Number.isNaN(deletedAt) ? this.ctx.clock.now().getTime() : deletedAt);
    ns = await this.updateConditions(ns, outcome);
    const problems = [...(outcome.discoveryError ? [outcome.discoveryError] : []), ...[...outcome.errors].sort()];
    if (problems.length > 0) {
      // Retried with backoff (the queue's rate limiter), as upstream's syncNamespaceFromKey does for any error.
      throw new Error(`namespace ${JSON.stringify(name)}: ${problems.join('; ')}`);
    }
    if (estimateSeconds > 0) {
      // upstream ResourcesRemainingError: look again after the estimate.
      this.queue.addAfter(name, estimateSeconds * 1000);
      return;
    }
    await this.finalize(ns);
  }

  private async ensureTerminating(ns: NamespaceObj): Promise<NamespaceObj> {
    if (ns.status?.phase === 'Terminating') return ns;
    const copy = structuredClone(ns) as Mutable<NamespaceObj>;
    (copy.status ??= {}).phase = 'Terminating';
    return this.ctx.client.updateStatus<NamespaceObj>(Namespaces, '', copy as NamespaceObj);
  }

  /**
   * Deletes every object of every discovered namespaced resource in the namespace (Background propagation: owned
   * objects are deleted along with their owners, nothing is orphaned), then lists again to see what is left.
   * Discovery failures do not stop the deletion of what was discovered (upstream: "we often have some set of
   * resources we can operate against even if we don't have a complete list").
   */
  private async deleteAllContent(namespace: string, deletedAt: number): Promise<{ outcome: DeletionOutcome; estimateSeconds: number }> {
    const outcome: DeletionOutcome = { errors: [], remaining: new Map(), finalizers: new Map() };
    let resources: DiscoveredResource[] = [];
    try {
      const found = await discoverDeletableNamespacedResources(this.ctx.client);
      resources = found.resources;
      if (found.failed.size > 0) {
        outcome.discoveryError = groupDiscoveryFailedMessage(found.failed);
        outcome.discoveryFailedGroups = found.failed.size;
      }
    } catch (err) {
      outcome.discoveryError = (err as Error).message;
    }
    let estimateSeconds = 0;
    let next = 0;
    const worker = async () => {
      while (next < resources.length) {
        const r = resources[next++]!;
        const result = await this.deleteAllContentOf(r, namespace, deletedAt);
        estimateSeconds = Math.max(estimateSeconds, result.estimateSeconds);
        if (result.remaining > 0) outcome.remaining.set(`${r.rt.resource}.${r.rt.group}`, result.remaining);
        for (const [f, n] of result.finalizers) outcome.finalizers.set(f, (outcome.finalizers.get(f) ?? 0) + n);
        if (result.error) outcome.errors.push(result.error);
      }
    };
    await Promise.all(Array.from({ length: Math.min(RESOURCE_CONCURRENCY, resources.length) }, worker));
    return { outcome, estimateSeconds };
  }

  /** upstream deleteAllContentForGroupVersionResource. */
  private async deleteAllContentOf(r: DiscoveredResource, namespace: string, deletedAt: number): Promise<{ estimateSeconds: number; remaining: number; finalizers: Map<string, number>; error?: string }> {
    const { rt } = r;
    const finalizers = new Map<string, number>();
    let estimateSeconds = 0;
    try {
      if (rt.group === '' && rt.resource === 'pods') estimateSeconds = await this.estimatePodTermination(r, namespace, deletedAt);
      if (!(await this.deleteCollection(r, namespace))) await this.deleteEachItem(r, namespace);
      const left = await this.listCollection(r, namespace);
      if (!left) return { estimateSeconds, remaining: 0, finalizers };
      // Gone already: nothing to wait for, whatever the estimate said.
      if (left.length === 0) return { estimateSeconds: 0, remaining: 0, finalizers };
      for (const item of left) for (const f of item.metadata.finalizers ?? []) finalizers.set(f, (finalizers.get(f) ?? 0) + 1);
      // Pods still within their grace period are expected to remain.
      if (estimateSeconds > 0) return { estimateSeconds, remaining: left.length, finalizers };
      // Objects held by finalizers are normal: their owners (the garbage collector, an operator) need time.
      if (finalizers.size > 0) return { estimateSeconds: FINALIZER_ESTIMATE_SECONDS, remaining: left.length, finalizers };
      return { estimateSeconds, remaining: left.length, finalizers, error: `unexpected items still remain in namespace: ${namespace} for gvr: ${gvrString(rt)}` };
    } catch (err) {
      return { estimateSeconds, remaining: 0, finalizers, error: (err as Error).message };
    }
  }

  /** DELETE of the collection; false when the resource does not support it (then items are deleted one by one). */
  private async deleteCollection(r: DiscoveredResource, namespace: string): Promise<boolean> {
    const key = `deletecollection ${r.rt.group}/${r.rt.resource}`;
    if (!r.verbs.has('deletecollection') || this.notSupported.has(key)) return false;
    try {
      await this.ctx.client.deleteCollection(r.rt, namespace, { propagationPolicy: 'Background' });
      return true;
    } catch (err) {
      // A resource in discovery whose collection answers 405 or 404 (upstream kubernetes#22413): remember it.
      if (isMethodNotSupported(err) || isNotFound(err)) {
        this.notSupported.add(key);
        return false;
      }
      throw err;
    }
  }

  /** The objects of the resource in the namespace; undefined when it cannot be listed. */
  private async listCollection(r: DiscoveredResource, namespace: string): Promise<KubeObject[] | undefined> {
    const key = `list ${r.rt.group}/${r.rt.resource}`;
    if (!r.verbs.has('list') || this.notSupported.has(key)) return undefined;
    try {
      return (await this.ctx.client.list(r.rt, namespace)).items;
    } catch (err) {
      if (isMethodNotSupported(err) || isNotFound(err)) {
        this.notSupported.add(key);
        return undefined;
      }
      throw err;
    }
  }

  private async deleteEachItem(r: DiscoveredResource, namespace: string): Promise<void> {
    const items = await this.listCollection(r, namespace);
    const doomed = (items ?? []).filter((item) => !item.metadata.deletionTimestamp);
    for (let i = 0; i < doomed.length; i += DELETE_CONCURRENCY) {
      await Promise.all(
        doomed.slice(i, i + DELETE_CONCURRENCY).map(async (item) => {
          try {
            await this.ctx.client.delete(r.rt, namespace, item.metadata.name ?? '', { propagationPolicy: 'Background', preconditions: { uid: item.metadata.uid } });
          } catch (err) {
            // Gone already, not deletable after all, or replaced by a newer object of the same name that the next pass deletes.
            if (!isNotFound(err) && !isConflict(err) && !isMethodNotSupported(err)) throw err;
          }
        }),
      );
    }
  }

  /**
   * The longest grace period of the namespace's pods that have not finished, or 0 once that long has passed since
   * the namespace was deleted (upstream estimateGracefulTermination).
   */
  private async estimatePodTermination(r: DiscoveredResource, namespace: string, deletedAt: number): Promise<number> {
    const pods = await this.listCollection(r, namespace);
    const estimate = podTerminationEstimate(pods ?? []);
    return this.ctx.clock.now().getTime() - deletedAt >= estimate * 1000 ? 0 : estimate;
  }

  private async updateConditions(ns: NamespaceObj, outcome: DeletionOutcome): Promise<NamespaceObj> {
    const stamp = rfc3339(this.ctx.clock.now());
    const { conditions, changed } = computeNamespaceConditions(ns.status?.conditions ?? [], outcome, stamp);
    if (!changed) return ns;
    const copy = structuredClone(ns) as Mutable<NamespaceObj>;
    (copy.status ??= {}).conditions = conditions;
    return this.ctx.client.updateStatus<NamespaceObj>(Namespaces, '', copy as NamespaceObj);
  }

  /** PUT /finalize without our token; a conflict means someone else wrote meanwhile: re-read and try again. */
  private async finalize(ns: NamespaceObj): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const copy = structuredClone(ns) as Mutable<NamespaceObj>;
      copy.spec = { ...copy.spec, finalizers: (ns.spec?.finalizers ?? []).filter((f) => f !== FINALIZER_KUBERNETES) };
      try {
        const done = await this.ctx.client.update<NamespaceObj>(Namespaces, '', copy as NamespaceObj, { subresource: 'finalize' });
        // A PUT that reached the main resource instead leaves spec.finalizers as they were (namespace strategy).
        if ((done.spec?.finalizers ?? []).includes(FINALIZER_KUBERNETES)) {
          throw new Error(`namespace ${JSON.stringify(ns.metadata.name)}: the finalize PUT did not remove the ${FINALIZER_KUBERNETES} finalizer`);
        }
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err) || attempt >= 3) throw err;
        ns = await this.ctx.client.get<NamespaceObj>(Namespaces, '', ns.metadata.name ?? '');
      }
    }
  }
}

/**
 * The longest grace period among pods that have not finished: the deletion's own grace period once set, else the
 * pod's terminationGracePeriodSeconds (upstream estimateGracefulTerminationForPods).
 */
function podTerminationEstimate(pods: KubeObject[]): number {
  let estimate = 0;
  for (const p of pods) {
    if (isPodTerminal(p as Pod)) continue;
    const grace = p.metadata.deletionGracePeriodSeconds ?? (p.spec as { terminationGracePeriodSeconds?: number } | undefined)?.terminationGracePeriodSeconds ?? 30;
    estimate = Math.max(estimate, grace);
  }
  return estimate;
}

/** schema.GroupVersionResource's String(), as upstream's messages print it. */
function gvrString(rt: ResourceType): string {
  return `${rt.group}/${rt.version}, Resource=${rt.resource}`;
}

function isMethodNotSupported(err: unknown): boolean {
  return isStatusError(err) && err.code === 405;
}
