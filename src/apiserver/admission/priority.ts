/**
 * Priority admission: a new pod's spec.priority (and preemptionPolicy) come from its priorityClassName, or from the
 * PriorityClass marked globalDefault, else 0. The built-in system-cluster-critical / system-node-critical classes
 * resolve to their upstream values. An unknown class name is refused, as upstream does.
 */
import type { KubeObject } from '../../api/object.js';
import { forbidden } from '../../api/status.js';
import { isCoreResource, type MutatingAdmission } from './types.js';

const SYSTEM_CLASSES: Record<string, number> = { 'system-node-critical': 2000001000, 'system-cluster-critical': 2000000000 };

interface PriorityClass extends KubeObject {
  value?: number;
  globalDefault?: boolean;
  preemptionPolicy?: string;
}

export function priorityAdmission(): MutatingAdmission {
  return {
    name: 'Priority',
    operations: ['CREATE'],
    handles: (attrs) => isCoreResource(attrs, 'pods') && attrs.subresource === '',
    admit(attrs, ctx) {
      const obj = attrs.object!;
      const spec = (obj.spec ??= {}) as { priorityClassName?: string; priority?: number; preemptionPolicy?: string };
      const classes = [...ctx.list('scheduling.k8s.io', 'priorityclasses')] as PriorityClass[];
      let value: number;
      let policy: string | undefined;
      if (spec.priorityClassName) {
        const pc = classes.find((c) => c.metadata.name === spec.priorityClassName);
        if (pc) {
          value = pc.value ?? 0;
          policy = pc.preemptionPolicy;
        } else if (spec.priorityClassName in SYSTEM_CLASSES) {
          value = SYSTEM_CLASSES[spec.priorityClassName];
        } else {
          throw forbidden(`pods "${obj.metadata.name ?? obj.metadata.generateName ?? ''}" is forbidden: no PriorityClass with name ${spec.priorityClassName} was found`);
        }
      } else {
        const def0 = classes.find((c) => c.globalDefault);
        value = def0?.value ?? 0;
        policy = def0?.preemptionPolicy;
        if (def0) spec.priorityClassName = def0.metadata.name;
      }
      if (spec.priority !== undefined && spec.priority !== value) {
        throw forbidden(`pods "${obj.metadata.name ?? ''}" is forbidden: the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${value} from the given PriorityClass name`);
      }
      spec.priority = value;
      spec.preemptionPolicy ??= policy ?? 'PreemptLowerPriority';
    },
  };
}
