/**
 * Server-side apply and managed-fields bookkeeping, after k8s.io/apimachinery/pkg/util/managedfields and
 * sigs.k8s.io/structured-merge-diff (merge.Updater): an Apply merges the applier's configuration into the live
 * object by the schema, takes ownership of exactly the fields the configuration names, removes fields the
 * applier owned before and no longer names (unless someone else owns them), and fails with conflicts when it
 * would change a field another manager owns, unless forced (then ownership moves to the applier). Every other
 * write is an Update: its manager gains the fields it added or changed, and other managers lose those.
 *
 * Pure functions over plain objects: no I/O, no clock (the caller passes `now`).
 */
import type { KubeObject } from '../../api/object.js';
import { StatusError, badRequest } from '../../api/status.js';
import { rfc3339 } from '../../api/time.js';
import {
  FieldSet,
  addedFieldsV1,
  childType,
  compareNodes,
  deepEqual,
  fieldSetOfNodes,
  isGranularObject,
  isPlainObject,
  itemElement,
  pathToString,
  rootNodeType,
  walkNodes,
  type Comparison,
  type NodeType,
  type Path,
  type WalkedNode,
} from './fieldpath.js';

/** One `metadata.managedFields` item, as meta/v1 ManagedFieldsEntry. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time?: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

/** A field another manager owns that an apply would change. */
export interface FieldConflict {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  path: Path;
}

export interface ApplyRequest {
  /** The stored object as the request's version shows it; undefined when the apply creates it. */
  live: KubeObject | undefined;
  /** The applier's configuration (the PATCH body), already decoded. */
  applied: KubeObject;
  /** The field manager (`fieldManager` query parameter). */
  manager: string;
  /** `force=true`: take fields other managers own instead of failing. */
  force: boolean;
  /** Schema type of the kind (e.g. `io.k8s.api.apps.v1.Deployment`); undefined/'' for kinds without a schema. */
  typeName: string | undefined;
  /**
   * The kind's type when it is not in the schema table: a custom resource's, built from the applied version's
   * schema (../crd/apply-schema.ts). Wins over `typeName`.
   */
  type?: NodeType;
  /**
   * The type of another served version of the kind (`group/version`), or undefined when unknown. Managers that
   * wrote through another version are compared by that version's schema, as upstream compares each manager in its
   * own version: one owning a list that is atomic there conflicts with a change to any of its items. Only for
   * versions whose objects are the same but for apiVersion (a CRD's None conversion).
   */
  typeOfVersion?(apiVersion: string): NodeType | undefined;
  now: Date;
  /** '' for the main resource, 'status' for the status subresource. */
  subresource?: string;
  /** True when status is a subresource of this kind, so main-resource writes never own status fields. */
  statusIsSubresource?: boolean;
}

export type ApplyResult = { object: KubeObject; conflicts?: undefined } | { object?: undefined; conflicts: FieldConflict[] };

interface Manager {
  entry: Omit<ManagedFieldsEntry, 'fieldsV1'>;
  set: FieldSet;
}

/**
 * Fields no manager ever owns (upstream stripmeta.go): the object's identity and what the server sets.
 */
const STRIPPED: Path[] = [
  ['f:apiVersion'],
  ['f:kind'],
  ['f:metadata', 'f:name'],
  ['f:metadata', 'f:namespace'],
  ['f:metadata', 'f:creationTimestamp'],
  ['f:metadata', 'f:selfLink'],
  ['f:metadata', 'f:uid'],
  ['f:metadata', 'f:clusterName'],
  ['f:metadata', 'f:generation'],
  ['f:metadata', 'f:managedFields'],
  ['f:metadata', 'f:resourceVersion'],
];
const STRIPPED_WITH_STATUS: Path[] = [...STRIPPED, ['f:status']];

/** The top-level and metadata fields STRIPPED names (without their `f:` prefix), for ownableView. */
const STRIPPED_TOP = new Set(STRIPPED.filter((p) => p.length === 1).map((p) => p[0].slice(2)));
const STRIPPED_META = new Set(STRIPPED.filter((p) => p.length === 2).map((p) => p[1].slice(2)));

/**
 * The part of a new object a writer can own (what ownable() keeps of its field set), as a shallow view: rendering
 * only these fields is cheaper than rendering all and deleting the stripped ones. An emptied metadata is left out.
 */
function ownableView(obj: KubeObject, statusSub: boolean): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  const src = obj as unknown as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    if (STRIPPED_TOP.has(k) || (statusSub && k === 'status')) continue;
    if (k !== 'metadata' || !isPlainObject(src.metadata)) {
      view[k] = src[k];
      continue;
    }
    let metadata: Record<string, unknown> | undefined;
    for (const m of Object.keys(src.metadata)) {
      if (STRIPPED_META.has(m)) continue;
      (metadata ??= {})[m] = src.metadata[m];
    }
    if (metadata) view.metadata = metadata;
  }
  return view;
}

/** The fields a write through this subresource can own (upstream ResetFieldsStrategy, simplified). */
function ownable(set: FieldSet, subresource: string, statusIsSubresource: boolean): FieldSet {
  if (subresource === 'status') {
    const out = new FieldSet();
    for (const p of set) if (p[0] === 'f:status') out.insert(p);
    return out;
  }
  const stripped = set.withoutPrefixes(statusIsSubresource ? STRIPPED_WITH_STATUS : STRIPPED);
  // `f:metadata` itself (an empty metadata object) is stripped too, but not what is below it.
  stripped.delete(['f:metadata']);
  return stripped;
}

function filterComparison(c: Comparison, subresource: string, statusIsSubresource: boolean): Comparison {
  return {
    added: ownable(c.added, subresource, statusIsSubresource),
    removed: ownable(c.removed, subresource, statusIsSubresource),
    modified: ownable(c.modified, subresource, statusIsSubresource),
  };
}

function managerId(e: { manager: string; operation: string; apiVersion: string; subresource?: string }): string {
  // Apply managers are one manager across versions; Update managers are per version (upstream's
  // encodeManagerIdentifier leaves apiVersion out for Apply).
  return JSON.stringify([e.manager, e.operation, e.operation === 'Update' ? e.apiVersion : '', e.subresource ?? '']);
}

/** Decodes `metadata.managedFields`; throws an Error naming the bad entry when it is malformed. */
export function decodeManagedFields(raw: unknown): Map<string, Manager> {
  const out = new Map<string, Manager>();
  if (raw === undefined || raw === null) return out;
  if (!Array.isArray(raw)) throw new Error(`managedFields must be a list, got ${JSON.stringify(raw)}`);
  raw.forEach((item, i) => {
    if (!isPlainObject(item)) throw new Error(`managedFields[${i}] must be an object`);
    const { manager, operation, apiVersion, time, fieldsType, fieldsV1, subresource } = item as Record<string, unknown>;
    if (operation !== 'Apply' && operation !== 'Update') throw new Error(`managedFields[${i}].operation must be Apply or Update, got ${JSON.stringify(operation)}`);
    if (fieldsType !== undefined && fieldsType !== 'FieldsV1') throw new Error(`managedFields[${i}].fieldsType must be FieldsV1, got ${JSON.stringify(fieldsType)}`);
    const entry: Manager['entry'] = {
      manager: typeof manager === 'string' ? manager : '',
      operation,
      apiVersion: typeof apiVersion === 'string' ? apiVersion : '',
      fieldsType: 'FieldsV1',
    };
    if (typeof time === 'string') entry.time = time;
    if (typeof subresource === 'string' && subresource !== '') entry.subresource = subresource;
    let set: FieldSet;
    try {
      set = FieldSet.fromFieldsV1(fieldsV1 ?? {});
    } catch (err) {
      throw new Error(`managedFields[${i}].${(err as Error).message}`);
    }
    const id = managerId(entry);
    const prev = out.get(id);
    out.set(id, { entry, set: prev ? prev.set.union(set) : set });
  });
  return out;
}

/** Encodes managers in upstream's order: Apply before Update, then by time, then by manager name. */
export function encodeManagedFields(managers: Map<string, Manager>): ManagedFieldsEntry[] {
  const entries: ManagedFieldsEntry[] = [];
  for (const m of managers.values()) {
    if (m.set.empty) continue;
    // Key order as the Go struct serializes: manager, operation, apiVersion, time, fieldsType, fieldsV1, subresource.
    entries.push({
      manager: m.entry.manager,
      operation: m.entry.operation,
      apiVersion: m.entry.apiVersion,
      ...(m.entry.time ? { time: m.entry.time } : {}),
      fieldsType: 'FieldsV1',
      fieldsV1: m.set.toFieldsV1(),
      ...(m.entry.subresource ? { subresource: m.entry.subresource } : {}),
    });
  }
  entries.sort((a, b) => {
    if (a.operation !== b.operation) return a.operation < b.operation ? -1 : 1;
    const at = a.time ?? '';
    const bt = b.time ?? '';
    if (at !== bt) return at < bt ? -1 : 1;
    return a.manager < b.manager ? -1 : a.manager > b.manager ? 1 : 0;
  });
  return entries;
}

/** The object without metadata.managedFields (a shallow copy; the input is not modified). */
function withoutManagedFields(obj: KubeObject | undefined): KubeObject {
  if (!obj) return { metadata: {} } as KubeObject;
  if (!obj.metadata || !('managedFields' in obj.metadata)) return obj;
  const { managedFields: _mf, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

function apiVersionOf(obj: KubeObject): string {
  return typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
}

/**
 * Server-side apply: the new object with `metadata.managedFields` updated, or the conflicts when the apply
 * would change fields other managers own and `force` is false. Inputs are not modified.
 */
export function serverSideApply(req: ApplyRequest): ApplyResult {
  const subresource = req.subresource ?? '';
  const statusSub = req.statusIsSubresource ?? true;
  const rootType = req.type ?? rootNodeType(req.typeName);
  const managers = decodeManagedFields(req.live?.metadata?.managedFields);
  const live = withoutManagedFields(req.live);
  const config = withoutManagedFields(req.applied);
  const apiVersion = apiVersionOf(config) || apiVersionOf(live);
  if (req.type) {
    const problem = checkAppliedLists(config, rootType);
    if (problem) throw typedPatchError(config, req.live, problem);
  }

  const configSet = ownable(fieldSetOfNodes(walkNodes(config, rootType)), subresource, statusSub);
  const merged = mergeValue(live, config, rootType) as KubeObject;
  const liveNodes = walkNodes(live, rootType);
  const cmp = filterComparison(compareNodes(liveNodes, walkNodes(merged, rootType)), subresource, statusSub);
  // What changed as each manager's version sees it (the applied version's comparison unless another schema applies).
  const otherVersions = new Map<string, { type: NodeType; liveNodes: Map<string, WalkedNode> } | undefined>();
  const compareFor = (m: Manager, after: KubeObject, base: Comparison, memo: Map<string, Comparison>): Comparison => {
    const version = m.entry.apiVersion;
    if (!req.typeOfVersion || version === '' || version === apiVersion) return base;
    let other = otherVersions.get(version);
    if (!otherVersions.has(version)) {
      const type = req.typeOfVersion(version);
      other = type && type !== rootType ? { type, liveNodes: walkNodes(live, type) } : undefined;
      otherVersions.set(version, other);
    }
    if (!other) return base;
    let c = memo.get(version);
    if (!c) memo.set(version, (c = filterComparison(compareNodes(other.liveNodes, walkNodes(after, other.type)), subresource, statusSub)));
    return c;
  };
  const mergedCmps = new Map<string, Comparison>();

  const selfId = managerId({ manager: req.manager, operation: 'Apply', apiVersion, subresource });
  const changed = cmp.modified.union(cmp.added);
  const changedFor = (m: Manager): { changed: FieldSet; removed: FieldSet } => {
    const c = compareFor(m, merged, cmp, mergedCmps);
    return c === cmp ? { changed, removed: cmp.removed } : { changed: c.modified.union(c.added), removed: c.removed };
  };
  const conflicts: FieldConflict[] = [];
  for (const [id, m] of managers) {
    if (id === selfId) continue;
    for (const path of m.set.intersect(changedFor(m).changed)) conflicts.push({ ...m.entry, path });
  }
  if (conflicts.length > 0 && !req.force) {
    conflicts.sort((a, b) => (a.manager !== b.manager ? (a.manager < b.manager ? -1 : 1) : pathToString(a.path) < pathToString(b.path) ? -1 : 1));
    return { conflicts };
  }
  for (const [id, m] of managers) {
    if (id === selfId) continue;
    const c = changedFor(m);
    m.set = m.set.difference(c.changed).difference(c.removed);
  }

  const previous = managers.get(selfId);
  managers.set(selfId, {
    entry: { manager: req.manager, operation: 'Apply', apiVersion, fieldsType: 'FieldsV1', ...(subresource ? { subresource } : {}) },
    set: configSet,
  });
  const result = previous ? prune(merged, previous.set, managers, rootType) : merged;

  // Fields the prune removed are no longer anyone's.
  const finalCmp = filterComparison(compareNodes(liveNodes, walkNodes(result, rootType)), subresource, statusSub);
  const finalCmps = new Map<string, Comparison>();
  for (const [id, m] of managers) {
    if (id !== selfId) m.set = m.set.difference(compareFor(m, result, finalCmp, finalCmps).removed);
    if (m.set.empty) managers.delete(id);
  }
  const objectChanged = !(finalCmp.added.empty && finalCmp.removed.empty && finalCmp.modified.empty);
  // The time says when the manager last changed the object (upstream managedfieldsupdater: a no-op keeps it).
  const self = managers.get(selfId);
  if (self) self.entry.time = objectChanged || !previous?.entry.time ? rfc3339(req.now) : previous.entry.time;

  const out = { ...result, metadata: { ...result.metadata } } as KubeObject;
  const encoded = encodeManagedFields(managers);
  if (encoded.length > 0) out.metadata.managedFields = encoded as NonNullable<KubeObject['metadata']['managedFields']>;
  else delete out.metadata.managedFields;
  return { object: out };
}

export interface UpdateRecord {
  /** The object before the write; undefined for a create. */
  live: KubeObject | undefined;
  /** The object the write stores, managedFields as the client sent them (or absent). */
  next: KubeObject;
  manager: string;
  typeName: string | undefined;
  /** As ApplyRequest.type: a custom resource's type, of the version the object is recorded in. */
  type?: NodeType;
  now: Date;
  subresource?: string;
  statusIsSubresource?: boolean;
}

/**
 * Records a non-apply write (create, update, patch) as an `Update` manager: the manager gains the fields the
 * write added or changed and loses the ones it removed; other managers lose all of those (upstream
 * Updater.Update with force). Sets `next.metadata.managedFields` in place.
 *
 * managedFields the client sent that differ from the stored ones are kept as sent (after checking their shape:
 * 400 otherwise), and an empty list clears them, as kube-apiserver lets clients reset or rewrite ownership.
 * A write that changes nothing keeps the stored managedFields untouched.
 */
export function recordUpdate(rec: UpdateRecord): void {
  const meta = (rec.next.metadata ??= {});
  const stored = rec.live?.metadata?.managedFields;
  const sent = meta.managedFields;
  if (sent !== undefined && !deepEqual(sent, stored)) {
    if (Array.isArray(sent) && sent.length === 0) {
      delete meta.managedFields;
      return;
    }
    try {
      meta.managedFields = encodeManagedFields(decodeManagedFields(sent)) as NonNullable<KubeObject['metadata']['managedFields']>;
    } catch (err) {
      throw badRequest(`metadata.managedFields: Invalid value: ${(err as Error).message}`);
    }
    return;
  }
  const subresource = rec.subresource ?? '';
  const statusSub = rec.statusIsSubresource ?? true;
  const rootType = rec.type ?? rootNodeType(rec.typeName);
  if (!rec.live) {
    recordCreate(rec, meta, rootType, subresource, statusSub);
    return;
  }
  const cmp = filterComparison(
    compareNodes(walkNodes(withoutManagedFields(rec.live), rootType), walkNodes(withoutManagedFields(rec.next), rootType)),
    subresource,
    statusSub,
  );
  if (cmp.added.empty && cmp.removed.empty && cmp.modified.empty) {
    if (stored === undefined) delete meta.managedFields;
    else meta.managedFields = stored;
    return;
  }
  const managers = decodeManagedFields(stored);
  const apiVersion = apiVersionOf(rec.next) || (rec.live ? apiVersionOf(rec.live) : '');
  const selfId = managerId({ manager: rec.manager, operation: 'Update', apiVersion, subresource });
  const changed = cmp.added.union(cmp.modified);
  for (const [id, m] of managers) {
    if (id !== selfId) m.set = m.set.difference(changed).difference(cmp.removed);
  }
  const before = managers.get(selfId)?.set ?? new FieldSet();
  managers.set(selfId, {
    entry: { manager: rec.manager, operation: 'Update', apiVersion, time: rfc3339(rec.now), fieldsType: 'FieldsV1', ...(subresource ? { subresource } : {}) },
    set: before.difference(cmp.removed).union(changed),
  });
  const encoded = encodeManagedFields(managers);
  if (encoded.length > 0) meta.managedFields = encoded as NonNullable<KubeObject['metadata']['managedFields']>;
  else delete meta.managedFields;
}

/** recordUpdate for a create: everything is added, so the writer owns all of it and nobody else exists yet. */
function recordCreate(rec: UpdateRecord, meta: KubeObject['metadata'], rootType: NodeType, subresource: string, statusSub: boolean): void {
  const fields = addedFieldsV1(ownableView(rec.next, statusSub), rootType);
  if (Object.keys(fields).length === 0) {
    delete meta.managedFields;
    return;
  }
  const entry: ManagedFieldsEntry = {
    manager: rec.manager,
    operation: 'Update',
    apiVersion: apiVersionOf(rec.next),
    time: rfc3339(rec.now),
    fieldsType: 'FieldsV1',
    fieldsV1: fields,
    ...(subresource ? { subresource } : {}),
  };
  meta.managedFields = [entry] as NonNullable<KubeObject['metadata']['managedFields']>;
}

// ---------------------------------------------------------------------------------------------------------
// Typed configurations

/**
 * What structured-merge-diff refuses when it types an applied configuration by a CRD's schema (the patch is typed
 * without AllowDuplicates): an item of a `map` list without a key field the schema gives no default for, a null
 * or non-object item there, and two items with one key (or one value, in a `set` list). Only lists of a CRD
 * schema are checked (`keyDefaults` set); built-in kinds keep their lenient keys. Returns upstream's words
 * (`.spec.ports: element 0: associative list with keys has an element that omits key field "name" (and doesn't
 * have default value)`), or undefined.
 */
export function checkAppliedLists(value: unknown, type: NodeType): string | undefined {
  const visit = (v: unknown, t: NodeType, path: string): string | undefined => {
    if (isPlainObject(v) && isGranularObject(t)) {
      for (const name of Object.keys(v)) {
        const problem = visit(v[name], childType(t, name), `${path}.${name}`);
        if (problem) return problem;
      }
      return undefined;
    }
    if (!Array.isArray(v) || t.kind !== 'list' || t.listType === 'atomic' || !t.keyDefaults) return undefined;
    const seen = new Set<string>();
    for (let i = 0; i < v.length; i++) {
      const item = v[i];
      let el: string;
      if (t.listType === 'map') {
        if (item === null) return `${path}: element ${i}: associative list with keys may not have a null element`;
        if (!isPlainObject(item)) return `${path}: element ${i}: associative list with keys may not have non-map elements`;
        const missing = t.keys.find((k) => (item[k] === undefined || item[k] === null) && t.keyDefaults![k] === undefined);
        if (missing !== undefined) return `${path}: element ${i}: associative list with keys has an element that omits key field ${JSON.stringify(missing)} (and doesn't have default value)`;
        el = itemElement(t, item, i);
      } else {
        el = itemElement(t, item, i);
      }
      if (seen.has(el)) return `${path}: duplicate entries for key ${pathToString([el])}`;
      seen.add(el);
      if (t.listType === 'map') {
        const problem = visit(item, t.items, `${path}${pathToString([el])}`);
        if (problem) return problem;
      }
    }
    return undefined;
  };
  return visit(value, type, '');
}

/**
 * kube-apiserver answers a configuration it cannot type with the converter's plain error, which its handlers send
 * as 500 with no reason (`Error from server: failed to create typed patch object (ns/name; example.com/v1,
 * Kind=Widget): ...`), so kubectl shows the same words here.
 */
function typedPatchError(config: KubeObject, live: KubeObject | undefined, problem: string): StatusError {
  const meta = config.metadata ?? live?.metadata ?? {};
  const [group, version] = apiVersionOf(config).includes('/') ? apiVersionOf(config).split('/', 2) : ['', apiVersionOf(config)];
  const who = `${meta.namespace ?? live?.metadata?.namespace ?? ''}/${meta.name ?? live?.metadata?.name ?? ''}; ${group}/${version}, Kind=${config.kind ?? ''}`;
  return new StatusError({ code: 500, message: `failed to create typed patch object (${who}): ${problem}` });
}

// ---------------------------------------------------------------------------------------------------------
// Merge and prune

/** `rhs` merged into `lhs` by the schema; undefined means "no value" (an explicit null in the configuration). */
export function mergeValue(lhs: unknown, rhs: unknown, type: NodeType): unknown {
  if (rhs === undefined) return lhs;
  if (rhs === null) return undefined;
  if (isGranularObject(type) && isPlainObject(rhs) && isPlainObject(lhs)) {
    const out: Record<string, unknown> = { ...lhs };
    for (const k of Object.keys(rhs)) {
      const ct = childType(type, k);
      const v = mergeValue(lhs[k], rhs[k], ct);
      if (v === undefined) delete out[k];
      else Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  if (type.kind === 'list' && type.listType !== 'atomic' && Array.isArray(rhs) && Array.isArray(lhs)) return mergeList(lhs, rhs, type);
  return structuredClone(rhs);
}

/**
 * Merges two keyed lists. Order as structured-merge-diff's merge: items only in the live list keep their
 * place, items the configuration names follow the configuration's order, new items come where the
 * configuration puts them relative to the shared ones.
 */
function mergeList(lhs: unknown[], rhs: unknown[], type: Extract<NodeType, { kind: 'list' }>): unknown[] {
  const lEls = lhs.map((item, i) => itemElement(type, item, i));
  const rEls = rhs.map((item, i) => itemElement(type, item, i));
  const lIndex = new Map<string, unknown>();
  lEls.forEach((el, i) => lIndex.has(el) || lIndex.set(el, lhs[i]));
  const rIndex = new Set(rEls);
  const shared = rEls.filter((el) => lIndex.has(el));
  let nextShared = 0;
  const merged = new Set<string>();
  const out: unknown[] = [];
  const mergeItem = (l: unknown, r: unknown) => (type.listType === 'map' ? mergeValue(l, r, type.items) : structuredClone(r));
  let li = 0;
  let ri = 0;
  while (li < lhs.length || ri < rhs.length) {
    if (li < lhs.length && ri < rhs.length) {
      if (lEls[li] === rEls[ri] && !merged.has(rEls[ri])) {
        out.push(mergeItem(lhs[li], rhs[ri]));
        merged.add(rEls[ri]);
        if (shared[nextShared] === rEls[ri]) nextShared++;
        li++;
        ri++;
        continue;
      }
      if (rIndex.has(lEls[li]) && nextShared < shared.length && shared[nextShared] !== lEls[li]) {
        li++;
        continue;
      }
    }
    if (li < lhs.length) {
      if (!rIndex.has(lEls[li])) {
        out.push(lhs[li]);
        li++;
        continue;
      }
      if (merged.has(lEls[li])) {
        li++;
        continue;
      }
    }
    if (ri < rhs.length) {
      const el = rEls[ri];
      if (!merged.has(el)) {
        out.push(lIndex.has(el) ? mergeItem(lIndex.get(el), rhs[ri]) : structuredClone(rhs[ri]));
        merged.add(el);
      }
      if (shared[nextShared] === el) nextShared++;
      ri++;
      continue;
    }
    li++;
  }
  return out;
}

/**
 * Removes from `merged` the fields the applier owned before (`lastSet`) that no manager owns now, keeping any
 * that still have an owned field below them; then drops objects and lists that became empty on the way up,
 * unless owned (upstream Updater.prune: RemoveItems, then add back owned and dangling items).
 */
function prune(merged: KubeObject, lastSet: FieldSet, managers: Map<string, Manager>, rootType: NodeType): KubeObject {
  let owned = new FieldSet();
  for (const m of managers.values()) owned = owned.union(m.set);
  const doomed = [...lastSet].filter((p) => !owned.hasAtOrBelow(p)).sort((a, b) => a.length - b.length);
  if (doomed.length === 0) return merged;
  const out = structuredClone(merged);
  for (const path of doomed) {
    if (!removePath(out, path, rootType)) continue;
    // Walk up: a parent left empty by the removal goes too, unless someone owns it as a whole.
    for (let n = path.length - 1; n >= 1; n--) {
      const parent = path.slice(0, n);
      const value = valueAt(out, parent, rootType);
      const empty = (isPlainObject(value) && Object.keys(value).length === 0) || (Array.isArray(value) && value.length === 0);
      if (!empty || owned.has(parent)) break;
      removePath(out, parent, rootType);
    }
  }
  return out;
}

/** The container holding the last element of `path`, and that element's type; undefined when absent. */
function locate(root: unknown, path: Path, rootType: NodeType): { container: unknown; type: NodeType } | undefined {
  let cur: unknown = root;
  let type = rootType;
  for (let i = 0; i < path.length - 1; i++) {
    const step = stepInto(cur, type, path[i]);
    if (!step) return undefined;
    cur = step.value;
    type = step.type;
  }
  return { container: cur, type };
}

function stepInto(cur: unknown, type: NodeType, el: string): { value: unknown; type: NodeType; index?: number } | undefined {
  if (el.startsWith('f:')) {
    if (!isPlainObject(cur)) return undefined;
    const name = el.slice(2);
    if (!Object.hasOwn(cur, name)) return undefined;
    return { value: cur[name], type: childType(type, name) };
  }
  if (!Array.isArray(cur) || type.kind !== 'list') return undefined;
  for (let i = 0; i < cur.length; i++) {
    if (itemElement(type, cur[i], i) === el) return { value: cur[i], type: type.items, index: i };
  }
  return undefined;
}

function valueAt(root: unknown, path: Path, rootType: NodeType): unknown {
  const loc = locate(root, path, rootType);
  return loc ? stepInto(loc.container, loc.type, path[path.length - 1])?.value : undefined;
}

function removePath(root: unknown, path: Path, rootType: NodeType): boolean {
  const loc = locate(root, path, rootType);
  if (!loc) return false;
  const last = path[path.length - 1];
  const step = stepInto(loc.container, loc.type, last);
  if (!step) return false;
  if (last.startsWith('f:')) delete (loc.container as Record<string, unknown>)[last.slice(2)];
  else (loc.container as unknown[]).splice(step.index!, 1);
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Errors and manager names

/** How upstream names a manager in conflict messages (fieldmanager internal/conflict.go printManager). */
function printManager(c: FieldConflict): string {
  let s = JSON.stringify(c.manager);
  if (c.subresource) s += ` with subresource ${JSON.stringify(c.subresource)}`;
  if (c.operation === 'Update') s += ` using ${c.apiVersion}`;
  return s;
}

/**
 * 409 Conflict for an apply that would take fields other managers own, shaped like kube-apiserver's
 * (NewApplyConflict): `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1:
 * .spec.replicas`, one `FieldManagerConflict` cause per field.
 */
export function applyConflictError(conflicts: FieldConflict[]): StatusError {
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0])}: ${pathToString(conflicts[0].path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const name = printManager(c);
      if (!byManager.has(name)) byManager.set(name, []);
      byManager.get(name)!.push(pathToString(c.path));
    }
    const lines: string[] = [];
    for (const name of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${name}:`);
      for (const p of byManager.get(name)!) lines.push(`- ${p}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new StatusError({
    message,
    reason: 'Conflict',
    code: 409,
    details: { causes: conflicts.map((c) => ({ type: 'FieldManagerConflict', message: `conflict with ${printManager(c)}`, field: pathToString(c.path) })) },
  });
}

/**
 * The field manager of a write: the `fieldManager` query parameter, else the User-Agent up to its first `/`
 * (upstream managerOrUserAgent: `kubectl/v1.32.4 (linux/amd64) ...` becomes `kubectl`). Longer than 128
 * characters is 400, as upstream validates it.
 */
export function fieldManagerOf(param: string | null | undefined, userAgent: string | undefined): string {
  if (param !== null && param !== undefined && param !== '') {
    if (param.length > 128) throw badRequest(`fieldManager: Too long: may not be more than 128 bytes`);
    return param;
  }
  const ua = userAgent ?? '';
  return ua.split('/', 1)[0].slice(0, 128);
}
