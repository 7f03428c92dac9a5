/**
 * RuntimeClass admission (upstream plugin/pkg/admission/runtimeclass): a new pod naming a RuntimeClass gets the class's
 * pod overhead in spec.overhead and its scheduling (nodeSelector merged, tolerations added); a pod naming a class that
 * does not exist is refused, as is an overhead that disagrees with the class's or one set without a class.
 */
import type { Pod, Toleration } from 'kubernetes-types/core/v1.js';
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import type { KubeObject } from '../../api/object.js';
import { forbidden } from '../../api/status.js';
import { deepEqual } from '../../api/validation.js';
import { isCoreResource, type AdmissionAttributes, type MutatingAdmission, type ValidatingAdmission } from './types.js';

type PodSpec = NonNullable<Pod['spec']>;

function refuse(attrs: AdmissionAttributes, why: string): Error {
  const obj = attrs.object!;
  return forbidden(`pods "${obj.metadata.name ?? obj.metadata.generateName ?? ''}" is forbidden: ${why}`);
}

function handlesPodCreate(attrs: AdmissionAttributes): boolean {
  return isCoreResource(attrs, 'pods') && attrs.subresource === '';
}

/** Tolerations of `extra` not already present in `tolerations` (helper.MergeTolerations keeps existing ones first). */
function mergeTolerations(tolerations: Toleration[], extra: Toleration[]): Toleration[] {
  const out = [...tolerations];
  for (const t of extra) if (!out.some((o) => deepEqual(o, t))) out.push(t);
  return out;
}

/** The mutating half: overhead and scheduling from the named RuntimeClass. */
export function runtimeClassAdmission(): MutatingAdmission {
  return {
    name: 'RuntimeClass',
    operations: ['CREATE'],
    handles: handlesPodCreate,
    async admit(attrs, ctx) {
      const spec = (attrs.object!.spec ?? {}) as PodSpec;
      if (!spec.runtimeClassName) return;
      const rc = (await ctx.get('node.k8s.io', 'runtimeclasses', '', spec.runtimeClassName)) as (RuntimeClass & KubeObject) | undefined;
      if (!rc) throw refuse(attrs, `pod rejected: RuntimeClass ${JSON.stringify(spec.runtimeClassName)} not found`);
      const mutable = spec as { overhead?: Record<string, string>; nodeSelector?: Record<string, string>; tolerations?: Toleration[] };
      const podFixed = rc.overhead?.podFixed as Record<string, string> | undefined;
      if (podFixed) {
        if (mutable.overhead && !deepEqual(mutable.overhead, podFixed)) throw refuse(attrs, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
        mutable.overhead = { ...podFixed };
      }
      const scheduling = rc.scheduling;
      if (!scheduling) return;
      if (scheduling.nodeSelector) {
        const merged = { ...(mutable.nodeSelector ?? {}) };
        for (const [k, v] of Object.entries(scheduling.nodeSelector)) {
          if (k in merged && merged[k] !== v) {
            throw refuse(attrs, `pod rejected: conflict: runtimeClass.scheduling.nodeSelector[${k}] = ${v}; pod.spec.nodeSelector[${k}] = ${merged[k]}`);
          }
          merged[k] = v;
        }
        mutable.nodeSelector = merged;
      }
      if (scheduling.tolerations?.length) mutable.tolerations = mergeTolerations(mutable.tolerations ?? [], scheduling.tolerations);
    },
  };
}

/** The validating half: an overhead must come from the pod's RuntimeClass. */
export function runtimeClassValidation(): ValidatingAdmission {
  return {
    name: 'RuntimeClass',
    operations: ['CREATE'],
    handles: handlesPodCreate,
    async validate(attrs, ctx) {
      const spec = (attrs.object!.spec ?? {}) as PodSpec & { overhead?: Record<string, string> };
      if (!spec.runtimeClassName) {
        if (spec.overhead && Object.keys(spec.overhead).length > 0) throw refuse(attrs, 'pod rejected: Overhead set without corresponding RuntimeClass');
        return;
      }
      const rc = (await ctx.get('node.k8s.io', 'runtimeclasses', '', spec.runtimeClassName)) as (RuntimeClass & KubeObject) | undefined;
      if (!rc) throw refuse(attrs, `pod rejected: RuntimeClass ${JSON.stringify(spec.runtimeClassName)} not found`);
      const podFixed = rc.overhead?.podFixed;
      if (spec.overhead && Object.keys(spec.overhead).length > 0 && !deepEqual(spec.overhead, podFixed ?? {})) {
        throw refuse(attrs, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
      }
    },
  };
}
