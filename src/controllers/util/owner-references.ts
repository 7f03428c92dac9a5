/** Controller references (metav1.GetControllerOf / IsControlledBy / NewControllerRef): the one owner with controller: true. */
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import type { Lister } from '../../client/types.js';

export function controllerRefOf(obj: { metadata?: { ownerReferences?: readonly OwnerReference[] } }): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** True when obj's controller reference names owner (by uid, the only unambiguous identity). */
export function isControlledBy(obj: { metadata?: { ownerReferences?: readonly OwnerReference[] } }, owner: KubeObject): boolean {
  const ref = controllerRefOf(obj);
  return !!ref && ref.uid === owner.metadata.uid;
}

/**
 * The reference a controller puts on what it creates or adopts. blockOwnerDeletion makes foreground deletion of the
 * owner wait for this object, as upstream's NewControllerRef does.
 */
export function newControllerRef(owner: KubeObject, apiVersion: string, kind: string): Mutable<OwnerReference> {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The live owner a controller reference points at (upstream resolveControllerRef in each workload controller): the
 * object of that kind and name in the cache, and only if its uid is the reference's, since a reference to a deleted
 * owner must not be taken for a new one of the same name. Undefined for another kind, a missing owner or a stale uid.
 */
export function resolveControllerRef<T extends KubeObject>(
  lister: Lister<T>,
  kind: string,
  namespace: string,
  ref: Pick<OwnerReference, 'kind' | 'name' | 'uid'> | undefined,
): T | undefined {
  if (!ref || ref.kind !== kind) return undefined;
  const owner = lister.get(namespace, ref.name ?? '');
  return owner && owner.metadata.uid === ref.uid ? owner : undefined;
}
