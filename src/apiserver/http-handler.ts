/**
 * The API server's front door, as kube-apiserver's handler chain: authenticate -> parse the request info ->
 * authorize -> dispatch to the handler of the verb (handlers/) or to a non-resource endpoint (health, version,
 * discovery, OpenAPI). Nothing here knows a particular resource; resource rules live in the registry.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Auditor } from './audit/auditor.js';
import { internalError, isStatusError, methodNotAllowed, pathNotFound, StatusError, unauthorized } from '../api/status.js';
import { alwaysAllow, forbiddenError, type AuthorizationAttributes, type Authorizer } from './auth/authorizer.js';
import type { UserInfo } from './auth/user-info.js';
import type { DelegatedGroup } from './delegated-groups.js';
import type { Discovery } from './discovery.js';
import { applyResource } from './handlers/apply.js';
import { connectResource, type ConnectTarget } from './handlers/connect.js';
import { createResource } from './handlers/create.js';
import { isApplyPatch } from './handlers/decode.js';
import { deleteCollection, deleteResource } from './handlers/delete.js';
import { getResource } from './handlers/get.js';
import { listResource } from './handlers/list.js';
import { patchResource } from './handlers/patch.js';
import { sendJson } from './handlers/respond.js';
import { RequestScope, type ApiRequest, type HandlerExtensions } from './handlers/scope.js';
import { serveDeclared, serveScale, serveStatus } from './handlers/subresource.js';
import { updateResource } from './handlers/update.js';
import { DEFAULT_WATCH_LIMITS, WatchRegistry, watchResource, type WatchLimits } from './handlers/watch.js';
import { negotiateDiscovery, parseAccept } from './negotiation.js';
import type { ResourceRegistry } from './registry/resource-registry.js';
import type { ResourceDefinition } from './registry/types.js';
import { parseRequestInfo, type RequestInfo, type ResourceRequestInfo } from './request-info.js';
import type { ResourceOps } from './resource-ops.js';
import { isClientDisconnect } from '../log/client-disconnect.js';
import { createLogger } from '../log/logger.js';
import { dryRunValues, requestCell, type RequestCell, type RequestLabelInput } from '../observability/apiserver-metrics.js';
import { controlPlaneRegistry, instrumentationEnabled, serveMetrics } from '../observability/registries.js';

const log = createLogger('apiserver');

export type { HandlerExtensions } from './handlers/scope.js';

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  goVersion: string;
  compiler: string;
  platform: string;
}

export interface ReadyCheck {
  name: string;
  ok: boolean;
  reason?: string;
}

export interface HandlerOptions {
  ops: ResourceOps;
  /** The served resources: a plain list, or the server's registry, which custom resources join and leave. */
  resources: readonly ResourceDefinition[] | ResourceRegistry;
  discovery: Discovery;
  /** A plain value when the answer is at hand (client certificates), a promise otherwise. */
  authenticate(req: IncomingMessage): UserInfo | undefined | Promise<UserInfo | undefined>;
  /** Decides every request after authentication (default: AlwaysAllow until RBAC lands). */
  authorizer?: Authorizer;
  /**
   * User impersonation (Impersonate-User, -Group, -Uid, -Extra-*): the user the request acts as, once the
   * authenticated one is authorized to impersonate it (auth/rbac/impersonation.ts). Without it the headers are ignored.
   */
  impersonate?(req: IncomingMessage, user: UserInfo): UserInfo | Promise<UserInfo>;
  version: VersionInfo;
  /** Named checks for /readyz; /livez gets the ones that are about the process only. */
  readyChecks(): ReadyCheck[];
  liveChecks?(): ReadyCheck[];
  extensions?: HandlerExtensions;
  /** Interval between watch bookmarks (upstream sends about one a minute). */
  bookmarkIntervalMs?: number;
  watchLimits?: Partial<WatchLimits>;
  /** PEM of the cluster CA, served at /cacerts. */
  caCertPem?: string;
  /** Targets of the streaming subresources, keyed `<resource>/<subresource>` (e.g. `pods/log`). */
  connectTargets?: ReadonlyMap<string, ConnectTarget>;
  /** Documents at fixed non-resource paths, served to GETs after authorization (OIDC discovery: `/openid/v1/jwks`). */
  documents?: ReadonlyMap<string, { contentType: string; body(): string }>;
  /**
   * Further non-resource endpoints of any method, served after authentication and authorization (verb: the lower-case
   * method): true when it served the path (skiff's /v1-skiff/encrypt/*).
   */
  endpoints?(req: IncomingMessage, res: ServerResponse, path: string): boolean;
  /** Audit events of every request after authentication (--audit-policy-file, --audit-log-path). */
  audit?: Auditor;
  /** Maps errors of the datastore to the Status clients get (e.g. a full disk). */
  translateError?(err: unknown): StatusError | undefined;
  /** Group versions served by code of their own (metrics.k8s.io: ../metrics/), after authorization. */
  delegatedGroups?: readonly DelegatedGroup[];
  /**
   * Static files served before authentication (the web console's page and scripts at /console: ../console/). They hold
   * no data; what the page shows comes from API requests made with the user's own credentials.
   */
  staticFiles?: StaticFiles;
}

export interface StaticFiles {
  /** True when the path is one of these files' (checked before authentication, so keep it a prefix test). */
  owns(path: string): boolean;
  /** Answers the request, or throws a StatusError. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): void;
}

/**
 * Health endpoints answer without credentials, like kube-apiserver's anonymous access to them; /cacerts serves the
 * cluster CA to joining agents, which check it against the hash in their K10 token before trusting it (k3s).
 */
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/cacerts']);
/** One check of a health endpoint, e.g. /readyz/etcd (kube-apiserver installs a path per check). */
const HEALTH_CHECK_PATH = /^\/(healthz|livez|readyz)\/([^/]+)$/;

export class ApiHandler {
  private readonly scope: RequestScope;
  private readonly watches: WatchRegistry;
  private readonly authorizer: Authorizer;
  private readonly connectTargets: ReadonlyMap<string, ConnectTarget>;

  constructor(private readonly opts: HandlerOptions) {
    this.scope = new RequestScope(opts.ops, opts.resources, opts.extensions ?? {});
    this.watches = new WatchRegistry({ ...DEFAULT_WATCH_LIMITS, ...(opts.bookmarkIntervalMs ? { bookmarkIntervalMs: opts.bookmarkIntervalMs } : {}), ...opts.watchLimits });
    this.authorizer = opts.authorizer ?? alwaysAllow;
    this.connectTargets = opts.connectTargets ?? new Map();
  }

  /** Ends every open watch (graceful shutdown). */
  closeWatches(): void {
    this.watches.closeAll();
  }

  get watchCount(): number {
    return this.watches.size;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (!instrumentationEnabled) {
      this.serve(req, res).catch((err) => this.fail(req, res, err));
      return;
    }
    // apiserver_request_total and _duration_seconds (../observability): the cell is picked once the request is routed
    // to a served resource, and records the code and duration when the handler is done (a watch: when it ends).
    const started = performance.now();
    const metrics: RequestMetrics = {};
    this.serve(req, res, metrics).then(
      () => metrics.cell?.finish(res, started),
      (err) => {
        this.fail(req, res, err);
        metrics.cell?.finish(res, started);
      },
    );
  };

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (isClientDisconnect(err) || res.destroyed || (req.socket as { destroyed?: boolean } | undefined)?.destroyed === true) {
      // The client went away mid-request: not an error of the server's.
      if (!res.writableEnded) res.destroy();
      return;
    }
    let status: StatusError | undefined = isStatusError(err) ? err : this.opts.translateError?.(err);
    if (!status) {
      log.error('internal error', { method: req.method, url: req.url, err });
      status = internalError(err);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status.status.details?.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(status.status.details.retryAfterSeconds));
    sendJson(res, status.code, JSON.stringify(status.status));
  }

  private async serve(req: IncomingMessage, res: ServerResponse, metrics?: RequestMetrics): Promise<void> {
    const url = splitRequestUrl(req.url ?? '/');
    const path = url.pathname;
    if (PUBLIC_PATHS.has(path) || HEALTH_CHECK_PATH.test(path)) return this.servePublic(req, res, path, url.searchParams);
    if (this.opts.staticFiles?.owns(path)) return this.opts.staticFiles.serve(req, res, path);
    const authenticated = this.opts.authenticate(req);
    let user = authenticated instanceof Promise ? await authenticated : authenticated;
    if (!user) throw unauthorized();
    const authenticatedUser = user;
    if (this.opts.impersonate) {
      const acting = this.opts.impersonate(req, user);
      user = acting instanceof Promise ? await acting : acting;
    }
    const info = parseRequestInfo(req.method ?? 'GET', path, url.searchParams);
    const attrs = authorizationAttributes(user, info, url.searchParams);
    const pending = this.authorizer.authorize(attrs);
    // Most authorizers answer at once; awaiting a plain value would still cost every request a turn of the queue.
    const decision = pending instanceof Promise ? await pending : pending;
    this.opts.audit?.begin(req, res, {
      attrs,
      user: authenticatedUser,
      ...(user !== authenticatedUser ? { acting: user } : {}),
      decision: decision.decision === 'allow' ? 'allow' : 'forbid',
      ...(decision.reason ? { reason: decision.reason } : {}),
    });
    if (decision.decision !== 'allow') throw forbiddenError(attrs, decision.reason);
    if (!info.isResourceRequest) return this.serveNonResource(req, res, path, url.searchParams);
    return this.serveResource(req, res, info, url.searchParams, user, metrics);
  }

  private servePublic(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed();
    if (path === '/cacerts') {
      if (!this.opts.caCertPem) throw pathNotFound();
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(this.opts.caCertPem) });
      res.end(this.opts.caCertPem);
      return;
    }
    const one = HEALTH_CHECK_PATH.exec(path);
    const endpoint = one ? one[1] : path.slice(1);
    const checks = endpoint === 'livez' ? (this.opts.liveChecks?.() ?? [{ name: 'ping', ok: true }]) : this.opts.readyChecks();
    if (one) {
      // healthz.adaptCheckToHandler: "ok", or 500 naming the failure; an unknown check is 404.
      const check = checks.find((c) => c.name === one[2]);
      if (!check) throw pathNotFound();
      const text = check.ok ? 'ok' : `internal server error: ${check.name} check failed\n`;
      res.writeHead(check.ok ? 200 : 500, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const name = endpoint;
    const ok = checks.every((c) => c.ok);
    let body = ok ? 'ok' : `${name} check failed`;
    if (query.has('verbose') || !ok) {
      // kube-apiserver's healthz format; failure reasons are withheld from the response as upstream does.
      const lines = checks.map((c) => (c.ok ? `[+]${c.name} ok` : `[-]${c.name} failed: reason withheld`));
      body = `${lines.join('\n')}\n${name} ${ok ? 'check passed' : 'check failed'}\n`;
    }
    res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  private serveNonResource(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): void | Promise<void> {
    if (this.opts.endpoints?.(req, res, path)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed();
    // Prometheus metrics, for those granted the non-resource URL (system:monitoring).
    if (path === '/metrics') return serveMetrics(controlPlaneRegistry(), req, res);
    if (path === '/version' || path === '/version/') return sendJson(res, 200, JSON.stringify(this.opts.version));
    const parts = path.split('/').filter((p) => p !== '');
    if (parts[0] === 'api' || parts[0] === 'apis') return this.serveDiscovery(req, res, parts);
    if (path.startsWith('/openapi/') && this.scope.ext.serveOpenApi?.(path, query, res)) return;
    const doc = this.opts.documents?.get(path);
    if (doc) return sendJson(res, 200, doc.body(), doc.contentType);
    throw pathNotFound();
  }

  private serveDiscovery(req: IncomingMessage, res: ServerResponse, parts: string[]): void {
    const d = this.opts.discovery;
    if (parts.length === 1) {
      const root = parts[0] as 'api' | 'apis';
      const format = negotiateDiscovery(parseAccept(req.headers.accept));
      if (format !== 'legacy') {
        const ct = `application/json;g=apidiscovery.k8s.io;v=${format};as=APIGroupDiscoveryList`;
        return sendJson(res, 200, d.aggregated(root, format), ct, { Vary: 'Accept' });
      }
      return sendJson(res, 200, root === 'api' ? d.apiVersions() : d.apiGroupList(), 'application/json', { Vary: 'Accept' });
    }
    const [group, version] = parts[0] === 'api' ? ['', parts[1]] : parts.length === 2 ? [parts[1], ''] : [parts[1], parts[2]];
    const doc = version === '' ? d.apiGroup(group) : d.apiResourceList(group, version);
    if (!doc) throw pathNotFound();
    return sendJson(res, 200, doc);
  }

  private async serveResource(req: IncomingMessage, res: ServerResponse, info: ResourceRequestInfo, query: URLSearchParams, user: UserInfo, metrics?: RequestMetrics): Promise<void> {
    // Looked up per request: the aggregator changes the list as APIServices come and go.
    const groups = this.opts.delegatedGroups;
    const delegated = groups?.length ? groups.find((g) => g.group === info.apiGroup && g.version === info.apiVersion) : undefined;
    if (delegated) return delegated.serve({ req, res, info, query, user });
    const def = this.scope.lookup(info.apiGroup, info.apiVersion, info.resource);
    if (!def) throw pathNotFound();
    if (!def.namespaced) {
      // Only the namespaces resource has a namespace in its own path; other cluster-scoped kinds have none.
      if (info.namespace && info.resource !== 'namespaces') throw pathNotFound();
      info = { ...info, namespace: '' };
    } else if (info.name && !info.namespace) {
      throw pathNotFound();
    }
    if (metrics && servesSubresource(def, info.subresource)) {
      const { verb, apiGroup, apiVersion, resource, subresource, namespace, name } = info;
      const labels: RequestLabelInput = { method: req.method ?? 'GET', verb, apiGroup, apiVersion, resource, subresource, namespace, name, contentType: req.headers['content-type'], dryRun: dryRunValues(query) };
      metrics.cell = requestCell(labels, def);
    }
    const r: ApiRequest = { req, res, info, query, user, def, warnings: [] };
    const method = req.method ?? 'GET';

    if (def.virtual) {
      if (method !== 'POST' || info.name) throw methodNotAllowed();
      const obj = await this.scope.readObject(r);
      obj.apiVersion = def.group ? `${def.group}/${def.version}` : def.version;
      obj.kind = def.kind;
      return sendJson(res, 201, JSON.stringify(await def.virtual(obj, user, info.namespace)));
    }

    if (info.subresource) return this.serveSubresource(r, method);
    if (info.parts.length > 2) throw pathNotFound();

    switch (info.verb) {
      case 'get':
        return getResource(this.scope, r);
      case 'list':
        return listResource(this.scope, r);
      case 'watch':
        if (info.name) throw methodNotAllowed();
        return watchResource(this.scope, r, this.watches);
      case 'create':
        if (info.name) throw methodNotAllowed();
        return createResource(this.scope, r);
      case 'update':
        return updateResource(this.scope, r, '');
      case 'patch':
        return isApplyPatch(req) ? applyResource(this.scope, r, '') : patchResource(this.scope, r, '');
      case 'delete':
        return deleteResource(this.scope, r);
      case 'deletecollection':
        if (def.verbs && !def.verbs.includes('deletecollection')) throw methodNotAllowed();
        return deleteCollection(this.scope, r);
      default:
        throw methodNotAllowed();
    }
  }

  private serveSubresource(r: ApiRequest, method: string): Promise<void> {
    const { def, info } = r;
    if (info.subresource === 'status' && def.hasStatus && info.parts.length === 3) return serveStatus(this.scope, r);
    if (info.subresource === 'scale' && def.scale && info.parts.length === 3) return serveScale(this.scope, r);
    const sub = def.subresources?.find((s) => s.name === info.subresource);
    if (!sub) throw pathNotFound();
    if (sub.connect) return connectResource(this.scope, r, sub, this.connectTargets);
    if (sub.view && info.parts.length === 3) return serveStatus(this.scope, r, sub.name);
    if (info.parts.length > 3) throw pathNotFound();
    if (method === 'GET' && !sub.verbs.includes('get')) throw methodNotAllowed();
    return serveDeclared(this.scope, r, sub);
  }
}

/** Where a request's metrics cell goes once the request is routed (undefined: not counted, e.g. an unknown path). */
interface RequestMetrics {
  cell?: RequestCell;
}

/** Only subresources the resource has get metric series: label values stay a closed set. */
function servesSubresource(def: ResourceDefinition, subresource: string): boolean {
  if (subresource === '') return true;
  if (subresource === 'status') return !!def.hasStatus;
  if (subresource === 'scale') return !!def.scale;
  return def.subresources?.some((s) => s.name === subresource) ?? false;
}

/**
 * Paths the WHATWG parser returns unchanged: only characters it never escapes, and no dot segment it would resolve
 * (`/.`, or `.` escaped as `%2e`). Anything else (and every `//`, `\\` or `#`) goes through `new URL`.
 */
const PLAIN_PATH = /^\/(?!\/)[\w\-.~!$&'()*+,;=:@%/]*$/;
const DOT_SEGMENT = /\/\.|%2e/i;

/**
 * The path and query of a request target: split at the `?` when the path is already in the form `new URL` would give
 * (the usual case, and a full URL parse costs about 5 µs per request), else parsed as a URL.
 */
export function splitRequestUrl(target: string): { pathname: string; searchParams: URLSearchParams } {
  const q = target.indexOf('?');
  const pathname = q < 0 ? target : target.slice(0, q);
  if (PLAIN_PATH.test(pathname) && !DOT_SEGMENT.test(pathname) && !target.includes('#')) {
    return { pathname, searchParams: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)) };
  }
  const url = new URL(target, 'https://skiff');
  return { pathname: url.pathname, searchParams: url.searchParams };
}

function authorizationAttributes(user: UserInfo, info: RequestInfo, query: URLSearchParams): AuthorizationAttributes {
  if (!info.isResourceRequest) {
    return { user, verb: info.verb, isResourceRequest: false, path: info.path, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
  }
  return {
    user,
    verb: info.verb,
    isResourceRequest: true,
    path: info.path,
    apiGroup: info.apiGroup,
    apiVersion: info.apiVersion,
    resource: info.resource,
    subresource: info.subresource,
    namespace: info.namespace,
    name: info.name || (info.verb === 'list' || info.verb === 'watch' ? nameFromFieldSelector(query) : ''),
  };
}

/**
 * A list or watch of one object by `fieldSelector=metadata.name=<name>` is authorized as a request for that name, as
 * kube-apiserver's RequestInfoFactory sets Name from it (the Node authorizer and RBAC resourceNames rely on it; the
 * kubelet watches single Secrets and ConfigMaps so).
 */
function nameFromFieldSelector(query: URLSearchParams): string {
  const selector = query.get('fieldSelector');
  if (!selector) return '';
  for (const term of selector.split(',')) {
    const m = /^\s*metadata\.name\s*==?\s*([^\s\\]*)\s*$/.exec(term);
    // path.IsValidPathSegmentName: not '.', '..', and no '/' or '%'.
    if (m && m[1] !== '' && m[1] !== '.' && m[1] !== '..' && !/[/%]/.test(m[1]!)) return m[1]!;
  }
  return '';
}

