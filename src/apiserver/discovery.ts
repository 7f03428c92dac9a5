/**
 * Discovery documents derived from the resource registry: legacy (/api, /apis, /apis/<g>, /api/v1,
 * /apis/<g>/<v>) and aggregated (APIGroupDiscoveryList, v2 and v2beta1 with the same schema).
 * See reference/kubectl-api-compat.md §4.1.
 */
import { createHash } from 'node:crypto';
import { groupVersion } from '../api/object.js';
import type { DelegatedGroup } from './delegated-groups.js';
import { ResourceRegistry } from './registry/resource-registry.js';
import type { ResourceDefinition, Verb } from './registry/types.js';

export const ALL_VERBS: Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export interface SubresourceInfo {
  name: string;
  kind: string;
  group?: string;
  version?: string;
  verbs: string[];
  /** A streaming or proxying subresource (log, exec, proxy, ...). */
  connect: boolean;
}

/** Subresources served for a resource: status and scale where the kind has them, then the registry's own. */
export function subresourcesOf(def: ResourceDefinition): SubresourceInfo[] {
  const subs: SubresourceInfo[] = [];
  if (def.hasStatus) subs.push({ name: 'status', kind: def.kind, verbs: ['get', 'patch', 'update'], connect: false });
  if (def.scale) subs.push({ name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'], connect: false });
  for (const sub of def.subresources ?? []) {
    subs.push({ name: sub.name, kind: sub.kind, group: sub.group, version: sub.version, verbs: sub.verbs, connect: !!sub.connect });
  }
  return subs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface GroupInfo {
  name: string;
  /** Versions in preference order. */
  versions: string[];
}

export class Discovery {
  groups: GroupInfo[] = [];
  private readonly registry: ResourceRegistry;
  private byGroupVersion = new Map<string, ResourceDefinition[]>();
  private readonly cache = new Map<string, string>();

  /**
   * Groups are listed in registry order (kube-apiserver's priority order for the built-in ones), then groups added
   * to the registry later (custom resources: upstream gives CRD groups priority 1000, below every built-in group),
   * then `delegated`: group versions served outside the registry (delegated-groups.ts). The documents are rebuilt
   * when the registry changes.
   */
  constructor(resources: readonly ResourceDefinition[] | ResourceRegistry, private readonly serverAddress: () => string, private readonly delegated: readonly DelegatedGroup[] = []) {
    this.registry = ResourceRegistry.of(resources);
    this.rebuild();
    this.registry.onChange(() => this.rebuild());
  }

  /** Rebuilds the documents after the delegated group versions changed (the aggregator's APIServices). */
  refresh(): void {
    this.rebuild();
  }

  private rebuild(): void {
    const groups = new Map<string, GroupInfo>();
    const byGroupVersion = new Map<string, ResourceDefinition[]>();
    for (const def of this.registry.all()) {
      const gv = groupVersion(def.group, def.version);
      let list = byGroupVersion.get(gv);
      if (!list) byGroupVersion.set(gv, (list = []));
      list.push(def);
      let g = groups.get(def.group);
      if (!g) groups.set(def.group, (g = { name: def.group, versions: [] }));
      if (!g.versions.includes(def.version)) g.versions.push(def.version);
    }
    for (const g of groups.values()) g.versions.sort(compareVersions);
    for (const d of this.delegated) {
      let g = groups.get(d.group);
      if (!g) groups.set(d.group, (g = { name: d.group, versions: [] }));
      if (!g.versions.includes(d.version)) g.versions.push(d.version);
    }
    this.byGroupVersion = byGroupVersion;
    this.groups = [...groups.values()];
    this.cache.clear();
  }

  resourcesOf(group: string, version: string): ResourceDefinition[] | undefined {
    return this.byGroupVersion.get(groupVersion(group, version));
  }

  private memo(key: string, build: () => unknown): string {
    let s = this.cache.get(key);
    if (s === undefined) this.cache.set(key, (s = JSON.stringify(build())));
    return s;
  }

  apiVersions(): string {
    return JSON.stringify({
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.serverAddress() }],
    });
  }

  private groupDoc(g: GroupInfo) {
    const versions = g.versions.map((v) => ({ groupVersion: groupVersion(g.name, v), version: v }));
    return { name: g.name, versions, preferredVersion: versions[0] };
  }

  apiGroupList(): string {
    return this.memo('apis', () => ({
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: this.groups.filter((g) => g.name !== '').map((g) => this.groupDoc(g)),
    }));
  }

  apiGroup(name: string): string | undefined {
    const g = this.groups.find((x) => x.name === name && name !== '');
    if (!g) return undefined;
    return this.memo(`group/${name}`, () => ({ kind: 'APIGroup', apiVersion: 'v1', ...this.groupDoc(g) }));
  }

  private delegatedOf(group: string, version: string): DelegatedGroup | undefined {
    return this.delegated.find((d) => d.group === group && d.version === version);
  }

  apiResourceList(group: string, version: string): string | undefined {
    const d = this.delegatedOf(group, version);
    if (d) return this.memo(`rl/${group}/${version}`, () => ({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(group, version), resources: d.resources }));
    const defs = this.resourcesOf(group, version);
    if (!defs) return undefined;
    return this.memo(`rl/${group}/${version}`, () => {
      const resources: Record<string, unknown>[] = [];
      for (const def of defs) {
        resources.push({
          name: def.plural,
          singularName: def.singular,
          namespaced: def.namespaced,
          kind: def.kind,
          verbs: def.verbs ?? ALL_VERBS,
          ...(def.shortNames?.length ? { shortNames: def.shortNames } : {}),
          ...(def.categories?.length ? { categories: def.categories } : {}),
          storageVersionHash: storageVersionHash(def),
        });
        for (const sub of subresourcesOf(def)) {
          resources.push({
            name: `${def.plural}/${sub.name}`,
            singularName: '',
            namespaced: def.namespaced,
            ...(sub.group !== undefined ? { group: sub.group, version: sub.version } : {}),
            kind: sub.kind,
            verbs: sub.verbs,
          });
        }
      }
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(group, version), resources };
    });
  }

  /** Aggregated discovery for /api (core only) or /apis (every named group). */
  aggregated(root: 'api' | 'apis', version: 'v2' | 'v2beta1'): string {
    return this.memo(`agg/${root}/${version}`, () => {
      const groups = this.groups.filter((g) => (root === 'api' ? g.name === '' : g.name !== ''));
      return {
        kind: 'APIGroupDiscoveryList',
        apiVersion: `apidiscovery.k8s.io/${version}`,
        metadata: {},
        items: groups.map((g) => ({
          metadata: root === 'api' ? {} : { name: g.name },
          versions: g.versions.map((v) => ({
            version: v,
            freshness: 'Current',
            resources: this.delegatedOf(g.name, v)?.resources.map((r) => ({
              resource: r.name,
              responseKind: { group: g.name, version: v, kind: r.kind },
              scope: r.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: r.singularName,
              verbs: r.verbs,
              ...(r.shortNames?.length ? { shortNames: r.shortNames } : {}),
            })) ?? (this.resourcesOf(g.name, v) ?? []).map((def) => ({
              resource: def.plural,
              responseKind: { group: def.group, version: def.version, kind: def.kind },
              scope: def.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: def.singular,
              verbs: def.verbs ?? ALL_VERBS,
              ...(def.shortNames?.length ? { shortNames: def.shortNames } : {}),
              ...(def.categories?.length ? { categories: def.categories } : {}),
              ...(subresourcesOf(def).length
                ? {
                    subresources: subresourcesOf(def).map((s) => ({
                      subresource: s.name,
                      responseKind: { group: s.group ?? def.group, version: s.version ?? def.version, kind: s.kind },
                      verbs: s.verbs,
                    })),
                  }
                : {}),
            })),
          })),
        })),
      };
    });
  }
}

function storageVersionHash(def: ResourceDefinition): string {
  return createHash('sha256').update(`${def.group}/${def.version}/${def.kind}`).digest('base64').slice(0, 11);
}

/** Kubernetes version priority: GA > beta > alpha, then by major/minor number, descending. */
export function compareVersions(a: string, b: string): number {
  const rank = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    const level = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
    return [level, Number(m[1]), Number(m[3] ?? 0)];
  };
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return rb[i] - ra[i];
  return 0;
}
