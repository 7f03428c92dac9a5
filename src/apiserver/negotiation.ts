/**
 * Media-type parsing for Accept and Content-Type, and the choices kubectl relies on:
 * server-side Tables (`as=Table;g=meta.k8s.io`) and aggregated discovery v2/v2beta1.
 * See reference/kubectl-api-compat.md §2, §4.1, §4.5.
 */
import { notAcceptable } from '../api/status.js';

export interface MediaType {
  type: string;
  params: Record<string, string>;
}

export function parseMediaType(value: string): MediaType {
  const [type, ...params] = value.split(';');
  const out: MediaType = { type: type.trim().toLowerCase(), params: {} };
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    out.params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"|"$/g, '');
  }
  return out;
}

/** Splits an Accept header into media types, in the order given (kubectl orders by preference, without q values). */
export function parseAccept(header: string | undefined): MediaType[] {
  if (!header) return [];
  return header
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseMediaType);
}

export type DiscoveryFormat = 'v2' | 'v2beta1' | 'legacy';

/**
 * Aggregated discovery is chosen by the first acceptable entry in Accept order: kubectl 1.27-1.29 only ask for
 * v2beta1, 1.30+ for v2 first (KEP-3352). Anything else gets the legacy documents.
 */
export function negotiateDiscovery(accept: MediaType[]): DiscoveryFormat {
  for (const m of accept) {
    if (m.params.as === 'APIGroupDiscoveryList' && m.params.g === 'apidiscovery.k8s.io') {
      if (m.params.v === 'v2') return 'v2';
      if (m.params.v === 'v2beta1') return 'v2beta1';
      continue;
    }
    if (m.type === 'application/json' || m.type === '*/*' || m.type === 'application/*') return 'legacy';
  }
  return 'legacy';
}

export type TableVersion = 'v1' | 'v1beta1';

/** Returns the Table version asked for, if a Table is preferred over plain JSON. */
export function negotiateTable(accept: MediaType[]): TableVersion | undefined {
  for (const m of accept) {
    if (m.params.as === 'Table' && m.params.g === 'meta.k8s.io') {
      if (m.params.v === 'v1' || m.params.v === 'v1beta1') return m.params.v;
      continue;
    }
    if (m.params.as) continue;
    if (m.type === 'application/json' || m.type === '*/*' || m.type === 'application/vnd.kubernetes.protobuf') return undefined;
  }
  return undefined;
}

export const TABLE_CONTENT_TYPE = 'application/json;as=Table;v=v1;g=meta.k8s.io';

/** The serializations resource endpoints offer (upstream's order: the first one answers a wildcard). */
export type OutputFormat = 'json' | 'yaml' | 'protobuf';

/**
 * What a resource response is turned into before it is serialized: the object itself, its metadata only
 * (`as=PartialObjectMetadata[List];g=meta.k8s.io`, client-go's metadata informers and the garbage collector), or a
 * server-side Table (kubectl get).
 */
export type OutputConversion = { kind: 'PartialObjectMetadata' | 'PartialObjectMetadataList' | 'Table'; version: string } | undefined;

export interface NegotiatedOutput {
  format: OutputFormat;
  convert: OutputConversion;
  /** `pretty=1` in the media type (the pretty query parameter is read by the caller). */
  pretty: boolean;
}

export interface OutputOffers {
  /** The kind has a protobuf encoding (built-in kinds; custom resources have none). */
  protobuf: boolean;
  /** Watches: YAML has no stream framing, so it is not offered. */
  stream?: boolean;
}

const ACCEPTED_MEDIA_TYPES = 'application/json, application/yaml, application/vnd.kubernetes.protobuf';

interface Clause extends MediaType {
  q: number;
  order: number;
}

/**
 * Accept clauses best first: by q value, then concrete types before wildcards (goautoneg's order, which
 * kube-apiserver negotiates with); q=0 refuses a type and is dropped.
 */
export function parseAcceptClauses(header: string | undefined): Clause[] {
  const clauses: Clause[] = [];
  parseAccept(header).forEach((m, order) => {
    const qRaw = m.params.q;
    const q = qRaw === undefined ? 1 : Number(qRaw);
    if (!(q > 0)) return;
    const { q: _q, ...params } = m.params;
    clauses.push({ type: m.type, params, q, order });
  });
  const wild = (t: string) => (t === '*/*' ? 2 : t.endsWith('/*') ? 1 : 0);
  return clauses.sort((a, b) => b.q - a.q || wild(a.type) - wild(b.type) || a.order - b.order);
}

/**
 * Picks the response's serialization and conversion from Accept, as kube-apiserver's NegotiateOutputMediaType with a
 * resource endpoint's restrictions: each clause in preference order is matched against JSON, YAML and protobuf; a
 * clause asking for a conversion is taken only where the endpoint allows it (Table in JSON or YAML only,
 * PartialObjectMetadata[List] in any format, nothing else of meta.k8s.io); a plain clause for protobuf only for kinds
 * that have it. No Accept (or an empty one) means JSON. Nothing acceptable: 406 in upstream's words.
 */
export function negotiateOutput(header: string | undefined, offers: OutputOffers): NegotiatedOutput {
  // Clients send a handful of distinct Accept headers, each on every request: remember the answers.
  const cacheKey = `${offers.protobuf ? 'p' : '-'}${offers.stream ? 's' : '-'}${header ?? ''}`;
  const cached = negotiated.get(cacheKey);
  if (cached) {
    if (cached instanceof Error) throw cached;
    return cached;
  }
  let result: NegotiatedOutput | Error;
  try {
    result = negotiateUncached(header, offers);
  } catch (err) {
    result = err as Error;
  }
  if (negotiated.size >= MAX_CACHED_NEGOTIATIONS) negotiated.clear();
  negotiated.set(cacheKey, result);
  if (result instanceof Error) throw result;
  return result;
}

/** Answers (or 406 errors, which are never changed by their receivers) by Accept header; bounded. */
const negotiated = new Map<string, NegotiatedOutput | Error>();
const MAX_CACHED_NEGOTIATIONS = 512;

function negotiateUncached(header: string | undefined, offers: OutputOffers): NegotiatedOutput {
  if (parseAccept(header).length === 0) return { format: 'json', convert: undefined, pretty: false };
  const clauses = parseAcceptClauses(header);
  const formats: OutputFormat[] = offers.stream ? ['json', 'protobuf'] : ['json', 'yaml', 'protobuf'];
  for (const c of clauses) {
    for (const format of formats) {
      if (!mediaTypeMatches(c.type, format)) continue;
      const chosen = acceptClause(c, format, offers);
      if (chosen) return chosen;
    }
  }
  throw notAcceptable(`only the following media types are accepted: ${ACCEPTED_MEDIA_TYPES}`);
}

function mediaTypeMatches(type: string, format: OutputFormat): boolean {
  if (type === '*/*' || type === 'application/*') return true;
  return type === MEDIA_TYPE_OF[format];
}

const MEDIA_TYPE_OF: Record<OutputFormat, string> = { json: 'application/json', yaml: 'application/yaml', protobuf: 'application/vnd.kubernetes.protobuf' };

/** The content type of a response in `format`, with its conversion's parameters. */
export function outputContentType(out: NegotiatedOutput, stream = false): string {
  let ct = MEDIA_TYPE_OF[out.format];
  if (out.convert) ct += `;as=${out.convert.kind};v=${out.convert.version};g=meta.k8s.io`;
  if (stream && out.format === 'protobuf') ct += ';stream=watch';
  return ct;
}

function acceptClause(c: Clause, format: OutputFormat, offers: OutputOffers): NegotiatedOutput | undefined {
  const { as, g, v } = c.params;
  const pretty = c.params.pretty === '1';
  if (as === undefined && g === undefined && v === undefined) {
    if (format === 'protobuf' && !offers.protobuf) return undefined;
    return { format, convert: undefined, pretty };
  }
  // A conversion (even one naming only g or v) must be one the endpoint allows.
  if (g !== 'meta.k8s.io' || (v !== 'v1' && v !== 'v1beta1')) return undefined;
  if (as === 'Table') return format === 'protobuf' ? undefined : { format, convert: { kind: 'Table', version: v }, pretty };
  if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return { format, convert: { kind: as, version: v }, pretty };
  return undefined;
}
