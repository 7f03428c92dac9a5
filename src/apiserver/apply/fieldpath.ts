/**
 * Field sets: which fields of an object a manager owns, in the FieldsV1 form kube-apiserver stores in
 * `metadata.managedFields[].fieldsV1` (sigs.k8s.io/structured-merge-diff fieldpath):
 *
 *   {"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{}}}}}
 *
 * A path is a list of elements: `f:<name>` for a struct field or map key, `k:<json>` for an item of an
 * associative list (its key fields as a JSON object, fields sorted by name), `v:<json>` for an item of a
 * set list, `i:<n>` for an item of a list that has no key (only in sets read from clients). A set holds
 * paths; in the JSON form a node that is itself a member and also has members below it carries `".":{}`.
 *
 * How values map to paths comes from the schema table (src/api/schema): `listType`/`listMapKeys`
 * (`+listType=map`), patchMergeKey lists without a listType, set lists, and `mapType: atomic` fields, which are
 * one leaf. Custom resources bring their own type, built from the CRD's structural schema (../crd/apply-schema.ts:
 * `object` nodes, lists by `x-kubernetes-list-type`). Kinds without any schema are "deduced" as upstream does:
 * objects are granular maps, lists are atomic.
 */
import { fieldOf, typeOf } from '../../api/schema/schema.js';
import type { FieldDef, SchemaType } from '../../api/schema/types.js';
import { MAX_NESTING_DEPTH } from '../limits/nesting.js';

export type PathElement = string;
export type Path = readonly PathElement[];

/** Separates the elements of a path in the string keys of FieldSet (a character no field name can hold). */
const SEP = '\u0000';

function keyOf(path: Path): string {
  return path.join(SEP);
}

/** An immutable-by-convention set of paths with the set algebra managed fields need. */
export class FieldSet {
  private readonly paths = new Map<string, Path>();

  constructor(paths: Iterable<Path> = []) {
    for (const p of paths) this.insert(p);
  }

  insert(path: Path): void {
    this.paths.set(keyOf(path), path);
  }

  delete(path: Path): void {
    this.paths.delete(keyOf(path));
  }

  has(path: Path): boolean {
    return this.paths.has(keyOf(path));
  }

  get size(): number {
    return this.paths.size;
  }

  get empty(): boolean {
    return this.paths.size === 0;
  }

  [Symbol.iterator](): IterableIterator<Path> {
    return this.paths.values();
  }

  union(other: FieldSet): FieldSet {
    const out = new FieldSet(this);
    for (const p of other) out.insert(p);
    return out;
  }

  intersect(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const [k, p] of this.paths) if (other.paths.has(k)) out.insert(p);
    return out;
  }

  difference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const [k, p] of this.paths) if (!other.paths.has(k)) out.insert(p);
    return out;
  }

  /** The set without every path equal to or below one of `prefixes` (RecursiveDifference upstream). */
  withoutPrefixes(prefixes: readonly Path[]): FieldSet {
    const keys = prefixes.map(keyOf);
    const out = new FieldSet();
    for (const [k, p] of this.paths) {
      if (!keys.some((pre) => k === pre || k.startsWith(pre + SEP))) out.insert(p);
    }
    return out;
  }

  /** True when `path` or any path below it is in the set. */
  hasAtOrBelow(path: Path): boolean {
    const k = keyOf(path);
    if (this.paths.has(k)) return true;
    const pre = k + SEP;
    for (const other of this.paths.keys()) if (other.startsWith(pre)) return true;
    return false;
  }

  equals(other: FieldSet): boolean {
    if (this.size !== other.size) return false;
    for (const k of this.paths.keys()) if (!other.paths.has(k)) return false;
    return true;
  }

  /** The FieldsV1 JSON form (elements sorted like upstream: `.` first, then f:, k:, v:, i:). */
  toFieldsV1(): Record<string, unknown> {
    interface Node {
      member: boolean;
      children: Map<string, Node>;
    }
    const root: Node = { member: false, children: new Map() };
    for (const path of this.paths.values()) {
      let node = root;
      for (const el of path) {
        let next = node.children.get(el);
        if (!next) {
          next = { member: false, children: new Map() };
          node.children.set(el, next);
        }
        node = next;
      }
      node.member = true;
    }
    const render = (node: Node): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      if (node.member && node.children.size > 0) out['.'] = {};
      for (const el of [...node.children.keys()].sort(compareElements)) {
        Object.defineProperty(out, el, { value: render(node.children.get(el)!), enumerable: true, writable: true, configurable: true });
      }
      return out;
    };
    return render(root);
  }

  /**
   * Reads the FieldsV1 JSON form; throws an Error naming the bad part when it is not that form, or when it
   * nests deeper than `maxDepth` path elements (no object can have fields that deep: request bodies are
   * held to MAX_NESTING_DEPTH, and a field path is never deeper than the object it describes).
   */
  static fromFieldsV1(json: unknown, maxDepth = MAX_FIELD_PATH_DEPTH): FieldSet {
    const set = new FieldSet();
    const visit = (node: unknown, path: PathElement[]): void => {
      if (path.length > maxDepth) throw new Error(`fieldsV1 nests deeper than ${maxDepth} levels (at ${pathToString(path.slice(0, 3))}...)`);
      if (!isPlainObject(node)) throw new Error(`fieldsV1 at ${pathToString(path) || '<root>'} must be an object, got ${describeShort(node)}`);
      const keys = Object.keys(node);
      if (keys.length === 0 && path.length > 0) {
        set.insert([...path]);
        return;
      }
      for (const k of keys) {
        if (k === '.') {
          if (path.length > 0) set.insert([...path]);
          continue;
        }
        if (!/^[fkvi]:/.test(k)) throw new Error(`fieldsV1 at ${pathToString(path) || '<root>'}: unknown path element ${JSON.stringify(k)}`);
        visit(node[k], [...path, k]);
      }
    };
    visit(json, []);
    return set;
  }
}

/** The deepest field path a FieldsV1 may hold: the nesting limit of request bodies. */
export const MAX_FIELD_PATH_DEPTH = MAX_NESTING_DEPTH;

function describeShort(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 100)}...` : text;
}

const ELEMENT_ORDER: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

function compareElements(a: string, b: string): number {
  const d = (ELEMENT_ORDER[a[0]] ?? 4) - (ELEMENT_ORDER[b[0]] ?? 4);
  if (d !== 0) return d;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A path as upstream prints it in conflict messages (fieldpath.Path.String): `.spec.replicas`,
 * `.spec.template.spec.containers[name="nginx"].image`, `.metadata.finalizers[="x"]`, `.items[0]`.
 */
export function pathToString(path: Path): string {
  let out = '';
  for (const el of path) {
    const body = el.slice(2);
    switch (el[0]) {
      case 'f':
        out += `.${body}`;
        break;
      case 'k': {
        const key = JSON.parse(body) as Record<string, unknown>;
        out += `[${Object.keys(key).map((k) => `${k}=${JSON.stringify(key[k])}`).join(',')}]`;
        break;
      }
      case 'v':
        out += `[=${body}]`;
        break;
      default:
        out += `[${body}]`;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Schema-directed walking

/** How one value is merged and tracked, resolved from the schema table. */
export type NodeType =
  | { kind: 'struct'; typeName: string; atomic: boolean }
  | { kind: 'map'; atomic: boolean; values: NodeType }
  /**
   * An object of a CustomResourceDefinition's schema (structured-merge-diff's map atom, as kube-openapi's schemaconv
   * builds it): keys named in `fields` are struct fields, owned through what they hold; any other key is a map entry
   * of type `values`, owned itself. `atomic` (x-kubernetes-map-type: atomic): the whole object is one leaf.
   */
  | { kind: 'object'; atomic: boolean; fields: ReadonlyMap<string, NodeType>; values: NodeType }
  | {
      kind: 'list';
      listType: 'atomic' | 'set' | 'map';
      keys: readonly string[];
      items: NodeType;
      /**
       * Set for lists of a CRD schema: the defaults the item schema declares for key fields. Such lists are keyed
       * strictly, as structured-merge-diff keys them: an item of an applied configuration must have every key
       * field (or its default), and no two items the same key (checkAppliedLists).
       */
      keyDefaults?: Readonly<Record<string, unknown>>;
    }
  | { kind: 'scalar' }
  /** No schema: objects are granular maps of deduced values, lists are atomic (upstream's DeducedParseableType). */
  | { kind: 'deduced' };

export const SCALAR: NodeType = { kind: 'scalar' };
export const DEDUCED: NodeType = { kind: 'deduced' };
const nodeTypeCache = new WeakMap<object, NodeType>();

/** The node type of a top-level object of this schema type; deduced when undefined or unknown. */
export function rootNodeType(typeName: string | undefined): NodeType {
  if (!typeName || !typeOf(typeName)) return DEDUCED;
  return { kind: 'struct', typeName, atomic: false };
}

function typeFor(type: SchemaType, field: FieldDef | undefined): NodeType {
  switch (type.kind) {
    case 'scalar':
      return type.scalar === 'any' || type.scalar === 'rawExtension' ? DEDUCED : SCALAR;
    case 'ref': {
      const def = typeOf(type.name);
      if (!def) return DEDUCED;
      if (def.fields.length === 0) return SCALAR;
      return { kind: 'struct', typeName: type.name, atomic: field?.mapType === 'atomic' };
    }
    case 'map':
      return { kind: 'map', atomic: field?.mapType === 'atomic', values: typeFor(type.values, undefined) };
    case 'array': {
      const items = typeFor(type.items, undefined);
      let listType = field?.listType;
      let keys: readonly string[] = field?.listMapKeys ?? [];
      if (!listType) {
        // Lists without a +listType marker: merge-strategy lists act as upstream's SMP metadata says
        // (by patchMergeKey, or as a set of scalars); every other list is atomic, the SSA default.
        const merge = field?.patchStrategy?.split(',').includes('merge') ?? false;
        if (merge && field?.patchMergeKey && items.kind === 'struct') {
          listType = 'map';
          keys = [field.patchMergeKey];
        } else if (merge && items.kind === 'scalar') listType = 'set';
        else listType = 'atomic';
      }
      if (listType === 'map' && keys.length === 0) listType = 'atomic';
      return { kind: 'list', listType, keys, items };
    }
  }
}

/** The node type of field `name` in a struct, object or map node; deduced for fields the schema does not know. */
export function childType(parent: NodeType, name: string): NodeType {
  if (parent.kind === 'map') return parent.values;
  if (parent.kind === 'object') return parent.fields.get(name) ?? parent.values;
  if (parent.kind !== 'struct') return DEDUCED;
  const field = fieldOf(parent.typeName, name);
  if (!field) return DEDUCED;
  let cached = nodeTypeCache.get(field);
  if (!cached) {
    cached = typeFor(field.type, field);
    nodeTypeCache.set(field, cached);
  }
  return cached;
}

/**
 * Key-field defaults the OpenAPI schema declares, which structured-merge-diff uses when an item omits a
 * key field: `protocol` defaults to "TCP" in ContainerPort, ServicePort and EndpointPort
 * (k8s.io/api core/v1 `+default="TCP"`), so `k:{"containerPort":80,"protocol":"TCP"}` names an item sent
 * without a protocol.
 */
const KEY_DEFAULTS: Record<string, unknown> = { protocol: 'TCP' };

/** True for the children of `parent` that are struct fields rather than map entries. */
export function isFieldOf(parent: NodeType, name: string): boolean {
  return parent.kind === 'struct' || (parent.kind === 'object' && parent.fields.has(name));
}

/** True for node types whose object values are merged and owned key by key. */
export function isGranularObject(t: NodeType): boolean {
  return t.kind === 'deduced' || ((t.kind === 'struct' || t.kind === 'map' || t.kind === 'object') && !t.atomic);
}

/** The path element of a list item; `i:<index>` when it cannot be keyed (no key field present). */
export function itemElement(list: Extract<NodeType, { kind: 'list' }>, item: unknown, index: number): PathElement {
  if (list.listType === 'set') return `v:${JSON.stringify(item)}`;
  if (list.listType === 'map' && isPlainObject(item)) {
    const key: Record<string, unknown> = {};
    let found = false;
    const defaults = list.keyDefaults ?? KEY_DEFAULTS;
    for (const k of list.keys.length > 1 ? [...list.keys].sort() : list.keys) {
      let v = item[k];
      if (v === undefined || v === null) v = defaults[k];
      else found = true;
      if (v !== undefined) key[k] = v;
    }
    if (found) return `k:${JSON.stringify(key)}`;
  }
  return `i:${index}`;
}

/** What a node is, which decides whether it is a member of the object's field set. */
export type NodeRole =
  /** A scalar, an atomic list/map/struct, null, or a deduced list: owned as a whole. */
  | 'leaf'
  /** An item of a set or associative list. */
  | 'item'
  /** A key of a granular map (labels, data, a deduced object). */
  | 'entry'
  /** A struct field holding an object: owned through its fields. */
  | 'struct'
  /** A struct field holding a granular map or non-atomic list: owned through its entries or items. */
  | 'container';

export interface WalkedNode {
  path: Path;
  value: unknown;
  role: NodeRole;
}

/** Every node of a value below the root, keyed by path (see FieldSet keys), in document order. */
export function walkNodes(value: unknown, type: NodeType): Map<string, WalkedNode> {
  const out = new Map<string, WalkedNode>();
  const visit = (v: unknown, t: NodeType, path: PathElement[], key: string): void => {
    if (isPlainObject(v) && isGranularObject(t)) {
      for (const name of Object.keys(v)) {
        const el = `f:${name}`;
        const childPath = [...path, el];
        const childKey = key === '' ? el : key + SEP + el;
        const ct = childType(t, name);
        const child = v[name];
        out.set(childKey, { path: childPath, value: child, role: roleOf(child, ct, isFieldOf(t, name)) });
        visit(child, ct, childPath, childKey);
      }
      return;
    }
    if (Array.isArray(v) && t.kind === 'list' && t.listType !== 'atomic') {
      v.forEach((item, i) => {
        const el = itemElement(t, item, i);
        const childPath = [...path, el];
        const childKey = key + SEP + el;
        out.set(childKey, { path: childPath, value: item, role: 'item' });
        if (t.listType === 'map') visit(item, t.items, childPath, childKey);
      });
    }
  };
  visit(value, type, [], '');
  return out;
}

function roleOf(value: unknown, type: NodeType, isStructField: boolean): NodeRole {
  if (!isStructField) return 'entry';
  if (value === null || value === undefined) return 'leaf';
  if (type.kind === 'struct') return type.atomic || !isPlainObject(value) ? 'leaf' : 'struct';
  // A CRD object is a map to structured-merge-diff: one that appears as a whole counts itself in an Update
  // manager's fields (`f:spec: {".": {}, ...}`, as kube-apiserver records custom objects).
  if (type.kind === 'map' || type.kind === 'object') return type.atomic || !isPlainObject(value) ? 'leaf' : 'container';
  if (type.kind === 'list') return type.listType === 'atomic' || !Array.isArray(value) ? 'leaf' : 'container';
  if (type.kind === 'deduced') return isPlainObject(value) ? 'container' : 'leaf';
  return 'leaf';
}

/**
 * Whether a node is a member of the field set of an object (structured-merge-diff ToFieldSet): leaves,
 * list items and map entries are; a struct field is only when it holds null or an empty object; a field
 * holding a non-empty granular map or list is represented by its entries alone.
 */
export function isMember(node: WalkedNode): boolean {
  if (node.role === 'leaf' || node.role === 'item' || node.role === 'entry') return true;
  return isPlainObject(node.value) && Object.keys(node.value).length === 0;
}

/** The field set of an object: what a manager applying it owns. `type` (a custom resource's) wins over `typeName`. */
export function fieldSetOf(value: unknown, typeName: string | undefined, type?: NodeType): FieldSet {
  return fieldSetOfNodes(walkNodes(value, type ?? rootNodeType(typeName)));
}

export function fieldSetOfNodes(nodes: Map<string, WalkedNode>): FieldSet {
  const set = new FieldSet();
  for (const node of nodes.values()) if (isMember(node)) set.insert(node.path);
  return set;
}

export interface Comparison {
  added: FieldSet;
  removed: FieldSet;
  modified: FieldSet;
}

/**
 * What changed from `before` to `after` (typed.Compare upstream): paths only in `after` are added, only
 * in `before` removed, leaves in both with different values modified. Besides field-set members, a
 * granular map or list that appears or disappears as a whole counts itself (`".":{}` in an Update
 * manager's fields, as kube-apiserver records `f:labels: {".":{}, "f:app":{}}`).
 */
export function compareNodes(before: Map<string, WalkedNode>, after: Map<string, WalkedNode>): Comparison {
  const added = new FieldSet();
  const removed = new FieldSet();
  const modified = new FieldSet();
  const counts = (n: WalkedNode) => isMember(n) || n.role === 'container';
  for (const [k, node] of after) {
    const old = before.get(k);
    if (!old) {
      if (counts(node)) added.insert(node.path);
    } else if (node.role === 'leaf' || old.role === 'leaf' || node.role !== old.role) {
      if (!deepEqual(old.value, node.value)) modified.insert(node.path);
    } else if (node.role === 'item' || node.role === 'entry') {
      // A scalar entry (labels[app]) or set item that changed value is modified itself.
      if (!isPlainObject(node.value) && !deepEqual(old.value, node.value)) modified.insert(node.path);
    }
  }
  for (const [k, node] of before) if (!after.has(k) && counts(node)) removed.insert(node.path);
  return { added, removed, modified };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Structural equality of JSON values (key order does not matter). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a);
  const bo = b as Record<string, unknown>;
  if (ak.length !== Object.keys(bo).length) return false;
  for (const k of ak) if (!Object.hasOwn(bo, k) || !deepEqual((a as Record<string, unknown>)[k], bo[k])) return false;
  return true;
}

/**
 * The FieldsV1 form of everything in a new object, as `compareNodes(empty, walkNodes(value))` counts it added:
 * the same result built in one pass without path sets, because every create records it and creates are the
 * API server's hottest write.
 */
export function addedFieldsV1(value: unknown, type: NodeType): Record<string, unknown> {
  return renderAdded(value, type, false) ?? {};
}

function renderAdded(v: unknown, t: NodeType, dot: boolean): Record<string, unknown> | undefined {
  if (isPlainObject(v) && isGranularObject(t)) {
    // Field elements sort among themselves by name, so sorting the names is sorting the elements.
    const names = Object.keys(v);
    if (names.length === 0) return undefined;
    if (names.length > 1) names.sort();
    const out: Record<string, unknown> = dot ? { '.': {} } : {};
    let rendered = false;
    for (const name of names) {
      const ct = childType(t, name);
      const child = v[name];
      const role = roleOf(child, ct, isFieldOf(t, name));
      const member = role === 'leaf' || role === 'entry' || role === 'container' || (isPlainObject(child) && isEmpty(child));
      const sub = renderAdded(child, ct, member);
      if (sub) out[`f:${name}`] = sub;
      else if (member) out[`f:${name}`] = {};
      else continue;
      rendered = true;
    }
    return rendered ? out : undefined;
  }
  if (Array.isArray(v) && t.kind === 'list' && t.listType !== 'atomic') {
    if (v.length === 0) return undefined;
    const entries: [string, unknown][] = [];
    v.forEach((item, i) => {
      const sub = t.listType === 'map' ? renderAdded(item, t.items, true) : undefined;
      entries.push([itemElement(t, item, i), sub ?? {}]);
    });
    entries.sort((a, b) => compareElements(a[0], b[0]));
    const out: Record<string, unknown> = dot ? { '.': {} } : {};
    for (const [k, val] of entries) out[k] = val;
    return out;
  }
  return undefined;
}

function isEmpty(o: Record<string, unknown>): boolean {
  for (const _ in o) return false;
  return true;
}
