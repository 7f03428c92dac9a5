/**
 * JSON merge patch (`application/merge-patch+json`, RFC 7396): objects merge recursively, `null`
 * deletes a key, everything else (arrays included) replaces. kubectl sends it for label, annotate,
 * scale and for apply/edit of custom resources.
 */
import { isObject, setKey } from './json-value.js';

/** Applies `patch` to `target` and returns the result; neither argument is modified. */
export function jsonMergePatch(target: unknown, patch: unknown): unknown {
  return mergeInto(structuredClone(target), structuredClone(patch));
}

/** The same on a target the caller gives up (its private copy), which becomes the result; `patch` is not modified. */
export function jsonMergePatchInto(target: unknown, patch: unknown): unknown {
  return mergeInto(target, structuredClone(patch));
}

// RFC 7396 §2 MergePatch, working on private copies.
function mergeInto(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result = isObject(target) ? target : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else setKey(result, key, mergeInto(Object.hasOwn(result, key) ? result[key] : undefined, value));
  }
  return result;
}
