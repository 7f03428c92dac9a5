/** DELETE of an object and of a collection (endpoints/handlers/delete.go), with DeleteOptions from query or body. */
import type { KubeObject } from '../../api/object.js';
import { groupVersion } from '../../api/object.js';
import { badRequest, isStatusError } from '../../api/status.js';
import { buildFilter } from '../filters.js';
import type { DeleteOptions } from '../resource-ops.js';
import { auditAnnotator } from '../audit/auditor.js';
import { decodeBody, isDryRun, parseBool, readBody } from './decode.js';
import { sendJson, sendSuccess } from './respond.js';
import type { ApiRequest, RequestScope } from './scope.js';

export async function deleteResource(scope: RequestScope, r: ApiRequest): Promise<void> {
  const { def } = r;
  const opts = await readDeleteOptions(scope, r);
  const result = await scope.ops.delete(scope.storageOf(def), r.info.namespace, r.info.name, opts);
  // Kinds whose deletion is visible (pods' grace period) answer with the object, as do deletions still pending.
  if (result.pending || scope.storageOf(def).deletion?.returnsObject) return scope.sendObject(r, result.pending ? 202 : 200, result.obj);
  sendSuccess(r.res, 200, { name: r.info.name, ...(def.group ? { group: def.group } : {}), kind: def.plural, uid: result.obj.metadata.uid });
}

/** Deletes of one collection in flight at once. */
const DELETE_COLLECTION_WORKERS = 16;

export async function deleteCollection(scope: RequestScope, r: ApiRequest): Promise<void> {
  const { def, query } = r;
  const storage = scope.storageOf(def);
  const opts = await readDeleteOptions(scope, r);
  const filter = buildFilter(storage, query.get('labelSelector'), query.get('fieldSelector'));
  const listed = await scope.ops.list(storage, r.info.namespace, { filter });
  // Several deletes at once (kube-apiserver's --delete-collection-workers): the store commits them in one batch
  // instead of one transaction after another. The answer lists the objects in the order they were listed.
  const deleted: (KubeObject | undefined)[] = new Array(listed.items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < listed.items.length) {
      const i = next++;
      const item = listed.items[i]!;
      try {
        const result = await scope.ops.delete(storage, item.obj.metadata.namespace ?? '', item.obj.metadata.name!, opts);
        deleted[i] = (await scope.toServed(def, result.obj)).obj;
      } catch (err) {
        // Deleted by someone else meanwhile: the goal is reached.
        if (!(isStatusError(err) && err.code === 404)) failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_COLLECTION_WORKERS, listed.items.length) }, worker));
  if (failure) throw failure.err;
  const items = deleted.filter((o): o is KubeObject => o !== undefined);
  sendJson(r.res, 200, JSON.stringify({ kind: def.listKind, apiVersion: groupVersion(def.group, def.version), metadata: {}, items }));
}

async function readDeleteOptions(scope: RequestScope, r: ApiRequest): Promise<DeleteOptions> {
  const { query } = r;
  const body = await readBody(r.req);
  let fromBody: Record<string, unknown> = {};
  if (body.length > 0) {
    const decoded = decodeBody(r.req.headers['content-type'], body, scope.ext);
    if (decoded && typeof decoded === 'object' && !Array.isArray(decoded)) fromBody = decoded as Record<string, unknown>;
  }
  const grace = query.get('gracePeriodSeconds') ?? fromBody.gracePeriodSeconds;
  const opts: DeleteOptions = { dryRun: isDryRun(query) || (Array.isArray(fromBody.dryRun) && fromBody.dryRun.includes('All')), user: r.user, annotate: auditAnnotator(r.req) };
  if (grace !== undefined && grace !== null) {
    const n = Number(grace);
    if (!Number.isInteger(n)) throw badRequest(`gracePeriodSeconds: Invalid value: ${JSON.stringify(grace)}: must be an integer`);
    opts.gracePeriodSeconds = n;
  }
  const policy = query.get('propagationPolicy') ?? (fromBody.propagationPolicy as string | undefined);
  const orphan = parseBool('orphanDependents', query.get('orphanDependents')) ?? fromBody.orphanDependents;
  if (policy) opts.propagationPolicy = policy;
  else if (orphan === true) opts.propagationPolicy = 'Orphan';
  const pre = fromBody.preconditions as { uid?: string; resourceVersion?: string } | undefined;
  if (pre && typeof pre === 'object') opts.preconditions = { uid: pre.uid, resourceVersion: pre.resourceVersion };
  return opts;
}
