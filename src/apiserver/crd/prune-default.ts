/**
 * Pruning and defaulting of custom objects by their structural schema (apiextensions-apiserver's
 * pkg/apiserver/schema/pruning and schema/defaulting): fields the schema does not specify are dropped unless
 * `x-kubernetes-preserve-unknown-fields` keeps them; absent fields with a `default` get it, as do nulls of
 * non-nullable fields. Both mutate the object and run on every write, defaulting also on reads from storage.
 */
import { checkDecoded } from '../field-validation.js';
import { isObject, itemsSchema, type JSONSchemaProps } from './json-schema.js';

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/**
 * Drops unknown fields from a whole custom object (root: apiVersion, kind and metadata are always kept; metadata is
 * pruned to ObjectMeta as the typed decoder would) and returns their paths, e.g. `spec.foo`, `spec.items[0].bar`.
 */
export function pruneObject(schema: JSONSchemaProps, obj: Record<string, unknown>): string[] {
  return pruneDecoded(schema, obj).unknown;
}

/** pruneObject for the decoder: also the type errors of metadata (a 400, as Go's decoder of ObjectMeta gives). */
export function pruneDecoded(schema: JSONSchemaProps, obj: Record<string, unknown>): { unknown: string[]; typeErrors: string[] } {
  const unknown: string[] = [];
  const typeErrors: string[] = [];
  if (obj.metadata !== undefined && obj.metadata !== null && !isObject(obj.metadata)) {
    typeErrors.push(`cannot unmarshal ${Array.isArray(obj.metadata) ? 'array' : typeof obj.metadata} into Go struct field .metadata of type ObjectMeta`);
  } else if (isObject(obj.metadata)) {
    const report = checkDecoded(OBJECT_META, obj.metadata);
    typeErrors.push(...report.typeErrors.map((e) => e.replace('Go struct field ', 'Go struct field ObjectMeta.metadata.')));
    unknown.push(...report.unknown.map((f) => `metadata.${f}`));
  }
  pruneProperties(schema, obj, '', unknown, true);
  return { unknown, typeErrors };
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** An object with apiVersion/kind/metadata of its own (the root, and x-kubernetes-embedded-resource values). */
function pruneEmbedded(s: JSONSchemaProps, obj: Record<string, unknown>, path: string, unknown: string[]): void {
  if (isObject(obj.metadata)) {
    for (const f of checkDecoded(OBJECT_META, obj.metadata).unknown) unknown.push(child(child(path, 'metadata'), f));
  }
  pruneProperties(s, obj, path, unknown, true);
}

function pruneProperties(s: JSONSchemaProps, obj: Record<string, unknown>, path: string, unknown: string[], embedded: boolean): void {
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  const additional = s.additionalProperties;
  for (const k of Object.keys(obj)) {
    if (embedded && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) continue;
    const prop = s.properties?.[k];
    if (prop) {
      prune(prop, obj[k], child(path, k), unknown);
    } else if (typeof additional === 'object') {
      prune(additional, obj[k], child(path, k), unknown);
    } else if (!preserve && additional !== true) {
      unknown.push(child(path, k));
      delete obj[k];
    }
  }
}

function prune(s: JSONSchemaProps, v: unknown, path: string, unknown: string[]): void {
  if (Array.isArray(v)) {
    const items = itemsSchema(s);
    if (items) v.forEach((item, i) => prune(items, item, `${path}[${i}]`, unknown));
    return;
  }
  if (!isObject(v)) return;
  if (s['x-kubernetes-embedded-resource']) return pruneEmbedded(s, v, path, unknown);
  // An object without properties or additionalProperties is kept whole only when it preserves unknown fields.
  pruneProperties(s, v, path, unknown, false);
}

/** True when any node of the schema declares a default (read-time defaulting is needed only then). */
export function hasDefaults(s: JSONSchemaProps | undefined): boolean {
  if (!s) return false;
  if (s.default !== undefined) return true;
  if (Object.values(s.properties ?? {}).some(hasDefaults)) return true;
  if (typeof s.additionalProperties === 'object' && hasDefaults(s.additionalProperties)) return true;
  return hasDefaults(itemsSchema(s));
}

/** True when applyDefaults would change v (reads only: stored objects mostly have their defaults already). */
export function lacksDefaults(s: JSONSchemaProps, v: unknown): boolean {
  if (Array.isArray(v)) {
    const items = itemsSchema(s);
    return !!items && v.some((item) => lacksDefaults(items, item));
  }
  if (!isObject(v)) return false;
  for (const [k, prop] of Object.entries(s.properties ?? {})) {
    if (prop.default !== undefined && (!Object.hasOwn(v, k) || (v[k] === null && !prop.nullable))) return true;
    if (Object.hasOwn(v, k) && lacksDefaults(prop, v[k])) return true;
  }
  if (typeof s.additionalProperties === 'object') {
    const additional = s.additionalProperties;
    for (const [k, value] of Object.entries(v)) if (!s.properties?.[k] && lacksDefaults(additional, value)) return true;
  }
  return false;
}

/** Sets defaults into v (an object or array) by schema s; mutates v. */
export function applyDefaults(s: JSONSchemaProps, v: unknown): void {
  if (Array.isArray(v)) {
    const items = itemsSchema(s);
    if (items) for (const item of v) applyDefaults(items, item);
    return;
  }
  if (!isObject(v)) return;
  for (const [k, prop] of Object.entries(s.properties ?? {})) {
    if (prop.default !== undefined && (!Object.hasOwn(v, k) || (v[k] === null && !prop.nullable))) v[k] = structuredClone(prop.default);
    if (Object.hasOwn(v, k)) applyDefaults(prop, v[k]);
  }
  if (typeof s.additionalProperties === 'object') {
    const additional = s.additionalProperties;
    for (const [k, value] of Object.entries(v)) if (!s.properties?.[k]) applyDefaults(additional, value);
  }
}
