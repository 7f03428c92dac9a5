/** rbac.authorization.k8s.io/v1 Roles: namespaced policy rules; printed as NAME / CREATED AT like upstream. */
import type { PolicyRule } from 'kubernetes-types/rbac/v1.js';
import { nameIsPathSegment } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { rbacGroup, validatePolicyRules } from './rbac-rules.js';
import { createdAtPrinter } from './table-columns.js';

export const roles = defineResource({
  group: rbacGroup,
  version: 'v1',
  kind: 'Role',
  plural: 'roles',
  singular: 'role',
  namespaced: true,
  hasStatus: false,
  schemaName: 'io.k8s.api.rbac.v1.Role',
  tracksGeneration: false,
  nameValidator: nameIsPathSegment,
  validateSpec: (obj) => validatePolicyRules(obj.rules as PolicyRule[] | undefined, true),
  printer: createdAtPrinter,
});
