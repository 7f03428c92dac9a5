/**
 * The StatusErrors a patch can fail with, shaped like kube-apiserver's
 * (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go).
 */
import { StatusError, badRequest } from '../../api/status.js';

/** The patch types kube-apiserver accepts for built-in kinds, in the order its 415 message lists them. */
export const PatchContentType = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  applyYaml: 'application/apply-patch+yaml',
} as const;

/**
 * A patch that is well-formed but cannot be applied (a failed JSON patch `test`, a missing path,
 * a list of lists in a strategic merge patch). kube-apiserver answers these with
 * `NewGenericServerResponse(422, ...)`: reason Invalid and a generic message. It drops the detail;
 * we keep it as the single cause, which kubectl prints after "The request is invalid".
 */
export function patchNotApplicable(detail: string): StatusError {
  return new StatusError({
    message: 'the server rejected our request due to an error in our request',
    reason: 'Invalid',
    code: 422,
    details: { causes: [{ message: detail }] },
  });
}

/** A patch body of the wrong shape or with a malformed directive: 400 BadRequest with the detail as message. */
export function patchMalformed(message: string): StatusError {
  return badRequest(message);
}

/** 415 for a Content-Type this resource does not take as a patch, listing what it does take. */
export function unsupportedPatchType(accepted: readonly string[], note = ''): StatusError {
  const message = `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}${note}`;
  return new StatusError({ message, reason: 'UnsupportedMediaType', code: 415 });
}

/** Compact JSON of a value for error messages, cut short so a huge patch cannot flood a log line. */
export function describe(value: unknown, limit = 200): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > limit ? `${text.slice(0, limit)}...` : text;
}

/** `array`, `object`, `null`, `string`, ... as a JSON reader would name it. */
export function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
