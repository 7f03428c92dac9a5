/**
 * JSON patch (`application/json-patch+json`, RFC 6902), applied with fast-json-patch. kubectl sends
 * it for `rollout undo`; @kubernetes/client-node uses it by default for every PATCH.
 * Errors follow kube-apiserver (handlers/patch.go): a body that is not a list of operation objects
 * is 400, more than 10000 operations is 413, an operation that fails (a `test` that does not hold,
 * a path that does not exist, an unknown `op`) is 422 and nothing is applied.
 *
 * `copy` is the one operation that can grow a document faster than the patch grows: each copy may
 * double it, so a few KB of patch could ask for gigabytes (CVE-2019-1002100). As kube-apiserver sets
 * json-patch's AccumulatedCopySizeLimit to its request body limit, the bytes all copies of one patch
 * add are bounded (the JSON size of each copied value), and going past is 422 with json-patch's words.
 */
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { StatusError } from '../../api/status.js';
import { MAX_OBJECT_BYTES } from '../limits/object-size.js';
import { describe, jsonKind, patchMalformed, patchNotApplicable } from './patch-errors.js';
import { isObject } from './json-value.js';

/** kube-apiserver's maxJSONPatchOperations. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

/** The bytes `copy` operations may add to a document in one patch (kube-apiserver: its request body limit, 3 MiB). */
export const MAX_JSON_PATCH_COPY_BYTES = MAX_OBJECT_BYTES;

/**
 * Applies the operations in `patch` to `target` and returns the result; neither argument is modified.
 * `copyLimit` bounds the bytes added by `copy` operations (default MAX_JSON_PATCH_COPY_BYTES).
 */
export function applyJsonPatch(target: unknown, patch: unknown, copyLimit = MAX_JSON_PATCH_COPY_BYTES): unknown {
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
  let copied = 0;
  operations.forEach((operation, index) => {
    if (operation.op === 'copy') {
      copied += copySize(document, operation.from);
      if (copied > copyLimit) {
        // json-patch v4's AccumulatedCopySizeError, answered as every failed operation is (422).
        throw patchNotApplicable(`Unable to complete the copy, the accumulated size increase of copy is ${copied}, exceeding the limit ${copyLimit}`);
      }
    }
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

/** The JSON size of the value a copy would duplicate; 0 when `from` names nothing (the operation then fails on its own). */
function copySize(document: unknown, from: unknown): number {
  if (typeof from !== 'string') return 0;
  let value: unknown;
  try {
    value = jsonpatch.getValueByPointer(document, from);
  } catch {
    return 0;
  }
  const json = value === undefined ? undefined : JSON.stringify(value);
  return json === undefined ? 0 : Buffer.byteLength(json, 'utf8');
}

function reason(err: unknown): string {
  // JsonPatchError messages append the operation and document on further lines; fast-json-patch
  // refuses `__proto__` paths with a plain TypeError.
  const message = err instanceof Error ? err.message : String(err);
  const end = message.indexOf('\n');
  return end < 0 ? message : message.slice(0, end);
}
