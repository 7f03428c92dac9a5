/**
 * `components.schemas` of an OpenAPI v3 group-version document, rendered from the schema table
 * (src/api/schema). Shapes follow what kube-apiserver 1.32 publishes under /openapi/v3 (kube-openapi's
 * v3 builder): nested objects as `allOf: [{$ref}]` so a description can sit beside the reference,
 * Time/Quantity/IntOrString as named schemas of their own, and the `x-kubernetes-*` extensions that
 * kubectl (strategic merge patch, explain) and server-side apply read.
 */
import { typeOf } from '../../api/schema/schema.js';
import type { FieldDef, ScalarKind, SchemaType, TypeDef } from '../../api/schema/types.js';

export type JsonSchema = Record<string, unknown>;

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export const SCHEMA_REF_PREFIX = '#/components/schemas/';

/** `{$ref: '#/components/schemas/<name>'}`. */
export function schemaRef(name: string): JsonSchema {
  return { $ref: SCHEMA_REF_PREFIX + name };
}

const META_V1 = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
export const PATCH_SCHEMA = `${META_V1}Patch`;

/**
 * How each scalar kind is rendered. Some are published upstream as named definitions rather than
 * inline types; kubectl explain prints a reference to a schema without `type` by its last name segment
 * (`<Quantity>`, `<IntOrString>`) and one with a primitive `type` as that type (`<string>` for Time),
 * so these shapes are what users see.
 */
const SCALARS: Record<ScalarKind, { inline: JsonSchema } | { name: string; schema: JsonSchema }> = {
  string: { inline: { type: 'string' } },
  boolean: { inline: { type: 'boolean' } },
  int32: { inline: { type: 'integer', format: 'int32' } },
  int64: { inline: { type: 'integer', format: 'int64' } },
  double: { inline: { type: 'number', format: 'double' } },
  bytes: { inline: { type: 'string', format: 'byte' } },
  // metav1.Duration declares OpenAPISchemaType string and has no definition of its own.
  duration: { inline: { type: 'string' } },
  any: { inline: { 'x-kubernetes-preserve-unknown-fields': true } },
  time: {
    name: `${META_V1}Time`,
    schema: { type: 'string', format: 'date-time', description: 'Time is an RFC 3339 timestamp with second precision, serialized as a string.' },
  },
  microtime: {
    name: `${META_V1}MicroTime`,
    schema: { type: 'string', format: 'date-time', description: 'MicroTime is an RFC 3339 timestamp with microsecond precision, serialized as a string.' },
  },
  quantity: {
    name: 'io.k8s.apimachinery.pkg.api.resource.Quantity',
    // kube-openapi's v3 builder renders Quantity's OpenAPIV3OneOfTypes (string, number) as oneOf.
    schema: {
      description: 'Quantity is a fixed-point number with an optional suffix (e.g. 100m, 1Gi, 2), serialized as a string; numbers are accepted.',
      oneOf: [{ type: 'string' }, { type: 'number' }],
    },
  },
  intOrString: {
    name: 'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
    schema: {
      description: 'IntOrString holds either an int32 or a string and serializes as whichever it holds.',
      format: 'int-or-string',
      oneOf: [{ type: 'integer' }, { type: 'string' }],
      'x-kubernetes-int-or-string': true,
    },
  },
  rawExtension: {
    name: 'io.k8s.apimachinery.pkg.runtime.RawExtension',
    schema: { type: 'object', description: 'RawExtension holds an embedded object of any kind as raw JSON.' },
  },
  fieldsV1: {
    name: `${META_V1}FieldsV1`,
    schema: { type: 'object', description: 'FieldsV1 stores a set of fields in a trie of JSON maps (f:, k:, v: and . keys).' },
  },
};

/** Named scalar definitions by schema name. */
const NAMED_SCALARS = new Map(
  Object.values(SCALARS).flatMap((s) => ('name' in s ? [[s.name, s.schema] as const] : [])),
);

/** Schemas the table has no entry for but operations need (meta/v1 Patch is a Go struct without fields). */
const EXTRA_SCHEMAS: Record<string, JsonSchema> = {
  [PATCH_SCHEMA]: { type: 'object', description: 'Patch is the body of a PATCH request; its format is given by the Content-Type.' },
};

export interface ComponentSchemaOptions {
  /** Type names to start from; every type they reach is included. */
  roots: Iterable<string>;
  /**
   * The GVKs each top-level type is served as in this document (`x-kubernetes-group-version-kind`).
   * A type not listed here falls back to the table's gvk, as upstream tags Scale, Status and friends.
   */
  gvks: ReadonlyMap<string, GroupVersionKind[]>;
  /**
   * Synthetic schemas for types the table does not know (e.g. a list kind with no table entry);
   * used before the fallback below.
   */
  synthetic?: ReadonlyMap<string, JsonSchema>;
}

/**
 * Builds `components.schemas` for the closure of `roots` over field references, keyed by table type
 * name and sorted by name so the document (and its hash) is deterministic. A name found neither in
 * the table nor in `synthetic` becomes an object schema that preserves unknown fields, so every
 * `$ref` in the document resolves.
 */
export function componentSchemas(opts: ComponentSchemaOptions): Record<string, JsonSchema> {
  const out = new Map<string, JsonSchema>();
  const pending = [...opts.roots];
  const use = (name: string): void => {
    if (!out.has(name)) pending.push(name);
  };
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (out.has(name)) continue;
    const def = typeOf(name);
    let schema: JsonSchema;
    if (def) schema = typeSchema(def, use);
    else {
      if (opts.synthetic?.has(name)) schema = opts.synthetic.get(name)!;
      else if (Object.hasOwn(EXTRA_SCHEMAS, name)) schema = EXTRA_SCHEMAS[name];
      else schema = NAMED_SCALARS.get(name) ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
      // Table types queue their references while rendering; hand-written schemas are walked instead.
      for (const ref of referencedSchemas(schema)) use(ref);
    }
    const gvks = opts.gvks.get(name) ?? (def?.gvk ? [def.gvk] : undefined);
    if (gvks) schema = { ...schema, 'x-kubernetes-group-version-kind': gvks.map((g) => ({ group: g.group, kind: g.kind, version: g.version })) };
    out.set(name, schema);
  }
  const sorted: Record<string, JsonSchema> = {};
  for (const name of [...out.keys()].sort()) sorted[name] = out.get(name)!;
  return sorted;
}

/** The schema names of every `#/components/schemas/` reference inside value (a document, path item or schema). */
export function referencedSchemas(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) referencedSchemas(v, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(SCHEMA_REF_PREFIX)) into.add(v.slice(SCHEMA_REF_PREFIX.length));
      else referencedSchemas(v, into);
    }
  }
  return into;
}

function typeSchema(def: TypeDef, use: (name: string) => void): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const field of def.fields) {
    properties[field.json] = propertySchema(field, use);
    if (field.required) required.push(field.json);
  }
  const schema: JsonSchema = {};
  if (def.description) schema.description = def.description;
  schema.type = 'object';
  schema.properties = properties;
  if (required.length > 0) schema.required = required;
  return schema;
}

function propertySchema(field: FieldDef, use: (name: string) => void): JsonSchema {
  const extra: JsonSchema = {};
  if (field.description) extra.description = field.description;
  if (field.patchStrategy) extra['x-kubernetes-patch-strategy'] = field.patchStrategy;
  if (field.patchMergeKey) extra['x-kubernetes-patch-merge-key'] = field.patchMergeKey;
  if (field.listType) extra['x-kubernetes-list-type'] = field.listType;
  if (field.listMapKeys?.length) extra['x-kubernetes-list-map-keys'] = [...field.listMapKeys];
  if (field.mapType) extra['x-kubernetes-map-type'] = field.mapType;
  const schema = valueSchema(field.type, use);
  // OpenAPI 3.0 ignores siblings of $ref, so upstream wraps references that carry a description.
  if ('$ref' in schema) return { allOf: [schema], ...extra };
  return { ...schema, ...extra };
}

/** The schema of a value of this type; references are bare `{$ref}` (callers wrap when they add siblings). */
function valueSchema(type: SchemaType, use: (name: string) => void): JsonSchema {
  switch (type.kind) {
    case 'ref':
      use(type.name);
      return schemaRef(type.name);
    case 'array':
      return { type: 'array', items: valueSchema(type.items, use) };
    case 'map':
      return { type: 'object', additionalProperties: valueSchema(type.values, use) };
    case 'scalar': {
      const scalar = SCALARS[type.scalar];
      if ('inline' in scalar) return { ...scalar.inline };
      use(scalar.name);
      return schemaRef(scalar.name);
    }
  }
}
