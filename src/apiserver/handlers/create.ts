/** POST to a collection (endpoints/handlers/create.go). */
import { methodNotAllowed } from '../../api/status.js';
import type { ApiRequest, RequestScope } from './scope.js';

export async function createResource(scope: RequestScope, r: ApiRequest): Promise<void> {
  const { def } = r;
  const ns = r.info.namespace;
  if (def.namespaced && !ns) throw methodNotAllowed();
  const obj = await scope.toStoredForCreate(def, ns, await scope.readObject(r));
  const created = await scope.ops.create(scope.storageOf(def), ns, obj, scope.writeOptions(r, '', obj));
  return scope.sendObject(r, 201, created);
}
