/**
 * admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding: CEL validations
 * enforced by the ValidatingAdmissionPolicy plugin (../admission/policy/). Validation follows upstream's
 * pkg/apis/admissionregistration/validation (every expression compiled when the policy is written: a bad one is a
 * 422 naming its field), defaults its v1 defaults.go (failurePolicy Fail, matchPolicy Equivalent, empty selectors,
 * scope `*`). status.typeChecking is computed from the spec on every write, with observedGeneration (upstream's
 * type-checking controller writes it shortly after): warnings for field selections the matched kinds do not have
 * (../admission/policy/type-check.ts).
 */
import type {
  MatchResources as MatchResourcesType,
  NamedRuleWithOperations as NamedRule,
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
} from 'kubernetes-types/admissionregistration/v1.js';
import type { KubeObject } from '../../api/object.js';
import { formatLabelSelector, validateLabelSelector } from '../../api/labels.js';
import { fieldDuplicate, fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { isQualifiedName, nameIsDNSSubdomain } from '../../api/validation.js';
import { compileCel, isCompileError, type ExpectedType } from '../cel/cel-program.js';
import { POLICY_VARIABLES } from '../admission/policy/policy-variables.js';
import { typeCheckPolicy } from '../admission/policy/type-check.js';
import { defineResource, specOf } from './define-resource.js';
import { age, ageColumn, as, column, nameColumn } from './table-columns.js';

/** kubernetes-types leaves out the resources and scope fields of a rule. */
type NamedRuleWithOperations = NamedRule & { resources?: string[]; scope?: string };
type MatchResources = Omit<MatchResourcesType, 'resourceRules' | 'excludeResourceRules'> & { resourceRules?: NamedRuleWithOperations[]; excludeResourceRules?: NamedRuleWithOperations[] };


const OPERATIONS = ['*', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
const SCOPES = ['*', 'Cluster', 'Namespaced'];
const REASONS = ['Unauthorized', 'Forbidden', 'Invalid', 'RequestEntityTooLarge'];
const CEL_IDENTIFIER = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

function defaultMatchResources(m: MatchResources | undefined): void {
  if (!m) return;
  m.namespaceSelector ??= {};
  m.objectSelector ??= {};
  m.matchPolicy ??= 'Equivalent';
  for (const r of [...(m.resourceRules ?? []), ...(m.excludeResourceRules ?? [])]) r.scope ??= '*';
}

function validateExpression(expr: string | undefined, path: string, expect: ExpectedType, errs: FieldError[]): void {
  if (!expr) {
    errs.push(fieldRequired(path));
    return;
  }
  const p = compileCel(expr, POLICY_VARIABLES, expect);
  if (isCompileError(p)) errs.push(fieldInvalid(path, expr, p.message));
}

function validateRules(rules: NamedRuleWithOperations[] | undefined, path: string, errs: FieldError[]): void {
  (rules ?? []).forEach((r, i) => {
    const at = `${path}[${i}]`;
    if (!r.operations?.length) errs.push(fieldRequired(`${at}.operations`));
    r.operations?.forEach((op, j) => {
      if (!OPERATIONS.includes(op)) errs.push(fieldNotSupported(`${at}.operations[${j}]`, op, OPERATIONS));
    });
    if (r.operations && r.operations.length > 1 && r.operations.includes('*')) errs.push(fieldInvalid(`${at}.operations`, r.operations, "if '*' is present, must not specify other operations"));
    if (!r.apiGroups?.length) errs.push(fieldRequired(`${at}.apiGroups`));
    if (!r.apiVersions?.length) errs.push(fieldRequired(`${at}.apiVersions`));
    r.apiVersions?.forEach((v, j) => {
      if (v === '') errs.push(fieldRequired(`${at}.apiVersions[${j}]`));
    });
    if (!r.resources?.length) errs.push(fieldRequired(`${at}.resources`));
    r.resources?.forEach((res, j) => {
      if (res === '') errs.push(fieldRequired(`${at}.resources[${j}]`));
      else if (res.split('/').length > 2) errs.push(fieldInvalid(`${at}.resources[${j}]`, res, 'at most one slash allowed in resource name'));
    });
    if (r.scope !== undefined && !SCOPES.includes(r.scope)) errs.push(fieldNotSupported(`${at}.scope`, r.scope, SCOPES));
  });
}

function validateMatchResources(m: MatchResources, path: string, requireRules: boolean, errs: FieldError[]): void {
  if (m.matchPolicy !== undefined && m.matchPolicy !== 'Exact' && m.matchPolicy !== 'Equivalent') errs.push(fieldNotSupported(`${path}.matchPolicy`, m.matchPolicy, ['Equivalent', 'Exact']));
  if (m.namespaceSelector) errs.push(...validateLabelSelector(m.namespaceSelector, `${path}.namespaceSelector`));
  if (m.objectSelector) errs.push(...validateLabelSelector(m.objectSelector, `${path}.objectSelector`));
  if (requireRules && !m.resourceRules?.length) errs.push(fieldRequired(`${path}.resourceRules`));
  validateRules(m.resourceRules, `${path}.resourceRules`, errs);
  validateRules(m.excludeResourceRules, `${path}.excludeResourceRules`, errs);
}

/** Upstream's typeChecking result: field selections on object/oldObject checked against the matched kinds. */
function policyStatus(obj: KubeObject): void {
  obj.status = { observedGeneration: obj.metadata.generation ?? 1, typeChecking: typeCheckPolicy(as<ValidatingAdmissionPolicy>(obj).spec) };
}

export const validatingadmissionpolicies = defineResource({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'ValidatingAdmissionPolicy',
  plural: 'validatingadmissionpolicies',
  singular: 'validatingadmissionpolicy',
  namespaced: false,
  hasStatus: true,
  schemaName: 'io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy',
  tracksGeneration: true,
  categories: ['api-extensions'],
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = specOf<NonNullable<ValidatingAdmissionPolicy['spec']>>(obj);
    spec.failurePolicy ??= 'Fail';
    defaultMatchResources(spec.matchConstraints as MatchResources | undefined);
  },
  prepareForCreate: policyStatus,
  prepareForUpdate: policyStatus,
  validateSpec(obj) {
    const spec = as<ValidatingAdmissionPolicy>(obj).spec ?? {};
    const errs: FieldError[] = [];
    if (spec.failurePolicy !== undefined && spec.failurePolicy !== 'Fail' && spec.failurePolicy !== 'Ignore') errs.push(fieldNotSupported('spec.failurePolicy', spec.failurePolicy, ['Fail', 'Ignore']));
    if (spec.paramKind) {
      if (!spec.paramKind.apiVersion) errs.push(fieldRequired('spec.paramKind.apiVersion'));
      else if (spec.paramKind.apiVersion.split('/').length > 2) errs.push(fieldInvalid('spec.paramKind.apiVersion', spec.paramKind.apiVersion, 'apiVersion must be of form group/version'));
      if (!spec.paramKind.kind) errs.push(fieldRequired('spec.paramKind.kind'));
    }
    if (!spec.matchConstraints) errs.push(fieldRequired('spec.matchConstraints'));
    else validateMatchResources(spec.matchConstraints as MatchResources, 'spec.matchConstraints', true, errs);
    if (!spec.validations?.length && !spec.auditAnnotations?.length) errs.push(fieldRequired('spec.validations', 'validations or auditAnnotations must contain at least one item'));
    const conditionNames = new Set<string>();
    (spec.matchConditions ?? []).forEach((c, i) => {
      const at = `spec.matchConditions[${i}]`;
      if (!c.name) errs.push(fieldRequired(`${at}.name`));
      else {
        for (const m of isQualifiedName(c.name)) errs.push(fieldInvalid(`${at}.name`, c.name, m));
        if (conditionNames.has(c.name)) errs.push(fieldDuplicate(`${at}.name`, c.name));
        conditionNames.add(c.name);
      }
      validateExpression(c.expression, `${at}.expression`, 'bool', errs);
    });
    if ((spec.matchConditions?.length ?? 0) > 64) errs.push({ type: 'FieldValueTooLong' as const, field: 'spec.matchConditions', detail: `Too many: ${spec.matchConditions!.length}: must have at most 64 items` });
    const variableNames = new Set<string>();
    (spec.variables ?? []).forEach((v, i) => {
      const at = `spec.variables[${i}]`;
      if (!v.name) errs.push(fieldRequired(`${at}.name`));
      else if (!CEL_IDENTIFIER.test(v.name)) errs.push(fieldInvalid(`${at}.name`, v.name, 'name is not a valid CEL identifier'));
      else if (variableNames.has(v.name)) errs.push(fieldDuplicate(`${at}.name`, v.name));
      if (v.name) variableNames.add(v.name);
      validateExpression(v.expression, `${at}.expression`, 'any', errs);
    });
    (spec.validations ?? []).forEach((v, i) => {
      const at = `spec.validations[${i}]`;
      validateExpression(v.expression, `${at}.expression`, 'bool', errs);
      if (v.messageExpression !== undefined) {
        if (v.messageExpression.trim() === '') errs.push(fieldRequired(`${at}.messageExpression`, 'messageExpression of length 0 is not allowed'));
        else validateExpression(v.messageExpression, `${at}.messageExpression`, 'string', errs);
      }
      if (v.message !== undefined && /\n/.test(v.message)) errs.push(fieldInvalid(`${at}.message`, v.message, 'message must not contain line breaks'));
      if (v.reason !== undefined && !REASONS.includes(v.reason)) errs.push(fieldNotSupported(`${at}.reason`, v.reason, REASONS));
    });
    const keys = new Set<string>();
    (spec.auditAnnotations ?? []).forEach((a, i) => {
      const at = `spec.auditAnnotations[${i}]`;
      if (!a.key) errs.push(fieldRequired(`${at}.key`));
      else {
        for (const m of isQualifiedName(`${obj.metadata.name ?? ''}/${a.key}`)) errs.push(fieldInvalid(`${at}.key`, a.key, m));
        if (keys.has(a.key)) errs.push(fieldDuplicate(`${at}.key`, a.key));
        keys.add(a.key);
      }
      validateExpression(a.valueExpression, `${at}.valueExpression`, 'string-or-null', errs);
    });
    return errs;
  },
  printer: {
    columns: [
      nameColumn,
      column('Validations', 'Validations indicates the number of validation rules defined in this configuration', { type: 'integer' }),
      column('ParamKind', 'ParamKind specifies the kind of resources used to parameterize this policy'),
      ageColumn,
    ],
    row(obj, now) {
      const spec = as<ValidatingAdmissionPolicy>(obj).spec;
      const pk = spec?.paramKind;
      return [obj.metadata.name ?? '', spec?.validations?.length ?? 0, pk ? `${pk.apiVersion}/${pk.kind}` : '<unset>', age(obj, now)];
    },
  },
});

const ACTIONS = ['Deny', 'Warn', 'Audit'];

export const validatingadmissionpolicybindings = defineResource({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  plural: 'validatingadmissionpolicybindings',
  singular: 'validatingadmissionpolicybinding',
  namespaced: false,
  hasStatus: false,
  schemaName: 'io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding',
  tracksGeneration: true,
  categories: ['api-extensions'],
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = specOf<NonNullable<ValidatingAdmissionPolicyBinding['spec']>>(obj);
    defaultMatchResources(spec.matchResources as MatchResources | undefined);
  },
  validateSpec(obj) {
    const spec = as<ValidatingAdmissionPolicyBinding>(obj).spec ?? {};
    const errs: FieldError[] = [];
    if (!spec.policyName) errs.push(fieldRequired('spec.policyName'));
    else for (const m of nameIsDNSSubdomain(spec.policyName, false)) errs.push(fieldInvalid('spec.policyName', spec.policyName, m));
    const ref = spec.paramRef;
    if (ref) {
      if (ref.name && ref.selector) errs.push(fieldForbidden('spec.paramRef.name', 'name and selector are mutually exclusive'));
      if (!ref.name && !ref.selector) errs.push(fieldRequired('spec.paramRef', 'one of name or selector must be specified'));
      if (ref.name) for (const m of nameIsDNSSubdomain(ref.name, false)) errs.push(fieldInvalid('spec.paramRef.name', ref.name, m));
      if (ref.selector) errs.push(...validateLabelSelector(ref.selector, 'spec.paramRef.selector'));
      if (!ref.parameterNotFoundAction) errs.push(fieldRequired('spec.paramRef.parameterNotFoundAction'));
      else if (ref.parameterNotFoundAction !== 'Allow' && ref.parameterNotFoundAction !== 'Deny') errs.push(fieldNotSupported('spec.paramRef.parameterNotFoundAction', ref.parameterNotFoundAction, ['Allow', 'Deny']));
    }
    if (spec.matchResources) validateMatchResources(spec.matchResources as MatchResources, 'spec.matchResources', false, errs);
    const actions = spec.validationActions ?? [];
    if (actions.length === 0) errs.push(fieldRequired('spec.validationActions'));
    const seen = new Set<string>();
    actions.forEach((a, i) => {
      if (!ACTIONS.includes(a)) errs.push(fieldNotSupported(`spec.validationActions[${i}]`, a, ACTIONS));
      else if (seen.has(a)) errs.push(fieldDuplicate(`spec.validationActions[${i}]`, a));
      seen.add(a);
    });
    if (seen.has('Deny') && seen.has('Warn')) {
      errs.push(fieldInvalid('spec.validationActions', actions, 'must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)'));
    }
    return errs;
  },
  printer: {
    columns: [
      nameColumn,
      column('PolicyName', 'PolicyName indicates the policy definition which the policy binding binded to'),
      column('ParamRef', 'ParamRef indicates the param resource which sets the configration param'),
      ageColumn,
    ],
    row(obj, now) {
      const spec = as<ValidatingAdmissionPolicyBinding>(obj).spec;
      const ref = spec?.paramRef;
      let param = '<unset>';
      if (ref?.name) param = ref.namespace ? `${ref.namespace}/${ref.name}` : `*/${ref.name}`;
      else if (ref?.selector) param = formatLabelSelector(ref.selector) || '<none>';
      return [obj.metadata.name ?? '', spec?.policyName ?? '', param, age(obj, now)];
    },
  },
});
