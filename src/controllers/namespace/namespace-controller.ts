/**
 * The namespace controller (upstream pkg/controller/namespace, deletion/namespaced_resources_deleter.go). Deleting a
 * namespace only marks it (deletionTimestamp, status.phase Terminating, spec.finalizers [kubernetes]); this
 * controller then deletes every namespaced object of every type in it, waits until they are all gone, and removes
 * the `kubernetes` finalizer through PUT namespaces/NAME/finalize, after which the API server deletes the namespace.
 *
 * Reads are live (client.list), not from caches, as upstream: finalizing on a stale cache would orphan objects.
 * While content remains the namespace is synced again after an estimate (the longest pod grace period, or 15 s
 * for objects held by finalizers), and sooner when the informers report its content being deleted.
 */
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isConflict, isNotFound } from '../../api/status.js';
import { isPodTerminal } from '../../api/pod.js';
import { rfc3339 } from '../../api/time.js';
import { allResourceTypes, Namespaces, Pods } from '../../client/resources.js';
import type { Lister, ResourceType, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { runWorkers, type Controller, type ControllerContext } from '../controller.js';
import { computeNamespaceConditions, type DeletionOutcome } from './namespace-conditions.js';

type NamespaceObj = Namespace & KubeObject;

/** The finalizer token the API server puts in spec.finalizers and this controller removes. */
export const FINALIZER_KUBERNETES = 'kubernetes';
/** How long objects held by finalizers are assumed to take (upstream finalizerEstimateSeconds). */
export const FINALIZER_ESTIMATE_SECONDS = 15;
/** Delay between the deletion of a terminating namespace's object and the next look at the namespace. */
export const CONTENT_GONE_NUDGE_MS = 1_000;
/** Deletes in flight at once while emptying one resource type (upstream uses one DELETE collection call). */
const DELETE_CONCURRENCY = 32;
/** Upstream's namespace queue retries failures with backoff up to 60 s (nsControllerRateLimiter). */
const MAX_RETRY_DELAY_MS = 60_000;

export interface NamespaceControllerOptions {
  /** The namespaced types to empty (default: the namespaced members of allResourceTypes). */
  resourceTypes?: ResourceType[];
}

export class NamespaceController implements Controller {
  readonly name = 'namespace';
  private readonly queue: WorkQueue;
  private readonly namespaces: Lister<NamespaceObj>;
  private readonly resourceTypes: ResourceType[];
  /** Namespaces with a pending early re-check: one timer per namespace however many objects go. */
  private readonly nudged = new Set<string>();

  constructor(
    private readonly ctx: ControllerContext,
    opts: NamespaceControllerOptions = {},
  ) {
    this.queue = createWorkQueue({ clock: ctx.clock, maxDelayMs: MAX_RETRY_DELAY_MS });
    this.namespaces = ctx.informers.informerFor<NamespaceObj>(Namespaces).lister;
    this.resourceTypes = (opts.resourceTypes ?? allResourceTypes).filter((rt) => rt.namespaced);
  }

  start(): void {
    const enqueue = (ns: NamespaceObj) => {
      if (ns.metadata.deletionTimestamp) this.queue.add(ns.metadata.name ?? '');
    };
    this.ctx.informers.informerFor<NamespaceObj>(Namespaces).addEventHandler({ add: enqueue, update: (_old, ns) => enqueue(ns) });
    for (const rt of this.resourceTypes) {
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

    const { outcome, estimateSeconds } = await this.deleteAllContent(name);
    ns = await this.updateConditions(ns, outcome);
    if (outcome.errors.length > 0) {
      throw new Error(`namespace ${JSON.stringify(name)}: ${outcome.errors.length} resource types could not be emptied: ${[...outcome.errors].sort().join('; ')}`);
    }
    if (outcome.remaining.size > 0) {
      this.queue.addAfter(name, Math.max(1, estimateSeconds) * 1000);
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
   * Deletes every object of every namespaced type in the namespace (Background propagation: owned objects are
   * deleted along with their owners, nothing is orphaned), then lists again to see what is left.
   */
  private async deleteAllContent(namespace: string): Promise<{ outcome: DeletionOutcome; estimateSeconds: number }> {
    const outcome: DeletionOutcome = { errors: [], remaining: new Map(), finalizers: new Map() };
    let estimateSeconds = 0;
    for (const rt of this.resourceTypes) {
      const label = `${rt.resource}.${rt.group}`;
      try {
        const items = (await this.ctx.client.list(rt, namespace)).items;
        if (items.length === 0) continue;
        // Pods go gracefully: their kubelets need up to the longest grace period to stop them.
        if (rt === Pods) estimateSeconds = Math.max(estimateSeconds, podTerminationEstimate(items));
        const doomed = items.filter((item) => !item.metadata.deletionTimestamp);
        for (let i = 0; i < doomed.length; i += DELETE_CONCURRENCY) {
          await Promise.all(
            doomed.slice(i, i + DELETE_CONCURRENCY).map(async (item) => {
              try {
                await this.ctx.client.delete(rt, namespace, item.metadata.name ?? '', { propagationPolicy: 'Background', preconditions: { uid: item.metadata.uid } });
              } catch (err) {
                // Gone already, or replaced by a newer object of the same name that the next pass deletes.
                if (!isNotFound(err) && !isConflict(err)) throw err;
              }
            }),
          );
        }
        const left = (await this.ctx.client.list(rt, namespace)).items;
        if (left.length === 0) continue;
        outcome.remaining.set(label, left.length);
        let held = false;
        for (const item of left) {
          for (const f of item.metadata.finalizers ?? []) {
            outcome.finalizers.set(f, (outcome.finalizers.get(f) ?? 0) + 1);
            held = true;
          }
        }
        if (held) estimateSeconds = Math.max(estimateSeconds, FINALIZER_ESTIMATE_SECONDS);
        else if (rt !== Pods) outcome.errors.push(`unexpected items still remain in namespace: ${namespace} for gvr: ${label}`);
      } catch (err) {
        outcome.errors.push(`${label}: ${(err as Error).message}`);
      }
    }
    return { outcome, estimateSeconds };
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

/** The longest terminationGracePeriodSeconds among pods that have not finished (upstream estimateGracefulTermination). */
function podTerminationEstimate(pods: KubeObject[]): number {
  let estimate = 0;
  for (const p of pods) {
    if (isPodTerminal(p as Pod)) continue;
    const grace = (p.spec as { terminationGracePeriodSeconds?: number } | undefined)?.terminationGracePeriodSeconds ?? 30;
    estimate = Math.max(estimate, grace);
  }
  return estimate;
}
