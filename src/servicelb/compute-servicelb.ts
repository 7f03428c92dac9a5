/**
 * ServiceLB's decisions as pure functions (k3s's ServiceLB, formerly Klipper: https://docs.k3s.io/networking/networking-services#service-load-balancer):
 *
 * - which Services it serves: type LoadBalancer, spec.loadBalancerClass unset (or skiff's own), claimed by the server
 *   (its finalizer, so `--disable servicelb` on the server reaches every agent);
 * - which nodes answer: all of them, unless some node is labelled svccontroller.k3s.cattle.io/enablelb=true, then only
 *   those (k3s's rule);
 * - what each node listens on: every port of those Services, on the node's InternalIP, forwarded to ready endpoints;
 * - the Service's status: the InternalIPs of the answering nodes that listen on all its ports (each agent writes what
 *   it managed to listen on into its Node's servicelb.skiff.dev/ports annotation), or pending with the reason.
 */
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';

export const ENABLE_LB_LABEL = 'svccontroller.k3s.cattle.io/enablelb';
/** The server's claim on a Service; agents listen only for claimed Services. */
export const SERVICELB_FINALIZER = 'svccontroller.skiff.dev/servicelb';
export const SERVICELB_CLASS = 'skiff.dev/servicelb';
/** Node annotation: JSON `{"ns/name": {"80/TCP": "ok" | "<why not>"}}` for what this node's agent listens on. */
export const SERVICELB_PORTS_ANNOTATION = 'servicelb.skiff.dev/ports';

export type PortReport = Record<string, Record<string, string>>;

/** A Service ServiceLB should take (before the claim). */
export function wantsServiceLB(svc: Service): boolean {
  return svc.spec?.type === 'LoadBalancer' && (!svc.spec.loadBalancerClass || svc.spec.loadBalancerClass === SERVICELB_CLASS);
}

/** A Service the agents serve: wanted, claimed by the server, not being deleted. */
export function servedByServiceLB(svc: Service): boolean {
  return wantsServiceLB(svc) && !!svc.metadata?.finalizers?.includes(SERVICELB_FINALIZER) && !svc.metadata?.deletionTimestamp;
}

/** The nodes that answer for LoadBalancer Services (k3s: the labelled ones when any node is labelled). */
export function lbNodes<T extends Node>(nodes: readonly T[]): T[] {
  const live = nodes.filter((n) => !n.metadata?.deletionTimestamp);
  const labelled = live.filter((n) => n.metadata?.labels?.[ENABLE_LB_LABEL] === 'true');
  return labelled.length > 0 ? labelled : live.filter((n) => n.metadata?.labels?.[ENABLE_LB_LABEL] !== 'false');
}

export interface Listener {
  /** `ns/name`. */
  service: string;
  /** `80/TCP`. */
  portKey: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  /** The Service port's name (EndpointSlice ports carry it). */
  portName: string;
  /**
   * externalTrafficPolicy Local: only this node's ready endpoints, and no listener at all without one (k3s runs the
   * svclb pod only on nodes with a local endpoint, so only their addresses reach the Service status).
   */
  local: boolean;
}

/** What this node listens on: nothing unless it is one of the LB nodes; SCTP is not served. */
export function computeListeners(services: readonly Service[], node: Node | undefined, nodes: readonly Node[]): Listener[] {
  if (!node || !lbNodes(nodes).some((n) => n.metadata?.name === node.metadata?.name)) return [];
  const out: Listener[] = [];
  for (const svc of services) {
    if (!servedByServiceLB(svc)) continue;
    for (const p of svc.spec?.ports ?? []) {
      const protocol = p.protocol ?? 'TCP';
      if (protocol !== 'TCP' && protocol !== 'UDP') continue;
      out.push({ service: `${svc.metadata?.namespace}/${svc.metadata?.name}`, portKey: `${p.port}/${protocol}`, port: p.port, protocol, portName: p.name ?? '', local: svc.spec?.externalTrafficPolicy === 'Local' });
    }
  }
  return out;
}

/** Ready endpoints (`ip:port`) of a Service port, from its EndpointSlices; with `nodeName`, only those on that node. */
export function readyEndpoints(slices: readonly EndpointSlice[], portName: string, protocol: string, nodeName?: string): string[] {
  const out: string[] = [];
  for (const slice of slices) {
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === protocol)?.port;
    if (port === undefined || port === null) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false || !ep.addresses?.[0]) continue;
      if (nodeName !== undefined && ep.nodeName !== nodeName) continue;
      const ip = ep.addresses[0];
      out.push(ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
    }
  }
  return [...new Set(out)].sort();
}

export function parsePortReport(node: Node): PortReport {
  const text = node.metadata?.annotations?.[SERVICELB_PORTS_ANNOTATION];
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as PortReport) : {};
  } catch {
    return {};
  }
}

export interface ServiceLBStatus {
  /** Node InternalIPs answering on every port of the Service, sorted. */
  ips: string[];
  /** Why none answers (set when ips is empty and every LB node has reported on the Service, or there is no LB node). */
  pending?: string;
}

/** The Service's status.loadBalancer.ingress addresses, from the nodes' reports. */
export function computeServiceLBStatus(svc: Service, nodes: readonly Node[]): ServiceLBStatus {
  const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
  const ports = (svc.spec?.ports ?? []).filter((p) => (p.protocol ?? 'TCP') !== 'SCTP').map((p) => `${p.port}/${p.protocol ?? 'TCP'}`);
  const candidates = lbNodes(nodes);
  if (candidates.length === 0) return { ips: [], pending: `0/${nodes.length} nodes are available for LoadBalancer Services${nodes.length ? ` (every node is labelled ${ENABLE_LB_LABEL}=false)` : ''}` };
  const ips = new Set<string>();
  const failures: string[] = [];
  let reported = 0;
  for (const n of candidates) {
    const report = parsePortReport(n)[key];
    if (!report || ports.some((p) => report[p] === undefined)) continue;
    reported++;
    const bad = ports.filter((p) => report[p] !== 'ok');
    if (bad.length > 0) {
      failures.push(...bad.map((p) => `${n.metadata?.name} port ${p}: ${report[p]}`));
      continue;
    }
    for (const a of n.status?.addresses ?? []) if (a.type === 'InternalIP') ips.add(a.address);
  }
  const sorted = [...ips].sort();
  if (sorted.length > 0 || reported < candidates.length) return { ips: sorted };
  // The scheduler's words k3s users see on a svclb pod that no node can take, with what each node said.
  return { ips: [], pending: `0/${candidates.length} nodes are available: ${candidates.length} node(s) didn't have free ports for the requested pod ports (${failures.join('; ')})` };
}
