/**
 * ResourceQuota admission (plugin/pkg/admission/resourcequota), last in the validating chain: a write that would
 * take a namespace's usage past a quota's hard limits is refused, and an admitted one is charged to the quotas that
 * track it (status.used raised in the store) before it is written, as upstream's quota evaluator does.
 *
 * For each quota of the namespace, read from the store with its revision:
 *   tracked = the quota's status.hard names this kind of object counts in, if the quota's scopes select it
 *   pods: every container must state the cpu/memory the quota tracks (`failed quota: q: must specify ...`)
 *   delta   = usage(new) − usage(old) over the tracked names (positive parts only)
 *   used + delta ≤ hard, else 403 `exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`
 * then every charged quota is written with a compare-and-swap on its revision; a conflict (another server or the
 * quota controller wrote it) re-reads and re-checks the quotas not yet charged. Writes in one namespace are
 * serialized in this process, so concurrent creates never overshoot and rarely conflict.
 *
 * Quotas are read from the store (fresh, with their revisions) only in namespaces the watch cache knows quotas in: a
 * quota created a moment ago may miss a write or two, as upstream's quota lister does.
 * A quota without status.hard is not enforced yet (the controller has not seen it); a charge for a write that then
 * fails is given back by the quota controller's next recount, as upstream.
 */
import type { Pod, ResourceQuota } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { compareQuantities, type Quantity } from '../../../api/quantity.js';
import {
  formatUsage,
  listToUsage,
  matchingResources,
  objectUsage,
  podConstraintsError,
  quotaSelects,
  sumQuantities,
  usageToList,
  type QuotaTarget,
  type Usage,
} from '../../../api/resource-quota.js';
import { conflict, forbidden, StatusError } from '../../../api/status.js';
import { RevisionConflictError, KeyNotFoundError, type Store } from '../../../storage/store.js';
import { decodeFromStore, encodeForStore, resourcePrefix } from '../../object-codec.js';
import type { AdmissionAttributes, AdmissionContext, ValidatingAdmission } from '../types.js';

const QUOTAS = { group: '', plural: 'resourcequotas' };
/** Re-reads after a conflicting quota write before giving up (upstream retries its batch the same way). */
const MAX_ATTEMPTS = 10;

type QuotaObject = ResourceQuota & KubeObject;

export interface ResourceQuotaAdmissionOptions {
  store: Store;
  /** Injected clock for the pods-stuck-terminating rule. */
  now?: () => Date;
}

export class ResourceQuotaAdmission implements ValidatingAdmission {
  readonly name = 'ResourceQuota';
  readonly operations = ['CREATE', 'UPDATE'] as const;
  private readonly store: Store;
  private readonly now: () => Date;
  /** The tail of each namespace's chain of charges. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(opts: ResourceQuotaAdmissionOptions) {
    this.store = opts.store;
    this.now = opts.now ?? (() => new Date());
  }

  handles(attrs: AdmissionAttributes): boolean {
    if (!attrs.resource.namespaced || attrs.subresource !== '' || !attrs.namespace) return false;
    // Object counts change on create only; updates change what pods, services and claims use.
    if (attrs.operation === 'UPDATE') return attrs.resource.group === '' && ['pods', 'services', 'persistentvolumeclaims'].includes(attrs.resource.plural);
    return true;
  }

  validate(attrs: AdmissionAttributes, ctx: AdmissionContext): void | Promise<void> {
    const ns = attrs.namespace;
    // Every namespaced write passes here: a namespace without quotas (as the watch cache knows them) costs nothing.
    let hasQuota = false;
    for (const q of ctx.list('', 'resourcequotas', ns)) {
      if (q.metadata.namespace === ns) {
        hasQuota = true;
        break;
      }
    }
    if (!hasQuota) return undefined;
    const prev = this.chains.get(ns) ?? Promise.resolve();
    const run = prev.then(() => this.admit(attrs));
    const tail = run.then(
      () => {},
      () => {},
    );
    this.chains.set(ns, tail);
    void tail.then(() => {
      if (this.chains.get(ns) === tail) this.chains.delete(ns);
    });
    return run;
  }

  private async admit(attrs: AdmissionAttributes): Promise<void> {
    const target: QuotaTarget = { group: attrs.resource.group, plural: attrs.resource.plural };
    const obj = attrs.object!;
    const now = this.now();
    const newUsage = objectUsage(target, obj, now);
    const oldUsage = attrs.operation === 'UPDATE' && attrs.oldObject ? objectUsage(target, attrs.oldObject, now) : new Map<string, Quantity>();
    const charged = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      const res = await this.store.list(`${resourcePrefix(QUOTAS)}${attrs.namespace}/`);
      if (res.kvs.length === 0) return;
      const quotas = res.kvs.map((kv) => ({ kv, quota: decodeFromStore(kv.key, kv.value, kv.modRevision) as QuotaObject })).sort((a, b) => (a.quota.metadata.name! < b.quota.metadata.name! ? -1 : 1));
      const charges: { key: string; revision: number; quota: QuotaObject; used: Usage }[] = [];
      for (const { kv, quota } of quotas) {
        const name = quota.metadata.name!;
        if (charged.has(name)) continue;
        const hard = listToUsage(quota.status?.hard);
        const tracked = matchingResources(target, hard.keys());
        if (tracked.length === 0 || !quotaSelects(quota, target, obj)) continue;
        if (target.group === '' && target.plural === 'pods') {
          const missing = podConstraintsError(obj as unknown as Pod, tracked);
          if (missing) throw refuse(attrs, `failed quota: ${name}: ${missing}`);
        }
        const used = listToUsage(quota.status?.used);
        if (tracked.some((r) => !used.has(r))) throw refuse(attrs, `status unknown for quota: ${name}, resources: ${tracked.join(',')}`);
        const delta: Usage = new Map();
        for (const r of tracked) {
          const n = newUsage.get(r);
          if (!n) continue;
          const o = oldUsage.get(r);
          const d = o ? { nanos: n.nanos - o.nanos, format: n.format } : n;
          if (d.nanos > 0n) delta.set(r, d);
        }
        if (delta.size === 0) continue;
        const next: Usage = new Map(used);
        const exceeded: string[] = [];
        for (const [r, d] of delta) {
          const total = sumQuantities(used.get(r)!, d);
          next.set(r, total);
          if (compareQuantities(total, hard.get(r)!) > 0) exceeded.push(r);
        }
        if (exceeded.length > 0) {
          const mask = (u: Usage) => new Map(exceeded.map((r) => [r, u.get(r)!] as [string, Quantity]));
          throw refuse(attrs, `exceeded quota: ${name}, requested: ${formatUsage(mask(delta))}, used: ${formatUsage(mask(used))}, limited: ${formatUsage(mask(hard))}`);
        }
        charges.push({ key: kv.key, revision: kv.modRevision, quota, used: next });
      }
      if (charges.length === 0 || attrs.dryRun) return;
      let conflicted = false;
      for (const c of charges) {
        const updated = structuredClone(c.quota);
        updated.status = { ...updated.status, used: usageToList(c.used) };
        try {
          await this.store.update(c.key, encodeForStore(updated as KubeObject), c.revision);
          charged.add(c.quota.metadata.name!);
        } catch (err) {
          if (err instanceof RevisionConflictError || err instanceof KeyNotFoundError) conflicted = true;
          else throw err;
        }
      }
      if (!conflicted) return;
      if (attempt + 1 >= MAX_ATTEMPTS) throw conflict({ resource: 'resourcequotas', name: charges[0]!.quota.metadata.name! });
    }
  }
}

function refuse(attrs: AdmissionAttributes, why: string): StatusError {
  const plural = attrs.resource.group ? `${attrs.resource.plural}.${attrs.resource.group}` : attrs.resource.plural;
  const err = forbidden(`${plural} "${attrs.name}" is forbidden: ${why}`);
  return new StatusError({ ...err.status, details: { name: attrs.name, group: attrs.resource.group || undefined, kind: attrs.resource.plural } });
}
