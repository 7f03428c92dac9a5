/**
 * Where `pods/proxy` and `services/proxy` go, as kube-apiserver computes it: pure functions from the pod (or the
 * service and its EndpointSlices) and the `scheme:name:port` of the request to an address, plus the path and
 * redirect arithmetic of k8s.io/apimachinery/pkg/util/proxy (UpgradeAwareHandler, Transport).
 *
 *   pods:     pkg/registry/core/pod/strategy.go ResourceLocation
 *   services: pkg/registry/core/service/storage/storage.go ResourceLocation (upstream reads the Endpoints object;
 *             skiff reads the EndpointSlices, which carry the same addresses, ports and readiness)
 */
import { isIP } from 'node:net';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { badRequest, notFound, serviceUnavailable } from '../../api/status.js';

export interface BackendAddress {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

/** An endpoint a service may be proxied to, with the pod it claims to be (checked before use, as upstream does). */
export interface EndpointCandidate {
  host: string;
  port: number;
  targetRef?: { kind?: string; namespace?: string; name?: string };
}

/** Go's net.IP.IsGlobalUnicast: not unspecified, loopback, link-local, multicast or broadcast. */
export function isGlobalUnicast(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) {
    const [a, b] = ip.split('.').map(Number) as [number, number];
    if (ip === '0.0.0.0' || ip === '255.255.255.255') return false;
    if (a === 127 || a >= 224) return false;
    if (a === 169 && b === 254) return false;
    return true;
  }
  if (family === 6) {
    const lower = ip.toLowerCase();
    if (lower === '::' || lower === '::1') return false;
    if (/^fe[89ab]/.test(lower) || lower.startsWith('ff')) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    return mapped ? isGlobalUnicast(mapped[1]!) : true;
  }
  return false;
}

function schemeOf(scheme: string): 'http' | 'https' {
  return scheme === 'https' ? 'https' : 'http';
}

function portNumber(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * pods/proxy: the pod's IP and the port of `name:port` (a number, or a container port's name: a skiff addition,
 * upstream hands the name to its dialer), else the first declared container port, else 80 (the http default of
 * the URL upstream builds without a port).
 */
export function podProxyAddress(pod: Pod, scheme: string, port: string): BackendAddress {
  const name = pod.metadata?.name ?? '';
  // getPodIP: the first of status.podIPs (podIP mirrors it).
  const ip = pod.status?.podIPs?.[0]?.ip ?? pod.status?.podIP ?? '';
  if (!isGlobalUnicast(ip)) throw badRequest('address not allowed');
  const containers = pod.spec?.containers ?? [];
  let n: number | undefined;
  if (port === '') {
    n = containers.find((c) => (c.ports ?? []).length > 0)?.ports?.[0]?.containerPort;
    n ??= scheme === 'https' ? 443 : 80;
  } else if (/^\d+$/.test(port)) {
    n = portNumber(port);
    if (n === undefined) throw badRequest(`invalid port ${JSON.stringify(port)} for pod ${JSON.stringify(name)}: must be between 1 and 65535`);
  } else {
    for (const c of [...containers, ...(pod.spec?.initContainers ?? [])]) {
      const p = (c.ports ?? []).find((x) => x.name === port);
      if (p) {
        n = p.containerPort;
        break;
      }
    }
    if (n === undefined) throw serviceUnavailable(`error trying to reach service: pod ${JSON.stringify(name)} has no container port named ${JSON.stringify(port)}`);
  }
  return { scheme: schemeOf(scheme), host: ip, port: n };
}

/**
 * services/proxy: the ready endpoints whose port carries the service port's name. A port number in the request is
 * first turned into the name of the service port with that number (503 when there is none); no port means the
 * unnamed port. Upstream's two messages: "no endpoints available for service NAME" when the service has no endpoint
 * at all, with the whole id when none fits. A service without EndpointSlices and without a selector (ExternalName,
 * or endpoints managed by hand and not made) has no Endpoints object upstream: 404 endpoints "NAME" not found.
 */
export function serviceProxyCandidates(service: Service, slices: EndpointSlice[], id: string, port: string): EndpointCandidate[] {
  const name = service.metadata?.name ?? '';
  let portName = port;
  const asNumber = /^\d+$/.test(port) ? Number(port) : undefined;
  if (asNumber !== undefined) {
    const sp = (service.spec?.ports ?? []).find((p) => p.port === asNumber);
    if (!sp) throw serviceUnavailable(`no service port ${asNumber} found for service ${JSON.stringify(name)}`);
    portName = sp.name ?? '';
  }
  if (slices.length === 0) {
    const selector = service.spec?.selector;
    if (service.spec?.type === 'ExternalName' || !selector || Object.keys(selector).length === 0) {
      throw notFound({ group: '', resource: 'endpoints', name });
    }
  }
  const addressed = slices.filter((s) => s.addressType === 'IPv4' || s.addressType === 'IPv6');
  if (!addressed.some((s) => (s.endpoints ?? []).length > 0)) throw serviceUnavailable(`no endpoints available for service ${JSON.stringify(name)}`);
  const out: EndpointCandidate[] = [];
  for (const slice of addressed) {
    const p = (slice.ports ?? []).find((x) => (x.name ?? '') === portName && (x.protocol ?? 'TCP') === 'TCP');
    if (!p?.port) continue;
    for (const ep of slice.endpoints ?? []) {
      // EndpointConditions.ready: nil means ready. Endpoints' "addresses" are exactly the ready ones.
      if (ep.conditions?.ready === false) continue;
      const host = ep.addresses[0];
      if (!host) continue;
      out.push({ host, port: p.port, ...(ep.targetRef ? { targetRef: ep.targetRef } : {}) });
    }
  }
  if (out.length === 0) throw serviceUnavailable(`no endpoints available for service ${JSON.stringify(id)}`);
  return out;
}

/**
 * isValidAddress: an endpoint is used only when it names a pod of the service's namespace that has that IP, so a
 * hand-written EndpointSlice cannot aim the API server at an arbitrary address. Returns why not, or undefined.
 */
export function endpointRejection(c: EndpointCandidate, namespace: string, pod: Pod | undefined): string | undefined {
  if (!c.targetRef || (c.targetRef.kind ?? 'Pod') !== 'Pod' || !c.targetRef.name) return `address ${c.host} has no target ref`;
  if (c.targetRef.namespace !== namespace) return `address ${c.host}: the target's namespace is not the service's`;
  if (!pod) return `address ${c.host}: pod ${namespace}/${c.targetRef.name} is missing`;
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip);
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  if (!ips.includes(c.host)) return `pod ip(s) doesn't match endpoint ip: [${ips.join(' ')}] vs ${c.host} (${namespace}/${c.targetRef.name})`;
  return undefined;
}

/** url.PathEscape-like: the path as the backend gets it (a decoded path re-escaped; '/' kept). */
export function escapePath(path: string): string {
  return encodeURI(path).replace(/\?/g, '%3F').replace(/#/g, '%23');
}

/**
 * The backend path: the proxy path cleaned as path.Join cleans it (repeated slashes; '.' and '..' are resolved by the
 * server's URL parsing already), keeping a trailing slash (net.JoinPreserveTrailingSlash).
 */
export function backendPath(restPath: string): string {
  if (restPath === '') return '';
  const cleaned = `/${restPath.split('/').filter((s) => s !== '').join('/')}`;
  return restPath.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned;
}

/**
 * proxy.Transport.rewriteURL for a Location header: a URL on the backend's host (or on the host the client asked)
 * with an absolute path is moved under the proxy prefix, scheme and host dropped (the API server's request URL has
 * neither); relative URLs and other hosts pass as they are.
 */
export function rewriteLocation(location: string, backendHost: string, requestHost: string, prefix: string): string {
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(location);
  const schemeRelative = location.startsWith('//');
  let origin = '';
  let rest = location;
  if (absolute || schemeRelative) {
    let u: URL;
    try {
      u = new URL(location, 'http://placeholder');
    } catch {
      return location;
    }
    rest = u.pathname + u.search + u.hash;
    if (u.host !== backendHost && u.host !== requestHost) return location;
    // A URL already on the host the client asked keeps its scheme and host.
    if (u.host === requestHost) origin = location.slice(0, location.indexOf(u.host) + u.host.length);
  }
  if (!rest.startsWith('/')) return location;
  if (rest.startsWith(prefix)) return origin + rest;
  const q = rest.search(/[?#]/);
  const p = q < 0 ? rest : rest.slice(0, q);
  const tail = q < 0 ? '' : rest.slice(q);
  const joined = `${prefix}/${p.split('/').filter((s) => s !== '').join('/')}`;
  return origin + (p.endsWith('/') && !joined.endsWith('/') ? `${joined}/` : joined) + tail;
}
