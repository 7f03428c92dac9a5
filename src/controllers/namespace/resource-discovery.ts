/**
 * Which resources a namespace can hold, found the way kube-controller-manager's namespace deleter finds them
 * (client-go discovery's ServerPreferredNamespacedResources, filtered to those supporting `delete`): through the API's
 * discovery documents, so built-in kinds, every served CustomResourceDefinition and the resources of aggregated
 * APIServices are all covered without this controller naming any of them.
 *
 *   GET /api, /api/<v>, /apis, /apis/<g>/<v> for every version of every group (preferred first: a resource served in
 *   several versions is taken from the first that lists it)
 *   + the APIServices with a service reference whose group version discovery left out (skiff omits unavailable ones
 *     from /apis): failed, worded as client-go's aggregated discovery reports a Stale group version in 1.32
 *
 * A group version that cannot be read is a failure for that group version only; the rest is still returned, as
 * upstream's ErrGroupDiscoveryFailed carries the partial result.
 */
import type { KubeObject } from '../../api/object.js';
import { groupVersion } from '../../api/object.js';
import type { Client, ResourceType } from '../../client/types.js';

/** apiregistration.k8s.io/v1 APIServices (not in the client's resources.ts: only this controller reads them). */
export const APIServices: ResourceType = { group: 'apiregistration.k8s.io', version: 'v1', resource: 'apiservices', kind: 'APIService', namespaced: false };

export interface DiscoveredResource {
  rt: ResourceType;
  verbs: ReadonlySet<string>;
}

export interface DiscoveryResult {
  /** Namespaced resources whose verbs include `delete` (subresources excluded). */
  resources: DiscoveredResource[];
  /** `<group>/<version>` (`v1` for core) -> why its discovery failed. */
  failed: Map<string, string>;
}

interface APIResource {
  name: string;
  namespaced?: boolean;
  kind?: string;
  verbs?: string[];
}
interface APIResourceList {
  groupVersion?: string;
  resources?: APIResource[];
}
interface APIGroupList {
  groups?: { name: string; versions?: { groupVersion: string; version: string }[]; preferredVersion?: { version: string } }[];
}

/** upstream discovery.ErrGroupDiscoveryFailed's text. */
export function groupDiscoveryFailedMessage(failed: ReadonlyMap<string, string>): string {
  const groups = [...failed].map(([gv, msg]) => `${gv}: ${msg}`).sort();
  return `unable to retrieve the complete list of server APIs: ${groups.join(', ')}`;
}

export async function discoverDeletableNamespacedResources(client: Client): Promise<DiscoveryResult> {
  const failed = new Map<string, string>();
  // [group, versions in preference order]
  const groups: [string, string[]][] = [];
  try {
    const api = await client.discovery<{ versions?: string[] }>('/api');
    groups.push(['', api.versions ?? []]);
  } catch (err) {
    // Without /api nothing of the core group is known: upstream's discovery fails as a whole here.
    throw new Error(`unable to retrieve the list of core API versions: ${(err as Error).message}`);
  }
  const list = await client.discovery<APIGroupList>('/apis');
  for (const g of list.groups ?? []) {
    const versions = (g.versions ?? []).map((v) => v.version);
    const preferred = g.preferredVersion?.version;
    groups.push([g.name, preferred && versions.includes(preferred) ? [preferred, ...versions.filter((v) => v !== preferred)] : versions]);
  }

  const listed = new Set(groups.flatMap(([g, vs]) => vs.map((v) => groupVersion(g, v))));
  try {
    for (const svc of (await client.list(APIServices, '')).items as (KubeObject & { spec?: { group?: string; version?: string; service?: unknown } })[]) {
      const { group, version, service } = svc.spec ?? {};
      const gv = groupVersion(group ?? '', version ?? '');
      if (!group || !version || !service || listed.has(gv)) continue;
      failed.set(gv, `stale GroupVersion discovery: ${gv}`);
    }
  } catch (err) {
    failed.set('apiregistration.k8s.io/v1', (err as Error).message);
  }

  const documents = await Promise.all(
    groups.flatMap(([group, versions]) =>
      versions.map(async (version) => {
        const gv = groupVersion(group, version);
        try {
          return { group, version, doc: await client.discovery<APIResourceList>(group ? `/apis/${gv}` : `/api/${version}`) };
        } catch (err) {
          failed.set(gv, (err as Error).message);
          return { group, version, doc: undefined };
        }
      }),
    ),
  );

  const resources: DiscoveredResource[] = [];
  const seen = new Set<string>();
  for (const { group, version, doc } of documents) {
    for (const r of doc?.resources ?? []) {
      if (!r.namespaced || r.name.includes('/') || !(r.verbs ?? []).includes('delete')) continue;
      const key = `${group}/${r.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      resources.push({ rt: { group, version, resource: r.name, kind: r.kind ?? '', namespaced: true }, verbs: new Set(r.verbs) });
    }
  }
  return { resources, failed };
}
