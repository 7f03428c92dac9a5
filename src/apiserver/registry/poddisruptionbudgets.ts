/** policy/v1 PodDisruptionBudgets: minAvailable xor maxUnavailable, and the ALLOWED DISRUPTIONS table. */
import type { PodDisruptionBudget, PodDisruptionBudgetSpec } from 'kubernetes-types/policy/v1.js';
import { fieldInvalid, fieldNotSupported, type FieldError } from '../../api/status.js';
import { validateLabelSelector } from '../../api/labels.js';
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { validateIntOrPercent } from './deployments.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

function validatePdbSpec(spec: PodDisruptionBudgetSpec | undefined): FieldError[] {
  const s = spec ?? {};
  const errs: FieldError[] = [];
  if (s.minAvailable !== undefined && s.maxUnavailable !== undefined) errs.push(fieldInvalid('spec', s, 'minAvailable and maxUnavailable cannot be both set'));
  for (const f of ['minAvailable', 'maxUnavailable'] as const) {
    const v = s[f];
    errs.push(...validateIntOrPercent(v, `spec.${f}`));
    if (typeof v === 'string' && parseInt(v, 10) > 100) errs.push(fieldInvalid(`spec.${f}`, v, 'must not be greater than 100%'));
  }
  errs.push(...validateLabelSelector(s.selector, 'spec.selector'));
  const policy = s.unhealthyPodEvictionPolicy;
  if (policy && policy !== 'IfHealthyBudget' && policy !== 'AlwaysAllow') errs.push(fieldNotSupported('spec.unhealthyPodEvictionPolicy', policy, ['AlwaysAllow', 'IfHealthyBudget']));
  return errs;
}

export const poddisruptionbudgets = defineResource({
  group: 'policy',
  version: 'v1',
  kind: 'PodDisruptionBudget',
  plural: 'poddisruptionbudgets',
  singular: 'poddisruptionbudget',
  namespaced: true,
  shortNames: ['pdb'],
  hasStatus: true,
  schemaName: 'io.k8s.api.policy.v1.PodDisruptionBudget',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  validateSpec: (obj) => validatePdbSpec(obj.spec as PodDisruptionBudgetSpec | undefined),
  printer: {
    columns: [
      nameColumn,
      column('Min Available', 'The minimum number of pods that must be available.'),
      column('Max Unavailable', 'The maximum number of pods that may be unavailable.'),
      column('Allowed Disruptions', 'Calculated number of pods that may be disrupted at this time.', { type: 'integer' }),
      ageColumn,
    ],
    row(obj, now) {
      const pdb = as<PodDisruptionBudget>(obj);
      const show = (v: number | string | undefined) => (v === undefined || v === null ? 'N/A' : String(v));
      return [obj.metadata.name ?? '', show(pdb.spec?.minAvailable), show(pdb.spec?.maxUnavailable), pdb.status?.disruptionsAllowed ?? 0, age(obj, now)];
    },
  },
});
