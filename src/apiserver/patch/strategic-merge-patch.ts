/**
 * Strategic merge patch (`application/strategic-merge-patch+json`), applied the way kube-apiserver
 * applies it (k8s.io/apimachinery/pkg/util/strategicpatch, StrategicMergeMapPatch: parallel lists
 * merged, unmatched nulls ignored). Directives and ordering rules follow that package and
 * community/contributors/devel/sig-api-machinery/strategic-merge-patch.md; README.md here lists them.
 *
 * Where upstream fails with a Go type error or a panic, we answer 400 with the same wording where
 * there is one. Deliberate differences (all in corners kubectl never produces):
 * - a map or list *added* by the patch has its nested directives applied (upstream drops nested
 *   maps that carry `$patch`, and keeps nested `$setElementOrder` keys verbatim);
 * - fields the schema does not know merge like JSON merge patch (upstream errors with
 *   "unable to find api field" when both sides hold a map there);
 * - `$patch: delete` on a field whose type is a Go map removes the key (upstream leaves `{}`,
 *   which the typed round trip then omits: the same observable result).
 */
import type { FieldDef, SchemaType } from '../../api/schema/types.js';
import type { StatusError } from '../../api/status.js';
import { describe, patchMalformed, patchNotApplicable } from './patch-errors.js';
import { isObject, setKey, type JsonObject } from './json-value.js';
import type { PatchSchema } from './patch-schema.js';

const PATCH = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ELEMENT_ORDER = '$setElementOrder';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';

/** How one field merges: its type (undefined when unknown) and what its struct tags say. */
interface FieldMeta {
  type: SchemaType | undefined;
  /** `patchStrategy` contains `merge`: lists merge (by `mergeKey` for lists of maps, as sets for primitives). */
  mergeList: boolean;
  /** `patchStrategy` is `replace`: a map is replaced whole instead of merged. */
  replace: boolean;
  mergeKey: string | undefined;
}

/**
 * A merged list, and the original list as upstream's ordering step sees it afterwards
 * (see mergeList); `$setElementOrder` places server-only items by `serverView`.
 */
interface MergedList {
  list: unknown[];
  serverView: unknown[];
}

const UNKNOWN_FIELD: FieldMeta = { type: undefined, mergeList: false, replace: false, mergeKey: undefined };

/**
 * Applies `patch` to `original` and returns the result; neither argument is modified.
 * `typeName` names the schema type of the top-level object (e.g. `io.k8s.api.core.v1.Pod`).
 * Throws a StatusError: 400 for malformed directives, 422 for patches that cannot apply.
 */
export function strategicMergePatch(original: JsonObject, patch: JsonObject, schema: PatchSchema, typeName: string): JsonObject {
  const merger = new StrategicMerger(schema);
  return merger.mergeMap(structuredClone(original), structuredClone(patch), { kind: 'ref', name: typeName });
}

/** Works on private copies: every method may modify both `original` and `patch` arguments. */
class StrategicMerger {
  constructor(private readonly schema: PatchSchema) {}

  mergeMap(original: JsonObject, patch: JsonObject, type: SchemaType | undefined): JsonObject {
    if (Object.hasOwn(patch, PATCH)) {
      const directive = patch[PATCH];
      if (directive === 'replace') {
        delete patch[PATCH];
        return this.mergeMap({}, patch, type);
      }
      if (directive === 'delete') return {};
      throw patchMalformed(`unknown patch type: ${describe(directive)} in map: ${describe(patch)}`);
    }
    this.applyRetainKeys(original, patch);
    this.applySetElementOrder(original, patch, type);
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
        this.deleteFromPrimitiveList(original, directiveTarget(key, DELETE_FROM_PRIMITIVE_LIST), value);
      } else {
        this.mergeField(original, key, value, this.fieldMeta(type, key));
      }
    }
    return original;
  }

  private mergeField(original: JsonObject, key: string, value: unknown, meta: FieldMeta): void {
    if (value === null) {
      delete original[key];
      return;
    }
    const current = Object.hasOwn(original, key) ? original[key] : undefined;
    if (isObject(value)) {
      const deleting = value[PATCH] === 'delete';
      if (deleting && !isObject(current)) {
        // Nothing to delete: the patch must not create the map either.
        delete original[key];
        return;
      }
      const base = isObject(current) && !meta.replace ? current : {};
      const merged = this.mergeMap(base, value, meta.type);
      if (deleting && meta.type?.kind === 'map') delete original[key];
      else setKey(original, key, merged);
      return;
    }
    if (Array.isArray(value)) {
      setKey(original, key, Array.isArray(current) ? this.mergeListField(current, value, meta).list : this.cleanList(value, itemType(meta.type)));
      return;
    }
    setKey(original, key, value);
  }

  /** Both sides hold a list: merge it if the field's strategy says so, else the patch replaces it. */
  private mergeListField(current: unknown[], patch: unknown[], meta: FieldMeta): MergedList {
    if (meta.mergeList) return this.mergeList(current, patch, itemType(meta.type), meta.mergeKey);
    return { list: this.cleanList(patch, itemType(meta.type)), serverView: current };
  }

  /**
   * Merges a list with `merge` strategy. Primitives are unioned; maps are matched on the merge key,
   * after `$patch: delete` elements removed their matches and `$patch: replace` dropped the original.
   * Then the order rule: items named in the patch take the patch's order, server-only items keep theirs.
   */
  private mergeList(original: unknown[], patch: unknown[], items: SchemaType | undefined, mergeKey: string | undefined): MergedList {
    if (original.length === 0 && patch.length === 0) return { list: original, serverView: original };
    const kind = elementKind(original, patch);
    if (kind !== 'object') {
      const merged = uniqueScalars([...original, ...patch]);
      return { list: orderMerged(merged, patch, original, undefined), serverView: original };
    }
    if (!mergeKey) throw patchMalformed(`cannot merge lists without merge key for ${typeLabel(items)}`);
    // Upstream edits the original list in place (Go slices sharing one backing array), and the
    // $setElementOrder step later reads that array at its original length: deletions shift it left and
    // the first appended items fill the freed tail. `view` replays this so server-only items land
    // where upstream puts them.
    const view = original.slice();
    let additions: JsonObject[] = [];
    let replace = false;
    const deletions: unknown[] = [];
    for (const element of patch as JsonObject[]) {
      if (!Object.hasOwn(element, PATCH)) {
        additions.push(element);
        continue;
      }
      const directive = element[PATCH];
      if (directive === 'delete') {
        if (!Object.hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
        deletions.push(element[mergeKey]);
      } else if (directive === 'replace') {
        replace = true;
      } else if (directive === 'merge') {
        throw patchMalformed('merging lists cannot yet be specified in the patch');
      } else {
        throw patchMalformed(`unknown patch type: ${describe(directive)} in map: ${describe(element)}`);
      }
    }
    const length = deleteByKey(view, deletions, mergeKey);
    let serverList = view.slice(0, length);
    if (replace) {
      serverList = this.cleanList(additions, items);
      additions = [];
    }
    const merged = serverList.slice();
    // By merge key, the first item holding it: a patch of n items into a list of n stays linear (a 1 MB patch took 14 s).
    const position = new Map<unknown, number>();
    merged.forEach((item, i) => {
      if (isObject(item) && !position.has(item[mergeKey])) position.set(item[mergeKey], i);
    });
    for (const element of additions) {
      if (!Object.hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
      const at = position.get(element[mergeKey]);
      if (at !== undefined) {
        merged[at] = this.mergeMap(merged[at] as JsonObject, element, items);
      } else {
        const added = this.mergeMap({}, element, items);
        if (merged.length < view.length) view[merged.length] = added;
        position.set(added[mergeKey], merged.length);
        merged.push(added);
      }
    }
    return { list: orderMerged(merged, additions, serverList, mergeKey), serverView: view };
  }

  /** `$retainKeys: [...]` clears every original key not listed; the patch may only set listed keys. */
  private applyRetainKeys(original: JsonObject, patch: JsonObject): void {
    if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
    const keys = patch[RETAIN_KEYS];
    delete patch[RETAIN_KEYS];
    if (!Array.isArray(keys)) throw patchMalformed(`invalid patch format of retainKeys: ${RETAIN_KEYS} must be a list, got ${describe(keys)}`);
    const retained = new Set<unknown>(keys);
    for (const [key, value] of Object.entries(patch)) {
      if (value === null || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) || key.startsWith(SET_ELEMENT_ORDER)) continue;
      if (!retained.has(key)) {
        throw patchMalformed(`invalid patch format of retainKeys: the patch sets "${key}", which ${RETAIN_KEYS} ${describe(keys)} does not list`);
      }
    }
    for (const key of Object.keys(original)) {
      if (!retained.has(key)) delete original[key];
    }
  }

  /**
   * `$setElementOrder/<field>: [...]` merges `<field>` (if the patch has it) and then fixes the final
   * order: the listed items in the listed order, server-only items interleaved where they were.
   * Consumes both the directive and the list from the patch.
   */
  private applySetElementOrder(original: JsonObject, patch: JsonObject, type: SchemaType | undefined): void {
    for (const key of Object.keys(patch)) {
      if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
      const order = patch[key];
      delete patch[key];
      const field = directiveTarget(key, SET_ELEMENT_ORDER);
      if (!Array.isArray(order)) throw patchMalformed(`invalid patch format of setElementOrder list: ${key} must be a list, got ${describe(order)}`);
      const current = listOrAbsent(Object.hasOwn(original, field) ? original[field] : undefined, field, 'object');
      const patched = listOrAbsent(Object.hasOwn(patch, field) ? patch[field] : undefined, field, 'patch');
      delete patch[field];
      const meta = this.fieldMeta(type, field);
      if (patched) validatePatchOrder(patched, order, meta.mergeKey);

      let merged: unknown[];
      let serverView = current ?? [];
      if (current && patched) ({ list: merged, serverView } = this.mergeListField(current, patched, meta));
      else if (current) merged = current;
      else if (patched) merged = this.cleanList(patched, itemType(meta.type));
      else continue;

      const kind = elementKind(current ?? [], patched ?? []);
      if (kind === undefined) {
        setKey(original, field, merged);
        continue;
      }
      let mergeKey: string | undefined;
      if (kind === 'object') {
        if (!meta.mergeKey) throw patchMalformed(`invalid patch format of setElementOrder list: ${field} has no merge key`);
        mergeKey = meta.mergeKey;
        for (const item of order) {
          if (!isObject(item) || !Object.hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
        }
      }
      setKey(original, field, orderMerged(merged, order, serverView, mergeKey));
    }
  }

  /** `$deleteFromPrimitiveList/<field>: [...]` removes every occurrence of the values, whatever the field's strategy. */
  private deleteFromPrimitiveList(original: JsonObject, field: string, values: unknown): void {
    if (values === null) {
      delete original[field];
      return;
    }
    const current = Object.hasOwn(original, field) ? original[field] : undefined;
    // Upstream skips silently when either side is not a list.
    if (!Array.isArray(current) || !Array.isArray(values)) return;
    if (current.length === 0 && values.length === 0) return;
    if (elementKind(current, values) === 'object') {
      throw patchMalformed(`invalid patch format of primitive list: ${DELETE_FROM_PRIMITIVE_LIST}/${field} applies to lists of primitives only`);
    }
    const doomed = new Set(values);
    setKey(original, field, current.filter((item) => !doomed.has(item)));
  }

  /** A list that has nothing to merge into: drop directive elements, apply nested directives, drop nulls in maps. */
  private cleanList(list: unknown[], items: SchemaType | undefined): unknown[] {
    return list.filter((item) => !(isObject(item) && Object.hasOwn(item, PATCH))).map((item) => this.cleanValue(item, items));
  }

  private cleanValue(value: unknown, type: SchemaType | undefined): unknown {
    if (isObject(value)) return this.mergeMap({}, value, type);
    if (Array.isArray(value)) return this.cleanList(value, itemType(type));
    return value;
  }

  private fieldMeta(type: SchemaType | undefined, key: string): FieldMeta {
    if (type?.kind === 'map') return { ...UNKNOWN_FIELD, type: type.values };
    if (type?.kind !== 'ref') return UNKNOWN_FIELD;
    const field = this.schema.field(type.name, key);
    return field ? fieldMetaOf(field) : UNKNOWN_FIELD;
  }
}

function fieldMetaOf(field: FieldDef): FieldMeta {
  // `patchStrategy` is `merge`, `replace`, `retainKeys` or `merge,retainKeys`. retainKeys only tells
  // clients to send `$retainKeys`; the server honours the directive wherever it appears.
  const strategies = (field.patchStrategy ?? '').split(',').map((s) => s.trim());
  return {
    type: field.type,
    mergeList: strategies.includes('merge'),
    replace: strategies.includes('replace'),
    mergeKey: field.patchMergeKey || undefined,
  };
}

/**
 * Removes, in order, every map item whose merge key equals one of `keys` from `view` in place and returns the
 * new length, leaving the tail as upstream's in-place edit of a Go slice leaves it: each removal shifts the rest
 * left and leaves the slot it frees holding the list's last item at that moment. Linear in items plus keys.
 */
export function deleteByKey(view: unknown[], keys: unknown[], mergeKey: string): number {
  if (keys.length === 0) return view.length;
  const keyOf = (item: unknown): unknown => (isObject(item) ? item[mergeKey] : NO_KEY);
  const remaining = new Map<unknown, number>();
  for (const item of view) {
    const k = keyOf(item);
    if (k !== NO_KEY) remaining.set(k, (remaining.get(k) ?? 0) + 1);
  }
  const live = view.slice();
  const deleted = new Set<unknown>();
  let length = view.length;
  let last = length - 1;
  for (const key of keys) {
    const count = remaining.get(key) ?? 0;
    if (count === 0) continue;
    remaining.set(key, 0);
    // The list's last item is what every slot freed by this key's removals keeps.
    const tail = live[last];
    for (let i = 0; i < count; i++) view[length - 1 - i] = tail;
    length -= count;
    deleted.add(key);
    while (last >= 0 && deleted.has(keyOf(live[last]))) last--;
  }
  let w = 0;
  for (const item of live) if (!deleted.has(keyOf(item))) view[w++] = item;
  return length;
}

const NO_KEY = Symbol('no merge key');

/**
 * Puts a merged list in order./**
 * Puts a merged list in order. `patchOrder` holds the items the patch names (a patch list or a
 * `$setElementOrder` list), `serverOrder` the list as it was. Items named by the patch are sorted by
 * `patchOrder`, the others by `serverOrder`; then the two runs are interleaved, taking a server-only
 * item first only when both it and the next patch item exist in `serverOrder` and it came earlier
 * there. So an item new to the list lands before the server-only items that follow it.
 * `mergeKey` identifies map items; primitives identify themselves.
 */
function orderMerged(merged: unknown[], patchOrder: unknown[], serverOrder: unknown[], mergeKey: string | undefined): unknown[] {
  const identity = (item: unknown): unknown => (mergeKey === undefined ? item : isObject(item) ? item[mergeKey] : undefined);
  const named = new Set(patchOrder.map(identity));
  const patchItems: unknown[] = [];
  const serverOnly: unknown[] = [];
  for (const item of merged) (named.has(identity(item)) ? patchItems : serverOnly).push(item);

  const serverIndex = firstIndexes(serverOrder, identity);
  const left = sortByIndex(serverOnly, serverIndex, identity);
  const right = sortByIndex(patchItems, firstIndexes(patchOrder, identity), identity);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (j >= right.length) {
      out.push(left[i++]);
    } else if (i >= left.length) {
      out.push(right[j++]);
    } else {
      const li = serverIndex.get(identity(left[i]));
      const ri = serverIndex.get(identity(right[j]));
      if (li !== undefined && ri !== undefined && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

function firstIndexes(list: unknown[], identity: (item: unknown) => unknown): Map<unknown, number> {
  const index = new Map<unknown, number>();
  list.forEach((item, i) => {
    const id = identity(item);
    if (!index.has(id)) index.set(id, i);
  });
  return index;
}

/** Stable sort by position in an order list; items the order does not mention keep their relative order, last. */
function sortByIndex(items: unknown[], index: Map<unknown, number>, identity: (item: unknown) => unknown): unknown[] {
  const at = (item: unknown): number => index.get(identity(item)) ?? Number.MAX_SAFE_INTEGER;
  return items
    .map((item, position) => ({ item, position, rank: at(item) }))
    .sort((a, b) => a.rank - b.rank || a.position - b.position)
    .map((entry) => entry.item);
}

/** Order-preserving set of primitives (first occurrence wins). */
function uniqueScalars(list: unknown[]): unknown[] {
  return [...new Set(list)];
}

/**
 * Checks that the patch list names its items in the same relative order as `$setElementOrder` and
 * names nothing the order list lacks (deletions and directive elements aside), as upstream does.
 */
function validatePatchOrder(patchList: unknown[], order: unknown[], mergeKey: string | undefined): void {
  if (order.length === 0 || patchList.length === 0) return;
  const candidates = patchList.filter((item) => !(isObject(item) && Object.hasOwn(item, PATCH)));
  let p = 0;
  for (let o = 0; p < candidates.length && o < order.length; o++) {
    if (sameItem(candidates[p], order[o], mergeKey)) p++;
  }
  if (p < candidates.length) {
    throw patchMalformed(`The order in patch list:\n${describe(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${describe(order)}\n`);
  }
}

function sameItem(patchItem: unknown, orderItem: unknown, mergeKey: string | undefined): boolean {
  if (mergeKey === undefined) return patchItem === orderItem;
  if (!isObject(patchItem) || !Object.hasOwn(patchItem, mergeKey)) throw noMergeKey(patchItem, mergeKey);
  if (!isObject(orderItem) || !Object.hasOwn(orderItem, mergeKey)) throw noMergeKey(orderItem, mergeKey);
  return patchItem[mergeKey] === orderItem[mergeKey];
}

/** `$setElementOrder/containers` -> `containers`; the slash is required. */
function directiveTarget(key: string, prefix: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    const what = prefix === SET_ELEMENT_ORDER ? 'setElementOrder list' : 'primitive list';
    throw patchMalformed(`invalid patch format of ${what}: ${describe(key)} is not of the form "${prefix}/<field>"`);
  }
  return key.slice(slash + 1);
}

function listOrAbsent(value: unknown, field: string, side: 'object' | 'patch'): unknown[] | undefined {
  if (value === undefined) return undefined;
  if (side === 'object' && value === null) return undefined;
  if (!Array.isArray(value)) {
    throw patchMalformed(`invalid patch format of setElementOrder list: ${field} in the ${side} must be a list, got ${describe(value)}`);
  }
  return value;
}

/**
 * Whether a list (taken together with its patch) holds maps or primitives. Lists of lists are
 * refused with 422 and mixed lists with 400, as upstream. Undefined when there are no elements.
 */
function elementKind(...lists: unknown[][]): 'object' | 'scalar' | undefined {
  let seen: string | undefined;
  for (const list of lists) {
    for (const item of list) {
      if (Array.isArray(item)) throw patchNotApplicable('lists of lists are not supported');
      const kind = isObject(item) ? 'object' : item === null ? 'null' : typeof item;
      if (seen === undefined) seen = kind;
      else if (seen !== kind) throw patchMalformed(`list element types are not identical: ${describe(lists)}`);
    }
  }
  if (seen === undefined) return undefined;
  return seen === 'object' ? 'object' : 'scalar';
}

function noMergeKey(item: unknown, mergeKey: string): StatusError {
  return patchMalformed(`map: ${describe(item)} does not contain declared merge key: ${mergeKey}`);
}

function itemType(type: SchemaType | undefined): SchemaType | undefined {
  return type?.kind === 'array' ? type.items : undefined;
}

function typeLabel(type: SchemaType | undefined): string {
  return type?.kind === 'ref' ? type.name : 'a list of maps';
}
