/** LIST of a collection (endpoints/handlers/get.go ListResource): selectors, paging, resourceVersion semantics, Tables. */
import { badRequest } from '../../api/status.js';
import { buildFilter } from '../filters.js';
import type { CachedObject } from '../watch-cache.js';
import { parseBool } from './decode.js';
import { negotiateResponse, sendListAs } from './output.js';
import type { ApiRequest, RequestScope } from './scope.js';

export async function listResource(scope: RequestScope, r: ApiRequest): Promise<void> {
  const { def, query } = r;
  const storage = scope.storageOf(def);
  // Negotiated before the work: a 406 costs no list. ListOptions' booleans are decoded (400 when malformed) even here.
  const fmt = negotiateResponse(r.req, query, def);
  for (const name of ['watch', 'allowWatchBookmarks', 'sendInitialEvents']) parseBool(name, query.get(name));
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
  if (def.storedAs) result.items = await scope.toServedAll(def, result.items);
  const listMeta: Record<string, unknown> = { resourceVersion: result.resourceVersion };
  if (result.continueToken) listMeta.continue = result.continueToken;
  sendListAs(r.res, fmt, def, result.items, listMeta, query);
}
