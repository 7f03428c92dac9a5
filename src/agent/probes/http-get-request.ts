/**
 * The GET request kubelet builds from an HTTPGetAction, for probes and lifecycle hooks alike
 * (pkg/probe/http/request.go NewRequestForHTTPGetAction): scheme (default HTTP), host (the action's, else the pod
 * IP), port by number or container port name, path (query kept), httpHeaders with Go's canonical names,
 * `User-Agent: kube-<purpose>/1.32` and an Accept header for every type unless the action sets them (an empty Accept removes it),
 * and a `Host` header that overrides the request's host.
 */
import { isIP } from 'node:net';
import type { Container, HTTPGetAction } from 'kubernetes-types/core/v1.js';
import { resolveContainerPort } from './container-port.js';

/** The Kubernetes minor skiff's agent reports, in the user agent of its probes (`kube-probe/1.32`). */
export const KUBE_VERSION = { major: '1', minor: '32' };

export interface HttpGetRequest {
  url: URL;
  /** Canonical header names (Go's http.Header) to their values, Host excluded. */
  headers: Map<string, string[]>;
  /** The Host header to send; empty = the URL's host:port. */
  host: string;
}

export function userAgent(purpose: 'probe' | 'lifecycle'): string {
  return `kube-${purpose}/${KUBE_VERSION.major}.${KUBE_VERSION.minor}`;
}

/** Throws an Error with upstream's words when the port cannot be resolved. */
export function newRequestForHttpGetAction(action: HTTPGetAction, container: Pick<Container, 'ports'>, podIp: string, purpose: 'probe' | 'lifecycle'): HttpGetRequest {
  const scheme = (action.scheme ?? '').toLowerCase() || 'http';
  const host = action.host || podIp;
  const port = resolveContainerPort(action.port, container);
  const headers = new Map<string, string[]>();
  for (const h of action.httpHeaders ?? []) {
    const name = canonicalHeaderKey(h.name);
    headers.set(name, [...(headers.get(name) ?? []), h.value]);
  }
  if (!headers.has('User-Agent')) headers.set('User-Agent', [userAgent(purpose)]);
  if (!headers.has('Accept')) headers.set('Accept', ['*/*']);
  else if ((headers.get('Accept')![0] ?? '') === '') headers.delete('Accept');
  const hostHeader = headers.get('Host')?.[0] ?? '';
  headers.delete('Host');
  return { url: formatUrl(scheme, host, port, action.path ?? ''), headers, host: hostHeader };
}

/** formatURL: the path may carry a query; scheme, host and port always come from the action. */
export function formatUrl(scheme: string, host: string, port: number, path: string): URL {
  const hostPort = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  const url = new URL(`${scheme}://${hostPort}/`);
  let parsed: URL | undefined;
  try {
    parsed = new URL(path, 'http://path.invalid/');
  } catch {
    parsed = undefined;
  }
  if (parsed) {
    url.pathname = parsed.pathname;
    url.search = parsed.search;
  } else {
    url.pathname = path.startsWith('/') ? path : `/${path}`;
  }
  return url;
}

/** textproto.CanonicalMIMEHeaderKey: `x-custom-header` -> `X-Custom-Header`; names with invalid bytes stay as given. */
export function canonicalHeaderKey(name: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
  let upper = true;
  let out = '';
  for (const ch of name) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}
