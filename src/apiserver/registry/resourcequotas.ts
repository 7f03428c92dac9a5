/** core/v1 ResourceQuotas: valid hard limits and the REQUEST/LIMIT usage columns. */
import type { ResourceQuota, ResourceQuotaSpec } from 'kubernetes-types/core/v1.js';
import { canonicalQuantity, isValidQuantity } from '../../api/quantity.js';
import { fieldInvalid, fieldNotSupported, type FieldError } from '../../api/status.js';
import { isQualifiedName, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

const scopes = ['Terminating', 'NotTerminating', 'BestEffort', 'NotBestEffort', 'PriorityClass', 'CrossNamespacePodAffinity'];

function q(v: unknown): string {
  return v === undefined ? '0' : (canonicalQuantity(String(v)) ?? String(v));
}

export const resourcequotas = defineResource({
  group: '',
  version: 'v1',
  kind: 'ResourceQuota',
  plural: 'resourcequotas',
  singular: 'resourcequota',
  namespaced: true,
  shortNames: ['quota'],
  hasStatus: true,
  schemaName: 'io.k8s.api.core.v1.ResourceQuota',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const spec = (obj.spec ?? {}) as ResourceQuotaSpec;
    const errs: FieldError[] = [];
    for (const [k, v] of Object.entries(spec.hard ?? {})) {
      for (const msg of isQualifiedName(k)) errs.push(fieldInvalid('spec.hard', k, msg));
      if (!isValidQuantity(String(v))) errs.push(fieldInvalid(`spec.hard[${k}]`, v, 'must be a valid quantity'));
      else if (String(v).startsWith('-')) errs.push(fieldInvalid(`spec.hard[${k}]`, v, 'must be greater than or equal to 0'));
    }
    for (const s of spec.scopes ?? []) if (!scopes.includes(s)) errs.push(fieldNotSupported('spec.scopes', s, scopes));
    return errs;
  },
  printer: {
    columns: [
      nameColumn,
      column('Request', 'Request represents a minimum amount of cpu/memory that a container may consume.'),
      column('Limit', 'Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.'),
      ageColumn,
    ],
    row(obj, now) {
      const rq = as<ResourceQuota>(obj);
      const hard = rq.status?.hard ?? {};
      const used = rq.status?.used ?? {};
      const requests: string[] = [];
      const limits: string[] = [];
      for (const name of Object.keys(hard).sort()) {
        const cell = `${name}: ${q(used[name])}/${q(hard[name])}`;
        if (name.split('.').length > 1 && name.split('.')[0] === 'limits') limits.push(cell);
        else requests.push(cell);
      }
      return [obj.metadata.name ?? '', requests.join(', '), limits.join(', '), age(obj, now)];
    },
  },
});
