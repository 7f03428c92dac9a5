/** scheduling.k8s.io/v1 PriorityClasses: value limits, reserved `system-` names, immutable value and policy. */
import type { PriorityClass } from 'kubernetes-types/scheduling/v1.js';
import { fieldForbidden, fieldInvalid, fieldNotSupported, type FieldError } from '../../api/status.js';
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

/** Highest value a user-defined class may have; system classes sit above it. */
export const HighestUserDefinablePriority = 1000000000;
const systemClasses = new Set(['system-cluster-critical', 'system-node-critical']);

export const priorityclasses = defineResource({
  group: 'scheduling.k8s.io',
  version: 'v1',
  kind: 'PriorityClass',
  plural: 'priorityclasses',
  singular: 'priorityclass',
  namespaced: false,
  shortNames: ['pc'],
  hasStatus: false,
  schemaName: 'io.k8s.api.scheduling.v1.PriorityClass',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    as<PriorityClass>(obj).preemptionPolicy ??= 'PreemptLowerPriority';
  },
  validateSpec(obj) {
    const pc = as<PriorityClass>(obj);
    const errs: FieldError[] = [];
    const name = obj.metadata.name ?? '';
    if (systemClasses.has(name)) return errs;
    if (name.startsWith('system-')) errs.push(fieldInvalid('metadata.name', name, "priority class names with 'system-' prefix are reserved"));
    if (pc.value > HighestUserDefinablePriority) errs.push(fieldForbidden('value', `maximum allowed value of a user defined priority is ${HighestUserDefinablePriority}`));
    const policy = pc.preemptionPolicy;
    if (policy && policy !== 'PreemptLowerPriority' && policy !== 'Never') errs.push(fieldNotSupported('preemptionPolicy', policy, ['Never', 'PreemptLowerPriority']));
    return errs;
  },
  validateSpecUpdate(obj, old) {
    const errs: FieldError[] = [];
    if (obj.value !== old.value) errs.push(fieldForbidden('value', 'may not be changed in an update.'));
    if (obj.preemptionPolicy !== old.preemptionPolicy) errs.push(fieldInvalid('preemptionPolicy', obj.preemptionPolicy ?? null, 'field is immutable'));
    return errs;
  },
  printer: {
    columns: [
      nameColumn,
      column('Value', 'value represents the integer value of this priority class.', { type: 'integer' }),
      column('Global-Default', 'globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.', { type: 'boolean' }),
      ageColumn,
      column('PreemptionPolicy', 'preemptionPolicy is the Policy for preempting pods with lower priority.'),
    ],
    row(obj, now) {
      const pc = as<PriorityClass>(obj);
      return [obj.metadata.name ?? '', pc.value ?? 0, pc.globalDefault ?? false, age(obj, now), pc.preemptionPolicy ?? ''];
    },
  },
});
