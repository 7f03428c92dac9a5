/**
 * Mutating admission on create, in kube-apiserver's spirit: plugins run after defaults and before validation and
 * may change the object or refuse it with a StatusError. They read other objects from the watch cache.
 */
import type { KubeObject } from '../../api/object.js';
import type { ResourceDefinition } from '../registry/types.js';

export interface AdmissionContext {
  /** Current objects of a resource from the watch cache, e.g. ('scheduling.k8s.io', 'priorityclasses'). */
  list(group: string, plural: string): Iterable<KubeObject>;
}

export interface MutatingAdmission {
  readonly name: string;
  /** Called for every create; plugins check `def` themselves and return quickly for kinds they do not handle. */
  admitCreate(def: ResourceDefinition, obj: KubeObject, ctx: AdmissionContext): void;
}
