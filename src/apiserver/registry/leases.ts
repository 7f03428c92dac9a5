/** coordination.k8s.io/v1 Leases: node heartbeats and leader election; the HOLDER column. */
import type { Lease, LeaseSpec } from 'kubernetes-types/coordination/v1.js';
import { fieldInvalid, type FieldError } from '../../api/status.js';
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

export const leases = defineResource({
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  plural: 'leases',
  singular: 'lease',
  namespaced: true,
  hasStatus: false,
  schemaName: 'io.k8s.api.coordination.v1.Lease',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const spec = (obj.spec ?? {}) as LeaseSpec;
    const errs: FieldError[] = [];
    if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds <= 0) errs.push(fieldInvalid('spec.leaseDurationSeconds', spec.leaseDurationSeconds, 'must be greater than 0'));
    if (spec.leaseTransitions !== undefined && spec.leaseTransitions < 0) errs.push(fieldInvalid('spec.leaseTransitions', spec.leaseTransitions, 'must be greater than or equal to 0'));
    return errs;
  },
  printer: {
    columns: [nameColumn, column('Holder', 'holderIdentity contains the identity of the holder of a current lease.'), ageColumn],
    row(obj, now) {
      return [obj.metadata.name ?? '', as<Lease>(obj).spec?.holderIdentity ?? '', age(obj, now)];
    },
  },
});
