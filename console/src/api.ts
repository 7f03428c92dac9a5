/**
 * Requests to the API server of the origin the page came from, with the user's credentials: a bearer token pasted at
 * login (kept in sessionStorage, gone when the tab closes) or, without one, the browser's client certificate (the
 * same TLS connection kubectl's certificate would use, once the user imported it into the browser).
 */

const TOKEN_KEY = 'skiff.console.token';

export interface ResourceType {
  group: string;
  version: string;
  /** The plural resource name of the URL. */
  plural: string;
  kind: string;
  namespaced: boolean;
}

const rt = (group: string, version: string, plural: string, kind: string, namespaced = true): ResourceType => ({ group, version, plural, kind, namespaced });

export const Pods = rt('', 'v1', 'pods', 'Pod');
export const Nodes = rt('', 'v1', 'nodes', 'Node', false);
export const Namespaces = rt('', 'v1', 'namespaces', 'Namespace', false);
export const Events = rt('', 'v1', 'events', 'Event');
export const Deployments = rt('apps', 'v1', 'deployments', 'Deployment');
export const ReplicaSets = rt('apps', 'v1', 'replicasets', 'ReplicaSet');
export const StatefulSets = rt('apps', 'v1', 'statefulsets', 'StatefulSet');
export const DaemonSets = rt('apps', 'v1', 'daemonsets', 'DaemonSet');
export const Jobs = rt('batch', 'v1', 'jobs', 'Job');
export const CronJobs = rt('batch', 'v1', 'cronjobs', 'CronJob');
export const NodeMetricsType = rt('metrics.k8s.io', 'v1beta1', 'nodes', 'NodeMetrics', false);
export const PodMetricsType = rt('metrics.k8s.io', 'v1beta1', 'pods', 'PodMetrics');

export function getToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function setToken(token: string | undefined): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A Kubernetes Status from a failed request (or one made up for a network failure, code 0). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly reason: string,
  ) {
    super(message);
  }
}

/** Called when a request gets 401, so the page can ask for a token again. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export function resourcePath(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  let path = type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  if (type.namespaced && namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${type.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource) path += `/${subresource}`;
  return path;
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export interface RequestOptions {
  method?: string;
  body?: string;
  contentType?: string;
  signal?: AbortSignal;
}

/** Sends a request and returns the response, or throws ApiError with the server's Status message. */
export async function send(path: string, opts: RequestOptions = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? 'GET',
      headers: { Accept: 'application/json', ...authHeaders(), ...(opts.contentType ? { 'Content-Type': opts.contentType } : {}) },
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      credentials: 'same-origin',
      cache: 'no-store',
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(`cannot reach the API server: ${(err as Error).message}`, 0, 'NetworkError');
  }
  if (res.ok) return res;
  if (res.status === 401) onUnauthorized();
  throw await statusError(res);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await (await send(path, signal ? { signal } : {})).json()) as T;
}

async function statusError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const status = JSON.parse(text) as { message?: string; reason?: string; code?: number };
    if (status && typeof status.message === 'string') return new ApiError(status.message, status.code ?? res.status, status.reason ?? '');
  } catch {
    // not a Status: fall through to the raw text
  }
  return new ApiError(`${res.status} ${res.statusText}: ${text.slice(0, 300)}`, res.status, '');
}

/** The resource types the server serves, by apiVersion and kind (for applying YAML of any kind). */
const discoveryCache = new Map<string, Promise<ResourceType[]>>();

export async function resourceTypeFor(apiVersion: string, kind: string): Promise<ResourceType> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
  const key = `${group}/${version}`;
  let list = discoveryCache.get(key);
  if (!list) {
    const path = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
    list = getJson<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(path).then((doc) =>
      doc.resources.filter((r) => !r.name.includes('/')).map((r) => rt(group!, version!, r.name, r.kind, r.namespaced)),
    );
    discoveryCache.set(key, list);
    list.catch(() => discoveryCache.delete(key));
  }
  const found = (await list).find((r) => r.kind === kind);
  if (!found) throw new ApiError(`no matches for kind "${kind}" in version "${apiVersion}"`, 404, 'NotFound');
  return found;
}

/** Server-side apply of one object given as YAML or JSON text (the server parses it; field manager skiff-console). */
export async function applyObject(type: ResourceType, namespace: string | undefined, name: string, text: string, force: boolean): Promise<unknown> {
  const query = new URLSearchParams({ fieldManager: 'skiff-console' });
  if (force) query.set('force', 'true');
  const res = await send(`${resourcePath(type, namespace, name)}?${query}`, { method: 'PATCH', body: text, contentType: 'application/apply-patch+yaml' });
  return res.json();
}
