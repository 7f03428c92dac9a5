/**
 * The HTTP face of the API server: authentication, routing, content negotiation, body decoding, and the
 * resource verbs (get, list, watch, create, update, patch, delete, deletecollection) plus the subresources
 * status, scale, binding and finalize. Storage semantics live in ResourceOps; this file only speaks HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../api/object.js';
import { groupVersion } from '../api/object.js';
import {
  badRequest,
  conflict,
  internalError,
  invalid,
  isStatusError,
  methodNotAllowed,
  notAcceptable,
  notFound,
  pathNotFound,
  requestEntityTooLarge,
  StatusError,
  unauthorized,
  unsupportedMediaType,
} from '../api/status.js';
import { applyConflictError, fieldManagerOf, recordUpdate, serverSideApply } from './apply/apply.js';
import { inProcessUser } from './in-process-transport.js';
import type { UserInfo } from './auth/user-info.js';
import { Discovery, subresourcesOf } from './discovery.js';
import { buildFilter, everythingFilter, type ObjectFilter } from './filters.js';
import { negotiateDiscovery, negotiateTable, parseAccept, parseMediaType, TABLE_CONTENT_TYPE, type MediaType } from './negotiation.js';
import type { ResourceDefinition } from './registry/types.js';
import { parseRequestPath, type ResourceRequest } from './request-info.js';
import { parseResourceVersion, ResourceOps, type DeleteOptions, type WriteOptions } from './resource-ops.js';
import { parseIncludeObject, renderTable, tableRow, type TableOptions } from './table.js';
import type { CacheEvent, CachedObject } from './watch-cache.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

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

/** Optional pieces supplied by other modules (OpenAPI, patching, protobuf, strict validation). */
export interface HandlerExtensions {
  /** Applies a patch of the given content type; returns the patched object. */
  applyPatch?(contentType: string, original: KubeObject, patch: unknown, def: ResourceDefinition): KubeObject;
  /** Decodes a `application/vnd.kubernetes.protobuf` body to JSON form. */
  decodeProtobuf?(body: Buffer): KubeObject;
  /**
   * Checks a decoded object against its schema: wrong-typed values (reported), unknown fields (reported, for
   * fieldValidation), and null fields (removed, as Go decodes them to zero values). Mutates obj.
   */
  checkDecoded?(def: ResourceDefinition, obj: unknown): { unknown: string[]; typeErrors: string[] };
  /** Serves /openapi/v3 and /openapi/v3/<gv>; returns false when the path is not an OpenAPI document. */
  serveOpenApi?(path: string, query: URLSearchParams, res: ServerResponse): boolean;
}

export interface HandlerOptions {
  ops: ResourceOps;
  resources: ResourceDefinition[];
  discovery: Discovery;
  authenticate(req: IncomingMessage): Promise<UserInfo | undefined>;
  version: VersionInfo;
  /** Named readiness checks for /readyz and /livez. */
  readyChecks(): { name: string; ok: boolean; reason?: string }[];
  extensions?: HandlerExtensions;
  /** Interval between watch bookmarks (upstream sends about one a minute). */
  bookmarkIntervalMs?: number;
  /** PEM of the cluster CA, served at /cacerts. */
  caCertPem?: string;
}

const APPLY_PATCH_TYPE = 'application/apply-patch+yaml';

const PATCH_TYPES = new Set([
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
]);

/**
 * Health endpoints answer without credentials, like kube-apiserver's anonymous access to them; /cacerts serves the
 * cluster CA to joining agents, which check it against the hash in their K10 token before trusting it (k3s).
 */
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/cacerts']);

export class ApiHandler {
  private readonly byGVR = new Map<string, ResourceDefinition>();
  private readonly namespaces: ResourceDefinition;
  private readonly bookmarkIntervalMs: number;
  private readonly ext: HandlerExtensions;
  /** Warnings for a request's response (unknown fields under fieldValidation=Warn). */
  private readonly warnings = new WeakMap<IncomingMessage, string[]>();
  /** Open watch responses, ended on shutdown. */
  private readonly openWatches = new Set<ServerResponse>();

  constructor(private readonly opts: HandlerOptions) {
    for (const def of opts.resources) this.byGVR.set(`${def.group}/${def.version}/${def.plural}`, def);
    const ns = this.byGVR.get('/v1/namespaces');
    if (!ns) throw new Error('the resource registry must serve core/v1 namespaces');
    this.namespaces = ns;
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 60_000;
    this.ext = opts.extensions ?? {};
  }

  /** Ends every open watch (graceful shutdown). */
  closeWatches(): void {
    for (const res of this.openWatches) res.end();
    this.openWatches.clear();
  }

  get watchCount(): number {
    return this.openWatches.size;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.dispatch(req, res).catch((err) => this.fail(res, err));
  };

  private fail(res: ServerResponse, err: unknown): void {
    let status: StatusError;
    if (isStatusError(err)) status = err;
    else {
      console.error('apiserver: internal error:', err);
      status = internalError(err);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, status.code, JSON.stringify(status.status));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://skiff');
    const path = url.pathname;
    let user: UserInfo | undefined;
    if (!PUBLIC_PATHS.has(path)) {
      user = await this.opts.authenticate(req);
      if (!user) throw unauthorized();
    }
    const info = parseRequestPath(path);
    if (info.kind === 'other') return this.serveOther(req, res, path, url.searchParams);
    if (req.method !== 'GET' && req.method !== 'HEAD' && info.kind === 'discovery') throw methodNotAllowed();
    if (info.kind === 'discovery') return this.serveDiscovery(req, res, info.level, info.group, info.version);
    return this.serveResource(req, res, info, url.searchParams, user!);
  }

  private serveOther(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): void {
    if (path === '/version') return sendJson(res, 200, JSON.stringify(this.opts.version));
    if (path === '/cacerts' && this.opts.caCertPem) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(this.opts.caCertPem) });
      res.end(this.opts.caCertPem);
      return;
    }
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      const checks = path === '/livez' ? this.opts.readyChecks().filter((c) => c.name !== 'watch-cache-ready') : this.opts.readyChecks();
      const ok = checks.every((c) => c.ok);
      const verbose = query.has('verbose');
      let body = ok ? 'ok' : `${path.slice(1)} check failed`;
      if (verbose || !ok) {
        const lines = checks.map((c) => (c.ok ? `[+]${c.name} ok` : `[-]${c.name} failed: ${c.reason ?? 'not ready'}`));
        body = `${lines.join('\n')}\n${path.slice(1)} ${ok ? 'check passed' : 'check failed'}\n`;
      }
      res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (path.startsWith('/openapi/') && this.ext.serveOpenApi?.(path, query, res)) return;
    throw pathNotFound();
  }

  private serveDiscovery(req: IncomingMessage, res: ServerResponse, level: string, group: string, version: string): void {
    const d = this.opts.discovery;
    if (level === 'api' || level === 'apis') {
      const format = negotiateDiscovery(parseAccept(req.headers.accept));
      if (format !== 'legacy') {
        const ct = `application/json;g=apidiscovery.k8s.io;v=${format};as=APIGroupDiscoveryList`;
        return sendJson(res, 200, d.aggregated(level, format), ct, { Vary: 'Accept' });
      }
      return sendJson(res, 200, level === 'api' ? d.apiVersions() : d.apiGroupList(), 'application/json', { Vary: 'Accept' });
    }
    if (level === 'group') {
      const doc = d.apiGroup(group);
      if (!doc) throw pathNotFound();
      return sendJson(res, 200, doc);
    }
    const doc = d.apiResourceList(group, version);
    if (!doc) throw pathNotFound();
    return sendJson(res, 200, doc);
  }

  private async serveResource(req: IncomingMessage, res: ServerResponse, info: ResourceRequest, query: URLSearchParams, user: UserInfo): Promise<void> {
    const def = this.byGVR.get(`${info.group}/${info.version}/${info.resource}`);
    if (!def) throw pathNotFound();
    if (def.virtual) {
      if (req.method !== 'POST' || info.name) throw methodNotAllowed();
      const obj = await this.readObject(req, def, query);
      obj.apiVersion = groupVersion(def.group, def.version);
      obj.kind = def.kind;
      return sendJson(res, 201, JSON.stringify(def.virtual(obj, user)));
    }
    if (!def.namespaced && info.namespace) throw pathNotFound();
    if (info.rest.length > 0) throw pathNotFound();
    if (info.subresource && !subresourcesOf(def).some((s) => s.name === info.subresource)) throw pathNotFound();
    const method = req.method ?? 'GET';
    const ns = info.namespace;
    if (info.name && def.namespaced && !ns) throw pathNotFound();

    if (!info.name) {
      if (method === 'GET' || method === 'HEAD') {
        const watch = query.get('watch');
        if (watch === 'true' || watch === '1') return this.watch(req, res, def, ns, query);
        return this.list(req, res, def, ns, query);
      }
      if (method === 'POST') {
        if (def.namespaced && !ns) throw methodNotAllowed();
        const obj = this.inwardForCreate(def, ns, await this.readObject(req, def, query));
        const created = await this.opts.ops.create(this.storageOf(def), ns, obj, { dryRun: isDryRun(query), recordManagedFields: this.updateRecorder(req, def, query, '') });
        return this.sendObject(req, res, def, 201, created);
      }
      if (method === 'DELETE') return this.deleteCollection(req, res, def, ns, query);
      throw methodNotAllowed();
    }

    switch (info.subresource) {
      case '':
        break;
      case 'status':
        return this.serveStatus(req, res, def, ns, info.name, query);
      case 'scale':
        return this.serveScale(req, res, def, ns, info.name, query);
      case 'binding':
        if (method !== 'POST') throw methodNotAllowed();
        return this.serveBinding(req, res, def, ns, info.name, query);
      case 'finalize':
        if (method !== 'PUT') throw methodNotAllowed();
        return this.serveFinalize(req, res, def, info.name, query);
      default:
        throw pathNotFound();
    }

    switch (method) {
      case 'GET':
      case 'HEAD': {
        const item = await this.opts.ops.get(this.storageOf(def), ns, info.name, query.get('resourceVersion') ?? undefined);
        return this.sendObject(req, res, def, 200, item.obj, item.json, item.obj.metadata.resourceVersion);
      }
      case 'PUT': {
        const obj = await this.readObject(req, def, query);
        const updated = await this.opts.ops.update(this.storageOf(def), ns, info.name, () => this.inward(def, obj), { dryRun: isDryRun(query), recordManagedFields: this.updateRecorder(req, def, query, '') });
        return this.sendObject(req, res, def, 200, updated);
      }
      case 'PATCH': {
        if (isApplyPatch(req)) {
          const applied = await this.serverSideApply(req, def, ns, info.name, query, '');
          return this.sendObject(req, res, def, applied.created ? 201 : 200, applied.obj);
        }
        const patched = await this.patch(req, def, ns, info.name, query, '');
        return this.sendObject(req, res, def, 200, patched);
      }
      case 'DELETE': {
        const opts = await this.readDeleteOptions(req, query);
        const result = await this.opts.ops.delete(this.storageOf(def), ns, info.name, opts);
        // Pods come back as objects (graceful deletion is visible); other kinds answer a Status unless still pending.
        if (result.pending || (def.group === '' && def.plural === 'pods')) {
          return this.sendObject(req, res, def, result.pending ? 202 : 200, result.obj);
        }
        return sendJson(res, 200, JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: info.name, ...(def.group ? { group: def.group } : {}), kind: def.plural, uid: result.obj.metadata.uid },
        }));
      }
      default:
        throw methodNotAllowed();
    }
  }

  private async serveStatus(req: IncomingMessage, res: ServerResponse, def: ResourceDefinition, ns: string, name: string, query: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'GET') {
      const item = await this.opts.ops.get(this.storageOf(def), ns, name, query.get('resourceVersion') ?? undefined);
      return this.sendObject(req, res, def, 200, item.obj, item.json);
    }
    if (method === 'PUT') {
      const obj = await this.readObject(req, def, query);
      const updated = await this.opts.ops.update(this.storageOf(def), ns, name, () => this.inward(def, obj), {
        dryRun: isDryRun(query),
        subresource: 'status',
        recordManagedFields: this.updateRecorder(req, def, query, 'status'),
      });
      return this.sendObject(req, res, def, 200, updated);
    }
    if (method === 'PATCH') {
      if (isApplyPatch(req)) return this.sendObject(req, res, def, 200, (await this.serverSideApply(req, def, ns, name, query, 'status')).obj);
      const patched = await this.patch(req, def, ns, name, query, 'status');
      return this.sendObject(req, res, def, 200, patched);
    }
    throw methodNotAllowed();
  }

  private async serveScale(req: IncomingMessage, res: ServerResponse, def: ResourceDefinition, ns: string, name: string, query: URLSearchParams): Promise<void> {
    const scale = def.scale!;
    const method = req.method ?? 'GET';
    const toScale = (obj: KubeObject) => {
      const meta = obj.metadata;
      const selector = scale.selector?.(obj);
      return {
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: { name: meta.name, namespace: meta.namespace, uid: meta.uid, resourceVersion: meta.resourceVersion, creationTimestamp: meta.creationTimestamp },
        spec: { replicas: Number(getPath(obj, scale.specReplicasPath) ?? 0) },
        status: { replicas: Number(getPath(obj, scale.statusReplicasPath) ?? 0), ...(selector ? { selector } : {}) },
      };
    };
    if (method === 'GET') {
      const item = await this.opts.ops.get(this.storageOf(def), ns, name, query.get('resourceVersion') ?? undefined);
      return sendJson(res, 200, JSON.stringify(toScale(item.obj)));
    }
    let mutate: (cur: KubeObject) => KubeObject;
    if (method === 'PUT') {
      const body = await this.readBody(req);
      const input = this.decodeBody(req, body) as { metadata?: { resourceVersion?: string }; spec?: { replicas?: unknown } };
      mutate = (cur) => applyScale(cur, input, scale.specReplicasPath);
    } else if (method === 'PATCH') {
      const ct = parseMediaType(req.headers['content-type'] ?? '').type;
      const patchBody = this.decodePatchBody(ct, await this.readBody(req));
      mutate = (cur) => {
        if (!this.ext.applyPatch) throw unsupportedMediaType(ct);
        const scaleDef = { ...def, group: 'autoscaling', version: 'v1', kind: 'Scale', schemaName: 'io.k8s.api.autoscaling.v1.Scale' };
        const patched = this.ext.applyPatch(ct, toScale(cur) as unknown as KubeObject, patchBody, scaleDef) as { metadata?: { resourceVersion?: string }; spec?: { replicas?: unknown } };
        return applyScale(cur, patched, scale.specReplicasPath);
      };
    } else {
      throw methodNotAllowed();
    }
    const updated = await this.opts.ops.update(this.storageOf(def), ns, name, mutate, { dryRun: isDryRun(query), recordManagedFields: this.updateRecorder(req, def, query, 'scale') });
    return sendJson(res, 200, JSON.stringify(toScale(updated)));
  }

  private async serveBinding(req: IncomingMessage, res: ServerResponse, def: ResourceDefinition, ns: string, name: string, query: URLSearchParams): Promise<void> {
    const binding = this.decodeBody(req, await this.readBody(req)) as { metadata?: { name?: string }; target?: { kind?: string; name?: string } };
    const target = binding.target?.name;
    if (!target) throw new StatusError({ message: `Binding.meta.k8s.io "${name}" is invalid: target.name: Required value`, reason: 'Invalid', code: 422 });
    if (binding.target?.kind && binding.target.kind !== 'Node') {
      throw new StatusError({ message: `Binding "${name}" is invalid: target.kind: Unsupported value: "${binding.target.kind}": supported values: "Node"`, reason: 'Invalid', code: 422 });
    }
    await this.opts.ops.update(
      def,
      ns,
      name,
      (pod) => {
        const spec = (pod.spec ??= {}) as { nodeName?: string };
        if (pod.metadata.deletionTimestamp) throw conflict({ resource: 'pods', name }, 'pod is being deleted, cannot be assigned to a host');
        if (spec.nodeName) throw conflict({ resource: 'pods', name }, `pod ${name} is already assigned to node "${spec.nodeName}"`);
        spec.nodeName = target;
        const status = (pod.status ??= {}) as { conditions?: Record<string, unknown>[] };
        const conditions = (status.conditions ??= []);
        const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        const existing = conditions.find((c) => c.type === 'PodScheduled');
        if (existing) Object.assign(existing, { status: 'True', lastTransitionTime: now, reason: undefined, message: undefined });
        else conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now });
        return pod;
      },
      { dryRun: isDryRun(query), subresource: 'binding' },
    );
    return sendJson(res, 201, JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }));
  }

  private async serveFinalize(req: IncomingMessage, res: ServerResponse, def: ResourceDefinition, name: string, query: URLSearchParams): Promise<void> {
    const obj = await this.readObject(req, def, query);
    const finalizers = (obj.spec as { finalizers?: string[] } | undefined)?.finalizers ?? [];
    const updated = await this.opts.ops.update(
      def,
      '',
      name,
      (cur) => {
        if (obj.metadata?.resourceVersion) cur.metadata.resourceVersion = obj.metadata.resourceVersion;
        cur.spec = { ...(cur.spec as object), finalizers };
        if (finalizers.length === 0) delete (cur.spec as { finalizers?: string[] }).finalizers;
        return cur;
      },
      { dryRun: isDryRun(query), subresource: 'finalize' },
    );
    return this.sendObject(req, res, def, 200, updated);
  }

  private async patch(req: IncomingMessage, def: ResourceDefinition, ns: string, name: string, query: URLSearchParams, subresource: string): Promise<KubeObject> {
    const ct = parseMediaType(req.headers['content-type'] ?? '').type;
    if (!PATCH_TYPES.has(ct)) throw unsupportedMediaType(ct);
    const patchBody = this.decodePatchBody(ct, await this.readBody(req));
    const applyPatch = this.ext.applyPatch;
    if (!applyPatch) throw unsupportedMediaType(ct);
    const validation = fieldValidation(query);
    return this.opts.ops.update(
      def,
      ns,
      name,
      (cur) => {
        const patched = applyPatch(ct, this.outward(def, cur).obj, patchBody, def);
        this.checkDecoded(req, def, patched, validation);
        return this.inward(def, patched);
      },
      { dryRun: isDryRun(query), subresource, recordManagedFields: this.updateRecorder(req, def, query, subresource) },
    );
  }

  /**
   * Records a create, update or patch as an Update manager in managedFields: the `fieldManager` parameter, else
   * the User-Agent's first segment (upstream managerOrUserAgent), so server-side apply sees who set what.
   */
  private updateRecorder(req: IncomingMessage, def: ResourceDefinition, query: URLSearchParams, subresource: string): WriteOptions['recordManagedFields'] {
    // The embedded control plane (controllers, scheduler, simulated kubelets over the in-process transport) is not
    // recorded: at 10,000 pods its status churn doubled memory and cost a third of the throughput. Deviation from
    // upstream, which records every writer; user writes (kubectl, client libraries, Helm) and every apply are recorded.
    if (inProcessUser(req)) return undefined;
    const manager = fieldManagerOf(query.get('fieldManager'), req.headers['user-agent']);
    const typeName = this.storageOf(def).schemaName;
    return (live, next) => recordUpdate({ live, next, manager, typeName, now: new Date(), subresource, statusIsSubresource: def.hasStatus });
  }

  /**
   * Server-side apply (PATCH with application/apply-patch+yaml): merges the configuration into the object by
   * the schema and records its manager's fields, or answers 409 with the conflicting fields; creates the object
   * when it does not exist (the main resource only), as kube-apiserver does.
   */
  private async serverSideApply(req: IncomingMessage, def: ResourceDefinition, ns: string, name: string, query: URLSearchParams, subresource: string): Promise<{ obj: KubeObject; created: boolean }> {
    const manager = query.get('fieldManager') ?? '';
    if (manager === '') throw badRequest(`PATCH, ${APPLY_PATCH_TYPE}: fieldManager is required`);
    fieldManagerOf(manager, undefined);
    const forceRaw = query.get('force');
    if (forceRaw !== null && forceRaw !== 'true' && forceRaw !== 'false') throw badRequest(`force: Invalid value: ${JSON.stringify(forceRaw)}: must be true or false`);
    const force = forceRaw === 'true';
    const body = this.decodePatchBody(APPLY_PATCH_TYPE, await this.readBody(req));
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('error decoding patch: the apply configuration must be an object');
    const applied = body as KubeObject;
    const gv = groupVersion(def.group, def.version);
    const kind = subresource === '' || subresource === 'status' ? def.kind : '';
    if (applied.apiVersion !== gv) throw badRequest(`the API version in the data (${applied.apiVersion ?? ''}) does not match the expected API version (${gv})`);
    if (kind && applied.kind !== kind) throw badRequest(`the kind in the data (${applied.kind ?? ''}) does not match the expected kind (${kind})`);
    if (applied.metadata !== undefined && (typeof applied.metadata !== 'object' || applied.metadata === null || Array.isArray(applied.metadata))) {
      throw badRequest('metadata must be an object');
    }
    if (applied.metadata?.name !== undefined && applied.metadata.name !== name) {
      throw badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`);
    }
    this.checkDecoded(req, def, applied, fieldValidation(query));
    const dryRun = isDryRun(query);
    const run = (live: KubeObject | undefined): KubeObject => {
      const r = serverSideApply({ live, applied, manager, force, typeName: def.schemaName, now: new Date(), subresource, statusIsSubresource: def.hasStatus });
      if (r.conflicts) throw applyConflictError(r.conflicts);
      return r.object;
    };
    // Update, else create; a create that loses a race with another creator retries as an update.
    for (let attempt = 0; ; attempt++) {
      try {
        const obj = await this.opts.ops.update(this.storageOf(def), ns, name, (cur) => this.inward(def, run(this.outward(def, cur).obj)), { dryRun, subresource });
        return { obj, created: false };
      } catch (err) {
        if (!(isStatusError(err) && err.code === 404 && err.reason === 'NotFound') || subresource !== '') throw err;
      }
      const fresh = run(undefined);
      fresh.metadata.name = name;
      try {
        const obj = await this.opts.ops.create(this.storageOf(def), ns, this.inwardForCreate(def, ns, fresh), { dryRun });
        return { obj, created: true };
      } catch (err) {
        if (!(isStatusError(err) && err.reason === 'AlreadyExists') || attempt > 0) throw err;
      }
    }
  }

  private decodePatchBody(ct: string, body: Buffer): unknown {
    const text = body.toString('utf8');
    try {
      return ct === 'application/apply-patch+yaml' ? parseYaml(text) : JSON.parse(text);
    } catch (err) {
      throw badRequest(`error decoding patch: ${(err as Error).message}`);
    }
  }

  private async deleteCollection(req: IncomingMessage, res: ServerResponse, def: ResourceDefinition, ns: string, query: URLSearchParams): Promise<void> {
    const opts = await this.readDeleteOptions(req, query);
    const filter = buildFilter(this.storageOf(def), query.get('labelSelector'), query.get('fieldSelector'));
    const listed = await this.opts.ops.list(this.storageOf(def), ns, { filter });
    const items: KubeObject[] = [];
    for (const item of listed.items) {
      try {
        const r = await this.opts.ops.delete(this.storageOf(def), item.obj.metadata.namespace ?? '', item.obj.metadata.name!, opts);
        items.push(r.obj);
      } catch (err) {
        if (!(isStatusError(err) && err.code === 404)) throw err;
      }
    }
    return sendJson(res, 200, JSON.stringify({ kind: def.listKind, apiVersion: groupVersion(def.group, def.version), metadata: {}, items }));
  }

  private async readDeleteOptions(req: IncomingMessage, query: URLSearchParams): Promise<DeleteOptions> {
    const body = await this.readBody(req);
    let fromBody: Record<string, unknown> = {};
    if (body.length > 0) {
      const decoded = this.decodeBody(req, body);
      if (decoded && typeof decoded === 'object' && !Array.isArray(decoded)) fromBody = decoded as Record<string, unknown>;
    }
    const grace = query.get('gracePeriodSeconds') ?? fromBody.gracePeriodSeconds;
    const opts: DeleteOptions = { dryRun: isDryRun(query) || (Array.isArray(fromBody.dryRun) && fromBody.dryRun.includes('All')) };
    if (grace !== undefined && grace !== null) {
      const n = Number(grace);
      if (!Number.isInteger(n)) throw badRequest(`gracePeriodSeconds: Invalid value: ${JSON.stringify(grace)}: must be an integer`);
      opts.gracePeriodSeconds = n;
    }
    const policy = query.get('propagationPolicy') ?? (fromBody.propagationPolicy as string | undefined);
    const orphan = query.get('orphanDependents') ?? fromBody.orphanDependents;
    if (policy) opts.propagationPolicy = policy;
    else if (orphan === true || orphan === 'true') opts.propagationPolicy = 'Orphan';
    const pre = fromBody.preconditions as { uid?: string; resourceVersion?: string } | undefined;
    if (pre && typeof pre === 'object') opts.preconditions = { uid: pre.uid, resourceVersion: pre.resourceVersion };
    return opts;
  }

  private async list(req: IncomingMessage, res: ServerResponse, def: ResourceDefinition, ns: string, query: URLSearchParams): Promise<void> {
    const filter = buildFilter(this.storageOf(def), query.get('labelSelector'), query.get('fieldSelector'));
    const limitRaw = query.get('limit');
    const limit = limitRaw ? Number(limitRaw) : 0;
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`limit: Invalid value: ${JSON.stringify(limitRaw)}: must be a non-negative integer`);
    const result = await this.opts.ops.list(this.storageOf(def), ns, {
      filter,
      resourceVersion: query.get('resourceVersion') ?? undefined,
      resourceVersionMatch: query.get('resourceVersionMatch') ?? undefined,
      limit,
      continueToken: query.get('continue') ?? undefined,
    });
    if (def.storedAs) result.items = result.items.map((it) => ({ ...it, ...this.outward(def, it.obj) }) as CachedObject);
    const listMeta: Record<string, unknown> = { resourceVersion: result.resourceVersion };
    if (result.continueToken) listMeta.continue = result.continueToken;
    const accept = parseAccept(req.headers.accept);
    const tableVersion = negotiateTable(accept);
    if (tableVersion) {
      const body = renderTable(def, result.items, listMeta, {
        tableVersion,
        includeObject: parseIncludeObject(query.get('includeObject')),
        now: new Date(),
      });
      return sendJson(res, 200, body, TABLE_CONTENT_TYPE.replace('v=v1', `v=${tableVersion}`));
    }
    checkAcceptsJson(accept);
    const head = `{"kind":"${def.listKind}","apiVersion":"${groupVersion(def.group, def.version)}","metadata":${JSON.stringify(listMeta)},"items":[`;
    let body = head;
    for (let i = 0; i < result.items.length; i++) body += (i === 0 ? '' : ',') + result.items[i].json;
    body += ']}';
    return sendJson(res, 200, body);
  }

  private watch(req: IncomingMessage, res: ServerResponse, def: ResourceDefinition, _ns: string, query: URLSearchParams): Promise<void> {
    const ns = _ns;
    const baseFilter = buildFilter(this.storageOf(def), query.get('labelSelector'), query.get('fieldSelector'));
    const prefixNs = def.namespaced && ns ? ns : '';
    const filter: ObjectFilter = prefixNs
      ? { empty: false, matches: (o) => o.metadata.namespace === prefixNs && baseFilter.matches(o) }
      : baseFilter === everythingFilter ? everythingFilter : baseFilter;
    const rvRaw = query.get('resourceVersion') ?? '';
    const bookmarks = query.get('allowWatchBookmarks') === 'true';
    const sendInitial = query.get('sendInitialEvents');
    if (sendInitial === 'true' && query.get('resourceVersionMatch') !== 'NotOlderThan') {
      throw new StatusError({ message: 'resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan', reason: 'Invalid', code: 422 });
    }
    const timeoutRaw = query.get('timeoutSeconds');
    // Without timeoutSeconds the real server picks 30-60 minutes at random; clients simply re-watch.
    const timeoutSec = timeoutRaw ? Number(timeoutRaw) : 1800 * (1 + Math.random());
    if (!Number.isFinite(timeoutSec) || timeoutSec < 0) throw badRequest(`timeoutSeconds: Invalid value: ${JSON.stringify(timeoutRaw)}`);
    const accept = parseAccept(req.headers.accept);
    const tableVersion = negotiateTable(accept);
    if (!tableVersion) checkAcceptsJson(accept);
    const tableOpts: TableOptions | undefined = tableVersion
      ? { tableVersion, includeObject: parseIncludeObject(query.get('includeObject')), now: new Date() }
      : undefined;
    const afterRevision = rvRaw === '' || rvRaw === '0' ? undefined : parseResourceVersion(rvRaw);
    const initialEvents = sendInitial === 'true' || (afterRevision === undefined && sendInitial !== 'false');
    const apiVersion = groupVersion(def.group, def.version);
    const ops = this.opts.ops;
    const storageDef = this.storageOf(def);

    res.writeHead(200, {
      'Content-Type': tableVersion ? TABLE_CONTENT_TYPE.replace('v=v1', `v=${tableVersion}`) : 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();
    this.openWatches.add(res);

    let headersSent = false;
    let closed = false;
    let lastRevision = afterRevision ?? 0;
    const encode = (type: string, storedObj: KubeObject, storedJson: string): string => {
      const { obj, json } = this.outward(def, storedObj, storedJson);
      if (!tableOpts) return `{"type":"${type}","object":${json}}\n`;
      const table = {
        kind: 'Table',
        apiVersion: `meta.k8s.io/${tableOpts.tableVersion}`,
        metadata: { resourceVersion: obj.metadata.resourceVersion },
        ...(headersSent ? {} : { columnDefinitions: def.printer.columns }),
        rows: [tableRow(def, obj, json, { ...tableOpts, now: new Date() })],
      };
      headersSent = true;
      return `{"type":"${type}","object":${JSON.stringify(table)}}\n`;
    };
    const writeLine = (line: string): boolean => {
      if (closed) return false;
      res.write(line);
      // A client that stops reading must not make the server buffer without bound.
      if (res.writableLength > 64 * 1024 * 1024) {
        stop();
        return false;
      }
      return true;
    };
    const sink = (events: CacheEvent[]): boolean => {
      if (closed) return false;
      let out = '';
      for (const ev of events) {
        if (ev.revision <= lastRevision) continue;
        lastRevision = ev.revision;
        let type: string = ev.type;
        if (!filter.empty) {
          const now = ev.type !== 'DELETED' && filter.matches(ev.obj);
          const before = ev.prev !== undefined && filter.matches(ev.prev);
          if (ev.type === 'DELETED') {
            if (!before && !filter.matches(ev.obj)) continue;
          } else if (now && !before) type = 'ADDED';
          else if (!now && before) type = 'DELETED';
          else if (!now) continue;
        }
        out += encode(type, ev.obj, ev.json);
      }
      return out === '' ? true : writeLine(out);
    };

    let sub: { stop(): void } = { stop() {} };
    let bookmarkTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (closed) return;
      closed = true;
      sub.stop();
      clearInterval(bookmarkTimer);
      clearTimeout(timeoutTimer);
      this.openWatches.delete(res);
      res.end();
    };
    const bookmark = (annotations?: Record<string, string>) => {
      const rv = String(Math.max(lastRevision, ops.cacheRevision));
      const obj = { kind: def.kind, apiVersion, metadata: { resourceVersion: rv, ...(annotations ? { annotations } : {}) } };
      writeLine(`{"type":"BOOKMARK","object":${JSON.stringify(obj)}}\n`);
    };

    req.on('close', stop);
    res.on('error', stop);
    timeoutTimer = setTimeout(stop, timeoutSec * 1000);

    return (async () => {
      if (initialEvents) {
        if (afterRevision !== undefined) {
          // sendInitialEvents with NotOlderThan: the snapshot must be at least that fresh.
          await ops.list(storageDef, ns, { filter: everythingFilter, resourceVersion: String(afterRevision), limit: 1 });
        } else if (rvRaw === '') {
          await ops.list(storageDef, ns, { filter: everythingFilter, limit: 1 });
        }
        if (closed) return;
        const snap = ops.snapshotAndWatch(storageDef, sink, (err) => {
          writeLine(`{"type":"ERROR","object":${JSON.stringify(err.status)}}\n`);
          stop();
        });
        sub = snap;
        lastRevision = snap.revision;
        let out = '';
        for (const item of snap.items) {
          if (filter.matches(item.obj)) out += encode('ADDED', item.obj, item.json);
        }
        if (out) writeLine(out);
        if (sendInitial === 'true' && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
      } else {
        const from = afterRevision ?? ops.cacheRevision;
        lastRevision = from;
        sub = ops.watch(storageDef, from, sink, (err) => {
          writeLine(`{"type":"ERROR","object":${JSON.stringify(err.status)}}\n`);
          stop();
        });
      }
      if (closed) sub.stop();
      else if (bookmarks) bookmarkTimer = setInterval(() => bookmark(), this.bookmarkIntervalMs);
    })().catch((err) => {
      const status = isStatusError(err) ? err.status : internalError(err).status;
      writeLine(`{"type":"ERROR","object":${JSON.stringify(status)}}\n`);
      stop();
    });
  }

  private async readBody(req: IncomingMessage): Promise<Buffer> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      throw requestEntityTooLarge(MAX_BODY_BYTES);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        req.resume();
        throw requestEntityTooLarge(MAX_BODY_BYTES);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /** Decodes a JSON, YAML or protobuf body to a plain value. */
  private decodeBody(req: IncomingMessage, body: Buffer): unknown {
    const ct = parseMediaType(req.headers['content-type'] || 'application/json').type;
    if (ct === 'application/json') {
      try {
        return JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw badRequest(`the request body is not valid JSON: ${(err as Error).message}`);
      }
    }
    if (ct === 'application/yaml') {
      try {
        return parseYaml(body.toString('utf8'));
      } catch (err) {
        throw badRequest(`the request body is not valid YAML: ${(err as Error).message}`);
      }
    }
    if (ct === 'application/vnd.kubernetes.protobuf' && this.ext.decodeProtobuf) return this.ext.decodeProtobuf(body);
    throw unsupportedMediaType(ct);
  }

  /** Reads and checks the object of a create or update: an object, of this kind, with only known fields under Strict. */
  private async readObject(req: IncomingMessage, def: ResourceDefinition, query: URLSearchParams): Promise<KubeObject> {
    const value = this.decodeBody(req, await this.readBody(req));
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRequest('the request body must be a JSON object');
    const obj = value as KubeObject;
    const gv = groupVersion(def.group, def.version);
    if (obj.apiVersion !== undefined && obj.apiVersion !== gv) {
      throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${gv})`);
    }
    if (obj.kind !== undefined && obj.kind !== def.kind) {
      throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${def.kind})`);
    }
    if (obj.metadata !== undefined && (typeof obj.metadata !== 'object' || obj.metadata === null || Array.isArray(obj.metadata))) {
      throw badRequest('metadata must be an object');
    }
    this.checkDecoded(req, def, obj, fieldValidation(query));
    obj.metadata ??= {};
    return obj;
  }

  /** The definition whose objects are stored for def (itself, unless def is a converted view of another version). */
  private storageOf(def: ResourceDefinition): ResourceDefinition {
    if (!def.storedAs) return def;
    const s = this.byGVR.get(`${def.storedAs.group}/${def.storedAs.version}/${def.storedAs.plural}`);
    if (!s) throw new Error(`${def.plural}.${def.group}/${def.version} is stored as ${def.storedAs.plural} ${def.storedAs.group}/${def.storedAs.version}, which is not served`);
    return s;
  }

  /** A stored object as the served version shows it. */
  private outward(def: ResourceDefinition, obj: KubeObject, json?: string): { obj: KubeObject; json: string | undefined } {
    if (!def.storedAs) return { obj, json };
    const converted = def.storedAs.fromStorage(obj);
    return { obj: converted, json: JSON.stringify(converted) };
  }

  /** A served-version object in its stored form. */
  private inward(def: ResourceDefinition, obj: KubeObject): KubeObject {
    return def.storedAs ? def.storedAs.toStorage(obj) : obj;
  }

  /** For a converted view, defaults and validation of the served version run before conversion, so errors name its fields. */
  private inwardForCreate(def: ResourceDefinition, ns: string, obj: KubeObject): KubeObject {
    if (!def.storedAs) return obj;
    const served = structuredClone(obj);
    if (def.namespaced) served.metadata.namespace ??= ns;
    def.strategy.prepareForCreate?.(served);
    const errors = def.strategy.validate(served);
    if (errors.length > 0) throw invalid(def.kind, def.group || undefined, served.metadata?.name ?? '', errors);
    return this.inward(def, served);
  }

  /** 400 for values of the wrong type (as Go's decoder), and for unknown fields under fieldValidation=Strict. */
  private checkDecoded(req: IncomingMessage, def: ResourceDefinition, obj: unknown, validation: 'Ignore' | 'Warn' | 'Strict'): void {
    const report = this.ext.checkDecoded?.(def, obj);
    if (!report) return;
    if (report.typeErrors.length > 0) {
      throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: json: ${report.typeErrors.slice(0, 5).join('; ')}`);
    }
    if (report.unknown.length === 0 || validation === 'Ignore') return;
    if (validation === 'Strict') {
      throw badRequest(`strict decoding error: ${report.unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
    }
    // Warn (the default): the fields are dropped and the client is told, as `Warning: unknown field "spec.foo"`.
    this.warnings.set(req, report.unknown.map((f) => `unknown field "${f}"`));
  }

  private sendObject(req: IncomingMessage, res: ServerResponse, def: ResourceDefinition, code: number, storedObj: KubeObject, storedJson?: string, rv?: string): void {
    const { obj, json } = this.outward(def, storedObj, storedJson);
    const warnings = this.warnings.get(req);
    // RFC 7234 warn-code 299 with agent "-": the form kube-apiserver uses and kubectl prints as "Warning: ...".
    if (warnings) res.setHeader('Warning', warnings.map((w) => `299 - ${JSON.stringify(w)}`));
    const accept = parseAccept(req.headers.accept);
    const tableVersion = negotiateTable(accept);
    if (tableVersion) {
      const body = renderTable(def, [{ obj, json }], { resourceVersion: rv ?? obj.metadata.resourceVersion }, {
        tableVersion,
        includeObject: 'Metadata',
        now: new Date(),
      });
      return sendJson(res, code, body, TABLE_CONTENT_TYPE.replace('v=v1', `v=${tableVersion}`));
    }
    return sendJson(res, code, json ?? JSON.stringify(obj));
  }
}

function applyScale(cur: KubeObject, input: { metadata?: { resourceVersion?: string }; spec?: { replicas?: unknown } }, path: string): KubeObject {
  const replicas = input?.spec?.replicas;
  if (replicas !== undefined && (!Number.isInteger(replicas) || (replicas as number) < 0)) {
    throw new StatusError({ message: `Scale.autoscaling "${cur.metadata.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`, reason: 'Invalid', code: 422 });
  }
  if (input?.metadata?.resourceVersion) cur.metadata.resourceVersion = input.metadata.resourceVersion;
  if (replicas !== undefined) setPath(cur, path, replicas);
  return cur;
}

function getPath(obj: unknown, path: string): unknown {
  let cur = obj as Record<string, unknown> | undefined;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = cur[part] as Record<string, unknown> | undefined;
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) cur = (cur[part] ??= {}) as Record<string, unknown>;
  cur[parts[parts.length - 1]] = value;
}

function isApplyPatch(req: IncomingMessage): boolean {
  return parseMediaType(req.headers['content-type'] ?? '').type === APPLY_PATCH_TYPE;
}

function isDryRun(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  for (const v of values) if (v !== 'All' && v !== '') throw badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  return values.includes('All');
}

function fieldValidation(query: URLSearchParams): 'Ignore' | 'Warn' | 'Strict' {
  const v = query.get('fieldValidation') ?? 'Warn';
  if (v === 'Ignore' || v === 'Warn' || v === 'Strict') return v;
  throw badRequest(`fieldValidation: Unsupported value: "${v}": supported values: "Ignore", "Strict", "Warn"`);
}

/** Only JSON responses are produced; refuse an Accept that allows nothing JSON-compatible. */
function checkAcceptsJson(accept: MediaType[]): void {
  if (accept.length === 0) return;
  for (const m of accept) {
    if (m.params.as) continue;
    if (m.type === 'application/json' || m.type === '*/*' || m.type === 'application/*' || m.type === 'application/vnd.kubernetes.protobuf' || m.type === 'application/yaml') return;
  }
  throw notAcceptable(`only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
}

export function sendJson(res: ServerResponse, code: number, body: string, contentType = 'application/json', extra: Record<string, string> = {}): void {
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

export { notFound };
