/**
 * The proxy's model: Services and EndpointSlices reduced to what forwarding needs, one ServicePort per (Service, port),
 * with the endpoints kube-proxy would use (pkg/proxy/topology.go CategorizeEndpoints and endpointslicecache.go):
 * ready endpoints, or when a Service has none ready, the serving ones that are terminating; "local" ones are those on
 * this node. Pure: no I/O, the same input always gives the same model in the same order.
 */
import type { Service, ServicePort as K8sServicePort } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ProxyEndpoint {
  ip: string;
  port: number;
  /** On this node (endpoint.nodeName equals the proxy's node). */
  local: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

/** One port of one Service, with its endpoints: the unit kube-proxy makes a KUBE-SVC chain for. */
export interface ServicePortInfo {
  namespace: string;
  name: string;
  /** The port's name ('' for an unnamed single port). */
  portName: string;
  protocol: Protocol;
  clusterIPs: string[];
  port: number;
  nodePort?: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  /**
   * spec.loadBalancerSourceRanges of a LoadBalancer Service, IPv4 ones, as network addresses (`203.0.113.0/25`); traffic
   * to the load-balancer IPs from elsewhere is dropped (empty or absent: from anywhere). Ranges that do not parse are
   * left out, as kube-proxy does.
   */
  loadBalancerSourceRanges?: string[];
  /** ClientIP affinity timeout in seconds (undefined: no affinity). */
  affinitySeconds?: number;
  internalLocal: boolean;
  externalLocal: boolean;
  /** All endpoints of the port, sorted by ip then port (deduplicated across slices). */
  endpoints: ProxyEndpoint[];
}

/** kube-proxy's ServicePortName string: `ns/name:port` (`ns/name` for an unnamed port). */
export function servicePortName(sp: Pick<ServicePortInfo, 'namespace' | 'name' | 'portName'>): string {
  return `${sp.namespace}/${sp.name}${sp.portName ? `:${sp.portName}` : ''}`;
}

const DEFAULT_AFFINITY_SECONDS = 10_800;

/** Services that get forwarding: a ClusterIP that is set and not None (headless and ExternalName get none). */
export function isProxiedService(svc: Service): boolean {
  const ip = svc.spec?.clusterIP;
  return svc.spec?.type !== 'ExternalName' && !!ip && ip !== 'None';
}

/**
 * The endpoints of one Service port from its slices (those labelled kubernetes.io/service-name=<service>), matched by
 * port name and protocol as the EndpointSlice cache does. IPv4 slices only (the proxy programs iptables, not ip6tables).
 */
export function endpointsFor(slices: EndpointSlice[], port: Pick<K8sServicePort, 'name' | 'protocol'>, nodeName: string): ProxyEndpoint[] {
  const byKey = new Map<string, ProxyEndpoint>();
  const wantName = port.name ?? '';
  const wantProtocol = port.protocol ?? 'TCP';
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const slicePort = (slice.ports ?? []).find((p) => (p.name ?? '') === wantName && (p.protocol ?? 'TCP') === wantProtocol);
    if (!slicePort || slicePort.port === undefined || slicePort.port === null) continue;
    for (const ep of slice.endpoints ?? []) {
      const ip = ep.addresses?.[0];
      if (!ip) continue;
      // Nil conditions mean ready and serving, not terminating (EndpointConditions' doc).
      const ready = ep.conditions?.ready ?? true;
      const serving = ep.conditions?.serving ?? ready;
      const terminating = ep.conditions?.terminating ?? false;
      const key = `${ip}:${slicePort.port}`;
      if (byKey.has(key)) continue;
      byKey.set(key, { ip, port: slicePort.port, local: ep.nodeName === nodeName, ready, serving, terminating });
    }
  }
  return [...byKey.values()].sort(compareEndpoints);
}

function compareEndpoints(a: ProxyEndpoint, b: ProxyEndpoint): number {
  return ipKey(a.ip) - ipKey(b.ip) || a.port - b.port;
}

function ipKey(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** Pure: the ServicePorts of every proxied Service, sorted by namespace, name, port name and protocol. */
export function computeServicePorts(services: Service[], slices: EndpointSlice[], nodeName: string): ServicePortInfo[] {
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const slice of slices) {
    const svc = slice.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const key = `${slice.metadata?.namespace ?? ''}/${svc}`;
    const list = slicesByService.get(key);
    if (list) list.push(slice);
    else slicesByService.set(key, [slice]);
  }
  const out: ServicePortInfo[] = [];
  for (const svc of services) out.push(...servicePortsOf(svc, slicesByService.get(`${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`) ?? [], nodeName));
  return out.sort((a, b) => compareStrings(servicePortName(a), servicePortName(b)) || compareStrings(a.protocol, b.protocol));
}

/** Pure: one Service's ports with their endpoints (none when the Service is not proxied). */
export function servicePortsOf(svc: Service, slices: EndpointSlice[], nodeName: string): ServicePortInfo[] {
  if (!isProxiedService(svc)) return [];
  const spec = svc.spec!;
  const clusterIPs = (spec.clusterIPs?.length ? spec.clusterIPs : [spec.clusterIP!]).filter((ip) => ip.includes('.'));
  if (clusterIPs.length === 0) return [];
  const externalIPs = (spec.externalIPs ?? []).filter((ip) => ip.includes('.'));
  const loadBalancerIPs = spec.type === 'LoadBalancer' ? (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip.includes('.')) : [];
  const loadBalancerSourceRanges = spec.type === 'LoadBalancer' ? (spec.loadBalancerSourceRanges ?? []).map((r) => ipv4Network(r.trim())).filter((r): r is string => r !== undefined) : [];
  const affinitySeconds = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS) : undefined;
  const hasNodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  return (spec.ports ?? []).map((p) => ({
    namespace: svc.metadata?.namespace ?? '',
    name: svc.metadata?.name ?? '',
    portName: p.name ?? '',
    protocol: (p.protocol ?? 'TCP') as Protocol,
    clusterIPs,
    port: p.port,
    ...(hasNodePorts && p.nodePort ? { nodePort: p.nodePort } : {}),
    externalIPs,
    loadBalancerIPs,
    ...(loadBalancerSourceRanges.length > 0 ? { loadBalancerSourceRanges } : {}),
    ...(affinitySeconds !== undefined ? { affinitySeconds } : {}),
    internalLocal: spec.internalTrafficPolicy === 'Local',
    // externalTrafficPolicy only means something for Services reachable from outside (kube-proxy's ExternalPolicyLocal).
    externalLocal: spec.externalTrafficPolicy === 'Local' && (hasNodePorts || externalIPs.length > 0),
    endpoints: endpointsFor(slices, p, nodeName),
  }));
}

/**
 * kube-proxy's CategorizeEndpoints: the endpoints for cluster (internal) traffic and for local-policy traffic. Ready
 * ones when any is ready, else the serving-and-terminating ones (graceful termination, KEP-1669).
 */
export function categorizeEndpoints(sp: ServicePortInfo): { cluster: ProxyEndpoint[]; local: ProxyEndpoint[]; all: ProxyEndpoint[] } {
  const usable = (eps: ProxyEndpoint[]) => {
    const ready = eps.filter((e) => e.ready);
    return ready.length > 0 ? ready : eps.filter((e) => e.serving && e.terminating);
  };
  const cluster = usable(sp.endpoints);
  const local = usable(sp.endpoints.filter((e) => e.local));
  const chosen = new Set<ProxyEndpoint>();
  if (!sp.internalLocal || !sp.externalLocal) cluster.forEach((e) => chosen.add(e));
  if (sp.internalLocal || sp.externalLocal) local.forEach((e) => chosen.add(e));
  return { cluster, local, all: sp.endpoints.filter((e) => chosen.has(e)) };
}

/** `a.b.c.d/n` as its network address (host bits cleared), undefined when it is not an IPv4 CIDR. */
export function ipv4Network(cidr: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const net = (ipKey(octets.join('.')) & mask) >>> 0;
  return `${[net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255].join('.')}/${bits}`;
}

/** Whether IPv4 address ip lies in the IPv4 CIDR (false for anything that does not parse). */
export function cidrContains(cidr: string, ip: string): boolean {
  const net = ipv4Network(cidr);
  if (!net || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return false;
  const bits = Number(net.split('/')[1]);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((ipKey(ip) & mask) >>> 0) === ipKey(net.split('/')[0]!);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Which chains a ServicePort needs and where each kind of traffic goes: kube-proxy's syncProxyRules decisions. */
export interface ForwardingPlan {
  cluster: ProxyEndpoint[];
  local: ProxyEndpoint[];
  externallyAccessible: boolean;
  /** The cluster-wide endpoint chain (SVC) exists. */
  usesClusterChain: boolean;
  /** The local endpoint chain (SVL) exists. */
  usesLocalChain: boolean;
  /** The external chain (EXT) exists; NodePorts, externalIPs and LB IPs go there. */
  usesExtChain: boolean;
  /**
   * Traffic to the LB IPs passes a firewall chain first (kube-proxy's KUBE-FW-*): only sources in
   * loadBalancerSourceRanges go on to EXT; the rest is dropped.
   */
  usesFirewall: boolean;
  /** ClusterIP traffic goes to the SVL chain (internalTrafficPolicy Local) instead of SVC. */
  internalToLocal: boolean;
  hasInternalEndpoints: boolean;
  /** What the filter table does with traffic that has nowhere to go (undefined: it has somewhere). */
  internalFilter?: { verdict: 'reject' | 'drop'; comment: string };
  externalFilter?: { verdict: 'reject' | 'drop'; comment: string };
  /** Endpoints that get an SEP chain, in endpoint order. */
  reachable: ProxyEndpoint[];
}

export function planForwarding(sp: ServicePortInfo): ForwardingPlan {
  const name = servicePortName(sp);
  const { cluster, local } = categorizeEndpoints(sp);
  const externallyAccessible = sp.nodePort !== undefined || sp.externalIPs.length > 0 || sp.loadBalancerIPs.length > 0;
  const hasEndpoints = cluster.length > 0;
  // UsesClusterEndpoints / UsesLocalEndpoints (pkg/proxy/serviceport.go).
  const usesCluster = !sp.internalLocal || (externallyAccessible && !sp.externalLocal);
  const usesLocal = sp.internalLocal || (externallyAccessible && sp.externalLocal);
  const usesClusterChain = hasEndpoints && usesCluster;
  const usesLocalChain = local.length > 0 && usesLocal;
  const hasInternalEndpoints = sp.internalLocal ? local.length > 0 : hasEndpoints;
  const hasExternalEndpoints = sp.externalLocal ? local.length > 0 : hasEndpoints;
  let internalFilter: ForwardingPlan['internalFilter'];
  let externalFilter: ForwardingPlan['externalFilter'];
  if (!hasEndpoints) {
    internalFilter = externalFilter = { verdict: 'reject', comment: `${name} has no endpoints` };
  } else {
    if (!hasInternalEndpoints) internalFilter = { verdict: 'drop', comment: `${name} has no local endpoints` };
    if (!hasExternalEndpoints) externalFilter = { verdict: 'drop', comment: `${name} has no local endpoints` };
  }
  const reachableSet = new Set<ProxyEndpoint>([...(usesClusterChain ? cluster : []), ...(usesLocalChain ? local : [])]);
  return {
    cluster,
    local,
    externallyAccessible,
    usesClusterChain,
    usesLocalChain,
    usesExtChain: hasExternalEndpoints && externallyAccessible,
    // Without the EXT chain, LB IP traffic is rejected or dropped already.
    usesFirewall: hasExternalEndpoints && externallyAccessible && sp.loadBalancerIPs.length > 0 && (sp.loadBalancerSourceRanges?.length ?? 0) > 0,
    internalToLocal: sp.internalLocal,
    hasInternalEndpoints,
    ...(internalFilter ? { internalFilter } : {}),
    ...(externalFilter ? { externalFilter } : {}),
    reachable: sp.endpoints.filter((e) => reachableSet.has(e)),
  };
}
