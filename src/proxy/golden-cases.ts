/** The table of Services and EndpointSlices both renderers' golden tests use (testdata/<case>.rules / .nft). */
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';

export const NODE = 'node-a';

export function svc(name: string, spec: Service['spec'], status?: Service['status']): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'ns', name }, spec: { clusterIP: '10.81.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }], ...spec }, ...(status ? { status } : {}) };
}

type Ep = { ip: string; node?: string; ready?: boolean; serving?: boolean; terminating?: boolean };
export function slice(service: string, eps: Ep[], ports: Array<{ name?: string; port: number; protocol?: string }> = [{ name: 'http', port: 8080, protocol: 'TCP' }], suffix = 'a'): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'ns', name: `${service}-${suffix}`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports,
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node ?? NODE,
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
    })),
  };
}

export const three = [{ ip: '10.71.0.3' }, { ip: '10.71.0.2' }, { ip: '10.71.1.4', node: 'node-b' }];

export const cases: Array<{ name: string; services: Service[]; slices: EndpointSlice[] }> = [
  { name: 'clusterip-three-endpoints', services: [svc('web', {})], slices: [slice('web', three)] },
  { name: 'no-endpoints-reject', services: [svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 31100 }] })], slices: [] },
  { name: 'unready-left-out', services: [svc('web', {})], slices: [slice('web', [{ ip: '10.71.0.2' }, { ip: '10.71.0.3', ready: false }])] },
  { name: 'terminating-serving-fallback', services: [svc('web', {})], slices: [slice('web', [{ ip: '10.71.0.2', ready: false, serving: true, terminating: true }, { ip: '10.71.0.3', ready: false, serving: false, terminating: true }])] },
  { name: 'nodeport-cluster-policy', services: [svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 31100 }] })], slices: [slice('web', three)] },
  { name: 'nodeport-local-policy', services: [svc('web', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 31101 }] })], slices: [slice('web', three)] },
  { name: 'local-policy-no-local-endpoints', services: [svc('web', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 31102 }] })], slices: [slice('web', [{ ip: '10.71.1.4', node: 'node-b' }])] },
  { name: 'internal-local', services: [svc('web', { internalTrafficPolicy: 'Local' })], slices: [slice('web', three)] },
  { name: 'internal-local-none-here', services: [svc('web', { internalTrafficPolicy: 'Local' })], slices: [slice('web', [{ ip: '10.71.1.4', node: 'node-b' }])] },
  { name: 'session-affinity', services: [svc('web', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } })], slices: [slice('web', three.slice(0, 2))] },
  {
    // The tests render with nodeIPs ['198.51.100.10']: web's ranges hold the node (its LB IP is allowed as a source), api's do not.
    name: 'loadbalancer-source-ranges',
    services: [
      svc('web', { type: 'LoadBalancer', loadBalancerSourceRanges: ['203.0.113.0/25', ' 198.51.100.7/24 ', '2001:db8::/64', 'not-a-cidr'], ports: [{ name: 'http', port: 80, nodePort: 31104 }] }, { loadBalancer: { ingress: [{ ip: '192.0.2.30' }] } }),
      svc('api', { type: 'LoadBalancer', clusterIP: '10.81.0.11', externalTrafficPolicy: 'Local', loadBalancerSourceRanges: ['203.0.113.0/25'], ports: [{ name: 'http', port: 80, nodePort: 31105 }] }, { loadBalancer: { ingress: [{ ip: '192.0.2.31' }] } }),
    ],
    slices: [slice('web', three.slice(0, 1)), slice('api', three)],
  },
  { name: 'external-ips-and-loadbalancer', services: [svc('web', { type: 'LoadBalancer', externalIPs: ['192.0.2.10'], ports: [{ name: 'http', port: 80, nodePort: 31103 }] }, { loadBalancer: { ingress: [{ ip: '192.0.2.20' }] } })], slices: [slice('web', three.slice(0, 1))] },
  {
    name: 'udp-and-tcp-dns',
    services: [svc('dns', { clusterIP: '10.81.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] })],
    slices: [slice('dns', [{ ip: '10.71.0.5' }], [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }])],
  },
  { name: 'headless-and-externalname-ignored', services: [svc('h', { clusterIP: 'None' }), svc('x', { type: 'ExternalName', externalName: 'example.com', clusterIP: '' })], slices: [slice('h', three)] },
];

