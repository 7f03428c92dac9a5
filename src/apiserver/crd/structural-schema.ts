/**
 * The structural-schema rules a CRD's openAPIV3Schema must meet (apiextensions-apiserver schema/validation.go
 * ValidateStructural, and the keywords v1 forbids), reported with upstream's field paths and words. Errors are sorted
 * by their text, as upstream sorts them.
 */
import { fieldForbidden, fieldInvalid, fieldRequired, type FieldError } from '../../api/status.js';
import type { JSONSchemaProps } from './json-schema.js';
import { compilePattern } from './validate-value.js';

type Level = 'root' | 'item' | 'field';

const TYPES = ['array', 'boolean', 'integer', 'number', 'object', 'string'];

export function validateStructuralSchema(s: JSONSchemaProps, path: string): FieldError[] {
  // Nothing typed the CRD on decode: a schema of the wrong shape is refused before any rule reads it.
  const shape: FieldError[] = [];
  checkShape(s, path, shape);
  if (shape.length > 0) return shape;
  const errs: FieldError[] = [];
  invariants(s, 'root', path, errs);
  forbiddenKeywords(s, path, errs);
  return errs.sort((a, b) => (`${a.field}: ${a.detail}` < `${b.field}: ${b.detail}` ? -1 : 1));
}

/** Keywords v1 CRD validation refuses anywhere in a schema (ValidateCustomResourceDefinitionOpenAPISchema). */
function forbiddenKeywords(s: JSONSchemaProps, path: string, errs: FieldError[]): void {
  if (s.$ref !== undefined) errs.push(fieldForbidden(`${path}.$ref`, '$ref is not supported'));
  if (s.definitions !== undefined) errs.push(fieldForbidden(`${path}.definitions`, 'definitions are not supported'));
  if (s.id !== undefined) errs.push(fieldForbidden(`${path}.id`, 'id is not supported'));
  if (s.additionalItems !== undefined) errs.push(fieldForbidden(`${path}.additionalItems`, 'additionalItems cannot be set to false'));
  if (s.patternProperties !== undefined) errs.push(fieldForbidden(`${path}.patternProperties`, 'patternProperties is not supported'));
  if (s.dependencies !== undefined) errs.push(fieldForbidden(`${path}.dependencies`, 'dependencies is not supported'));
  if (s.uniqueItems === true) errs.push(fieldForbidden(`${path}.uniqueItems`, 'uniqueItems cannot be set to true since the runtime complexity becomes quadratic'));
  if (s.type !== undefined && !TYPES.includes(s.type)) errs.push({ type: 'FieldValueNotSupported', field: `${path}.type`, detail: `Unsupported value: ${JSON.stringify(s.type)}: supported values: ${TYPES.map((t) => `"${t}"`).join(', ')}` });
  if (Array.isArray(s.items)) errs.push(fieldForbidden(`${path}.items`, 'items must be a schema object and not an array'));
  if (s.additionalProperties !== undefined && s.properties !== undefined && s.additionalProperties !== false) {
    errs.push(fieldForbidden(`${path}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
  }
  if (s.additionalProperties === false) errs.push(fieldForbidden(`${path}.additionalProperties`, 'additionalProperties cannot be set to false'));
  const listType = s['x-kubernetes-list-type'];
  if (listType !== undefined && !['atomic', 'set', 'map'].includes(listType)) {
    errs.push({ type: 'FieldValueNotSupported', field: `${path}.x-kubernetes-list-type`, detail: `Unsupported value: ${JSON.stringify(listType)}: supported values: "atomic", "set", "map"` });
  }
  if (listType !== undefined && s.type !== 'array') errs.push(fieldInvalid(`${path}.type`, s.type ?? '', 'must be array if x-kubernetes-list-type is specified'));
  if (listType === 'map') {
    if (!s['x-kubernetes-list-map-keys']?.length) errs.push(fieldRequired(`${path}.x-kubernetes-list-map-keys`, 'must not be empty if x-kubernetes-list-type is map'));
    const items = Array.isArray(s.items) ? undefined : s.items;
    if (items && items.type !== 'object') errs.push(fieldInvalid(`${path}.items.type`, items.type ?? '', 'must be object if parent array\'s x-kubernetes-list-type is map'));
    for (const k of s['x-kubernetes-list-map-keys'] ?? []) {
      if (items?.properties && !items.properties[k]) errs.push(fieldInvalid(`${path}.x-kubernetes-list-map-keys`, s['x-kubernetes-list-map-keys'], `entries must all be names of item properties`));
    }
  } else if (s['x-kubernetes-list-map-keys'] !== undefined) {
    errs.push(fieldForbidden(`${path}.x-kubernetes-list-map-keys`, 'must be empty if x-kubernetes-list-type is not map'));
  }
  if (s.pattern !== undefined) {
    if (!compilePattern(s.pattern)) errs.push(fieldInvalid(`${path}.pattern`, s.pattern, "must be a valid regular expression, but isn't"));
  }
  for (const [k, p] of Object.entries(s.properties ?? {})) forbiddenKeywords(p, `${path}.properties[${k}]`, errs);
  if (s.items && !Array.isArray(s.items)) forbiddenKeywords(s.items, `${path}.items`, errs);
  if (typeof s.additionalProperties === 'object') forbiddenKeywords(s.additionalProperties, `${path}.additionalProperties`, errs);
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) s[key]?.forEach((sub, i) => forbiddenKeywords(sub, `${path}.${key}[${i}]`, errs));
  if (s.not) forbiddenKeywords(s.not, `${path}.not`, errs);
}

function invariants(s: JSONSchemaProps, lvl: Level, path: string, errs: FieldError[]): void {
  if (s.type === 'array' && s.items === undefined) errs.push(fieldRequired(`${path}.items`, 'must be specified'));
  if (s.items && !Array.isArray(s.items)) invariants(s.items, 'item', `${path}.items`, errs);
  for (const [k, p] of Object.entries(s.properties ?? {})) invariants(p, 'field', `${path}.properties[${k}]`, errs);
  if (s.additionalProperties !== undefined && typeof s.additionalProperties === 'object') {
    if (lvl === 'root') errs.push(fieldForbidden(`${path}.additionalProperties`, 'must not be used at the root'));
    invariants(s.additionalProperties, 'field', `${path}.additionalProperties`, errs);
  }
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  const embedded = s['x-kubernetes-embedded-resource'] === true;
  if (intOrString && preserve) errs.push(fieldInvalid(`${path}.x-kubernetes-preserve-unknown-fields`, true, 'must be false if x-kubernetes-int-or-string is true'));
  if (intOrString && embedded) errs.push(fieldInvalid(`${path}.x-kubernetes-embedded-resource`, true, 'must be false if x-kubernetes-int-or-string is true'));
  const skipAnyOf = isIntOrStringAnyOf(s.anyOf);
  const skipFirstAllOfAnyOf = !!s.allOf?.length && isIntOrStringAnyOf(s.allOf[0].anyOf);
  s.anyOf?.forEach((sub, i) => !skipAnyOf && nested(sub, false, lvl, `${path}.anyOf[${i}]`, errs));
  s.allOf?.forEach((sub, i) => nested(sub, skipFirstAllOfAnyOf && i === 0, lvl, `${path}.allOf[${i}]`, errs));
  s.oneOf?.forEach((sub, i) => nested(sub, false, lvl, `${path}.oneOf[${i}]`, errs));
  if (s.not) nested(s.not, false, lvl, `${path}.not`, errs);
  const checkMetadata = lvl === 'root' || embedded;
  if (embedded && s.type !== 'object') {
    if (!s.type) errs.push(fieldRequired(`${path}.type`, 'must be object if x-kubernetes-embedded-resource is true'));
    else errs.push(fieldInvalid(`${path}.type`, s.type, 'must be object if x-kubernetes-embedded-resource is true'));
  } else if (!s.type && !intOrString && !preserve) {
    const where = lvl === 'root' ? 'at the root' : lvl === 'item' ? 'for specified array items' : 'for specified object fields';
    errs.push(fieldRequired(`${path}.type`, `must not be empty ${where}`));
  }
  if (embedded && s.additionalProperties !== undefined) errs.push(fieldForbidden(`${path}.additionalProperties`, 'must not be used if x-kubernetes-embedded-resource is set'));
  if (lvl === 'root' && s.type && s.type !== 'object') errs.push(fieldInvalid(`${path}.type`, s.type, 'must be object at the root'));
  const props = s.properties ?? {};
  if (checkMetadata && props.kind && props.kind.type !== 'string') errs.push(fieldInvalid(`${path}.properties[kind].type`, props.kind.type ?? '', 'must be string'));
  if (checkMetadata && props.apiVersion && props.apiVersion.type !== 'string') errs.push(fieldInvalid(`${path}.properties[apiVersion].type`, props.apiVersion.type ?? '', 'must be string'));
  if (props.metadata) {
    const m = props.metadata;
    if (checkMetadata && m.type !== 'object') errs.push(fieldInvalid(`${path}.properties[metadata].type`, m.type ?? '', 'must be object'));
    if (lvl === 'root') {
      const { type: _t, default: _d, properties, ...rest } = m;
      const names = Object.keys(properties ?? {});
      const onlyNames = names.every((n) => n === 'name' || n === 'generateName');
      if (!onlyNames || Object.keys(rest).some((k) => k !== 'description')) {
        errs.push(fieldForbidden(`${path}.properties[metadata]`, 'must not specify anything other than name and generateName, but metadata is implicitly specified'));
      }
    }
  }
  if (embedded && !preserve && Object.keys(props).length === 0) {
    errs.push(fieldRequired(`${path}.properties`, 'must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields'));
  }
}

function isIntOrStringAnyOf(anyOf: JSONSchemaProps[] | undefined): boolean {
  return anyOf?.length === 2 && anyOf[0].type === 'integer' && anyOf[1].type === 'string' && Object.keys(anyOf[0]).length === 1 && Object.keys(anyOf[1]).length === 1;
}

/** A schema under allOf/anyOf/oneOf/not: value validation only, no structure (upstream validateNestedValueValidation). */
function nested(s: JSONSchemaProps, skipAnyOf: boolean, lvl: Level, path: string, errs: FieldError[]): void {
  if (!skipAnyOf) s.anyOf?.forEach((sub, i) => nested(sub, false, lvl, `${path}.anyOf[${i}]`, errs));
  s.allOf?.forEach((sub, i) => nested(sub, false, lvl, `${path}.allOf[${i}]`, errs));
  s.oneOf?.forEach((sub, i) => nested(sub, false, lvl, `${path}.oneOf[${i}]`, errs));
  if (s.not) nested(s.not, false, lvl, `${path}.not`, errs);
  if (s.items && !Array.isArray(s.items)) nested(s.items, false, lvl, `${path}.items`, errs);
  for (const [k, p] of Object.entries(s.properties ?? {})) {
    if (k === 'metadata') errs.push(fieldForbidden(`${path}.properties[metadata]`, 'must not be specified in a nested context'));
    nested(p, false, 'field', `${path}.properties[${k}]`, errs);
  }
  if (s.type) errs.push(fieldForbidden(`${path}.type`, 'must be empty to be structural'));
  if (s.additionalProperties !== undefined) errs.push(fieldForbidden(`${path}.additionalProperties`, 'must be undefined to be structural'));
  if (s.default !== undefined) errs.push(fieldForbidden(`${path}.default`, 'must be undefined to be structural'));
  if (s.title) errs.push(fieldForbidden(`${path}.title`, 'must be empty to be structural'));
  if (s.description) errs.push(fieldForbidden(`${path}.description`, 'must be empty to be structural'));
  if (s.nullable) errs.push(fieldForbidden(`${path}.nullable`, 'must be false to be structural'));
  if (s.externalDocs) errs.push(fieldForbidden(`${path}.externalDocs`, 'must be undefined to be structural'));
  if (s['x-kubernetes-preserve-unknown-fields']) errs.push(fieldForbidden(`${path}.x-kubernetes-preserve-unknown-fields`, 'must be false to be structural'));
  if (s['x-kubernetes-embedded-resource']) errs.push(fieldForbidden(`${path}.x-kubernetes-embedded-resource`, 'must be false to be structural'));
  if (s['x-kubernetes-int-or-string']) errs.push(fieldForbidden(`${path}.x-kubernetes-int-or-string`, 'must be false to be structural'));
  if (s['x-kubernetes-list-map-keys']?.length) errs.push(fieldForbidden(`${path}.x-kubernetes-list-map-keys`, 'must be empty to be structural'));
  if (s['x-kubernetes-list-type'] !== undefined) errs.push(fieldForbidden(`${path}.x-kubernetes-list-type`, 'must be undefined to be structural'));
  if (s['x-kubernetes-map-type'] !== undefined) errs.push(fieldForbidden(`${path}.x-kubernetes-map-type`, 'must be undefined to be structural'));
  if (s['x-kubernetes-validations']?.length) errs.push(fieldForbidden(`${path}.x-kubernetes-validations`, 'must be empty to be structural'));
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSONSchemaProps' Go types, checked as the typed decoder would (400 there; a 422 naming the field here). */
function checkShape(s: unknown, path: string, errs: FieldError[]): void {
  if (!isObj(s)) {
    errs.push(fieldInvalid(path, s ?? null, 'must be a JSON schema object'));
    return;
  }
  const str = (k: string) => s[k] !== undefined && typeof s[k] !== 'string' && errs.push(fieldInvalid(`${path}.${k}`, s[k], 'must be a string'));
  const num = (k: string) => s[k] !== undefined && typeof s[k] !== 'number' && errs.push(fieldInvalid(`${path}.${k}`, s[k], 'must be a number'));
  const bool = (k: string) => s[k] !== undefined && typeof s[k] !== 'boolean' && errs.push(fieldInvalid(`${path}.${k}`, s[k], 'must be a boolean'));
  for (const k of ['type', 'format', 'title', 'description', 'pattern', '$ref', 'id', '$schema', 'x-kubernetes-list-type', 'x-kubernetes-map-type']) str(k);
  for (const k of ['maximum', 'minimum', 'maxLength', 'minLength', 'maxItems', 'minItems', 'maxProperties', 'minProperties', 'multipleOf']) num(k);
  for (const k of ['exclusiveMaximum', 'exclusiveMinimum', 'uniqueItems', 'nullable', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string']) bool(k);
  for (const k of ['required', 'x-kubernetes-list-map-keys']) {
    if (s[k] !== undefined && (!Array.isArray(s[k]) || !(s[k] as unknown[]).every((v) => typeof v === 'string'))) errs.push(fieldInvalid(`${path}.${k}`, s[k], 'must be a list of strings'));
  }
  if (s.enum !== undefined && !Array.isArray(s.enum)) errs.push(fieldInvalid(`${path}.enum`, s.enum, 'must be a list'));
  if (s['x-kubernetes-validations'] !== undefined && (!Array.isArray(s['x-kubernetes-validations']) || !(s['x-kubernetes-validations'] as unknown[]).every((r) => isObj(r) && typeof r.rule === 'string'))) {
    errs.push(fieldInvalid(`${path}.x-kubernetes-validations`, s['x-kubernetes-validations'], 'must be a list of rules, each with a string rule'));
  }
  for (const k of ['properties', 'definitions', 'patternProperties']) {
    if (s[k] === undefined) continue;
    if (!isObj(s[k])) errs.push(fieldInvalid(`${path}.${k}`, s[k], 'must be an object of schemas'));
    else for (const [name, sub] of Object.entries(s[k] as Record<string, unknown>)) checkShape(sub, `${path}.${k}[${name}]`, errs);
  }
  if (s.items !== undefined) {
    if (Array.isArray(s.items)) s.items.forEach((sub, i) => checkShape(sub, `${path}.items[${i}]`, errs));
    else checkShape(s.items, `${path}.items`, errs);
  }
  if (s.additionalProperties !== undefined && typeof s.additionalProperties !== 'boolean') checkShape(s.additionalProperties, `${path}.additionalProperties`, errs);
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    if (s[k] === undefined) continue;
    if (!Array.isArray(s[k])) errs.push(fieldInvalid(`${path}.${k}`, s[k], 'must be a list of schemas'));
    else (s[k] as unknown[]).forEach((sub, i) => checkShape(sub, `${path}.${k}[${i}]`, errs));
  }
  if (s.not !== undefined) checkShape(s.not, `${path}.not`, errs);
}
