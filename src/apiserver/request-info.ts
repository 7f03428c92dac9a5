/**
 * What a request addresses, parsed as kube-apiserver's RequestInfoFactory does (k8s.io/apiserver/pkg/endpoints/
 * request/requestinfo.go), because authorization decides on exactly these attributes:
 *   /api/v1/namespaces/{ns}/{resource}/{name}/{subresource}/...      core group
 *   /apis/{group}/{version}/{resource}/{name}/...                     named groups
 *   /apis/{group}/{version}/watch/{resource}...                       the legacy watch prefix
 * Shorter paths under /api and /apis (discovery) and every other path (/version, /healthz, /openapi/v3) are
 * non-resource requests, whose verb is the lower-cased HTTP method.
 */
import { badRequest } from '../api/status.js';

export interface ResourceRequestInfo {
  isResourceRequest: true;
  path: string;
  /** get, list, watch, create, update, patch, delete, deletecollection. */
  verb: string;
  apiPrefix: 'api' | 'apis';
  apiGroup: string;
  apiVersion: string;
  /** As upstream: also set for the namespaces resource itself (`/api/v1/namespaces/foo` has namespace foo). */
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** The path from the resource on: resource/name/subresource/rest... */
  parts: string[];
  /** Index in parts of the subresource (2); what follows it is a proxy path. */
  subresourceIndex: number;
}

export interface NonResourceRequestInfo {
  isResourceRequest: false;
  path: string;
  verb: string;
}

export type RequestInfo = ResourceRequestInfo | NonResourceRequestInfo;

/** Subresources that follow a namespace's name rather than name a namespaced resource. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

const METHOD_VERBS: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

export function parseRequestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const nonResource: NonResourceRequestInfo = { isResourceRequest: false, path, verb: method.toLowerCase() };
  // Every request is parsed: split once, skipping empty segments (`//`, a trailing `/`), no further copies.
  const all = path.split('/');
  const parts: string[] = [];
  for (const p of all) if (p !== '') parts.push(p);
  if (parts.length < 3) return nonResource;
  const apiPrefix = parts[0];
  if (apiPrefix !== 'api' && apiPrefix !== 'apis') return nonResource;
  let i = 1;
  let apiGroup = '';
  if (apiPrefix === 'apis') {
    if (parts.length < 4) return nonResource;
    apiGroup = parts[i++];
  }
  const apiVersion = parts[i++];
  let verb: string;
  if (parts[i] === 'watch') {
    if (parts.length - i < 2) throw badRequest(`unable to determine kind and namespace from url ${path}`);
    verb = 'watch';
    i++;
  } else {
    // Methods without a verb of their own (OPTIONS) keep their lower-cased name, as upstream's RequestInfoFactory.
    verb = METHOD_VERBS[method] ?? method.toLowerCase();
  }
  let namespace = '';
  if (parts[i] === 'namespaces' && parts.length - i > 1) {
    namespace = parts[i + 1];
    if (parts.length - i > 2 && !NAMESPACE_SUBRESOURCES.has(parts[i + 2])) i += 2;
  }
  const rest = i === 0 ? parts : parts.slice(i);
  const resource = rest[0] ?? '';
  const name = unescapeSegment(rest[1] ?? '', path);
  if (namespace.includes('%')) namespace = unescapeSegment(namespace, path);
  const subresource = rest[2] ?? '';
  if (name === '' && verb === 'get') verb = isWatchQuery(query) ? 'watch' : 'list';
  if (name === '' && verb === 'delete') verb = 'deletecollection';
  return { isResourceRequest: true, path, verb, apiPrefix, apiGroup, apiVersion, namespace, resource, subresource, name, parts: rest, subresourceIndex: 2 };
}

/** `watch=<bool>` as the parameter codec reads it (Go's strconv.ParseBool; an unparsable value still watches). */
function isWatchQuery(query: URLSearchParams): boolean {
  const v = query.get('watch');
  if (v === null || v === '') return false;
  const lower = v.toLowerCase();
  return lower !== 'false' && lower !== '0' && lower !== 'f';
}

/**
 * Go decodes the URL path before RequestInfoFactory splits it, so authorization and storage see `web:8080` where a
 * client sent `web%3A8080` (client libraries escape the `:` of proxy names). What follows the subresource (a proxy
 * path) stays as sent.
 */
function unescapeSegment(segment: string, path: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`invalid escape in the URL path ${path}`);
  }
}
