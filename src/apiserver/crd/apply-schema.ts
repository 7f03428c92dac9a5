/**
 * Server-side apply's type of a custom resource, built from one version's structural schema the way
 * kube-apiserver 1.32 builds it (apiextensions' OpenAPI v3 builder, then kube-openapi `schemaconv` into a
 * structured-merge-diff schema; facts from their documented behaviour, no code copied):
 *
 * - `type: object`: `properties` are struct fields; any other key is a map entry typed by `additionalProperties`
 *   (a schema), else deduced (`additionalProperties: true`, no properties, or under
 *   `x-kubernetes-preserve-unknown-fields`, which holds for the whole subtree). `x-kubernetes-map-type: atomic`
 *   makes the object one leaf; `granular` (the default) merges it key by key.
 * - `type: array`: `x-kubernetes-list-type` `map` (merged by `x-kubernetes-list-map-keys`, a key field's schema
 *   default standing in when an item omits it), `set` (merged by value), `atomic`; no list type is atomic, the
 *   default for CRDs.
 * - no type (`x-kubernetes-int-or-string`, or `x-kubernetes-preserve-unknown-fields` alone): untyped, i.e. deduced
 *   (objects granular, lists atomic); with properties, an object as above.
 * - scalars (string, integer, number, boolean) are leaves.
 * - the root and every `x-kubernetes-embedded-resource` object get `apiVersion`, `kind` and `metadata` (ObjectMeta
 *   from the schema table: labels and annotations granular, finalizers a set, ownerReferences keyed by uid).
 */
import { DEDUCED, SCALAR, rootNodeType, type NodeType } from '../apply/fieldpath.js';
import { itemsSchema, type JSONSchemaProps } from './json-schema.js';

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/** The apply type of objects of a CRD version whose `openAPIV3Schema` is `schema`. Pure; callers cache it. */
export function applyTypeOf(schema: JSONSchemaProps): NodeType {
  return objectType(schema, false, true);
}

function typeOf(s: JSONSchemaProps, preserve: boolean): NodeType {
  const keep = preserve || s['x-kubernetes-preserve-unknown-fields'] === true;
  switch (s.type) {
    case 'object':
      return objectType(s, keep, s['x-kubernetes-embedded-resource'] === true);
    case 'array':
      return listType(s, keep);
    case 'string':
    case 'integer':
    case 'number':
    case 'boolean':
      return SCALAR;
    default:
      // Untyped: an int-or-string value is a scalar; anything else is deduced from the value, unless the schema
      // names properties (then those are fields of an object).
      if (s['x-kubernetes-int-or-string'] === true) return SCALAR;
      if (s.properties || typeof s.additionalProperties === 'object') return objectType(s, keep, s['x-kubernetes-embedded-resource'] === true);
      return DEDUCED;
  }
}

function objectType(s: JSONSchemaProps, preserve: boolean, resource: boolean): NodeType {
  const keep = preserve || s['x-kubernetes-preserve-unknown-fields'] === true;
  const fields = new Map<string, NodeType>();
  for (const [name, prop] of Object.entries(s.properties ?? {})) fields.set(name, typeOf(prop, keep));
  if (resource) {
    fields.set('apiVersion', SCALAR);
    fields.set('kind', SCALAR);
    fields.set('metadata', rootNodeType(OBJECT_META));
  }
  const values = typeof s.additionalProperties === 'object' ? typeOf(s.additionalProperties, keep) : DEDUCED;
  return { kind: 'object', atomic: s['x-kubernetes-map-type'] === 'atomic', fields, values };
}

function listType(s: JSONSchemaProps, preserve: boolean): NodeType {
  const itemSchema = itemsSchema(s);
  const items = itemSchema ? typeOf(itemSchema, preserve) : DEDUCED;
  const declared = s['x-kubernetes-list-type'];
  const keys = declared === 'map' ? (s['x-kubernetes-list-map-keys'] ?? []) : [];
  const listType = declared === 'set' || (declared === 'map' && keys.length > 0) ? declared : 'atomic';
  const keyDefaults: Record<string, unknown> = {};
  for (const k of keys) {
    const dflt = itemSchema?.properties?.[k]?.default;
    if (dflt !== undefined) keyDefaults[k] = dflt;
  }
  return { kind: 'list', listType, keys, items, keyDefaults };
}
