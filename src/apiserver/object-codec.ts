/**
 * How objects are stored: JSON text without metadata.resourceVersion (the store's modRevision is the
 * resourceVersion, as with etcd), and the key layout `/registry/<group|core>/<resource>/[<namespace>/]<name>`.
 */
import type { KubeObject } from '../api/object.js';
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

export function encodeForStore(obj: KubeObject): string {
  const rv = obj.metadata.resourceVersion;
  if (rv === undefined) return JSON.stringify(obj);
  delete obj.metadata.resourceVersion;
  try {
    return JSON.stringify(obj);
  } finally {
    obj.metadata.resourceVersion = rv;
  }
}

export function decodeFromStore(_key: string, value: string, revision: number): KubeObject {
  const obj = JSON.parse(value) as KubeObject;
  obj.metadata.resourceVersion = String(revision);
  return obj;
}
