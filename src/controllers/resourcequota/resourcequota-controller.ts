/**
 * The resource quota controller (pkg/controller/resourcequota): keeps every ResourceQuota's status true.
 * status.hard is copied from spec.hard, and status.used is recounted from the namespace's objects (every hard name,
 * 0 when nothing counts), with the usage rules the ResourceQuota admission plugin charges by (api/resource-quota.ts).
 *
 * A quota is recounted when it is created or its spec changes, when something it counts is given back (a pod deleted
 * or finished, a service, claim, config map or secret deleted, a service's type or a claim's size changed), and on a
 * resync every 5 minutes (kube-controller-manager --resource-quota-sync-period). Admission raises status.used itself
 * when it admits a write; the controller lowers it again when usage goes (replenishment) and repairs charges for
 * writes that failed after admission.
 */
import type { Pod, ResourceQuota, Service } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { countName, matchingResources, objectUsage, quotaSelects, podCountsForQuota, sumQuantities, usageToList, type QuotaTarget, type Usage } from '../../api/resource-quota.js';
import { isConflict, isNotFound } from '../../api/status.js';
import { allResourceTypes, ConfigMaps, PersistentVolumeClaims, Pods, ResourceQuotas, Secrets, Services } from '../../client/resources.js';
import type { Client, Clock, Informer, ResourceType, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';

type QuotaObject = ResourceQuota & KubeObject;

/** kube-controller-manager's --resource-quota-sync-period default. */
export const QUOTA_RESYNC_MS = 5 * 60_000;

/** Kinds watched only once a quota counts them (see watchCounted). */
const LAZILY_WATCHED: ResourceType[] = [ConfigMaps];

const ZERO = { nanos: 0n, format: 'DecimalSI' as const };

export interface ResourceQuotaControllerOptions {
  resyncMs?: number;
}

export class ResourceQuotaController implements Controller {
  readonly name = 'resourcequota';
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly queue: WorkQueue;
  private readonly resyncMs: number;
  private readonly quotas: Informer<QuotaObject>;
  /** The kinds kept in informers (the ones quotas usually count); others are listed when a quota names them. */
  private readonly watched: Map<string, Informer<KubeObject>>;
  private readonly informers: ControllerContext['informers'];

  constructor(ctx: ControllerContext, opts: ResourceQuotaControllerOptions = {}) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.resyncMs = opts.resyncMs ?? QUOTA_RESYNC_MS;
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.informers = ctx.informers;
    this.quotas = ctx.informers.informerFor<QuotaObject>(ResourceQuotas);
    this.watched = new Map([Pods, Services, PersistentVolumeClaims, Secrets].map((rt) => [rt.resource, ctx.informers.informerFor<KubeObject>(rt)]));
  }

  /**
   * Starts watching the lazily watched kinds a quota counts. Nothing else in the control plane watches every
   * ConfigMap, and in one process a second copy of each one (and its events) is a cost every cluster would pay for
   * quotas few write; so ConfigMaps are watched from the first quota that counts them on.
   */
  private watchCounted(quota: QuotaObject): void {
    const names = Object.keys(quota.spec?.hard ?? {});
    for (const rt of LAZILY_WATCHED) {
      if (this.watched.has(rt.resource) || matchingResources({ group: rt.group, plural: rt.resource }, names).length === 0) continue;
      const informer = this.informers.informerFor<KubeObject>(rt);
      informer.addEventHandler({ delete: (obj) => this.enqueueNamespace(obj.metadata.namespace ?? '') });
      this.watched.set(rt.resource, informer);
    }
  }

  start(): void {
    this.quotas.addEventHandler({
      add: (q) => {
        this.watchCounted(q);
        this.queue.add(keyOf(q));
      },
      update: (old, cur) => {
        this.watchCounted(cur);
        // Admission's charges change status.used only; the controller follows spec changes and missing status.
        if (JSON.stringify(old.spec) !== JSON.stringify(cur.spec) || JSON.stringify(cur.status?.hard ?? {}) !== JSON.stringify(cur.spec?.hard ?? {})) this.queue.add(keyOf(cur));
      },
    });
    const replenish = (obj: KubeObject) => this.enqueueNamespace(obj.metadata.namespace ?? '');
    this.watched.get('pods')!.addEventHandler({
      update: (old, cur) => {
        const now = this.clock.now();
        if (podCountsForQuota(old as unknown as Pod, now) && !podCountsForQuota(cur as unknown as Pod, now)) replenish(cur);
      },
      delete: replenish,
    });
    this.watched.get('services')!.addEventHandler({
      update: (old, cur) => {
        const a = (old as unknown as Service).spec;
        const b = (cur as unknown as Service).spec;
        if (a?.type !== b?.type || (a?.ports?.length ?? 0) !== (b?.ports?.length ?? 0)) replenish(cur);
      },
      delete: replenish,
    });
    this.watched.get('persistentvolumeclaims')!.addEventHandler({
      update: (old, cur) => {
        if (JSON.stringify((old as { spec?: { resources?: unknown } }).spec?.resources) !== JSON.stringify((cur as { spec?: { resources?: unknown } }).spec?.resources)) replenish(cur);
      },
      delete: replenish,
    });
    this.watched.get('secrets')!.addEventHandler({ delete: replenish });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  private enqueueNamespace(namespace: string): void {
    for (const q of this.quotas.lister.list(namespace)) this.queue.add(keyOf(q));
  }

  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const quota = this.quotas.lister.get(namespace, name);
    if (!quota) return;
    // The periodic recount: level-based, it also repairs what events missed.
    this.queue.addAfter(key, this.resyncMs);
    const hard = quota.spec?.hard ?? {};
    const used = await this.computeUsed(quota, Object.keys(hard));
    const status = { hard: { ...hard }, used: usageToList(used) };
    if (JSON.stringify(canonical(quota.status?.hard)) === JSON.stringify(canonical(status.hard)) && JSON.stringify(canonical(quota.status?.used)) === JSON.stringify(status.used)) return;
    try {
      await this.client.updateStatus(ResourceQuotas, namespace, { ...quota, status });
    } catch (err) {
      if (isNotFound(err)) return;
      if (!isConflict(err)) throw err;
      // Admission charged the quota meanwhile, or the cache lags: count again against the live object, once; a
      // second conflict goes back to the queue with backoff.
      let live: QuotaObject;
      try {
        live = await this.client.get<QuotaObject>(ResourceQuotas, namespace, name);
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      const fresh = { hard: { ...(live.spec?.hard ?? {}) }, used: usageToList(await this.computeUsed(live, Object.keys(live.spec?.hard ?? {}))) };
      await this.client.updateStatus(ResourceQuotas, namespace, { ...live, status: fresh });
    }
  }

  /** What the namespace uses of each hard name (0 for names nothing counts in). */
  private async computeUsed(quota: QuotaObject, names: string[]): Promise<Usage> {
    const used: Usage = new Map(names.map((n) => [n, ZERO]));
    const namespace = quota.metadata.namespace ?? '';
    const now = this.clock.now();
    for (const { target, objects } of await this.targetsFor(names, namespace)) {
      const tracked = matchingResources(target, names);
      if (tracked.length === 0) continue;
      for (const obj of objects) {
        if (!quotaSelects(quota, target, obj)) continue;
        const usage = objectUsage(target, obj, now);
        for (const r of tracked) {
          const q = usage.get(r);
          if (q) used.set(r, sumQuantities(used.get(r)!, q));
        }
      }
    }
    return used;
  }

  /** The kinds of object the names count, with their objects in the namespace (informer caches, else a list). */
  private async targetsFor(names: string[], namespace: string): Promise<{ target: QuotaTarget; objects: KubeObject[] }[]> {
    const out: { target: QuotaTarget; objects: KubeObject[] }[] = [];
    for (const [plural, informer] of this.watched) {
      // A kind watched a moment ago is read from the API until its informer has its first list.
      const rt = allResourceTypes.find((t: ResourceType) => t.group === '' && t.resource === plural)!;
      const objects = informer.hasSynced() ? informer.lister.list(namespace) : (await this.client.list(rt, namespace)).items;
      out.push({ target: { group: '', plural }, objects });
    }
    out.push({ target: { group: '', plural: 'resourcequotas' }, objects: this.quotas.lister.list(namespace) });
    const covered = new Set(out.map((t) => countName(t.target)));
    for (const n of names) {
      if (!n.startsWith('count/') || covered.has(n)) continue;
      const rt = allResourceTypes.find((t: ResourceType) => countName({ group: t.group, plural: t.resource }) === n);
      if (!rt || !rt.namespaced) continue;
      covered.add(n);
      const list = await this.client.list(rt, namespace);
      out.push({ target: { group: rt.group, plural: rt.resource }, objects: list.items });
    }
    return out;
  }
}

function canonical(list: Record<string, unknown> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(list ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, String(v)]));
}
