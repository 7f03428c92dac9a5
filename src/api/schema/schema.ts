/**
 * Lookups over the generated schema table (kinds.generated.ts). Everything here is read-only: callers must
 * not mutate the TypeDefs and FieldDefs they get back, which are shared.
 *
 * Two protobuf facts the table's shape cannot carry on a field, kept here for decoders:
 * - An inline-embedded struct (`VolumeSource json:",inline" protobuf:"bytes,2"`) is flattened into its
 *   parent in JSON but stays one nested message in protobuf. Its JSON fields appear in the parent without
 *   `proto` numbers; `protoEmbeddingsOf(parent)` says which field number holds the nested message and which
 *   type to decode it with (the embedded types are in the table for that purpose, though no `ref` points at
 *   them and the published OpenAPI document does not list them).
 * - Protobuf has no map of repeated values, so a map whose values are arrays (UserInfo.extra,
 *   SubjectAccessReviewSpec.extra, Go `map[string]ExtraValue`) holds wrapper messages `{1: repeated items}`.
 */
import { protoEmbedded, schemaSources, schemaTable } from './kinds.generated.js';
import type { FieldDef, ScalarKind, SchemaType, TypeDef } from './types.js';

export { schemaSources, schemaTable };

const META_V1 = 'io.k8s.apimachinery.pkg.apis.meta.v1.';

let kindIndex: Map<string, TypeDef> | undefined;
/** meta/v1 kinds (Status, DeleteOptions, WatchEvent) by kind: every group version accepts them. */
let metaKindIndex: Map<string, TypeDef> | undefined;
const fieldMaps = new Map<string, ReadonlyMap<string, FieldDef>>();

function buildKindIndexes(): void {
  kindIndex = new Map();
  metaKindIndex = new Map();
  for (const def of Object.values(schemaTable)) {
    if (!def.gvk) continue;
    kindIndex.set(`${def.gvk.group}/${def.gvk.version}/${def.gvk.kind}`, def);
    if (def.name.startsWith(META_V1)) metaKindIndex.set(def.gvk.kind, def);
  }
}

/** The type with this OpenAPI definition name (e.g. `io.k8s.api.core.v1.Pod`), or undefined. */
export function typeOf(name: string): TypeDef | undefined {
  return Object.hasOwn(schemaTable, name) ? schemaTable[name] : undefined;
}

/**
 * The type served as group/version/kind (core group is ''), or undefined. Status, DeleteOptions and
 * WatchEvent are found under any group and version, as the apiserver registers them in every group
 * version (metav1.AddToGroupVersion).
 */
export function typeForKind(group: string, version: string, kind: string): TypeDef | undefined {
  if (!kindIndex) buildKindIndexes();
  return kindIndex!.get(`${group}/${version}/${kind}`) ?? metaKindIndex!.get(kind);
}

/** All types that carry a gvk (served kinds, their lists, and the meta/v1 kinds). */
export function kindTypes(): TypeDef[] {
  return Object.values(schemaTable).filter((def) => def.gvk !== undefined);
}

/** The fields of a type by JSON name (built once per type), or undefined for an unknown type. */
export function fieldsOf(typeName: string): ReadonlyMap<string, FieldDef> | undefined {
  let fields = fieldMaps.get(typeName);
  if (!fields) {
    const def = typeOf(typeName);
    if (!def) return undefined;
    fields = new Map(def.fields.map((f) => [f.json, f]));
    fieldMaps.set(typeName, fields);
  }
  return fields;
}

/** One field of a type by JSON name, or undefined when the type or the field is unknown. */
export function fieldOf(typeName: string, json: string): FieldDef | undefined {
  return fieldsOf(typeName)?.get(json);
}

/** The TypeDef a `ref` type points to; undefined for scalars, arrays and maps. */
export function resolve(type: SchemaType): TypeDef | undefined {
  return type.kind === 'ref' ? typeOf(type.name) : undefined;
}

/** The element type of an array or the value type of a map; undefined otherwise. */
export function elementType(type: SchemaType): SchemaType | undefined {
  if (type.kind === 'array') return type.items;
  if (type.kind === 'map') return type.values;
  return undefined;
}

/** The type after stepping through any arrays and maps (Container for `[]Container`). */
export function innermostType(type: SchemaType): SchemaType {
  for (let inner = elementType(type); inner; inner = elementType(type)) type = inner;
  return type;
}

/** The scalar kind of a scalar type, else undefined. */
export function scalarOf(type: SchemaType): ScalarKind | undefined {
  return type.kind === 'scalar' ? type.scalar : undefined;
}

/**
 * The field reached by a path of JSON names, stepping through arrays and maps the way
 * `kubectl explain pod.spec.containers.ports` does: `fieldAtPath('io.k8s.api.core.v1.Pod',
 * ['spec', 'containers', 'ports'])` is Container.ports. Undefined when any step is unknown or leads
 * into a scalar.
 */
export function fieldAtPath(typeName: string, path: readonly string[]): FieldDef | undefined {
  let field: FieldDef | undefined;
  let current: string | undefined = typeName;
  for (const step of path) {
    if (current === undefined) return undefined;
    field = fieldOf(current, step);
    if (!field) return undefined;
    const inner = innermostType(field.type);
    current = inner.kind === 'ref' ? inner.name : undefined;
  }
  return field;
}

/** Inline structs kept as nested protobuf messages in this type (see the module comment); [] if none. */
export function protoEmbeddingsOf(typeName: string): readonly { proto: number; type: string }[] {
  return Object.hasOwn(protoEmbedded, typeName) ? protoEmbedded[typeName] : [];
}
