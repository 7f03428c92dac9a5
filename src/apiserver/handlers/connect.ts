/**
 * Subresources that stream or proxy (endpoints/handlers/rest.go ConnectResource): pods/log, exec, attach,
 * portforward, proxy; nodes/proxy; services/proxy. The API server authenticates, authorizes, admits (CONNECT) and
 * finds the object; what to connect to is a target plugged in by the component that serves it (the node agent).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../../api/object.js';
import { badRequest, methodNotAllowed, StatusError } from '../../api/status.js';
import type { UserInfo } from '../auth/user-info.js';
import type { SubresourceDefinition } from '../registry/types.js';
import type { ApiRequest, RequestScope } from './scope.js';
import { parseBool } from './decode.js';

export interface ConnectRequest {
  req: IncomingMessage;
  res: ServerResponse;
  user: UserInfo;
  /** The object the subresource belongs to, as stored. */
  object: KubeObject;
  subresource: string;
  /** Path segments after the subresource (proxy paths). */
  rest: string[];
  /**
   * For `schemeNamePort` subresources: the path after the subresource as sent, percent-decoded: '' when the URL ends
   * at the subresource, else starting with '/' and keeping a trailing '/' (proxies redirect '' and pass '/' on).
   */
  restPath: string;
  query: URLSearchParams;
  /** For a subresource whose name is `scheme:name:port` (pods/proxy, services/proxy): its scheme and port, or ''. */
  scheme: string;
  port: string;
}

/** Serves one connect subresource; keyed by `<resource>/<subresource>`, e.g. `pods/log`. */
export type ConnectTarget = (c: ConnectRequest) => Promise<void>;

/**
 * utilnet.SplitSchemeNamePort: `name`, `name:port` or `scheme:name:port` with scheme http, https or empty; undefined
 * when the id is none of these (upstream answers "invalid <kind> request").
 */
export function splitSchemeNamePort(id: string): { scheme: string; name: string; port: string } | undefined {
  const parts = id.split(':');
  let scheme = '';
  let name: string;
  let port = '';
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) [name, port] = parts as [string, string];
  else if (parts.length === 3) [scheme, name, port] = parts as [string, string, string];
  else return undefined;
  if (name === '' || !['', 'http', 'https'].includes(scheme)) return undefined;
  return { scheme, name, port };
}

/** A path segment as Go's server hands it to handlers: percent-decoded (a malformed escape is a 400). */
function decodePath(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw badRequest(`invalid URL escape in ${JSON.stringify(text)}`);
  }
}

/** What follows the subresource segment in `path`, given that `restSegments` non-empty segments do. */
export function restPathOf(path: string, restSegments: number): string {
  const segs = path.split('/');
  let k = segs.length;
  let seen = 0;
  while (k > 0) {
    if (segs[k - 1] !== '') {
      if (seen === restSegments) break;
      seen++;
    }
    k--;
  }
  return k < segs.length ? `/${segs.slice(k).join('/')}` : '';
}

export async function connectResource(scope: RequestScope, r: ApiRequest, sub: SubresourceDefinition, targets: ReadonlyMap<string, ConnectTarget>): Promise<void> {
  if (!sub.connect?.methods.includes(r.req.method ?? 'GET')) throw methodNotAllowed();
  const def = scope.storageOf(r.def);
  let name = r.info.name;
  let scheme = '';
  let port = '';
  if (sub.connect.schemeNamePort) {
    // pod.ResourceLocation, service ResourceLocation: the object is found by the name alone.
    const id = decodePath(name);
    const parsed = splitSchemeNamePort(id);
    if (!parsed) throw badRequest(`invalid ${r.def.singular} request ${JSON.stringify(id)}`);
    ({ scheme, name, port } = parsed);
  }
  const item = await scope.ops.get(def, r.info.namespace, name);
  // CONNECT admission (webhooks, policies) sees the options object; pods/log is a streaming GET upstream, not admitted.
  const options = connectOptions(def.kind, sub.name, r.query);
  if (options) await scope.ops.admitConnect(def, r.info.namespace, name, sub.name, options, { user: r.user });
  const key = `${def.plural}/${sub.name}`;
  const target = targets.get(key);
  if (!target) {
    throw new StatusError({
      message: `${key} is not available: no node agent in this cluster serves it yet`,
      reason: 'ServiceUnavailable',
      code: 503,
    });
  }
  const rest = r.info.parts.slice(r.info.subresourceIndex + 1);
  // Only the proxies of pods and services read it; the others keep their path as it came.
  const restPath = sub.connect.schemeNamePort ? decodePath(restPathOf(new URL(r.req.url ?? '/', 'https://skiff').pathname, rest.length)) : '';
  await target({ req: r.req, res: r.res, user: r.user, object: item.obj, subresource: sub.name, rest, restPath, query: r.query, scheme, port });
}

/** The options object upstream decodes from a connect request's query (PodExecOptions, ...), or undefined for pods/log. */
export function connectOptions(kind: string, subresource: string, query: URLSearchParams): KubeObject | undefined {
  // Decoded as upstream's parameter codec does (Go's strconv.ParseBool): `stdin=yes` is 400, not false.
  const bool = (k: string) => parseBool(k, query.get(k)) ?? false;
  const object = (optionsKind: string, fields: Record<string, unknown>): KubeObject => {
    const out: Record<string, unknown> = { kind: optionsKind, apiVersion: 'v1' };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0)) out[k] = v;
    return out as unknown as KubeObject;
  };
  const container = query.get('container') ?? undefined;
  const path = query.get('path') ?? undefined;
  switch (`${kind}/${subresource}`) {
    case 'Pod/exec':
      return object('PodExecOptions', { stdin: bool('stdin'), stdout: bool('stdout'), stderr: bool('stderr'), tty: bool('tty'), container, command: query.getAll('command') });
    case 'Pod/attach':
      return object('PodAttachOptions', { stdin: bool('stdin'), stdout: bool('stdout'), stderr: bool('stderr'), tty: bool('tty'), container });
    case 'Pod/portforward':
      return object('PodPortForwardOptions', { ports: query.getAll('ports').map(Number).filter((p) => Number.isInteger(p)) });
    case 'Pod/proxy':
      return object('PodProxyOptions', { path });
    case 'Service/proxy':
      return object('ServiceProxyOptions', { path });
    case 'Node/proxy':
      return object('NodeProxyOptions', { path });
    default:
      return undefined;
  }
}
