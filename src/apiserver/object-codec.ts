/**
 * How objects are stored: JSON text without metadata.resourceVersion (the store's modRevision is the
 * resourceVersion, as with etcd), and the key layout `/registry/<group|core>/<resource>/[<namespace>/]<name>`.
 */
import type { KubeObject } from '../api/object.js';
import { parseApiVersion } from '../api/object.js';
import { typeForKind, typeOf } from '../api/schema/schema.js';
import type { ResourceDefinition } from './registry/types.js';

export function resourcePrefix(def: Pick<ResourceDefinition, 'group' | 'plural'>): string {
  return `/registry/${def.group || 'core'}/${def.plural}/`;
}

/** Prefix of a list: the whole resource, or one namespace of it. */
export function listPrefix(def: ResourceDefinition, namespace: string): string {
  return def.namespaced && namespace ? `${resourcePrefix(def)}${namespace}/` : resourcePrefix(def);
}

export function objectKey(def: Pick<ResourceDefinition, 'group' | 'plural' | 'namespaced'>, namespace: string, name: string): string {
  return def.namespaced ? `${resourcePrefix(def)}${namespace}/${name}` : `${resourcePrefix(def)}${name}`;
}

/**
 * Go's encoding/json writes a typed object's status struct even when nothing set it (`status: {}`, a Service's
 * `status: {loadBalancer: {}}`, `replicas: 0` where the field has no omitempty), so kube-apiserver returns one for
 * every kind whose type has a status; clients and diff tools expect the key. Built from the schema table: the
 * status type's required scalar fields at their zero value, and the non-pointer structs below.
 */
const NON_POINTER_STATUS_STRUCTS: Record<string, string[]> = {
  'io.k8s.api.core.v1.ServiceStatus': ['loadBalancer'],
  'io.k8s.api.networking.v1.IngressStatus': ['loadBalancer'],
};

/** By apiVersion, then kind (no key string built per write). */
const zeroStatusByKind = new Map<string, Map<string, string | null>>();

/** The JSON text of the zero status of apiVersion/kind, or null when its type has no status (or is not built in). */
function zeroStatusOf(apiVersion: string, kind: string): string | null {
  let byKind = zeroStatusByKind.get(apiVersion);
  if (!byKind) zeroStatusByKind.set(apiVersion, (byKind = new Map()));
  let text = byKind.get(kind);
  if (text !== undefined) return text;
  text = null;
  const { group, version } = parseApiVersion(apiVersion);
  const field = typeForKind(group, version, kind)?.fields.find((f) => f.json === 'status');
  if (field?.type.kind === 'ref') {
    const status: Record<string, unknown> = {};
    for (const f of typeOf(field.type.name)?.fields ?? []) {
      if (!f.required || f.type.kind !== 'scalar') continue;
      const s = f.type.scalar;
      if (s === 'string') status[f.json] = '';
      else if (s === 'boolean') status[f.json] = false;
      else if (s === 'int32' || s === 'int64' || s === 'double') status[f.json] = 0;
    }
    for (const name of NON_POINTER_STATUS_STRUCTS[field.type.name] ?? []) status[name] = {};
    text = JSON.stringify(status);
  }
  byKind.set(kind, text);
  return text;
}

/** Gives `obj` the zero status of its kind when it has none (see zeroStatusOf). */
export function ensureStatus(obj: KubeObject): void {
  if (obj.status !== undefined || !obj.apiVersion || !obj.kind) return;
  const zero = zeroStatusOf(obj.apiVersion, obj.kind);
  if (zero !== null) obj.status = zero === '{}' ? {} : JSON.parse(zero);
}

/**
 * The stored form of obj; it also gets the zero status of its kind when it has none, as Go would write it. The text
 * starts with apiVersion, kind and metadata, in that order (Go's field order, which kube-apiserver stores and
 * answers with), so decodeWithJson can place the resourceVersion without serializing the object again.
 */
export function encodeForStore(obj: KubeObject): string {
  ensureStatus(obj);
  const rv = obj.metadata.resourceVersion;
  if (rv !== undefined) delete obj.metadata.resourceVersion;
  try {
    return JSON.stringify(leadsWithTypeAndMetadata(obj) ? obj : withTypeAndMetadataFirst(obj));
  } finally {
    if (rv !== undefined) obj.metadata.resourceVersion = rv;
  }
}

const LEADING_KEYS = ['apiVersion', 'kind', 'metadata'];

function leadsWithTypeAndMetadata(obj: KubeObject): boolean {
  let i = 0;
  for (const k in obj) {
    if (k !== LEADING_KEYS[i]) return false;
    if (++i === LEADING_KEYS.length) return true;
  }
  return false;
}

function withTypeAndMetadataFirst(obj: KubeObject): KubeObject {
  const { apiVersion, kind, metadata, ...rest } = obj;
  return { apiVersion, kind, metadata, ...rest };
}

export function decodeFromStore(_key: string, value: string, revision: number): KubeObject {
  const obj = JSON.parse(value) as KubeObject;
  obj.metadata.resourceVersion = String(revision);
  return obj;
}

/** How stored text starts when encodeForStore wrote it: plain apiVersion and kind strings, then metadata's brace. */
const STORED_HEAD = /^\{"apiVersion":"[^"\\]*","kind":"[^"\\]*","metadata":\{/;

/**
 * The object and its JSON text (resourceVersion included) from a stored value: the text is the stored one with the
 * resourceVersion put first in metadata, so the watch cache serializes no event. Text in another shape (written
 * before encodeForStore ordered its keys) is serialized from the object.
 */
export function decodeWithJson(key: string, value: string, revision: number): { obj: KubeObject; json: string } {
  const obj = decodeFromStore(key, value, revision);
  return { obj, json: withResourceVersion(value, revision) ?? JSON.stringify(obj) };
}

/** The JSON text (resourceVersion included) of a stored value, parsed only when the text is in another shape. */
export function jsonOfStored(key: string, value: string, revision: number): string {
  return withResourceVersion(value, revision) ?? JSON.stringify(decodeFromStore(key, value, revision));
}

/** Stored text with the resourceVersion put first in metadata, or undefined for text encodeForStore did not write. */
function withResourceVersion(value: string, revision: number): string | undefined {
  const head = STORED_HEAD.exec(value);
  if (!head) return undefined;
  const at = head[0].length;
  return `${value.slice(0, at)}"resourceVersion":"${revision}"${value.charCodeAt(at) === 125 /* } */ ? '' : ','}${value.slice(at)}`;
}

/**
 * The stored text behind JSON that decodeWithJson built (the resourceVersion taken out again), or undefined for JSON
 * in another shape.
 */
export function storedTextOf(json: string, revision: number): string | undefined {
  const head = STORED_HEAD.exec(json);
  if (!head) return undefined;
  const at = head[0].length;
  const rv = `"resourceVersion":"${revision}"`;
  if (!json.startsWith(rv, at)) return undefined;
  const end = at + rv.length;
  const next = json.charCodeAt(end);
  if (next === 44 /* , */) return json.slice(0, at) + json.slice(end + 1);
  if (next === 125 /* } */) return json.slice(0, at) + json.slice(end);
  return undefined;
}
