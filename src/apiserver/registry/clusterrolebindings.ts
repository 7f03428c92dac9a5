/** rbac.authorization.k8s.io/v1 ClusterRoleBindings: a ClusterRole granted cluster-wide; roleRef immutable. */
import type { ClusterRoleBinding } from 'kubernetes-types/rbac/v1.js';
import { nameIsPathSegment } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { defaultBinding, rbacGroup, subjectCells, validateBinding, validateRoleRefUpdate } from './rbac-rules.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

export const clusterrolebindings = defineResource({
  group: rbacGroup,
  version: 'v1',
  kind: 'ClusterRoleBinding',
  plural: 'clusterrolebindings',
  singular: 'clusterrolebinding',
  namespaced: false,
  hasStatus: false,
  schemaName: 'io.k8s.api.rbac.v1.ClusterRoleBinding',
  tracksGeneration: false,
  nameValidator: nameIsPathSegment,
  defaults: (obj) => defaultBinding(as<ClusterRoleBinding>(obj)),
  validateSpec: (obj) => validateBinding(as<ClusterRoleBinding>(obj), false),
  validateSpecUpdate: (obj, old) => validateRoleRefUpdate(as<ClusterRoleBinding>(obj).roleRef, as<ClusterRoleBinding>(old).roleRef),
  printer: {
    columns: [
      nameColumn,
      column('Role', 'RoleRef can only reference a ClusterRole in the global namespace.'),
      ageColumn,
      column('Users', 'Users in the clusterRoleBinding', { priority: 1 }),
      column('Groups', 'Groups in the clusterRoleBinding', { priority: 1 }),
      column('ServiceAccounts', 'ServiceAccounts in the clusterRoleBinding', { priority: 1 }),
    ],
    row(obj, now) {
      const crb = as<ClusterRoleBinding>(obj);
      return [obj.metadata.name ?? '', `${crb.roleRef?.kind ?? ''}/${crb.roleRef?.name ?? ''}`, age(obj, now), ...subjectCells(crb.subjects)];
    },
  },
});
