/**
 * The garbage collector's view of ownership (upstream pkg/controller/garbagecollector/graph.go and graph_builder.go):
 * a node per object uid, linked to the nodes of the owners its ownerReferences name and to its dependents. An owner
 * that has not been observed (yet, or ever) is a "virtual" node, known only from references to it.
 *
 * The graph is fed informer events and answers each with the work it calls for: nodes to check for deletion
 * (attemptToDelete) and owners whose dependents must be orphaned (attemptToOrphan). It performs no I/O.
 */
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { parseApiVersion, type KubeObject } from '../../api/object.js';

export const FINALIZER_FOREGROUND = 'foregroundDeletion';
export const FINALIZER_ORPHAN = 'orphan';

/** Where an object lives and which incarnation it is. */
export interface ObjectIdentity {
  apiVersion: string;
  kind: string;
  /** '' for cluster-scoped objects; for virtual nodes, the namespace of the dependent that named the owner. */
  namespace: string;
  name: string;
  uid: string;
}

export class GraphNode {
  readonly dependents = new Set<GraphNode>();
  /** The object's ownerReferences as last observed (empty for virtual nodes). */
  owners: OwnerReference[] = [];
  /** False for a virtual node: an owner only known from its dependents' references. */
  observed: boolean;
  /** The object has a deletionTimestamp. */
  beingDeleted = false;
  /** Being deleted with the foregroundDeletion finalizer: it waits for its blocking dependents to go. */
  deletingDependents = false;

  constructor(
    public identity: ObjectIdentity,
    observed: boolean,
  ) {
    this.observed = observed;
  }

  /** Dependents whose reference to this node has blockOwnerDeletion: foreground deletion waits for them. */
  blockingDependents(): GraphNode[] {
    return [...this.dependents].filter((d) => d.owners.some((r) => r.uid === this.identity.uid && r.blockOwnerDeletion === true));
  }
}

/** What an event asks the collector to do. */
export interface GraphWork {
  attemptToDelete: GraphNode[];
  attemptToOrphan: GraphNode[];
}

export class DependencyGraph {
  private readonly nodes = new Map<string, GraphNode>();

  get size(): number {
    return this.nodes.size;
  }

  node(uid: string): GraphNode | undefined {
    return this.nodes.get(uid);
  }

  /** An object was added or updated (oldObj: its previous state, when the informer knows it). */
  observe(oldObj: KubeObject | undefined, obj: KubeObject): GraphWork {
    const work: GraphWork = { attemptToDelete: [], attemptToOrphan: [] };
    const uid = obj.metadata.uid;
    if (!uid) return work;
    const refs = obj.metadata.ownerReferences ?? [];
    let node = this.nodes.get(uid);
    if (!node) {
      node = new GraphNode(identityOf(obj), true);
      node.owners = [...refs];
      this.nodes.set(uid, node);
      this.linkToOwners(node, refs, work);
    } else {
      if (!node.observed) {
        const seen = identityOf(obj);
        // Dependents named this owner with other coordinates than it really has: they must be re-checked.
        if (!sameIdentity(seen, node.identity)) work.attemptToDelete.push(...node.dependents);
        node.identity = seen;
        node.observed = true;
      }
      const { added, removed, changed } = referencesDiff(node.owners, refs);
      if (added.length || removed.length || changed.length) {
        // A dependent that stops blocking (reference gone, or blockOwnerDeletion dropped) may let a
        // foreground-deleting owner finish.
        for (const r of [...removed, ...changed.filter((c) => c.old.blockOwnerDeletion && !c.new.blockOwnerDeletion).map((c) => c.old)]) {
          const owner = this.nodes.get(r.uid);
          if (owner?.deletingDependents) work.attemptToDelete.push(owner);
        }
        node.owners = [...refs];
        this.linkToOwners(node, added, work);
        for (const r of removed) this.nodes.get(r.uid)?.dependents.delete(node);
      }
    }
    if (obj.metadata.deletionTimestamp) node.beingDeleted = true;
    this.processTransitions(oldObj, obj, node, work);
    return work;
  }

  /** An object was deleted (observed by an informer, or found absent by a live read: a "virtual" delete). */
  remove(uid: string): GraphWork {
    const work: GraphWork = { attemptToDelete: [], attemptToOrphan: [] };
    const node = this.nodes.get(uid);
    if (!node) return work;
    this.nodes.delete(uid);
    for (const r of node.owners) this.nodes.get(r.uid)?.dependents.delete(node);
    // Background cascade: dependents of a vanished owner are checked, and deleted unless they have another owner.
    work.attemptToDelete.push(...node.dependents);
    // A foreground-deleting owner may have been waiting for exactly this dependent.
    for (const r of node.owners) {
      const owner = this.nodes.get(r.uid);
      if (owner?.deletingDependents) work.attemptToDelete.push(owner);
    }
    return work;
  }

  private linkToOwners(node: GraphNode, refs: readonly OwnerReference[], work: GraphWork): void {
    for (const r of refs) {
      let owner = this.nodes.get(r.uid);
      if (!owner) {
        // Not seen yet: a virtual node, which the collector verifies with a live read.
        owner = new GraphNode({ apiVersion: r.apiVersion, kind: r.kind, namespace: node.identity.namespace, name: r.name, uid: r.uid }, false);
        this.nodes.set(r.uid, owner);
        work.attemptToDelete.push(owner);
      }
      owner.dependents.add(node);
    }
  }

  private processTransitions(oldObj: KubeObject | undefined, obj: KubeObject, node: GraphNode, work: GraphWork): void {
    if (startsDeletionWith(oldObj, obj, FINALIZER_ORPHAN)) work.attemptToOrphan.push(node);
    if (startsDeletionWith(oldObj, obj, FINALIZER_FOREGROUND)) {
      node.deletingDependents = true;
      work.attemptToDelete.push(...node.dependents, node);
    }
  }
}

export function identityOf(obj: KubeObject): ObjectIdentity {
  return {
    apiVersion: obj.apiVersion ?? '',
    kind: obj.kind ?? '',
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name ?? '',
    uid: obj.metadata.uid ?? '',
  };
}

export function describeIdentity(id: ObjectIdentity): string {
  return `${id.kind} ${id.namespace ? `${id.namespace}/` : ''}${id.name} (uid ${id.uid})`;
}

function sameIdentity(a: ObjectIdentity, b: ObjectIdentity): boolean {
  // Versions may differ (autoscaling/v1 and /v2 name the same object); the group may not.
  return a.uid === b.uid && a.name === b.name && a.namespace === b.namespace && a.kind === b.kind && parseApiVersion(a.apiVersion).group === parseApiVersion(b.apiVersion).group;
}

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return (obj.metadata.finalizers ?? []).includes(finalizer);
}

/** The object is being deleted with the finalizer now, and was not before (or we never saw it before). */
function startsDeletionWith(oldObj: KubeObject | undefined, obj: KubeObject, finalizer: string): boolean {
  if (!obj.metadata.deletionTimestamp || !hasFinalizer(obj, finalizer)) return false;
  return !oldObj || !oldObj.metadata.deletionTimestamp || !hasFinalizer(oldObj, finalizer);
}

function referencesDiff(
  old: readonly OwnerReference[],
  next: readonly OwnerReference[],
): { added: OwnerReference[]; removed: OwnerReference[]; changed: { old: OwnerReference; new: OwnerReference }[] } {
  const oldByUid = new Map(old.map((r) => [r.uid, r]));
  const newByUid = new Map(next.map((r) => [r.uid, r]));
  const added = next.filter((r) => !oldByUid.has(r.uid));
  const removed = old.filter((r) => !newByUid.has(r.uid));
  const changed: { old: OwnerReference; new: OwnerReference }[] = [];
  for (const r of next) {
    const o = oldByUid.get(r.uid);
    if (o && JSON.stringify(o) !== JSON.stringify(r)) changed.push({ old: o, new: r });
  }
  return { added, removed, changed };
}
