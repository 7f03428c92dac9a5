/**
 * The one entry the PATCH handler calls: picks the engine by Content-Type and applies the body.
 * kube-apiserver accepts JSON patch, JSON merge patch and strategic merge patch for built-in kinds,
 * and the first two only for custom resources (handlers/patch.go, endpoints/installer.go,
 * apiextensions-apiserver customresource_handler.go).
 */
import type { KubeObject } from '../../api/object.js';
import { jsonMergePatch, jsonMergePatchInto } from './json-merge-patch.js';
import { applyJsonPatch } from './json-patch.js';
import { isObject } from './json-value.js';
import { PatchContentType, describe, jsonKind, patchMalformed, patchNotApplicable, unsupportedPatchType } from './patch-errors.js';
import type { PatchSchema } from './patch-schema.js';
import { schemaTablePatchSchema } from './schema-table-patch-schema.js';
import { strategicMergePatch } from './strategic-merge-patch.js';

export { PatchContentType } from './patch-errors.js';

/**
 * The patch Content-Types applyPatch accepts: all three for kinds with a schema (built-in kinds),
 * JSON patch and merge patch for kinds without one (custom resources).
 * Server-side apply (`application/apply-patch+yaml`) is not among them yet.
 */
export function supportedPatchContentTypes(hasSchema: boolean): string[] {
  const types: string[] = [PatchContentType.json, PatchContentType.merge];
  if (hasSchema) types.push(PatchContentType.strategic);
  return types;
}

/**
 * Applies a PATCH body to `original` and returns the patched object; `original` and `patchBody` are
 * not modified (with `consumeOriginal`, a merge patch builds on `original` itself: the caller's private copy). `contentType` is the request's Content-Type (parameters such as `; charset=utf-8`
 * are ignored). `schemaTypeName` is the schema type of the object (e.g. `io.k8s.api.apps.v1.Deployment`);
 * undefined or '' means the kind has no schema (a custom resource), which rules out strategic merge patch.
 * `schema` defaults to the generated schema table.
 *
 * Throws a StatusError: 415 for a Content-Type that is not a supported patch type, 400 for a body of
 * the wrong shape or a malformed directive, 413 for too many JSON patch operations, 422 for a patch
 * that cannot be applied or that leaves something other than an object.
 */
export function applyPatch(
  contentType: string,
  original: KubeObject,
  patchBody: unknown,
  schemaTypeName: string | undefined,
  schema: PatchSchema = schemaTablePatchSchema,
  opts: { consumeOriginal?: boolean } = {},
): KubeObject {
  const mediaType = contentType.split(';', 1)[0].trim().toLowerCase();
  const hasSchema = schemaTypeName !== undefined && schemaTypeName !== '';
  let patched: unknown;
  switch (mediaType) {
    case PatchContentType.json:
      patched = applyJsonPatch(original, patchBody);
      break;
    case PatchContentType.merge:
      patched = (opts.consumeOriginal ? jsonMergePatchInto : jsonMergePatch)(original, requireObject(patchBody, 'merge patch'));
      break;
    case PatchContentType.strategic:
      if (!hasSchema) throw unsupportedPatchType(supportedPatchContentTypes(false));
      patched = strategicMergePatch(original, requireObject(patchBody, 'strategic merge patch'), schema, schemaTypeName!);
      break;
    case PatchContentType.applyYaml:
      throw unsupportedPatchType(supportedPatchContentTypes(hasSchema), ` (server-side apply, ${PatchContentType.applyYaml}, is not supported yet)`);
    default:
      throw unsupportedPatchType(supportedPatchContentTypes(hasSchema));
  }
  if (!isObject(patched)) {
    throw patchNotApplicable(`the patched object must be a JSON object, got ${jsonKind(patched)}: ${describe(patched)}`);
  }
  return patched as KubeObject;
}

function requireObject(body: unknown, what: string): Record<string, unknown> {
  if (!isObject(body)) throw patchMalformed(`${what} must be a JSON object, got ${jsonKind(body)}: ${describe(body)}`);
  return body;
}
