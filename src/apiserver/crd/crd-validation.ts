/**
 * Validation and defaults of apiextensions.k8s.io/v1 CustomResourceDefinitions (apiextensions-apiserver
 * pkg/apis/apiextensions/validation and v1 defaults), with upstream's field paths and wording: name = plural.group,
 * names as DNS-1035 labels, scope, versions with exactly one storage version, structural schemas, printer columns,
 * selectable fields, subresources, conversion, and the rules of updates (scope and group immutable, storedVersions).
 */
import { fieldDuplicate, fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { isDNS1035Label, isDNS1123Subdomain } from '../../api/validation.js';
import type { WebhookClientConfig } from 'kubernetes-types/admissionregistration/v1.js';
import { validateWebhookService, validateWebhookURL } from '../registry/mutatingwebhookconfigurations.js';
import { KNOWN_REVIEW_VERSIONS, reviewVersionOf } from './conversion-review.js';
import { JsonPath } from './json-path.js';
import { isObject, type CrdVersion, type CustomResourceDefinition, type JSONSchemaProps } from './json-schema.js';
import { validateStructuralSchema } from './structural-schema.js';
import { validateValue } from './validate-value.js';
import { hasValidationRules, validationRules } from './validation-rules.js';

/** v1 defaults (SetDefaults_CustomResourceDefinition*): listKind, singular, conversion, printer column priority. */
export function defaultCrd(crd: CustomResourceDefinition): void {
  // Nothing typed the CRD on decode: defaults only fill in what has the right shape; validation reports the rest.
  if (crd.spec === undefined) return;
  const spec = crd.spec;
  if (!isObject(spec)) return;
  if (isObject(spec.names) && typeof spec.names.kind === 'string' && spec.names.kind) {
    if (!spec.names.listKind) spec.names.listKind = `${spec.names.kind}List`;
    if (!spec.names.singular) spec.names.singular = spec.names.kind.toLowerCase();
  }
  spec.conversion ??= { strategy: 'None' };
  // SetDefaults_ServiceReference: a conversion webhook's Service is called on 443.
  const service = isObject(spec.conversion) && isObject(spec.conversion.webhook) && isObject(spec.conversion.webhook.clientConfig) ? spec.conversion.webhook.clientConfig.service : undefined;
  if (isObject(service)) service.port ??= 443;
  if (Array.isArray(spec.versions)) {
    for (const v of spec.versions) {
      if (!isObject(v) || !Array.isArray(v.additionalPrinterColumns)) continue;
      for (const c of v.additionalPrinterColumns) if (isObject(c)) c.priority ??= 0;
    }
  }
}

export function validateCrd(crd: CustomResourceDefinition): FieldError[] {
  const errs: FieldError[] = [];
  const spec = crd.spec;
  if (!isObject(spec)) return [fieldRequired('spec')];
  for (const k of ['group', 'scope'] as const) {
    if (spec[k] !== undefined && typeof spec[k] !== 'string') return [fieldInvalid(`spec.${k}`, spec[k], 'must be a string')];
  }
  const group = spec.group ?? '';
  const names = isObject(spec.names) ? spec.names : undefined;
  const plural = names?.plural ?? '';
  if (crd.metadata.name !== `${plural}.${group}`) {
    errs.push(fieldInvalid('metadata.name', crd.metadata.name ?? '', 'must be spec.names.plural+"."+spec.group'));
  }
  if (!group) errs.push(fieldRequired('spec.group'));
  else {
    for (const msg of isDNS1123Subdomain(group)) errs.push(fieldInvalid('spec.group', group, msg));
    if (group.split('.').length < 2) errs.push(fieldInvalid('spec.group', group, 'should be a domain with at least one dot'));
    // KEP-1111: the Kubernetes project's own groups need the approval annotation.
    const isProtected = (d: string) => group === d || group.endsWith(`.${d}`);
    if ((isProtected('k8s.io') || isProtected('kubernetes.io')) && !crd.metadata.annotations?.['api-approved.kubernetes.io']) {
      errs.push(fieldRequired('metadata.annotations[api-approved.kubernetes.io]', 'protected groups must have approval annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111'));
    }
  }
  if (!spec.scope) errs.push(fieldRequired('spec.scope'));
  else if (spec.scope !== 'Cluster' && spec.scope !== 'Namespaced') errs.push(fieldNotSupported('spec.scope', spec.scope, ['Cluster', 'Namespaced']));
  if (!names) errs.push(fieldRequired('spec.names'));
  else {
    const shape = namesShape(names, 'spec.names');
    errs.push(...(shape.length > 0 ? shape : validateNames(names, 'spec.names')));
  }
  if (spec.preserveUnknownFields === true) errs.push(fieldInvalid('spec.preserveUnknownFields', true, 'must be false in order to use defaults in the schema'));
  if (spec.conversion !== undefined && (!isObject(spec.conversion) || typeof spec.conversion.strategy !== 'string')) {
    errs.push(fieldInvalid('spec.conversion', spec.conversion, 'must be an object with a strategy'));
    return errs;
  }
  errs.push(...validateVersions(spec.versions));
  if (spec.conversion?.strategy !== undefined && spec.conversion.strategy !== 'None' && spec.preserveUnknownFields === true) {
    errs.push(fieldInvalid('spec.conversion.strategy', spec.conversion.strategy, 'must be None if spec.preserveUnknownFields is true'));
  }
  errs.push(...validateConversion(spec.conversion));
  return errs;
}

/**
 * validateCustomResourceConversion. Paths name the fields of the internal type, as upstream's messages do
 * (`spec.conversion.webhookClientConfig` for v1's `spec.conversion.webhook.clientConfig`).
 */
function validateConversion(conversion: CustomResourceDefinition['spec']['conversion']): FieldError[] {
  if (!conversion) return [];
  const errs: FieldError[] = [];
  const path = 'spec.conversion';
  const strategy = conversion.strategy;
  if (strategy !== 'None' && strategy !== 'Webhook') errs.push(strategy ? fieldNotSupported(`${path}.strategy`, strategy, ['None', 'Webhook']) : fieldRequired(`${path}.strategy`));
  const webhook = isObject(conversion.webhook) ? conversion.webhook : undefined;
  const cc = webhook && isObject(webhook.clientConfig) ? (webhook.clientConfig as WebhookClientConfig) : undefined;
  const versions = webhook?.conversionReviewVersions;
  if (strategy !== 'Webhook') {
    if (cc) errs.push(fieldForbidden(`${path}.webhookClientConfig`, 'should not be set when strategy is not set to Webhook'));
    if (Array.isArray(versions) && versions.length > 0) errs.push(fieldForbidden(`${path}.conversionReviewVersions`, 'should not be set when strategy is not set to Webhook'));
    return errs;
  }
  if (!cc) errs.push(fieldRequired(`${path}.webhookClientConfig`, 'required when strategy is set to Webhook'));
  else if ((cc.url === undefined) === (cc.service === undefined)) errs.push(fieldRequired(`${path}.webhookClientConfig`, 'exactly one of url or service is required'));
  else if (cc.url !== undefined) errs.push(...validateWebhookURL(cc.url, `${path}.webhookClientConfig.url`));
  else if (cc.service) errs.push(...validateWebhookService(cc.service, `${path}.webhookClientConfig.service`));
  const vpath = `${path}.conversionReviewVersions`;
  if (!Array.isArray(versions) || versions.length === 0) return [...errs, fieldRequired(vpath)];
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    if (seen.has(v)) return errs.push(fieldInvalid(`${vpath}[${i}]`, v, 'duplicate version'));
    seen.add(v);
    for (const msg of isDNS1035Label(String(v))) errs.push(fieldInvalid(`${vpath}[${i}]`, v, msg));
  });
  if (!reviewVersionOf(versions)) errs.push(fieldInvalid(vpath, versions, `must include at least one of ${[...KNOWN_REVIEW_VERSIONS].sort().join(', ')}`));
  return errs;
}

/** Names of the wrong JSON types (nothing typed the CRD on decode). */
function namesShape(names: Record<string, unknown>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of ['plural', 'singular', 'kind', 'listKind']) {
    if (names[k] !== undefined && typeof names[k] !== 'string') errs.push(fieldInvalid(`${path}.${k}`, names[k], 'must be a string'));
  }
  for (const k of ['shortNames', 'categories']) {
    const v = names[k];
    if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))) errs.push(fieldInvalid(`${path}.${k}`, v, 'must be a list of strings'));
  }
  return errs;
}

function validateNames(names: CustomResourceDefinition['spec']['names'], path: string): FieldError[] {
  const errs: FieldError[] = [];
  const label = (field: string, value: string | undefined, required: boolean) => {
    if (!value) {
      if (required) errs.push(fieldRequired(`${path}.${field}`));
      return;
    }
    for (const msg of isDNS1035Label(value)) errs.push(fieldInvalid(`${path}.${field}`, value, msg));
  };
  label('plural', names.plural, true);
  label('singular', names.singular, true);
  if (!names.kind) errs.push(fieldRequired(`${path}.kind`));
  else for (const msg of isDNS1035Label(names.kind.toLowerCase())) errs.push(fieldInvalid(`${path}.kind`, names.kind, msg));
  if (!names.listKind) errs.push(fieldRequired(`${path}.listKind`));
  else for (const msg of isDNS1035Label(names.listKind.toLowerCase())) errs.push(fieldInvalid(`${path}.listKind`, names.listKind, msg));
  if (names.kind && names.kind === names.listKind) errs.push(fieldInvalid(`${path}.listKind`, names.listKind, 'kind and listKind may not be the same or parsing will fail'));
  (names.shortNames ?? []).forEach((s, i) => label(`shortNames[${i}]`, s, true));
  (names.categories ?? []).forEach((s, i) => label(`categories[${i}]`, s, true));
  return errs;
}

function validateVersions(versions: CrdVersion[] | undefined): FieldError[] {
  const errs: FieldError[] = [];
  if (!Array.isArray(versions) || versions.length === 0) return [fieldInvalid('spec.versions', versions ?? null, 'must have exactly one version marked as storage version')];
  const seen = new Set<string>();
  let storage = 0;
  let served = 0;
  versions.forEach((v, i) => {
    const path = `spec.versions[${i}]`;
    if (!isObject(v)) return errs.push(fieldInvalid(path, v ?? null, 'must be an object'));
    const shape = versionShape(v, path);
    if (shape.length > 0) return errs.push(...shape);
    if (v.storage) storage++;
    if (v.served) served++;
    if (!v.name) errs.push(fieldRequired(`${path}.name`));
    else {
      for (const msg of isDNS1035Label(v.name)) errs.push(fieldInvalid(`${path}.name`, v.name, msg));
      if (seen.has(v.name)) errs.push(fieldDuplicate(`${path}.name`, v.name));
      seen.add(v.name);
    }
    const schema = v.schema?.openAPIV3Schema;
    if (!isObject(schema)) errs.push(fieldRequired(`${path}.schema.openAPIV3Schema`, 'schemas are required'));
    else errs.push(...validateSchema(schema, `${path}.schema.openAPIV3Schema`));
    errs.push(...validateColumns(v, path));
    (v.selectableFields ?? []).forEach((f, j) => {
      const at = `${path}.selectableFields[${j}].jsonPath`;
      if (!f?.jsonPath) return errs.push(fieldRequired(at));
      try {
        new JsonPath(f.jsonPath);
      } catch (err) {
        errs.push(fieldInvalid(at, f.jsonPath, (err as Error).message));
      }
      if (f.jsonPath === '.metadata.name' || f.jsonPath === '.metadata.namespace') errs.push(fieldInvalid(at, f.jsonPath, 'is an invalid path: fields in metadata are not supported'));
    });
    if ((v.selectableFields?.length ?? 0) > 8) errs.push({ type: 'FieldValueTooMany' as FieldError['type'], field: `${path}.selectableFields`, detail: `Too many: ${v.selectableFields!.length}: must have at most 8 items` });
    const scale = v.subresources?.scale;
    if (scale) {
      if (!scale.specReplicasPath) errs.push(fieldRequired(`${path}.subresources.scale.specReplicasPath`));
      else if (!scale.specReplicasPath.startsWith('.spec.')) errs.push(fieldInvalid(`${path}.subresources.scale.specReplicasPath`, scale.specReplicasPath, 'should be a json path under .spec'));
      if (!scale.statusReplicasPath) errs.push(fieldRequired(`${path}.subresources.scale.statusReplicasPath`));
      else if (!scale.statusReplicasPath.startsWith('.status.')) errs.push(fieldInvalid(`${path}.subresources.scale.statusReplicasPath`, scale.statusReplicasPath, 'should be a json path under .status'));
      if (scale.labelSelectorPath && !/^\.(spec|status)\./.test(scale.labelSelectorPath)) errs.push(fieldInvalid(`${path}.subresources.scale.labelSelectorPath`, scale.labelSelectorPath, 'should be a json path under either .spec or .status'));
    }
  });
  if (storage !== 1) errs.push(fieldInvalid('spec.versions', versions.map((v) => ({ ...v, schema: undefined })), 'must have exactly one version marked as storage version'));
  if (served === 0) errs.push(fieldInvalid('spec.versions', versions.map((v) => ({ ...v, schema: undefined })), 'must have at least one version marked as served'));
  return errs;
}

function versionShape(v: CrdVersion, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const r = v as unknown as Record<string, unknown>;
  if (r.name !== undefined && typeof r.name !== 'string') errs.push(fieldInvalid(`${path}.name`, r.name, 'must be a string'));
  for (const k of ['served', 'storage', 'deprecated']) if (r[k] !== undefined && typeof r[k] !== 'boolean') errs.push(fieldInvalid(`${path}.${k}`, r[k], 'must be a boolean'));
  if (r.schema !== undefined && !isObject(r.schema)) errs.push(fieldInvalid(`${path}.schema`, r.schema, 'must be an object'));
  for (const k of ['additionalPrinterColumns', 'selectableFields']) {
    const list = r[k];
    if (list !== undefined && (!Array.isArray(list) || !list.every(isObject))) errs.push(fieldInvalid(`${path}.${k}`, list, 'must be a list of objects'));
    else for (const [i, item] of ((list as Record<string, unknown>[] | undefined) ?? []).entries()) {
      for (const f of ['name', 'type', 'format', 'description', 'jsonPath']) if (item[f] !== undefined && typeof item[f] !== 'string') errs.push(fieldInvalid(`${path}.${k}[${i}].${f}`, item[f], 'must be a string'));
      if (item.priority !== undefined && !Number.isInteger(item.priority)) errs.push(fieldInvalid(`${path}.${k}[${i}].priority`, item.priority, 'must be an integer'));
    }
  }
  const sub = r.subresources;
  if (sub !== undefined) {
    if (!isObject(sub)) errs.push(fieldInvalid(`${path}.subresources`, sub, 'must be an object'));
    else {
      if (sub.status !== undefined && !isObject(sub.status)) errs.push(fieldInvalid(`${path}.subresources.status`, sub.status, 'must be an object'));
      if (sub.scale !== undefined) {
        if (!isObject(sub.scale)) errs.push(fieldInvalid(`${path}.subresources.scale`, sub.scale, 'must be an object'));
        else for (const f of ['specReplicasPath', 'statusReplicasPath', 'labelSelectorPath']) if (sub.scale[f] !== undefined && typeof sub.scale[f] !== 'string') errs.push(fieldInvalid(`${path}.subresources.scale.${f}`, sub.scale[f], 'must be a string'));
      }
    }
  }
  return errs;
}

function validateSchema(schema: JSONSchemaProps, path: string): FieldError[] {
  const errs = validateStructuralSchema(schema, path);
  if (errs.length === 0) errs.push(...validateDefaults(schema, path));
  const engine = validationRules();
  if (errs.length === 0 && engine && hasValidationRules(schema)) errs.push(...engine.compile(schema, path).errors);
  return errs;
}

/** Every default must validate against its own schema (upstream: "default: Invalid value: ..."). */
function validateDefaults(s: JSONSchemaProps, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (s.default !== undefined) {
    for (const e of validateValue(s, s.default, '')) errs.push(fieldInvalid(`${path}.default`, s.default, `${e.field ? `${e.field}: ` : ''}${e.detail}`));
  }
  for (const [k, p] of Object.entries(s.properties ?? {})) errs.push(...validateDefaults(p, `${path}.properties[${k}]`));
  if (s.items && !Array.isArray(s.items)) errs.push(...validateDefaults(s.items, `${path}.items`));
  if (typeof s.additionalProperties === 'object') errs.push(...validateDefaults(s.additionalProperties, `${path}.additionalProperties`));
  return errs;
}

const COLUMN_TYPES = ['integer', 'number', 'string', 'boolean', 'date'];
const COLUMN_FORMATS = ['int32', 'int64', 'float', 'double', 'byte', 'date', 'date-time', 'password'];

function validateColumns(v: CrdVersion, path: string): FieldError[] {
  const errs: FieldError[] = [];
  (v.additionalPrinterColumns ?? []).forEach((c, i) => {
    const at = `${path}.additionalPrinterColumns[${i}]`;
    if (!c?.name) errs.push(fieldRequired(`${at}.name`));
    if (!c?.type) errs.push(fieldRequired(`${at}.type`));
    else if (!COLUMN_TYPES.includes(c.type)) errs.push(fieldNotSupported(`${at}.type`, c.type, COLUMN_TYPES));
    if (c?.format && !COLUMN_FORMATS.includes(c.format)) errs.push(fieldNotSupported(`${at}.format`, c.format, COLUMN_FORMATS));
    if (c?.priority !== undefined && c.priority < 0) errs.push(fieldInvalid(`${at}.priority`, c.priority, 'must be non-negative'));
    if (!c?.jsonPath) errs.push(fieldRequired(`${at}.jsonPath`));
    else {
      try {
        new JsonPath(c.jsonPath);
      } catch (err) {
        errs.push(fieldInvalid(`${at}.jsonPath`, c.jsonPath, (err as Error).message));
      }
    }
  });
  return errs;
}

/** Update rules: the group and scope are fixed, and a version objects are stored in cannot be removed. */
export function validateCrdUpdate(crd: CustomResourceDefinition, old: CustomResourceDefinition): FieldError[] {
  const errs: FieldError[] = [];
  if (crd.spec?.group !== old.spec?.group) errs.push(fieldInvalid('spec.group', crd.spec?.group ?? '', 'field is immutable'));
  if (crd.spec?.scope !== old.spec?.scope) errs.push(fieldInvalid('spec.scope', crd.spec?.scope ?? '', 'field is immutable'));
  const versions = new Set((crd.spec?.versions ?? []).map((v) => v.name));
  (crd.status?.storedVersions ?? []).forEach((sv, i) => {
    if (!versions.has(sv)) errs.push(fieldInvalid(`status.storedVersions[${i}]`, sv, 'must appear in spec.versions'));
  });
  return errs;
}
