/** core/v1 Namespaces: the `kubernetes` finalizer, phase Active on create, DNS-label names. */
import type { Namespace, NamespaceSpec, NamespaceStatus } from 'kubernetes-types/core/v1.js';
import { nameIsDNSLabel } from '../../api/validation.js';
import { defineResource, specOf, statusOf } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

export const namespaces = defineResource({
  group: '',
  version: 'v1',
  kind: 'Namespace',
  plural: 'namespaces',
  singular: 'namespace',
  namespaced: false,
  shortNames: ['ns'],
  // Namespaces cannot be deleted as a collection (kube-apiserver serves no deletecollection for them).
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  hasStatus: true,
  schemaName: 'io.k8s.api.core.v1.Namespace',
  tracksGeneration: false,
  nameValidator: nameIsDNSLabel,
  prepareForCreate(obj) {
    // The namespace controller removes this finalizer once the namespace's content is gone.
    const spec = specOf<NamespaceSpec>(obj);
    spec.finalizers ??= ['kubernetes'];
    statusOf<NamespaceStatus>(obj).phase = 'Active';
  },
  prepareForUpdate(obj, old) {
    // spec.finalizers only change through the finalize subresource (namespace strategy PrepareForUpdate).
    const finalizers = (old.spec as NamespaceSpec | undefined)?.finalizers;
    if (finalizers) specOf<NamespaceSpec>(obj).finalizers = [...finalizers];
    else if (obj.spec) delete (obj.spec as NamespaceSpec).finalizers;
  },
  printer: {
    columns: [nameColumn, column('Status', 'The status of the namespace'), ageColumn],
    row(obj, now) {
      return [obj.metadata.name ?? '', as<Namespace>(obj).status?.phase ?? '', age(obj, now)];
    },
  },
  fieldSelectors: {
    'status.phase': (o) => as<Namespace>(o).status?.phase ?? '',
  },
});
