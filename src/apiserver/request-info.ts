/**
 * Parses an API path into what it addresses, like kube-apiserver's RequestInfoFactory:
 *   /api/v1/namespaces/{ns}/{resource}/{name}/{subresource}
 *   /apis/{group}/{version}/{resource}/{name}
 * Non-resource paths (/version, /healthz, discovery roots, /openapi) are reported as such.
 */

export interface ResourceRequest {
  kind: 'resource';
  group: string;
  version: string;
  /** Namespace from the path; '' for cluster-scoped or all-namespace requests. */
  namespace: string;
  resource: string;
  name: string;
  subresource: string;
  /** Path segments after the subresource (e.g. proxy paths); rarely used. */
  rest: string[];
}

export interface DiscoveryRequest {
  kind: 'discovery';
  /** 'api' for /api, 'apis' for /apis, 'group' for /apis/{g}, 'version' for /api/v1 and /apis/{g}/{v}. */
  level: 'api' | 'apis' | 'group' | 'version';
  group: string;
  version: string;
}

export interface OtherRequest {
  kind: 'other';
  path: string;
}

export type RequestInfo = ResourceRequest | DiscoveryRequest | OtherRequest;

export function parseRequestPath(path: string): RequestInfo {
  const parts = path.split('/').filter((p) => p !== '');
  let i: number;
  let group: string;
  if (parts[0] === 'api') {
    if (parts.length === 1) return { kind: 'discovery', level: 'api', group: '', version: '' };
    group = '';
    i = 1;
  } else if (parts[0] === 'apis') {
    if (parts.length === 1) return { kind: 'discovery', level: 'apis', group: '', version: '' };
    group = parts[1];
    if (parts.length === 2) return { kind: 'discovery', level: 'group', group, version: '' };
    i = 2;
  } else {
    return { kind: 'other', path };
  }
  const version = parts[i++];
  if (i >= parts.length) return { kind: 'discovery', level: 'version', group, version };
  let namespace = '';
  // /namespaces/{ns}/{resource}... addresses namespaced resources; /namespaces and /namespaces/{name}[/status|/finalize]
  // address the namespaces resource itself.
  if (parts[i] === 'namespaces' && parts.length - i >= 3) {
    const maybeSub = parts[i + 2];
    if (parts.length - i === 3 && (maybeSub === 'status' || maybeSub === 'finalize')) {
      return { kind: 'resource', group, version, namespace: '', resource: 'namespaces', name: parts[i + 1], subresource: maybeSub, rest: [] };
    }
    namespace = parts[i + 1];
    i += 2;
  }
  const resource = parts[i++];
  const name = parts[i++] ?? '';
  const subresource = parts[i++] ?? '';
  return { kind: 'resource', group, version, namespace, resource, name, subresource, rest: parts.slice(i) };
}
