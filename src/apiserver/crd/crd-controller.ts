/**
 * Serves the custom resources of every CustomResourceDefinition (apiextensions-apiserver's naming, establishing and
 * finalizer controllers, in one loop inside the API server): follows the CRDs in the watch cache, and for each one
 *
 *   names free in its group? ─ no ─▶ NamesAccepted False (PluralConflict, ...), Established False, not served
 *        │ yes
 *        ▼
 *   registry.set(crd, one definition per served version)   (served from this moment: routing, discovery, OpenAPI)
 *   status: NamesAccepted True, Established True, acceptedNames = spec.names, storedVersions += storage version
 *        │ deletionTimestamp set
 *        ▼
 *   Terminating True (InstanceDeletionInProgress): delete every object of the CRD, wait until they are gone,
 *   then drop the customresourcecleanup finalizer; the CRD's removal takes its definitions out of the registry.
 *
 * Work is per CRD name, one at a time per name, retried after a second when it fails (a conflict, objects still
 * finalizing). Registration happens synchronously on the cache event, so a CRD is served well within a second.
 */
import type { KubeObject } from '../../api/object.js';
import { isConflict, isNotFound } from '../../api/status.js';
import { rfc3339 } from '../../api/time.js';
import { createLogger } from '../../log/logger.js';
import { resourcePrefix } from '../object-codec.js';
import type { ResourceRegistry } from '../registry/resource-registry.js';
import type { ResourceDefinition } from '../registry/types.js';
import type { ResourceOps } from '../resource-ops.js';
import type { CacheWatcher, WatchCache } from '../watch-cache.js';
import { customResourceDefinitions } from './custom-resource.js';
import { CLEANUP_FINALIZER, conditionOf, deepEqual, type CrdCondition, type CrdNames, type CrdStatus, type CustomResourceDefinition } from './json-schema.js';

const log = createLogger('crd');
const RETRY_MS = 1000;
const NAMESPACES_PREFIX = '/registry/core/namespaces/';

export interface CrdControllerOptions {
  cache: WatchCache;
  ops: ResourceOps;
  registry: ResourceRegistry;
  /** The served definition of customresourcedefinitions (apiextensions.k8s.io/v1). */
  crds: ResourceDefinition;
}

export class CrdController {
  private readonly prefix: string;
  private watcher: CacheWatcher | undefined;
  /** What each served CRD was registered from (its spec and storedVersions), so unchanged CRDs are not rebuilt. */
  private readonly served = new Map<string, string>();
  private readonly terminating = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly opts: CrdControllerOptions) {
    this.prefix = resourcePrefix(opts.crds);
  }

  /** Serves the CRDs the cache holds now (synchronously), then follows its events. Call after the cache started. */
  start(): void {
    this.deleteOrphans();
    const rc = this.opts.cache.resourceFor(this.prefix);
    this.watcher = rc.subscribe(
      (events) => {
        for (const ev of events) this.enqueue(ev.obj.metadata.name ?? '');
        return true;
      },
      // The cache starts over (its store watch failed): follow it again and recheck every CRD.
      () => {
        if (!this.stopped) queueMicrotask(() => this.start());
      },
    );
    const names = new Set([...rc.items.values()].map((i) => i.obj.metadata.name ?? ''));
    for (const name of this.served.keys()) names.add(name);
    for (const name of names) this.enqueue(name);
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Waits until no work is queued (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()]);
  }

  /**
   * Custom objects left in namespaces that no longer exist (deleted while their CRD was not served, or before this
   * server ran) are deleted at start. Those of a namespace being deleted are the namespace controller's: it finds
   * custom resources through discovery, deletes them and waits for them, finalizers included.
   */
  private deleteOrphans(): void {
    queueMicrotask(() => {
      const namespaces = this.opts.cache.resourceFor(NAMESPACES_PREFIX).items;
      for (const def of this.namespacedCustomStorage()) {
        const orphaned = new Set<string>();
        for (const item of this.opts.cache.resourceFor(resourcePrefix(def)).items.values()) {
          const ns = item.obj.metadata.namespace ?? '';
          if (ns && !namespaces.has(`${NAMESPACES_PREFIX}${ns}`)) orphaned.add(ns);
        }
        for (const ns of orphaned) void this.emptyNamespace(ns);
      }
    });
  }

  /** The storage-version definitions of the namespaced custom resources served now. */
  private namespacedCustomStorage(): ResourceDefinition[] {
    const out: ResourceDefinition[] = [];
    for (const name of this.served.keys()) {
      const crd = this.current(name);
      const storage = crd?.spec.versions.find((v) => v.storage);
      if (!crd || !storage || crd.spec.scope !== 'Namespaced') continue;
      const def = this.opts.registry.lookup(crd.spec.group, storage.name, crd.spec.names.plural);
      if (def) out.push(def);
    }
    return out;
  }

  private async emptyNamespace(namespace: string): Promise<void> {
    if (!namespace || this.stopped) return;
    for (const def of this.namespacedCustomStorage()) {
      const prefix = `${resourcePrefix(def)}${namespace}/`;
      for (const item of [...this.opts.cache.resourceFor(resourcePrefix(def)).items.values()]) {
        if (!item.key.startsWith(prefix) || item.obj.metadata.deletionTimestamp) continue;
        try {
          await this.opts.ops.delete(def, namespace, item.obj.metadata.name ?? '', { dryRun: false });
        } catch (err) {
          if (!isNotFound(err)) log.warn('cannot delete a custom object of a namespace that no longer exists', { key: item.key, err });
        }
      }
    }
  }

  private current(name: string): CustomResourceDefinition | undefined {
    return this.opts.cache.resourceFor(this.prefix).items.get(`${this.prefix}${name}`)?.obj as CustomResourceDefinition | undefined;
  }

  private enqueue(name: string): void {
    if (this.stopped || !name) return;
    // Serving follows the cache at once; status writes and cleanup run in the background.
    this.serve(name);
    if (this.running.has(name)) {
      this.again.add(name);
      return;
    }
    const run = this.reconcile(name)
      .catch((err: unknown) => {
        if (!isConflict(err) && !isNotFound(err)) log.warn('CRD reconcile failed; retrying', { crd: name, err });
        this.retry(name);
      })
      .finally(() => {
        this.running.delete(name);
        if (this.again.delete(name)) this.enqueue(name);
      });
    this.running.set(name, run);
  }

  private retry(name: string): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.enqueue(name);
    }, RETRY_MS);
    t.unref?.();
    this.timers.add(t);
  }

  /** Registers or unregisters the CRD's definitions to match the cache (synchronous). */
  private serve(name: string): void {
    const crd = this.current(name);
    if (!crd) {
      this.served.delete(name);
      this.terminating.delete(name);
      this.opts.registry.remove(name);
      return;
    }
    if (crd.metadata.deletionTimestamp) this.terminating.add(name);
    const conflict = this.namesConflict(crd);
    if (conflict) {
      if (!this.served.has(name)) return;
      // A served CRD keeps its names (upstream never revokes accepted names).
    }
    const fingerprint = JSON.stringify([crd.spec, crd.status?.storedVersions ?? []]);
    if (this.served.get(name) === fingerprint) return;
    const state = { terminating: () => this.terminating.has(name), services: this.opts.ops.cacheView };
    try {
      this.opts.registry.set(name, customResourceDefinitions(crd, state));
      this.served.set(name, fingerprint);
    } catch (err) {
      log.warn('cannot serve the custom resources of a CRD', { crd: name, err });
    }
  }

  /** The first of the CRD's names another served CRD (or built-in resource) of its group already uses. */
  private namesConflict(crd: CustomResourceDefinition): { reason: string; message: string } | undefined {
    const { group, names } = crd.spec;
    const mine = crd.metadata.name;
    const taken = { plural: new Set<string>(), singular: new Set<string>(), kind: new Set<string>(), listKind: new Set<string>(), shortNames: new Set<string>() };
    // Names other CRDs of the group have accepted are theirs, whichever is looked at first (after a restart too).
    for (const item of this.opts.cache.resourceFor(this.prefix).items.values()) {
      const other = item.obj as CustomResourceDefinition;
      const accepted = other.status?.acceptedNames;
      if (other.metadata.name === mine || other.spec?.group !== group || !accepted?.plural) continue;
      taken.plural.add(accepted.plural);
      if (accepted.singular) taken.singular.add(accepted.singular);
      taken.kind.add(accepted.kind);
      if (accepted.listKind) taken.listKind.add(accepted.listKind);
      for (const s of accepted.shortNames ?? []) taken.shortNames.add(s);
    }
    for (const def of this.opts.registry.all()) {
      if (def.group !== group || this.ownedBy(def, mine)) continue;
      taken.plural.add(def.plural);
      taken.singular.add(def.singular);
      taken.kind.add(def.kind);
      taken.listKind.add(def.listKind);
      for (const s of def.shortNames ?? []) taken.shortNames.add(s);
    }
    const inUse = (v: string) => ({ message: `"${v}" is already in use` });
    if (taken.plural.has(names.plural)) return { reason: 'PluralConflict', ...inUse(names.plural) };
    if (names.singular && taken.singular.has(names.singular)) return { reason: 'SingularConflict', ...inUse(names.singular) };
    for (const s of names.shortNames ?? []) if (taken.shortNames.has(s)) return { reason: 'ShortNamesConflict', ...inUse(s) };
    if (taken.kind.has(names.kind)) return { reason: 'KindConflict', ...inUse(names.kind) };
    if (names.listKind && taken.listKind.has(names.listKind)) return { reason: 'ListKindConflict', ...inUse(names.listKind) };
    return undefined;
  }

  private ownedBy(def: ResourceDefinition, crdName: string | undefined): boolean {
    return crdName !== undefined && this.served.has(crdName) && `${def.plural}.${def.group}` === crdName;
  }

  private async reconcile(name: string): Promise<void> {
    const crd = this.current(name);
    if (!crd) return;
    const status = this.desiredStatus(crd);
    if (!deepEqual(stripTimes(status), stripTimes(crd.status ?? {}))) {
      await this.opts.ops.update(this.opts.crds, '', name, (cur) => {
        (cur as CustomResourceDefinition).status = this.desiredStatus(cur as CustomResourceDefinition);
        return cur;
      }, { dryRun: false, subresource: 'status' });
    }
    if (crd.metadata.deletionTimestamp && crd.metadata.finalizers?.includes(CLEANUP_FINALIZER)) await this.cleanUp(crd);
  }

  private desiredStatus(crd: CustomResourceDefinition): CrdStatus {
    const now = rfc3339(new Date());
    const old = crd.status ?? {};
    const conflict = this.served.has(crd.metadata.name ?? '') ? undefined : this.namesConflict(crd);
    const conditions: CrdCondition[] = [];
    const set = (c: CrdCondition) => {
      const prev = conditionOf(crd, c.type);
      conditions.push({ ...c, lastTransitionTime: prev && prev.status === c.status ? (prev.lastTransitionTime ?? now) : now });
    };
    if (conflict) {
      set({ type: 'NamesAccepted', status: 'False', reason: conflict.reason, message: conflict.message });
      set({ type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' });
    } else {
      set({ type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' });
      set({ type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' });
    }
    const terminating = conditionOf(crd, 'Terminating');
    if (crd.metadata.deletionTimestamp) {
      set({ type: 'Terminating', status: 'True', reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' });
    } else if (terminating) conditions.push(terminating);
    const acceptedNames: CrdNames = conflict ? (old.acceptedNames ?? { plural: '', kind: '' }) : { ...crd.spec.names };
    const storedVersions = [...(old.storedVersions ?? [])];
    const storage = crd.spec.versions.find((v) => v.storage)?.name;
    if (!conflict && storage && !storedVersions.includes(storage)) storedVersions.push(storage);
    return { conditions, acceptedNames, storedVersions };
  }

  /** Deletes the CRD's objects; drops the finalizer once none is left (else retries). */
  private async cleanUp(crd: CustomResourceDefinition): Promise<void> {
    const name = crd.metadata.name ?? '';
    const storage = crd.spec.versions.find((v) => v.storage);
    const def = storage && this.opts.registry.lookup(crd.spec.group, storage.name, crd.spec.names.plural);
    const items = [...this.opts.cache.resourceFor(resourcePrefix({ group: crd.spec.group, plural: crd.spec.names.plural })).items.values()];
    if (def && items.length > 0) {
      for (const item of items) {
        if (item.obj.metadata.deletionTimestamp) continue;
        try {
          await this.opts.ops.delete(def.storedAs ? (this.opts.registry.lookup(def.storedAs.group, def.storedAs.version, def.storedAs.plural) ?? def) : def, item.obj.metadata.namespace ?? '', item.obj.metadata.name ?? '', { dryRun: false });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      // Objects with finalizers of their own go when those are done; look again shortly.
      this.retry(name);
      return;
    }
    await this.opts.ops.update(this.opts.crds, '', name, (cur: KubeObject) => {
      cur.metadata.finalizers = (cur.metadata.finalizers ?? []).filter((f) => f !== CLEANUP_FINALIZER);
      return cur;
    }, { dryRun: false });
  }
}

function stripTimes(status: CrdStatus): CrdStatus {
  return { ...status, conditions: (status.conditions ?? []).map(({ lastTransitionTime: _t, ...c }) => c as CrdCondition) };
}
