/**
 * Storage semantics of the API, independent of HTTP: get, list, create, update, patch, delete and watch with
 * Kubernetes meaning (resourceVersion preconditions, generation, finalizers, graceful deletion, namespaces that
 * must exist). The HTTP handler and, later, the in-process client transport both call these.
 */
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../api/object.js';
import { groupVersion } from '../api/object.js';
import {
  alreadyExists,
  badRequest,
  conflict,
  expired,
  forbidden,
  invalid,
  isStatusError,
  notFound,
  StatusError,
  type FieldError,
} from '../api/status.js';
import type { Store } from '../storage/store.js';
import { CompactedError, KeyExistsError, KeyNotFoundError, RevisionConflictError } from '../storage/store.js';
import { decodeFromStore, encodeForStore, jsonOfStored, listPrefix, objectKey, resourcePrefix, storedTextOf } from './object-codec.js';
import { Admission } from './admission/chain.js';
import { checkObjectSize } from './limits/object-size.js';
import { rfc3339 } from '../api/time.js';
import type { AdmissionAttributes, AdmissionChain, AdmissionContext } from './admission/types.js';
import { LOOPBACK_USER, type UserInfo } from './auth/user-info.js';
import type { ObjectFilter } from './filters.js';
import type { ResourceDefinition } from './registry/types.js';
import type { CacheEvent, CachedObject, EventSink, WatchCache } from './watch-cache.js';
import { lowerBoundKey, tooOldResourceVersion } from './watch-cache.js';

export interface ListOptions {
  filter: ObjectFilter;
  /** Raw `resourceVersion` query value. */
  resourceVersion?: string;
  resourceVersionMatch?: string;
  limit?: number;
  continueToken?: string;
}

export interface ListResult {
  items: CachedObject[];
  resourceVersion: string;
  continueToken?: string;
  remainingItemCount?: number;
}

export interface WriteOptions {
  dryRun: boolean;
  now?: Date;
  /** Who writes (admission sees it); defaults to the API server's own loopback identity. */
  user?: UserInfo;
  /**
   * Records the write in `next.metadata.managedFields` (server-side apply's Update managers), given the stored
   * object (undefined on create). Called once the object is final apart from validation: after defaults and
   * admission on create, after the update preparation on update. May throw a StatusError.
   */
  recordManagedFields?(live: KubeObject | undefined, next: KubeObject): void;
  /** Receives admission's warnings for the response (`Warning` headers); dropped when absent. */
  warn?(text: string): void;
  /** Receives admission's audit annotations (the request's audit event); absent when the request is not audited. */
  annotate?: AdmissionAttributes['annotate'];
}

export interface DeleteOptions extends WriteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface DeleteResult {
  /** The object: still present (finalizers or graceful deletion pending) when `pending`, else its last state. */
  obj: KubeObject;
  pending: boolean;
}

/**
 * A change to apply to the stored object; returns the desired new object (must not mutate `current`), or a promise of
 * it when making it takes a call (a CRD's conversion webhook).
 */
export type Mutation = (current: KubeObject) => KubeObject | Promise<KubeObject>;

/** What a PUT writes: the new object, made without the current one (the update then parses no copy for it). */
export interface Replacement {
  replace(): KubeObject | Promise<KubeObject>;
}

const GENERATE_NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const NONE: readonly KubeObject[] = [];
const MAX_UPDATE_RETRIES = 16;

/** Where an update attempt starts: the object's JSON (resourceVersion included), its stored text and revision. */
interface UpdateBase {
  json: string;
  stored: string;
  revision: number;
  /** From the watch cache rather than the store. */
  cached: boolean;
}

export class ResourceOps {
  private readonly admission: Admission;

  constructor(
    private readonly store: Store,
    private readonly cache: WatchCache,
    admission: AdmissionChain = { mutating: [], validating: [] },
  ) {
    this.admission = new Admission(admission, this.cacheView);
  }

  /**
   * Objects as the watch cache holds them now (what admission plugins read, and CRD conversion webhooks resolve their
   * Services with); `get` falls back to the store for an object the cache has not seen yet.
   */
  get cacheView(): AdmissionContext {
    return (this.view ??= {
      list: (group, plural, namespace) => {
        const rc = this.cache.resourceOf(group, plural);
        // Several plugins ask on every write for kinds that are usually empty (webhook configurations, policies).
        if (rc.items.size === 0) return NONE;
        if (namespace === undefined) {
          const items = rc.items.values();
          return (function* () {
            for (const i of items) yield i.obj;
          })();
        }
        const sorted = rc.sorted();
        const prefix = `${rc.prefix}${namespace}/`;
        const out: KubeObject[] = [];
        for (let i = lowerBoundKey(sorted, prefix); i < sorted.length && sorted[i].key.startsWith(prefix); i++) out.push(sorted[i].obj);
        return out;
      },
      cached: (group, plural, namespace, name) => {
        const key = objectKey({ group, plural, namespaced: namespace !== '' }, namespace, name);
        return this.cache.resourceOf(group, plural).items.get(key)?.obj;
      },
      get: async (group, plural, namespace, name) => {
        const key = objectKey({ group, plural, namespaced: namespace !== '' }, namespace, name);
        const cached = this.cache.resourceOf(group, plural).items.get(key);
        if (cached) return cached.obj;
        // The cache may lag an object written a moment ago: ask the store before saying it does not exist.
        const fresh = await this.store.get(key);
        return fresh.kv ? decodeFromStore(fresh.kv.key, fresh.kv.value, fresh.kv.modRevision) : undefined;
      },
    });
  }

  private view: AdmissionContext | undefined;

  ref(def: ResourceDefinition, name?: string) {
    return { group: def.group || undefined, resource: def.plural, name };
  }

  /** GET of one object. resourceVersion unset = consistent read; "0" = whatever the cache has. */
  async get(def: ResourceDefinition, namespace: string, name: string, resourceVersion?: string): Promise<CachedObject> {
    await this.freshness(resourceVersion);
    const item = this.cache.resourceOf(def.group, def.plural).items.get(objectKey(def, namespace, name));
    if (!item) throw notFound(this.ref(def, name));
    return item;
  }

  private async freshness(resourceVersion: string | undefined): Promise<void> {
    if (resourceVersion === undefined || resourceVersion === '') {
      await this.cache.sync();
      return;
    }
    if (resourceVersion === '0') return;
    const rv = parseResourceVersion(resourceVersion);
    try {
      await this.cache.waitForRevision(rv);
    } catch (err) {
      if (isStatusError(err)) throw err;
      throw tooLargeResourceVersion(rv, this.cache.revision);
    }
  }

  async list(def: ResourceDefinition, namespace: string, opts: ListOptions): Promise<ListResult> {
    const prefix = listPrefix(def, namespace);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    if (opts.continueToken) {
      if (opts.resourceVersionMatch) throw badRequest('specifying resourceVersionMatch is not allowed when using continue');
      const token = decodeContinue(opts.continueToken);
      return this.listFromStore(prefix, opts.filter, token.rv, token.start, limit);
    }
    if (opts.resourceVersionMatch === 'Exact') {
      if (!opts.resourceVersion || opts.resourceVersion === '0') throw badRequest('resourceVersionMatch "Exact" requires a non-zero resourceVersion');
      const rv = parseResourceVersion(opts.resourceVersion);
      // A revision the store has not reached is a 504 with a retry hint, as from kube-apiserver's watch cache.
      const current = await this.store.currentRevision();
      if (rv > current) throw tooLargeResourceVersion(rv, current);
      return this.listFromStore(prefix, opts.filter, rv, prefix, limit);
    }
    if (opts.resourceVersionMatch && opts.resourceVersionMatch !== 'NotOlderThan') {
      throw badRequest(`resourceVersionMatch: Unsupported value: "${opts.resourceVersionMatch}": supported values: "Exact", "NotOlderThan"`);
    }
    await this.freshness(opts.resourceVersion);
    const revision = this.cache.revision;
    const all = this.cache.resourceOf(def.group, def.plural).sorted();
    const items: CachedObject[] = [];
    // A namespace's items are one contiguous range in key order: find its ends by binary search instead of testing
    // every key (keys end in '/', and '0' is the character after '/', so prefix..prefix-with-'0' is exactly the range).
    let i = 0;
    let end = all.length;
    if (prefix !== resourcePrefix(def)) {
      i = lowerBoundKey(all, prefix);
      end = lowerBoundKey(all, `${prefix.slice(0, -1)}0`);
    }
    const everything = opts.filter.empty;
    for (; i < end; i++) {
      const item = all[i];
      if (!everything && !opts.filter.matches(item.obj)) continue;
      if (limit && items.length === limit) {
        return { items, resourceVersion: String(revision), continueToken: encodeContinue(revision, items[items.length - 1].key + '\x00') };
      }
      items.push(item);
    }
    return { items, resourceVersion: String(revision) };
  }

  /** Lists at a past revision straight from the store (continue pages, Exact lists). */
  private async listFromStore(prefix: string, filter: ObjectFilter, revision: number, start: string, limit: number): Promise<ListResult> {
    const items: CachedObject[] = [];
    let startKey = start;
    for (;;) {
      let res;
      try {
        res = await this.store.list(prefix, { revision, startKey, limit: limit ? Math.max(limit, 100) : 0 });
      } catch (err) {
        if (err instanceof CompactedError) {
          throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
        }
        throw err;
      }
      for (const kv of res.kvs) {
        const obj = decodeFromStore(kv.key, kv.value, kv.modRevision);
        if (!filter.matches(obj)) continue;
        if (limit && items.length === limit) {
          return { items, resourceVersion: String(revision), continueToken: encodeContinue(revision, items[items.length - 1].key + '\x00') };
        }
        items.push({ key: kv.key, obj, json: JSON.stringify(obj), revision: kv.modRevision });
      }
      if (!res.more || res.kvs.length === 0) return { items, resourceVersion: String(revision) };
      startKey = res.kvs[res.kvs.length - 1].key + '\x00';
    }
  }

  /**
   * Creates `obj`, which the call takes over: it is defaulted, mutated by admission and returned as stored (callers
   * pass an object of their own, such as a freshly decoded body; a copy here cost every create a structuredClone).
   */
  async create(def: ResourceDefinition, namespace: string, obj: KubeObject, opts: WriteOptions): Promise<KubeObject> {
    const now = opts.now ?? new Date();
    const meta = (obj.metadata ??= {});
    obj.apiVersion = groupVersion(def.group, def.version);
    obj.kind = def.kind;
    if (def.namespaced) {
      if (meta.namespace && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace;
    } else {
      delete meta.namespace;
    }
    if (!meta.name && meta.generateName) meta.name = generateName(meta.generateName);
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(now);
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    if (def.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    if (def.hasStatus && !def.keepsStatusOnCreate) delete obj.status;
    dropEmptyMetadata(meta);
    def.strategy.prepareForCreate?.(obj, { user: opts.user ?? LOOPBACK_USER });
    const run = this.admission.begin({ operation: 'CREATE', resource: def, subresource: '', namespace, name: meta.name ?? '', object: obj, user: opts.user ?? LOOPBACK_USER, dryRun: opts.dryRun, warn: opts.warn, annotate: opts.annotate });
    let committed = false;
    try {
      const mutated = run.mutate();
      if (mutated) await mutated;
      opts.recordManagedFields?.(undefined, obj);
      this.validate(def, obj, def.strategy.validate(obj));
      const validated = run.validate();
      if (validated) await validated;
      const json = encodeForStore(obj);
      checkObjectSize(json);
      if (opts.dryRun) return obj;
      const key = objectKey(def, namespace, meta.name!);
      const res = await this.store.create(key, json);
      committed = true;
      meta.resourceVersion = String(res.revision);
      this.rememberJson(def, key, obj, res.revision);
      return obj;
    } catch (err) {
      if (err instanceof KeyExistsError) throw alreadyExists(this.ref(def, meta.name));
      throw err;
    } finally {
      const finished = run.finish(committed);
      if (finished) await finished;
    }
  }

  /**
   * The JSON text of an object this server has just written, when the watch cache already holds that revision (with
   * the SQLite store it does: the cache hears of a commit before the writer does). The answer to the write is then
   * that text, not a third serialization of the object.
   */
  writtenJson(obj: KubeObject): string | undefined {
    return this.written.get(obj);
  }

  private readonly written = new WeakMap<KubeObject, string>();

  private rememberJson(def: ResourceDefinition, key: string, obj: KubeObject, revision: number): void {
    const item = this.cache.resourceOf(def.group, def.plural).items.get(key);
    if (item !== undefined && item.revision === revision) this.written.set(obj, item.json);
  }

  private validate(def: ResourceDefinition, obj: KubeObject, errors: FieldError[]): void {
    if (errors.length > 0) throw invalid(def.kind, def.group || undefined, obj.metadata?.name ?? obj.metadata?.generateName ?? '', errors);
  }

  /**
   * Admission of a create through a subresource action (pods/eviction, serviceaccounts/token) before the action runs:
   * the plugins that ask for them (`subresourceActions`) see CREATE of `subresource` with the request body.
   */
  async admitSubresourceCreate(def: ResourceDefinition, namespace: string, name: string, subresource: string, body: KubeObject, opts: WriteOptions): Promise<void> {
    const run = this.admission.begin({ operation: 'CREATE', resource: def, subresource, namespace, name, object: body, user: opts.user ?? LOOPBACK_USER, dryRun: opts.dryRun, warn: opts.warn ?? (() => {}), annotate: opts.annotate });
    await run.mutate();
    await run.validate();
    await run.finish(!opts.dryRun);
  }

  /**
   * Admission of a CONNECT (pods/exec, attach, portforward, proxy; services/proxy; nodes/proxy) before anything is
   * connected, as upstream's connect handler admits: `options` is the subresource's options object (PodExecOptions,
   * ...). Only plugins that list CONNECT see it (webhooks, policies).
   */
  async admitConnect(def: ResourceDefinition, namespace: string, name: string, subresource: string, options: KubeObject, opts: { user?: UserInfo }): Promise<void> {
    const run = this.admission.begin({ operation: 'CONNECT', resource: def, subresource, namespace, name, object: options, user: opts.user ?? LOOPBACK_USER, dryRun: false });
    await run.mutate();
    await run.validate();
    await run.finish(true);
  }

  /**
   * Read-modify-write with compare-and-swap, retrying on conflicts (GuaranteedUpdate). `mutate` gets the current
   * object (with its resourceVersion) and returns the desired one; a resourceVersion in the result that differs
   * from the current one is a precondition failure (409), as for PUT and for PATCH bodies that carry one.
   * `subresource` is '' (main resource), 'status' or another subresource that only changes what its caller sets.
   */
  async update(def: ResourceDefinition, namespace: string, name: string, mutate: Mutation | Replacement, opts: WriteOptions & { subresource?: string }): Promise<KubeObject> {
    const key = objectKey(def, namespace, name);
    // The first attempt starts from the watch cache's copy, as kube-apiserver's GuaranteedUpdate does: no store read.
    // The write is a compare-and-swap on that copy's revision, so a cache behind the store costs a retry from the
    // store, never a lost write; a precondition the cached copy fails is checked again against the store.
    let fromCache = true;
    for (let attempt = 0; ; attempt++) {
      const got = (fromCache && this.cachedForUpdate(def, key)) || (await this.readForUpdate(def, name, key));
      const cached = fromCache && got.cached;
      fromCache = false;
      const current = JSON.parse(got.json) as KubeObject;
      // A mutation gets a copy of its own: a second parse of the stored text costs half a structuredClone.
      let desired = typeof mutate === 'function' ? mutate(JSON.parse(got.json) as KubeObject) : mutate.replace();
      if (desired instanceof Promise) desired = await desired;
      if (desired.metadata?.resourceVersion && desired.metadata.resourceVersion !== current.metadata.resourceVersion) {
        if (cached) continue;
        throw conflict(this.ref(def, name));
      }
      const subresource = opts.subresource ?? '';
      const next = this.prepareUpdate(def, namespace, name, desired, current, subresource);
      const run = this.admission.begin({ operation: 'UPDATE', resource: def, subresource, namespace, name, object: next, oldObject: current, user: opts.user ?? LOOPBACK_USER, dryRun: opts.dryRun, warn: opts.warn, annotate: opts.annotate });
      let committed = false;
      try {
        const mutated = run.mutate();
        if (mutated) await mutated;
        opts.recordManagedFields?.(current, next);
        if (subresource === 'status' && def.strategy.validateStatusUpdate) {
          this.validate(def, next, def.strategy.validateStatusUpdate(next, current));
        } else {
          const validateUpdate = def.subresources?.find((sub) => sub.name === subresource)?.validateUpdate ?? def.strategy.validateUpdate;
          this.validate(def, next, [...def.strategy.validate(next), ...(validateUpdate?.(next, current) ?? [])]);
        }
        const validated = run.validate();
        if (validated) await validated;
        const nextJson = encodeForStore(next);
        if (nextJson === got.stored) return current;
        checkObjectSize(nextJson);
        if (opts.dryRun) return next;
        // The last finalizer of an object being deleted is gone: the update completes the deletion.
        if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length && !def.deletion?.finalizationPending?.(next)) {
          const del = await this.store.delete(key, got.revision);
          committed = true;
          next.metadata.resourceVersion = String(del.revision);
          return next;
        }
        const res = await this.store.update(key, nextJson, got.revision);
        committed = true;
        next.metadata.resourceVersion = String(res.revision);
        this.rememberJson(def, key, next, res.revision);
        return next;
      } catch (err) {
        if (err instanceof RevisionConflictError && attempt < MAX_UPDATE_RETRIES) continue;
        throw this.translate(def, name, err);
      } finally {
        const finished = run.finish(committed);
        if (finished) await finished;
      }
    }
  }

  /** The watch cache's copy of key for an update's first attempt, when it holds one whose stored text it can give. */
  private cachedForUpdate(def: ResourceDefinition, key: string): UpdateBase | undefined {
    const item = this.cache.resourceOf(def.group, def.plural).items.get(key);
    if (item === undefined) return undefined;
    const stored = storedTextOf(item.json, item.revision);
    return stored === undefined ? undefined : { json: item.json, stored, revision: item.revision, cached: true };
  }

  private async readForUpdate(def: ResourceDefinition, name: string, key: string): Promise<UpdateBase> {
    const got = await this.store.get(key);
    if (!got.kv) throw notFound(this.ref(def, name));
    return { json: jsonOfStored(key, got.kv.value, got.kv.modRevision), stored: got.kv.value, revision: got.kv.modRevision, cached: false };
  }

  private translate(def: ResourceDefinition, name: string, err: unknown): unknown {
    if (err instanceof RevisionConflictError) return conflict(this.ref(def, name));
    if (err instanceof KeyNotFoundError) return notFound(this.ref(def, name));
    return err;
  }

  /** Applies what the API server owns on every update: bookkeeping metadata, status vs spec, generation, validation. */
  private prepareUpdate(def: ResourceDefinition, namespace: string, name: string, desired: KubeObject, current: KubeObject, subresource: string): KubeObject {
    if (!desired || typeof desired !== 'object' || Array.isArray(desired)) throw badRequest('the object must be a JSON object');
    const view = subresource ? def.subresources?.find((sub) => sub.name === subresource)?.view : undefined;
    const next: KubeObject = subresource === 'status' ? { ...current, status: desired.status } : view ? view.apply(current, desired) : desired;
    if (view) {
      next.metadata = structuredClone(current.metadata);
      // A resourceVersion in the written object is still a precondition (checked by the caller against current).
    } else if (subresource === 'status') {
      // Status writes change status, and annotations as upstream's status strategies allow (the Deployment controller
      // records deployment.kubernetes.io/revision this way); spec, labels and the rest of metadata stay as stored.
      const annotations = desired.metadata?.annotations;
      next.metadata = structuredClone(current.metadata);
      if (annotations && typeof annotations === 'object') next.metadata.annotations = annotations;
      else delete next.metadata.annotations;
    } else if (def.hasStatus && !def.subresources?.some((sub) => sub.name === subresource && sub.mutation?.changesStatus)) {
      // Writes to the main resource (and finalize) cannot change status; binding sets PodScheduled itself.
      if (current.status === undefined) delete next.status;
      else next.status = current.status;
    }
    next.apiVersion = groupVersion(def.group, def.version);
    next.kind = def.kind;
    const meta = (next.metadata ??= {});
    if (meta.name !== undefined && meta.name !== name) {
      throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    }
    if (def.namespaced && meta.namespace && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const old = current.metadata;
    meta.name = name;
    if (def.namespaced) meta.namespace = namespace;
    else delete meta.namespace;
    // A uid the client sent is kept for validation to refuse if it differs (rest.BeforeUpdate only fills a missing one).
    meta.uid ||= old.uid;
    meta.creationTimestamp = old.creationTimestamp;
    meta.resourceVersion = old.resourceVersion;
    if (old.deletionTimestamp) {
      meta.deletionTimestamp = old.deletionTimestamp;
      meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
      // While deleting, finalizers may only be removed, never added (apiserver BeforeUpdate rule).
      const added = (meta.finalizers ?? []).filter((f) => !(old.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw invalid(def.kind, def.group || undefined, name, [
          { type: 'FieldValueForbidden', field: 'metadata.finalizers', detail: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` },
        ]);
      }
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    if (def.tracksGeneration) {
      meta.generation = old.generation ?? 1;
      if (subresource === '' && specChanged(next, current)) meta.generation += 1;
    } else {
      delete meta.generation;
    }
    dropEmptyMetadata(meta);
    if (subresource === '') def.strategy.prepareForUpdate?.(next, current);
    return next;
  }

  async delete(def: ResourceDefinition, namespace: string, name: string, opts: DeleteOptions): Promise<DeleteResult> {
    const key = objectKey(def, namespace, name);
    const now = opts.now ?? new Date();
    for (let attempt = 0; ; attempt++) {
      const got = await this.store.get(key);
      if (!got.kv) throw notFound(this.ref(def, name));
      const current = decodeFromStore(key, got.kv.value, got.kv.modRevision);
      const meta = current.metadata;
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== meta.uid) {
        throw conflict(this.ref(def, name), `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== meta.resourceVersion) {
        throw conflict(this.ref(def, name), `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion}`);
      }
      const run = this.admission.begin({ operation: 'DELETE', resource: def, subresource: '', namespace, name, oldObject: current, user: opts.user ?? LOOPBACK_USER, dryRun: opts.dryRun, warn: opts.warn, annotate: opts.annotate });
      let committed = false;
      try {
        const mutated = run.mutate();
        if (mutated) await mutated;
        const validated = run.validate();
        if (validated) await validated;
        const result = await this.deleteOnce(def, key, got.kv, current, opts, now);
        committed = !result.pending;
        return result;
      } catch (err) {
        if (err instanceof RevisionConflictError && attempt < MAX_UPDATE_RETRIES) continue;
        throw this.translate(def, name, err);
      } finally {
        const finished = run.finish(committed);
        if (finished) await finished;
      }
    }
  }

  /** One attempt at a DELETE: mark the object (finalizers, grace period) or remove it. Store errors are the caller's. */
  private async deleteOnce(def: ResourceDefinition, key: string, kv: { value: string; modRevision: number }, current: KubeObject, opts: DeleteOptions, now: Date): Promise<DeleteResult> {
    const next = structuredClone(current);
    const nmeta = next.metadata;
    const finalizers = new Set(nmeta.finalizers ?? []);
    // propagationPolicy becomes a finalizer that the garbage collector honours (Foreground / Orphan).
    if (opts.propagationPolicy === 'Foreground') finalizers.add('foregroundDeletion');
    else if (opts.propagationPolicy === 'Orphan') finalizers.add('orphan');
    else if (opts.propagationPolicy !== undefined && opts.propagationPolicy !== 'Background') {
      throw badRequest(`propagationPolicy: Unsupported value: "${opts.propagationPolicy}": supported values: "Foreground", "Background", "Orphan"`);
    }
    const grace = def.deletion?.gracePeriodSeconds?.(current, opts.gracePeriodSeconds) ?? 0;
    const finalizing = def.deletion?.finalizationPending?.(current) ?? false;
    let pending = finalizers.size > 0 || grace > 0 || finalizing;
    if (pending) {
      if (finalizers.size > 0) nmeta.finalizers = [...finalizers];
      if (!nmeta.deletionTimestamp) {
        nmeta.deletionTimestamp = rfc3339(new Date(now.getTime() + grace * 1000));
        nmeta.deletionGracePeriodSeconds = grace;
      } else if (grace < (nmeta.deletionGracePeriodSeconds ?? Infinity)) {
        // A shorter grace period shortens a deletion in progress (kubectl delete --grace-period=1 on a terminating pod).
        nmeta.deletionTimestamp = rfc3339(new Date(now.getTime() + grace * 1000));
        nmeta.deletionGracePeriodSeconds = grace;
      }
      def.deletion?.markDeleting?.(next);
      // An object already marked, with nothing left that could block: the new grace of 0 deletes it now.
      if (finalizers.size === 0 && grace === 0 && !finalizing) pending = false;
    }
    if (opts.dryRun) return { obj: next, pending };
    if (pending) {
      const json = encodeForStore(next);
      if (json === kv.value) return { obj: current, pending: true };
      const res = await this.store.update(key, json, kv.modRevision);
      nmeta.resourceVersion = String(res.revision);
      return { obj: next, pending: true };
    }
    const res = await this.store.delete(key, kv.modRevision);
    nmeta.resourceVersion = String(res.revision);
    return { obj: next, pending: false };
  }

  /**
   * Watches from the cache when its history reaches back to `afterRevision`; otherwise from the store's history
   * (410 Expired once compacted). Events are delivered in order to `sink`; `onError` ends the watch.
   */
  watch(def: ResourceDefinition, afterRevision: number, sink: EventSink, onError: (err: StatusError) => void): { stop(): void } {
    const rc = this.cache.resourceOf(def.group, def.plural);
    const backlog = rc.eventsAfter(afterRevision);
    if (backlog) {
      if (backlog.length > 0 && !sink(backlog)) return { stop() {} };
      return rc.subscribe(sink, () => onError(cacheReset()));
    }
    // Older than the cache's window: replay from the store, then keep streaming from it.
    const prefix = resourcePrefix(def);
    const objects = new Map<string, KubeObject>();
    const w = this.store.watch(prefix, {
      afterRevision,
      onEvents: (events) => {
        const out: CacheEvent[] = [];
        for (const ev of events) {
          const obj = decodeFromStore(ev.kv.key, ev.kv.value, ev.revision);
          const prev = ev.prevKv ? objects.get(ev.kv.key) ?? decodeFromStore(ev.kv.key, ev.prevKv.value, ev.prevKv.modRevision) : undefined;
          if (ev.type === 'delete') objects.delete(ev.kv.key);
          else objects.set(ev.kv.key, obj);
          out.push({ type: ev.type === 'create' ? 'ADDED' : ev.type === 'update' ? 'MODIFIED' : 'DELETED', key: ev.kv.key, obj, json: JSON.stringify(obj), prev, revision: ev.revision });
        }
        if (!sink(out)) w.cancel();
      },
      onError: (err) => {
        if (err instanceof CompactedError) onError(tooOldResourceVersion(afterRevision, err.compactRevision));
        else onError(new StatusError({ message: err.message, reason: 'InternalError', code: 500 }));
      },
    });
    return { stop: () => w.cancel() };
  }

  /** Current objects (for synthetic ADDED events) and the revision they reflect, atomically with a subscription. */
  snapshotAndWatch(def: ResourceDefinition, sink: EventSink, onError: (err: StatusError) => void): { items: CachedObject[]; revision: number; stop(): void } {
    const rc = this.cache.resourceOf(def.group, def.plural);
    const items = rc.sorted();
    const revision = this.cache.revision;
    const sub = rc.subscribe(sink, () => onError(cacheReset()));
    return { items, revision, stop: () => sub.stop() };
  }

  get cacheRevision(): number {
    return this.cache.revision;
  }
}

/** Go's omitempty drops empty metadata maps and lists when the real server serializes; do the same. */
function dropEmptyMetadata(meta: Record<string, unknown>): void {
  for (const k of ['labels', 'annotations', 'finalizers', 'ownerReferences', 'managedFields']) {
    const v = meta[k];
    if (v && typeof v === 'object' && (Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0)) delete meta[k];
  }
}

/** True when anything outside metadata and status differs (what bumps metadata.generation). */
function specChanged(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
    return JSON.stringify(rest);
  };
  return strip(a) !== strip(b);
}

/** 504 for a resourceVersion newer than the datastore's (upstream's "Too large resource version" with a retry hint). */
function tooLargeResourceVersion(rv: number, current: number): StatusError {
  return new StatusError({
    message: `Too large resource version: ${rv}, current: ${current}`,
    reason: 'Timeout',
    code: 504,
    details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
  });
}

/** What a watcher gets when the watch cache starts over: a 410, so clients relist (client-go, client-node). */
function cacheReset(): StatusError {
  return expired('the watch cache was rebuilt after the datastore watch failed; relist and watch again');
}

export function parseResourceVersion(rv: string): number {
  if (!/^\d+$/.test(rv)) throw badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
  return Number(rv);
}


function generateName(base: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += GENERATE_NAME_CHARS[Math.floor(Math.random() * GENERATE_NAME_CHARS.length)];
  // Like upstream: trim the base so the result stays within the 63-character limit of generated names.
  return base.slice(0, 58) + suffix;
}

interface ContinueToken {
  rv: number;
  start: string;
}

/** Opaque to clients; carries the list snapshot revision and the next key (like upstream's base64 JSON token). */
function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'skiff.dev/v1', rv, start })).toString('base64url');
}

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: string; rv?: unknown; start?: unknown };
    if (parsed.v === 'skiff.dev/v1' && typeof parsed.rv === 'number' && typeof parsed.start === 'string' && parsed.start.startsWith('/registry/')) {
      return { rv: parsed.rv, start: parsed.start };
    }
  } catch {
    // fall through to the error below
  }
  throw badRequest(`continue key is not valid: ${token}`);
}
