/**
 * Media-type parsing for Accept and Content-Type, and the choices kubectl relies on:
 * server-side Tables (`as=Table;g=meta.k8s.io`) and aggregated discovery v2/v2beta1.
 * See reference/kubectl-api-compat.md §2, §4.1, §4.5.
 */

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
