/** Validation and defaults shared by the four rbac.authorization.k8s.io kinds (pkg/apis/rbac/validation). */
import type { PolicyRule, RoleRef, Subject } from 'kubernetes-types/rbac/v1.js';
import { fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { deepEqual, isDNS1123Subdomain, isDNS1123Label } from '../../api/validation.js';

export const rbacGroup = 'rbac.authorization.k8s.io';

export function validatePolicyRules(rules: PolicyRule[] | undefined, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  (rules ?? []).forEach((rule, i) => {
    const p = `rules[${i}]`;
    if (!rule.verbs || rule.verbs.length === 0) errs.push(fieldRequired(`${p}.verbs`, 'verbs must contain at least one value'));
    if (rule.nonResourceURLs && rule.nonResourceURLs.length > 0) {
      if (namespaced) errs.push(fieldInvalid(`${p}.nonResourceURLs`, rule.nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs'));
      if ((rule.apiGroups?.length ?? 0) > 0 || (rule.resources?.length ?? 0) > 0 || (rule.resourceNames?.length ?? 0) > 0) {
        errs.push(fieldInvalid(`${p}.nonResourceURLs`, rule.nonResourceURLs, 'rules cannot apply to both regular resources and non-resource URLs'));
      }
      return;
    }
    if (!rule.apiGroups || rule.apiGroups.length === 0) errs.push(fieldRequired(`${p}.apiGroups`, 'resource rules must supply at least one api group'));
    if (!rule.resources || rule.resources.length === 0) errs.push(fieldRequired(`${p}.resources`, 'resource rules must supply at least one resource'));
  });
  return errs;
}

/** Subject API groups default by kind (SetDefaults_Subject) and roleRef's group to rbac's. */
export function defaultBinding(binding: { roleRef?: RoleRef; subjects?: Subject[] }): void {
  if (binding.roleRef) binding.roleRef.apiGroup ??= rbacGroup;
  for (const s of binding.subjects ?? []) {
    if (s.apiGroup === undefined) s.apiGroup = s.kind === 'ServiceAccount' ? '' : rbacGroup;
  }
}

export function validateBinding(binding: { roleRef?: RoleRef; subjects?: Subject[] }, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const ref = binding.roleRef;
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!ref || (!ref.name && !ref.kind)) {
    errs.push(fieldRequired('roleRef.name'));
    errs.push(fieldRequired('roleRef.kind'));
  } else {
    if (ref.apiGroup !== rbacGroup) errs.push(fieldNotSupported('roleRef.apiGroup', ref.apiGroup ?? '', [rbacGroup]));
    if (!ref.kind) errs.push(fieldRequired('roleRef.kind'));
    else if (!kinds.includes(ref.kind)) errs.push(fieldNotSupported('roleRef.kind', ref.kind, kinds));
    if (!ref.name) errs.push(fieldRequired('roleRef.name'));
  }
  (binding.subjects ?? []).forEach((s, i) => {
    const p = `subjects[${i}]`;
    if (!s.name) errs.push(fieldRequired(`${p}.name`));
    switch (s.kind) {
      case 'ServiceAccount':
        if (s.name) for (const msg of isDNS1123Subdomain(s.name)) errs.push(fieldInvalid(`${p}.name`, s.name, msg));
        if (s.apiGroup) errs.push(fieldNotSupported(`${p}.apiGroup`, s.apiGroup, ['']));
        if (!namespaced && !s.namespace) errs.push(fieldRequired(`${p}.namespace`));
        if (s.namespace) for (const msg of isDNS1123Label(s.namespace)) errs.push(fieldInvalid(`${p}.namespace`, s.namespace, msg));
        break;
      case 'User':
      case 'Group':
        if (s.apiGroup !== rbacGroup) errs.push(fieldNotSupported(`${p}.apiGroup`, s.apiGroup ?? '', [rbacGroup]));
        break;
      default:
        errs.push(fieldNotSupported(`${p}.kind`, s.kind ?? '', ['ServiceAccount', 'User', 'Group']));
    }
  });
  return errs;
}

/** roleRef never changes; to point a binding elsewhere, recreate it (ValidateRoleBindingUpdate). */
export function validateRoleRefUpdate(ref: RoleRef | undefined, old: RoleRef | undefined): FieldError[] {
  return deepEqual(ref, old) ? [] : [fieldInvalid('roleRef', ref ?? null, 'cannot change roleRef')];
}

/** The wide Users / Groups / ServiceAccounts cells (SubjectsStrings). */
export function subjectCells(subjects: Subject[] | undefined): [string, string, string] {
  const users: string[] = [];
  const groups: string[] = [];
  const sas: string[] = [];
  for (const s of subjects ?? []) {
    if (s.kind === 'User') users.push(s.name);
    else if (s.kind === 'Group') groups.push(s.name);
    else if (s.kind === 'ServiceAccount') sas.push(`${s.namespace ?? ''}/${s.name}`);
  }
  return [users.join(', '), groups.join(', '), sas.join(', ')];
}
