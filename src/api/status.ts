/**
 * The one error type that crosses the HTTP boundary: a Kubernetes `Status`.
 * Reasons, codes and message shapes follow the API conventions and what kubectl prints
 * (`Error from server (<reason>): <message>`); client-go matches on reason or code, so both matter.
 */
import type { Status, StatusCause } from 'kubernetes-types/meta/v1.js';

export type StatusReason =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'BadRequest'
  | 'Gone'
  | 'Expired'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge'
  | 'Unauthorized'
  | 'Forbidden'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

/** Identifies the resource an error is about: `details.kind` is the plural resource, as on Kubernetes. */
export interface ResourceRef {
  group?: string;
  resource: string;
  name?: string;
}

export class StatusError extends Error {
  readonly status: Status;

  constructor(status: Status) {
    super(status.message ?? status.reason ?? 'unknown error');
    this.name = 'StatusError';
    this.status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', ...status };
  }

  get code(): number {
    return this.status.code ?? 500;
  }

  get reason(): string {
    return this.status.reason ?? '';
  }
}

/** `deployments.apps` for grouped resources, `pods` for core ones (the form kubectl prints). */
export function qualifiedResource(ref: ResourceRef): string {
  return ref.group ? `${ref.resource}.${ref.group}` : ref.resource;
}

function details(ref: ResourceRef, extra: Partial<NonNullable<Status['details']>> = {}): Status['details'] {
  const d: NonNullable<Status['details']> = { name: ref.name, kind: ref.resource, ...extra };
  if (ref.group) d.group = ref.group;
  return d;
}

export function notFound(ref: ResourceRef): StatusError {
  return new StatusError({
    message: `${qualifiedResource(ref)} "${ref.name ?? ''}" not found`,
    reason: 'NotFound',
    details: details(ref),
    code: 404,
  });
}

/** 404 for a path that names no resource at all. */
export function pathNotFound(): StatusError {
  return new StatusError({ message: 'the server could not find the requested resource', reason: 'NotFound', details: {}, code: 404 });
}

export function alreadyExists(ref: ResourceRef): StatusError {
  return new StatusError({
    message: `${qualifiedResource(ref)} "${ref.name ?? ''}" already exists`,
    reason: 'AlreadyExists',
    details: details(ref),
    code: 409,
  });
}

export function conflict(ref: ResourceRef, why = 'the object has been modified; please apply your changes to the latest version and try again'): StatusError {
  return new StatusError({
    message: `Operation cannot be fulfilled on ${qualifiedResource(ref)} "${ref.name ?? ''}": ${why}`,
    reason: 'Conflict',
    details: details(ref),
    code: 409,
  });
}

/** A field-level validation failure; `field` is a path like `spec.containers[0].name`. */
export interface FieldError {
  type: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueForbidden' | 'FieldValueTooLong' | 'FieldValueTypeInvalid' | 'FieldValueNotFound';
  field: string;
  /** The detail after `<field>: `, e.g. `Required value` or `Invalid value: "X": must be ...`. */
  detail: string;
}

export function fieldRequired(field: string, why = ''): FieldError {
  return { type: 'FieldValueRequired', field, detail: why ? `Required value: ${why}` : 'Required value' };
}

export function fieldInvalid(field: string, value: unknown, why: string): FieldError {
  return { type: 'FieldValueInvalid', field, detail: `Invalid value: ${formatValue(value)}: ${why}` };
}

export function fieldNotSupported(field: string, value: unknown, supported: string[]): FieldError {
  return {
    type: 'FieldValueNotSupported',
    field,
    detail: `Unsupported value: ${formatValue(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
  };
}

export function fieldDuplicate(field: string, value: unknown): FieldError {
  return { type: 'FieldValueDuplicate', field, detail: `Duplicate value: ${formatValue(value)}` };
}

export function fieldNotFound(field: string, value: unknown): FieldError {
  return { type: 'FieldValueNotFound', field, detail: `Not found: ${formatValue(value)}` };
}

export function fieldForbidden(field: string, why: string): FieldError {
  return { type: 'FieldValueForbidden', field, detail: `Forbidden: ${why}` };
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'null';
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** 422 Invalid: `<Kind>[.<group>] "<name>" is invalid: <field>: <detail>[, ...]` with one cause per error. */
export function invalid(kind: string, group: string | undefined, name: string, errors: FieldError[]): StatusError {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const causes: StatusCause[] = errors.map((e) => ({ reason: e.type, message: e.detail, field: e.field }));
  const summary = errors.map((e) => `${e.field}: ${e.detail}`);
  const message = `${qualifiedKind} "${name}" is invalid: ${summary.length === 1 ? summary[0] : `[${summary.join(', ')}]`}`;
  const d: NonNullable<Status['details']> = { name, kind, causes };
  if (group) d.group = group;
  return new StatusError({ message, reason: 'Invalid', details: d, code: 422 });
}

export function badRequest(message: string, causes?: StatusCause[]): StatusError {
  return new StatusError({ message, reason: 'BadRequest', code: 400, ...(causes ? { details: { causes } } : {}) });
}

/** 410 for a resourceVersion older than the compacted history (watch and Exact lists). */
export function expired(message: string): StatusError {
  return new StatusError({ message, reason: 'Expired', code: 410 });
}

export function gone(message: string): StatusError {
  return new StatusError({ message, reason: 'Gone', code: 410 });
}

export function methodNotAllowed(message = 'the server does not allow this method on the requested resource'): StatusError {
  return new StatusError({ message, reason: 'MethodNotAllowed', details: {}, code: 405 });
}

export function notAcceptable(message: string): StatusError {
  return new StatusError({ message, reason: 'NotAcceptable', code: 406 });
}

export function unsupportedMediaType(contentType: string): StatusError {
  return new StatusError({ message: `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got "${contentType}")`, reason: 'UnsupportedMediaType', code: 415 });
}

export function requestEntityTooLarge(limit: number): StatusError {
  return new StatusError({ message: `the request body is too large: limit is ${limit} bytes`, reason: 'RequestEntityTooLarge', code: 413 });
}

export function unauthorized(): StatusError {
  return new StatusError({ message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
}

export function forbidden(message: string): StatusError {
  return new StatusError({ message, reason: 'Forbidden', code: 403 });
}

export function internalError(err: unknown): StatusError {
  const message = err instanceof Error ? err.message : String(err);
  return new StatusError({ message: `Internal error occurred: ${message}`, reason: 'InternalError', details: { causes: [{ message }] }, code: 500 });
}

export function serviceUnavailable(message: string): StatusError {
  return new StatusError({ message, reason: 'ServiceUnavailable', code: 503 });
}

export function isStatusError(err: unknown): err is StatusError {
  return err instanceof StatusError;
}

export function isNotFound(err: unknown): boolean {
  return isStatusError(err) && err.reason === 'NotFound';
}

export function isAlreadyExists(err: unknown): boolean {
  return isStatusError(err) && err.reason === 'AlreadyExists';
}

export function isConflict(err: unknown): boolean {
  return isStatusError(err) && err.reason === 'Conflict';
}

export function isGone(err: unknown): boolean {
  return isStatusError(err) && err.code === 410;
}
