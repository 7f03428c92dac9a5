/**
 * The garbage collector (upstream pkg/controller/garbagecollector/garbagecollector.go). Informers on every resource
 * type (but Events) feed the DependencyGraph; two queues of object uids carry its work:
 *
 * - attemptToDelete: is this object garbage? It is when none of its owners exists any more (a 404, or an object of
 *   that name with another uid). Then it is deleted with Background propagation (or its own orphan/foreground
 *   finalizer's policy). An owner being deleted in the foreground makes its dependents garbage too: those that have
 *   dependents of their own are deleted in the foreground as well. For an owner with the foregroundDeletion
 *   finalizer it means: once no dependent that has blockOwnerDeletion remains, remove the finalizer.
 * - attemptToOrphan: an owner deleted with the orphan finalizer: remove its ownerReference from every dependent,
 *   then remove the finalizer.
 *
 * Owners are read live (from the API, not the graph or caches), as upstream, so a cache that is behind cannot make
 * an existing owner look absent; deletes carry uid and resourceVersion preconditions, so a stale copy of the
 * dependent itself cannot cause a wrong deletion either.
 *
 * Custom resources join while the collector runs (upstream finds them by discovery every 30 s): an Established
 * CustomResourceDefinition adds its kind, watched through an informer of the collector's own (in its storage
 * version), and its deletion removes it again, once the CRD's cleanup has deleted every object.
 */
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { parseApiVersion, type KubeObject } from '../../api/object.js';
import { isConflict, isNotFound } from '../../api/status.js';
import { allResourceTypes, CustomResourceDefinitions, Events } from '../../client/resources.js';
import { SharedInformer } from '../../client/informer.js';
import type { DeleteOptions, ResourceType, WorkQueue } from '../../client/types.js';
import { createWorkQueue, type RateLimitingQueue } from '../../client/workqueue.js';
import type { Controller, ControllerContext } from '../controller.js';
import {
  DependencyGraph,
  describeIdentity,
  FINALIZER_FOREGROUND,
  FINALIZER_ORPHAN,
  hasFinalizer,
  type GraphNode,
  type GraphWork,
  type ObjectIdentity,
} from './dependency-graph.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('garbage-collector-controller');

/** Owners known to be absent, so that deleting 10,000 dependents of one owner costs one GET, not 10,000. */
const ABSENT_OWNER_CACHE_SIZE = 500;
const MAX_WRITE_ATTEMPTS = 3;

type Outcome = 'done' | 'requeue';

/** A cluster-scoped object naming a namespaced owner: retrying cannot help (upstream namespacedOwnerOfClusterScopedObjectErr). */
class UnresolvableReferenceError extends Error {}

export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector';
  readonly graph = new DependencyGraph();
  private readonly deleteQueue: RateLimitingQueue;
  private readonly orphanQueue: RateLimitingQueue;
  private readonly absentOwners = new Map<string, true>();
  private readonly typesByGroupKind = new Map<string, ResourceType>();
  private readonly watched: ResourceType[];
  /** Custom resources' informers, by CRD name. */
  private readonly custom = new Map<string, { rt: ResourceType; informer: SharedInformer }>();

  constructor(private readonly ctx: ControllerContext) {
    this.deleteQueue = createWorkQueue({ clock: ctx.clock });
    this.orphanQueue = createWorkQueue({ clock: ctx.clock });
    for (const rt of allResourceTypes) this.typesByGroupKind.set(`${rt.group}/${rt.kind}`, rt);
    // Events are never owners and are collected by their TTL, as upstream's default ignored resources.
    this.watched = [...allResourceTypes.filter((rt) => rt !== Events), CustomResourceDefinitions];
  }

  private readonly graphHandlers = {
    add: (obj: KubeObject) => this.schedule(this.graph.observe(undefined, obj)),
    update: (oldObj: KubeObject, obj: KubeObject) => this.schedule(this.graph.observe(oldObj, obj)),
    delete: (obj: KubeObject) => this.schedule(this.graph.remove(obj.metadata.uid ?? '')),
  };

  start(): void {
    for (const rt of this.watched) this.ctx.informers.informerFor(rt).addEventHandler(this.graphHandlers);
    this.ctx.informers.informerFor(CustomResourceDefinitions).addEventHandler({
      add: (crd) => this.followCustomResource(crd),
      update: (_old, crd) => this.followCustomResource(crd),
      delete: (crd) => this.unfollowCustomResource(crd.metadata.name ?? ''),
    });
  }

  /** Watches the kind of an Established CRD (once), so its objects can own and be owned. */
  private followCustomResource(crd: KubeObject): void {
    const name = crd.metadata.name ?? '';
    const rt = customResourceType(crd);
    const current = this.custom.get(name);
    if (current && rt && sameType(current.rt, rt)) return;
    if (current) this.unfollowCustomResource(name);
    if (!rt) return;
    const informer = new SharedInformer(this.ctx.client, rt, {}, { clock: this.ctx.clock });
    informer.addEventHandler(this.graphHandlers);
    this.custom.set(name, { rt, informer });
    this.typesByGroupKind.set(`${rt.group}/${rt.kind}`, rt);
    informer.start();
  }

  private unfollowCustomResource(name: string): void {
    const current = this.custom.get(name);
    if (!current) return;
    current.informer.stop();
    this.custom.delete(name);
    if (this.typesByGroupKind.get(`${current.rt.group}/${current.rt.kind}`) === current.rt) this.typesByGroupKind.delete(`${current.rt.group}/${current.rt.kind}`);
  }

  run(workers: number): Promise<void> {
    return Promise.all([
      runGcWorkers('attempt-to-delete', this.deleteQueue, workers, (uid) => this.attemptToDelete(uid)),
      runGcWorkers('attempt-to-orphan', this.orphanQueue, workers, (uid) => this.attemptToOrphan(uid)),
    ]).then(() => undefined);
  }

  stop(): void {
    this.deleteQueue.shutDown();
    this.orphanQueue.shutDown();
    for (const name of [...this.custom.keys()]) this.unfollowCustomResource(name);
  }

  private schedule(work: GraphWork): void {
    for (const n of work.attemptToDelete) this.deleteQueue.add(n.identity.uid);
    for (const n of work.attemptToOrphan) this.orphanQueue.add(n.identity.uid);
  }

  // ---- attemptToDelete ---------------------------------------------------------------------------------------

  /** Upstream attemptToDeleteItem, for the node with this uid. */
  async attemptToDelete(uid: string): Promise<Outcome> {
    const item = this.graph.node(uid);
    if (!item) return 'done';
    // Being deleted is a one-way trip: wait for it to finish, its dependents are handled when it is gone.
    if (item.beingDeleted && !item.deletingDependents) return 'done';

    // An observed object is judged from the informer's copy (upstream reads it live; its TODO says only virtual nodes
    // need that). A stale copy cannot cause a wrong deletion: the delete carries its resourceVersion as a
    // precondition, and a conflict is re-checked live.
    const latest = (item.observed ? this.cached(item.identity) : undefined) ?? (await this.getLatest(item.identity));
    if (!latest) {
      // Gone (or replaced by a namesake): act as if the informer had reported the deletion.
      this.schedule(this.graph.remove(uid));
      return 'done';
    }
    // A virtual node whose object exists: wait for the informer to show it before judging it.
    if (!item.observed) return 'requeue';
    if (item.deletingDependents) return this.processDeletingDependents(item);

    const refs = latest.metadata.ownerReferences ?? [];
    if (refs.length === 0) return 'done';
    let solid: OwnerReference[];
    let dangling: OwnerReference[];
    let waiting: OwnerReference[];
    try {
      ({ solid, dangling, waiting } = await this.classifyReferences(item, refs));
    } catch (err) {
      if (!(err instanceof UnresolvableReferenceError)) throw err;
      log.error('cannot resolve an owner reference; ignoring it', { object: describeIdentity(item.identity), err });
      return 'done';
    }

    if (solid.length > 0) {
      if (dangling.length === 0 && waiting.length === 0) return 'done';
      // It stays (another owner holds it), but references to vanished owners go, and so do references to owners
      // waiting in the foreground: those would wait for this object forever.
      const drop = new Set([...dangling, ...waiting].map((r) => r.uid));
      await this.patchOwnerReferences(item.identity, (current) => current.filter((r) => !drop.has(r.uid)));
      return 'done';
    }
    if (waiting.length > 0 && item.dependents.size > 0) {
      // Its owner waits for it, and it has dependents of its own: delete it in the foreground too. If one of those
      // dependents is itself waiting for *its* dependents, the chain may be a cycle: stop blocking our owners.
      if ([...item.dependents].some((d) => d.deletingDependents)) {
        await this.patchOwnerReferences(item.identity, (current) => current.map((r) => (r.blockOwnerDeletion ? { ...r, blockOwnerDeletion: false } : r)));
      }
      await this.deleteObject(item, latest, 'Foreground');
      return 'done';
    }
    // Garbage: honour a policy the object already asked for, otherwise Background.
    const policy = hasFinalizer(latest, FINALIZER_ORPHAN) ? 'Orphan' : hasFinalizer(latest, FINALIZER_FOREGROUND) ? 'Foreground' : 'Background';
    await this.deleteObject(item, latest, policy);
    return 'done';
  }

  /** An owner deleting in the foreground: done once no blocking dependent is left. */
  private async processDeletingDependents(item: GraphNode): Promise<Outcome> {
    const blocking = item.blockingDependents();
    if (blocking.length === 0) {
      await this.removeFinalizer(item.identity, FINALIZER_FOREGROUND);
      return 'done';
    }
    for (const dep of blocking) if (!dep.deletingDependents) this.deleteQueue.add(dep.identity.uid);
    return 'done';
  }

  /**
   * Splits references into solid (the owner exists and is not deleting in the foreground), dangling (no such owner,
   * or one with another uid) and waiting (the owner exists and waits for its dependents to go).
   */
  private async classifyReferences(item: GraphNode, refs: OwnerReference[]): Promise<{ solid: OwnerReference[]; dangling: OwnerReference[]; waiting: OwnerReference[] }> {
    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of refs) {
      const owner = await this.liveOwner(item, ref);
      if (!owner) dangling.push(ref);
      else if (owner.metadata.deletionTimestamp && hasFinalizer(owner, FINALIZER_FOREGROUND)) waiting.push(ref);
      else solid.push(ref);
    }
    return { solid, dangling, waiting };
  }

  /** The owner a reference names, read live; undefined when absent (404, or present with another uid). */
  private async liveOwner(item: GraphNode, ref: OwnerReference): Promise<KubeObject | undefined> {
    const rt = this.resourceTypeOf(ref.apiVersion, ref.kind);
    if (rt.namespaced && !item.identity.namespace) {
      throw new UnresolvableReferenceError(`it is cluster-scoped but names the namespaced owner ${ref.kind} ${ref.name}`);
    }
    const namespace = rt.namespaced ? item.identity.namespace : '';
    const cacheKey = `${ref.uid}|${namespace}`;
    if (this.absentOwners.has(cacheKey)) return undefined;
    try {
      const owner = await this.ctx.client.get(rt, namespace, ref.name);
      if (owner.metadata.uid === ref.uid) return owner;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.rememberAbsent(cacheKey);
    return undefined;
  }

  private rememberAbsent(key: string): void {
    this.absentOwners.delete(key);
    this.absentOwners.set(key, true);
    if (this.absentOwners.size > ABSENT_OWNER_CACHE_SIZE) this.absentOwners.delete(this.absentOwners.keys().next().value!);
  }

  /**
   * Deletes the object if it is still the one we judged: uid and resourceVersion preconditions. A conflict on the
   * resourceVersion alone is fine when the owner references did not change (upstream deleteObject).
   */
  private async deleteObject(item: GraphNode, latest: KubeObject, policy: DeleteOptions['propagationPolicy']): Promise<void> {
    const id = item.identity;
    const rt = this.resourceTypeOf(id.apiVersion, id.kind);
    const opts: DeleteOptions = { propagationPolicy: policy, preconditions: { uid: id.uid, resourceVersion: latest.metadata.resourceVersion } };
    try {
      await this.ctx.client.delete(rt, this.namespaceOf(rt, id), id.name, opts);
      return;
    } catch (err) {
      if (isNotFound(err)) {
        this.schedule(this.graph.remove(id.uid));
        return;
      }
      if (!isConflict(err)) throw err;
    }
    const live = await this.getLatest(id);
    if (!live) return;
    if (JSON.stringify(live.metadata.ownerReferences ?? []) !== JSON.stringify(latest.metadata.ownerReferences ?? [])) {
      // Its owners changed since we decided (adopted, say): decide again.
      this.deleteQueue.add(id.uid);
      return;
    }
    try {
      await this.ctx.client.delete(rt, this.namespaceOf(rt, id), id.name, { propagationPolicy: policy, preconditions: { uid: id.uid } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  // ---- attemptToOrphan ---------------------------------------------------------------------------------------

  async attemptToOrphan(uid: string): Promise<Outcome> {
    const owner = this.graph.node(uid);
    if (!owner) return 'done';
    const errors: string[] = [];
    await Promise.all(
      [...owner.dependents].map(async (dep) => {
        try {
          await this.patchOwnerReferences(dep.identity, (current) => current.filter((r) => r.uid !== uid));
        } catch (err) {
          errors.push(`${describeIdentity(dep.identity)}: ${(err as Error).message}`);
        }
      }),
    );
    if (errors.length > 0) throw new Error(`orphaning the dependents of ${describeIdentity(owner.identity)} failed: ${errors.join('; ')}`);
    await this.removeFinalizer(owner.identity, FINALIZER_ORPHAN);
    return 'done';
  }

  // ---- writes ------------------------------------------------------------------------------------------------

  /** The informer's copy of the object, if it has this incarnation. */
  private cached(id: ObjectIdentity): KubeObject | undefined {
    const rt = this.resourceTypeOf(id.apiVersion, id.kind);
    const obj = this.ctx.informers.informerFor(rt).lister.get(this.namespaceOf(rt, id), id.name);
    return obj?.metadata.uid === id.uid ? obj : undefined;
  }

  /** The object as the API has it now, or undefined when absent or replaced by a namesake with another uid. */
  private async getLatest(id: ObjectIdentity): Promise<KubeObject | undefined> {
    const rt = this.resourceTypeOf(id.apiVersion, id.kind);
    try {
      const obj = await this.ctx.client.get(rt, this.namespaceOf(rt, id), id.name);
      return obj.metadata.uid === id.uid ? obj : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Rewrites the object's ownerReferences (merge patch with a resourceVersion precondition, retried on conflict). */
  private async patchOwnerReferences(id: ObjectIdentity, edit: (current: OwnerReference[]) => OwnerReference[]): Promise<void> {
    const rt = this.resourceTypeOf(id.apiVersion, id.kind);
    for (let attempt = 0; ; attempt++) {
      const latest = await this.getLatest(id);
      if (!latest) return;
      const current = latest.metadata.ownerReferences ?? [];
      const next = edit(current);
      if (JSON.stringify(next) === JSON.stringify(current)) return;
      try {
        await this.ctx.client.patch(rt, this.namespaceOf(rt, id), id.name, 'merge', {
          metadata: { resourceVersion: latest.metadata.resourceVersion, ownerReferences: next.length > 0 ? next : null },
        });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err) || attempt + 1 >= MAX_WRITE_ATTEMPTS) throw err;
      }
    }
  }

  /** Removes one finalizer; removing the last one of an object being deleted completes its deletion. */
  private async removeFinalizer(id: ObjectIdentity, finalizer: string): Promise<void> {
    const rt = this.resourceTypeOf(id.apiVersion, id.kind);
    for (let attempt = 0; ; attempt++) {
      const latest = await this.getLatest(id);
      if (!latest || !hasFinalizer(latest, finalizer)) return;
      const rest = (latest.metadata.finalizers ?? []).filter((f) => f !== finalizer);
      try {
        await this.ctx.client.patch(rt, this.namespaceOf(rt, id), id.name, 'merge', {
          metadata: { resourceVersion: latest.metadata.resourceVersion, finalizers: rest.length > 0 ? rest : null },
        });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err) || attempt + 1 >= MAX_WRITE_ATTEMPTS) throw err;
      }
    }
  }

  private resourceTypeOf(apiVersion: string, kind: string): ResourceType {
    const rt = this.typesByGroupKind.get(`${parseApiVersion(apiVersion).group}/${kind}`);
    if (!rt) throw new Error(`no resource type is known for ${kind} in ${apiVersion}`);
    return rt;
  }

  private namespaceOf(rt: ResourceType, id: ObjectIdentity): string {
    return rt.namespaced ? id.namespace : '';
  }
}

/**
 * Workers for one GC queue: 'done' forgets the key's backoff; 'requeue' retries it with backoff quietly (an
 * expected wait); an error is logged once with the uid and retried with backoff.
 */
async function runGcWorkers(name: string, queue: WorkQueue, workers: number, fn: (uid: string) => Promise<Outcome>): Promise<void> {
  // Upstream's queue names: garbage_collector_attempt_to_delete, garbage_collector_attempt_to_orphan (workqueue_* metrics).
  queue.instrument?.(`garbage_collector_${name.replace(/-/g, '_')}`);
  const worker = async () => {
    for (;;) {
      const uid = await queue.get();
      if (uid === undefined) return;
      try {
        if ((await fn(uid)) === 'requeue') queue.addRateLimited(uid);
        else queue.forget(uid);
      } catch (err) {
        log.error('error processing object', { queue: name, uid, err });
        queue.addRateLimited(uid);
      } finally {
        queue.done(uid);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, worker));
}

interface CrdShape {
  spec?: { group?: string; scope?: string; names?: { plural?: string; kind?: string }; versions?: { name?: string; storage?: boolean; served?: boolean }[] };
  status?: { conditions?: { type?: string; status?: string }[] };
}

/** The resource type of an Established CRD (its storage version), or undefined while it is not served. */
export function customResourceType(crd: KubeObject): ResourceType | undefined {
  const { spec, status } = crd as unknown as CrdShape;
  if (!status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return undefined;
  const version = spec?.versions?.find((v) => v.storage)?.name ?? spec?.versions?.find((v) => v.served)?.name;
  if (!spec?.group || !spec.names?.plural || !spec.names.kind || !version) return undefined;
  return { group: spec.group, version, resource: spec.names.plural, kind: spec.names.kind, namespaced: spec.scope !== 'Cluster' };
}

function sameType(a: ResourceType, b: ResourceType): boolean {
  return a.group === b.group && a.version === b.version && a.resource === b.resource && a.kind === b.kind && a.namespaced === b.namespaced;
}
