/** LIST of a collection (endpoints/handlers/get.go ListResource): selectors, paging, resourceVersion semantics, Tables. */
import { groupVersion } from '../../api/object.js';
import { badRequest } from '../../api/status.js';
import { buildFilter } from '../filters.js';
import { negotiateTable, parseAccept, TABLE_CONTENT_TYPE } from '../negotiation.js';
import { parseIncludeObject, renderTable } from '../table.js';
import type { CachedObject } from '../watch-cache.js';
import { checkAcceptsJson, sendJson } from './respond.js';
import type { ApiRequest, RequestScope } from './scope.js';

export async function listResource(scope: RequestScope, r: ApiRequest): Promise<void> {
  const { def, query } = r;
  const storage = scope.storageOf(def);
  const filter = buildFilter(storage, query.get('labelSelector'), query.get('fieldSelector'));
  const limitRaw = query.get('limit');
  const limit = limitRaw ? Number(limitRaw) : 0;
  if (!Number.isInteger(limit) || limit < 0) throw badRequest(`limit: Invalid value: ${JSON.stringify(limitRaw)}: must be a non-negative integer`);
  const result = await scope.ops.list(storage, r.info.namespace, {
    filter,
    resourceVersion: query.get('resourceVersion') ?? undefined,
    resourceVersionMatch: query.get('resourceVersionMatch') ?? undefined,
    limit,
    continueToken: query.get('continue') ?? undefined,
  });
  if (def.storedAs) result.items = result.items.map((it) => ({ ...it, ...scope.outward(def, it.obj) }) as CachedObject);
  const listMeta: Record<string, unknown> = { resourceVersion: result.resourceVersion };
  if (result.continueToken) listMeta.continue = result.continueToken;
  const accept = parseAccept(r.req.headers.accept);
  const tableVersion = negotiateTable(accept);
  if (tableVersion) {
    const body = renderTable(def, result.items, listMeta, { tableVersion, includeObject: parseIncludeObject(query.get('includeObject')), now: new Date() });
    return sendJson(r.res, 200, body, TABLE_CONTENT_TYPE.replace('v=v1', `v=${tableVersion}`));
  }
  checkAcceptsJson(accept);
  // Items are cached as JSON text: the list is assembled from it without serializing the objects again.
  let body = `{"kind":"${def.listKind}","apiVersion":"${groupVersion(def.group, def.version)}","metadata":${JSON.stringify(listMeta)},"items":[`;
  for (let i = 0; i < result.items.length; i++) body += (i === 0 ? '' : ',') + result.items[i].json;
  body += ']}';
  return sendJson(r.res, 200, body);
}
