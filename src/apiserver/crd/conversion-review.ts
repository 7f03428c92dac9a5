/**
 * The ConversionReview contract of CRD webhook conversion, as pure functions (apiextensions-apiserver 1.32,
 * pkg/apiserver/conversion/webhook_converter.go): the request in the first review version the webhook accepts, and
 * the checks on its answer — review kind and uid, result Success, one converted object per object sent, each in the
 * desired apiVersion with the original kind, name, namespace and uid; of its metadata only labels and annotations are
 * kept (validated when changed), the rest is the original's. Failures are `ConversionError`s carrying upstream's
 * message (`conversion webhook for stable.example.com/v1, Kind=CronTab failed: ...`).
 */
import type { KubeObject } from '../../api/object.js';
import type { FieldError } from '../../api/status.js';
import { validateAnnotations, validateLabels } from '../../api/validation.js';
import { isObject } from './json-schema.js';

/** A conversion that did not produce objects; the message is upstream's, whole. */
export class ConversionError extends Error {}

/** The ConversionReview versions this server speaks, in no order of preference (the CRD lists the webhook's). */
export const KNOWN_REVIEW_VERSIONS: readonly string[] = ['v1', 'v1beta1'];

/** The first of the webhook's `conversionReviewVersions` this server speaks (upstream takes the first known one). */
export function reviewVersionOf(accepted: readonly string[] | undefined): string | undefined {
  return (accepted ?? []).find((v) => KNOWN_REVIEW_VERSIONS.includes(v));
}

/** A group/version/kind as Go prints a schema.GroupVersionKind: `stable.example.com/v1, Kind=CronTab`. */
export function gvkString(apiVersion: string | undefined, kind: string | undefined): string {
  const av = apiVersion ?? '';
  const slash = av.indexOf('/');
  const group = slash < 0 ? '' : av.slice(0, slash);
  const version = slash < 0 ? av : av.slice(slash + 1);
  return `${group}/${version}, Kind=${kind ?? ''}`;
}

/** The ConversionReview to POST. */
export function conversionReview(reviewVersion: string, uid: string, desiredAPIVersion: string, objects: readonly KubeObject[]): Record<string, unknown> {
  return { kind: 'ConversionReview', apiVersion: `apiextensions.k8s.io/${reviewVersion}`, request: { uid, desiredAPIVersion, objects } };
}

export interface ReviewAnswer {
  reviewVersion: string;
  uid: string;
  desiredAPIVersion: string;
  /** The objects sent, in order. */
  sent: readonly KubeObject[];
  /** The webhook's parsed answer. */
  response: unknown;
}

/**
 * The converted objects of a webhook's answer, checked as upstream checks them; each carries the metadata of the
 * object it was converted from, with the webhook's labels and annotations. Throws a ConversionError otherwise.
 */
export function convertedObjects(a: ReviewAnswer): KubeObject[] {
  const first = a.sent[0];
  const gvk = gvkString(first?.apiVersion, first?.kind);
  const failed = (msg: string) => new ConversionError(`conversion webhook for ${gvk} failed: ${msg}`);
  const body = a.response;
  if (body === null) throw failed("Object 'Kind' is missing in 'null'");
  if (!isObject(body)) {
    const kind = Array.isArray(body) ? 'array' : typeof body === 'boolean' ? 'bool' : typeof body;
    throw failed(`couldn't get version/kind; json parse error: json: cannot unmarshal ${kind} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`);
  }
  const response = body.response;
  if (a.reviewVersion === 'v1') {
    // v1 answers are checked for their kind and uid; v1beta1 ones were not, and still are not (compatibility).
    const want = 'apiextensions.k8s.io/v1, Kind=ConversionReview';
    const got = gvkString(typeof body.apiVersion === 'string' ? body.apiVersion : '', typeof body.kind === 'string' ? body.kind : '');
    if (got !== want) throw failed(`expected webhook response of ${want}, got ${got}`);
    if (!isObject(response)) throw failed('no response provided');
    if (response.uid !== a.uid) throw failed(`expected response.uid=${JSON.stringify(a.uid)}, got ${JSON.stringify(typeof response.uid === 'string' ? response.uid : '')}`);
  } else if (!isObject(response)) {
    throw failed('no response provided');
  }
  const result = isObject(response.result) ? response.result : {};
  if (result.status !== 'Success') {
    if (typeof result.message === 'string' && result.message.length > 0) throw failed(result.message);
    throw failed(`response.result.status was '${typeof result.status === 'string' ? result.status : ''}', not 'Success'`);
  }
  const converted = Array.isArray(response.convertedObjects) ? response.convertedObjects : [];
  if (converted.length !== a.sent.length) throw new ConversionError(`conversion webhook for ${gvk} returned ${converted.length} objects, expected ${a.sent.length}`);
  const many = a.sent.length > 1;
  return converted.map((out, i) => {
    const original = a.sent[i]!;
    const of = `conversion webhook for ${gvkString(original.apiVersion, original.kind)}`;
    const at = many ? `invalid converted object at index ${i}` : 'invalid object at index 0';
    if (!isObject(out)) throw new ConversionError(`${of} returned ${at}: Object 'Kind' is missing in '${JSON.stringify(out)}'`);
    if (out.apiVersion !== a.desiredAPIVersion) {
      throw new ConversionError(`${of} returned ${at}: invalid groupVersion (expected ${a.desiredAPIVersion}, received ${typeof out.apiVersion === 'string' ? out.apiVersion : ''})`);
    }
    if (out.kind !== original.kind) throw new ConversionError(`${of} returned ${at}: invalid kind (expected ${original.kind}, received ${typeof out.kind === 'string' ? out.kind : ''})`);
    const invalid = many ? `invalid converted object at index ${i}` : 'invalid object';
    const sameMeta = sameIdentity(original, out as KubeObject);
    if (sameMeta) throw new ConversionError(`${of} returned ${invalid}: ${sameMeta}`);
    const restored = restoreMetadata(original, out);
    if (typeof restored === 'string') throw new ConversionError(`${of} returned invalid metadata${many ? ` in object at index ${i}` : ''}: ${restored}`);
    return restored;
  });
}

/** validateConvertedObject: name, namespace and uid unchanged (kind is checked before). */
function sameIdentity(original: KubeObject, out: KubeObject): string | undefined {
  const m = isObject(out.metadata) ? out.metadata : {};
  const pairs: [string, unknown, unknown][] = [
    ['name', original.metadata?.name ?? '', m.name ?? ''],
    ['namespace', original.metadata?.namespace ?? '', m.namespace ?? ''],
    ['UID', original.metadata?.uid ?? '', m.uid ?? ''],
  ];
  for (const [what, e, a] of pairs) if (e !== a) return `must have the same ${what}: ${String(e)} != ${String(a)}`;
  return undefined;
}

/**
 * restoreObjectMeta: the original's metadata, with the converted object's labels and annotations (string values;
 * validated when they differ from the original's). Returns the object, or the problem in upstream's words.
 */
function restoreMetadata(original: KubeObject, out: Record<string, unknown>): KubeObject | string {
  const answered = out.metadata;
  if (answered === undefined) return 'missing metadata in converted object';
  if (!isObject(answered)) return `invalid metadata of type ${goType(answered)} in converted object`;
  const metadata: Record<string, unknown> = structuredClone(original.metadata ?? {});
  for (const field of ['labels', 'annotations'] as const) {
    const value = answered[field];
    if (value === undefined || value === null) {
      delete metadata[field];
      continue;
    }
    if (!isObject(value)) return `invalid metadata.${field} of type ${goType(value)} in converted object`;
    const before = (metadata[field] ?? {}) as Record<string, unknown>;
    let changed = Object.keys(before).length !== Object.keys(value).length;
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') return `metadata.${field}[${k}] must be a string, but is ${goType(v)} in converted object`;
      if (before[k] !== v) changed = true;
    }
    if (changed) {
      const errs = field === 'labels' ? validateLabels(value as Record<string, string>, 'metadata.labels') : validateAnnotations(value as Record<string, string>, 'metadata.annotation');
      if (errs.length > 0) return aggregate(errs);
    }
    metadata[field] = value;
  }
  return { ...(out as KubeObject), metadata: metadata as KubeObject['metadata'] };
}

/** field.ErrorList.ToAggregate().Error(): one error bare, several in brackets. */
function aggregate(errs: FieldError[]): string {
  const msgs = errs.map((e) => `${e.field}: ${e.detail}`);
  return msgs.length === 1 ? msgs[0]! : `[${msgs.join(', ')}]`;
}

/** The Go type a JSON value decodes to (for messages). */
function goType(v: unknown): string {
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'float64';
    case 'boolean':
      return 'bool';
    default:
      return 'map[string]interface {}';
  }
}
