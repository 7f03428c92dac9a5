/**
 * skiff serves cluster DNS from its servers (src/dns), not from CoreDNS pods as k3s does, so the most common egress
 * rule of all — DNS to the kube-dns pods:
 *
 *   to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
 *
 * would match nothing and a namespace with an egress default deny would lose name resolution. The servers publish
 * their DNS addresses in EndpointSlices of the kube-dns Service (managed by cluster-dns.skiff.io); each ready address
 * there is taken as a pod of kube-system labelled like k3s's CoreDNS pods (`k8s-app: kube-dns`), with the slice's
 * ports as container ports (so the named ports `dns` and `dns-tcp` resolve too). Pure. These pods are never on a
 * node, so they are only peers, never isolated.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { isIP } from 'node:net';

/** src/dns/kube-dns-service.ts's names (the agent does not import the DNS server). */
const KUBE_DNS_NAMESPACE = 'kube-system';
const KUBE_DNS_SERVICE = 'kube-dns';
const CLUSTER_DNS_MANAGER = 'cluster-dns.skiff.io';

/** k3s's CoreDNS Deployment labels its pods so. */
export const CLUSTER_DNS_POD_LABELS: Readonly<Record<string, string>> = Object.freeze({ 'k8s-app': 'kube-dns' });

export function isClusterDnsSlice(s: EndpointSlice): boolean {
  const labels = s.metadata?.labels ?? {};
  return s.metadata?.namespace === KUBE_DNS_NAMESPACE && labels['kubernetes.io/service-name'] === KUBE_DNS_SERVICE && labels['endpointslice.kubernetes.io/managed-by'] === CLUSTER_DNS_MANAGER;
}

/** Pods standing for the servers' DNS endpoints (IPv4, ready), for computePolicyModel's `pods`. */
export function clusterDnsPeers(slices: readonly EndpointSlice[]): Pod[] {
  const pods: Pod[] = [];
  const seen = new Set<string>();
  for (const s of slices) {
    if (!isClusterDnsSlice(s)) continue;
    const ports = (s.ports ?? []).filter((p) => typeof p.port === 'number').map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.port!, protocol: p.protocol ?? 'TCP' }));
    for (const ep of s.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const ip of ep.addresses ?? []) {
        if (isIP(ip) !== 4 || seen.has(ip)) continue;
        seen.add(ip);
        pods.push({
          metadata: { namespace: KUBE_DNS_NAMESPACE, name: `cluster-dns-${ip}`, labels: { ...CLUSTER_DNS_POD_LABELS } },
          spec: { containers: [{ name: 'dns', ports }] },
          status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
        });
      }
    }
  }
  return pods;
}
