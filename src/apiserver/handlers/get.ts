/** GET of one object (kube-apiserver endpoints/handlers/get.go). */
import type { ApiRequest, RequestScope } from './scope.js';

export async function getResource(scope: RequestScope, r: ApiRequest): Promise<void> {
  const item = await scope.ops.get(scope.storageOf(r.def), r.info.namespace, r.info.name, r.query.get('resourceVersion') ?? undefined);
  return scope.sendObject(r, 200, item.obj, item.json, item.obj.metadata.resourceVersion);
}
