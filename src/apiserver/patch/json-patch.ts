/**
 * JSON patch (`application/json-patch+json`, RFC 6902), applied with fast-json-patch. kubectl sends
 * it for `rollout undo`; @kubernetes/client-node uses it by default for every PATCH.
 * Errors follow kube-apiserver (handlers/patch.go): a body that is not a list of operation objects
 * is 400, more than 10000 operations is 413, an operation that fails (a `test` that does not hold,
 * a path that does not exist, an unknown `op`) is 422 and nothing is applied.
 */
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { StatusError } from '../../api/status.js';
import { describe, jsonKind, patchMalformed, patchNotApplicable } from './patch-errors.js';
import { isObject } from './json-value.js';

/** kube-apiserver's maxJSONPatchOperations. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

/** Applies the operations in `patch` to `target` and returns the result; neither argument is modified. */
export function applyJsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) {
    throw patchMalformed(`json patch must be a list of operations, got ${jsonKind(patch)}: ${describe(patch)}`);
  }
  patch.forEach((operation, index) => {
    if (!isObject(operation)) {
      throw patchMalformed(`json patch operation ${index} must be an object, got ${jsonKind(operation)}: ${describe(operation)}`);
    }
  });
  if (patch.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new StatusError({
      message: `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${patch.length}`,
      reason: 'RequestEntityTooLarge',
      code: 413,
    });
  }
  const operations = structuredClone(patch) as Operation[];
  let document = structuredClone(target);
  operations.forEach((operation, index) => {
    try {
      // validate=true checks the operation against the document before applying it, so a bad
      // operation throws instead of being skipped. Applied one by one because fast-json-patch
      // reports index 0 for every validation error. The document is our own clone.
      document = jsonpatch.applyOperation(document, operation, true, true, true, index).newDocument;
    } catch (err) {
      throw patchNotApplicable(`json patch operation ${index} (${describe(operation.op)} ${describe(operation.path)}) does not apply: ${reason(err)}`);
    }
  });
  return document;
}

function reason(err: unknown): string {
  // JsonPatchError messages append the operation and document on further lines; fast-json-patch
  // refuses `__proto__` paths with a plain TypeError.
  const message = err instanceof Error ? err.message : String(err);
  const end = message.indexOf('\n');
  return end < 0 ? message : message.slice(0, end);
}
