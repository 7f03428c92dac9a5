/**
 * What a Service holds of the allocated ranges, by its type (as upstream's service REST decides what to allocate and
 * what to release): a ClusterIP unless it is ExternalName or headless; NodePorts for NodePort and LoadBalancer
 * Services; a healthCheckNodePort for LoadBalancer Services with externalTrafficPolicy Local.
 */
import type { KubeObject } from '../../api/object.js';

export interface ServiceHoldings {
  /** ClusterIPs (IPv4 only in skiff: at most one). */
  ips: string[];
  /** NodePorts and the healthCheckNodePort, de-duplicated (two protocols of one port may share a NodePort). */
  ports: string[];
}

interface Spec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: { nodePort?: number }[];
  healthCheckNodePort?: number;
  externalTrafficPolicy?: string;
}

export function specOfService(svc: KubeObject | undefined): Spec {
  const spec = svc?.spec;
  return spec && typeof spec === 'object' && !Array.isArray(spec) ? (spec as Spec) : {};
}

export function serviceType(svc: KubeObject | undefined): string {
  return specOfService(svc).type || 'ClusterIP';
}

export function needsClusterIP(svc: KubeObject | undefined): boolean {
  return serviceType(svc) !== 'ExternalName';
}

export function needsNodePorts(svc: KubeObject | undefined): boolean {
  const type = serviceType(svc);
  return type === 'NodePort' || type === 'LoadBalancer';
}

export function needsHealthCheckNodePort(svc: KubeObject | undefined): boolean {
  return serviceType(svc) === 'LoadBalancer' && specOfService(svc).externalTrafficPolicy === 'Local';
}

export function serviceHoldings(svc: KubeObject | undefined): ServiceHoldings {
  const spec = specOfService(svc);
  const ips: string[] = [];
  if (needsClusterIP(svc)) {
    const ip = spec.clusterIP || spec.clusterIPs?.[0];
    if (ip && ip !== 'None') ips.push(ip);
  }
  const ports = new Set<string>();
  if (needsNodePorts(svc)) {
    for (const p of spec.ports ?? []) if (typeof p?.nodePort === 'number' && p.nodePort > 0) ports.add(String(p.nodePort));
    if (needsHealthCheckNodePort(svc) && typeof spec.healthCheckNodePort === 'number' && spec.healthCheckNodePort > 0) {
      ports.add(String(spec.healthCheckNodePort));
    }
  }
  return { ips, ports: [...ports] };
}
