/** core/v1 ServiceAccounts: names and the SECRETS count column. */
import type { ServiceAccount } from 'kubernetes-types/core/v1.js';
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

export const serviceaccounts = defineResource({
  group: '',
  version: 'v1',
  kind: 'ServiceAccount',
  plural: 'serviceaccounts',
  singular: 'serviceaccount',
  namespaced: true,
  shortNames: ['sa'],
  hasStatus: false,
  schemaName: 'io.k8s.api.core.v1.ServiceAccount',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  printer: {
    columns: [nameColumn, column('Secrets', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'), ageColumn],
    row(obj, now) {
      return [obj.metadata.name ?? '', as<ServiceAccount>(obj).secrets?.length ?? 0, age(obj, now)];
    },
  },
});
