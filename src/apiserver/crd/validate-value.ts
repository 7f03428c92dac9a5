/**
 * Validation of a custom object against its version's openAPIV3Schema, with the errors kube-apiserver returns
 * (go-openapi's validator as apiextensions-apiserver maps its results to field errors): types, nullable, enum,
 * formats, patterns, bounds, lengths, item counts, required properties, the x-kubernetes list types and
 * embedded resources, and the allOf/anyOf/oneOf/not junctors.
 */
import { fieldDuplicate, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { deepEqual, isObject, itemsSchema, type JSONSchemaProps } from './json-schema.js';

/** Validates value at path (`spec.replicas`; '' for the root) and returns the errors in document order. */
export function validateValue(schema: JSONSchemaProps, value: unknown, path = ''): FieldError[] {
  const errs: FieldError[] = [];
  walk(schema, value, path, errs);
  return errs;
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Go's %v-like rendering in "in body must be of type" messages: strings bare, others as JSON. */
function goValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return 'null';
  return JSON.stringify(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(type: string, v: unknown): boolean {
  switch (type) {
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return true;
  }
}

function typeError(path: string, type: string, v: unknown): FieldError {
  const shown = v === null ? 'null' : typeName(v);
  return fieldInvalid(path, shown, `${path || 'body'} in body must be of type ${type}: "${shown}"`);
}

/** The formats apiextensions validates (its supported subset of go-openapi's strfmt registry); others are ignored. */
const FORMATS: Record<string, (s: string) => boolean> = {
  bsonobjectid: (s) => /^[0-9a-f]{24}$/i.test(s),
  uri: (s) => URL.canParse(s),
  email: (s) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s),
  hostname: (s) => s.length <= 253 && /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/.test(s),
  ipv4: (s) => /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(s),
  ipv6: (s) => s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s),
  cidr: (s) => /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(s),
  mac: (s) => /^(?:[0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(s),
  uuid: (s) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(s),
  uuid3: (s) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(s),
  uuid4: (s) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i.test(s),
  uuid5: (s) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i.test(s),
  isbn: (s) => /^(?:\d{9}[\dX]|\d{13})$/.test(s.replace(/[- ]/g, '')),
  isbn10: (s) => /^\d{9}[\dX]$/.test(s.replace(/[- ]/g, '')),
  isbn13: (s) => /^\d{13}$/.test(s.replace(/[- ]/g, '')),
  creditcard: (s) => /^\d{13,19}$/.test(s.replace(/[- ]/g, '')),
  ssn: (s) => /^\d{3}[- ]?\d{2}[- ]?\d{4}$/.test(s),
  hexcolor: (s) => /^#?(?:[0-9a-fA-F]{3}){1,2}$/.test(s),
  rgbcolor: (s) => /^rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)$/.test(s),
  byte: (s) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s)),
  'date-time': (s) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s.replace(' ', 'T'))),
  duration: (s) => /^(?:-?(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w))+|0)$/.test(s),
};

/** A schema pattern as a RegExp: Unicode mode first (closest to RE2), else the legacy mode some escapes need. */
export function compilePattern(p: string): RegExp | null {
  for (const flags of ['u', '']) {
    try {
      return new RegExp(p, flags);
    } catch {
      // try the next mode
    }
  }
  return null;
}

/** Compiled patterns (schemas are validated per request; compile once). */
const patterns = new Map<string, RegExp | null>();
function patternOf(p: string): RegExp | null {
  let re = patterns.get(p);
  if (re === undefined) {
    re = compilePattern(p);
    patterns.set(p, re);
  }
  return re;
}

function walk(s: JSONSchemaProps, v: unknown, path: string, errs: FieldError[]): void {
  if (v === null) {
    if (s.nullable || !s.type) return;
    errs.push(typeError(path, s.type, v));
    return;
  }
  if (s['x-kubernetes-int-or-string']) {
    if (!(typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)))) {
      errs.push(fieldInvalid(path, typeName(v), `${path} in body must be of type integer,string: "${typeName(v)}"`));
      return;
    }
  } else if (s.type && !typeMatches(s.type, v)) {
    errs.push(typeError(path, s.type, v));
    return;
  }
  if (s.enum && s.enum.length > 0 && !s.enum.some((e) => deepEqual(e, v))) {
    errs.push(fieldNotSupported(path, v, s.enum.map((e) => goValue(e))));
  }
  if (typeof v === 'string') validateString(s, v, path, errs);
  else if (typeof v === 'number') validateNumber(s, v, path, errs);
  else if (Array.isArray(v)) validateArray(s, v, path, errs);
  else if (isObject(v)) validateObject(s, v, path, errs);
  validateJunctors(s, v, path, errs);
}

function validateString(s: JSONSchemaProps, v: string, path: string, errs: FieldError[]): void {
  const length = [...v].length;
  if (s.maxLength !== undefined && length > s.maxLength) {
    errs.push({ type: 'FieldValueTooLong', field: path, detail: `Too long: may not be more than ${s.maxLength} bytes` });
  }
  if (s.minLength !== undefined && length < s.minLength) {
    errs.push(fieldInvalid(path, v, `${path} in body should be at least ${s.minLength} chars long`));
  }
  if (s.pattern !== undefined) {
    const re = patternOf(s.pattern);
    if (re && !re.test(v)) errs.push(fieldInvalid(path, v, `${path} in body should match '${s.pattern}'`));
  }
  if (s.format !== undefined && Object.hasOwn(FORMATS, s.format) && !FORMATS[s.format](v)) {
    errs.push(fieldInvalid(path, v, `${path} in body must be of type ${s.format}: "${v}"`));
  }
}

function validateNumber(s: JSONSchemaProps, v: number, path: string, errs: FieldError[]): void {
  if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum)) {
    errs.push(fieldInvalid(path, v, `${path} in body should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}`));
  }
  if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum)) {
    errs.push(fieldInvalid(path, v, `${path} in body should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`));
  }
  if (s.multipleOf !== undefined && s.multipleOf > 0 && !Number.isInteger(v / s.multipleOf)) {
    errs.push(fieldInvalid(path, v, `${path} in body should be a multiple of ${s.multipleOf}`));
  }
  if (s.format === 'int32' && (v > 2147483647 || v < -2147483648)) errs.push(fieldInvalid(path, v, `${path} in body must be of type int32: "${v}"`));
}

function validateArray(s: JSONSchemaProps, v: unknown[], path: string, errs: FieldError[]): void {
  if (s.maxItems !== undefined && v.length > s.maxItems) {
    errs.push({ type: 'FieldValueTooMany' as FieldError['type'], field: path, detail: `Too many: ${v.length}: must have at most ${s.maxItems} items` });
  }
  if (s.minItems !== undefined && v.length < s.minItems) {
    errs.push(fieldInvalid(path, v, `${path} in body should have at least ${s.minItems} items`));
  }
  const items = itemsSchema(s);
  if (items) v.forEach((item, i) => walk(items, item, `${path}[${i}]`, errs));
  const listType = s['x-kubernetes-list-type'];
  if (listType === 'set') {
    for (let i = 1; i < v.length; i++) if (v.slice(0, i).some((w) => deepEqual(w, v[i]))) errs.push(fieldDuplicate(`${path}[${i}]`, v[i]));
  } else if (listType === 'map') {
    const keys = s['x-kubernetes-list-map-keys'] ?? [];
    const seen: unknown[][] = [];
    v.forEach((item, i) => {
      if (!isObject(item)) return;
      const key = keys.map((k) => item[k] ?? itemDefault(items, k));
      if (seen.some((other) => deepEqual(other, key))) {
        errs.push(fieldDuplicate(`${path}[${i}]`, Object.fromEntries(keys.map((k, j) => [k, key[j]]))));
      }
      seen.push(key);
    });
  }
}

function itemDefault(items: JSONSchemaProps | undefined, key: string): unknown {
  return items?.properties?.[key]?.default;
}

function validateObject(s: JSONSchemaProps, v: Record<string, unknown>, path: string, errs: FieldError[]): void {
  for (const name of s.required ?? []) {
    if (!Object.hasOwn(v, name)) errs.push(fieldRequired(child(path, name)));
  }
  const n = Object.keys(v).length;
  if (s.maxProperties !== undefined && n > s.maxProperties) errs.push({ type: 'FieldValueTooMany' as FieldError['type'], field: path, detail: `Too many: ${n}: must have at most ${s.maxProperties} items` });
  if (s.minProperties !== undefined && n < s.minProperties) errs.push(fieldInvalid(path, n, `${path} in body should have at least ${s.minProperties} properties`));
  if (s['x-kubernetes-embedded-resource']) {
    if (typeof v.apiVersion !== 'string' || v.apiVersion === '') errs.push(fieldRequired(child(path, 'apiVersion'), 'must not be empty'));
    if (typeof v.kind !== 'string' || v.kind === '') errs.push(fieldRequired(child(path, 'kind'), 'must not be empty'));
  }
  const additional = typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
  for (const [k, value] of Object.entries(v)) {
    const prop = s.properties?.[k];
    if (prop) walk(prop, value, child(path, k), errs);
    else if (additional) walk(additional, value, child(path, k), errs);
  }
}

function validateJunctors(s: JSONSchemaProps, v: unknown, path: string, errs: FieldError[]): void {
  for (const sub of s.allOf ?? []) walk(sub, v, path, errs);
  if (s.anyOf && s.anyOf.length > 0 && !s.anyOf.some((sub) => validateValue(sub, v, path).length === 0)) {
    errs.push(fieldInvalid(path, v, `${path || 'body'} in body must validate at least one schema (anyOf)`));
  }
  if (s.oneOf && s.oneOf.length > 0 && s.oneOf.filter((sub) => validateValue(sub, v, path).length === 0).length !== 1) {
    errs.push(fieldInvalid(path, v, `${path || 'body'} in body must validate one and only one schema (oneOf)`));
  }
  if (s.not && validateValue(s.not, v, path).length === 0) {
    errs.push(fieldInvalid(path, v, `${path || 'body'} in body must not validate the schema (not)`));
  }
}
