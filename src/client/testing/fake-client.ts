/**
 * An in-memory Client for fixture-style controller tests (client-go's fake clientset, simplified): seed objects,
 * run a reconcile, then assert on `actions`, the calls the code under test made, and on the resulting objects.
 *
 * It passes the same suite as the real transports (`runTransportConformance` in transport-conformance.ts, run by
 * client/transports.test.ts), so what a controller test sees here is what the server answers. In particular:
 * - create assigns uid, resourceVersion (one global counter), creationTimestamp, generation 1, and a name from
 *   generateName; a taken name is 409 AlreadyExists; a name the resource's rule refuses is 422 Invalid.
 * - update with a stale metadata.resourceVersion is 409 Conflict (so is a stale resourceVersion inside a patch);
 *   without one it is unconditional. update keeps the stored status and updateStatus changes only status (resources
 *   with a /status subresource behave so); generation is bumped when anything but metadata and status changed.
 * - delete of an object with finalizers, or with propagationPolicy Foreground/Orphan (which add the
 *   `foregroundDeletion`/`orphan` finalizer), only sets deletionTimestamp; the object goes away when an update
 *   removes the last finalizer.
 * - namespaces: create sets spec.finalizers ['kubernetes']; delete keeps a namespace with spec.finalizers as
 *   Terminating; update with subresource 'finalize' changes only spec.finalizers and completes a pending deletion.
 * - pods/binding sets spec.nodeName (409 when already bound); pods/eviction deletes the pod.
 * - strategic merge patches merge lists by their patchMergeKey from the API schema (strategic-merge.ts).
 * - watch delivers later writes in order, asynchronously (a microtask after the write), like a real stream; a
 *   resourceVersion older than `compact()`'s revision gets an ERROR event with a 410 Status, then onClose; a watch
 *   the server would refuse (bad selector or resourceVersion) closes with the 400 StatusError.
 *
 * Simplified: pods are deleted at once (no graceful deletion); no admission, defaulting or validation beyond names;
 * field selectors compare the value at the dotted path (`spec.nodeName=n1`). Returned objects are copies owned by
 * the caller.
 */
import { randomUUID } from 'node:crypto';
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { fieldSelectorMatches, parseFieldSelector } from '../../api/fields.js';
import { matches, parseLabelSelector } from '../../api/labels.js';
import { groupVersion, type KubeObject } from '../../api/object.js';
import { alreadyExists, badRequest, conflict, expired, fieldInvalid, fieldRequired, invalid, notFound, StatusError } from '../../api/status.js';
import { rfc3339 } from '../../api/time.js';
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isPathSegmentName } from '../../api/validation.js';
import { jsonMergePatch } from '../json-merge-patch.js';
import { strategicMergePatch } from './strategic-merge.js';
import { allResourceTypes } from '../resources.js';
import {
  realClock,
  type Client,
  type Clock,
  type DeleteCollectionOptions,
  type DeleteOptions,
  type ListOptions,
  type ListResult,
  type PatchType,
  type ResourceType,
  type WatchEvent,
  type Watcher,
  type WatchOptions,
  type WriteOptions,
} from '../types.js';

export type FakeVerb = 'get' | 'list' | 'create' | 'update' | 'updateStatus' | 'patch' | 'delete' | 'deleteCollection' | 'createSubresource' | 'discovery';

/**
 * One call made through the FakeClient. `object` is a copy of what was sent (object, patch, delete options or subresource
 * body). A `discovery` call has the path as its `resource`.
 */
export interface FakeAction {
  verb: FakeVerb;
  resource: string;
  namespace: string;
  name?: string;
  object?: unknown;
  subresource?: string;
  patchType?: PatchType;
}

/**
 * Intercepts calls before the object map sees them: return undefined to pass the call on, return a value to answer
 * with it, throw (e.g. a StatusError) to fail the call. The action is recorded either way.
 */
export type FakeReactor = (action: FakeAction) => unknown;

interface Subscriber {
  resKey: string;
  namespace: string;
  filter: (obj: KubeObject) => boolean;
  onEvent: (ev: WatchEvent) => void;
  onClose: (err?: Error) => void;
  closed: boolean;
}

interface LoggedEvent {
  resKey: string;
  revision: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  obj: KubeObject;
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export interface FakeClientOptions {
  clock?: Clock;
}

export class FakeClient implements Client {
  readonly actions: FakeAction[] = [];
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  /** Every type the client has stored or been asked about, for discovery (besides allResourceTypes). */
  private readonly types = new Map<string, ResourceType>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly log: LoggedEvent[] = [];
  private readonly reactors: { verb: FakeVerb | '*'; resource: string; fn: FakeReactor }[] = [];
  private readonly clock: Clock;
  private revision = 0;
  private compacted = 0;
  private generated = 0;

  constructor(opts: FakeClientOptions = {}) {
    this.clock = opts.clock ?? realClock;
  }

  /** Puts objects in place without recording actions or notifying watchers (fixtures). Missing metadata is filled in as create would. */
  seed(rt: ResourceType, ...objs: KubeObject[]): void {
    for (const o of objs) {
      const obj = structuredClone(o);
      this.fillCreated(rt, obj, obj.metadata.namespace ?? '');
      this.bucket(rt).set(objKey(obj), obj);
    }
  }

  /** The stored object (a copy), or undefined. Not recorded as an action. */
  peek<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, name: string): T | undefined {
    const obj = this.bucket(rt).get(key(rt.namespaced ? namespace : '', name));
    return obj ? (structuredClone(obj) as T) : undefined;
  }

  /** All stored objects of a type (copies), in key order. Not recorded. */
  all<T extends KubeObject = KubeObject>(rt: ResourceType): T[] {
    return [...this.bucket(rt).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => structuredClone(o) as T);
  }

  clearActions(): void {
    this.actions.length = 0;
  }

  /** Adds a reactor ahead of the others. verb and resource may be '*'. */
  prependReactor(verb: FakeVerb | '*', resource: string, fn: FakeReactor): void {
    this.reactors.unshift({ verb, resource, fn });
  }

  /** The revision of the last write. */
  get currentRevision(): number {
    return this.revision;
  }

  /** Forgets history up to `revision` (default: all of it): watches from an older resourceVersion get 410 Gone. */
  compact(revision = this.revision): void {
    this.compacted = revision;
    const keep = this.log.filter((e) => e.revision > revision);
    this.log.length = 0;
    this.log.push(...keep);
  }

  /** Ends every open watch as a server timeout would (onClose without error). */
  closeWatches(): void {
    for (const s of [...this.subscribers]) this.endWatch(s);
  }

  /** Open watches (for tests that check a component stopped watching). */
  get watchCount(): number {
    return this.subscribers.size;
  }

  async get<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, name: string, opts: { subresource?: string } = {}): Promise<T> {
    const ns = this.ns(rt, namespace);
    const reacted = this.record({ verb: 'get', resource: rt.resource, namespace: ns, name, ...(opts.subresource ? { subresource: opts.subresource } : {}) });
    if (reacted !== undefined) return reacted as T;
    return structuredClone(this.mustGet(rt, ns, name)) as T;
  }

  async list<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, opts: ListOptions = {}): Promise<ListResult<T>> {
    const ns = this.ns(rt, namespace);
    const reacted = this.record({ verb: 'list', resource: rt.resource, namespace: ns, ...(Object.keys(opts).length ? { object: { ...opts } } : {}) });
    if (reacted !== undefined) return reacted as ListResult<T>;
    const filter = selectorFilter(opts);
    const keys = [...this.bucket(rt).keys()].sort();
    let start = 0;
    if (opts.continue) {
      const after = Buffer.from(opts.continue, 'base64url').toString('utf8');
      start = keys.findIndex((k) => k > after);
      if (start < 0) start = keys.length;
    }
    const items: T[] = [];
    let i = start;
    for (; i < keys.length; i++) {
      const obj = this.bucket(rt).get(keys[i])!;
      if (ns && obj.metadata.namespace !== ns) continue;
      if (!filter(obj)) continue;
      if (opts.limit && items.length === opts.limit) break;
      items.push(structuredClone(obj) as T);
    }
    const more = i < keys.length && opts.limit !== undefined && items.length === opts.limit;
    return {
      items,
      resourceVersion: String(this.revision),
      ...(more ? { continue: Buffer.from(keys[i - 1]).toString('base64url') } : {}),
    };
  }

  async create<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, obj: T, opts: WriteOptions = {}): Promise<T> {
    const ns = this.ns(rt, namespace);
    const reacted = this.record({ verb: 'create', resource: rt.resource, namespace: ns, object: structuredClone(obj) });
    if (reacted !== undefined) return reacted as T;
    const created = structuredClone(obj) as KubeObject;
    created.metadata ??= {};
    if (rt.namespaced && created.metadata.namespace && created.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (!created.metadata.name && created.metadata.generateName) created.metadata.name = created.metadata.generateName + this.nameSuffix();
    if (!created.metadata.name) throw invalid(rt.kind, rt.group || undefined, '', [fieldRequired('metadata.name', 'name or generateName is required')]);
    const nameErrors = nameValidator(rt)(created.metadata.name);
    if (nameErrors.length > 0) {
      throw invalid(rt.kind, rt.group || undefined, created.metadata.name, nameErrors.map((why) => fieldInvalid('metadata.name', created.metadata.name, why)));
    }
    if (this.bucket(rt).has(key(ns, created.metadata.name))) throw alreadyExists(ref(rt, created.metadata.name));
    delete created.metadata.resourceVersion;
    delete created.metadata.uid;
    delete created.metadata.creationTimestamp;
    this.fillCreated(rt, created, ns);
    if (isNamespaces(rt)) {
      const spec = (created.spec ??= {}) as { finalizers?: string[] };
      spec.finalizers ??= ['kubernetes'];
    }
    if (opts.dryRun) return created as T;
    this.write(rt, 'ADDED', created);
    return structuredClone(created) as T;
  }

  async update<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, obj: T, opts: WriteOptions & { subresource?: string } = {}): Promise<T> {
    const ns = this.ns(rt, namespace);
    const name = obj.metadata?.name ?? '';
    const reacted = this.record({
      verb: 'update',
      resource: rt.resource,
      namespace: ns,
      name,
      object: structuredClone(obj),
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
    });
    if (reacted !== undefined) return reacted as T;
    const current = this.mustGet(rt, ns, name);
    this.checkResourceVersion(rt, current, obj.metadata?.resourceVersion);
    let next: KubeObject;
    if (opts.subresource === 'finalize' && isNamespaces(rt)) {
      next = structuredClone(current);
      const finalizers = (obj.spec as { finalizers?: string[] } | undefined)?.finalizers ?? [];
      next.spec = { ...(next.spec as object), finalizers: [...finalizers] };
      if (finalizers.length === 0) delete (next.spec as { finalizers?: string[] }).finalizers;
    } else if (opts.subresource) {
      throw new StatusError({ message: `the fake client does not update the ${opts.subresource} subresource of ${rt.resource}`, reason: 'MethodNotAllowed', code: 405 });
    } else {
      next = structuredClone(obj) as KubeObject;
      preserveServerMeta(next, current);
      if ('status' in current) next.status = structuredClone(current.status);
      else delete next.status;
    }
    return this.commitUpdate(rt, current, next, opts) as Promise<T>;
  }

  async updateStatus<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, obj: T, opts: WriteOptions = {}): Promise<T> {
    const ns = this.ns(rt, namespace);
    const name = obj.metadata?.name ?? '';
    const reacted = this.record({ verb: 'updateStatus', resource: rt.resource, namespace: ns, name, object: structuredClone(obj), subresource: 'status' });
    if (reacted !== undefined) return reacted as T;
    const current = this.mustGet(rt, ns, name);
    this.checkResourceVersion(rt, current, obj.metadata?.resourceVersion);
    const next = structuredClone(current);
    if (obj.status === undefined) delete next.status;
    else next.status = structuredClone(obj.status);
    return this.commitUpdate(rt, current, next, opts) as Promise<T>;
  }

  async patch<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    namespace: string,
    name: string,
    type: PatchType,
    patch: unknown,
    opts: WriteOptions & { subresource?: string } = {},
  ): Promise<T> {
    const ns = this.ns(rt, namespace);
    const reacted = this.record({
      verb: 'patch',
      resource: rt.resource,
      namespace: ns,
      name,
      object: structuredClone(patch),
      patchType: type,
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
    });
    if (reacted !== undefined) return reacted as T;
    const current = this.mustGet(rt, ns, name);
    let patched: KubeObject;
    if (type === 'json') {
      try {
        patched = jsonpatch.applyPatch(structuredClone(current), structuredClone(patch) as Operation[], true, true).newDocument;
      } catch (err) {
        throw new StatusError({
          message: 'the server rejected our request due to an error in our request',
          reason: 'Invalid',
          code: 422,
          details: { causes: [{ message: (err as Error).message.split('\n')[0] }] },
        });
      }
    } else {
      if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw badRequest(`a ${type} merge patch must be a JSON object`);
      patched = (type === 'strategic' ? strategicMergePatch(current, patch, rt.group, rt.version, rt.kind) : jsonMergePatch(current, patch)) as KubeObject;
    }
    // A resourceVersion in the patch is a precondition, as on the real server.
    this.checkResourceVersion(rt, current, patched.metadata?.resourceVersion);
    let next: KubeObject;
    if (opts.subresource === 'status') {
      next = structuredClone(current);
      if (patched.status === undefined) delete next.status;
      else next.status = patched.status;
    } else if (opts.subresource) {
      throw new StatusError({ message: `the fake client does not patch the ${opts.subresource} subresource`, reason: 'MethodNotAllowed', code: 405 });
    } else {
      next = patched;
      preserveServerMeta(next, current);
      if ('status' in current) next.status = structuredClone(current.status);
      else delete next.status;
    }
    return this.commitUpdate(rt, current, next, opts) as Promise<T>;
  }

  async delete(rt: ResourceType, namespace: string, name: string, opts: DeleteOptions = {}): Promise<void> {
    const ns = this.ns(rt, namespace);
    const reacted = this.record({ verb: 'delete', resource: rt.resource, namespace: ns, name, ...(Object.keys(opts).length ? { object: structuredClone(opts) } : {}) });
    if (reacted !== undefined) return;
    this.deleteObject(rt, ns, name, opts);
  }

  async deleteCollection(rt: ResourceType, namespace: string, opts: DeleteCollectionOptions = {}): Promise<void> {
    const ns = this.ns(rt, namespace);
    const reacted = this.record({ verb: 'deleteCollection', resource: rt.resource, namespace: ns, ...(Object.keys(opts).length ? { object: structuredClone(opts) } : {}) });
    if (reacted !== undefined) return;
    const { labelSelector, fieldSelector, ...deleteOpts } = opts;
    const filter = selectorFilter({ labelSelector, fieldSelector });
    for (const obj of [...this.bucket(rt).values()]) {
      if (ns && obj.metadata.namespace !== ns) continue;
      if (!filter(obj)) continue;
      this.deleteObject(rt, obj.metadata.namespace ?? '', obj.metadata.name ?? '', deleteOpts);
    }
  }

  /**
   * Discovery documents of allResourceTypes and of every type seeded or used, each with all eight verbs (a reactor on
   * verb 'discovery', resource = the path, answers otherwise: fewer verbs, a failing group). Unknown paths are 404.
   */
  async discovery<T = unknown>(path: string): Promise<T> {
    const reacted = this.record({ verb: 'discovery', resource: path, namespace: '' });
    if (reacted !== undefined) return reacted as T;
    const types = new Map<string, ResourceType>();
    for (const rt of [...allResourceTypes, ...this.types.values()]) types.set(`${rt.group}/${rt.version}/${rt.resource}`, rt);
    const all = [...types.values()];
    const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
    const resourceList = (group: string, version: string) => {
      const resources = all.filter((rt) => rt.group === group && rt.version === version);
      if (resources.length === 0) throw notFound({ resource: path });
      return {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: groupVersion(group, version),
        resources: resources.map((rt) => ({ name: rt.resource, singularName: '', namespaced: rt.namespaced, kind: rt.kind, verbs })),
      };
    };
    const parts = path.split('/').filter((p) => p !== '');
    if (parts[0] === 'api' && parts.length === 1) return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } as T;
    if (parts[0] === 'api' && parts.length === 2) return resourceList('', parts[1]!) as T;
    if (parts[0] === 'apis' && parts.length === 3) return resourceList(parts[1]!, parts[2]!) as T;
    if (parts[0] === 'apis' && parts.length === 1) {
      const groups = new Map<string, string[]>();
      for (const rt of all) {
        if (!rt.group) continue;
        const versions = groups.get(rt.group) ?? [];
        if (!versions.includes(rt.version)) versions.push(rt.version);
        groups.set(rt.group, versions);
      }
      return {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...groups].map(([name, versions]) => ({
          name,
          versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
          preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
        })),
      } as T;
    }
    throw notFound({ resource: path });
  }

  async createSubresource(rt: ResourceType, namespace: string, name: string, subresource: string, body: unknown): Promise<unknown> {
    const ns = this.ns(rt, namespace);
    const reacted = this.record({ verb: 'createSubresource', resource: rt.resource, namespace: ns, name, subresource, object: structuredClone(body) });
    if (reacted !== undefined) return reacted;
    const success = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
    if (rt.group === '' && rt.resource === 'pods' && subresource === 'binding') {
      const target = (body as { target?: { name?: string } } | undefined)?.target?.name;
      if (!target) throw new StatusError({ message: `Binding.meta.k8s.io "${name}" is invalid: target.name: Required value`, reason: 'Invalid', code: 422 });
      const current = this.mustGet(rt, ns, name);
      const next = structuredClone(current);
      const spec = (next.spec ??= {}) as { nodeName?: string };
      if (current.metadata.deletionTimestamp) throw conflict(ref(rt, name), 'pod is being deleted, cannot be assigned to a host');
      if (spec.nodeName) throw conflict(ref(rt, name), `pod ${name} is already assigned to node "${spec.nodeName}"`);
      spec.nodeName = target;
      const status = (next.status ??= {}) as { conditions?: Record<string, unknown>[] };
      const conditions = (status.conditions ??= []);
      const now = rfc3339(this.clock.now());
      const existing = conditions.find((c) => c.type === 'PodScheduled');
      if (existing) Object.assign(existing, { status: 'True', lastTransitionTime: now });
      else conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now });
      await this.commitUpdate(rt, current, next, {});
      return success;
    }
    if (rt.group === '' && rt.resource === 'pods' && subresource === 'eviction') {
      const deleteOptions = (body as { deleteOptions?: DeleteOptions } | undefined)?.deleteOptions ?? {};
      this.deleteObject(rt, ns, name, deleteOptions);
      return success;
    }
    return structuredClone(body);
  }

  watch<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    namespace: string,
    opts: WatchOptions,
    onEvent: (ev: WatchEvent<T>) => void,
    onClose: (err?: Error) => void,
  ): Watcher {
    const ns = this.ns(rt, namespace);
    let filter: (obj: KubeObject) => boolean;
    let from = 0;
    const rv = opts.resourceVersion ?? '';
    try {
      filter = selectorFilter(opts);
      from = rv === '' ? 0 : Number(rv);
      if (!Number.isInteger(from) || from < 0) throw badRequest(`resourceVersion: Invalid value: ${JSON.stringify(rv)}`);
    } catch (err) {
      // The server refuses such a watch with a Status, which the client delivers to onClose, never as a throw.
      queueMicrotask(() => onClose(err as Error));
      return { stop: () => {} };
    }
    const sub: Subscriber = {
      resKey: resKey(rt),
      namespace: ns,
      filter: (o) => (!ns || o.metadata.namespace === ns) && filter(o),
      onEvent: onEvent as (ev: WatchEvent) => void,
      onClose,
      closed: false,
    };
    this.subscribers.add(sub);
    const replay: WatchEvent[] = [];
    let gone = false;
    if (from === 0) {
      for (const obj of this.all(rt)) if (sub.filter(obj)) replay.push({ type: 'ADDED', object: obj });
    } else {
      if (from < this.compacted) gone = true;
      else {
        for (const e of this.log) {
          if (e.resKey === sub.resKey && e.revision > from && sub.filter(e.obj)) replay.push({ type: e.type, object: structuredClone(e.obj) });
        }
      }
    }
    queueMicrotask(() => {
      if (sub.closed) return;
      if (gone) {
        sub.onEvent({ type: 'ERROR', object: expired(`too old resource version: ${rv} (${this.compacted})`).status as unknown as KubeObject });
        this.endWatch(sub);
        return;
      }
      for (const ev of replay) if (!sub.closed) sub.onEvent(ev);
    });
    return { stop: () => this.endWatch(sub) };
  }

  private endWatch(sub: Subscriber): void {
    if (sub.closed) return;
    sub.closed = true;
    this.subscribers.delete(sub);
    queueMicrotask(() => sub.onClose());
  }

  private record(action: FakeAction): unknown {
    this.actions.push(action);
    for (const r of this.reactors) {
      if ((r.verb === '*' || r.verb === action.verb) && (r.resource === '*' || r.resource === action.resource)) {
        const result = r.fn(action);
        if (result !== undefined) return result;
      }
    }
    return undefined;
  }

  private deleteObject(rt: ResourceType, ns: string, name: string, opts: DeleteOptions): void {
    const current = this.mustGet(rt, ns, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== current.metadata.uid) {
      throw conflict(ref(rt, name), `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(ref(rt, name), `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`);
    }
    if (opts.dryRun) return;
    const finalizers = [...(current.metadata.finalizers ?? [])];
    const extra = opts.propagationPolicy === 'Foreground' ? 'foregroundDeletion' : opts.propagationPolicy === 'Orphan' ? 'orphan' : undefined;
    if (extra && !finalizers.includes(extra) && !current.metadata.deletionTimestamp) finalizers.push(extra);
    if (finalizers.length === 0 && !namespaceFinalizersPending(rt, current)) {
      this.bucket(rt).delete(key(ns, name));
      const gone = structuredClone(current);
      gone.metadata.resourceVersion = String(++this.revision);
      this.publish(rt, 'DELETED', gone);
      return;
    }
    const next = structuredClone(current);
    if (finalizers.length > 0) next.metadata.finalizers = finalizers;
    if (isNamespaces(rt)) next.status = { ...(next.status as object), phase: 'Terminating' };
    next.metadata.deletionTimestamp ??= rfc3339(this.clock.now());
    next.metadata.deletionGracePeriodSeconds ??= 0;
    next.metadata.resourceVersion = String(++this.revision);
    this.bucket(rt).set(key(ns, name), next);
    this.publish(rt, 'MODIFIED', next);
  }

  private async commitUpdate(rt: ResourceType, current: KubeObject, next: KubeObject, opts: WriteOptions): Promise<KubeObject> {
    if (changedBeyondMetaAndStatus(current, next)) next.metadata.generation = (current.metadata.generation ?? 0) + 1;
    else next.metadata.generation = current.metadata.generation;
    if (opts.dryRun) return next;
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0 && !namespaceFinalizersPending(rt, next)) {
      this.bucket(rt).delete(objKey(next));
      next.metadata.resourceVersion = String(++this.revision);
      this.publish(rt, 'DELETED', next);
      return structuredClone(next);
    }
    this.write(rt, 'MODIFIED', next);
    return structuredClone(next);
  }

  private write(rt: ResourceType, type: 'ADDED' | 'MODIFIED', obj: KubeObject): void {
    obj.metadata.resourceVersion = String(++this.revision);
    this.bucket(rt).set(objKey(obj), obj);
    this.publish(rt, type, obj);
  }

  private publish(rt: ResourceType, type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject): void {
    const rk = resKey(rt);
    this.log.push({ resKey: rk, revision: this.revision, type, obj: structuredClone(obj) });
    for (const sub of this.subscribers) {
      if (sub.resKey !== rk || !sub.filter(obj)) continue;
      const ev: WatchEvent = { type, object: structuredClone(obj) };
      queueMicrotask(() => {
        if (!sub.closed) sub.onEvent(ev);
      });
    }
  }

  private fillCreated(rt: ResourceType, obj: KubeObject, ns: string): void {
    obj.apiVersion ??= groupVersion(rt.group, rt.version);
    obj.kind ??= rt.kind;
    if (rt.namespaced) obj.metadata.namespace = ns;
    else delete obj.metadata.namespace;
    obj.metadata.uid ??= randomUUID();
    obj.metadata.creationTimestamp ??= rfc3339(this.clock.now());
    obj.metadata.generation ??= 1;
    if (!obj.metadata.resourceVersion) obj.metadata.resourceVersion = String(++this.revision);
    else this.revision = Math.max(this.revision, Number(obj.metadata.resourceVersion) || 0);
  }

  private checkResourceVersion(rt: ResourceType, current: KubeObject, rv: string | undefined): void {
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(ref(rt, current.metadata.name));
  }

  private mustGet(rt: ResourceType, ns: string, name: string): KubeObject {
    const obj = this.bucket(rt).get(key(ns, name));
    if (!obj) throw notFound(ref(rt, name));
    return obj;
  }

  private ns(rt: ResourceType, namespace: string): string {
    return rt.namespaced ? namespace : '';
  }

  private bucket(rt: ResourceType): Map<string, KubeObject> {
    const k = resKey(rt);
    let b = this.objects.get(k);
    if (!b) {
      this.objects.set(k, (b = new Map()));
      this.types.set(k, rt);
    }
    return b;
  }

  /** Deterministic generateName suffixes (5 characters of the alphabet Kubernetes uses), so test output is stable. */
  private nameSuffix(): string {
    let n = ++this.generated;
    let s = '';
    for (let i = 0; i < 5; i++) {
      s = GENERATE_ALPHABET[n % GENERATE_ALPHABET.length] + s;
      n = Math.floor(n / GENERATE_ALPHABET.length);
    }
    return s;
  }
}

/**
 * The name rule of a resource, as Kubernetes validation applies it (the common cases): RFC 1035 labels for
 * services, RFC 1123 labels for namespaces, path segments for RBAC objects, RFC 1123 subdomains for the rest.
 */
function nameValidator(rt: ResourceType): (name: string) => string[] {
  if (rt.group === 'rbac.authorization.k8s.io') return isPathSegmentName;
  if (rt.group === '' && rt.resource === 'services') return isDNS1035Label;
  if (rt.group === '' && rt.resource === 'namespaces') return isDNS1123Label;
  return isDNS1123Subdomain;
}

function isNamespaces(rt: ResourceType): boolean {
  return rt.group === '' && rt.resource === 'namespaces';
}

function namespaceFinalizersPending(rt: ResourceType, obj: KubeObject): boolean {
  return isNamespaces(rt) && ((obj.spec as { finalizers?: string[] } | undefined)?.finalizers?.length ?? 0) > 0;
}

function resKey(rt: ResourceType): string {
  return `${rt.group}/${rt.resource}`;
}

function key(ns: string, name: string): string {
  return ns ? `${ns}/${name}` : name;
}

function objKey(obj: KubeObject): string {
  return key(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
}

function ref(rt: ResourceType, name: string | undefined) {
  return { group: rt.group || undefined, resource: rt.resource, name };
}

/** Fields the server owns: a client cannot change them through update or patch. */
function preserveServerMeta(next: KubeObject, current: KubeObject): void {
  next.metadata ??= {};
  const m = next.metadata;
  const c = current.metadata;
  m.name = c.name;
  if (c.namespace) m.namespace = c.namespace;
  m.uid = c.uid;
  m.creationTimestamp = c.creationTimestamp;
  m.resourceVersion = c.resourceVersion;
  if (c.deletionTimestamp) {
    m.deletionTimestamp = c.deletionTimestamp;
    m.deletionGracePeriodSeconds = c.deletionGracePeriodSeconds;
  } else {
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
  }
  next.apiVersion = current.apiVersion;
  next.kind = current.kind;
}

function changedBeyondMetaAndStatus(a: KubeObject, b: KubeObject): boolean {
  return !deepEqual(withoutMetaStatus(a), withoutMetaStatus(b));
}

function withoutMetaStatus(o: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function selectorFilter(opts: { labelSelector?: string; fieldSelector?: string }): (obj: KubeObject) => boolean {
  const labels = opts.labelSelector ? parseLabelSelector(opts.labelSelector) : undefined;
  const fields = opts.fieldSelector ? parseFieldSelector(opts.fieldSelector) : undefined;
  return (obj) => {
    if (labels && !matches(labels, obj.metadata.labels)) return false;
    if (fields && !fieldSelectorMatches(fields, (path) => valueAt(obj, path))) return false;
    return true;
  };
}

function valueAt(obj: unknown, path: string): string | undefined {
  let cur = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? undefined : String(cur);
}
