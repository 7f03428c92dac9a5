/** Controller references (metav1.GetControllerOf / IsControlledBy / NewControllerRef): the one owner with controller: true. */
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';

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
