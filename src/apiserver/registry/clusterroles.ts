/** rbac.authorization.k8s.io/v1 ClusterRoles: cluster-wide rules, optionally aggregated from labelled roles. */
import type { AggregationRule, PolicyRule } from 'kubernetes-types/rbac/v1.js';
import { fieldRequired } from '../../api/status.js';
import { validateLabelSelector } from '../../api/labels.js';
import { nameIsPathSegment } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { rbacGroup, validatePolicyRules } from './rbac-rules.js';
import { createdAtPrinter } from './table-columns.js';

export const clusterroles = defineResource({
  group: rbacGroup,
  version: 'v1',
  kind: 'ClusterRole',
  plural: 'clusterroles',
  singular: 'clusterrole',
  namespaced: false,
  hasStatus: false,
  schemaName: 'io.k8s.api.rbac.v1.ClusterRole',
  tracksGeneration: false,
  nameValidator: nameIsPathSegment,
  validateSpec(obj) {
    const errs = validatePolicyRules(obj.rules as PolicyRule[] | undefined, false);
    const agg = obj.aggregationRule as AggregationRule | undefined;
    if (agg) {
      if (!agg.clusterRoleSelectors || agg.clusterRoleSelectors.length === 0) errs.push(fieldRequired('aggregationRule.clusterRoleSelectors', 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
      (agg.clusterRoleSelectors ?? []).forEach((s, i) => errs.push(...validateLabelSelector(s, `aggregationRule.clusterRoleSelectors[${i}]`)));
    }
    return errs;
  },
  printer: createdAtPrinter,
});
