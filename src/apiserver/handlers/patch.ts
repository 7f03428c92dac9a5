/** PATCH with a JSON patch, a merge patch or a strategic merge patch (endpoints/handlers/patch.go). */
import type { KubeObject } from '../../api/object.js';
import { unsupportedMediaType } from '../../api/status.js';
import { contentTypeOf, decodePatchBody, fieldValidation, PATCH_TYPES, readBody } from './decode.js';
import type { ApiRequest, RequestScope } from './scope.js';

export async function patchResource(scope: RequestScope, r: ApiRequest, subresource: string): Promise<void> {
  const { def } = r;
  const ct = contentTypeOf(r.req);
  const applyPatch = scope.ext.applyPatch;
  if (!PATCH_TYPES.has(ct) || !applyPatch) throw unsupportedMediaType(ct);
  const patch = decodePatchBody(ct, await readBody(r.req), scope.ext);
  const validation = fieldValidation(r.query);
  const patched = await scope.ops.update(
    scope.storageOf(def),
    r.info.namespace,
    r.info.name,
    (cur: KubeObject) => {
      const patchServed = (served: KubeObject) => {
        const out = applyPatch(ct, served, patch, def);
        scope.checkDecoded(r, out, validation);
        return scope.toStored(def, out);
      };
      const served = scope.toServed(def, cur);
      return served instanceof Promise ? served.then((s) => patchServed(s.obj)) : patchServed(served.obj);
    },
    { ...scope.writeOptions(r, subresource), subresource },
  );
  return scope.sendObject(r, 200, patched);
}
