/** PUT of an object or of its status (endpoints/handlers/update.go). */
import type { ApiRequest, RequestScope } from './scope.js';

export async function updateResource(scope: RequestScope, r: ApiRequest, subresource: string): Promise<void> {
  const { def } = r;
  const obj = await scope.readObject(r);
  const updated = await scope.ops.update(scope.storageOf(def), r.info.namespace, r.info.name, { replace: () => scope.toStored(def, obj) }, {
    ...scope.writeOptions(r, subresource),
    subresource,
  });
  return scope.sendObject(r, 200, updated);
}
