/**
 * Strategic merge patch for the FakeClient, small: enough that a controller's patch does to a fake object what it
 * does on the server for the patches controllers send. Lists whose Go field is tagged `patchStrategy:"merge"` merge
 * by their `patchMergeKey` (containers by name, conditions by type, ...) or as sets of primitives; `$patch: delete`
 * on a list item removes the item; maps merge key by key, and `null` deletes a key. Fields the schema does not know
 * merge as JSON merge patch. Not understood (the server's engine in apiserver/patch has them; the client may not
 * import it): `$setElementOrder`, `$retainKeys`, `$deleteFromPrimitiveList`, `$patch: replace`. Those directive keys
 * are dropped.
 */
import { fieldOf, typeForKind } from '../../api/schema/schema.js';
import type { SchemaType } from '../../api/schema/types.js';

type Json = Record<string, unknown>;

/** Applies `patch` to `target` (neither is modified) for the kind group/version/kind; returns the result. */
export function strategicMergePatch(target: unknown, patch: unknown, group: string, version: string, kind: string): unknown {
  return mergeObject(target, patch, typeForKind(group, version, kind)?.name);
}

function mergeObject(target: unknown, patch: unknown, typeName: string | undefined): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Json = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) {
      delete out[key];
      continue;
    }
    const field = typeName ? fieldOf(typeName, key) : undefined;
    const type = field?.type;
    if (type?.kind === 'array' && Array.isArray(value) && field?.patchStrategy?.split(',').includes('merge')) {
      out[key] = mergeList(Array.isArray(out[key]) ? (out[key] as unknown[]) : [], value, field.patchMergeKey, refName(type.items));
    } else if (isObject(value)) {
      out[key] = mergeObject(out[key], value, type ? refName(type) : undefined);
    } else {
      out[key] = structuredClone(value);
    }
  }
  return out;
}

function mergeList(current: unknown[], patch: unknown[], mergeKey: string | undefined, itemType: string | undefined): unknown[] {
  const out = structuredClone(current);
  if (!mergeKey) {
    // A set of primitives: the union, in order of first appearance.
    for (const v of patch) if (!out.some((x) => x === v)) out.push(structuredClone(v));
    return out;
  }
  for (const item of patch) {
    if (!isObject(item)) continue;
    const at = out.findIndex((x) => isObject(x) && x[mergeKey] === item[mergeKey]);
    if (item.$patch === 'delete') {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) {
      out[at] = mergeObject(out[at], item, itemType);
    } else {
      out.push(mergeObject({}, item, itemType));
    }
  }
  return out;
}

/** The struct type a value of this type is; undefined for scalars, arrays and maps (which merge key by key). */
function refName(type: SchemaType): string | undefined {
  return type.kind === 'ref' ? type.name : undefined;
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
