/**
 * The routing table of the built-in ingress controller, computed from the API objects by pure functions:
 * `computeRouteTable` (Ingresses of skiff's class + Services + EndpointSlices + TLS Secrets → table) and
 * `routeRequest` (table + Host + path → backend). The proxy swaps whole tables, so a request sees one table only.
 *
 * Matching follows the Ingress API (https://kubernetes.io/docs/concepts/services-networking/ingress/#path-types and
 * #hostname-wildcards): Prefix matches path elements (`/foo` matches `/foo`, `/foo/` and `/foo/bar`, never
 * `/foobar`), ImplementationSpecific is treated as Prefix, Exact matches the whole path; the longest matching path
 * wins, Exact before Prefix at equal length. `*.example.com` matches exactly one more label (`a.example.com`, not
 * `example.com` nor `a.b.example.com`). A host is tried against its exact rules, then the wildcard rules, then the
 * rules without a host (Traefik, which k3s ships, routes so); then the defaultBackend.
 */
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Ingress, IngressBackend, IngressClass } from 'kubernetes-types/networking/v1.js';

/** spec.controller of skiff's IngressClass. */
export const INGRESS_CONTROLLER = 'skiff.dev/ingress';
/** The IngressClass skiff creates. */
export const INGRESS_CLASS_NAME = 'skiff';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
/** The class annotation Ingresses used before spec.ingressClassName (still honoured by ingress-nginx and Traefik). */
export const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

export interface Backend {
  /** `namespace/service:port` as the Ingress names it, for logs and error bodies. */
  name: string;
  /** `ip:port` of ready endpoints (`[ip]:port` for IPv6); empty: 503. */
  endpoints: string[];
  /** Why there is nothing to route to: 503 when the Service exists without ready endpoints, 502 otherwise. */
  problem?: { status: 502 | 503; message: string };
}

export interface PathRule {
  pathType: 'Exact' | 'Prefix';
  /** The path as written; for Prefix without its trailing slash (`/` stays `/`). */
  path: string;
  backend: Backend;
}

export interface CertificatePair {
  cert: string;
  key: string;
  /** `namespace/name` of the Secret. */
  secret: string;
}

export interface RouteTable {
  /** Rules by exact host (lower-case), each list sorted by precedence. */
  hosts: Map<string, PathRule[]>;
  /** Rules by wildcard suffix (`.example.com` for `*.example.com`). */
  wildcards: Map<string, PathRule[]>;
  /** Rules of rules without a host. */
  anyHost: PathRule[];
  defaultBackend?: Backend;
  /** TLS certificates by host (exact or `*.`-wildcard as written in spec.tls[].hosts, lower-case). */
  certificates: Map<string, CertificatePair>;
  /** Problems found while building (missing Secrets, bad certificates), for events and logs; never fatal. */
  warnings: string[];
  /** The same problems as Warning Events on the Ingress that has them (the agent records them). */
  ingressWarnings: IngressWarning[];
}

/** A problem of one Ingress, for a Warning Event on it. */
export interface IngressWarning {
  ingress: Ingress;
  reason: 'TLSSecretNotFound' | 'InvalidTLSSecret';
  message: string;
}

export interface RouteInputs {
  ingresses: readonly Ingress[];
  classes: readonly IngressClass[];
  services: readonly Service[];
  endpointSlices: readonly EndpointSlice[];
  /** The Secrets the Ingresses' spec.tls name, as read (those not of type kubernetes.io/tls are warned about). */
  secrets: readonly { metadata?: { namespace?: string; name?: string }; type?: string; data?: Record<string, string> }[];
}

/** The classes skiff implements, and whether one of them is the cluster's default. */
export function skiffClasses(classes: readonly IngressClass[]): { names: Set<string>; isDefault: boolean } {
  const mine = classes.filter((c) => c.spec?.controller === INGRESS_CONTROLLER && !c.metadata?.deletionTimestamp);
  return { names: new Set(mine.map((c) => c.metadata?.name ?? '')), isDefault: mine.some((c) => c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true') };
}

/** Whether skiff serves this Ingress: its class is one of skiff's, or it names none and skiff's class is the default. */
export function isSkiffIngress(ing: Ingress, classes: { names: Set<string>; isDefault: boolean }): boolean {
  const named = ing.spec?.ingressClassName ?? ing.metadata?.annotations?.[LEGACY_CLASS_ANNOTATION];
  return named === undefined || named === '' ? classes.isDefault : classes.names.has(named);
}

function sortRules(rules: PathRule[]): PathRule[] {
  // Longest path first; Exact before Prefix at equal length (the Ingress API's precedence).
  return rules.sort((a, b) => b.path.length - a.path.length || (a.pathType === b.pathType ? 0 : a.pathType === 'Exact' ? -1 : 1));
}

function prefixPath(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') || '/' : path;
}

export function computeRouteTable(inputs: RouteInputs): RouteTable {
  const classes = skiffClasses(inputs.classes);
  const services = new Map(inputs.services.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const slice of inputs.endpointSlices) {
    const svc = slice.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const key = `${slice.metadata?.namespace}/${svc}`;
    slicesByService.set(key, [...(slicesByService.get(key) ?? []), slice]);
  }
  const secrets = new Map(inputs.secrets.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
  const table: RouteTable = { hosts: new Map(), wildcards: new Map(), anyHost: [], certificates: new Map(), warnings: [], ingressWarnings: [] };
  const backends = new Map<string, Backend>();
  const resolve = (ns: string, b: IngressBackend): Backend => {
    const port = b.service?.port?.number ?? b.service?.port?.name ?? '';
    const name = `${ns}/${b.service?.name ?? '<resource>'}:${port}`;
    let backend = backends.get(name);
    if (!backend) {
      backend = resolveBackend(name, ns, b, services, slicesByService);
      backends.set(name, backend);
    }
    return backend;
  };

  // Oldest first, so the defaultBackend and a certificate named twice are the oldest Ingress's (ingress-nginx's rule).
  const ingresses = inputs.ingresses
    .filter((i) => isSkiffIngress(i, classes) && !i.metadata?.deletionTimestamp)
    .sort((a, b) => String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? '')) || `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`));
  for (const ing of ingresses) {
    const ns = ing.metadata?.namespace ?? 'default';
    if (ing.spec?.defaultBackend && !table.defaultBackend) table.defaultBackend = resolve(ns, ing.spec.defaultBackend);
    for (const rule of ing.spec?.rules ?? []) {
      const host = (rule.host ?? '').toLowerCase();
      const list = host === '' ? table.anyHost : host.startsWith('*.') ? getOrSet(table.wildcards, host.slice(1)) : getOrSet(table.hosts, host);
      for (const p of rule.http?.paths ?? []) {
        const pathType = p.pathType === 'Exact' ? 'Exact' : 'Prefix';
        const path = pathType === 'Prefix' ? prefixPath(p.path || '/') : p.path || '/';
        // The first Ingress to claim a host+path keeps it (oldest first).
        if (list.some((r) => r.pathType === pathType && r.path === path)) continue;
        list.push({ pathType, path, backend: resolve(ns, p.backend) });
      }
    }
    for (const tls of ing.spec?.tls ?? []) {
      if (!tls.secretName) continue;
      const key = `${ns}/${tls.secretName}`;
      const secret = secrets.get(key);
      const cert = secret?.data?.['tls.crt'];
      const pkey = secret?.data?.['tls.key'];
      const problem = !secret
        ? 'was not found'
        : secret.type !== 'kubernetes.io/tls'
          ? `is of type ${secret.type || 'Opaque'}, not kubernetes.io/tls`
          : !cert || !pkey
            ? `has no ${!cert ? 'tls.crt' : 'tls.key'}`
            : undefined;
      if (problem || !cert || !pkey) {
        // ingress-nginx logs "Error getting SSL certificate ...: ... Using default certificate" and serves the host anyway.
        const hosts = (tls.hosts ?? []).join(', ') || 'its hosts';
        const message = `TLS Secret ${key} ${problem}: ${hosts} ${(tls.hosts ?? []).length === 1 ? 'is' : 'are'} served with the default certificate`;
        table.warnings.push(`Ingress ${ns}/${ing.metadata?.name}: ${message}`);
        table.ingressWarnings.push({ ingress: ing, reason: secret ? 'InvalidTLSSecret' : 'TLSSecretNotFound', message });
        continue;
      }
      const pair = { cert: Buffer.from(cert, 'base64').toString(), key: Buffer.from(pkey, 'base64').toString(), secret: key };
      for (const h of tls.hosts ?? []) if (!table.certificates.has(h.toLowerCase())) table.certificates.set(h.toLowerCase(), pair);
    }
  }
  for (const rules of [...table.hosts.values(), ...table.wildcards.values(), table.anyHost]) sortRules(rules);
  return table;
}

function getOrSet(map: Map<string, PathRule[]>, key: string): PathRule[] {
  let v = map.get(key);
  if (!v) map.set(key, (v = []));
  return v;
}

function resolveBackend(name: string, ns: string, b: IngressBackend, services: Map<string, Service>, slicesByService: Map<string, EndpointSlice[]>): Backend {
  if (!b.service?.name) return { name, endpoints: [], problem: { status: 502, message: `backend ${name} is not a Service (resource backends are not supported)` } };
  const svc = services.get(`${ns}/${b.service.name}`);
  if (!svc) return { name, endpoints: [], problem: { status: 503, message: `Service ${ns}/${b.service.name} not found` } };
  if (svc.spec?.type === 'ExternalName') return { name, endpoints: [], problem: { status: 502, message: `Service ${ns}/${b.service.name} is of type ExternalName` } };
  const want = b.service.port;
  const sp = (svc.spec?.ports ?? []).find((p) => (want?.number !== undefined ? p.port === want.number : p.name === want?.name));
  if (!sp) return { name, endpoints: [], problem: { status: 503, message: `Service ${ns}/${b.service.name} has no port ${want?.number ?? want?.name}` } };
  const protocol = sp.protocol ?? 'TCP';
  const endpoints: string[] = [];
  for (const slice of slicesByService.get(`${ns}/${b.service.name}`) ?? []) {
    // The slice port carries the Service port's name ('' when the Service has one unnamed port) and the resolved target.
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === protocol)?.port;
    if (port === undefined || port === null) continue;
    for (const ep of slice.endpoints ?? []) {
      // ready nil counts as ready (EndpointConditions); a terminating endpoint gets no new connections.
      if (ep.conditions?.ready === false) continue;
      const ip = ep.addresses?.[0];
      if (!ip) continue;
      const hostPort = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
      if (!endpoints.includes(hostPort)) endpoints.push(hostPort);
    }
  }
  endpoints.sort();
  if (endpoints.length === 0) return { name, endpoints, problem: { status: 503, message: `no ready endpoints for Service ${ns}/${b.service.name} port ${want?.number ?? want?.name}` } };
  return { name, endpoints };
}

/** True when `path` falls under the Prefix rule `prefix` element by element (`prefix` has no trailing slash). */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path[prefix.length] === '/';
}

function matchRules(rules: readonly PathRule[] | undefined, path: string): PathRule | undefined {
  if (!rules) return undefined;
  for (const r of rules) if (r.pathType === 'Exact' ? r.path === path : prefixMatches(r.path, path)) return r;
  return undefined;
}

/** The Host header (or SNI name) without its port, lower-case; `[::1]:80` → `::1`. */
export function normalizeHost(host: string | undefined): string {
  if (!host) return '';
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.indexOf(':');
  return (colon >= 0 && h.indexOf(':', colon + 1) < 0 ? h.slice(0, colon) : h).replace(/\.$/, '');
}

/** The wildcard key (`.example.com`) that `host` falls under, if it has at least two labels. */
function wildcardKey(host: string): string | undefined {
  const dot = host.indexOf('.');
  return dot > 0 ? host.slice(dot) : undefined;
}

/** Where a request goes: the matched rule's backend, else the defaultBackend, else nothing (404). */
export function routeRequest(table: RouteTable, hostHeader: string | undefined, rawPath: string): { backend: Backend; rule?: PathRule } | undefined {
  const host = normalizeHost(hostHeader);
  const q = rawPath.indexOf('?');
  const path = (q >= 0 ? rawPath.slice(0, q) : rawPath) || '/';
  const wk = wildcardKey(host);
  const rule = matchRules(table.hosts.get(host), path) ?? (wk ? matchRules(table.wildcards.get(wk), path) : undefined) ?? matchRules(table.anyHost, path);
  if (rule) return { backend: rule.backend, rule };
  return table.defaultBackend ? { backend: table.defaultBackend } : undefined;
}

/** The certificate for an SNI name: exact host, then its `*.` wildcard; undefined: the default certificate. */
export function certificateFor(table: RouteTable, serverName: string): CertificatePair | undefined {
  const host = normalizeHost(serverName);
  const wk = wildcardKey(host);
  return table.certificates.get(host) ?? (wk ? table.certificates.get(`*${wk}`) : undefined);
}
