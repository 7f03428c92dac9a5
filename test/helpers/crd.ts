/**
 * CustomResourceDefinitions for tests and benchmarks: the manifest built from what differs (group, names, versions
 * and their schemas), schema fragments that recur (a map list), and installing one on an in-process server.
 * The manifest is plain wire JSON; kubectl and helm read it as YAML (`JSON.stringify(crd)`).
 */
import type { CrdNames, CrdVersion, CustomResourceDefinition, JSONSchemaProps } from '../../src/apiserver/crd/json-schema.js';
import type { TestServer } from './test-server.js';

/** A version: served by default, the first one the storage version; `schema` is its openAPIV3Schema. */
export type CrdVersionSpec = Omit<CrdVersion, 'served' | 'storage' | 'schema'> & { served?: boolean; storage?: boolean; schema: JSONSchemaProps };

export interface CrdSpecOptions extends Partial<CrdNames> {
  group: string;
  kind: string;
  /** Namespaced unless said. */
  scope?: 'Namespaced' | 'Cluster';
  versions: CrdVersionSpec[];
}

/**
 * The CRD `<plural>.<group>`; plural and singular default to the kind in lower case (+ "s"). Names given
 * (listKind, shortNames, categories) are passed on as they are.
 */
export function customResourceDefinition(o: CrdSpecOptions): CustomResourceDefinition {
  const { group, scope = 'Namespaced', versions, ...given } = o;
  const singular = given.singular ?? o.kind.toLowerCase();
  const names: CrdNames = { ...given, plural: given.plural ?? `${singular}s`, singular };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${group}` },
    spec: {
      group,
      scope,
      names,
      versions: versions.map(({ name, schema, served = true, storage, ...rest }, i) => ({ name, served, storage: storage ?? i === 0, ...rest, schema: { openAPIV3Schema: schema } })),
    },
  };
}

/** An array schema `x-kubernetes-list-type: map` keyed by `keys` (required unless `required` says otherwise). */
export function mapList(keys: string[], properties: Record<string, JSONSchemaProps>, required: string[] = keys): JSONSchemaProps {
  return { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys, items: { type: 'object', required, properties } };
}

/**
 * POSTs the CRD to an in-process server (201 or it throws) and waits until its first version lists in `namespace`
 * (a cluster-scoped one without), the way a benchmark or test waits for Established before using it.
 */
export async function installCrd(s: TestServer, crd: CustomResourceDefinition, namespace = 'default', timeoutMs = 5_000): Promise<void> {
  const installed = await s.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  if (installed.status !== 201) throw new Error(`installing the CRD ${crd.metadata.name}: ${installed.status} ${installed.text}`);
  const { group, names, scope, versions } = crd.spec;
  const path = `/apis/${group}/${versions[0]!.name}${scope === 'Namespaced' ? `/namespaces/${namespace}` : ''}/${names.plural}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await s.request('GET', path);
    if (r.status === 200) return;
    if (Date.now() > deadline) throw new Error(`the CRD ${crd.metadata.name} is not served at ${path} after ${timeoutMs} ms: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}
