/**
 * The subresources every kind may have (status, scale) and the ones a kind declares in the registry: mutations of
 * the stored object (pods/binding, namespaces/finalize) and actions against the API (pods/eviction).
 */
import type { KubeObject } from '../../api/object.js';
import { badRequest, methodNotAllowed, StatusError, unsupportedMediaType } from '../../api/status.js';
import type { ResourceDefinition, SubresourceApi, SubresourceDefinition } from '../registry/types.js';
import { contentTypeOf, decodeBody, decodePatchBody, isApplyPatch, isDryRun, readBody } from './decode.js';
import { applyResource } from './apply.js';
import { getResource } from './get.js';
import { patchResource } from './patch.js';
import { sendJson, sendSuccess } from './respond.js';
import type { ApiRequest, RequestScope } from './scope.js';
import { updateResource } from './update.js';
import { auditAnnotator } from '../audit/auditor.js';

/** status, and subresources that work like it (a view of the whole object through which only a part changes). */
export async function serveStatus(scope: RequestScope, r: ApiRequest, subresource = 'status'): Promise<void> {
  switch (r.req.method) {
    case 'GET':
    case 'HEAD':
      return getResource(scope, r);
    case 'PUT':
      return updateResource(scope, r, subresource);
    case 'PATCH':
      return isApplyPatch(r.req) ? applyResource(scope, r, subresource) : patchResource(scope, r, subresource);
    default:
      throw methodNotAllowed();
  }
}

interface ScaleInput {
  metadata?: { resourceVersion?: string };
  spec?: { replicas?: unknown };
}

/** The autoscaling/v1 Scale view of an object with a scale subresource. */
function toScale(def: ResourceDefinition, obj: KubeObject): KubeObject {
  const scale = def.scale!;
  const meta = obj.metadata;
  const selector = scale.selector?.(obj);
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: meta.name, namespace: meta.namespace, uid: meta.uid, resourceVersion: meta.resourceVersion, creationTimestamp: meta.creationTimestamp },
    spec: { replicas: Number(getPath(obj, scale.specReplicasPath) ?? 0) },
    status: { replicas: Number(getPath(obj, scale.statusReplicasPath) ?? 0), ...(selector ? { selector } : {}) },
  };
}

function applyScale(cur: KubeObject, input: ScaleInput, path: string): KubeObject {
  const replicas = input?.spec?.replicas;
  if (replicas !== undefined && (!Number.isInteger(replicas) || (replicas as number) < 0)) {
    throw new StatusError({ message: `Scale.autoscaling "${cur.metadata.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`, reason: 'Invalid', code: 422 });
  }
  if (input?.metadata?.resourceVersion) cur.metadata.resourceVersion = input.metadata.resourceVersion;
  if (replicas !== undefined) setPath(cur, path, replicas);
  return cur;
}

export async function serveScale(scope: RequestScope, r: ApiRequest): Promise<void> {
  const def = scope.storageOf(r.def);
  const scale = r.def.scale!;
  const { namespace: ns, name } = r.info;
  const method = r.req.method;
  if (method === 'GET' || method === 'HEAD') {
    const item = await scope.ops.get(def, ns, name, r.query.get('resourceVersion') ?? undefined);
    return sendJson(r.res, 200, JSON.stringify(toScale(r.def, item.obj)));
  }
  let mutate: (cur: KubeObject) => KubeObject;
  if (method === 'PUT') {
    const input = (await scope.readValue(r)) as ScaleInput;
    mutate = (cur) => applyScale(cur, input, scale.specReplicasPath);
  } else if (method === 'PATCH') {
    const ct = contentTypeOf(r.req);
    const applyPatch = scope.ext.applyPatch;
    if (!applyPatch) throw unsupportedMediaType(ct);
    const patch = decodePatchBody(ct, await readBody(r.req), scope.ext);
    const scaleDef = { ...r.def, group: 'autoscaling', version: 'v1', kind: 'Scale', schemaName: 'io.k8s.api.autoscaling.v1.Scale' };
    mutate = (cur) => applyScale(cur, applyPatch(ct, toScale(r.def, cur), patch, scaleDef) as ScaleInput, scale.specReplicasPath);
  } else {
    throw methodNotAllowed();
  }
  const updated = await scope.ops.update(def, ns, name, mutate, { ...scope.writeOptions(r, 'scale'), subresource: 'scale' });
  return sendJson(r.res, 200, JSON.stringify(toScale(r.def, updated)));
}

/** A registry-declared subresource with a mutation or an action. */
export async function serveDeclared(scope: RequestScope, r: ApiRequest, sub: SubresourceDefinition): Promise<void> {
  const def = scope.storageOf(r.def);
  const { namespace: ns, name } = r.info;
  const now = new Date();
  if (sub.mutation) {
    if (r.req.method !== sub.mutation.method) throw methodNotAllowed();
    const body = await readObjectBody(scope, r);
    const mutation = sub.mutation;
    const updated = await scope.ops.update(def, ns, name, (cur) => mutation.apply(cur, body, { name, now }), { dryRun: isDryRun(r.query), user: r.user, subresource: sub.name, warn: (text) => r.warnings.push(text), annotate: auditAnnotator(r.req) });
    if (mutation.respond === 'created') return sendSuccess(r.res, 201);
    return scope.sendObject(r, 200, updated);
  }
  if (sub.action) {
    if (r.req.method !== 'POST') throw methodNotAllowed();
    const body = await readObjectBody(scope, r);
    await scope.ops.admitSubresourceCreate(def, ns, name, sub.name, body as KubeObject, { dryRun: isDryRun(r.query), user: r.user, warn: (text) => r.warnings.push(text), annotate: auditAnnotator(r.req) });
    const answer = await sub.action(subresourceApi(scope, r), ns, name, body, { dryRun: isDryRun(r.query), now });
    if (answer) return sendJson(r.res, 201, JSON.stringify(answer));
    return sendSuccess(r.res, 201);
  }
  throw methodNotAllowed();
}

async function readObjectBody(scope: RequestScope, r: ApiRequest): Promise<Record<string, unknown>> {
  const value = decodeBody(r.req.headers['content-type'], await readBody(r.req), scope.ext);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRequest('the request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** What an action may do, on behalf of the request's user, through the same storage and admission path. */
function subresourceApi(scope: RequestScope, r: ApiRequest): SubresourceApi {
  return {
    get: async (def, namespace, name) => (await scope.ops.get(def, namespace, name)).obj,
    list: async (def, namespace) => (await scope.ops.list(def, namespace, { filter: { empty: true, matches: () => true } })).items.map((i) => i.obj),
    update: (def, obj, opts) =>
      scope.ops.update(def, obj.metadata.namespace ?? '', obj.metadata.name!, { replace: () => obj }, { dryRun: opts.dryRun, user: r.user, subresource: opts.subresource }),
    delete: async (def, namespace, name, opts) => {
      await scope.ops.delete(def, namespace, name, { ...opts, user: r.user });
    },
    resource: (group, plural) => {
      const found = scope.preferred(group, plural);
      if (!found) throw new Error(`the resource registry must serve ${plural}.${group}`);
      return found;
    },
  };
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
