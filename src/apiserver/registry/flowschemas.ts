/**
 * flowcontrol.apiserver.k8s.io/v1 FlowSchemas (pkg/apis/flowcontrol/validation, v1 defaults): which requests go to
 * which priority level. Served with the bootstrap objects (flowcontrol-bootstrap.ts); skiff does not enforce APF.
 */
import type { FlowSchema, FlowSchemaSpec, PolicyRulesWithSubjects, Subject } from 'kubernetes-types/flowcontrol/v1.js';
import { fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { nameIsPathSegment } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

const subjectKinds = ['Group', 'ServiceAccount', 'User'];
const distinguisherTypes = ['ByNamespace', 'ByUser'];
const verbsAll = '*';

function validateSubject(s: Subject, p: string): FieldError[] {
  const errs: FieldError[] = [];
  switch (s.kind) {
    case 'User':
      if (!s.user) errs.push(fieldRequired(`${p}.user`, 'user is required when subject kind is \'User\''));
      else if (!s.user.name) errs.push(fieldRequired(`${p}.user.name`, 'username is required'));
      break;
    case 'Group':
      if (!s.group) errs.push(fieldRequired(`${p}.group`, 'group is required when subject kind is \'Group\''));
      else if (!s.group.name) errs.push(fieldRequired(`${p}.group.name`, 'groupname is required'));
      break;
    case 'ServiceAccount':
      if (!s.serviceAccount) errs.push(fieldRequired(`${p}.serviceAccount`, 'serviceAccount is required when subject kind is \'ServiceAccount\''));
      else {
        if (!s.serviceAccount.name) errs.push(fieldRequired(`${p}.serviceAccount.name`, 'serviceAccountName is required'));
        if (!s.serviceAccount.namespace) errs.push(fieldRequired(`${p}.serviceAccount.namespace`, 'serviceAccountNamespace is required'));
      }
      break;
    default:
      errs.push(fieldNotSupported(`${p}.kind`, s.kind ?? '', subjectKinds));
  }
  return errs;
}

function validateRule(r: PolicyRulesWithSubjects, p: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!r.subjects || r.subjects.length === 0) errs.push(fieldRequired(`${p}.subjects`, 'subjects must contain at least one value'));
  (r.subjects ?? []).forEach((s, i) => errs.push(...validateSubject(s, `${p}.subjects[${i}]`)));
  if ((r.resourceRules?.length ?? 0) + (r.nonResourceRules?.length ?? 0) === 0) {
    errs.push(fieldRequired(p, 'at least one of resourceRules and nonResourceRules has to be non-empty'));
  }
  (r.resourceRules ?? []).forEach((rr, i) => {
    const rp = `${p}.resourceRules[${i}]`;
    if (!rr.verbs?.length) errs.push(fieldRequired(`${rp}.verbs`, 'verbs must contain at least one value'));
    else if (rr.verbs.length > 1 && rr.verbs.includes(verbsAll)) errs.push(fieldInvalid(`${rp}.verbs`, rr.verbs, "if '*' is present, must not specify other verbs"));
    if (!rr.apiGroups?.length) errs.push(fieldRequired(`${rp}.apiGroups`, 'resource rules must supply at least one api group'));
    if (!rr.resources?.length) errs.push(fieldRequired(`${rp}.resources`, 'resource rules must supply at least one resource'));
    if (!rr.clusterScope && !rr.namespaces?.length) errs.push(fieldRequired(`${rp}.namespaces`, 'resource rules that are not cluster scoped must supply at least one namespace'));
  });
  (r.nonResourceRules ?? []).forEach((nr, i) => {
    const np = `${p}.nonResourceRules[${i}]`;
    if (!nr.verbs?.length) errs.push(fieldRequired(`${np}.verbs`, 'verbs must contain at least one value'));
    if (!nr.nonResourceURLs?.length) errs.push(fieldRequired(`${np}.nonResourceURLs`, 'nonResourceURLs must contain at least one value'));
  });
  return errs;
}

/** ValidateFlowSchemaSpec. */
export function validateFlowSchemaSpec(spec: FlowSchemaSpec | undefined): FieldError[] {
  const s = spec ?? ({} as FlowSchemaSpec);
  const errs: FieldError[] = [];
  const mp = s.matchingPrecedence ?? 1000;
  if (mp <= 0 || mp > 10000) errs.push(fieldInvalid('spec.matchingPrecedence', mp, 'must be between 1 and 10000, inclusive'));
  const dm = s.distinguisherMethod;
  if (dm && !distinguisherTypes.includes(dm.type)) errs.push(fieldNotSupported('spec.distinguisherMethod.type', dm.type, distinguisherTypes));
  if (!s.priorityLevelConfiguration?.name) errs.push(fieldRequired('spec.priorityLevelConfiguration.name', 'must reference a priority level'));
  (s.rules ?? []).forEach((r, i) => errs.push(...validateRule(r, `spec.rules[${i}]`)));
  return errs;
}

export const flowschemas = defineResource({
  group: 'flowcontrol.apiserver.k8s.io',
  version: 'v1',
  kind: 'FlowSchema',
  plural: 'flowschemas',
  singular: 'flowschema',
  namespaced: false,
  hasStatus: true,
  schemaName: 'io.k8s.api.flowcontrol.v1.FlowSchema',
  tracksGeneration: true,
  nameValidator: nameIsPathSegment,
  defaults(obj) {
    const s = specOf<FlowSchemaSpec>(obj);
    s.matchingPrecedence ??= 1000;
  },
  validateSpec(obj) {
    return validateFlowSchemaSpec(obj.spec as FlowSchemaSpec | undefined);
  },
  printer: {
    columns: [
      nameColumn,
      column('PriorityLevel', "priorityLevelConfiguration should reference a PriorityLevelConfiguration in the cluster. If the reference cannot be resolved, the FlowSchema will be ignored and marked as invalid in its status. Required."),
      column('MatchingPrecedence', 'matchingPrecedence is used to choose among the FlowSchemas that match a given request. The chosen FlowSchema is among those with the numerically lowest (which we take to be logically highest) MatchingPrecedence.  Each MatchingPrecedence value must be ranged in [1,10000]. Note that if the precedence is not specified, it will be set to 1000 as default.', { type: 'integer' }),
      column('DistinguisherMethod', '`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema. `nil` specifies that the distinguisher is disabled and thus will always be the empty string.'),
      ageColumn,
      column('MissingPL', 'indicates whether the referenced priority level exists'),
    ],
    row(obj, now) {
      const fs = as<FlowSchema>(obj);
      const dangling = fs.status?.conditions?.find((c) => c.type === 'Dangling');
      return [
        obj.metadata.name ?? '',
        fs.spec?.priorityLevelConfiguration?.name ?? '',
        fs.spec?.matchingPrecedence ?? 0,
        fs.spec?.distinguisherMethod?.type ?? '*',
        age(obj, now),
        dangling?.status ?? '?',
      ];
    },
  },
});
