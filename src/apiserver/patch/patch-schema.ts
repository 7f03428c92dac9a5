/**
 * What strategic merge patch needs to know about API types: for a struct type and one of its JSON
 * field names, the field's type and its `patchStrategy` / `patchMergeKey` struct tags.
 * The engine depends only on this interface, so tests can hand it a small fixture and the server
 * hands it the generated schema table (see schema-table-patch-schema.ts).
 */
import type { FieldDef, SchemaTable } from '../../api/schema/types.js';

export interface PatchSchema {
  /**
   * The field with JSON name `json` of the struct type `typeName` (an OpenAPI definition name such as
   * `io.k8s.api.core.v1.PodSpec`), or undefined when the type or the field is unknown.
   * Unknown fields are merged like plain JSON (maps merge, lists are replaced).
   */
  field(typeName: string, json: string): FieldDef | undefined;
}

/** A PatchSchema over a schema table (the shape of src/api/schema/kinds.generated.ts). */
export function patchSchemaFromTable(table: SchemaTable): PatchSchema {
  // Index lazily per type: the table has hundreds of types and a patch touches only a few.
  const indexes = new Map<string, Map<string, FieldDef>>();
  return {
    field(typeName, json) {
      let index = indexes.get(typeName);
      if (!index) {
        const def = Object.hasOwn(table, typeName) ? table[typeName] : undefined;
        if (!def) return undefined;
        index = new Map(def.fields.map((f) => [f.json, f]));
        indexes.set(typeName, index);
      }
      return index.get(json);
    },
  };
}
