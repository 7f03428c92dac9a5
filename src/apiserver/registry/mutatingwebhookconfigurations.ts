/**
 * admissionregistration.k8s.io/v1 MutatingWebhookConfigurations, and the webhook rules both webhook configuration kinds
 * share (validatingwebhookconfigurations.ts imports them). Defaults and validation follow upstream
 * (pkg/apis/admissionregistration/v1/defaults.go, pkg/apis/admissionregistration/validation/validation.go): the API
 * server calls these webhooks in admission (../admission/webhook/).
 */
import type { MutatingWebhookConfiguration, WebhookClientConfig } from 'kubernetes-types/admissionregistration/v1.js';
import type { KubeObject } from '../../api/object.js';
import { validateLabelSelector } from '../../api/labels.js';
import { fieldDuplicate, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { isDNS1035Label, isDNS1123Subdomain, isQualifiedName, nameIsDNSSubdomain } from '../../api/validation.js';
import { compileCel, isCompileError } from '../cel/cel-program.js';
import { defineResource } from './define-resource.js';
import { age, ageColumn, as, column, nameColumn } from './table-columns.js';
import type { TablePrinter } from './types.js';

/** A webhook rule (kubernetes-types' RuleWithOperations lacks `resources` and `scope`). */
export interface RuleWithOperations {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
}

/** What a mutating and a validating webhook have in common (the fields both kinds validate the same way). */
export interface AnyWebhook {
  name?: string;
  clientConfig?: WebhookClientConfig;
  rules?: RuleWithOperations[];
  failurePolicy?: string;
  matchPolicy?: string;
  namespaceSelector?: Record<string, unknown>;
  objectSelector?: Record<string, unknown>;
  sideEffects?: string;
  timeoutSeconds?: number;
  admissionReviewVersions?: string[];
  matchConditions?: { name?: string; expression?: string }[];
  reinvocationPolicy?: string;
}

/** v1 defaults of a webhook (SetDefaults_ValidatingWebhook / SetDefaults_MutatingWebhook, Rule, ServiceReference). */
export function defaultWebhook(hook: AnyWebhook, mutating: boolean): void {
  hook.failurePolicy ??= 'Fail';
  hook.matchPolicy ??= 'Equivalent';
  hook.namespaceSelector ??= {};
  hook.objectSelector ??= {};
  hook.timeoutSeconds ??= 10;
  if (mutating) hook.reinvocationPolicy ??= 'Never';
  for (const rule of hook.rules ?? []) rule.scope ??= '*';
  const service = hook.clientConfig?.service;
  if (service) service.port ??= 443;
}

/** The AdmissionReview versions this server understands (upstream's AcceptedAdmissionReviewVersions). */
const REVIEW_VERSIONS = ['v1', 'v1beta1'];
const OPERATIONS = ['*', 'CONNECT', 'CREATE', 'DELETE', 'UPDATE'];
const SCOPES = ['*', 'Cluster', 'Namespaced'];
const MAX_MATCH_CONDITIONS = 64;

/**
 * Validation of one webhook, as validateValidatingWebhook / validateMutatingWebhook (with the admission review
 * versions checked here too).
 */
export function validateWebhook(hook: AnyWebhook, path: string, mutating: boolean, allowedSideEffects: string[]): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validateFullyQualifiedName(hook.name ?? '', `${path}.name`));
  (hook.rules ?? []).forEach((rule, i) => errs.push(...validateRule(rule, `${path}.rules[${i}]`)));
  if (hook.failurePolicy !== undefined && !['Fail', 'Ignore'].includes(hook.failurePolicy)) errs.push(fieldNotSupported(`${path}.failurePolicy`, hook.failurePolicy, ['Fail', 'Ignore']));
  if (hook.matchPolicy !== undefined && !['Equivalent', 'Exact'].includes(hook.matchPolicy)) errs.push(fieldNotSupported(`${path}.matchPolicy`, hook.matchPolicy, ['Equivalent', 'Exact']));
  if (hook.sideEffects === undefined) errs.push(fieldRequired(`${path}.sideEffects`, `must specify one of ${allowedSideEffects.join(', ')}`));
  else if (!allowedSideEffects.includes(hook.sideEffects)) errs.push(fieldNotSupported(`${path}.sideEffects`, hook.sideEffects, allowedSideEffects));
  if (hook.timeoutSeconds !== undefined && (hook.timeoutSeconds > 30 || hook.timeoutSeconds < 1)) {
    errs.push(fieldInvalid(`${path}.timeoutSeconds`, hook.timeoutSeconds, 'the timeout value must be between 1 and 30 seconds'));
  }
  errs.push(...validateLabelSelector(hook.namespaceSelector as never, `${path}.namespaceSelector`));
  errs.push(...validateLabelSelector(hook.objectSelector as never, `${path}.objectSelector`));
  if (mutating && hook.reinvocationPolicy !== undefined && !['IfNeeded', 'Never'].includes(hook.reinvocationPolicy)) {
    errs.push(fieldNotSupported(`${path}.reinvocationPolicy`, hook.reinvocationPolicy, ['IfNeeded', 'Never']));
  }
  const cc = hook.clientConfig ?? {};
  if ((cc.url === undefined) === (cc.service === undefined)) errs.push(fieldRequired(`${path}.clientConfig`, 'exactly one of url or service is required'));
  else if (cc.url !== undefined) errs.push(...validateWebhookURL(cc.url, `${path}.clientConfig.url`));
  else if (cc.service) errs.push(...validateWebhookService(cc.service, `${path}.clientConfig.service`));
  errs.push(...validateMatchConditions(hook.matchConditions, `${path}.matchConditions`));
  errs.push(...validateAdmissionReviewVersions(hook.admissionReviewVersions, `${path}.admissionReviewVersions`));
  return errs;
}

/** Webhooks of one configuration: each valid, names unique. */
export function validateWebhooks(hooks: AnyWebhook[] | undefined, mutating: boolean, allowedSideEffects = NO_SIDE_EFFECTS): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  (hooks ?? []).forEach((hook, i) => {
    errs.push(...validateWebhook(hook, `webhooks[${i}]`, mutating, allowedSideEffects));
    if (hook.name) {
      if (names.has(hook.name)) errs.push(fieldDuplicate(`webhooks[${i}].name`, hook.name));
      names.add(hook.name);
    }
  });
  return errs;
}

/**
 * v1 refuses Some and Unknown (they exist for v1beta1-era objects, which skiff never stored), so the one list serves
 * creates and updates.
 */
export const NO_SIDE_EFFECTS = ['None', 'NoneOnDryRun'];

/** utilvalidation.IsFullyQualifiedName: a DNS subdomain of at least three segments. */
function validateFullyQualifiedName(name: string, path: string): FieldError[] {
  if (name === '') return [fieldRequired(path)];
  const errs = isDNS1123Subdomain(name);
  if (errs.length > 0) return errs.map((msg) => fieldInvalid(path, name, msg));
  if (name.split('.').length < 3) return [fieldInvalid(path, name, 'should be a domain with at least three segments separated by dots')];
  return [];
}

function hasWildcard(list: readonly string[]): boolean {
  return list.includes('*');
}

function validateRule(rule: RuleWithOperations, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const ops = rule.operations ?? [];
  if (ops.length === 0) errs.push(fieldRequired(`${path}.operations`));
  if (ops.length > 1 && hasWildcard(ops)) errs.push(fieldInvalid(`${path}.operations`, ops, "if '*' is present, must not specify other operations"));
  ops.forEach((op, i) => {
    if (!OPERATIONS.includes(op)) errs.push(fieldNotSupported(`${path}.operations[${i}]`, op, OPERATIONS));
  });
  const groups = rule.apiGroups ?? [];
  if (groups.length === 0) errs.push(fieldRequired(`${path}.apiGroups`));
  if (groups.length > 1 && hasWildcard(groups)) errs.push(fieldInvalid(`${path}.apiGroups`, groups, "if '*' is present, must not specify other API groups"));
  const versions = rule.apiVersions ?? [];
  if (versions.length === 0) errs.push(fieldRequired(`${path}.apiVersions`));
  if (versions.length > 1 && hasWildcard(versions)) errs.push(fieldInvalid(`${path}.apiVersions`, versions, "if '*' is present, must not specify other API versions"));
  versions.forEach((v, i) => {
    if (v === '') errs.push(fieldRequired(`${path}.apiVersions[${i}]`));
  });
  errs.push(...validateResources(rule.resources ?? [], `${path}.resources`));
  if (rule.scope !== undefined && !SCOPES.includes(rule.scope)) errs.push(fieldNotSupported(`${path}.scope`, rule.scope, SCOPES));
  return errs;
}

/** validateResources: `x`, `x/y`, `*`, `x/*`, `* /y`, `* /*` without contradicting wildcards. */
function validateResources(resources: readonly string[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (resources.length === 0) errs.push(fieldRequired(path));
  const withWildcardSub = new Set<string>();
  const subWithWildcardRes = new Set<string>();
  let doubleWildcard = false;
  let singleWildcard = false;
  let withoutSub = false;
  resources.forEach((resSub, i) => {
    if (resSub === '') {
      errs.push(fieldRequired(`${path}[${i}]`));
      return;
    }
    if (resSub === '*/*') doubleWildcard = true;
    if (resSub === '*') singleWildcard = true;
    const slash = resSub.indexOf('/');
    if (slash < 0) {
      withoutSub = resSub !== '*';
      return;
    }
    const res = resSub.slice(0, slash);
    const sub = resSub.slice(slash + 1);
    if (withWildcardSub.has(res)) errs.push(fieldInvalid(`${path}[${i}]`, resSub, `if '${res}/*' is present, must not specify ${resSub}`));
    if (subWithWildcardRes.has(sub)) errs.push(fieldInvalid(`${path}[${i}]`, resSub, `if '*/${sub}' is present, must not specify ${resSub}`));
    if (sub === '*') withWildcardSub.add(res);
    if (res === '*') subWithWildcardRes.add(sub);
  });
  if (resources.length > 1 && doubleWildcard) errs.push(fieldInvalid(path, resources, "if '*/*' is present, must not specify other resources"));
  if (singleWildcard && withoutSub) errs.push(fieldInvalid(path, resources, "if '*' is present, must not specify other resources without subresources"));
  return errs;
}

/** webhook.ValidateWebhookURL with forceHttps. */
export function validateWebhookURL(raw: string, path: string): FieldError[] {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [fieldInvalid(path, raw, 'host must be specified')];
  }
  const errs: FieldError[] = [];
  if (url.protocol !== 'https:') errs.push(fieldInvalid(path, url.protocol.replace(/:$/, ''), "'https' is the only allowed URL scheme"));
  if (url.hostname === '') errs.push(fieldInvalid(path, raw, 'host must be specified'));
  if (url.username || url.password) errs.push(fieldInvalid(path, raw, 'user information is not permitted in the URL'));
  if (url.hash || raw.includes('#')) errs.push(fieldInvalid(path, raw, 'fragments are not permitted in the URL'));
  if (url.search || raw.includes('?')) errs.push(fieldInvalid(path, raw, 'query parameters are not permitted in the URL'));
  return errs;
}

/** webhook.ValidateWebhookService. */
export function validateWebhookService(service: NonNullable<WebhookClientConfig['service']>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!service.name) errs.push(fieldRequired(`${path}.name`, 'service name is required'));
  else for (const msg of isDNS1035Label(service.name)) errs.push(fieldInvalid(`${path}.name`, service.name, msg));
  if (!service.namespace) errs.push(fieldRequired(`${path}.namespace`, 'service namespace is required'));
  if (service.port !== undefined && (service.port < 1 || service.port > 65535)) {
    errs.push(fieldInvalid(`${path}.port`, service.port, 'port is not valid: must be between 1 and 65535, inclusive'));
  }
  const p = service.path;
  if (p === undefined || p === '') return errs;
  if (!p.startsWith('/')) {
    errs.push(fieldInvalid(`${path}.path`, p, "must start with a '/'"));
    return errs;
  }
  const segments = p.slice(1).split('/');
  segments.forEach((seg, i) => {
    if (seg === '' && i < segments.length - 1) errs.push(fieldInvalid(`${path}.path`, p, `segment[${i}] may not be empty`));
    else if (seg !== '' && isDNS1123Subdomain(seg).length > 0) errs.push(fieldInvalid(`${path}.path`, p, `segment[${i}]: ${isDNS1123Subdomain(seg)[0]}`));
  });
  return errs;
}

/** The variables a webhook's match conditions see (upstream: object, oldObject, request, authorizer). */
export const MATCH_CONDITION_VARIABLES = ['object', 'oldObject', 'request', 'authorizer'] as const;

/** matchConditions: names, count and compiled expressions (a bool result) as upstream. */
function validateMatchConditions(conditions: AnyWebhook['matchConditions'], path: string): FieldError[] {
  if (!conditions || conditions.length === 0) return [];
  const errs: FieldError[] = [];
  if (conditions.length > MAX_MATCH_CONDITIONS) errs.push({ type: 'FieldValueForbidden', field: path, detail: `Too many: ${conditions.length}: must have at most ${MAX_MATCH_CONDITIONS} items` });
  const names = new Set<string>();
  conditions.forEach((c, i) => {
    const p = `${path}[${i}]`;
    if (!c.name) errs.push(fieldRequired(`${p}.name`));
    else {
      for (const msg of isQualifiedName(c.name)) errs.push(fieldInvalid(`${p}.name`, c.name, msg));
      if (names.has(c.name)) errs.push(fieldDuplicate(`${p}.name`, c.name));
      names.add(c.name);
    }
    if (!c.expression) errs.push(fieldRequired(`${p}.expression`));
    else {
      const program = compileCel(c.expression, MATCH_CONDITION_VARIABLES, 'bool');
      if (isCompileError(program)) errs.push(fieldInvalid(`${p}.expression`, c.expression, program.message));
    }
  });
  return errs;
}

function validateAdmissionReviewVersions(versions: string[] | undefined, path: string): FieldError[] {
  if (!versions || versions.length === 0) return [fieldRequired(path, `must specify one of ${REVIEW_VERSIONS.join(', ')}`)];
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    if (seen.has(v)) {
      errs.push(fieldInvalid(`${path}[${i}]`, v, 'duplicate version'));
      return;
    }
    seen.add(v);
    for (const msg of isDNS1035Label(v)) errs.push(fieldInvalid(`${path}[${i}]`, v, msg));
  });
  if (!versions.some((v) => REVIEW_VERSIONS.includes(v))) errs.push(fieldInvalid(path, versions, `must include at least one of ${REVIEW_VERSIONS.join(', ')}`));
  return errs;
}

/** Both kinds print Name, Webhooks (how many) and Age (upstream's printers.go). */
export const webhookConfigurationPrinter: TablePrinter = {
  columns: [nameColumn, column('Webhooks', 'Webhooks indicates the number of webhooks registered in this configuration.', { type: 'integer' }), ageColumn],
  row(obj, now) {
    return [obj.metadata.name ?? '', ((obj as { webhooks?: unknown[] }).webhooks ?? []).length, age(obj, now)];
  },
};

export function webhooksOf(obj: KubeObject): AnyWebhook[] | undefined {
  const hooks = (obj as { webhooks?: unknown }).webhooks;
  return Array.isArray(hooks) ? (hooks as AnyWebhook[]) : undefined;
}

export const mutatingwebhookconfigurations = defineResource({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'MutatingWebhookConfiguration',
  plural: 'mutatingwebhookconfigurations',
  singular: 'mutatingwebhookconfiguration',
  namespaced: false,
  categories: ['api-extensions'],
  hasStatus: false,
  schemaName: 'io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    for (const hook of as<MutatingWebhookConfiguration>(obj).webhooks ?? []) defaultWebhook(hook as AnyWebhook, true);
  },
  validateSpec(obj) {
    return validateWebhooks(webhooksOf(obj), true);
  },
  printer: webhookConfigurationPrinter,
});
