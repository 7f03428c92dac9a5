/** rbac.authorization.k8s.io/v1 RoleBindings: roleRef (Role or ClusterRole, immutable) and subjects. */
import type { RoleBinding } from 'kubernetes-types/rbac/v1.js';
import { nameIsPathSegment } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { defaultBinding, rbacGroup, subjectCells, validateBinding, validateRoleRefUpdate } from './rbac-rules.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

export const rolebindings = defineResource({
  group: rbacGroup,
  version: 'v1',
  kind: 'RoleBinding',
  plural: 'rolebindings',
  singular: 'rolebinding',
  namespaced: true,
  hasStatus: false,
  schemaName: 'io.k8s.api.rbac.v1.RoleBinding',
  tracksGeneration: false,
  nameValidator: nameIsPathSegment,
  defaults: (obj) => defaultBinding(as<RoleBinding>(obj)),
  validateSpec: (obj) => validateBinding(as<RoleBinding>(obj), true),
  validateSpecUpdate: (obj, old) => validateRoleRefUpdate(as<RoleBinding>(obj).roleRef, as<RoleBinding>(old).roleRef),
  printer: {
    columns: [
      nameColumn,
      column('Role', 'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.'),
      ageColumn,
      column('Users', 'Users in the roleBinding', { priority: 1 }),
      column('Groups', 'Groups in the roleBinding', { priority: 1 }),
      column('ServiceAccounts', 'ServiceAccounts in the roleBinding', { priority: 1 }),
    ],
    row(obj, now) {
      const rb = as<RoleBinding>(obj);
      return [obj.metadata.name ?? '', `${rb.roleRef?.kind ?? ''}/${rb.roleRef?.name ?? ''}`, age(obj, now), ...subjectCells(rb.subjects)];
    },
  },
});
